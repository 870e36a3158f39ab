"""Moving a business between engines: export it, import it elsewhere, remove it here (or
take it: export and remove in one step)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
import time
from typing import Any

import pytest

import convstate
from conftest import in_threads

T0 = 1_793_606_400_000  # 2026-11-02T08:00:00Z in unix milliseconds
MINUTE = 60_000


def number(business: int) -> str:
    return f"+1555600{business:04d}"


def contact(business: int, i: int) -> str:
    return f"+4917{business * 100 + i:09d}"


def traffic(businesses: int) -> list[dict[str, Any]]:
    """Registration, then a live chat with two contacts per business."""
    lines: list[dict[str, Any]] = []
    for b in range(businesses):
        lines += [
            {"type": "register_number", "at": T0, "business": f"biz{b}", "number": number(b),
             "channel": "official"},
            *({"type": "inbound", "at": T0 + MINUTE, "number": number(b),
               "contact": contact(b, i), "kind": "text"} for i in range(2)),
        ]
    return lines


def engine(businesses: int = 3) -> convstate.Engine:
    e = convstate.Engine()
    for line in e.process(traffic(businesses)):
        assert json.loads(line)["type"] != "error", line
    e.effects()
    return e


def chats_ended(lines: list[str]) -> list[str]:
    return sorted(json.loads(line)["contact"] for line in lines
                  if json.loads(line).get("effect") == "chat_ended")


def test_a_moved_business_lives_on_one_engine_only() -> None:
    source, target = engine(), convstate.Engine()
    target.import_business(source.export_business("biz1"))
    source.remove_business("biz1")
    reply = {"type": "send", "at": T0 + 2 * MINUTE, "number": number(1),
             "contact": contact(1, 0), "message": {"kind": "text", "text": "Hi"}}
    assert json.loads(target.process([reply])[0])["verdict"] == "allowed"
    assert json.loads(source.process([reply])[0])["error"] == "unknown_number"

    # Every live chat ends once, on the engine that holds its business.
    tick = {"type": "tick", "at": T0 + 600 * MINUTE}
    assert chats_ended(source.process([tick])) == [contact(b, i) for b in (0, 2) for i in (0, 1)]
    assert chats_ended(target.process([tick])) == [contact(1, 0), contact(1, 1)]

    # The name and the number are free again on the source.
    source.import_business(target.export_business("biz1"))
    assert json.loads(source.process([{**reply, "at": T0 + 601 * MINUTE}])[0])["type"] == "decision"


def test_a_new_engine_starts_from_an_export_under_its_policy() -> None:
    overrides = {"chat": {"idle_timeout": "15m"}}
    source = convstate.Engine("classic", overrides)
    for line in source.process(traffic(2)):
        assert json.loads(line)["type"] != "error", line
    exported = source.export_business("biz1")
    started = convstate.Engine.from_business_export(exported)
    imported = convstate.Engine("classic", overrides)
    imported.import_business(exported)
    assert started.snapshot() == imported.snapshot()
    assert started.policy == source.policy
    assert started.policy != convstate.Engine("classic").policy
    with pytest.raises(convstate.SnapshotError):
        convstate.Engine.from_business_export(b"not an export")


def test_removing_an_unknown_business_is_an_error_and_changes_nothing() -> None:
    e = engine()
    before = e.snapshot()
    with pytest.raises(convstate.NotFoundError, match="nobody"):
        e.remove_business("nobody")
    assert e.snapshot() == before
    with pytest.raises(convstate.SnapshotError):
        e.import_business(b"not an export")
    with pytest.raises(convstate.ConvstateError, match="biz0"):
        e.import_business(e.export_business("biz0"))  # already here
    assert e.snapshot() == before


def test_a_sharded_engine_removes_a_business_and_its_routes() -> None:
    sharded = convstate.ShardedEngine(shards=2)
    for line in sharded.process(traffic(4)):
        assert json.loads(line)["type"] != "error", line
    exported = sharded.export_business("biz3")
    sharded.remove_business("biz3")
    query = {"type": "query_number", "at": T0 + 2 * MINUTE, "number": number(3)}
    assert json.loads(sharded.process([query])[0])["error"] == "unknown_number"
    with pytest.raises(convstate.NotFoundError):
        sharded.remove_business("biz3")
    sharded.import_business(exported)
    assert json.loads(sharded.process([query])[0])["business"] == "biz3"


def test_a_take_is_an_export_then_a_removal() -> None:
    exported, taken = engine(), engine()
    data = exported.export_business("biz1")
    exported.remove_business("biz1")
    assert taken.take_business("biz1") == data
    assert taken.snapshot() == exported.snapshot()
    before = taken.snapshot()
    with pytest.raises(convstate.NotFoundError, match="biz1"):
        taken.take_business("biz1")
    assert taken.snapshot() == before

    sharded = convstate.ShardedEngine(shards=2)
    for line in sharded.process(traffic(4)):
        assert json.loads(line)["type"] != "error", line
    data = sharded.export_business("biz3")
    assert sharded.take_business("biz3") == data
    query = {"type": "query_number", "at": T0 + 2 * MINUTE, "number": number(3)}
    assert json.loads(sharded.process([query])[0])["error"] == "unknown_number"
    before = sharded.snapshot()
    with pytest.raises(convstate.NotFoundError, match="biz3"):
        sharded.take_business("biz3")
    assert sharded.snapshot() == before
    assert sharded.import_business(data) == []  # the clocks agree: nothing fell due
    assert json.loads(sharded.process([query])[0])["business"] == "biz3"


def test_a_sharded_import_returns_the_timers_it_fired_at_their_instants() -> None:
    # Imported into shards an hour ahead, the business's live chats end where they fell
    # due (ten idle minutes after their last message), not at the later clock.
    source = engine(2)
    data = source.take_business("biz1")
    sharded = convstate.ShardedEngine(shards=2)
    sharded.tick(T0 + 60 * MINUTE)
    effects = sharded.import_business(data)
    assert [(e["effect"], e["contact"]) for e in effects] == [
        ("chat_ended", contact(1, 0)), ("chat_ended", contact(1, 1))]
    ended = datetime.fromtimestamp((T0 + 11 * MINUTE) / 1000, timezone.utc)
    assert [e["at"] for e in effects] == [ended, ended]


def test_a_sharded_take_loses_no_inbound_sent_meanwhile() -> None:
    # Two threads send inbounds (each from a new contact) to biz1 while a third takes it:
    # each one the engine accepted is in the export; after the take they are refused.
    sharded = convstate.ShardedEngine(shards=2)
    for line in sharded.process(traffic(3)):
        assert json.loads(line)["type"] != "error", line
    start = convstate.Engine.from_business_export(sharded.export_business("biz1"))
    accepted: list[list[str]] = [[], []]
    refused: list[list[str]] = [[], []]
    taken: list[bytes] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        if index == 2:
            deadline = time.monotonic() + 60
            while True:
                with lock:
                    if len(accepted[0]) + len(accepted[1]) >= 100:
                        break
                assert time.monotonic() < deadline, "the senders applied nothing"
                time.sleep(0.001)
            taken.append(sharded.take_business("biz1"))
            return
        for i in range(1_000_000):
            c = f"+4918{index:02d}{i:07d}"
            line = {"type": "inbound", "at": T0 + 3 * MINUTE, "number": number(1),
                    "contact": c, "kind": "text", "message_id": f"in.{index}.{i}"}
            result = json.loads(sharded.process([line])[0])
            if result["type"] == "ack":
                assert not refused[index], f"{c} accepted after a refusal"
                with lock:
                    accepted[index].append(c)
            else:
                assert result["error"] == "unknown_number", result
                refused[index].append(c)
                if len(refused[index]) >= 20:
                    return
        raise AssertionError("the take never came")

    in_threads(3, work)
    moved = convstate.Engine.from_business_export(taken[0])
    contacts = accepted[0] + accepted[1]
    counters = moved.number(number(1))["counters"]
    assert counters["inbound"] == start.number(number(1))["counters"]["inbound"] + len(contacts)
    at = T0 + 3 * MINUTE
    assert all(moved.conversation(number(1), c, at=at)["window_open"] for c in contacts)
    assert not any(moved.conversation(number(1), c, at=at)["window_open"]
                   for c in refused[0] + refused[1])
    with pytest.raises(convstate.NotFoundError):
        sharded.export_business("biz1")
