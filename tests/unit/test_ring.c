/*
 * test_ring.c - the loop's own data structures: send queue and timers.
 */
#include <stdlib.h>
#include <string.h>

#include "ring/outq.h"
#include "ring/ring.h"
#include "unit.h"

static size_t iov_total(const struct iovec *iov, unsigned n)
{
	size_t t = 0;
	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Flatten what the queue would send, to compare with what was written. */
static size_t flatten(const struct ring_outq *q, char *dst, size_t cap)
{
	struct iovec iov[64];
	unsigned n = ring_outq_iov(q, iov, 64);
	size_t off = 0;
	for (unsigned i = 0; i < n && off < cap; i++) {
		memcpy(dst + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return off;
}

static void test_outq(void)
{
	struct ring_chunks cache = {0};
	struct ring_outq q;
	ring_outq_init(&q, &cache);
	CHECK(ring_outq_empty(&q), "outq starts empty");

	/* reserve/commit writes in place */
	char *w = ring_outq_reserve(&q, 5);
	memcpy(w, "hello", 5);
	ring_outq_commit(&q, 5);
	static const char ref[] = " borrowed ";
	CHECK(ring_outq_ref(&q, ref, sizeof(ref) - 1) == 0, "ref queues without copy");
	CHECK(ring_outq_append(&q, "world", 5) == 0, "append after ref opens a new chunk");
	char flat[64];
	size_t n = flatten(&q, flat, sizeof(flat));
	CHECK(n == 20 && memcmp(flat, "hello borrowed world", 20) == 0, "order kept", "got %.*s",
	      (int)n, flat);
	struct iovec iov[8];
	unsigned k = ring_outq_iov(&q, iov, 8);
	CHECK(k == 3, "three segments: owned, ref, owned", "k=%u", k);
	CHECK(iov[1].iov_base == ref, "the reference is not copied");

	/* partial consume keeps the rest in order */
	ring_outq_consume(&q, 7);
	n = flatten(&q, flat, sizeof(flat));
	CHECK(n == 13 && memcmp(flat, "orrowed world", 13) == 0, "partial consume", "got %.*s",
	      (int)n, flat);
	ring_outq_consume(&q, 13);
	CHECK(ring_outq_empty(&q) && q.head == NULL && q.tail == NULL,
	      "drained queue holds nothing");
	CHECK(cache.nfree == 2, "owned chunks go back to the worker cache", "nfree=%u",
	      cache.nfree);

	/* a large append spans chunks, byte-exact */
	size_t big = RING_CHUNK_SIZE * 3 + 123;
	char *src = malloc(big);
	for (size_t i = 0; i < big; i++)
		src[i] = (char)(i * 7 + 3);
	CHECK(ring_outq_append(&q, src, big) == 0, "large append");
	CHECK(q.bytes == big, "byte count after large append");
	k = ring_outq_iov(&q, iov, 8);
	CHECK(iov_total(iov, k) == big, "iov covers everything");
	size_t off = 0;
	int same = 1;
	for (unsigned i = 0; i < k; i++) {
		same &= memcmp((char *)iov[i].iov_base, src + off, iov[i].iov_len) == 0;
		off += iov[i].iov_len;
	}
	CHECK(same, "large append content");
	/* consume in odd steps */
	size_t left = big;
	while (left) {
		size_t step = left < 1000 ? left : 1000;
		ring_outq_consume(&q, step);
		left -= step;
		CHECK(q.bytes == left, "consume step accounting");
	}
	CHECK(ring_outq_empty(&q), "large drained");

	/* iov limit: more segments than slots */
	for (int i = 0; i < 10; i++)
		ring_outq_ref(&q, ref, 1);
	k = ring_outq_iov(&q, iov, 4);
	CHECK(k == 4, "iov respects its limit");
	ring_outq_clear(&q);
	CHECK(q.bytes == 0 && q.head == NULL, "clear");
	free(src);
	ring_chunks_drain(&cache);
	CHECK(cache.nfree == 0 && cache.free == NULL, "cache drained");
}

/* ---- timers, through a real loop ---- */

struct tcase {
	struct ring_timer t;
	int id;
};

static int fired[16];
static int nfired;
static struct tcase tc[5];

static void on_fire(struct ring_loop *loop, struct ring_timer *t)
{
	struct tcase *c = container_of(t, struct tcase, t);
	fired[nfired++] = c->id;
	if (c->id == 99 || nfired >= 16)
		loop->stop = true;
}

static void test_timers(void)
{
	struct ring_loop loop;
	struct ring_loop_params p = {.sq_entries = 64, .buf_count = 16, .buf_size = 1024};
	int ret = ring_loop_init(&loop, &p);
	CHECK(ret == 0, "loop init", "ret=%d", ret);
	if (ret)
		return;

	for (int i = 0; i < 5; i++) {
		ring_timer_init(&tc[i].t, on_fire);
		tc[i].id = i;
	}
	ring_timer_set(&loop, &tc[0].t, 30);
	ring_timer_set(&loop, &tc[1].t, 10);
	ring_timer_set(&loop, &tc[2].t, 20);
	ring_timer_set(&loop, &tc[3].t, 15);
	/* pushed back: must fire after 0 even though first queued earlier */
	ring_timer_set(&loop, &tc[3].t, 40);
	/* cancelled: must never fire */
	ring_timer_set(&loop, &tc[4].t, 5);
	ring_timer_cancel(&loop, &tc[4].t);
	CHECK(!ring_timer_armed(&tc[4].t), "cancel disarms");
	/* pulled forward: fires first */
	ring_timer_set(&loop, &tc[2].t, 2);

	static struct tcase stopper = {.id = 99};
	ring_timer_init(&stopper.t, on_fire);
	ring_timer_set(&loop, &stopper.t, 60);

	uint64_t t0 = loop.now_ms;
	ring_loop_run(&loop);
	uint64_t took = loop.now_ms - t0;
	static const int want[] = {2, 1, 0, 3, 99};
	CHECK(nfired == 5, "five timers fired", "nfired=%d", nfired);
	for (int i = 0; i < 5 && i < nfired; i++)
		CHECK(fired[i] == want[i], "timers fire in deadline order", "pos %d: %d want %d", i,
		      fired[i], want[i]);
	CHECK(took >= 60 && took < 1000, "loop slept until the last deadline", "took=%llu",
	      (unsigned long long)took);
	CHECK(loop.heap_len == 0, "heap empty after all fired");
	ring_loop_destroy(&loop);
}

int main(void)
{
	test_outq();
	test_timers();
	return unit_finish();
}
