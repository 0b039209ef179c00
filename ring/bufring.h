/*
 * bufring.h - the worker's pool of provided receive buffers.
 *
 * One pool per worker, shared by every connection, so an idle connection
 * holds no receive memory: the kernel picks a buffer only when data
 * arrives.  liburing 2.3 lacks io_uring_setup_buf_ring, so the ring is
 * mapped and registered by hand (see NOTES.md).
 *
 *     base ──► [buf 0][buf 1] ... [buf n-1]     n * size bytes, one mmap
 *     br   ──► ring of n io_uring_buf entries shared with the kernel
 *
 * A buffer leaves the pool when a recv completion names it and comes back
 * with ring_buf_put().  When the pool runs dry a multishot recv ends with
 * ENOBUFS; connections then wait (ring_bufs_hungry) until a fair share of
 * the pool is back, so they do not thrash one buffer at a time.
 */
#ifndef RINGGATE_BUFRING_H
#define RINGGATE_BUFRING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct ring_bufs {
	struct io_uring_buf_ring *br;
	char *base;
	size_t map_len;
	unsigned count, size, mask;
	unsigned out; /* buffers handed to us and not yet returned */
	uint16_t bgid;
};

int ring_bufs_init(struct io_uring *ring, struct ring_bufs *b, unsigned count, unsigned size,
		   uint16_t bgid);
void ring_bufs_destroy(struct io_uring *ring, struct ring_bufs *b);

static inline char *ring_buf_data(const struct ring_bufs *b, unsigned bid)
{
	return b->base + (size_t)bid * b->size;
}

/* Hand buffer bid back to the kernel. */
void ring_buf_put(struct ring_bufs *b, unsigned bid);

/* True while fewer than a quarter of the buffers are free. */
static inline bool ring_bufs_hungry(const struct ring_bufs *b)
{
	return b->count - b->out < b->count / 4;
}

#endif
