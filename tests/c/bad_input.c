/*
 * The bad-input catalogue, C surface: NULL pointers, zero-length and invalid UTF-8 strings,
 * out-of-range codes and instants, buffers too small for the output (the call says how large
 * it must be), corrupt snapshots, and bad lines through the JSON door. Each case checks the
 * exact result code (or the JSON door's exact error code) and that the engine's snapshot is
 * byte-identical afterwards. Run under valgrind (and AddressSanitizer) by scripts/test-ffi.sh.
 * The Rust and Python parts: core/tests/bad_input.rs, python/tests/test_bad_input.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Failures are counted by check.h's `failures`; each case here also counts itself. */
static int cases = 0;

static const char NUMBER[] = "+15550001111";
static const char CONTACT[] = "+79110000001";
static const char BAD_UTF8[] = {'+', '7', (char)0xC3, (char)0x28};
/* 2026-11-02T09:05:00Z */
static const int64_t T1 = 1793610300000;

static const char *SETUP[] = {
    "{\"type\":\"register_template\",\"at\":\"2026-11-02T07:00:00Z\",\"business\":\"acme\","
    "\"name\":\"order_ready\",\"language\":\"en\",\"category\":\"utility\","
    "\"body\":\"Your order {{1}} is ready.\",\"status\":\"approved\",\"quality\":\"high\"}",
    "{\"type\":\"register_number\",\"at\":\"2026-11-02T08:00:00Z\",\"business\":\"acme\","
    "\"number\":\"+15550001111\",\"channel\":\"official\"}",
    "{\"type\":\"inbound\",\"at\":\"2026-11-02T09:00:00Z\",\"number\":\"+15550001111\","
    "\"contact\":\"+79110000001\",\"kind\":\"text\"}",
};

/* The engine's snapshot in a fresh malloc'd buffer (exact size, asked for first). Takes the
   engine const, as a read-only call does (-Werror: a header taking it non-const fails here). */
static uint8_t *snapshot_of(const convstate_engine *engine, size_t *len) {
  size_t needed = 0, written = 0;
  uint8_t *bytes;
  if (convstate_engine_snapshot(engine, NULL, 0, &needed) != CONVSTATE_ERR_BUFFER_TOO_SMALL) return NULL;
  bytes = malloc(needed);
  if (!bytes) return NULL;
  if (convstate_engine_snapshot(engine, bytes, needed, &written) != CONVSTATE_OK || written != needed) {
    free(bytes);
    return NULL;
  }
  *len = written;
  return bytes;
}

/* A fresh engine with the setup applied and its effects drained. */
static convstate_engine *fresh_engine(void) {
  convstate_engine *engine = NULL;
  convstate_string *out = NULL;
  uint8_t line[2048];
  size_t written = 0, i;
  convstate_effect_kind kind = CONVSTATE_EFFECT_NONE;
  if (convstate_engine_new(S("cloud-2025"), NULL, 0, &engine) != CONVSTATE_OK) return NULL;
  convstate_string_new(&out);
  for (i = 0; i < sizeof SETUP / sizeof SETUP[0]; i++) {
    convstate_engine_handle_json(engine, SETUP[i], strlen(SETUP[i]), out);
    if (strstr(convstate_string_ptr(out), "\"type\":\"error\"")) {
      fprintf(stderr, "setup line %zu refused: %s", i, convstate_string_ptr(out));
      failures++;
    }
  }
  convstate_string_free(out);
  do {
    convstate_engine_poll_effect(engine, line, sizeof line, &written, &kind);
  } while (kind != CONVSTATE_EFFECT_NONE);
  return engine;
}

/* One case: what it did, the result it must give, the result it gave, and the engine it ran
 * on, whose state must equal `before`. */
static void expect(const char *name, convstate_result expected, convstate_result actual,
                   convstate_engine *engine, const uint8_t *before, size_t before_len) {
  size_t after_len = 0;
  uint8_t *after;
  cases++;
  if (actual != expected) {
    fprintf(stderr, "%s: returned %s, expected %s (last error: %s)\n", name,
            convstate_result_name(actual), convstate_result_name(expected), convstate_last_error());
    failures++;
  }
  if (!engine) return;
  after = snapshot_of(engine, &after_len);
  if (!after || after_len != before_len || memcmp(after, before, before_len) != 0) {
    fprintf(stderr, "%s: the engine's state changed\n", name);
    failures++;
  }
  free(after);
}

#define CASE(name, expected, call)                                   \
  do {                                                               \
    convstate_engine *engine = fresh_engine();                       \
    size_t before_len = 0;                                           \
    uint8_t *before = snapshot_of(engine, &before_len);              \
    convstate_result rc = (call);                                    \
    expect(name, expected, rc, engine, before, before_len);          \
    free(before);                                                    \
    convstate_engine_free(engine);                                   \
  } while (0)

/* ---- the JSON door: lines the engine refuses with an exact error code ---------------- */

static const struct {
  const char *name;
  const char *line;
  const char *error;
} JSON_CASES[] = {
    {"json: empty line", "", "invalid_event"},
    {"json: not JSON", "hello", "invalid_event"},
    {"json: truncated", "{\"type\":\"inbound\",\"at\":", "invalid_event"},
    {"json: unknown event type", "{\"type\":\"explode\",\"at\":0}", "invalid_event"},
    {"json: at is a string of junk", "{\"type\":\"tick\",\"at\":\"soon\"}", "invalid_event"},
    {"json: at negative", "{\"type\":\"tick\",\"at\":-1}", "invalid_event"},
    {"json: at overflowing i64", "{\"type\":\"tick\",\"at\":9223372036854775808}", "invalid_event"},
    {"json: unknown enum value",
     "{\"type\":\"inbound\",\"at\":0,\"number\":\"+15550001111\",\"contact\":\"+79110000001\",\"kind\":\"smoke\"}",
     "invalid_event"},
    {"json: unknown number",
     "{\"type\":\"inbound\",\"at\":\"2026-11-02T09:05:00Z\",\"number\":\"+15559999999\",\"contact\":\"+79110000001\",\"kind\":\"text\"}",
     "unknown_number"},
    {"json: absurd phone number",
     "{\"type\":\"inbound\",\"at\":\"2026-11-02T09:05:00Z\",\"number\":\"+15550001111\",\"contact\":\"+99999999999999999999999\",\"kind\":\"text\"}",
     "invalid_phone_number"},
    {"json: broken template variable",
     "{\"type\":\"register_template\",\"at\":\"2026-11-02T09:05:00Z\",\"business\":\"acme\",\"name\":\"x\",\"language\":\"en\",\"category\":\"utility\",\"body\":\"Hi {{1\"}",
     "invalid_template"},
};

static convstate_result json_line(convstate_engine *engine, const char *line, size_t len, const char *error) {
  convstate_string *out = NULL;
  char wanted[128];
  convstate_result rc;
  convstate_string_new(&out);
  rc = convstate_engine_handle_json(engine, line, len, out);
  snprintf(wanted, sizeof wanted, "{\"type\":\"error\",\"error\":\"%s\"", error);
  if (rc == CONVSTATE_OK && strncmp(convstate_string_ptr(out), wanted, strlen(wanted)) != 0) {
    fprintf(stderr, "expected %s, got %s", wanted, convstate_string_ptr(out));
    rc = CONVSTATE_ERR_OTHER;
  } else if (rc == CONVSTATE_OK && strchr(convstate_string_ptr(out), '\n') != convstate_string_ptr(out) + convstate_string_len(out) - 1) {
    fprintf(stderr, "a refused line came with effects: %s", convstate_string_ptr(out));
    rc = CONVSTATE_ERR_OTHER;
  }
  convstate_string_free(out);
  return rc;
}

/* The JSON door's own call errors leave `out` as it was. */
static convstate_result json_door_keeps_output(convstate_engine *engine, const char *line, size_t len) {
  convstate_string *out = NULL;
  convstate_result rc;
  convstate_string_new(&out);
  convstate_engine_handle_json(engine, S("{\"type\":\"tick\",\"at\":0}"), out);
  rc = convstate_engine_handle_json(engine, line, len, out);
  if (strcmp(convstate_string_ptr(out), "{\"type\":\"ack\",\"of\":\"tick\"}\n") != 0) {
    fprintf(stderr, "a failed call changed the output string: %s", convstate_string_ptr(out));
    rc = CONVSTATE_ERR_OTHER;
  }
  convstate_string_free(out);
  return rc;
}

/* ---- typed calls -------------------------------------------------------------------- */

static convstate_result inbound(convstate_engine *engine, int64_t at_ms, const char *contact,
                                size_t contact_len, uint32_t kind) {
  return convstate_engine_inbound(engine, at_ms, NUMBER, strlen(NUMBER), contact, contact_len, NULL, 0,
                                  kind, -1);
}

/* The typed-struct inbound from `contact` (or NULL) with the user id `user_id` beside it. */
static convstate_result inbound_with_user_id(convstate_engine *engine, const char *contact, const char *user_id,
                                             size_t user_id_len) {
  convstate_inbound r = typed_inbound(NUMBER, T1, contact, CONVSTATE_INBOUND_TEXT, user_id, user_id_len);
  return convstate_engine_inbound_ex(engine, &r, NULL);
}

static convstate_send_request request_with(const convstate_message *message) {
  convstate_send_request r;
  memset(&r, 0, sizeof r);
  r.at_ms = T1;
  r.number = NUMBER;
  r.number_len = strlen(NUMBER);
  r.contact = CONTACT;
  r.contact_len = strlen(CONTACT);
  r.message = message;
  return r;
}

static convstate_result send_with_null_out(convstate_engine *engine) {
  convstate_message *text = NULL;
  convstate_send_request request;
  convstate_result rc;
  convstate_message_new_text(S("Hi"), &text);
  request = request_with(text);
  rc = convstate_engine_send(engine, &request, NULL);
  convstate_message_free(text);
  return rc;
}

static convstate_result send_without_message(convstate_engine *engine) {
  convstate_send_request request = request_with(NULL);
  convstate_decision decision;
  return convstate_engine_send(engine, &request, &decision);
}

static convstate_result send_with_contact_and_group(convstate_engine *engine) {
  convstate_message *text = NULL;
  convstate_send_request request;
  convstate_decision decision;
  convstate_result rc;
  convstate_message_new_text(S("Hi"), &text);
  request = request_with(text);
  request.group = "120363043211234567@g.us";
  request.group_len = strlen(request.group);
  rc = convstate_engine_send(engine, &request, &decision);
  convstate_message_free(text);
  return rc;
}

/* Too many parameters: a successful call whose decision is a denial (not an error); the
 * counts are only in the JSON door's decision (the header says so). */
static convstate_result check_send_with_too_many_params(convstate_engine *engine) {
  convstate_message *template_ = NULL;
  convstate_send_request request;
  convstate_decision decision;
  convstate_result rc;
  int i;
  convstate_message_new_template(S("order_ready"), S("en"), &template_);
  for (i = 0; i < 100; i++) convstate_message_add_param(template_, S("x"));
  request = request_with(template_);
  rc = convstate_engine_check_send(engine, &request, &decision);
  if (rc == CONVSTATE_OK && (decision.verdict != CONVSTATE_VERDICT_DENIED ||
                             decision.reason != CONVSTATE_REASON_TEMPLATE_PARAMS)) {
    fprintf(stderr, "too many parameters: verdict %d reason %s limit %llu actual %llu\n", (int)decision.verdict,
            convstate_reason_name(decision.reason), (unsigned long long)decision.limit,
            (unsigned long long)decision.actual);
    rc = CONVSTATE_ERR_OTHER;
  }
  convstate_message_free(template_);
  return rc;
}

static convstate_result register_number_with(convstate_engine *engine, uint32_t channel, int64_t idle_timeout_ms) {
  convstate_number_registration r;
  memset(&r, 0, sizeof r);
  r.at_ms = T1;
  r.business = "acme";
  r.business_len = 4;
  r.number = "+15550002222";
  r.number_len = strlen(r.number);
  r.channel = channel;
  r.idle_timeout_ms = idle_timeout_ms;
  return convstate_engine_register_number(engine, &r);
}

static convstate_result register_template_with_body(convstate_engine *engine, const char *body, size_t body_len) {
  convstate_template_registration r;
  memset(&r, 0, sizeof r);
  r.at_ms = T1;
  r.business = "acme";
  r.business_len = 4;
  r.name = "broken";
  r.name_len = strlen(r.name);
  r.language = "en";
  r.language_len = 2;
  r.category = CONVSTATE_CATEGORY_UTILITY;
  r.body = body;
  r.body_len = body_len;
  return convstate_engine_register_template(engine, &r);
}

static convstate_result engine_new_with_overrides(const char *overrides) {
  convstate_engine *created = NULL;
  convstate_result rc = convstate_engine_new(S("classic"), overrides, strlen(overrides), &created);
  convstate_engine_free(created);
  return rc;
}

/* A pending effect and a buffer too small: the call names the size needed, the effect stays
 * pending, and a buffer of exactly that size then receives it. */
static convstate_result poll_effect_too_small(convstate_engine *engine, size_t capacity, int use_null) {
  uint8_t buffer[4096];
  size_t needed = 12345, written = 0;
  convstate_effect_kind kind = CONVSTATE_EFFECT_NONE;
  convstate_result rc = convstate_engine_poll_effect(engine, use_null ? NULL : buffer, capacity, &needed, &kind);
  if (rc != CONVSTATE_ERR_BUFFER_TOO_SMALL) return rc;
  if (kind == CONVSTATE_EFFECT_NONE) {
    fprintf(stderr, "poll_effect named no kind for the effect that did not fit\n");
    return CONVSTATE_ERR_OTHER;
  }
  if (needed <= capacity || needed > sizeof buffer) {
    fprintf(stderr, "poll_effect named %zu bytes as needed for capacity %zu\n", needed, capacity);
    return CONVSTATE_ERR_OTHER;
  }
  /* The effect is still there: not consumed. */
  if (convstate_engine_poll_effect(engine, buffer, needed - 1, &written, &kind) != CONVSTATE_ERR_BUFFER_TOO_SMALL ||
      written != needed) {
    fprintf(stderr, "a second too-small poll did not name the same size\n");
    return CONVSTATE_ERR_OTHER;
  }
  return rc;
}

/* An engine with one pending effect (an ended chat), for the buffer cases. */
static convstate_engine *engine_with_effect(void) {
  convstate_engine *engine = fresh_engine();
  convstate_engine_end_chat(engine, T1, NUMBER, strlen(NUMBER), CONTACT, strlen(CONTACT), CONVSTATE_ENDED_BY_AGENT,
                            CONVSTATE_TICKET_OPEN);
  return engine;
}

static void buffer_cases(void) {
  convstate_engine *engine = engine_with_effect();
  size_t before_len = 0, written = 0;
  uint8_t *before = snapshot_of(engine, &before_len);
  uint8_t small[16];
  uint8_t line[4096];
  convstate_effect_kind kind = CONVSTATE_EFFECT_NONE;

  expect("poll_effect: zero capacity, NULL buffer", CONVSTATE_ERR_BUFFER_TOO_SMALL,
         poll_effect_too_small(engine, 0, 1), engine, before, before_len);
  expect("poll_effect: 16-byte buffer", CONVSTATE_ERR_BUFFER_TOO_SMALL, poll_effect_too_small(engine, 16, 0),
         engine, before, before_len);
  expect("poll_effect: NULL written", CONVSTATE_ERR_NULL_ARGUMENT,
         convstate_engine_poll_effect(engine, line, sizeof line, NULL, &kind), engine, before, before_len);
  expect("poll_effect: NULL kind", CONVSTATE_ERR_NULL_ARGUMENT,
         convstate_engine_poll_effect(engine, line, sizeof line, &written, NULL), engine, before, before_len);
  expect("poll_effect: NULL buffer with a capacity", CONVSTATE_ERR_NULL_ARGUMENT,
         convstate_engine_poll_effect(engine, NULL, 64, &written, &kind), engine, before, before_len);
  written = 0;
  expect("snapshot: 16-byte buffer names the size", CONVSTATE_ERR_BUFFER_TOO_SMALL,
         convstate_engine_snapshot(engine, small, sizeof small, &written), engine, before, before_len);
  cases++;
  if (written != before_len) {
    fprintf(stderr, "snapshot: too small named %zu, the snapshot is %zu bytes\n", written, before_len);
    failures++;
  }
  expect("snapshot: NULL written", CONVSTATE_ERR_NULL_ARGUMENT,
         convstate_engine_snapshot(engine, small, sizeof small, NULL), engine, before, before_len);
  /* A capacity no buffer can have (a negative ssize_t cast to size_t, say) is refused as
   * input lengths are, before anything is written: the library would otherwise write past
   * the caller's buffer whenever the output is longer than the buffer really is. Here the
   * buffers are large enough, so a library that takes the capacity only returns OK. */
  {
    uint8_t *roomy = malloc(before_len);
    size_t untouched = 12345;
    kind = CONVSTATE_EFFECT_OTHER;
    expect("snapshot: capacity SIZE_MAX", CONVSTATE_ERR_INVALID_ARGUMENT,
           convstate_engine_snapshot(engine, roomy, SIZE_MAX, &untouched), engine, before, before_len);
    expect("poll_effect: capacity SIZE_MAX (the effect stays pending)", CONVSTATE_ERR_INVALID_ARGUMENT,
           convstate_engine_poll_effect(engine, line, SIZE_MAX, &untouched, &kind), engine, before, before_len);
    cases++;
    if (untouched != 12345 || kind != CONVSTATE_EFFECT_OTHER) {
      fprintf(stderr, "a refused capacity wrote *written (%zu) or *kind (%u)\n", untouched, (unsigned)kind);
      failures++;
    }
    free(roomy);
  }
  /* After all that, the effect is delivered whole into a buffer of the named size. */
  cases++;
  if (convstate_engine_poll_effect(engine, line, sizeof line, &written, &kind) != CONVSTATE_OK ||
      kind == CONVSTATE_EFFECT_NONE || memcmp(line, "{\"type\":\"effect\"", 16) != 0) {
    fprintf(stderr, "the pending effect was lost after the too-small calls\n");
    failures++;
  }
  free(before);
  convstate_engine_free(engine);
}

static void snapshot_cases(void) {
  convstate_engine *engine = fresh_engine();
  convstate_engine *restored = (convstate_engine *)&failures; /* poison: must stay untouched */
  size_t len = 0;
  uint8_t *bytes = snapshot_of(engine, &len);
  uint8_t *flipped = malloc(len);
  cases += 5;
  if (!bytes || !flipped) {
    failures++;
    return;
  }
  if (convstate_engine_restore(NULL, 10, &restored) != CONVSTATE_ERR_NULL_ARGUMENT) {
    fprintf(stderr, "restore: NULL bytes\n");
    failures++;
  }
  if (convstate_engine_restore(bytes, 0, &restored) != CONVSTATE_ERR_CORRUPT_SNAPSHOT) {
    fprintf(stderr, "restore: zero-length\n");
    failures++;
  }
  if (convstate_engine_restore(bytes, len / 2, &restored) != CONVSTATE_ERR_CORRUPT_SNAPSHOT) {
    fprintf(stderr, "restore: truncated to half\n");
    failures++;
  }
  memcpy(flipped, bytes, len);
  flipped[len - 10] ^= 0x04;
  if (convstate_engine_restore(flipped, len, &restored) != CONVSTATE_ERR_CORRUPT_SNAPSHOT) {
    fprintf(stderr, "restore: a flipped bit near the end\n");
    failures++;
  }
  if (convstate_engine_restore(bytes, len, NULL) != CONVSTATE_ERR_NULL_ARGUMENT) {
    fprintf(stderr, "restore: NULL out\n");
    failures++;
  }
  if (restored != (convstate_engine *)&failures) {
    fprintf(stderr, "restore wrote *out on failure\n");
    failures++;
  }
  free(flipped);
  free(bytes);
  convstate_engine_free(engine);
}

static void message_cases(void) {
  convstate_message *message = (convstate_message *)&failures; /* poison */
  convstate_message *text = NULL;
  cases += 6;
  if (convstate_message_new_text(BAD_UTF8, sizeof BAD_UTF8, &message) != CONVSTATE_ERR_INVALID_UTF8) failures++;
  if (convstate_message_new_text(NULL, 3, &message) != CONVSTATE_ERR_NULL_ARGUMENT) failures++;
  if (convstate_message_add_param(NULL, S("x")) != CONVSTATE_ERR_NULL_ARGUMENT) failures++;
  if (convstate_message_from_json(S("{\"kind\":\"text\""), &message) != CONVSTATE_ERR_INVALID_EVENT) failures++;
  if (convstate_message_new_media(999, 0, NULL, 0, &message) != CONVSTATE_ERR_INVALID_ARGUMENT) failures++;
  if (message != (convstate_message *)&failures) {
    fprintf(stderr, "a failed message constructor wrote *out\n");
    failures++;
  }
  /* Adding a parameter to a text message is refused and leaves it usable. */
  convstate_message_new_text(S("Hi"), &text);
  cases++;
  if (convstate_message_add_param(text, S("x")) == CONVSTATE_OK) {
    fprintf(stderr, "a parameter was added to a text message\n");
    failures++;
  }
  convstate_message_free(text);
  /* Freeing NULL is a no-op; freeing twice cannot be detected by the library (the caller's
   * contract): set the pointer to NULL after freeing, as here. */
  text = NULL;
  convstate_message_free(text);
  convstate_engine_free(NULL);
  convstate_string_free(NULL);
  cases++;
  if (strcmp(convstate_result_name(7777), "CONVSTATE_UNKNOWN_RESULT") != 0) failures++;
}

/* A named parameter given twice (body or header) is refused with CONVSTATE_ERR_INVALID_ARGUMENT
 * and leaves the message as it was: its first value kept, other names still accepted, and a
 * send of it decided as one with each name once. */
static void named_param_cases(void) {
  static const char BODY[] = "Your order {{order}} is ready at {{shop}}.";
  static const char HEADER[] = "Order {{order}}";
  convstate_engine *engine = fresh_engine();
  convstate_template_registration r;
  convstate_message *message = NULL;
  convstate_send_request request;
  convstate_decision decision;
  if (!engine) {
    failures++;
    return;
  }
  r = acme_approved_template("order_named", CONVSTATE_CATEGORY_UTILITY, BODY, T1);
  r.header = HEADER;
  r.header_len = strlen(HEADER);
  cases += 7;
  if (convstate_engine_register_template(engine, &r) != CONVSTATE_OK) failures++;
  convstate_message_new_template(S("order_named"), S("en"), &message);
  if (convstate_message_add_named_param(message, S("order"), S("A-17")) != CONVSTATE_OK) failures++;
  if (convstate_message_add_named_param(message, S("order"), S("B-99")) != CONVSTATE_ERR_INVALID_ARGUMENT ||
      !strstr(convstate_last_error(), "`order` was already added")) {
    fprintf(stderr, "a repeated named parameter: %s\n", convstate_last_error());
    failures++;
  }
  if (convstate_message_add_named_header_param(message, S("order"), S("A-17")) != CONVSTATE_OK) failures++;
  if (convstate_message_add_named_header_param(message, S("order"), S("B-99")) !=
          CONVSTATE_ERR_INVALID_ARGUMENT ||
      !strstr(convstate_last_error(), "`order` was already added")) {
    fprintf(stderr, "a repeated named header parameter: %s\n", convstate_last_error());
    failures++;
  }
  /* Still usable: another name is taken, and the send fills each variable once. */
  if (convstate_message_add_named_param(message, S("shop"), S("Main St")) != CONVSTATE_OK) failures++;
  request = request_with(message);
  request.at_ms = T1 + 60000; /* inside the window the setup's inbound opened */
  if (convstate_engine_check_send(engine, &request, &decision) != CONVSTATE_OK ||
      decision.verdict != CONVSTATE_VERDICT_ALLOWED) {
    fprintf(stderr, "the message with refused repeats: verdict %d reason %s (%s)\n", (int)decision.verdict,
            convstate_reason_name(decision.reason), convstate_last_error());
    failures++;
  }
  convstate_message_free(message);
  convstate_engine_free(engine);
}

int main(void) {
  size_t i;
  convstate_decision decision;
  convstate_conversation_view view;
  convstate_string *out = NULL;
  convstate_string_new(&out);

  for (i = 0; i < sizeof JSON_CASES / sizeof JSON_CASES[0]; i++) {
    CASE(JSON_CASES[i].name, CONVSTATE_OK,
         json_line(engine, JSON_CASES[i].line, strlen(JSON_CASES[i].line), JSON_CASES[i].error));
  }
  CASE("json: line with a NUL byte", CONVSTATE_OK, json_line(engine, "{\"type\":\0}", 11, "invalid_event"));
  CASE("json: invalid UTF-8", CONVSTATE_ERR_INVALID_UTF8, json_door_keeps_output(engine, BAD_UTF8, sizeof BAD_UTF8));
  CASE("json: NULL line", CONVSTATE_ERR_NULL_ARGUMENT, json_door_keeps_output(engine, NULL, 5));
  CASE("json: NULL line of length 0", CONVSTATE_ERR_NULL_ARGUMENT, json_door_keeps_output(engine, NULL, 0));
  CASE("json: NULL out", CONVSTATE_ERR_NULL_ARGUMENT,
       convstate_engine_handle_json(engine, S("{\"type\":\"tick\",\"at\":\"2027-01-01T00:00:00Z\"}"), NULL));
  CASE("json: NULL engine", CONVSTATE_ERR_NULL_ARGUMENT,
       convstate_engine_handle_json(NULL, S("{\"type\":\"tick\",\"at\":0}"), out));

  CASE("inbound: NULL engine", CONVSTATE_ERR_NULL_ARGUMENT,
       convstate_engine_inbound(NULL, T1, NUMBER, strlen(NUMBER), CONTACT, strlen(CONTACT), NULL, 0, CONVSTATE_INBOUND_TEXT, -1));
  CASE("inbound: NULL number", CONVSTATE_ERR_NULL_ARGUMENT,
       convstate_engine_inbound(engine, T1, NULL, 12, CONTACT, strlen(CONTACT), NULL, 0, CONVSTATE_INBOUND_TEXT, -1));
  CASE("inbound: neither contact nor group", CONVSTATE_ERR_INVALID_EVENT,
       convstate_engine_inbound(engine, T1, NUMBER, strlen(NUMBER), NULL, 0, NULL, 0, CONVSTATE_INBOUND_TEXT, -1));
  CASE("inbound: invalid UTF-8 contact", CONVSTATE_ERR_INVALID_UTF8,
       inbound(engine, T1, BAD_UTF8, sizeof BAD_UTF8, CONVSTATE_INBOUND_TEXT));
  CASE("inbound: empty contact", CONVSTATE_ERR_INVALID_USER_ID, inbound(engine, T1, "", 0, CONVSTATE_INBOUND_TEXT));
  CASE("inbound: contact of 3 digits", CONVSTATE_ERR_INVALID_PHONE_NUMBER,
       inbound(engine, T1, S("+123"), CONVSTATE_INBOUND_TEXT));
  CASE("inbound: contact of 30 digits", CONVSTATE_ERR_INVALID_PHONE_NUMBER,
       inbound(engine, T1, S("+123456789012345678901234567890"), CONVSTATE_INBOUND_TEXT));
  CASE("inbound: kind 999", CONVSTATE_ERR_INVALID_ARGUMENT, inbound(engine, T1, S("+79110000001"), 999));
  CASE("inbound: kind 0", CONVSTATE_ERR_INVALID_ARGUMENT, inbound(engine, T1, S("+79110000001"), 0));
  CASE("inbound: at -1 ms", CONVSTATE_ERR_INSTANT_OUT_OF_RANGE,
       inbound(engine, -1, S("+79110000001"), CONVSTATE_INBOUND_TEXT));
  CASE("inbound: at INT64_MAX", CONVSTATE_ERR_INSTANT_OUT_OF_RANGE,
       inbound(engine, INT64_MAX, S("+79110000001"), CONVSTATE_INBOUND_TEXT));
  CASE("inbound: at INT64_MIN", CONVSTATE_ERR_INSTANT_OUT_OF_RANGE,
       inbound(engine, INT64_MIN, S("+79110000001"), CONVSTATE_INBOUND_TEXT));
  CASE("inbound: user id beside no contact", CONVSTATE_ERR_INVALID_EVENT,
       inbound_with_user_id(engine, NULL, S("US.13491208655302741918")));
  CASE("inbound: user id beside a user id, not a phone number", CONVSTATE_ERR_INVALID_EVENT,
       inbound_with_user_id(engine, "US.1", S("US.13491208655302741918")));
  CASE("inbound: user id that reads as a phone number", CONVSTATE_ERR_INVALID_USER_ID,
       inbound_with_user_id(engine, CONTACT, S("+79110000002")));
  CASE("inbound: user id with a space", CONVSTATE_ERR_INVALID_USER_ID,
       inbound_with_user_id(engine, CONTACT, S("US 1")));
  CASE("inbound: empty user id", CONVSTATE_ERR_INVALID_USER_ID, inbound_with_user_id(engine, CONTACT, "", 0));
  CASE("inbound: NULL user id with a length", CONVSTATE_ERR_NULL_ARGUMENT,
       inbound_with_user_id(engine, CONTACT, NULL, 4));
  CASE("inbound: invalid UTF-8 user id", CONVSTATE_ERR_INVALID_UTF8,
       inbound_with_user_id(engine, CONTACT, BAD_UTF8, sizeof BAD_UTF8));
  CASE("handle_timeout: at -1 ms", CONVSTATE_ERR_INSTANT_OUT_OF_RANGE, convstate_engine_handle_timeout(engine, -1));
  CASE("send: NULL request", CONVSTATE_ERR_NULL_ARGUMENT, convstate_engine_send(engine, NULL, &decision));
  CASE("send: NULL out (nothing recorded)", CONVSTATE_ERR_NULL_ARGUMENT, send_with_null_out(engine));
  CASE("send: NULL message", CONVSTATE_ERR_NULL_ARGUMENT, send_without_message(engine));
  CASE("send: contact and group", CONVSTATE_ERR_INVALID_EVENT, send_with_contact_and_group(engine));
  CASE("check_send: 100 parameters for one variable", CONVSTATE_OK, check_send_with_too_many_params(engine));
  CASE("register_number: channel 77", CONVSTATE_ERR_INVALID_ARGUMENT,
       register_number_with(engine, 77, CONVSTATE_NONE_MS));
  CASE("register_number: idle timeout INT64_MAX (refused, not clamped)", CONVSTATE_ERR_INVALID_ARGUMENT,
       register_number_with(engine, CONVSTATE_CHANNEL_OFFICIAL, INT64_MAX));
  /* Both ends of the field's range (more than 0, at most 100 years) are one mistake, an
   * argument out of range: 0 was CONVSTATE_ERR_INVALID_EVENT, the other end this. */
  CASE("register_number: idle timeout 0 (out of range, as the other end)", CONVSTATE_ERR_INVALID_ARGUMENT,
       register_number_with(engine, CONVSTATE_CHANNEL_OFFICIAL, 0));
  CASE("register_template: unclosed variable", CONVSTATE_ERR_INVALID_TEMPLATE,
       register_template_with_body(engine, S("Hello {{1")));
  CASE("register_template: variable gap", CONVSTATE_ERR_INVALID_TEMPLATE,
       register_template_with_body(engine, S("Hello {{1}} and {{3}}")));
  CASE("register_template: body starts with a variable", CONVSTATE_ERR_INVALID_TEMPLATE,
       register_template_with_body(engine, S("{{1}} is ready")));
  CASE("end_chat: ender 9", CONVSTATE_ERR_INVALID_ARGUMENT,
       convstate_engine_end_chat(engine, T1, NUMBER, strlen(NUMBER), CONTACT, strlen(CONTACT), 9, CONVSTATE_TICKET_OPEN));
  CASE("set_ticket_status: status 42", CONVSTATE_ERR_INVALID_ARGUMENT,
       convstate_engine_set_ticket_status(engine, T1, NUMBER, strlen(NUMBER), CONTACT, strlen(CONTACT), 42, 0));
  CASE("conversation: NULL out", CONVSTATE_ERR_NULL_ARGUMENT,
       convstate_engine_conversation(engine, T1, NUMBER, strlen(NUMBER), CONTACT, strlen(CONTACT), NULL));
  CASE("conversation: unknown number", CONVSTATE_ERR_UNKNOWN_NUMBER,
       convstate_engine_conversation(engine, T1, S("+15559999999"), CONTACT, strlen(CONTACT), &view));
  /* The engine keeps no history: a view before its clock (09:00) would mix then and now. */
  CASE("conversation: at before the clock", CONVSTATE_ERR_VIEW_BEFORE_CLOCK,
       convstate_engine_conversation(engine, T1 - 3600000, NUMBER, strlen(NUMBER), CONTACT, strlen(CONTACT), &view));
  CASE("engine_new: overrides not JSON", CONVSTATE_ERR_INVALID_POLICY, engine_new_with_overrides("{chat"));

  buffer_cases();
  snapshot_cases();
  message_cases();
  named_param_cases();
  convstate_string_free(out);

  printf("%d bad-input cases, %d failed\n", cases, failures);
  return failures == 0 ? 0 : 1;
}
