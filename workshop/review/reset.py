"""Chapter 01's reset: the chapter writes nothing to the database (it reads git repositories
and local files), so `workshop.reset("01")` needs no PostgreSQL and starts none; its example
repositories are rebuilt by each call that makes them."""

CHAPTER = "01"
DATABASE = False  # workshop.lessons.reset: reset alone without setting up Django or the database


def reset() -> list[str]:
    return []
