/*
 * grpc_call.h - one gRPC call over an HTTP/2 stream of an upstream pool.
 *
 * The call frames request messages (1-byte flag, 4-byte length), builds
 * the request headers (path, authority, te: trailers, grpc-timeout,
 * metadata with -bin values in base64), reassembles response messages
 * across DATA frames, and turns trailers (or their absence, a reset, a
 * lost connection, the deadline) into exactly one final status.
 *
 *   start ──► [queued] ──► active ──► headers ─► message* ─► done(status)
 *                 │            └──────────────────────────► done(status)
 *                 └──────────────────────────────────────► done(status)
 *
 * No callback runs inside grpc_call_start(): a call that fails at once
 * (no connection possible, queue full) gets done() from the loop, after
 * start returned, so callers never re-enter themselves.
 * done() is always the last callback; after it the owner may free the
 * call.  grpc_call_cancel() ends a call silently (the HTTP client went
 * away): no callback follows it.  A call must not be freed from inside
 * its own headers() or message() callbacks.
 */
#ifndef RINGGATE_GRPC_CALL_H
#define RINGGATE_GRPC_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc/grpc_wire.h"
#include "grpc/h2_conn.h"

struct upstream;
struct grpc_call;

struct grpc_call_params {
	hpack_slice path;    /* "/package.Service/Method" */
	uint64_t timeout_ms; /* 0: no deadline */
	/* Custom metadata, names lowercase.  Values of "-bin" keys are raw
	 * bytes and go out base64-encoded. */
	const struct hpack_header *metadata;
	size_t nmetadata;
};

struct grpc_status_info {
	int code;            /* enum grpc_code */
	const char *message; /* decoded grpc-message (not NUL-terminated) */
	size_t message_len;
	const uint8_t *details; /* decoded grpc-status-details-bin */
	size_t details_len;
	const struct hpack_header *trailers; /* every trailer field as received */
	size_t ntrailers;
	bool from_server; /* false: synthesised here (deadline, reset, ...) */
};

struct grpc_call_ops {
	/* Response headers (initial metadata), pseudo-headers removed. */
	void (*headers)(struct grpc_call *c, const struct hpack_header *h, size_t n);
	/* One complete response message. */
	void (*message)(struct grpc_call *c, const uint8_t *p, size_t n);
	/* The final status. */
	void (*done)(struct grpc_call *c, const struct grpc_status_info *st);
};

enum grpc_call_state { GC_NEW, GC_QUEUED, GC_ACTIVE, GC_FAILING, GC_DONE };

struct grpc_call {
	struct h2_stream stream;
	struct upstream *up;
	const struct grpc_call_ops *ops;
	void *user;
	struct grpc_call_params params; /* caller's memory, valid until done */
	uint8_t state;                  /* enum grpc_call_state */
	uint8_t attempts;
	bool got_headers;
	bool req_end;   /* the last request message is queued */
	bool retryable; /* the request bytes are all still in req */

	/* Framed request bytes, kept until the server answers so that an
	 * unprocessed stream (GOAWAY, REFUSED_STREAM) can be replayed. */
	uint8_t *req;
	size_t req_len, req_cap;

	/* Response deframing. */
	uint8_t prefix[5];
	unsigned prefix_have;
	uint8_t *msg;
	size_t msg_len, msg_have;
	int http_status;
	bool bad_content_type;

	uint64_t deadline_at;         /* loop ms; 0 none */
	struct ring_defer fail_defer; /* an immediate failure, delivered later */
	int fail_code;
	char fail_msg[160];
	struct ring_timer deadline;
	struct grpc_call *qnext, **qprev; /* the upstream's wait queue */
	uint64_t started_ns;
};

/*
 * Start a call with its first request message (msg may be NULL/0 for an
 * empty message; last: no more messages follow).  done() may run before
 * this returns (no upstream connection possible, queue full); the return
 * value is 0 either way, or -EINVAL for bad parameters (no callback).
 */
int grpc_call_start(struct upstream *up, struct grpc_call *c, const struct grpc_call_params *p,
		    const struct grpc_call_ops *ops, const void *msg, size_t len, bool last);
/* Whether done() has run (or the call was cancelled). */
static inline bool grpc_call_finished(const struct grpc_call *c)
{
	return c->state == GC_DONE;
}

/* Another request message (client streaming). */
int grpc_call_send(struct grpc_call *c, const void *msg, size_t len, bool last);

/* End the call now, silently (RST_STREAM CANCEL if it is on the wire). */
void grpc_call_cancel(struct grpc_call *c);

/* Used by the upstream pool. */
void grpc_call_fail(struct grpc_call *c, int code, const char *message);
/* The same, from the loop's next pass (for failures found while the
 * caller is still inside grpc_call_start). */
void grpc_call_fail_later(struct grpc_call *c, int code, const char *message);
int grpc_call_begin(struct grpc_call *c, struct h2_conn *conn, const char *authority,
		    size_t authority_len);

#endif
