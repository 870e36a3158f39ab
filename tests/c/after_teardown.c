/*
 * Calls that fail after the calling thread's thread-locals are gone: from an atexit handler
 * (a host saving its state at exit asks the snapshot's size with a failing call) and from a
 * pthread key destructor on a worker thread. Each returns its code; the message is lost
 * (convstate_last_error() is then ""), and the host is not aborted. A thread that had
 * failed before is the case that aborted: its last-error slot existed and was torn down.
 * Run under valgrind, ASan and UBSan by scripts/test-ffi.sh; exits non-zero on a wrong code.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "convstate.h"

static convstate_engine *engine = NULL;
static pthread_key_t key;
static int worker_rc = -1;

/* The size query: fails with CONVSTATE_ERR_BUFFER_TOO_SMALL and reports the size. */
static int size_query(void) {
  size_t needed = 0;
  convstate_result rc = convstate_engine_snapshot(engine, NULL, 0, &needed);
  if (rc != CONVSTATE_ERR_BUFFER_TOO_SMALL || needed == 0) {
    fprintf(stderr, "size query returned %s, needed %zu\n", convstate_result_name(rc), needed);
    return 1;
  }
  return 0;
}

static void on_thread_exit(void *unused) {
  (void)unused;
  worker_rc = size_query();
}

static void *worker(void *unused) {
  (void)unused;
  if (size_query() != 0) {
    return NULL;
  }
  pthread_setspecific(key, engine);
  return NULL;
}

static void at_exit(void) {
  int failed = size_query();
  convstate_engine_free(engine);
  if (failed || worker_rc != 0) {
    fprintf(stderr, "after teardown: at exit %d, worker %d\n", failed, worker_rc);
    _Exit(1);
  }
  /* stdio may still be used in an atexit handler */
  printf("after_teardown: calls after thread-local teardown returned their codes\n");
}

int main(void) {
  if (convstate_engine_new("classic", 7, NULL, 0, &engine) != CONVSTATE_OK) {
    fprintf(stderr, "engine: %s\n", convstate_last_error());
    return 1;
  }
  pthread_key_create(&key, on_thread_exit);
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  pthread_join(thread, NULL);
  if (size_query() != 0) {
    return 1;
  }
  atexit(at_exit);
  return 0;
}
