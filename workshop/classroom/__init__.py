"""Classroom mode: a room of attendees on one shared PostgreSQL.

The instructor prepares the dataset once, in a template database (`workshop classroom
prepare`, with WORKSHOP_CLASSROOM_ADMIN_URL). An attendee's first `workshop.setup()` with
WORKSHOP_CLASSROOM=1 and WORKSHOP_DATABASE_URL pointing at that server clones it into a
database of their own (`CREATE DATABASE ... TEMPLATE`: a file copy, not a reload), named
from their role.

Who owns what (the isolation rests on it, see `roles.py`):
- each attendee is a role of their own: LOGIN, CREATEDB, no superuser, no CREATEROLE;
- the template belongs to the instructor, allows no connections (a clone needs its source
  idle) and is marked IS_TEMPLATE, so a role with CREATEDB may clone it without owning it;
- the objects inside it belong to `workshop_room`, a role nobody logs in as; attendees are
  members, so in their own clone they may alter, truncate and trigger its tables;
- an attendee's database belongs to the attendee, with CONNECT and TEMP revoked from
  PUBLIC before anyone can connect (it is created with ALLOW_CONNECTIONS false): another
  attendee cannot connect to it, read it, clone it (not a template, not theirs) nor drop it
  (not the owner).

Modules: `names` (switches and names), `roles` (the SQL of that scheme), `attendee` (what
setup() does), `instructor` (prepare, status, reset, drop-all), `room_progress` (exercise
progress the instructor can read), `server` (a password-protected server from the embedded
machinery, for tests, the benchmark and an instructor without a server of their own).
"""
