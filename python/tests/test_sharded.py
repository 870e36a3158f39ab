"""ShardedEngine: batches from several threads at once give what one engine gives, and a
business-wide messaging limit stays exact under concurrent sends."""

from __future__ import annotations

import json
import pickle
from collections import Counter
from typing import Any

import pytest

import convstate
from conftest import in_threads

T0 = 1_793_606_400_000  # 2026-11-02T08:00:00Z in unix milliseconds
MINUTE = 60_000
BUSINESSES = 6
ROWS_PER_BUSINESS = 600
CHUNK = 50  # rows per run_batch call, so that the threads' calls interleave
TEMPLATE_CONTACTS = 150  # opted in, never write: each template to one takes a limit slot


def setup_lines(business: int) -> list[dict[str, Any]]:
    name = f"biz{business}"
    return [
        {"type": "register_template", "at": T0, "business": name, "name": "order_ready",
         "language": "en", "category": "utility", "body": "Your order {{1}} is ready.",
         "status": "approved", "quality": "high"},
        {"type": "register_number", "at": T0, "business": name, "number": number(business),
         "channel": "official"},
        *({"type": "opt_in", "at": T0, "business": name, "contact": contact(business, 1000 + i)}
          for i in range(TEMPLATE_CONTACTS)),
    ]


def number(business: int) -> str:
    return f"+1555400{business:04d}"


def contact(business: int, i: int) -> str:
    return f"+4915{business:04d}{i:05d}"


def business_rows(business: int) -> list[tuple[str, int, str, str, str | None, str | None]]:
    """(kind, at, number, contact, text, template) rows in time order: a contact writes, gets
    a reply, a template goes to an opted-in contact who never wrote, a reply is checked."""
    rows = []
    for i in range(ROWS_PER_BUSINESS):
        at = T0 + MINUTE * (1 + i)
        who = contact(business, i // 4 % 40)
        match i % 4:
            case 0:
                rows.append(("inbound", at, number(business), who, None, None))
            case 1:
                rows.append(("send", at, number(business), who, f"reply {i}", None))
            case 2:
                rows.append(("send", at, number(business),
                             contact(business, 1000 + i // 4 % TEMPLATE_CONTACTS), None,
                             "order_ready"))
            case _:
                rows.append(("check_send", at, number(business), who, "later", None))
    return rows


def run(engine: Any, rows: list[tuple[str, int, str, str, str | None, str | None]]
        ) -> convstate.BatchResult:
    kinds, at, numbers, contacts, texts, templates = (list(column) for column in zip(*rows))
    return engine.run_batch(kinds, at, numbers, contacts, texts, templates=templates,
                            languages=["en" if t else None for t in templates],
                            params=[["A-1"] if t else None for t in templates])


def test_batches_from_threads_equal_one_engine_in_time_order() -> None:
    single = convstate.Engine(policy="cloud-2025", policy_overrides={"limits": {"levels": [30]}})
    sharded = convstate.ShardedEngine(policy="cloud-2025", shards=3,
                                      policy_overrides={"limits": {"levels": [30]}})
    assert sharded.shard_count == 3
    assert len({sharded.shard_of_business(f"biz{b}") for b in range(BUSINESSES)}) > 1
    for b in range(BUSINESSES):
        single.process(setup_lines(b))
        for line in sharded.process(setup_lines(b)):
            assert json.loads(line)["type"] in ("ack", "effect"), line

    per_business = [business_rows(b) for b in range(BUSINESSES)]
    # One engine: every row in time order (stable, so each business keeps its own order).
    everything = sorted((row for rows in per_business for row in rows), key=lambda r: r[1])
    expected_rows = Counter(zip(everything, run(single, everything).names()))

    # One thread per shard, each sending its businesses' rows in time order (the contract:
    # a shard's inputs in time order), in chunks of CHUNK so that the threads interleave.
    per_shard: list[list] = [[] for _ in range(sharded.shard_count)]
    for b in range(BUSINESSES):
        per_shard[sharded.shard_of_business(f"biz{b}")].extend(per_business[b])
    for rows in per_shard:
        rows.sort(key=lambda r: r[1])
    outcomes: list[list[str]] = [[] for _ in per_shard]
    effect_counts: list[Counter[str]] = [Counter() for _ in per_shard]

    def feed(s: int) -> None:
        rows = per_shard[s]
        for start in range(0, len(rows), CHUNK):
            result = run(sharded, rows[start:start + CHUNK])
            outcomes[s].extend(result.names())
            effect_counts[s].update(result.effect_counts)

    in_threads(len(per_shard), feed)
    got_rows = Counter(row for s, rows in enumerate(per_shard) for row in zip(rows, outcomes[s]))
    assert got_rows == expected_rows
    names = Counter(outcome for shard_outcomes in outcomes for outcome in shard_outcomes)
    assert names["allowed"] > 1000 and names["applied"] == BUSINESSES * ROWS_PER_BUSINESS // 4
    assert names["limit_reached"] > 0 and names["window_closed"] == 0, names
    assert sum(effect_counts, Counter())["chat_started"] > 0

    # The same usage per business as the single engine, queried through the wire door.
    for b in range(BUSINESSES):
        query = {"type": "query_usage", "at": T0 + 1000 * MINUTE, "business": f"biz{b}"}
        assert sharded.process([query]) == single.process([query])


def test_concurrent_template_sends_never_exceed_a_business_limit() -> None:
    sharded = convstate.ShardedEngine(policy="cloud-2025", shards=4)
    setup = setup_lines(0)
    setup.append({"type": "register_number", "at": T0, "business": "biz0",
                  "number": "+15554009999", "channel": "official"})
    setup.extend({"type": "opt_in", "at": T0, "business": "biz0", "contact": contact(0, 5000 + i)}
                 for i in range(1000))
    sharded.process_bytes("\n".join(json.dumps(line) for line in setup).encode())
    threads, per_thread = 8, 125
    allowed = [0] * threads

    def send(t: int) -> None:
        for start in range(0, per_thread, 25):
            rows = [("send", T0 + MINUTE, number(0) if i % 2 else "+15554009999",
                     contact(0, 5000 + t * per_thread + start + i), None, "order_ready")
                    for i in range(25)]
            result = run(sharded, rows)
            assert set(result.names()) <= {"allowed", "limit_reached"}
            allowed[t] += result.counts.get("allowed", 0)

    in_threads(threads, send)
    # cloud-2025: 250 new contacts a day per business, however many threads and numbers.
    assert sum(allowed) == 250
    usage = json.loads(sharded.process([{"type": "query_limit", "at": T0 + MINUTE,
                                         "number": number(0)}])[0])
    assert usage["used"] == 250, usage


def test_check_send_answers_as_one_engine_from_threads_and_records_nothing() -> None:
    sharded = convstate.ShardedEngine(shards=3)
    single = convstate.Engine()
    for b in range(BUSINESSES):
        for engine in (sharded, single):
            engine.process(setup_lines(b))
            engine.run_batch(["inbound"], [T0 + MINUTE], [number(b)], [contact(b, 0)])
    single.effects()
    before = sharded.snapshot()
    template = {"kind": "template", "name": "order_ready", "language": "en", "params": ["A-1"]}
    asks: list[dict[str, Any]] = [
        # Inside the window, after it closed, a template to an opted-in contact, one to a
        # contact without opt-in.
        {"text": "Hi", "at": T0 + 2 * MINUTE},
        {"text": "Hi", "at": T0 + 25 * 60 * MINUTE},
        {"message": template, "at": T0 + 2 * MINUTE, "contact": 1000},
        {"message": template, "at": T0 + 2 * MINUTE, "contact": 999},
    ]
    answers: list[list[convstate.Decision]] = [[] for _ in range(BUSINESSES)]

    def ask(b: int) -> None:
        for a in asks:
            args = {k: v for k, v in a.items() if k != "contact"}
            answers[b].append(sharded.check_send(number(b), contact(b, a.get("contact", 0)), **args))

    in_threads(BUSINESSES, ask)
    for b in range(BUSINESSES):
        expected = [single.check_send(number(b), contact(b, a.get("contact", 0)),
                                      **{k: v for k, v in a.items() if k != "contact"})
                    for a in asks]
        assert answers[b] == expected, b
        assert [d.reason for d in answers[b]] == [
            None, convstate.Reason.WINDOW_CLOSED, None, convstate.Reason.NO_OPT_IN]
    assert sharded.snapshot() == before, "a check records nothing"
    with pytest.raises(convstate.NotFoundError, match="unknown number"):
        sharded.check_send("+15559999999", contact(0, 0), text="Hi", at=T0)
    with pytest.raises(TypeError, match="at"):
        sharded.check_send(number(0), contact(0, 0), text="Hi", at=1.5)  # type: ignore[arg-type]


def typed_calls(b: int) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """One business's typed calls in time order: a contact writes, gets a reply, a template
    goes to an opted-in contact, a view, and a reply after the chat went idle and after
    the window closed (the timers the send's instant fires come back with it)."""
    who = contact(b, 0)
    template = {"kind": "template", "name": "order_ready", "language": "en", "params": ["A-1"]}
    return [
        ("inbound", (number(b), who), {"at": T0 + MINUTE, "message_id": f"wamid.{b}"}),
        ("send", (number(b), who), {"at": T0 + 2 * MINUTE, "text": "Hi"}),
        ("send", (number(b), contact(b, 1000)), {"at": T0 + 3 * MINUTE, "message": template}),
        ("handle", ({"type": "query_conversation", "at": T0 + 4 * MINUTE, "number": number(b),
                     "contact": who},), {}),
        ("send", (number(b), who), {"at": T0 + 30 * MINUTE, "text": "Still there?"}),
        ("send", (number(b), who), {"at": T0 + 25 * 60 * MINUTE, "text": "Hello again"}),
    ]


def apply_typed(engine: Any, call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """A typed call's result and effects: a ShardedEngine returns them together, an Engine
    queues its effects."""
    method, args, kwargs = call
    answer = getattr(engine, method)(*args, **kwargs)
    if isinstance(engine, convstate.ShardedEngine):
        return answer
    return answer, engine.effects()


def test_typed_calls_answer_as_one_engine_with_the_effects_they_caused() -> None:
    # One business: call by call, the same result and the same effects as one Engine.
    sharded = convstate.ShardedEngine(shards=2)
    single = convstate.Engine()
    for line in setup_lines(0):
        assert sharded.handle(line) == (None, [])
        single.handle(line)
    answers = [apply_typed(sharded, call) for call in typed_calls(0)]
    assert answers == [apply_typed(single, call) for call in typed_calls(0)]
    (taken, started), (reply, _), (template, _), (view, _), (late, ended), (closed, _) = answers
    assert taken is convstate.InboundOutcome.TAKEN
    assert [e["effect"] for e in started] == ["ticket_opened", "chat_started"]
    # The provider delivers the message again: the sharded engine says so, as one engine
    # does, and nothing happens.
    again = typed_calls(0)[0]
    assert apply_typed(sharded, again) == (convstate.InboundOutcome.REDELIVERED, [])
    assert apply_typed(single, again) == (convstate.InboundOutcome.REDELIVERED, [])
    # `handle` answers as Engine.handle does, beside the effects.
    _, (number_0, who), kwargs = again
    inbound = {"type": "inbound", "number": number_0, "contact": who, "kind": "text", **kwargs}
    assert sharded.handle(inbound) == (convstate.InboundOutcome.REDELIVERED, [])
    stray = {"type": "message_status", "at": kwargs["at"], "number": number_0, "contact": who,
             "message_id": "wamid.never-sent", "status": "delivered"}
    outcome, _ = sharded.handle(stray)
    assert outcome is convstate.StatusOutcome.UNMATCHED
    assert single.handle(stray) is convstate.StatusOutcome.UNMATCHED
    typed = sharded.message_status(number_0, who, at=kwargs["at"], message_id="wamid.never-sent",
                                   status="delivered")
    assert typed == (convstate.StatusOutcome.UNMATCHED, [])
    assert reply.allowed and template.allowed and late.allowed
    assert view["window_open"] is True
    # The chat went idle 10 minutes after the reply: its end comes back with the next send.
    assert [e["effect"] for e in ended] == ["chat_ended"]
    assert closed.reason == convstate.Reason.WINDOW_CLOSED
    assert sharded.handle(json.dumps({"type": "tick", "at": T0 + 26 * 60 * MINUTE})) == (None, [])

    # Each shard fed from its own thread, its businesses' calls in time order (as the class
    # asks): call by call, what one Engine holding those businesses gives. A shard's timers
    # may hand one business's effects to another's call, as in that Engine.
    sharded = convstate.ShardedEngine(shards=3)
    groups: dict[int, list[int]] = {}
    for b in range(BUSINESSES):
        sharded.process(setup_lines(b))
        groups.setdefault(sharded.shard_of_business(f"biz{b}"), []).append(b)
    assert max(len(group) for group in groups.values()) > 1
    feeds = [sorted((call for b in group for call in typed_calls(b)), key=instant_of)
             for group in groups.values()]
    answers_by_feed: list[list[Any]] = [[] for _ in feeds]

    def feed(i: int) -> None:
        answers_by_feed[i] = [apply_typed(sharded, call) for call in feeds[i]]

    in_threads(len(feeds), feed)
    for i, group in enumerate(groups.values()):
        single = convstate.Engine()
        for b in group:
            single.process(setup_lines(b))
        single.effects()
        assert answers_by_feed[i] == [apply_typed(single, call) for call in feeds[i]], group


def test_views_read_as_one_engines_and_as_the_wire_queries() -> None:
    # One business, so that one Engine holds the same (ticket ids are per engine).
    sharded = convstate.ShardedEngine(shards=3)
    single = convstate.Engine()
    for line in setup_lines(0):
        sharded.handle(line)
        single.handle(line)
    for call in typed_calls(0)[:3]:
        apply_typed(sharded, call)
        apply_typed(single, call)
    at = T0 + 5 * MINUTE
    who = contact(0, 0)
    view = sharded.conversation(number(0), who, at=at)
    assert view == single.conversation(number(0), who, at=at)
    assert view["window_open"] and view["chat"]["responses"] == 1
    query = {"type": "query_conversation", "at": at, "number": number(0), "contact": who}
    assert sharded.handle(query) == (view, [])
    assert sharded.number(number(0), at=at) == single.number(number(0), at=at)
    assert sharded.number(number(0))["counters"]["templates_sent"] == 1
    limit = sharded.limit(number(0), at=at)
    assert limit == single.limit(number(0), at=at)
    assert limit["used"] == 1, "the template's contact; a reply in the window takes no slot"
    assert sharded.handle({"type": "query_limit", "at": at, "number": number(0)}) == (limit, [])
    usage = sharded.usage(at=at, business="biz0")
    assert usage == single.usage(at=at, business="biz0")
    assert usage["charged"] == {"utility": 1}
    assert sharded.usage(at=at, number=number(0)) == single.usage(at=at, number=number(0))
    template = sharded.template("biz0", "order_ready", "en", at=at)
    assert template == single.template("biz0", "order_ready", "en", at=at)
    assert template["status"] == "approved"
    with pytest.raises(convstate.InvalidInputError) as raised:
        sharded.number(number(0), at=T0)
    assert raised.value.code == "view_before_clock"
    with pytest.raises(convstate.NotFoundError):
        sharded.template("biz0", "missing", "en")


def instant_of(call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> int:
    _, args, kwargs = call
    at: int = kwargs["at"] if "at" in kwargs else args[0]["at"]
    return at


def test_an_automated_send_answers_no_one() -> None:
    sharded = convstate.ShardedEngine(shards=2)
    sharded.process(setup_lines(0))
    sharded.inbound(number(0), contact(0, 0), at=T0)
    decision, _ = sharded.send(number(0), contact(0, 0), text="We got it", at=T0 + MINUTE,
                               automated=True)
    assert decision.allowed

    def chat(at: int) -> Any:
        query = {"type": "query_conversation", "at": at, "number": number(0),
                 "contact": contact(0, 0)}
        view, _ = sharded.handle(query)
        assert isinstance(view, dict)
        return view["chat"]

    checked = sharded.check_send(number(0), contact(0, 0), text="Ana here", at=T0 + MINUTE,
                                 automated=True)
    assert checked.allowed
    assert chat(T0 + MINUTE)["responses"] == 0 and chat(T0 + MINUTE)["waiting_since"] is not None
    sharded.send(number(0), contact(0, 0), text="Ana here", at=T0 + 2 * MINUTE)
    assert chat(T0 + 2 * MINUTE)["responses"] == 1 and chat(T0 + 2 * MINUTE)["waiting_since"] is None


def test_a_typed_call_refused_raises_with_the_effects_it_caused() -> None:
    sharded = convstate.ShardedEngine(shards=2)
    sharded.process(setup_lines(0))
    with pytest.raises(convstate.NotFoundError, match="unknown template") as refused:
        sharded.send(number(0), contact(0, 1000), at=T0 + MINUTE,
                     message={"kind": "template", "name": "nope", "language": "en"})
    # Checked before anything changed: no timer fired, so no effects, but the list is there.
    assert refused.value.effects == []
    assert pickle.loads(pickle.dumps(refused.value)).effects == []
    with pytest.raises(convstate.NotFoundError, match="unknown number") as refused:
        sharded.inbound("+15559999999", contact(0, 0), at=T0)
    assert refused.value.effects == []
    with pytest.raises(convstate.InvalidInputError, match="invalid event") as refused:
        sharded.handle({"type": "send", "at": T0, "number": number(0)})
    assert refused.value.effects == []
    with pytest.raises(convstate.InvalidInputError, match="invalid instant") as refused:
        sharded.inbound(number(0), contact(0, 0), at="2026-11-02T08:00:00")
    assert refused.value.effects == []
    # An argument of the wrong type is Python's own error, raised before the engine.
    with pytest.raises(TypeError, match="at"):
        sharded.send(number(0), contact(0, 0), text="Hi", at=1.5)  # type: ignore[arg-type]
    # Not an event at all: refused as Engine.handle refuses it, a TypeError as for any
    # argument of the wrong type.
    with pytest.raises(TypeError, match="must be a str .* or a mapping .*, got int"):
        sharded.handle(42)  # type: ignore[arg-type]


def test_process_bytes_matches_process_and_partitions_move() -> None:
    sharded = convstate.ShardedEngine(shards=2)
    lines = [json.dumps(line) for line in setup_lines(0)]
    lines.append(json.dumps({"type": "inbound", "at": T0 + MINUTE, "number": number(0),
                             "contact": contact(0, 1), "kind": "text"}))
    out = sharded.process_bytes(("\n".join(lines) + "\n\xff\n").encode("latin-1"))
    twin = convstate.ShardedEngine(shards=2)
    expected = twin.process(lines)
    got = out.decode().splitlines()
    assert got[:-1] == expected
    assert json.loads(got[-1])["error"] == "invalid_event" and "UTF-8" in got[-1]

    exported = sharded.export_business("biz0")
    other = convstate.ShardedEngine(shards=5)
    other.import_business(exported)
    query = {"type": "query_conversation", "at": T0 + 2 * MINUTE, "number": number(0),
             "contact": contact(0, 1)}
    assert other.process([query]) == sharded.process([query])
    # The business is already there: refused as one engine refuses it (it read as a number
    # owned by another business, "acme" not "acme").
    with pytest.raises(convstate.InvalidInputError, match="already exists"):
        other.import_business(exported)
    with pytest.raises(convstate.NotFoundError):
        sharded.export_business("nobody")


def test_tick_fires_every_shards_timers_and_returns_their_effects() -> None:
    sharded = convstate.ShardedEngine(shards=3)
    single = convstate.Engine()
    assert sharded.poll_timeout() is None
    for b in range(BUSINESSES):
        for engine in (sharded, single):
            engine.process(setup_lines(b))
            engine.run_batch(["inbound"], [T0 + MINUTE], [number(b)], [contact(b, 0)])
    single.effects()
    assert sharded.poll_timeout() == single.poll_timeout() is not None
    ended = sharded.tick(T0 + 120 * MINUTE)
    single.tick(T0 + 120 * MINUTE)
    assert sorted(e["number"] for e in ended if e["effect"] == "chat_ended") == [
        number(b) for b in range(BUSINESSES)]
    assert len(ended) == len(single.effects())
    assert sharded.tick(T0 + 120 * MINUTE) == []  # nothing fires twice


def test_bad_construction_is_a_clear_error() -> None:
    with pytest.raises(convstate.InvalidInputError, match="1..=4096 shards, got 0"):
        convstate.ShardedEngine(shards=0)
    with pytest.raises(convstate.InvalidInputError, match="1..=4096 shards, got -1"):
        convstate.ShardedEngine(shards=-1)
    with pytest.raises(convstate.InvalidInputError, match="got 4097"):
        convstate.ShardedEngine(shards=4097)
    # Not an OverflowError: the same error as any count out of range.
    with pytest.raises(convstate.InvalidInputError, match=f"1..=4096 shards, got {2**70}"):
        convstate.ShardedEngine(shards=2**70)
    # Not a count at all: a TypeError naming the argument, as Python's own calls give.
    for bad, kind in [("4", "str"), (True, "bool"), (4.0, "float"), (None, "NoneType")]:
        with pytest.raises(TypeError, match=f"shards must be an int, got {kind}"):
            convstate.ShardedEngine(shards=bad)  # type: ignore[arg-type]
    # Any integer with __index__ counts, as for every other integer argument.
    import numpy as np
    assert convstate.ShardedEngine(shards=np.int64(3)).shard_count == 3  # type: ignore[arg-type]
    with pytest.raises(convstate.PolicyError, match="policy_overrides: field \"chat.idle_timeout\": NaN is not a finite number"):
        convstate.ShardedEngine(policy_overrides={"chat": {"idle_timeout": float("nan")}})
    with pytest.raises(convstate.PolicyError, match="policy_overrides: field \"chat.idle_timeout\": NaN is not a finite number"):
        convstate.Engine(policy_overrides={"chat": {"idle_timeout": float("nan")}})
    with pytest.raises(convstate.SnapshotError, match="restores as a sharded engine: ShardedEngine::restore, C convstate_sharded_engine_restore"):
        convstate.Engine.restore(convstate.ShardedEngine(shards=2).snapshot())
    with pytest.raises(convstate.PolicyError):
        convstate.ShardedEngine(policy="no-such-preset")
    # A list was merged as the whole policy and refused for 'field "[0]"'.
    with pytest.raises(TypeError, match="policy_overrides must be a mapping, got list"):
        convstate.ShardedEngine(policy_overrides=[{"chat": {"idle_timeout": "15m"}}])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="policy_overrides must be a mapping, got str"):
        convstate.Engine(policy_overrides="{}")  # type: ignore[arg-type]
    assert repr(convstate.ShardedEngine(shards=3)) == "ShardedEngine(shards=3)"


def test_snapshot_restore_and_pickle_keep_every_shard() -> None:
    import pickle

    sharded = convstate.ShardedEngine(shards=3)
    for b in range(BUSINESSES):
        sharded.process(setup_lines(b))
        run(sharded, business_rows(b)[:40])
    data = sharded.snapshot()
    assert data.count(b"\n") == 4  # a header and three shards
    later = business_rows(2)[40:80]
    copies = [convstate.ShardedEngine.restore(data), pickle.loads(pickle.dumps(sharded))]
    for copy in copies:
        assert copy.shard_count == 3 and copy.snapshot() == data
        for b in range(BUSINESSES):
            query = {"type": "query_usage", "at": T0 + 100 * MINUTE, "business": f"biz{b}"}
            assert copy.process([query]) == sharded.process([query])
    # The copies and the original go on alike.
    expected = run(sharded, later).names()
    assert "allowed" in expected and "applied" in expected
    for copy in copies:
        assert run(copy, later).names() == expected
    with pytest.raises(convstate.SnapshotError, match="checksum mismatch"):
        convstate.ShardedEngine.restore(data[:-20])
    with pytest.raises(convstate.SnapshotError, match="Engine::restore"):
        convstate.ShardedEngine.restore(convstate.Engine().snapshot())


def webhook(business: int, kind: str, item: dict[str, Any]) -> bytes:
    """A Meta `messages` webhook body for business `business`'s number, found by its
    phone_number_id alone (the display number is no registered one): `kind` is "messages"
    or "statuses"."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "1 555 999 0000",
                          "phone_number_id": f"40000{business}"},
             kind: [item]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": f"waba{business}",
                                  "changes": [{"field": "messages", "value": value}]}]}).encode()


def webhook_inputs(business: int) -> list[tuple[int, bytes | dict[str, Any]]]:
    """(at, input) in time order: a contact's message through the webhook door, the reply
    with its provider id, then the reply's delivery status through the webhook door."""
    inputs: list[tuple[int, bytes | dict[str, Any]]] = []
    for i in range(40):
        at = T0 + MINUTE * (1 + 3 * i)
        who = contact(business, i % 10)
        inputs.append((at, webhook(business, "messages", {
            "from": who[1:], "id": f"wamid.in.{business}.{i}", "timestamp": str(at // 1000),
            "type": "text", "text": {"body": "hello"}})))
        inputs.append((at + MINUTE, {
            "type": "send", "at": at + MINUTE, "number": number(business), "contact": who,
            "message": {"kind": "text", "text": f"reply {i}"},
            "message_id": f"wamid.out.{business}.{i}"}))
        inputs.append((at + 2 * MINUTE, webhook(business, "statuses", {
            "id": f"wamid.out.{business}.{i}", "status": "delivered",
            "timestamp": str((at + 2 * MINUTE) // 1000), "recipient_id": who[1:],
            "pricing": {"billable": False, "pricing_model": "PMP",
                        "type": "free_customer_service", "category": "service"}})))
    return inputs


def apply_input(engine: Any, item: bytes | dict[str, Any]) -> list[str]:
    if isinstance(item, bytes):
        return engine.handle_webhook(item, received_at=T0)
    return engine.process([item])


def test_webhooks_from_threads_equal_one_engine_in_time_order() -> None:
    single = convstate.Engine(policy="cloud-2025")
    sharded = convstate.ShardedEngine(policy="cloud-2025", shards=3)
    for b in range(BUSINESSES):
        register = {"type": "register_number", "at": T0, "business": f"biz{b}",
                    "number": number(b), "channel": "official", "phone_number_id": f"40000{b}"}
        assert single.process([register]) == sharded.process([register])

    per_business = [webhook_inputs(b) for b in range(BUSINESSES)]
    expected: list[str] = []
    for _, item in sorted((x for inputs in per_business for x in inputs), key=lambda x: x[0]):
        expected.extend(apply_input(single, item))

    # One thread per shard, each feeding its businesses in time order.
    per_shard: list[list[tuple[int, bytes | dict[str, Any]]]] = [[] for _ in range(3)]
    for b in range(BUSINESSES):
        per_shard[sharded.shard_of_business(f"biz{b}")].extend(per_business[b])
    got: list[list[str]] = [[] for _ in per_shard]

    def feed(s: int) -> None:
        for _, item in sorted(per_shard[s], key=lambda x: x[0]):
            got[s].extend(apply_input(sharded, item))

    in_threads(len(per_shard), feed)
    # Tickets are numbered per shard: results compared whole, effects by kind and contact.
    def results(lines: list[str]) -> Counter[str]:
        return Counter(line for line in lines if '"type":"effect"' not in line)

    def effects(lines: list[str]) -> Counter[tuple[str, str]]:
        return Counter((e["effect"], e.get("contact", "")) for e in map(json.loads, lines)
                       if e["type"] == "effect")

    everything = [line for lines in got for line in lines]
    assert results(everything) == results(expected)
    assert effects(everything) == effects(expected)
    acks = Counter(json.loads(line)["of"] for line in expected if '"type":"ack"' in line)
    assert acks["inbound"] == acks["message_status"] == 40 * BUSINESSES, acks
    assert sum(effects(expected).values()) > 0
    for b in range(BUSINESSES):
        query = {"type": "query_usage", "at": T0 + 1000 * MINUTE, "business": f"biz{b}"}
        assert sharded.process([query]) == single.process([query])


def test_template_webhooks_find_their_business_across_shards() -> None:
    from conftest import REPO_ROOT

    sharded = convstate.ShardedEngine(policy="cloud-2025", shards=4)
    sharded.process([
        {"type": "register_template", "at": T0, "business": "acme", "name": "order_update",
         "language": "en_US", "category": "utility", "body": "Order {{1}} is on its way",
         "status": "approved"},
        *({"type": "register_number", "at": T0, "business": f"biz{b}", "number": number(b),
           "channel": "official"} for b in range(BUSINESSES)),
        # The latest clock of the shards: another business's shard, two hours on.
        {"type": "inbound", "at": T0 + 120 * MINUTE, "number": number(3),
         "contact": contact(3, 1), "kind": "text"},
    ])
    body = json.loads((REPO_ROOT / "tests" / "webhooks" / "template_first_pause.json").read_text())
    # Several businesses, no mapping: the WABA is no one's.
    unmapped = json.loads(sharded.handle_webhook(body)[0])
    assert unmapped["type"] == "unrecognized" and "several are registered" in unmapped["reason"]
    # Mapped, found in acme's shard; the entry's `time` gone, the latest clock stands in.
    del body["entry"][0]["time"]
    applied = json.loads(sharded.handle_webhook(body, waba_businesses={"102290129340398": "acme"})[0])
    assert (applied["type"], applied["event"]["business"]) == ("ack", "acme")
    assert applied["event"]["at"] == "2026-11-02T10:00:00Z"
    with pytest.raises(TypeError, match="payload must be the body"):
        sharded.handle_webhook([1, 2])  # type: ignore[arg-type]
    with pytest.raises(convstate.InvalidInputError, match="waba_businesses"):
        sharded.handle_webhook(body, waba_businesses={"": "acme"})
