/*
 * http_parser.h - strict, in-place HTTP/1.1 request parser (RFC 9112).
 *
 * The parser never copies: every string it returns is a slice into the
 * caller's buffer, so the buffer must outlive the parsed request.  It is
 * dependency-free (libc only) so it can be fuzzed and tested on its own.
 *
 * Strictness is a security property here, not pedantry: a gateway that
 * accepts what its backend or a proxy in front of it reads differently is
 * open to request smuggling.  Every ambiguity is an error.
 */
#ifndef RINGGATE_HTTP_PARSER_H
#define RINGGATE_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string that points into someone else's buffer. */
typedef struct http_slice {
	const char *base;
	size_t len;
} http_slice;

enum http_method {
	HTTP_M_OTHER = 0, /* a valid token that is none of the below */
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_PATCH,
	HTTP_M_OPTIONS,
	HTTP_M_CONNECT,
	HTTP_M_TRACE,
};

/*
 * Parse results.  0 is success, HTTP_INCOMPLETE means "need more bytes",
 * every other value is a specific error with a fixed HTTP status
 * (http_error_status) and a stable metric label (http_error_name).
 */
enum http_error {
	HTTP_OK = 0,
	HTTP_INCOMPLETE,
	HTTP_E_METHOD,              /* 400 method is not a token / empty           */
	HTTP_E_TARGET,              /* 400 bad request-target (form or bytes)      */
	HTTP_E_VERSION,             /* 400 malformed HTTP-version                     */
	HTTP_E_VERSION_UNSUPP,      /* 505 HTTP/2.0, HTTP/3.0, HTTP/0.9 ...           */
	HTTP_E_REQUEST_LINE,        /* 400 wrong spaces, missing parts                */
	HTTP_E_URI_TOO_LONG,        /* 414 request line over the limit                */
	HTTP_E_HEADER_NAME,         /* 400 empty name or a non-token char in the name */
	HTTP_E_HEADER_VALUE,        /* 400 CTL (other than HTAB) or NUL in the value  */
	HTTP_E_SPACE_BEFORE_COLON,  /* 400 RFC 9112 5.1                          */
	HTTP_E_OBS_FOLD,            /* 400 RFC 9112 5.2: line folding is rejected    */
	HTTP_E_BARE_CR,             /* 400 CR not followed by LF anywhere in the head */
	HTTP_E_BARE_LF,             /* 400 LF without CR (we require CRLF)            */
	HTTP_E_HEADERS_TOO_LARGE,   /* 431 header block over max_header_bytes     */
	HTTP_E_TOO_MANY_HEADERS,    /* 431 more than max_headers fields           */
	HTTP_E_CL_AND_TE,           /* 400 both Content-Length and Transfer-Encoding  */
	HTTP_E_CL_INVALID,          /* 400 not 1*DIGIT, or overflow                   */
	HTTP_E_CL_CONFLICT,         /* 400 duplicate Content-Length that differs      */
	HTTP_E_TE_UNSUPPORTED,      /* 501 a coding other than chunked                */
	HTTP_E_TE_NOT_CHUNKED_LAST, /* 400 chunked not the final coding, or twice */
	HTTP_E_TE_HTTP10,           /* 400 Transfer-Encoding in an HTTP/1.0 request   */
	HTTP_E_HOST_MISSING,        /* 400 HTTP/1.1 without Host (RFC 9112 3.2)       */
	HTTP_E_HOST_DUPLICATE,      /* 400 more than one Host                         */
	HTTP_E_BODY_TOO_LARGE,      /* 413 Content-Length (or chunked total) > limit  */
	HTTP_E_CHUNK_SIZE,          /* 400 bad chunk-size line or size overflow       */
	HTTP_E_CHUNK_EXT,           /* 400 malformed chunk extension                  */
	HTTP_E_CHUNK_DATA_END,      /* 400 chunk data not followed by CRLF            */
	HTTP_E_TRAILER,             /* 400 malformed trailer field                    */
	HTTP_E_COUNT_
};

/* The HTTP status code a client gets for an error (400, 413, 414, 431, 501, 505).
 * HTTP_OK is 200; HTTP_INCOMPLETE is 400 (a head cut short by the peer is
 * malformed); a value outside the enum is 500. */
int http_error_status(enum http_error e);
/* A short, stable, lower_snake_case label for metrics and logs. */
const char *http_error_name(enum http_error e);

/*
 * Limits.  Defaults (http_limits_default) follow common servers:
 * 8 KiB request line (nginx large_client_header_buffers), 16 KiB header
 * block, 100 fields (Apache LimitRequestFields), 1 MiB body, 4 KiB of
 * chunk-extension/trailer bytes.
 */
struct http_limits {
	size_t max_request_line; /* bytes, without CRLF             -> 414 */
	size_t max_header_bytes; /* request line + fields + CRLFs   -> 431 */
	unsigned max_headers;    /* field lines                     -> 431 */
	uint64_t max_body;       /* decoded body bytes              -> 413 */
	size_t max_chunk_meta;   /* extensions + trailers, total    -> 400 */
};
extern const struct http_limits http_limits_default;

struct http_header {
	http_slice name;  /* as sent; compare case-insensitively */
	http_slice value; /* OWS trimmed on both sides           */
};

enum http_body_kind {
	HTTP_BODY_NONE = 0, /* no body (no CL, no TE, or CL: 0) */
	HTTP_BODY_LENGTH,   /* Content-Length bytes follow      */
	HTTP_BODY_CHUNKED,  /* chunked coding follows           */
};

struct http_request {
	enum http_method method;
	http_slice method_name; /* the token as sent                        */
	http_slice target;      /* request-target as sent                    */
	http_slice path;        /* target up to '?', never empty for origin-form;
				   for absolute-form the path part ("/" if none:
				   then a static "/", the one slice that is not
				   in the buffer); "*" for asterisk-form; empty
				   for CONNECT's authority-form               */
	http_slice query;       /* after '?', without it; len 0 if absent    */
	int version_minor;      /* 0 or 1 (HTTP/1.0 or HTTP/1.1)             */

	struct http_header *headers; /* caller's array, filled in order */
	unsigned nheaders;

	/* Derived from the fields, so callers need not rescan them. */
	enum http_body_kind body_kind;
	uint64_t content_length; /* valid for HTTP_BODY_LENGTH */
	bool keep_alive;         /* version default adjusted by Connection tokens */
	bool expect_continue;    /* Expect: 100-continue (HTTP/1.1 only)        */
	http_slice host;         /* Host value (len 0 for HTTP/1.0 without one);
				    for absolute-form the target's authority,
				    which RFC 9112 3.2.2 says overrides Host     */
	size_t head_len;         /* bytes from the buffer start through the blank line */
};

/*
 * Parse a request head from buf[0..len).  `headers` is an array of `cap`
 * entries owned by the caller (cap should be >= limits->max_headers; a
 * request with more fields than min(cap, max_headers) is
 * HTTP_E_TOO_MANY_HEADERS).
 *
 * Returns HTTP_OK with req filled in (req->head_len bytes consumed),
 * HTTP_INCOMPLETE when the head is not complete yet and no limit is exceeded
 * so far, or an error.  Limits are enforced on partial input too, so a
 * client cannot make the caller buffer an unbounded head: a 9 KiB request
 * line without CRLF is already HTTP_E_URI_TOO_LONG.
 *
 * Leading empty lines (CRLF) before the request line are skipped as RFC 9112
 * 2.2 allows; they count in head_len.
 *
 * Field-specific rules enforced here (RFC 9112 and RFC 9110):
 *  - Content-Length: 1*DIGIT only, fits in 63 bits; duplicates (separate
 *    fields or a comma list) are accepted only when all values are equal.
 *    Over limits->max_body -> HTTP_E_BODY_TOO_LARGE.
 *  - Transfer-Encoding: comma-separated codings over all TE fields;
 *    the only supported coding is "chunked" (case-insensitive) and it must
 *    appear exactly once and last; any other coding -> HTTP_E_TE_UNSUPPORTED.
 *    TE with CL -> HTTP_E_CL_AND_TE.  TE on HTTP/1.0 -> HTTP_E_TE_HTTP10.
 *    Empty list elements are ignored (RFC 9110 5.6.1).  "chunked" twice or
 *    not last is HTTP_E_TE_NOT_CHUNKED_LAST even beside an unknown coding
 *    (RFC 9112 6.3: the length is unknowable, 400), and so is a TE with no
 *    coding at all; otherwise an unknown coding ("gzip", "gzip, chunked")
 *    is HTTP_E_TE_UNSUPPORTED (RFC 9112 6.1, 501).
 *  - Connection: comma-separated tokens, "close" / "keep-alive"
 *    (case-insensitive); HTTP/1.1 defaults to keep-alive, 1.0 to close.
 *  - Expect: "100-continue" (case-insensitive) sets expect_continue on 1.1.
 *  - Host: required once on HTTP/1.1; at most once on 1.0; the value must
 *    be empty or uri-host [ ":" port ] without userinfo, else
 *    HTTP_E_HEADER_VALUE.
 *
 * Request-target bytes are %x21-7E except "#"; a "%" must start a valid
 * pct-encoding.  Absolute-form is accepted for http and https only, with a
 * non-empty authority and no userinfo.  Versions other than 1.0 and 1.1
 * (including 1.2) are HTTP_E_VERSION_UNSUPP.
 *
 * Syntax errors are reported for the first offending byte, left to right.
 * Field rules are decided after the whole head is read, in this order:
 * HOST_DUPLICATE, TE_HTTP10, CL_AND_TE, CL_INVALID/CL_CONFLICT, TE codings,
 * HOST_MISSING, Host syntax, BODY_TOO_LARGE.
 */
enum http_error http_parse_request(const char *buf, size_t len, const struct http_limits *limits,
				   struct http_header *headers, unsigned cap,
				   struct http_request *req);

/*
 * Incremental chunked-body decoder (RFC 9112 7.1).  It does not copy: each
 * call reports at most one contiguous piece of body data found in the input.
 *
 *     struct http_chunked c; http_chunked_init(&c, limits);
 *     loop: e = http_chunked_feed(&c, p, n, &used, &data);
 *           p += used; n -= used; consume data (may be empty);
 *           stop when e != HTTP_OK, or c.done, or n == 0 (read more).
 *
 * The decoder is a byte-wise state machine: it keeps whatever it needs of
 * a partly received size line or trailer in `c`, so the caller never keeps
 * consumed bytes.  A call returns as soon as it has produced a data piece
 * (the rest of the input is for the next call) or the body is done; apart
 * from that it consumes all input, so `used` < len only when a data piece
 * ended the call, c.done is set, or on error.  `used` is 0 only for empty
 * input or after done.  On error `used` counts the offending byte.
 *
 * Returns HTTP_OK (progress, or need more input), or an error.  Chunk
 * extensions are parsed for syntax and ignored; trailer fields are parsed
 * for syntax (same rules as header fields) and discarded.
 * Enforces max_body over the decoded total (HTTP_E_BODY_TOO_LARGE) and
 * max_chunk_meta over the bytes of size lines' extensions plus trailers
 * (HTTP_E_CHUNK_EXT or HTTP_E_TRAILER, by where it is crossed; leading
 * zeros past 16 size digits count too, as HTTP_E_CHUNK_SIZE).  Sizes must
 * fit in 63 bits.
 */
struct http_chunked {
	int state;          /* private */
	uint64_t remaining; /* private: data bytes left in this chunk */
	uint64_t total;     /* decoded body bytes so far */
	size_t meta;        /* private: extension + trailer bytes so far */
	size_t line;        /* private: digits of the current chunk-size */
	bool done;          /* the last-chunk and trailers are consumed */
	const struct http_limits *limits;
};

void http_chunked_init(struct http_chunked *c, const struct http_limits *limits);
enum http_error http_chunked_feed(struct http_chunked *c, const char *in, size_t len, size_t *used,
				  http_slice *data);

/* Case-insensitive ASCII compare of a slice with a NUL-terminated literal.
 * Inline: with a literal argument the compiler folds strlen, and the
 * length test rejects most header names before any byte is compared. */
static inline bool http_slice_ieq(http_slice s, const char *lit)
{
	size_t n = __builtin_strlen(lit);
	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)s.base[i], b = (unsigned char)lit[i];
		if ((a >= 'A' && a <= 'Z' ? a + 32 : a) != (b >= 'A' && b <= 'Z' ? b + 32 : b))
			return false;
	}
	return true;
}

/*
 * A field value that can be written into a header line as it is: no
 * control character but tab, no DEL (RFC 9110 5.5 also allows obs-text).
 * Eight bytes at a time: the word test flags every chunk with a byte below
 * 0x20 or equal to 0x7f (and may flag others, because of borrows), and
 * from a flagged chunk on the bytes are looked at one by one.
 */
static inline bool http_field_value_safe(const char *v, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, del;
		__builtin_memcpy(&x, v + i, 8);
		del = x ^ (0x7f * ones);
		if ((((x - 0x20 * ones) & ~x) | ((del - ones) & ~del)) & highs)
			break;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

#endif
