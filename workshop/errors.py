"""One exception type for everything an attendee can fix: its message is one line that says what to do."""


class WorkshopError(RuntimeError):
    """A problem with a one-line explanation and a fix, shown as is (no traceback needed)."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem.rstrip(". ")
        self.fix = fix.rstrip(". ")
        fix_sentence = self.fix[:1].upper() + self.fix[1:]
        super().__init__(f"{self.problem}. {fix_sentence}." if self.fix else f"{self.problem}.")

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the problem and the fix, nothing else."""
        return [f"\x1b[1;31mWorkshopError\x1b[0m: {self}"]
