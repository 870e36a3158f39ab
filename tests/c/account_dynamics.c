/*
 * Account dynamics and delivery statuses through the typed C API: a messaging limit of 2
 * refusing the third contact, the provider raising it, a rate card price in the decision, a
 * template paused by a low quality rating, a failed status with 131047 closing the window,
 * a back-off error, number quality and restrictions, and the limit and usage views. Run under
 * valgrind and AddressSanitizer by scripts/test-ffi.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convstate.h"


static const char NUMBER[] = "+15550001111";
static const char *const CONTACTS[3] = {"+79110000001", "+79110000002", "+79110000003"};
/* 2026-11-02T09:00:00Z */
static const int64_t T0 = 1793610000000;
static const int64_t MINUTE = 60000;
static const int64_t HOUR = 3600000;

/* Limits of 2, 4, unlimited contacts; a rate card pricing Russian numbers in USD. */
static const char OVERRIDES[] =
    "{\"limits\":{\"levels\":[2,4,\"unlimited\"]},"
    "\"pricing\":{\"rate_card\":{\"currency\":\"USD\",\"markets\":{\"7\":\"russia\"},"
    "\"rates\":{\"russia\":{\"marketing\":\"0.0802\",\"utility\":\"0.0229\"},"
    "\"other\":{\"marketing\":\"0.06\"}}}}}";

/* cloud-2025 with OVERRIDES, one number, an approved marketing template `promo` and opt-ins
 * from every contact. NULL on failure (already counted). */
static convstate_engine *new_engine(void) {
  convstate_engine *engine = NULL;
  convstate_number_registration number;
  convstate_template_registration template_;
  int i;
  CHECK_RC(convstate_engine_new(S("cloud-2025"), OVERRIDES, strlen(OVERRIDES), &engine), CONVSTATE_OK);
  if (!engine) return NULL;
  number = acme_official_number(NUMBER, T0 - HOUR, -1);
  CHECK_RC(convstate_engine_register_number(engine, &number), CONVSTATE_OK);
  template_ = acme_approved_template("promo", CONVSTATE_CATEGORY_MARKETING,
                                     "Hello {{1}}, see our offer.", T0 - HOUR);
  CHECK_RC(convstate_engine_register_template(engine, &template_), CONVSTATE_OK);
  for (i = 0; i < 3; i++) {
    CHECK_RC(convstate_engine_consent(engine, T0 - HOUR, S("acme"), NULL, 0, CONTACTS[i],
                                      strlen(CONTACTS[i]), true),
             CONVSTATE_OK);
  }
  return engine;
}

static convstate_message *promo(void) {
  convstate_message *message = NULL;
  CHECK_RC(convstate_message_new_template(S("promo"), S("en"), &message), CONVSTATE_OK);
  CHECK_RC(convstate_message_add_param(message, S("x")), CONVSTATE_OK);
  return message;
}

/* Sends (record != 0) or checks `message` to `contact`, with a provider message id or NULL. */
static convstate_decision send_to(convstate_engine *engine, int64_t at_ms, const char *contact,
                                  const convstate_message *message, const char *message_id,
                                  int record) {
  convstate_send_request r;
  convstate_decision decision;
  memset(&r, 0, sizeof r);
  memset(&decision, 0, sizeof decision);
  r.at_ms = at_ms;
  r.number = NUMBER;
  r.number_len = strlen(NUMBER);
  r.contact = contact;
  r.contact_len = strlen(contact);
  r.message = message;
  r.message_id = message_id;
  r.message_id_len = message_id ? strlen(message_id) : 0;
  if (record) {
    CHECK_RC(convstate_engine_send(engine, &r, &decision), CONVSTATE_OK);
  } else {
    CHECK_RC(convstate_engine_check_send(engine, &r, &decision), CONVSTATE_OK);
  }
  return decision;
}

/* Drains every effect; returns how many there were of `wanted` (CONVSTATE_EFFECT_NONE: of
 * any kind). Every effect the core emits today has its own kind: CONVSTATE_EFFECT_OTHER is a
 * failure. */
static int drain_effects(convstate_engine *engine, convstate_effect_kind wanted) {
  char line[2048];
  size_t written;
  convstate_effect_kind kind;
  int seen = 0;
  for (;;) {
    CHECK_RC(convstate_engine_poll_effect(engine, (uint8_t *)line, sizeof line, &written, &kind),
             CONVSTATE_OK);
    if (kind == CONVSTATE_EFFECT_NONE) return seen;
    CHECK(kind != CONVSTATE_EFFECT_OTHER);
    if (kind == wanted || wanted == CONVSTATE_EFFECT_NONE) seen++;
  }
}

static void test_limit_price_and_usage(void) {
  convstate_engine *engine = new_engine();
  convstate_message *message;
  convstate_decision decision;
  convstate_limit_view limit;
  convstate_usage_view usage;
  bool unmatched = false;
  if (!engine) return;
  message = promo();
  drain_effects(engine, CONVSTATE_EFFECT_NONE);

  decision = send_to(engine, T0, CONTACTS[0], message, "wamid.1", 1);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(decision.billing == CONVSTATE_BILLING_CHARGED);
  CHECK(decision.charge_category == CONVSTATE_CHARGE_MARKETING);
  CHECK(decision.price_micros == 80200); /* 0.0802 USD, exactly */
  CHECK(strcmp(decision.currency, "USD") == 0);
  CHECK(decision.consumed_limit_slot);
  decision = send_to(engine, T0 + MINUTE, CONTACTS[1], message, "wamid.2", 1);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);

  /* The third contact is over the limit of 2 until the upgrade the first send scheduled
     (one contact is half the limit) comes 6 hours later, before any contact leaves. */
  decision = send_to(engine, T0 + 2 * MINUTE, CONTACTS[2], message, NULL, 0);
  CHECK(decision.verdict == CONVSTATE_VERDICT_DENIED);
  CHECK(decision.reason == CONVSTATE_REASON_LIMIT_REACHED);
  CHECK(decision.limit == 2 && decision.actual == 2);
  CHECK(decision.detail_code == 0); /* the engine's own count reached it */
  CHECK(decision.instant_ms == T0 + 6 * HOUR);
  CHECK(decision.next_action == CONVSTATE_NEXT_RETRY_AT);
  CHECK(decision.price_micros == -1 && decision.currency[0] == '\0');

  CHECK_RC(convstate_engine_limit(engine, T0 + 2 * MINUTE, S(NUMBER), &limit), CONVSTATE_OK);
  CHECK(limit.scope == CONVSTATE_LIMIT_SCOPE_BUSINESS);
  CHECK(limit.limit == 2 && limit.used == 2);
  CHECK(limit.next_slot_at_ms == T0 + 6 * HOUR);
  CHECK(limit.upgrade_at_ms == T0 + 6 * HOUR);
  CHECK(limit.level_since_ms >= 0);
  CHECK(limit.blocked_until_ms == CONVSTATE_NONE_MS);

  /* The provider lifts the limit: the third contact may be reached. */
  CHECK_RC(convstate_engine_messaging_limit(engine, T0 + 3 * MINUTE, S(NUMBER), CONVSTATE_LIMIT_UNLIMITED),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_LIMIT_CHANGED) == 1);
  CHECK_RC(convstate_engine_limit(engine, T0 + 3 * MINUTE, S(NUMBER), &limit), CONVSTATE_OK);
  CHECK(limit.limit == CONVSTATE_LIMIT_UNLIMITED);
  decision = send_to(engine, T0 + 4 * MINUTE, CONTACTS[2], message, NULL, 0);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK_RC(convstate_engine_messaging_limit(engine, T0, S(NUMBER), -7), CONVSTATE_ERR_INVALID_ARGUMENT);

  /* The provider reports the limit reached (131064) though the engine's count (two) has room
     under an unlimited limit: only its report reached it (sends the engine never saw count there). */
  {
    static const uint32_t limit_reached[1] = {131064};
    CHECK_RC(convstate_engine_consent(engine, T0 + 4 * MINUTE, S("acme"), NULL, 0, S("+79110000004"), true),
             CONVSTATE_OK);
    CHECK_RC(convstate_engine_message_status(engine, T0 + 5 * MINUTE, S(NUMBER), S("+79110000004"),
                                             S("wamid.elsewhere"), CONVSTATE_DELIVERY_FAILED,
                                             CONVSTATE_PRICING_NONE, NULL, 0, limit_reached, 1, &unmatched),
             CONVSTATE_OK);
    CHECK(unmatched); /* a send the engine never recorded */
    decision = send_to(engine, T0 + 6 * MINUTE, "+79110000004", message, NULL, 0);
    CHECK(decision.reason == CONVSTATE_REASON_LIMIT_REACHED);
    CHECK(decision.limit == UINT64_MAX && decision.actual == 2);
    CHECK(decision.detail_code == 1);
  }

  CHECK_RC(convstate_engine_usage(engine, S(NUMBER), NULL, 0, S("2026-11"), &usage), CONVSTATE_OK);
  CHECK(usage.month == 202611);
  CHECK(usage.charged_marketing == 2 && usage.charged_utility == 0);
  CHECK(usage.cost_micros == 160400 && usage.unpriced == 0);
  CHECK(strcmp(usage.currency, "USD") == 0);
  { /* Free messages by why they were free add up to the count. */
    uint64_t by_reason = 0;
    for (size_t why = 0; why < CONVSTATE_FREE_REASONS; why++) by_reason += usage.free_by_reason[why];
    CHECK(by_reason == usage.free && usage.free_by_reason[CONVSTATE_FREE_NONE] == 0);
  }
  CHECK_RC(convstate_engine_usage(engine, NULL, 0, S("acme"), S("2026-11"), &usage), CONVSTATE_OK);
  CHECK(usage.charged_marketing == 2);
  CHECK_RC(convstate_engine_usage(engine, NULL, 0, S("acme"), S("2026-13"), &usage),
           CONVSTATE_ERR_INVALID_ARGUMENT);
  CHECK(strstr(convstate_last_error(), "YYYY-MM") != NULL);
  CHECK_RC(convstate_engine_usage(engine, NULL, 0, NULL, 0, S("2026-11"), &usage),
           CONVSTATE_ERR_INVALID_ARGUMENT);

  convstate_message_free(message);
  convstate_engine_free(engine);
}

static void test_template_quality_pauses(void) {
  convstate_engine *engine = new_engine();
  convstate_message *message;
  convstate_decision decision;
  if (!engine) return;
  message = promo();
  drain_effects(engine, CONVSTATE_EFFECT_NONE);

  CHECK_RC(convstate_engine_template_quality(engine, T0, S("acme"), S("promo"), S("en"), CONVSTATE_QUALITY_LOW),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TEMPLATE_STATUS_CHANGED) == 1);
  decision = send_to(engine, T0 + HOUR, CONTACTS[0], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_NOT_SENDABLE);
  CHECK(decision.detail_code == CONVSTATE_TEMPLATE_PAUSED);
  CHECK(decision.instant_ms == T0 + 3 * HOUR); /* cloud-2025: the first pause lasts 3h */
  CHECK(decision.next_action == CONVSTATE_NEXT_RETRY_AT && decision.next_action_at_ms == T0 + 3 * HOUR);

  /* The provider lifts the pause early, then pauses again until an instant it names. */
  CHECK_RC(convstate_engine_template_status_ex(engine, T0 + 2 * HOUR, S("acme"), S("promo"), S("en"),
                                               CONVSTATE_TEMPLATE_EVENT_UNPAUSED, CONVSTATE_NONE_MS),
           CONVSTATE_OK);
  decision = send_to(engine, T0 + 2 * HOUR, CONTACTS[0], message, NULL, 0);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK_RC(convstate_engine_template_status_ex(engine, T0 + 3 * HOUR, S("acme"), S("promo"), S("en"),
                                               CONVSTATE_TEMPLATE_EVENT_PAUSED, T0 + 10 * HOUR),
           CONVSTATE_OK);
  decision = send_to(engine, T0 + 4 * HOUR, CONTACTS[0], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_NOT_SENDABLE && decision.instant_ms == T0 + 10 * HOUR);
  CHECK_RC(convstate_engine_template_status_ex(engine, T0, S("acme"), S("promo"), S("en"), 0, CONVSTATE_NONE_MS),
           CONVSTATE_ERR_INVALID_ARGUMENT);
  CHECK_RC(convstate_engine_template_quality(engine, T0, S("acme"), S("promo"), S("en"), 9),
           CONVSTATE_ERR_INVALID_ARGUMENT);

  convstate_message_free(message);
  convstate_engine_free(engine);
}

/* A provider report of `promo` at `at_ms` through the typed call that carries all of it. */
static convstate_result report(convstate_engine *engine, int64_t at_ms, uint32_t event, int64_t until_ms,
                               uint32_t category, uint32_t pause) {
  convstate_template_report r;
  memset(&r, 0, sizeof r);
  r.at_ms = at_ms;
  r.business = "acme";
  r.business_len = 4;
  r.name = "promo";
  r.name_len = 5;
  r.language = "en";
  r.language_len = 2;
  r.event = event;
  r.until_ms = until_ms;
  r.category = category;
  r.pause = pause;
  return convstate_engine_template_report(engine, &r);
}

/* The provider's word on which pause of the ladder a pause is sets the strikes counted so
 * far: a SECOND_PAUSE the engine saw no first pause for makes the next low rating disable. */
static void test_provider_pause_sets_the_strike_count(void) {
  convstate_engine *engine = new_engine();
  convstate_message *message;
  convstate_decision decision;
  if (!engine) return;
  message = promo();
  drain_effects(engine, CONVSTATE_EFFECT_NONE);

  CHECK_RC(report(engine, T0, CONVSTATE_TEMPLATE_EVENT_PAUSED, T0 + 6 * HOUR, 0, 2), CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TEMPLATE_STATUS_CHANGED) == 1);
  decision = send_to(engine, T0 + HOUR, CONTACTS[0], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_NOT_SENDABLE);
  CHECK(decision.detail_code == CONVSTATE_TEMPLATE_PAUSED && decision.instant_ms == T0 + 6 * HOUR);

  /* After the pause, the next low rating is the third strike: disabled, not a first pause. */
  CHECK_RC(convstate_engine_template_quality(engine, T0 + 7 * HOUR, S("acme"), S("promo"), S("en"),
                                             CONVSTATE_QUALITY_LOW),
           CONVSTATE_OK);
  decision = send_to(engine, T0 + 7 * HOUR, CONTACTS[0], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_NOT_SENDABLE);
  CHECK(decision.detail_code == CONVSTATE_TEMPLATE_DISABLED);

  /* A pause beyond the ladder (cloud-2025 has two) is refused, naming the ladder. */
  CHECK_RC(report(engine, T0 + 8 * HOUR, CONVSTATE_TEMPLATE_EVENT_PAUSED, CONVSTATE_NONE_MS, 0, 3),
           CONVSTATE_ERR_INVALID_EVENT);
  CHECK(strstr(convstate_last_error(), "ladder of 2 pauses") != NULL);
  CHECK_RC(report(engine, T0 + 8 * HOUR, CONVSTATE_TEMPLATE_EVENT_APPROVED, CONVSTATE_NONE_MS, 9, 0),
           CONVSTATE_ERR_INVALID_ARGUMENT);
  CHECK_RC(convstate_engine_template_report(engine, NULL), CONVSTATE_ERR_NULL_ARGUMENT);

  convstate_message_free(message);
  convstate_engine_free(engine);
}

/* The template view names what is in force and what comes after it: a flag kept under a
 * pause shows the pause's end and the flag's deadline, which here comes first. */
static void test_template_view_shows_a_flag_kept_under_a_pause(void) {
  convstate_engine *engine = new_engine();
  convstate_template_view view;
  if (!engine) return;
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(view.status == CONVSTATE_TEMPLATE_APPROVED && view.until_ms == CONVSTATE_NONE_MS);
  CHECK(view.flagged_until_ms == CONVSTATE_NONE_MS && view.pause_strikes == 0);

  CHECK_RC(report(engine, T0, CONVSTATE_TEMPLATE_EVENT_FLAGGED, T0 + 2 * HOUR, 0, 0), CONVSTATE_OK);
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(view.status == CONVSTATE_TEMPLATE_FLAGGED);
  CHECK(view.until_ms == T0 + 2 * HOUR && view.flagged_until_ms == T0 + 2 * HOUR);

  /* cloud-2025: a low rating pauses a flagged template for 3h, a strike; the flag stays. */
  CHECK_RC(convstate_engine_template_quality(engine, T0 + HOUR, S("acme"), S("promo"), S("en"),
                                             CONVSTATE_QUALITY_LOW),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(view.status == CONVSTATE_TEMPLATE_PAUSED && view.quality == CONVSTATE_QUALITY_LOW);
  CHECK(view.until_ms == T0 + 4 * HOUR && view.flagged_until_ms == T0 + 2 * HOUR);
  CHECK(view.pause_strikes == 1);

  /* The flag's deadline disables it before the pause would have ended. */
  CHECK_RC(convstate_engine_handle_timeout(engine, T0 + 2 * HOUR), CONVSTATE_OK);
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(view.status == CONVSTATE_TEMPLATE_DISABLED);
  CHECK(view.until_ms == CONVSTATE_NONE_MS && view.flagged_until_ms == CONVSTATE_NONE_MS);
  CHECK(view.pause_strikes == 1);
  convstate_engine_free(engine);
}

/* Two reports of one instant are ordered by all they carry, the category included: the typed
 * report ends where the JSON door does. */
static void test_template_report_orders_as_the_json_door(void) {
  static const char IN_APPEAL[] =
      "{\"type\":\"template_status\",\"at\":1793613600000,\"business\":\"acme\",\"name\":\"promo\","
      "\"language\":\"en\",\"status\":\"in_appeal\"}";
  static const char APPROVED[] =
      "{\"type\":\"template_status\",\"at\":1793613600000,\"business\":\"acme\",\"name\":\"promo\","
      "\"language\":\"en\",\"status\":\"approved\",\"category\":\"utility\"}";
  convstate_engine *typed = new_engine();
  convstate_engine *json = new_engine();
  convstate_template_view a, b;
  convstate_string *out = NULL;
  if (!typed || !json) return;
  CHECK_RC(convstate_string_new(&out), CONVSTATE_OK);
  CHECK_RC(report(typed, T0 + HOUR, CONVSTATE_TEMPLATE_EVENT_IN_APPEAL, CONVSTATE_NONE_MS, 0, 0), CONVSTATE_OK);
  CHECK_RC(report(typed, T0 + HOUR, CONVSTATE_TEMPLATE_EVENT_APPROVED, CONVSTATE_NONE_MS,
                  CONVSTATE_CATEGORY_UTILITY, 0),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_handle_json(json, IN_APPEAL, strlen(IN_APPEAL), out), CONVSTATE_OK);
  CHECK_RC(convstate_engine_handle_json(json, APPROVED, strlen(APPROVED), out), CONVSTATE_OK);
  convstate_string_free(out);
  CHECK_RC(convstate_engine_template(typed, S("acme"), S("promo"), S("en"), &a), CONVSTATE_OK);
  CHECK_RC(convstate_engine_template(json, S("acme"), S("promo"), S("en"), &b), CONVSTATE_OK);
  CHECK(a.status == b.status && a.category == b.category);
  CHECK(a.category == CONVSTATE_CATEGORY_UTILITY);
  convstate_engine_free(typed);
  convstate_engine_free(json);
}

/* A template locked by the provider (LOCKED) refuses edits, which go through the JSON door,
 * until UNLOCKED; it is still sent. The lock is a template event of the existing calls. */
static void test_template_lock_refuses_edits_not_sends(void) {
  static const char EDIT[] =
      "{\"type\":\"edit_template\",\"at\":1793613600000,\"business\":\"acme\",\"name\":\"promo\","
      "\"language\":\"en\",\"body\":\"Hi {{1}}, a new offer.\"}";
  static const char EDIT_LATER[] =
      "{\"type\":\"edit_template\",\"at\":1793624400000,\"business\":\"acme\",\"name\":\"promo\","
      "\"language\":\"en\",\"body\":\"Hi {{1}}, a new offer.\"}";
  convstate_engine *engine = new_engine();
  convstate_message *message;
  convstate_decision decision;
  convstate_string *out = NULL;
  convstate_template_view view;
  const char *text;
  if (!engine) return;
  message = promo();
  drain_effects(engine, CONVSTATE_EFFECT_NONE);
  CHECK_RC(convstate_string_new(&out), CONVSTATE_OK);
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(!view.locked);

  CHECK_RC(report(engine, T0, CONVSTATE_TEMPLATE_EVENT_LOCKED, CONVSTATE_NONE_MS, 0, 0), CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NONE) == 0); /* a lock is no status */
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(view.locked && view.status == CONVSTATE_TEMPLATE_APPROVED);
  CHECK_RC(convstate_engine_handle_json(engine, EDIT, strlen(EDIT), out), CONVSTATE_OK);
  text = (const char *)convstate_string_ptr(out);
  CHECK(strstr(text, "\"error\":\"template_not_editable\"") != NULL);
  CHECK(strstr(text, "locked") != NULL);
  decision = send_to(engine, T0 + HOUR, CONTACTS[0], message, "wamid.L1", 1);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);

  CHECK_RC(convstate_engine_template_status_ex(engine, T0 + 2 * HOUR, S("acme"), S("promo"), S("en"),
                                               CONVSTATE_TEMPLATE_EVENT_UNLOCKED, CONVSTATE_NONE_MS),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(!view.locked);
  CHECK_RC(convstate_engine_handle_json(engine, EDIT_LATER, strlen(EDIT_LATER), out), CONVSTATE_OK);
  text = (const char *)convstate_string_ptr(out);
  CHECK(strncmp(text, "{\"type\":\"ack\"", 13) == 0);

  convstate_string_free(out);
  convstate_message_free(message);
  convstate_engine_free(engine);
}

/* UNARCHIVED is decided by the engine when it applies it, in the provider's order: delivered
 * before the DISABLED dated ahead of it, the template ends disabled all the same. */
static void test_template_unarchived_after_a_late_disable(void) {
  convstate_engine *engine = new_engine();
  convstate_template_view view;
  if (!engine) return;
  drain_effects(engine, CONVSTATE_EFFECT_NONE);
  CHECK_RC(report(engine, T0 + 2 * HOUR, CONVSTATE_TEMPLATE_EVENT_UNARCHIVED, CONVSTATE_NONE_MS, 0, 0),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(view.status == CONVSTATE_TEMPLATE_APPROVED);
  CHECK_RC(report(engine, T0 + HOUR, CONVSTATE_TEMPLATE_EVENT_DISABLED, CONVSTATE_NONE_MS, 0, 0), CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TEMPLATE_STATUS_CHANGED) == 1);
  CHECK_RC(convstate_engine_template(engine, S("acme"), S("promo"), S("en"), &view), CONVSTATE_OK);
  CHECK(view.status == CONVSTATE_TEMPLATE_DISABLED);
  convstate_engine_free(engine);
}

static void test_template_recategorized(void) {
  convstate_engine *engine = new_engine();
  convstate_message *message;
  convstate_decision decision;
  if (!engine) return;
  message = promo();
  drain_effects(engine, CONVSTATE_EFFECT_NONE);

  decision = send_to(engine, T0, CONTACTS[0], message, NULL, 0);
  CHECK(decision.charge_category == CONVSTATE_CHARGE_MARKETING);
  CHECK_RC(convstate_engine_template_category(engine, T0 + HOUR, S("acme"), S("promo"), S("en"),
                                              CONVSTATE_CATEGORY_UTILITY),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TEMPLATE_CATEGORY_CHANGED) == 1);
  decision = send_to(engine, T0 + HOUR, CONTACTS[0], message, NULL, 0);
  CHECK(decision.billing == CONVSTATE_BILLING_CHARGED && decision.charge_category == CONVSTATE_CHARGE_UTILITY);
  /* The same change again, and one older than it, change nothing. */
  CHECK_RC(convstate_engine_template_category(engine, T0 + HOUR, S("acme"), S("promo"), S("en"),
                                              CONVSTATE_CATEGORY_UTILITY),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_template_category(engine, T0, S("acme"), S("promo"), S("en"),
                                              CONVSTATE_CATEGORY_AUTHENTICATION),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_TEMPLATE_CATEGORY_CHANGED) == 0);
  decision = send_to(engine, T0 + 2 * HOUR, CONTACTS[0], message, NULL, 0);
  CHECK(decision.charge_category == CONVSTATE_CHARGE_UTILITY);
  CHECK_RC(convstate_engine_template_category(engine, T0 + HOUR, S("acme"), S("promo"), S("en"), 9),
           CONVSTATE_ERR_INVALID_ARGUMENT);
  CHECK_RC(convstate_engine_template_category(engine, T0 + HOUR, S("acme"), S("gone"), S("en"),
                                              CONVSTATE_CATEGORY_UTILITY),
           CONVSTATE_ERR_UNKNOWN_TEMPLATE);

  convstate_message_free(message);
  convstate_engine_free(engine);
}

static void test_template_edited_elsewhere(void) {
  convstate_engine *engine = new_engine();
  convstate_message *message;
  convstate_decision decision;
  if (!engine) return;
  message = promo(); /* one parameter */
  drain_effects(engine, CONVSTATE_EFFECT_NONE);

  /* Edited in WhatsApp Manager: two variables now, a footer, no header. */
  CHECK_RC(convstate_engine_template_components(engine, T0, S("acme"), S("promo"), S("en"),
                                                S("Hello {{1}}, see our {{2}} offer."), NULL, 0,
                                                S("Reply STOP to opt out")),
           CONVSTATE_OK);
  decision = send_to(engine, T0, CONTACTS[0], message, NULL, 0);
  CHECK(decision.verdict == CONVSTATE_VERDICT_DENIED);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_PARAMS);
  /* A late report of an older text changes nothing; an invalid text is refused. */
  CHECK_RC(convstate_engine_template_components(engine, T0 - MINUTE, S("acme"), S("promo"), S("en"),
                                                S("Hello {{1}}, see our offer."), NULL, 0, NULL, 0),
           CONVSTATE_OK);
  decision = send_to(engine, T0, CONTACTS[0], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_TEMPLATE_PARAMS);
  CHECK_RC(convstate_engine_template_components(engine, T0 + MINUTE, S("acme"), S("promo"), S("en"),
                                                S("{{1}} offer"), NULL, 0, NULL, 0),
           CONVSTATE_ERR_INVALID_TEMPLATE);
  CHECK_RC(convstate_engine_template_components(engine, T0 + MINUTE, S("acme"), S("promo"), S("en"),
                                                NULL, 3, NULL, 0, NULL, 0),
           CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NONE) == 0); /* a report of text emits nothing */

  convstate_message_free(message);
  convstate_engine_free(engine);
}

static void test_failed_status_closes_the_window(void) {
  convstate_engine *engine = new_engine();
  convstate_message *hello = NULL;
  convstate_decision decision;
  convstate_inbound inbound;
  convstate_number_view number;
  convstate_usage_view usage;
  const uint32_t outside_window[] = {131047};
  bool redelivered = false, unmatched = true;
  if (!engine) return;

  memset(&inbound, 0, sizeof inbound);
  inbound.at_ms = T0;
  inbound.number = NUMBER;
  inbound.number_len = strlen(NUMBER);
  inbound.contact = CONTACTS[0];
  inbound.contact_len = strlen(CONTACTS[0]);
  inbound.kind = CONVSTATE_INBOUND_TEXT;
  inbound.size = -1;
  inbound.message_id = "wamid.in.1";
  inbound.message_id_len = strlen(inbound.message_id);
  redelivered = true;
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, &redelivered), CONVSTATE_OK);
  CHECK(!redelivered);
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, &redelivered), CONVSTATE_OK); /* a webhook retry */
  CHECK(redelivered);
  CHECK_RC(convstate_engine_number(engine, S(NUMBER), &number), CONVSTATE_OK);
  CHECK(number.inbound == 1);
  inbound.kind = 99;
  CHECK_RC(convstate_engine_inbound_ex(engine, &inbound, NULL), CONVSTATE_ERR_INVALID_ARGUMENT);
  drain_effects(engine, CONVSTATE_EFFECT_NONE);

  CHECK_RC(convstate_message_new_text(S("Hello"), &hello), CONVSTATE_OK);
  decision = send_to(engine, T0 + MINUTE, CONTACTS[0], hello, "wamid.out.1", 1);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK(decision.billing == CONVSTATE_BILLING_FREE && decision.price_micros == -1);

  CHECK_RC(convstate_engine_message_status(engine, T0 + 2 * MINUTE, S(NUMBER), CONTACTS[0], strlen(CONTACTS[0]),
                                           S("wamid.out.1"), CONVSTATE_DELIVERY_FAILED, CONVSTATE_PRICING_NONE,
                                           NULL, 0, outside_window, 1, &unmatched),
           CONVSTATE_OK);
  CHECK(!unmatched); /* the reply's own status */
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_MESSAGE_FAILED) == 1);
  decision = send_to(engine, T0 + 3 * MINUTE, CONTACTS[0], hello, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_WINDOW_CLOSED);
  CHECK(decision.instant_ms == T0 + 2 * MINUTE);
  CHECK_RC(convstate_engine_usage(engine, S(NUMBER), NULL, 0, S("2026-11"), &usage), CONVSTATE_OK);
  CHECK(usage.failed == 1 && usage.service_messages == 0);

  /* Bad status arguments. */
  CHECK_RC(convstate_engine_message_status(engine, T0, S(NUMBER), CONTACTS[0], strlen(CONTACTS[0]), S("wamid.x"),
                                           CONVSTATE_DELIVERY_FAILED, CONVSTATE_PRICING_NONE, NULL, 0, NULL, 2, NULL),
           CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_engine_message_status(engine, T0, S(NUMBER), CONTACTS[0], strlen(CONTACTS[0]), S("wamid.x"),
                                           CONVSTATE_DELIVERY_DELIVERED, CONVSTATE_PRICING_NONE, S("marketing"),
                                           NULL, 0, NULL),
           CONVSTATE_ERR_INVALID_ARGUMENT);
  CHECK_RC(convstate_engine_message_status(engine, T0, S(NUMBER), CONTACTS[0], strlen(CONTACTS[0]), S("wamid.x"),
                                           CONVSTATE_DELIVERY_DELIVERED, CONVSTATE_PRICING_REGULAR, S("marketing"),
                                           NULL, 0, NULL),
           CONVSTATE_OK);

  convstate_message_free(hello);
  convstate_engine_free(engine);
}

/* A back-off error, its effects in order and its denial; then number quality and restrictions. */
static void test_backoff_and_effect_kinds(void) {
  convstate_engine *engine = new_engine();
  convstate_message *message;
  convstate_decision decision;
  const uint32_t marketing_limit[] = {131049};
  char line[2048];
  size_t written = 0;
  convstate_effect_kind kind = CONVSTATE_EFFECT_NONE;
  if (!engine) return;
  message = promo();
  drain_effects(engine, CONVSTATE_EFFECT_NONE);

  send_to(engine, T0, CONTACTS[0], message, "wamid.6", 1);
  CHECK_RC(convstate_engine_message_status(engine, T0 + MINUTE, S(NUMBER), CONTACTS[0], strlen(CONTACTS[0]),
                                           S("wamid.6"), CONVSTATE_DELIVERY_FAILED, CONVSTATE_PRICING_NONE, NULL,
                                           0, marketing_limit, 1, NULL),
           CONVSTATE_OK);
  CHECK_RC(convstate_engine_poll_effect(engine, (uint8_t *)line, sizeof line, &written, &kind), CONVSTATE_OK);
  CHECK(kind == CONVSTATE_EFFECT_MESSAGE_FAILED);
  CHECK_RC(convstate_engine_poll_effect(engine, (uint8_t *)line, sizeof line, &written, &kind), CONVSTATE_OK);
  CHECK(kind == CONVSTATE_EFFECT_CONTACT_BACKED_OFF);
  decision = send_to(engine, T0 + HOUR, CONTACTS[0], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_CONTACT_BACKOFF);
  CHECK(decision.detail_code == 131049);
  CHECK(decision.instant_ms == T0 + MINUTE + 24 * HOUR);
  CHECK(strcmp(convstate_reason_name(CONVSTATE_REASON_CONTACT_BACKOFF), "contact_backoff") == 0);

  /* Number quality and restrictions. */
  CHECK_RC(convstate_engine_number_quality(engine, T0 + HOUR, S(NUMBER), CONVSTATE_QUALITY_LOW), CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NUMBER_QUALITY_CHANGED) == 1);
  CHECK_RC(convstate_engine_number_restriction(engine, T0 + 2 * HOUR, S(NUMBER), CONVSTATE_RESTRICTION_ALL_MESSAGES,
                                               CONVSTATE_NONE_MS, true),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NUMBER_RESTRICTED) == 1);
  decision = send_to(engine, T0 + 3 * HOUR, CONTACTS[1], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_RESTRICTED);
  CHECK(decision.detail_code == CONVSTATE_RESTRICTION_ALL_MESSAGES);
  CHECK(decision.instant_ms == CONVSTATE_NONE_MS); /* until lifted */
  /* One restriction per scope: lifting the bar on business-initiated messages (which the
     number does not hold) leaves the bar on all messages. */
  CHECK_RC(convstate_engine_restriction_scope_lifted(engine, T0 + 3 * HOUR, S(NUMBER),
                                                     CONVSTATE_RESTRICTION_BUSINESS_INITIATED),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NUMBER_RESTRICTION_ENDED) == 0);
  decision = send_to(engine, T0 + 3 * HOUR, CONTACTS[1], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_RESTRICTED);
  CHECK_RC(convstate_engine_restriction_lifted(engine, T0 + 4 * HOUR, S(NUMBER)), CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NUMBER_RESTRICTION_ENDED) == 1);
  decision = send_to(engine, T0 + 4 * HOUR, CONTACTS[1], message, NULL, 0);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  /* A ban is a scope of its own: lifting the bar on all messages leaves it; its own lift
     (a reinstatement) ends it. */
  CHECK_RC(convstate_engine_number_restriction(engine, T0 + 5 * HOUR, S(NUMBER), CONVSTATE_RESTRICTION_ACCOUNT_DISABLED,
                                               CONVSTATE_NONE_MS, true),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NUMBER_RESTRICTED) == 1);
  CHECK_RC(convstate_engine_restriction_scope_lifted(engine, T0 + 5 * HOUR + MINUTE, S(NUMBER),
                                                     CONVSTATE_RESTRICTION_ALL_MESSAGES),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NUMBER_RESTRICTION_ENDED) == 0);
  decision = send_to(engine, T0 + 5 * HOUR + MINUTE, CONTACTS[1], message, NULL, 0);
  CHECK(decision.reason == CONVSTATE_REASON_RESTRICTED);
  CHECK(decision.detail_code == CONVSTATE_RESTRICTION_ACCOUNT_DISABLED);
  CHECK_RC(convstate_engine_restriction_scope_lifted(engine, T0 + 6 * HOUR, S(NUMBER),
                                                     CONVSTATE_RESTRICTION_ACCOUNT_DISABLED),
           CONVSTATE_OK);
  CHECK(drain_effects(engine, CONVSTATE_EFFECT_NUMBER_RESTRICTION_ENDED) == 1);
  decision = send_to(engine, T0 + 6 * HOUR, CONTACTS[1], message, NULL, 0);
  CHECK(decision.verdict == CONVSTATE_VERDICT_ALLOWED);
  CHECK_RC(convstate_engine_number_restriction(engine, T0, S(NUMBER), 0, CONVSTATE_NONE_MS, false),
           CONVSTATE_ERR_INVALID_ARGUMENT);
  CHECK_RC(convstate_engine_number_restriction(engine, T0, S(NUMBER), 4, CONVSTATE_NONE_MS, false),
           CONVSTATE_ERR_INVALID_ARGUMENT);

  convstate_message_free(message);
  convstate_engine_free(engine);
}

static void test_currency_too_long_for_the_structs(void) {
  convstate_engine *engine = NULL;
  CHECK_RC(convstate_engine_new(S("cloud-2025"),
                                S("{\"pricing\":{\"rate_card\":{\"currency\":\"DOGECOIN\",\"markets\":{},"
                                  "\"rates\":{\"other\":{\"marketing\":\"1\"}}}}}"),
                                &engine),
           CONVSTATE_ERR_INVALID_POLICY);
  CHECK(engine == NULL);
}

int main(void) {
  test_limit_price_and_usage();
  test_template_quality_pauses();
  test_provider_pause_sets_the_strike_count();
  test_template_view_shows_a_flag_kept_under_a_pause();
  test_template_report_orders_as_the_json_door();
  test_template_lock_refuses_edits_not_sends();
  test_template_unarchived_after_a_late_disable();
  test_template_recategorized();
  test_template_edited_elsewhere();
  test_failed_status_closes_the_window();
  test_backoff_and_effect_kinds();
  test_currency_too_long_for_the_structs();
  if (failures) {
    fprintf(stderr, "account_dynamics: %d check(s) failed\n", failures);
    return 1;
  }
  printf("account_dynamics: all checks passed\n");
  return 0;
}
