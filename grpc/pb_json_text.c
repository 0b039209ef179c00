/*
 * pb_json_text.c - text forms shared by the JSON parser and printer: UTF-8
 * validation, JSON string escaping, base64, shortest round-trip number
 * formatting, number parsing with Python's grammar, RFC 3339 timestamps,
 * durations and field mask paths.
 *
 * The reference is google.protobuf.json_format (Python).  Where it uses a
 * Python built-in, the rules of that built-in are reproduced here, for
 * ASCII text: json_format accepts " 12" as an int64 because int() strips
 * whitespace, "1_0" because int() allows underscores, and base64 with
 * stray characters because binascii skips them.
 */
#include "grpc/pb_json_text.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/pb_wire.h"

/* ---- scratch stack ------------------------------------------------------------ */

/*
 * Under AddressSanitizer every allocation moves the stack to a new heap
 * block and frees the old one, so a pointer kept into it across an
 * allocation (instead of an offset) is caught at once.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SCRATCH_ALWAYS_MOVES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCRATCH_ALWAYS_MOVES 1
#endif
#endif
#ifndef SCRATCH_ALWAYS_MOVES
#define SCRATCH_ALWAYS_MOVES 0
#endif

int pbj_scratch_alloc(struct pbj_scratch *s, size_t n, size_t *off)
{
	size_t at = (s->top + 7) & ~(size_t)7;

	if (n > SIZE_MAX / 4 || at + n > SIZE_MAX / 4)
		return -E2BIG;
	if (at + n > s->cap || SCRATCH_ALWAYS_MOVES) {
		size_t cap = s->cap;
		uint8_t *p;

		while (cap < at + n)
			cap *= 2;
		if (s->limit != 0 && cap > s->limit) {
			if (at + n > s->limit)
				return -E2BIG;
			cap = s->limit;
		}
		if (SCRATCH_ALWAYS_MOVES) {
			p = malloc(cap);
			if (p != NULL) {
				memcpy(p, s->base, s->top);
				free(s->heap);
			}
		} else {
			p = s->heap ? realloc(s->heap, cap) : malloc(cap);
			if (p != NULL && s->heap == NULL)
				memcpy(p, s->base, s->top);
		}
		if (p == NULL)
			return -ENOMEM;
		s->heap = s->base = p;
		s->cap = cap;
	}
	*off = at;
	s->top = at + n;
	return 0;
}

void pbj_scratch_free(struct pbj_scratch *s)
{
	free(s->heap);
	s->heap = NULL;
}

/* ---- UTF-8 ---------------------------------------------------------------- */

size_t pbj_utf8_valid_prefix(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (n - i >= 8) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if ((w & 0x8080808080808080ull) == 0) {
				i += 8;
				continue;
			}
		}
		uint8_t c = p[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c < 0xc2 || c > 0xf4)
			return i;
		if (c < 0xe0) {
			if (n - i < 2 || (p[i + 1] & 0xc0) != 0x80)
				return i;
			i += 2;
		} else if (c < 0xf0) {
			if (n - i < 3 || (p[i + 1] & 0xc0) != 0x80 || (p[i + 2] & 0xc0) != 0x80)
				return i;
			if ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0))
				return i; /* overlong, or a UTF-16 surrogate */
			i += 3;
		} else {
			if (n - i < 4 || (p[i + 1] & 0xc0) != 0x80 || (p[i + 2] & 0xc0) != 0x80 ||
			    (p[i + 3] & 0xc0) != 0x80)
				return i;
			if ((c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90))
				return i; /* overlong, or past U+10FFFF */
			i += 4;
		}
	}
	return n;
}

/* ---- JSON strings out ------------------------------------------------------ */

/* Bytes below 0x20, '"' and '\\' are escaped; bytes from 0x80 are checked. */
static inline bool plain_byte(uint8_t c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Strings are mostly short: a tail shorter than a block is checked with one
 * more block that ends at n and overlaps bytes already checked. */
size_t pbj_plain_run(const uint8_t *p, size_t n)
{
	size_t i = 0;
	uint64_t w;
#ifdef __SSE2__
	if (n >= 16) {
		unsigned mask;

		for (; n - i >= 16; i += 16)
			if ((mask = pbj_sse_unplain(p + i)) != 0)
				return i + (unsigned)__builtin_ctz(mask);
		if (i == n)
			return n;
		mask = pbj_sse_unplain(p + n - 16) >> (i - (n - 16));
		return mask != 0 ? i + (unsigned)__builtin_ctz(mask) : n;
	}
#endif
	if (n >= 8) {
		uint64_t mask;

		for (; n - i >= 8; i += 8) {
			memcpy(&w, p + i, 8);
			if ((mask = pbj_swar_unplain(w)) != 0)
				return i + (unsigned)__builtin_ctzll(mask) / 8;
		}
		if (i == n)
			return n;
		memcpy(&w, p + n - 8, 8);
		mask = pbj_swar_unplain(w) >> (8 * (i - (n - 8)));
		return mask != 0 ? i + (unsigned)__builtin_ctzll(mask) / 8 : n;
	}
	while (i < n && plain_byte(p[i]))
		i++;
	return i;
}

/*
 * Copy p[0..n) to d while looking for a byte to escape: one pass instead
 * of a scan and a copy.  d has room for n bytes; past the returned run it
 * may hold copied bytes, which the caller overwrites.
 */
static inline size_t plain_copy(uint8_t *d, const uint8_t *p, size_t n)
{
#ifdef __SSE2__
	if (n >= 16) {
		size_t i = 0;
		unsigned mask;

		for (; n - i >= 16; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));

			_mm_storeu_si128((__m128i *)(void *)(d + i), v);
			if ((mask = pbj_sse_unplain(p + i)) != 0)
				return i + (unsigned)__builtin_ctz(mask);
		}
		if (i == n)
			return n;
		/* The tail: the last 16 bytes, overlapping checked ones. */
		_mm_storeu_si128((__m128i *)(void *)(d + n - 16),
				 _mm_loadu_si128((const __m128i *)(const void *)(p + n - 16)));
		mask = pbj_sse_unplain(p + n - 16) >> (i - (n - 16));
		return mask != 0 ? i + (unsigned)__builtin_ctz(mask) : n;
	}
#endif
	size_t i = pbj_plain_run(p, n);

	pbj_copy(d, p, i);
	return i;
}

int pbj_put_string(struct pb_buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	uint8_t *start;
	int rc;

	if ((rc = pb_buf_ensure(b, n + 2)) < 0)
		return rc;
	start = b->data + b->len;
	start[0] = '"';
	i = plain_copy(start + 1, p, n);
	if (i == n) {
		/* The common case: nothing to escape or check. */
		start[n + 1] = '"';
		b->len += n + 2;
		return 0;
	}
	b->len += 1 + i;
	while (i < n) {
		size_t run = pbj_plain_run(p + i, n - i);

		if (run > 0) {
			if ((rc = pb_buf_ensure(b, run + 1)) < 0)
				return rc;
			memcpy(b->data + b->len, p + i, run);
			b->len += run;
			i += run;
			continue;
		}
		uint8_t c = p[i];

		if (c >= 0x80) {
			size_t k = i + 1;

			/* Copy the whole non-ASCII run once it is known valid. */
			while (k < n && p[k] >= 0x80)
				k++;
			if (!pbj_utf8_valid(p + i, k - i))
				return -1;
			if ((rc = pb_buf_ensure(b, k - i + 1)) < 0)
				return rc;
			memcpy(b->data + b->len, p + i, k - i);
			b->len += k - i;
			i = k;
			continue;
		}
		if ((rc = pb_buf_ensure(b, 7)) < 0)
			return rc;
		uint8_t *o = b->data + b->len;

		o[0] = '\\';
		switch (c) {
		case '"': o[1] = '"'; break;
		case '\\': o[1] = '\\'; break;
		case '\n': o[1] = 'n'; break;
		case '\r': o[1] = 'r'; break;
		case '\t': o[1] = 't'; break;
		case '\b': o[1] = 'b'; break;
		case '\f': o[1] = 'f'; break;
		default:
			o[1] = 'u';
			o[2] = '0';
			o[3] = '0';
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			b->len += 4;
			break;
		}
		b->len += 2;
		i++;
	}
	if ((rc = pb_buf_ensure(b, 1)) < 0)
		return rc;
	b->data[b->len++] = '"';
	return 0;
}

/* ---- base64 ----------------------------------------------------------------- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int pbj_put_base64(struct pb_buf *b, const uint8_t *p, size_t n)
{
	size_t out = (n + 2) / 3 * 4 + 2;
	int rc;

	if ((rc = pb_buf_ensure(b, out)) < 0)
		return rc;
	char *o = (char *)b->data + b->len;

	*o++ = '"';
	size_t i = 0;

	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[(v >> 12) & 63];
		o[2] = b64_alphabet[(v >> 6) & 63];
		o[3] = b64_alphabet[v & 63];
		o += 4;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[(v >> 12) & 63];
		o[2] = '=';
		o[3] = '=';
		o += 4;
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[(v >> 12) & 63];
		o[2] = b64_alphabet[(v >> 6) & 63];
		o[3] = '=';
		o += 4;
	}
	*o++ = '"';
	b->len = (size_t)((uint8_t *)o - b->data);
	return 0;
}

/* Value of a base64 character in either alphabet, 64 for anything else. */
static uint8_t b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return (uint8_t)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (uint8_t)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (uint8_t)(c - '0' + 52);
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return 64;
}

/*
 * binascii.a2b_base64 in its non-strict mode, on the text followed by the
 * padding json_format appends: a '=' ends the data once the current group
 * has two or more characters and enough '=' to fill it; other '=' and
 * characters outside the alphabet are skipped.
 */
long pbj_base64_decode(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t total = n + (4 - n % 4), o = 0;
	unsigned quad = 0, pads = 0, left = 0;

	for (size_t i = 0; i < total; i++) {
		uint8_t c = i < n ? in[i] : '=';

		if (c == '=') {
			if (quad >= 2 && quad + ++pads >= 4)
				return (long)o;
			continue;
		}
		uint8_t v = b64_value(c);

		if (v >= 64)
			continue;
		pads = 0;
		switch (quad) {
		case 0:
			left = v;
			quad = 1;
			break;
		case 1:
			out[o++] = (uint8_t)(left << 2 | v >> 4);
			left = v & 0x0f;
			quad = 2;
			break;
		case 2:
			out[o++] = (uint8_t)(left << 4 | v >> 2);
			left = v & 0x03;
			quad = 3;
			break;
		default:
			out[o++] = (uint8_t)(left << 6 | v);
			left = 0;
			quad = 0;
			break;
		}
	}
	return quad == 0 ? (long)o : -1;
}

/* ---- numbers out ------------------------------------------------------------- */

const double pbj_pow10_exact[23] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
				     "25262728293031323334353637383940414243444546474849"
				     "50515253545556575859606162636465666768697071727374"
				     "75767778798081828384858687888990919293949596979899";

static const uint64_t pow10_u64[20] = {
	1ull,
	10ull,
	100ull,
	1000ull,
	10000ull,
	100000ull,
	1000000ull,
	10000000ull,
	100000000ull,
	1000000000ull,
	10000000000ull,
	100000000000ull,
	1000000000000ull,
	10000000000000ull,
	100000000000000ull,
	1000000000000000ull,
	10000000000000000ull,
	100000000000000000ull,
	1000000000000000000ull,
	10000000000000000000ull,
};

/* Decimal digits of v (1 for 0): the bit length gives it within one. */
static inline unsigned u64_len(uint64_t v)
{
	unsigned n = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;

	return n + ((v | 1) >= pow10_u64[n]);
}

/* Write v's n digits (u64_len) backwards from out + n: no copy after. */
static inline void put_u64_digits(char *out, uint64_t v, unsigned n)
{
	char *o = out + n;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		o -= 2;
		memcpy(o, digit_pairs + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(o - 2, digit_pairs + 2 * v, 2);
	else
		o[-1] = (char)('0' + v);
}

size_t pbj_fmt_u64(char *out, uint64_t v)
{
	unsigned n = u64_len(v);

	put_u64_digits(out, v, n);
	return n;
}

size_t pbj_fmt_i64(char *out, int64_t v)
{
	if (v < 0) {
		out[0] = '-';
		return 1 + pbj_fmt_u64(out + 1, 0 - (uint64_t)v);
	}
	return pbj_fmt_u64(out, (uint64_t)v);
}

/*
 * Lay out significant digits dig[0..nd) (no leading or trailing zeros)
 * with value 0.DIGITS x 10^decpt as Python's repr() does: positional
 * notation when -4 < decpt <= 16 (with ".0" for integers), else
 * d.ddde+XX with at least two exponent digits.
 */
static size_t repr_layout(char *out, bool neg, const char *dig, int nd, int decpt)
{
	size_t o = 0;

	if (neg)
		out[o++] = '-';
	if (decpt > -4 && decpt <= 16) {
		if (decpt <= 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int i = 0; i < -decpt; i++)
				out[o++] = '0';
			memcpy(out + o, dig, (size_t)nd);
			o += (size_t)nd;
		} else if (decpt < nd) {
			memcpy(out + o, dig, (size_t)decpt);
			o += (size_t)decpt;
			out[o++] = '.';
			memcpy(out + o, dig + decpt, (size_t)(nd - decpt));
			o += (size_t)(nd - decpt);
		} else {
			memcpy(out + o, dig, (size_t)nd);
			o += (size_t)nd;
			for (int i = nd; i < decpt; i++)
				out[o++] = '0';
			out[o++] = '.';
			out[o++] = '0';
		}
		return o;
	}
	int e = decpt - 1;

	out[o++] = dig[0];
	if (nd > 1) {
		out[o++] = '.';
		memcpy(out + o, dig + 1, (size_t)(nd - 1));
		o += (size_t)(nd - 1);
	}
	out[o++] = 'e';
	out[o++] = e < 0 ? '-' : '+';
	if (e < 0)
		e = -e;
	if (e >= 100)
		out[o++] = (char)('0' + e / 100);
	out[o++] = (char)('0' + e / 10 % 10);
	out[o++] = (char)('0' + e % 10);
	return o;
}

/* Digits of m without trailing zeros; *nd set; returns the count of
 * digits m had (for the decimal point position). */
static int u64_digits(uint64_t m, char *dig, int *nd)
{
	char tmp[20];
	int n = 0;

	while (m != 0) {
		tmp[n++] = (char)('0' + m % 10);
		m /= 10;
	}
	int lead = 0;

	while (lead < n && tmp[lead] == '0')
		lead++;
	*nd = n - lead;
	for (int i = 0; i < *nd; i++)
		dig[i] = tmp[n - 1 - i];
	return n;
}

/* Powers of five up to 5^27 (fits 64 bits). */
static uint64_t pow5(int k)
{
	uint64_t r = 1;

	while (k-- > 0)
		r *= 5;
	return r;
}

/*
 * m = round-half-even(mant * 2^e * 10^k), exactly, or UINT64_MAX when it is
 * 10^15 or more.
 */
static uint64_t scaled_round(uint64_t mant, int e, int k)
{
	unsigned __int128 n = (unsigned __int128)mant * pow5(k);
	int s = -(e + k);

	if (s <= 0) {
		if (-s >= 64 || (n << -s) >= (unsigned __int128)1000000000000000ull)
			return UINT64_MAX;
		return (uint64_t)(n << -s);
	}
	if (s >= 120)
		return 0; /* n < 2^110: far below one half */
	unsigned __int128 q = n >> s, r = n - (q << s), half = (unsigned __int128)1 << (s - 1);

	if (r > half || (r == half && (q & 1)))
		q++;
	return q >= 1000000000000000ull ? UINT64_MAX : (uint64_t)q;
}

/*
 * The 16- and 17-digit case of the fast path below: round-half-even(mant *
 * 2^e * 10^k) when it has 16 or 17 digits, else 0; 0 too when it is a tie
 * (both neighbours may read back: left to printf).
 */
static uint64_t scaled_round17(uint64_t mant, int e, int k)
{
	unsigned __int128 n = (unsigned __int128)mant * pow5(k);
	int s = -(e + k);

	if (s <= 0 || s >= 120)
		return 0;
	unsigned __int128 q = n >> s, r = n - (q << s), half = (unsigned __int128)1 << (s - 1);

	if (r == half)
		return 0;
	if (r > half)
		q++;
	return q >= 1000000000000000ull && q < 100000000000000000ull ? (uint64_t)q : 0;
}

/*
 * Does m * 10^-k read back (round to nearest, ties to even) as the double
 * mant * 2^-s whose neighbours are both 2^-s away (not a power of two)?
 * Exactly: |m * 2^s - mant * 10^k| <= 10^k / 2, the bound itself only for
 * an even mant.  m < 10^17 and s <= 70 keep everything within 127 bits.
 */
static bool reads_back(uint64_t m, int k, uint64_t mant, int s)
{
	unsigned __int128 x = (unsigned __int128)m << s;
	unsigned __int128 t = (unsigned __int128)pow5(k) << k; /* 10^k */
	unsigned __int128 y = (unsigned __int128)mant * t;
	unsigned __int128 d = x > y ? x - y : y - x;

	return (mant & 1) ? 2 * d < t : 2 * d <= t;
}

/* Digits and decimal point of "%.*e" output. */
static void parse_e_format(const char *buf, char *dig, int *nd, int *decpt)
{
	int n = 0;
	const char *p = buf;

	dig[n++] = *p++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			dig[n++] = *p++;
	}
	while (n > 1 && dig[n - 1] == '0')
		n--;
	*nd = n;
	*decpt = atoi(p + 1) + 1; /* p at 'e' */
}

/* Shortest digits for a positive finite double, as Python's repr. */
static void shortest_double(double a, char *dig, int *nd, int *decpt)
{
	uint64_t bits = pb_double_bits(a);
	int bexp = (int)((bits >> 52) & 0x7ff);
	uint64_t frac = bits & ((1ull << 52) - 1);

	if (a < 9007199254740992.0 && a == floor(a)) {
		*decpt = u64_digits((uint64_t)a, dig, nd);
		return;
	}
	/* Fast path: the fewest fraction digits k for which the nearest
	 * decimal reads back as a.  Below 10^15 at most one decimal of that
	 * many digits lies within a's rounding interval, so it is the one
	 * repr() finds. */
	if (bexp != 0) {
		uint64_t mant = frac | (1ull << 52);
		int e = bexp - 1075;

		for (int k = 0; k <= 22; k++) {
			uint64_t m = scaled_round(mant, e, k);

			if (m == UINT64_MAX) {
				/* 16 or 17 digits: too many for the division
				 * above to be exact, so the rounding interval
				 * is checked in integers instead.  Only the
				 * nearest candidate can be in it, as the
				 * interval is symmetric (frac != 0). */
				if (frac == 0 || e >= 0 || -e > 70)
					break;
				for (; k <= 22; k++) {
					m = scaled_round17(mant, e, k);
					if (m == 0)
						break;
					if (reads_back(m, k, mant, -e)) {
						*decpt = u64_digits(m, dig, nd) - k;
						return;
					}
				}
				break;
			}
			if (m != 0 && (double)m / pbj_pow10_exact[k] == a) {
				*decpt = u64_digits(m, dig, nd) - k;
				return;
			}
		}
	}
	/* Slow path: correctly rounded printf at 15, 16, 17 digits (from 1
	 * for subnormals, whose rounding interval is wide). */
	char buf[40];

	for (int p = bexp == 0 ? 1 : 15; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, a);
		if (strtod(buf, NULL) == a) {
			parse_e_format(buf, dig, nd, decpt);
			return;
		}
		/* At a power of two the interval below a is half as wide as
		 * above: the nearest 16-digit decimal may miss it while the
		 * next one up still reads back as a. */
		if (p == 16 && bexp > 1 && frac == 0) {
			char d16[20];
			int n16 = 0, de;
			uint64_t m = 0;

			parse_e_format(buf, d16, &n16, &de);
			for (int i = 0; i < 16; i++)
				m = m * 10 + (uint64_t)(i < n16 ? d16[i] - '0' : 0);
			m++;
			snprintf(buf, sizeof(buf), "%llue%d", (unsigned long long)m, de - 16);
			if (strtod(buf, NULL) == a) {
				*decpt = u64_digits(m, dig, nd) - 16 + de;
				return;
			}
		}
	}
	/* Not reached: 17 digits always read back. */
	snprintf(buf, sizeof(buf), "%.16e", a);
	parse_e_format(buf, dig, nd, decpt);
}

/*
 * A non-zero integral value below 2^53 as repr() prints it: all its
 * digits and ".0" (repr_layout's result, without splitting off the
 * trailing zeros first).
 */
static size_t fmt_integral(char *out, bool neg, uint64_t m)
{
	size_t o = neg;
	unsigned n = u64_len(m);

	out[0] = '-';
	put_u64_digits(out + o, m, n);
	o += n;
	out[o] = '.';
	out[o + 1] = '0';
	return o + 2;
}

size_t pbj_fmt_double(char *out, double v)
{
	char dig[24];
	int nd, decpt;

	if (v == 0) {
		if (signbit(v)) {
			memcpy(out, "-0.0", 4);
			return 4;
		}
		memcpy(out, "0.0", 3);
		return 3;
	}
	double a = fabs(v);

	if (a < 9007199254740992.0 && a == floor(a))
		return fmt_integral(out, v < 0, (uint64_t)a);
	shortest_double(a, dig, &nd, &decpt);
	return repr_layout(out, v < 0, dig, nd, decpt);
}

/*
 * json_format's ToShortestFloat: for precision 6, 7, 8, 9, format the
 * float with '%.{p}g', read it back as a double, and stop when that double
 * rounded to a float is the original.
 */
static void shortest_float(float f, char *dig, int *nd, int *decpt)
{
	double a = (double)f;
	uint32_t bits = pb_float_bits(f);
	int bexp = (int)((bits >> 23) & 0xff);

	if (a < 16777216.0 && a == floor(a)) {
		*decpt = u64_digits((uint64_t)a, dig, nd);
		return;
	}
	/* Fast path as for doubles, below 10^6 where '%.{6..9}g' rounds at
	 * or after the decimal point.  A candidate of fewer than 6 digits
	 * that reads back is also what '%.6g' gives: float intervals are far
	 * narrower than one unit of the 6th digit. */
	if (bexp != 0 && a < 1e6) {
		uint64_t mant = (bits & 0x7fffff) | 0x800000;
		int e = bexp - 150;

		for (int k = 0; k <= 22; k++) {
			uint64_t m = scaled_round(mant, e, k);

			if (m == UINT64_MAX)
				break;
			if (m != 0 && (float)((double)m / pbj_pow10_exact[k]) == f) {
				*decpt = u64_digits(m, dig, nd) - k;
				return;
			}
		}
	}
	char buf[40];

	for (int p = 6; p <= 9; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, a);
		if ((float)strtod(buf, NULL) == f || p == 9) {
			parse_e_format(buf, dig, nd, decpt);
			return;
		}
	}
}

size_t pbj_fmt_float(char *out, float v)
{
	char dig[24];
	int nd, decpt;

	if (v == 0) {
		if (signbit(v)) {
			memcpy(out, "-0.0", 4);
			return 4;
		}
		memcpy(out, "0.0", 3);
		return 3;
	}
	float a = fabsf(v);

	if (a < 16777216.0f && a == floorf(a))
		return fmt_integral(out, v < 0, (uint64_t)a);
	shortest_float(a, dig, &nd, &decpt);
	return repr_layout(out, v < 0, dig, nd, decpt);
}

/* ---- numbers in ---------------------------------------------------------------- */

/* Significant digits kept for strtod: more than the 767 a double can ever
 * need to round correctly; a dropped non-zero tail becomes one sticky '1'. */
#define DEC_KEEP 780

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * A decimal number s[0..n) with the grammar
 *   [+-]? digits [. digits?]? ([eE] [+-]? digits)?   or   [+-]? . digits ...
 * where '_' may sit between digits (checked by the caller) - to the nearest
 * double.  Small cases take Clinger's exact fast path; the rest are
 * rewritten as "DIGITSeEXP" with at most DEC_KEEP digits and given to
 * strtod.
 */
static double decimal_to_double(const char *s, size_t n)
{
	size_t i = 0;
	bool neg = false, dropped = false;
	uint64_t w = 0;
	int nw = 0;                   /* digits in w */
	long long dexp = 0, lexp = 0; /* value = digits x 10^(dexp + lexp) */
	char buf[DEC_KEEP + 40];
	size_t nb = 0;
	bool seen_sig = false;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	for (int part = 0; part < 2; part++) {
		for (; i < n && (is_digit(s[i]) || s[i] == '_'); i++) {
			if (s[i] == '_')
				continue;
			if (!seen_sig && s[i] == '0') {
				if (part == 1)
					dexp--;
				continue;
			}
			seen_sig = true;
			if (nb < DEC_KEEP) {
				buf[nb++] = s[i];
				if (nw < 19) {
					w = w * 10 + (uint64_t)(s[i] - '0');
					nw++;
				}
				if (part == 1)
					dexp--;
			} else {
				if (s[i] != '0')
					dropped = true;
				if (part == 0)
					dexp++;
			}
		}
		if (part == 0 && i < n && s[i] == '.')
			i++;
		else
			break;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool eneg = false;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (; i < n; i++) {
			if (s[i] == '_')
				continue;
			if (lexp < 100000000)
				lexp = lexp * 10 + (s[i] - '0');
		}
		if (eneg)
			lexp = -lexp;
	}
	if (nb == 0)
		return neg ? -0.0 : 0.0;
	long long e = dexp + lexp;

	double fast;
	if (!dropped && (size_t)nw == nb && pbj_decimal_fast(w, e, neg, &fast))
		return fast;
	/* The digits kept are buf[0..nb); dexp already counts dropped ones. */
	if (dropped)
		buf[nb++] = '1', e--;
	nb += (size_t)snprintf(buf + nb, sizeof(buf) - nb, "e%lld", e);
	buf[nb] = '\0';
	double d = strtod(buf, NULL);

	return neg ? -d : d;
}

double pbj_json_number_to_double(const char *s, size_t n)
{
	return decimal_to_double(s, n);
}

bool pbj_json_int(const char *s, size_t n, bool *neg, uint64_t *mag)
{
	size_t i = 0;
	uint64_t v = 0;

	*neg = false;
	if (i < n && s[i] == '-') {
		*neg = true;
		i++;
	}
	for (; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*mag = v;
	return true;
}

/* Whitespace str.strip() and int()/float() remove, ASCII part. */
static inline bool py_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static void py_strip(const char **s, size_t *n)
{
	while (*n > 0 && py_space((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && py_space((*s)[*n - 1]))
		(*n)--;
}

/* digits ('_'? digit)* at s[*i]; false when there is none or an '_' is
 * misplaced. */
static bool py_digits(const char *s, size_t n, size_t *i)
{
	if (*i >= n || !is_digit(s[*i]))
		return false;
	(*i)++;
	while (*i < n) {
		if (is_digit(s[*i])) {
			(*i)++;
		} else if (s[*i] == '_' && *i + 1 < n && is_digit(s[*i + 1])) {
			(*i) += 2;
		} else {
			break;
		}
	}
	return true;
}

bool pbj_py_int(const char *s, size_t n, bool *neg, uint64_t *mag, bool *overflow)
{
	size_t i = 0, start;
	uint64_t v = 0;

	py_strip(&s, &n);
	*neg = false;
	*overflow = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		*neg = s[i++] == '-';
	start = i;
	if (!py_digits(s, n, &i) || i != n)
		return false;
	for (i = start; i < n; i++) {
		if (s[i] == '_')
			continue;
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			*overflow = true;
		else
			v = v * 10 + d;
	}
	*mag = v;
	return true;
}

static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);

	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

bool pbj_py_float(const char *s, size_t n, double *out)
{
	size_t i = 0, start;
	bool neg = false;

	py_strip(&s, &n);
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (ieq(s + i, n - i, "inf") || ieq(s + i, n - i, "infinity")) {
		*out = neg ? -INFINITY : INFINITY;
		return true;
	}
	if (ieq(s + i, n - i, "nan")) {
		*out = neg ? -NAN : NAN;
		return true;
	}
	start = i;
	bool whole = py_digits(s, n, &i), fraction = false;

	if (i < n && s[i] == '.') {
		i++;
		fraction = py_digits(s, n, &i);
	}
	if (!whole && !fraction)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!py_digits(s, n, &i))
			return false;
	}
	if (i != n)
		return false;
	double d = decimal_to_double(s + start, n - start);

	*out = neg ? -d : d;
	return true;
}

/* ---- calendar ---------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return dm[m - 1];
}

static inline char *put2(char *o, unsigned v)
{
	memcpy(o, digit_pairs + 2 * v, 2);
	return o + 2;
}

static inline char *put3(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 100);
	memcpy(o + 1, digit_pairs + 2 * (v % 100), 2);
	return o + 3;
}

/* ".123", ".123456" or ".123456789": as few groups of three as exact. */
static inline char *put_nanos(char *o, uint32_t nanos)
{
	uint32_t rest = nanos % 1000000;

	if (nanos == 0)
		return o;
	*o++ = '.';
	o = put3(o, nanos / 1000000);
	if (rest == 0)
		return o;
	o = put3(o, rest / 1000);
	if (rest % 1000 == 0)
		return o;
	return put3(o, rest % 1000);
}

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: datetime's range. */
#define TS_MIN (-62135596800ll)
#define TS_MAX 253402300799ll

int pbj_put_timestamp(struct pb_buf *b, int64_t seconds, int32_t nanos)
{
	/* json_format normalises nanos with Python's modulo, carrying
	 * whole seconds into seconds. */
	int64_t carry = 0, n = nanos, days, secs, y;
	unsigned m, d;
	int rc;

	if ((uint32_t)nanos >= 1000000000u) {
		carry = nanos / 1000000000;
		n = nanos % 1000000000;
		if (n < 0) {
			n += 1000000000;
			carry--;
		}
	}
	if (seconds < TS_MIN - 4 || seconds > TS_MAX + 4)
		return -1;
	seconds += carry;
	if (seconds < TS_MIN || seconds > TS_MAX)
		return -1;
	if (seconds >= 0) {
		/* Unsigned division: no rounding fix-up for negatives. */
		days = (int64_t)((uint64_t)seconds / 86400);
		secs = (int64_t)((uint64_t)seconds % 86400);
	} else {
		days = seconds / 86400;
		secs = seconds % 86400;
		if (secs < 0) {
			secs += 86400;
			days--;
		}
	}
	civil_from_days(days, &y, &m, &d);
	if ((rc = pb_buf_ensure(b, 40)) < 0)
		return rc;
	char *o = (char *)b->data + b->len;

	*o++ = '"';
	o = put2(o, (unsigned)(y / 100));
	o = put2(o, (unsigned)(y % 100));
	*o++ = '-';
	o = put2(o, m);
	*o++ = '-';
	o = put2(o, d);
	*o++ = 'T';
	unsigned hm = (unsigned)secs / 60;

	o = put2(o, hm / 60);
	*o++ = ':';
	o = put2(o, hm % 60);
	*o++ = ':';
	o = put2(o, (unsigned)secs - hm * 60);
	o = put_nanos(o, (uint32_t)n);
	*o++ = 'Z';
	*o++ = '"';
	b->len = (size_t)((uint8_t *)o - b->data);
	return 0;
}

/* One field of strptime's "%Y-%m-%dT%H:%M:%S": two characters matching
 * `two`, else one matching `one`, then `sep` (or the end when 0). */
enum tf { TF_MONTH, TF_DAY, TF_HOUR, TF_MINUTE, TF_SECOND };

static bool tf_two(enum tf f, char a, char b)
{
	switch (f) {
	case TF_MONTH: /* 1[0-2]|0[1-9] */
		return (a == '1' && b >= '0' && b <= '2') || (a == '0' && b >= '1' && b <= '9');
	case TF_DAY: /* 3[01]|[12]\d|0[1-9]| [1-9] */
		return (a == '3' && (b == '0' || b == '1')) ||
		       ((a == '1' || a == '2') && is_digit(b)) ||
		       ((a == '0' || a == ' ') && b >= '1' && b <= '9');
	case TF_HOUR: /* 2[0-3]|[0-1]\d */
		return (a == '2' && b >= '0' && b <= '3') ||
		       ((a == '0' || a == '1') && is_digit(b));
	case TF_MINUTE: /* [0-5]\d */ return a >= '0' && a <= '5' && is_digit(b);
	default: /* 6[0-1]|[0-5]\d */
		return (a == '6' && (b == '0' || b == '1')) ||
		       (a >= '0' && a <= '5' && is_digit(b));
	}
}

static bool tf_field(const char *s, size_t n, size_t *i, enum tf f, char sep, unsigned *v)
{
	size_t k = *i;
	bool sep_ok;

	if (n - k >= 2 && tf_two(f, s[k], s[k + 1])) {
		sep_ok = sep ? (n - k > 2 && (s[k + 2] == sep || (sep == 'T' && s[k + 2] == 't')))
			     : n - k == 2;
		if (sep_ok) {
			*v = (unsigned)((s[k] == ' ' ? 0 : s[k] - '0') * 10 + (s[k + 1] - '0'));
			*i = k + 2 + (sep != 0);
			return true;
		}
	}
	/* [1-9] for month and day, \d for the others */
	if (n - k >= 1 && is_digit(s[k]) && (s[k] != '0' || f >= TF_HOUR)) {
		sep_ok = sep ? (n - k > 1 && (s[k + 1] == sep || (sep == 'T' && s[k + 1] == 't')))
			     : n - k == 1;
		if (sep_ok) {
			*v = (unsigned)(s[k] - '0');
			*i = k + 1 + (sep != 0);
			return true;
		}
	}
	return false;
}

static const char *memchr_c(const char *s, size_t n, char c)
{
	return memchr(s, c, n);
}

static const char *memrchr_c(const char *s, size_t n, char c)
{
	while (n-- > 0)
		if (s[n] == c)
			return s + n;
	return NULL;
}

/* float("0" + frac) or float("-0" + frac) (frac starting at '.') into *out. */
static bool py_float_prefixed(const char *prefix, const char *frac, size_t n, double *out)
{
	char buf[512];
	size_t pl = strlen(prefix);

	if (n + pl > sizeof(buf))
		return false; /* longer than any real fraction; refused */
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, frac, n);
	return pbj_py_float(buf, n + pl, out);
}

int pbj_parse_timestamp(const char *s, size_t n, int64_t *seconds, int32_t *nanos, const char **why)
{
	const char *tz = memchr_c(s, n, 'Z');
	size_t i = 0;
	unsigned mo, d, h, mi, se;

	/* json_format looks for the zone at the first 'Z', else the first
	 * '+', else the last '-'. */
	if (tz == NULL)
		tz = memchr_c(s, n, '+');
	if (tz == NULL)
		tz = memrchr_c(s, n, '-');
	if (tz == NULL) {
		*why = "missing valid timezone offset";
		return -1;
	}
	size_t tlen = (size_t)(tz - s);
	const char *point = memchr_c(s, tlen, '.');
	size_t slen = point ? (size_t)(point - s) : tlen;

	if (memchr_c(s, slen, 't') != NULL) {
		*why = "lowercase 't' is not accepted";
		return -1;
	}
	if (slen < 5 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]) ||
	    s[4] != '-') {
		*why = "time data does not match format '%Y-%m-%dT%H:%M:%S'";
		return -1;
	}
	unsigned year = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
				   (s[3] - '0'));

	i = 5;
	if (!tf_field(s, slen, &i, TF_MONTH, '-', &mo) || !tf_field(s, slen, &i, TF_DAY, 'T', &d) ||
	    !tf_field(s, slen, &i, TF_HOUR, ':', &h) ||
	    !tf_field(s, slen, &i, TF_MINUTE, ':', &mi) ||
	    !tf_field(s, slen, &i, TF_SECOND, 0, &se)) {
		*why = "time data does not match format '%Y-%m-%dT%H:%M:%S'";
		return -1;
	}
	if (year < 1 || d > days_in_month(year, mo) || se > 59) {
		*why = "date or time out of range";
		return -1;
	}
	__int128 secs = (__int128)days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	double fr = 0;

	if (point != NULL) {
		size_t nlen = tlen - slen - 1;

		if (nlen > 9) {
			*why = "nanos more than 9 fractional digits";
			return -1;
		}
		if (nlen > 0) {
			if (!py_float_prefixed("0", point, nlen + 1, &fr)) {
				*why = "bad fractional seconds";
				return -1;
			}
			fr = nearbyint(fr * 1e9); /* Python's round(): ties to even */
			if (!(fr >= INT32_MIN && fr <= INT32_MAX)) {
				*why = "nanos out of range";
				return -1;
			}
		}
	}
	if (*tz == 'Z') {
		if ((size_t)(tz - s) + 1 != n) {
			*why = "invalid trailing data";
			return -1;
		}
	} else {
		const char *z = tz + 1, *end = s + n;
		const char *colon = memchr_c(tz, (size_t)(end - tz), ':');
		bool hneg, mneg, hov, mov;
		uint64_t hh, mm;

		if (colon == NULL || !pbj_py_int(z, (size_t)(colon - z), &hneg, &hh, &hov) ||
		    !pbj_py_int(colon + 1, (size_t)(end - colon - 1), &mneg, &mm, &mov)) {
			*why = "invalid timezone offset";
			return -1;
		}
		if (hov || mov || hh > (1ull << 40) || mm > (1ull << 40)) {
			*why = "timezone offset out of range";
			return -1;
		}
		__int128 off = ((__int128)(hneg ? -(__int128)hh : (__int128)hh) * 60 +
				(mneg ? -(__int128)mm : (__int128)mm)) *
			       60;

		secs += *tz == '+' ? -off : off;
	}
	if (secs < INT64_MIN || secs > INT64_MAX) {
		*why = "seconds out of range";
		return -1;
	}
	*seconds = (int64_t)secs;
	*nanos = (int32_t)fr;
	return 0;
}

/* 10000 years, the proto's documented Duration range. */
#define DURATION_MAX 315576000000ll

int pbj_put_duration(struct pb_buf *b, int64_t seconds, int32_t nanos)
{
	int rc;

	if (seconds < -DURATION_MAX || seconds > DURATION_MAX || nanos <= -1000000000 ||
	    nanos >= 1000000000 || (nanos < 0 && seconds > 0) || (nanos > 0 && seconds < 0))
		return -1;
	if ((rc = pb_buf_ensure(b, 40)) < 0)
		return rc;
	char *o = (char *)b->data + b->len;

	*o++ = '"';
	if (seconds < 0 || nanos < 0) {
		*o++ = '-';
		seconds = -seconds;
		nanos = -nanos;
	}
	o += pbj_fmt_u64(o, (uint64_t)seconds);
	o = put_nanos(o, (uint32_t)nanos);
	*o++ = 's';
	*o++ = '"';
	b->len = (size_t)((uint8_t *)o - b->data);
	return 0;
}

/*
 * The usual forms, "30s" and "2.500s": [-]digits[.1-9 digits]s with the
 * seconds in range.  float("0." + frac) * 1e9 is within far less than 0.5
 * of the integer frac x 10^(9 - k) for k <= 9 digits, so the general
 * path's nearbyint() gives that integer, which is taken here directly.
 * False: anything else, left to the general path and its errors.
 */
static bool duration_plain(const char *s, size_t n, int64_t *seconds, int32_t *nanos)
{
	size_t i = s[0] == '-', j;
	uint64_t sec = 0;
	uint32_t ns = 0;

	for (j = i; j < n - 1 && j - i < 12 && is_digit(s[j]); j++)
		sec = sec * 10 + (uint64_t)(s[j] - '0');
	if (j == i || sec > (uint64_t)DURATION_MAX)
		return false;
	if (s[j] == '.') {
		size_t f = ++j;

		for (; j < n - 1 && j - f < 9 && is_digit(s[j]); j++)
			ns = ns * 10 + (uint32_t)(s[j] - '0');
		if (j == f)
			return false;
		for (size_t k = j - f; k < 9; k++)
			ns *= 10;
	}
	if (j != n - 1)
		return false;
	*seconds = s[0] == '-' ? -(int64_t)sec : (int64_t)sec;
	*nanos = s[0] == '-' ? -(int32_t)ns : (int32_t)ns;
	return true;
}

int pbj_parse_duration(const char *s, size_t n, int64_t *seconds, int32_t *nanos, const char **why)
{
	const char *point;
	bool neg, ov;
	uint64_t mag;
	double fr = 0;
	size_t ilen;

	if (n < 1 || s[n - 1] != 's') {
		*why = "Duration must end with letter \"s\"";
		return -1;
	}
	if (duration_plain(s, n, seconds, nanos))
		return 0;
	point = memchr_c(s, n, '.');
	ilen = point ? (size_t)(point - s) : n - 1;
	if (!pbj_py_int(s, ilen, &neg, &mag, &ov)) {
		*why = "bad seconds";
		return -1;
	}
	if (point != NULL) {
		size_t flen = (size_t)(s + n - 1 - point);

		if (!py_float_prefixed(s[0] == '-' ? "-0" : "0", point, flen, &fr)) {
			*why = "bad fractional seconds";
			return -1;
		}
		fr = nearbyint(fr * 1e9);
		if (!isfinite(fr)) {
			*why = "bad fractional seconds";
			return -1;
		}
	}
	if (ov || mag > (uint64_t)DURATION_MAX) {
		*why = "seconds out of range [-315576000000, 315576000000]";
		return -1;
	}
	int64_t sec = neg ? -(int64_t)mag : (int64_t)mag;

	if (fr <= -1e9 || fr >= 1e9) {
		*why = "nanos out of range [-999999999, 999999999]";
		return -1;
	}
	if ((fr < 0 && sec > 0) || (fr > 0 && sec < 0)) {
		*why = "sign mismatch";
		return -1;
	}
	*seconds = sec;
	*nanos = (int32_t)fr;
	return 0;
}

/* ---- FieldMask --------------------------------------------------------------------- */

int pbj_put_mask_path(struct pb_buf *b, const uint8_t *p, size_t n)
{
	bool after = false;
	int rc;

	if ((rc = pb_buf_ensure(b, n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (c >= 'A' && c <= 'Z')
			return -1;
		if (after) {
			if (c < 'a' || c > 'z')
				return -1;
			b->data[b->len++] = (uint8_t)(c - 'a' + 'A');
			after = false;
		} else if (c == '_') {
			after = true;
		} else {
			b->data[b->len++] = c;
		}
	}
	return after ? -1 : 0;
}

long pbj_mask_path_snake_len(const char *p, size_t n)
{
	long len = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '_')
			return -1;
		len += (p[i] >= 'A' && p[i] <= 'Z') ? 2 : 1;
	}
	return len;
}

void pbj_mask_path_to_snake(const char *p, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 'A' && p[i] <= 'Z') {
			*out++ = '_';
			*out++ = (uint8_t)(p[i] - 'A' + 'a');
		} else {
			*out++ = (uint8_t)p[i];
		}
	}
}

void pbj_path_add(char *path, size_t *n, const char *s, size_t len)
{
	size_t room = sizeof(((struct pb_json_error *)0)->path) - 1 - *n;

	if (len > room)
		len = room;
	memcpy(path + *n, s, len);
	*n += len;
	path[*n] = '\0';
}
