/*
 * upstream.h - a worker's connections to one gRPC backend service.
 *
 * An upstream has one or more endpoints (host:port); the worker keeps
 * conns_per_endpoint HTTP/2 connections to each, opened at start and
 * re-opened with jittered exponential backoff when they fail.  A call goes
 * to the open connection with the fewest streams in flight (round robin
 * among equals), within the server's MAX_CONCURRENT_STREAMS; when every
 * connection is full it waits in a bounded queue (overflow:
 * RESOURCE_EXHAUSTED), and when no connection can be made at all it fails
 * at once with UNAVAILABLE instead of waiting for its deadline.
 *
 * Per worker, no locks: each worker builds its own struct upstream from
 * the shared, read-only struct upstream_config.
 */
#ifndef RINGGATE_UPSTREAM_H
#define RINGGATE_UPSTREAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "grpc/grpc_call.h"
#include "grpc/h2_conn.h"

#define UPSTREAM_MAX_ENDPOINTS 64

struct upstream_endpoint {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char name[96]; /* as configured: "host:port" */
};

struct upstream_config {
	char name[64];
	struct upstream_endpoint endpoints[UPSTREAM_MAX_ENDPOINTS];
	unsigned nendpoints;
	unsigned conns_per_endpoint; /* 1: HTTP/2 multiplexes; more spreads load */
	unsigned max_queue;          /* 1024 calls waiting for a stream slot   */
	uint32_t backoff_initial_ms; /* 100 ms, doubling ...                   */
	uint32_t backoff_max_ms;     /* ... up to 5 s, +-20% jitter            */
	uint32_t max_recv_message;   /* 16 MiB largest response message        */
	uint32_t default_timeout_ms; /* 0: calls without a deadline have none   */
	char authority[256];         /* :authority; default: first endpoint    */
	struct h2_conn_config h2;
	/* Puts each new connection under a transport (TLS) right after its
	 * connect starts; NULL: cleartext HTTP/2 (h2c).  0 or -errno. */
	int (*secure)(void *arg, struct ring_conn *rc, unsigned endpoint);
	void *secure_arg;
};

/* Defaults for everything but the endpoints. */
void upstream_config_init(struct upstream_config *cfg, const char *name);

/*
 * Add endpoints from "host:port[,host:port...]", resolving names now (at
 * start-up).  Returns 0, or -1 with a message naming the bad entry.
 */
int upstream_config_add_endpoints(struct upstream_config *cfg, const char *list, char *err,
				  size_t errlen);

struct upstream_conn;

struct upstream_slot {
	struct upstream_conn *conn; /* NULL while waiting to reconnect */
	unsigned ep;
	unsigned failures;   /* consecutive failed connects */
	uint64_t attempt_ms; /* loop time the last connect began */
	struct ring_timer retry;
	struct upstream *up;
	const char *last_error;
};

/*
 * Counters, written only by the owning worker and read by any worker's
 * /metrics scrape: updated with relaxed atomic stores (plain moves on
 * x86) and read with relaxed loads, so the cross-thread read is defined.
 */
struct upstream_stats {
	uint64_t calls, calls_finished, calls_queued, calls_rejected_queue_full;
	uint64_t calls_unavailable, retries, connects, connect_failures, goaways;
	uint64_t open_conns; /* gauge: connections that completed the preface */
};

#define UPSTREAM_STAT_ADD(field, n)                                                                \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n),              \
			 __ATOMIC_RELAXED)
#define UPSTREAM_STAT_INC(field) UPSTREAM_STAT_ADD(field, 1)
#define UPSTREAM_STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct upstream {
	const struct upstream_config *cfg;
	struct ring_loop *loop;
	struct ring_chunks *chunks;
	struct upstream_slot *slots;
	unsigned nslots;
	unsigned rr;
	uint64_t rng;
	struct grpc_call *qhead, **qtail;
	unsigned queued;
	unsigned live_conns; /* connections not yet released */
	bool stopping;
	struct upstream_stats stats;
};

int upstream_init(struct upstream *u, const struct upstream_config *cfg, struct ring_loop *loop,
		  struct ring_chunks *chunks);
/* Close every connection (calls fail UNAVAILABLE); live_conns reaches 0
 * once the sockets are closed. */
void upstream_stop(struct upstream *u);
void upstream_destroy(struct upstream *u);

/* For grpc_call: route a call to a connection, or queue it, or fail it. */
void upstream_submit(struct upstream *u, struct grpc_call *c);
void upstream_unqueue(struct upstream *u, struct grpc_call *c);

/* Connections open and ready for streams (for /readyz and tests). */
unsigned upstream_ready_conns(const struct upstream *u);

#endif
