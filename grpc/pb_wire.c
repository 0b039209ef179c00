/*
 * pb_wire.c - the output buffer (the transcoder's only allocation) and
 * skipping of wire values the transcoder does not read.
 */
#include "grpc/pb_wire.h"

#include <errno.h>
#include <stdlib.h>

/* First allocation: big enough for a typical request without a regrow. */
#define PB_BUF_MIN 512

int pb_buf_reserve(struct pb_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len)
		return -E2BIG;
	need = b->len + extra;
	if (b->limit != 0 && need > b->limit)
		return -E2BIG;
	if (need <= b->cap)
		return 0;
	cap = b->cap < PB_BUF_MIN ? PB_BUF_MIN : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	/* Never allocate far past the limit: it is the caller's memory cap. */
	if (b->limit != 0 && cap > b->limit)
		cap = b->limit;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void pb_buf_free(struct pb_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const uint8_t *pb_skip_value(const uint8_t *p, const uint8_t *end, unsigned wire, uint32_t number,
			     unsigned depth)
{
	uint64_t v;

	switch (wire) {
	case PB_WIRE_VARINT: return pb_get_varint(p, end, &v);
	case PB_WIRE_I64: return end - p >= 8 ? p + 8 : NULL;
	case PB_WIRE_I32: return end - p >= 4 ? p + 4 : NULL;
	case PB_WIRE_LEN:
		p = pb_get_varint(p, end, &v);
		if (p == NULL || v > (uint64_t)(end - p))
			return NULL;
		return p + v;
	case PB_WIRE_SGROUP:
		if (depth == 0)
			return NULL;
		for (;;) {
			uint64_t tag;

			p = pb_get_varint(p, end, &tag);
			if (p == NULL || tag > UINT32_MAX || (tag >> 3) == 0)
				return NULL;
			if ((tag & 7) == PB_WIRE_EGROUP)
				return (tag >> 3) == number ? p : NULL;
			p = pb_skip_value(p, end, (unsigned)(tag & 7), (uint32_t)(tag >> 3),
					  depth - 1);
			if (p == NULL)
				return NULL;
		}
	default: return NULL;
	}
}
