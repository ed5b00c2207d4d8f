"""One exception type for everything an attendee can fix: its message is one line that says what to do.

WORKSHOP_DEBUG=1 shows, below that line, the traceback of the error behind it (the one the
one-line message replaced), for maintainers and bug reports."""

from __future__ import annotations

import os
import traceback

ENV_DEBUG = "WORKSHOP_DEBUG"


def debug_enabled() -> bool:
    return os.environ.get(ENV_DEBUG, "").strip().lower() in ("1", "true", "yes", "on")


class WorkshopError(RuntimeError):
    """A problem with a one-line explanation and a fix, shown as is (no traceback needed)."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem.rstrip(". ")
        self.fix = fix.rstrip(". ")
        fix_sentence = self.fix[:1].upper() + self.fix[1:]
        super().__init__(f"{self.problem}. {fix_sentence}." if self.fix else f"{self.problem}.")

    def cause(self) -> BaseException | None:
        """The error this one replaced. `raise ... from None` hides it from Python's report
        but still keeps it in __context__."""
        return self.__cause__ or self.__context__

    def debug_details(self) -> str:
        """Where this error was raised and the traceback of its cause (empty without one)."""
        parts = ["".join(traceback.format_tb(self.__traceback__))] if self.__traceback__ else []
        cause = self.cause()
        if cause is not None:
            parts.append("Caused by:\n" + "".join(traceback.format_exception(cause)))
        return "\n".join(parts).rstrip()

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the problem and the fix, nothing else
        (with WORKSHOP_DEBUG=1, the cause below it)."""
        lines = [f"\x1b[1;31mWorkshopError\x1b[0m: {self}"]
        if debug_enabled():
            lines += self.debug_details().splitlines()
        return lines


def explain(exc: BaseException) -> WorkshopError | None:
    """A WorkshopError for low-level failures an attendee can act on (a full disk, a
    database that went away mid-command), or None. Checked by class name so that this
    module imports neither Django nor psycopg."""
    import errno

    seen = [exc, exc.__cause__, exc.__context__]
    for err in (e for e in seen if e is not None):
        names = {cls.__name__ for cls in type(err).__mro__}
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        if (
            "DiskFull" in names
            or (isinstance(err, OSError) and err.errno == errno.ENOSPC)
            or "No space left on device" in first
        ):
            return WorkshopError(
                f"The disk is full ({first})",
                "free some disk space (or set WORKSHOP_HOME to a larger disk), then run it again; "
                "the previous data is intact",
            )
        module = type(err).__module__ or ""
        if names & {"OperationalError", "InterfaceError"} and module.startswith(("psycopg", "django.db")):
            return WorkshopError(
                f"Lost the connection to PostgreSQL ({first})",
                "run it again (the embedded server restarts by itself); if it keeps failing, run `workshop doctor`",
            )
    return None
