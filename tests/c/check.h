/*
 * The checks the C test programs share: CHECK(condition) and CHECK_RC(call, expected code)
 * report the file, line and (for a code) the library's last error, and count failures for
 * main() to return. S("literal") passes a string literal with its length. Not thread-safe:
 * check from the main thread only.
 */
#ifndef CONVSTATE_TEST_CHECK_H
#define CONVSTATE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "convstate.h"

static int failures = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                            \
    }                                                                        \
  } while (0)

#define CHECK_RC(call, expected)                                               \
  do {                                                                         \
    convstate_result rc_ = (call);                                             \
    if (rc_ != (expected)) {                                                   \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", \
              __FILE__, __LINE__, #call, convstate_result_name(rc_),           \
              convstate_result_name(expected), convstate_last_error());        \
      failures++;                                                              \
    }                                                                          \
  } while (0)

#define S(literal) literal, (sizeof literal - 1)

/* The registration of an official number of business "acme" at `at_ms`, zeroed first so that
 * every optional field is absent; `idle_timeout_ms` negative for the policy's default. The
 * programs set what else a test needs before registering it. */
static inline convstate_number_registration acme_official_number(const char *number, int64_t at_ms,
                                                                 int64_t idle_timeout_ms) {
  convstate_number_registration r;
  memset(&r, 0, sizeof r);
  r.at_ms = at_ms;
  r.business = "acme";
  r.business_len = 4;
  r.number = number;
  r.number_len = strlen(number);
  r.channel = CONVSTATE_CHANNEL_OFFICIAL;
  r.idle_timeout_ms = idle_timeout_ms;
  return r;
}

/* The typed inbound `convstate_inbound` of `kind` at `at_ms` to `number` from `contact` (or
 * NULL), with the user id `user_id` of `user_id_len` bytes beside it (NULL and 0 for none),
 * zeroed first so that every other optional field is absent. */
static inline convstate_inbound typed_inbound(const char *number, int64_t at_ms, const char *contact,
                                              uint32_t kind, const char *user_id, size_t user_id_len) {
  convstate_inbound r;
  memset(&r, 0, sizeof r);
  r.at_ms = at_ms;
  r.number = number;
  r.number_len = strlen(number);
  r.contact = contact;
  r.contact_len = contact ? strlen(contact) : 0;
  r.kind = kind;
  r.size = -1;
  r.user_id = user_id;
  r.user_id_len = user_id_len;
  return r;
}

/* The registration of an approved template `name` (English) of business "acme" at `at_ms`,
 * zeroed first so that every optional field is absent (header, footer, buttons); the
 * programs set what else a test needs before registering it. */
static inline convstate_template_registration acme_approved_template(const char *name,
                                                                     uint32_t category,
                                                                     const char *body,
                                                                     int64_t at_ms) {
  convstate_template_registration r;
  memset(&r, 0, sizeof r);
  r.at_ms = at_ms;
  r.business = "acme";
  r.business_len = 4;
  r.name = name;
  r.name_len = strlen(name);
  r.language = "en";
  r.language_len = 2;
  r.category = category;
  r.body = body;
  r.body_len = strlen(body);
  r.status = CONVSTATE_TEMPLATE_APPROVED;
  return r;
}

#endif
