/*
 * conn.h - a stream socket driven by the loop: the byte transport that
 * protocols (HTTP/1.1 server side, HTTP/2 client side) talk through.
 *
 * A protocol never touches the socket.  It gets bytes through ops->recv,
 * writes its output into ring_conn_out(), and asks for a flush; the conn
 * keeps one send in flight at a time (ordering), sends everything queued
 * with one sendmsg of iovecs, and closes gracefully or abortively.  A
 * filter (TLS) slots in between: it decrypts before ops->recv and turns
 * the protocol's queue into wire bytes at flush, and the protocol code
 * does not change.
 *
 * Receives are multishot into the worker's provided buffers; the data
 * passed to ops->recv lives in such a buffer and is handed back to the
 * kernel when the callback returns: copy what must outlive the call.
 *
 * Lifetime: the owner embeds struct ring_conn, calls ring_conn_close*(),
 * and frees the object in ops->release, which runs once every operation
 * the conn had in the kernel has completed.
 */
#ifndef RINGGATE_CONN_H
#define RINGGATE_CONN_H

#include "ring/outq.h"
#include "ring/ring.h"

#include <sys/socket.h>

struct ring_conn;

struct ring_conn_ops {
	/* Bytes arrived; valid only during the call. */
	void (*recv)(struct ring_conn *c, const char *data, size_t len);
	/* The peer closed its side (err 0) or the socket failed (-errno).
	 * The protocol decides: close, or finish sending first. */
	void (*eof)(struct ring_conn *c, int err);
	/* The send queue became empty (streaming writers refill here). */
	void (*drained)(struct ring_conn *c);
	/* The conn's timer fired (protocol timeouts). */
	void (*timeout)(struct ring_conn *c);
	/* Nothing is in flight any more; free the owning object. */
	void (*release)(struct ring_conn *c);
	/* Outgoing connections only: the connect finished (0) or failed
	 * (-errno, -ETIMEDOUT after the connect timeout).  After a failure
	 * the conn is closed; release follows. */
	void (*connected)(struct ring_conn *c, int err);
};

/*
 * A transform between the socket and the protocol (TLS).  Received bytes
 * go to input(), which hands plaintext on with ring_conn_deliver(); at
 * each flush output() moves the protocol's queue (out) into wire form in
 * the conn's wire queue, which is what gets sent.
 */
struct ring_filter_ops {
	/* Wire bytes arrived (valid during the call).  Returns 0, 1 when the
	 * peer ended the stream cleanly, or -errno (fatal). */
	int (*input)(struct ring_conn *c, const char *data, size_t len);
	/* Turn queued plaintext into wire bytes.  0 or -errno. */
	int (*output)(struct ring_conn *c);
	/* Outgoing conns: the TCP connect completed; start the handshake and
	 * report its outcome with ring_conn_ready(). */
	void (*connected)(struct ring_conn *c);
	/* A graceful close: queue the closing message after the data. */
	void (*shutdown)(struct ring_conn *c);
	/* Nothing is in flight any more, just before ops->release. */
	void (*release)(struct ring_conn *c);
};

enum ring_conn_flags {
	RC_RECV_ARMED = 1u << 0,  /* a multishot recv is in the kernel       */
	RC_RECV_PAUSED = 1u << 1, /* the protocol asked for no more input   */
	RC_SENDING = 1u << 2,     /* a sendmsg is in the kernel              */
	RC_CLOSING = 1u << 3,     /* close requested: no more callbacks      */
	RC_FD_CLOSED = 1u << 4,   /* close submitted                         */
	RC_LINGER = 1u << 5,      /* after the last send: shut WR, drain in  */
	RC_FLUSH_THEN_LINGER = 1u << 6,
	RC_STARVED = 1u << 7,      /* recv ended with ENOBUFS, waiting on pool */
	RC_CONNECTING = 1u << 8,   /* outgoing connect in flight: hold sends */
	RC_SHUTTING = 1u << 9,     /* shutdown in the kernel: the close waits  */
	RC_AWAIT_READY = 1u << 10, /* connected, the filter's handshake runs */
};

struct ring_conn {
	struct ring_loop *loop;
	const struct ring_conn_ops *ops;
	int fd;
	unsigned flags;
	unsigned inflight; /* operations whose last CQE has not arrived */

	struct ring_op recv_op, send_op, close_op, shut_op, connect_op;
	struct __kernel_timespec connect_ts; /* the linked timeout reads it */
	struct ring_timer timer;             /* the protocol's, then the close's */
	struct ring_timer starve_timer;      /* retry after ENOBUFS */
	struct ring_defer flush_defer;
	struct ring_outq out; /* what the protocol wrote */

	/* With a filter, out is transformed into wire before sending. */
	const struct ring_filter_ops *filter;
	void *filter_ctx;
	struct ring_outq wire;

	struct msghdr msg; /* must stay put while the send is in flight */
	struct iovec iov[8];

	uint64_t bytes_in, bytes_out;
};

/* Lingering close: how long to drain a client after our last byte, so a
 * response followed by close is not destroyed by an RST (RFC 9112 9.6). */
#define RING_LINGER_MS 2000u

/* Take over an accepted or connected socket and start receiving. */
void ring_conn_start(struct ring_conn *c, struct ring_loop *loop, struct ring_chunks *chunks,
		     int fd, const struct ring_conn_ops *ops);

static inline struct ring_outq *ring_conn_out(struct ring_conn *c)
{
	return &c->out;
}

/* Bytes written by the protocol or its filter and not yet sent. */
static inline size_t ring_conn_unsent(const struct ring_conn *c)
{
	return c->out.bytes + c->wire.bytes;
}

/* Put a filter between the socket and the protocol.  Call right after
 * ring_conn_start / ring_conn_connect, before anything is received. */
void ring_conn_set_filter(struct ring_conn *c, const struct ring_filter_ops *filter, void *ctx);

/* For filters: hand plaintext to the protocol (dropped once closing). */
static inline void ring_conn_deliver(struct ring_conn *c, const char *data, size_t len)
{
	if (!(c->flags & (RC_CLOSING | RC_LINGER)))
		c->ops->recv(c, data, len);
}

/* For filters of outgoing conns: the handshake finished (0) or failed
 * (-errno, the conn is then closed); tells the protocol. */
void ring_conn_ready(struct ring_conn *c, int err);

/* For filters: a fatal error outside input() (a handshake timer).  The
 * protocol hears of it as ops->connected(err) while connecting, else as
 * ops->eof(err). */
void ring_conn_fail(struct ring_conn *c, int err);

/*
 * Connect a new non-blocking TCP socket to addr, with a timeout linked to
 * the connect (IOSQE_IO_LINK + link_timeout).  Output may be queued before
 * the connect completes; it is sent once it does.  *addr must stay valid
 * until ops->connected runs (endpoint addresses are long-lived).  Returns 0 (the outcome
 * arrives in ops->connected) or -errno when no socket could be made.
 */
int ring_conn_connect(struct ring_conn *c, struct ring_loop *loop, struct ring_chunks *chunks,
		      const struct sockaddr *addr, socklen_t addrlen, uint32_t timeout_ms,
		      const struct ring_conn_ops *ops);

/* Send what is queued now, or after the current batch of completions
 * (coalesces pipelined responses into one sendmsg). */
void ring_conn_flush(struct ring_conn *c);
void ring_conn_flush_later(struct ring_conn *c);

/* Stop / restart delivering input (backpressure). */
void ring_conn_pause_recv(struct ring_conn *c);
void ring_conn_resume_recv(struct ring_conn *c);

/* Close now: unsent output is dropped, pending operations cancelled. */
void ring_conn_close(struct ring_conn *c);
/* Send what is queued, shut down the write side, drain input briefly,
 * then close. */
void ring_conn_close_after_flush(struct ring_conn *c);

/* The protocol's timer (one per connection is enough: its meaning
 * follows the protocol state). */
void ring_conn_set_timer(struct ring_conn *c, uint64_t after_ms);
void ring_conn_cancel_timer(struct ring_conn *c);

static inline bool ring_conn_closing(const struct ring_conn *c)
{
	return (c->flags & RC_CLOSING) != 0;
}

#endif
