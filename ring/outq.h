/*
 * outq.h - a connection's queue of bytes waiting to be sent.
 *
 * Writers append into the tail chunk in place (reserve, write, commit), or
 * link memory they do not own (a prebuilt static reply) without copying.
 * The sender turns the queue into an iovec array for one sendmsg and
 * consumes what the kernel took.
 *
 *   head ─► [seg: owned, off..len sent next] ─► [seg: ref] ─► [seg: owned] ◄─ tail
 *
 * Owned chunks come from a small per-worker free list (struct ring_chunks),
 * so steady keep-alive traffic does not call malloc; a drained queue holds
 * no memory, which keeps idle connections small.
 */
#ifndef RINGGATE_OUTQ_H
#define RINGGATE_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Chunk payload size: one page minus the header fits most responses whole. */
#define RING_CHUNK_SIZE  (4096u - 64u)
#define RING_CHUNK_CACHE 256u

struct ring_seg {
	struct ring_seg *next;
	const char *data; /* owned: points at buf[]; ref: the borrowed bytes */
	size_t off;       /* bytes already sent */
	size_t len;       /* bytes committed */
	size_t cap;       /* owned capacity; 0 for a reference */
	char buf[];
};

/* Per-worker cache of free chunks of RING_CHUNK_SIZE. */
struct ring_chunks {
	struct ring_seg *free;
	unsigned nfree;
};

struct ring_outq {
	struct ring_seg *head, *tail;
	size_t bytes; /* unsent bytes in the queue */
	struct ring_chunks *cache;
};

void ring_outq_init(struct ring_outq *q, struct ring_chunks *cache);
void ring_outq_clear(struct ring_outq *q);
void ring_chunks_drain(struct ring_chunks *cache);

/*
 * A pointer to at least n writable bytes at the end of the queue, or NULL
 * when memory is exhausted.  Nothing is queued until ring_outq_commit.
 */
char *ring_outq_reserve(struct ring_outq *q, size_t n);
void ring_outq_commit(struct ring_outq *q, size_t n);

/* Copy bytes in.  Returns 0 or -ENOMEM. */
int ring_outq_append(struct ring_outq *q, const void *data, size_t len);

/* Queue borrowed bytes that stay valid until sent (no copy). */
int ring_outq_ref(struct ring_outq *q, const void *data, size_t len);

/* Fill up to max iovecs from the head; returns how many. */
unsigned ring_outq_iov(const struct ring_outq *q, struct iovec *iov, unsigned max);

/* Drop n sent bytes from the head. */
void ring_outq_consume(struct ring_outq *q, size_t n);

static inline bool ring_outq_empty(const struct ring_outq *q)
{
	return q->bytes == 0;
}

#endif
