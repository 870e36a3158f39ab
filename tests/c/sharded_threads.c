/*
 * The thread-safe sharded engine from C: eight threads share one handle. Template sends from
 * four numbers of one business never exceed its messaging limit; threads feeding their own
 * businesses get their replies allowed, and every chat ends exactly once across the threads'
 * effects and the final timeout; threads read Meta webhooks of their own businesses at once;
 * the engine snapshots and restores; bad arguments get their codes. Run under valgrind, ASan and UBSan by scripts/test-ffi.sh.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convstate.h"

#define THREADS 8
#define SENDS_PER_THREAD 125

/* 2026-11-02T08:00:00Z */
static const int64_t T0 = 1793606400000;
static const int64_t MINUTE = 60000;
static const int64_t HOUR = 3600000;

static convstate_sharded_engine *engine = NULL;

static convstate_send_request send_request(int64_t at_ms, const char *number, const char *contact,
                                           const convstate_message *message) {
  convstate_send_request r;
  memset(&r, 0, sizeof r);
  r.at_ms = at_ms;
  r.number = number;
  r.number_len = strlen(number);
  r.contact = contact;
  r.contact_len = strlen(contact);
  r.message = message;
  return r;
}

/* A text message from `contact`. */
static convstate_inbound inbound_text(int64_t at_ms, const char *number, const char *contact) {
  convstate_inbound in;
  memset(&in, 0, sizeof in);
  in.at_ms = at_ms;
  in.number = number;
  in.number_len = strlen(number);
  in.contact = contact;
  in.contact_len = strlen(contact);
  in.kind = CONVSTATE_INBOUND_TEXT;
  in.size = -1;
  return in;
}

/* Applies one wire line; returns whether its result line is an ack. */
static int apply(const char *line, convstate_string *out) {
  if (convstate_sharded_engine_handle_json(engine, line, strlen(line), out) != CONVSTATE_OK) return 0;
  return strncmp(convstate_string_ptr(out), "{\"type\":\"ack\"", 13) == 0;
}

static size_t count(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void setup(void) {
  convstate_string *out = NULL;
  char line[512];
  int acks = 0, lines = 0;
  CHECK_RC(convstate_string_new(&out), CONVSTATE_OK);
  lines++;
  acks += apply("{\"type\":\"register_template\",\"at\":\"2026-11-02T08:00:00Z\",\"business\":\"acme\","
                "\"name\":\"order_ready\",\"language\":\"en\",\"category\":\"utility\","
                "\"body\":\"Your order {{1}} is ready.\",\"status\":\"approved\",\"quality\":\"high\"}", out);
  for (int n = 0; n < 4; n++) { /* four numbers of acme, cloud-2025: 250 new contacts a day */
    snprintf(line, sizeof line, "{\"type\":\"register_number\",\"at\":\"2026-11-02T08:00:00Z\","
             "\"business\":\"acme\",\"number\":\"+1555500000%d\",\"channel\":\"official\"}", n);
    lines++;
    acks += apply(line, out);
  }
  for (int t = 0; t < THREADS; t++) { /* one business per thread for the inbound test */
    snprintf(line, sizeof line, "{\"type\":\"register_number\",\"at\":\"2026-11-02T08:00:00Z\","
             "\"business\":\"shop%d\",\"number\":\"+1555600000%d\",\"channel\":\"official\","
             "\"phone_number_id\":\"60000%d\"}", t, t, t);
    lines++;
    acks += apply(line, out);
  }
  for (int c = 0; c < THREADS * SENDS_PER_THREAD; c++) {
    snprintf(line, sizeof line, "{\"type\":\"opt_in\",\"at\":\"2026-11-02T08:00:00Z\","
             "\"business\":\"acme\",\"contact\":\"+49151%07d\"}", c);
    lines++;
    acks += apply(line, out);
  }
  CHECK(acks == lines);
  convstate_string_free(out);
}

struct worker {
  int index;
  int allowed, denied_by_limit, other, failed; /* template sends */
  int replies_allowed, own_chats_started, chats_started, chats_ended;
  int acks; /* webhook items applied */
};

static void *send_templates(void *arg) {
  struct worker *w = arg;
  convstate_message *message = NULL;
  convstate_string *effects = NULL;
  if (convstate_message_new_template(S("order_ready"), S("en"), &message) != CONVSTATE_OK ||
      convstate_message_add_param(message, S("A-1")) != CONVSTATE_OK ||
      convstate_string_new(&effects) != CONVSTATE_OK) {
    w->failed++;
    return NULL;
  }
  for (int i = 0; i < SENDS_PER_THREAD; i++) {
    char number[16], contact[16];
    snprintf(number, sizeof number, "+1555500000%d", (w->index + i) % 4);
    snprintf(contact, sizeof contact, "+49151%07d", w->index * SENDS_PER_THREAD + i);
    convstate_send_request r = send_request(T0 + MINUTE, number, contact, message);
    convstate_decision d;
    if (convstate_sharded_engine_send(engine, &r, &d, effects) != CONVSTATE_OK) {
      w->failed++;
    } else if (d.verdict == CONVSTATE_VERDICT_ALLOWED) {
      w->allowed++;
    } else if (d.reason == CONVSTATE_REASON_LIMIT_REACHED && d.limit == 250) {
      w->denied_by_limit++;
    } else {
      w->other++;
    }
  }
  convstate_string_free(effects);
  convstate_message_free(message);
  return NULL;
}

/* Each thread's own business: a contact writes and the reply is allowed. The effects a call
 * hands back are those its input caused: the chat it started, and any chat whose idle timer
 * its input's instant fired in the same shard (possibly another thread's business). Two
 * threads share each shard here, against the advice to feed a shard from one thread: they
 * use the same instants, so whichever runs ahead, every input stays well inside its
 * window and the counts below do not depend on the interleaving. */
static void *chat(void *arg) {
  struct worker *w = arg;
  convstate_message *text = NULL;
  convstate_string *effects = NULL;
  char number[16], contact[16], own_start[96];
  snprintf(number, sizeof number, "+1555600000%d", w->index);
  snprintf(own_start, sizeof own_start, "\"effect\":\"chat_started\",\"number\":\"%s\"", number);
  if (convstate_message_new_text(S("On its way"), &text) != CONVSTATE_OK ||
      convstate_string_new(&effects) != CONVSTATE_OK) {
    w->failed++;
    return NULL;
  }
  for (int i = 0; i < 50; i++) {
    snprintf(contact, sizeof contact, "+79110%06d", i);
    convstate_inbound in = inbound_text(T0 + HOUR + i * MINUTE, number, contact);
    if (convstate_sharded_engine_inbound(engine, &in, NULL, effects) != CONVSTATE_OK) {
      w->failed++;
      continue;
    }
    const char *lines = convstate_string_ptr(effects);
    w->own_chats_started += (int)count(lines, own_start);
    w->chats_started += (int)count(lines, "\"effect\":\"chat_started\"");
    w->chats_ended += (int)count(lines, "\"effect\":\"chat_ended\"");
    convstate_send_request r = send_request(in.at_ms + 1000, number, contact, text);
    convstate_decision d;
    if (convstate_sharded_engine_check_send(engine, &r, &d) != CONVSTATE_OK ||
        d.verdict != CONVSTATE_VERDICT_ALLOWED) {
      w->failed++;
      continue;
    }
    if (convstate_sharded_engine_send(engine, &r, &d, effects) == CONVSTATE_OK &&
        d.verdict == CONVSTATE_VERDICT_ALLOWED) {
      w->replies_allowed++;
      w->chats_ended += (int)count(convstate_string_ptr(effects), "\"effect\":\"chat_ended\"");
    }
  }
  convstate_string_free(effects);
  convstate_message_free(text);
  return NULL;
}

/* Each thread's own business again, through the webhook door: Meta delivers a contact's
 * message (the number found by its phone_number_id alone in whichever shard holds it: the
 * display number is written as no registered number);
 * the window runs from the message's own timestamp, so the reply a second later is allowed. */
static void *webhook_chat(void *arg) {
  struct worker *w = arg;
  convstate_message *text = NULL;
  convstate_string *lines = NULL;
  char number[16], contact[16], body[640], own_start[96];
  snprintf(number, sizeof number, "+1555600000%d", w->index);
  snprintf(own_start, sizeof own_start, "\"effect\":\"chat_started\",\"number\":\"%s\"", number);
  if (convstate_message_new_text(S("On its way"), &text) != CONVSTATE_OK ||
      convstate_string_new(&lines) != CONVSTATE_OK) {
    w->failed++;
    return NULL;
  }
  for (int i = 0; i < 20; i++) {
    int64_t at_ms = T0 + 33 * HOUR + i * MINUTE;
    snprintf(contact, sizeof contact, "+79120%06d", i);
    snprintf(body, sizeof body,
             "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{"
             "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
             "\"display_phone_number\":\"1 555 999 0000\",\"phone_number_id\":\"60000%d\"},"
             "\"messages\":[{\"from\":\"%s\",\"id\":\"wamid.%d.%d\",\"timestamp\":\"%lld\","
             "\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}",
             w->index, contact + 1, w->index, i, (long long)(at_ms / 1000));
    /* received an hour late: only the message's own timestamp counts */
    if (convstate_sharded_engine_handle_webhook(engine, at_ms + HOUR, (const uint8_t *)body, strlen(body),
                                                lines) != CONVSTATE_OK) {
      w->failed++;
      continue;
    }
    const char *out = convstate_string_ptr(lines);
    w->acks += (int)count(out, "{\"type\":\"ack\",\"of\":\"inbound\"");
    w->own_chats_started += (int)count(out, own_start);
    convstate_send_request r = send_request(at_ms + 1000, number, contact, text);
    convstate_decision d;
    if (convstate_sharded_engine_send(engine, &r, &d, NULL) == CONVSTATE_OK &&
        d.verdict == CONVSTATE_VERDICT_ALLOWED) {
      w->replies_allowed++;
    }
  }
  convstate_string_free(lines);
  convstate_message_free(text);
  return NULL;
}

static void run_threads(void *(*body)(void *), struct worker *workers) {
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) {
    memset(&workers[t], 0, sizeof workers[t]);
    workers[t].index = t;
    CHECK(pthread_create(&threads[t], NULL, body, &workers[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
}

int main(void) {
  struct worker workers[THREADS];
  CHECK_RC(convstate_sharded_engine_new(S("cloud-2025"), NULL, 0, 4, &engine), CONVSTATE_OK);
  setup();

  run_threads(send_templates, workers);
  int allowed = 0, limited = 0;
  for (int t = 0; t < THREADS; t++) {
    CHECK(workers[t].failed == 0 && workers[t].other == 0);
    allowed += workers[t].allowed;
    limited += workers[t].denied_by_limit;
  }
  CHECK(allowed == 250); /* exactly the business's limit, from four numbers and eight threads */
  CHECK(limited == THREADS * SENDS_PER_THREAD - 250);
  { /* The typed views read the business's shard: the limit every number shares is full. */
    int64_t clock = 0;
    convstate_limit_view limit;
    convstate_number_view number;
    convstate_template_view template_;
    convstate_conversation_view view;
    CHECK_RC(convstate_sharded_engine_clock(engine, &clock), CONVSTATE_OK);
    CHECK(clock >= T0);
    CHECK_RC(convstate_sharded_engine_limit(engine, clock, S("+15555000003"), &limit), CONVSTATE_OK);
    CHECK(limit.scope == CONVSTATE_LIMIT_SCOPE_BUSINESS && limit.limit == 250 && limit.used == 250);
    CHECK_RC(convstate_sharded_engine_number_at(engine, clock, S("+15555000003"), &number), CONVSTATE_OK);
    CHECK(number.quality == CONVSTATE_QUALITY_UNKNOWN && number.restrictions_len == 0);
    CHECK_RC(convstate_sharded_engine_template_at(engine, clock, S("acme"), S("order_ready"), S("en"), &template_),
             CONVSTATE_OK);
    CHECK(template_.status == CONVSTATE_TEMPLATE_APPROVED && template_.quality == CONVSTATE_QUALITY_HIGH);
    /* At the shard's own clock: never refused, whatever other threads do meanwhile. */
    CHECK_RC(convstate_sharded_engine_number(engine, S("+15555000003"), &number), CONVSTATE_OK);
    CHECK(number.sends_allowed + number.sends_denied > 0);
    CHECK_RC(convstate_sharded_engine_template(engine, S("acme"), S("order_ready"), S("en"), &template_),
             CONVSTATE_OK);
    CHECK(template_.status == CONVSTATE_TEMPLATE_APPROVED);
    CHECK_RC(convstate_sharded_engine_conversation(engine, clock, S("+15555000000"), S("+491510000000"), &view),
             CONVSTATE_OK);
    CHECK(view.opted_in && !view.window_open);
    CHECK_RC(convstate_sharded_engine_limit(engine, clock, S("+19999999999"), &limit), CONVSTATE_ERR_UNKNOWN_NUMBER);
    { /* The business's month, from its shard: the 250 templates charged as utility. */
      convstate_usage_view usage;
      CHECK_RC(convstate_sharded_engine_usage(engine, NULL, 0, S("acme"), S("2026-11"), &usage), CONVSTATE_OK);
      CHECK(usage.month == 202611 && usage.charged_utility == 250 && usage.cost_micros == -1 &&
            usage.unpriced == 0);
      CHECK_RC(convstate_sharded_engine_usage(engine, NULL, 0, NULL, 0, S("2026-11"), &usage),
               CONVSTATE_ERR_INVALID_ARGUMENT);
    }
  }

  run_threads(chat, workers);
  int ended = 0;
  for (int t = 0; t < THREADS; t++) {
    CHECK(workers[t].failed == 0);
    CHECK(workers[t].replies_allowed == 50);
    CHECK(workers[t].own_chats_started == 50 && workers[t].chats_started == 50);
    ended += workers[t].chats_ended;
  }

  /* The live chats go idle: the earliest deadline over the shards, then every chat ends. */
  int64_t deadline = 0;
  convstate_string *effects = NULL;
  CHECK_RC(convstate_string_new(&effects), CONVSTATE_OK);
  CHECK_RC(convstate_sharded_engine_poll_timeout(engine, &deadline), CONVSTATE_OK);
  CHECK(deadline > T0 + HOUR && deadline != CONVSTATE_NONE_MS);
  CHECK_RC(convstate_sharded_engine_handle_timeout(engine, T0 + 30 * HOUR, effects), CONVSTATE_OK);
  ended += (int)count(convstate_string_ptr(effects), "\"effect\":\"chat_ended\"");
  CHECK(ended == THREADS * 50); /* every chat ended once, none lost between threads */
  CHECK(convstate_string_len(effects) == strlen(convstate_string_ptr(effects)));
  /* A call refused at any step, even before the engine ran, still replaces the string: a host
   * acting on it whatever the result never sees these effects twice. */
  CHECK(convstate_string_len(effects) > 0);
  CHECK_RC(convstate_sharded_engine_handle_timeout(engine, -1, effects), CONVSTATE_ERR_INSTANT_OUT_OF_RANGE);
  CHECK(convstate_string_len(effects) == 0);
  CHECK_RC(convstate_sharded_engine_handle_timeout(engine, T0 + 30 * HOUR, effects), CONVSTATE_OK);

  /* Each business's shard, the same on every call and within the shard count. */
  for (int t = 0; t < THREADS; t++) {
    char business[8];
    uint32_t shard = 99, again = 98;
    snprintf(business, sizeof business, "shop%d", t);
    CHECK_RC(convstate_sharded_engine_shard_of_business(engine, business, strlen(business), &shard), CONVSTATE_OK);
    CHECK_RC(convstate_sharded_engine_shard_of_business(engine, business, strlen(business), &again), CONVSTATE_OK);
    CHECK(shard < 4 && shard == again);
  }

  /* Bad arguments: codes, and out-parameters left alone. */
  convstate_sharded_engine *sentinel = (convstate_sharded_engine *)&failures;
  convstate_sharded_engine *none = sentinel;
  CHECK_RC(convstate_sharded_engine_new(S("cloud-2025"), NULL, 0, 0, &none), CONVSTATE_ERR_INVALID_ARGUMENT);
  CHECK(none == sentinel && strstr(convstate_last_error(), "`shards` is 0, not 1..=4096") != NULL);
  CHECK_RC(convstate_sharded_engine_new(S("cloud-2025"), NULL, 0, 5000, &none), CONVSTATE_ERR_INVALID_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_new(S("no-such-preset"), NULL, 0, 2, &none), CONVSTATE_ERR_UNKNOWN_POLICY);
  CHECK_RC(convstate_sharded_engine_new(S("cloud-2025"), /* a currency too long for the C structs */
                                        S("{\"pricing\":{\"rate_card\":{\"currency\":\"DOGECOIN\",\"markets\":{},"
                                          "\"rates\":{\"other\":{\"marketing\":\"1\"}}}}}"),
                                        2, &none),
           CONVSTATE_ERR_INVALID_POLICY);
  CHECK(strstr(convstate_last_error(), "DOGECOIN") != NULL);
  CHECK(none == sentinel);
  CHECK_RC(convstate_sharded_engine_shard_of_business(NULL, S("acme"), NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_shard_of_business(engine, S("acme"), NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_handle_json(NULL, S("{}"), effects), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_handle_json(engine, S("{}"), NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_poll_timeout(engine, NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  convstate_inbound unknown = inbound_text(T0 + 31 * HOUR, "+19999999999", "+79110000001");
  CHECK_RC(convstate_sharded_engine_inbound(engine, &unknown, NULL, effects), CONVSTATE_ERR_UNKNOWN_NUMBER);
  CHECK(convstate_string_len(effects) == 0); /* refused before any timer fired: no effects */
  CHECK_RC(convstate_sharded_engine_inbound(NULL, &unknown, NULL, effects), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_inbound(engine, NULL, NULL, effects), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK(convstate_string_len(effects) == 0);

  /* The provider delivers a message again: the flag says so, and the call causes nothing. */
  convstate_inbound twice = inbound_text(T0 + 31 * HOUR, "+15556000000", "+79119999999");
  twice.message_id = "wamid.twice";
  twice.message_id_len = strlen(twice.message_id);
  bool redelivered = true;
  CHECK_RC(convstate_sharded_engine_inbound(engine, &twice, &redelivered, effects), CONVSTATE_OK);
  CHECK(!redelivered && strstr(convstate_string_ptr(effects), "\"effect\":\"chat_started\"") != NULL);
  CHECK_RC(convstate_sharded_engine_inbound(engine, &twice, &redelivered, effects), CONVSTATE_OK);
  CHECK(redelivered && convstate_string_len(effects) == 0);

  /* A failed send or check leaves the decision as it was. */
  convstate_message *hello = NULL;
  CHECK_RC(convstate_message_new_text(S("Hello"), &hello), CONVSTATE_OK);
  convstate_send_request bad = send_request(T0 + 31 * HOUR, "+19999999999", "+79110000001", hello);
  convstate_decision poisoned, decision;
  memset(&poisoned, 0xAB, sizeof poisoned);
  decision = poisoned;
  CHECK_RC(convstate_sharded_engine_send(engine, &bad, &decision, effects), CONVSTATE_ERR_UNKNOWN_NUMBER);
  CHECK_RC(convstate_sharded_engine_check_send(engine, &bad, &decision), CONVSTATE_ERR_UNKNOWN_NUMBER);
  CHECK(memcmp(&decision, &poisoned, sizeof decision) == 0);
  bad = send_request(T0 + 31 * HOUR, "+15556000000", "+79110000001", hello);
  CHECK_RC(convstate_sharded_engine_send(engine, &bad, NULL, effects), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_check_send(engine, NULL, &decision), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_send(NULL, &bad, &decision, effects), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK(memcmp(&decision, &poisoned, sizeof decision) == 0);
  CHECK_RC(convstate_sharded_engine_check_send(engine, &bad, &decision), CONVSTATE_OK);
  /* written now: the contact wrote 30 hours before, so the window is closed */
  CHECK(decision.verdict == CONVSTATE_VERDICT_DENIED && decision.reason == CONVSTATE_REASON_WINDOW_CLOSED);
  convstate_message_free(hello);
  CHECK(apply("{\"type\":\"query_usage\",\"at\":\"2026-11-03T15:00:00Z\",\"business\":\"acme\"}", effects) == 0);
  CHECK(strstr(convstate_string_ptr(effects), "\"type\":\"usage\"") != NULL);

  /* Snapshot and restore: the copy writes the same snapshot and answers the same. */
  convstate_string *snapshot = NULL, *again = NULL, *answer = NULL;
  convstate_sharded_engine *copy = NULL;
  CHECK_RC(convstate_string_new(&snapshot), CONVSTATE_OK);
  CHECK_RC(convstate_string_new(&again), CONVSTATE_OK);
  CHECK_RC(convstate_string_new(&answer), CONVSTATE_OK);
  CHECK_RC(convstate_sharded_engine_snapshot(engine, snapshot), CONVSTATE_OK);
  CHECK(count(convstate_string_ptr(snapshot), "\n") == 5); /* a header and four shards */
  CHECK_RC(convstate_sharded_engine_restore((const uint8_t *)convstate_string_ptr(snapshot),
                                            convstate_string_len(snapshot), &copy),
           CONVSTATE_OK);
  uint32_t shards = 0;
  CHECK_RC(convstate_sharded_engine_shard_count(copy, &shards), CONVSTATE_OK);
  CHECK(shards == 4);
  CHECK_RC(convstate_sharded_engine_shard_count(copy, NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_snapshot(copy, again), CONVSTATE_OK);
  CHECK(convstate_string_len(again) == convstate_string_len(snapshot) &&
        memcmp(convstate_string_ptr(again), convstate_string_ptr(snapshot), convstate_string_len(again)) == 0);
  const char *usage = "{\"type\":\"query_usage\",\"at\":\"2026-11-03T16:00:00Z\",\"business\":\"acme\"}";
  CHECK_RC(convstate_sharded_engine_handle_json(engine, usage, strlen(usage), effects), CONVSTATE_OK);
  CHECK_RC(convstate_sharded_engine_handle_json(copy, usage, strlen(usage), answer), CONVSTATE_OK);
  CHECK(strcmp(convstate_string_ptr(effects), convstate_string_ptr(answer)) == 0);
  convstate_sharded_engine *untouched = sentinel;
  CHECK_RC(convstate_sharded_engine_restore((const uint8_t *)convstate_string_ptr(snapshot),
                                            convstate_string_len(snapshot) - 10, &untouched),
           CONVSTATE_ERR_CORRUPT_SNAPSHOT);
  CHECK(untouched == sentinel && strstr(convstate_last_error(), "checksum mismatch") != NULL);
  CHECK_RC(convstate_sharded_engine_restore(NULL, 3, &untouched), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK(untouched == sentinel);
  CHECK_RC(convstate_sharded_engine_restore((const uint8_t *)convstate_string_ptr(snapshot),
                                            convstate_string_len(snapshot), NULL),
           CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_snapshot(engine, NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_snapshot(NULL, again), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK(convstate_string_len(again) == convstate_string_len(snapshot)); /* left as it was */
  convstate_sharded_engine_free(copy);

  run_threads(webhook_chat, workers);
  for (int t = 0; t < THREADS; t++) {
    CHECK(workers[t].failed == 0);
    CHECK(workers[t].acks == 20 && workers[t].own_chats_started == 20);
    CHECK(workers[t].replies_allowed == 20);
  }
  /* A body that is not a webhook is an error line; the call itself is fine. */
  CHECK_RC(convstate_sharded_engine_handle_webhook(engine, T0 + 34 * HOUR, (const uint8_t *)"[1]", 3, answer),
           CONVSTATE_OK);
  const char *not_a_webhook = "{\"type\":\"error\",\"error\":\"invalid_event\",";
  CHECK(strncmp(convstate_string_ptr(answer), not_a_webhook, strlen(not_a_webhook)) == 0);
  CHECK_RC(convstate_sharded_engine_handle_webhook(NULL, T0, (const uint8_t *)"{}", 2, answer),
           CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_handle_webhook(engine, T0, NULL, 2, answer), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_handle_webhook(engine, T0, (const uint8_t *)"{}", 2, NULL),
           CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_handle_webhook(engine, -1, (const uint8_t *)"{}", 2, answer),
           CONVSTATE_ERR_INSTANT_OUT_OF_RANGE);
  convstate_string_free(answer);
  convstate_string_free(again);
  convstate_string_free(snapshot);

  convstate_string_free(effects);
  convstate_sharded_engine_free(engine);
  convstate_sharded_engine_free(NULL);
  if (failures) {
    fprintf(stderr, "sharded_threads: %d check(s) failed\n", failures);
    return 1;
  }
  printf("sharded_threads: all checks passed\n");
  return 0;
}
