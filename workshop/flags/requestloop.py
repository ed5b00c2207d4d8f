"""A process serving the product page in a loop, for the kill-switch demo: it logs in as one
staff user, then requests the page (whose new block has a bug: `simulate_bug=1`) until its
stdin closes, and prints every request as [time, status, block on?, what a TTL cache would
have said]. Started by killswitch.py; the database comes from WORKSHOP_DATABASE_URL."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ttl", type=float, default=1.0)
    args = parser.parse_args(argv)

    from workshop import django_setup

    django_setup.configure(os.environ["WORKSHOP_DATABASE_URL"])
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # the 500s are expected
    from django.contrib.auth.models import User
    from django.test import Client

    from workshop.flags.client import conninfo, get_client
    from workshop.flags.ttl import TTLFlagCache

    get_client()  # start listening before the first request
    ttl_cache = TTLFlagCache(conninfo(), args.ttl)
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(pk=args.user))
    client.get("/products/1/")  # warm: urls, templates, the first queries
    stop = threading.Event()
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    samples = []
    while not stop.is_set():
        started = time.time()
        response = client.get("/products/1/", {"simulate_bug": "1"})
        definition = ttl_cache.get(args.key)
        ttl_on = bool(definition and definition.enabled)
        served_on = response.wsgi_request.flags.is_on(args.key)  # the request's own snapshot
        samples.append([started, response.status_code, served_on, ttl_on])
    print(json.dumps(samples), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
