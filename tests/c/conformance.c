/*
 * The conformance runner in C: runs the tests/scenarios files given as arguments through the
 * JSON door, convstate_engine_handle_json, and checks every "expect" / "expect_effects"
 * annotation with the matching rules of tests/scenarios/README.md, as the Rust runner
 * (core/tests/conformance.rs) does. Prints "N scenarios, M checks passed" so that
 * scripts/test-ffi.sh can compare the count with the Rust runner's.
 *
 * It carries a small JSON parser of its own (C has none) that keeps what the matching rules
 * need: decoded strings, numbers as written (integers compare exactly, as serde_json does,
 * and an integer never equals a float), and the raw text of every value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convstate.h"

/* ---- JSON values ------------------------------------------------------------------------ */

typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } json_type;

typedef struct json {
  json_type type;
  char *text;          /* J_STRING: decoded bytes; J_NUMBER: as written */
  size_t text_len;
  struct json *items;  /* J_ARRAY, J_OBJECT: values */
  char **keys;         /* J_OBJECT: decoded keys, NUL-terminated */
  size_t count;
  const char *raw;     /* the value's text in the input */
  size_t raw_len;
} json;

typedef struct {
  const char *at;
  const char *end;
  const char *error;
} parser;

static void json_free(json *v) {
  size_t i;
  free(v->text);
  for (i = 0; i < v->count; i++) {
    json_free(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  memset(v, 0, sizeof *v);
}

static void skip_space(parser *p) {
  while (p->at < p->end && (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r'))
    p->at++;
}

static int fail(parser *p, const char *why) {
  if (!p->error) p->error = why;
  return 0;
}

static void put_utf8(char *out, size_t *len, unsigned long cp) {
  if (cp < 0x80) {
    out[(*len)++] = (char)cp;
  } else if (cp < 0x800) {
    out[(*len)++] = (char)(0xC0 | (cp >> 6));
    out[(*len)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out[(*len)++] = (char)(0xE0 | (cp >> 12));
    out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*len)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*len)++] = (char)(0xF0 | (cp >> 18));
    out[(*len)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*len)++] = (char)(0x80 | (cp & 0x3F));
  }
}

static int hex4(parser *p, unsigned long *cp) {
  int i;
  *cp = 0;
  if (p->end - p->at < 4) return fail(p, "short \\u escape");
  for (i = 0; i < 4; i++) {
    char c = *p->at++;
    *cp <<= 4;
    if (c >= '0' && c <= '9') *cp |= (unsigned long)(c - '0');
    else if (c >= 'a' && c <= 'f') *cp |= (unsigned long)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') *cp |= (unsigned long)(c - 'A' + 10);
    else return fail(p, "bad \\u escape");
  }
  return 1;
}

/* Parses a string at p->at (on the opening quote) into a new NUL-terminated buffer. */
static int parse_string(parser *p, char **out, size_t *out_len) {
  /* Decoded text is never longer than the escaped text. */
  char *buf = malloc((size_t)(p->end - p->at) + 1);
  size_t len = 0;
  if (!buf) return fail(p, "out of memory");
  p->at++;
  while (p->at < p->end && *p->at != '"') {
    char c = *p->at++;
    if (c != '\\') {
      buf[len++] = c;
      continue;
    }
    if (p->at >= p->end) break;
    c = *p->at++;
    switch (c) {
      case '"': buf[len++] = '"'; break;
      case '\\': buf[len++] = '\\'; break;
      case '/': buf[len++] = '/'; break;
      case 'b': buf[len++] = '\b'; break;
      case 'f': buf[len++] = '\f'; break;
      case 'n': buf[len++] = '\n'; break;
      case 'r': buf[len++] = '\r'; break;
      case 't': buf[len++] = '\t'; break;
      case 'u': {
        unsigned long cp, low;
        if (!hex4(p, &cp)) { free(buf); return 0; }
        if (cp >= 0xD800 && cp < 0xDC00 && p->end - p->at >= 6 && p->at[0] == '\\' &&
            p->at[1] == 'u') {
          p->at += 2;
          if (!hex4(p, &low)) { free(buf); return 0; }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        put_utf8(buf, &len, cp);
        break;
      }
      default: free(buf); return fail(p, "bad escape");
    }
  }
  if (p->at >= p->end) { free(buf); return fail(p, "unterminated string"); }
  p->at++;
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  return 1;
}

static int parse_value(parser *p, json *v, int depth);

static int push_item(parser *p, json *v, size_t *capacity, int depth) {
  if (v->count == *capacity) {
    size_t grown = *capacity ? *capacity * 2 : 4;
    json *items = realloc(v->items, grown * sizeof *items);
    if (!items) return fail(p, "out of memory");
    v->items = items;
    if (v->type == J_OBJECT) {
      char **keys = realloc(v->keys, grown * sizeof *keys);
      if (!keys) return fail(p, "out of memory");
      v->keys = keys;
    }
    *capacity = grown;
  }
  memset(&v->items[v->count], 0, sizeof v->items[v->count]);
  if (v->type == J_OBJECT) {
    size_t key_len;
    skip_space(p);
    if (p->at >= p->end || *p->at != '"') return fail(p, "expected a key");
    if (!parse_string(p, &v->keys[v->count], &key_len)) return 0;
    skip_space(p);
    if (p->at >= p->end || *p->at != ':') {
      free(v->keys[v->count]);
      return fail(p, "expected ':'");
    }
    p->at++;
  }
  v->count++;
  if (!parse_value(p, &v->items[v->count - 1], depth + 1)) return 0;
  return 1;
}

static int parse_value(parser *p, json *v, int depth) {
  const char *start;
  if (depth > 64) return fail(p, "nested too deep");
  skip_space(p);
  start = p->at;
  v->raw = start;
  if (p->at >= p->end) return fail(p, "unexpected end");
  if (*p->at == '{' || *p->at == '[') {
    char close = *p->at == '{' ? '}' : ']';
    size_t capacity = 0;
    v->type = *p->at == '{' ? J_OBJECT : J_ARRAY;
    p->at++;
    skip_space(p);
    if (p->at < p->end && *p->at == close) {
      p->at++;
    } else {
      for (;;) {
        if (!push_item(p, v, &capacity, depth)) return 0;
        skip_space(p);
        if (p->at < p->end && *p->at == ',') { p->at++; continue; }
        if (p->at < p->end && *p->at == close) { p->at++; break; }
        return fail(p, "expected ',' or a closing bracket");
      }
    }
  } else if (*p->at == '"') {
    v->type = J_STRING;
    if (!parse_string(p, &v->text, &v->text_len)) return 0;
  } else if ((size_t)(p->end - p->at) >= 4 && strncmp(p->at, "null", 4) == 0) {
    v->type = J_NULL;
    p->at += 4;
  } else if ((size_t)(p->end - p->at) >= 4 && strncmp(p->at, "true", 4) == 0) {
    v->type = J_TRUE;
    p->at += 4;
  } else if ((size_t)(p->end - p->at) >= 5 && strncmp(p->at, "false", 5) == 0) {
    v->type = J_FALSE;
    p->at += 5;
  } else {
    while (p->at < p->end && strchr("+-0123456789.eE", *p->at)) p->at++;
    if (p->at == start) return fail(p, "unexpected character");
    v->type = J_NUMBER;
    v->text_len = (size_t)(p->at - start);
    v->text = malloc(v->text_len + 1);
    if (!v->text) return fail(p, "out of memory");
    memcpy(v->text, start, v->text_len);
    v->text[v->text_len] = '\0';
  }
  v->raw_len = (size_t)(p->at - start);
  return 1;
}

/* Parses exactly one JSON value from text[0..len). */
static int json_parse(const char *text, size_t len, json *v, const char **error) {
  parser p;
  p.at = text;
  p.end = text + len;
  p.error = NULL;
  memset(v, 0, sizeof *v);
  if (parse_value(&p, v, 0)) {
    skip_space(&p);
    if (p.at == p.end) return 1;
    fail(&p, "trailing characters");
  }
  *error = p.error;
  json_free(v);
  return 0;
}

static const json *member(const json *object, const char *key) {
  size_t i;
  if (object->type != J_OBJECT) return NULL;
  for (i = 0; i < object->count; i++)
    if (strcmp(object->keys[i], key) == 0) return &object->items[i];
  return NULL;
}

static int is_integer(const json *number) {
  return strpbrk(number->text, ".eE") == NULL;
}

/* The matching rules of tests/scenarios/README.md. */
static int matches(const json *expected, const json *actual) {
  size_t i;
  if (expected->type == J_OBJECT) {
    if (actual->type != J_OBJECT) return 0;
    /* `{}` checks that a map is empty: naming no key, it would check nothing. */
    if (expected->count == 0) return actual->count == 0;
    for (i = 0; i < expected->count; i++) {
      const json *a = member(actual, expected->keys[i]);
      if (!a || !matches(&expected->items[i], a)) return 0;
    }
    return 1;
  }
  if (expected->type == J_ARRAY) {
    if (actual->type != J_ARRAY || actual->count != expected->count) return 0;
    for (i = 0; i < expected->count; i++)
      if (!matches(&expected->items[i], &actual->items[i])) return 0;
    return 1;
  }
  if (expected->type != actual->type) return 0;
  switch (expected->type) {
    case J_STRING:
      return expected->text_len == actual->text_len &&
             memcmp(expected->text, actual->text, expected->text_len) == 0;
    case J_NUMBER:
      if (is_integer(expected) != is_integer(actual)) return 0;
      if (is_integer(expected)) return strcmp(expected->text, actual->text) == 0;
      return strtod(expected->text, NULL) == strtod(actual->text, NULL);
    default:
      return 1;
  }
}

/* ---- the runner ------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t capacity = 0, n;
  *len = 0;
  if (!f) return NULL;
  for (;;) {
    if (*len + 4096 + 1 > capacity) {
      char *grown;
      capacity = (capacity + 4096) * 2;
      grown = realloc(buf, capacity);
      if (!grown) { free(buf); fclose(f); return NULL; }
      buf = grown;
    }
    n = fread(buf + *len, 1, 4096, f);
    *len += n;
    if (n < 4096) break;
  }
  fclose(f);
  buf[*len] = '\0';
  return buf;
}

static int is_blank(const char *line, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') return 0;
  return 1;
}

/* Runs one scenario; returns its number of checks, or -1 after printing why it failed. */
static long run_scenario(const char *path) {
  size_t file_len, line_no = 0;
  char *text = read_file(path, &file_len);
  const char *line = text, *end;
  convstate_engine *engine = NULL;
  convstate_string *out = NULL;
  long checks = 0;
  int header_seen = 0, failed = 0;
  const char *error = NULL;

  if (!text) { fprintf(stderr, "%s: cannot read\n", path); return -1; }
  if (convstate_string_new(&out) != CONVSTATE_OK) { free(text); return -1; }
  for (; !failed && line < text + file_len; line = end + 1) {
    size_t len;
    json input;
    end = memchr(line, '\n', (size_t)(text + file_len - line));
    if (!end) end = text + file_len;
    len = (size_t)(end - line);
    line_no++;
    if (is_blank(line, len)) continue;
    if (!json_parse(line, len, &input, &error)) {
      fprintf(stderr, "%s:%lu: not JSON: %s\n", path, (unsigned long)line_no, error);
      failed = 1;
      break;
    }
    if (!header_seen) {
      const json *policy = member(&input, "policy");
      const json *overrides = member(&input, "policy_overrides");
      convstate_result rc;
      header_seen = 1;
      if (!member(&input, "scenario") || !policy || policy->type != J_STRING) {
        fprintf(stderr, "%s: the first line must be a {\"scenario\":..,\"policy\":..} header\n",
                path);
        failed = 1;
      } else {
        rc = convstate_engine_new(policy->text, policy->text_len,
                                  overrides ? overrides->raw : NULL,
                                  overrides ? overrides->raw_len : 0, &engine);
        if (rc != CONVSTATE_OK) {
          fprintf(stderr, "%s: %s: %s\n", path, convstate_result_name(rc), convstate_last_error());
          failed = 1;
        }
      }
    } else {
      const json *expect = member(&input, "expect");
      const json *expect_effects = member(&input, "expect_effects");
      convstate_result rc = convstate_engine_handle_json(engine, line, len, out);
      if (rc != CONVSTATE_OK) {
        fprintf(stderr, "%s:%lu: %s: %s\n", path, (unsigned long)line_no,
                convstate_result_name(rc), convstate_last_error());
        failed = 1;
      } else {
        /* The output lines, parsed into one array: [result, effect, effect, ...]. */
        const char *o = convstate_string_ptr(out), *o_end = o + convstate_string_len(out);
        json outputs;
        size_t capacity = 0;
        memset(&outputs, 0, sizeof outputs);
        outputs.type = J_ARRAY;
        while (!failed && o < o_end) {
          const char *nl = memchr(o, '\n', (size_t)(o_end - o));
          json *slot;
          if (outputs.count == capacity) {
            json *grown;
            capacity = capacity ? capacity * 2 : 4;
            grown = realloc(outputs.items, capacity * sizeof *grown);
            if (!grown) { failed = 1; break; }
            outputs.items = grown;
          }
          slot = &outputs.items[outputs.count];
          if (!json_parse(o, (size_t)(nl - o), slot, &error)) {
            fprintf(stderr, "%s:%lu: engine output is not JSON: %s\n", path,
                    (unsigned long)line_no, error);
            failed = 1;
            break;
          }
          outputs.count++;
          o = nl + 1;
        }
        if (!failed && outputs.count == 0) {
          fprintf(stderr, "%s:%lu: no result line\n", path, (unsigned long)line_no);
          failed = 1;
        }
        if (!failed && expect) {
          checks++;
          if (!matches(expect, &outputs.items[0])) {
            fprintf(stderr, "%s:%lu: expected %.*s\n  got %.*s\n", path, (unsigned long)line_no,
                    (int)expect->raw_len, expect->raw, (int)outputs.items[0].raw_len,
                    outputs.items[0].raw);
            failed = 1;
          }
        }
        if (!failed && expect_effects) {
          json effects = outputs;
          checks++;
          effects.items = outputs.items + 1;
          effects.count = outputs.count - 1;
          if (!matches(expect_effects, &effects)) {
            size_t i;
            fprintf(stderr, "%s:%lu: expected effects %.*s\n  got", path, (unsigned long)line_no,
                    (int)expect_effects->raw_len, expect_effects->raw);
            for (i = 0; i < effects.count; i++)
              fprintf(stderr, "\n      %.*s", (int)effects.items[i].raw_len, effects.items[i].raw);
            fprintf(stderr, "\n");
            failed = 1;
          }
        }
        json_free(&outputs);
      }
    }
    json_free(&input);
  }
  if (!failed && checks == 0) {
    fprintf(stderr, "%s: scenario has no expect annotation\n", path);
    failed = 1;
  }
  convstate_engine_free(engine);
  convstate_string_free(out);
  free(text);
  return failed ? -1 : checks;
}

int main(int argc, char **argv) {
  int i, failures = 0;
  long checks = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCENARIO.jsonl...\n", argv[0]);
    return 2;
  }
  for (i = 1; i < argc; i++) {
    long n = run_scenario(argv[i]);
    if (n < 0) failures++;
    else checks += n;
  }
  if (failures) {
    fprintf(stderr, "%d of %d scenarios failed\n", failures, argc - 1);
    return 1;
  }
  printf("%d scenarios, %ld checks passed\n", argc - 1, checks);
  return 0;
}
