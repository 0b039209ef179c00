/*
 * metrics.h - per-worker counters, summed only when /metrics is scraped.
 *
 * Each worker writes its own shard and nobody else writes it, so the hot
 * path is a plain load and store (relaxed atomics, which compile to plain
 * moves but keep the cross-thread reads of a scrape well defined).  A
 * scrape on any worker reads every shard; the numbers are each exact and
 * together a moment's snapshot, which is all Prometheus asks.
 */
#ifndef RINGGATE_METRICS_H
#define RINGGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "http/h1_server.h"
#include "tls/tls.h"

/* Request latency buckets, seconds (upper bounds; +Inf is implicit). */
#define GW_LAT_BUCKETS 16

struct gw_metrics {
	uint64_t conn_accepted;
	uint64_t conn_closed;
	uint64_t conn_rejected; /* over --max-connections */
	uint64_t requests[6];   /* by status class: [1] 1xx ... [5] 5xx, [0] other */
	uint64_t lat_bucket[GW_LAT_BUCKETS + 1];
	uint64_t lat_sum_ns;
	uint64_t parse_errors[HTTP_E_COUNT_];
	uint64_t timeouts[H1_TIMEOUT_COUNT_];
	uint64_t bytes_out;
	uint64_t grpc_codes[17];     /* final status of upstream calls, by code */
	uint64_t (*route_status)[6]; /* [api route][status class], owned by the worker */
	struct tls_stats tls;        /* server-side handshakes */
} __attribute__((aligned(64)));

#define GW_METRIC_ADD(field, n)                                                                    \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n),              \
			 __ATOMIC_RELAXED)
#define GW_METRIC_INC(field) GW_METRIC_ADD(field, 1)

void gw_metrics_observe(struct gw_metrics *m, int status, uint64_t latency_ns);

struct gw_runtime;

/* Render the sum of every worker's shard, and the upstreams' counters, in
 * Prometheus text format 0.0.4 into a malloc'd buffer; returns its length
 * or -1. */
long gw_metrics_render(const struct gw_runtime *rt, char **out);

#endif
