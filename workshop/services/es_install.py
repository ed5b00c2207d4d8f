"""Installing the local Elasticsearch node: the distribution from Maven Central, unpacked
once per state folder, and a Java to run it.

The node comes from Elastic's own `integ-test-zip` distribution: a plain zip (no bundled JDK,
only the modules the workshop needs), fetched with `mvn` and run on a Java 17+ that is
already installed. Maven is always told where to put it (-Dmaven.repo.local), so we look
exactly where it wrote: Java takes `user.home` from the account database, not from $HOME,
so with HOME set elsewhere (CI, containers) Maven's default and $HOME/.m2 disagree.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from workshop import config
from workshop.errors import WorkshopError

ES_VERSION = "8.19.7"
# Elastic publishes this distribution for its own integration tests; it is the only one on Maven Central.
MAVEN_GROUP = "org.elasticsearch.distribution.integ-test-zip"
MAVEN_ARTIFACT = "elasticsearch"
MAVEN_COORDS = f"{MAVEN_GROUP}:{MAVEN_ARTIFACT}:{ES_VERSION}:zip"
MIN_JAVA = 17

OR_ELSEWHERE = f"set {config.ENV_ELASTICSEARCH_URL} / start the Docker stack"
_FIX_NO_MAVEN = f"install Maven or {OR_ELSEWHERE}"


def install(base: Path) -> Path:
    """<base>/elasticsearch-<version>, unpacked (downloaded with Maven first if needed).
    The caller holds the state folder's lock."""
    return unpack_zip(base, f"elasticsearch-{ES_VERSION}", "bin/elasticsearch", zip_path(), fetch_with_maven)


def unpack_zip(base: Path, name: str, executable: str, archive: Path, fetch, finish=None) -> Path:
    """<base>/<name>: the zip's top folder, unpacked once (`fetch()` downloads the archive
    first when missing; `finish(folder)` completes the tree before it gets its final name)."""
    target = base / name
    if (target / executable).is_file():
        if os.geteuid() != 0 or target.stat().st_uid == 0:
            return target
        # Unpacked by an older workshop, then handed to the service user: it could have
        # changed the programs root runs. Unpack afresh (rmtree does not follow symlinks).
        shutil.rmtree(target)
    for leftover in base.glob(".unzip-*"):  # from an interrupted unzip (we hold the lock)
        shutil.rmtree(leftover, ignore_errors=True)
    if not archive.is_file():
        fetch()
    # Unzip next to the target and rename: a half-unzipped folder never looks installed.
    tmp = Path(tempfile.mkdtemp(prefix=".unzip-", dir=base))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    path = Path(zf.extract(info, tmp))
                    mode = (info.external_attr >> 16) & 0o777
                    if mode:  # zipfile drops permissions; bin/ needs its exec bits
                        path.chmod(mode & 0o755)  # never group/world-writable
        except (zipfile.BadZipFile, EOFError) as exc:
            archive.unlink(missing_ok=True)  # a truncated download: fetch again next time
            raise WorkshopError(
                f"The download {archive} is corrupt ({exc})",
                "run the command again to download it afresh",
            ) from None
        except OSError as exc:
            raise WorkshopError(
                f"Could not unpack {archive.name} into {base} ({exc})",
                "free some disk space or set WORKSHOP_HOME to another folder",
            ) from None
        if finish:
            finish(tmp / target.name)
        (tmp / target.name).chmod(0o755)  # mkdtemp made it 0700: the service user must read it
        (tmp / target.name).rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# --- Maven ------------------------------------------------------------------------------


def account_home() -> Path:
    """The home folder Java (and so Maven) uses: the account database's, not $HOME."""
    try:
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        return Path.home()


def maven_repo() -> Path:
    """The Maven local repository the workshop uses and passes to Maven explicitly:
    $MAVEN_REPO_LOCAL, else <localRepository> of the account's settings.xml, else
    <account home>/.m2/repository (Maven's own default)."""
    explicit = os.environ.get("MAVEN_REPO_LOCAL")
    if explicit:
        return Path(explicit).expanduser()
    settings = account_home() / ".m2" / "settings.xml"
    if settings.is_file():  # <localRepository> is the one setting people commonly change
        found = re.search(r"<localRepository>\s*([^<]+?)\s*</localRepository>", settings.read_text(errors="replace"))
        if found and "${" not in found.group(1):
            return Path(found.group(1)).expanduser()
    return account_home() / ".m2" / "repository"


def zip_path() -> Path:
    return artifact_path(MAVEN_COORDS)


def artifact_path(coords: str) -> Path:
    """Where Maven puts group:artifact:version[:packaging] in the local repository."""
    group, artifact, version, *packaging = coords.split(":")
    folder = maven_repo().joinpath(*group.split("."), artifact, version)
    return folder / f"{artifact}-{version}.{packaging[0] if packaging else 'jar'}"


def maven_command(mvn: str, coords: str = MAVEN_COORDS) -> list[str]:
    return [
        mvn,
        "-q",
        "-B",
        "dependency:get",
        f"-Dartifact={coords}",
        "-Dtransitive=false",
        f"-Dmaven.repo.local={maven_repo()}",
    ]


MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
ENV_MAVEN_URL = "WORKSHOP_MAVEN_URL"  # a Maven Central mirror (a conference's local one, say)


def fetch_with_maven(coords: str = MAVEN_COORDS, fix: str = _FIX_NO_MAVEN) -> None:
    """Put `coords` in the local Maven repository: with Maven when it is installed, else
    straight from Maven Central over HTTPS, checked against the SHA-1 Maven Central publishes
    beside every artifact (Binder and most laptops have a Java but no Maven)."""
    mvn = shutil.which("mvn")
    if not mvn:
        fetch_direct(coords, fix)
        return
    try:
        result = subprocess.run(
            maven_command(mvn, coords), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800
        )
    except subprocess.TimeoutExpired:
        raise WorkshopError(
            f"Downloading {coords} with Maven took over 30 minutes", f"retry on a faster network, or {fix}"
        ) from None
    if result.returncode != 0 or not artifact_path(coords).is_file():
        text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # colour codes
        errors = [
            re.sub(r"\s*-> \[Help \d+\]$", "", line[7:].strip())
            for line in text.splitlines()
            if line.startswith("[ERROR]")
        ]
        boilerplate = re.compile(r"(To see the full|Re-run Maven|For more information|\[Help)")
        errors = [line for line in errors if line and not boilerplate.match(line)]
        reason = (errors or [f"exit code {result.returncode}, nothing at {artifact_path(coords)}"])[0][:300]
        raise WorkshopError(
            f"Maven could not download {coords} ({reason})", f"check that Maven can reach Maven Central, or {fix}"
        )


def artifact_url(coords: str) -> str:
    group, artifact, version, *packaging = coords.split(":")
    name = f"{artifact}-{version}.{packaging[0] if packaging else 'jar'}"
    base = os.environ.get(ENV_MAVEN_URL, MAVEN_CENTRAL).rstrip("/")
    return f"{base}/{group.replace('.', '/')}/{artifact}/{version}/{name}"


def fetch_direct(coords: str, fix: str = _FIX_NO_MAVEN) -> Path:
    """Download one artifact over HTTPS into the local Maven repository (written under a
    temporary name, renamed once its SHA-1 matches)."""
    import hashlib
    import urllib.error
    import urllib.request

    from tqdm.auto import tqdm

    url, target = artifact_url(coords), artifact_path(coords)
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise WorkshopError(f"{ENV_MAVEN_URL} must be an https URL (got {url[:60]!r})", "fix or unset it")
    try:
        with urllib.request.urlopen(url + ".sha1", timeout=60) as answer:
            expected = answer.read().decode().split()[0].strip().lower()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        digest = hashlib.sha1(usedforsecurity=False)
        with urllib.request.urlopen(url, timeout=60) as answer, open(partial, "wb") as out:
            total = int(answer.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {target.name}", leave=False) as bar:
                while block := answer.read(1 << 20):
                    digest.update(block)
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise WorkshopError(
            f"Could not download {coords} from {url.split('/', 3)[2]} ({getattr(exc, 'reason', exc)})",
            f"check the network (or set {ENV_MAVEN_URL} to a mirror), or {fix}",
        ) from None
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise WorkshopError(f"The download of {coords} does not match its published SHA-1", "run the command again")
    partial.replace(target)
    return target


# --- Java -------------------------------------------------------------------------------


def _java_major(java_home: Path) -> int | None:
    """Major version of the JDK/JRE at java_home, from its `release` file or by asking it."""
    text = ""
    with contextlib.suppress(OSError):
        text = (java_home / "release").read_text(errors="replace")
    found = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.M)
    if not found:
        java = java_home / "bin" / "java"
        if not os.access(java, os.X_OK):
            return None
        try:
            out = subprocess.run(
                [str(java), "-XshowSettings:properties", "-version"], capture_output=True, text=True, timeout=30
            ).stderr
        except (OSError, subprocess.SubprocessError):
            return None
        found = re.search(r"java\.specification\.version = (\S+)", out)
        if not found:
            return None
    parts = re.findall(r"\d+", found.group(1))
    if not parts:
        return None
    major = int(parts[0])
    return int(parts[1]) if major == 1 and len(parts) > 1 else major  # "1.8.0" -> 8


def _java_candidates() -> Iterator[Path]:
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            yield Path(os.environ[var]).expanduser()
    on_path = shutil.which("java")
    if on_path:
        yield Path(os.path.realpath(on_path)).parent.parent
    # Elasticsearch 8.19 supports 17 and 21 best; after those, the newest first.
    found = [
        *Path("/usr/lib/jvm").glob("*"),  # Debian/Ubuntu/Fedora
        *Path("/Library/Java/JavaVirtualMachines").glob("*/Contents/Home"),
    ]  # macOS
    yield from sorted(found, key=_jvm_rank)


def _jvm_rank(java_home: Path) -> tuple[int, int, str]:
    name = java_home.parent.parent.name if java_home.name == "Home" else java_home.name
    found = re.search(r"(?<!\d)(?:1\.)?(\d+)", name)  # java-17-openjdk, java-1.17.0-openjdk, jdk-21.0.2.jdk
    major = int(found.group(1)) if found else 0
    return ({21: 0, 17: 1}.get(major, 2), -major, name)


def find_java() -> Path:
    as_root = os.geteuid() == 0
    for java_home in _java_candidates():
        if not (java_home / "bin" / "java").is_file():
            continue
        major = _java_major(java_home)
        if major is None or major < MIN_JAVA:
            continue
        if as_root and not _world_reachable(java_home / "bin" / "java"):
            continue  # e.g. a JDK under /root: the service user could not run it
        return java_home
    raise WorkshopError(
        f"No Java {MIN_JAVA} or newer found to run Elasticsearch",
        "install one (e.g. `apt-get install openjdk-17-jre-headless`) or set ES_JAVA_HOME to it",
    )


def _world_reachable(path: Path) -> bool:
    """True if any user can reach path: every ancestor folder has the x bit for others."""
    try:
        return all(os.stat(p).st_mode & 0o001 for p in Path(path).resolve().parents)
    except OSError:
        return False
