/*
 * fuzz_http_parser.c - libFuzzer target for the HTTP/1.1 parser.
 *
 * The input is a request as it would arrive on the wire.  We parse the
 * head, check that every slice stays inside the input, then (if chunked)
 * push the rest through the decoder in pieces whose sizes come from the
 * input's own bytes, so the fuzzer explores the split points too.
 *
 * The differential part: limits may only ever *add* a limit error.  The
 * same buffer parsed with unbounded limits must give the same verdict as
 * with the defaults, unless the defaults stopped it with 413/414/431.
 */
#include "http_parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* abort() rather than assert(): the check must survive -DNDEBUG builds */
#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#define CAP 128 /* above the default max_headers, so only the limit bites */

static const struct http_limits huge = {SIZE_MAX, SIZE_MAX, UINT32_MAX, UINT64_MAX, SIZE_MAX};

static void slice_in(http_slice s, const char *buf, size_t len)
{
	REQUIRE(s.len <= len);
	if (s.len == 0 && s.base == NULL)
		return;
	REQUIRE(s.base >= buf && s.base + s.len <= buf + len);
}

static bool is_limit(enum http_error e)
{
	return e == HTTP_E_URI_TOO_LONG || e == HTTP_E_HEADERS_TOO_LARGE ||
	       e == HTTP_E_TOO_MANY_HEADERS || e == HTTP_E_BODY_TOO_LARGE;
}

static void check_request(const struct http_request *r, const struct http_header *h, unsigned cap,
			  const char *buf, size_t len)
{
	REQUIRE(r->head_len <= len && r->head_len > 0);
	REQUIRE(r->nheaders <= cap && r->headers == h);
	slice_in(r->method_name, buf, r->head_len);
	slice_in(r->target, buf, r->head_len);
	slice_in(r->query, buf, r->head_len);
	slice_in(r->host, buf, r->head_len);
	/* the one documented exception: a static "/" for "http://host" */
	if (!(r->path.len == 1 && r->path.base[0] == '/'))
		slice_in(r->path, buf, r->head_len);
	REQUIRE(r->method_name.len > 0 && r->target.len > 0);
	REQUIRE(r->version_minor == 0 || r->version_minor == 1);
	for (unsigned i = 0; i < r->nheaders; i++) {
		slice_in(h[i].name, buf, r->head_len);
		slice_in(h[i].value, buf, r->head_len);
		REQUIRE(h[i].name.len > 0);
	}
	REQUIRE(r->body_kind != HTTP_BODY_LENGTH ||
		(r->content_length > 0 && r->content_length <= http_limits_default.max_body));
}

/* Feed the body in pieces sized by the body's own bytes. */
static void check_chunked(const char *in, size_t len)
{
	struct http_chunked c;
	http_chunked_init(&c, &http_limits_default);
	size_t off = 0;
	uint64_t seen = 0;
	while (off < len) {
		size_t piece = 1 + (unsigned char)in[off] % 16;
		if (piece > len - off)
			piece = len - off;
		const char *p = in + off;
		size_t used = (size_t)-1;
		http_slice d;
		enum http_error e = http_chunked_feed(&c, p, piece, &used, &d);
		REQUIRE(used <= piece);
		REQUIRE(d.base >= p && d.len <= used && d.base + d.len <= p + used);
		/* byte-wise decoder: only data, done or an error stop it early */
		REQUIRE(e || c.done || used == piece || d.len > 0);
		REQUIRE(used > 0 || piece == 0 || c.done);
		seen += d.len;
		REQUIRE(c.total == seen && c.total <= http_limits_default.max_body);
		off += used;
		if (e) {
			REQUIRE(http_error_status(e) >= 400);
			return;
		}
		if (c.done)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	static struct http_header h[CAP], hh[CAP];
	struct http_request r, rh;

	enum http_error e = http_parse_request(buf, size, &http_limits_default, h, CAP, &r);
	enum http_error eh = http_parse_request(buf, size, &huge, hh, CAP, &rh);

	REQUIRE((unsigned)e < HTTP_E_COUNT_ && (unsigned)eh < HTTP_E_COUNT_);
	REQUIRE(e != HTTP_E_CHUNK_SIZE && e != HTTP_E_CHUNK_EXT && e != HTTP_E_TRAILER &&
		e != HTTP_E_CHUNK_DATA_END);
	REQUIRE(!is_limit(eh) || eh == HTTP_E_TOO_MANY_HEADERS); /* only cap bites */
	REQUIRE(e == eh || is_limit(e));
	if (e == HTTP_OK) {
		check_request(&r, h, http_limits_default.max_headers, buf, size);
		check_request(&rh, hh, CAP, buf, size);
		/* same verdict, same reading */
		REQUIRE(r.head_len == rh.head_len && r.nheaders == rh.nheaders);
		REQUIRE(r.body_kind == rh.body_kind && r.content_length == rh.content_length);
		REQUIRE(r.keep_alive == rh.keep_alive && r.method == rh.method);
		REQUIRE(r.path.len == rh.path.len && r.host.base == rh.host.base);
		/* the head alone decides: cut the body off, or the last byte */
		struct http_request rp;
		REQUIRE(http_parse_request(buf, r.head_len, &http_limits_default, hh, CAP, &rp) ==
			HTTP_OK);
		REQUIRE(rp.head_len == r.head_len);
		REQUIRE(http_parse_request(buf, r.head_len - 1, &http_limits_default, hh, CAP,
					   &rp) == HTTP_INCOMPLETE);
		size_t cut = r.head_len > 1 ? (unsigned char)buf[0] * 131u % r.head_len : 0;
		REQUIRE(http_parse_request(buf, cut, &http_limits_default, hh, CAP, &rp) ==
			HTTP_INCOMPLETE);
		if (r.body_kind == HTTP_BODY_CHUNKED)
			check_chunked(buf + r.head_len, size - r.head_len);
	} else if (e == HTTP_INCOMPLETE && size > 0) {
		/* more input can only keep it incomplete or decide it */
		REQUIRE(size <= http_limits_default.max_header_bytes);
	}

	/* the decoder on its own, over the raw input */
	check_chunked(buf, size);
	return 0;
}
