/*
 * The typed C API end to end, as a CRM would use it: engine, number, template, inbound,
 * send decisions, provider events, timers, effects (including a too-small buffer), views,
 * snapshot and restore, and the error rules (NULL, invalid UTF-8, bad codes, out-parameters
 * untouched on failure). Run under valgrind by scripts/test-ffi.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convstate.h"


static const char NUMBER[] = "+15550001111";
static const char CONTACT[] = "+79110000001";
/* 2026-11-02T09:00:00Z */
static const int64_t T0 = 1793610000000;
static const int64_t MINUTE = 60000;
static const int64_t HOUR = 3600000;

static convstate_send_request request_for(int64_t at_ms, const convstate_message *message) {
  convstate_send_request r;
  memset(&r, 0, sizeof r);
  r.at_ms = at_ms;
  r.number = NUMBER;
  r.number_len = strlen(NUMBER);
  r.contact = CONTACT;
  r.contact_len = strlen(CONTACT);
  r.message = message;
  return r;
}

/* A cloud-2025 engine with acme's official NUMBER registered at `registered_at_ms`, or NULL
   (the failed check reported). */
static convstate_engine *acme_engine(int64_t registered_at_ms, int64_t idle_timeout_ms) {
  convstate_engine *engine = NULL;
  convstate_number_registration number = acme_official_number(NUMBER, registered_at_ms, idle_timeout_ms);
  CHECK_RC(convstate_engine_new(S("cloud-2025"), NULL, 0, &engine), CONVSTATE_OK);
  if (!engine) return NULL;
  CHECK_RC(convstate_engine_register_number(engine, &number), CONVSTATE_OK);
  return engine;
}

/* Drains every effect; returns how many there were of `kind`. */
static int drain_effects(convstate_engine *engine, convstate_effect_kind wanted) {
  char line[1024];
  size_t written;
  convstate_effect_kind kind;
  int seen = 0;
  for (;;) {
    CHECK_RC(convstate_engine_poll_effect(engine, (uint8_t *)line, sizeof line, &written, &kind),
             CONVSTATE_OK);
    if (kind == CONVSTATE_EFFECT_NONE) return seen;
    CHECK(written > 0 && written < sizeof line);
    CHECK(memcmp(line, "{\"type\":\"effect\"", 16) == 0);
    if (kind == wanted) seen++;
  }
}

static void test_versions(void) {
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", CONVSTATE_VERSION_MAJOR,
           CONVSTATE_VERSION_MINOR, CONVSTATE_VERSION_PATCH);
  CHECK(strcmp(convstate_version(), expected) == 0);
  CHECK(strcmp(convstate_version(), CONVSTATE_VERSION) == 0);
  CHECK(convstate_abi_version() == CONVSTATE_ABI_VERSION);
  /* The commit it was built from: 1 to 64 letters, digits, '.', '-', '_' or '+'
     (`unknown` without git), as ffi/src/tests.rs checks it against the core's. */
  {
    const char *commit = convstate_build_commit();
    size_t len = strlen(commit), i;
    CHECK(len >= 1 && len <= 64);
    for (i = 0; i < len; i++) {
      char c = commit[i];
      CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            c == '.' || c == '-' || c == '_' || c == '+');
    }
  }
  CHECK(strcmp(convstate_result_name(CONVSTATE_ERR_INVALID_UTF8), "CONVSTATE_ERR_INVALID_UTF8") == 0);
  CHECK(strcmp(convstate_reason_name(CONVSTATE_REASON_WINDOW_CLOSED), "window_closed") == 0);
}

static void test_errors(void) {
  convstate_engine *engine = (convstate_engine *)&failures; /* poison: must stay untouched */
  const char bad_utf8[] = {'c', 'l', (char)0xC3};
  convstate_engine_free(NULL);
  convstate_message_free(NULL);
  convstate_string_free(NULL);
  CHECK_RC(convstate_engine_new(NULL, 0, NULL, 0, &engine), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK(engine == (convstate_engine *)&failures);
  CHECK(strstr(convstate_last_error(), "preset") != NULL);
  CHECK_RC(convstate_engine_new(bad_utf8, sizeof bad_utf8, NULL, 0, &engine),
           CONVSTATE_ERR_INVALID_UTF8);
  CHECK_RC(convstate_engine_new(S("no-such-policy"), NULL, 0, &engine), CONVSTATE_ERR_UNKNOWN_POLICY);
  CHECK(engine == (convstate_engine *)&failures);
  CHECK_RC(convstate_engine_new(S("classic"), S("{\"chat\":{\"idle_timeout\":[]}}"), &engine),
           CONVSTATE_ERR_INVALID_POLICY);
  CHECK_RC(convstate_engine_new(S("classic"), NULL, 0, NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_engine_handle_timeout(NULL, T0), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK(convstate_string_ptr(NULL) == NULL && convstate_string_len(NULL) == 0);
}

static void test_day_of_a_conversation(void) {
  convstate_engine *engine = NULL, *restored = NULL;
  convstate_message *hello = NULL, *order_ready = NULL, *too_big = NULL, *voice = NULL;
  convstate_message *sticker = NULL;
  convstate_number_registration number;
  convstate_template_registration template_;
  convstate_send_request request;
  convstate_decision decision;
  convstate_conversation_view view;
  convstate_number_view number_view;
  convstate_template_view template_view;
  int64_t deadline = 0;
  uint8_t *snapshot;
  size_t snapshot_len = 0, written = 0;
  char small[8];
  convstate_effect_kind kind = CONVSTATE_EFFECT_NONE;

  CHECK_RC(convstate_engine_new(S("cloud-2025"), S("{\"window\":{\"reminder_lead\":\"1h\"}}"), &engine),
           CONVSTATE_OK);
  if (!engine) return;

  number = acme_official_number(NUMBER, T0 - HOUR, 10 * MINUTE);
  CHECK_RC(convstate_engine_register_number(engine, &number), CONVSTATE_OK);
  number.channel = 77;
  CHECK_RC(convstate_engine_register_number(engine, &number), CONVSTATE_ERR_INVALID_ARGUMENT);

  template_ = acme_approved_template("order_ready", CONVSTATE_CATEGORY_UTILITY,
                                     "Order {{1}} is ready", T0 - HOUR);
  CHECK_RC(convstate_engine_register_template(engine, &template_), CONVSTATE_OK);
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("order_ready"), S("en"), &template_view),
           CONVSTATE_OK);
  CHECK(template_view.status == CONVSTATE_TEMPLATE_APPROVED);
  CHECK(template_view.category == CONVSTATE_CATEGORY_UTILITY);
  CHECK(template_view.variables == 1);

  CHECK_RC(convstate_engine_inbound(engine, T0, NUMBER, strlen(NUMBER), CONTACT, strlen(CONTACT),
                                    NULL, 0, CONVSTATE_INBOUND_TEXT, -1),
           CONVSTATE_OK);

  /* Effects: a buffer too small leaves the effect pending; the size needed and its kind come back. */
  written = 0;
  CHECK_RC(convstate_engine_poll_effect(engine, (uint8_t *)small, sizeof small, &written, &kind),
           CONVSTATE_ERR_BUFFER_TOO_SMALL);
  CHECK(written > sizeof small);
  CHECK(kind == CONVSTATE_EFFECT_TICKET_OPENED); /* what waits comes with its size */
  {
    char *line = malloc(written);
    size_t needed = written;
    CHECK_RC(convstate_engine_poll_effect(engine, (uint8_t *)line, needed, &written, &kind),
             CONVSTATE_OK);
    CHECK(written == needed);
    CHECK(kind == CONVSTATE_EFFECT_TICKET_OPENED);
    CHECK(line && memcmp(line, "{\"type\":\"effect\",\"effect\":\"ticket_opened\"", 41) == 0);
    free(line);
  }
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CHAT_STARTED) == 1);

  /* A free-form reply inside the window: allowed and free. */
  CHECK_RC(convstate_message_new_text(S("Hello!"), &hello), CONVSTATE_OK);
  request = request_for(T0 + MINUTE, hello);
  CHECK_RC(convstate_engine_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(decision.billing == CONVSTATE_BILLING_FREE);
  CHECK(decision.free_reason == CONVSTATE_FREE_SERVICE_WINDOW);
  CHECK(decision.initiated_by == CONVSTATE_INITIATED_BY_CUSTOMER);
  /* The same text again: a duplicate, with when and for how long. */
  request.at_ms = T0 + 2 * MINUTE;
  CHECK_RC(convstate_engine_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_DENIED);
  CHECK(decision.reason == CONVSTATE_REASON_DUPLICATE);
  CHECK(decision.instant_ms == T0 + MINUTE);
  CHECK(decision.duration_ms == 24 * HOUR);
  CHECK(decision.next_action == CONVSTATE_NEXT_RETRY_AT);
  CHECK(decision.next_action_at_ms == T0 + MINUTE + 24 * HOUR);

  /* A file over the image limit: the limit and the actual size. */
  CHECK_RC(convstate_message_new_media(CONVSTATE_MEDIA_IMAGE, 6000000, S("look"), &too_big),
           CONVSTATE_OK);
  request = request_for(T0 + 3 * MINUTE, too_big);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_FILE_TOO_LARGE);
  CHECK(decision.limit == 5000000 && decision.actual == 6000000);
  CHECK(decision.detail_code == CONVSTATE_MEDIA_IMAGE);

  /* A caption on audio, which Meta's audio messages carry none of: invalid content, 3. */
  CHECK_RC(convstate_message_new_media(CONVSTATE_MEDIA_AUDIO, 1000, S("listen"), &voice),
           CONVSTATE_OK);
  request = request_for(T0 + 3 * MINUTE, voice);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_INVALID_CONTENT);
  CHECK(decision.detail_code == 3);
  CHECK(decision.next_action == CONVSTATE_NEXT_FIX_CONTENT);
  CHECK(strcmp(convstate_reason_name(decision.reason), "invalid_content") == 0);

  /* A 300 KB sticker: over a sticker's 100 KB until it is marked animated (500 KB). The
     file's reference tells it apart from another file of its size for duplicates. */
  CHECK_RC(convstate_message_new_media(CONVSTATE_MEDIA_STICKER, 300000, NULL, 0, &sticker),
           CONVSTATE_OK);
  CHECK_RC(convstate_message_set_media_ref(sticker, S("media-7")), CONVSTATE_OK);
  request = request_for(T0 + 3 * MINUTE, sticker);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_FILE_TOO_LARGE && decision.limit == 100000);
  CHECK_RC(convstate_message_set_animated(sticker, 1), CONVSTATE_OK);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK_RC(convstate_message_set_animated(voice, 1), CONVSTATE_ERR_INVALID_ARGUMENT);

  /* Timers: the chat ends by inactivity; the reminder comes an hour before the window ends. */
  CHECK_RC(convstate_engine_poll_timeout(engine, &deadline), CONVSTATE_OK);
  CHECK(deadline != CONVSTATE_NONE_MS && deadline > T0);
  CHECK_RC(convstate_engine_handle_timeout(engine, T0 + HOUR), CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CHAT_ENDED) == 1);
  CHECK_RC(convstate_engine_handle_timeout(engine, T0 + 23 * HOUR), CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_WINDOW_CLOSING_SOON) == 1);

  /* A day later: free-form is refused; a template goes out, business-initiated and charged.
     The check is a read: it takes the engine const. */
  request = request_for(T0 + 25 * HOUR, hello);
  {
    const convstate_engine *reader = engine;
    CHECK_RC(convstate_engine_check_send(reader, &request, &decision), CONVSTATE_OK);
  }
  CHECK(decision.reason == CONVSTATE_REASON_WINDOW_CLOSED);
  CHECK(decision.instant_ms == T0 + 24 * HOUR);
  CHECK(decision.next_action == CONVSTATE_NEXT_SEND_TEMPLATE);
  CHECK_RC(convstate_message_new_template(S("order_ready"), S("en"), &order_ready), CONVSTATE_OK);
  CHECK_RC(convstate_message_add_param(order_ready, S("A-17")), CONVSTATE_OK);
  request.message = order_ready;
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_NO_OPT_IN);
  CHECK_RC(convstate_engine_consent(engine, T0 + 25 * HOUR, NULL, 0, NUMBER, strlen(NUMBER), CONTACT,
                                    strlen(CONTACT), true),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(decision.initiated_by == CONVSTATE_INITIATED_BY_BUSINESS);
  CHECK(decision.billing == CONVSTATE_BILLING_CHARGED);
  CHECK(decision.charge_category == CONVSTATE_CHARGE_UTILITY);

  /* Provider events. */
  CHECK_RC(convstate_engine_template_status(engine, T0 + 26 * HOUR, S("acme"), S("order_ready"),
                                            S("en"), CONVSTATE_TEMPLATE_PAUSED),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_template_status(engine, T0 + 26 * HOUR, S("acme"), S("missing"), S("en"),
                                            CONVSTATE_TEMPLATE_PAUSED),
           CONVSTATE_ERR_UNKNOWN_TEMPLATE);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TEMPLATE_STATUS_CHANGED) == 1);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_NOT_SENDABLE);
  CHECK(decision.detail_code == CONVSTATE_TEMPLATE_PAUSED);
  CHECK_RC(convstate_engine_user_preference(engine, T0 + 26 * HOUR, NUMBER, strlen(NUMBER), CONTACT,
                                            strlen(CONTACT), CONVSTATE_PREFERENCE_STOP),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_inbound(engine, T0 + 27 * HOUR, NUMBER, strlen(NUMBER), CONTACT,
                                    strlen(CONTACT), NULL, 0, CONVSTATE_INBOUND_TEXT, -1),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_send_failed(engine, T0 + 27 * HOUR + MINUTE, NUMBER, strlen(NUMBER), CONTACT,
                                        strlen(CONTACT), 131047),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_WINDOW_CLOSED_BY_PROVIDER) == 1);
  /* A new chat: the contact has waited since their message, unanswered so far. */
  CHECK_RC(convstate_engine_conversation(engine, T0 + 27 * HOUR + MINUTE, NUMBER, strlen(NUMBER), CONTACT,
                                         strlen(CONTACT), &view),
           CONVSTATE_OK);
  CHECK(view.chat_live && view.chat_started_at_ms == T0 + 27 * HOUR);
  CHECK(view.chat_waiting_since_ms == T0 + 27 * HOUR);
  CHECK(view.chat_responses == 0 && view.chat_response_total_ms == 0);
  CHECK(view.chat_last_reply_at_ms == CONVSTATE_NONE_MS);
  CHECK_RC(convstate_engine_end_chat(engine, T0 + 27 * HOUR + 2 * MINUTE, NUMBER, strlen(NUMBER), CONTACT,
                                     strlen(CONTACT), CONVSTATE_ENDED_BY_AGENT, CONVSTATE_TICKET_CLOSED),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CHAT_ENDED) == 1);
  CHECK_RC(convstate_engine_end_chat(engine, T0 + 27 * HOUR + 2 * MINUTE, NUMBER, strlen(NUMBER), CONTACT,
                                     strlen(CONTACT), CONVSTATE_ENDED_BY_AGENT, CONVSTATE_TICKET_NONE),
           CONVSTATE_ERR_NO_LIVE_CHAT);

  /* Views. */
  memset(&view, 0xAB, sizeof view);
  CHECK_RC(convstate_engine_conversation(engine, T0 + 27 * HOUR + 2 * MINUTE, NUMBER, strlen(NUMBER), CONTACT,
                                         strlen(CONTACT), &view),
           CONVSTATE_OK);
  CHECK(!view.window_open); /* closed by the provider */
  CHECK(!view.chat_live && view.chat_started_at_ms == CONVSTATE_NONE_MS);
  CHECK(view.ticket_status == CONVSTATE_TICKET_CLOSED);
  CHECK(view.opted_in && view.marketing_stopped);
  /* A change naming a ticket that is not the current one is refused; naming the current one
     (or 0, for whichever is current) applies. */
  CHECK(view.ticket_id >= 1);
  CHECK_RC(convstate_engine_set_ticket_status(engine, T0 + 27 * HOUR + 2 * MINUTE, NUMBER, strlen(NUMBER), CONTACT,
                                              strlen(CONTACT), CONVSTATE_TICKET_PENDING, view.ticket_id + 1),
           CONVSTATE_ERR_TICKET_NOT_CURRENT);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TICKET_STATUS_CHANGED) == 0);
  CHECK_RC(convstate_engine_set_ticket_status(engine, T0 + 27 * HOUR + 2 * MINUTE, NUMBER, strlen(NUMBER), CONTACT,
                                              strlen(CONTACT), CONVSTATE_TICKET_PENDING, view.ticket_id),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TICKET_STATUS_CHANGED) == 1);
  CHECK_RC(convstate_engine_set_ticket_status(engine, T0 + 27 * HOUR + 2 * MINUTE, NUMBER, strlen(NUMBER), CONTACT,
                                              strlen(CONTACT), CONVSTATE_TICKET_CLOSED, 0),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TICKET_STATUS_CHANGED) == 1);
  CHECK_RC(convstate_engine_number(engine, NUMBER, strlen(NUMBER), &number_view), CONVSTATE_OK);
  CHECK(number_view.inbound == 2);
  CHECK(number_view.chats_ended_by_idle == 1 && number_view.chats_ended_by_agent == 1);
  CHECK(number_view.idle_timeout_ms == 10 * MINUTE);
  /* The first chat's one response (a minute), the second chat's none. */
  CHECK(number_view.first_responses == 1 && number_view.first_response_total_ms == (uint64_t)MINUTE);
  CHECK(number_view.responses == 1 && number_view.response_total_ms == (uint64_t)MINUTE);

  /* Snapshot: ask for the size, then write; restore gives the same state. */
  CHECK_RC(convstate_engine_snapshot(engine, NULL, 0, &snapshot_len), CONVSTATE_ERR_BUFFER_TOO_SMALL);
  snapshot = malloc(snapshot_len);
  CHECK_RC(convstate_engine_snapshot(engine, snapshot, snapshot_len, &written), CONVSTATE_OK);
  CHECK(written == snapshot_len);
  CHECK_RC(convstate_engine_restore(snapshot, written, &restored), CONVSTATE_OK);
  CHECK_RC(convstate_engine_number(restored, NUMBER, strlen(NUMBER), &number_view), CONVSTATE_OK);
  CHECK(number_view.inbound == 2);
  snapshot[0] = 'x';
  {
    convstate_engine *untouched = NULL;
    CHECK_RC(convstate_engine_restore(snapshot, written, &untouched), CONVSTATE_ERR_CORRUPT_SNAPSHOT);
    CHECK(untouched == NULL);
  }
  free(snapshot);

  /* The number's quality, flag and restrictions, read at an instant: a bar on
   * business-initiated messages until 30 h and one on all messages until lifted, narrowest
   * first; a view after the first's end shows it ended, tick or no tick. */
  CHECK_RC(convstate_engine_number_restriction(engine, T0 + 28 * HOUR, NUMBER, strlen(NUMBER),
                                               CONVSTATE_RESTRICTION_BUSINESS_INITIATED, T0 + 30 * HOUR, 0),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_number_restriction(engine, T0 + 28 * HOUR, NUMBER, strlen(NUMBER),
                                               CONVSTATE_RESTRICTION_ALL_MESSAGES, CONVSTATE_NONE_MS, 1),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NUMBER_RESTRICTED) == 2);
  CHECK_RC(convstate_engine_number_at(engine, T0 + 28 * HOUR, NUMBER, strlen(NUMBER), &number_view), CONVSTATE_OK);
  CHECK(number_view.quality == CONVSTATE_QUALITY_UNKNOWN && number_view.flagged_until_ms == CONVSTATE_NONE_MS);
  CHECK(number_view.restrictions_len == 2);
  CHECK(number_view.restrictions[0].scope == CONVSTATE_RESTRICTION_BUSINESS_INITIATED);
  CHECK(number_view.restrictions[0].until_ms == T0 + 30 * HOUR);
  CHECK(number_view.restrictions[1].scope == CONVSTATE_RESTRICTION_ALL_MESSAGES);
  CHECK(number_view.restrictions[1].until_ms == CONVSTATE_NONE_MS);
  CHECK(number_view.restrictions[2].scope == CONVSTATE_RESTRICTION_NONE);
  CHECK_RC(convstate_engine_number_at(engine, T0 + 31 * HOUR, NUMBER, strlen(NUMBER), &number_view), CONVSTATE_OK);
  CHECK(number_view.restrictions_len == 1);
  CHECK(number_view.restrictions[0].scope == CONVSTATE_RESTRICTION_ALL_MESSAGES);
  CHECK_RC(convstate_engine_number_at(engine, T0, NUMBER, strlen(NUMBER), &number_view),
           CONVSTATE_ERR_VIEW_BEFORE_CLOCK);
  CHECK_RC(convstate_engine_template_at(engine, T0 + 31 * HOUR, S("acme"), S("order_ready"), S("en"), &template_view),
           CONVSTATE_OK);
  CHECK(template_view.status == CONVSTATE_TEMPLATE_PAUSED && template_view.until_ms == CONVSTATE_NONE_MS); /* until unpaused */

  convstate_message_free(hello);
  convstate_message_free(order_ready);
  convstate_message_free(too_big);
  convstate_message_free(voice);
  convstate_message_free(sticker);
  convstate_engine_free(restored);
  convstate_engine_free(engine);
}

/* A number registered with its provider id is found by webhooks that name only that id
 * (the registration had no such field, so C hosts could not match webhooks by it). */
static void test_phone_number_id(void) {
  static const char BODY[] =
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
      "\"time\":1793610000,\"changes\":[{\"field\":\"messages\",\"value\":{"
      "\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15559999999\","
      "\"phone_number_id\":\"106540352242922\"},\"messages\":[{\"from\":\"79110000001\","
      "\"id\":\"wamid.C1\",\"timestamp\":\"1793610000\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}";
  convstate_engine *engine = NULL;
  convstate_string *out = NULL;
  convstate_number_registration number;
  CHECK_RC(convstate_engine_new("cloud-2025", strlen("cloud-2025"), NULL, 0, &engine), CONVSTATE_OK);
  if (!engine) return;
  number = acme_official_number(NUMBER, T0 - HOUR, -1);
  number.phone_number_id = "106540352242922";
  number.phone_number_id_len = strlen(number.phone_number_id);
  CHECK_RC(convstate_engine_register_number(engine, &number), CONVSTATE_OK);
  CHECK_RC(convstate_string_new(&out), CONVSTATE_OK);
  CHECK_RC(convstate_engine_handle_webhook(engine, T0, (const uint8_t *)BODY, strlen(BODY), out),
           CONVSTATE_OK);
  CHECK(strstr(convstate_string_ptr(out), "{\"type\":\"ack\",\"of\":\"inbound\"") ==
        convstate_string_ptr(out));
  CHECK(strstr(convstate_string_ptr(out), "\"number\":\"+15550001111\"") != NULL);
  convstate_string_free(out);
  convstate_engine_free(engine);
}

/* An inbound naming the sender by phone number and business-scoped user id: a reply
 * addressed to the user id finds the phone number's window; a phone number given as the
 * user id is refused and changes nothing. */
static void test_user_id(void) {
  static const char USER_ID[] = "US.13491208655302741918";
  convstate_engine *engine = NULL;
  convstate_message *hello = NULL;
  convstate_inbound inbound;
  convstate_send_request request;
  convstate_decision decision;
  engine = acme_engine(T0 - HOUR, -1);
  if (!engine) return;
  CHECK_RC(convstate_message_new_text(S("Hello!"), &hello), CONVSTATE_OK);
  request = request_for(T0 + MINUTE, hello);
  request.contact = USER_ID;
  request.contact_len = strlen(USER_ID);

  memset(&inbound, 0, sizeof inbound);
  inbound.at_ms = T0;
  inbound.number = NUMBER;
  inbound.number_len = strlen(NUMBER);
  inbound.contact = CONTACT;
  inbound.contact_len = strlen(CONTACT);
  inbound.kind = CONVSTATE_INBOUND_TEXT;
  inbound.size = -1;
  inbound.user_id = "+79110000002";
  inbound.user_id_len = strlen(inbound.user_id);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_ERR_INVALID_USER_ID);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_DENIED);

  inbound.user_id = USER_ID;
  inbound.user_id_len = strlen(USER_ID);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(decision.initiated_by == CONVSTATE_INITIATED_BY_CUSTOMER);
  convstate_message_free(hello);
  convstate_engine_free(engine);
}

/* The typed inbound `convstate_inbound` at `at_ms` from `contact` (and `user_id`, or NULL),
 * zeroed first so that every other optional field is absent. */
static convstate_inbound inbound_from(int64_t at_ms, const char *contact, const char *user_id,
                                      uint32_t kind) {
  return typed_inbound(NUMBER, at_ms, contact, kind, user_id, user_id ? strlen(user_id) : 0);
}

/* Meta's welcome request (CONVSTATE_INBOUND_REQUEST_WELCOME) opens the service window when
 * dated before the policy's `window.request_welcome_until` (2026-03-27T00:00:00Z in every
 * preset), through the plain and the typed-struct inbound alike; one dated at or after it
 * opens none. Either way it is not a user message: no chat, no ticket. */
static void test_request_welcome(void) {
  /* 2026-03-26T12:00:00Z, 2026-03-27T00:00:00Z (the preset's removal date) */
  static const int64_t BEFORE = 1774526400000, REMOVED = 1774569600000;
  static const char *const CONTACTS[4] = {"+79110000001", "+79110000002", "+79110000003",
                                          "+79110000004"};
  convstate_engine *engine = NULL;
  convstate_inbound inbound;
  convstate_conversation_view view;
  convstate_message *hello = NULL;
  convstate_send_request request;
  convstate_decision decision;
  engine = acme_engine(BEFORE - HOUR, -1);
  if (!engine) return;
  CHECK_RC(convstate_message_new_text(S("Welcome!"), &hello), CONVSTATE_OK);

  /* Before the removal date: the window opens for 24 hours from the request. */
  inbound = inbound_from(BEFORE, CONTACTS[0], NULL, CONVSTATE_INBOUND_REQUEST_WELCOME);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  CHECK_RC(convstate_engine_inbound(engine, BEFORE, S(NUMBER), CONTACTS[1], strlen(CONTACTS[1]),
                                    NULL, 0, CONVSTATE_INBOUND_REQUEST_WELCOME, -1),
           CONVSTATE_OK);
  for (int i = 0; i < 2; i++) {
    memset(&view, 0x5a, sizeof view);
    CHECK_RC(convstate_engine_conversation(engine, BEFORE + MINUTE, S(NUMBER), CONTACTS[i],
                                           strlen(CONTACTS[i]), &view),
             CONVSTATE_OK);
    CHECK(view.window_open);
    CHECK(view.window_ends_at_ms == BEFORE + 24 * HOUR);
    CHECK(!view.chat_live && view.chat_started_at_ms == CONVSTATE_NONE_MS);
    CHECK(view.ticket_id == 0 && view.ticket_status == CONVSTATE_TICKET_NONE);
  }
  /* No chat started and no ticket opened. */
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CHAT_STARTED) == 0);
  request = request_for(BEFORE + MINUTE, hello);
  request.contact = CONTACTS[0];
  request.contact_len = strlen(CONTACTS[0]);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(decision.initiated_by == CONVSTATE_INITIATED_BY_CUSTOMER);

  /* At the removal date and after it: no window (the conversation reads as never opened). */
  inbound = inbound_from(REMOVED, CONTACTS[2], NULL, CONVSTATE_INBOUND_REQUEST_WELCOME);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  inbound = inbound_from(T0, CONTACTS[3], NULL, CONVSTATE_INBOUND_REQUEST_WELCOME);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  for (int i = 2; i < 4; i++) {
    memset(&view, 0x5a, sizeof view);
    CHECK_RC(convstate_engine_conversation(engine, T0 + MINUTE, S(NUMBER), CONTACTS[i],
                                           strlen(CONTACTS[i]), &view),
             CONVSTATE_OK);
    CHECK(!view.window_open);
    CHECK(view.window_ends_at_ms == CONVSTATE_NONE_MS);
    CHECK(!view.chat_live && view.ticket_id == 0);
  }
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CHAT_STARTED) == 0);
  request = request_for(T0 + MINUTE, hello);
  request.contact = CONTACTS[3];
  request.contact_len = strlen(CONTACTS[3]);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_WINDOW_CLOSED);
  convstate_message_free(hello);
  convstate_engine_free(engine);
}

/* Takes the next effect into `line` (NUL-terminated); returns its kind. */
static convstate_effect_kind next_effect(convstate_engine *engine, char *line, size_t capacity) {
  size_t written = 0;
  convstate_effect_kind kind = CONVSTATE_EFFECT_NONE;
  CHECK_RC(convstate_engine_poll_effect(engine, (uint8_t *)line, capacity - 1, &written, &kind),
           CONVSTATE_OK);
  line[written < capacity ? written : 0] = '\0';
  return kind;
}

/* An inbound naming its sender by phone number and user id (`convstate_inbound.user_id`)
 * links the two: CONVSTATE_EFFECT_CONTACT_LINKED comes first among the inbound's effects,
 * and the user id resolves to the phone number's conversation. The same pair again emits
 * none; the user id beside another phone number moves there, and the effect names the phone
 * number it left in `previous_phone`, so an id found by the user id is resolved again; a
 * phone number named beside another user id has changed hands, and
 * CONVSTATE_EFFECT_CONTACT_UNLINKED ends the previous pair. */
static void test_contact_linked(void) {
  static const char USER_ID[] = "US.13491208655302741918";
  static const char PHONE_B[] = "+79110000002";
  convstate_engine *engine = NULL;
  convstate_number_registration number;
  convstate_inbound inbound;
  char line[1024];
  uint64_t by_phone = 0, by_user_id = 0, by_phone_b = 0;
  engine = acme_engine(T0 - HOUR, -1);
  if (!engine) return;

  inbound = inbound_from(T0, CONTACT, USER_ID, CONVSTATE_INBOUND_TEXT);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_CONTACT_LINKED);
  CHECK(strstr(line, "{\"type\":\"effect\",\"effect\":\"contact_linked\"") == line);
  CHECK(strstr(line, "\"number\":\"+15550001111\"") != NULL);
  CHECK(strstr(line, "\"phone\":\"+79110000001\"") != NULL);
  CHECK(strstr(line, "\"user_id\":\"US.13491208655302741918\"") != NULL);
  CHECK(strstr(line, "previous_phone") == NULL); /* a first link left no contact */
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CONTACT_LINKED) == 0);
  CHECK_RC(convstate_engine_conversation_id(engine, S(NUMBER), S(CONTACT), NULL, 0, &by_phone),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_conversation_id(engine, S(NUMBER), S(USER_ID), NULL, 0, &by_user_id),
           CONVSTATE_OK);
  CHECK(by_phone != CONVSTATE_NO_CONVERSATION && by_user_id == by_phone);

  /* The pair again: already one contact, no effect. */
  inbound.at_ms = T0 + MINUTE;
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CONTACT_LINKED) == 0);

  /* The user changed numbers: the user id moves to PHONE_B. The inbound first fires the
     timers due by then (the first chat's idle end): their effects come before the link's,
     and the inbound's own (its chat starting) after it. */
  inbound = inbound_from(T0 + 2 * HOUR, PHONE_B, USER_ID, CONVSTATE_INBOUND_TEXT);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_CHAT_ENDED);
  CHECK(strstr(line, "\"contact\":\"+79110000001\"") != NULL);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_CONTACT_LINKED);
  CHECK(strstr(line, "\"at\":\"2026-11-02T11:00:00Z\"") != NULL); /* the clock after the timers */
  CHECK(strstr(line, "{\"type\":\"effect\",\"effect\":\"contact_linked\"") == line);
  CHECK(strstr(line, "\"phone\":\"+79110000002\"") != NULL);
  CHECK(strstr(line, "\"user_id\":\"US.13491208655302741918\"") != NULL);
  CHECK(strstr(line, "\"previous_phone\":\"+79110000001\"") != NULL);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_TICKET_OPENED);
  CHECK(strstr(line, "\"contact\":\"+79110000002\"") != NULL);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CONTACT_LINKED) == 0);
  CHECK_RC(convstate_engine_conversation_id(engine, S(NUMBER), S(PHONE_B), NULL, 0, &by_phone_b),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_conversation_id(engine, S(NUMBER), S(USER_ID), NULL, 0, &by_user_id),
           CONVSTATE_OK);
  CHECK(by_phone_b != CONVSTATE_NO_CONVERSATION && by_phone_b != by_phone);
  CHECK(by_user_id == by_phone_b);
  CHECK_RC(convstate_engine_conversation_id(engine, S(NUMBER), S(CONTACT), NULL, 0, &by_user_id),
           CONVSTATE_OK);
  CHECK(by_user_id == by_phone); /* the old phone number keeps its conversation */

  /* PHONE_B changes hands: another user id beside it. CONVSTATE_EFFECT_CONTACT_UNLINKED says
     the first user id no longer names it; the first user's chat, still live, ends (a rule's
     end), before the new pair's CONVSTATE_EFFECT_CONTACT_LINKED; the first user id, a name of
     its own now, reaches no conversation, and PHONE_B keeps its. */
  inbound = inbound_from(T0 + 2 * HOUR + MINUTE, PHONE_B, "US.77", CONVSTATE_INBOUND_TEXT);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_CONTACT_UNLINKED);
  CHECK(strstr(line, "{\"type\":\"effect\",\"effect\":\"contact_unlinked\"") == line);
  CHECK(strstr(line, "\"phone\":\"+79110000002\"") != NULL);
  CHECK(strstr(line, "\"user_id\":\"US.13491208655302741918\"") != NULL);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_CHAT_ENDED);
  CHECK(strstr(line, "\"reason\":\"rule\"") != NULL);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_CONTACT_LINKED);
  CHECK(strstr(line, "\"user_id\":\"US.77\"") != NULL);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_TICKET_OPENED);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CONTACT_UNLINKED) == 0);
  CHECK_RC(convstate_engine_conversation_id(engine, S(NUMBER), S(USER_ID), NULL, 0, &by_user_id),
           CONVSTATE_OK);
  CHECK(by_user_id == CONVSTATE_NO_CONVERSATION);
  CHECK_RC(convstate_engine_conversation_id(engine, S(NUMBER), S("US.77"), NULL, 0, &by_user_id),
           CONVSTATE_OK);
  CHECK(by_user_id == by_phone_b);

  /* Business-scoped user ids are the official channel's: refused elsewhere, nothing learned. */
  number = acme_official_number("+15550002222", T0 - HOUR, -1);
  number.channel = CONVSTATE_CHANNEL_UNOFFICIAL;
  CHECK_RC(convstate_engine_register_number(engine, &number), CONVSTATE_OK);
  inbound = inbound_from(T0 + 3 * HOUR, CONTACT, "US.2", CONVSTATE_INBOUND_TEXT);
  inbound.number = "+15550002222";
  inbound.number_len = strlen(inbound.number);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_ERR_NOT_ON_CHANNEL);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CONTACT_LINKED) == 0);
  convstate_engine_free(engine);
}

/* A status or a preference naming a contact by phone number and user id
   (`convstate_message_status.user_id`, `convstate_engine_user_preference_ex`) tells the engine
   they are one user, as the JSON door's `user_id` does: two names the business knew apart
   then hold one consent, and a pair it did not know is linked. */
static void test_status_and_preference_user_id(void) {
  static const char USER_ID[] = "US.5";
  static const char PHONE_B[] = "+79110000002";
  static const char USER_ID_B[] = "US.9";
  static const char MESSAGE_ID[] = "wamid.1";
  convstate_engine *engine = NULL;
  convstate_message *hello = NULL;
  convstate_inbound inbound;
  convstate_send_request request;
  convstate_decision decision;
  convstate_message_status status;
  convstate_conversation_view view;
  char line[1024];
  bool unmatched = true;
  engine = acme_engine(T0 - HOUR, -1);
  if (!engine) return;
  /* The user wrote by phone number and, having adopted a username, by user id alone. */
  inbound = inbound_from(T0, CONTACT, NULL, CONVSTATE_INBOUND_TEXT);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  inbound = inbound_from(T0, USER_ID, NULL, CONVSTATE_INBOUND_TEXT);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_OK);
  CHECK_RC(convstate_message_new_text(S("Hello!"), &hello), CONVSTATE_OK);
  request = request_for(T0 + MINUTE, hello);
  request.message_id = MESSAGE_ID;
  request.message_id_len = strlen(MESSAGE_ID);
  CHECK_RC(convstate_engine_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  drain_effects(engine, CONVSTATE_EFFECT_NONE);

  memset(&status, 0, sizeof status);
  status.at_ms = T0 + 2 * MINUTE;
  status.number = NUMBER;
  status.number_len = strlen(NUMBER);
  status.contact = CONTACT;
  status.contact_len = strlen(CONTACT);
  status.message_id = MESSAGE_ID;
  status.message_id_len = strlen(MESSAGE_ID);
  status.status = CONVSTATE_DELIVERY_READ;
  status.pricing_type = CONVSTATE_PRICING_NONE;
  status.user_id = "+79110000009"; /* a phone number is no user id */
  status.user_id_len = strlen(status.user_id);
  CHECK_RC(convstate_engine_message_status_ex(engine, &status, &unmatched), CONVSTATE_ERR_INVALID_USER_ID);
  status.user_id = USER_ID;
  status.user_id_len = strlen(USER_ID);
  CHECK_RC(convstate_engine_message_status_ex(engine, &status, &unmatched), CONVSTATE_OK);
  CHECK(!unmatched);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_CONTACT_LINKED) == 0); /* two histories stay apart */
  /* A stop under the phone number alone is the user's under the user id too. */
  CHECK_RC(convstate_engine_user_preference(engine, T0 + 3 * MINUTE, S(NUMBER), S(CONTACT),
                                            CONVSTATE_PREFERENCE_STOP),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_conversation(engine, T0 + 3 * MINUTE, S(NUMBER), S(USER_ID), &view), CONVSTATE_OK);
  CHECK(view.marketing_stopped);

  CHECK_RC(convstate_engine_user_preference_ex(engine, T0 + 4 * MINUTE, S(NUMBER), S(PHONE_B), S("US 9"),
                                               CONVSTATE_PREFERENCE_STOP),
           CONVSTATE_ERR_INVALID_USER_ID);
  CHECK_RC(convstate_engine_user_preference_ex(engine, T0 + 4 * MINUTE, S(NUMBER), S(PHONE_B), S(USER_ID_B),
                                               CONVSTATE_PREFERENCE_STOP),
           CONVSTATE_OK);
  CHECK(next_effect(engine, line, sizeof line) == CONVSTATE_EFFECT_CONTACT_LINKED);
  CHECK(strstr(line, "\"phone\":\"+79110000002\"") != NULL);
  CHECK(strstr(line, "\"user_id\":\"US.9\"") != NULL);
  convstate_message_free(hello);
  convstate_engine_free(engine);
}

/* A text header's variable is filled by its own parameter, positional or named, and a send
   without it is refused as template_params (Meta would fail it). */
static void test_header_params(void) {
  convstate_engine *engine = NULL;
  convstate_message *order = NULL;
  convstate_template_registration template_;
  convstate_send_request request;
  convstate_decision decision;
  engine = acme_engine(T0 - HOUR, -1);
  if (!engine) return;
  template_ = acme_approved_template("order_ready", CONVSTATE_CATEGORY_UTILITY,
                                     "Your order is ready.", T0 - HOUR);
  template_.header = "Order {{1}}";
  template_.header_len = strlen(template_.header);
  CHECK_RC(convstate_engine_register_template(engine, &template_), CONVSTATE_OK);
  CHECK_RC(convstate_engine_consent(engine, T0, NULL, 0, NUMBER, strlen(NUMBER), CONTACT,
                                    strlen(CONTACT), true),
           CONVSTATE_OK);

  CHECK_RC(convstate_message_new_template(S("order_ready"), S("en"), &order), CONVSTATE_OK);
  request = request_for(T0 + MINUTE, order);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_PARAMS);
  CHECK_RC(convstate_message_add_named_header_param(order, S("order"), S("A-17")), CONVSTATE_OK);
  CHECK_RC(convstate_engine_check_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_PARAMS);
  /* Positional after named in one part is refused; the body's parameters are another part. */
  CHECK_RC(convstate_message_add_header_param(order, S("A-17")), CONVSTATE_ERR_INVALID_ARGUMENT);
  convstate_message_free(order);

  CHECK_RC(convstate_message_new_template(S("order_ready"), S("en"), &order), CONVSTATE_OK);
  CHECK_RC(convstate_message_add_header_param(order, S("A-17")), CONVSTATE_OK);
  request = request_for(T0 + MINUTE, order);
  CHECK_RC(convstate_engine_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  convstate_message_free(order);
  convstate_engine_free(engine);
}

/* Conversation ids: resolved once, then sends by id decide as sends by name; an id from
 * before the engine was rebuilt is refused and changes nothing. */
static void test_conversation_ids(void) {
  convstate_engine *engine = NULL;
  convstate_message *hello = NULL;
  convstate_number_registration number;
  convstate_send_request by_name;
  convstate_send_to_request by_id;
  convstate_decision decision;
  uint64_t id = 0, other = 0, none = 0;
  static const char OTHER_NUMBER[] = "+15550002222";

  engine = acme_engine(T0 - HOUR, 10 * MINUTE);
  if (!engine) return;
  number = acme_official_number(OTHER_NUMBER, T0 - HOUR, 10 * MINUTE);
  number.business = "globex";
  number.business_len = strlen("globex");
  CHECK_RC(convstate_engine_register_number(engine, &number), CONVSTATE_OK);
  /* No conversation yet: none, and the first send goes by name. */
  CHECK_RC(convstate_engine_conversation_id(engine, S(OTHER_NUMBER), S(CONTACT), NULL, 0, &none),
           CONVSTATE_OK);
  CHECK(none == CONVSTATE_NO_CONVERSATION);
  /* As in a send, exactly one of contact and group; on failure `*id` is left alone. */
  CHECK_RC(convstate_engine_conversation_id(engine, S(OTHER_NUMBER), NULL, 0, NULL, 0, &none),
           CONVSTATE_ERR_INVALID_EVENT);
  CHECK(none == CONVSTATE_NO_CONVERSATION);
  CHECK_RC(convstate_engine_inbound(engine, T0, NUMBER, strlen(NUMBER), CONTACT, strlen(CONTACT),
                                    NULL, 0, CONVSTATE_INBOUND_TEXT, -1),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_inbound(engine, T0, OTHER_NUMBER, strlen(OTHER_NUMBER), CONTACT,
                                    strlen(CONTACT), NULL, 0, CONVSTATE_INBOUND_TEXT, -1),
           CONVSTATE_OK);
  drain_effects(engine, CONVSTATE_EFFECT_NONE);
  CHECK_RC(convstate_engine_conversation_id(engine, S(OTHER_NUMBER), S(CONTACT), NULL, 0, &other),
           CONVSTATE_OK);
  CHECK(other != CONVSTATE_NO_CONVERSATION);
  CHECK_RC(convstate_engine_conversation_id(engine, S("+1 555 000 1111"), S(CONTACT), NULL, 0, &id),
           CONVSTATE_OK);
  CHECK(id != CONVSTATE_NO_CONVERSATION && id != other);

  CHECK_RC(convstate_message_new_text(S("Hello!"), &hello), CONVSTATE_OK);
  memset(&by_id, 0, sizeof by_id);
  by_id.at_ms = T0 + MINUTE;
  by_id.message = hello;
  /* The hint a host applying a batch gives a few inputs ahead: it decides nothing. */
  convstate_engine_prefetch(engine, id);
  CHECK_RC(convstate_engine_check_send_to(engine, id, &by_id, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK_RC(convstate_engine_send_to(engine, id, &by_id, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(decision.free_reason == CONVSTATE_FREE_SERVICE_WINDOW);
  /* Recorded in that conversation: by name, the same text is its duplicate. */
  by_name = request_for(T0 + 2 * MINUTE, hello);
  CHECK_RC(convstate_engine_check_send(engine, &by_name, &decision), CONVSTATE_OK);
  CHECK(decision.reason == CONVSTATE_REASON_DUPLICATE);
  by_id.force = 2;
  CHECK_RC(convstate_engine_send_to(engine, id, &by_id, &decision), CONVSTATE_ERR_INVALID_ARGUMENT);
  by_id.force = 0;
  CHECK_RC(convstate_engine_send_to(engine, id, NULL, &decision), CONVSTATE_ERR_NULL_ARGUMENT);

  /* acme removed: globex's conversation moves; its old id is refused until resolved again. */
  CHECK_RC(convstate_engine_remove_business(engine, S("acme")), CONVSTATE_OK);
  memset(&decision, 0x5a, sizeof decision);
  CHECK_RC(convstate_engine_send_to(engine, other, &by_id, &decision),
           CONVSTATE_ERR_UNKNOWN_CONVERSATION);
  CHECK(((unsigned char *)&decision)[0] == 0x5a); /* untouched on failure */
  /* A prefetch of a stale id, of no conversation, or on no engine is ignored. */
  convstate_engine_prefetch(engine, other);
  convstate_engine_prefetch(engine, CONVSTATE_NO_CONVERSATION);
  convstate_engine_prefetch(NULL, id);
  CHECK_RC(convstate_engine_check_send_to(engine, CONVSTATE_NO_CONVERSATION, &by_id, &decision),
           CONVSTATE_ERR_UNKNOWN_CONVERSATION);
  CHECK_RC(convstate_engine_conversation_id(engine, S(OTHER_NUMBER), S(CONTACT), NULL, 0, &other),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_send_to(engine, other, &by_id, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK_RC(convstate_engine_conversation_id(engine, S(OTHER_NUMBER), S("+7 911"), NULL, 0, &other),
           CONVSTATE_ERR_INVALID_PHONE_NUMBER);
  convstate_message_free(hello);
  convstate_engine_free(engine);
}

/* Email: the ticket keeps the response times a chat would (RULES.md §3), in the view's
   ticket_ fields and a TICKET_ANSWERED effect per answered wait (an agent's: an automated
   send answers no one). */
static void test_email_ticket_times(void) {
  static const char SUPPORT[] = "support@acme.example";
  static const char ANN[] = "ann@example.com";
  convstate_engine *engine = NULL;
  convstate_number_registration number;
  convstate_send_request request;
  convstate_decision decision;
  convstate_conversation_view view;
  convstate_number_view number_view;
  convstate_message *reply = NULL;
  convstate_message *ack = NULL;

  CHECK_RC(convstate_engine_new(S("cloud-2025"), NULL, 0, &engine), CONVSTATE_OK);
  if (!engine) return;
  number = acme_official_number(SUPPORT, T0 - HOUR, 10 * MINUTE);
  number.channel = CONVSTATE_CHANNEL_EMAIL;
  CHECK_RC(convstate_engine_register_number(engine, &number), CONVSTATE_OK);
  CHECK_RC(convstate_engine_inbound(engine, T0, S(SUPPORT), S(ANN), NULL, 0, CONVSTATE_INBOUND_TEXT, -1),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TICKET_OPENED) == 1);
  CHECK_RC(convstate_engine_conversation(engine, T0, S(SUPPORT), S(ANN), &view), CONVSTATE_OK);
  CHECK(!view.chat_live && view.ticket_status == CONVSTATE_TICKET_OPEN);
  CHECK(view.ticket_waiting_since_ms == T0);
  CHECK(view.ticket_first_response_at_ms == CONVSTATE_NONE_MS);
  CHECK(view.ticket_first_response_after_ms == CONVSTATE_NONE_MS);
  CHECK(view.ticket_responses == 0 && view.ticket_response_total_ms == 0);

  /* An auto-acknowledgement is sent but is no agent response: Ann still waits. */
  CHECK_RC(convstate_message_new_text(S("We got your email"), &ack), CONVSTATE_OK);
  request = request_for(T0 + MINUTE, ack);
  request.number = SUPPORT;
  request.number_len = strlen(SUPPORT);
  request.contact = ANN;
  request.contact_len = strlen(ANN);
  request.automated = 1;
  CHECK_RC(convstate_engine_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TICKET_ANSWERED) == 0);
  CHECK_RC(convstate_engine_conversation(engine, T0 + MINUTE, S(SUPPORT), S(ANN), &view), CONVSTATE_OK);
  CHECK(view.ticket_waiting_since_ms == T0 && view.ticket_responses == 0);
  CHECK(view.ticket_last_reply_at_ms == CONVSTATE_NONE_MS);

  CHECK_RC(convstate_message_new_text(S("On it"), &reply), CONVSTATE_OK);
  request.at_ms = T0 + 2 * HOUR;
  request.message = reply;
  request.automated = 0;
  CHECK_RC(convstate_engine_send(engine, &request, &decision), CONVSTATE_OK);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TICKET_ANSWERED) == 1);
  CHECK_RC(convstate_engine_conversation(engine, T0 + 2 * HOUR, S(SUPPORT), S(ANN), &view), CONVSTATE_OK);
  CHECK(view.ticket_waiting_since_ms == CONVSTATE_NONE_MS);
  CHECK(view.ticket_first_response_at_ms == T0 + 2 * HOUR);
  CHECK(view.ticket_first_response_after_ms == 2 * HOUR);
  CHECK(view.ticket_responses == 1 && view.ticket_response_total_ms == (uint64_t)(2 * HOUR));
  CHECK(view.ticket_last_reply_at_ms == T0 + 2 * HOUR);
  /* A close while the contact waits ends the wait unanswered, counted on the number. */
  CHECK_RC(convstate_engine_inbound(engine, T0 + 3 * HOUR, S(SUPPORT), S(ANN), NULL, 0, CONVSTATE_INBOUND_TEXT, -1),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_set_ticket_status(engine, T0 + 4 * HOUR, S(SUPPORT), S(ANN), CONVSTATE_TICKET_CLOSED, 0),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TICKET_STATUS_CHANGED) == 1);
  CHECK_RC(convstate_engine_number(engine, S(SUPPORT), &number_view), CONVSTATE_OK);
  CHECK(number_view.tickets_closed_unanswered == 1 && number_view.first_responses == 1);
  /* A contact without a ticket has none. */
  CHECK_RC(convstate_engine_conversation(engine, T0 + 4 * HOUR, S(SUPPORT), S("bob@example.com"), &view),
           CONVSTATE_OK);
  CHECK(view.ticket_id == 0 && view.ticket_first_response_after_ms == CONVSTATE_NONE_MS);
  convstate_message_free(ack);
  convstate_message_free(reply);
  convstate_engine_free(engine);
}

int main(void) {
  test_versions();
  test_errors();
  test_day_of_a_conversation();
  test_phone_number_id();
  test_user_id();
  test_request_welcome();
  test_contact_linked();
  test_status_and_preference_user_id();
  test_header_params();
  test_conversation_ids();
  test_email_ticket_times();
  if (failures) {
    fprintf(stderr, "typed_api: %d checks failed\n", failures);
    return 1;
  }
  printf("typed_api: all checks passed\n");
  return 0;
}
