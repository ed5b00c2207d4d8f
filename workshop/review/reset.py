"""Chapter 01's reset: the chapter writes nothing to the database; its example repositories
are rebuilt by each call that makes them."""

CHAPTER = "01"


def reset() -> list[str]:
    return []
