/*
 * outq.c - send queue of owned chunks and borrowed references.
 */
#include "ring/outq.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ring_outq_init(struct ring_outq *q, struct ring_chunks *cache)
{
	q->head = q->tail = NULL;
	q->bytes = 0;
	q->cache = cache;
}

static struct ring_seg *seg_new(struct ring_outq *q, size_t need)
{
	struct ring_seg *s;
	if (need <= RING_CHUNK_SIZE && q->cache && q->cache->free) {
		s = q->cache->free;
		q->cache->free = s->next;
		q->cache->nfree--;
	} else {
		size_t cap = need <= RING_CHUNK_SIZE ? RING_CHUNK_SIZE : need;
		s = malloc(sizeof(*s) + cap);
		if (!s)
			return NULL;
		s->cap = cap;
	}
	s->next = NULL;
	s->data = s->buf;
	s->off = s->len = 0;
	return s;
}

static void seg_free(struct ring_outq *q, struct ring_seg *s)
{
	if (s->cap == RING_CHUNK_SIZE && q->cache && q->cache->nfree < RING_CHUNK_CACHE) {
		s->next = q->cache->free;
		q->cache->free = s;
		q->cache->nfree++;
		return;
	}
	free(s);
}

static void seg_link(struct ring_outq *q, struct ring_seg *s)
{
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
}

char *ring_outq_reserve(struct ring_outq *q, size_t n)
{
	struct ring_seg *t = q->tail;
	if (t && t->cap && t->cap - t->len >= n)
		return t->buf + t->len;
	struct ring_seg *s = seg_new(q, n);
	if (!s)
		return NULL;
	seg_link(q, s);
	return s->buf;
}

void ring_outq_commit(struct ring_outq *q, size_t n)
{
	assert(q->tail && q->tail->cap && q->tail->len + n <= q->tail->cap);
	q->tail->len += n;
	q->bytes += n;
}

int ring_outq_append(struct ring_outq *q, const void *data, size_t len)
{
	const char *p = data;
	/* Fill the tail chunk first, then whole new chunks: a large body is
	 * copied once and never reallocated. */
	while (len) {
		struct ring_seg *t = q->tail;
		size_t room = (t && t->cap) ? t->cap - t->len : 0;
		if (room == 0) {
			char *w =
				ring_outq_reserve(q, len < RING_CHUNK_SIZE ? len : RING_CHUNK_SIZE);
			if (!w)
				return -ENOMEM;
			continue;
		}
		size_t n = len < room ? len : room;
		memcpy(t->buf + t->len, p, n);
		ring_outq_commit(q, n);
		p += n;
		len -= n;
	}
	return 0;
}

int ring_outq_ref(struct ring_outq *q, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	struct ring_seg *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->next = NULL;
	s->data = data;
	s->off = 0;
	s->len = len;
	s->cap = 0;
	seg_link(q, s);
	q->bytes += len;
	return 0;
}

unsigned ring_outq_iov(const struct ring_outq *q, struct iovec *iov, unsigned max)
{
	unsigned n = 0;
	for (const struct ring_seg *s = q->head; s && n < max; s = s->next) {
		if (s->len == s->off)
			continue;
		iov[n].iov_base = (void *)(uintptr_t)(s->data + s->off);
		iov[n].iov_len = s->len - s->off;
		n++;
	}
	return n;
}

void ring_outq_consume(struct ring_outq *q, size_t n)
{
	assert(n <= q->bytes);
	q->bytes -= n;
	while (q->head) {
		struct ring_seg *s = q->head;
		size_t left = s->len - s->off;
		if (n < left) {
			s->off += n;
			return;
		}
		n -= left;
		q->head = s->next;
		if (!q->head)
			q->tail = NULL;
		seg_free(q, s);
	}
}

void ring_outq_clear(struct ring_outq *q)
{
	while (q->head) {
		struct ring_seg *s = q->head;
		q->head = s->next;
		seg_free(q, s);
	}
	q->tail = NULL;
	q->bytes = 0;
}

void ring_chunks_drain(struct ring_chunks *cache)
{
	while (cache->free) {
		struct ring_seg *s = cache->free;
		cache->free = s->next;
		free(s);
	}
	cache->nfree = 0;
}
