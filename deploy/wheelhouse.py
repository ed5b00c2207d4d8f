"""`make wheelhouse`: every wheel the workshop needs, for every laptop in the room, in one folder
an instructor hands out on a USB stick; `make lab` then installs from it with no network.

Standard library only (it runs before any virtual environment exists). For each platform and
Python version it runs `pip download --only-binary=:all: --platform ... --python-version ...
--implementation cp` on pyproject.toml's requirements (runtime into the folder, the test extras
into <folder>/test/), plus what an offline `pip install -e .` needs: pip, setuptools and wheel
(the build backend) and uv (the fast installer `make lab` uses when it finds it).

A requirement with no wheel for a platform: its sdist is downloaded and built into a wheel here.
A pure-Python one gives a py3-none-any wheel, good everywhere, and the download is retried; one
that needs a compiler is reported (the platform is listed as failed, nothing else is lost).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _manylinux(arch: str, newest: int = 28) -> list[str]:
    # glibc 2.28 at most (Debian 10, Ubuntu 18.10, RHEL 8), and every older tag with the
    # legacy aliases: pip takes the tags as given, newest (preferred) first.
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags = []
    for minor in range(newest, 4, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in legacy:
            tags.append(f"{legacy[minor]}_{arch}")
    return tags


def _macos(arch: str, newest: tuple[int, int]) -> list[str]:
    versions = [(11, 0), (10, 16), *[(10, m) for m in range(15, 8, -1)]]
    kept = [v for v in versions if v <= newest]
    return [f"macosx_{a}_{b}_{arch}" for a, b in kept] + [f"macosx_{a}_{b}_universal2" for a, b in kept]


# The oldest systems still in a room: macOS 11 on Apple silicon (its first release), 10.15 on Intel.
PLATFORMS = {
    "linux-x86_64": _manylinux("x86_64"),
    "linux-aarch64": _manylinux("aarch64"),
    "macos-x86_64": _macos("x86_64", (10, 15)),
    "macos-arm64": _macos("arm64", (11, 0)),
    "windows-amd64": ["win_amd64"],
}
PYTHONS = ("3.11", "3.12", "3.13")
# What an offline `pip install -e .` and `make lab` need beyond the project's dependencies.
TOOLING = ("pip", "setuptools>=77", "wheel", "uv>=0.5")
_MISSING = re.compile(r"(?:No matching distribution found for|satisfies the requirement) ([A-Za-z0-9._-]+)")


def requirements(extra: str | None) -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    if extra is None:
        return list(project["dependencies"])
    return list(project["optional-dependencies"][extra])


def here() -> str:
    """This machine's platform key (for a quick wheelhouse: tests, one laptop)."""
    import platform

    machine = platform.machine().lower()
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    arch = {"amd64": "x86_64" if system != "windows" else "amd64", "arm64": "arm64", "aarch64": "aarch64"}
    key = f"{system}-{arch.get(machine, machine)}"
    if system == "macos" and key == "macos-aarch64":
        key = "macos-arm64"
    if key not in PLATFORMS:
        raise SystemExit(f"no wheelhouse platform for {key}; choose from {', '.join(PLATFORMS)}")
    return key


def _pip(*args: str, log: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    log.append(done.stdout + done.stderr)
    return done


def _compiled(sdist: Path) -> bool:
    """Whether an sdist carries sources a compiler builds (then its wheel is for one platform)."""
    import tarfile
    import zipfile

    if sdist.suffix == ".zip":
        with zipfile.ZipFile(sdist) as archive:
            names = archive.namelist()
    else:
        with tarfile.open(sdist) as archive:
            names = archive.getnames()
    compiled = (".c", ".cc", ".cpp", ".pyx", ".rs", "/meson.build", "/Cargo.toml", "/CMakeLists.txt")
    return any(name.endswith(compiled) for name in names)


def _build_from_sdist(name: str, dest: Path, log: list[str]) -> Path | None:
    """The newest sdist of `name`, built into a wheel in `dest`; None when it cannot be built."""
    with tempfile.TemporaryDirectory() as tmp:
        if _pip("download", "--no-deps", "--no-binary=:all:", "--dest", tmp, name, log=log).returncode:
            return None
        sdists = list(Path(tmp).iterdir())
        if not sdists or _compiled(sdists[0]):
            return None
        if _pip("wheel", "--no-deps", "--wheel-dir", tmp, str(sdists[0]), log=log).returncode:
            return None
        for wheel in Path(tmp).glob("*.whl"):
            target = dest / wheel.name
            wheel.replace(target)
            return target
    return None


def download(
    reqs: list[str], dest: Path, platform: str, python: str, notes: list[str], also: Path | None = None
) -> bool:
    """pip download for one platform and Python; sdist-only requirements built when pure Python."""
    dest.mkdir(parents=True, exist_ok=True)
    built: set[str] = set()
    while True:
        log: list[str] = []
        done = _pip(
            "download",
            "--only-binary=:all:",
            *[arg for tag in PLATFORMS[platform] for arg in ("--platform", tag)],
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--find-links",
            str(dest),
            *(["--find-links", str(also)] if also else []),
            "--dest",
            str(dest),
            *reqs,
            log=log,
        )
        if done.returncode == 0:
            return True
        missing = _MISSING.search(done.stderr)
        name = missing.group(1) if missing else None
        if name is None or name in built:
            notes.append(f"{platform} Python {python}: pip download failed: {done.stderr.strip().splitlines()[-1:]}")
            return False
        wheel = _build_from_sdist(name, dest, log)
        if wheel is None or not wheel.name.endswith("-none-any.whl"):
            if wheel is not None:
                wheel.unlink()  # built for this machine only: no use on the platform asked for
            notes.append(f"{platform} Python {python}: {name} has no wheel and needs a compiler there")
            return False
        notes.append(f"{platform} Python {python}: {name} has no wheel; built {wheel.name} from its sdist")
        built.add(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=Path(os.environ.get("WORKSHOP_WHEELHOUSE") or REPO / "wheelhouse"))
    parser.add_argument(
        "--platforms", default="all", help=f"'all', 'here' or comma-separated from {', '.join(PLATFORMS)}"
    )
    parser.add_argument("--pythons", default=",".join(PYTHONS), help="comma-separated, e.g. 3.12")
    parser.add_argument("--no-test", action="store_true", help="leave out the test extras (<dest>/test/)")
    args = parser.parse_args(argv)
    platforms = (
        list(PLATFORMS)
        if args.platforms == "all"
        else [here()]
        if args.platforms == "here"
        else [p.strip() for p in args.platforms.split(",")]
    )
    if unknown := [p for p in platforms if p not in PLATFORMS]:
        parser.error(f"unknown platform {', '.join(unknown)}; choose from {', '.join(PLATFORMS)}")
    pythons = [v.strip() for v in args.pythons.split(",") if v.strip()]
    runtime = requirements(None) + list(TOOLING)
    sets = [(runtime, args.dest)] + ([] if args.no_test else [(requirements("test"), args.dest / "test")])
    notes: list[str] = []
    failed = []
    for platform in platforms:
        for python in pythons:
            print(f"wheelhouse: {platform} Python {python}", flush=True)
            # the test extras' folder also sees the runtime wheels (--find-links) so none is fetched twice
            for reqs, dest in sets:
                also = None if dest == args.dest else args.dest
                if not download(reqs + (runtime if also else []), dest, platform, python, notes, also):
                    failed.append(f"{platform}/{python}")
    for wheel in (args.dest / "test").glob("*.whl") if not args.no_test else ():
        if (args.dest / wheel.name).exists():
            wheel.unlink()  # already in the runtime folder, which `make test` also reads
    count = len(list(args.dest.glob("*.whl")))
    size = sum(f.stat().st_size for f in args.dest.rglob("*") if f.is_file()) / 1e6
    print(f"wheelhouse: {count} runtime wheels, {size:,.0f} MB in {args.dest}")
    for note in notes:
        print(f"  {note}")
    if failed:
        print(f"wheelhouse: incomplete for {', '.join(sorted(set(failed)))} (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
