"""A worker process for the propagation measurements: it holds a FlagStore (and optionally
a TTL cache) and prints one JSON line each time its view of flag KEY changes.

    WORKSHOP_FLAGS_CONNINFO='{"dbname": ...}' python -m workshop.flags.worker KEY [--ttl S]

No Django: the store needs only psycopg, so a worker is up in a fraction of a second.
Runs until its stdin closes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from workshop.flags.store import FlagStore
from workshop.flags.ttl import TTLFlagCache

ENV_CONNINFO = "WORKSHOP_FLAGS_CONNINFO"


def state(definition) -> list | None:
    return None if definition is None else [definition.enabled, definition.everyone, definition.percentage]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("key")
    parser.add_argument("--ttl", type=float, default=None, help="also poll a TTL cache of this many seconds")
    args = parser.parse_args(argv)
    conninfo = json.loads(os.environ[ENV_CONNINFO])
    lock = threading.Lock()

    def say(model: str, definition) -> None:
        with lock:
            print(json.dumps({"model": model, "t": time.time(), "state": state(definition)}), flush=True)

    store = FlagStore(conninfo, name="workshop.flags worker")
    store.listeners.append(lambda old, new: say("notify", new.get(args.key)))
    store.start()
    if args.ttl is not None:
        cache = TTLFlagCache(conninfo, args.ttl)
        first = state(cache.get(args.key))  # read before "ready": a flip right after it must count as a change
        threading.Thread(target=poll_ttl, args=(cache, args.key, first, say), daemon=True).start()
    say("ready", store.get(args.key))
    sys.stdin.read()  # the parent closes our stdin to stop us
    store.stop()
    return 0


def poll_ttl(cache: TTLFlagCache, key: str, last, say) -> None:
    """Ask the TTL cache as a busy process would (every millisecond), report what it answers."""
    while True:
        now = state(cache.get(key))
        if now != last:
            say("ttl", cache.get(key))
            last = now
        time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main())
