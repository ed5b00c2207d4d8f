"""One exception type for everything an attendee can fix: its message is one line that says what to do."""


class WorkshopError(RuntimeError):
    """A problem with a one-line explanation and a fix, shown as is (no traceback needed)."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem.rstrip(". ")
        self.fix = fix.rstrip(". ")
        super().__init__(f"{self.problem}. {self.fix}." if self.fix else f"{self.problem}.")
