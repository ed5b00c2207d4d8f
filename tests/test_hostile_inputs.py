"""Hostile input: quotes, NUL bytes, unicode, huge values and path traversal, at every door
an attendee (or a script) can knock on: the CLI, setup(), the anonymization rules and
generalizations, widget parameters, environment variables and URLs.

Each must end in a one-line WorkshopError (or, for the CLI, one line on stderr and exit
code 2), never a traceback, and must write nothing: no state folder, no schema, no dataset.
The tally is added to test-artifacts/faults.json (inputs.tried, inputs.one_line_errors).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workshop.errors import WorkshopError

ROOT = Path(__file__).resolve().parent.parent
HUGE = "x" * 100_000
INJECTION = "tiny'; DROP TABLE shop_customer; --"

_tally = {"tried": 0, "one_line": 0, "failed": []}


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    path = ROOT / "test-artifacts" / "faults.json"
    path.parent.mkdir(exist_ok=True)
    try:
        entries = {r["name"]: r for r in json.loads(path.read_text())}
    except (OSError, ValueError, TypeError, KeyError):
        entries = {}
    for name, value, note in (
        ("inputs.tried", _tally["tried"], "bad inputs: CLI, setup(), rules, generalizations, widgets, env, URLs"),
        ("inputs.one_line_errors", _tally["one_line"], "one line that says what to do, no traceback, nothing written"),
    ):
        entries[name] = {"name": name, "value": value, "unit": "count", "baseline": None, "ratio": None, "note": note}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sorted(entries.values(), key=lambda r: r["name"]), indent=2))
    tmp.replace(path)


@pytest.fixture(scope="module", autouse=True)
def tiny_dataset_put_back(django_db_blocker):
    """The build cases need committed data (transaction=True), and pytest-django flushes every
    table after such a test: put the session's tiny dataset back for the modules that follow
    (a module-scoped teardown runs after the last flush)."""
    yield
    from workshop.shop.data import load

    with django_db_blocker.unblock():
        load.load("tiny", progress=False)


@pytest.fixture
def tiny_dataset(django_db_blocker):
    """The tiny dataset, loaded again if the previous transactional test's flush removed it."""
    from workshop.shop.data import load

    with django_db_blocker.unblock():
        load.load("tiny", progress=False)


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """WORKSHOP_HOME pointing at a folder that must still not exist afterwards."""
    home = tmp_path / "never-created"
    monkeypatch.setenv("WORKSHOP_HOME", str(home))
    return home


def _database_state() -> tuple:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT array_agg(nspname ORDER BY nspname) FROM pg_namespace")
        schemas = cursor.fetchone()[0]
        cursor.execute("SELECT count(*), max(loaded_at) FROM shop_dataset")
        return schemas, cursor.fetchone()


def _count(ok: bool, case: str) -> None:
    _tally["tried"] += 1
    _tally["one_line"] += int(ok)
    if not ok:
        _tally["failed"].append(case)


# Inputs that reach other engineers' modules (workshop/anonymize: the engine, widgets) and
# did not end in a one-line error when this suite was written: reported to them, counted
# here, expected to fail until they are fixed (then they simply pass).
REPORTED_ELSEWHERE: set[str] = set()  # cases another module still has to fix (xfail with the message)


def _settle(ok: bool, case: str, message: str) -> None:
    if not ok and case in REPORTED_ELSEWHERE:
        pytest.xfail(f"reported to the anonymize engineers: {message[:200]}")
    assert ok, message[:300]


def _drop_new_schemas(before: tuple) -> None:
    """A build that accepted a hostile target wrote a schema: remove it (quoted, never concatenated)."""
    from django.db import connection
    from psycopg import sql

    schemas_before = set(before[0])
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        for (name,) in cursor.fetchall():
            if name not in schemas_before:
                cursor.execute(
                    sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)).as_string(cursor.connection)
                )


def _one_line(message: str) -> bool:
    return bool(message) and "\n" not in message.strip() and "Traceback" not in message and len(message) < 600


# --- the CLI -------------------------------------------------------------------------------

CLI = [
    ("data", "load", "--size", "huge"),
    ("data", "load", "--size", INJECTION),
    ("data", "load", "--size", "tiny\0"),
    ("data", "load", "--size", "ţíñÿ-ünïcødé-😀"),
    ("data", "load", "--size", HUGE),
    ("data", "load", "--size", "../../../etc/passwd"),
    ("data", "load", "--seed", "-1"),
    ("data", "load", "--seed", "99999999999999999999999"),
    ("data", "load", "--seed", "4'2"),
    ("data", "load", "--seed", "1e3"),
    ("db", "frobnicate"),
    ("es", "explode"),
    ("lab", "--port", "0"),
    ("lab", "--port", "70000"),
    ("lab", "--port", "8888; rm -rf /"),
    ("setup", "--size", "../../etc"),
    ("no-such-command",),
    ("bench", "../../etc/passwd"),
    ("bench", "no\0such"),
]


@pytest.mark.parametrize("argv", CLI, ids=lambda a: " ".join(a)[:40].replace("\0", "\\0"))
@pytest.mark.django_db
def test_cli_rejects_in_one_line_and_writes_nothing(argv, nowhere, capsys):
    from workshop import cli

    before = _database_state()
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse
        code = exit_.code
    err = capsys.readouterr().err
    ok = code == 2 and _one_line(err) and err.startswith("workshop")
    ok = ok and not nowhere.exists() and _database_state() == before
    _count(ok, f"cli {argv}")
    assert ok, err[:300]


# --- setup() and environment variables -----------------------------------------------------

SETUP = [
    {"size": "huge"},
    {"size": ["tiny"]},
    {"size": "tiny\x00"},
    {"size": "../../../etc/passwd"},
    {"size": HUGE},
    {"seed": -5},
    {"seed": 2**64},
    {"seed": "42"},
    {"seed": True},
    {"seed": 4.2},
]

ENVIRONMENT = [
    {"WORKSHOP_DATA_SIZE": "gigantic"},
    {"WORKSHOP_DATA_SIZE": INJECTION},
    {"WORKSHOP_DB_NAME": "x'; DROP DATABASE workshop; --"},
    {"WORKSHOP_DB_NAME": "a" * 100},
    {"WORKSHOP_DB_NAME": "../../etc"},
    {"WORKSHOP_DB_NAME": "ünïcødé"},
    {"WORKSHOP_HOME": "/proc/self/nope"},
    {"WORKSHOP_HOME": "/" + "y" * 5000},
    {"WORKSHOP_HOME": "/etc"},
    {"WORKSHOP_DATABASE_URL": "not a url"},
    {"WORKSHOP_DATABASE_URL": "postgresql://u:s3cret@127.0.0.1:99999/db"},
    {"WORKSHOP_DATABASE_URL": "postgresql://user:pa'ss@127.0.0.1:1/db'; DROP TABLE x"},
    {"WORKSHOP_DATABASE_URL": "mysql://root@localhost/db"},
    {"WORKSHOP_DATABASE_URL": "postgresql://ü:🔑@127.0.0.1:1/ü"},
    {"WORKSHOP_DATABASE_URL": "postgresql://u:s3cr[et@[::1/x"},
    {"WORKSHOP_DATABASE_URL": "postgresql://127.0.0.1:1/" + HUGE},
]


@pytest.mark.parametrize("kwargs", SETUP, ids=lambda k: repr(k)[:40])
@pytest.mark.django_db
def test_setup_rejects_in_one_line_and_writes_nothing(kwargs, nowhere):
    import workshop

    before = _database_state()
    try:
        workshop.setup(progress=False, **kwargs)
        message = ""
    except WorkshopError as exc:
        message = str(exc)
    ok = _one_line(message) and not nowhere.exists() and _database_state() == before
    _count(ok, f"setup {kwargs!r:.60}")
    assert ok, message[:300]


@pytest.mark.parametrize("env", ENVIRONMENT, ids=lambda e: repr(e)[:50])
@pytest.mark.django_db
def test_environment_variables_are_rejected_in_one_line(env, monkeypatch, tmp_path):
    import workshop

    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "never-created"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = _database_state()
    try:
        workshop.setup(progress=False)
        message = ""
    except WorkshopError as exc:
        message = str(exc)
    password_shown = "s3cret" in message or "s3cr[et" in message or "pa'ss" in message or "🔑" in message
    ok = _one_line(message) and not password_shown and _database_state() == before
    ok = ok and not (tmp_path / "never-created").exists()
    _count(ok, f"env {env!r:.60}")
    assert ok, message[:300]


SEARCH_URLS = [
    "file:///etc/passwd",
    "http://127.0.0.1:99999",
    "javascript:alert(1)",
    "http://",
    "gopher://x/\0",
    "http://127.0.0.1:9/" + HUGE,
]


@pytest.mark.parametrize("url", SEARCH_URLS, ids=lambda u: u[:30].replace("\0", "\\0"))
def test_search_urls_are_reported_in_one_line(url, monkeypatch):
    from workshop.services import elasticsearch

    if "\0" in url:  # an environment variable cannot hold a NUL: pass it where code would
        monkeypatch.setattr(os, "environ", {**os.environ, "WORKSHOP_ELASTICSEARCH_URL": url})
    else:
        monkeypatch.setenv("WORKSHOP_ELASTICSEARCH_URL", url)
    found = elasticsearch.find()
    ok = not found.available and _one_line(found.problem or "") and "root:" not in (found.problem or "")
    _count(ok, f"search url {url[:40]!r}")
    assert ok, (found.problem or "")[:300]


def test_es_port_variable_is_rejected_in_one_line(monkeypatch, tmp_path):
    from workshop.services import es_node

    for value in ("99999", "9201; rm -rf /", "-1", "0x2329"):
        monkeypatch.setenv("WORKSHOP_ES_PORT", value)
        try:
            es_node.start(tmp_path / "never-created")
            message = ""
        except WorkshopError as exc:
            message = str(exc)
        ok = _one_line(message) and "WORKSHOP_ES_PORT" in message and not (tmp_path / "never-created").exists()
        _count(ok, f"WORKSHOP_ES_PORT={value!r}")
        assert ok, message[:300]


# --- anonymization rules, generalizations, widget parameters (the public API) ------------


def _anonymize_cases():
    from workshop.anonymize import GeneralizeDate, KeepPrefix, Mask, Noise

    return [
        ("target public", lambda b: b(target="public")),
        ("target injection", lambda b: b(target="anon; DROP SCHEMA public CASCADE")),
        ("target traversal", lambda b: b(target="../etc")),
        ("target huge", lambda b: b(target=HUGE)),
        ("target NUL", lambda b: b(target="anon\0")),
        ("target unicode", lambda b: b(target="ánón😀")),
        ("source missing", lambda b: b(source="no_such_schema", target="anon_hostile")),
        ("unknown field", lambda b: b({"shop.Customer": {"no_such_field": Mask()}}, target="anon_hostile")),
        ("unknown model", lambda b: b({"shop.Nope": {"email": Mask()}}, target="anon_hostile")),
        ("model injection", lambda b: b({"shop.Customer'; --": {"email": Mask()}}, target="anon_hostile")),
        ("not a strategy", lambda b: b({"shop.Customer": {"email": "DROP TABLE"}}, target="anon_hostile")),
        (
            "generalize 0 years",
            lambda b: b({"shop.Customer": {"birth_date": GeneralizeDate(years=0)}}, target="anon_hostile"),
        ),
        (
            "generalize huge",
            lambda b: b({"shop.Customer": {"birth_date": GeneralizeDate(years=10**12)}}, target="anon_hostile"),
        ),
        ("keep prefix -1", lambda b: b({"shop.Customer": {"zip_code": KeepPrefix(keep=-1)}}, target="anon_hostile")),
        (
            "keep prefix on a date",
            lambda b: b({"shop.Customer": {"birth_date": KeepPrefix(keep=2)}}, target="anon_hostile"),
        ),
        (
            "mask kind quote",
            lambda b: b({"shop.Customer": {"email": Mask(kind="'; --" * 1000)}}, target="anon_hostile"),
        ),
        ("mask keep huge", lambda b: b({"shop.Customer": {"phone": Mask(keep=10**12)}}, target="anon_hostile")),
        ("noise on text", lambda b: b({"shop.Customer": {"email": Noise(amount=3)}}, target="anon_hostile")),
        (
            "noise nan",
            lambda b: b({"shop.Customer": {"birth_date": Noise(amount=float("nan"))}}, target="anon_hostile"),
        ),
    ]


_ANONYMIZE_IDS = [
    "target public",
    "target injection",
    "target traversal",
    "target huge",
    "target NUL",
    "target unicode",
    "source missing",
    "unknown field",
    "unknown model",
    "model injection",
    "not a strategy",
    "generalize 0 years",
    "generalize huge",
    "keep prefix -1",
    "keep prefix on a date",
    "mask kind quote",
    "mask keep huge",
    "noise on text",
    "noise nan",
]


@pytest.mark.parametrize("case", _ANONYMIZE_IDS)
@pytest.mark.django_db(transaction=True)
def test_anonymization_rules_and_generalizations_are_rejected_in_one_line(case, tiny_dataset):
    from workshop.anonymize import build

    call = dict(_anonymize_cases())[case]
    before = _database_state()
    try:
        call(lambda *a, **k: build(*a, progress=False, **k))
        message = ""
    except WorkshopError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 (counted: a traceback the attendee would see)
        message = f"Traceback: {type(exc).__name__}: {exc}"
    ok = _one_line(message) and _database_state() == before
    _count(ok, f"anonymize {case}")
    _drop_new_schemas(before)
    _settle(ok, case, message)


WIDGETS = [
    ("rule_preview", {"limit": -1}),
    ("rule_preview", {"limit": "8; DROP TABLE x"}),
    ("generalization_explorer", {"schema": "public; DROP SCHEMA public"}),
    ("generalization_explorer", {"schema": "no_such_schema"}),
    ("generalization_explorer", {"schema": "../etc\0"}),
]


@pytest.mark.parametrize("name, kwargs", WIDGETS, ids=lambda v: repr(v)[:40])
@pytest.mark.django_db
def test_widget_parameters_are_rejected_in_one_line(name, kwargs):
    from workshop.anonymize import widgets

    before = _database_state()
    try:
        getattr(widgets, name)(**kwargs)
        message = ""
    except WorkshopError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 (counted: a traceback the attendee would see)
        message = f"Traceback: {type(exc).__name__}: {exc}"
    ok = _one_line(message) and _database_state() == before
    case = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    _count(ok, f"widget {case}")
    _settle(ok, case, message)
