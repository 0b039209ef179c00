/*
 * http_parser.c - strict, in-place HTTP/1.1 request parser (RFC 9112).
 *
 * The one idea: walk the head once, left to right, and stop at the first
 * byte that may not appear where it stands.  That byte alone decides the
 * outcome (end of part, need more input, or which error), so there is no
 * second pass over the bytes and no copy.  The long runs (request-target,
 * field values) are scanned 16 bytes at a time with SSE2.
 *
 * Limits are enforced by shrinking the window the scanners may look at:
 * running off a window that is smaller than the input is the limit error,
 * running off the input itself is HTTP_INCOMPLETE.  That way a partial head
 * hits its limit as soon as the limit is crossed, with no extra checks in
 * the loops.
 *
 * The chunked decoder at the end is a byte-wise state machine so callers
 * never have to keep a half-read size line or trailer around.
 */
#include "http_parser.h"

#include <assert.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * Defaults: 8 KiB request line as nginx's large_client_header_buffers,
 * 100 fields as Apache's LimitRequestFields; the rest are sized for a
 * JSON-to-gRPC gateway where bodies are API payloads, not uploads.
 */
const struct http_limits http_limits_default = {
	.max_request_line = 8192,
	.max_header_bytes = 16384,
	.max_headers = 100,
	.max_body = 1u << 20,
	.max_chunk_meta = 4096,
};

/* ---- character classes ------------------------------------------------ */

enum {
	C_TCHAR = 1,   /* RFC 9110 5.6.2 tchar                                   */
	C_VALUE = 2,   /* field-vchar / obs-text / SP / HTAB (RFC 9110 5.5)      */
	C_HEX = 4,     /* HEXDIG                                                 */
	C_REGNAME = 8, /* RFC 3986 reg-name: unreserved / sub-delims / "%"       */
	C_QDTEXT = 16, /* RFC 9110 5.6.4 qdtext                                  */
	C_TARGET = 32, /* request-target byte: %x21-7E except "#" (no fragment,
			  no raw non-ASCII: RFC 3986 has neither)               */
};

/* One lookup per byte; generated from the ABNF above, cross-checked byte
 * by byte against the RFC definitions in tests/unit/test_http_parser.c. */
static const unsigned char cls[256] = {
	0,  0,  0,  0,  0,  0,  0,  0,  0,  18, 0,  0,  0,  0,  0,  0,  /* 0x00 */
	0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
	18, 59, 34, 19, 59, 59, 59, 59, 58, 58, 59, 59, 58, 59, 59, 50, /* 0x20 */
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 50, 58, 50, 58, 50, 50, /* 0x30 */
	50, 63, 63, 63, 63, 63, 63, 59, 59, 59, 59, 59, 59, 59, 59, 59, /* 0x40 */
	59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 50, 34, 50, 51, 59, /* 0x50 */
	51, 63, 63, 63, 63, 63, 63, 59, 59, 59, 59, 59, 59, 59, 59, 59, /* 0x60 */
	59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 50, 51, 50, 59, 0,  /* 0x70 */
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, /* 0x80 */
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, /* 0x90 */
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, /* 0xa0 */
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, /* 0xb0 */
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, /* 0xc0 */
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, /* 0xd0 */
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, /* 0xe0 */
	18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, /* 0xf0 */
};

static inline bool is(char c, unsigned cl)
{
	return (cls[(unsigned char)c] & cl) != 0;
}

static inline bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_digit(char c)
{
	return (unsigned)(c - '0') < 10u;
}

static inline unsigned char lower(char c)
{
	unsigned char u = (unsigned char)c;
	return (unsigned char)((unsigned)(u - 'A') < 26u ? u + 32 : u);
}

static unsigned hexval(char c)
{
	return is_digit(c) ? (unsigned)(c - '0') : (unsigned)(lower(c) - 'a' + 10);
}

/* Case-insensitive compare of n bytes with a lower-case literal. */
static bool ieq(const char *p, size_t n, const char *lit, size_t litlen)
{
	if (n != litlen)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != (unsigned char)lit[i])
			return false;
	return true;
}
#define IEQ(p, n, lit) ieq((p), (n), (lit), sizeof(lit) - 1)

/* ---- vector scanners -------------------------------------------------- */

/* First byte in [p, end) that may not appear in a field value: a CTL other
 * than HTAB, or DEL.  CR ends a valid value, so this also finds the EOL. */
static const char *scan_value(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i ctl = _mm_set1_epi8(0x1f), tab = _mm_set1_epi8(0x09);
	const __m128i del = _mm_set1_epi8(0x7f);
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		/* unsigned x <= 0x1f is min(x, 0x1f) == x: SSE2 has no unsigned cmplt */
		__m128i low = _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x);
		__m128i bad = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(x, tab), low),
					   _mm_cmpeq_epi8(x, del));
		int m = _mm_movemask_epi8(bad);
		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	while (p < end && is(*p, C_VALUE))
		p++;
	return p;
}

/* First byte in [p, end) that ends or spoils a request-target. */
static const char *scan_target(const char *p, const char *end)
{
#ifdef __SSE2__
	/* A signed compare < 0x21 catches CTLs and SP and, as negative
	 * numbers, every byte >= 0x80 in one instruction. */
	const __m128i lo = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f);
	const __m128i hash = _mm_set1_epi8('#');
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i bad =
			_mm_or_si128(_mm_cmplt_epi8(x, lo),
				     _mm_or_si128(_mm_cmpeq_epi8(x, del), _mm_cmpeq_epi8(x, hash)));
		int m = _mm_movemask_epi8(bad);
		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	while (p < end && is(*p, C_TARGET))
		p++;
	return p;
}

/* First non-tchar in [p, end).  Names are short and tchar has no cheap
 * vector test, so this just unrolls to take the bound check off the loop. */
static const char *scan_token(const char *p, const char *end)
{
	for (; end - p >= 4; p += 4) {
		if (!is(p[0], C_TCHAR))
			return p;
		if (!is(p[1], C_TCHAR))
			return p + 1;
		if (!is(p[2], C_TCHAR))
			return p + 2;
		if (!is(p[3], C_TCHAR))
			return p + 3;
	}
	while (p < end && is(*p, C_TCHAR))
		p++;
	return p;
}

/*
 * The byte at p stopped a part of a line where it is not allowed.  CRLF is
 * `at_eol` (the line ended too early), a lone CR or LF is always its own
 * error, anything else is `other`.  A CR at the window's end needs one more
 * byte to tell which.
 */
static enum http_error stop_byte(const char *p, const char *end, enum http_error at_eol,
				 enum http_error other)
{
	assert(p < end);
	if (*p == '\r') {
		if (p + 1 == end)
			return HTTP_INCOMPLETE;
		return p[1] == '\n' ? at_eol : HTTP_E_BARE_CR;
	}
	if (*p == '\n')
		return HTTP_E_BARE_LF;
	return other;
}

/* ---- request line ----------------------------------------------------- */

/* Word-sized compares via memcmp on constant lengths; no strcmp chain. */
static enum http_method method_of(const char *p, size_t n)
{
	switch (n) {
	case 3:
		if (!memcmp(p, "GET", 3))
			return HTTP_M_GET;
		if (!memcmp(p, "PUT", 3))
			return HTTP_M_PUT;
		break;
	case 4:
		if (!memcmp(p, "POST", 4))
			return HTTP_M_POST;
		if (!memcmp(p, "HEAD", 4))
			return HTTP_M_HEAD;
		break;
	case 5:
		if (!memcmp(p, "PATCH", 5))
			return HTTP_M_PATCH;
		if (!memcmp(p, "TRACE", 5))
			return HTTP_M_TRACE;
		break;
	case 6:
		if (!memcmp(p, "DELETE", 6))
			return HTTP_M_DELETE;
		break;
	case 7:
		if (!memcmp(p, "OPTIONS", 7))
			return HTTP_M_OPTIONS;
		if (!memcmp(p, "CONNECT", 7))
			return HTTP_M_CONNECT;
		break;
	}
	return HTTP_M_OTHER;
}

/* Every "%" must start a pct-encoded triplet (RFC 3986 2.1): a backend
 * that decodes "%zz" some other way would route differently. */
static bool pct_ok(const char *p, size_t n)
{
	const char *end = p + n;
	while ((p = memchr(p, '%', (size_t)(end - p))) != NULL) {
		if (end - p < 3 || !is(p[1], C_HEX) || !is(p[2], C_HEX))
			return false;
		p += 3;
	}
	return true;
}

/*
 * authority = host [ ":" port ] with no userinfo (RFC 9110 4.2.4 says treat
 * "user@" as an error); host is a non-empty reg-name or an IP-literal.
 */
static bool authority_ok(const char *p, size_t n, bool need_port)
{
	const char *end = p + n, *h = p;
	if (n == 0)
		return false;
	if (*p == '[') {
		while (++p < end && *p != ']')
			if (!is(*p, C_HEX) && *p != ':' && *p != '.')
				return false;
		if (p == end || p == h + 1)
			return false;
		p++;
	} else {
		while (p < end && is(*p, C_REGNAME))
			p++;
		if (p == h || !pct_ok(h, (size_t)(p - h)))
			return false;
	}
	if (p == end)
		return !need_port;
	if (*p++ != ':')
		return false;
	if (need_port && p == end)
		return false;
	for (; p < end; p++)
		if (!is_digit(*p))
			return false;
	return true;
}

/* "/" for an absolute-form target without a path; it points at this
 * constant, the only slice that is not inside the caller's buffer. */
static const char root_path[] = "/";

/* Split path and query of an origin-form or absolute-form path part. */
static void split_path(struct http_request *req, const char *p, const char *end)
{
	const char *q = memchr(p, '?', (size_t)(end - p));
	if (!q)
		q = end;
	req->path = (http_slice){p, (size_t)(q - p)};
	req->query = (http_slice){q == end ? end : q + 1, q == end ? 0 : (size_t)(end - q - 1)};
}

/*
 * RFC 9112 3.2: origin-form for everything, asterisk-form only for OPTIONS,
 * authority-form only (and always) for CONNECT, absolute-form for http(s).
 * Bytes were already checked by scan_target.
 */
static enum http_error classify_target(struct http_request *req)
{
	const char *t = req->target.base, *end = t + req->target.len;
	size_t n = req->target.len;
	assert(n > 0);

	if (!pct_ok(t, n))
		return HTTP_E_TARGET;
	if (req->method == HTTP_M_CONNECT) {
		if (!authority_ok(t, n, true))
			return HTTP_E_TARGET;
		req->path = (http_slice){end, 0};
		req->query = (http_slice){end, 0};
		return HTTP_OK;
	}
	if (*t == '/') {
		split_path(req, t, end);
		return HTTP_OK;
	}
	if (n == 1 && *t == '*') {
		if (req->method != HTTP_M_OPTIONS)
			return HTTP_E_TARGET;
		req->path = req->target;
		req->query = (http_slice){end, 0};
		return HTTP_OK;
	}
	/* absolute-form: only the schemes this gateway serves */
	const char *a;
	if (n > 7 && IEQ(t, 7, "http://"))
		a = t + 7;
	else if (n > 8 && IEQ(t, 8, "https://"))
		a = t + 8;
	else
		return HTTP_E_TARGET;
	const char *ae = a;
	while (ae < end && *ae != '/' && *ae != '?')
		ae++;
	if (!authority_ok(a, (size_t)(ae - a), false))
		return HTTP_E_TARGET;
	/* RFC 9112 3.2.2: the target's authority replaces any Host field. */
	req->host = (http_slice){a, (size_t)(ae - a)};
	if (ae < end && *ae == '/') {
		split_path(req, ae, end);
	} else {
		req->path = (http_slice){root_path, 1};
		req->query = (http_slice){ae == end ? end : ae + 1,
					  ae == end ? 0 : (size_t)(end - ae - 1)};
	}
	return HTTP_OK;
}

/*
 * request-line = method SP request-target SP HTTP-version CRLF, exactly one
 * SP each (RFC 9112 3).  HTTP_INCOMPLETE means a byte at or past `end` was
 * needed; the caller turns that into a limit error if `end` is a limit.
 */
static enum http_error parse_request_line(const char *p, const char *end, struct http_request *req,
					  const char **next)
{
	const char *m = p;
	p = scan_token(p, end);
	if (p == end)
		return HTTP_INCOMPLETE;
	if (*p != ' ')
		return stop_byte(p, end, HTTP_E_REQUEST_LINE, HTTP_E_METHOD);
	if (p == m)
		return HTTP_E_METHOD;
	req->method_name = (http_slice){m, (size_t)(p - m)};
	req->method = method_of(m, (size_t)(p - m));

	const char *t = ++p;
	p = scan_target(p, end);
	if (p == end)
		return HTTP_INCOMPLETE;
	if (*p != ' ')
		return stop_byte(p, end, HTTP_E_REQUEST_LINE, HTTP_E_TARGET);
	if (p == t)
		return HTTP_E_REQUEST_LINE;
	req->target = (http_slice){t, (size_t)(p - t)};
	enum http_error e = classify_target(req);
	if (e)
		return e;

	const char *v = ++p;
	if (end - v >= 10 && !memcmp(v, "HTTP/1.1\r\n", 10)) {
		req->version_minor = 1; /* the common case, in one compare */
		*next = v + 10;
		return HTTP_OK;
	}
	while (p<end && * p> ' ' && *p < 0x7f)
		p++;
	if (p == end)
		return HTTP_INCOMPLETE;
	if (*p == ' ')
		return HTTP_E_REQUEST_LINE;
	e = stop_byte(p, end, HTTP_OK, HTTP_E_VERSION);
	if (e)
		return e;
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3) */
	if (p - v != 8 || memcmp(v, "HTTP/", 5) || !is_digit(v[5]) || v[6] != '.' ||
	    !is_digit(v[7]))
		return HTTP_E_VERSION;
	if (v[5] != '1' || v[7] > '1')
		return HTTP_E_VERSION_UNSUPP;
	req->version_minor = v[7] - '0';
	*next = p + 2;
	return HTTP_OK;
}

/* ---- header fields ---------------------------------------------------- */

/*
 * field-line = field-name ":" OWS field-value OWS CRLF until an empty line.
 * Fills hdrs[0..max); HTTP_INCOMPLETE as for parse_request_line.
 */
static enum http_error parse_fields(const char *p, const char *end, struct http_header *hdrs,
				    unsigned max, unsigned *count, const char **next)
{
	unsigned n = 0;
	for (;;) {
		if (p == end)
			return HTTP_INCOMPLETE;
		if (*p == '\r') {
			if (p + 1 == end)
				return HTTP_INCOMPLETE;
			if (p[1] != '\n')
				return HTTP_E_BARE_CR;
			*count = n;
			*next = p + 2;
			return HTTP_OK;
		}
		if (*p == '\n')
			return HTTP_E_BARE_LF;
		/* RFC 9112 5.2 obs-fold, and 2.2 whitespace after the start-line */
		if (is_ows(*p))
			return HTTP_E_OBS_FOLD;
		if (n == max)
			return HTTP_E_TOO_MANY_HEADERS;

		const char *name = p;
		p = scan_token(p, end);
		if (p == end)
			return HTTP_INCOMPLETE;
		if (*p != ':') {
			if (p == name || !is_ows(*p))
				return stop_byte(p, end, HTTP_E_HEADER_NAME, HTTP_E_HEADER_NAME);
			while (p < end && is_ows(*p))
				p++;
			if (p == end)
				return HTTP_INCOMPLETE;
			/* RFC 9112 5.1: "Name :" must be rejected, never trimmed */
			if (*p == ':')
				return HTTP_E_SPACE_BEFORE_COLON;
			return stop_byte(p, end, HTTP_E_HEADER_NAME, HTTP_E_HEADER_NAME);
		}
		if (p == name)
			return HTTP_E_HEADER_NAME;
		const char *name_end = p++;

		while (p < end && is_ows(*p))
			p++;
		const char *v = p;
		p = scan_value(p, end);
		if (p == end)
			return HTTP_INCOMPLETE;
		if (*p != '\r')
			return stop_byte(p, end, HTTP_E_HEADER_VALUE, HTTP_E_HEADER_VALUE);
		if (p + 1 == end)
			return HTTP_INCOMPLETE;
		if (p[1] != '\n')
			return HTTP_E_BARE_CR;
		const char *ve = p;
		while (ve > v && is_ows(ve[-1]))
			ve--;
		hdrs[n].name = (http_slice){name, (size_t)(name_end - name)};
		hdrs[n].value = (http_slice){v, (size_t)(ve - v)};
		n++;
		p += 2;
	}
}

/* Next element of a #list (RFC 9110 5.6.1), OWS trimmed; empty elements
 * are returned too so callers can decide.  *pp becomes NULL after the last
 * element; false once it is NULL. */
static bool list_next(const char **pp, const char *end, http_slice *elem)
{
	const char *p = *pp;
	if (!p)
		return false;
	const char *c = memchr(p, ',', (size_t)(end - p));
	const char *e = c ? c : end;
	*pp = c ? c + 1 : NULL;
	while (p < e && is_ows(*p))
		p++;
	while (e > p && is_ows(e[-1]))
		e--;
	*elem = (http_slice){p, (size_t)(e - p)};
	return true;
}

/*
 * Content-Length = 1*DIGIT (RFC 9110 8.6), fitting in 63 bits.  A list of
 * equal values ("42, 42") is one value; any empty or differing element is
 * an error.  `have` says whether an earlier field already set *cl.
 */
static enum http_error parse_content_length(http_slice v, bool have, uint64_t *cl)
{
	const char *p = v.base, *end = v.base + v.len;
	http_slice el;
	while (list_next(&p, end, &el)) {
		uint64_t n = 0;
		if (el.len == 0)
			return HTTP_E_CL_INVALID;
		for (size_t i = 0; i < el.len; i++) {
			if (!is_digit(el.base[i]))
				return HTTP_E_CL_INVALID;
			unsigned d = (unsigned)(el.base[i] - '0');
			if (n > ((uint64_t)INT64_MAX - d) / 10)
				return HTTP_E_CL_INVALID;
			n = n * 10 + d;
		}
		if (have && n != *cl)
			return HTTP_E_CL_CONFLICT;
		*cl = n;
		have = true;
	}
	return HTTP_OK;
}

/* What the Transfer-Encoding fields said, over all of them in order. */
struct te_state {
	unsigned chunked;  /* how many times "chunked" appeared   */
	bool chunked_last; /* the last coding seen was "chunked"   */
	bool other;        /* some coding we do not implement       */
};

static void scan_te(struct te_state *te, http_slice v)
{
	const char *p = v.base, *end = v.base + v.len;
	http_slice el;
	while (list_next(&p, end, &el)) {
		if (el.len == 0)
			continue; /* RFC 9110 5.6.1: recipients ignore empty elements */
		te->chunked_last = IEQ(el.base, el.len, "chunked");
		if (te->chunked_last)
			te->chunked++;
		else
			te->other = true;
	}
}

/*
 * RFC 9112 6.1 and 6.3: chunked must be the final coding and only once,
 * else the body length is unknowable (400); another coding is 501.
 */
static enum http_error te_verdict(const struct te_state *te)
{
	if (te->chunked > 1 || (te->chunked == 1 && !te->chunked_last))
		return HTTP_E_TE_NOT_CHUNKED_LAST;
	if (te->other)
		return HTTP_E_TE_UNSUPPORTED;
	if (te->chunked == 0) /* only empty elements: no length at all */
		return HTTP_E_TE_NOT_CHUNKED_LAST;
	return HTTP_OK;
}

/*
 * Derive framing and connection facts from the fields.  All fields are
 * looked at first and the errors decided afterwards in one fixed order, so
 * the verdict never depends on which field came first.
 */
static enum http_error apply_fields(struct http_request *req, const struct http_limits *limits)
{
	unsigned nhost = 0;
	bool has_cl = false, has_te = false, close = false, keep = false;
	enum http_error cl_err = HTTP_OK;
	struct te_state te = {0};
	http_slice host = {NULL, 0};

	for (unsigned i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		const char *n = h->name.base;
		http_slice el;
		const char *p = h->value.base, *end = p + h->value.len;

		switch (h->name.len) { /* length first: most fields fail here */
		case 4:
			if (IEQ(n, 4, "host")) {
				nhost++;
				host = h->value;
			}
			break;
		case 6:
			if (IEQ(n, 6, "expect"))
				while (list_next(&p, end, &el))
					if (IEQ(el.base, el.len, "100-continue"))
						req->expect_continue = req->version_minor == 1;
			break;
		case 10:
			if (IEQ(n, 10, "connection"))
				while (list_next(&p, end, &el)) {
					close |= IEQ(el.base, el.len, "close");
					keep |= IEQ(el.base, el.len, "keep-alive");
				}
			break;
		case 14:
			if (IEQ(n, 14, "content-length") && !cl_err) {
				cl_err = parse_content_length(h->value, has_cl,
							      &req->content_length);
				has_cl = true;
			}
			break;
		case 17:
			if (IEQ(n, 17, "transfer-encoding")) {
				has_te = true;
				scan_te(&te, h->value);
			}
			break;
		}
	}

	if (nhost > 1)
		return HTTP_E_HOST_DUPLICATE;
	if (has_te && req->version_minor == 0)
		return HTTP_E_TE_HTTP10;
	if (has_te && has_cl)
		return HTTP_E_CL_AND_TE;
	if (cl_err)
		return cl_err;
	if (has_te) {
		enum http_error e = te_verdict(&te);
		if (e)
			return e;
	}
	if (nhost == 0 && req->version_minor == 1)
		return HTTP_E_HOST_MISSING;
	/* Host = uri-host [ ":" port ]; empty is allowed (RFC 9112 3.2) */
	if (nhost && host.len && !authority_ok(host.base, host.len, false))
		return HTTP_E_HEADER_VALUE;
	if (req->host.base == NULL) /* absolute-form already set it */
		req->host = host;

	if (has_te) {
		req->body_kind = HTTP_BODY_CHUNKED;
	} else if (has_cl) {
		if (req->content_length > limits->max_body)
			return HTTP_E_BODY_TOO_LARGE;
		req->body_kind = req->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	}
	req->keep_alive = !close && (req->version_minor == 1 || keep);
	return HTTP_OK;
}

/* ---- the head --------------------------------------------------------- */

enum http_error http_parse_request(const char *buf, size_t len, const struct http_limits *limits,
				   struct http_header *headers, unsigned cap,
				   struct http_request *req)
{
	assert(limits && req && (buf || len == 0) && (headers || cap == 0));
	memset(req, 0, sizeof(*req));
	req->headers = headers;
	if (len == 0)
		return HTTP_INCOMPLETE;

	/* The whole head may not pass hend; past it lies the 431. */
	size_t hlen = len < limits->max_header_bytes ? len : limits->max_header_bytes;
	bool head_capped = hlen < len;
	const char *p = buf, *hend = buf + hlen;

	/* RFC 9112 2.2: ignore empty lines before the request-line. */
	while (p < hend && *p == '\r') {
		if (p + 1 == hend)
			return head_capped ? HTTP_E_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
		if (p[1] != '\n')
			return HTTP_E_BARE_CR;
		p += 2;
	}
	if (p == hend)
		return head_capped ? HTTP_E_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
	if (*p == '\n')
		return HTTP_E_BARE_LF;

	/* The request line may use max_request_line bytes plus its CRLF. */
	const char *line = p, *lend = hend;
	size_t room = (size_t)(hend - line);
	if (room > 2 && room - 2 > limits->max_request_line)
		lend = line + limits->max_request_line + 2;
	enum http_error e = parse_request_line(line, lend, req, &p);
	if (e == HTTP_INCOMPLETE) {
		/* the scanners ran off lend: everything before it was line */
		size_t got = (size_t)(lend - line) - (lend[-1] == '\r');
		if (got > limits->max_request_line)
			return HTTP_E_URI_TOO_LONG;
		return head_capped && lend == hend ? HTTP_E_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
	}
	if (e)
		return e;
	assert(p <= hend && (size_t)(p - line) - 2 <= limits->max_request_line);

	unsigned max = cap < limits->max_headers ? cap : limits->max_headers;
	e = parse_fields(p, hend, headers, max, &req->nheaders, &p);
	if (e == HTTP_INCOMPLETE)
		return head_capped ? HTTP_E_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
	if (e)
		return e;
	assert(p <= hend && req->nheaders <= max);
	req->head_len = (size_t)(p - buf);
	return apply_fields(req, limits);
}

/* ---- chunked body (RFC 9112 7.1) -------------------------------------- */

enum chunk_state {
	CS_SIZE_FIRST,  /* start of a chunk-size line: need a HEXDIG        */
	CS_SIZE,        /* in chunk-size                                     */
	CS_SIZE_WS,     /* BWS after chunk-size: only ";" may follow         */
	CS_EXT_NAME0,   /* after ";": BWS, then chunk-ext-name              */
	CS_EXT_NAME,    /* in chunk-ext-name                                */
	CS_EXT_NAME_WS, /* BWS after the name: "=" or ";"                    */
	CS_EXT_VAL0,    /* after "=": BWS, then token or quoted-string      */
	CS_EXT_TOKEN,   /* in a token value                                 */
	CS_EXT_VAL_WS,  /* BWS after a value: only ";" may follow            */
	CS_EXT_QUOTED,  /* inside a quoted-string                           */
	CS_EXT_QPAIR,   /* after a backslash in a quoted-string             */
	CS_EXT_QEND,    /* after the closing quote                          */
	CS_SIZE_LF,     /* CR seen at the end of the size line              */
	CS_DATA,        /* `remaining` data bytes to go                     */
	CS_DATA_CR,     /* CRLF after chunk-data                            */
	CS_DATA_LF,
	CS_TR_LINE, /* start of a trailer line or the final CRLF        */
	CS_TR_NAME,
	CS_TR_VALUE,
	CS_TR_LF,
	CS_FINAL_LF,
	CS_DONE,
};

void http_chunked_init(struct http_chunked *c, const struct http_limits *limits)
{
	assert(c && limits);
	memset(c, 0, sizeof(*c));
	c->state = CS_SIZE_FIRST;
	c->limits = limits;
}

/* Extension and trailer bytes share one budget (max_chunk_meta). */
static bool meta_over(struct http_chunked *c)
{
	return ++c->meta > c->limits->max_chunk_meta;
}

/* One byte of a size line; size digits accumulate in c->remaining. */
static enum http_error step_size_line(struct http_chunked *c, char ch)
{
	switch (c->state) {
	case CS_SIZE_FIRST:
	case CS_SIZE:
		if (is(ch, C_HEX)) {
			unsigned d = hexval(ch);
			if (c->remaining > ((uint64_t)INT64_MAX - d) / 16)
				return HTTP_E_CHUNK_SIZE; /* past 2^63 */
			c->remaining = c->remaining * 16 + d;
			/* The body limit is checked once the size is complete: a
			 * size that overflows is a malformed line (400), not a
			 * large body (413), however early it passes the limit. */
			/* leading zeros never overflow; bound them as metadata */
			if (++c->line > 16 && meta_over(c))
				return HTTP_E_CHUNK_SIZE;
			c->state = CS_SIZE;
			return HTTP_OK;
		}
		if (c->state == CS_SIZE_FIRST)
			return HTTP_E_CHUNK_SIZE;
		if (c->remaining > c->limits->max_body - c->total)
			return HTTP_E_BODY_TOO_LARGE;
		if (ch == '\r') {
			c->state = CS_SIZE_LF;
			return HTTP_OK;
		}
		if (ch != ';' && !is_ows(ch))
			return HTTP_E_CHUNK_SIZE;
		c->state = ch == ';' ? CS_EXT_NAME0 : CS_SIZE_WS;
		return meta_over(c) ? HTTP_E_CHUNK_EXT : HTTP_OK;
	case CS_SIZE_WS: /* "5 x" or "5 CRLF": junk after the size */
		if (ch != ';' && !is_ows(ch))
			return HTTP_E_CHUNK_SIZE;
		c->state = ch == ';' ? CS_EXT_NAME0 : CS_SIZE_WS;
		return meta_over(c) ? HTTP_E_CHUNK_EXT : HTTP_OK;
	case CS_SIZE_LF:
		if (ch != '\n')
			return HTTP_E_CHUNK_SIZE;
		c->line = 0;
		c->state = c->remaining ? CS_DATA : CS_TR_LINE;
		return HTTP_OK;
	default: break;
	}

	/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
	if (meta_over(c))
		return HTTP_E_CHUNK_EXT;
	enum chunk_state s = (enum chunk_state)c->state, to;
	if (s == CS_EXT_QUOTED) {
		to = ch == '"' ? CS_EXT_QEND : ch == '\\' ? CS_EXT_QPAIR : s;
		if (!is(ch, C_QDTEXT) && ch != '"' && ch != '\\')
			return HTTP_E_CHUNK_EXT;
	} else if (s == CS_EXT_QPAIR) {
		/* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
		if (!is(ch, C_VALUE))
			return HTTP_E_CHUNK_EXT;
		to = CS_EXT_QUOTED;
	} else if (is_ows(ch)) {
		/* BWS may precede ";" and "=" and follow them, never CRLF */
		if (s == CS_EXT_NAME)
			to = CS_EXT_NAME_WS;
		else if (s == CS_EXT_TOKEN || s == CS_EXT_QEND)
			to = CS_EXT_VAL_WS;
		else
			to = s;
	} else if (ch == ';') {
		if (s == CS_EXT_NAME0 || s == CS_EXT_VAL0)
			return HTTP_E_CHUNK_EXT;
		to = CS_EXT_NAME0;
	} else if (ch == '=') {
		if (s != CS_EXT_NAME && s != CS_EXT_NAME_WS)
			return HTTP_E_CHUNK_EXT;
		to = CS_EXT_VAL0;
	} else if (ch == '\r') {
		if (s != CS_EXT_NAME && s != CS_EXT_TOKEN && s != CS_EXT_QEND)
			return HTTP_E_CHUNK_EXT;
		to = CS_SIZE_LF;
	} else if (ch == '"' && s == CS_EXT_VAL0) {
		to = CS_EXT_QUOTED;
	} else if (is(ch, C_TCHAR)) {
		if (s == CS_EXT_NAME0 || s == CS_EXT_NAME)
			to = CS_EXT_NAME;
		else if (s == CS_EXT_VAL0 || s == CS_EXT_TOKEN)
			to = CS_EXT_TOKEN;
		else
			return HTTP_E_CHUNK_EXT;
	} else {
		return HTTP_E_CHUNK_EXT;
	}
	c->state = to;
	return HTTP_OK;
}

/* One byte of the trailer section: field lines as in the head, then CRLF. */
static enum http_error step_trailer(struct http_chunked *c, char ch)
{
	if (c->state == CS_FINAL_LF) {
		if (ch != '\n')
			return HTTP_E_TRAILER;
		c->state = CS_DONE;
		c->done = true;
		return HTTP_OK;
	}
	if (c->state == CS_TR_LINE && ch == '\r') {
		c->state = CS_FINAL_LF;
		return HTTP_OK;
	}
	if (meta_over(c))
		return HTTP_E_TRAILER;
	switch (c->state) {
	case CS_TR_LINE: /* a name must start here: no obs-fold, no bare LF */
		if (!is(ch, C_TCHAR))
			return HTTP_E_TRAILER;
		c->state = CS_TR_NAME;
		return HTTP_OK;
	case CS_TR_NAME:
		if (ch == ':')
			c->state = CS_TR_VALUE;
		else if (!is(ch, C_TCHAR))
			return HTTP_E_TRAILER;
		return HTTP_OK;
	case CS_TR_VALUE:
		if (ch == '\r')
			c->state = CS_TR_LF;
		else if (!is(ch, C_VALUE))
			return HTTP_E_TRAILER;
		return HTTP_OK;
	case CS_TR_LF:
		if (ch != '\n')
			return HTTP_E_TRAILER;
		c->state = CS_TR_LINE;
		return HTTP_OK;
	default: assert(!"unreachable chunk state"); return HTTP_E_TRAILER;
	}
}

enum http_error http_chunked_feed(struct http_chunked *c, const char *in, size_t len, size_t *used,
				  http_slice *data)
{
	assert(c && c->limits && used && data && (in || len == 0));
	assert(c->total <= c->limits->max_body);
	size_t i = 0;
	*data = (http_slice){in, 0};

	while (i < len && c->state != CS_DONE) {
		if (c->state == CS_DATA) {
			/* one data piece per call: it ends the call */
			size_t n = len - i;
			if (c->remaining < n)
				n = (size_t)c->remaining;
			*data = (http_slice){in + i, n};
			c->remaining -= n;
			c->total += n;
			i += n;
			if (c->remaining == 0)
				c->state = CS_DATA_CR;
			break;
		}
		char ch = in[i++];
		enum http_error e;
		if (c->state == CS_DATA_CR) {
			e = ch == '\r' ? HTTP_OK : HTTP_E_CHUNK_DATA_END;
			c->state = CS_DATA_LF;
		} else if (c->state == CS_DATA_LF) {
			e = ch == '\n' ? HTTP_OK : HTTP_E_CHUNK_DATA_END;
			c->state = CS_SIZE_FIRST;
		} else if (c->state >= CS_TR_LINE) {
			e = step_trailer(c, ch);
		} else {
			e = step_size_line(c, ch);
		}
		if (e) {
			*used = i;
			return e;
		}
	}
	*used = i;
	assert(i <= len);
	return HTTP_OK;
}

/* ---- error reporting -------------------------------------------------- */

static const struct {
	short status;
	const char *name;
} errors[HTTP_E_COUNT_] = {
	[HTTP_OK] = {200, "ok"},
	/* a head still incomplete when the peer stops sending is malformed */
	[HTTP_INCOMPLETE] = {400, "incomplete"},
	[HTTP_E_METHOD] = {400, "bad_method"},
	[HTTP_E_TARGET] = {400, "bad_target"},
	[HTTP_E_VERSION] = {400, "bad_version"},
	[HTTP_E_VERSION_UNSUPP] = {505, "version_unsupported"},
	[HTTP_E_REQUEST_LINE] = {400, "bad_request_line"},
	[HTTP_E_URI_TOO_LONG] = {414, "uri_too_long"},
	[HTTP_E_HEADER_NAME] = {400, "bad_header_name"},
	[HTTP_E_HEADER_VALUE] = {400, "bad_header_value"},
	[HTTP_E_SPACE_BEFORE_COLON] = {400, "space_before_colon"},
	[HTTP_E_OBS_FOLD] = {400, "obs_fold"},
	[HTTP_E_BARE_CR] = {400, "bare_cr"},
	[HTTP_E_BARE_LF] = {400, "bare_lf"},
	[HTTP_E_HEADERS_TOO_LARGE] = {431, "headers_too_large"},
	[HTTP_E_TOO_MANY_HEADERS] = {431, "too_many_headers"},
	[HTTP_E_CL_AND_TE] = {400, "cl_and_te"},
	[HTTP_E_CL_INVALID] = {400, "cl_invalid"},
	[HTTP_E_CL_CONFLICT] = {400, "cl_conflict"},
	[HTTP_E_TE_UNSUPPORTED] = {501, "te_unsupported"},
	[HTTP_E_TE_NOT_CHUNKED_LAST] = {400, "te_not_chunked_last"},
	[HTTP_E_TE_HTTP10] = {400, "te_http10"},
	[HTTP_E_HOST_MISSING] = {400, "host_missing"},
	[HTTP_E_HOST_DUPLICATE] = {400, "host_duplicate"},
	[HTTP_E_BODY_TOO_LARGE] = {413, "body_too_large"},
	[HTTP_E_CHUNK_SIZE] = {400, "chunk_size"},
	[HTTP_E_CHUNK_EXT] = {400, "chunk_ext"},
	[HTTP_E_CHUNK_DATA_END] = {400, "chunk_data_end"},
	[HTTP_E_TRAILER] = {400, "trailer"},
};

int http_error_status(enum http_error e)
{
	return (unsigned)e < HTTP_E_COUNT_ ? errors[e].status : 500;
}

const char *http_error_name(enum http_error e)
{
	return (unsigned)e < HTTP_E_COUNT_ ? errors[e].name : "unknown";
}
