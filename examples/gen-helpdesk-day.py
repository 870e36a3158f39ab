#!/usr/bin/env python3
"""Writes examples/helpdesk-day.jsonl: one realistic day of a help desk on WhatsApp.

Business `acme` has two official numbers: support (+15550001111) and sales (+15550002222).
Support agents answer customers through the day (answered, missed and agent-ended chats, a
ticket closed and reopened, a free-form message refused outside the window, `initiate` with
the outbox released when the customer answers, an oversized inbound file). At 10:00 sales
sends the `autumn_sale` marketing campaign to 264 contacts: one stopped marketing, one never
opted in, one is a US number, one wrote first (inside the window: no limit slot), and the
rest exceed the new business's messaging limit of 250 (cloud-2025). At 14:00 the campaign
template's quality drops to low (flagged/paused by the policy), a send of it is attempted
while it is paused, and the provider rejects the `winback` template.

Deterministic: run it again and the file is byte for byte the same.
    python3 examples/gen-helpdesk-day.py > examples/helpdesk-day.jsonl
"""
import json
import sys

SUPPORT = "+15550001111"
SALES = "+15550002222"
DAY = "2026-11-02"
events = []


def at(hh, mm, ss=0):
    return f"{DAY}T{hh:02d}:{mm:02d}:{ss:02d}Z"


def ev(event_type, when, **fields):
    events.append({"type": event_type, "at": when, **fields})


def text(body):
    return {"kind": "text", "text": body}


# --- 07:00 setup -----------------------------------------------------------------------
ev("register_template", at(7, 0), business="acme", name="follow_up", language="en",
   category="utility", body="Hello, we have an update on your request.", status="approved",
   quality="high")
ev("register_template", at(7, 0), business="acme", name="order_ready", language="en",
   category="utility", body="Your order {{1}} is ready for pickup.", status="approved",
   quality="high")
ev("register_template", at(7, 0), business="acme", name="autumn_sale", language="en",
   category="marketing", body="Hi {{1}}, our autumn sale starts today: {{2}} off everything.",
   status="approved", quality="high")
ev("register_template", at(7, 0), business="acme", name="winback", language="en",
   category="marketing", body="We miss you! Come back for {{1}} off your next order.",
   status="pending")
for number in (SUPPORT, SALES):
    ev("register_number", at(7, 0), business="acme", number=number, channel="official",
       provider="meta", default_template={"name": "follow_up", "language": "en"})

CAMPAIGN = [f"+491520000{i:04d}" for i in range(1, 262)]  # 261 opted-in German mobiles
NOT_OPTED_IN = "+4915209999001"
US_CONTACT = "+12125550123"
for contact in CAMPAIGN + [US_CONTACT, "+4915100000002", "+4915100000005"]:
    ev("opt_in", at(7, 0), business="acme", contact=contact)

# --- support: the morning ---------------------------------------------------------------
C1, C2, C3, C4, C5, C6 = (f"+49151000000{i:02d}" for i in range(1, 7))
ev("inbound", at(8, 55), number=SUPPORT, contact=C1, kind="text")
ev("send", at(8, 57), number=SUPPORT, contact=C1, message=text("Good morning! How can we help?"))
ev("inbound", at(8, 59), number=SUPPORT, contact=C1, kind="image", size=240000)
ev("send", at(9, 2), number=SUPPORT, contact=C1, message=text("Thanks, I see the damage. A replacement is on its way."))
ev("end_chat", at(9, 4), number=SUPPORT, contact=C1, by="agent", status="pending")

# C2 asked yesterday; the window is closed: free-form refused, the order template goes out.
ev("send", at(9, 15), number=SUPPORT, contact=C2, message=text("Your order is ready"))
ev("send", at(9, 15, 30), number=SUPPORT, contact=C2,
   message={"kind": "template", "name": "order_ready", "language": "en", "params": ["A-1017"]})

# C3 writes and nobody answers: a missed chat.
ev("inbound", at(9, 20), number=SUPPORT, contact=C3, kind="text")

# C4 sends a video larger than the policy accepts for inbound files.
ev("inbound", at(9, 31), number=SUPPORT, contact=C4, kind="video", size=140000000)
ev("send", at(9, 33), number=SUPPORT, contact=C4, message=text("The video is too large, could you send a shorter one?"))
ev("inbound", at(9, 36), number=SUPPORT, contact=C4, kind="video", size=18000000)
ev("send", at(9, 40), number=SUPPORT, contact=C4, message=text("Got it, we will refund the item."))
ev("end_chat", at(9, 41), number=SUPPORT, contact=C4, by="agent", status="closed")

# C5 (opted in) is contacted first: initiate sends follow_up and holds the message.
ev("initiate", at(9, 45), number=SUPPORT, contact=C5, message=text("Your replacement part has arrived, when can we deliver it?"))

# --- sales: the campaign ----------------------------------------------------------------
STOPPED = CAMPAIGN[6]
ev("user_preference", at(8, 30), number=SALES, contact=STOPPED, value="stop")
ASKED_FIRST = CAMPAIGN[10]
ev("inbound", at(9, 50), number=SALES, contact=ASKED_FIRST, kind="text")
ev("send", at(9, 52), number=SALES, contact=ASKED_FIRST, message=text("Yes, the sale starts at 10:00 today!"))
recipients = CAMPAIGN[:130] + [NOT_OPTED_IN, US_CONTACT] + CAMPAIGN[130:]
for i, contact in enumerate(recipients):
    ev("send", f"{DAY}T10:{i // 60:02d}:{i % 60:02d}Z", number=SALES, contact=contact,
       message={"kind": "template", "name": "autumn_sale", "language": "en",
                "params": ["there", "20%"]})

# Replies to the campaign, and a customer who wants no more of it.
for i, contact in enumerate(CAMPAIGN[20:26]):
    ev("inbound", at(10, 10 + 3 * i), number=SALES, contact=contact, kind="text")
    ev("send", at(10, 12 + 3 * i), number=SALES, contact=contact, message=text("Glad you like it! The code is AUTUMN20."))
ev("user_preference", at(10, 40), number=SALES, contact=CAMPAIGN[30], value="stop")

# --- support: the afternoon -------------------------------------------------------------
ev("inbound", at(11, 5), number=SUPPORT, contact=C5, kind="text")  # releases the outbox
ev("send", at(11, 6), number=SUPPORT, contact=C5, message=text("Your replacement part has arrived, when can we deliver it?"))
ev("inbound", at(11, 9), number=SUPPORT, contact=C5, kind="text")
ev("send", at(11, 10), number=SUPPORT, contact=C5, message=text("Tomorrow 10-12 then. Thank you!"))
ev("end_chat", at(11, 11), number=SUPPORT, contact=C5, by="agent", status="closed")

# C1 answers on the pending ticket: a new chat on the same ticket.
ev("inbound", at(12, 30), number=SUPPORT, contact=C1, kind="text")
ev("send", at(12, 33), number=SUPPORT, contact=C1, message=text("Great, glad it arrived."))
ev("set_ticket_status", at(12, 34), number=SUPPORT, contact=C1, status="closed")

# C6 asks through a quick-reply button; the agent answers twice with the same text.
ev("inbound", at(13, 0), number=SUPPORT, contact=C6, kind="button")
ev("send", at(13, 2), number=SUPPORT, contact=C6, message=text("Our opening hours are 9-18."))
ev("send", at(13, 3), number=SUPPORT, contact=C6, message=text("Our opening hours are 9-18."))

# --- templates: quality and review ------------------------------------------------------
ev("template_quality", at(14, 0), business="acme", name="autumn_sale", language="en",
   quality="low")
ev("send", at(14, 30), number=SALES, contact=CAMPAIGN[40],
   message={"kind": "template", "name": "autumn_sale", "language": "en",
            "params": ["Maria", "30%"]})
ev("template_status", at(15, 0), business="acme", name="winback", language="en",
   status="rejected")

# --- end of the day ---------------------------------------------------------------------
ev("send", at(18, 0), number=SUPPORT, contact=C3, message=text("Sorry we missed you this morning!"))
ev("tick", f"{DAY}T23:59:59Z")

events.sort(key=lambda e: e["at"])  # stable: same-instant events keep their order
for e in events:
    sys.stdout.write(json.dumps(e, separators=(",", ":")) + "\n")
