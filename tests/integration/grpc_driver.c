/*
 * grpc_driver.c - ringgate's gRPC client on the command line.
 *
 * The interop tests run it against real grpcio servers, and perf/ uses it
 * to measure the client alone.  It runs the same code a worker runs: one
 * io_uring loop, an upstream pool, grpc_call.  Results are printed as one
 * JSON object on stdout.
 *
 *   grpc_driver --upstream 127.0.0.1:50051 --path /pkg.Svc/Method
 *               [--data TEXT | --data-size N] [--metadata k=v ...]
 *               [--timeout-ms N] [--calls N] [--concurrency N]
 *               [--duration-ms N] [--bucket-ms N] [--conns N]
 *               [--ping-interval-ms N] [--ping-timeout-ms N]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "grpc/upstream.h"
#include "ring/ring.h"

#define MAX_META    32
#define MAX_BUCKETS 4096

struct driver;

struct dcall {
	struct grpc_call call;
	struct driver *d;
	unsigned index;
	uint64_t t0_ms;
	uint64_t messages, bytes, fnv;
	uint8_t first[256];
	size_t first_len;
	struct hpack_header hdrs[32];
	char hstore[4096];
	size_t nhdrs, hused;
};

struct driver {
	struct ring_loop loop;
	struct ring_chunks chunks;
	struct upstream up;
	struct upstream_config cfg;
	struct grpc_call_params params;
	struct hpack_header meta[MAX_META];
	uint8_t *data;
	size_t data_len;
	unsigned calls, concurrency, started, finished;
	uint64_t duration_ms, bucket_ms, t_start;
	bool single;
	struct ring_timer tick;
	uint64_t by_code[17];
	uint64_t buckets[MAX_BUCKETS][3]; /* ok, unavailable, other */
	uint64_t max_latency_ms;
	uint64_t total_messages, total_bytes;
	bool waited;
};

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void print_json_str(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_hex(const uint8_t *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('"');
}

static void print_pairs(const struct hpack_header *h, size_t n)
{
	putchar('[');
	for (size_t i = 0; i < n; i++) {
		printf(i ? ",[" : "[");
		print_json_str(h[i].name.base, h[i].name.len);
		putchar(',');
		print_json_str(h[i].value.base, h[i].value.len);
		putchar(']');
	}
	putchar(']');
}

static void start_next(struct driver *d);

static void on_headers(struct grpc_call *c, const struct hpack_header *h, size_t n)
{
	struct dcall *dc = container_of(c, struct dcall, call);
	for (size_t i = 0; i < n && dc->nhdrs < 32; i++) {
		size_t need = h[i].name.len + h[i].value.len;
		if (dc->hused + need > sizeof(dc->hstore))
			break;
		char *p = dc->hstore + dc->hused;
		memcpy(p, h[i].name.base, h[i].name.len);
		memcpy(p + h[i].name.len, h[i].value.base, h[i].value.len);
		dc->hdrs[dc->nhdrs++] = (struct hpack_header){
			{p, h[i].name.len}, {p + h[i].name.len, h[i].value.len}, 0};
		dc->hused += need;
	}
}

static void on_message(struct grpc_call *c, const uint8_t *p, size_t n)
{
	struct dcall *dc = container_of(c, struct dcall, call);
	if (dc->messages == 0) {
		dc->first_len = n < sizeof(dc->first) ? n : sizeof(dc->first);
		memcpy(dc->first, p, dc->first_len);
	}
	dc->messages++;
	dc->bytes += n;
	dc->fnv = fnv1a(dc->fnv, p, n);
}

static void on_done(struct grpc_call *c, const struct grpc_status_info *st)
{
	struct dcall *dc = container_of(c, struct dcall, call);
	struct driver *d = dc->d;
	d->finished++;
	int code = st->code >= 0 && st->code <= 16 ? st->code : 2;
	d->by_code[code]++;
	uint64_t now = d->loop.now_ms;
	uint64_t lat = now - dc->t0_ms;
	if (lat > d->max_latency_ms)
		d->max_latency_ms = lat;
	uint64_t b = (now - d->t_start) / d->bucket_ms;
	if (b < MAX_BUCKETS)
		d->buckets[b][code == 0 ? 0 : code == GRPC_UNAVAILABLE ? 1 : 2]++;
	d->total_messages += dc->messages;
	d->total_bytes += dc->bytes;

	if (d->single) {
		printf("{\"code\":%d,\"code_name\":\"%s\",\"from_server\":%s,\"message_hex\":",
		       code, grpc_code_name(code), st->from_server ? "true" : "false");
		print_hex((const uint8_t *)st->message, st->message_len);
		printf(",\"message\":");
		print_json_str(st->message ? st->message : "", st->message_len);
		printf(",\"details_hex\":");
		print_hex(st->details, st->details_len);
		printf(",\"headers\":");
		print_pairs(dc->hdrs, dc->nhdrs);
		printf(",\"trailers\":");
		print_pairs(st->trailers, st->ntrailers);
		printf(",\"messages\":%llu,\"bytes\":%llu,\"fnv\":\"%016llx\",\"first_hex\":",
		       (unsigned long long)dc->messages, (unsigned long long)dc->bytes,
		       (unsigned long long)dc->fnv);
		print_hex(dc->first, dc->first_len);
		printf(",\"latency_ms\":%llu}\n", (unsigned long long)lat);
	}
	free(dc);
	start_next(d);
	if (d->finished == d->started && d->started >= d->calls)
		d->loop.stop = true;
}

static const struct grpc_call_ops driver_call_ops = {
	.headers = on_headers,
	.message = on_message,
	.done = on_done,
};

static void start_next(struct driver *d)
{
	if (d->duration_ms) {
		if (d->loop.now_ms - d->t_start >= d->duration_ms) {
			d->calls = d->started;
			return;
		}
		d->calls = d->started + 1;
	}
	if (d->started >= d->calls)
		return;
	struct dcall *dc = calloc(1, sizeof(*dc));
	if (!dc) {
		fprintf(stderr, "grpc_driver: out of memory\n");
		exit(1);
	}
	dc->d = d;
	dc->index = d->started++;
	dc->t0_ms = d->loop.now_ms;
	dc->fnv = 0xcbf29ce484222325ull;
	grpc_call_start(&d->up, &dc->call, &d->params, &driver_call_ops, d->data, d->data_len,
			true);
}

static void on_tick(struct ring_loop *loop, struct ring_timer *t)
{
	struct driver *d = container_of(t, struct driver, tick);
	if (d->up.stopping) {
		/* Shutting down: wait for the connections to be released. */
		if (d->up.live_conns == 0)
			loop->stop = true;
		else
			ring_timer_set(loop, t, 5);
		return;
	}
	if (!d->waited) {
		/* Start once a connection is up (or has failed: then the
		 * calls show what a client sees while the backend is down). */
		if (upstream_ready_conns(&d->up) == 0 && d->up.stats.connect_failures == 0 &&
		    loop->now_ms - d->t_start < 5000) {
			ring_timer_set(loop, t, 5);
			return;
		}
		d->waited = true;
		d->t_start = loop->now_ms;
		for (unsigned i = 0; i < d->concurrency; i++)
			start_next(d);
		if (d->started == 0)
			loop->stop = true;
	}
}

static int parse_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

int main(int argc, char **argv)
{
	static struct driver d;
	static uint8_t binstore[MAX_META][512];
	upstream_config_init(&d.cfg, "driver");
	d.calls = 1;
	d.concurrency = 1;
	d.bucket_ms = 250;
	const char *upstream = NULL, *path = NULL;
	size_t nmeta = 0;
	static const struct option opts[] = {
		{"upstream", required_argument, NULL, 'u'},
		{"path", required_argument, NULL, 'p'},
		{"data", required_argument, NULL, 'd'},
		{"data-size", required_argument, NULL, 's'},
		{"metadata", required_argument, NULL, 'm'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"calls", required_argument, NULL, 'n'},
		{"concurrency", required_argument, NULL, 'c'},
		{"duration-ms", required_argument, NULL, 'D'},
		{"bucket-ms", required_argument, NULL, 'B'},
		{"conns", required_argument, NULL, 'C'},
		{"max-queue", required_argument, NULL, 'q'},
		{"backoff-max-ms", required_argument, NULL, 'b'},
		{"stream-window", required_argument, NULL, 'w'},
		{"ping-interval-ms", required_argument, NULL, 'P'},
		{"ping-timeout-ms", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': upstream = optarg; break;
		case 'p': path = optarg; break;
		case 'd':
			d.data = (uint8_t *)strdup(optarg);
			d.data_len = strlen(optarg);
			break;
		case 's':
			d.data_len = strtoull(optarg, NULL, 10);
			d.data = malloc(d.data_len ? d.data_len : 1);
			for (size_t i = 0; i < d.data_len; i++)
				d.data[i] = (uint8_t)(i * 31 + 7);
			break;
		case 'm': {
			char *eq = strchr(optarg, '=');
			if (!eq || nmeta == MAX_META) {
				fprintf(stderr, "grpc_driver: --metadata k=v\n");
				return 2;
			}
			*eq = '\0';
			struct hpack_header *h = &d.meta[nmeta];
			h->name = (hpack_slice){optarg, strlen(optarg)};
			if (grpc_key_is_binary(optarg, strlen(optarg))) {
				int n = parse_hex(eq + 1, binstore[nmeta], sizeof(binstore[0]));
				if (n < 0) {
					fprintf(stderr, "grpc_driver: -bin values are hex\n");
					return 2;
				}
				h->value = (hpack_slice){(const char *)binstore[nmeta], (size_t)n};
			} else {
				h->value = (hpack_slice){eq + 1, strlen(eq + 1)};
			}
			nmeta++;
			break;
		}
		case 't': d.params.timeout_ms = strtoull(optarg, NULL, 10); break;
		case 'n': d.calls = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': d.concurrency = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'D': d.duration_ms = strtoull(optarg, NULL, 10); break;
		case 'B': d.bucket_ms = strtoull(optarg, NULL, 10); break;
		case 'C': d.cfg.conns_per_endpoint = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'q': d.cfg.max_queue = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': d.cfg.backoff_max_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'w': d.cfg.h2.stream_window = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'P': d.cfg.h2.ping_interval_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'T': d.cfg.h2.ping_timeout_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!upstream || !path || d.concurrency == 0 || d.bucket_ms == 0) {
		fprintf(stderr, "grpc_driver: --upstream and --path are required\n");
		return 2;
	}
	char err[256];
	if (upstream_config_add_endpoints(&d.cfg, upstream, err, sizeof(err)) < 0) {
		fprintf(stderr, "grpc_driver: --upstream %s\n", err);
		return 2;
	}
	d.params.path = (hpack_slice){path, strlen(path)};
	d.params.metadata = d.meta;
	d.params.nmetadata = nmeta;
	d.single = d.calls == 1 && d.duration_ms == 0;

	struct ring_loop_params lp = {.sq_entries = 1024, .buf_count = 1024, .buf_size = 16384};
	if (ring_loop_init(&d.loop, &lp) < 0) {
		fprintf(stderr, "grpc_driver: io_uring set-up failed\n");
		return 1;
	}
	if (upstream_init(&d.up, &d.cfg, &d.loop, &d.chunks) < 0) {
		fprintf(stderr, "grpc_driver: upstream set-up failed\n");
		return 1;
	}
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	d.t_start = d.loop.now_ms;
	ring_timer_init(&d.tick, on_tick);
	ring_timer_set(&d.loop, &d.tick, 1);
	struct timespec w0, w1;
	clock_gettime(CLOCK_MONOTONIC, &w0);
	ring_loop_run(&d.loop);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	getrusage(RUSAGE_SELF, &r1);

	if (!d.single) {
		double wall =
			(double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
		double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
			     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
			     (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
			     (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
		printf("{\"calls\":%u,\"finished\":%u,\"seconds\":%.3f,\"calls_per_s\":%.1f,"
		       "\"cpu_us_per_call\":%.2f,\"max_latency_ms\":%llu,\"messages\":%llu,"
		       "\"bytes\":%llu,\"retries\":%llu,\"connects\":%llu,\"by_code\":{",
		       d.started, d.finished, wall, wall > 0 ? d.finished / wall : 0,
		       d.finished ? cpu * 1e6 / d.finished : 0,
		       (unsigned long long)d.max_latency_ms, (unsigned long long)d.total_messages,
		       (unsigned long long)d.total_bytes, (unsigned long long)d.up.stats.retries,
		       (unsigned long long)d.up.stats.connects);
		bool first = true;
		for (int i = 0; i <= 16; i++) {
			if (!d.by_code[i])
				continue;
			printf("%s\"%s\":%llu", first ? "" : ",", grpc_code_name(i),
			       (unsigned long long)d.by_code[i]);
			first = false;
		}
		printf("},\"timeline\":[");
		uint64_t nb = (d.loop.now_ms - d.t_start) / d.bucket_ms + 1;
		for (uint64_t b = 0; b < nb && b < MAX_BUCKETS; b++)
			printf("%s[%llu,%llu,%llu]", b ? "," : "",
			       (unsigned long long)d.buckets[b][0],
			       (unsigned long long)d.buckets[b][1],
			       (unsigned long long)d.buckets[b][2]);
		printf("]}\n");
	}

	/* Close the pool cleanly so sanitizer builds see no leak. */
	fflush(stdout);
	upstream_stop(&d.up);
	d.loop.stop = false;
	ring_timer_set(&d.loop, &d.tick, 1);
	ring_loop_run(&d.loop);
	upstream_destroy(&d.up);
	ring_chunks_drain(&d.chunks);
	ring_loop_destroy(&d.loop);
	free(d.data);
	return 0;
}
