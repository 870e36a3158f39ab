#!/usr/bin/env python3
"""The wheel's batch call against a plain-Python implementation of the same checks.

Both sides see the same events: inbound messages (which open a contact's 24-hour service
window) and send decisions (a free-form reply is allowed only inside the window; a template
outside it is allowed only while the business's messaging limit, unique contacts per rolling
24 hours, has room). The wheel gets the events as wire-format lines through
``Engine.process`` (it parses JSON and runs every rule: chats, tickets, consent, pricing,
duplicates); plain Python gets them already parsed as dicts and runs only the window and
limit checks, so the ratio printed is a lower bound.

Run against a release wheel (see docs/PERFORMANCE.md):

    python python/bench/bench_batch.py [--conversations 100000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from datetime import datetime, timedelta, timezone

import convstate

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
NUMBERS = 100
BUSINESSES = 10
WINDOW_MS = 24 * 3600 * 1000
LIMIT = 250


def iso(ms: int) -> str:
    return (T0 + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def number(j: int) -> str:
    return f"+1555{j:07d}"


def contact(i: int) -> str:
    return f"+4915{i:09d}"


def setup_lines(conversations: int) -> list[str]:
    lines = []
    for b in range(BUSINESSES):
        lines.append(json.dumps({
            "type": "register_template", "at": iso(0), "business": f"biz{b}",
            "name": "order_ready", "language": "en", "category": "utility",
            "body": "Your order {{1}} is ready.", "status": "approved", "quality": "high"}))
    for j in range(NUMBERS):
        lines.append(json.dumps({
            "type": "register_number", "at": iso(0), "business": f"biz{j % BUSINESSES}",
            "number": number(j), "channel": "official"}))
    for i in range(conversations):
        lines.append(json.dumps({
            "type": "opt_in", "at": iso(0), "business": f"biz{i % NUMBERS % BUSINESSES}",
            "contact": contact(i)}))
    return lines


def traffic(conversations: int, events: int, seed: int = 7) -> list[dict]:
    """Half inbound, a third replies, the rest templates; 1 ms apart, starting a day in so
    that some windows have closed."""
    import random

    rng = random.Random(seed)
    out = []
    for k in range(events):
        i = rng.randrange(conversations)
        at = iso(WINDOW_MS // 2 + k * 5)
        n = number(i % NUMBERS)
        kind = k % 6
        if kind < 3:
            out.append({"type": "inbound", "at": at, "number": n, "contact": contact(i),
                        "kind": "text"})
        elif kind < 5:
            out.append({"type": "check_send", "at": at, "number": n, "contact": contact(i),
                        "message": {"kind": "text", "text": f"Reply {k}"}})
        else:
            out.append({"type": "check_send", "at": at, "number": n, "contact": contact(i),
                        "message": {"kind": "template", "name": "order_ready",
                                    "language": "en", "params": [f"A-{k}"]}})
    return out


class PlainPython:
    """The window and limit checks in plain Python: dicts and a deque per business."""

    def __init__(self) -> None:
        self.last_inbound: dict[tuple[str, str], int] = {}
        self.reached: dict[str, deque] = {}
        self.reached_set: dict[str, dict[str, int]] = {}

    def handle(self, e: dict, at_ms: int) -> bool:
        key = (e["number"], e["contact"])
        if e["type"] == "inbound":
            self.last_inbound[key] = at_ms
            return True
        last = self.last_inbound.get(key)
        if last is not None and at_ms < last + WINDOW_MS:
            return True
        if e["message"]["kind"] != "template":
            return False
        business = f"biz{int(e['number'][5:]) % BUSINESSES}"
        window = self.reached.setdefault(business, deque())
        seen = self.reached_set.setdefault(business, {})
        while window and window[0][0] + WINDOW_MS <= at_ms:
            old_at, old_contact = window.popleft()
            if seen.get(old_contact) == old_at:
                del seen[old_contact]
        if e["contact"] in seen:
            return True
        if len(seen) >= LIMIT:
            return False
        seen[e["contact"]] = at_ms
        window.append((at_ms, e["contact"]))
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000,
                        help="events per Engine.process call")
    args = parser.parse_args()

    engine = convstate.Engine("cloud-2025")
    setup = setup_lines(args.conversations)
    engine.process(setup)
    # Every contact has written once at T0, so the windows of the traffic's conversations
    # exist; the traffic starts 12 hours later.
    engine.process([json.dumps({"type": "inbound", "at": iso(0), "number": number(i % NUMBERS),
                                "contact": contact(i), "kind": "text"})
                    for i in range(args.conversations)])
    events = traffic(args.conversations, args.events)
    lines = [json.dumps(e) for e in events]
    at_ms = [WINDOW_MS // 2 + k * 5 for k in range(len(events))]

    start = time.perf_counter()
    outputs = 0
    for s in range(0, len(lines), args.batch):
        outputs += len(engine.process(lines[s:s + args.batch]))
    wheel_s = time.perf_counter() - start

    plain = PlainPython()
    for i in range(args.conversations):
        plain.last_inbound[(number(i % NUMBERS), contact(i))] = 0
    start = time.perf_counter()
    allowed = 0
    for e, t in zip(events, at_ms):
        allowed += plain.handle(e, t)
    plain_s = time.perf_counter() - start

    n = len(events)
    print(f"events: {n}, conversations: {args.conversations}, batch: {args.batch}")
    print(f"wheel Engine.process: {wheel_s:.3f} s, {n / wheel_s / 1e6:.2f} M events/s "
          f"({outputs} output lines)")
    print(f"plain Python checks:  {plain_s:.3f} s, {n / plain_s / 1e6:.2f} M events/s "
          f"({allowed} allowed or applied)")
    print(f"ratio (wheel / plain Python): {plain_s / wheel_s:.1f}x")


if __name__ == "__main__":
    main()
