/*
 * The checks the C test programs share: CHECK(condition) and CHECK_RC(call, expected code)
 * report the file, line and (for a code) the library's last error, and count failures for
 * main() to return. S("literal") passes a string literal with its length. Not thread-safe:
 * check from the main thread only.
 */
#ifndef CONVSTATE_TEST_CHECK_H
#define CONVSTATE_TEST_CHECK_H

#include <stdio.h>

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

#endif
