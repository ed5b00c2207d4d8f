"""`workshop anonymize check`: exit 1 when a field of a model is neither rewritten by a rule
nor declared safe (for CI). Registered by workshop/cli.py's theme discovery."""

from __future__ import annotations

import argparse
import importlib

from workshop.errors import WorkshopError


def register(subparsers) -> None:
    anonymize = subparsers.add_parser("anonymize", help="anonymization: check that every field is covered")
    sub = anonymize.add_subparsers(dest="anonymize_command", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="exit 1 when a model field is neither covered by a rule nor declared safe")
    check.add_argument(
        "--rules",
        default="workshop.anonymize.shop_rules:shop_rules",
        help="module:callable returning the rules (default: the shop's)",
    )
    check.add_argument(
        "--safe",
        default="workshop.anonymize.shop_rules:SAFE",
        help="module:name of the safe declarations, a dict or a callable returning one",
    )
    check.set_defaults(func=cmd_check)


def load(spec: str, what: str):
    """`package.module:name`, called when callable."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise WorkshopError(
            f"--{what} {spec!r} is not module:name", f"e.g. --{what} workshop.anonymize.shop_rules:shop_rules"
        )
    try:
        value = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise WorkshopError(
            f"--{what} {spec!r} cannot be loaded ({exc})", "check the module path and the name"
        ) from None
    value = value() if callable(value) else value
    if not isinstance(value, dict):
        raise WorkshopError(f"--{what} {spec!r} is a {type(value).__name__}, not a dict", 'use {"app.Model": {...}}')
    return value


def cmd_check(args: argparse.Namespace) -> int:
    from django.conf import settings

    if not settings.configured:  # reads the models only: no database is touched
        from workshop import django_setup
        from workshop.services import postgres

        django_setup.configure(postgres.resolve().url)
    from workshop.anonymize import coverage
    from workshop.anonymize import rules as rules_mod

    rules = load(args.rules, "rules")
    rules_mod.validate(rules)  # a rule naming a field that does not exist is an error too
    report = coverage.check(rules, load(args.safe, "safe"))
    print(report)
    return 0 if report.ok else 1
