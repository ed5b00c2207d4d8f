"""Classroom mode on a real, password-protected PostgreSQL: each attendee's first setup()
clones the template into a database of their own, and attendees cannot connect to, read,
clone, change or drop each other's databases (tried for real, as the attendee's role)."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from tests.classroom_support import room_fixture  # noqa: F401 (the `room` fixture)
from workshop.classroom import attendee, names, roles
from workshop.errors import WorkshopError


def _connect(url: str, database: str | None = None) -> psycopg.Connection:
    target = attendee.database_url(url, database) if database else url
    return psycopg.connect(target, autocommit=True, connect_timeout=5)


def _owner(admin: psycopg.Connection, database: str) -> str:
    return admin.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [database]).fetchone()[0]


@pytest.fixture(scope="module")
def two(room):
    """Two attendees whose first setup() has run: (room, alice, bob)."""
    alice, bob = f"a{room.tag}", f"b{room.tag}"
    for who in (alice, bob):
        found = room.run(
            who,
            "from django.db import connection\n"
            "with connection.cursor() as c:\n"
            "    c.execute('SELECT current_user, current_database(), (SELECT count(*) FROM shop_customer)')\n"
            "    print(json.dumps(c.fetchone()))\n",
        )
        assert found == [who, names.database_for(who), 400]  # their own clone, with the template's dataset
    return room, alice, bob


def test_first_setup_clones_the_template_into_a_database_the_attendee_owns_and_nobody_else_may_enter(two):
    room, alice, bob = two
    with _connect(room.admin_url) as admin:
        for who in (alice, bob):
            owner, public_rights, allow = admin.execute(
                "SELECT pg_get_userbyid(datdba), EXISTS (SELECT 1 FROM aclexplode(datacl) a WHERE a.grantee = 0), "
                "datallowconn FROM pg_database WHERE datname = %s",
                [names.database_for(who)],
            ).fetchone()
            assert (owner, public_rights, allow) == (who, False, True)
        is_template, allows = admin.execute(
            "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s", [names.TEMPLATE]
        ).fetchone()
        assert (is_template, allows) == (True, False)
        for who in (alice, bob):  # not even through the owner role, of which they are members
            assert not admin.execute(
                "SELECT has_database_privilege(%s, %s, 'CONNECT')", [who, names.TEMPLATE]
            ).fetchone()[0]
        super_, createrole, createdb = admin.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", [alice]
        ).fetchone()
        assert (super_, createrole, createdb) == (False, False, True)


def test_an_attendee_cannot_connect_to_read_or_drop_another_attendees_database(two):
    room, alice, bob = two
    bobs = names.database_for(bob)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        _connect(room.urls[alice], bobs)
    with _connect(room.urls[alice]) as conn:  # from the maintenance database alice may use
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"):
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(bobs)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(bobs)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(*map(sql.Identifier, (bobs, alice))))
        # reading bob's rows another way: a copy of his database is refused (not a template, not hers)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied to copy database"):
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(*map(sql.Identifier, (f"x{alice}", bobs))))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(names.TEMPLATE)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER").format(sql.Identifier(f"x{alice}")))
    with pytest.raises(psycopg.OperationalError, match="not currently accepting connections|permission denied"):
        _connect(room.urls[alice], names.TEMPLATE)
    with _connect(room.admin_url, bobs) as admin:  # bob's database is intact and still his
        assert admin.execute("SELECT count(*) FROM shop_customer").fetchone()[0] == 400


def test_an_attendee_changes_only_their_own_copy(two):
    room, alice, bob = two
    changed = room.run(
        alice,
        "from workshop.shop.models import Customer\n"
        "Customer.objects.filter(pk__lte=10).delete()\n"
        "print(json.dumps(Customer.objects.count()))\n",
    )
    assert changed < 400
    with _connect(room.admin_url, names.database_for(bob)) as admin:
        assert admin.execute("SELECT count(*) FROM shop_customer").fetchone()[0] == 400
    again = room.run(alice, "from workshop.shop.models import Customer\nprint(json.dumps(Customer.objects.count()))\n")
    assert again == changed  # a second setup() keeps the attendee's database as it is


def test_two_kernels_of_one_attendee_starting_at_once_share_one_clone(room):
    who = f"jupyter-c{room.tag}"
    code = "import workshop; print(workshop.setup(progress=False).database)"
    kernels = [
        subprocess.Popen([sys.executable, "-c", code], env=room.env(who), stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [k.communicate(timeout=120)[0] for k in kernels]
    assert [k.returncode for k in kernels] == [0, 0]
    assert all(f"/{names.database_for(who)}?" in out for out in outputs)
    with _connect(room.admin_url) as admin:
        assert roles.sealed(admin, names.database_for(who))


def test_the_instructors_reset_gives_a_fresh_clone_owned_by_the_attendee(two):
    from workshop.classroom import instructor

    room, alice, _bob = two
    message = instructor.reset(alice)
    assert names.database_for(alice) in message
    with _connect(room.admin_url) as admin:
        assert roles.sealed(admin, names.database_for(alice))
        assert _owner(admin, names.database_for(alice)) == alice
    assert (
        room.run(alice, "from workshop.shop.models import Customer\nprint(json.dumps(Customer.objects.count()))\n")
        == 400
    )
    with pytest.raises(WorkshopError, match="is not an attendee of this room"):
        instructor.reset("postgres")


def test_classroom_mode_refuses_a_superuser_and_a_missing_url_in_one_line(room):
    env = room.env(f"a{room.tag}", WORKSHOP_DATABASE_URL=room.admin_url)
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "setup", "--quiet"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "is a superuser" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert room.admin_url.split("@")[0].split(":")[-1] not in done.stderr  # the password is never shown
    env.pop("WORKSHOP_DATABASE_URL")
    done = subprocess.run(
        [sys.executable, "-m", "workshop.cli", "setup", "--quiet"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "WORKSHOP_DATABASE_URL" in done.stderr


def test_attendee_database_names_stay_apart_after_the_search_engines_folding():
    from workshop.classroom.search_isolation import database_prefix

    taken = {database_prefix(names.database_for(n)) for n in ("a-b", "a_b", "ab", "jupyter-alice", "jupyter_alice")}
    assert len(taken) == 5
    with pytest.raises(WorkshopError, match="not an attendee name"):
        names.check_attendee("Robert'); DROP")


def test_prepare_can_clone_ahead_a_database_the_attendee_owns_and_finds(room):
    from workshop.classroom import instructor

    late = f"d{room.tag}"
    report = instructor.prepare([late], size="tiny", clone_now=True)
    assert report.cloned == [late] and report.template.startswith("kept")
    with _connect(room.admin_url) as admin:
        assert roles.sealed(admin, names.database_for(late))
        assert _owner(admin, names.database_for(late)) == late
    room.urls.update(
        line.split("\t", 1) for line in instructor.attendees_file().read_text().splitlines() if "\t" in line
    )
    assert (
        room.run(late, "from workshop.shop.models import Customer\nprint(json.dumps(Customer.objects.count()))\n")
        == 400
    )
