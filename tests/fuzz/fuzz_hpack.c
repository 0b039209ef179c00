/*
 * fuzz_hpack.c - libFuzzer target for the HPACK decoder, and through a
 * round trip for the encoder.
 *
 * Input: one control octet, then records.
 *   control  bits 0-1  table size: 4096, 256, 64, 0
 *            bit 2     the peer starts at 4096 (HTTP/2) instead of at it
 *            bits 3-4  scratch: 65536, 512, 64, 0 octets
 *            bit 5     max header list: 1 MiB, or 300
 *            bit 6     headers array: 64, or 3
 *            bit 7     re-encode without Huffman
 *   record   L, then L octets of one header block (L = 0xff: a 2-octet
 *            big-endian length follows instead); L = 0: the next octet
 *            times 32 becomes our advertised table size (clipped).
 *
 * Every buffer the codec sees is allocated to its exact size, so ASan
 * catches a byte read or written past any limit.  Each block that decodes
 * is re-encoded by a fresh encoder and decoded by a fresh decoder (one pair
 * per input, following the same table-size changes); the lists must match
 * and the pair's tables must stay in sync.
 */
#include "hpack.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);                    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static bool slices_eq(hpack_slice a, hpack_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

/* The table's own accounting agrees with its entries. */
static void check_table(const struct hpack_table *t, uint32_t cap)
{
	static char buf[HPACK_TABLE_SIZE_MAX];
	uint64_t size = 0;
	struct hpack_header h;

	REQUIRE(hpack_table_size(t) <= hpack_table_max(t));
	REQUIRE(hpack_table_max(t) <= cap);
	for (uint32_t i = 0; i < hpack_table_count(t); i++) {
		REQUIRE(hpack_table_get(t, i, buf, sizeof(buf), &h) == 0);
		size += h.name.len + h.value.len + 32;
	}
	REQUIRE(size == hpack_table_size(t));
	REQUIRE(hpack_table_get(t, hpack_table_count(t), buf, sizeof(buf), &h) == -1);
}

static bool tables_eq(const struct hpack_table *a, const struct hpack_table *b)
{
	static char ba[HPACK_TABLE_SIZE_MAX], bb[HPACK_TABLE_SIZE_MAX];
	struct hpack_header ha, hb;

	if (hpack_table_count(a) != hpack_table_count(b) ||
	    hpack_table_size(a) != hpack_table_size(b) || hpack_table_max(a) != hpack_table_max(b))
		return false;
	for (uint32_t i = 0; i < hpack_table_count(a); i++) {
		REQUIRE(hpack_table_get(a, i, ba, sizeof(ba), &ha) == 0);
		REQUIRE(hpack_table_get(b, i, bb, sizeof(bb), &hb) == 0);
		if (!slices_eq(ha.name, hb.name) || !slices_eq(ha.value, hb.value))
			return false;
	}
	return true;
}

/* Encode the decoded list with the pair and check it comes back equal. */
static void round_trip(struct hpack_encoder *e, struct hpack_decoder *d2,
		       const struct hpack_header *h, size_t n)
{
	size_t bound = hpack_encode_bound(h, n);
	uint8_t *out = malloc(bound);
	struct hpack_header *back = malloc((n ? n : 1) * sizeof(*back));
	char *scratch = malloc(bound);
	struct hpack_decoded o = {
		.headers = back, .max_headers = n, .scratch = scratch, .scratch_cap = bound};
	ssize_t len;
	int rc;

	REQUIRE(out && back && scratch);
	len = hpack_encode(e, h, n, out, bound);
	REQUIRE(len >= 0 && (size_t)len <= bound);
	rc = hpack_decode(d2, out, (size_t)len, &o);
	REQUIRE(rc == HPACK_OK);
	REQUIRE(o.count == n);
	for (size_t i = 0; i < n; i++) {
		REQUIRE(slices_eq(h[i].name, back[i].name));
		REQUIRE(slices_eq(h[i].value, back[i].value));
		if (h[i].flags & HPACK_F_SENSITIVE)
			REQUIRE(back[i].flags & HPACK_F_SENSITIVE);
	}
	REQUIRE(tables_eq(hpack_encoder_table(e), hpack_decoder_table(d2)));
	free(out);
	free(back);
	free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t tables[] = {4096, 256, 64, 0};
	static const size_t scratches[] = {65536, 512, 64, 0};
	uint8_t ctl;
	uint32_t tsize, max_list;
	size_t scratch_cap, max_headers;
	struct hpack_decoder *d, *d2;
	struct hpack_encoder *e;
	struct hpack_header *hdr;
	char *scratch;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	tsize = tables[ctl & 3];
	scratch_cap = scratches[(ctl >> 3) & 3];
	max_list = ctl & 0x20 ? 300 : 1u << 20;
	max_headers = ctl & 0x40 ? 3 : 64;

	d = hpack_decoder_new(tsize, ctl & 4 ? HPACK_DEFAULT_TABLE_SIZE : tsize, max_list);
	e = hpack_encoder_new(tsize, tsize, ctl & 0x80 ? HPACK_ENC_NO_HUFFMAN : 0);
	d2 = hpack_decoder_new(tsize, tsize, UINT32_MAX);
	hdr = malloc(max_headers * sizeof(*hdr));
	scratch = scratch_cap ? malloc(scratch_cap) : NULL;
	REQUIRE(d && e && d2 && hdr && (scratch || !scratch_cap));

	while (size > 0) {
		size_t len = data[0];
		uint8_t *block;
		struct hpack_decoded o = {.headers = hdr,
					  .max_headers = max_headers,
					  .scratch = scratch,
					  .scratch_cap = scratch_cap};
		int rc;

		data++;
		size--;
		if (len == 0) {
			uint32_t v;

			if (size == 0)
				break;
			v = (uint32_t)data[0] * 32;
			if (v > tsize)
				v = tsize;
			data++;
			size--;
			hpack_decoder_set_max(d, v);
			hpack_encoder_set_peer_max(e, v);
			hpack_decoder_set_max(d2, v);
			continue;
		}
		if (len == 0xff) {
			if (size < 2)
				break;
			len = (size_t)data[0] << 8 | data[1];
			data += 2;
			size -= 2;
		}
		if (len > size)
			len = size;
		block = malloc(len ? len : 1);
		REQUIRE(block);
		if (len)
			memcpy(block, data, len);
		data += len;
		size -= len;

		rc = hpack_decode(d, block, len, &o);
		REQUIRE(rc <= 0 && rc >= HPACK_E_TOO_MANY_HEADERS);
		check_table(hpack_decoder_table(d), tsize);
		if (hpack_is_compression_error(rc)) {
			REQUIRE(o.error_at <= len);
			free(block);
			break; /* the connection would be closed */
		}
		REQUIRE(o.count <= max_headers);
		REQUIRE(o.scratch_used <= scratch_cap);
		uint64_t list = 0;
		unsigned sum = 0;

		for (size_t i = 0; i < o.count; i++) {
			REQUIRE(hdr[i].name.base && hdr[i].value.base);
			/* Touch every byte: ASan flags a slice that points
			 * anywhere it should not. */
			for (size_t k = 0; k < hdr[i].name.len; k++)
				sum += (uint8_t)hdr[i].name.base[k];
			for (size_t k = 0; k < hdr[i].value.len; k++)
				sum += (uint8_t)hdr[i].value.base[k];
			list += hdr[i].name.len + hdr[i].value.len + 32;
		}
		(void)sum;
		if (rc == HPACK_OK) {
			REQUIRE(list == o.list_size && list <= max_list);
			round_trip(e, d2, hdr, o.count);
		} else {
			REQUIRE(o.list_size >= list);
		}
		free(block);
	}

	hpack_decoder_free(d);
	hpack_decoder_free(d2);
	hpack_encoder_free(e);
	free(hdr);
	free(scratch);
	return 0;
}
