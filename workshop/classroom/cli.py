"""`workshop classroom prepare | status | reset USER | drop-all`: the instructor's commands,
with WORKSHOP_CLASSROOM_ADMIN_URL."""

from __future__ import annotations

import argparse
from pathlib import Path

from workshop.errors import WorkshopError


def _attendees(args: argparse.Namespace) -> list[str]:
    names = [n.strip() for n in (args.attendees or "").split(",") if n.strip()]
    if args.attendees_file:
        try:
            text = Path(args.attendees_file).read_text()
        except OSError as exc:
            raise WorkshopError(
                f"Cannot read {args.attendees_file} ({exc.strerror})", "give a file of names, one a line"
            ) from None
        names += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(dict.fromkeys(names))


def cmd_classroom(args: argparse.Namespace) -> int:
    from workshop.classroom import instructor

    if args.action == "prepare":
        print(
            instructor.prepare(
                _attendees(args),
                size=args.size,
                seed=args.seed,
                snapshot=args.snapshot,
                force=args.force,
                passwords=not args.no_passwords,
                clone_now=args.clone_now,
            )
        )
    elif args.action == "status":
        from workshop.classroom import room_table

        attendees = instructor.room()
        if not attendees:
            print("no attendees yet (workshop classroom prepare --attendees NAME,...)")
            return 0
        print(room_table.render(attendees))
        if args.csv:
            rows = room_table.write_nbgrader_csv(attendees, Path(args.csv))
            print(f"\nwrote {args.csv} ({rows} rows in nbgrader export's columns)")
    elif args.action == "reset":
        if not args.user:
            raise WorkshopError("`workshop classroom reset` needs the attendee", "e.g. workshop classroom reset alice")
        print(instructor.reset(args.user))
    elif args.action == "drop-all":
        if not args.yes:
            raise WorkshopError(
                "drop-all deletes every attendee's database and role and the template",
                "add --yes if that is what you want",
            )
        dropped = instructor.drop_all()
        print(f"dropped: {', '.join(dropped) if dropped else 'nothing (no room here)'}")
    return 0


def register(sub) -> None:
    from workshop.shop.data import SIZES

    p = sub.add_parser("classroom", help="the room on one shared PostgreSQL: prepare, status, reset USER, drop-all")
    p.add_argument("action", choices=["prepare", "status", "reset", "drop-all"])
    p.add_argument("user", nargs="?", metavar="USER", help="reset: the attendee")
    p.add_argument("--attendees", metavar="NAMES", help="prepare: attendee roles to create, comma-separated")
    p.add_argument("--attendees-file", metavar="FILE", help="prepare: attendee names, one a line")
    p.add_argument("--size", choices=list(SIZES), default="workshop", help="prepare: the template's dataset")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--snapshot", metavar="FILE", help="prepare: import a `workshop data export` file instead")
    p.add_argument("--force", action="store_true", help="prepare: rebuild the template")
    p.add_argument("--clone-now", action="store_true", help="prepare: clone the attendees' databases now")
    p.add_argument("--no-passwords", action="store_true", help="prepare: roles without passwords (peer auth)")
    p.add_argument("--csv", metavar="FILE", help="status: also write nbgrader export's CSV")
    p.add_argument("--yes", action="store_true", help="drop-all: really")
    p.set_defaults(func=cmd_classroom)
