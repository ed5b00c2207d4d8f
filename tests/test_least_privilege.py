"""Least privilege, checked from the outside: while a kernel-like process sets up, builds the
anonymized copy and dumps it, nobody else on the machine can read the database password or
the anonymization key (or a key equivalent to it) in `ps`, in the environment of the
programs it starts, or in the server's log with every statement logged
(log_min_duration_statement=0). A private server (own state folder), never the shared one."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import subprocess
import sys
import threading
import time

import pytest

from workshop.services import postgres
from workshop.services.postgres import EmbeddedPostgres

CHILD = """
import workshop
workshop.setup("tiny", progress=False)
from workshop.anonymize import build
from workshop.anonymize.dump import dump
build(target="anon", progress=False)
dump("anon")
import subprocess, sys
subprocess.run([sys.executable, "-m", "workshop.cli", "db", "psql"], input="SELECT pg_sleep(0.5);\\n", text=True,
               check=True, capture_output=True)
"""


def _key_forms(key: str) -> dict[str, str]:
    """The key and what is equivalent to it: the derived HMAC key and its inner/outer pads."""
    from workshop.anonymize import keys

    derived = keys.derive(key.encode(), "hmac")
    block = derived.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in block)
    opad = bytes(b ^ 0x5C for b in block)
    assert hmac.new(derived, b"x", hashlib.sha256).digest()  # the derivation is the real one
    return {"key": key, "derived key": derived.hex(), "HMAC inner pad": ipad.hex(), "HMAC outer pad": opad.hex()}


class Watcher(threading.Thread):
    """Samples every process's argv (what `ps` shows anyone) and the environment of the
    programs our child starts, until stopped."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.stop, self.seen = root_pid, threading.Event(), []

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            self.seen.append(subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True).stdout)
            try:
                for child in psutil.Process(self.root_pid).children(recursive=True):
                    try:
                        if child.name().startswith("python"):
                            continue  # the workshop's own processes hold the secrets by design
                        environ = open(f"/proc/{child.pid}/environ", "rb").read().decode(errors="replace")
                        self.seen.append(f"environ of {child.name()}: {environ}")
                    except OSError:
                        pass
            except psutil.Error:
                pass
            time.sleep(0.05)


@pytest.mark.slow
def test_neither_ps_nor_child_environments_nor_the_server_log_show_the_password_or_the_key(state_home, workshop_env):
    server = EmbeddedPostgres(state_home)
    try:
        admin = server.start()
        with admin.connect(autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")  # every statement, with its parameters
            conn.execute("ALTER SYSTEM SET log_parameter_max_length = -1")
            conn.execute("SELECT pg_reload_conf()")
        password = "pw-" + secrets.token_hex(12)
        key = secrets.token_hex(32)
        socket_url = postgres.with_database(admin.url, "least_privilege")
        host_part = socket_url.split("@", 1)[1]
        env = {
            **workshop_env,
            "WORKSHOP_DATABASE_URL": f"postgresql://postgres:{password}@{host_part}",
            "WORKSHOP_ANONYMIZE_KEY": key,
        }
        postgres.ensure_database(admin, "least_privilege")

        child = subprocess.Popen(
            [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        watcher = Watcher(child.pid)
        watcher.start()
        out, err = child.communicate(timeout=300)
        watcher.stop.set()
        watcher.join()
        assert child.returncode == 0, err[-2000:]
        assert len(watcher.seen) > 5, "the watcher did not get to look"

        with admin.connect() as conn:
            log_dir = conn.execute("SELECT current_setting('data_directory')").fetchone()[0]
        log_text = (server.pgdata / "log").read_text(errors="replace")
        assert "duration:" in log_text and "anon" in log_text, "the server did not log the statements"
        sampled = "\n".join(watcher.seen)
        secrets_found = {
            "password in ps/environ": password in sampled,
            "password in the server log": password in log_text,
        }
        for name, form in _key_forms(key).items():
            secrets_found[f"{name} in ps/environ"] = form in sampled
            secrets_found[f"{name} in the server log"] = form.lower() in log_text.lower()
        leaks = sorted(name for name, found in secrets_found.items() if found)
        assert not leaks, f"leaked: {leaks} (log: {log_dir}/log)"
    finally:
        server.stop()


def test_the_postmaster_gets_none_of_the_kernels_secrets(state_home, workshop_env):
    """The embedded server outlives the kernel that starts it (and, as root, runs as another
    account): pg_ctl and the postmaster get the allow-listed environment, never the kernel's,
    which holds the anonymization key and whatever tokens the attendee has set. Read from
    the postmaster's own /proc/<pid>/environ."""
    import os
    from pathlib import Path

    sentinel = "sentinel-" + secrets.token_hex(16)
    planted = {
        "WORKSHOP_ANONYMIZE_KEY": secrets.token_hex(32),
        "WORKSHOP_SENTINEL": sentinel,
        "GITHUB_TOKEN": sentinel,
        "AWS_SECRET_ACCESS_KEY": sentinel,
        "OPENAI_API_KEY": sentinel,
    }
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "db", "up"],
        env={**workshop_env, **planted},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    pid = int((Path(state_home) / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert "PATH" in names  # the allow-list reached it: this is the postmaster's real environment
    suspicious = sorted(
        n for n in names if n.startswith("WORKSHOP_") or any(w in n.upper() for w in ("KEY", "TOKEN", "SECRET"))
    )
    assert not suspicious, f"the postmaster (pid {pid}) inherited {suspicious}"
    raw = b"\0".join(environ)
    assert all(value.encode() not in raw for value in planted.values())
    assert os.environ.get("WORKSHOP_SENTINEL") is None  # planted in the child's environment only
