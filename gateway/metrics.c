/*
 * metrics.c - recording into a shard and rendering the sum of all shards.
 */
#include "gateway/metrics.h"

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

long gw_metrics_render(struct gw_metrics *const *shards, unsigned n, unsigned open_conns_hint,
		       char **out)
{
	(void)open_conns_hint;
	struct gw_metrics sum;
	memset(&sum, 0, sizeof(sum));
	for (unsigned i = 0; i < n; i++) {
		const struct gw_metrics *m = shards[i];
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
	}

	struct sbuf b = {.cap = 8192};
	b.p = malloc(b.cap);
	if (!b.p)
		return -1;

	sb_printf(&b, "# HELP ringgate_connections_open Client connections currently open.\n"
		      "# TYPE ringgate_connections_open gauge\n"
		      "ringgate_connections_open %llu\n",
		  (unsigned long long)(sum.conn_accepted - sum.conn_closed));
	sb_printf(&b, "# HELP ringgate_connections_accepted_total Client connections accepted.\n"
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
			  http_error_name((enum http_error)k), (unsigned long long)sum.parse_errors[k]);

	sb_printf(&b, "# HELP ringgate_http_timeouts_total Connections closed by a timeout, by "
		      "kind.\n# TYPE ringgate_http_timeouts_total counter\n");
	for (int k = 0; k < H1_TIMEOUT_COUNT_; k++)
		sb_printf(&b, "ringgate_http_timeouts_total{kind=\"%s\"} %llu\n",
			  h1_timeout_name((enum h1_timeout_kind)k), (unsigned long long)sum.timeouts[k]);

	sb_printf(&b, "# HELP ringgate_http_response_bytes_total Response bytes queued.\n"
		      "# TYPE ringgate_http_response_bytes_total counter\n"
		      "ringgate_http_response_bytes_total %llu\n",
		  (unsigned long long)sum.bytes_out);

	if (b.failed) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return (long)b.len;
}
