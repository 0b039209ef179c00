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

/*
 * Batched waiting.  Under load a wait ends when batch_target completions
 * have come in, or batch_wait_us after it began if at least one has: a
 * pass then serves several requests, with one sendmsg to an upstream for
 * all of their calls and one wake-up for all of their replies.  That costs
 * up to batch_wait_us of latency per pass, and arming the wait's timer is
 * itself dear on a paravirtualised host, so it is done only while it pays,
 * judged once per RING_RATE_WINDOW_MS:
 *  - it needs RING_BATCH_SOURCES or more connections receiving data in
 *    the window: a few clients in lock-step cannot be batched, their
 *    completions come in step whatever the wait, and a stretched wait
 *    only slows them down (REST -> gRPC through one worker here, wrk
 *    clients: with 8, a third less throughput and no dependable CPU
 *    saving; with 16 to 64, up to a third less CPU per request at about
 *    the same throughput);
 *  - it is tried when completions arrive fast enough that RING_BATCH_TRY
 *    of them are expected within one batch wait;
 *  - it is kept while the stretched waits gather RING_BATCH_KEEP or more
 *    completions each on average.  After a failed try it is not tried
 *    again for RING_BACKOFF_MIN_MS, doubling up to RING_BACKOFF_MAX_MS
 *    while it keeps failing.
 * Otherwise a wait ends at the first completion, as a plain wait does.
 * TRY and KEEP count completions other than the submit's own (see
 * sq_completing_now).
 *
 * How long: RING_WAIT_PER_SOURCE_US per connection receiving data in the
 * last window, at least RING_WAIT_FLOOR_US, at most batch_wait_us.  With
 * N clients each waiting for its reply, a client's turn comes round about
 * every N / throughput, so a wait proportional to N adds the same share
 * to each turn, while the wake-ups saved per request grow with the wait.
 * On this paravirtualised host a sleep and wake-up costs about 20 us of
 * CPU, three static replies' worth (REST -> gRPC through one worker, wrk
 * clients: a flat 300 us wait cut CPU per request by 13-23 % with 32 and 64 clients
 * at the same throughput and median latency, but with 16 clients it cost
 * a third of the throughput; 6 us per client keeps 16 at 100 us).
 */
#define RING_WAIT_PER_SOURCE_US 6u
#define RING_WAIT_FLOOR_US      100u
#define RING_BATCH_TARGET       32u
#define RING_BATCH_TRY          2u
#define RING_BATCH_KEEP         3u
#define RING_BATCH_SOURCES      12u
#define RING_RATE_WINDOW_MS     10u
#define RING_BACKOFF_MIN_MS     50u
#define RING_BACKOFF_MAX_MS     1000u

/* liburing 2.3's headers predate the minimum wait (kernel 6.12) and the
 * registered-ring enter flag's use here; the values are the kernel ABI. */
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
#ifndef IORING_ENTER_REGISTERED_RING
#define IORING_ENTER_REGISTERED_RING (1U << 4)
#endif

static void ring_clock(struct ring_loop *loop)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	loop->now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	loop->now_ms = loop->now_ns / 1000000u;
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
	/* The batch wait needs the getevents argument and its min_wait
	 * field; without them every wait ends at the first completion. */
	const unsigned need = IORING_FEAT_EXT_ARG | IORING_FEAT_MIN_TIMEOUT;
	if ((loop->ring.features & need) == need && p->batch_wait_us != RING_BATCH_OFF)
		loop->batch_wait_us = p->batch_wait_us ? p->batch_wait_us : RING_BATCH_WAIT_US;
	loop->wait_us = loop->batch_wait_us;
	loop->batch_target = RING_BATCH_TARGET;
	/* Each io_uring_enter then skips the ring's file lookup. */
	loop->ring_registered = io_uring_register_ring_fd(&loop->ring) == 1;
	ring_clock(loop);
	loop->window_start_ms = loop->now_ms;
	loop->batch_backoff_ms = RING_BACKOFF_MIN_MS;
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

/* ---- waiting ---- */

/* The getevents argument as the kernel has it since 6.12; liburing 2.3
 * calls the min_wait_usec field "pad". */
struct ring_getevents_arg {
	uint64_t sigmask;
	uint32_t sigmask_sz;
	uint32_t min_wait_usec;
	uint64_t ts;
};
_Static_assert(sizeof(struct ring_getevents_arg) == sizeof(struct io_uring_getevents_arg),
	       "getevents argument layout");

/*
 * SQEs queued since the last submit whose completions the submit itself
 * will post (a send with room in the socket, a close, a cancel): they
 * wake nobody, so a wait counts them on top of what it waits for.  One
 * that does not complete at once (a send to a full socket) only makes the
 * wait last until its minimum time.
 */
static unsigned sq_completing_now(const struct io_uring *ring)
{
	const struct io_uring_sq *sq = &ring->sq;
	unsigned n = 0;
	for (unsigned i = sq->sqe_head; i != sq->sqe_tail; i++) {
		switch (sq->sqes[i & sq->ring_mask].opcode) {
		case IORING_OP_SEND:
		case IORING_OP_SENDMSG:
		case IORING_OP_CLOSE:
		case IORING_OP_ASYNC_CANCEL:
		case IORING_OP_NOP: n++; break;
		default: break;
		}
	}
	return n;
}

/* Hand the queued SQEs to the kernel's view of the ring, as liburing's
 * (private) __io_uring_flush_sq does; returns how many it has not taken. */
static unsigned sq_flush(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned tail = sq->sqe_tail;
	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		/* No SQPOLL: the kernel reads the tail in our own enter. */
		__atomic_store_n(sq->ktail, tail, __ATOMIC_RELEASE);
	}
	return tail - __atomic_load_n(sq->khead, __ATOMIC_RELAXED);
}

/*
 * Submit and wait.  Returns what io_uring_enter returned, and in *own the
 * completions the submit itself will post (see sq_completing_now).
 */
static int loop_submit_and_wait(struct ring_loop *loop, int wait_ms, unsigned *own, bool *stretched)
{
	struct io_uring *ring = &loop->ring;
	struct __kernel_timespec ts = {
		.tv_sec = wait_ms / 1000,
		.tv_nsec = (long long)(wait_ms % 1000) * 1000000LL,
	};
	*own = sq_completing_now(ring);
	*stretched = false;
	if (!loop->batching || wait_ms == 0) {
		struct io_uring_cqe *cqe = NULL;
		return io_uring_submit_and_wait_timeout(ring, &cqe, wait_ms ? 1 : 0, &ts, NULL);
	}
	/*
	 * The wait counts the submit's own completions on top of the batch
	 * (they would end it at once), and the minimum time bounds how long
	 * one that did not complete at once can hold it.
	 */
	*stretched = true;
	struct ring_getevents_arg arg = {
		.min_wait_usec = loop->wait_us,
		.ts = (uint64_t)(uintptr_t)&ts,
	};
	unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	int fd = ring->ring_fd;
	if (loop->ring_registered) {
		flags |= IORING_ENTER_REGISTERED_RING;
		fd = ring->enter_ring_fd;
	}
	unsigned submit = sq_flush(ring);
	return io_uring_enter2((unsigned)fd, submit, *own + loop->batch_target, flags,
			       (sigset_t *)&arg, sizeof(arg));
}

/*
 * A receive (a completion with a provided buffer) marks its op in a
 * 256-bit set: the bits set at the end of a window approximate how many
 * connections received data in it.
 */
static inline void loop_note_source(struct ring_loop *loop, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint64_t h = cqe->user_data * 0x9e3779b97f4a7c15ull;
		loop->window_sources[h >> 62] |= 1ull << ((h >> 56) & 63);
	}
}

static unsigned loop_sources(struct ring_loop *loop)
{
	unsigned n = 0;
	for (unsigned i = 0; i < 4; i++) {
		n += (unsigned)__builtin_popcountll(loop->window_sources[i]);
		loop->window_sources[i] = 0;
	}
	return n;
}

/* Once per window: start or stop batching (see the top of the file). */
static void loop_rate(struct ring_loop *loop, unsigned seen, unsigned own, bool stretched)
{
	loop->window_events += seen > own ? seen - own : 0;
	loop->window_waits += stretched;
	uint64_t elapsed_ms = loop->now_ms - loop->window_start_ms;
	if (elapsed_ms < RING_RATE_WINDOW_MS)
		return;
	uint64_t events = loop->window_events;
	unsigned sources = loop_sources(loop);
	bool many = sources >= RING_BATCH_SOURCES;
	unsigned floor_us =
		loop->batch_wait_us < RING_WAIT_FLOOR_US ? loop->batch_wait_us : RING_WAIT_FLOOR_US;
	unsigned wait_us = sources * RING_WAIT_PER_SOURCE_US;
	loop->wait_us = wait_us < floor_us              ? floor_us
			: wait_us > loop->batch_wait_us ? loop->batch_wait_us
							: wait_us;
	if (loop->batching) {
		if (!many || events < (uint64_t)RING_BATCH_KEEP * loop->window_waits) {
			loop->batching = false;
			loop->batch_retry_ms = loop->now_ms + loop->batch_backoff_ms;
			loop->batch_backoff_ms = loop->batch_backoff_ms * 2 > RING_BACKOFF_MAX_MS
							 ? RING_BACKOFF_MAX_MS
							 : loop->batch_backoff_ms * 2;
		} else {
			loop->batch_backoff_ms = RING_BACKOFF_MIN_MS;
		}
	} else if (many && loop->now_ms >= loop->batch_retry_ms &&
		   events * loop->wait_us >= (uint64_t)RING_BATCH_TRY * elapsed_ms * 1000u) {
		loop->batching = true;
	}
	loop->window_events = 0;
	loop->window_waits = 0;
	loop->window_start_ms = loop->now_ms;
}

/* ---- the loop ---- */

int ring_loop_run(struct ring_loop *loop)
{
	while (!loop->stop) {
		unsigned own;
		bool stretched;
		int ret = loop_submit_and_wait(loop, next_wait_ms(loop), &own, &stretched);
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return ret;

		ring_clock(loop);

		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&loop->ring, head, cqe)
		{
			struct ring_op *op = io_uring_cqe_get_data(cqe);
			if (loop->batch_wait_us)
				loop_note_source(loop, cqe);
			if (op)
				op->fn(loop, op, cqe);
			seen++;
		}
		io_uring_cq_advance(&loop->ring, seen);
		__atomic_store_n(&loop->waits, loop->waits + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&loop->completions, loop->completions + seen, __ATOMIC_RELAXED);
		__atomic_store_n(&loop->batched_waits, loop->batched_waits + stretched,
				 __ATOMIC_RELAXED);
		if (loop->batch_wait_us)
			loop_rate(loop, seen, own, stretched);

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
