/*
 * ring.h - one io_uring event loop per worker thread.
 *
 * The loop knows nothing of HTTP or gRPC.  It owns the io_uring, the
 * provided-buffer pool, the timers and a list of deferred work, and hands
 * every completion to the handler named by its user_data:
 *
 *     user_data = (uintptr_t) &object->some_ring_op
 *
 * A struct ring_op is embedded in the object once per kind of operation
 * (recv, send, close ...); its function pointer is the dispatch, and
 * container_of() gets the object back.  user_data 0 marks completions
 * nobody waits for (cancel requests).
 *
 * Nothing here takes a lock: a loop is used by exactly one thread.
 */
#ifndef RINGGATE_RING_H
#define RINGGATE_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/bufring.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct ring_loop;
struct ring_op;

typedef void ring_op_fn(struct ring_loop *loop, struct ring_op *op, const struct io_uring_cqe *cqe);

struct ring_op {
	ring_op_fn *fn;
};

/*
 * Timers live in a binary min-heap keyed by deadline.  Re-arming a timer to
 * a later deadline (the common case: an idle timeout pushed back by every
 * request) only stores the new time; the heap is touched when the old
 * deadline comes due, so keep-alive traffic costs no heap work.
 */
struct ring_timer;
typedef void ring_timer_fn(struct ring_loop *loop, struct ring_timer *t);

struct ring_timer {
	uint64_t due_ms;     /* position in the heap */
	uint64_t expires_ms; /* when the timer really fires; 0 = disarmed */
	unsigned heap_idx;   /* 1-based; 0 = not in the heap */
	ring_timer_fn *fn;
};

/* Work to run once after the current batch of completions (e.g. flush). */
struct ring_defer;
typedef void ring_defer_fn(struct ring_loop *loop, struct ring_defer *d);

struct ring_defer {
	struct ring_defer *next;
	ring_defer_fn *fn;
	bool queued;
};

struct ring_loop {
	struct io_uring ring;
	struct ring_bufs bufs;

	uint64_t now_ms; /* CLOCK_MONOTONIC, refreshed once per batch */
	uint64_t now_ns; /* the same reading in nanoseconds            */
	int64_t wall_s;  /* CLOCK_REALTIME seconds, same refresh      */

	struct ring_timer **heap;
	unsigned heap_len, heap_cap;

	struct ring_defer *defer_head, **defer_tail;

	bool stop;
	bool single_issuer; /* what the kernel accepted, for the log */
	bool defer_taskrun;
	uint64_t cq_overflows;

	/* Batched waiting (loop.c, "waiting"). */
	unsigned batch_wait_us; /* 0: the kernel has no minimum wait      */
	unsigned wait_us;       /* the stretch in use, <= batch_wait_us   */
	unsigned batch_target;  /* completions that end a batch early     */
	bool batching;          /* waits are stretched to gather batches  */
	bool ring_registered;   /* io_uring_enter by registered ring index */
	unsigned window_events; /* completions others caused, this window */
	unsigned window_waits;
	uint64_t window_sources[4]; /* receiving ops seen, hashed to bits */
	uint64_t window_start_ms;
	uint64_t batch_retry_ms; /* no batching before this (it did not pay) */
	unsigned batch_backoff_ms;
	/* Counters, stored with relaxed atomics: another thread reads them
	 * for the metrics. */
	uint64_t waits, completions, batched_waits;
};

struct ring_loop_params {
	unsigned sq_entries; /* power of two */
	unsigned buf_count;  /* provided buffers; power of two */
	unsigned buf_size;   /* bytes per provided buffer */
	/* Longest a wait is stretched to gather a batch of completions under
	 * load; 0 = RING_BATCH_WAIT_US.  RING_BATCH_OFF never stretches. */
	unsigned batch_wait_us;
};

#define RING_BATCH_WAIT_US 300u
#define RING_BATCH_OFF     (~0u)

/*
 * Set the ring up on the calling thread (the one that will run it:
 * SINGLE_ISSUER binds the ring to its creator).  Returns 0 or -errno.
 */
int ring_loop_init(struct ring_loop *loop, const struct ring_loop_params *p);
void ring_loop_destroy(struct ring_loop *loop);

/* Run until loop->stop is set by a handler. Returns 0 or -errno. */
int ring_loop_run(struct ring_loop *loop);

/* A free SQE; submits pending ones first when the SQ is full. Never NULL. */
struct io_uring_sqe *ring_sqe(struct ring_loop *loop, struct ring_op *op);

void ring_timer_init(struct ring_timer *t, ring_timer_fn *fn);
void ring_timer_set(struct ring_loop *loop, struct ring_timer *t, uint64_t after_ms);
void ring_timer_cancel(struct ring_loop *loop, struct ring_timer *t);

static inline bool ring_timer_armed(const struct ring_timer *t)
{
	return t->expires_ms != 0;
}

void ring_defer(struct ring_loop *loop, struct ring_defer *d);
/* Remove d if queued (an object about to be freed). */
void ring_defer_cancel(struct ring_loop *loop, struct ring_defer *d);

#endif
