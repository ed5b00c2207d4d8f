"""Django settings for the workshop, built for one database. Configured in-process by setup()."""

from __future__ import annotations

import os
import secrets

import dj_database_url

# The core apps. Each theme that lands adds its own app label here (themes never import
# each other; this list is the one place that knows them all).
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "workshop.shop",
    "waffle",
    "workshop.flags",
    "workshop.search",
    "workshop.queries",
]


def build(database_url: str) -> dict:
    """The settings dict passed to settings.configure()."""
    database = dj_database_url.parse(database_url, conn_max_age=None)
    database["OPTIONS"] = {**database.get("OPTIONS", {}), "connect_timeout": 5, "application_name": "workshop"}
    return {
        "DEBUG": False,
        # Nothing signed outlives the process (no sessions, no cookies), so a fresh key per
        # process is enough; WORKSHOP_SECRET_KEY pins one where that matters.
        "SECRET_KEY": os.environ.get("WORKSHOP_SECRET_KEY") or secrets.token_urlsafe(50),
        "INSTALLED_APPS": list(INSTALLED_APPS),
        "DATABASES": {"default": database},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "LANGUAGE_CODE": "en-us",
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
        "LOGGING_CONFIG": None,
        # Requests are served in-process by Django's test client (notebook 03's product page).
        "ROOT_URLCONF": "workshop.flags.urls",
        "ALLOWED_HOSTS": ["testserver", "localhost", "127.0.0.1"],
        # Sessions in signed cookies: logins work without a sessions table.
        "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies",
        "MIDDLEWARE": [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "waffle.middleware.WaffleMiddleware",
            "workshop.flags.middleware.FlagSnapshotMiddleware",
        ],
    }
