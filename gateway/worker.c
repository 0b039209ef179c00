/*
 * worker.c - a worker thread's life: pin, arena, ring, listeners, loop,
 * drain, exit.
 */
#include "gateway/worker.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "gateway/api.h"
#include "gateway/log.h"
#include "gateway/snapshot.h"
#include "gateway/pipeline.h"

/*
 * A private arena per worker: allocations on the hot path never contend
 * with another worker's, and memory freed by a worker goes back to its
 * own arena.
 */
static int worker_bind_arena(struct worker *w)
{
#ifdef HAVE_JEMALLOC
	unsigned idx;
	size_t sz = sizeof(idx);
	if (mallctl("arenas.create", &idx, &sz, NULL, 0) != 0)
		return -ENOMEM;
	if (mallctl("thread.arena", NULL, NULL, &idx, sizeof(idx)) != 0)
		return -EINVAL;
	w->arena = idx;
#else
	(void)w;
#endif
	return 0;
}

static void worker_pin(struct worker *w)
{
	if (w->cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		gw_log(GW_LOG_WARN, "worker %u: cannot pin to CPU %d; running unpinned", w->id,
		       w->cpu);
}

static unsigned upstream_sockets(const struct worker *w)
{
	unsigned n = 0;
	for (unsigned i = 0; i < w->nupstreams; i++)
		n += w->upstreams[i].live_conns;
	return n;
}

/*
 * Draining ends in two steps: client connections finish (their calls
 * with them), then the upstream connections close.  The loop stops when
 * both are gone, so no socket is left to the kernel's mercy.
 */
static void worker_check_drained(struct worker *w)
{
	if (!w->draining || w->http.nconns != 0)
		return;
	if (!w->upstreams_stopped) {
		w->upstreams_stopped = true;
		for (unsigned i = 0; i < w->nupstreams; i++)
			upstream_stop(&w->upstreams[i]);
	}
	if (upstream_sockets(w) == 0)
		w->loop.stop = true;
	else
		ring_timer_set(&w->loop, &w->stop_poll, 5);
}

static void on_stop_poll(struct ring_loop *loop, struct ring_timer *t)
{
	(void)loop;
	worker_check_drained(container_of(t, struct worker, stop_poll));
}

/* ---- h1 hooks: metrics and the pipeline ---- */

static void hook_request(void *ctx, struct http_exchange *x)
{
	gw_pipeline_run(ctx, x);
}

static void hook_abort(void *ctx, struct http_exchange *x)
{
	gw_api_abort(ctx, x);
}

static void hook_done(void *ctx, const struct http_exchange *x)
{
	struct worker *w = ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	gw_metrics_observe(&w->metrics, x->status, now_ns > x->start_ns ? now_ns - x->start_ns : 0);
	if (x->tag && w->metrics.route_status) {
		unsigned cls = x->status >= 100 && x->status < 600 ? (unsigned)x->status / 100 : 0;
		GW_METRIC_INC(w->metrics.route_status[x->tag - 1][cls]);
	}
	GW_METRIC_ADD(w->metrics.bytes_out, x->bytes_out);
}

static void hook_parse_error(void *ctx, enum http_error e)
{
	struct worker *w = ctx;
	if (e < HTTP_E_COUNT_)
		GW_METRIC_INC(w->metrics.parse_errors[e]);
}

static void hook_timed_out(void *ctx, enum h1_timeout_kind kind)
{
	struct worker *w = ctx;
	GW_METRIC_INC(w->metrics.timeouts[kind]);
}

static void hook_conn_open(void *ctx)
{
	struct worker *w = ctx;
	GW_METRIC_INC(w->metrics.conn_accepted);
}

static void hook_conn_close(void *ctx)
{
	struct worker *w = ctx;
	GW_METRIC_INC(w->metrics.conn_closed);
	worker_check_drained(w);
}

static void on_accept(struct ring_listener *l, int fd)
{
	struct worker *w = container_of(l->loop, struct worker, loop);
	if (w->http.nconns >= w->max_conns) {
		GW_METRIC_INC(w->metrics.conn_rejected);
		close(fd);
		return;
	}
	struct ring_conn *rc = h1_server_accept(&w->http, fd);
	unsigned idx = (unsigned)(l - w->listeners);
	if (rc && w->rt->tls[idx] && tls_server_attach(&w->tls_views[idx], rc, &w->metrics.tls) < 0)
		ring_conn_close(rc);
}

/* ---- control channel ---- */

static void ctl_arm(struct worker *w)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->loop, &w->ctl_op);
	io_uring_prep_read(sqe, w->ctl_fd, &w->ctl_value, sizeof(w->ctl_value), 0);
}

static void on_drain_deadline(struct ring_loop *loop, struct ring_timer *t)
{
	(void)loop;
	struct worker *w = container_of(t, struct worker, drain_deadline);
	gw_log(GW_LOG_WARN, "worker %u: drain deadline passed, closing %u connections", w->id,
	       w->http.nconns);
	h1_server_abort_all(&w->http);
}

static void worker_begin_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	for (unsigned i = 0; i < w->nlisteners; i++)
		ring_listener_stop(&w->listeners[i]);
	h1_server_drain(&w->http);
	ring_timer_set(&w->loop, &w->drain_deadline, w->rt->cfg->drain_timeout_ms);
	worker_check_drained(w);
}

static void on_ctl(struct ring_loop *loop, struct ring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct worker *w = container_of(op, struct worker, ctl_op);
	if (cqe->res == (int)sizeof(uint64_t)) {
		if (w->ctl_value & GW_CTL_DRAIN)
			worker_begin_drain(w);
		if (w->ctl_value & GW_CTL_ABORT) {
			worker_begin_drain(w);
			h1_server_abort_all(&w->http);
		}
	}
	if (!w->loop.stop)
		ctl_arm(w);
}

void gw_worker_signal(struct worker *w, uint64_t ctl)
{
	ssize_t n = write(w->ctl_fd, &ctl, sizeof(ctl));
	(void)n;
}

/* ---- the thread ---- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct gw_config *cfg = w->rt->cfg;

	worker_pin(w);
	int ret = worker_bind_arena(w);
	if (ret < 0) {
		w->start_error = ret;
		w->start_step = "jemalloc arena";
		pthread_barrier_wait(&w->rt->started);
		return NULL;
	}

	struct ring_loop_params p = {
		.sq_entries = cfg->sq_entries,
		.buf_count = cfg->buf_count,
		.buf_size = cfg->buf_size,
		.batch_wait_us = cfg->batch_wait_us ? cfg->batch_wait_us : RING_BATCH_OFF,
	};
	ret = ring_loop_init(&w->loop, &p);
	if (ret < 0) {
		w->start_error = ret;
		w->start_step = "io_uring set-up";
		pthread_barrier_wait(&w->rt->started);
		return NULL;
	}
	if (w->id == 0) {
		gw_log(GW_LOG_INFO, "io_uring: %s%s", w->loop.single_issuer ? "SINGLE_ISSUER" : "",
		       w->loop.defer_taskrun
			       ? " DEFER_TASKRUN"
			       : " (DEFER_TASKRUN unavailable: COOP_TASKRUN fallback)");
	}

	static const struct h1_handler hooks = {
		.request = hook_request,
		.abort = hook_abort,
		.done = hook_done,
		.parse_error = hook_parse_error,
		.timed_out = hook_timed_out,
		.conn_open = hook_conn_open,
		.conn_close = hook_conn_close,
	};
	struct h1_handler h = hooks;
	h.ctx = w;
	h1_server_init(&w->http, &w->loop, &cfg->http, &h);

	if (w->snap->api.nroutes)
		w->metrics.route_status =
			calloc(w->snap->api.nroutes, sizeof(*w->metrics.route_status));
	w->nupstreams = cfg->nupstreams;
	w->upstreams = w->nupstreams ? calloc(w->nupstreams, sizeof(*w->upstreams)) : NULL;
	for (unsigned i = 0; i < w->nupstreams; i++) {
		ret = w->upstreams ? upstream_init(&w->upstreams[i], cfg->upstreams[i], &w->loop,
						   &w->http.chunks)
				   : -ENOMEM;
		if (ret < 0) {
			w->start_error = ret;
			w->start_step = "upstream pool set-up";
			pthread_barrier_wait(&w->rt->started);
			return NULL;
		}
	}
	if (getrandom(&w->reqid_seed, sizeof(w->reqid_seed), 0) != sizeof(w->reqid_seed))
		w->reqid_seed = (uint64_t)time(NULL) ^ ((uint64_t)w->id << 48);

	w->ctl_op.fn = on_ctl;
	ring_timer_init(&w->drain_deadline, on_drain_deadline);
	ring_timer_init(&w->stop_poll, on_stop_poll);
	ctl_arm(w);
	for (unsigned i = 0; i < w->nlisteners; i++) {
		if (w->rt->tls[i])
			tls_server_view_init(&w->tls_views[i], w->rt->tls[i]);
		ring_listener_start(&w->listeners[i], &w->loop, w->listen_fds[i], on_accept);
	}

	pthread_barrier_wait(&w->rt->started);

	ret = ring_loop_run(&w->loop);
	if (ret < 0)
		gw_log(GW_LOG_ERROR, "worker %u: io_uring wait failed: %s", w->id, strerror(-ret));

	for (unsigned i = 0; i < w->nupstreams; i++)
		upstream_destroy(&w->upstreams[i]);
	free(w->upstreams);
	/* The shard outlives the thread (main may still render it); the
	 * route counters are freed by main after every worker stopped. */
	h1_server_destroy(&w->http);
	gw_api_worker_cleanup(w);
	ring_loop_destroy(&w->loop);
	for (unsigned i = 0; i < w->nlisteners; i++)
		if (w->rt->tls[i])
			tls_server_view_release(&w->tls_views[i]);
	tls_thread_cleanup();
	return NULL;
}

int gw_worker_spawn(struct worker *w)
{
	w->ctl_fd = eventfd(0, EFD_CLOEXEC);
	if (w->ctl_fd < 0)
		return -errno;
	int ret = pthread_create(&w->thread, NULL, worker_main, w);
	return -ret;
}
