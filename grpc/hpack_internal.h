/*
 * hpack_internal.h - the pieces of the HPACK codec shared between its files
 * and its tests: integers, the static table and the Huffman code.  Not part
 * of the API the HTTP/2 layer uses.
 */
#ifndef RINGGATE_HPACK_INTERNAL_H
#define RINGGATE_HPACK_INTERNAL_H

#include "hpack.h"

/* ---- Integers (RFC 7541 5.1) ---------------------------------------- */

/*
 * Decode an integer whose N-bit prefix (1..8) is in the low bits of **p.
 * Values over HPACK_STRING_MAX or longer than 5 octets are HPACK_E_INTEGER
 * (5.1: "exceed implementation limits ... in value or octet length").
 * Advances *p on success.
 */
int hpack_int_decode(const uint8_t **p, const uint8_t *end, unsigned prefix, uint32_t *v);

/* Encode v with an N-bit prefix; `high` holds the bits above the prefix.
 * Writes at most 5 octets (v <= HPACK_STRING_MAX) and returns the end. */
uint8_t *hpack_int_encode(uint8_t *out, uint8_t high, unsigned prefix, uint32_t v);

/* ---- Static table (RFC 7541 Appendix A) ----------------------------- */

#define HPACK_STATIC_COUNT 61

struct hpack_static_entry {
	const char *name;
	const char *value;
	uint8_t name_len;
	uint8_t value_len;
	uint8_t same_name; /* on the first entry of a name: entries sharing it */
};

/* Indexed 1..61; [0] is empty. */
extern const struct hpack_static_entry hpack_static_table[HPACK_STATIC_COUNT + 1];

/*
 * Look a field up: returns the index of an exact (name, value) match or 0,
 * and sets *name_idx to the lowest index with that name, or 0.
 */
unsigned hpack_static_find(const char *name, size_t name_len, const char *value, size_t value_len,
			   unsigned *name_idx);

/* ---- Huffman code (RFC 7541 5.2, Appendix B) ------------------------ */

#define HPACK_HUFF_EOS 256

struct hpack_huff_code {
	uint32_t code; /* right-aligned */
	uint8_t len;   /* bits, 5..30 */
};
extern const struct hpack_huff_code hpack_huff_codes[257];

/*
 * The decoder is a state machine over the code tree that eats 4 bits a
 * step.  A state is an internal node of the tree (256 of them, 0 = root);
 * a step from state s on nibble x walks 4 edges, emitting the symbol of a
 * leaf it meets (at most one: no code is shorter than 5 bits) and going on
 * from the root.
 */
enum {
	HPACK_HUFF_EMIT = 1u << 0,   /* `sym` is decoded by this step            */
	HPACK_HUFF_FAIL = 1u << 1,   /* the walk met EOS: an error (5.2)         */
	HPACK_HUFF_ACCEPT = 1u << 2, /* the string may end here: the bits since
				       the last symbol are <= 7 ones (5.2)     */
};
struct hpack_huff_step {
	uint8_t next;
	uint8_t flags;
	uint8_t sym;
};
/* Generated from hpack_huff_codes by hpack_huff_build_steps() (see
 * hpack_huffman_table.c). */
extern const struct hpack_huff_step hpack_huff_steps[256][16];
void hpack_huff_build_steps(struct hpack_huff_step out[256][16]);

/* Length in bytes of the Huffman form of s[0..n). */
size_t hpack_huff_len(const uint8_t *s, size_t n);
/* Write the Huffman form (hpack_huff_len bytes); returns its end. */
uint8_t *hpack_huff_encode(uint8_t *out, const uint8_t *s, size_t n);
/*
 * Decode src[0..n) into dst[0..cap).  Returns the decoded length,
 * HPACK_E_HUFFMAN, or HPACK_E_SCRATCH_FULL when it does not fit in cap.
 */
ssize_t hpack_huff_decode(char *dst, size_t cap, const uint8_t *src, size_t n);
/* Validate only; returns the decoded length or HPACK_E_HUFFMAN. */
ssize_t hpack_huff_check(const uint8_t *src, size_t n);

#endif
