/*
 * Moving a business between engines from C: export it from an engine, import it into a
 * sharded engine, remove it from the source, and back (taken out of the sharded engine:
 * exported and removed in one step). The moved business answers the same on its new engine
 * and nothing on the old one; its live chat ends once, where it lives; bad arguments get
 * their codes. Run under valgrind, ASan and UBSan by scripts/test-ffi.sh.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "convstate.h"

/* Applies one wire line to an engine or a sharded engine; returns its output (result line,
 * then effect lines) in `out`. */
static const char *apply(convstate_engine *engine, convstate_sharded_engine *sharded,
                         const char *line, convstate_string *out) {
  convstate_result rc = engine ? convstate_engine_handle_json(engine, line, strlen(line), out)
                               : convstate_sharded_engine_handle_json(sharded, line, strlen(line), out);
  CHECK(rc == CONVSTATE_OK);
  return convstate_string_ptr(out);
}

static int starts_with(const char *text, const char *prefix) {
  return strncmp(text, prefix, strlen(prefix)) == 0;
}

static const char *const SETUP[] = {
    "{\"type\":\"register_number\",\"at\":\"2026-11-02T08:00:00Z\",\"business\":\"acme\","
    "\"number\":\"+15550001111\",\"channel\":\"official\"}",
    "{\"type\":\"register_number\",\"at\":\"2026-11-02T08:00:00Z\",\"business\":\"zeta\","
    "\"number\":\"+15550002222\",\"channel\":\"official\"}",
    "{\"type\":\"inbound\",\"at\":\"2026-11-02T08:01:00Z\",\"number\":\"+15550001111\","
    "\"contact\":\"+4915100000001\",\"kind\":\"text\"}",
    "{\"type\":\"inbound\",\"at\":\"2026-11-02T08:01:00Z\",\"number\":\"+15550002222\","
    "\"contact\":\"+4915100000002\",\"kind\":\"text\"}",
};

static const char REPLY[] =
    "{\"type\":\"send\",\"at\":\"2026-11-02T08:02:00Z\",\"number\":\"+15550001111\","
    "\"contact\":\"+4915100000001\",\"message\":{\"kind\":\"text\",\"text\":\"On it\"}}";
static const char TICK[] = "{\"type\":\"tick\",\"at\":\"2026-11-02T18:00:00Z\"}";

int main(void) {
  convstate_engine *source = NULL;
  convstate_sharded_engine *target = NULL;
  convstate_string *exported = NULL, *out = NULL, *again = NULL;
  CHECK_RC(convstate_engine_new(S("cloud-2025"), NULL, 0, &source), CONVSTATE_OK);
  CHECK_RC(convstate_sharded_engine_new(S("cloud-2025"), NULL, 0, 3, &target), CONVSTATE_OK);
  CHECK_RC(convstate_string_new(&exported), CONVSTATE_OK);
  CHECK_RC(convstate_string_new(&out), CONVSTATE_OK);
  CHECK_RC(convstate_string_new(&again), CONVSTATE_OK);
  for (size_t i = 0; i < sizeof SETUP / sizeof SETUP[0]; i++) {
    CHECK(starts_with(apply(source, NULL, SETUP[i], out), "{\"type\":\"ack\""));
  }

  /* Export, import into the sharded engine, remove from the source. */
  CHECK_RC(convstate_engine_export_business(source, S("acme"), exported), CONVSTATE_OK);
  CHECK(starts_with(convstate_string_ptr(exported), "{\"format\":\"convstate-business\""));
  CHECK_RC(convstate_sharded_engine_import_business(
               target, (const uint8_t *)convstate_string_ptr(exported), convstate_string_len(exported), out),
           CONVSTATE_OK);
  CHECK(convstate_string_len(out) == 0); /* the clocks agree: no timer fell due between them */
  CHECK_RC(convstate_engine_remove_business(source, S("acme")), CONVSTATE_OK);

  /* The reply is decided on the target; the source no longer knows the number. */
  CHECK(starts_with(apply(NULL, target, REPLY, out), "{\"type\":\"decision\",\"verdict\":\"allowed\""));
  CHECK(strstr(apply(source, NULL, REPLY, out), "\"error\":\"unknown_number\"") != NULL);

  /* Each live chat ends once, on the engine holding its business. */
  const char *ended = "\"effect\":\"chat_ended\"";
  const char *on_source = apply(source, NULL, TICK, out);
  CHECK(strstr(on_source, ended) != NULL && strstr(on_source, "+15550002222") != NULL);
  CHECK(strstr(on_source, "+15550001111") == NULL);
  const char *on_target = apply(NULL, target, TICK, again);
  CHECK(strstr(on_target, ended) != NULL && strstr(on_target, "+15550001111") != NULL);

  /* And back: taken out of the sharded engine (exported and removed in one step, so that no
   * input another thread applies meanwhile is lost: the bytes an export gives), into the
   * source, whose name and number are free. */
  CHECK_RC(convstate_sharded_engine_export_business(target, S("acme"), again), CONVSTATE_OK);
  CHECK_RC(convstate_sharded_engine_take_business(target, S("acme"), exported), CONVSTATE_OK);
  CHECK(convstate_string_len(exported) == convstate_string_len(again) &&
        memcmp(convstate_string_ptr(exported), convstate_string_ptr(again), convstate_string_len(again)) == 0);
  CHECK(strstr(apply(NULL, target, REPLY, out), "\"error\":\"unknown_number\"") != NULL);
  CHECK_RC(convstate_engine_import_business(
               source, (const uint8_t *)convstate_string_ptr(exported), convstate_string_len(exported)),
           CONVSTATE_OK);
  CHECK(starts_with(apply(source, NULL, REPLY, out), "{\"type\":\"decision\""));

  /* A new node starts from the export alone, under the export's policy. */
  convstate_engine *fresh = NULL;
  CHECK_RC(convstate_engine_from_business_export(
               (const uint8_t *)convstate_string_ptr(exported), convstate_string_len(exported), &fresh),
           CONVSTATE_OK);
  CHECK(fresh != NULL);
  if (fresh != NULL) {
    CHECK(starts_with(apply(fresh, NULL, REPLY, out), "{\"type\":\"decision\""));
    /* Taken from one engine: its export, and the engine no longer knows the number. */
    CHECK_RC(convstate_engine_take_business(fresh, S("acme"), again), CONVSTATE_OK);
    CHECK(starts_with(convstate_string_ptr(again), "{\"format\":\"convstate-business\""));
    CHECK(strstr(apply(fresh, NULL, REPLY, out), "\"error\":\"unknown_number\"") != NULL);
    CHECK_RC(convstate_engine_take_business(fresh, S("acme"), again), CONVSTATE_ERR_UNKNOWN_BUSINESS);
    convstate_engine_free(fresh);
    fresh = NULL;
  }

  /* Refusals, each with its code. */
  CHECK_RC(convstate_engine_from_business_export((const uint8_t *)"{}", 2, &fresh),
           CONVSTATE_ERR_CORRUPT_SNAPSHOT);
  CHECK(fresh == NULL);
  CHECK_RC(convstate_engine_from_business_export((const uint8_t *)"{}", 2, NULL),
           CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_engine_export_business(source, S("nobody"), out), CONVSTATE_ERR_UNKNOWN_BUSINESS);
  CHECK_RC(convstate_engine_remove_business(source, S("nobody")), CONVSTATE_ERR_UNKNOWN_BUSINESS);
  CHECK_RC(convstate_sharded_engine_remove_business(target, S("acme")), CONVSTATE_ERR_UNKNOWN_BUSINESS);
  CHECK_RC(convstate_sharded_engine_take_business(target, S("acme"), out), CONVSTATE_ERR_UNKNOWN_BUSINESS);
  CHECK_RC(convstate_engine_take_business(source, S("nobody"), out), CONVSTATE_ERR_UNKNOWN_BUSINESS);
  CHECK_RC(convstate_engine_take_business(source, S("acme"), NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_take_business(NULL, S("acme"), out), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_engine_import_business(source, (const uint8_t *)"{}", 2),
           CONVSTATE_ERR_CORRUPT_SNAPSHOT);
  CHECK_RC(convstate_engine_import_business(
               source, (const uint8_t *)convstate_string_ptr(exported), convstate_string_len(exported)),
           CONVSTATE_ERR_INVALID_EVENT); /* acme is already here */
  CHECK_RC(convstate_engine_remove_business(NULL, S("acme")), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_engine_export_business(source, S("acme"), NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_import_business(target, NULL, 0, NULL), CONVSTATE_ERR_NULL_ARGUMENT);
  CHECK_RC(convstate_sharded_engine_export_business(target, "\xff", 1, out), CONVSTATE_ERR_INVALID_UTF8);

  convstate_string_free(again);
  convstate_string_free(out);
  convstate_string_free(exported);
  convstate_sharded_engine_free(target);
  convstate_engine_free(source);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("partition: ok\n");
  return 0;
}
