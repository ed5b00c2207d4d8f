"""The engine under hostile conditions, on the real test database: targets it did not make,
writes during a build, Ctrl-C, a server that logs every statement with its parameters,
a password on the way to pg_dump, foreign keys on plain unique indexes, and Windows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import pytest
from anonymize_support import checksum, drop, rows, schemas
from psycopg import sql

from workshop.anonymize import build, db, keys, sqlhash
from workshop.anonymize.shop_rules import shop_rules
from workshop.anonymize.strategies import Strategy
from workshop.errors import WorkshopError

KEY = b"hardening-test-key-0123456789"
LOCK = 0x5750_7E57  # the advisory lock a blocked build waits on
pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class WaitForLock(Strategy):
    """Keeps the column, but every row first takes a shared advisory lock: a test that
    holds the lock exclusively keeps the build's copy of this table waiting."""

    lock: int = LOCK
    identifying: ClassVar[bool] = False
    name: ClassVar[str] = "wait_for_lock"

    def expression(self, q, column):
        return sql.SQL("(SELECT {} FROM pg_advisory_xact_lock_shared({}) AS x)").format(
            q.col(column.name), sql.Literal(self.lock)
        )


def blocked_build_backends() -> list:
    return rows(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'workshop.anonymize' "
        "AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND datname = current_database()"
    )


def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the build never reached the point the test waits for")
        time.sleep(0.05)


# --- 1. never rename or drop a schema the engine did not make ----------------------------


def test_public_and_foreign_schemas_are_refused_and_left_intact():
    before = checksum("public", "shop_customer")
    build(target="anon_mine", key=KEY, progress=False)  # a copy of our own, marked
    try:
        with pytest.raises(WorkshopError) as error:
            build(target="public", source="anon_mine", key=KEY, progress=False)
        assert "\n" not in str(error.value) and "public" in str(error.value)
        assert checksum("public", "shop_customer") == before

        with db.connect() as conn:
            for name in ("someones_schema", "other__building"):
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE TABLE {} AS SELECT 42 AS answer").format(sql.Identifier(name, "kept")))
            conn.execute("COMMENT ON SCHEMA someones_schema IS 'not made by the anonymizer'")
        for target in ("someones_schema", "other"):  # the target itself, or its build schema, is foreign
            with pytest.raises(WorkshopError, match="was not made by workshop.anonymize") as error:
                build(target=target, key=KEY, progress=False)
            assert "\n" not in str(error.value)
        assert rows("SELECT answer FROM someones_schema.kept") == [(42,)]
        assert rows("SELECT answer FROM other__building.kept") == [(42,)]
        assert {"someones_schema", "other__building"} <= schemas() and "other" not in schemas()
        # Our own copy is replaced as before.
        build(target="anon_mine", key=KEY, progress=False)
    finally:
        drop("someones_schema", "other__building", "anon_mine")


# --- 2. one snapshot for the whole copy --------------------------------------------------


def test_writes_during_a_build_are_either_all_absent_or_all_present():
    # One worker: the customers' copy runs first (their pseudonyms have the longest
    # chain) and waits on the lock; the writes land then, before the orders are copied.
    # Copied statement by statement, the new order would be in the copy without its
    # customer (and its foreign key would fail to validate).
    rules = shop_rules()
    rules["shop.Customer"]["city"] = WaitForLock()
    customer_ids = [r[0] for r in rows("SELECT id FROM public.shop_customer ORDER BY id")]
    first_id, old_email = rows("SELECT id, email FROM public.shop_customer ORDER BY id LIMIT 1")[0]
    counts = {
        t: rows(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", t)))[0][0]
        for t in ("shop_customer", "shop_order")
    }
    holder = db.connect()
    holder.execute("SELECT pg_advisory_lock(%s)", [LOCK])
    new_ids, errors = {}, []

    def write_while_blocked():
        try:
            wait_until(lambda: blocked_build_backends())  # the copy of customers has started
            with db.connect() as conn, conn.transaction():
                new_ids["customer"] = conn.execute(
                    "INSERT INTO public.shop_customer (first_name, last_name, email, phone, national_id, birth_date, "
                    "gender, street_address, city, state, zip_code, created_at) SELECT 'Mid', 'Build', "
                    "'mid.build@example.org', phone, '999-99-9999', birth_date, gender, street_address, city, state, "
                    "zip_code, created_at FROM public.shop_customer ORDER BY id LIMIT 1 RETURNING id"
                ).fetchone()[0]
                new_ids["order"] = conn.execute(
                    "INSERT INTO public.shop_order (customer_id, status, created_at) VALUES (%s, 'paid', now()) RETURNING id",
                    [new_ids["customer"]],
                ).fetchone()[0]
                conn.execute(
                    "UPDATE public.shop_customer SET email = 'changed.mid.build@example.org' WHERE id = %s", [first_id]
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", [LOCK])

    writer = threading.Thread(target=write_while_blocked)
    writer.start()
    try:
        report = build(rules, target="anon_snap", key=KEY, progress=False, workers=1)
        writer.join()
        assert not errors
        assert new_ids  # the writes did happen during the build
        # The copy is the state before the writes: the new customer and order are absent,
        # the changed email is the old one's pseudonym, every foreign key validated.
        assert report.tables["shop_customer"] == counts["shop_customer"]
        assert report.tables["shop_order"] == counts["shop_order"]
        assert [r[0] for r in rows("SELECT id FROM anon_snap.shop_customer ORDER BY id")] == customer_ids
        assert rows("SELECT count(*) FROM anon_snap.shop_order WHERE id = %s", [new_ids["order"]]) == [(0,)]
        expected = sqlhash.hmac_python(keys.derive(KEY, "hmac"), old_email).hex()[:16] + "@example.com"
        assert rows("SELECT email FROM anon_snap.shop_customer WHERE id = %s", [first_id]) == [(expected,)]
        assert rows(
            "SELECT count(*) FROM pg_constraint WHERE connamespace = 'anon_snap'::regnamespace "
            "AND contype = 'f' AND NOT convalidated"
        ) == [(0,)]
    finally:
        writer.join()
        holder.close()
        with db.connect() as conn:
            if "order" in new_ids:
                conn.execute("DELETE FROM public.shop_order WHERE id = %s", [new_ids["order"]])
            if "customer" in new_ids:
                conn.execute("DELETE FROM public.shop_customer WHERE id = %s", [new_ids["customer"]])
            conn.execute("UPDATE public.shop_customer SET email = %s WHERE id = %s", [old_email, first_id])
        drop("anon_snap")


# --- 5. Ctrl-C cancels the build's queries --------------------------------------------------


def test_ctrl_c_cancels_the_running_queries_and_keeps_the_previous_copy():
    build(target="anon_int", key=KEY, progress=False)
    previous = checksum("anon_int", "shop_order")
    rules = shop_rules()
    rules["shop.Order"] = {"status": WaitForLock()}
    holder = db.connect()
    holder.execute("SELECT pg_advisory_lock(%s)", [LOCK])

    def interrupt_when_blocked():
        wait_until(lambda: blocked_build_backends())
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    threading.Thread(target=interrupt_when_blocked, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            build(rules, target="anon_int", key=KEY, progress=False)
        # build() returned only after its workers' queries were cancelled: none is left
        # waiting on the lock (which the test still holds), and the build schema is gone.
        assert blocked_build_backends() == []
        assert rows(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'workshop.anonymize' "
            "AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()"
        ) == [(0,)]
        assert "anon_int__building" not in schemas()
        assert checksum("anon_int", "shop_order") == previous
    finally:
        holder.close()
        drop("anon_int")


# --- 3. the key material never appears in the server's log ---------------------------------


def test_a_server_logging_every_statement_and_parameter_never_sees_the_key_material():
    with db.connect() as conn:
        logged = conn.execute("SELECT size FROM pg_stat_file('log', true)").fetchone()
        database = conn.execute("SELECT current_database()").fetchone()[0]
    if logged is None or logged[0] is None:
        pytest.skip("the server does not log to the file 'log' in its data directory (not the embedded server)")
    start = logged[0]
    with db.connect() as conn:
        for setting, value in (("log_min_duration_statement", "0"), ("log_parameter_max_length", "-1")):
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(database), sql.Identifier(setting), sql.Literal(value)
                )
            )
    hmac_key = keys.derive(KEY, "hmac")
    try:
        build(target="anon_logged", key=KEY, progress=False)
        with db.connect() as conn:  # a control: pads bound as parameters do show up in this log
            conn.execute(sql.SQL("SELECT {}").format(sqlhash.hmac_sql(sql.Literal("control"))), sqlhash.pads(b"c" * 32))
    finally:
        with db.connect() as conn:
            for setting in ("log_min_duration_statement", "log_parameter_max_length"):
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RESET {}").format(sql.Identifier(database), sql.Identifier(setting))
                )
        drop("anon_logged")
    with db.connect() as conn:
        size = conn.execute("SELECT size FROM pg_stat_file('log')").fetchone()[0]
        log = conn.execute("SELECT pg_read_file('log', %s, %s)", [start, size - start]).fetchone()[0]
    assert "INSERT INTO" in log and "anon_logged__building" in log  # the build's statements were logged
    assert sqlhash.pads(b"c" * 32)["hmac_ipad"].hex() in log  # and bound parameters are logged in full
    pads = sqlhash.pads(hmac_key)
    from workshop.anonymize.shop_rules import NATIONAL_ID

    feistel = sqlhash.feistel_tables(hmac_key, f"fpe|{NATIONAL_ID.template}", 10**4, 10**4)
    for secret in (
        KEY.hex(),
        KEY.decode(),
        hmac_key.hex(),
        pads["hmac_ipad"].hex(),
        pads["hmac_opad"].hex(),
        ",".join(map(str, feistel[0][:8])),
        ",".join(map(str, feistel[1][:8])),
    ):
        assert secret not in log


# --- 4. pg_dump gets no password on its command line or in its environment -----------------


def test_dump_passes_the_password_in_a_private_passfile(monkeypatch, tmp_path):
    from workshop.anonymize import dump as dump_mod

    build(target="anon_dump", key=KEY, progress=False)
    password = "pw-Never-In-Argv-42"
    real_conninfo, real_run, seen = db.conninfo, subprocess.run, {}
    monkeypatch.setattr(db, "conninfo", lambda: {**real_conninfo(), "password": password})
    monkeypatch.setenv("WORKSHOP_ANONYMIZE_KEY", KEY.decode())

    def spy(argv, **kwargs):
        env = kwargs.get("env") or {}
        seen.update(argv=argv, env=dict(env))
        passfile = env.get("PGPASSFILE")
        if passfile:
            seen["passfile_mode"] = os.stat(passfile).st_mode & 0o777
            seen["passfile_has_password"] = password in open(passfile, encoding="utf-8").read()
        return real_run(argv, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    try:
        if dump_mod._pg_dump() is None:
            pytest.skip("no pg_dump on this machine")
        out = dump_mod.dump("anon_dump", tmp_path / "copy.dump")
    finally:
        drop("anon_dump")
    assert out.exists() and out.stat().st_mode & 0o777 == 0o600
    assert not any(password in str(arg) for arg in seen["argv"])
    assert not any(password in value for value in seen["env"].values())
    assert "WORKSHOP_ANONYMIZE_KEY" not in seen["env"]  # an allow-list, not a copy of our environment
    assert seen["passfile_mode"] == 0o600 and seen["passfile_has_password"]
    assert not os.path.exists(seen["env"]["PGPASSFILE"])  # deleted after use


# --- 6. foreign keys resting on a plain unique index ----------------------------------------


def test_a_foreign_key_on_a_plain_unique_index_is_rebuilt():
    with db.connect() as conn:
        conn.execute("CREATE TABLE public.t_fk_parent (id int PRIMARY KEY, code text NOT NULL)")
        conn.execute("CREATE UNIQUE INDEX t_fk_parent_code ON public.t_fk_parent (code)")
        conn.execute(
            'CREATE TABLE public.t_fk_child (id int PRIMARY KEY, "Parent Code" text '
            "REFERENCES public.t_fk_parent (code) ON DELETE CASCADE DEFERRABLE)"
        )
        conn.execute("INSERT INTO public.t_fk_parent VALUES (1, 'a'), (2, 'b')")
        conn.execute("INSERT INTO public.t_fk_child VALUES (10, 'a'), (11, 'b'), (12, NULL)")
    try:
        report = build(target="anon_fk", key=KEY, progress=False)
        assert report.tables["t_fk_child"] == 3
        fk = rows(
            "SELECT convalidated, condeferrable, confdeltype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'anon_fk.t_fk_child'::regclass AND contype = 'f'"
        )
        assert len(fk) == 1 and fk[0][:3] == (True, True, "c")
        assert "REFERENCES anon_fk.t_fk_parent(code)" in fk[0][3].replace('"', "")
        index = rows("SELECT indisunique FROM pg_index WHERE indexrelid = 'anon_fk.t_fk_parent_code'::regclass")
        assert index == [(True,)]
    finally:
        with db.connect() as conn:
            conn.execute("DROP TABLE public.t_fk_child, public.t_fk_parent")
        drop("anon_fk")


# --- 9. Windows and 12. importable without Django -----------------------------------------


def test_key_file_check_does_not_refuse_on_windows(tmp_path):
    path = tmp_path / "anonymize.key"
    path.write_text("x" * 64)
    path.chmod(0o666)  # what os.stat reports for any writable file on NTFS
    with pytest.raises(WorkshopError, match="readable by other users"):
        keys.check_private(path, platform="posix")
    keys.check_private(path, platform="nt")  # ACLs, not mode bits: no false refusal
    path.chmod(0o600)
    keys.check_private(path, platform="posix")


def test_engine_modules_import_without_django_and_say_which_cell_to_run():
    script = (
        "import workshop.anonymize.db as db, workshop.anonymize.dump, workshop.anonymize.rules, "
        "workshop.anonymize.engine, workshop.anonymize.collisions\n"
        "from workshop.errors import WorkshopError\n"
        "try:\n    db.conninfo()\nexcept WorkshopError as e:\n    print('ERR', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ERR") and "first code cell" in done.stdout


# --- 13. the source locked against TRUNCATE for the build's snapshot ------------------------


def test_a_truncate_during_a_build_waits_for_it_and_never_empties_the_copy():
    # The source is a copy of our own (its table may be emptied). Without ACCESS SHARE
    # locks taken before the snapshot, the TRUNCATE commits while the build is held up and
    # the reviews, copied afterwards from the old snapshot, come out empty (TRUNCATE is not
    # MVCC-safe).
    build(target="anon_src", key=KEY, progress=False)
    reviews = rows("SELECT count(*) FROM anon_src.shop_review")[0][0]
    rules = shop_rules()
    rules["shop.Customer"]["city"] = WaitForLock()
    holder = db.connect()
    holder.execute("SELECT pg_advisory_lock(%s)", [LOCK])
    outcome = []

    def truncate_while_blocked():
        try:
            wait_until(lambda: blocked_build_backends())  # the copy has started, in the snapshot
            with db.connect() as conn, conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '1s'")
                conn.execute("TRUNCATE anon_src.shop_review")
            outcome.append("truncated")
        except BaseException as exc:  # noqa: BLE001
            outcome.append(type(exc).__name__)
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", [LOCK])

    truncater = threading.Thread(target=truncate_while_blocked)
    truncater.start()
    try:
        report = build(rules, source="anon_src", target="anon_trunc", key=KEY, progress=False, workers=1)
        truncater.join()
        assert reviews > 0
        assert outcome == ["LockNotAvailable"]  # the build's locks kept the TRUNCATE out
        assert report.tables["shop_review"] == reviews
        assert rows("SELECT count(*) FROM anon_trunc.shop_review") == [(reviews,)]
    finally:
        truncater.join()
        holder.close()
        drop("anon_trunc", "anon_src")


def test_a_source_locked_too_long_is_one_line_and_nothing_is_written(monkeypatch):
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 1)
    holder = db.connect(autocommit=False)
    holder.execute("LOCK TABLE public.shop_review IN ACCESS EXCLUSIVE MODE")  # as a load's TRUNCATE does
    try:
        with pytest.raises(WorkshopError, match="stayed locked") as error:
            build(target="anon_wait", key=KEY, progress=False)
        assert "\n" not in str(error.value)
    finally:
        holder.rollback()
        holder.close()
    assert not {"anon_wait", "anon_wait__building"} & schemas()


def test_a_new_key_file_is_never_seen_empty(monkeypatch, tmp_path):
    monkeypatch.delenv("WORKSHOP_ANONYMIZE_KEY", raising=False)
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "state"))
    path = keys.key_path()
    seen = []
    token_hex = keys.secrets.token_hex

    def watching(*args):  # while the key is drawn: what would a reader find at its path?
        seen.append(path.read_bytes() if path.exists() else None)
        return token_hex(*args)

    monkeypatch.setattr(keys.secrets, "token_hex", watching)
    key = keys.load_key()
    assert seen and all(content is None for content in seen)  # absent until complete, never b""
    assert path.stat().st_mode & 0o777 == 0o600 and len(key) == 64
    keys._create(path)  # a second kernel racing to create it: the first key stays
    assert keys.load_key() == key
    assert sorted(p.name for p in path.parent.iterdir() if "anonymize" in p.name) == ["anonymize.key"]
