/*
 * The program docs/c-guide.md is quoted from: a help desk serving two businesses through the
 * C library, step by step (engine, ABI check, registrations, WABA mapping, a customer's
 * message, a reply, the window closing, opt-in and a template, Meta webhooks, effects,
 * timers, snapshot and restore). Each region between `guide:begin NAME` and `guide:end NAME`
 * is quoted in the guide, and scripts/test-ffi.sh checks that the guide's code blocks are
 * these regions, then runs this program under valgrind and AddressSanitizer/UBSan. Every call
 * is checked and every outcome the guide claims is asserted: a mismatch exits non-zero.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convstate.h"

/* guide:begin helpers */
#define S(literal) literal, (sizeof literal - 1)

/* Typed calls return a result code; on failure convstate_last_error() says why. */
#define OK(call)                                                                       \
  do {                                                                                 \
    convstate_result rc_ = (call);                                                     \
    if (rc_ != CONVSTATE_OK) {                                                         \
      fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call,               \
              convstate_result_name(rc_), convstate_last_error());                     \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

#define EXPECT(cond)                                                                   \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);             \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)
/* guide:end helpers */

static const int64_t MINUTE_MS = 60 * 1000;
static const int64_t HOUR_MS = 60 * 60 * 1000;

/* The kinds of the effects drained so far, and the last chat_ended line. */
static convstate_effect_kind seen[64];
static size_t seen_count = 0;
static char chat_ended_line[1024];

/* guide:begin on_effect */
/* Where the help desk acts on an effect: here it only remembers it. A host would parse the
 * JSON line (cJSON, jansson, ...) and update its tickets and reports. */
static void on_effect(convstate_effect_kind kind, const char *line, size_t len) {
  if (kind == CONVSTATE_EFFECT_CHAT_ENDED && len < sizeof chat_ended_line) {
    memcpy(chat_ended_line, line, len);
    chat_ended_line[len] = '\0';
  }
  if (seen_count < sizeof seen / sizeof seen[0]) seen[seen_count++] = kind;
}
/* guide:end on_effect */

static size_t count_seen(convstate_effect_kind kind) {
  size_t i, n = 0;
  for (i = 0; i < seen_count; i++) n += seen[i] == kind;
  return n;
}

/* guide:begin drain */
/* Takes every pending effect. A line that does not fit says how long it is and stays
 * pending, so grow the buffer and ask again. */
static void drain_effects(convstate_engine *engine) {
  size_t capacity = 512, written = 0;
  uint8_t *buffer = malloc(capacity);
  convstate_effect_kind kind = CONVSTATE_EFFECT_NONE;
  EXPECT(buffer != NULL);
  for (;;) {
    convstate_result rc = convstate_engine_poll_effect(engine, buffer, capacity, &written, &kind);
    if (rc == CONVSTATE_ERR_BUFFER_TOO_SMALL) {
      uint8_t *bigger = realloc(buffer, written);
      EXPECT(bigger != NULL);
      buffer = bigger;
      capacity = written;
      continue;
    }
    OK(rc);
    if (kind == CONVSTATE_EFFECT_NONE) break;
    on_effect(kind, (const char *)buffer, written);
  }
  free(buffer);
}
/* guide:end drain */

/* guide:begin run_timers */
/* The host's timer loop, run here up to `until_ms` as if that much time passed: ask when the
 * next timer is due, fire it at that instant, take its effects, ask again. */
static void run_timers_until(convstate_engine *engine, int64_t until_ms) {
  int64_t deadline_ms = CONVSTATE_NONE_MS;
  for (;;) {
    OK(convstate_engine_poll_timeout(engine, &deadline_ms));
    if (deadline_ms == CONVSTATE_NONE_MS || deadline_ms > until_ms) break;
    OK(convstate_engine_handle_timeout(engine, deadline_ms));
    drain_effects(engine);
  }
}
/* guide:end run_timers */

/* guide:begin count_lines */
/* The number of lines of a door's output that begin with `prefix`. (A host parses each line
 * as JSON; `type` is always its first key.) */
static size_t count_lines(const char *text, const char *prefix) {
  size_t n = 0;
  while (*text) {
    const char *end = strchr(text, '\n');
    if (strncmp(text, prefix, strlen(prefix)) == 0) n++;
    if (!end) break;
    text = end + 1;
  }
  return n;
}
/* guide:end count_lines */

/* A send request from `number` to `contact` at `at_ms`, every optional field absent. */
static convstate_send_request request_for(int64_t at_ms, const char *number, const char *contact,
                                          const convstate_message *message) {
  convstate_send_request request;
  memset(&request, 0, sizeof request);
  request.at_ms = at_ms;
  request.number = number;
  request.number_len = strlen(number);
  request.contact = contact;
  request.contact_len = strlen(contact);
  request.message = message;
  return request;
}

int main(void) {
  convstate_engine *engine = NULL;
  convstate_engine *restored = NULL;
  convstate_string *out = NULL;
  convstate_message *reply = NULL;
  convstate_message *update = NULL;
  convstate_send_request request;
  convstate_decision decision;
  uint8_t *snapshot = NULL;
  size_t snapshot_len = 0;
  /* 2026-11-02T09:00:00Z: the customer writes. */
  const int64_t t0 = INT64_C(1793610000000);
  const char *acme = "+15550001111";
  const char *customer = "+79110000001";

  /* guide:begin engine */
  if (convstate_abi_version() != CONVSTATE_ABI_VERSION) {
    fprintf(stderr, "libconvstate %s was built from another convstate.h\n", convstate_version());
    return 1;
  }
  OK(convstate_engine_new(S("cloud-2025"), NULL, 0, &engine));
  OK(convstate_string_new(&out));
  /* guide:end engine */

  /* guide:begin register */
  {
    convstate_number_registration number;
    convstate_template_registration template_;

    memset(&number, 0, sizeof number); /* every optional field absent */
    number.at_ms = t0 - HOUR_MS;
    number.business = "acme";
    number.business_len = strlen(number.business);
    number.number = "+15550001111";
    number.number_len = strlen(number.number);
    number.channel = CONVSTATE_CHANNEL_OFFICIAL;
    number.idle_timeout_ms = -1; /* the policy's: 10 minutes */
    number.phone_number_id = "106540352242922"; /* Meta's metadata.phone_number_id */
    number.phone_number_id_len = strlen(number.phone_number_id);
    OK(convstate_engine_register_number(engine, &number));

    number.business = "globex";
    number.business_len = strlen(number.business);
    number.number = "+15550002222";
    number.number_len = strlen(number.number);
    number.phone_number_id = "106540352249999";
    number.phone_number_id_len = strlen(number.phone_number_id);
    OK(convstate_engine_register_number(engine, &number));

    memset(&template_, 0, sizeof template_);
    template_.at_ms = t0 - HOUR_MS;
    template_.business = "acme";
    template_.business_len = strlen(template_.business);
    template_.name = "ticket_update";
    template_.name_len = strlen(template_.name);
    template_.language = "en";
    template_.language_len = strlen(template_.language);
    template_.category = CONVSTATE_CATEGORY_UTILITY;
    template_.body = "Hello {{1}}, there is news on your ticket.";
    template_.body_len = strlen(template_.body);
    template_.status = CONVSTATE_TEMPLATE_APPROVED;
    OK(convstate_engine_register_template(engine, &template_));

    template_.business = "globex";
    template_.business_len = strlen(template_.business);
    template_.name = "order_ready";
    template_.name_len = strlen(template_.name);
    template_.body = "Your order {{1}} is ready.";
    template_.body_len = strlen(template_.body);
    OK(convstate_engine_register_template(engine, &template_));
  }
  /* guide:end register */

  /* guide:begin map_waba */
  OK(convstate_engine_map_waba(engine, S("102290129340398"), S("acme")));
  OK(convstate_engine_map_waba(engine, S("102290129340399"), S("globex")));
  /* guide:end map_waba */

  /* guide:begin inbound */
  OK(convstate_engine_inbound(engine, t0, acme, strlen(acme), customer, strlen(customer), NULL, 0,
                              CONVSTATE_INBOUND_TEXT, -1));
  drain_effects(engine);
  EXPECT(count_seen(CONVSTATE_EFFECT_TICKET_OPENED) == 1);
  EXPECT(count_seen(CONVSTATE_EFFECT_CHAT_STARTED) == 1);
  /* guide:end inbound */

  /* guide:begin reply_message */
  OK(convstate_message_new_text(S("We are looking into it."), &reply));
  /* guide:end reply_message */

  /* guide:begin seconds */
  /* A bug to avoid: Meta's timestamps are unix seconds, and 1793610060 ms is 1970-01-21. */
  request = request_for((t0 + MINUTE_MS) / 1000, acme, customer, reply);
  OK(convstate_engine_check_send(engine, &request, &decision)); /* not refused, */
  EXPECT(decision.verdict == CONVSTATE_VERDICT_ALLOWED);        /* and judged at the clock */
  /* guide:end seconds */

  /* guide:begin reply */
  request = request_for(t0 + 2 * MINUTE_MS, acme, customer, reply);
  request.message_id = "hd-4711-1"; /* your own id, also given to Meta (see below) */
  request.message_id_len = strlen(request.message_id);
  OK(convstate_engine_send(engine, &request, &decision));
  EXPECT(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  EXPECT(decision.billing == CONVSTATE_BILLING_FREE);
  EXPECT(decision.free_reason == CONVSTATE_FREE_SERVICE_WINDOW);
  /* guide:end reply */

  /* guide:begin timers */
  run_timers_until(engine, t0 + HOUR_MS); /* as if an hour passed */
  EXPECT(count_seen(CONVSTATE_EFFECT_CHAT_ENDED) == 1);
  EXPECT(strstr(chat_ended_line, "\"reason\":\"idle\"") != NULL);
  EXPECT(strstr(chat_ended_line, "\"missed\":false") != NULL);
  EXPECT(strstr(chat_ended_line, "\"first_response_after\":\"2m\"") != NULL);
  /* guide:end timers */

  /* guide:begin window_closed */
  request = request_for(t0 + 25 * HOUR_MS, acme, customer, reply);
  OK(convstate_engine_check_send(engine, &request, &decision));
  EXPECT(decision.verdict == CONVSTATE_VERDICT_DENIED);
  EXPECT(decision.reason == CONVSTATE_REASON_WINDOW_CLOSED);
  EXPECT(decision.instant_ms == t0 + 24 * HOUR_MS); /* when the window closed */
  EXPECT(decision.next_action == CONVSTATE_NEXT_SEND_TEMPLATE);
  /* guide:end window_closed */

  /* guide:begin no_opt_in */
  OK(convstate_message_new_template(S("ticket_update"), S("en"), &update));
  OK(convstate_message_add_param(update, S("Ann")));
  request = request_for(t0 + 25 * HOUR_MS, acme, customer, update);
  OK(convstate_engine_check_send(engine, &request, &decision));
  EXPECT(decision.verdict == CONVSTATE_VERDICT_DENIED);
  EXPECT(decision.reason == CONVSTATE_REASON_NO_OPT_IN);
  EXPECT(decision.next_action == CONVSTATE_NEXT_RECORD_OPT_IN);
  /* guide:end no_opt_in */

  /* guide:begin opt_in */
  /* The customer agreed to hear from acme (a form, the first chat...): record it once. */
  OK(convstate_engine_consent(engine, t0 + 25 * HOUR_MS, S("acme"), NULL, 0, customer,
                              strlen(customer), 1));
  request.message_id = "hd-4711-2";
  request.message_id_len = strlen(request.message_id);
  OK(convstate_engine_send(engine, &request, &decision));
  EXPECT(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  EXPECT(decision.initiated_by == CONVSTATE_INITIATED_BY_BUSINESS);
  EXPECT(decision.billing == CONVSTATE_BILLING_CHARGED);
  EXPECT(decision.charge_category == CONVSTATE_CHARGE_UTILITY);
  /* guide:end opt_in */
  drain_effects(engine);

  {
    /* guide:begin webhook */
    /* Meta's status of the template: its wamid, and our id echoed as biz_opaque_callback_data. */
    static const char STATUS[] =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
        "\"time\":1793700060,\"changes\":[{\"field\":\"messages\",\"value\":{"
        "\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550001111\","
        "\"phone_number_id\":\"106540352242922\"},\"statuses\":[{\"id\":\"wamid.HBgLNzkxMTAwMDAwMDE\","
        "\"status\":\"delivered\",\"timestamp\":\"1793700040\",\"recipient_id\":\"79110000001\","
        "\"biz_opaque_callback_data\":\"hd-4711-2\","
        "\"pricing\":{\"billable\":true,\"pricing_model\":\"PMP\",\"type\":\"regular\",\"category\":\"utility\"}}]}}]}]}";
    OK(convstate_engine_handle_webhook(engine, t0 + 25 * HOUR_MS + MINUTE_MS,
                                       (const uint8_t *)STATUS, strlen(STATUS), out));
    EXPECT(count_lines(convstate_string_ptr(out), "{\"type\":\"ack\",\"of\":\"message_status\"") == 1);
    EXPECT(strstr(convstate_string_ptr(out), "\"message_id\":\"hd-4711-2\"") != NULL);
    /* guide:end webhook */
  }

  {
    /* guide:begin webhook_errors */
    /* A status for a number no business registered: the call succeeds, the item is refused. */
    static const char STRANGER[] =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
        "\"time\":1793700060,\"changes\":[{\"field\":\"messages\",\"value\":{"
        "\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15559999999\","
        "\"phone_number_id\":\"100000000000000\"},\"statuses\":[{\"id\":\"wamid.X\","
        "\"status\":\"read\",\"timestamp\":\"1793700050\",\"recipient_id\":\"79110000001\"}]}}]}]}";
    OK(convstate_engine_handle_webhook(engine, t0 + 25 * HOUR_MS + MINUTE_MS,
                                       (const uint8_t *)STRANGER, strlen(STRANGER), out));
    EXPECT(count_lines(convstate_string_ptr(out), "{\"type\":\"error\"") == 1);
    /* guide:end webhook_errors */
  }

  {
    /* guide:begin json_errors */
    static const char TYPO[] = "{\"type\":\"opt_in\",\"at\":\"2026-11-03T10:00:00Z\",\"busines\":\"acme\"}";
    OK(convstate_engine_handle_json(engine, TYPO, strlen(TYPO), out));
    EXPECT(count_lines(convstate_string_ptr(out), "{\"type\":\"error\",\"error\":\"invalid_event\"") == 1);

    /* A typed call reports the same kind of problem by its result and convstate_last_error(). */
    EXPECT(convstate_engine_consent(engine, t0 + 25 * HOUR_MS, S("initech"), NULL, 0, customer,
                                    strlen(customer), 1) == CONVSTATE_ERR_UNKNOWN_BUSINESS);
    EXPECT(strstr(convstate_last_error(), "initech") != NULL);
    /* guide:end json_errors */
  }

  {
    /* guide:begin template_webhook */
    /* globex's template paused for 3 hours: the WABA names the business. */
    static const char PAUSED[] =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340399\","
        "\"time\":1793700120,\"changes\":[{\"field\":\"message_template_status_update\",\"value\":{"
        "\"event\":\"PAUSED\",\"message_template_id\":594425479261596,"
        "\"message_template_name\":\"order_ready\",\"message_template_language\":\"en\","
        "\"reason\":\"NONE\",\"other_info\":{\"title\":\"FIRST_PAUSE\"}}}]}]}";
    OK(convstate_engine_handle_webhook(engine, t0 + 25 * HOUR_MS + 2 * MINUTE_MS,
                                       (const uint8_t *)PAUSED, strlen(PAUSED), out));
    EXPECT(count_lines(convstate_string_ptr(out), "{\"type\":\"ack\",\"of\":\"template_status\"") == 1);
    EXPECT(count_lines(convstate_string_ptr(out),
                       "{\"type\":\"effect\",\"effect\":\"template_status_changed\",\"business\":\"globex\"") == 1);
    /* guide:end template_webhook */
  }

  /* guide:begin snapshot */
  drain_effects(engine); /* pending effects are part of the snapshot */
  EXPECT(convstate_engine_snapshot(engine, NULL, 0, &snapshot_len) == CONVSTATE_ERR_BUFFER_TOO_SMALL);
  snapshot = malloc(snapshot_len);
  EXPECT(snapshot != NULL);
  OK(convstate_engine_snapshot(engine, snapshot, snapshot_len, &snapshot_len));
  /* ... store the bytes; later, or in another process: */
  OK(convstate_engine_restore(snapshot, snapshot_len, &restored));
  free(snapshot);
  convstate_engine_free(engine); /* the restored engine carries on */
  engine = restored;
  /* guide:end snapshot */

  {
    /* guide:begin remap */
    /* globex's template rated GREEN: a WABA the restored engine does not know yet. */
    static const char QUALITY[] =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340399\","
        "\"time\":1793700180,\"changes\":[{\"field\":\"message_template_quality_update\",\"value\":{"
        "\"previous_quality_score\":\"UNKNOWN\",\"new_quality_score\":\"GREEN\","
        "\"message_template_id\":594425479261596,\"message_template_name\":\"order_ready\","
        "\"message_template_language\":\"en\"}}]}]}";
    OK(convstate_engine_handle_webhook(engine, t0 + 25 * HOUR_MS + 3 * MINUTE_MS,
                                       (const uint8_t *)QUALITY, strlen(QUALITY), out));
    EXPECT(count_lines(convstate_string_ptr(out), "{\"type\":\"unrecognized\"") == 1);

    OK(convstate_engine_map_waba(engine, S("102290129340398"), S("acme")));
    OK(convstate_engine_map_waba(engine, S("102290129340399"), S("globex")));
    OK(convstate_engine_handle_webhook(engine, t0 + 25 * HOUR_MS + 3 * MINUTE_MS,
                                       (const uint8_t *)QUALITY, strlen(QUALITY), out));
    EXPECT(count_lines(convstate_string_ptr(out), "{\"type\":\"ack\",\"of\":\"template_quality\"") == 1);
    /* guide:end remap */
  }

  /* guide:begin after_restore */
  seen_count = 0;
  run_timers_until(engine, t0 + 48 * HOUR_MS); /* the pause of 3 hours ends */
  EXPECT(count_seen(CONVSTATE_EFFECT_TEMPLATE_STATUS_CHANGED) == 1);
  /* guide:end after_restore */

  /* guide:begin free */
  convstate_message_free(update);
  convstate_message_free(reply);
  convstate_string_free(out);
  convstate_engine_free(engine);
  /* guide:end free */
  printf("guide_helpdesk: all checks passed\n");
  return 0;
}
