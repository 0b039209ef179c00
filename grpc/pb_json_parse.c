/*
 * pb_json_parse.c - JSON text -> protobuf wire bytes in one pass, with the
 * rules of json_format.Parse.
 *
 * A hand-written tokenizer feeds a state machine whose explicit stack holds
 * one frame per open JSON object or array.  Each value becomes wire bytes
 * the moment it is read, appended to the caller's pb_buf: no tree, no
 * allocation per field.  What a frame must remember (which fields were
 * seen, which map keys) lives on a scratch stack freed with the frame.
 *
 * Length prefixes.  A nested message's length is known only at its end, so
 * when it starts one byte is reserved for the length ("pending"); when it
 * ends, the length goes into that byte if it fits (a body under 128 bytes,
 * the common case), else the body moves right by the bytes the longer
 * varint needs:
 *
 *   tag [L] body......            body < 128: L written in place
 *   tag [L L] body...........     larger: body moved 1 to 4 bytes right
 *
 * One memmove per large nested message keeps the output canonical (minimal
 * varints) at a cost far below that of reading the body's text.
 *
 * What the value of a JSON member turns into depends on its field; every
 * length a value opened is "pending" for that value, and whoever completes
 * the value (the scalar writer at once, or the frame of an object/array
 * when it closes) closes them, innermost first.
 */
#include "grpc/pb_json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "grpc/bytes_eq.h"
#include "grpc/pb_json_text.h"
#include "grpc/pb_wire.h"

/* Frames: an array of messages costs two (array + object) per level of
 * message nesting, which PB_JSON_MAX_DEPTH bounds; Struct values and
 * ignored values nest up to the same number of frames. */
#define JP_MAX_FRAMES (2 * PB_JSON_MAX_DEPTH + 8)
/* Lengths one value can leave open: map entry, entry value, Any.value or
 * Value.struct_value. */
#define MAX_PENDING 4
/* Escaped keys and string-encoded numbers are decoded into a buffer of
 * this size; longer ones cannot name a field. */
#define SMALL_TEXT 512
/* Python 3.11 refuses to convert integers of more digits from text
 * (sys.int_info.default_max_str_digits), so json.loads does too. */
#define PY_INT_MAX_DIGITS 4300
/* Inline part of the scratch stack; heap beyond it. */
#define SCRATCH_INLINE 4096

enum tkind { T_STR, T_NUM, T_TRUE, T_FALSE, T_NULL, T_OBJ, T_ARR };

/* Python's json also reads NaN, Infinity and -Infinity as numbers. */
enum { NUM_FINITE, NUM_NAN, NUM_INF, NUM_NINF };

/* A scalar token, pointing into the input. */
struct jtok {
	uint8_t kind;    /* enum tkind */
	bool esc;        /* T_STR: has backslash escapes */
	bool lone;       /* T_STR: has an unpaired UTF-16 surrogate escape */
	bool integer;    /* T_NUM: no fraction, no exponent */
	uint8_t special; /* T_NUM: NUM_* */
	bool exact;      /* T_NUM: value is mant x 10^exp10, see scan_number */
	const char *p;   /* T_STR: the raw text between the quotes */
	size_t n;
	uint64_t mant; /* T_NUM, exact: the digits, sign aside */
	int32_t exp10;
};

enum fkind {
	F_MSG,      /* object: the fields of a message */
	F_MAP,      /* object: the entries of a map field */
	F_STRUCT,   /* object: google.protobuf.Struct */
	F_ANY_WKT,  /* object: {"@type", "value"} of an Any holding a WKT */
	F_SKIP_OBJ, /* object inside an ignored value */
	F_ARRAY,    /* array: the elements of a repeated field */
	F_LIST,     /* array: google.protobuf.ListValue */
	F_SKIP_ARR, /* array inside an ignored value */
	F_NAMES,    /* array standing for a message: its keys (see begin_body) */
};

struct pending {
	size_t at[MAX_PENDING];
	unsigned n;
};

/* JSON keys met in one object (json.loads refuses duplicates anywhere):
 * open addressing over {hash, position, length, escaped} of raw keys. */
struct keyset {
	size_t off;
	uint32_t cap, count;
};

struct kentry {
	uint32_t hash;
	uint32_t pos; /* offset of the raw key in the input; 0: empty slot */
	uint32_t len;
	uint32_t esc;
};

struct jframe {
	uint8_t kind; /* enum fkind */
	bool first;   /* nothing since the opening bracket */
	bool need_sep;
	bool counted;    /* holds one level of message depth */
	bool any_inner;  /* F_MSG of an Any's message: "@type" is no field */
	bool seen_type;  /* "@type" met */
	bool seen_value; /* F_ANY_WKT: "value" met */
	const struct pb_message *msg;
	const struct pb_field *field;
	struct pending pend; /* closed when the frame ends */
	size_t mark;         /* scratch top when pushed */
	size_t seen;         /* F_MSG: per-field then per-oneof flag bytes */
	size_t start;        /* F_MSG: where its body starts; F_ARRAY: its tag */
	struct keyset keys;
	unsigned hint;   /* F_MSG: the field expected next */
	const char *key; /* member being parsed, raw (error paths) */
	uint32_t keylen;
	uint32_t index; /* element being parsed */
};

/* Per-field flags of an F_MSG frame. */
enum { SEEN_JSON = 1, SEEN_PROTO = 2 };

struct jp {
	const char *start, *p, *end;
	struct pb_buf *out;
	const struct pb_schema *schema;
	bool ignore_unknown;
	struct pb_json_error *err;
	unsigned depth; /* messages open, counted as json_format does */
	unsigned nframes;
	int alloc_rc; /* -ENOMEM / -E2BIG once an allocation failed */
	struct pbj_scratch sc;
	struct jframe frames[JP_MAX_FRAMES];
	uint8_t sc_inline[SCRATCH_INLINE];
};

/* ---- errors ------------------------------------------------------------------ */

/* The JSON path of the value being parsed: members as .name, map and
 * Struct keys as ["key"], elements as [i]. */
static void build_path(struct jp *jp, char *path)
{
	size_t n = 0;

	path[0] = '\0';
	for (unsigned i = 0; i < jp->nframes; i++) {
		const struct jframe *f = &jp->frames[i];
		char num[16];

		if (f->first)
			break;
		switch (f->kind) {
		case F_MSG:
		case F_ANY_WKT:
			if (n > 0)
				pbj_path_add(path, &n, ".", 1);
			pbj_path_add(path, &n, f->key, f->keylen);
			break;
		case F_MAP:
		case F_STRUCT:
		case F_SKIP_OBJ:
			pbj_path_add(path, &n, "[\"", 2);
			pbj_path_add(path, &n, f->key, f->keylen);
			pbj_path_add(path, &n, "\"]", 2);
			break;
		default:
			pbj_path_add(path, &n, num,
				     (size_t)snprintf(num, sizeof(num), "[%u]", f->index));
			break;
		}
	}
}

__attribute__((format(printf, 2, 3))) static int fail(struct jp *jp, const char *fmt, ...)
{
	va_list ap;

	if (jp->err != NULL) {
		build_path(jp, jp->err->path);
		va_start(ap, fmt);
		vsnprintf(jp->err->message, sizeof(jp->err->message), fmt, ap);
		va_end(ap);
		jp->err->offset = (size_t)(jp->p - jp->start);
	}
	return -1;
}

/* A failed allocation: -ENOMEM / -E2BIG go to the caller as they are. */
static int oom(struct jp *jp, int rc)
{
	jp->alloc_rc = rc;
	if (jp->err != NULL) {
		build_path(jp, jp->err->path);
		snprintf(jp->err->message, sizeof(jp->err->message), "%s",
			 rc == -E2BIG ? "output too large" : "out of memory");
		jp->err->offset = (size_t)(jp->p - jp->start);
	}
	return rc;
}

/* ---- output ------------------------------------------------------------------ */

static inline int room(struct jp *jp, size_t n)
{
	int rc = pb_buf_ensure(jp->out, n);

	return rc < 0 ? oom(jp, rc) : 0;
}

/* Reserve the length byte of a nested message, after its tag. */
static int open_len(struct jp *jp, uint32_t number, struct pending *pd)
{
	if (room(jp, PB_VARINT_MAX + 1) < 0)
		return -1;
	if (pd->n >= MAX_PENDING)
		return fail(jp, "internal: too many open lengths");
	pb_append_tag(jp->out, number, PB_WIRE_LEN);
	pd->at[pd->n++] = jp->out->len;
	jp->out->data[jp->out->len++] = 0;
	return 0;
}

static int close_len(struct jp *jp, size_t at)
{
	struct pb_buf *o = jp->out;
	size_t body = o->len - at - 1;
	unsigned k;

	if (body < 0x80) {
		o->data[at] = (uint8_t)body;
		return 0;
	}
	k = pb_varint_size(body);
	if (room(jp, k - 1) < 0)
		return -1;
	memmove(o->data + at + k, o->data + at + 1, body);
	pb_put_varint(o->data + at, body);
	o->len += k - 1;
	return 0;
}

static int close_pending(struct jp *jp, struct pending *pd)
{
	while (pd->n > 0)
		if (close_len(jp, pd->at[--pd->n]) < 0)
			return -1;
	return 0;
}

/* ---- tokenizer ------------------------------------------------------------------ */

static inline void skip_ws(struct jp *jp)
{
	const char *p = jp->p;

	/* Compact JSON, the common case: no space at all. */
	if (p < jp->end && (unsigned char)*p > ' ')
		return;
	while (p < jp->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	jp->p = p;
}

static inline int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex4(const char *p, const char *end, unsigned *u)
{
	unsigned v = 0;

	if (end - p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);

		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	*u = v;
	return true;
}

/* Past the bytes at p that need no second look in a string: sixteen at a
 * time while the input lasts, where keys and most values end within the
 * first block; the input's last bytes by pbj_plain_run. */
static inline const char *plain_skip(const char *p, const char *end)
{
#ifdef __SSE2__
	while (end - p >= 16) {
		unsigned m = pbj_sse_unplain((const uint8_t *)p);

		if (m != 0)
			return p + __builtin_ctz(m);
		p += 16;
	}
#endif
	return p + pbj_plain_run((const uint8_t *)p, (size_t)(end - p));
}

/* A string token; jp->p at the opening quote, and the bytes before `from`
 * known to need no second look. */
static int scan_string_any(struct jp *jp, struct jtok *t, const char *from)
{
	const char *p = from, *end = jp->end;

	t->kind = T_STR;
	t->esc = t->lone = false;
	t->p = jp->p + 1;
	for (;;) {
		p = plain_skip(p, end);
		if (p >= end) {
			jp->p = p;
			return fail(jp, "unterminated string");
		}
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			break;
		if (c == '\\') {
			unsigned u, lo;

			t->esc = true;
			if (end - p < 2) {
				jp->p = p;
				return fail(jp, "unterminated string");
			}
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't': p += 2; continue;
			case 'u':
				if (!hex4(p + 2, end, &u)) {
					jp->p = p;
					return fail(jp, "invalid \\uXXXX escape");
				}
				p += 6;
				if (u >= 0xd800 && u <= 0xdbff) {
					if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
					    hex4(p + 2, end, &lo) && lo >= 0xdc00 && lo <= 0xdfff)
						p += 6;
					else
						t->lone = true;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					t->lone = true;
				}
				continue;
			default: jp->p = p; return fail(jp, "invalid escape in string");
			}
		}
		if (c < 0x20) {
			jp->p = p;
			return fail(jp, "invalid control character in string");
		}
		const char *q = p + 1;

		while (q < end && (unsigned char)*q >= 0x80)
			q++;
		size_t ok = pbj_utf8_valid_prefix((const uint8_t *)p, (size_t)(q - p));

		if (p + ok != q) {
			jp->p = p + ok;
			return fail(jp, "invalid UTF-8");
		}
		p = q;
	}
	t->n = (size_t)(p - t->p);
	jp->p = p + 1;
	return 0;
}

/* The same; inline for the common string: no escape, no byte outside
 * 0x20..0x7f, closed where 16-byte blocks of input still fit. */
static inline int scan_string(struct jp *jp, struct jtok *t)
{
	const char *p = jp->p + 1;
#ifdef __SSE2__
	while (jp->end - p >= 16) {
		unsigned m = pbj_sse_unplain((const uint8_t *)p);

		if (m == 0) {
			p += 16;
			continue;
		}
		p += __builtin_ctz(m);
		if (*p != '"')
			break;
		t->kind = T_STR;
		t->esc = t->lone = false;
		t->p = jp->p + 1;
		t->n = (size_t)(p - t->p);
		jp->p = p + 1;
		return 0;
	}
#endif
	return scan_string_any(jp, t, p);
}

static bool lit(struct jp *jp, const char *word, size_t n)
{
	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
		return false;
	jp->p += n;
	return true;
}

static inline bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits a uint64_t always holds. */
#define MANT_DIGITS 19

/*
 * A number token (RFC 8259, plus Python's NaN / Infinity / -Infinity).
 * The digits are summed on the way: a token of at most 19 digits, whose
 * value is then mant x 10^exp10, converts without reading its text again
 * (t->exact; see tok_double).
 */
static int scan_number(struct jp *jp, struct jtok *t)
{
	const char *p = jp->p, *end = jp->end, *d0, *f0 = NULL;
	uint64_t w = 0;
	int64_t e = 0;
	bool eneg = false;

	t->kind = T_NUM;
	t->integer = true;
	t->exact = false;
	t->special = NUM_FINITE;
	t->p = p;
	if (p < end && (*p == 'N' || *p == 'I' || (*p == '-' && end - p > 1 && p[1] == 'I'))) {
		if (lit(jp, "NaN", 3) || lit(jp, "Infinity", 8) || lit(jp, "-Infinity", 9)) {
			t->special = *p == 'N' ? NUM_NAN : *p == 'I' ? NUM_INF : NUM_NINF;
			t->integer = false;
			t->n = (size_t)(jp->p - p);
			return 0;
		}
	}
	if (p < end && *p == '-')
		p++;
	if (p >= end || !digit(*p)) {
		jp->p = p;
		return fail(jp, "expected a value");
	}
	d0 = p;
	if (*p == '0')
		p++;
	else
		while (p < end && digit(*p))
			w = w * 10 + (uint64_t)(*p++ - '0');
	if (p - t->p > PY_INT_MAX_DIGITS && (p >= end || (*p != '.' && *p != 'e' && *p != 'E')) &&
	    p - t->p - (*t->p == '-') > PY_INT_MAX_DIGITS) {
		jp->p = p;
		return fail(jp, "integer of more than %d digits", PY_INT_MAX_DIGITS);
	}
	if (p < end && *p == '.') {
		t->integer = false;
		p++;
		if (p >= end || !digit(*p)) {
			jp->p = p;
			return fail(jp, "invalid number");
		}
		f0 = p;
		while (p < end && digit(*p))
			w = w * 10 + (uint64_t)(*p++ - '0');
	}
	/* Digits summed, the '.' aside; past 19 w wrapped and is unused. */
	size_t nd = (size_t)(p - d0) - (f0 != NULL);

	if (f0 != NULL)
		e = -(int64_t)(p - f0);
	if (p < end && (*p == 'e' || *p == 'E')) {
		const char *x0;
		int64_t x = 0;

		t->integer = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end || !digit(*p)) {
			jp->p = p;
			return fail(jp, "invalid number");
		}
		x0 = p;
		while (p < end && digit(*p)) {
			if (p - x0 < 8)
				x = x * 10 + (*p - '0');
			p++;
		}
		if (p - x0 >= 8)
			nd = SIZE_MAX; /* a huge exponent: left to the slow path */
		e += eneg ? -x : x;
	}
	if (nd <= MANT_DIGITS) {
		t->exact = true;
		t->mant = w;
		t->exp10 = (int32_t)e;
	}
	t->n = (size_t)(p - t->p);
	jp->p = p;
	return 0;
}

/*
 * A finite number token as a double, correctly rounded: the digits summed
 * by scan_number go through the same fast path (pbj_decimal_fast) as
 * pbj_json_number_to_double would take for the text, so the two agree bit
 * for bit; the rest goes to that function.
 */
static inline double tok_double(const struct jtok *t)
{
	double d;
	if (t->exact && pbj_decimal_fast(t->mant, t->exp10, *t->p == '-', &d))
		return d;
	return pbj_json_number_to_double(t->p, t->n);
}

/* A finite integer token's sign and magnitude; false when it passes 64 bits. */
static inline bool tok_int(const struct jtok *t, bool *neg, uint64_t *mag)
{
	if (t->exact) {
		*neg = *t->p == '-';
		*mag = t->mant;
		return true;
	}
	return pbj_json_int(t->p, t->n, neg, mag);
}

/*
 * Read the scalar at jp->p, or note an opening bracket (T_OBJ / T_ARR, the
 * bracket consumed).  jp->p must be at a non-space character.
 */
static int next_value(struct jp *jp, struct jtok *t)
{
	if (jp->p >= jp->end)
		return fail(jp, "unexpected end of input");
	switch (*jp->p) {
	case '"': return scan_string(jp, t);
	case '{':
		jp->p++;
		t->kind = T_OBJ;
		return 0;
	case '[':
		jp->p++;
		t->kind = T_ARR;
		return 0;
	case 't': t->kind = T_TRUE; return lit(jp, "true", 4) ? 0 : fail(jp, "expected a value");
	case 'f': t->kind = T_FALSE; return lit(jp, "false", 5) ? 0 : fail(jp, "expected a value");
	case 'n': t->kind = T_NULL; return lit(jp, "null", 4) ? 0 : fail(jp, "expected a value");
	default: return scan_number(jp, t);
	}
}

/* Append the UTF-8 of code point u (surrogates as three bytes: only
 * hashed and compared, never written to output). */
static inline uint8_t *put_utf8(uint8_t *o, unsigned u)
{
	if (u < 0x80) {
		*o++ = (uint8_t)u;
	} else if (u < 0x800) {
		*o++ = (uint8_t)(0xc0 | u >> 6);
		*o++ = (uint8_t)(0x80 | (u & 0x3f));
	} else if (u < 0x10000) {
		*o++ = (uint8_t)(0xe0 | u >> 12);
		*o++ = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
		*o++ = (uint8_t)(0x80 | (u & 0x3f));
	} else {
		*o++ = (uint8_t)(0xf0 | u >> 18);
		*o++ = (uint8_t)(0x80 | ((u >> 12) & 0x3f));
		*o++ = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
		*o++ = (uint8_t)(0x80 | (u & 0x3f));
	}
	return o;
}

/* Decode one escape at p (p[0] == '\\'), writing to o; returns the input
 * consumed.  The tokenizer validated the escape. */
static size_t decode_escape(const char *p, const char *end, uint8_t **o)
{
	unsigned u = 0, lo;

	switch (p[1]) {
	case 'b': *(*o)++ = '\b'; return 2;
	case 'f': *(*o)++ = '\f'; return 2;
	case 'n': *(*o)++ = '\n'; return 2;
	case 'r': *(*o)++ = '\r'; return 2;
	case 't': *(*o)++ = '\t'; return 2;
	case 'u':
		hex4(p + 2, end, &u);
		if (u >= 0xd800 && u <= 0xdbff && end - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
		    hex4(p + 8, end, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
			*o = put_utf8(*o, 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00));
			return 12;
		}
		*o = put_utf8(*o, u);
		return 6;
	default: /* " \ / */ *(*o)++ = (uint8_t)p[1]; return 2;
	}
}

/* Decode a string token's text into out (room for t->n bytes: decoding
 * never grows it); returns the decoded length. */
static size_t decode_string(const struct jtok *t, uint8_t *out)
{
	const char *p = t->p, *end = t->p + t->n;
	uint8_t *o = out;

	if (!t->esc) {
		memcpy(out, p, t->n);
		return t->n;
	}
	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = bs ? (size_t)(bs - p) : (size_t)(end - p);

		memcpy(o, p, run);
		o += run;
		p += run;
		if (p < end)
			p += decode_escape(p, end, &o);
	}
	return (size_t)(o - out);
}

/* The decoded text of a short string token: the input itself when it has
 * no escapes, else decoded into buf.  False when too long for buf. */
static bool small_text(const struct jtok *t, char *buf, const char **s, size_t *n)
{
	if (!t->esc) {
		*s = t->p;
		*n = t->n;
		return true;
	}
	if (t->n > SMALL_TEXT || buf == NULL)
		return false;
	*n = decode_string(t, (uint8_t *)buf);
	*s = buf;
	return true;
}

/* ---- key sets ----------------------------------------------------------------------- */

/* Decoded bytes of a raw key, one at a time (for hashing and comparing
 * keys that have escapes). */
struct dec_iter {
	const char *p, *end;
	uint8_t buf[4];
	unsigned bi, bn;
};

static bool dec_next(struct dec_iter *it, uint8_t *c)
{
	if (it->bi < it->bn) {
		*c = it->buf[it->bi++];
		return true;
	}
	if (it->p >= it->end)
		return false;
	if (*it->p != '\\') {
		*c = (uint8_t)*it->p++;
		return true;
	}
	uint8_t *o = it->buf;

	it->p += decode_escape(it->p, it->end, &o);
	it->bn = (unsigned)(o - it->buf);
	it->bi = 1;
	*c = it->buf[0];
	return true;
}

static uint32_t key_hash(const char *p, size_t n, bool esc)
{
	uint32_t h = PBJ_HASH_INIT;
	struct dec_iter it = {p, p + n, {0}, 0, 0};
	uint8_t c;

	if (!esc) {
		for (size_t i = 0; i < n; i++)
			h = pbj_hash_step(h, (uint8_t)p[i]);
		return h;
	}
	while (dec_next(&it, &c))
		h = pbj_hash_step(h, c);
	return h;
}

static bool key_equal(const char *a, size_t an, bool aesc, const char *b, size_t bn, bool besc)
{
	if (!aesc && !besc)
		return an == bn && memcmp(a, b, an) == 0;
	struct dec_iter x = {a, a + an, {0}, 0, 0}, y = {b, b + bn, {0}, 0, 0};
	uint8_t cx, cy;

	for (;;) {
		bool hx = dec_next(&x, &cx), hy = dec_next(&y, &cy);

		if (hx != hy)
			return false;
		if (!hx)
			return true;
		if (cx != cy)
			return false;
	}
}

/* Objects with few keys keep them in a list checked one by one; the hash
 * table (hashing every key) only pays from this many keys on. */
#define KEYS_LINEAR 8

static inline bool kentry_is(const struct jp *jp, const struct kentry *e, const struct jtok *k)
{
	if (!e->esc && !k->esc)
		return e->len == k->n && bytes_eq(jp->start + e->pos - 1, k->p, k->n);
	return key_equal(jp->start + e->pos - 1, e->len, e->esc, k->p, k->n, k->esc);
}

/*
 * Add a key to the frame's set (created on first use, at the scratch top,
 * which is where the frame's tables end whenever it reads a key); fail on
 * a duplicate.  The set is a list of KEYS_LINEAR entries (cap ==
 * KEYS_LINEAR), then an open-addressing table of at least twice as many.
 */
static int key_add_more(struct jp *jp, struct jframe *f, const struct jtok *k);

static inline __attribute__((always_inline)) int key_add(struct jp *jp, struct jframe *f,
							 const struct jtok *k)
{
	struct keyset *ks = &f->keys;
	struct kentry *tab;

	if (ks->count >= KEYS_LINEAR || ks->cap == 0)
		return key_add_more(jp, f, k);
	tab = pbj_at(&jp->sc, ks->off);
	for (uint32_t i = 0; i < ks->count; i++)
		if (kentry_is(jp, &tab[i], k))
			return fail(jp, "duplicate key \"%.*s\"", (int)(k->n > 64 ? 64 : k->n),
				    k->p);
	tab[ks->count++] =
		(struct kentry){0, (uint32_t)(k->p - jp->start) + 1, (uint32_t)k->n, k->esc};
	return 0;
}

/* key_add for the first key and from the KEYS_LINEAR-th on. */
static int key_add_more(struct jp *jp, struct jframe *f, const struct jtok *k)
{
	struct keyset *ks = &f->keys;
	uint32_t pos = (uint32_t)(k->p - jp->start) + 1; /* 0 marks an empty slot */
	struct kentry *tab;
	uint32_t h;
	int rc;

	if (ks->cap == 0) {
		if ((rc = pbj_scratch_alloc(&jp->sc, KEYS_LINEAR * sizeof(struct kentry),
					    &ks->off)) < 0)
			return oom(jp, rc);
		ks->cap = KEYS_LINEAR;
		tab = pbj_at(&jp->sc, ks->off);
		tab[ks->count++] = (struct kentry){0, pos, (uint32_t)k->n, k->esc};
		return 0;
	}
	h = key_hash(k->p, k->n, k->esc);
	if ((ks->count + 1) * 2 > ks->cap) {
		uint32_t cap = ks->cap == KEYS_LINEAR ? 4 * KEYS_LINEAR : ks->cap * 2;
		bool linear = ks->cap == KEYS_LINEAR;
		size_t off, old = ks->off;

		if (cap > UINT32_MAX / 4)
			return fail(jp, "too many keys");
		if ((rc = pbj_scratch_alloc(&jp->sc, (size_t)cap * sizeof(struct kentry), &off)) <
		    0)
			return oom(jp, rc);
		tab = pbj_at(&jp->sc, off);
		memset(tab, 0, (size_t)cap * sizeof(*tab));
		for (uint32_t i = 0; i < ks->cap; i++) {
			struct kentry *e = (struct kentry *)pbj_at(&jp->sc, old) + i;

			if (e->pos == 0)
				continue;
			if (linear)
				e->hash = key_hash(jp->start + e->pos - 1, e->len, e->esc);
			uint32_t j = e->hash & (cap - 1);

			while (tab[j].pos != 0)
				j = (j + 1) & (cap - 1);
			tab[j] = *e;
		}
		/* Slide the new table down over the old one. */
		memmove(pbj_at(&jp->sc, old), tab, (size_t)cap * sizeof(*tab));
		jp->sc.top = old + (size_t)cap * sizeof(*tab);
		ks->cap = cap;
	}
	tab = pbj_at(&jp->sc, ks->off);
	for (uint32_t j = h & (ks->cap - 1);; j = (j + 1) & (ks->cap - 1)) {
		struct kentry *e = &tab[j];

		if (e->pos == 0) {
			e->hash = h;
			e->pos = pos;
			e->len = (uint32_t)k->n;
			e->esc = k->esc;
			ks->count++;
			return 0;
		}
		if (e->hash == h &&
		    key_equal(jp->start + e->pos - 1, e->len, e->esc, k->p, k->n, k->esc))
			goto dup;
	}
dup:
	return fail(jp, "duplicate key \"%.*s\"", (int)(k->n > 64 ? 64 : k->n), k->p);
}

/* ---- frames --------------------------------------------------------------------------- */

static int push(struct jp *jp, enum fkind kind, const struct pb_message *m,
		const struct pb_field *fld, struct pending *pd, bool counted, struct jframe **out)
{
	struct jframe *f = NULL;

	if (jp->nframes >= JP_MAX_FRAMES)
		return fail(jp, "JSON nested too deeply");
	f = &jp->frames[jp->nframes++];
	memset(f, 0, offsetof(struct jframe, key));
	f->kind = (uint8_t)kind;
	f->first = true;
	f->msg = m;
	f->field = fld;
	f->counted = counted;
	f->mark = jp->sc.top;
	f->key = NULL;
	f->keylen = 0;
	f->index = 0;
	if (pd != NULL) {
		f->pend = *pd;
		pd->n = 0;
	}
	if (out != NULL)
		*out = f;
	return 0;
}

/* ---- the depth json_format counts ------------------------------------------------------ */

static int enter_msg(struct jp *jp)
{
	if (jp->depth >= PB_JSON_MAX_DEPTH)
		return fail(jp, "message too deep: max recursion depth is %d", PB_JSON_MAX_DEPTH);
	jp->depth++;
	return 0;
}

/* ---- scalars ------------------------------------------------------------------------------ */

static const char *tok_name(const struct jtok *t)
{
	static const char *const names[] = {"a string", "a number",  "true",    "false",
					    "null",     "an object", "an array"};
	return names[t->kind];
}

/* Integers: json_format's _ConvertInteger, then the setter's range check. */
static int conv_int(struct jp *jp, const struct jtok *t, unsigned type, uint64_t *out)
{
	bool neg = false, ov = false;
	uint64_t mag = 0;
	char buf[SMALL_TEXT];
	const char *s;
	size_t n;

	switch (t->kind) {
	case T_NUM:
		if (t->special != NUM_FINITE)
			return fail(jp, "couldn't parse integer: %.*s", (int)t->n, t->p);
		if (t->integer) {
			ov = !tok_int(t, &neg, &mag);
		} else {
			/* json.loads made it a float: integral values pass. */
			double d = tok_double(t);

			if (!isfinite(d) || d != trunc(d))
				return fail(jp, "couldn't parse integer: %.*s", (int)t->n, t->p);
			neg = d < 0;
			d = fabs(d);
			if (d >= 18446744073709551616.0)
				ov = true;
			else
				mag = (uint64_t)d;
		}
		break;
	case T_STR:
		if (!small_text(t, buf, &s, &n) || memchr(s, ' ', n) != NULL ||
		    !pbj_py_int(s, n, &neg, &mag, &ov))
			return fail(jp, "couldn't parse integer: \"%.*s\"",
				    (int)(t->n > 64 ? 64 : t->n), t->p);
		break;
	case T_TRUE:
	case T_FALSE:
		return fail(jp, "bool value %s is not acceptable for integer field",
			    t->kind == T_TRUE ? "true" : "false");
	default: return fail(jp, "expected an integer, got %s", tok_name(t));
	}
	if (neg && mag == 0)
		neg = false;
	switch (type) {
	case PB_TYPE_INT32:
	case PB_TYPE_SINT32:
	case PB_TYPE_SFIXED32:
		if (ov || mag > (neg ? 0x80000000ull : 0x7fffffffull))
			return fail(jp, "value out of range for int32");
		break;
	case PB_TYPE_UINT32:
	case PB_TYPE_FIXED32:
		if (ov || neg || mag > 0xffffffffull)
			return fail(jp, "value out of range for uint32");
		break;
	case PB_TYPE_INT64:
	case PB_TYPE_SINT64:
	case PB_TYPE_SFIXED64:
		if (ov || mag > (neg ? 0x8000000000000000ull : 0x7fffffffffffffffull))
			return fail(jp, "value out of range for int64");
		break;
	default:
		if (ov || neg)
			return fail(jp, "value out of range for uint64");
		break;
	}
	*out = neg ? 0 - mag : mag;
	return 0;
}

/* Floating point: json_format's _ConvertFloat, then the setter. */
static int conv_double(struct jp *jp, const struct jtok *t, bool is_float, double *out)
{
	char buf[SMALL_TEXT];
	const char *s;
	size_t n;
	double d;

	switch (t->kind) {
	case T_NUM:
		if (t->special == NUM_NAN)
			return fail(jp, "couldn't parse NaN, use quoted \"NaN\" instead");
		if (t->special != NUM_FINITE)
			return fail(jp, "couldn't parse Infinity, use quoted \"Infinity\" instead");
		d = tok_double(t);
		if (t->integer) {
			/* A Python int: float(int) overflows, -0 is 0. */
			if (isinf(d))
				return fail(jp, "integer too large to convert to float");
			if (d == 0)
				d = 0;
		} else {
			if (isinf(d))
				return fail(jp, "couldn't parse %s, use quoted \"%s\" instead",
					    d > 0 ? "Infinity or value too large"
						  : "-Infinity or value too small",
					    d > 0 ? "Infinity" : "-Infinity");
			if (is_float && (d > FLT_MAX || d < -FLT_MAX))
				return fail(jp, "float value too %s", d > 0 ? "large" : "small");
		}
		break;
	case T_STR:
		if (!small_text(t, buf, &s, &n) || (n == 3 && memcmp(s, "nan", 3) == 0) ||
		    !pbj_py_float(s, n, &d))
			return fail(jp, "couldn't parse float: \"%.*s\"",
				    (int)(t->n > 64 ? 64 : t->n), t->p);
		break;
	case T_TRUE:
	case T_FALSE:
		d = t->kind == T_TRUE; /* float(True) is 1.0 in Python */
		break;
	default: return fail(jp, "expected a number, got %s", tok_name(t));
	}
	*out = d;
	return 0;
}

static int conv_enum(struct jp *jp, const struct jtok *t, const struct pb_enum *e, bool open,
		     int32_t *out)
{
	char buf[SMALL_TEXT];
	const char *s;
	size_t n;
	bool neg = false, ov = false;
	uint64_t mag = 0;
	const struct pb_enum_value *v;

	switch (t->kind) {
	case T_STR:
		if (!small_text(t, buf, &s, &n))
			return fail(jp, "invalid enum value for enum type %s", e->full_name);
		v = pb_enum_by_name(e, s, n);
		if (v != NULL) {
			*out = v->number;
			return 0;
		}
		if (!pbj_py_int(s, n, &neg, &mag, &ov))
			return fail(jp, "invalid enum value %.*s for enum type %s",
				    (int)(n > 64 ? 64 : n), s, e->full_name);
		break;
	case T_NUM:
		if (t->special != NUM_FINITE)
			return fail(jp, "invalid enum value %.*s for enum type %s", (int)t->n, t->p,
				    e->full_name);
		if (t->integer) {
			ov = !tok_int(t, &neg, &mag);
		} else {
			/* int() of a float truncates toward zero. */
			double d = trunc(tok_double(t));

			if (!isfinite(d))
				return fail(jp, "invalid enum value for enum type %s",
					    e->full_name);
			neg = d < 0;
			ov = fabs(d) >= 18446744073709551616.0;
			mag = ov ? 0 : (uint64_t)fabs(d);
		}
		break;
	case T_TRUE:
	case T_FALSE:
		/* int(True) is 1 in Python. */
		mag = t->kind == T_TRUE;
		break;
	default:
		return fail(jp, "invalid enum value: %s for enum type %s", tok_name(t),
			    e->full_name);
	}
	if (ov || mag > (neg ? 0x80000000ull : 0x7fffffffull))
		return fail(jp, "enum value out of range for int32");
	int32_t num = neg ? (int32_t)(0 - (uint32_t)mag) : (int32_t)mag;

	if (!open && pb_enum_by_number(e, num) == NULL)
		return fail(jp, "invalid enum value %d for enum type %s", num, e->full_name);
	*out = num;
	return 0;
}

/* A double stored in a float field as python-protobuf does: rounded to
 * nearest, except that the halfway point above FLT_MAX still gives
 * FLT_MAX (measured: 0x1.ffffffp+127 -> FLT_MAX, the next double -> inf). */
static float to_float(double d)
{
	if (d > FLT_MAX && d <= 0x1.ffffffp+127)
		return FLT_MAX;
	if (d < -FLT_MAX && d >= -0x1.ffffffp+127)
		return -FLT_MAX;
	return (float)d;
}

/* The wire value of a numeric, bool or enum token for a field type. */
static int conv_number(struct jp *jp, const struct jtok *t, const struct pb_field *f, bool open,
		       uint64_t *out)
{
	double d;
	int32_t e;

	switch (f->type) {
	case PB_TYPE_DOUBLE:
		if (conv_double(jp, t, false, &d) < 0)
			return -1;
		*out = pb_double_bits(d);
		return 0;
	case PB_TYPE_FLOAT:
		if (conv_double(jp, t, true, &d) < 0)
			return -1;
		*out = pb_float_bits(to_float(d));
		return 0;
	case PB_TYPE_BOOL:
		if (t->kind != T_TRUE && t->kind != T_FALSE)
			return fail(jp, "expected true or false without quotes");
		*out = t->kind == T_TRUE;
		return 0;
	case PB_TYPE_ENUM:
		if (conv_enum(jp, t, f->enumt, open, &e) < 0)
			return -1;
		*out = (uint64_t)(int64_t)e;
		return 0;
	case PB_TYPE_SINT32:
	case PB_TYPE_SINT64:
		if (conv_int(jp, t, f->type, out) < 0)
			return -1;
		*out = pb_zigzag_enc((int64_t)*out);
		return 0;
	default: return conv_int(jp, t, f->type, out);
	}
}

static void append_wire_value(struct pb_buf *o, unsigned wire, uint64_t v)
{
	if (wire == PB_WIRE_VARINT)
		pb_append_varint(o, v);
	else if (wire == PB_WIRE_I64)
		pb_append_fixed64(o, v);
	else
		pb_append_fixed32(o, (uint32_t)v);
}

/*
 * A string or bytes value: tag (unless number is 0), length, content.  The
 * text is decoded into place after a gap as long as the longest length
 * varint, then its length written and the content slid down.
 */
static int write_text_decoded(struct jp *jp, uint32_t number, const struct jtok *t, bool bytes);

static inline int write_text(struct jp *jp, uint32_t number, const struct jtok *t, bool bytes)
{
	struct pb_buf *o = jp->out;

	if (t->kind != T_STR || t->lone || t->esc || bytes)
		return write_text_decoded(jp, number, t, bytes);
	if (room(jp, t->n + 2 * PB_VARINT_MAX) < 0)
		return -1;
	if (number != 0)
		pb_append_tag(o, number, PB_WIRE_LEN);
	pb_append_varint(o, t->n);
	pbj_copy(o->data + o->len, t->p, t->n);
	o->len += t->n;
	return 0;
}

/* write_text for the rest: errors, escapes, bytes. */
static int write_text_decoded(struct jp *jp, uint32_t number, const struct jtok *t, bool bytes)
{
	struct pb_buf *o = jp->out;
	size_t n;

	if (t->kind != T_STR)
		return fail(jp, "expected a string, got %s", tok_name(t));
	if (t->lone)
		return fail(jp, "unpaired surrogate in string");
	if (room(jp, t->n + 2 * PB_VARINT_MAX) < 0)
		return -1;
	if (number != 0)
		pb_append_tag(o, number, PB_WIRE_LEN);
	uint8_t *gap = o->data + o->len + PB_VARINT_MAX;

	n = decode_string(t, gap);
	if (bytes) {
		long m = pbj_base64_decode(gap, n, gap);

		if (m < 0)
			return fail(jp, "invalid base64 data");
		n = (size_t)m;
	}
	pb_append_varint(o, n);
	memmove(o->data + o->len, gap, n);
	o->len += n;
	return 0;
}

/* The value of a singular scalar field (or map key / value, element). */
static int write_scalar(struct jp *jp, const struct pb_field *f, const struct jtok *t, bool open,
			bool presence)
{
	uint64_t v;

	if (f->type == PB_TYPE_STRING || f->type == PB_TYPE_BYTES) {
		size_t before = jp->out->len;

		if (write_text(jp, f->number, t, f->type == PB_TYPE_BYTES) < 0)
			return -1;
		/* An empty string is the default: nothing to send. */
		if (!presence && jp->out->data[jp->out->len - 1] == 0 &&
		    jp->out->len - before == pb_varint_size((uint64_t)f->number << 3) + 1)
			jp->out->len = before;
		return 0;
	}
	if (conv_number(jp, t, f, open, &v) < 0)
		return -1;
	if (v == 0 && !presence)
		return 0;
	if (room(jp, 2 * PB_VARINT_MAX) < 0)
		return -1;
	pb_append_tag(jp->out, f->number, f->wire);
	append_wire_value(jp->out, f->wire, v);
	return 0;
}

/* ---- message bodies ------------------------------------------------------------------ */

static int begin_body(struct jp *jp, const struct pb_message *m, const struct jtok *t, bool count,
		      struct pending *pd);

/* A value that is already complete: close what it had pending. */
static int done_inline(struct jp *jp, struct pending *pd, bool counted)
{
	if (counted)
		jp->depth--;
	return close_pending(jp, pd);
}

static bool is_wrapper(unsigned wkt)
{
	return wkt >= PB_WKT_DOUBLE_VALUE && wkt <= PB_WKT_BYTES_VALUE;
}

static int write_timestamp(struct jp *jp, const struct jtok *t, bool duration)
{
	char buf[SMALL_TEXT];
	const char *s, *why = "";
	size_t n;
	int64_t sec;
	int32_t ns;

	if (t->kind != T_STR)
		return fail(jp, "%s JSON value not a string", duration ? "Duration" : "Timestamp");
	if (!small_text(t, buf, &s, &n))
		return fail(jp, "invalid %s", duration ? "Duration" : "Timestamp");
	if ((duration ? pbj_parse_duration(s, n, &sec, &ns, &why)
		      : pbj_parse_timestamp(s, n, &sec, &ns, &why)) < 0)
		return fail(jp, "couldn't parse %s \"%.*s\": %s",
			    duration ? "duration" : "timestamp", (int)(n > 64 ? 64 : n), s, why);
	if (room(jp, 4 * PB_VARINT_MAX) < 0)
		return -1;
	if (sec != 0) {
		pb_append_tag(jp->out, 1, PB_WIRE_VARINT);
		pb_append_varint(jp->out, (uint64_t)sec);
	}
	if (ns != 0) {
		pb_append_tag(jp->out, 2, PB_WIRE_VARINT);
		pb_append_varint(jp->out, (uint64_t)(int64_t)ns);
	}
	return 0;
}

/* FieldMask: "a.fooBar,b" -> paths "a.foo_bar", "b" (field 1). */
static int write_field_mask(struct jp *jp, const struct jtok *t)
{
	size_t n, at;
	const char *s;

	if (t->kind != T_STR)
		return fail(jp, "FieldMask JSON value not a string");
	if (t->lone)
		return fail(jp, "unpaired surrogate in string");
	/* Decode the whole text past the end of the output, then emit the
	 * paths in front of it; snake_case grows a path, so the text is
	 * copied as far ahead as it can possibly be pushed. */
	if (room(jp, 4 * t->n + (PB_VARINT_MAX + 2) * (t->n + 1)) < 0)
		return -1;
	at = jp->out->len + 3 * t->n + (PB_VARINT_MAX + 2) * (t->n + 1);
	n = decode_string(t, jp->out->data + at);
	s = (const char *)jp->out->data + at;
	if (n == 0)
		return 0;
	for (size_t i = 0, j; i <= n; i = j + 1) {
		const char *c = memchr(s + i, ',', n - i);
		long sl;

		j = c ? (size_t)(c - s) : n;
		sl = pbj_mask_path_snake_len(s + i, j - i);
		if (sl < 0)
			return fail(jp, "FieldMask path name must not contain \"_\"s");
		pb_append_tag(jp->out, 1, PB_WIRE_LEN);
		pb_append_varint(jp->out, (uint64_t)sl);
		pbj_mask_path_to_snake(s + i, j - i, jp->out->data + jp->out->len);
		jp->out->len += (size_t)sl;
	}
	return 0;
}

/* The body of a google.protobuf.Value from a scalar token. */
static inline int value_scalar(struct jp *jp, const struct jtok *t)
{
	double d;

	switch (t->kind) {
	case T_NULL:
	case T_TRUE:
	case T_FALSE:
		if (room(jp, 2) < 0)
			return -1;
		jp->out->data[jp->out->len++] = t->kind == T_NULL ? 0x08 : 0x20;
		jp->out->data[jp->out->len++] = t->kind == T_TRUE;
		return 0;
	case T_NUM:
		if (t->special == NUM_NAN)
			d = NAN;
		else if (t->special == NUM_INF)
			d = INFINITY;
		else if (t->special == NUM_NINF)
			d = -INFINITY;
		else {
			d = tok_double(t);
			if (t->integer) {
				if (isinf(d))
					return fail(jp, "integer too large to convert to float");
				if (d == 0)
					d = 0;
			}
		}
		if (room(jp, 9) < 0)
			return -1;
		jp->out->data[jp->out->len++] = 0x11;
		pb_append_fixed64(jp->out, pb_double_bits(d));
		return 0;
	default: return write_text(jp, 3, t, false);
	}
}

/* google.protobuf.Value from any JSON value. */
static int begin_value_body(struct jp *jp, const struct jtok *t, struct pending *pd)
{
	switch (t->kind) {
	case T_OBJ:
		if (open_len(jp, 5, pd) < 0)
			return -1;
		return push(jp, F_STRUCT, NULL, NULL, pd, false, NULL);
	case T_ARR:
		if (open_len(jp, 6, pd) < 0)
			return -1;
		return push(jp, F_LIST, NULL, NULL, pd, false, NULL);
	default:
		if (value_scalar(jp, t) < 0)
			return -1;
		return close_pending(jp, pd);
	}
}

/* Is the next thing in the input (after spaces) the character c? */
static bool peek_is(struct jp *jp, char c)
{
	skip_ws(jp);
	return jp->p < jp->end && *jp->p == c;
}

/*
 * Find "@type" among the members of the Any object starting at jp->p (just
 * after its '{') without consuming anything: a light scan that skips
 * strings and brackets.  The full parse that follows checks the syntax.
 */
static int find_any_type(struct jp *jp, struct jtok *type)
{
	const char *save = jp->p;
	struct pb_json_error *err = jp->err;
	int depth = 0, rc = -1;

	jp->err = NULL; /* the probe's own complaints are not reported */
	while (jp->p < jp->end) {
		char c = *jp->p;
		struct jtok k;

		if (c == '"') {
			if (scan_string_any(jp, &k, jp->p + 1) < 0)
				break;
			if (depth != 0)
				continue;
			skip_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':')
				continue;
			jp->p++;
			if (!key_equal(k.p, k.n, k.esc, "@type", 5, false))
				continue;
			skip_ws(jp);
			if (jp->p < jp->end && *jp->p == '"' &&
			    scan_string_any(jp, type, jp->p + 1) == 0)
				rc = 0;
			else
				rc = -2;
			break;
		}
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && depth-- == 0)
			break;
		jp->p++;
	}
	jp->p = save;
	jp->err = err;
	if (rc == -2)
		return fail(jp, "@type must be a string");
	if (rc < 0)
		return fail(jp, "@type is missing when parsing any message");
	return 0;
}

/* Start the flags of a message frame: one byte per field and oneof. */
static int msg_frame_init(struct jp *jp, struct jframe *f)
{
	size_t n = (size_t)f->msg->nfields + f->msg->noneofs;
	int rc;

	f->start = jp->out->len;
	if ((rc = pbj_scratch_alloc(&jp->sc, n, &f->seen)) < 0)
		return oom(jp, rc);
	memset(pbj_at(&jp->sc, f->seen), 0, n);
	return 0;
}

static int begin_any(struct jp *jp, const struct jtok *t, bool counted, struct pending *pd)
{
	struct jtok type;
	const struct pb_message *inner;
	char name[SMALL_TEXT + 1];
	const char *s, *slash;
	size_t n;

	if (t->kind != T_OBJ)
		return fail(jp, "expected an object for google.protobuf.Any, got %s", tok_name(t));
	if (peek_is(jp, '}')) {
		jp->p++;
		return done_inline(jp, pd, counted);
	}
	if (find_any_type(jp, &type) < 0)
		return -1;
	if (!small_text(&type, name, &s, &n) || type.lone || n > SMALL_TEXT)
		return fail(jp, "can not find message descriptor by type_url");
	slash = n > 0 && s != NULL ? memrchr(s, '/', n) : NULL;
	if (slash != NULL) {
		n -= (size_t)(slash + 1 - s);
		s = slash + 1;
	}
	memmove(name, s, n);
	name[n] = '\0';
	inner = jp->schema ? pb_schema_message(jp->schema, name) : NULL;
	if (inner == NULL)
		return fail(jp, "can not find message descriptor by type_url: %.*s",
			    (int)(type.n > 128 ? 128 : type.n), type.p);
	if (write_text(jp, 1, &type, false) < 0 || open_len(jp, 2, pd) < 0)
		return -1;
	if (inner->wkt != PB_WKT_NONE && inner->wkt != PB_WKT_EMPTY)
		return push(jp, F_ANY_WKT, inner, NULL, pd, counted, NULL);
	struct jframe *f = NULL;

	if (push(jp, F_MSG, inner, NULL, pd, counted, &f) < 0)
		return -1;
	f->any_inner = true;
	return msg_frame_init(jp, f);
}

static bool is_extension_name(const char *s, size_t n);

/* A key json_format would find as a field (by JSON or proto name). */
static bool names_field(const struct pb_message *m, const char *s, size_t n)
{
	return pb_field_by_json(m, s, n) != NULL || pb_field_by_name(m, s, n) != NULL;
}

/* A string standing for a message: each character is a key, which must
 * name no field (json_format would index the string by it and fail). */
static int chars_name_no_field(struct jp *jp, const struct pb_message *m, const struct jtok *t)
{
	struct dec_iter it = {t->p, t->p + t->n, {0}, 0, 0};
	char c[4];
	uint8_t b;

	while (dec_next(&it, &b)) {
		size_t n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;

		c[0] = (char)b;
		for (size_t i = 1; i < n && dec_next(&it, &b); i++)
			c[i] = (char)b;
		if (names_field(m, c, n))
			return fail(jp, "expected an object for %s, got a string", m->full_name);
	}
	return 0;
}

/* An element of an array standing for a message (F_NAMES). */
static int name_element(struct jp *jp, const struct jframe *f)
{
	char buf[SMALL_TEXT];
	const char *s;
	size_t n;
	struct jtok t;

	if (next_value(jp, &t) < 0)
		return -1;
	if (t.kind != T_STR)
		return fail(jp, "expected an object for %s, got an array", f->msg->full_name);
	if (!small_text(&t, buf, &s, &n))
		return 0; /* longer than any field name */
	if (names_field(f->msg, s, n) || (is_extension_name(s, n) && f->msg->proto3))
		return fail(jp, "expected an object for %s, got an array", f->msg->full_name);
	return 0;
}

/*
 * The body of message type m from the JSON value t (scalars read, an
 * opening bracket consumed).  `count`: json_format counts this message in
 * its recursion depth.  Lengths in pd are closed when the body ends.
 */
static int begin_body(struct jp *jp, const struct pb_message *m, const struct jtok *t, bool count,
		      struct pending *pd)
{
	struct jframe *f = NULL;

	if (count && enter_msg(jp) < 0)
		return -1;
	switch (m->wkt) {
	case PB_WKT_ANY: return begin_any(jp, t, count, pd);
	case PB_WKT_TIMESTAMP:
	case PB_WKT_DURATION:
		if (write_timestamp(jp, t, m->wkt == PB_WKT_DURATION) < 0)
			return -1;
		return done_inline(jp, pd, count);
	case PB_WKT_FIELD_MASK:
		if (write_field_mask(jp, t) < 0)
			return -1;
		return done_inline(jp, pd, count);
	case PB_WKT_STRUCT:
		if (t->kind != T_OBJ)
			return fail(jp, "Struct must be in a dict, got %s", tok_name(t));
		return push(jp, F_STRUCT, m, NULL, pd, count, NULL);
	case PB_WKT_LIST_VALUE:
		if (t->kind != T_ARR)
			return fail(jp, "ListValue must be in [], got %s", tok_name(t));
		return push(jp, F_LIST, m, NULL, pd, count, NULL);
	case PB_WKT_VALUE:
		if (count && (t->kind == T_OBJ || t->kind == T_ARR)) {
			/* The Struct / ListValue frame carries the depth. */
			if (begin_value_body(jp, t, pd) < 0)
				return -1;
			jp->frames[jp->nframes - 1].counted = true;
			return 0;
		}
		if (begin_value_body(jp, t, pd) < 0)
			return -1;
		if (count)
			jp->depth--;
		return 0;
	default: break;
	}
	if (is_wrapper(m->wkt)) {
		if (m->nfields < 1)
			return fail(jp, "bad wrapper type %s", m->full_name);
		if (write_scalar(jp, &m->fields[0], t, true, false) < 0)
			return -1;
		return done_inline(jp, pd, count);
	}
	/* A regular message.  json_format iterates the keys of the value,
	 * so an array or a string stands for an object whose keys are its
	 * elements or characters: empty, or naming only unknown fields that
	 * ignore_unknown_fields drops, it is an empty message. */
	if (t->kind == T_ARR && peek_is(jp, ']')) {
		jp->p++;
		return done_inline(jp, pd, count);
	}
	if (t->kind == T_STR && t->n == 0)
		return done_inline(jp, pd, count);
	if ((t->kind == T_ARR || t->kind == T_STR) && jp->ignore_unknown) {
		if (t->kind == T_ARR)
			return push(jp, F_NAMES, m, NULL, pd, count, NULL);
		if (chars_name_no_field(jp, m, t) < 0)
			return -1;
		return done_inline(jp, pd, count);
	}
	if (t->kind != T_OBJ)
		return fail(jp, "expected an object for %s, got %s", m->full_name, tok_name(t));
	if (push(jp, F_MSG, m, NULL, pd, count, &f) < 0)
		return -1;
	return msg_frame_init(jp, f);
}

/* An ignored value: scalars read, containers become skip frames. */
static int skip_value(struct jp *jp)
{
	struct jtok t;

	if (next_value(jp, &t) < 0)
		return -1;
	if (t.kind == T_OBJ)
		return push(jp, F_SKIP_OBJ, NULL, NULL, NULL, false, NULL);
	if (t.kind == T_ARR)
		return push(jp, F_SKIP_ARR, NULL, NULL, NULL, false, NULL);
	return 0;
}

/* The value of field f of a message. */
static int begin_field(struct jp *jp, const struct jframe *parent, const struct pb_field *f,
		       const struct jtok *t)
{
	struct pending pd;
	struct jframe *nf = NULL;

	pd.n = 0;
	if (f->type == PB_TYPE_GROUP)
		return fail(jp, "group fields are not supported");
	if (t->kind == T_NULL) {
		/* null clears a field, except two types whose value is null. */
		if (f->repeated)
			return 0;
		if (f->type == PB_TYPE_MESSAGE && f->message->wkt == PB_WKT_VALUE) {
			if (room(jp, PB_VARINT_MAX + 3) < 0)
				return -1;
			pb_append_tag(jp->out, f->number, PB_WIRE_LEN);
			pb_append_bytes(jp->out, "\x02\x08\x00", 3);
		} else if (f->type == PB_TYPE_ENUM && f->enumt->null_value && f->has_presence) {
			if (room(jp, PB_VARINT_MAX + 1) < 0)
				return -1;
			pb_append_tag(jp->out, f->number, PB_WIRE_VARINT);
			pb_append_varint(jp->out, 0);
		}
		return 0;
	}
	if (f->map) {
		if (t->kind != T_OBJ)
			return fail(jp, "map field %s must be in a dict, got %s", f->name,
				    tok_name(t));
		return push(jp, F_MAP, f->message, f, NULL, false, NULL);
	}
	if (f->repeated) {
		if (t->kind != T_ARR)
			return fail(jp, "repeated field %s must be in [], got %s", f->json_name,
				    tok_name(t));
		if (push(jp, F_ARRAY, parent->msg, f, NULL, false, &nf) < 0)
			return -1;
		if (f->packed) {
			nf->start = jp->out->len;
			return open_len(jp, f->number, &nf->pend);
		}
		return 0;
	}
	if (f->type == PB_TYPE_MESSAGE) {
		if (open_len(jp, f->number, &pd) < 0)
			return -1;
		return begin_body(jp, f->message, t, true, &pd);
	}
	return write_scalar(jp, f, t, parent->msg->proto3, f->has_presence);
}

/* ---- members and elements ---------------------------------------------------------------- */

static bool is_extension_name(const char *s, size_t n)
{
	size_t i = 1;

	/* json_format's r'\[[a-zA-Z0-9\._]*\]$' (re.match; $ allows a final \n) */
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n < 2 || s[0] != '[' || s[n - 1] != ']')
		return false;
	for (; i < n - 1; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) || c == '.' ||
		      c == '_'))
			return false;
	}
	return true;
}

/* name (NUL-terminated) equals s[0..n), which may hold NUL bytes. */
static inline bool name_eq(const char *name, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (name[i] != s[i] || name[i] == '\0')
			return false;
	return name[n] == '\0';
}

/* The field a key names: the expected next one, else by JSON name, else
 * by proto name.  *by_proto says which name matched. */
static const struct pb_field *lookup_field(struct jframe *f, const char *s, size_t n,
					   bool *by_proto)
{
	const struct pb_message *m = f->msg;
	const struct pb_field *fld;

	*by_proto = false;
	/* Members mostly come in field order, some left out: the field
	 * after the last one, or the one after that. */
	for (unsigned i = f->hint; i < m->nfields && i <= f->hint + 1; i++) {
		fld = &m->fields[i];
		if (fld->json_key != NULL
			    ? fld->json_key_len - 4 == n && bytes_eq(fld->json_key + 2, s, n)
			    : name_eq(fld->json_name, s, n))
			return fld;
	}
	fld = pb_field_by_json(m, s, n);
	if (fld != NULL)
		return fld;
	fld = pb_field_by_name(m, s, n);
	*by_proto = fld != NULL;
	return fld;
}

/* A google.protobuf.Value field: null sets it (to null_value) in place,
 * as a later occurrence on the wire does. */
static bool null_is_value(const struct pb_field *f)
{
	return !f->repeated && f->type == PB_TYPE_MESSAGE && f->message->wkt == PB_WKT_VALUE;
}

/*
 * Remove every occurrence of field `number` from the message body written
 * since `start`.  Nothing after `start` is referenced by a pending length
 * (the message's members are complete), so the body can close up.
 */
static void clear_field(struct jp *jp, size_t start, uint32_t number)
{
	if (jp->out->len <= start)
		return; /* nothing written since start (data may still be NULL) */
	uint8_t *d = jp->out->data;
	const uint8_t *end = d + jp->out->len;
	size_t r = start, w = start;

	while (d + r < end) {
		const uint8_t *p = d + r;
		uint64_t tag;

		p = pb_get_varint(p, end, &tag);
		p = p ? pb_skip_value(p, end, (unsigned)(tag & 7), (uint32_t)(tag >> 3), 1) : NULL;
		if (p == NULL)
			break; /* not reached: the body is ours */
		size_t n = (size_t)(p - (d + r));

		if ((tag >> 3) != number) {
			memmove(d + w, d + r, n);
			w += n;
		}
		r += n;
	}
	jp->out->len = w;
}

static int msg_member(struct jp *jp, struct jframe *f, const struct jtok *k)
{
	char buf[SMALL_TEXT];
	const char *s = NULL;
	size_t n = 0;
	const struct pb_field *fld = NULL;
	bool by_proto = false, null;
	struct jtok t;

	if (!k->lone && small_text(k, buf, &s, &n))
		fld = lookup_field(f, s, n, &by_proto);
	if (fld == NULL) {
		if (f->any_inner && n == 5 && memcmp(s, "@type", 5) == 0) {
			if (f->seen_type)
				return fail(jp, "duplicate key \"@type\"");
			f->seen_type = true;
			return skip_value(jp);
		}
		if (s != NULL && is_extension_name(s, n) && f->msg->proto3)
			return fail(jp, "message type %s does not have extensions",
				    f->msg->full_name);
		if (!jp->ignore_unknown)
			return fail(jp, "message type \"%s\" has no field named \"%.*s\"",
				    f->msg->full_name, (int)(k->n > 64 ? 64 : k->n), k->p);
		if (key_add(jp, f, k) < 0)
			return -1;
		return skip_value(jp);
	}
	uint8_t *seen = pbj_at(&jp->sc, f->seen);
	unsigned idx = (unsigned)(fld - f->msg->fields);
	uint8_t name_bit =
		by_proto && strcmp(fld->name, fld->json_name) != 0 ? SEEN_PROTO : SEEN_JSON;

	f->hint = idx + 1;
	null = peek_is(jp, 'n');
	if (seen[idx] & name_bit)
		return fail(jp, "duplicate key \"%.*s\"", (int)(k->n > 64 ? 64 : k->n), k->p);
	if (seen[idx] != 0 &&
	    (null ? !null_is_value(fld) : fld->repeated || fld->type != PB_TYPE_MESSAGE)) {
		/* The field's other name: json_format sees a new key and sets
		 * the field again (a message merges) or clears it (null).
		 * Earlier occurrences go, so that a default, which is not
		 * written, still replaces them. */
		clear_field(jp, f->start, fld->number);
	}
	seen[idx] |= name_bit;
	if (fld->oneof >= 0 && !null) {
		uint8_t *o = &seen[f->msg->nfields + (unsigned)fld->oneof];

		if (*o)
			return fail(
				jp,
				"message type \"%s\" should not have multiple \"%s\" oneof fields",
				f->msg->full_name, f->msg->oneofs[fld->oneof].name);
		*o = 1;
	}
	if (next_value(jp, &t) < 0)
		return -1;
	return begin_field(jp, f, fld, &t);
}

/* Map keys are strings in JSON; json_format converts them with the key
 * field's rules (require_str: bool keys are "true" / "false"). */
static int write_map_key(struct jp *jp, const struct pb_field *kf, const struct jtok *k)
{
	char buf[SMALL_TEXT];
	const char *s;
	size_t n;
	uint64_t v;

	if (kf->type == PB_TYPE_STRING) {
		if (k->lone)
			return fail(jp, "unpaired surrogate in map key");
		return write_text(jp, 1, k, false);
	}
	if (kf->type == PB_TYPE_BOOL) {
		if (!small_text(k, buf, &s, &n) || !((n == 4 && memcmp(s, "true", 4) == 0) ||
						     (n == 5 && memcmp(s, "false", 5) == 0)))
			return fail(jp, "expected \"true\" or \"false\" for a bool map key");
		v = n == 4;
	} else {
		if (conv_int(jp, k, kf->type, &v) < 0)
			return -1;
		if (kf->type == PB_TYPE_SINT32 || kf->type == PB_TYPE_SINT64)
			v = pb_zigzag_enc((int64_t)v);
	}
	if (room(jp, 2 * PB_VARINT_MAX) < 0)
		return -1;
	pb_append_tag(jp->out, 1, kf->wire);
	append_wire_value(jp->out, kf->wire, v);
	return 0;
}

static int map_member(struct jp *jp, struct jframe *f, const struct jtok *k)
{
	const struct pb_message *entry = f->msg;
	const struct pb_field *vf = &entry->fields[1];
	struct pending pd;
	struct jtok t;

	pd.n = 0;
	if (key_add(jp, f, k) < 0 || open_len(jp, f->field->number, &pd) < 0 ||
	    write_map_key(jp, &entry->fields[0], k) < 0 || next_value(jp, &t) < 0)
		return -1;
	if (vf->type == PB_TYPE_MESSAGE) {
		if (t.kind == T_NULL && vf->message->wkt != PB_WKT_VALUE)
			return fail(jp, "null is not allowed as a map value");
		if (open_len(jp, 2, &pd) < 0)
			return -1;
		return begin_body(jp, vf->message, &t, true, &pd);
	}
	if (vf->type == PB_TYPE_GROUP)
		return fail(jp, "group fields are not supported");
	if (write_scalar(jp, vf, &t, entry->proto3, true) < 0)
		return -1;
	return close_pending(jp, &pd);
}

/*
 * A Struct field: an entry {1: key, 2: Value} of the fields map.  For a
 * plain key the entry's head is written in one go, with room asked for
 * as the three writes of the general path would have asked (same limit
 * errors); a scalar value then closes both lengths at once.
 */
static int struct_member(struct jp *jp, struct jframe *f, const struct jtok *k)
{
	struct pb_buf *o = jp->out;
	struct pending pd;
	struct jtok t;
	size_t at, kv, need;
	uint8_t *d;

	pd.n = 0;
	if (k->lone)
		return fail(jp, "unpaired surrogate in key");
	if (key_add(jp, f, k) < 0)
		return -1;
	if (k->esc) {
		if (open_len(jp, 1, &pd) < 0 || write_text(jp, 1, k, false) < 0 ||
		    open_len(jp, 2, &pd) < 0 || next_value(jp, &t) < 0)
			return -1;
		return begin_value_body(jp, &t, &pd);
	}
	/*   0x0a [L] 0x0a klen key 0x12 [L] value   */
	kv = pb_varint_size(k->n);
	need = k->n + 22 > k->n + kv + 14 ? k->n + 22 : k->n + kv + 14;
	if (room(jp, need) < 0)
		return -1;
	at = o->len;
	d = o->data + at;
	d[0] = 0x0a;
	d[2] = 0x0a;
	d = pb_put_varint(d + 3, k->n);
	pbj_copy(d, k->p, k->n);
	d += k->n;
	d[0] = 0x12;
	o->len = (size_t)(d + 2 - o->data);
	pd.at[0] = at + 1;
	pd.at[1] = o->len - 1;
	pd.n = 2;
	/* Strings, the usual values, without the calls of the general case. */
	if (jp->p < jp->end && *jp->p == '"') {
		if (scan_string(jp, &t) < 0 || write_text(jp, 3, &t, false) < 0)
			return -1;
	} else {
		if (next_value(jp, &t) < 0)
			return -1;
		if (t.kind == T_OBJ || t.kind == T_ARR)
			return begin_value_body(jp, &t, &pd);
		if (value_scalar(jp, &t) < 0)
			return -1;
	}
	if (o->len - at - 2 < 0x80) {
		o->data[pd.at[1]] = (uint8_t)(o->len - pd.at[1] - 1);
		o->data[at + 1] = (uint8_t)(o->len - at - 2);
		return 0;
	}
	return close_pending(jp, &pd);
}

static int any_wkt_member(struct jp *jp, struct jframe *f, const struct jtok *k)
{
	struct pending none;
	struct jtok t;

	none.n = 0;
	if (key_add(jp, f, k) < 0)
		return -1;
	if (key_equal(k->p, k->n, k->esc, "value", 5, false)) {
		f->seen_value = true;
		if (next_value(jp, &t) < 0)
			return -1;
		return begin_body(jp, f->msg, &t, !is_wrapper(f->msg->wkt), &none);
	}
	/* "@type" was read already; json_format ignores any other key. */
	return skip_value(jp);
}

static int array_element(struct jp *jp, struct jframe *f)
{
	const struct pb_field *fld = f->field;
	struct pending pd;
	struct jtok t;
	uint64_t v;

	pd.n = 0;
	if (next_value(jp, &t) < 0)
		return -1;
	if (t.kind == T_NULL &&
	    !(fld->type == PB_TYPE_MESSAGE && fld->message->wkt == PB_WKT_VALUE))
		return fail(jp, "null is not allowed to be used as an element in a repeated field");
	if (fld->type == PB_TYPE_MESSAGE) {
		if (open_len(jp, fld->number, &pd) < 0)
			return -1;
		return begin_body(jp, fld->message, &t, true, &pd);
	}
	if (!fld->packed)
		return write_scalar(jp, fld, &t, f->msg->proto3, true);
	if (conv_number(jp, &t, fld, f->msg->proto3, &v) < 0 || room(jp, PB_VARINT_MAX) < 0)
		return -1;
	append_wire_value(jp->out, fld->wire, v);
	return 0;
}

static int list_element(struct jp *jp)
{
	struct pending pd;
	struct jtok t;

	pd.n = 0;
	if (open_len(jp, 1, &pd) < 0 || next_value(jp, &t) < 0)
		return -1;
	return begin_value_body(jp, &t, &pd);
}

/* ---- the machine ------------------------------------------------------------------------- */

static int pop(struct jp *jp)
{
	struct jframe *f = &jp->frames[jp->nframes - 1];

	if (f->kind == F_ANY_WKT && !f->seen_value)
		return fail(jp, "missing \"value\" in google.protobuf.Any holding %s",
			    f->msg->full_name);
	if (f->kind == F_ARRAY && f->field->packed && f->pend.n == 1 &&
	    f->pend.at[0] + 1 == jp->out->len) {
		/* [] for a packed field: drop the empty tag. */
		jp->out->len = f->start;
		f->pend.n = 0;
	}
	if (close_pending(jp, &f->pend) < 0)
		return -1;
	if (f->counted)
		jp->depth--;
	jp->sc.top = f->mark;
	jp->nframes--;
	return 0;
}

static int member(struct jp *jp, struct jframe *f)
{
	struct jtok k;

	if (jp->p >= jp->end || *jp->p != '"')
		return fail(jp, jp->p >= jp->end
					? "unexpected end of input"
					: "expecting property name enclosed in double quotes");
	if (scan_string(jp, &k) < 0)
		return -1;
	f->key = k.p;
	f->keylen = (uint32_t)(k.n > UINT32_MAX ? UINT32_MAX : k.n);
	f->first = false;
	f->need_sep = true;
	if (jp->end - jp->p >= 2 && jp->p[0] == ':' && (unsigned char)jp->p[1] > ' ') {
		jp->p++; /* compact JSON: the value right after the colon */
	} else {
		skip_ws(jp);
		if (jp->p >= jp->end || *jp->p != ':')
			return fail(jp, "expecting ':' delimiter");
		jp->p++;
		skip_ws(jp);
	}
	switch (f->kind) {
	case F_MSG: return msg_member(jp, f, &k);
	case F_MAP: return map_member(jp, f, &k);
	case F_STRUCT: return struct_member(jp, f, &k);
	case F_ANY_WKT: return any_wkt_member(jp, f, &k);
	default:
		if (key_add(jp, f, &k) < 0)
			return -1;
		return skip_value(jp);
	}
}

static int element(struct jp *jp, struct jframe *f)
{
	if (!f->first)
		f->index++;
	f->first = false;
	f->need_sep = true;
	switch (f->kind) {
	case F_ARRAY: return array_element(jp, f);
	case F_LIST: return list_element(jp);
	case F_NAMES: return name_element(jp, f);
	default: return skip_value(jp);
	}
}

static int run(struct jp *jp)
{
	while (jp->nframes > 0) {
		struct jframe *f = &jp->frames[jp->nframes - 1];
		bool obj = f->kind < F_ARRAY;
		char close = obj ? '}' : ']';
		int rc;

		skip_ws(jp);
		if (jp->p >= jp->end)
			return fail(jp, "unexpected end of input");
		if (f->need_sep) {
			if (*jp->p == ',') {
				/* The next member or element at once, as the
				 * next turn would read it. */
				jp->p++;
				f->need_sep = false;
				skip_ws(jp);
				if (jp->p >= jp->end)
					return fail(jp, "unexpected end of input");
				rc = obj ? member(jp, f) : element(jp, f);
				if (rc < 0)
					return rc;
				continue;
			}
			if (*jp->p != close)
				return fail(jp, "expecting ',' delimiter");
			jp->p++;
			rc = pop(jp);
		} else if (f->first && *jp->p == close) {
			jp->p++;
			rc = pop(jp);
		} else {
			rc = obj ? member(jp, f) : element(jp, f);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse(struct jp *jp, const struct pb_message *m)
{
	struct pending none;
	struct jtok t;
	int rc;

	none.n = 0;
	skip_ws(jp);
	if ((rc = next_value(jp, &t)) < 0)
		return rc;
	if ((rc = begin_body(jp, m, &t, true, &none)) < 0)
		return rc;
	if ((rc = run(jp)) < 0)
		return rc;
	skip_ws(jp);
	if (jp->p != jp->end)
		return fail(jp, "extra data after the JSON value");
	return 0;
}

static void jp_init(struct jp *jp, const struct pb_schema *schema, const char *json, size_t len,
		    const struct pb_json_parse_opts *opts, struct pb_buf *out,
		    struct pb_json_error *err)
{
	jp->start = jp->p = json;
	jp->end = json + len;
	jp->out = out;
	jp->schema = schema;
	jp->ignore_unknown = opts != NULL && opts->ignore_unknown_fields;
	jp->err = err;
	jp->depth = 0;
	jp->nframes = 0;
	jp->alloc_rc = 0;
	jp->sc.base = jp->sc_inline;
	jp->sc.top = 0;
	jp->sc.cap = sizeof(jp->sc_inline);
	jp->sc.heap = NULL;
	jp->sc.limit = 0; /* bounded by the input: a few bytes of table per key */
	if (err != NULL) {
		err->path[0] = err->message[0] = '\0';
		err->offset = 0;
	}
}

int pb_json_to_proto_ex(const struct pb_schema *schema, const struct pb_message *m,
			const char *json, size_t len, const struct pb_json_parse_opts *opts,
			struct pb_buf *out, struct pb_json_error *err)
{
	struct jp jp;
	size_t before = out->len;
	int rc;

	if (json == NULL)
		json = "";
	jp_init(&jp, schema, json, len, opts, out, err);
	if (len >= UINT32_MAX)
		rc = fail(&jp, "JSON text too large");
	else
		rc = parse(&jp, m);
	pbj_scratch_free(&jp.sc);
	if (rc < 0) {
		out->len = before;
		if (jp.alloc_rc < 0)
			rc = jp.alloc_rc;
	}
	return rc;
}

int pb_json_to_proto(const struct pb_message *m, const char *json, size_t len,
		     const struct pb_json_parse_opts *opts, struct pb_buf *out,
		     struct pb_json_error *err)
{
	return pb_json_to_proto_ex(NULL, m, json, len, opts, out, err);
}

/* ---- text values: URL path segments and query parameters ------------------------------ */

/* Text for a bool: "true" / "false", and the other spellings grpc-gateway
 * accepts in URLs (Go's strconv.ParseBool). */
static int text_bool(struct jp *jp, struct jtok *t)
{
	static const char *const yes[] = {"true", "1", "t", "T", "TRUE", "True"};
	static const char *const no[] = {"false", "0", "f", "F", "FALSE", "False"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (t->n == strlen(yes[i]) && memcmp(t->p, yes[i], t->n) == 0) {
			t->kind = T_TRUE;
			return 0;
		}
		if (t->n == strlen(no[i]) && memcmp(t->p, no[i], t->n) == 0) {
			t->kind = T_FALSE;
			return 0;
		}
	}
	return fail(jp, "expected true or false");
}

/* The value of one field from URL text: scalars, enums, bytes, repeated
 * scalars (one element) and the WKTs with a string or scalar form. */
static int text_value(struct jp *jp, const struct pb_message *owner, const struct pb_field *f,
		      struct jtok *t, struct pending *pd)
{
	const struct pb_field *scalar = f;

	if (f->map)
		return fail(jp, "a map field needs a key");
	if (f->type == PB_TYPE_GROUP)
		return fail(jp, "group fields are not supported");
	if (f->type == PB_TYPE_MESSAGE) {
		unsigned wkt = f->message->wkt;

		if (f->repeated)
			return fail(jp, "a repeated message field cannot be set from text");
		if (is_wrapper(wkt) && f->message->nfields >= 1)
			scalar = &f->message->fields[0];
		else if (wkt != PB_WKT_TIMESTAMP && wkt != PB_WKT_DURATION &&
			 wkt != PB_WKT_FIELD_MASK)
			return fail(jp, "a message field cannot be set from text");
	}
	if (scalar->type == PB_TYPE_BOOL && text_bool(jp, t) < 0)
		return -1;
	if (f->type == PB_TYPE_MESSAGE) {
		if (open_len(jp, f->number, pd) < 0)
			return -1;
		return begin_body(jp, f->message, t, false, pd);
	}
	if (write_scalar(jp, f, t, owner->proto3, true) < 0)
		return -1;
	return close_pending(jp, pd);
}

/* Follow a dotted path of proto names through singular message fields,
 * opening each one's length; the last field goes to *leaf. */
static int text_walk(struct jp *jp, const struct pb_message **m, const char *path, size_t len,
		     struct pending *pd, const struct pb_field **leaf)
{
	size_t i = 0;

	for (;;) {
		const char *dot = memchr(path + i, '.', len - i);
		size_t j = dot ? (size_t)(dot - path) : len;
		const struct pb_field *f = pb_field_by_name(*m, path + i, j - i);

		if (f == NULL)
			return fail(jp, "message type %s has no field named \"%.*s\"",
				    (*m)->full_name, (int)(j - i > 64 ? 64 : j - i), path + i);
		if (dot == NULL) {
			*leaf = f;
			return 0;
		}
		if (f->type != PB_TYPE_MESSAGE || f->repeated || f->message->wkt != PB_WKT_NONE)
			return fail(jp, "field \"%.*s\" is not a singular message", (int)(j - i),
				    path + i);
		/* Nested lengths of a path: at most a few; deeper paths
		 * close the outer lengths first by nesting frames. */
		if (pd->n + 1 >= MAX_PENDING) {
			if (push(jp, F_SKIP_OBJ, NULL, NULL, pd, false, NULL) < 0)
				return -1;
		}
		if (open_len(jp, f->number, pd) < 0)
			return -1;
		*m = f->message;
		i = j + 1;
	}
}

/* Close the lengths text_walk left in frames. */
static int text_finish(struct jp *jp)
{
	while (jp->nframes > 0) {
		struct jframe *f = &jp->frames[--jp->nframes];

		if (close_pending(jp, &f->pend) < 0)
			return -1;
	}
	return 0;
}

static int text_fail_path(struct jp *jp, const char *path, size_t len, int rc)
{
	if (jp->err != NULL && rc == -1) {
		size_t n = len < sizeof(jp->err->path) - 1 ? len : sizeof(jp->err->path) - 1;

		memcpy(jp->err->path, path, n);
		jp->err->path[n] = '\0';
	}
	return rc;
}

static int text_check(struct jp *jp, const char *s, size_t n)
{
	if (!pbj_utf8_valid((const uint8_t *)s, n))
		return fail(jp, "invalid UTF-8");
	return 0;
}

int pb_set_field_from_text(const struct pb_message *m, const char *path, size_t path_len,
			   const char *value, size_t value_len, struct pb_buf *out,
			   struct pb_json_error *err)
{
	struct jp jp;
	struct pending pd;
	const struct pb_field *f = NULL;
	struct jtok t;
	size_t before = out->len;
	int rc;

	pd.n = 0;
	if (value == NULL)
		value = "";
	if (path == NULL)
		path = "";
	t = (struct jtok){.kind = T_STR, .p = value, .n = value_len};
	jp_init(&jp, NULL, value, value_len, NULL, out, err);
	rc = text_check(&jp, value, value_len);
	if (rc == 0)
		rc = text_walk(&jp, &m, path, path_len, &pd, &f);
	if (rc == 0)
		rc = text_value(&jp, m, f, &t, &pd);
	if (rc == 0)
		rc = text_finish(&jp);
	pbj_scratch_free(&jp.sc);
	if (rc < 0) {
		out->len = before;
		if (jp.alloc_rc < 0)
			rc = jp.alloc_rc;
		return text_fail_path(&jp, path, path_len, rc);
	}
	return 0;
}

int pb_set_map_entry_from_text(const struct pb_message *m, const char *path, size_t path_len,
			       const char *key, size_t key_len, const char *value, size_t value_len,
			       struct pb_buf *out, struct pb_json_error *err)
{
	struct jp jp;
	struct pending pd;
	const struct pb_field *f = NULL;
	struct jtok k, t;
	size_t before = out->len;
	int rc;

	pd.n = 0;
	if (key == NULL)
		key = "";
	if (value == NULL)
		value = "";
	if (path == NULL)
		path = "";
	k = (struct jtok){.kind = T_STR, .p = key, .n = key_len};
	t = (struct jtok){.kind = T_STR, .p = value, .n = value_len};
	jp_init(&jp, NULL, value, value_len, NULL, out, err);
	rc = text_check(&jp, key, key_len);
	if (rc == 0)
		rc = text_check(&jp, value, value_len);
	if (rc == 0)
		rc = text_walk(&jp, &m, path, path_len, &pd, &f);
	if (rc == 0 && !f->map)
		rc = fail(&jp, "field is not a map");
	if (rc == 0 && pd.n + 1 >= MAX_PENDING)
		rc = push(&jp, F_SKIP_OBJ, NULL, NULL, &pd, false, NULL);
	if (rc == 0)
		rc = open_len(&jp, f->number, &pd);
	if (rc == 0)
		rc = write_map_key(&jp, &f->message->fields[0], &k);
	if (rc == 0) {
		/* The entry's value is field 2 of the entry message. */
		rc = text_value(&jp, f->message, &f->message->fields[1], &t, &pd);
	}
	if (rc == 0)
		rc = text_finish(&jp);
	pbj_scratch_free(&jp.sc);
	if (rc < 0) {
		out->len = before;
		if (jp.alloc_rc < 0)
			rc = jp.alloc_rc;
		return text_fail_path(&jp, path, path_len, rc);
	}
	return 0;
}
