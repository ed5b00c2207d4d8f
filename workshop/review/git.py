"""The git command line, run the safe way: an argument list (never a shell), an allow-listed
environment (a pre-commit hook's GIT_DIR or GIT_INDEX_FILE must not redirect us), bytes in
and out (paths and contents need not be UTF-8), and every failure turned into one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from workshop.errors import WorkshopError

# What git may see of our environment: enough to find itself, the user's identity and
# config, and nothing that points it at another repository, index or object store.
ENV_ALLOWED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "SYSTEMROOT",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
)
# Output we parse must not depend on the user's config: plain paths, no pager, no colours.
CONFIG = (
    "-c",
    "core.quotepath=off",
    "-c",
    "color.ui=never",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "diff.external=",
    "-c",
    "log.showSignature=false",
)
MAIN_BRANCHES = ("main", "master", "origin/main", "origin/master", "upstream/main", "upstream/master")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {name: os.environ[name] for name in ENV_ALLOWED if name in os.environ}
    env.update({"LC_ALL": "C", "LANG": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "GIT_OPTIONAL_LOCKS": "0"})
    env.update(extra or {})
    return env


def git_binary() -> str:
    found = shutil.which("git")
    if not found:
        raise WorkshopError("The git command was not found", "install git (https://git-scm.com) and try again")
    return found


def run(
    cwd: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run([git_binary(), *CONFIG, *args], cwd=cwd, input=input, env=git_env(env), capture_output=True)
    if check and done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise WorkshopError(
            f"git {args[0]} failed in {cwd}: {message[-1] if message else 'no message'}",
            "check the repository with `git status`",
        )
    return done


NULL_BLOB = "0" * 40  # --raw's object id for a side that does not exist


def name(data: bytes) -> str:
    """A file name from git, losslessly: non-UTF-8 bytes become lone surrogates (as os.fsdecode
    does), so `encode_name` gives back the very bytes and the file can be read, linted, annotated."""
    return data.decode("utf-8", "surrogateescape")


def encode_name(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def shown(value: str) -> str:
    """A file name for people: undecodable bytes as \\xNN, tabs, newlines and other control
    characters escaped, so one name stays on one line."""
    readable = encode_name(value).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in readable)


def text(data: bytes) -> str:
    """Git output as text: UTF-8, with undecodable bytes shown as U+FFFD rather than failing."""
    return data.decode("utf-8", "replace")


@dataclass(frozen=True)
class Repo:
    """A local git repository (its top-level folder)."""

    root: Path

    @classmethod
    def open(cls, path: str | os.PathLike = ".") -> Repo:
        folder = Path(path).expanduser()
        if not folder.exists():
            raise WorkshopError(f"{folder} does not exist", "pass the path of a git checkout")
        if folder.is_file():
            folder = folder.parent
        done = run(folder.resolve(), "rev-parse", "--show-toplevel", check=False)
        if b"dubious ownership" in done.stderr:  # a checkout owned by another user (containers, CI)
            raise WorkshopError(
                f"git refuses {folder}: it belongs to another user",
                f"trust it with `git config --global --add safe.directory {folder.resolve()}`",
            )
        if done.returncode != 0:
            raise WorkshopError(
                f"{folder} is not inside a git repository",
                "pass the path of a git checkout (a folder where `git status` works)",
            )
        root = text(done.stdout).strip()
        if not root:  # inside a .git folder or a bare repository
            raise WorkshopError(f"{folder} has no working tree", "pass the path of a checkout, not of a .git folder")
        return cls(Path(root))

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
        return run(self.root, *args, input=input, check=check).stdout

    def resolve(self, ref: str) -> str | None:
        """The commit id `ref` names, or None."""
        if ref.startswith("-"):  # never let a ref be read as an option
            return None
        done = run(self.root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
        return text(done.stdout).strip() or None

    def commit(self, ref: str) -> str:
        found = self.resolve(ref)
        if found is None:
            if ref == "HEAD":
                raise WorkshopError(f"{self.root} has no commits yet", "commit something first")
            raise WorkshopError(
                f"Ref {ref!r} does not exist in {self.root}",
                "pick a branch, tag or commit that exists (`git branch -a` lists the branches)",
            )
        return found

    @cached_property
    def current_branch(self) -> str | None:
        name = text(run(self.root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout).strip()
        return name or None

    def branches(self) -> list[str]:
        out = self.git("for-each-ref", "--format=%(refname:short)", "--sort=refname", "refs/heads")
        return [line for line in text(out).splitlines() if line]

    def main_branch(self) -> str | None:
        """The branch a change is reviewed against: main or master (local first, then remotes)."""
        return next((name for name in MAIN_BRANCHES if self.resolve(name)), None)

    def merge_base(self, a: str, b: str) -> str | None:
        out = text(self.git("merge-base", a, b, check=False)).strip()
        return out or None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return run(self.root, "merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0

    def blobs(self, objects: list[str]) -> dict[str, bytes | None]:
        """Contents of many objects (ids, or `<commit>:<path>` for names without a newline) at
        once, through one `git cat-file --batch`."""
        if not objects:
            return {}
        out = self.git("cat-file", "--batch", input=b"".join(encode_name(o) + b"\n" for o in objects))
        found: dict[str, bytes | None] = {}
        pos = 0
        for spec in objects:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) == 3 and header[1] in (b"blob", b"tree", b"commit", b"tag"):
                size = int(header[2])
                found[spec] = out[pos : pos + size] if header[1] == b"blob" else None
                pos += size + 1
            else:  # "<spec> missing"
                found[spec] = None
        return found

    def sizes(self, objects: list[str]) -> dict[str, int | None]:
        """Sizes of objects (ids or `<commit>:<path>`), None where missing (one `git cat-file --batch-check`)."""
        if not objects:
            return {}
        out = text(
            self.git("cat-file", "--batch-check=%(objectsize)", input=b"".join(encode_name(o) + b"\n" for o in objects))
        )
        return {spec: int(line) if line.isdigit() else None for spec, line in zip(objects, out.splitlines())}

    def attributes(self, paths: list[str], names: tuple[str, ...], commit: str) -> dict[str, set[str]]:
        """Which of the boolean gitattributes `names` are set on each path by the .gitattributes
        files of `commit` (not the working tree's, not another commit's).

        git 2.40's `check-attr --source` does this; for older gits the commit's tree is read
        into a throw-away index and `check-attr --cached` reads that."""
        if not paths:
            return {}
        with tempfile.TemporaryDirectory(prefix="workshop-attr-") as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            run(self.root, "read-tree", "--end-of-options", commit, env=index)
            out = run(
                self.root,
                "check-attr",
                "--cached",
                "-z",
                "--stdin",
                *names,
                input=b"\0".join(encode_name(p) for p in paths) + b"\0",
                env=index,
            ).stdout
        fields = out.split(b"\0")
        found: dict[str, set[str]] = {p: set() for p in paths}
        for i in range(0, len(fields) - 2, 3):
            path, attribute, value = (name(f) for f in fields[i : i + 3])
            if value in ("set", "true"):
                found.setdefault(path, set()).add(attribute)
        return found
