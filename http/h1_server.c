/*
 * h1_server.c - HTTP/1.1 connections: request framing, timeouts, drain,
 * and the response writer.
 *
 * Input is parsed in place in the provided receive buffer.  Only a request
 * that is not complete when the buffer must go back to the kernel is
 * copied, into the connection's own buffer, which is freed as soon as the
 * request is done: an idle keep-alive connection holds no input memory.
 * A partial request is re-parsed from its first byte when more arrives;
 * a head parse costs far less than keeping slices valid across reallocs.
 */
#include "http/h1_server.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Header slots per request on the stack; limits.max_headers is capped to
 * this (it is far above any real client's needs). */
#define H1_HEADER_SLOTS 256u
/* Input queued behind a request that is still being answered, before the
 * socket is left to hold the rest (backpressure on pipelining clients). */
#define H1_BUSY_INPUT_MAX (64u * 1024u)

const struct h1_server_config h1_server_config_default = {
	.limits =
		{
			.max_request_line = 8192,
			.max_header_bytes = 16384,
			.max_headers = 100,
			.max_body = 1u << 20,
			.max_chunk_meta = 4096,
		},
	.idle_timeout_ms = 60000,
	.header_timeout_ms = 10000,
	.body_timeout_ms = 30000,
	.send_timeout_ms = 30000,
	.out_high_water = 1u << 20,
};

enum h1_timer {
	T_NONE = 0,
	T_IDLE,   /* between requests */
	T_HEADER, /* since the first byte of a request head */
	T_BODY,   /* since the last body progress */
	T_SEND,   /* output queued, waiting for the client to read */
};

struct h1_conn {
	struct ring_conn rc;
	struct h1_server *srv;
	struct h1_conn *prev, *next;

	char *in; /* unconsumed input that outlived its receive buffer */
	size_t in_len, in_cap;

	/* Chunked request body being decoded (offsets are relative to the
	 * request's first byte, so they survive the copy into `in`). */
	struct http_chunked chunked;
	size_t chunk_off;
	char *body;
	size_t body_len, body_cap;
	bool chunk_active;

	bool continue_sent; /* 100 Continue already queued for this request */
	bool done_reading;  /* a response closes the connection: ignore input */
	bool paused;        /* backpressure: too much output queued */
	uint8_t timer;      /* enum h1_timer */
	uint64_t send_mark; /* rc.bytes_out when T_SEND was armed */

	/* The request being answered.  It outlives the handler call when the
	 * handler answers later (an upstream call); input that arrives
	 * meanwhile waits in `in`, so responses stay in request order. */
	struct http_exchange x;
	bool in_handler; /* inside handler.request: completion is h1_one's job */
	bool busy;       /* x is suspended: waiting for a later response */
	struct ring_defer resume;
};

static const struct ring_conn_ops h1_conn_ops;
static void h1_response_complete(struct http_exchange *x);

/* ---- small writers ---- */

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static void date_refresh(struct h1_server *s)
{
	int64_t now = s->loop->wall_s;
	if (now == s->date_s)
		return;
	s->date_s = now;
	time_t t = (time_t)now;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(s->date_hdr, sizeof(s->date_hdr), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

const char *h1_timeout_name(enum h1_timeout_kind k)
{
	static const char *const names[H1_TIMEOUT_COUNT_] = {"header", "body", "idle", "send"};
	return k < H1_TIMEOUT_COUNT_ ? names[k] : "unknown";
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 499: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

/*
 * Status line and the headers every response carries.  Returns bytes
 * written into p (which has at least head_room() bytes).
 */
static size_t head_room(const char *content_type, http_slice extra)
{
	return 64 + sizeof(((struct h1_server *)0)->date_hdr) + 24 +
	       (content_type ? strlen(content_type) : 0) + 40 + 32 + 32 + extra.len;
}

enum body_framing { FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

static size_t write_head(struct http_exchange *x, char *p0, int status, const char *content_type,
			 http_slice extra, enum body_framing framing, uint64_t length)
{
	struct h1_conn *c = x->conn;
	date_refresh(c->srv);
	char *p = p0;
	p = PUT_LIT(p, "HTTP/1.1 ");
	assert(status >= 100 && status <= 999);
	*p++ = (char)('0' + status / 100);
	*p++ = (char)('0' + status / 10 % 10);
	*p++ = (char)('0' + status % 10);
	*p++ = ' ';
	const char *reason = http_reason(status);
	p = put(p, reason, strlen(reason));
	p = PUT_LIT(p, "\r\n");
	p = put(p, c->srv->date_hdr, strlen(c->srv->date_hdr));
	if (content_type) {
		p = PUT_LIT(p, "Content-Type: ");
		p = put(p, content_type, strlen(content_type));
		p = PUT_LIT(p, "\r\n");
	}
	if (framing == FRAME_LENGTH && (status_has_body(status) || length)) {
		p = PUT_LIT(p, "Content-Length: ");
		p = put_u64(p, length);
		p = PUT_LIT(p, "\r\n");
	} else if (framing == FRAME_CHUNKED) {
		p = PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
	}
	if (x->close)
		p = PUT_LIT(p, "Connection: close\r\n");
	else if (x->req.version_minor == 0)
		p = PUT_LIT(p, "Connection: keep-alive\r\n");
	if (extra.len)
		p = put(p, extra.base, extra.len);
	p = PUT_LIT(p, "\r\n");
	return (size_t)(p - p0);
}

int http_respond(struct http_exchange *x, int status, const char *content_type,
		 http_slice extra_headers, struct http_body_ref body)
{
	assert(!x->responded && !x->streaming);
	struct ring_outq *out = ring_conn_out(&x->conn->rc);
	bool send_body = status_has_body(status) && x->req.method != HTTP_M_HEAD;
	if (x->conn->srv->draining)
		x->close = true;

	size_t room = head_room(content_type, extra_headers);
	bool inline_body = send_body && !body.borrowed && body.len <= RING_CHUNK_SIZE / 2;
	char *p = ring_outq_reserve(out, room + (inline_body ? body.len : 0));
	if (!p)
		return -ENOMEM;
	size_t n = write_head(x, p, status, content_type, extra_headers, FRAME_LENGTH, body.len);
	if (inline_body && body.len) {
		memcpy(p + n, body.data, body.len);
		n += body.len;
	}
	ring_outq_commit(out, n);
	int ret = 0;
	if (send_body && !inline_body && body.len)
		ret = body.borrowed ? ring_outq_ref(out, body.data, body.len)
				    : ring_outq_append(out, body.data, body.len);
	x->status = status;
	x->responded = true;
	x->bytes_out += n + (send_body && !inline_body ? body.len : 0);
	h1_response_complete(x);
	return ret;
}

/* HTTP status -> the gRPC code named in ringgate's JSON errors (the
 * inverse of grpc-gateway's mapping, for errors raised here). */
static int grpc_code_for_status(int status)
{
	switch (status) {
	case 400: return 3;  /* INVALID_ARGUMENT */
	case 401: return 16; /* UNAUTHENTICATED */
	case 403: return 7;  /* PERMISSION_DENIED */
	case 404: return 5;  /* NOT_FOUND */
	case 405: return 12; /* UNIMPLEMENTED */
	case 408: return 4;  /* DEADLINE_EXCEEDED */
	case 409: return 10; /* ABORTED */
	case 411: return 3;
	case 413: return 8; /* RESOURCE_EXHAUSTED */
	case 414: return 3;
	case 415: return 3;
	case 417: return 9; /* FAILED_PRECONDITION */
	case 429: return 8;
	case 431: return 8;
	case 499: return 1;  /* CANCELLED */
	case 501: return 12; /* UNIMPLEMENTED */
	case 503: return 14; /* UNAVAILABLE */
	case 504: return 4;
	case 505: return 12;
	default: return status >= 500 ? 13 : 2; /* INTERNAL / UNKNOWN */
	}
}

/* JSON string body, escaping per RFC 8259; bytes >= 0x80 pass through. */
static size_t json_escape(char *dst, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (; *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)ch;
		} else if (ch < 0x20) {
			memcpy(dst + n, "\\u00", 4);
			dst[n + 4] = hex[ch >> 4];
			dst[n + 5] = hex[ch & 15];
			n += 6;
		} else {
			dst[n++] = (char)ch;
		}
	}
	return n;
}

int http_respond_error(struct http_exchange *x, int status, http_slice extra_headers,
		       const char *message)
{
	char body[768];
	int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"",
			 grpc_code_for_status(status));
	size_t len = (size_t)n;
	len += json_escape(body + len, sizeof(body) - len - 32, message);
	memcpy(body + len, "\",\"details\":[]}", 15);
	len += 15;
	return http_respond(x, status, "application/json", extra_headers,
			    (struct http_body_ref){.data = body, .len = len});
}

int http_stream_begin(struct http_exchange *x, int status, const char *content_type,
		      http_slice extra_headers)
{
	assert(!x->responded && !x->streaming);
	struct ring_outq *out = ring_conn_out(&x->conn->rc);
	if (x->conn->srv->draining)
		x->close = true;
	/* HTTP/1.0 has no chunked coding: the body ends with the connection. */
	x->chunked = x->req.version_minor >= 1;
	if (!x->chunked)
		x->close = true;
	char *p = ring_outq_reserve(out, head_room(content_type, extra_headers));
	if (!p)
		return -ENOMEM;
	size_t n = write_head(x, p, status, content_type, extra_headers,
			      x->chunked ? FRAME_CHUNKED : FRAME_CLOSE, 0);
	ring_outq_commit(out, n);
	x->status = status;
	x->streaming = true;
	x->bytes_out += n;
	return 0;
}

int http_stream_write(struct http_exchange *x, const void *data, size_t len)
{
	assert(x->streaming);
	if (len == 0 || x->req.method == HTTP_M_HEAD)
		return 0;
	struct ring_outq *out = ring_conn_out(&x->conn->rc);
	if (x->chunked) {
		static const char hex[] = "0123456789abcdef";
		char *p = ring_outq_reserve(out, 20);
		if (!p)
			return -ENOMEM;
		char tmp[16];
		size_t k = 0;
		for (size_t v = len; v; v >>= 4)
			tmp[k++] = hex[v & 15];
		size_t n = 0;
		while (k)
			p[n++] = tmp[--k];
		p[n++] = '\r';
		p[n++] = '\n';
		ring_outq_commit(out, n);
		x->bytes_out += n + 2;
	}
	int ret = ring_outq_append(out, data, len);
	if (ret == 0 && x->chunked)
		ret = ring_outq_append(out, "\r\n", 2);
	x->bytes_out += len;
	ring_conn_flush_later(&x->conn->rc);
	return ret;
}

int http_stream_end(struct http_exchange *x)
{
	assert(x->streaming);
	int ret = 0;
	if (x->chunked && x->req.method != HTTP_M_HEAD) {
		ret = ring_outq_append(ring_conn_out(&x->conn->rc), "0\r\n\r\n", 5);
		x->bytes_out += 5;
	}
	x->streaming = false;
	x->responded = true;
	h1_response_complete(x);
	return ret;
}

/* ---- connection state ---- */

static uint64_t h1_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void h1_set_timer(struct h1_conn *c, enum h1_timer kind)
{
	const struct h1_server_config *cfg = c->srv->cfg;
	uint32_t ms;
	switch (kind) {
	case T_IDLE: ms = cfg->idle_timeout_ms; break;
	case T_HEADER:
		/* The head's clock starts at its first byte and is never
		 * pushed back: a trickle of bytes must not keep it alive. */
		if (c->timer == T_HEADER)
			return;
		ms = cfg->header_timeout_ms;
		break;
	case T_BODY: ms = cfg->body_timeout_ms; break;
	case T_SEND:
		ms = cfg->send_timeout_ms;
		c->send_mark = c->rc.bytes_out;
		break;
	default:
		c->timer = T_NONE;
		ring_conn_cancel_timer(&c->rc);
		return;
	}
	c->timer = (uint8_t)kind;
	ring_conn_set_timer(&c->rc, ms);
}

static void h1_reset_request(struct h1_conn *c)
{
	c->continue_sent = false;
	c->chunk_active = false;
	c->chunk_off = 0;
	c->body_len = 0;
	if (c->body_cap > RING_CHUNK_SIZE) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
}

/* Stop reading, answer with an error and close (used before a request
 * reaches the handler). */
static void h1_reject(struct h1_conn *c, int status, const char *message, int version_minor)
{
	struct http_exchange x = {.conn = c, .close = true, .start_ns = h1_now_ns()};
	x.req.version_minor = version_minor;
	x.req.method = HTTP_M_OTHER;
	http_respond_error(&x, status, (http_slice){0}, message);
	if (c->srv->handler.done)
		c->srv->handler.done(c->srv->handler.ctx, &x);
	c->done_reading = true;
	h1_set_timer(c, T_NONE);
	ring_conn_close_after_flush(&c->rc);
}

static void h1_parse_failed(struct h1_conn *c, enum http_error e)
{
	if (c->srv->handler.parse_error)
		c->srv->handler.parse_error(c->srv->handler.ctx, e);
	char msg[96];
	snprintf(msg, sizeof(msg), "malformed request: %s", http_error_name(e));
	h1_reject(c, http_error_status(e), msg, 1);
}

static void h1_send_continue(struct h1_conn *c)
{
	if (c->continue_sent)
		return;
	c->continue_sent = true;
	ring_outq_append(ring_conn_out(&c->rc), "HTTP/1.1 100 Continue\r\n\r\n", 25);
	ring_conn_flush(&c->rc);
}

static bool body_reserve(struct h1_conn *c, size_t extra)
{
	if (c->body_len + extra <= c->body_cap)
		return true;
	size_t cap = c->body_cap ? c->body_cap : 1024;
	while (cap < c->body_len + extra)
		cap *= 2;
	char *b = realloc(c->body, cap);
	if (!b)
		return false;
	c->body = b;
	c->body_cap = cap;
	return true;
}

/* The response to c->x is complete (queued). */
static void h1_exchange_done(struct h1_conn *c)
{
	struct h1_server *s = c->srv;
	struct http_exchange *x = &c->x;
	if (s->handler.done)
		s->handler.done(s->handler.ctx, x);
	h1_reset_request(c);
	if (x->close) {
		c->done_reading = true;
		ring_conn_close_after_flush(&c->rc);
	}
}

static void h1_process_in(struct h1_conn *c);
static void h1_after_input(struct h1_conn *c);

/*
 * A response finished.  Inside the handler h1_one takes it from here;
 * a later one (an upstream answered) completes the exchange and lets the
 * requests that waited behind it run, from the loop, not from inside the
 * caller's callback.
 */
static void h1_response_complete(struct http_exchange *x)
{
	struct h1_conn *c = x->conn;
	if (c->in_handler || !c->busy)
		return;
	c->busy = false;
	h1_exchange_done(c);
	ring_conn_flush_later(&c->rc);
	if (!c->done_reading)
		ring_defer(c->rc.loop, &c->resume);
}

static void h1_on_resume(struct ring_loop *loop, struct ring_defer *d)
{
	(void)loop;
	struct h1_conn *c = container_of(d, struct h1_conn, resume);
	if (c->done_reading || c->busy)
		return;
	if (c->paused && ring_conn_unsent(&c->rc) <= c->srv->cfg->out_high_water) {
		c->paused = false;
		ring_conn_resume_recv(&c->rc);
	}
	if (c->in_len)
		h1_process_in(c);
	h1_after_input(c);
}

/* The connection is going away while a response is still owed. */
static void h1_abandon(struct h1_conn *c)
{
	if (!c->busy)
		return;
	c->busy = false;
	c->done_reading = true;
	if (c->srv->handler.abort)
		c->srv->handler.abort(c->srv->handler.ctx, &c->x);
}

/*
 * Handle the request at the start of buf.  Returns the bytes it used, or
 * 0 when it needs more input (or the connection is finished).
 */
static size_t h1_one(struct h1_conn *c, const char *buf, size_t len)
{
	struct h1_server *s = c->srv;
	const struct http_limits *lim = &s->cfg->limits;
	struct http_header hdrs[H1_HEADER_SLOTS];
	unsigned cap = lim->max_headers < H1_HEADER_SLOTS ? lim->max_headers : H1_HEADER_SLOTS;
	struct http_exchange *xp = &c->x;
	memset(xp, 0, sizeof(*xp));
	xp->conn = c;
#define x (*xp)

	enum http_error e = http_parse_request(buf, len, lim, hdrs, cap, &x.req);
	if (e == HTTP_INCOMPLETE) {
		h1_set_timer(c, T_HEADER);
		return 0;
	}
	if (e != HTTP_OK) {
		h1_parse_failed(c, e);
		return 0;
	}

	size_t head = x.req.head_len, total = head;
	switch (x.req.body_kind) {
	case HTTP_BODY_NONE: x.body = (http_slice){buf + head, 0}; break;
	case HTTP_BODY_LENGTH:
		if (len - head < x.req.content_length) {
			if (x.req.expect_continue)
				h1_send_continue(c);
			h1_set_timer(c, T_BODY);
			return 0;
		}
		x.body = (http_slice){buf + head, (size_t)x.req.content_length};
		total += (size_t)x.req.content_length;
		break;
	case HTTP_BODY_CHUNKED:
		if (!c->chunk_active) {
			http_chunked_init(&c->chunked, lim);
			c->chunk_active = true;
			c->chunk_off = 0;
			c->body_len = 0;
		}
		for (;;) {
			size_t used = 0;
			http_slice piece = {0};
			const char *p = buf + head + c->chunk_off;
			size_t n = len - head - c->chunk_off;
			e = http_chunked_feed(&c->chunked, p, n, &used, &piece);
			if (e != HTTP_OK) {
				h1_parse_failed(c, e);
				return 0;
			}
			c->chunk_off += used;
			if (piece.len) {
				if (!body_reserve(c, piece.len)) {
					h1_reject(c, 503, "out of memory", x.req.version_minor);
					return 0;
				}
				memcpy(c->body + c->body_len, piece.base, piece.len);
				c->body_len += piece.len;
			}
			if (c->chunked.done || used == 0)
				break;
		}
		if (!c->chunked.done) {
			if (x.req.expect_continue)
				h1_send_continue(c);
			h1_set_timer(c, T_BODY);
			return 0;
		}
		x.body = (http_slice){c->body ? c->body : buf, c->body_len};
		total += c->chunk_off;
		break;
	}

	x.start_ns = h1_now_ns();
	x.close = !x.req.keep_alive || s->draining;
	/* Leave the old deadline in the heap: h1_after_input re-arms it right
	 * after the response, and pushing a deadline back costs nothing. */
	c->timer = T_NONE;
	c->in_handler = true;
	s->handler.request(s->handler.ctx, &x);
	c->in_handler = false;
	if (!x.responded) {
		/* Answered later (or streamed over time): the request's bytes are
		 * consumed now, its slices die with this buffer, and further
		 * input waits until the response is complete. */
		c->busy = true;
		h1_reset_request(c);
		return total;
	}
	h1_exchange_done(c);
	return total;
#undef x
}

static size_t h1_consume(struct h1_conn *c, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len && !c->done_reading && !c->busy) {
		size_t n = h1_one(c, buf + off, len - off);
		if (n == 0)
			break;
		off += n;
	}
	return off;
}

static bool in_reserve(struct h1_conn *c, size_t extra)
{
	if (c->in_len + extra <= c->in_cap)
		return true;
	size_t cap = c->in_cap ? c->in_cap : 2048;
	while (cap < c->in_len + extra)
		cap *= 2;
	char *b = realloc(c->in, cap);
	if (!b)
		return false;
	c->in = b;
	c->in_cap = cap;
	return true;
}

static void in_release(struct h1_conn *c)
{
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
}

static void h1_after_input(struct h1_conn *c)
{
	if (c->done_reading)
		return;
	struct ring_conn *rc = &c->rc;
	if (!c->busy && c->in_len == 0 && c->timer == T_NONE)
		h1_set_timer(c, ring_conn_unsent(rc) == 0 ? T_IDLE : T_SEND);
	if (ring_conn_unsent(rc) > c->srv->cfg->out_high_water && !c->paused) {
		c->paused = true;
		ring_conn_pause_recv(rc);
	}
	ring_conn_flush_later(rc);
}

static void h1_process_in(struct h1_conn *c)
{
	size_t used = h1_consume(c, c->in, c->in_len);
	if (c->done_reading || used == c->in_len) {
		in_release(c);
	} else if (used) {
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
}

static void h1_on_recv(struct ring_conn *rc, const char *data, size_t len)
{
	struct h1_conn *c = container_of(rc, struct h1_conn, rc);
	if (c->done_reading)
		return;
	const struct http_limits *lim = &c->srv->cfg->limits;

	if (c->in_len == 0 && !c->busy) {
		size_t used = h1_consume(c, data, len);
		if (!c->done_reading && used < len) {
			if (!in_reserve(c, len - used)) {
				h1_reject(c, 503, "out of memory", 1);
				return;
			}
			memcpy(c->in, data + used, len - used);
			c->in_len = len - used;
		}
	} else {
		/* One request's worth plus one receive of pipelined input is
		 * the most a well-behaved client can have outstanding. */
		size_t ceiling = lim->max_header_bytes + lim->max_body + lim->max_chunk_meta +
				 c->rc.loop->bufs.size;
		if (c->in_len + len > ceiling) {
			h1_abandon(c);
			h1_reject(c, 413, "request too large", 1);
			return;
		}
		if (!in_reserve(c, len)) {
			h1_abandon(c);
			h1_reject(c, 503, "out of memory", 1);
			return;
		}
		memcpy(c->in + c->in_len, data, len);
		c->in_len += len;
		if (c->busy) {
			/* Pipelined requests behind one still being answered wait
			 * here; past a bound, the socket holds the rest. */
			if (c->in_len >= H1_BUSY_INPUT_MAX && !c->paused) {
				c->paused = true;
				ring_conn_pause_recv(rc);
			}
			return;
		}
		h1_process_in(c);
	}
	if (c->done_reading)
		in_release(c);
	h1_after_input(c);
}

static void h1_on_eof(struct ring_conn *rc, int err)
{
	struct h1_conn *c = container_of(rc, struct h1_conn, rc);
	/* A client that leaves while its answer is pending cancels it (as
	 * nginx and Go's net/http do).  Responses already queued still go out
	 * when the client only half closed; a reset socket cannot take them. */
	h1_abandon(c);
	c->done_reading = true;
	if (err == 0 && ring_conn_unsent(rc) != 0)
		ring_conn_close_after_flush(rc);
	else
		ring_conn_close(rc);
}

static void h1_on_drained(struct ring_conn *rc)
{
	struct h1_conn *c = container_of(rc, struct h1_conn, rc);
	if (c->busy)
		return; /* the exchange's owner decides what comes next */
	if (c->paused) {
		c->paused = false;
		ring_conn_resume_recv(rc);
	}
	if (c->in_len == 0 && !c->chunk_active) {
		if (c->srv->draining) {
			c->done_reading = true;
			ring_conn_close_after_flush(rc);
			return;
		}
		h1_set_timer(c, T_IDLE);
	}
}

static void h1_on_timeout(struct ring_conn *rc)
{
	struct h1_conn *c = container_of(rc, struct h1_conn, rc);
	enum h1_timer kind = (enum h1_timer)c->timer;
	c->timer = T_NONE;
	if (kind == T_SEND && rc->bytes_out != c->send_mark) {
		/* The client reads, only slower than we write (a large response
		 * waits in the queue): the timeout is for one that stopped. */
		h1_set_timer(c, T_SEND);
		return;
	}
	static const enum h1_timeout_kind as_metric[] = {
		[T_NONE] = H1_TIMEOUT_IDLE,     [T_IDLE] = H1_TIMEOUT_IDLE,
		[T_HEADER] = H1_TIMEOUT_HEADER, [T_BODY] = H1_TIMEOUT_BODY,
		[T_SEND] = H1_TIMEOUT_SEND,
	};
	if (kind != T_NONE && c->srv->handler.timed_out)
		c->srv->handler.timed_out(c->srv->handler.ctx, as_metric[kind]);
	switch (kind) {
	case T_NONE:
		/* A deadline left in place while a request was being handled. */
		break;
	case T_HEADER:
	case T_BODY:
		in_release(c);
		h1_reject(c, 408,
			  kind == T_BODY ? "request body timeout" : "request header timeout", 1);
		break;
	default:
		/* Idle, or a client that stopped reading its responses. */
		h1_abandon(c);
		c->done_reading = true;
		ring_conn_close(rc);
		break;
	}
}

static void h1_on_release(struct ring_conn *rc)
{
	struct h1_conn *c = container_of(rc, struct h1_conn, rc);
	struct h1_server *s = c->srv;
	h1_abandon(c);
	ring_defer_cancel(rc->loop, &c->resume);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->in);
	free(c->body);
	if (s->handler.conn_close)
		s->handler.conn_close(s->handler.ctx);
	free(c);
}

static const struct ring_conn_ops h1_conn_ops = {
	.recv = h1_on_recv,
	.eof = h1_on_eof,
	.drained = h1_on_drained,
	.timeout = h1_on_timeout,
	.release = h1_on_release,
};

void h1_server_init(struct h1_server *s, struct ring_loop *loop, const struct h1_server_config *cfg,
		    const struct h1_handler *handler)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->cfg = cfg;
	s->handler = *handler;
	s->date_s = -1;
}

struct ring_conn *h1_server_accept(struct h1_server *s, int fd)
{
	struct h1_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->srv = s;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (s->handler.conn_open)
		s->handler.conn_open(s->handler.ctx);
	c->resume.fn = h1_on_resume;
	ring_conn_start(&c->rc, s->loop, &s->chunks, fd, &h1_conn_ops);
	h1_set_timer(c, T_IDLE);
	if (s->draining) {
		c->done_reading = true;
		ring_conn_close(&c->rc);
		return NULL;
	}
	return &c->rc;
}

struct ring_conn *http_exchange_transport(struct http_exchange *x)
{
	return &x->conn->rc;
}

void h1_server_drain(struct h1_server *s)
{
	s->draining = true;
	for (struct h1_conn *c = s->conns; c; c = c->next) {
		if (ring_conn_closing(&c->rc))
			continue;
		bool idle = !c->busy && c->in_len == 0 && !c->chunk_active &&
			    ring_conn_unsent(&c->rc) == 0 && !(c->rc.flags & RC_SENDING);
		if (idle) {
			c->done_reading = true;
			ring_conn_close_after_flush(&c->rc);
		}
	}
}

void h1_server_abort_all(struct h1_server *s)
{
	for (struct h1_conn *c = s->conns; c; c = c->next) {
		h1_abandon(c);
		c->done_reading = true;
		ring_conn_close(&c->rc);
	}
}

void h1_server_destroy(struct h1_server *s)
{
	assert(s->conns == NULL);
	ring_chunks_drain(&s->chunks);
}
