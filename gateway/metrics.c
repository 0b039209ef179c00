/*
 * metrics.c - recording into a shard and rendering the sum of all shards.
 */
#include "gateway/metrics.h"

#include <stddef.h>

#include "gateway/snapshot.h"
#include "gateway/worker.h"
#include "grpc/grpc_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double lat_bounds_s[GW_LAT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10,
};

void gw_metrics_observe(struct gw_metrics *m, int status, uint64_t latency_ns)
{
	unsigned cls = (status >= 100 && status < 600) ? (unsigned)status / 100 : 0;
	GW_METRIC_INC(m->requests[cls]);
	unsigned b = 0;
	double s = (double)latency_ns / 1e9;
	while (b < GW_LAT_BUCKETS && s > lat_bounds_s[b])
		b++;
	GW_METRIC_INC(m->lat_bucket[b]);
	GW_METRIC_ADD(m->lat_sum_ns, latency_ns);
}

struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Label values escaped per the exposition format: \\, \" and \n. */
static void sb_label(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			sb_printf(b, "\\%c", *s);
		else if (*s == '\n')
			sb_printf(b, "\\n");
		else
			sb_printf(b, "%c", *s);
	}
}

/* The io_uring loops, summed over workers: how often they wait, how many
 * completions a wait brings, and how many waits were stretched to gather a
 * batch under load (see ring/loop.c; --batch-wait). */
static void render_loops(const struct gw_runtime *rt, struct sbuf *b)
{
	uint64_t waits = 0, completions = 0, batched = 0;
	unsigned batch_wait_us = 0;
	for (unsigned w = 0; w < rt->nworkers; w++) {
		const struct ring_loop *l = &rt->workers[w].loop;
		waits += __atomic_load_n(&l->waits, __ATOMIC_RELAXED);
		completions += __atomic_load_n(&l->completions, __ATOMIC_RELAXED);
		batched += __atomic_load_n(&l->batched_waits, __ATOMIC_RELAXED);
		batch_wait_us = l->batch_wait_us; /* set before the workers run */
	}
	sb_printf(b,
		  "# HELP ringgate_loop_waits_total Times the workers' io_uring loops waited for "
		  "completions.\n"
		  "# TYPE ringgate_loop_waits_total counter\n"
		  "ringgate_loop_waits_total %llu\n"
		  "# HELP ringgate_loop_completions_total Completions the loops handled.\n"
		  "# TYPE ringgate_loop_completions_total counter\n"
		  "ringgate_loop_completions_total %llu\n"
		  "# HELP ringgate_loop_batched_waits_total Waits stretched under load to gather a "
		  "batch of completions.\n"
		  "# TYPE ringgate_loop_batched_waits_total counter\n"
		  "ringgate_loop_batched_waits_total %llu\n"
		  "# HELP ringgate_loop_batch_wait_seconds Longest stretch of a batched wait (0: "
		  "off, or the kernel has no minimum wait).\n"
		  "# TYPE ringgate_loop_batch_wait_seconds gauge\n"
		  "ringgate_loop_batch_wait_seconds %u.%06u\n",
		  (unsigned long long)waits, (unsigned long long)completions,
		  (unsigned long long)batched, batch_wait_us / 1000000u, batch_wait_us % 1000000u);
}

static void render_upstreams(const struct gw_runtime *rt, struct sbuf *b)
{
	const struct gw_config *cfg = rt->cfg;
	if (cfg->nupstreams == 0)
		return;
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} stats[] = {
#define STAT(f, t, h) {"ringgate_upstream_" #f, t, h, offsetof(struct upstream_stats, f)}
		STAT(open_conns, "gauge", "HTTP/2 connections open to the upstream."),
		STAT(connects, "counter", "Connections established."),
		STAT(connect_failures, "counter", "Connection attempts that failed."),
		STAT(goaways, "counter", "GOAWAY frames received."),
		STAT(calls, "counter", "gRPC calls started."),
		STAT(calls_queued, "counter", "Calls that waited for a free stream."),
		STAT(calls_rejected_queue_full, "counter", "Calls refused: wait queue full."),
		STAT(calls_unavailable, "counter", "Calls failed at once: no connection possible."),
		STAT(retries, "counter", "Calls replayed after GOAWAY or REFUSED_STREAM."),
#undef STAT
	};
	for (size_t k = 0; k < sizeof(stats) / sizeof(stats[0]); k++) {
		sb_printf(b, "# HELP %s%s %s\n# TYPE %s%s %s\n", stats[k].name,
			  strcmp(stats[k].type, "counter") == 0 ? "_total" : "", stats[k].help,
			  stats[k].name, strcmp(stats[k].type, "counter") == 0 ? "_total" : "",
			  stats[k].type);
		for (unsigned u = 0; u < cfg->nupstreams; u++) {
			uint64_t v = 0;
			for (unsigned w = 0; w < rt->nworkers; w++) {
				const struct worker *wk = &rt->workers[w];
				if (u >= wk->nupstreams || !wk->upstreams)
					continue;
				const uint64_t *f =
					(const uint64_t *)(const void *)((const char *)&wk
										 ->upstreams[u]
										 .stats +
									 stats[k].off);
				v += __atomic_load_n(f, __ATOMIC_RELAXED);
			}
			sb_printf(b, "%s%s{upstream=\"", stats[k].name,
				  strcmp(stats[k].type, "counter") == 0 ? "_total" : "");
			sb_label(b, cfg->upstreams[u]->name);
			sb_printf(b, "\"} %llu\n", (unsigned long long)v);
		}
	}
	sb_printf(b,
		  "# HELP ringgate_upstream_calls_in_flight gRPC calls started and not finished.\n"
		  "# TYPE ringgate_upstream_calls_in_flight gauge\n");
	for (unsigned u = 0; u < cfg->nupstreams; u++) {
		uint64_t started = 0, finished = 0;
		for (unsigned w = 0; w < rt->nworkers; w++) {
			const struct worker *wk = &rt->workers[w];
			if (u >= wk->nupstreams || !wk->upstreams)
				continue;
			started += UPSTREAM_STAT_GET(wk->upstreams[u].stats.calls);
			finished += UPSTREAM_STAT_GET(wk->upstreams[u].stats.calls_finished);
		}
		sb_printf(b, "ringgate_upstream_calls_in_flight{upstream=\"");
		sb_label(b, cfg->upstreams[u]->name);
		sb_printf(b, "\"} %llu\n", (unsigned long long)(started - finished));
	}
}

static void render_routes(const struct gw_runtime *rt, struct sbuf *b)
{
	const struct gw_api *api = &rt->snap->api;
	if (api->nroutes == 0)
		return;
	static const char *const cls[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	sb_printf(b, "# HELP ringgate_route_requests_total REST requests answered, by route "
		     "and status class.\n# TYPE ringgate_route_requests_total counter\n");
	for (unsigned r = 0; r < api->nroutes; r++) {
		for (int k = 1; k < 6; k++) {
			uint64_t v = 0;
			for (unsigned w = 0; w < rt->nworkers; w++) {
				uint64_t(*rs)[6] = rt->workers[w].metrics.route_status;
				if (rs)
					v += LOAD(rs[r][k]);
			}
			if (!v)
				continue;
			sb_printf(b, "ringgate_route_requests_total{route=\"");
			sb_label(b, api->routes[r].label);
			sb_printf(b, "\",code=\"%s\"} %llu\n", cls[k], (unsigned long long)v);
		}
	}
}

static void render_tls(const struct gw_runtime *rt, struct sbuf *b)
{
	struct tls_stats t;
	memset(&t, 0, sizeof(t));
	for (unsigned w = 0; w < rt->nworkers; w++)
		tls_stats_sum(&t, &rt->workers[w].metrics.tls);
	tls_stats_sum(&t, &tls_global_stats);
	static const char *const side[TLS_SIDE_COUNT_] = {"server", "client"};
	sb_printf(b, "# HELP ringgate_tls_handshakes_total Completed TLS handshakes, by side "
		     "(server: clients to us; client: us to upstreams), version and "
		     "resumption.\n# TYPE ringgate_tls_handshakes_total counter\n");
	for (int s = 0; s < TLS_SIDE_COUNT_; s++)
		for (int v = 0; v < 2; v++)
			for (int r = 0; r < 2; r++)
				if (t.ok[s][v][r] || (s == 0 && v == 1 && r == 0))
					sb_printf(b,
						  "ringgate_tls_handshakes_total{side=\"%s\","
						  "version=\"%s\",resumed=\"%s\"} %llu\n",
						  side[s], v ? "1.3" : "1.2", r ? "true" : "false",
						  (unsigned long long)t.ok[s][v][r]);
	sb_printf(b, "# HELP ringgate_tls_handshake_failures_total Failed TLS handshakes, by "
		     "side and reason.\n# TYPE ringgate_tls_handshake_failures_total counter\n");
	for (int s = 0; s < TLS_SIDE_COUNT_; s++)
		for (int f = 0; f < TLS_FAIL_COUNT_; f++)
			if (t.fail[s][f])
				sb_printf(b,
					  "ringgate_tls_handshake_failures_total{side=\"%s\","
					  "reason=\"%s\"} %llu\n",
					  side[s], tls_fail_name((enum tls_fail)f),
					  (unsigned long long)t.fail[s][f]);
	sb_printf(b, "# HELP ringgate_tls_record_errors_total Connections closed for a bad TLS "
		     "record after the handshake, by side.\n"
		     "# TYPE ringgate_tls_record_errors_total counter\n");
	for (int s = 0; s < TLS_SIDE_COUNT_; s++)
		sb_printf(b, "ringgate_tls_record_errors_total{side=\"%s\"} %llu\n", side[s],
			  (unsigned long long)t.record_errors[s]);
	sb_printf(b,
		  "# HELP ringgate_tls_reloads_total Certificate reloads (SIGHUP), by result.\n"
		  "# TYPE ringgate_tls_reloads_total counter\n"
		  "ringgate_tls_reloads_total{result=\"ok\"} %llu\n"
		  "ringgate_tls_reloads_total{result=\"failed\"} %llu\n",
		  (unsigned long long)t.reloads_ok, (unsigned long long)t.reloads_failed);
}

long gw_metrics_render(const struct gw_runtime *rt, char **out)
{
	unsigned n = rt->nworkers;
	struct gw_metrics sum;
	memset(&sum, 0, sizeof(sum));
	for (unsigned i = 0; i < n; i++) {
		const struct gw_metrics *m = &rt->workers[i].metrics;
		sum.conn_accepted += LOAD(m->conn_accepted);
		sum.conn_closed += LOAD(m->conn_closed);
		sum.conn_rejected += LOAD(m->conn_rejected);
		for (int k = 0; k < 6; k++)
			sum.requests[k] += LOAD(m->requests[k]);
		for (int k = 0; k <= GW_LAT_BUCKETS; k++)
			sum.lat_bucket[k] += LOAD(m->lat_bucket[k]);
		sum.lat_sum_ns += LOAD(m->lat_sum_ns);
		for (int k = 0; k < HTTP_E_COUNT_; k++)
			sum.parse_errors[k] += LOAD(m->parse_errors[k]);
		for (int k = 0; k < H1_TIMEOUT_COUNT_; k++)
			sum.timeouts[k] += LOAD(m->timeouts[k]);
		sum.bytes_out += LOAD(m->bytes_out);
		for (int k = 0; k < 17; k++)
			sum.grpc_codes[k] += LOAD(m->grpc_codes[k]);
	}

	struct sbuf b = {.cap = 8192};
	b.p = malloc(b.cap);
	if (!b.p)
		return -1;

	sb_printf(&b,
		  "# HELP ringgate_connections_open Client connections currently open.\n"
		  "# TYPE ringgate_connections_open gauge\n"
		  "ringgate_connections_open %llu\n",
		  (unsigned long long)(sum.conn_accepted - sum.conn_closed));
	sb_printf(&b,
		  "# HELP ringgate_connections_accepted_total Client connections accepted.\n"
		  "# TYPE ringgate_connections_accepted_total counter\n"
		  "ringgate_connections_accepted_total %llu\n",
		  (unsigned long long)sum.conn_accepted);
	sb_printf(&b,
		  "# HELP ringgate_connections_rejected_total Connections refused over "
		  "--max-connections.\n"
		  "# TYPE ringgate_connections_rejected_total counter\n"
		  "ringgate_connections_rejected_total %llu\n",
		  (unsigned long long)sum.conn_rejected);

	sb_printf(&b, "# HELP ringgate_http_requests_total HTTP requests answered, by status "
		      "class.\n# TYPE ringgate_http_requests_total counter\n");
	static const char *const cls[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	for (int k = 1; k < 6; k++)
		sb_printf(&b, "ringgate_http_requests_total{code=\"%s\"} %llu\n", cls[k],
			  (unsigned long long)sum.requests[k]);

	sb_printf(&b, "# HELP ringgate_http_request_duration_seconds Time from a complete "
		      "request head to its queued response.\n"
		      "# TYPE ringgate_http_request_duration_seconds histogram\n");
	uint64_t acc = 0;
	for (int k = 0; k < GW_LAT_BUCKETS; k++) {
		acc += sum.lat_bucket[k];
		sb_printf(&b, "ringgate_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			  lat_bounds_s[k], (unsigned long long)acc);
	}
	acc += sum.lat_bucket[GW_LAT_BUCKETS];
	sb_printf(&b,
		  "ringgate_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		  "ringgate_http_request_duration_seconds_sum %.9f\n"
		  "ringgate_http_request_duration_seconds_count %llu\n",
		  (unsigned long long)acc, (double)sum.lat_sum_ns / 1e9, (unsigned long long)acc);

	sb_printf(&b, "# HELP ringgate_http_parse_errors_total Requests rejected before routing, "
		      "by kind.\n# TYPE ringgate_http_parse_errors_total counter\n");
	for (int k = HTTP_E_METHOD; k < HTTP_E_COUNT_; k++)
		sb_printf(&b, "ringgate_http_parse_errors_total{kind=\"%s\"} %llu\n",
			  http_error_name((enum http_error)k),
			  (unsigned long long)sum.parse_errors[k]);

	sb_printf(&b, "# HELP ringgate_http_timeouts_total Connections closed by a timeout, by "
		      "kind.\n# TYPE ringgate_http_timeouts_total counter\n");
	for (int k = 0; k < H1_TIMEOUT_COUNT_; k++)
		sb_printf(&b, "ringgate_http_timeouts_total{kind=\"%s\"} %llu\n",
			  h1_timeout_name((enum h1_timeout_kind)k),
			  (unsigned long long)sum.timeouts[k]);

	sb_printf(&b,
		  "# HELP ringgate_http_response_bytes_total Response bytes queued.\n"
		  "# TYPE ringgate_http_response_bytes_total counter\n"
		  "ringgate_http_response_bytes_total %llu\n",
		  (unsigned long long)sum.bytes_out);

	sb_printf(&b, "# HELP ringgate_grpc_calls_total Upstream gRPC calls by final status.\n"
		      "# TYPE ringgate_grpc_calls_total counter\n");
	for (int k = 0; k < 17; k++)
		if (sum.grpc_codes[k])
			sb_printf(&b, "ringgate_grpc_calls_total{code=\"%s\"} %llu\n",
				  grpc_code_name(k), (unsigned long long)sum.grpc_codes[k]);
	render_routes(rt, &b);
	render_upstreams(rt, &b);
	render_tls(rt, &b);
	render_loops(rt, &b);

	if (b.failed) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return (long)b.len;
}
