/*
 * pb_wire.h - the protobuf wire format's primitives, shared by the JSON
 * parser (which writes them) and the JSON printer (which reads them):
 * varints, zigzag, little-endian fixed-width values and tags.
 *
 * Header-only and inline: every one of these runs once per field.  Writers
 * append to a pb_buf after pb_buf_ensure() made room; readers take a byte
 * range and return the position after the value, or NULL when the value is
 * truncated or malformed.
 */
#ifndef RINGGATE_PB_WIRE_H
#define RINGGATE_PB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "grpc/pb_json.h"

/* A varint is at most 10 bytes; a tag is at most 5 (field numbers < 2^29). */
#define PB_VARINT_MAX 10

/* Make room for n more bytes; the common case is one compare. */
static inline int pb_buf_ensure(struct pb_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	return pb_buf_reserve(b, n);
}

static inline unsigned pb_varint_size(uint64_t v)
{
	unsigned n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Write v at p (room for PB_VARINT_MAX bytes); returns the end. */
static inline uint8_t *pb_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* The caller made room (pb_buf_ensure) for everything appended here. */
static inline void pb_append_varint(struct pb_buf *b, uint64_t v)
{
	b->len = (size_t)(pb_put_varint(b->data + b->len, v) - b->data);
}

static inline void pb_append_tag(struct pb_buf *b, uint32_t number, unsigned wire)
{
	pb_append_varint(b, ((uint64_t)number << 3) | wire);
}

static inline void pb_append_fixed32(struct pb_buf *b, uint32_t v)
{
	uint8_t *p = b->data + b->len;

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	b->len += 4;
}

static inline void pb_append_fixed64(struct pb_buf *b, uint64_t v)
{
	pb_append_fixed32(b, (uint32_t)v);
	pb_append_fixed32(b, (uint32_t)(v >> 32));
}

static inline void pb_append_bytes(struct pb_buf *b, const void *p, size_t n)
{
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline uint64_t pb_zigzag_enc(int64_t v)
{
	uint64_t u = (uint64_t)v;

	return (u << 1) ^ (0 - (u >> 63));
}

static inline int64_t pb_zigzag_dec(uint64_t v)
{
	return (int64_t)((v >> 1) ^ (0 - (v & 1)));
}

static inline uint32_t pb_float_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static inline uint64_t pb_double_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	return u;
}

static inline float pb_bits_float(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static inline double pb_bits_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, 8);
	return d;
}

/*
 * Read a varint from [p, end).  Like protobuf's parsers, bits past the
 * 64th are dropped, and an 11th byte is an error.
 */
static inline const uint8_t *pb_get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	if (p < end && *p < 0x80) {
		*v = *p;
		return p + 1;
	}
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return NULL;
		uint8_t c = *p++;

		if (shift < 64)
			r |= (uint64_t)(c & 0x7f) << shift;
		if (c < 0x80) {
			*v = r;
			return p;
		}
	}
	return NULL;
}

static inline uint32_t pb_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t pb_get_le64(const uint8_t *p)
{
	return (uint64_t)pb_get_le32(p) | (uint64_t)pb_get_le32(p + 4) << 32;
}

/*
 * Skip the value of a field of wire type `wire` starting at p.  Groups are
 * skipped whole (their end tag must match); `depth` bounds their nesting.
 * Returns the position after the value, or NULL.
 */
const uint8_t *pb_skip_value(const uint8_t *p, const uint8_t *end, unsigned wire, uint32_t number,
			     unsigned depth);

/* Scalars other than strings and bytes may be sent packed. */
static inline bool pb_type_is_packable(unsigned type)
{
	return type != PB_TYPE_STRING && type != PB_TYPE_GROUP && type != PB_TYPE_MESSAGE &&
	       type != PB_TYPE_BYTES;
}

#endif
