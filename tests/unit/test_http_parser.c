/*
 * test_http_parser.c - the HTTP/1.1 request parser against RFC 9112/9110.
 *
 * Tables first (one row per rule, expected result beside the input), then
 * the loops that walk them.  Every valid request is also cut at every
 * length to prove that a prefix is only ever HTTP_INCOMPLETE, and every
 * chunked body is fed whole, byte by byte, split at every boundary and in
 * random pieces, because the decoder must not care how bytes arrive.
 */
#include "http_parser.h"
#include "unit.h"

#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) lit, sizeof(lit) - 1
#define H11    " HTTP/1.1\r\nHost: a\r\n" /* tail of a request line plus Host */

static bool slice_is(http_slice s, const char *want)
{
	return s.len == strlen(want) && (s.len == 0 || memcmp(s.base, want, s.len) == 0);
}

static bool inside(http_slice s, const char *buf, size_t len)
{
	return s.base >= buf && s.len <= len && s.base + s.len <= buf + len;
}

/* ---- valid requests ----------------------------------------------------- */

struct ok_case {
	const char *name;
	const char *in;
	size_t len;
	enum http_method method;
	const char *path, *query, *host;
	int minor;
	enum http_body_kind body;
	uint64_t cl;
	bool keep_alive, expect;
	unsigned nheaders;
	size_t head_len; /* 0: the whole input */
};

static const struct ok_case ok_cases[] = {
	{"rfc9112-3 GET origin-form", S("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_M_GET,
	 "/hello", "", "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-3 HEAD", S("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_M_HEAD, "/", "", "a", 1,
	 HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-6.2 POST with Content-Length",
	 S("POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"), HTTP_M_POST,
	 "/v1/x", "", "a", 1, HTTP_BODY_LENGTH, 5, true, false, 2, 51},
	{"rfc9112-7.1 POST chunked",
	 S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_M_POST, "/",
	 "", "a", 1, HTTP_BODY_CHUNKED, 0, true, false, 2, 0},
	{"rfc9110-7.6.1 HTTP/1.0 defaults to close", S("GET / HTTP/1.0\r\n\r\n"), HTTP_M_GET, "/",
	 "", "", 0, HTTP_BODY_NONE, 0, false, false, 0, 0},
	{"rfc9112-9.3 HTTP/1.0 keep-alive", S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
	 HTTP_M_GET, "/", "", "", 0, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-9.6 Connection: close on 1.1", S("GET /" H11 "Connection: close\r\n\r\n"),
	 HTTP_M_GET, "/", "", "a", 1, HTTP_BODY_NONE, 0, false, false, 2, 0},
	{"rfc9110-7.6.1 Connection list with keep-alive",
	 S("GET /" H11 "Connection: keep-alive, Upgrade\r\n\r\n"), HTTP_M_GET, "/", "", "a", 1,
	 HTTP_BODY_NONE, 0, true, false, 2, 0},
	{"rfc9110-7.6.1 close wins over keep-alive",
	 S("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"), HTTP_M_GET,
	 "/", "", "", 0, HTTP_BODY_NONE, 0, false, false, 2, 0},
	{"rfc9112-3.2.2 absolute-form, authority overrides Host",
	 S("GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"), HTTP_M_GET,
	 "/p/q", "x=1", "example.com:8080", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-3.2.2 absolute-form https, no path -> /",
	 S("GET HTTPS://example.com?x HTTP/1.1\r\nHost: example.com\r\n\r\n"), HTTP_M_GET, "/", "x",
	 "example.com", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-3.2.4 OPTIONS asterisk-form", S("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_M_OPTIONS, "*", "", "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-3.2.3 CONNECT authority-form",
	 S("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"), HTTP_M_CONNECT, "", "",
	 "a.example:443", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-3.2.1 query split at first ?",
	 S("GET /a/b?c=d?e&f=%20 HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_M_GET, "/a/b", "c=d?e&f=%20",
	 "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-3.2.1 empty query", S("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_M_GET, "/a",
	 "", "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-5 multiple headers",
	 S("PUT /x" H11 "Accept: */*\r\nUser-Agent: t/1\r\nX-A: 1\r\n\r\n"), HTTP_M_PUT, "/x", "",
	 "a", 1, HTTP_BODY_NONE, 0, true, false, 4, 0},
	{"rfc9112-5 OWS trimmed both sides", S("GET / HTTP/1.1\r\nHost: \t a \t \r\n\r\n"),
	 HTTP_M_GET, "/", "", "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-2.2 leading CRLFs skipped", S("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_M_GET, "/", "", "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9110-10.1.1 Expect: 100-continue",
	 S("POST /" H11 "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n"), HTTP_M_POST, "/", "",
	 "a", 1, HTTP_BODY_LENGTH, 3, true, true, 3, 0},
	{"rfc9110-10.1.1 Expect ignored on 1.0",
	 S("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), HTTP_M_POST, "/", "", "", 0,
	 HTTP_BODY_NONE, 0, false, false, 1, 0},
	{"rfc9110-5.1 mixed-case field names",
	 S("POST / HTTP/1.1\r\nhOsT: a\r\ncOnTeNt-LeNgTh: 7\r\nCONNECTION: CLOSE\r\n\r\n"),
	 HTTP_M_POST, "/", "", "a", 1, HTTP_BODY_LENGTH, 7, false, false, 3, 0},
	{"rfc9110-8.6 equal duplicate CL fields",
	 S("POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"), HTTP_M_POST, "/", "",
	 "a", 1, HTTP_BODY_LENGTH, 5, true, false, 3, 0},
	{"rfc9110-8.6 equal CL list", S("POST /" H11 "Content-Length: 5, 5,5\r\n\r\n"), HTTP_M_POST,
	 "/", "", "a", 1, HTTP_BODY_LENGTH, 5, true, false, 2, 0},
	{"rfc9110-8.6 CL 0 is no body", S("POST /" H11 "Content-Length: 0\r\n\r\n"), HTTP_M_POST,
	 "/", "", "a", 1, HTTP_BODY_NONE, 0, true, false, 2, 0},
	{"rfc9110-8.6 CL at max_body", S("POST /" H11 "Content-Length: 1048576\r\n\r\n"),
	 HTTP_M_POST, "/", "", "a", 1, HTTP_BODY_LENGTH, 1048576, true, false, 2, 0},
	{"rfc9112-6.1 TE chunked case-insensitive",
	 S("POST /" H11 "Transfer-Encoding: ChUnKeD\r\n\r\n"), HTTP_M_POST, "/", "", "a", 1,
	 HTTP_BODY_CHUNKED, 0, true, false, 2, 0},
	{"rfc9110-5.6.1 TE empty list elements ignored",
	 S("POST /" H11 "Transfer-Encoding: , chunked ,\r\n\r\n"), HTTP_M_POST, "/", "", "a", 1,
	 HTTP_BODY_CHUNKED, 0, true, false, 2, 0},
	{"rfc9110-9.1 extension method is OTHER", S("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_M_OTHER, "/x", "", "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9110-9.1 methods are case-sensitive", S("get /x HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_M_OTHER, "/x", "", "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9110-9.3 DELETE", S("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_M_DELETE, "/x", "",
	 "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc5789 PATCH", S("PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_M_PATCH, "/x", "", "a", 1,
	 HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9110-9.3 TRACE", S("TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_M_TRACE, "/x", "",
	 "a", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9112-3.2 empty Host allowed", S("GET / HTTP/1.1\r\nHost:\r\n\r\n"), HTTP_M_GET, "/",
	 "", "", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc3986-3.2.2 IPv6 Host", S("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), HTTP_M_GET,
	 "/", "", "[::1]:8080", 1, HTTP_BODY_NONE, 0, true, false, 1, 0},
	{"rfc9110-5.5 obs-text and HTAB in value", S("GET /" H11 "X: caf\xc3\xa9\tok\r\n\r\n"),
	 HTTP_M_GET, "/", "", "a", 1, HTTP_BODY_NONE, 0, true, false, 2, 0},
	{"rfc9110-5.5 empty field value", S("GET /" H11 "X:\r\nY: \r\n\r\n"), HTTP_M_GET, "/", "",
	 "a", 1, HTTP_BODY_NONE, 0, true, false, 3, 0},
	{"rfc9112-2.1 bytes after the head are not the head",
	 S("GET /" H11 "\r\nGET / HTTP/1.1\r\n"), HTTP_M_GET, "/", "", "a", 1, HTTP_BODY_NONE, 0,
	 true, false, 1, 27},
};

static void check_ok(const struct ok_case *c)
{
	struct http_header hdrs[100];
	struct http_request r;
	enum http_error e = http_parse_request(c->in, c->len, &http_limits_default, hdrs, 100, &r);
	CHECK(e == HTTP_OK, c->name, "got %s", http_error_name(e));
	if (e != HTTP_OK)
		return;
	CHECK(r.method == c->method, c->name, "method %d", r.method);
	CHECK(slice_is(r.path, c->path), c->name, "path '%.*s'", (int)r.path.len, r.path.base);
	CHECK(slice_is(r.query, c->query), c->name, "query '%.*s'", (int)r.query.len, r.query.base);
	CHECK(slice_is(r.host, c->host), c->name, "host '%.*s'", (int)r.host.len, r.host.base);
	CHECK(r.version_minor == c->minor, c->name, "minor %d", r.version_minor);
	CHECK(r.body_kind == c->body, c->name, "body %d", r.body_kind);
	CHECK(c->body != HTTP_BODY_LENGTH || r.content_length == c->cl, c->name, "cl %llu",
	      (unsigned long long)r.content_length);
	CHECK(r.keep_alive == c->keep_alive, c->name, "keep_alive %d", r.keep_alive);
	CHECK(r.expect_continue == c->expect, c->name, "expect %d", r.expect_continue);
	CHECK(r.nheaders == c->nheaders, c->name, "nheaders %u", r.nheaders);
	CHECK(r.head_len == (c->head_len ? c->head_len : c->len), c->name, "head_len %zu",
	      r.head_len);
	CHECK(r.headers == hdrs, c->name, "headers array");
	/* zero copy: every slice points into the input (the static "/" aside) */
	bool in = inside(r.method_name, c->in, c->len) && inside(r.target, c->in, c->len) &&
		  inside(r.query, c->in, c->len) &&
		  (inside(r.path, c->in, c->len) || slice_is(r.path, "/"));
	for (unsigned i = 0; i < r.nheaders; i++)
		in = in && inside(hdrs[i].name, c->in, c->len) &&
		     inside(hdrs[i].value, c->in, c->len);
	CHECK(in, c->name, "a slice points outside the input");

	/* RFC 9112 2.2: a message is only complete with its final CRLF */
	size_t head = r.head_len, first = 0;
	unsigned bad = 0;
	enum http_error first_e = HTTP_INCOMPLETE;
	for (size_t k = 0; k < head; k++) {
		e = http_parse_request(c->in, k, &http_limits_default, hdrs, 100, &r);
		if (e != HTTP_INCOMPLETE && bad++ == 0)
			first = k, first_e = e;
	}
	CHECK(bad == 0, c->name, "%u prefixes not HTTP_INCOMPLETE, first %zu gives %s", bad, first,
	      http_error_name(first_e));
}

/* ---- invalid requests --------------------------------------------------- */

struct err_case {
	const char *name;
	const char *in;
	size_t len;
	enum http_error want;
};

static const struct err_case err_cases[] = {
	/* request smuggling: framing must be unambiguous (RFC 9112 6) */
	{"rfc9112-6.1 CL and TE -> 400",
	 S("POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
	 HTTP_E_CL_AND_TE},
	{"rfc9112-6.1 TE and CL -> 400",
	 S("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"),
	 HTTP_E_CL_AND_TE},
	{"rfc9112-6.3 differing duplicate CL -> 400",
	 S("POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), HTTP_E_CL_CONFLICT},
	{"rfc9112-6.3 differing CL list \"5, 6\" -> 400",
	 S("POST /" H11 "Content-Length: 5, 6\r\n\r\n"), HTTP_E_CL_CONFLICT},
	{"rfc9110-8.6 CL \"+5\" -> 400", S("POST /" H11 "Content-Length: +5\r\n\r\n"),
	 HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL \"-1\" -> 400", S("POST /" H11 "Content-Length: -1\r\n\r\n"),
	 HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL \"0x5\" -> 400", S("POST /" H11 "Content-Length: 0x5\r\n\r\n"),
	 HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL \"5 5\" -> 400", S("POST /" H11 "Content-Length: 5 5\r\n\r\n"),
	 HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL \"5a\" -> 400", S("POST /" H11 "Content-Length: 5a\r\n\r\n"),
	 HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL empty -> 400", S("POST /" H11 "Content-Length:\r\n\r\n"),
	 HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL \"5,\" empty element -> 400", S("POST /" H11 "Content-Length: 5,\r\n\r\n"),
	 HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL \",5\" empty element -> 400", S("POST /" H11 "Content-Length: ,5\r\n\r\n"),
	 HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL 2^63 overflows -> 400",
	 S("POST /" H11 "Content-Length: 9223372036854775808\r\n\r\n"), HTTP_E_CL_INVALID},
	{"rfc9110-8.6 CL 20 digits overflows -> 400",
	 S("POST /" H11 "Content-Length: 99999999999999999999\r\n\r\n"), HTTP_E_CL_INVALID},
	{"rfc9110-8.6 invalid CL beside valid one -> 400",
	 S("POST /" H11 "Content-Length: 5\r\nContent-Length: x\r\n\r\n"), HTTP_E_CL_INVALID},
	{"rfc9112-6.1 TE gzip -> 501", S("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n"),
	 HTTP_E_TE_UNSUPPORTED},
	{"rfc9112-6.1 TE gzip, chunked -> 501",
	 S("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), HTTP_E_TE_UNSUPPORTED},
	{"rfc9112-6.1 TE chunked with params -> 501",
	 S("POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n"), HTTP_E_TE_UNSUPPORTED},
	{"rfc9112-6.1 TE xchunked -> 501", S("POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n"),
	 HTTP_E_TE_UNSUPPORTED},
	{"rfc9112-6.3 TE chunked, gzip -> 400",
	 S("POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED_LAST},
	{"rfc9112-7 TE chunked, chunked -> 400",
	 S("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED_LAST},
	{"rfc9112-7 TE chunked in two fields -> 400",
	 S("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	 HTTP_E_TE_NOT_CHUNKED_LAST},
	{"rfc9112-6.3 TE chunked then gzip field -> 400",
	 S("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"),
	 HTTP_E_TE_NOT_CHUNKED_LAST},
	{"rfc9112-6.3 TE empty -> 400", S("POST /" H11 "Transfer-Encoding:\r\n\r\n"),
	 HTTP_E_TE_NOT_CHUNKED_LAST},
	{"rfc9112-6.1 TE in HTTP/1.0 -> 400",
	 S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_E_TE_HTTP10},
	{"rfc9112-5.2 obs-fold -> 400", S("GET /" H11 "X: a\r\n b\r\n\r\n"), HTTP_E_OBS_FOLD},
	{"rfc9112-5.2 obs-fold with HTAB -> 400", S("GET /" H11 "X: a\r\n\tb\r\n\r\n"),
	 HTTP_E_OBS_FOLD},
	{"rfc9112-2.2 whitespace after request line -> 400",
	 S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), HTTP_E_OBS_FOLD},
	{"rfc9112-5.1 space before colon -> 400", S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
	 HTTP_E_SPACE_BEFORE_COLON},
	{"rfc9112-5.1 HTAB before colon -> 400", S("POST /" H11 "Content-Length\t: 5\r\n\r\n"),
	 HTTP_E_SPACE_BEFORE_COLON},
	{"rfc9110-5.1 space inside name -> 400", S("GET /" H11 "X Y: a\r\n\r\n"),
	 HTTP_E_HEADER_NAME},
	{"rfc9110-5.1 empty name -> 400", S("GET /" H11 ": a\r\n\r\n"), HTTP_E_HEADER_NAME},
	{"rfc9112-5 no colon -> 400", S("GET /" H11 "Xyz\r\n\r\n"), HTTP_E_HEADER_NAME},
	{"rfc9110-5.1 NUL in name -> 400", S("GET /" H11 "X\0Y: a\r\n\r\n"), HTTP_E_HEADER_NAME},
	{"rfc9110-5.1 non-token in name -> 400", S("GET /" H11 "X(Y): a\r\n\r\n"),
	 HTTP_E_HEADER_NAME},
	{"rfc9110-5.5 NUL in value -> 400", S("GET /" H11 "X: a\0b\r\n\r\n"), HTTP_E_HEADER_VALUE},
	{"rfc9110-5.5 CTL in value -> 400",
	 S("GET /" H11 "X: a\x01"
	   "b\r\n\r\n"),
	 HTTP_E_HEADER_VALUE},
	{"rfc9110-5.5 VT in value -> 400", S("GET /" H11 "X: a\vb\r\n\r\n"), HTTP_E_HEADER_VALUE},
	{"rfc9110-5.5 DEL in value -> 400", S("GET /" H11 "X: a\x7f\r\n\r\n"), HTTP_E_HEADER_VALUE},
	{"rfc9112-2.2 bare CR in value -> 400", S("GET /" H11 "X: a\rb\r\n\r\n"), HTTP_E_BARE_CR},
	{"rfc9112-2.2 bare CR in name -> 400", S("GET /" H11 "X\rY: a\r\n\r\n"), HTTP_E_BARE_CR},
	{"rfc9112-2.2 bare CR in request line -> 400", S("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_E_BARE_CR},
	{"rfc9112-2.2 bare CR ends request line -> 400", S("GET / HTTP/1.1\rHost: a\r\n\r\n"),
	 HTTP_E_BARE_CR},
	{"rfc9112-2.2 bare CR as blank line -> 400", S("GET /" H11 "\r\r\n"), HTTP_E_BARE_CR},
	{"rfc9112-2.2 bare CR before request line -> 400", S("\rGET / HTTP/1.1\r\n\r\n"),
	 HTTP_E_BARE_CR},
	{"rfc9112-2.2 bare LF ends request line -> 400", S("GET / HTTP/1.1\nHost: a\r\n\r\n"),
	 HTTP_E_BARE_LF},
	{"rfc9112-2.2 bare LF ends field line -> 400", S("GET /" H11 "X: a\n\r\n"), HTTP_E_BARE_LF},
	{"rfc9112-2.2 bare LF as blank line -> 400", S("GET /" H11 "\n"), HTTP_E_BARE_LF},
	{"rfc9112-2.2 bare LF in name -> 400", S("GET /" H11 "X\nY: a\r\n\r\n"), HTTP_E_BARE_LF},
	{"rfc9112-2.2 bare LF before request line -> 400", S("\nGET / HTTP/1.1\r\n\r\n"),
	 HTTP_E_BARE_LF},
	{"rfc9112-3.2 Host missing on 1.1 -> 400", S("GET / HTTP/1.1\r\n\r\n"),
	 HTTP_E_HOST_MISSING},
	{"rfc9112-3.2 absolute-form still needs Host -> 400", S("GET http://a/ HTTP/1.1\r\n\r\n"),
	 HTTP_E_HOST_MISSING},
	{"rfc9112-3.2 duplicate Host -> 400", S("GET /" H11 "Host: b\r\n\r\n"),
	 HTTP_E_HOST_DUPLICATE},
	{"rfc9112-3.2 duplicate Host on 1.0 -> 400",
	 S("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"), HTTP_E_HOST_DUPLICATE},
	{"rfc9110-7.2 Host with space -> 400", S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
	 HTTP_E_HEADER_VALUE},
	{"rfc9110-4.2.4 Host with userinfo -> 400", S("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"),
	 HTTP_E_HEADER_VALUE},
	{"rfc9110-7.2 Host with path -> 400", S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
	 HTTP_E_HEADER_VALUE},
	{"rfc9110-7.2 Host with bad port -> 400", S("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"),
	 HTTP_E_HEADER_VALUE},

	/* request line (RFC 9112 3) */
	{"rfc9112-3 double SP after method -> 400", S("GET  /" H11 "\r\n"), HTTP_E_REQUEST_LINE},
	{"rfc9112-3 double SP after target -> 400", S("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_E_REQUEST_LINE},
	{"rfc9112-3 SP after version -> 400", S("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
	 HTTP_E_REQUEST_LINE},
	{"rfc9112-3 four parts -> 400", S("GET / x HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_E_REQUEST_LINE},
	{"rfc9112-3 HTTP/0.9 simple request -> 400", S("GET /\r\n\r\n"), HTTP_E_REQUEST_LINE},
	{"rfc9112-3 method only -> 400", S("GET\r\n\r\n"), HTTP_E_REQUEST_LINE},
	{"rfc9112-3 empty method -> 400", S(" / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_METHOD},
	{"rfc9112-3 HTAB as separator -> 400", S("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_E_METHOD},
	{"rfc9110-9.1 non-token method -> 400", S("GE@T / HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_E_METHOD},
	{"rfc9110-9.1 NUL in method -> 400", S("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_E_METHOD},
	{"rfc9112-2.3 lower-case version -> 400", S("GET / http/1.1\r\nHost: a\r\n\r\n"),
	 HTTP_E_VERSION},
	{"rfc9112-2.3 version without minor -> 400", S("GET / HTTP/1\r\nHost: a\r\n\r\n"),
	 HTTP_E_VERSION},
	{"rfc9112-2.3 two-digit major -> 400", S("GET / HTTP/11.1\r\nHost: a\r\n\r\n"),
	 HTTP_E_VERSION},
	{"rfc9112-2.3 junk after version -> 400", S("GET / HTTP/1.1x\r\nHost: a\r\n\r\n"),
	 HTTP_E_VERSION},
	{"rfc9112-2.3 NUL in version -> 400", S("GET / HTTP/1.\0\r\nHost: a\r\n\r\n"),
	 HTTP_E_VERSION},
	{"rfc9112-2.3 HTTP/2.0 -> 505", S("GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
	 HTTP_E_VERSION_UNSUPP},
	{"rfc9112-2.3 HTTP/3.0 -> 505", S("GET / HTTP/3.0\r\nHost: a\r\n\r\n"),
	 HTTP_E_VERSION_UNSUPP},
	{"rfc9112-2.3 HTTP/0.9 -> 505", S("GET / HTTP/0.9\r\n\r\n"), HTTP_E_VERSION_UNSUPP},
	{"rfc9112-2.3 HTTP/1.2 -> 505", S("GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
	 HTTP_E_VERSION_UNSUPP},
	{"rfc9112-3.2.4 asterisk-form without OPTIONS -> 400", S("GET *" H11 "\r\n"),
	 HTTP_E_TARGET},
	{"rfc9112-3.2 relative target -> 400", S("GET a/b" H11 "\r\n"), HTTP_E_TARGET},
	{"rfc9112-3.2 fragment in target -> 400", S("GET /a#b" H11 "\r\n"), HTTP_E_TARGET},
	{"rfc3986-2.1 bad pct-encoding -> 400", S("GET /a%zz" H11 "\r\n"), HTTP_E_TARGET},
	{"rfc3986-2.1 truncated pct-encoding -> 400", S("GET /a%2" H11 "\r\n"), HTTP_E_TARGET},
	{"rfc3986-2 raw non-ASCII in target -> 400", S("GET /caf\xc3\xa9" H11 "\r\n"),
	 HTTP_E_TARGET},
	{"rfc9112-3.2 DEL in target -> 400", S("GET /a\x7f" H11 "\r\n"), HTTP_E_TARGET},
	{"rfc9112-3.2 NUL in target -> 400", S("GET /a\0b" H11 "\r\n"), HTTP_E_TARGET},
	{"rfc9112-3.2.2 absolute-form other scheme -> 400", S("GET ftp://a/" H11 "\r\n"),
	 HTTP_E_TARGET},
	{"rfc9110-4.2.1 absolute-form empty host -> 400", S("GET http:///x" H11 "\r\n"),
	 HTTP_E_TARGET},
	{"rfc9110-4.2.4 absolute-form userinfo -> 400", S("GET http://u@a/x" H11 "\r\n"),
	 HTTP_E_TARGET},
	{"rfc9112-3.2.3 authority-form without CONNECT -> 400", S("GET a:80" H11 "\r\n"),
	 HTTP_E_TARGET},
	{"rfc9112-3.2.3 CONNECT origin-form -> 400", S("CONNECT /" H11 "\r\n"), HTTP_E_TARGET},
	{"rfc9110-9.3.6 CONNECT without port -> 400", S("CONNECT a" H11 "\r\n"), HTTP_E_TARGET},
	{"rfc9112-3.2.4 OPTIONS ** -> 400", S("OPTIONS **" H11 "\r\n"), HTTP_E_TARGET},
};

static void check_err(const struct err_case *c)
{
	struct http_header hdrs[100];
	struct http_request r;
	enum http_error e = http_parse_request(c->in, c->len, &http_limits_default, hdrs, 100, &r);
	CHECK(e == c->want, c->name, "got %s, want %s", http_error_name(e),
	      http_error_name(c->want));
	/* a prefix may only be incomplete or the same verdict, never OK */
	for (size_t k = 0; k < c->len; k++) {
		e = http_parse_request(c->in, k, &http_limits_default, hdrs, 100, &r);
		if (e == HTTP_OK) {
			CHECK(e != HTTP_OK, c->name, "prefix %zu parses OK", k);
			break;
		}
	}
}

/* ---- every byte in every place ------------------------------------------ */

static bool rfc_tchar(int b)
{
	return b < 128 && (isalnum(b) || (b && strchr("!#$%&'*+-.^_`|~", b)));
}

static bool rfc_field_byte(int b) /* field-vchar / obs-text / SP / HTAB */
{
	return b == '\t' || (b >= 0x20 && b != 0x7f);
}

static enum http_error parse_str(const char *in, size_t len)
{
	struct http_header hdrs[100];
	struct http_request r;
	return http_parse_request(in, len, &http_limits_default, hdrs, 100, &r);
}

/* The decoder's verdict on a whole input: its error, or HTTP_OK. */
static enum http_error chunk_str(const char *in, size_t len)
{
	struct http_chunked c;
	http_chunked_init(&c, &http_limits_default);
	while (len && !c.done) {
		size_t used;
		http_slice d;
		enum http_error e = http_chunked_feed(&c, in, len, &used, &d);
		if (e)
			return e;
		in += used;
		len -= used;
	}
	return HTTP_OK;
}

static void check_every_byte(void)
{
	char buf[128];
	unsigned bad_name = 0, bad_value = 0, bad_target = 0, bad_method = 0;
	unsigned bad_host = 0, bad_hex = 0, bad_qd = 0, bad_tok = 0;
	for (int b = 0; b < 256; b++) {
		int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX%cY: v\r\n\r\n",
				 1);
		buf[26] = (char)b;
		enum http_error want = rfc_tchar(b) || b == ':' ? HTTP_OK
				       : b == ' ' || b == '\t'  ? HTTP_E_HEADER_NAME
				       : b == '\r'              ? HTTP_E_BARE_CR
				       : b == '\n'              ? HTTP_E_BARE_LF
								: HTTP_E_HEADER_NAME;
		bad_name += parse_str(buf, (size_t)n) != want;

		n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: a%cb\r\n\r\n", 1);
		buf[29] = (char)b;
		want = rfc_field_byte(b) ? HTTP_OK
		       : b == '\r'       ? HTTP_E_BARE_CR
		       : b == '\n'       ? HTTP_E_BARE_LF
					 : HTTP_E_HEADER_VALUE;
		bad_value += parse_str(buf, (size_t)n) != want;

		n = snprintf(buf, sizeof(buf), "GET /a%cb HTTP/1.1\r\nHost: a\r\n\r\n", 1);
		buf[6] = (char)b;
		want = b > 0x20 && b < 0x7f && b != '#' && b != '%' ? HTTP_OK
		       : b == ' '                                   ? HTTP_E_REQUEST_LINE
		       : b == '\r'                                  ? HTTP_E_BARE_CR
		       : b == '\n'                                  ? HTTP_E_BARE_LF
								    : HTTP_E_TARGET;
		bad_target += parse_str(buf, (size_t)n) != want;

		n = snprintf(buf, sizeof(buf), "G%cT / HTTP/1.1\r\nHost: a\r\n\r\n", 1);
		buf[1] = (char)b;
		want = rfc_tchar(b) ? HTTP_OK
		       : b == ' '   ? HTTP_E_TARGET /* "G" "T" ... : T is no target */
		       : b == '\r'  ? HTTP_E_BARE_CR
		       : b == '\n'  ? HTTP_E_BARE_LF
				    : HTTP_E_METHOD;
		bad_method += parse_str(buf, (size_t)n) != want;

		n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a%cb\r\n\r\n", 1);
		buf[23] = (char)b;
		want = (b < 128 && isalnum(b)) || (b && strchr("-._~!$&'()*+,;=", b)) ? HTTP_OK
		       : b == '\r' ? HTTP_E_BARE_CR
		       : b == '\n' ? HTTP_E_BARE_LF
				   : HTTP_E_HEADER_VALUE;
		bad_host += parse_str(buf, (size_t)n) != want;

		n = snprintf(buf, sizeof(buf), "%c\r\n", 1);
		buf[0] = (char)b;
		want = b < 128 && isxdigit(b) ? HTTP_OK : HTTP_E_CHUNK_SIZE;
		bad_hex += chunk_str(buf, (size_t)n) != want;

		/* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
		n = snprintf(buf, sizeof(buf), "1;a=\"%c\"\r\nx\r\n0\r\n\r\n", 1);
		buf[5] = (char)b;
		bool qd = b == '\t' || b == ' ' || b == 0x21 || (b >= 0x23 && b <= 0x5b) ||
			  (b >= 0x5d && b <= 0x7e) || b >= 0x80;
		want = qd ? HTTP_OK : HTTP_E_CHUNK_EXT;
		bad_qd += chunk_str(buf, (size_t)n) != want;

		n = snprintf(buf, sizeof(buf), "1;a=%c\r\nx\r\n0\r\n\r\n", 1);
		buf[4] = (char)b;
		want = rfc_tchar(b) ? HTTP_OK : HTTP_E_CHUNK_EXT;
		bad_tok += chunk_str(buf, (size_t)n) != want;
	}
	CHECK(bad_name == 0, "rfc9110-5.6.2 field-name is a token, every byte", "%u", bad_name);
	CHECK(bad_host == 0, "rfc3986-3.2.2 Host reg-name bytes, every byte", "%u", bad_host);
	CHECK(bad_hex == 0, "rfc9112-7.1 chunk-size is HEXDIG, every byte", "%u", bad_hex);
	CHECK(bad_qd == 0, "rfc9110-5.6.4 qdtext in chunk-ext, every byte", "%u", bad_qd);
	CHECK(bad_tok == 0, "rfc9112-7.1.1 token chunk-ext-val, every byte", "%u", bad_tok);
	CHECK(bad_value == 0, "rfc9110-5.5 field-value bytes, every byte", "%u", bad_value);
	CHECK(bad_target == 0, "rfc3986 request-target bytes, every byte", "%u", bad_target);
	CHECK(bad_method == 0, "rfc9110-9.1 method is a token, every byte", "%u", bad_method);
}

/* ---- limits ------------------------------------------------------------- */

/* A request whose request line is `rl` bytes and whose head is padded by a
 * field "X: aaa..." to `head` bytes (0: no padding field). */
static size_t build(char *buf, size_t rl, size_t head, unsigned extra_fields)
{
	size_t n = 0;
	memcpy(buf, "GET /", 5);
	n = 5;
	assert(rl >= 14);
	memset(buf + n, 'a', rl - 14);
	n += rl - 14;
	memcpy(buf + n, " HTTP/1.1\r\nHost: a\r\n", 20);
	n += 20;
	for (unsigned i = 0; i < extra_fields; i++)
		n += (size_t)sprintf(buf + n, "X%u: y\r\n", i);
	if (head) {
		size_t pad = head - n - 2 - 5; /* "X: " + CRLF, final CRLF */
		memcpy(buf + n, "X: ", 3);
		memset(buf + n + 3, 'v', pad);
		n += 3 + pad;
		memcpy(buf + n, "\r\n", 2);
		n += 2;
		assert(n + 2 == head);
	}
	memcpy(buf + n, "\r\n", 2);
	return n + 2;
}

static void check_limits(void)
{
	static char buf[40000];
	struct http_header hdrs[200];
	struct http_request r;
	const struct http_limits *d = &http_limits_default;
	enum http_error e;
	size_t n;

	CHECK(d->max_request_line == 8192 && d->max_header_bytes == 16384 &&
		      d->max_headers == 100 && d->max_body == 1048576 && d->max_chunk_meta == 4096,
	      "limits defaults as documented", "see http_parser.h");

	n = build(buf, 8192, 0, 0);
	e = http_parse_request(buf, n, d, hdrs, 200, &r);
	CHECK(e == HTTP_OK, "limit request line exactly 8192 -> ok", "%s", http_error_name(e));
	n = build(buf, 8193, 0, 0);
	e = http_parse_request(buf, n, d, hdrs, 200, &r);
	CHECK(e == HTTP_E_URI_TOO_LONG, "rfc9112-3 request line 8193 -> 414", "%s",
	      http_error_name(e));
	CHECK(http_error_status(e) == 414, "rfc9112-3 request line too long status 414", "got %d",
	      http_error_status(e));
	/* partial: 9 KiB of request line and no CRLF yet */
	memset(buf, 'a', 9216);
	memcpy(buf, "GET /", 5);
	e = http_parse_request(buf, 9216, d, hdrs, 200, &r);
	CHECK(e == HTTP_E_URI_TOO_LONG, "rfc9112-3 partial 9 KiB request line -> 414", "%s",
	      http_error_name(e));

	/* the limit is hit at exactly the first byte past it, not later */
	struct http_limits small = *d;
	small.max_request_line = 20;
	const char *line = "GET /aaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n";
	for (size_t k = 1; k <= strlen(line); k++) {
		e = http_parse_request(line, k, &small, hdrs, 200, &r);
		enum http_error want = k > 20 ? HTTP_E_URI_TOO_LONG : HTTP_INCOMPLETE;
		CHECK(e == want, "rfc9112-3 partial request line limit at every length",
		      "k=%zu got %s", k, http_error_name(e));
	}
	/* exactly at the limit with CR but no LF yet: not yet over */
	small.max_request_line = 14;
	e = http_parse_request("GET / HTTP/1.1\r", 15, &small, hdrs, 200, &r);
	CHECK(e == HTTP_INCOMPLETE, "rfc9112-3 line at limit awaiting LF -> incomplete", "%s",
	      http_error_name(e));
	e = http_parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &small, hdrs, 200, &r);
	CHECK(e == HTTP_OK, "rfc9112-3 line exactly at a small limit -> ok", "%s",
	      http_error_name(e));

	n = build(buf, 100, 16384, 0);
	e = http_parse_request(buf, n, d, hdrs, 200, &r);
	CHECK(e == HTTP_OK && r.head_len == 16384, "limit head exactly 16384 -> ok", "%s",
	      http_error_name(e));
	n = build(buf, 100, 16385, 0);
	e = http_parse_request(buf, n, d, hdrs, 200, &r);
	CHECK(e == HTTP_E_HEADERS_TOO_LARGE, "rfc6585-5 head 16385 bytes -> 431", "%s",
	      http_error_name(e));
	CHECK(http_error_status(e) == 431, "rfc6585-5 header block too large status 431", "got %d",
	      http_error_status(e));
	n = build(buf, 100, 30000, 0);
	e = http_parse_request(buf, n - 2000, d, hdrs, 200, &r);
	CHECK(e == HTTP_E_HEADERS_TOO_LARGE, "rfc6585-5 partial 28 KB head -> 431", "%s",
	      http_error_name(e));
	memset(buf, '\r', 2);
	for (size_t i = 0; i < 20000; i += 2)
		memcpy(buf + i, "\r\n", 2);
	e = http_parse_request(buf, 20000, d, hdrs, 200, &r);
	CHECK(e == HTTP_E_HEADERS_TOO_LARGE, "rfc9112-2.2 endless leading CRLFs -> 431", "%s",
	      http_error_name(e));
	small = *d;
	small.max_header_bytes = 40;
	line = "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n"; /* 42 bytes */
	for (size_t k = 1; k <= strlen(line); k++) {
		e = http_parse_request(line, k, &small, hdrs, 200, &r);
		enum http_error want = k > 40 ? HTTP_E_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
		CHECK(e == want, "rfc6585-5 partial head limit at every length", "k=%zu got %s", k,
		      http_error_name(e));
	}

	n = build(buf, 20, 0, 99); /* Host + 99 = 100 fields */
	e = http_parse_request(buf, n, d, hdrs, 200, &r);
	CHECK(e == HTTP_OK && r.nheaders == 100, "limit 100 fields -> ok", "%s",
	      http_error_name(e));
	n = build(buf, 20, 0, 100);
	e = http_parse_request(buf, n, d, hdrs, 200, &r);
	CHECK(e == HTTP_E_TOO_MANY_HEADERS, "rfc6585-5 101 fields -> 431", "%s",
	      http_error_name(e));
	CHECK(http_error_status(e) == 431, "rfc6585-5 too many fields status 431", "got %d",
	      http_error_status(e));
	/* partial: the 101st line has only begun */
	n = build(buf, 20, 0, 100);
	e = http_parse_request(buf, n - 6, d, hdrs, 200, &r);
	CHECK(e == HTTP_E_TOO_MANY_HEADERS, "rfc6585-5 partial 101st field -> 431", "%s",
	      http_error_name(e));
	n = build(buf, 20, 0, 4);
	e = http_parse_request(buf, n, d, hdrs, 4, &r);
	CHECK(e == HTTP_E_TOO_MANY_HEADERS, "api cap below max_headers -> 431", "%s",
	      http_error_name(e));
	e = http_parse_request(buf, n, d, hdrs, 5, &r);
	CHECK(e == HTTP_OK, "api cap equal to the field count -> ok", "%s", http_error_name(e));

	line = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n";
	e = http_parse_request(line, strlen(line), d, hdrs, 200, &r);
	CHECK(e == HTTP_E_BODY_TOO_LARGE, "rfc9110-15.5.14 CL over max_body -> 413", "%s",
	      http_error_name(e));
	CHECK(http_error_status(e) == 413, "rfc9110-15.5.14 body too large status 413", "got %d",
	      http_error_status(e));
	line = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n";
	e = http_parse_request(line, strlen(line), d, hdrs, 200, &r);
	CHECK(e == HTTP_E_BODY_TOO_LARGE, "rfc9110-8.6 CL 2^63-1 is valid but over max_body -> 413",
	      "%s", http_error_name(e));
	struct http_limits huge = {SIZE_MAX, SIZE_MAX, UINT32_MAX, UINT64_MAX, SIZE_MAX};
	e = http_parse_request(line, strlen(line), &huge, hdrs, 200, &r);
	CHECK(e == HTTP_OK && r.content_length == 9223372036854775807ull,
	      "rfc9110-8.6 CL 2^63-1 fits with huge limits", "%s", http_error_name(e));
	e = http_parse_request(line, strlen(line) - 1, &huge, hdrs, 200, &r);
	CHECK(e == HTTP_INCOMPLETE, "api huge limits do not overflow", "%s", http_error_name(e));
	small = *d;
	small.max_request_line = 0;
	e = http_parse_request("GET", 3, &small, hdrs, 200, &r);
	CHECK(e == HTTP_E_URI_TOO_LONG, "api max_request_line 0 -> 414", "%s", http_error_name(e));
}

/* ---- chunked bodies ----------------------------------------------------- */

static const struct http_limits meta16 = {8192, 16384, 100, 1u << 20, 16};
static const struct http_limits body8 = {8192, 16384, 100, 8, 4096};
static const struct http_limits huge_body = {8192, 16384, 100, UINT64_MAX, 4096};

struct chunk_case {
	const char *name;
	const char *in;
	size_t len;
	const struct http_limits *limits; /* NULL: defaults */
	enum http_error want;             /* HTTP_INCOMPLETE: ok but not done */
	const char *body;                 /* decoded body when want is not an error */
	size_t used;                      /* bytes through the final CRLF; 0: all */
};

static const struct chunk_case chunk_cases[] = {
	{"rfc9112-7.1 single chunk", S("5\r\nhello\r\n0\r\n\r\n"), NULL, HTTP_OK, "hello", 0},
	{"rfc9112-7.1 many chunks", S("1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n"), NULL, HTTP_OK,
	 "abcdef", 0},
	{"rfc9112-7.1 empty body", S("0\r\n\r\n"), NULL, HTTP_OK, "", 0},
	{"rfc9112-7.1 HEXDIG either case", S("a\r\n0123456789\r\nB\r\n0123456789a\r\n0\r\n\r\n"),
	 NULL, HTTP_OK, "01234567890123456789a", 0},
	{"rfc9112-7.1 leading zeros", S("0005\r\nhello\r\n000\r\n\r\n"), NULL, HTTP_OK, "hello", 0},
	{"rfc9112-7.1.1 extensions", S("5;foo=bar\r\nhello\r\n0;last\r\n\r\n"), NULL, HTTP_OK,
	 "hello", 0},
	{"rfc9112-7.1.1 extensions with BWS", S("5 ; a = b ;c\t;d=e\r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_OK, "hello", 0},
	{"rfc9112-7.1.1 quoted extension value",
	 S("5;a=\"x; y\\\"z\"\r\nhello\r\n0;b=\"\"\r\n\r\n"), NULL, HTTP_OK, "hello", 0},
	{"rfc9112-7.1.2 trailers", S("5\r\nhello\r\n0\r\nX-Sum: 1\r\nY: \r\nZ:\tq r\r\n\r\n"), NULL,
	 HTTP_OK, "hello", 0},
	{"rfc9112-7.1 bytes after the body stay unread", S("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1"),
	 NULL, HTTP_OK, "abc", 13},
	{"rfc9112-7.1 body cut short is not done", S("5\r\nhel"), NULL, HTTP_INCOMPLETE, "hel", 0},
	{"rfc9112-7.1 size 2^63-1 fits", S("7fffffffffffffff\r\nab"), &huge_body, HTTP_INCOMPLETE,
	 "ab", 0},
	{"rfc9112-7.1 bad hex -> 400", S("g\r\nhello\r\n0\r\n\r\n"), NULL, HTTP_E_CHUNK_SIZE, NULL,
	 0},
	{"rfc9112-7.1 empty size -> 400", S("\r\nhello\r\n0\r\n\r\n"), NULL, HTTP_E_CHUNK_SIZE,
	 NULL, 0},
	{"rfc9112-7.1 0x prefix -> 400", S("0x5\r\nhello\r\n0\r\n\r\n"), NULL, HTTP_E_CHUNK_SIZE,
	 NULL, 0},
	{"rfc9112-7.1 sign -> 400", S("+5\r\nhello\r\n0\r\n\r\n"), NULL, HTTP_E_CHUNK_SIZE, NULL,
	 0},
	{"rfc9112-7.1 leading space -> 400", S(" 5\r\nhello\r\n0\r\n\r\n"), NULL, HTTP_E_CHUNK_SIZE,
	 NULL, 0},
	{"rfc9112-7.1 trailing space -> 400", S("5 \r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_SIZE, NULL, 0},
	{"rfc9112-7.1 trailing junk -> 400", S("5 x\r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_SIZE, NULL, 0},
	{"rfc9112-7.1 size bare LF -> 400", S("5\nhello\r\n0\r\n\r\n"), NULL, HTTP_E_CHUNK_SIZE,
	 NULL, 0},
	{"rfc9112-7.1 size bare CR -> 400", S("5\rhello\r\n0\r\n\r\n"), NULL, HTTP_E_CHUNK_SIZE,
	 NULL, 0},
	{"rfc9112-7.1 size 2^63 overflows -> 400", S("8000000000000000\r\n"), &huge_body,
	 HTTP_E_CHUNK_SIZE, NULL, 0},
	{"rfc9112-7.1 size 17 digits overflows -> 400", S("10000000000000000\r\n"), &huge_body,
	 HTTP_E_CHUNK_SIZE, NULL, 0},
	{"rfc9112-7.1 missing CRLF after data -> 400", S("5\r\nhelloX\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_DATA_END, NULL, 0},
	{"rfc9112-7.1 bare LF after data -> 400", S("5\r\nhello\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_DATA_END, NULL, 0},
	{"rfc9112-7.1 data longer than size -> 400", S("3\r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_DATA_END, NULL, 0},
	{"rfc9112-7.1.1 empty extension -> 400", S("5;\r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9112-7.1.1 extension without name -> 400", S("5;=a\r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9112-7.1.1 extension without value -> 400", S("5;a=\r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9112-7.1.1 two names -> 400", S("5;a b\r\nhello\r\n0\r\n\r\n"), NULL, HTTP_E_CHUNK_EXT,
	 NULL, 0},
	{"rfc9112-7.1.1 BWS before CRLF -> 400", S("5;a=b \r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9112-7.1.1 CTL in extension -> 400", S("5;a\x01\r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9110-5.6.4 unterminated quoted-string -> 400", S("5;a=\"x\r\nhello\r\n0\r\n\r\n"),
	 NULL, HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9110-5.6.4 CTL in quoted-pair -> 400", S("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n"), NULL,
	 HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9112-7.1.1 token after quoted-string -> 400", S("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"),
	 NULL, HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9112-7.1.2 space before colon in trailer -> 400", S("0\r\nX : y\r\n\r\n"), NULL,
	 HTTP_E_TRAILER, NULL, 0},
	{"rfc9112-7.1.2 obs-fold in trailer -> 400", S("0\r\nX: y\r\n z\r\n\r\n"), NULL,
	 HTTP_E_TRAILER, NULL, 0},
	{"rfc9112-7.1.2 bare CR in trailer -> 400", S("0\r\nX: y\rz\r\n\r\n"), NULL, HTTP_E_TRAILER,
	 NULL, 0},
	{"rfc9112-7.1.2 bare LF in trailer -> 400", S("0\r\nX: y\n\r\n"), NULL, HTTP_E_TRAILER,
	 NULL, 0},
	{"rfc9112-7.1.2 NUL in trailer value -> 400", S("0\r\nX: a\0b\r\n\r\n"), NULL,
	 HTTP_E_TRAILER, NULL, 0},
	{"rfc9112-7.1.2 trailer without colon -> 400", S("0\r\nXY\r\n\r\n"), NULL, HTTP_E_TRAILER,
	 NULL, 0},
	{"rfc9112-7.1.2 trailer empty name -> 400", S("0\r\n: v\r\n\r\n"), NULL, HTTP_E_TRAILER,
	 NULL, 0},
	{"rfc9112-7.1 bare CR as final line -> 400", S("0\r\n\rX"), NULL, HTTP_E_TRAILER, NULL, 0},
	{"rfc9112-7.1 bare LF as final line -> 400", S("0\r\n\n"), NULL, HTTP_E_TRAILER, NULL, 0},
	{"rfc9112-7.1.1 extensions over max_chunk_meta -> 400",
	 S("5;aaaaaaaaaaaaaaaa\r\nhello\r\n"), &meta16, HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9112-7.1.1 extensions at max_chunk_meta -> ok",
	 S("5;aaaaaaaaaaaaaa\r\nhello\r\n0\r\n\r\n"), &meta16, HTTP_OK, "hello", 0},
	{"rfc9112-7.1.1 meta summed over chunks -> 400", S("1;aaaaaa\r\nx\r\n1;bbbbbbbbbbbb\r\n"),
	 &meta16, HTTP_E_CHUNK_EXT, NULL, 0},
	{"rfc9112-7.1.2 trailers over max_chunk_meta -> 400", S("0\r\nX: 0123456789abcdef\r\n\r\n"),
	 &meta16, HTTP_E_TRAILER, NULL, 0},
	{"rfc9112-7.1 endless leading zeros count as meta -> 400",
	 S("000000000000000000000000000000000005\r\n"), &meta16, HTTP_E_CHUNK_SIZE, NULL, 0},
	{"rfc9110-15.5.14 chunk over max_body -> 413", S("9\r\n"), &body8, HTTP_E_BODY_TOO_LARGE,
	 NULL, 0},
	{"rfc9110-15.5.14 chunked total over max_body -> 413",
	 S("5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n"), &body8, HTTP_E_BODY_TOO_LARGE, NULL, 0},
	{"rfc9110-15.5.14 chunked total at max_body -> ok",
	 S("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"), &body8, HTTP_OK, "helloabc", 0},
	{"rfc9112-7.1 chunk size past 2^63 is a malformed line -> 400", S("fffffffffffffffff\r\n"),
	 NULL, HTTP_E_CHUNK_SIZE, NULL, 0},
	{"rfc9110-15.5.14 chunk size that fits but exceeds max_body -> 413", S("ffffffff\r\n"),
	 NULL, HTTP_E_BODY_TOO_LARGE, NULL, 0},
};

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 16;
}

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_AT, SPLIT_RANDOM };

/*
 * Feed c->in in pieces: whole, one byte at a time, two pieces cut at `at`,
 * or random sizes.  Checks the decoder's contract on every call and
 * returns the verdict; body and bytes used through the end go out.
 */
static enum http_error decode(const struct chunk_case *cc, enum split how, size_t at, char *body,
			      size_t *blen, size_t *used_total, bool *contract_ok)
{
	struct http_chunked c;
	http_chunked_init(&c, cc->limits ? cc->limits : &http_limits_default);
	size_t off = 0;
	*blen = 0;
	*contract_ok = true;
	while (off < cc->len) {
		size_t piece = cc->len - off;
		if (how == SPLIT_BYTES)
			piece = 1;
		else if (how == SPLIT_AT && off < at)
			piece = at - off;
		else if (how == SPLIT_RANDOM && piece > 1)
			piece = 1 + rnd() % (piece < 7 ? piece : 7);
		const char *p = cc->in + off;
		while (piece > 0) {
			size_t used = 99999;
			http_slice d;
			enum http_error e = http_chunked_feed(&c, p, piece, &used, &d);
			*contract_ok &= used <= piece && d.base >= p && d.base + d.len <= p + used;
			/* byte-wise: only a data piece, done or an error stop early */
			*contract_ok &= e || c.done || used == piece || d.len > 0;
			memcpy(body + *blen, d.base, d.len);
			*blen += d.len;
			p += used;
			off += used;
			piece -= used;
			*used_total = off;
			if (e)
				return e;
			if (c.done) {
				*contract_ok &= c.total == *blen;
				size_t again = 1;
				e = http_chunked_feed(&c, p, piece, &again, &d);
				*contract_ok &= e == HTTP_OK && (again == 0 || piece == 0);
				return HTTP_OK;
			}
		}
	}
	return HTTP_INCOMPLETE;
}

static void check_chunk(const struct chunk_case *cc)
{
	static char body[4096];
	size_t blen = 0, used = 0;
	bool contract;
	unsigned bad = 0, bad_contract = 0;
	char first[256] = "";
	size_t want_used = cc->used ? cc->used : cc->len;

	for (size_t at = 0; at <= cc->len + 13; at++) {
		enum split how = at <= cc->len       ? SPLIT_AT
				 : at == cc->len + 1 ? SPLIT_WHOLE
				 : at == cc->len + 2 ? SPLIT_BYTES
						     : SPLIT_RANDOM;
		enum http_error e = decode(cc, how, at, body, &blen, &used, &contract);
		bool good = e == cc->want;
		if (cc->body)
			good = good && blen == strlen(cc->body) && !memcmp(body, cc->body, blen);
		if (cc->want == HTTP_OK)
			good = good && used == want_used;
		if (!good && bad++ == 0)
			snprintf(first, sizeof(first),
				 "split %d at %zu: got %s, body '%.*s', used %zu", how, at,
				 http_error_name(e), (int)blen, body, used);
		bad_contract += !contract;
	}
	CHECK(bad == 0, cc->name, "%u splits failed, first %s", bad, first);
	CHECK(bad_contract == 0, cc->name, "%u splits broke the feed contract", bad_contract);
}

/* ---- head and body together --------------------------------------------- */

static void check_pipeline(void)
{
	static const char req[] = "POST /v1/echo HTTP/1.1\r\nHost: a\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n"
				  "4;x=1\r\nwiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n"
				  "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_header hdrs[8];
	struct http_request r;
	enum http_error e =
		http_parse_request(req, sizeof(req) - 1, &http_limits_default, hdrs, 8, &r);
	CHECK(e == HTTP_OK && r.body_kind == HTTP_BODY_CHUNKED,
	      "rfc9112-7.1 head then chunked body then next request", "%s", http_error_name(e));
	struct http_chunked c;
	http_chunked_init(&c, &http_limits_default);
	const char *p = req + r.head_len;
	size_t n = sizeof(req) - 1 - r.head_len;
	char body[32];
	size_t blen = 0;
	while (n && !c.done) {
		size_t used;
		http_slice d;
		e = http_chunked_feed(&c, p, n, &used, &d);
		if (e)
			break;
		memcpy(body + blen, d.base, d.len);
		blen += d.len;
		p += used;
		n -= used;
	}
	CHECK(e == HTTP_OK && c.done && blen == 9 && !memcmp(body, "wikipedia", 9),
	      "rfc9112-7.1 chunked body decodes to wikipedia", "%s", http_error_name(e));
	e = http_parse_request(p, n, &http_limits_default, hdrs, 8, &r);
	CHECK(e == HTTP_OK && r.method == HTTP_M_GET && r.head_len == n,
	      "rfc9112-9.3 pipelined request after the body", "%s", http_error_name(e));
}

/* ---- small API pieces --------------------------------------------------- */

static void check_api(void)
{
	static const struct {
		enum http_error e;
		int status;
	} st[] = {
		{HTTP_E_METHOD, 400},           {HTTP_E_VERSION_UNSUPP, 505},
		{HTTP_E_URI_TOO_LONG, 414},     {HTTP_E_HEADERS_TOO_LARGE, 431},
		{HTTP_E_TOO_MANY_HEADERS, 431}, {HTTP_E_TE_UNSUPPORTED, 501},
		{HTTP_E_BODY_TOO_LARGE, 413},   {HTTP_E_CL_AND_TE, 400},
		{HTTP_E_TRAILER, 400},          {HTTP_OK, 200},
	};
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		CHECK(http_error_status(st[i].e) == st[i].status, "api http_error_status table",
		      "%s -> %d", http_error_name(st[i].e), http_error_status(st[i].e));

	unsigned bad = 0;
	for (int e = HTTP_E_METHOD; e < HTTP_E_COUNT_; e++) {
		const char *name = http_error_name((enum http_error)e);
		int s = http_error_status((enum http_error)e);
		bad += !name || !*name ||
		       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name);
		bad += s < 400 || s > 505;
		for (int f = HTTP_OK; f < e; f++)
			bad += !strcmp(name, http_error_name((enum http_error)f));
	}
	CHECK(bad == 0, "api every error has a unique snake_case name and a 4xx/5xx status", "%u",
	      bad);
	CHECK(!strcmp(http_error_name(HTTP_E_COUNT_), "unknown"), "api name out of range", "%s",
	      http_error_name(HTTP_E_COUNT_));

	static const struct {
		const char *s, *lit;
		bool want;
	} ieq[] = {
		{"Content-Length", "content-length", true},
		{"HOST", "host", true},
		{"host", "HOST", true},
		{"hos", "host", false},
		{"hostx", "host", false},
		{"", "", true},
		{"h0st", "host", false},
		{"[", "{", false},
	};
	for (size_t i = 0; i < sizeof(ieq) / sizeof(ieq[0]); i++)
		CHECK(http_slice_ieq((http_slice){ieq[i].s, strlen(ieq[i].s)}, ieq[i].lit) ==
			      ieq[i].want,
		      "rfc9110-5.1 field names compare case-insensitively", "%s vs %s", ieq[i].s,
		      ieq[i].lit);

	struct http_request r;
	enum http_error e = http_parse_request(NULL, 0, &http_limits_default, NULL, 0, &r);
	CHECK(e == HTTP_INCOMPLETE, "api empty input -> incomplete", "%s", http_error_name(e));
	e = http_parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &http_limits_default, NULL,
			       0, &r);
	CHECK(e == HTTP_E_TOO_MANY_HEADERS, "api cap 0 -> any field is too many", "%s",
	      http_error_name(e));
}

/* The word-at-a-time check against the byte-wise definition: every byte
 * value at every position of values 1..20 bytes long, in a safe filler. */
static void check_field_value_safe(void)
{
	char v[20];
	unsigned wrong = 0, unsafe = 0;
	for (size_t n = 1; n <= sizeof(v); n++) {
		for (size_t at = 0; at < n; at++) {
			for (unsigned b = 0; b < 256; b++) {
				memset(v, 'a' + (int)(n % 26), n);
				v[at] = (char)b;
				bool want = !((b < 0x20 && b != '\t') || b == 0x7f);
				unsafe += !want;
				wrong += http_field_value_safe(v, n) != want;
			}
		}
	}
	CHECK(wrong == 0 && unsafe > 0, "http_field_value_safe: every byte at every position",
	      "%u wrong", wrong);
	/* Bytes that borrow into the next lane (0x00 before 0x20, 0x80) must
	 * not hide or invent anything. */
	static const struct {
		const char *v;
		size_t n;
		bool safe;
	} rows[] = {
		{"\x00 aaaaaaa", 9, false},
		{"\x20\x20\x20\x20\x20\x20\x20\x20", 8, true},
		{"\x80\x20\x80\x20\x80\x20\x80\x21", 8, true},
		{"\x80\x7f\x80\x80\x80\x80\x80\x80", 8, false},
		{"\tab\tcd\tef\tgh\t", 13, true},
		{"abcdefgh\r\n", 10, false},
		{"", 0, true},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK(http_field_value_safe(rows[i].v, rows[i].n) == rows[i].safe,
		      "http_field_value_safe row", "%zu", i);
}

int main(void)
{
	check_field_value_safe();
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++)
		check_ok(&ok_cases[i]);
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
		check_err(&err_cases[i]);
	check_every_byte();
	check_limits();
	for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++)
		check_chunk(&chunk_cases[i]);
	check_pipeline();
	check_api();
	return unit_finish();
}
