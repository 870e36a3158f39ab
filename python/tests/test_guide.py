"""The program docs/python-guide.md quotes, step by step: every outcome the guide states is
asserted here, and scripts/check-quoted-code.py checks that each quote is this file's text.

One walk-through in one test, as a script would run it: each step goes on from the state the
steps before it left.
"""

from __future__ import annotations

import io
import json
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest


def test_the_guide_walkthrough() -> None:
    # guide:begin engine
    import convstate

    rate_card = {
        "currency": "USD",
        "markets": {"1": "north_america", "49": "germany"},
        "rates": {
            "north_america": {"marketing": "0.025", "utility": "0.004"},
            "germany": {"marketing": "0.1365", "utility": "0.0456"},
            "other": {"marketing": "0.06", "utility": "0.01"},
        },
    }
    engine = convstate.Engine(policy="cloud-2025",
                              policy_overrides={"pricing": {"rate_card": rate_card}})
    # guide:end engine

    # guide:begin register
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)

    engine.register_number("+15550001111", business="acme", channel="official", at=t0,
                           phone_number_id="106540352242922")
    engine.register_template("acme", "order_ready", "en", category="utility",
                             body="Your order {{1}} is ready.", status="approved", at=t0)
    engine.register_template("acme", "winter_sale", "en", category="marketing",
                             body="Winter sale: {{1}} off everything.", status="approved",
                             at=t0)
    # guide:end register

    # guide:begin time
    # The same instant three ways: an aware datetime, unix milliseconds, RFC 3339 text.
    for at in (t0, 1_793_610_000_000, "2026-11-02T09:00:00Z"):
        engine.tick(at)
        assert engine.clock == t0

    # Unix seconds read as milliseconds are a January 1970 instant: accepted, and warned of.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine.check_send("+15550001111", "+4915100000001", text="Hi", at=1_793_610_000)
    assert caught[0].category is convstate.UnixSecondsWarning

    # A naive datetime says nothing of its zone: refused.
    with pytest.raises(convstate.InvalidInputError):
        engine.check_send("+15550001111", "+4915100000001", text="Hi",
                          at=datetime(2026, 11, 2, 9, 0))
    # guide:end time

    # guide:begin reply
    customer = "+4915100000001"
    assert engine.inbound("+15550001111", customer, at=t0) is convstate.InboundOutcome.TAKEN

    decision = engine.send("+15550001111", customer, text="Hello! How can I help?",
                           at=t0 + timedelta(minutes=3))
    assert decision.allowed
    assert decision.billing.free_reason is convstate.FreeReason.SERVICE_WINDOW

    effects = engine.effects()
    assert [e["effect"] for e in effects] == ["ticket_opened", "chat_started"]
    assert effects[0]["ticket"] == 1
    # guide:end reply

    # guide:begin window
    next_day = t0 + timedelta(days=1, minutes=1)
    decision = engine.check_send("+15550001111", customer, text="Anything else?", at=next_day)
    assert not decision.allowed
    assert decision.reason is convstate.Reason.WINDOW_CLOSED
    assert decision.details == {"window_closed_at": t0 + timedelta(hours=24)}
    assert decision.next_action == {"action": "send_template"}

    order_ready = {"kind": "template", "name": "order_ready", "language": "en",
                   "params": ["A-17"]}
    decision = engine.check_send("+15550001111", customer, message=order_ready, at=next_day)
    assert decision.reason is convstate.Reason.NO_OPT_IN
    assert decision.next_action == {"action": "record_opt_in"}

    engine.opt_in(customer, business="acme", at=next_day)
    decision = engine.send("+15550001111", customer, message=order_ready, at=next_day,
                           message_id="out-2")
    assert decision.allowed
    assert decision.billing.charged
    assert decision.billing.category is convstate.ChargeCategory.UTILITY
    assert (decision.billing.price, decision.billing.currency) == (Decimal("0.0456"), "USD")
    # guide:end window

    # guide:begin timers
    ended = [e for e in engine.effects() if e["effect"] == "chat_ended"]
    assert ended == [{
        "effect": "chat_ended", "at": t0 + timedelta(minutes=13), "reason": "idle",
        "number": "+15550001111", "contact": customer, "ticket": 1, "ticket_status": "open",
        "missed": False, "responses": 1, "first_response_after": timedelta(minutes=3),
        "response_total": timedelta(minutes=3),
    }]

    # A host that runs as a service wakes up when the engine asks, and ticks.
    assert engine.poll_timeout() is None  # no timer armed: no live chat, nothing held
    engine.tick(next_day + timedelta(hours=1))
    assert engine.effects() == []
    # guide:end timers

    # guide:begin table
    csv = io.StringIO(
        "at,kind,number,contact,text,template,language,param\n"
        "2026-11-05T09:00:00Z,inbound,+15550001111,+4915100000002,,,,\n"
        "2026-11-05T09:02:00Z,send,+15550001111,+4915100000002,Hello!,,,\n"
        "2026-11-05T10:00:00Z,send,+15550001111,+4915100000003,Hi there,,,\n"
        "2026-11-06T09:30:00Z,send,+15550001111,+4915100000002,Anything else?,,,\n"
        "2026-11-06T09:31:00Z,send,+15550001111,+4915100000001,,order_ready,en,A-18\n"
    )
    frame = pd.read_csv(csv, dtype={"number": str, "contact": str}, parse_dates=["at"])
    frame = frame.sort_values("at", kind="stable")

    result = engine.run_batch(
        frame["kind"], frame["at"], frame["number"], frame["contact"], frame["text"],
        templates=frame["template"], languages=frame["language"],
        params=[[p] if isinstance(p, str) else None for p in frame["param"]],
    )
    frame["outcome"] = result.names()

    assert frame["outcome"].tolist() == [
        "applied", "allowed", "window_closed", "window_closed", "allowed"]
    assert result.counts == {"applied": 1, "allowed": 2, "window_closed": 2}
    assert result.errors == 0
    # guide:end table

    # guide:begin usage
    usage = engine.usage(business="acme", month="2026-11", at=engine.clock)
    assert usage["charged"] == {"utility": 2}
    assert usage["free"] == {"service_window": 2}
    assert usage["cost"] == Decimal("0.0912")
    assert usage["unpriced"] == 0
    assert usage["currency"] == "USD"
    # guide:end usage

    # guide:begin dicts
    events = [
        {"type": "inbound", "at": "2026-11-07T08:00:00Z", "number": "+15550001111",
         "contact": "+15550009999", "kind": "text", "message_id": "in-7"},
        {"type": "send", "at": "2026-11-07T08:01:00Z", "number": "+15550001111",
         "contact": "+15550009999", "message": {"kind": "text", "text": "Hi!"}},
        {"type": "send", "at": "2026-11-07T08:02:00Z", "number": "+15550001111",
         "contact": "+15550009999",
         "message": {"kind": "template", "name": "winter_sale", "language": "en",
                     "params": ["20%"]}},
    ]
    lines = engine.process(events)
    outputs = pd.json_normalize([json.loads(line) for line in lines])
    decisions = outputs[outputs["type"] == "decision"]
    assert decisions["verdict"].tolist() == ["allowed", "denied"]
    assert decisions["denial.reason"].tolist()[1] == "marketing_to_us_number"

    # One event: what the typed call returns. The same text again within a day is a duplicate.
    decision = engine.handle(events[1] | {"at": "2026-11-07T08:03:00Z"})
    assert decision.reason is convstate.Reason.DUPLICATE
    assert json.loads(decision.to_json())["denial"]["reason"] == "duplicate"
    # guide:end dicts

    # guide:begin webhook
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111",
                         "phone_number_id": "106540352242922"},
            "messages": [{"from": "4915100000004", "id": "wamid.IN4",
                          "timestamp": "1794560400", "type": "text",
                          "text": {"body": "Is my order ready?"}}],
        }}]}],
    }
    lines = [json.loads(line) for line in engine.handle_webhook(body)]
    assert lines[0]["type"] == "ack"
    assert lines[0]["event"]["contact"] == "+4915100000004"
    assert lines[0]["event"]["at"] == "2026-11-13T09:00:00Z"  # the message's own time
    # Its effects: the timers its instant fired (the chat of step 9 ended idle), then its own.
    assert [(line["effect"], line["contact"]) for line in lines[1:]] == [
        ("chat_ended", "+15550009999"),
        ("ticket_opened", "+4915100000004"),
        ("chat_started", "+4915100000004"),
    ]
    # guide:end webhook

    # guide:begin save
    saved = engine.snapshot()
    copy = convstate.Engine.restore(saved)
    later = datetime(2026, 11, 13, 9, 5, tzinfo=timezone.utc)
    assert (copy.check_send("+15550001111", "+4915100000004", text="Yes!", at=later)
            == engine.check_send("+15550001111", "+4915100000004", text="Yes!", at=later))
    assert pickle.loads(pickle.dumps(engine)).snapshot() == saved
    # guide:end save

    # guide:begin threads
    sharded = convstate.ShardedEngine(policy="cloud-2025", shards=4)
    shops = {f"shop-{i}": f"+1555010{i:04d}" for i in range(8)}
    sharded.process([{"type": "register_number", "at": "2026-11-02T08:00:00Z",
                      "business": business, "number": number, "channel": "official"}
                     for business, number in shops.items()])

    # A day of the eight shops' traffic, in time order: each contact writes, the shop replies.
    rows = [(1_793_610_000_000 + minute * 60_000 + reply * 1000, business, number,
             f"+49151{i:02d}{minute:06d}", ("send" if reply else "inbound"),
             ("Thanks for writing!" if reply else None))
            for minute in range(100) for reply in (0, 1)
            for i, (business, number) in enumerate(shops.items())]
    day = pd.DataFrame(rows, columns=["at", "business", "number", "contact", "kind", "text"])
    day["shard"] = [sharded.shard_of_business(business) for business in day["business"]]

    def replay(part: pd.DataFrame) -> list[str]:
        return sharded.run_batch(part["kind"], part["at"], part["number"], part["contact"],
                                 part["text"]).names()

    # One thread per shard, each feeding its shard's rows in time order.
    parts = [part for _, part in day.groupby("shard")]
    with ThreadPoolExecutor(max_workers=sharded.shard_count) as pool:
        outcomes = list(pool.map(replay, parts))
    for part, names in zip(parts, outcomes):
        assert names == ["applied" if kind == "inbound" else "allowed" for kind in part["kind"]]
    # guide:end threads

    # guide:begin errors
    with pytest.raises(convstate.NotFoundError) as refused:
        engine.send("+15550007777", customer, text="Hi", at=engine.clock)
    assert refused.value.code == "unknown_number"

    with pytest.raises(convstate.InvalidInputError) as refused:
        engine.inbound("+15550001111", "+12345", at=engine.clock)  # too short
    assert refused.value.code == "invalid_phone_number"

    # A denied send is no error: it is a decision, with its reason.
    decision = engine.send("+15550001111", "+15550009999", text="Hi", at=engine.clock)
    assert decision.reason is convstate.Reason.WINDOW_CLOSED
    # guide:end errors
