/*
 * bufring.c - provided-buffer ring set-up, hand-back and tear-down.
 */
#include "ring/bufring.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int ring_bufs_init(struct io_uring *ring, struct ring_bufs *b, unsigned count, unsigned size,
		   uint16_t bgid)
{
	memset(b, 0, sizeof(*b));
	if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0)
		return -EINVAL;

	size_t ring_len = (size_t)count * sizeof(struct io_uring_buf);
	size_t data_len = (size_t)count * size;
	/* One mapping: the shared ring first (page aligned, as the kernel
	 * requires), the buffers after it.  Pages are touched only when the
	 * kernel fills a buffer, so a large pool costs nothing while idle. */
	size_t ring_pages = (ring_len + 4095) & ~(size_t)4095;
	void *mem = mmap(NULL, ring_pages + data_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;

	b->br = mem;
	b->base = (char *)mem + ring_pages;
	b->map_len = ring_pages + data_len;
	b->count = count;
	b->size = size;
	b->mask = count - 1;
	b->bgid = bgid;

	struct io_uring_buf_reg reg = {
		.ring_addr = (unsigned long)b->br,
		.ring_entries = count,
		.bgid = bgid,
	};
	int ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret < 0) {
		munmap(mem, b->map_len);
		memset(b, 0, sizeof(*b));
		return ret;
	}
	io_uring_buf_ring_init(b->br);
	for (unsigned i = 0; i < count; i++)
		io_uring_buf_ring_add(b->br, ring_buf_data(b, i), size, (unsigned short)i, b->mask,
				      (int)i);
	io_uring_buf_ring_advance(b->br, (int)count);
	return 0;
}

void ring_buf_put(struct ring_bufs *b, unsigned bid)
{
	assert(bid < b->count);
	assert(b->out > 0);
	io_uring_buf_ring_add(b->br, ring_buf_data(b, bid), b->size, (unsigned short)bid, b->mask,
			      0);
	/* advance() publishes the tail with a release store; liburing 2.3's
	 * cq_advance variant does not (NOTES.md). */
	io_uring_buf_ring_advance(b->br, 1);
	b->out--;
}

void ring_bufs_destroy(struct io_uring *ring, struct ring_bufs *b)
{
	if (!b->br)
		return;
	io_uring_unregister_buf_ring(ring, b->bgid);
	munmap(b->br, b->map_len);
	memset(b, 0, sizeof(*b));
}
