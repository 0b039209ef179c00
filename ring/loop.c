/*
 * loop.c - the per-worker io_uring loop: set-up, the completion dispatch,
 * timers and deferred work.
 */
#include "ring/ring.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest sleep when no timer is due: bounds how stale now_ms can get
 * and how late a stop request can be noticed. */
#define RING_MAX_WAIT_MS 1000

static void ring_clock(struct ring_loop *loop)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	loop->now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	loop->wall_s = ts.tv_sec;
}

/*
 * SINGLE_ISSUER | DEFER_TASKRUN: completions are processed only when this
 * thread waits for them, in one batch, with no task-work interrupts while
 * the handlers run.  COOP_TASKRUN is the fallback for kernels before 6.1,
 * and a plain ring the last resort (5.x kernels).
 */
int ring_loop_init(struct ring_loop *loop, const struct ring_loop_params *p)
{
	memset(loop, 0, sizeof(*loop));
	loop->defer_tail = &loop->defer_head;

	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct io_uring_params params = {0};
		params.flags = flag_sets[i] | IORING_SETUP_SUBMIT_ALL;
		params.cq_entries = p->sq_entries * 4;
		params.flags |= IORING_SETUP_CQSIZE;
		ret = io_uring_queue_init_params(p->sq_entries, &loop->ring, &params);
		if (ret == -EINVAL) {
			/* Older kernels reject SUBMIT_ALL too; try without it. */
			params = (struct io_uring_params){0};
			params.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
			params.cq_entries = p->sq_entries * 4;
			ret = io_uring_queue_init_params(p->sq_entries, &loop->ring, &params);
		}
		if (ret == 0) {
			loop->single_issuer = (flag_sets[i] & IORING_SETUP_SINGLE_ISSUER) != 0;
			loop->defer_taskrun = (flag_sets[i] & IORING_SETUP_DEFER_TASKRUN) != 0;
			break;
		}
		if (ret != -EINVAL)
			return ret;
	}
	if (ret < 0)
		return ret;

	ret = ring_bufs_init(&loop->ring, &loop->bufs, p->buf_count, p->buf_size, 0);
	if (ret < 0) {
		io_uring_queue_exit(&loop->ring);
		return ret;
	}
	ring_clock(loop);
	return 0;
}

void ring_loop_destroy(struct ring_loop *loop)
{
	ring_bufs_destroy(&loop->ring, &loop->bufs);
	io_uring_queue_exit(&loop->ring);
	free(loop->heap);
	loop->heap = NULL;
}

struct io_uring_sqe *ring_sqe(struct ring_loop *loop, struct ring_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	while (!sqe) {
		/* SQ full: push what is queued to the kernel and retry.  With
		 * SUBMIT_ALL this only fails on a broken ring. */
		int ret = io_uring_submit(&loop->ring);
		assert(ret >= 0 || ret == -EAGAIN || ret == -EBUSY);
		(void)ret;
		sqe = io_uring_get_sqe(&loop->ring);
	}
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

/* ---- timers: binary min-heap on due_ms, 1-based ---- */

static void heap_swap(struct ring_loop *loop, unsigned a, unsigned b)
{
	struct ring_timer *t = loop->heap[a];
	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->heap_idx = a;
	loop->heap[b]->heap_idx = b;
}

static void heap_up(struct ring_loop *loop, unsigned i)
{
	while (i > 1 && loop->heap[i / 2]->due_ms > loop->heap[i]->due_ms) {
		heap_swap(loop, i, i / 2);
		i /= 2;
	}
}

static void heap_down(struct ring_loop *loop, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i, r = l + 1, m = i;
		if (l <= loop->heap_len && loop->heap[l]->due_ms < loop->heap[m]->due_ms)
			m = l;
		if (r <= loop->heap_len && loop->heap[r]->due_ms < loop->heap[m]->due_ms)
			m = r;
		if (m == i)
			return;
		heap_swap(loop, i, m);
		i = m;
	}
}

static void heap_push(struct ring_loop *loop, struct ring_timer *t)
{
	if (loop->heap_len + 1 >= loop->heap_cap) {
		unsigned cap = loop->heap_cap ? loop->heap_cap * 2 : 256;
		struct ring_timer **h = realloc(loop->heap, cap * sizeof(*h));
		/* Timers guard against stuck peers; running without one would
		 * hang a connection forever, so running out here is fatal. */
		if (!h)
			abort();
		loop->heap = h;
		loop->heap_cap = cap;
	}
	loop->heap[++loop->heap_len] = t;
	t->heap_idx = loop->heap_len;
	heap_up(loop, t->heap_idx);
}

static void heap_remove(struct ring_loop *loop, struct ring_timer *t)
{
	unsigned i = t->heap_idx;
	assert(i >= 1 && i <= loop->heap_len && loop->heap[i] == t);
	if (i != loop->heap_len) {
		heap_swap(loop, i, loop->heap_len);
		loop->heap_len--;
		heap_down(loop, i);
		heap_up(loop, i);
	} else {
		loop->heap_len--;
	}
	t->heap_idx = 0;
}

void ring_timer_init(struct ring_timer *t, ring_timer_fn *fn)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
}

void ring_timer_set(struct ring_loop *loop, struct ring_timer *t, uint64_t after_ms)
{
	t->expires_ms = loop->now_ms + (after_ms ? after_ms : 1);
	if (t->heap_idx == 0) {
		t->due_ms = t->expires_ms;
		heap_push(loop, t);
	} else if (t->expires_ms < t->due_ms) {
		t->due_ms = t->expires_ms;
		heap_up(loop, t->heap_idx);
	}
	/* Later than due_ms: picked up when due_ms comes (see ring.h). */
}

void ring_timer_cancel(struct ring_loop *loop, struct ring_timer *t)
{
	if (t->heap_idx)
		heap_remove(loop, t);
	t->expires_ms = 0;
}

static void timers_run(struct ring_loop *loop)
{
	while (loop->heap_len && loop->heap[1]->due_ms <= loop->now_ms) {
		struct ring_timer *t = loop->heap[1];
		heap_remove(loop, t);
		if (t->expires_ms == 0)
			continue;
		if (t->expires_ms > loop->now_ms) {
			t->due_ms = t->expires_ms;
			heap_push(loop, t);
			continue;
		}
		t->expires_ms = 0;
		t->fn(loop, t);
	}
}

static int next_wait_ms(const struct ring_loop *loop)
{
	if (loop->defer_head)
		return 0;
	if (!loop->heap_len)
		return RING_MAX_WAIT_MS;
	uint64_t due = loop->heap[1]->due_ms;
	if (due <= loop->now_ms)
		return 0;
	uint64_t d = due - loop->now_ms;
	return d > RING_MAX_WAIT_MS ? RING_MAX_WAIT_MS : (int)d;
}

/* ---- deferred work ---- */

void ring_defer(struct ring_loop *loop, struct ring_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	*loop->defer_tail = d;
	loop->defer_tail = &d->next;
}

void ring_defer_cancel(struct ring_loop *loop, struct ring_defer *d)
{
	if (!d->queued)
		return;
	for (struct ring_defer **pp = &loop->defer_head; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			if (loop->defer_tail == &d->next)
				loop->defer_tail = pp;
			break;
		}
	}
	d->queued = false;
}

static void defer_run(struct ring_loop *loop)
{
	/* Work queued by deferred work runs in the next pass, after the
	 * kernel has had a chance to complete what this pass submitted. */
	struct ring_defer *d = loop->defer_head;
	loop->defer_head = NULL;
	loop->defer_tail = &loop->defer_head;
	while (d) {
		struct ring_defer *next = d->next;
		d->queued = false;
		d->fn(loop, d);
		d = next;
	}
}

/* ---- the loop ---- */

int ring_loop_run(struct ring_loop *loop)
{
	while (!loop->stop) {
		int wait_ms = next_wait_ms(loop);
		struct __kernel_timespec ts = {
			.tv_sec = wait_ms / 1000,
			.tv_nsec = (long long)(wait_ms % 1000) * 1000000LL,
		};
		struct io_uring_cqe *cqe = NULL;
		int ret = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, wait_ms ? 1 : 0, &ts,
							   NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return ret;

		ring_clock(loop);

		unsigned head, seen = 0;
		io_uring_for_each_cqe(&loop->ring, head, cqe)
		{
			struct ring_op *op = io_uring_cqe_get_data(cqe);
			if (op)
				op->fn(loop, op, cqe);
			seen++;
		}
		io_uring_cq_advance(&loop->ring, seen);

		if (*loop->ring.cq.koverflow)
			loop->cq_overflows = *loop->ring.cq.koverflow;

		timers_run(loop);
		defer_run(loop);
	}
	/* What the last pass queued still goes to the kernel: a drain that
	 * stops the loop has just queued its listeners' close, and a listening
	 * socket left open would take connections that nobody accepts. */
	io_uring_submit(&loop->ring);
	return 0;
}
