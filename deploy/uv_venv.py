"""`make lab` from a wheelhouse: the virtual environment made by the uv the wheelhouse carries.

`python -m venv` runs ensurepip (pip installing itself: seconds), then pip had to start to
install uv: most of a fresh clone's set-up before a single package of the workshop's. A wheel
is a zip, so uv's binary is read out of this machine's uv wheel into a temporary folder; it
makes the environment, then installs pip and uv into it from the wheelhouse (no network), and
the temporary copy goes. The environment ends up as `python -m venv` and `pip install uv`
would leave it, pip included (docs/jupyterhub.md installs extras with it).

This machine's wheel is the one whose platform tags are those `make wheelhouse` downloads for
this machine (deploy/wheelhouse.py), the newest if there are several. Standard library only:
it runs before any environment exists.

    python deploy/uv_venv.py WHEELHOUSE VENV
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from wheelhouse import PLATFORMS, here


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))


def uv_wheel(wheelhouse: Path) -> Path | None:
    """uv's wheel for this machine in the wheelhouse, or None."""
    tags = set(PLATFORMS[here()])
    found = []
    for wheel in wheelhouse.glob("uv-*.whl"):
        parts = wheel.name[: -len(".whl")].split("-")  # uv, version, python, abi, platforms
        if len(parts) == 5 and tags & set(parts[4].split(".")):
            found.append((_version(parts[1]), wheel))
    return max(found)[1] if found else None


def extract_uv(wheel: Path, folder: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        member = next(name for name in archive.namelist() if name.endswith(".data/scripts/uv"))
        binary = folder / "uv"
        binary.write_bytes(archive.read(member))
    binary.chmod(0o755)
    return binary


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    wheelhouse, venv = Path(argv[0]), Path(argv[1])
    wheel = uv_wheel(wheelhouse)
    if wheel is None:
        print(
            f"uv_venv: no uv wheel for {here()} in {wheelhouse}; run `make wheelhouse` with this platform, "
            "or `make lab UV_WHEEL=` to install with pip",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="workshop-uv-") as tmp:
        uv = str(extract_uv(wheel, Path(tmp)))
        python = venv / "bin" / "python"
        if not python.exists():
            subprocess.run(
                [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(venv)], check=True
            )
        install = [uv, "pip", "install", "--quiet", "--python", str(python), "--no-index", "--find-links"]
        subprocess.run([*install, str(wheelhouse), "pip", "uv"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
