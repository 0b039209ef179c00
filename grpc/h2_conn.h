/*
 * h2_conn.h - the client side of one HTTP/2 connection (RFC 9113) over a
 * ring_conn: streams, flow control, SETTINGS, PING keepalive, GOAWAY.
 *
 * It speaks HTTP/2, not gRPC: a stream is opened with a header list and
 * carries DATA both ways; the owner of a stream (a gRPC call) gets the
 * response headers, data and trailers through callbacks.
 *
 * Stream ownership: the caller embeds struct h2_stream in its own object.
 * The last callback a stream gets is one with end_stream set, or reset();
 * after it returns the connection never touches the stream again.  A stream
 * the owner cancels (h2_stream_cancel) gets no callback at all.
 *
 * Connection ownership: the pool embeds struct h2_conn; ops->release says
 * when it may be freed.
 */
#ifndef RINGGATE_H2_CONN_H
#define RINGGATE_H2_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "grpc/h2_flow.h"
#include "grpc/h2_frame.h"
#include "grpc/hpack.h"
#include "ring/conn.h"

struct h2_conn;
struct h2_stream;

struct h2_conn_config {
	/* What we advertise in SETTINGS (defaults in h2_conn_config_default). */
	uint32_t stream_window;       /* INITIAL_WINDOW_SIZE: 4 MiB, a LAN's BDP */
	uint32_t conn_window;         /* connection receive window: 16 MiB     */
	uint32_t max_frame_size;      /* MAX_FRAME_SIZE we accept: 16 KiB       */
	uint32_t header_table;        /* HEADER_TABLE_SIZE: 4096 (RFC default)  */
	uint32_t max_header_list;     /* MAX_HEADER_LIST_SIZE: 16 KiB           */
	uint32_t connect_timeout_ms;  /* 3 s                                 */
	uint32_t settings_timeout_ms; /* 10 s for the server's SETTINGS / ACK */
	uint32_t ping_interval_ms;    /* 30 s keepalive while streams are open; 0 = off */
	uint32_t ping_timeout_ms;     /* 10 s without a PING ACK: connection dead */
	uint32_t max_stream_id;       /* stop opening streams past this id      */
};
extern const struct h2_conn_config h2_conn_config_default;

enum h2_conn_state {
	H2C_CONNECTING, /* TCP connect in flight                       */
	H2C_OPEN,       /* preface sent; streams may be opened        */
	H2C_DRAINING,   /* GOAWAY received or ids exhausted: no new streams */
	H2C_CLOSED,     /* socket closing; waiting for release         */
};

struct h2_conn_ops {
	/* Connected: streams may be opened now. */
	void (*ready)(struct h2_conn *c);
	/* Capacity for new streams appeared (a stream ended, or the peer
	 * raised MAX_CONCURRENT_STREAMS). */
	void (*capacity)(struct h2_conn *c);
	/* No new streams will be accepted (GOAWAY, ids exhausted); open
	 * streams below the last id continue. */
	void (*draining)(struct h2_conn *c);
	/* The connection is gone: connect failure, protocol error, EOF or
	 * our own close.  Every stream has already had its reset(). */
	void (*closed)(struct h2_conn *c, int err, const char *why);
	/* Nothing refers to the connection any more: free it. */
	void (*release)(struct h2_conn *c);
};

/* reset() code when the connection itself was lost (no RST_STREAM was
 * received); outside the range of codes a peer sends in practice. */
#define H2_LOCAL_CONN_LOST 0xffffffffu

struct h2_stream_ops {
	/* A header block: the response headers, or (end_stream) trailers /
	 * a trailers-only response.  Pseudo-headers included. */
	void (*headers)(struct h2_stream *s, const struct hpack_header *h, size_t n,
			bool end_stream);
	/* Response body bytes, in order. */
	void (*data)(struct h2_stream *s, const uint8_t *p, size_t n, bool end_stream);
	/* The stream died: RST_STREAM from the peer (code), or the
	 * connection failed.  unprocessed: the server guarantees it did not
	 * act on the request (GOAWAY above its last id, REFUSED_STREAM), so
	 * a retry is safe. */
	void (*reset)(struct h2_stream *s, uint32_t code, bool unprocessed, const char *why);
};

enum h2_stream_state {
	H2S_IDLE,
	H2S_OPEN,
	H2S_HALF_CLOSED_LOCAL, /* we sent END_STREAM */
	H2S_CLOSED,
};

struct h2_stream {
	struct h2_conn *conn;
	const struct h2_stream_ops *ops;
	uint32_t id;
	uint8_t state;    /* enum h2_stream_state */
	bool got_headers; /* a non-informational HEADERS arrived */
	bool pending_end; /* send END_STREAM once pending is out */
	bool blocked;     /* on the connection's blocked list */
	struct h2_window send_win;
	struct h2_recv_window recv_win;
	struct ring_outq pending; /* DATA bytes waiting for window */
	struct h2_stream *hnext;  /* stream table chain */
	struct h2_stream *bnext;  /* blocked on the connection window */
};

#define H2_STREAM_BUCKETS 256u

struct h2_conn {
	struct ring_conn rc;
	const struct h2_conn_config *cfg;
	const struct h2_conn_ops *ops;
	enum h2_conn_state state;
	bool torn_down; /* streams failed and ops->closed called */
	int close_err;
	const char *close_why;

	struct hpack_encoder *enc;
	struct hpack_decoder *dec;
	struct h2_cont cont;
	/* A header block split over CONTINUATION frames is joined here. */
	uint8_t *hblock;
	size_t hblock_len, hblock_cap;
	bool hblock_end_stream;
	/* Decoded header strings that need storage. */
	char *scratch;

	/* Input that outlived its receive buffer (a partial frame). */
	uint8_t *in;
	size_t in_len, in_cap;
	bool preface_seen; /* the server's first SETTINGS arrived */
	bool settings_acked;

	/* Peer settings. */
	uint32_t peer_max_streams;
	uint32_t peer_initial_window;
	uint32_t peer_max_frame;

	struct h2_window send_win;
	struct h2_recv_window recv_win;

	uint32_t next_stream_id;
	uint32_t last_stream_id; /* highest id we opened */
	uint32_t goaway_last_id; /* from the peer's GOAWAY; UINT32_MAX if none */
	unsigned active;         /* open streams */
	struct h2_stream *buckets[H2_STREAM_BUCKETS];
	struct h2_stream *blocked_head, **blocked_tail;

	/* Keepalive and the SETTINGS deadline share one timer. */
	struct ring_timer timer;
	uint64_t ping_sent_ms; /* 0: no PING outstanding */
	uint64_t settings_deadline_ms;
	uint32_t ping_interval_ms; /* backs off after ENHANCE_YOUR_CALM */
	uint64_t ping_payload;

	/* Counters for /metrics. */
	uint64_t frames_in, frames_out, streams_opened;
};

/*
 * Start connecting.  addr must stay valid until ops->ready or
 * ops->closed.  Returns 0 or -errno (no callbacks then).
 */
int h2_conn_open(struct h2_conn *c, struct ring_loop *loop, struct ring_chunks *chunks,
		 const struct sockaddr *addr, socklen_t addrlen, const struct h2_conn_config *cfg,
		 const struct h2_conn_ops *ops);

/* Streams may be opened now (open, under the peer's limit, ids left). */
bool h2_conn_can_open(const struct h2_conn *c);

/*
 * Send GOAWAY(code) and close; open streams get reset() (unprocessed when
 * code is NO_ERROR and they got no response yet is not assumed: false).
 */
void h2_conn_close(struct h2_conn *c, uint32_t code, const char *why);

/* Stop opening streams; close once the last one ends. */
void h2_conn_drain(struct h2_conn *c);

/*
 * Open a stream with the request headers (pseudo-headers first, names
 * lowercase).  end_stream: no body follows.  Returns 0, -EAGAIN when
 * !h2_conn_can_open, -ENOMEM, or -E2BIG when the header block does not fit.
 */
int h2_stream_open(struct h2_conn *c, struct h2_stream *s, const struct h2_stream_ops *ops,
		   const struct hpack_header *h, size_t n, bool end_stream);

/* Queue body bytes (framed as DATA within the flow-control windows). */
int h2_stream_send(struct h2_stream *s, const void *data, size_t len, bool end_stream);

/* Reset the stream (RST_STREAM code) and forget it; no more callbacks. */
void h2_stream_cancel(struct h2_stream *s, uint32_t code);

#endif
