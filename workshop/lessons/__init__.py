"""What every chapter shares as a lesson: one exercise interface (`exercise`), the attendee's
progress kept locally (`progress`).

A chapter declares its exercises once, in `<theme>/exercises.py`:

    EXERCISES = Exercises("04", [Exercise(1, "Revenue per category", minutes=6, checker=..., hints=(...),
                                          solution=solutions.solution_1), ...])
    check, hint, reveal = EXERCISES.check, EXERCISES.hint, EXERCISES.reveal

and its notebook uses the same three calls everywhere: `answer_1 = ...`, `check(1, answer_1)`,
`hint(1)` (a nudge, then a closer one), `reveal(1)` (the solution's code, on request only).
"""

__all__ = ["PLACEHOLDER", "Exercise", "Exercises", "Reveal", "Verdict", "Wrong"]


def __getattr__(name: str):
    # The exercise interface is imported on first use: setup() reads the progress file without it.
    if name in __all__:
        from workshop.lessons import exercise

        return getattr(exercise, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
