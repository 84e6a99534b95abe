// The azure-logs parser's fast path, a Node-API add-on built by scripts/build.mjs with the machine's
// C compiler. It reads JSON lines of bytes and, for each record, the few fields the report needs,
// as parse.ts would, without building the record as JavaScript objects (which cost most of a
// parser thread's time). Without it (no compiler), parse.ts reads every line itself.
//
// It answers only where it is certain to agree with parse.ts: a line it takes is valid JSON by the
// grammar JSON.parse reads (RFC 8259), an object, and its fields are plain. Anything else stops the
// call at that line, and parse.ts reads the line its own way (JSON.parse), which decides: a string
// field with an escape, a `records` key, a time in a form other than Azure's own, a duration written
// as text, `properties` as a string with `\u` escapes or not holding an object, a line past the cap,
// a byte order mark, nesting deeper than MAX_DEPTH. test/azure-logs-scan.test.ts holds both paths
// to the same answer on every quirk the synthetic data has and on lines mutated at random.
//
// table() makes a table of the distinct values and tuples read (kept until it is collected); each
// parser thread keeps one, and mirrors it by what `scan` hands out.
// scan(table, bytes, from, maxLineBytes, meta, records, latency, fresh, tuples) reads the whole
// lines of `bytes` (Uint8Array, ending with a newline) from byte `from` on, and fills:
// - records (Int32Array, one a record): the id of the record's tuple: its day, model, version,
//   deployment, operation, category and resource as ids of distinct values (-1: none), then its
//   status (a code 100-599, STATUS_OTHER or STATUS_NONE). A job's records fall into few tuples;
// - tuples (Int32Array, TUPLE_INTS a tuple): the tuples first seen by this call, in id order;
// - latency (Float64Array, one a record): durationMs, NaN when there is none usable;
// - fresh (Array): the values first seen by this call, each a string decoded from UTF-8, in the
//   order of their ids;
// - meta (Int32Array): see the M_ constants.
// Ids count on from the ones handed out before, or from 0 after a reset (M_RESET). It stops at the
// end of the bytes, at a line it leaves to parse.ts, or when `records` or `tuples` is full.

// Node-API 8 (every Node from 16 on) has the type tags that tell a table from any other value.
#define NAPI_VERSION 8
#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
  /** Why the call stopped: STOP_END (all read), STOP_LINE (a line for parse.ts at M_STOP), STOP_FULL. */
  M_STATUS = 0,
  /** Where reading stopped: the end, or the start of the line left to parse.ts, or the next line. */
  M_STOP,
  /** Records written. */
  M_RECORDS,
  /** Lines read (blank ones included), each ended by its newline. */
  M_LINES,
  /** 1 when the distinct values were forgotten at the start of this call: ids count from 0 again. */
  M_RESET,
  /** The earliest and latest record time read (start and length in `bytes`; length 0: none). */
  M_MIN_AT,
  M_MIN_LEN,
  M_MAX_AT,
  M_MAX_LEN,
  /** Tuples first seen by this call (written to `tuples`). */
  M_TUPLES,
  M_INTS
};
enum { STOP_END = 0, STOP_LINE = 1, STOP_FULL = 2 };
enum { TUPLE_INTS = 8 };
enum { STATUS_OTHER = -1, STATUS_NONE = -2 };

/** Deeper nesting than this is left to JSON.parse. */
#define MAX_DEPTH 64
/** A dimension value longer than this (in bytes) is left to parse.ts, which cuts it to length. */
#define MAX_VALUE 512
/** Distinct values remembered before they are forgotten (at the start of a call). */
#define MAX_VALUES 32768
/** Slots of the hash table, a power of two; a call adds at most what keeps it half full. */
#define SLOTS (1u << 18)
/** Distinct tuples remembered before all is forgotten, and their hash table's slots. */
#define MAX_TUPLES 32768
#define TUPLE_SLOTS (1u << 17)

typedef struct {
  const uint8_t *p;
  size_t n;
} span;

/** A JSON value as read: its kind and, for a string, its contents between the quotes. */
enum kind { K_MISSING = 0, K_STRING, K_NUMBER, K_NULL, K_TRUE, K_FALSE, K_OBJECT, K_ARRAY };
typedef struct {
  enum kind kind;
  span text;
  /** A string holding a backslash (an escape), or a `\u` escape for `unicode`. */
  int escaped;
  int unicode;
} value;

/** The distinct values read (by their bytes) and tuples of them; an id is the order of first sight. */
typedef struct {
  uint32_t *slots; /* id + 1, 0 for empty */
  uint32_t *offsets;
  uint32_t *lengths;
  uint32_t count;
  uint8_t *arena;
  size_t arenaUsed, arenaSize;
  uint8_t *scratch;
  size_t scratchSize;
  /** The id each field had in the record before (id + 1; 0: none): records come in runs. */
  uint32_t last[TUPLE_INTS];
  /** The distinct tuples: TUPLE_INTS ints each, found by a hash table of id + 1 (0: empty). */
  int32_t *tuples;
  uint32_t *tupleSlots;
  uint32_t tupleCount;
  /** The last record's tuple id + 1 (0: none). */
  uint32_t lastTuple;
} table;

static uint32_t hash(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void forget(table *t) {
  memset(t->slots, 0, SLOTS * sizeof(uint32_t));
  memset(t->last, 0, sizeof t->last);
  t->count = 0;
  t->arenaUsed = 0;
  memset(t->tupleSlots, 0, TUPLE_SLOTS * sizeof(uint32_t));
  t->tupleCount = 0;
  t->lastTuple = 0;
}

/** The id of tuple `v`, added (and copied to `fresh`, at `*freshCount`) when new. */
static int32_t tupleOf(table *t, const int32_t *v, int32_t *fresh, uint32_t *freshCount) {
  size_t bytes = TUPLE_INTS * sizeof(int32_t);
  if (t->lastTuple > 0 && memcmp(t->tuples + (t->lastTuple - 1) * TUPLE_INTS, v, bytes) == 0)
    return (int32_t)(t->lastTuple - 1);
  uint32_t mask = TUPLE_SLOTS - 1, i = hash((const uint8_t *)v, bytes) & mask;
  for (;;) {
    uint32_t slot = t->tupleSlots[i];
    if (slot == 0) break;
    if (memcmp(t->tuples + (slot - 1) * TUPLE_INTS, v, bytes) == 0) {
      t->lastTuple = slot;
      return (int32_t)(slot - 1);
    }
    i = (i + 1) & mask;
  }
  uint32_t id = t->tupleCount++;
  memcpy(t->tuples + id * TUPLE_INTS, v, bytes);
  memcpy(fresh + (*freshCount)++ * TUPLE_INTS, v, bytes);
  t->tupleSlots[i] = id + 1;
  t->lastTuple = id + 1;
  return (int32_t)id;
}

/** The id of `s`, added (and pushed onto `fresh` as a string) when new; -2 when out of memory. */
static int32_t intern(napi_env env, table *t, span s, napi_value fresh, uint32_t *freshCount) {
  uint32_t mask = SLOTS - 1, i = hash(s.p, s.n) & mask;
  for (;;) {
    uint32_t slot = t->slots[i];
    if (slot == 0) break;
    uint32_t id = slot - 1;
    if (t->lengths[id] == s.n && memcmp(t->arena + t->offsets[id], s.p, s.n) == 0) return (int32_t)id;
    i = (i + 1) & mask;
  }
  if (t->arenaUsed + s.n > t->arenaSize) {
    size_t size = t->arenaSize * 2 + s.n;
    uint8_t *grown = realloc(t->arena, size);
    if (!grown) return -2;
    t->arena = grown;
    t->arenaSize = size;
  }
  uint32_t id = t->count++;
  memcpy(t->arena + t->arenaUsed, s.p, s.n);
  t->offsets[id] = (uint32_t)t->arenaUsed;
  t->lengths[id] = (uint32_t)s.n;
  t->arenaUsed += s.n;
  t->slots[i] = id + 1;
  napi_value str;
  if (napi_create_string_utf8(env, (const char *)s.p, s.n, &str) != napi_ok) return -2;
  if (napi_set_element(env, fresh, (*freshCount)++, str) != napi_ok) return -2;
  return (int32_t)id;
}

/* ---- JSON, by the grammar of RFC 8259 (what JSON.parse accepts). Each reader returns 0 when the
 * text is not that grammar (or is beyond what this reader takes: the caller leaves it to JSON.parse). */

static const uint8_t *ws(const uint8_t *p, const uint8_t *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
  return p;
}

static int hex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/**
 * The offset of the first byte from `p` that is a quote, a backslash or below 0x20 (what a string
 * must look at), or `end - p` when there is none before `end`: 16 bytes at a time with SSE2, 8 with
 * a word's arithmetic elsewhere, then byte by byte.
 */
static size_t plainRun(const uint8_t *p, const uint8_t *end) {
  const uint8_t *q = p;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
  while (end - q >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)q);
    // Below 0x20 (unsigned): the larger of x and 0x20 is not x.
    __m128i low = _mm_xor_si128(_mm_cmpeq_epi8(_mm_max_epu8(x, space), x), _mm_set1_epi8(-1));
    int mask = _mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)), low));
    if (mask) return (size_t)(q - p) + (size_t)__builtin_ctz((unsigned)mask);
    q += 16;
  }
#elif defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (end - q >= 8) {
    uint64_t w;
    memcpy(&w, q, 8);
    uint64_t a = w ^ (ones * '"'), b = w ^ (ones * '\\');
    // Each test flags its lowest matching byte exactly (a borrow only runs upward from it).
    uint64_t mask = (((a - ones) & ~a) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
    if (mask) return (size_t)(q - p) + (size_t)(__builtin_ctzll(mask) >> 3);
    q += 8;
  }
#endif
  while (q < end && *q != '"' && *q != '\\' && *q >= 0x20) q++;
  return (size_t)(q - p);
}

/** A string from its opening quote; `*at` moves past the closing one. */
static int string(const uint8_t **at, const uint8_t *end, value *v) {
  const uint8_t *p = *at + 1, *start = p;
  int escaped = 0, unicode = 0;
  for (;;) {
    p += plainRun(p, end);
    if (p >= end) return 0;
    uint8_t c = *p;
    if (c == '"') break;
    if (c < 0x20) return 0;
    if (c == '\\') {
      escaped = 1;
      if (p + 1 >= end) return 0;
      uint8_t e = p[1];
      if (e == 'u') {
        if (p + 5 >= end || !hex(p[2]) || !hex(p[3]) || !hex(p[4]) || !hex(p[5])) return 0;
        unicode = 1;
        p += 6;
        continue;
      }
      if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
        return 0;
      p += 2;
      continue;
    }
    p++;
  }
  v->kind = K_STRING;
  v->text.p = start;
  v->text.n = (size_t)(p - start);
  v->escaped = escaped;
  v->unicode = unicode;
  *at = p + 1;
  return 1;
}

static int digit(uint8_t c) { return c >= '0' && c <= '9'; }

/** A JSON number's value, as JSON.parse rounds it; 0 when it is too long to read here. */
static int numberValue(span s, double *out) {
  // Up to 15 digits, no sign, fraction or exponent: an integer a double holds exactly.
  if (s.n <= 15) {
    double d = 0;
    size_t i = 0;
    while (i < s.n && digit(s.p[i])) d = d * 10 + (s.p[i++] - '0');
    if (i == s.n) {
      *out = d;
      return 1;
    }
  }
  char buffer[64];
  if (s.n >= sizeof buffer) return 0;
  memcpy(buffer, s.p, s.n);
  buffer[s.n] = 0;
  *out = strtod(buffer, NULL);
  return 1;
}

/** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(const uint8_t **at, const uint8_t *end, value *v) {
  const uint8_t *p = *at, *start = p;
  if (p < end && *p == '-') p++;
  if (p >= end || !digit(*p)) return 0;
  if (*p == '0') p++;
  else
    while (p < end && digit(*p)) p++;
  if (p < end && *p == '.') {
    p++;
    if (p >= end || !digit(*p)) return 0;
    while (p < end && digit(*p)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p >= end || !digit(*p)) return 0;
    while (p < end && digit(*p)) p++;
  }
  v->kind = K_NUMBER;
  v->text.p = start;
  v->text.n = (size_t)(p - start);
  *at = p;
  return 1;
}

static int literal(const uint8_t **at, const uint8_t *end, const char *word, size_t n) {
  if ((size_t)(end - *at) < n || memcmp(*at, word, n) != 0) return 0;
  *at += n;
  return 1;
}

static int any(const uint8_t **at, const uint8_t *end, value *v, int depth);

/** An object's or array's members, from its opening bracket: checked, not kept. */
static int container(const uint8_t **at, const uint8_t *end, int depth, int object) {
  if (depth >= MAX_DEPTH) return 0;
  const uint8_t *p = ws(*at + 1, end);
  uint8_t close = object ? '}' : ']';
  if (p < end && *p == close) {
    *at = p + 1;
    return 1;
  }
  for (;;) {
    value v;
    if (object) {
      if (p >= end || *p != '"' || !string(&p, end, &v)) return 0;
      p = ws(p, end);
      if (p >= end || *p != ':') return 0;
      p = ws(p + 1, end);
    }
    if (!any(&p, end, &v, depth + 1)) return 0;
    p = ws(p, end);
    if (p >= end) return 0;
    if (*p == ',') {
      p = ws(p + 1, end);
      continue;
    }
    if (*p != close) return 0;
    *at = p + 1;
    return 1;
  }
}

/** Any value; objects and arrays are checked whole but only their text is kept. */
static int any(const uint8_t **at, const uint8_t *end, value *v, int depth) {
  const uint8_t *p = *at;
  if (p >= end) return 0;
  switch (*p) {
    case '"':
      return string(at, end, v);
    case '{':
    case '[': {
      if (!container(at, end, depth, *p == '{')) return 0;
      v->kind = *p == '{' ? K_OBJECT : K_ARRAY;
      v->text.p = p;
      v->text.n = (size_t)(*at - p);
      return 1;
    }
    case 't':
      v->kind = K_TRUE;
      return literal(at, end, "true", 4);
    case 'f':
      v->kind = K_FALSE;
      return literal(at, end, "false", 5);
    case 'n':
      v->kind = K_NULL;
      return literal(at, end, "null", 4);
    default:
      return number(at, end, v);
  }
}

static int is(span key, const char *name, size_t n) { return key.n == n && memcmp(key.p, name, n) == 0; }
#define IS(key, name) is(key, name, sizeof(name) - 1)

/** The fields of a record the report reads (the last of each name, as JSON.parse keeps). */
typedef struct {
  value time, resourceId, category, operationName, resultSignature, durationMs, properties;
} top;
typedef struct {
  value modelName, modelVersion, modelDeploymentName, responseCode;
} props;

/**
 * An object's members from its opening brace, with the fields of `t` (a record) or `q` (its
 * properties) read. 1: read; 0: not JSON by this reader; -1: JSON, but for parse.ts (a `records`
 * key, an escaped key).
 */
static int members(const uint8_t **at, const uint8_t *end, top *t, props *q, int depth) {
  if (depth >= MAX_DEPTH) return 0;
  const uint8_t *p = ws(*at + 1, end);
  if (p < end && *p == '}') {
    *at = p + 1;
    return 1;
  }
  int forParse = 0;
  for (;;) {
    value key, v;
    if (p >= end || *p != '"' || !string(&p, end, &key)) return 0;
    p = ws(p, end);
    if (p >= end || *p != ':') return 0;
    p = ws(p + 1, end);
    span k = key.text;
    if (t && !key.escaped && IS(k, "properties")) {
      // Read as it is checked; a later `properties` replaces it whole, as in JSON.parse.
      memset(q, 0, sizeof *q);
      if (p < end && *p == '{') {
        const uint8_t *from = p;
        int r = members(&p, end, NULL, q, depth + 1);
        if (r == 0) return 0;
        if (r < 0) forParse = 1;
        v.kind = K_OBJECT;
        v.text.p = from;
        v.text.n = (size_t)(p - from);
      } else if (!any(&p, end, &v, depth + 1)) {
        return 0;
      }
      t->properties = v;
    } else {
      if (!any(&p, end, &v, depth + 1)) return 0;
      if (key.escaped) forParse = 1;
      else if (t) {
        // By length first: most keys are none of these.
        switch (k.n) {
          case 4: if (IS(k, "time")) t->time = v; break;
          case 7: if (IS(k, "records")) forParse = 1; break;
          case 8: if (IS(k, "category")) t->category = v; break;
          case 10:
            if (IS(k, "resourceId")) t->resourceId = v;
            else if (IS(k, "durationMs")) t->durationMs = v;
            break;
          case 13: if (IS(k, "operationName")) t->operationName = v; break;
          case 15: if (IS(k, "resultSignature")) t->resultSignature = v; break;
        }
      } else {
        switch (k.n) {
          case 9: if (IS(k, "modelName")) q->modelName = v; break;
          case 12:
            if (IS(k, "modelVersion")) q->modelVersion = v;
            else if (IS(k, "responseCode")) q->responseCode = v;
            break;
          case 19: if (IS(k, "modelDeploymentName")) q->modelDeploymentName = v; break;
        }
      }
    }
    p = ws(p, end);
    if (p >= end) return 0;
    if (*p == ',') {
      p = ws(p + 1, end);
      continue;
    }
    if (*p != '}') return 0;
    *at = p + 1;
    return forParse ? -1 : 1;
  }
}

/** A whole text that is one JSON object, with its fields read. */
static int object(const uint8_t *p, const uint8_t *end, top *t, props *q) {
  p = ws(p, end);
  if (p >= end || *p != '{') return -1;
  int r = members(&p, end, t, q, 0);
  if (r != 1) return -1;
  return ws(p, end) == end ? 1 : -1;
}

/** `properties` given as a string: unescaped into the scratch buffer, then read as an object. */
static int stringProps(table *tb, value *v, props *q) {
  if (v->text.n > tb->scratchSize) {
    uint8_t *grown = realloc(tb->scratch, v->text.n);
    if (!grown) return 0;
    tb->scratch = grown;
    tb->scratchSize = v->text.n;
  }
  const uint8_t *p = v->text.p, *end = p + v->text.n;
  uint8_t *out = tb->scratch;
  while (p < end) {
    if (*p != '\\') {
      *out++ = *p++;
      continue;
    }
    switch (p[1]) {
      case '"': *out++ = '"'; break;
      case '\\': *out++ = '\\'; break;
      case '/': *out++ = '/'; break;
      case 'b': *out++ = '\b'; break;
      case 'f': *out++ = '\f'; break;
      case 'n': *out++ = '\n'; break;
      case 'r': *out++ = '\r'; break;
      case 't': *out++ = '\t'; break;
      default: return 0; /* \u: left to parse.ts */
    }
    p += 2;
  }
  return object(tb->scratch, out, NULL, q) == 1;
}

/** A plain string (no escape, not too long); `*none` when the field is no non-empty string. */
static int plain(const value *v, span *s) {
  s->p = NULL;
  s->n = 0;
  if (v->kind != K_STRING || v->text.n == 0) return 1;
  if (v->escaped || v->text.n > MAX_VALUE) return 0;
  *s = v->text;
  return 1;
}

/** A status: a code 100-599 from a whole number or three digits of text, else STATUS_OTHER/NONE. */
static int status(const value *v, int32_t *code) {
  switch (v->kind) {
    case K_MISSING:
    case K_NULL:
      *code = STATUS_NONE;
      return 1;
    case K_STRING: {
      if (v->escaped) return 0;
      const uint8_t *s = v->text.p;
      if (v->text.n == 0) *code = STATUS_NONE;
      else if (v->text.n == 3 && s[0] >= '1' && s[0] <= '5' && digit(s[1]) && digit(s[2]))
        *code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
      else
        *code = STATUS_OTHER;
      return 1;
    }
    case K_NUMBER: {
      double d;
      if (!numberValue(v->text, &d)) return 0;
      *code = d >= 100 && d <= 599 && d == floor(d) ? (int32_t)d : STATUS_OTHER;
      return 1;
    }
    default:
      *code = STATUS_OTHER;
      return 1;
  }
}

/** Azure's own time form, 2024-06-01T10:41:13.7226411Z: its text is its sortable key. */
static int azureTime(span s) {
  static const char form[] = "dddd-dd-ddTdd:dd:dd.dddddddZ";
  if (s.n != sizeof form - 1) return 0;
  for (size_t i = 0; i < s.n; i++) {
    if (form[i] == 'd' ? !digit(s.p[i]) : s.p[i] != (uint8_t)form[i]) return 0;
  }
  return 1;
}

static int before(span a, span b) {
  int c = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);
  return c < 0 || (c == 0 && a.n < b.n);
}

typedef struct {
  napi_env env;
  table *t;
  napi_value fresh;
  uint32_t freshCount;
  int failed;
} interner;

/** The id of field `field`'s value `s` (-1: none), tried first against the field's last one. */
static int32_t idOf(interner *in, int field, span s) {
  if (s.p == NULL) return -1;
  table *t = in->t;
  uint32_t last = t->last[field];
  if (last > 0 && t->lengths[last - 1] == s.n && memcmp(t->arena + t->offsets[last - 1], s.p, s.n) == 0)
    return (int32_t)(last - 1);
  int32_t id = intern(in->env, t, s, in->fresh, &in->freshCount);
  if (id < 0) in->failed = 1;
  else t->last[field] = (uint32_t)id + 1;
  return id;
}

/**
 * One line (without its newline) as a record: 1 written, 0 blank, -1 for parse.ts. `time` is the
 * record's time when it has one in Azure's form (n = 0: none).
 */
static int line(interner *in, const uint8_t *p, const uint8_t *end, int32_t *out, double *latency,
                span *time) {
  // `out`: the record's tuple (TUPLE_INTS ints).
  const uint8_t *q = p;
  while (q < end && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
  if (q == end) return 0;
  top t;
  props pr;
  memset(&t, 0, sizeof t);
  memset(&pr, 0, sizeof pr);
  if (object(q, end, &t, &pr) != 1) return -1;
  if (t.properties.kind == K_STRING) {
    if (t.properties.unicode || !stringProps(in->t, &t.properties, &pr)) return -1;
  }

  span category, model, version, deployment, operation, resource;
  if (!plain(&t.category, &category) || !plain(&pr.modelName, &model) ||
      !plain(&pr.modelVersion, &version) || !plain(&pr.modelDeploymentName, &deployment) ||
      !plain(&t.operationName, &operation))
    return -1;
  // The resource is the last segment of the resourceId (the whole of it when that would be empty).
  if (!plain(&t.resourceId, &resource)) return -1;
  if (resource.p) {
    for (size_t i = resource.n; i-- > 0;) {
      if (resource.p[i] == '/') {
        if (i + 1 < resource.n) {
          resource.p += i + 1;
          resource.n -= i + 1;
        }
        break;
      }
    }
  }
  int32_t code;
  int gateway = category.p && IS(category, "GatewayLogs");
  if (!status(gateway ? &pr.responseCode : &t.resultSignature, &code)) return -1;

  time->n = 0;
  span day = {NULL, 0};
  if (t.time.kind == K_STRING) {
    if (t.time.escaped || !azureTime(t.time.text)) return -1;
    *time = t.time.text;
    day.p = t.time.text.p; // its first 10 bytes: the UTC day
    day.n = 10;
  }

  double ms = NAN;
  // No latency without a status class (no status, 1xx, 3xx), as parse.ts counts it.
  int noStatus = code < 200 || (code >= 300 && code < 400);
  if (t.durationMs.kind == K_STRING) return -1;
  if (t.durationMs.kind == K_NUMBER && !noStatus) {
    double d;
    if (!numberValue(t.durationMs.text, &d)) return -1;
    if (isfinite(d) && d >= 0) ms = d;
  }

  out[0] = idOf(in, 0, day);
  out[1] = idOf(in, 1, model);
  out[2] = idOf(in, 2, version);
  out[3] = idOf(in, 3, deployment);
  out[4] = idOf(in, 4, operation);
  out[5] = idOf(in, 5, category);
  out[6] = idOf(in, 6, resource);
  out[7] = code;
  *latency = ms;
  return 1;
}

static void *typed(napi_env env, napi_value v, napi_typedarray_type want, size_t *length) {
  napi_typedarray_type type;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != want)
    return NULL;
  return data;
}

/** The tag that tells a table made here from any other external value. */
static const napi_type_tag TABLE_TAG = {0x736c75696365u, 0x7363616e7461626cu};

static napi_value scan(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  table *t = NULL;
  bool tagged = false;
  size_t length, metaLength, recordCount, latencies, tupleInts;
  const uint8_t *bytes = argc >= 9 ? typed(env, argv[1], napi_uint8_array, &length) : NULL;
  int32_t *meta = bytes ? typed(env, argv[4], napi_int32_array, &metaLength) : NULL;
  int32_t *records = bytes ? typed(env, argv[5], napi_int32_array, &recordCount) : NULL;
  double *latency = bytes ? typed(env, argv[6], napi_float64_array, &latencies) : NULL;
  int32_t *tuples = bytes ? typed(env, argv[8], napi_int32_array, &tupleInts) : NULL;
  int64_t from, maxLine;
  if (!bytes || !meta || metaLength < M_INTS || !records || !latency || !tuples ||
      napi_check_object_type_tag(env, argv[0], &TABLE_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, argv[0], (void **)&t) != napi_ok ||
      napi_get_value_int64(env, argv[2], &from) != napi_ok ||
      napi_get_value_int64(env, argv[3], &maxLine) != napi_ok || from < 0 || (size_t)from > length) {
    napi_throw_type_error(
        env, NULL, "scan(table, bytes, from, maxLineBytes, meta, records, latency, fresh, tuples)");
    return NULL;
  }
  size_t capacity = recordCount < latencies ? recordCount : latencies;
  if (capacity > tupleInts / TUPLE_INTS) capacity = tupleInts / TUPLE_INTS;
  // Each record adds at most 7 values and one tuple: the tables must stay at most half full.
  if (capacity > (SLOTS / 2 - MAX_VALUES) / 7) capacity = (SLOTS / 2 - MAX_VALUES) / 7;
  if (capacity > TUPLE_SLOTS / 2 - MAX_TUPLES) capacity = TUPLE_SLOTS / 2 - MAX_TUPLES;

  meta[M_RESET] = 0;
  if (t->count >= MAX_VALUES || t->tupleCount >= MAX_TUPLES) {
    forget(t);
    meta[M_RESET] = 1;
  }
  uint32_t freshTuples = 0;
  interner in = {env, t, argv[7], 0, 0};
  span lo = {NULL, 0}, hi = {NULL, 0};
  const uint8_t *p = bytes + from, *end = bytes + length;
  int32_t n = 0, lines = 0, stop = STOP_END;
  while (p < end) {
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break; /* not a whole line: parse.ts never sends one */
    if ((size_t)n >= capacity) {
      stop = STOP_FULL;
      break;
    }
    span time;
    int32_t tuple[TUPLE_INTS];
    int r = (int64_t)(nl - p) > maxLine ? -1 : line(&in, p, nl, tuple, latency + n, &time);
    if (in.failed) {
      napi_throw_error(env, NULL, "scan: out of memory");
      return NULL;
    }
    if (r < 0) {
      stop = STOP_LINE;
      break;
    }
    if (r == 1) {
      records[n] = tupleOf(t, tuple, tuples, &freshTuples);
      if (time.n > 0) {
        if (!lo.p || before(time, lo)) lo = time;
        if (!hi.p || before(hi, time)) hi = time;
      }
      n++;
    }
    lines++;
    p = nl + 1;
  }
  meta[M_STATUS] = stop;
  meta[M_STOP] = (int32_t)(p - bytes);
  meta[M_RECORDS] = n;
  meta[M_LINES] = lines;
  meta[M_MIN_AT] = lo.p ? (int32_t)(lo.p - bytes) : 0;
  meta[M_MIN_LEN] = (int32_t)lo.n;
  meta[M_MAX_AT] = hi.p ? (int32_t)(hi.p - bytes) : 0;
  meta[M_MAX_LEN] = (int32_t)hi.n;
  meta[M_TUPLES] = (int32_t)freshTuples;
  return NULL;
}

static void release(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  table *t = data;
  free(t->slots);
  free(t->offsets);
  free(t->lengths);
  free(t->arena);
  free(t->scratch);
  free(t->tuples);
  free(t->tupleSlots);
  free(t);
}

static napi_value newTable(napi_env env, napi_callback_info info) {
  (void)info;
  table *t = calloc(1, sizeof *t);
  if (!t) {
    napi_throw_error(env, NULL, "scan: out of memory");
    return NULL;
  }
  t->slots = calloc(SLOTS, sizeof(uint32_t));
  t->offsets = malloc(SLOTS * sizeof(uint32_t));
  t->lengths = malloc(SLOTS * sizeof(uint32_t));
  t->arenaSize = 1 << 20;
  t->arena = malloc(t->arenaSize);
  t->scratchSize = 1 << 12;
  t->scratch = malloc(t->scratchSize);
  // A call starts with fewer than MAX_TUPLES and adds at most what keeps the slots half full.
  t->tuples = malloc((TUPLE_SLOTS / 2) * TUPLE_INTS * sizeof(int32_t));
  t->tupleSlots = calloc(TUPLE_SLOTS, sizeof(uint32_t));
  napi_value external;
  if (!t->slots || !t->offsets || !t->lengths || !t->arena || !t->scratch || !t->tuples || !t->tupleSlots ||
      napi_create_external(env, t, release, NULL, &external) != napi_ok) {
    release(env, t, NULL);
    napi_throw_error(env, NULL, "scan: out of memory");
    return NULL;
  }
  napi_type_tag_object(env, external, &TABLE_TAG);
  return external;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "scan", NAPI_AUTO_LENGTH, scan, NULL, &fn);
  napi_set_named_property(env, exports, "scan", fn);
  napi_create_function(env, "table", NAPI_AUTO_LENGTH, newTable, NULL, &fn);
  napi_set_named_property(env, exports, "table", fn);
  return exports;
}
