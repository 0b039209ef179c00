/*
 * worker.h - one pinned thread with its own io_uring, connections,
 * metrics shard and jemalloc arena.
 *
 * Workers share nothing mutable.  The main thread talks to a worker only
 * through its control eventfd (drain, abort), and a worker reads other
 * workers' metrics shards only with relaxed loads.
 */
#ifndef RINGGATE_WORKER_H
#define RINGGATE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "gateway/config.h"
#include "gateway/metrics.h"
#include "grpc/pb_json.h"
#include "grpc/upstream.h"
#include "http/h1_server.h"
#include "ring/listener.h"
#include "ring/ring.h"
#include "tls/tls.h"

struct gw_snapshot;
struct gw_runtime;

/* Control messages written to a worker's eventfd (values add up, so each
 * is a distinct bit and a read sees every one sent since the last). */
#define GW_CTL_DRAIN 1u
#define GW_CTL_ABORT 2u

struct worker {
	unsigned id;
	int cpu;
	pthread_t thread;
	struct gw_runtime *rt;
	const struct gw_snapshot *snap; /* swapped whole on reload */

	struct ring_loop loop;
	struct h1_server http;
	struct ring_listener listeners[GW_MAX_LISTENERS];
	int listen_fds[GW_MAX_LISTENERS];
	unsigned nlisteners;
	unsigned max_conns;
	/* Per listener: its TLS settings as this worker last saw them. */
	struct tls_server_view tls_views[GW_MAX_LISTENERS];

	int ctl_fd;
	uint64_t ctl_value;
	struct ring_op ctl_op;
	struct ring_timer drain_deadline;
	bool draining;

	/* This worker's connections to each configured upstream. */
	struct upstream *upstreams;
	unsigned nupstreams;
	bool upstreams_stopped;
	struct ring_timer stop_poll; /* waits for upstream sockets to close */
	uint64_t reqid_seed, reqid_counter;
	/* api_call.c's finished calls kept for reuse, and its buffer for the
	 * protobuf of a request being built: both stay warm in the cache. */
	struct gw_call *call_pool;
	unsigned call_pool_len;
	struct pb_buf req_scratch;

	unsigned arena; /* jemalloc arena index (0 if jemalloc is off) */
	struct gw_metrics metrics;

	/* Start-up handshake with the main thread. */
	int start_error; /* 0 or -errno */
	const char *start_step;
};

/* Process-wide, read-only once the workers run. */
struct gw_runtime {
	const struct gw_config *cfg;
	const struct gw_snapshot *snap;
	struct worker *workers;
	unsigned nworkers;
	struct gw_metrics **shards;
	pthread_barrier_t started;
	/* TLS per listener (NULL: plain HTTP); reloaded on SIGHUP. */
	struct tls_server_slot *tls[GW_MAX_LISTENERS];
	/* TLS per upstream (NULL: h2c), index-aligned with cfg->upstreams. */
	struct tls_client *upstream_tls[GW_MAX_UPSTREAMS];
};

int gw_worker_spawn(struct worker *w);
/* Ask the worker to drain or abort (async-signal-safe: one write). */
void gw_worker_signal(struct worker *w, uint64_t ctl);

#endif
