/*
 * pb_json_text.h - the text forms the JSON mapping shares between its two
 * directions (private to pb_json_*.c): UTF-8 checks, JSON string escaping,
 * base64, number formatting and parsing, RFC 3339 timestamps, durations
 * and field mask paths.
 *
 * Where json_format leans on a Python built-in (int(), float(), base64,
 * strptime) the helpers here accept exactly what that built-in accepts for
 * ASCII input, so the C transcoder agrees with the reference on odd but
 * legal input such as "1_000" or " 12" in a string-encoded number.
 */
#ifndef RINGGATE_PB_JSON_TEXT_H
#define RINGGATE_PB_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "grpc/pb_json.h"

/* Longest output of pbj_fmt_double / pbj_fmt_float ("-2.2250738585072014e-308"). */
#define PBJ_NUM_MAX 32

/* ---- scratch stack ---------------------------------------------------------------
 *
 * Both directions keep small per-object tables (keys seen, field
 * occurrences) on a stack of bytes that grows like a pb_buf: first a fixed
 * area inside the caller's context, then the heap.  Allocations are
 * addressed by offset because growing may move the stack.
 *
 *   base: [ frame 0's tables | frame 1's tables | ... ]top ........ cap
 */
struct pbj_scratch {
	uint8_t *base;
	size_t top, cap;
	uint8_t *heap; /* base when it left the inline area, else NULL */
	size_t limit;  /* growing past it fails: the caller's memory cap */
};

/* Allocate n bytes (8-aligned) at the top; the offset goes to *off. */
int pbj_scratch_alloc(struct pbj_scratch *s, size_t n, size_t *off);
void pbj_scratch_free(struct pbj_scratch *s);

static inline void *pbj_at(const struct pbj_scratch *s, size_t off)
{
	return s->base + off;
}

/*
 * memcpy for the short pieces JSON is made of (keys, most strings): fixed
 * size moves that overlap, instead of a call into the C library.
 */
static inline void pbj_copy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (n >= 8 && n <= 32) {
		uint64_t a, b, c, e;

		memcpy(&a, s, 8);
		memcpy(&b, s + (n >= 16 ? 8 : n - 8), 8);
		memcpy(&c, s + (n >= 24 ? n - 16 : n - 8), 8);
		memcpy(&e, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + (n >= 16 ? 8 : n - 8), &b, 8);
		memcpy(d + (n >= 24 ? n - 16 : n - 8), &c, 8);
		memcpy(d + n - 8, &e, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t a, b;

		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else if (n > 32) {
		memcpy(d, s, n);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Length of the valid UTF-8 prefix of p[0..n) (n when all of it is valid).
 * Valid means RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF. */
size_t pbj_utf8_valid_prefix(const uint8_t *p, size_t n);

static inline bool pbj_utf8_valid(const uint8_t *p, size_t n)
{
	return pbj_utf8_valid_prefix(p, n) == n;
}

/* Length of the run at p of bytes that need no escaping in a JSON string
 * (0x20..0x7f except '"' and '\\'). */
size_t pbj_plain_run(const uint8_t *p, size_t n);

/*
 * Eight bytes at once: the high bit of each byte of the result is set where
 * a byte needs escaping (or is not ASCII), or above such a byte (borrows
 * only move up), so its lowest set bit marks the first one.
 */
static inline uint64_t pbj_swar_unplain(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & high;
}

#ifdef __SSE2__
/* Sixteen bytes at once: a bit per byte that needs escaping. */
static inline unsigned pbj_sse_unplain(const uint8_t *p)
{
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20);
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	/* Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches
	 * control characters and non-ASCII at once. */
	__m128i m = _mm_or_si128(_mm_cmplt_epi8(v, space),
				 _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));

	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* pbj_plain_run(p, n) == n for n <= 32, with loads that overlap instead of
 * a loop: most strings in messages are short. */
static inline __attribute__((always_inline)) bool pbj_plain_short(const uint8_t *p, size_t n)
{
	uint64_t a, b;
	uint32_t lo, hi;

	if (n >= 16) {
#ifdef __SSE2__
		return (pbj_sse_unplain(p) | pbj_sse_unplain(p + n - 16)) == 0;
#else
		return pbj_plain_run(p, n) == n;
#endif
	}
	if (n >= 8) {
		memcpy(&a, p, 8);
		memcpy(&b, p + n - 8, 8);
		return (pbj_swar_unplain(a) | pbj_swar_unplain(b)) == 0;
	}
	if (n >= 4) {
		memcpy(&lo, p, 4);
		memcpy(&hi, p + n - 4, 4);
		return pbj_swar_unplain(lo | (uint64_t)hi << 32) == 0;
	}
	if (n == 0)
		return true;
	/* One to three bytes, the rest padded with plain 'a's. */
	a = 0x6161616161000000ull | p[0] | (uint64_t)p[n >> 1] << 8 | (uint64_t)p[n - 1] << 16;
	return pbj_swar_unplain(a) == 0;
}

/* FNV-1a, for the key tables. */
static inline uint32_t pbj_hash_step(uint32_t h, uint8_t c)
{
	return (h ^ c) * 16777619u;
}
#define PBJ_HASH_INIT 2166136261u

/* ---- output --------------------------------------------------------------- */

/* Append p[0..n) as a quoted JSON string (escaping as Python's json.dumps
 * with ensure_ascii=False).  -1 when p is not valid UTF-8; -ENOMEM/-E2BIG. */
int pbj_put_string(struct pb_buf *b, const uint8_t *p, size_t n);

/* Append standard, padded base64 of p[0..n), quoted. */
int pbj_put_base64(struct pb_buf *b, const uint8_t *p, size_t n);

/*
 * Format a finite double as Python's repr() does (json_format prints
 * doubles that way): the shortest digits that read back to the same value,
 * "1.0" for integral values, exponent form outside [1e-4, 1e16).  Returns
 * the length written to out (at least PBJ_NUM_MAX bytes), not terminated.
 */
size_t pbj_fmt_double(char *out, double v);

/* A finite float as json_format prints it: the fewest digits (6 to 9) that
 * read back to the same float, then repr() of that double. */
size_t pbj_fmt_float(char *out, float v);

size_t pbj_fmt_u64(char *out, uint64_t v);
size_t pbj_fmt_i64(char *out, int64_t v);

/* ---- numbers from text ------------------------------------------------------ */

/* 10^0 .. 10^22: every power of ten a double holds exactly. */
extern const double pbj_pow10_exact[23];

/*
 * (neg ? -1 : 1) x mant x 10^e10, correctly rounded, by Clinger's fast
 * path: one exact operand and one rounding.  False when the path does not
 * apply (mant of 2^53 or more, or |e10| over 22).
 */
static inline bool pbj_decimal_fast(uint64_t mant, long long e10, bool neg, double *out)
{
	if (mant >= (1ull << 53) || e10 < -22 || e10 > 22)
		return false;
	double d = (double)mant;
	d = e10 >= 0 ? d * pbj_pow10_exact[e10] : d / pbj_pow10_exact[-e10];
	*out = neg ? -d : d;
	return true;
}

/*
 * A JSON number token (RFC 8259 grammar, already checked by the tokenizer)
 * converted to a double, correctly rounded.  Overflow gives +-inf.
 */
double pbj_json_number_to_double(const char *s, size_t n);

/* A JSON integer token (no fraction or exponent): sign and magnitude;
 * false when the magnitude does not fit 64 bits. */
bool pbj_json_int(const char *s, size_t n, bool *neg, uint64_t *mag);

/*
 * Python's int(str), base 10, for ASCII: surrounding whitespace, a sign,
 * digits with single underscores between them.  *overflow is set (and true
 * returned) when the magnitude does not fit 64 bits.
 */
bool pbj_py_int(const char *s, size_t n, bool *neg, uint64_t *mag, bool *overflow);

/*
 * Python's float(str) for ASCII: surrounding whitespace, a sign, digits
 * with underscores, optional fraction and exponent, or inf / infinity /
 * nan in any case.
 */
bool pbj_py_float(const char *s, size_t n, double *out);

/* ---- base64 in ------------------------------------------------------------------ */

/*
 * Decode base64 as json_format does (base64.urlsafe_b64decode after padding
 * the text with 4 - len % 4 '=' signs): both alphabets, padding optional,
 * characters outside the alphabet ignored, decoding stops at the padding.
 * in and out may be the same buffer (out never passes in).  Returns the
 * decoded length, or -1 (a single leftover character, or bad padding).
 */
long pbj_base64_decode(const uint8_t *in, size_t n, uint8_t *out);

/* ---- Timestamp and Duration -------------------------------------------------- */

/* Append a quoted RFC 3339 time ("1972-01-01T10:00:20.021Z") as json_format
 * prints it; -1 when the year leaves 1..9999. */
int pbj_put_timestamp(struct pb_buf *b, int64_t seconds, int32_t nanos);

/* Parse json_format's Timestamp text; -1 with *why set on error. */
int pbj_parse_timestamp(const char *s, size_t n, int64_t *seconds, int32_t *nanos,
			const char **why);

/* Append a quoted duration ("-1.500s"); -1 when out of range or the signs
 * of seconds and nanos differ (json_format refuses those). */
int pbj_put_duration(struct pb_buf *b, int64_t seconds, int32_t nanos);

int pbj_parse_duration(const char *s, size_t n, int64_t *seconds, int32_t *nanos, const char **why);

/* ---- FieldMask paths ------------------------------------------------------------- */

/* Append one path converted snake_case -> lowerCamelCase, unquoted; -1 when
 * json_format refuses it (an upper-case letter, "_" not before a letter). */
int pbj_put_mask_path(struct pb_buf *b, const uint8_t *p, size_t n);

/* Length of a camelCase path once converted to snake_case; -1 on '_'. */
long pbj_mask_path_snake_len(const char *p, size_t n);
/* Write the snake_case form (pbj_mask_path_snake_len bytes) to out. */
void pbj_mask_path_to_snake(const char *p, size_t n, uint8_t *out);

/* Append to an error path (struct pb_json_error.path), cutting at its size. */
void pbj_path_add(char *path, size_t *n, const char *s, size_t len);

#endif
