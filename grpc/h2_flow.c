/*
 * h2_flow.c - flow-control windows: checked arithmetic in 64 bits, and the
 * batching rule for when a receiver reopens its window.
 */
#include "h2_flow.h"

#include <assert.h>

/* Lowest a window can reach.  Consuming stops at 0, so only a SETTINGS
   change goes below, by at most the initial size it takes away (2^31-1 to 0).
   Lower means the caller passed an old_initial that was not the current one. */
#define H2_MIN_WINDOW (-(int64_t)H2_MAX_WINDOW)

static void check(const struct h2_window *w)
{
	assert(w->size <= (int64_t)H2_MAX_WINDOW);
	assert(w->size >= H2_MIN_WINDOW);
	(void)w;
}

void h2_window_init(struct h2_window *w, uint32_t initial)
{
	assert(initial <= H2_MAX_WINDOW);
	w->size = initial;
}

enum h2_error_code h2_window_consume(struct h2_window *w, uint32_t n)
{
	check(w);
	if ((int64_t)n > w->size)
		return n == 0 ? H2_NO_ERROR : H2_FLOW_CONTROL_ERROR;
	w->size -= n;
	return H2_NO_ERROR;
}

enum h2_error_code h2_window_apply_update(struct h2_window *w, uint32_t increment)
{
	check(w);
	assert(increment >= 1 && increment <= H2_MAX_WINDOW);
	if (w->size + increment > (int64_t)H2_MAX_WINDOW)
		return H2_FLOW_CONTROL_ERROR;
	w->size += increment;
	return H2_NO_ERROR;
}

enum h2_error_code h2_window_apply_initial(struct h2_window *w, uint32_t old_initial,
					   uint32_t new_initial)
{
	int64_t next;

	check(w);
	assert(old_initial <= H2_MAX_WINDOW && new_initial <= H2_MAX_WINDOW);
	next = w->size + ((int64_t)new_initial - (int64_t)old_initial);
	if (next > (int64_t)H2_MAX_WINDOW)
		return H2_FLOW_CONTROL_ERROR;
	w->size = next;
	check(w);
	return H2_NO_ERROR;
}

uint32_t h2_window_sendable(const struct h2_window *w, uint32_t want)
{
	check(w);
	if (w->size <= 0)
		return 0;
	return (int64_t)want < w->size ? want : (uint32_t)w->size;
}

void h2_recv_init(struct h2_recv_window *r, uint32_t initial, uint32_t target, uint32_t threshold)
{
	assert(target <= H2_MAX_WINDOW);
	assert(threshold >= 1 && (threshold <= target || target == 0));
	h2_window_init(&r->win, initial);
	r->held = 0;
	r->target = target;
	r->threshold = threshold;
}

enum h2_error_code h2_recv_on_data(struct h2_recv_window *r, uint32_t flow_len)
{
	enum h2_error_code e = h2_window_consume(&r->win, flow_len);

	if (e == H2_NO_ERROR)
		r->held += flow_len;
	return e;
}

void h2_recv_release(struct h2_recv_window *r, uint32_t n)
{
	assert((int64_t)n <= r->held);
	r->held -= n;
}

uint32_t h2_recv_update_due(const struct h2_recv_window *r)
{
	int64_t deficit;

	check(&r->win);
	assert(r->held >= 0);
	/* What the peer may send plus what we hold should come to target. */
	deficit = (int64_t)r->target - r->held - r->win.size;
	if (deficit < (int64_t)r->threshold || deficit <= 0)
		return 0;
	/* win.size + deficit = target - held <= target <= 2^31-1 */
	assert(deficit <= (int64_t)H2_MAX_WINDOW);
	return (uint32_t)deficit;
}

void h2_recv_update_sent(struct h2_recv_window *r, uint32_t increment)
{
	enum h2_error_code e;

	assert(increment != 0 && increment <= h2_recv_update_due(r));
	e = h2_window_apply_update(&r->win, increment);
	assert(e == H2_NO_ERROR);
	(void)e;
}
