from __future__ import annotations

import copy
import json
import pickle
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import convstate
from conftest import CONTACT, NUMBER, REPO_ROOT, utc


def test_the_installed_wheel_is_tested_not_the_source_tree() -> None:
    package_dir = Path(convstate.__file__).resolve().parent
    assert REPO_ROOT / "python" not in package_dir.parents, package_dir
    assert Path(sys.prefix) in package_dir.parents
    assert (package_dir / "py.typed").exists()
    assert (package_dir / "_convstate.pyi").exists()
    assert convstate._convstate.__name__ == "convstate._convstate"


def test_all_names_exist() -> None:
    assert sorted(convstate.__all__) == sorted(set(convstate.__all__))
    for name in convstate.__all__:
        assert hasattr(convstate, name), name


def test_window_open_then_closed(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    decision = engine.check_send(NUMBER, CONTACT, text="Hi", at=utc(2026, 11, 2, 10))
    assert decision.allowed is True
    assert decision.verdict is convstate.Verdict.ALLOWED
    assert decision.reason is None
    assert decision.details == {}
    assert decision.initiated_by is convstate.Initiator.CUSTOMER
    assert decision.consumed_limit_slot is False
    assert decision.next_action is None
    assert decision.billing is not None
    assert decision.billing.charged is False
    assert decision.billing.free_reason is convstate.FreeReason.SERVICE_WINDOW
    assert decision.billing.category is None

    late = engine.check_send(NUMBER, CONTACT, text="Hi", at=utc(2026, 11, 3, 9))
    assert late.allowed is False
    assert late.verdict is convstate.Verdict.DENIED
    assert late.reason is convstate.Reason.WINDOW_CLOSED
    assert late.reason == "window_closed"
    assert late.details == {"window_closed_at": utc(2026, 11, 3, 9)}
    assert late.details["window_closed_at"].tzinfo is not None
    assert late.billing is None
    assert late.next_action == {"action": "send_template"}


def test_results_are_frozen_and_readable(engine: convstate.Engine) -> None:
    late = engine.check_send(NUMBER, CONTACT, text="Hi", at=utc(2026, 11, 3, 9))
    with pytest.raises(AttributeError):
        late.allowed = True  # type: ignore[misc]
    assert repr(late) == (
        "Decision(allowed=False, reason=<Reason.WINDOW_CLOSED: 'window_closed'>, "
        "details={'window_closed_at': None}, initiated_by=<Initiator.BUSINESS: 'business'>, "
        "next_action={'action': 'send_template'})"
    )
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 3, 9))
    ok = engine.check_send(NUMBER, CONTACT, text="Hi", at=utc(2026, 11, 3, 9))
    assert repr(ok.billing) == "Billing(charged=False, free_reason=<FreeReason.SERVICE_WINDOW: 'service_window'>)"
    again = engine.check_send(NUMBER, CONTACT, text="Hi", at=utc(2026, 11, 3, 9))
    assert ok == again and hash(ok) == hash(again)
    assert ok != late
    assert json.loads(ok.to_json())["verdict"] == "allowed"
    assert ok.to_dict()["billing"] == {"charge": "free", "why": "service_window"}


def test_instants_accept_aware_datetimes_and_int_millis(engine: convstate.Engine) -> None:
    at = utc(2026, 11, 2, 9)
    millis = int(at.timestamp() * 1000)
    engine.inbound(NUMBER, CONTACT, at=millis)
    view = engine.conversation(NUMBER, CONTACT, at=at + timedelta(hours=1))
    assert view["window_open"] is True
    assert view["window_ends_at"] == at + timedelta(hours=24)
    # Any offset is converted to UTC; the result is UTC.
    plus_three = timezone(timedelta(hours=3))
    view = engine.conversation(NUMBER, CONTACT, at=datetime(2026, 11, 3, 11, 59, tzinfo=plus_three))
    assert view["window_open"] is True
    assert engine.clock == at
    assert engine.clock.utcoffset() == timedelta(0)


def test_milliseconds_are_exact(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    edge = utc(2026, 11, 3, 8, 59, 59) + timedelta(microseconds=999_000)
    assert engine.check_send(NUMBER, CONTACT, text="x", at=edge).allowed
    assert not engine.check_send(NUMBER, CONTACT, text="x", at=edge + timedelta(milliseconds=1)).allowed


def test_naive_datetime_is_refused_with_a_clear_message(engine: convstate.Engine) -> None:
    # The argument is named, as for a value of the wrong type.
    with pytest.raises(convstate.InvalidInputError,
                       match=r"^inbound: at: invalid instant .*naive datetime: attach a timezone") as caught:
        engine.inbound(NUMBER, CONTACT, at=datetime(2026, 11, 2, 9))
    assert caught.value.code == "invalid_instant"
    with pytest.raises(convstate.InvalidInputError, match=r"^tick: at: invalid instant \"yesterday\""):
        engine.tick("yesterday")
    with pytest.raises(convstate.InvalidInputError, match=r"^check_send: at: invalid instant"):
        engine.check_send(NUMBER, CONTACT, text="x", at=2**70)
    with pytest.raises(convstate.InvalidInputError, match="naive datetime"):
        engine.handle({"type": "tick", "at": datetime(2026, 11, 2, 9)})


def test_dict_and_line_doors_agree(engine: convstate.Engine) -> None:
    event = {"type": "inbound", "at": "2026-11-02T09:00:00Z", "number": NUMBER, "contact": CONTACT, "kind": "text"}
    assert engine.handle(event) is convstate.InboundOutcome.TAKEN
    assert [e["effect"] for e in engine.effects()] == ["ticket_opened", "chat_started"]
    send = {"type": "check_send", "at": utc(2026, 11, 2, 9, 5), "number": NUMBER, "contact": CONTACT,
            "message": {"kind": "text", "text": "Hi"}, "comment": "annotations are ignored"}
    decision = engine.handle(send)
    assert isinstance(decision, convstate.Decision) and decision.allowed
    line = json.dumps({**send, "at": "2026-11-02T09:05:00Z"})
    [result] = engine.handle_json(line)
    assert decision.to_json() == result, "the wire line, byte for byte"
    assert engine.handle(line) == decision
    view = engine.handle({"type": "query_conversation", "at": 0, "number": NUMBER, "contact": CONTACT})
    assert isinstance(view, dict) and view["chat"] is not None


def test_typed_calls_and_handle_tell_a_redelivered_inbound_and_an_unmatched_status(
        engine: convstate.Engine) -> None:
    # What the wire's ack says as `redelivered` / `unmatched`, a Python caller gets as a
    # str enum: from `inbound`, and from `handle` for an inbound or a message status.
    at = utc(2026, 11, 2, 9)
    first = engine.inbound(NUMBER, CONTACT, at=at, message_id="wamid.in1")
    assert first is convstate.InboundOutcome.TAKEN and first == "taken"
    engine.effects()
    again = engine.inbound(NUMBER, CONTACT, at=at, message_id="wamid.in1")
    assert again is convstate.InboundOutcome.REDELIVERED and again == "redelivered"
    assert engine.effects() == [], "a redelivery changes nothing"
    # Without an id, the engine cannot tell a message from one delivered again.
    assert engine.inbound(NUMBER, CONTACT, at=at) is convstate.InboundOutcome.TAKEN
    inbound = {"type": "inbound", "at": "2026-11-02T09:00:00Z", "number": NUMBER,
               "contact": CONTACT, "kind": "text", "message_id": "wamid.in1"}
    assert engine.handle(inbound) is convstate.InboundOutcome.REDELIVERED
    assert json.loads(engine.handle_json(json.dumps(inbound))[0])["redelivered"] is True

    decision = engine.send(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1), text="Hi",
                           message_id="wamid.out1")
    assert decision.allowed
    engine.effects()
    status = {"type": "message_status", "at": "2026-11-02T09:01:05Z", "number": NUMBER,
              "contact": CONTACT, "message_id": "wamid.out1", "status": "delivered"}
    assert engine.handle(status) is convstate.StatusOutcome.MATCHED
    stray = {**status, "message_id": "wamid.never-sent"}
    assert engine.handle(stray) is convstate.StatusOutcome.UNMATCHED
    assert json.loads(engine.handle_json(json.dumps(stray))[0])["unmatched"] is True
    # The typed call answers alike; a failure with 131047 closes the window.
    typed = engine.message_status(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1, 10),
                                  message_id="wamid.out1", status="read")
    assert typed is convstate.StatusOutcome.MATCHED
    assert engine.message_status(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1, 10),
                                 message_id="wamid.never-sent",
                                 status="read") is convstate.StatusOutcome.UNMATCHED
    engine.send(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1, 20), text="More", message_id="wamid.out2")
    engine.message_status(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1, 30), message_id="wamid.out2",
                          status="failed", errors=[131047])
    assert engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 2))["window_open"] is False
    with pytest.raises(convstate.InvalidInputError, match="status"):
        engine.message_status(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 2), message_id="wamid.out1",
                              status="bounced")
    # Other acknowledgements stay None.
    assert engine.handle({"type": "tick", "at": "2026-11-02T09:02:00Z"}) is None


def test_a_conversation_view_before_the_clock_is_refused_where_a_late_line_reads_the_clock(
        engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    with pytest.raises(convstate.InvalidInputError) as caught:
        engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 8, 59))
    assert caught.value.code == "view_before_clock"
    assert str(caught.value) == (
        "view at 2026-11-02T08:59:00Z is before the engine's clock, 2026-11-02T09:00:00Z: "
        "the engine keeps no history, so a view shows its clock or a later instant")
    for at in (utc(2026, 11, 2, 9), utc(2026, 11, 2, 10)):
        assert engine.conversation(NUMBER, CONTACT, at=at)["window_open"] is True
    # The wire's query line is an input like any other: a late one reads at the clock.
    late = engine.handle({"type": "query_conversation", "at": utc(2026, 11, 2, 8, 59),
                          "number": NUMBER, "contact": CONTACT})
    assert late == engine.conversation(NUMBER, CONTACT, at=engine.clock)


def test_handle_json_reports_errors_as_lines(engine: convstate.Engine) -> None:
    [line] = engine.handle_json('{"type":"warp"}')
    error = json.loads(line)
    assert error["type"] == "error" and error["error"] == "invalid_event" and error["kind"] == "invalid_input"


def test_process_returns_every_output_line_in_order(engine: convstate.Engine) -> None:
    lines = engine.process([
        {"type": "inbound", "at": utc(2026, 11, 2, 9), "number": NUMBER, "contact": CONTACT, "kind": "text"},
        '{"type":"tick","at":"2026-11-02T09:10:00Z"}',
        "not json",
        {"type": "check_send", "at": "2026-11-03T09:00:00Z", "number": NUMBER, "contact": CONTACT,
         "message": {"kind": "text", "text": "Hi"}},
    ])
    parsed = [json.loads(line) for line in lines]
    assert [p["type"] for p in parsed] == ["ack", "effect", "effect", "ack", "effect", "error", "decision"]
    assert parsed[4]["effect"] == "chat_ended" and parsed[4]["missed"] is True
    assert parsed[6]["denial"]["reason"] == "window_closed"
    assert engine.process([]) == []


def test_process_refuses_one_string_and_skips_what_process_bytes_skips(engine: convstate.Engine) -> None:
    line = '{"type":"tick","at":"2026-11-02T09:10:00Z"}'
    # Iterating a str would apply one "line" per character.
    for whole in [line, line.encode(), bytearray(line.encode()), memoryview(line.encode())]:
        with pytest.raises(TypeError, match="not a single (str|bytes|bytearray|memoryview); "
                           "give the text of many lines to process_bytes"):
            engine.process(whole)  # type: ignore[arg-type]
    text = "// a comment\n" + line + "\n\n   \n"
    assert engine.process(text.split("\n")) == ['{"type":"ack","of":"tick"}']
    assert engine.process_bytes(("\ufeff" + text).encode()) == b'{"type":"ack","of":"tick"}\n'


def test_integer_scalars_of_other_classes_are_ints(engine: convstate.Engine) -> None:
    class Int64:
        """What numpy's integer scalars offer: a lossless __index__, no int subclass."""

        def __init__(self, value: int) -> None:
            self.value = value

        def __index__(self) -> int:
            return self.value

    at = Int64(1793610000000)  # 2026-11-02T09:00:00Z
    engine.inbound(NUMBER, CONTACT, at=at, kind="image", size=Int64(5_000))  # type: ignore[arg-type]
    assert engine.clock == utc(2026, 11, 2, 9)
    assert engine.handle({"type": "tick", "at": Int64(1793610060000)}) is None
    assert engine.clock == utc(2026, 11, 2, 9, 1)


def test_process_converts_the_whole_batch_before_applying(engine: convstate.Engine) -> None:
    with pytest.raises(convstate.InvalidInputError, match="has no JSON form"):
        engine.process([
            {"type": "inbound", "at": 0, "number": NUMBER, "contact": CONTACT, "kind": "text"},
            {"type": "tick", "at": object()},
        ])
    assert engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))["ticket"] is None


def test_process_refuses_an_item_that_is_neither_a_line_nor_a_mapping(engine: convstate.Engine) -> None:
    line = json.dumps({"type": "inbound", "at": 0, "number": NUMBER, "contact": CONTACT, "kind": "text"})
    before = engine.snapshot()
    # A None from a data pipeline became an error line and the rest was applied; the bytes
    # of a file read in binary mode an InvalidInputError.
    for bad, kind in [(None, "NoneType"), (line.encode(), "bytes"), (7, "int")]:
        with pytest.raises(TypeError, match=f"process: event 1 must be a str .* got {kind}"):
            engine.process([line, bad])
        assert engine.snapshot() == before


def test_reading_the_policy_lets_a_finalizer_use_the_engine() -> None:
    import gc
    import threading

    engine = convstate.Engine()

    class Cycle:
        def __init__(self) -> None:
            self.me = self  # freed only by the garbage collector

        def __del__(self) -> None:
            engine.clock  # an engine call from a finalizer, run while policy builds its dict

    result: list[str] = []

    def read() -> None:
        threshold = gc.get_threshold()
        gc.set_threshold(1, 1, 1)
        try:
            for _ in range(50):
                Cycle()
            result.append(engine.policy["name"])
        finally:
            gc.set_threshold(*threshold)

    # The policy getter held the engine's lock while building the dict: the finalizer
    # waited for it for ever.
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert result == ["cloud-2025"], "engine.policy deadlocked with a finalizer"


def test_effects_poll_and_drain(engine: convstate.Engine) -> None:
    assert engine.poll_effect() is None
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    first = engine.poll_effect()
    assert first == {"effect": "ticket_opened", "number": NUMBER, "contact": CONTACT, "ticket": 1,
                     "at": utc(2026, 11, 2, 9)}
    rest = engine.effects()
    assert [e["effect"] for e in rest] == ["chat_started"]
    assert engine.effects() == [] and engine.poll_effect() is None
    assert engine.poll_timeout() == utc(2026, 11, 2, 9, 10)
    engine.tick(utc(2026, 11, 2, 9, 10))
    [ended] = engine.effects()
    assert ended["effect"] == "chat_ended" and ended["reason"] == "idle"


def test_chat_ticket_and_consent_calls(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    engine.end_chat(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1), by="agent", status="pending")
    engine.set_ticket_status(NUMBER, CONTACT, convstate.TicketStatus.CLOSED, at=utc(2026, 11, 2, 9, 2))
    changes = [e for e in engine.effects() if e["effect"] == "ticket_status_changed"]
    assert changes[-1]["to"] == "closed"
    engine.opt_in(CONTACT, number=NUMBER, at=utc(2026, 11, 2, 9, 3))
    assert engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 3))["opted_in"] is True
    engine.opt_out(CONTACT, business="acme", at=utc(2026, 11, 2, 9, 4))
    assert engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 4))["opted_in"] is False
    # The customer writes again: ticket 2. A change meant for ticket 1 is refused.
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 5))
    assert engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 5))["ticket"] == {"id": 2, "status": "open"}
    engine.effects()
    with pytest.raises(convstate.NotFoundError) as stale:
        engine.set_ticket_status(NUMBER, CONTACT, "pending", at=utc(2026, 11, 2, 9, 2), ticket=1)
    assert stale.value.code == "ticket_not_current" and engine.effects() == []
    engine.set_ticket_status(NUMBER, CONTACT, "pending", at=utc(2026, 11, 2, 9, 5), ticket=2)
    assert [e["to"] for e in engine.effects() if e["effect"] == "ticket_status_changed"] == ["pending"]


def test_chat_response_times(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    waiting = engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1))["chat"]
    assert waiting["waiting_since"] == utc(2026, 11, 2, 9) and waiting["responses"] == 0
    assert engine.send(NUMBER, CONTACT, text="Hello!", at=utc(2026, 11, 2, 9, 2)).allowed
    answered = engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 2))["chat"]
    assert answered["waiting_since"] is None and answered["responses"] == 1
    assert answered["response_total"] == timedelta(minutes=2)
    engine.end_chat(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 3), by="agent")
    [ended] = [e for e in engine.effects() if e["effect"] == "chat_ended"]
    assert ended["responses"] == 1 and ended["response_total"] == timedelta(minutes=2)
    assert ended["first_response_after"] == timedelta(minutes=2)
    counters = engine.number(NUMBER)["counters"]
    assert (counters["responses"], counters["response_total_ms"]) == (1, 120_000)


def test_an_automated_send_is_no_agent_response(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    ack = engine.send(NUMBER, CONTACT, text="We got it", at=utc(2026, 11, 2, 9, 1), automated=True)
    assert ack.allowed
    chat = engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1))["chat"]
    assert chat["waiting_since"] == utc(2026, 11, 2, 9) and chat["responses"] == 0
    assert chat["last_activity_at"] == utc(2026, 11, 2, 9, 1)
    engine.send(NUMBER, CONTACT, text="Ana here", at=utc(2026, 11, 2, 9, 4))
    engine.end_chat(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 5), by="agent")
    [ended] = [e for e in engine.effects() if e["effect"] == "chat_ended"]
    assert ended["first_response_after"] == timedelta(minutes=4) and ended["responses"] == 1


def test_an_automated_initiate_is_no_agent_response(engine: convstate.Engine) -> None:
    # In a live chat the window is open, so initiate sends at once: a bot's follow-up answers
    # no one, an agent's answers the waiting contact.
    for contact, automated in (("+79110000002", True), ("+79110000003", False)):
        engine.inbound(NUMBER, contact, at=utc(2026, 11, 2, 9))
        started = engine.initiate(NUMBER, contact, text="Your order shipped",
                                  at=utc(2026, 11, 2, 9, 1), automated=automated)
        assert started.allowed and started.initiation == {"template": None, "language": None, "held": 0}
    bot = engine.conversation(NUMBER, "+79110000002", at=utc(2026, 11, 2, 9, 2))["chat"]
    assert bot["waiting_since"] == utc(2026, 11, 2, 9) and bot["responses"] == 0
    assert bot["last_activity_at"] == utc(2026, 11, 2, 9, 1)
    agent = engine.conversation(NUMBER, "+79110000003", at=utc(2026, 11, 2, 9, 2))["chat"]
    assert agent["waiting_since"] is None and agent["responses"] == 1


def test_check_send_takes_automated_as_send_does(engine: convstate.Engine) -> None:
    # One set of arguments serves both calls; the flag changes no decision.
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    args = dict(text="We got it", at=utc(2026, 11, 2, 9, 1), automated=True)
    checked = engine.check_send(NUMBER, CONTACT, **args)
    assert checked.to_dict() == engine.check_send(NUMBER, CONTACT, text="We got it",
                                                  at=utc(2026, 11, 2, 9, 1)).to_dict()
    assert engine.send(NUMBER, CONTACT, **args).to_dict() == checked.to_dict()


def test_templates_send_and_initiate(engine: convstate.Engine) -> None:
    engine.register_template("acme", "order_ready", "en", category="utility",
                             body="Order {{1}} is ready", status="approved")
    assert engine.template("acme", "order_ready", "en")["status"] == convstate.TemplateStatus.APPROVED
    engine.register_number(NUMBER, business="acme", channel=convstate.Channel.OFFICIAL,
                           default_template={"name": "order_ready", "language": "en"})
    engine.opt_in(CONTACT, business="acme", at=utc(2026, 11, 2, 9))
    template = {"kind": "template", "name": "order_ready", "language": "en", "params": ["A-17"]}
    decision = engine.send(NUMBER, CONTACT, message=template, at=utc(2026, 11, 2, 9))
    assert decision.allowed, decision
    assert decision.initiated_by is convstate.Initiator.BUSINESS
    assert decision.billing is not None and decision.billing.charged
    assert decision.billing.category is convstate.ChargeCategory.UTILITY
    bad = engine.check_send(NUMBER, CONTACT, message={**template, "params": []}, at=utc(2026, 11, 2, 9))
    assert bad.reason is convstate.Reason.TEMPLATE_PARAMS
    opening = {"name": "order_ready", "language": "en", "params": ["A-18"]}
    started = engine.initiate(NUMBER, CONTACT, text="About your order", template=opening, at=utc(2026, 11, 2, 9))
    assert started.initiation is not None and started.initiation["held"] == 1
    assert engine.number(NUMBER)["business"] == "acme"


def test_a_header_variable_takes_header_params(engine: convstate.Engine) -> None:
    engine.register_template("acme", "shipped", "en", category="utility", header="Order {{1}}",
                             body="Your order is on its way.", status="approved", at=utc(2026, 11, 2, 8))
    engine.opt_in(CONTACT, business="acme", at=utc(2026, 11, 2, 9))
    template = {"kind": "template", "name": "shipped", "language": "en"}
    missing = engine.check_send(NUMBER, CONTACT, message=template, at=utc(2026, 11, 2, 9))
    assert missing.reason is convstate.Reason.TEMPLATE_PARAMS
    assert missing.to_dict()["denial"]["problem"] == "header_params"
    given = engine.send(NUMBER, CONTACT, message={**template, "header_params": ["A-17"]}, at=utc(2026, 11, 2, 9))
    assert given.allowed, given
    with pytest.raises(convstate.InvalidInputError, match="header: 2 variables, the limit is 1"):
        engine.register_template("acme", "two", "en", category="utility", header="{{1}} and {{2}}",
                                 body="Hello.", at=utc(2026, 11, 2, 9))


def test_lists_and_call_to_action_messages_are_decided(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    rows = [{"id": f"r{i}", "title": f"Slot {i}"} for i in range(3)]
    listed = {"kind": "list", "body": "Pick a slot", "button": "Slots", "sections": [{"rows": rows}]}
    assert engine.send(NUMBER, CONTACT, message=listed, at=utc(2026, 11, 2, 9, 1)).allowed
    repeated = {**listed, "sections": [{"rows": rows + rows[:1]}]}
    denied = engine.check_send(NUMBER, CONTACT, message=repeated, at=utc(2026, 11, 2, 9, 2))
    assert denied.reason is convstate.Reason.INVALID_CONTENT
    assert denied.to_dict()["denial"] == {
        "reason": "invalid_content", "problem": "repeated", "item": "row id", "value": "r0"}
    cta = {"kind": "cta_url", "body": "Track it", "display_text": "Track", "url": "https://acme.example/t"}
    assert engine.check_send(NUMBER, CONTACT, message=cta, at=utc(2026, 11, 2, 9, 2)).allowed


def test_message_arguments_are_checked(engine: convstate.Engine) -> None:
    with pytest.raises(convstate.InvalidInputError, match="give either text= or message="):
        engine.check_send(NUMBER, CONTACT, text="a", message={"kind": "text", "text": "b"}, at=0)
    with pytest.raises(convstate.InvalidInputError, match="missing the message"):
        engine.check_send(NUMBER, CONTACT, at=0)


def test_snapshot_restore_and_pickle(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    snapshot = engine.snapshot()
    assert isinstance(snapshot, bytes)
    restored = convstate.Engine.restore(snapshot)
    assert restored.snapshot() == snapshot
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        clone = pickle.loads(pickle.dumps(engine, protocol=protocol))
        assert clone.snapshot() == snapshot
    # A decision is a value: it pickles and copies, and compares equal after.
    decision = engine.check_send(NUMBER, CONTACT, text="x", at=utc(2026, 11, 2, 9, 5))
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(decision, protocol=protocol)) == decision
    assert copy.copy(decision) == decision and copy.deepcopy(decision).to_json() == decision.to_json()
    clone = copy.deepcopy(engine)
    at = utc(2026, 11, 2, 9, 30)
    assert clone.check_send(NUMBER, CONTACT, text="x", at=at) == engine.check_send(NUMBER, CONTACT, text="x", at=at)
    # The copy is independent of the original.
    clone.tick(utc(2026, 11, 5))
    assert engine.clock == utc(2026, 11, 2, 9)


def test_durations_in_dicts_are_timedeltas_and_a_policy_dict_reads_back() -> None:
    for preset in ("classic", "cloud-2025", "cloud-2026-10"):
        policy = convstate.Engine(policy=preset).policy
        lengths: list[str] = []

        def walk(value: object, path: str) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(item, f"{path}.{key}")
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    walk(item, f"{path}[{i}]")
            elif isinstance(value, timedelta):
                lengths.append(path)
            else:
                # A duration that core's wire::DURATION_KEYS missed would stay its wire text.
                assert not (isinstance(value, str) and re.fullmatch(r"\d+(ms|s|m|h|d)", value)), path

        walk(policy, preset)
        assert f"{preset}.window.length" in lengths and f"{preset}.numbers.flag_for" in lengths, lengths
        # The dict given back as overrides is the same policy: a timedelta is read as its
        # milliseconds.
        overrides = {key: value for key, value in policy.items() if key != "name"}
        assert convstate.Engine(policy=preset, policy_overrides=overrides).policy == policy


def test_policy_overrides_and_repr() -> None:
    engine = convstate.Engine(policy="classic", policy_overrides={"chat": {"idle_timeout": timedelta(minutes=3)}})
    assert engine.policy["name"] == "classic"
    assert engine.policy["chat"]["idle_timeout"] == timedelta(minutes=3)
    assert repr(engine) == 'Engine(policy="classic", clock=1970-01-01T00:00:00Z, conversations=0)'
    assert convstate.wire_version() >= 1


def test_reason_enum_tolerates_new_reasons() -> None:
    assert convstate.Reason("limit_reached") is convstate.Reason.LIMIT_REACHED
    assert convstate.Reason("reason_from_the_future") is convstate.Reason.OTHER


def test_enums_name_every_value_the_engine_produces() -> None:
    # The engine's own list of wire names (read from its serde code), against the package's
    # enums: a value added to the engine and not here would come back as OTHER or a bare str.
    names = convstate._convstate._wire_names()
    enums = {
        "Reason": convstate.Reason,
        "FreeReason": convstate.FreeReason,
        "TemplateStatus": convstate.TemplateStatus,
        "TicketStatus": convstate.TicketStatus,
        "Channel": convstate.Channel,
        "ChargeCategory": convstate.ChargeCategory,
        "Initiator": convstate.Initiator,
    }
    assert set(names) == set(enums)
    for name, values in names.items():
        own = {member.value for member in enums[name]} - {"other"}
        assert own == set(values), name


def test_template_view_shows_a_flag_kept_under_a_pause(engine: convstate.Engine) -> None:
    engine.register_template("acme", "promo", "en", category="marketing",
                             body="Hi {{1}}, see our offer.", status="approved")
    template = {"business": "acme", "name": "promo", "language": "en"}
    engine.handle({"type": "template_status", "at": "2026-11-02T09:00:00Z", **template, "status": "flagged"})
    engine.handle({"type": "template_quality", "at": "2026-11-02T10:00:00Z", **template, "quality": "low"})
    view = engine.template("acme", "promo", "en")
    assert view["status"] == "paused" and view["pause_strikes"] == 1
    assert view["until"] == utc(2026, 11, 2, 13), "cloud-2025: the first pause lasts 3h"
    assert view["flagged_until"] == utc(2026, 11, 9, 9), "the flag outlives the pause"


def test_number_and_template_views_read_at_an_instant(engine: convstate.Engine) -> None:
    engine.register_template("acme", "promo", "en", category="marketing",
                             body="Hi {{1}}, see our offer.", status="approved")
    template = {"business": "acme", "name": "promo", "language": "en"}
    engine.handle({"type": "template_status", "at": "2026-11-02T09:00:00Z", **template, "status": "flagged"})
    engine.handle({"type": "template_quality", "at": "2026-11-02T10:00:00Z", **template, "quality": "low"})
    engine.handle({"type": "number_restriction", "at": "2026-11-02T10:00:00Z", "number": NUMBER,
                   "scope": "business_initiated", "until": "2026-11-02T12:00:00Z"})
    # At the clock, the pause and the restriction stand; after their ends, tick or not,
    # they show ended, as the wire's queries at those instants do.
    assert engine.template("acme", "promo", "en")["status"] == "paused"
    later = engine.template("acme", "promo", "en", at=utc(2026, 11, 2, 14))
    assert later["status"] == "flagged", "the pause ended at 13:00; the flag outlives it"
    assert later == engine.handle({"type": "query_template", "at": "2026-11-02T14:00:00Z", **template})
    assert [r["scope"] for r in engine.number(NUMBER)["restrictions"]] == ["business_initiated"]
    assert engine.number(NUMBER, at=utc(2026, 11, 2, 12))["restrictions"] == []
    with pytest.raises(convstate.InvalidInputError) as raised:
        engine.number(NUMBER, at=utc(2026, 11, 2, 8))
    assert raised.value.code == "view_before_clock"
    with pytest.raises(convstate.InvalidInputError):
        engine.template("acme", "promo", "en", at="yesterday")


def test_restricted_number_denies_with_its_own_reason(engine: convstate.Engine) -> None:
    engine.handle(
        {"type": "number_restriction", "at": "2026-11-02T10:00:00Z", "number": NUMBER, "scope": "all_messages"}
    )
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 10, 30))
    decision = engine.check_send(NUMBER, CONTACT, text="hello", at=utc(2026, 11, 2, 11))
    assert decision.reason is convstate.Reason.RESTRICTED
    assert decision.details["scope"] == "all_messages"


def test_every_instant_in_a_result_is_a_datetime(engine: convstate.Engine) -> None:
    engine.handle({"type": "number_quality", "at": "2026-11-02T09:00:00Z", "number": NUMBER, "quality": "low"})
    flagged = [e for e in engine.effects() if e["effect"] == "number_flagged"]
    assert flagged[0]["deadline"] == utc(2026, 11, 9, 9)
    view = engine.number(NUMBER)
    assert view["flagged_until"] == utc(2026, 11, 9, 9)
    limit = engine.handle({"type": "query_limit", "at": "2026-11-02T11:00:00Z", "number": NUMBER})
    assert isinstance(limit, dict) and isinstance(limit["level_since"], datetime), limit
    decision = engine.check_send(NUMBER, CONTACT, text="hello", at=utc(2026, 11, 2, 10))
    assert decision.to_dict()["initiated_by"] == "business", "a non-instant under *_by stays text"


def test_typed_calls_carry_message_ids_and_referrals_as_the_wire_does() -> None:
    def new_engine() -> convstate.Engine:
        engine = convstate.Engine(policy="cloud-2025")
        engine.register_number(NUMBER, business="acme", channel="official", at=utc(2026, 11, 2, 8))
        return engine

    wire = new_engine()
    for event in [
        {"type": "inbound", "at": "2026-11-02T09:00:00Z", "number": NUMBER, "contact": CONTACT,
         "kind": "text", "message_id": "wamid.in.1", "referral": True},
        {"type": "send", "at": "2026-11-02T09:01:00Z", "number": NUMBER, "contact": CONTACT,
         "message": {"kind": "text", "text": "Hello"}, "message_id": "wamid.out.1"},
        {"type": "initiate", "at": "2026-11-02T09:02:00Z", "number": NUMBER, "contact": "+79110000002",
         "message": {"kind": "text", "text": "Hi"}, "message_id": "wamid.out.2"},
    ]:
        wire.handle(event)

    typed = new_engine()
    typed.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9), message_id="wamid.in.1", referral=True)
    typed.send(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1), text="Hello", message_id="wamid.out.1")
    typed.initiate(NUMBER, "+79110000002", at=utc(2026, 11, 2, 9, 2), text="Hi", message_id="wamid.out.2")
    assert typed.snapshot() == wire.snapshot()

    # Each of the three matters to the state, so the comparison above can fail.
    plain = new_engine()
    plain.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9), message_id="wamid.in.1")
    plain.send(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1), text="Hello", message_id="wamid.out.1")
    plain.initiate(NUMBER, "+79110000002", at=utc(2026, 11, 2, 9, 2), text="Hi", message_id="wamid.out.2")
    assert plain.snapshot() != wire.snapshot(), "referral"
    # A redelivered inbound changes nothing; an unknown one counts.
    before = typed.snapshot()
    typed.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 5), message_id="wamid.in.1")
    assert typed.snapshot() == before
    typed.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 5), message_id="wamid.in.2")
    assert typed.snapshot() != before


def test_an_inbound_naming_a_user_id_beside_the_phone_number_links_the_two(engine: convstate.Engine) -> None:
    user_id = "US.13491208655302741918"
    before = engine.check_send(NUMBER, user_id, text="Hi", at=utc(2026, 11, 2, 9, 1))
    assert before.reason is convstate.Reason.WINDOW_CLOSED
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9), user_id=user_id)
    reply = engine.check_send(NUMBER, user_id, text="Hi", at=utc(2026, 11, 2, 9, 1))
    assert reply.allowed is True
    assert engine.conversation(NUMBER, user_id, at=utc(2026, 11, 2, 9, 1))["contact"] == CONTACT
    with pytest.raises(convstate.InvalidInputError, match="user_id") as refused:
        engine.inbound(NUMBER, "ann@example.com", at=utc(2026, 11, 2, 9, 2), user_id="US.2")
    assert refused.value.code == "invalid_event"


def test_process_refuses_a_dict_or_a_set_of_events(engine: convstate.Engine) -> None:
    # Iterating a dict gives its keys and a set its items in hash order: neither is a batch.
    event = {"type": "tick", "at": 0}
    for events in [event, {'{"type":"tick","at":5}'}, frozenset(['{"type":"tick","at":5}'])]:
        with pytest.raises(TypeError, match=r"process: events must be a list .* give one event as \[event\]"):
            engine.process(events)  # type: ignore[arg-type]
    assert engine.process([event]) == ['{"type":"ack","of":"tick"}']
    assert engine.process(e for e in [event]) == ['{"type":"ack","of":"tick"}']


def test_mappings_and_ordered_iterables_are_read_as_the_stubs_promise(engine: convstate.Engine) -> None:
    import types
    from collections import UserDict, deque

    overrides = types.MappingProxyType({"chat": types.MappingProxyType({"idle_timeout": "15m"})})
    assert convstate.Engine("cloud-2025", policy_overrides=overrides).policy["chat"]["idle_timeout"] == timedelta(minutes=15)
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    decision = engine.check_send(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1),
                                 message=UserDict({"kind": "text", "text": "hi"}))  # type: ignore[arg-type]
    assert decision == engine.check_send(NUMBER, CONTACT, at=utc(2026, 11, 2, 9, 1), text="hi")
    engine.register_template("acme", "pick", "en", category="utility", body="Pick one, {{1}}.",
                             buttons=(b for b in [{"kind": "quick_reply", "label": "ok"}]), at=utc(2026, 11, 2, 9))
    assert engine.template("acme", "pick", "en")["status"] == "pending"
    assert engine.process(deque([{"type": "tick", "at": utc(2026, 11, 2, 9, 2)}]))[0] == '{"type":"ack","of":"tick"}'
    # A set has no order to keep: it is refused, as are bytes standing for a list.
    with pytest.raises(convstate.InvalidInputError, match="has no JSON form"):
        engine.handle({"type": "tick", "at": 0, "extra": {1, 2}})
    assert engine.handle_webhook(b"{}", waba_businesses=types.MappingProxyType({"1": "acme"}))
    with pytest.raises(TypeError, match="waba_businesses must be a mapping of str to str, got list"):
        engine.handle_webhook(b"{}", waba_businesses=[("1", "acme")])  # type: ignore[arg-type]
    with pytest.raises(convstate.InvalidInputError, match='waba_businesses: the value of "1" must be a str, got 5'):
        engine.handle_webhook(b"{}", waba_businesses={"1": 5})  # type: ignore[dict-item]
    # An empty side maps nothing a payload could name, and a name no engine registers no
    # business: refused by the core's rule, as the CLI and the C library refuse them.
    for mapping, problem in [({"": "acme"}, "WABA id is empty"),
                             ({"1": ""}, 'business "" must be 1..=256 characters, got 0'),
                             ({"1": "acme "}, 'business "acme " is blank or begins or ends with white space')]:
        with pytest.raises(convstate.InvalidInputError, match=f"^waba_businesses: invalid event: {re.escape(problem)}$"):
            engine.handle_webhook(b"{}", waba_businesses=mapping)


def test_instants_under_from_keys_are_datetimes_and_statuses_under_from_stay_text(engine: convstate.Engine) -> None:
    policy = convstate.Engine("cloud-2025").policy
    assert policy["consent"]["us_marketing_blocked_from"] == utc(2025, 4, 1)
    assert convstate.Engine("cloud-2025", policy_overrides=policy).policy == policy


def test_usage_counts_the_charged_sends_the_rate_card_cannot_price() -> None:
    from decimal import Decimal

    # Marketing priced in Russia alone, and no `other` market: a utility template there and
    # a marketing one to Canada are charged with no price, which the cost leaves out.
    rate_card = {"currency": "USD", "markets": {"7": "russia"},
                 "rates": {"russia": {"marketing": "0.0802"}}}
    engine = convstate.Engine(policy="cloud-2025", policy_overrides={"pricing": {"rate_card": rate_card}})
    engine.register_number(NUMBER, business="acme", channel="official", at=utc(2026, 11, 2, 8))
    assert engine.usage(at=utc(2026, 11, 2, 8), number=NUMBER)["unpriced"] == 0
    for name, category in (("sale", "marketing"), ("notice", "utility")):
        engine.register_template("acme", name, "en", category=category, body="Hello",
                                 status="approved", at=utc(2026, 11, 2, 8))
    sends = (("+79110000001", "sale"), ("+79110000001", "notice"), ("+14165550001", "sale"))
    for minute, (contact, name) in enumerate(sends):
        engine.opt_in(contact, business="acme", at=utc(2026, 11, 2, 8))
        message = {"kind": "template", "name": name, "language": "en"}
        billing = engine.send(NUMBER, contact, message=message, message_id=f"m{minute}",
                              at=utc(2026, 11, 2, 9, minute)).billing
        assert billing is not None and billing.charged
    usage = engine.usage(at=utc(2026, 11, 2, 10), number=NUMBER)
    assert (usage["cost"], usage["unpriced"]) == (Decimal("0.0802"), 2)
    # A failure takes an unpriced send back from the count, as a priced one from the cost.
    engine.message_status(NUMBER, "+14165550001", message_id="m2", status="failed",
                          at=utc(2026, 11, 2, 10))
    usage = engine.usage(at=utc(2026, 11, 2, 10), business="acme")
    assert (usage["cost"], usage["unpriced"], usage["failed"]) == (Decimal("0.0802"), 1, 1)
    # Without a rate card there is no cost, and so nothing it leaves out.
    bare = convstate.Engine(policy="cloud-2025")
    bare.register_number(NUMBER, business="acme", channel="official", at=utc(2026, 11, 2, 8))
    bare.register_template("acme", "sale", "en", category="marketing", body="Hello",
                           status="approved", at=utc(2026, 11, 2, 8))
    bare.opt_in("+79110000001", business="acme", at=utc(2026, 11, 2, 8))
    sale = {"kind": "template", "name": "sale", "language": "en"}
    billing = bare.send(NUMBER, "+79110000001", message=sale, at=utc(2026, 11, 2, 9)).billing
    assert billing is not None and billing.charged
    usage = bare.usage(at=utc(2026, 11, 2, 10), business="acme")
    assert usage["charged"] == {"marketing": 1} and "cost" not in usage and "unpriced" not in usage


def test_billing_gives_the_rate_card_price_exactly() -> None:
    from decimal import Decimal

    rate_card = {"currency": "USD", "markets": {"1": "north_america", "7": "russia"},
                 "rates": {"north_america": {"marketing": "0.025", "utility": "0.004"},
                           "russia": {"marketing": "0.0802", "utility": "0.0229"},
                           "other": {"marketing": "0.06", "utility": "0.01"}}}
    engine = convstate.Engine(policy="cloud-2025", policy_overrides={"pricing": {"rate_card": rate_card}})
    engine.register_number(NUMBER, business="acme", channel="official", at=utc(2026, 11, 2, 8))
    engine.register_template("acme", "sale", "en", category="marketing", body="Sale!",
                             status="approved", at=utc(2026, 11, 2, 8))
    sale = {"kind": "template", "name": "sale", "language": "en"}
    prices = {}
    for contact in ("+79110000001", "+14165550001"):
        engine.opt_in(contact, business="acme", at=utc(2026, 11, 2, 8))
        billing = engine.send(NUMBER, contact, message=sale, at=utc(2026, 11, 2, 9)).billing
        assert billing is not None and billing.charged
        prices[contact] = billing
    russia, canada = prices["+79110000001"], prices["+14165550001"]
    assert (russia.price, russia.currency) == (Decimal("0.0802"), "USD")
    assert (canada.price, canada.currency) == (Decimal("0.025"), "USD")
    # Money in dicts is a Decimal too: a price's amount, a month's cost.
    assert russia.to_dict()["price"] == {"amount": Decimal("0.0802"), "currency": "USD"}
    usage = engine.handle({"type": "query_usage", "at": utc(2026, 11, 2, 9), "number": NUMBER})
    assert usage["cost"] == Decimal("0.1052") and usage["currency"] == "USD"
    # The typed view answers as the query does, by number or by business, in a month given
    # or the month of `at`.
    assert engine.usage(at=utc(2026, 11, 2, 9), number=NUMBER) == usage
    by_business = engine.usage(at=utc(2026, 12, 5), business="acme", month="2026-11")
    assert by_business["of"] == "acme" and by_business["charged"] == {"marketing": 2}
    assert engine.usage(at=utc(2026, 12, 5), business="acme")["month"] == "2026-12"
    with pytest.raises(convstate.InvalidInputError, match="exactly one"):
        engine.usage(at=utc(2026, 11, 2, 9))
    # Two charges of one category that compare unequal print apart.
    assert russia != canada and repr(russia) != repr(canada)
    assert repr(russia) == ("Billing(charged=True, category=<ChargeCategory.MARKETING: 'marketing'>, "
                            "price=Decimal('0.0802'), currency='USD')")
    engine.inbound(NUMBER, "+79110000001", at=utc(2026, 11, 2, 10))
    free = engine.send(NUMBER, "+79110000001", text="Hi", at=utc(2026, 11, 2, 10, 1)).billing
    assert free is not None and (free.price, free.currency) == (None, None)
    # The prices come back as they go in: a rate card of Decimals (what Billing.price
    # gives) reads as its text did; a float would round, and a NaN is no price.
    as_decimals = {**rate_card, "rates": {market: {c: Decimal(p) for c, p in rates.items()}
                                          for market, rates in rate_card["rates"].items()}}
    priced = convstate.Engine(policy="cloud-2025", policy_overrides={"pricing": {"rate_card": as_decimals}})
    assert priced.policy == engine.policy
    # A Decimal with zeros past the sixth decimal, or a negative zero, is the same price.
    zeros = {**rate_card, "rates": {**rate_card["rates"],
                                    "other": {"marketing": Decimal("0.02500000"),
                                              "utility": Decimal("0E-7"),
                                              "service": Decimal("-0")}}}
    zeros_rates = convstate.Engine(policy="cloud-2025", policy_overrides={
        "pricing": {"rate_card": zeros}}).policy["pricing"]["rate_card"]["rates"]["other"]
    assert zeros_rates == {"marketing": "0.025", "utility": "0.00", "service": "0.00"}
    with pytest.raises(convstate.PolicyError, match="0.0250001"):
        convstate.Engine(policy="cloud-2025", policy_overrides={"pricing": {"rate_card": {
            **rate_card, "rates": {**rate_card["rates"],
                                   "other": {"marketing": Decimal("0.0250001")}}}}})
    nan = {**rate_card, "rates": {"other": {"marketing": Decimal("NaN")}}}
    with pytest.raises(convstate.PolicyError, match="Decimal\\('NaN'\\) is not a finite number"):
        convstate.Engine(policy="cloud-2025", policy_overrides={"pricing": {"rate_card": nan}})


def test_billing_pickles_and_results_compare_with_other_types(engine: convstate.Engine) -> None:
    from unittest import mock

    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    decision = engine.check_send(NUMBER, CONTACT, text="Hi", at=utc(2026, 11, 2, 10))
    billing = decision.billing
    assert billing is not None
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(billing, protocol=protocol)) == billing
    assert copy.copy(billing) == billing and copy.deepcopy(decision) == decision
    assert decision == mock.ANY and billing == mock.ANY
    assert decision != "allowed" and billing != 1
    with pytest.raises(ValueError, match="not a billing object"):
        type(billing)._from_json('{"charge":"teleported"}')  # type: ignore[attr-defined]


def test_content_that_cannot_be_sent_is_denied_naming_the_part(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    at = utc(2026, 11, 2, 10)
    empty = engine.send(NUMBER, CONTACT, text="", at=at)
    assert empty.reason is convstate.Reason.INVALID_CONTENT
    assert empty.details == {"problem": "empty", "item": "text"}
    off = engine.check_send(NUMBER, CONTACT, at=at, message={
        "kind": "location", "latitude": 91.5, "longitude": 0.0})
    assert off.reason is convstate.Reason.INVALID_CONTENT
    assert off.details == {"problem": "out_of_range", "item": "latitude", "min": -90.0,
                           "max": 90.0, "actual": 91.5}
    assert engine.check_send(NUMBER, CONTACT, at=at, message={
        "kind": "location", "latitude": -90.0, "longitude": 180.0}).allowed
    # The batch call names the denial by its own outcome code.
    engine.effects()
    result = engine.run_batch(["send"], [at], [NUMBER], [CONTACT], [""])
    assert [result.OUTCOME_NAMES[code] for code in result.outcomes] == ["invalid_content"]


def test_an_exception_raised_by_an_items_iter_propagates(engine: convstate.Engine) -> None:
    # It was taken for "not iterable" and reported as bad input, a KeyboardInterrupt with it.
    class Broken(Exception):
        pass

    class Items:
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise Broken("from __iter__")

    with pytest.raises(Broken, match="from __iter__"):
        engine.handle({"type": "tick", "at": 0, "x": Items()})


def test_a_waba_mapping_with_a_key_that_is_no_str_names_the_argument(engine: convstate.Engine) -> None:
    # A WABA id read from a config file as an int (or a value with no JSON form) raised
    # "invalid event: dict keys must be str, got 102290129340398", naming no argument, where a
    # value that is no str names waba_businesses; on the sharded engine too.
    sharded = convstate.ShardedEngine(policy="cloud-2025", shards=2)
    for door in (engine.handle_webhook, sharded.handle_webhook):
        with pytest.raises(convstate.InvalidInputError,
                           match="^invalid event: waba_businesses: dict keys must be str, got 102290129340398$"):
            door(b"{}", waba_businesses={102290129340398: "acme"})  # type: ignore[dict-item]
        with pytest.raises(convstate.InvalidInputError, match='^invalid event: waba_businesses: field "1": NaN'):
            door(b"{}", waba_businesses={"1": float("nan")})  # type: ignore[dict-item]


def test_help_shows_each_class_as_the_stubs_describe_it() -> None:
    # help(convstate.ShardedEngine) said only "N engines sharded by business (see
    # `convstate.ShardedEngine` in the stubs)": the threads' time-order contract and the
    # missing effect queue were in the .pyi alone, which help() and the REPL never show.
    import ast
    import inspect
    import pathlib

    stub = pathlib.Path(convstate.__file__).with_name("_convstate.pyi")
    classes = [node for node in ast.parse(stub.read_text()).body
               if isinstance(node, ast.ClassDef) and not node.name.startswith("_")]
    assert {node.name for node in classes} >= {"Engine", "ShardedEngine", "Decision", "Billing", "BatchResult"}
    for node in classes:
        runtime = inspect.cleandoc(getattr(convstate, node.name).__doc__ or "")
        assert runtime == ast.get_docstring(node), node.name


def test_a_business_counts_its_months_in_its_time_zone() -> None:
    engine = convstate.Engine("cloud-2026-10", {"pricing": {"service_free_per_month": 1}})
    engine.register_number("+15550001111", business="acme", channel="official",
                           at=utc(2026, 11, 30, 0), timezone="Asia/Tokyo")
    engine.inbound("+15550001111", "+819012345678", at=utc(2026, 11, 30, 9))
    first = engine.send("+15550001111", "+819012345678", text="one", at=utc(2026, 11, 30, 10))
    # 15:00 UTC is midnight in Tokyo: December's allowance, not November's used one.
    december = engine.send("+15550001111", "+819012345678", text="two",
                           at=utc(2026, 11, 30, 15))
    assert first.billing == december.billing
    assert december.billing is not None and december.billing.free_reason == "service_allowance"
    usage = engine.handle({"type": "query_usage", "at": utc(2026, 11, 30, 16).isoformat(),
                           "number": "+15550001111"})
    assert isinstance(usage, dict) and usage["month"] == "2026-12"
    with pytest.raises(convstate.InvalidInputError, match="does not change"):
        engine.register_number("+15550001112", business="acme", channel="official",
                               timezone="Europe/Berlin")
    with pytest.raises(convstate.InvalidInputError, match='did you mean "Asia/Tokyo"'):
        engine.register_number("+15550002222", business="beta", channel="official",
                               timezone="asia/tokyo")


def test_a_running_engine_changes_its_pricing_and_keeps_its_state() -> None:
    engine = convstate.Engine("cloud-2025")
    engine.register_number("+15550001111", business="acme", channel="official",
                           at=utc(2026, 9, 30, 12))
    engine.inbound("+15550001111", "+79110000001", at=utc(2026, 9, 30, 20))
    before = engine.send("+15550001111", "+79110000001", text="one", at=utc(2026, 9, 30, 23))
    assert before.billing is not None and before.billing.free_reason == "service_window"
    with pytest.raises(convstate.PolicyError, match="in chat"):
        engine.change_policy("cloud-2026-10", at=utc(2026, 10, 1),
                             policy_overrides={"chat": {"idle_timeout": "15m"}})
    assert engine.policy["name"] == "cloud-2025"
    engine.change_policy("cloud-2026-10", at=utc(2026, 10, 1),
                         policy_overrides={"pricing": {"service_free_per_month": 0}})
    assert engine.policy["name"] == "cloud-2026-10"
    after = engine.send("+15550001111", "+79110000001", text="two", at=utc(2026, 10, 1, 1))
    assert after.billing is not None and after.billing.category == "service"
    assert convstate.Engine.restore(engine.snapshot()).policy == engine.policy


def test_build_commit_names_the_checkout_built():
    """``build_commit`` is the commit the wheel was built from: the packager's
    ``CONVSTATE_BUILD_COMMIT``, else the checkout's HEAD (the tests build from it), so two
    builds of one ``__version__`` tell themselves apart."""
    import os
    import pathlib
    import subprocess

    given = os.environ.get("CONVSTATE_BUILD_COMMIT") or None
    if given is None:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=pathlib.Path(__file__).parent,
            capture_output=True,
            text=True,
        )
        given = head.stdout.strip() if head.returncode == 0 else "unknown"
    assert convstate.build_commit == given
    assert "build_commit" in convstate.__all__
