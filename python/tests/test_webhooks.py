from __future__ import annotations

import json

import convstate
from conftest import CONTACT, NUMBER, REPO_ROOT, utc

FIXTURES = REPO_ROOT / "tests" / "webhooks"


def test_a_webhook_body_opens_the_window_from_its_own_timestamp(engine: convstate.Engine) -> None:
    body = (FIXTURES / "messages_text.json").read_bytes()
    lines = [json.loads(line) for line in engine.handle_webhook(body, received_at=utc(2026, 11, 4))]
    assert lines[0]["type"] == "ack"
    assert lines[0]["of"] == "inbound"
    assert lines[0]["path"] == "entry[0].changes[0].value.messages[0]"
    assert lines[0]["event"]["at"] == "2026-11-02T09:00:00Z"
    view = engine.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 10))
    assert view["window_ends_at"] == utc(2026, 11, 3, 9)


def test_str_and_dict_payloads_give_the_same_lines_and_a_duplicate_changes_nothing(
    engine: convstate.Engine,
) -> None:
    text = (FIXTURES / "messages_all_types.json").read_text()
    first = engine.handle_webhook(text)
    snapshot = engine.snapshot()
    again = engine.handle_webhook(json.loads(text))
    assert [json.loads(line)["path"] for line in again if '"path"' in line] == [
        json.loads(line)["path"] for line in first if '"path"' in line
    ]
    assert not any('"type":"effect"' in line for line in again)
    assert engine.snapshot() == snapshot
    # The messages the engine took the first time come back skipped, each with its event,
    # so that a host stores each once.
    def by_path(lines: list[str], kind: str) -> dict[str, dict]:
        items = (json.loads(line) for line in lines)
        return {i["path"]: i for i in items if i["type"] == kind and "event" in i}

    taken = by_path(first, "ack")
    skipped = by_path(again, "skipped")
    assert len(taken) > 1
    assert {p: i["event"] for p, i in skipped.items()} == {p: i["event"] for p, i in taken.items()}
    assert all("a redelivery" in i["reason"] for i in skipped.values())


def test_a_decoded_body_holding_half_an_emoji_reads_as_the_body_does() -> None:
    # `json.loads` keeps a text cut inside an emoji as a lone surrogate, which has no UTF-8
    # form: the dict is read as its body is, U+FFFD with an `unrecognized` line, and the
    # other message applies (it raised UnicodeEncodeError and applied nothing).
    body = ('{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":'
            '"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
            '"15550001111","phone_number_id":"P1"},"messages":[{"from":"79110000001","id":'
            '"wamid.A","timestamp":"1793610000","type":"text","text":{"body":"cut \\ud83d"}},'
            '{"from":"79110000002","id":"wamid.B","timestamp":"1793610001","type":"text",'
            '"text":{"body":"fine"}}]}}]}]}')
    decoded = json.loads(body)
    assert decoded["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "cut \ud83d"
    answers = []
    for payload in (body, decoded):
        engine = convstate.Engine()
        engine.handle({"type": "register_number", "at": "2026-11-01T00:00:00Z", "business": "acme",
                       "number": NUMBER, "channel": "official", "phone_number_id": "P1"})
        answers.append(engine.handle_webhook(payload))
    assert answers[0] == answers[1]
    kinds = [json.loads(line)["type"] for line in answers[1]]
    assert "unrecognized" in kinds and kinds.count("ack") == 2, answers[1]


def test_every_buffer_of_the_body_gives_the_same_lines_and_other_types_raise(
    engine: convstate.Engine,
) -> None:
    import pytest

    body = (FIXTURES / "messages_text.json").read_bytes()
    fresh = convstate.Engine.restore(engine.snapshot())
    expected = fresh.handle_webhook(body)
    for payload in (bytearray(body), memoryview(body)):
        again = convstate.Engine.restore(engine.snapshot())
        assert again.handle_webhook(payload) == expected, type(payload).__name__
    for wrong in ([1, 2], 42, None):
        with pytest.raises(TypeError, match="payload must be the body"):
            engine.handle_webhook(wrong)  # type: ignore[arg-type]


def test_unknown_parts_are_reported_and_bad_json_is_an_error_line(engine: convstate.Engine) -> None:
    lines = [json.loads(line) for line in engine.handle_webhook((FIXTURES / "unknown_parts.json").read_bytes())]
    assert {"type": "unrecognized", "path": "entry[0].changes[0].field"}.items() <= lines[0].items()
    error = json.loads(engine.handle_webhook(b"{")[0])
    assert (error["type"], error["error"]) == ("error", "invalid_event")
    assert "webhook $" in error["message"]


def test_a_waba_mapping_names_the_business_of_template_webhooks(engine: convstate.Engine) -> None:
    engine.register_number("+15550002222", business="other", channel="official", at=utc(2026, 11, 2, 8))
    engine.handle_json(
        '{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"order_update",'
        '"language":"en_US","category":"utility","body":"Order {{1}} is on its way","status":"approved"}'
    )
    body = (FIXTURES / "template_first_pause.json").read_bytes()
    assert json.loads(engine.handle_webhook(body)[0])["type"] == "unrecognized"
    lines = engine.handle_webhook(body, waba_businesses={"102290129340398": "acme"})
    assert json.loads(lines[0])["event"]["until"] == "2026-11-02T12:00:00Z"


def test_a_number_registered_with_its_phone_number_id_is_found_by_it() -> None:
    # register_number took no phone_number_id, so a webhook naming only the id (and a display
    # number written otherwise) found no number; handle() with a dict was the only way.
    engine = convstate.Engine(policy="cloud-2025")
    engine.register_number(NUMBER, business="acme", channel="official", at=utc(2026, 11, 2, 8),
                           phone_number_id="106540352242922")
    body = json.loads((FIXTURES / "messages_text.json").read_text())
    body["entry"][0]["changes"][0]["value"]["metadata"]["display_phone_number"] = "1 555 000 9999"
    lines = [json.loads(line) for line in engine.handle_webhook(body, received_at=utc(2026, 11, 4))]
    assert (lines[0]["type"], lines[0]["event"]["number"]) == ("ack", NUMBER)


def test_a_recategorized_template_is_charged_under_its_new_category(engine: convstate.Engine) -> None:
    engine.handle_json(
        '{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"order_update",'
        '"language":"en_US","category":"utility","body":"Order {{1}} is on its way","status":"approved"}'
    )
    # An impending change (24 hours ahead) changes nothing; the completed one does.
    impending = engine.handle_webhook((FIXTURES / "template_category_update_impending.json").read_bytes())
    assert [json.loads(line)["type"] for line in impending] == ["skipped"]
    assert engine.template("acme", "order_update", "en_US")["category"] == "utility"
    lines = [json.loads(line) for line in engine.handle_webhook((FIXTURES / "template_category_update.json").read_bytes())]
    assert [line.get("of", line.get("effect")) for line in lines] == ["template_category", "template_category_changed"]
    assert (lines[1]["from"], lines[1]["to"], lines[1]["since"]) == ("utility", "marketing", "2026-11-02T09:00:00Z")
    assert engine.template("acme", "order_update", "en_US")["category"] == "marketing"
    engine.opt_in(CONTACT, business="acme", at=utc(2026, 11, 2, 10))
    decision = engine.check_send(
        NUMBER, CONTACT, at=utc(2026, 11, 2, 10),
        message={"kind": "template", "name": "order_update", "language": "en_US", "params": ["A-1"]},
    )
    assert decision.billing is not None and decision.billing.category == "marketing"
    # The typed door: the same event as a dict, its effect with an aware datetime.
    engine.handle({"type": "template_category", "at": utc(2026, 11, 2, 11), "business": "acme",
                   "name": "order_update", "language": "en_US", "category": "utility"})
    [back] = engine.effects()
    assert (back["effect"], back["to"], back["since"]) == ("template_category_changed", "utility", utc(2026, 11, 2, 11))


def test_a_message_delivered_again_is_acked_as_redelivered_in_wire_lines(engine: convstate.Engine) -> None:
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9), message_id="wamid.R1")
    line = json.dumps({"type": "inbound", "at": "2026-11-02T09:00:00Z", "number": NUMBER,
                       "contact": CONTACT, "kind": "text", "message_id": "wamid.R1"})
    assert engine.process([line])[0] == '{"type":"ack","of":"inbound","redelivered":true}'
