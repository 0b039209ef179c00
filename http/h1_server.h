/*
 * h1_server.h - the server side of HTTP/1.1 over a ring_conn.
 *
 * Turns bytes into requests (keep-alive, pipelining with in-order
 * responses, Content-Length and chunked bodies, 100-continue, HEAD) and
 * responses into bytes (status line, cached Date, Content-Length or
 * chunked streaming).  It knows nothing of routes or gRPC: every complete
 * request goes to the handler, which answers through the http_respond*()
 * and http_stream_*() calls before returning.
 */
#ifndef RINGGATE_H1_SERVER_H
#define RINGGATE_H1_SERVER_H

#include "http/http_parser.h"
#include "ring/conn.h"

struct h1_conn;
struct h1_server;

/* Timeouts; defaults beside each (h1_server_config_default). */
struct h1_server_config {
	struct http_limits limits;
	uint32_t idle_timeout_ms;   /* 60 s keep-alive idle (nginx: 75 s)     */
	uint32_t header_timeout_ms; /* 10 s for a whole request head (slowloris) */
	uint32_t body_timeout_ms;   /* 30 s without body progress              */
	uint32_t send_timeout_ms;   /* 30 s without the client reading         */
	size_t out_high_water;      /* 1 MiB queued output: stop reading input */
};
extern const struct h1_server_config h1_server_config_default;

/*
 * One request and its response.  The request fields (req, body: slices
 * into receive buffers) are valid only during handler.request; the
 * exchange itself stays valid until its response is complete or
 * handler.abort ran, so a handler may answer later (an upstream call),
 * from any callback of the same worker.
 */
struct http_exchange {
	struct h1_conn *conn;
	struct http_request req;
	http_slice body;    /* the whole request body (decoded if chunked) */
	uint64_t start_ns;  /* CLOCK_MONOTONIC when the request was complete */
	int status;         /* set by the response call */
	bool close;         /* the connection closes after this response */
	bool responded;     /* a complete response (or stream end) is queued */
	bool streaming;     /* a chunked / close-delimited body is open */
	bool chunked;       /* the open stream uses chunked coding */
	uint64_t bytes_out; /* response bytes queued, head included */
	void *user;         /* the handler's own state for a later answer */
	uint32_t tag;       /* the handler's label for accounting (0: none) */
};

enum h1_timeout_kind {
	H1_TIMEOUT_HEADER, /* the head did not complete in time (slowloris) */
	H1_TIMEOUT_BODY,   /* the body stalled */
	H1_TIMEOUT_IDLE,   /* keep-alive connection unused */
	H1_TIMEOUT_SEND,   /* the client stopped reading */
	H1_TIMEOUT_COUNT_
};
const char *h1_timeout_name(enum h1_timeout_kind k);

struct h1_handler {
	/* A complete request.  Answer now, or return without answering and
	 * answer later; requests pipelined behind it wait until then. */
	void (*request)(void *ctx, struct http_exchange *x);
	/* The connection died before a later answer came: forget x (no
	 * response call may follow). */
	void (*abort)(void *ctx, struct http_exchange *x);
	/* A response is queued: for status and latency accounting. */
	void (*done)(void *ctx, const struct http_exchange *x);
	/* A request was rejected before reaching the handler. */
	void (*parse_error)(void *ctx, enum http_error e);
	/* A connection was closed by one of its timers. */
	void (*timed_out)(void *ctx, enum h1_timeout_kind kind);
	/* Connection opened / released (gauges). */
	void (*conn_open)(void *ctx);
	void (*conn_close)(void *ctx);
	void *ctx;
};

struct h1_server {
	struct ring_loop *loop;
	struct ring_chunks chunks;
	const struct h1_server_config *cfg;
	struct h1_handler handler;
	struct h1_conn *conns; /* all live connections, for drain */
	unsigned nconns;
	bool draining;

	/* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", rebuilt once a second. */
	char date_hdr[40];
	int64_t date_s;
};

void h1_server_init(struct h1_server *s, struct ring_loop *loop, const struct h1_server_config *cfg,
		    const struct h1_handler *handler);
/* Take an accepted socket.  Returns its transport, for a filter (TLS) to
 * be attached at once, or NULL when the socket was refused (draining, or
 * out of memory: it is closed then). */
struct ring_conn *h1_server_accept(struct h1_server *s, int fd);
/* Stop keep-alive: idle connections close now, busy ones after their
 * current response. */
void h1_server_drain(struct h1_server *s);
/* Close everything now (drain deadline passed). */
void h1_server_abort_all(struct h1_server *s);
void h1_server_destroy(struct h1_server *s);

/* ---- responses (call from the handler) ---- */

/* Status line and headers.  `extra` is zero or more complete
 * "Name: value\r\n" lines. */
struct http_body_ref {
	const void *data;
	size_t len;
	bool borrowed; /* data outlives the send: queue it without copying */
};

int http_respond(struct http_exchange *x, int status, const char *content_type,
		 http_slice extra_headers, struct http_body_ref body);

/* A JSON error body {"code":N,"message":"...","details":[]} per SPEC, with
 * the gRPC code matching the HTTP status. */
int http_respond_error(struct http_exchange *x, int status, http_slice extra_headers,
		       const char *message);

/* Streaming: chunked on HTTP/1.1, close-delimited on HTTP/1.0. */
int http_stream_begin(struct http_exchange *x, int status, const char *content_type,
		      http_slice extra_headers);
int http_stream_write(struct http_exchange *x, const void *data, size_t len);
int http_stream_end(struct http_exchange *x);

const char *http_reason(int status);

/* The connection an exchange arrived on (to ask its TLS layer about the
 * client's certificate). */
struct ring_conn *http_exchange_transport(struct http_exchange *x);

#endif
