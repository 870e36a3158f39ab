#!/usr/bin/env python3
"""The wheel's typed batch call against plain Python running the same rules on the same events.

One event table (columns) is generated: inbound text messages from contacts, and `send` rows
from the business, mostly free-form replies plus templates. Every contact has opted in and
every message's content is unique, so the only rules that can deny a send are:

- the customer service window (RULES.md §2): free-form only while `at < last inbound + 24h`
  of that (number, contact); outside it, only a template;
- the messaging limit (RULES.md §7, `cloud-2025`: per business): a template outside the window
  counts its contact in a moving 24h period; a contact already counted costs nothing more
  (its latest instant moves); a new contact is refused once 250 are counted. The policy is
  held at one level (250) so that no upgrade happens mid-run: plain Python implements the
  same fixed limit.

Then, on the same table:

(a) `Engine.run_batch` over the columns (typed core API, one outcome code per row);
(b) a plain-Python implementation of the window and limit rules (dicts, an OrderedDict per
    business as the moving set), writing the same outcome codes;
(c) `Engine.process_bytes` over the same events as wire-format lines;
(d) `Engine.process` over the same lines as a list of str (the older batch door);
(e) `ShardedEngine.run_batch` (two shards) from one thread, then from two threads at once,
    each with the rows of one shard's businesses.

The engine runs every rule on each event (chats, tickets, consent, duplicates, pricing,
timers, effects); plain Python runs only the two checks the outcomes depend on. The script
asserts that (a) and (b) agree on every row and that (c) and (e) agree with (a), then prints
events/s and the ratios. Run against a release wheel (python/bench/run.sh):

    python python/bench/bench_batch.py [--conversations 100000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import array
import json
import random
import threading
import time
from collections import OrderedDict

import convstate

T0 = 1_793_606_400_000  # 2026-11-02T08:00:00Z, unix milliseconds
DAY = 24 * 3_600_000
NUMBERS = 100
BUSINESSES = 10
LIMIT = 250
POLICY_OVERRIDES = {"limits": {"levels": [LIMIT]}}

NAMES = convstate.BatchResult.OUTCOME_NAMES
APPLIED = NAMES.index("applied")
ALLOWED = NAMES.index("allowed")
WINDOW_CLOSED = NAMES.index("window_closed")
LIMIT_REACHED = NAMES.index("limit_reached")


def number(j: int) -> str:
    return f"+1555{j:07d}"


def business_of(j: int) -> str:
    return f"biz{j % BUSINESSES}"


def contact(i: int) -> str:
    return f"+4915{i:09d}"


def setup_bytes(conversations: int) -> bytes:
    lines = []
    for b in range(BUSINESSES):
        lines.append(json.dumps({
            "type": "register_template", "at": T0, "business": f"biz{b}",
            "name": "order_ready", "language": "en", "category": "utility",
            "body": "Your order {{1}} is ready.", "status": "approved", "quality": "high"}))
    for j in range(NUMBERS):
        lines.append(json.dumps({"type": "register_number", "at": T0, "number": number(j),
                                 "business": business_of(j), "channel": "official"}))
    for i in range(conversations):
        lines.append(json.dumps({"type": "opt_in", "at": T0, "contact": contact(i),
                                 "business": business_of(i % NUMBERS)}))
    return ("\n".join(lines) + "\n").encode()


def new_engine(conversations: int) -> convstate.Engine:
    engine = convstate.Engine("cloud-2025", policy_overrides=POLICY_OVERRIDES)
    output = engine.process_bytes(setup_bytes(conversations))
    assert b'"type":"error"' not in output, output[:500]
    return engine


def new_sharded(conversations: int, shards: int) -> convstate.ShardedEngine:
    engine = convstate.ShardedEngine("cloud-2025", shards, policy_overrides=POLICY_OVERRIDES)
    output = engine.process_bytes(setup_bytes(conversations))
    assert b'"type":"error"' not in output, output[:500]
    return engine


class Table:
    """The events as columns. Contact i always talks to number i % NUMBERS."""

    def __init__(self, conversations: int, events: int, days: float, seed: int) -> None:
        rng = random.Random(seed)
        step = int(days * DAY) // events
        contacts = [contact(i) for i in range(conversations)]
        numbers = [number(j) for j in range(NUMBERS)]
        self.kinds: list[str] = []
        self.at: list[int] = []
        self.numbers: list[str] = []
        self.contacts: list[str] = []
        self.texts: list[str | None] = []
        self.templates: list[str | None] = []
        self.languages: list[str | None] = []
        self.params: list[list[str] | None] = []
        for k in range(events):
            i = rng.randrange(conversations)
            draw = rng.random()
            self.at.append(T0 + 3_600_000 + k * step)
            self.numbers.append(numbers[i % NUMBERS])
            self.contacts.append(contacts[i])
            if draw < 0.5:
                self.kinds.append("inbound")
                self.texts.append(None)
                self.templates.append(None)
                self.languages.append(None)
                self.params.append(None)
            elif draw < 0.85:
                self.kinds.append("send")
                self.texts.append(f"Reply {k}")
                self.templates.append(None)
                self.languages.append(None)
                self.params.append(None)
            else:
                self.kinds.append("send")
                self.texts.append(None)
                self.templates.append("order_ready")
                self.languages.append("en")
                self.params.append([f"A-{k}"])

    def __len__(self) -> int:
        return len(self.kinds)

    def columns(self, rows: list[int]) -> tuple[list, dict]:
        """The given rows as `run_batch` arguments: kinds as bytes, `at` as array('q')."""
        kinds = bytes(("inbound", "send", "check_send").index(self.kinds[k]) for k in rows)
        positional = [kinds, array.array("q", (self.at[k] for k in rows)),
                      [self.numbers[k] for k in rows], [self.contacts[k] for k in rows],
                      [self.texts[k] for k in rows]]
        keywords = {"templates": [self.templates[k] for k in rows],
                    "languages": [self.languages[k] for k in rows],
                    "params": [self.params[k] for k in rows]}
        return positional, keywords

    def wire_bytes(self) -> bytes:
        lines = []
        for k, kind in enumerate(self.kinds):
            event: dict = {"type": kind, "at": self.at[k], "number": self.numbers[k],
                           "contact": self.contacts[k]}
            if kind == "inbound":
                event["kind"] = "text"
            elif self.templates[k] is None:
                event["message"] = {"kind": "text", "text": self.texts[k]}
            else:
                event["message"] = {"kind": "template", "name": self.templates[k],
                                    "language": self.languages[k], "params": self.params[k]}
            lines.append(json.dumps(event, separators=(",", ":")))
        return ("\n".join(lines) + "\n").encode()


def plain_python(table: Table) -> bytearray:
    """RULES.md §2 and §7 over the columns, writing the wheel's outcome codes."""
    business = {number(j): business_of(j) for j in range(NUMBERS)}
    # (number, contact) -> latest inbound instant.
    last_inbound: dict[tuple[str, str], int] = {}
    # Per business: contact -> latest business-initiated send, oldest first (a moving set).
    reached: dict[str, OrderedDict[str, int]] = {b: OrderedDict() for b in set(business.values())}
    out = bytearray(len(table))
    k = 0
    for kind, at, num, who, template in zip(table.kinds, table.at, table.numbers,
                                             table.contacts, table.templates):
        key = (num, who)
        if kind == "inbound":
            if last_inbound.get(key, -1) < at:
                last_inbound[key] = at
            out[k] = APPLIED
        else:
            last = last_inbound.get(key)
            if last is not None and at < last + DAY:
                out[k] = ALLOWED  # inside the window: anything goes, no limit slot
            elif template is None:
                out[k] = WINDOW_CLOSED
            else:
                counted = reached[business[num]]
                # Drop contacts whose latest send left the moving 24h period.
                while counted:
                    oldest = next(iter(counted.values()))
                    if oldest + DAY > at:
                        break
                    counted.popitem(last=False)
                if who in counted or len(counted) < LIMIT:
                    counted[who] = at
                    counted.move_to_end(who)
                    out[k] = ALLOWED
                else:
                    out[k] = LIMIT_REACHED
        k += 1
    return out


def wire_outcomes(output: bytes) -> bytes:
    """Outcome codes from process_bytes' result lines (effect lines skipped)."""
    codes = bytearray()
    for line in output.splitlines():
        if line.startswith(b'{"type":"effect"'):
            continue
        result = json.loads(line)
        if result["type"] == "ack":
            codes.append(APPLIED)
        elif result["type"] == "decision":
            codes.append(ALLOWED if result["verdict"] == "allowed"
                         else NAMES.index(result["denial"]["reason"]))
        else:
            codes.append(NAMES.index("error"))
    return bytes(codes)


def rate(events: int, seconds: float) -> str:
    return f"{seconds:7.3f} s  {events / seconds / 1e6:6.2f} M events/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=3.0, help="time the events span")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-process", action="store_true",
                        help="skip (d), the slow list-of-str door")
    args = parser.parse_args()

    table = Table(args.conversations, args.events, args.days, args.seed)
    n = len(table)
    wire = table.wire_bytes()

    engine = new_engine(args.conversations)
    start = time.perf_counter()
    result = engine.run_batch(table.kinds, table.at, table.numbers, table.contacts, table.texts,
                              templates=table.templates, languages=table.languages,
                              params=table.params)
    batch_s = time.perf_counter() - start

    # The same rows with kinds as bytes of codes and at as array('q'), read in one go.
    codes = bytes(("inbound", "send", "check_send").index(kind) for kind in table.kinds)
    instants = array.array("q", table.at)
    engine = new_engine(args.conversations)
    start = time.perf_counter()
    typed = engine.run_batch(codes, instants, table.numbers, table.contacts, table.texts,
                             templates=table.templates, languages=table.languages,
                             params=table.params)
    typed_s = time.perf_counter() - start
    assert typed.outcomes == result.outcomes, "bytes/array columns decide differently"

    # How much of (a) is reading the columns: the same call with the last row made
    # invalid raises after every column is read and before any row is applied.
    kinds, texts, templates = list(table.kinds), list(table.texts), list(table.templates)
    kinds[-1], texts[-1], templates[-1] = "send", None, None
    start = time.perf_counter()
    try:
        engine.run_batch(kinds, table.at, table.numbers, table.contacts, texts,
                         templates=templates, languages=table.languages, params=table.params)
        raise AssertionError("the invalid last row was not refused")
    except TypeError:
        read_s = time.perf_counter() - start

    start = time.perf_counter()
    plain = plain_python(table)
    plain_s = time.perf_counter() - start

    engine = new_engine(args.conversations)
    start = time.perf_counter()
    output = engine.process_bytes(wire)
    bytes_s = time.perf_counter() - start

    process_s = None
    if not args.skip_process:
        lines = wire.decode().splitlines()
        engine = new_engine(args.conversations)
        start = time.perf_counter()
        listed = engine.process(lines)
        process_s = time.perf_counter() - start
        del listed, lines

    # (e) The sharded engine: every row from one thread, then each shard's rows from its own
    # thread at once (the GIL is released while rows are applied).
    sharded = new_sharded(args.conversations, 2)
    positional, keywords = table.columns(list(range(n)))
    start = time.perf_counter()
    one_thread = sharded.run_batch(*positional, **keywords)
    sharded_1_s = time.perf_counter() - start
    assert one_thread.outcomes == result.outcomes, "the sharded engine decides differently"

    sharded = new_sharded(args.conversations, 2)
    shard_of_number = {number(j): sharded.shard_of_business(business_of(j))
                       for j in range(NUMBERS)}
    rows_of = [[k for k in range(n) if shard_of_number[table.numbers[k]] == s] for s in (0, 1)]
    assert all(rows_of), "both shards get rows"
    inputs = [table.columns(rows) for rows in rows_of]
    results: list = [None, None]

    def feed(s: int) -> None:
        results[s] = sharded.run_batch(*inputs[s][0], **inputs[s][1])

    threads = [threading.Thread(target=feed, args=(s,)) for s in (0, 1)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sharded_2_s = time.perf_counter() - start
    merged = bytearray(n)
    for rows, shard_result in zip(rows_of, results):
        for k, code in zip(rows, shard_result.outcomes):
            merged[k] = code
    assert bytes(merged) == result.outcomes, "two threads decide differently"

    # The comparison is honest only if both sides decided the same thing on every row.
    assert result.errors == 0, result.first_error
    if bytes(plain) != result.outcomes:
        row = next(k for k in range(n) if plain[k] != result.outcomes[k])
        raise AssertionError(f"row {row}: plain Python {NAMES[plain[row]]}, "
                             f"wheel {NAMES[result.outcomes[row]]}")
    assert wire_outcomes(output) == result.outcomes, "process_bytes disagrees with run_batch"
    counts = result.counts
    assert counts.get("window_closed") and counts.get("limit_reached"), counts

    print(f"events: {n}, conversations: {args.conversations}, over {args.days:g} days")
    print(f"outcomes (identical in a, b, c): {counts}")
    print(f"effects counted and dropped by run_batch: {sum(result.effect_counts.values())}")
    print(f"(a) wheel Engine.run_batch:     {rate(n, batch_s)}")
    print(f"    of which reading columns:   {read_s:7.3f} s; applying rows "
          f"{rate(n, batch_s - read_s).strip()}")
    print(f"    kinds bytes, at array('q'): {rate(n, typed_s)}")
    print(f"(b) plain Python, same rules:   {rate(n, plain_s)}")
    print(f"(c) wheel Engine.process_bytes: {rate(n, bytes_s)}  ({len(output)} bytes out)")
    if process_s is not None:
        print(f"(d) wheel Engine.process:       {rate(n, process_s)}")
    print(f"(e) ShardedEngine.run_batch, 2 shards, 1 thread:  {rate(n, sharded_1_s)}")
    print(f"    2 threads, one per shard ({len(rows_of[0])} + {len(rows_of[1])} rows): "
          f"{rate(n, sharded_2_s)}")
    print(f"ratio run_batch / plain Python:     {plain_s / batch_s:5.1f}x")
    print(f"ratio process_bytes / plain Python: {plain_s / bytes_s:5.1f}x")
    print(f"ratio sharded 2 threads / plain Python: {plain_s / sharded_2_s:5.1f}x")


if __name__ == "__main__":
    main()
