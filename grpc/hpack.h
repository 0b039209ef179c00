/*
 * hpack.h - HPACK header compression (RFC 7541) for ringgate's HTTP/2 client.
 *
 * A connection owns one decoder (for the peer's HEADERS) and one encoder
 * (for ours).  Each holds its dynamic table in a single allocation made at
 * creation; decoding and encoding never allocate.
 *
 * Decoding is zero-copy where it can be: a header comes back as two slices
 * that point into the header block itself (raw literals), into the static
 * table, into the decoder's dynamic table, or into a scratch buffer the
 * caller lends for strings that need storage (Huffman-decoded strings, and
 * dynamic-table strings that a later field of the same block would
 * overwrite).  So the block and the scratch must outlive the decoded
 * headers, and they are valid only until the next hpack_decode on the same
 * decoder.
 *
 * Errors come in two classes (see enum hpack_error):
 *  - compression errors: the block is malformed, the decoder's state is lost;
 *    the HTTP/2 layer sends GOAWAY COMPRESSION_ERROR and frees the decoder.
 *  - header-list errors: the block was valid and fully processed, so the
 *    dynamic table is still in sync with the peer (RFC 9113 10.5.1 requires
 *    that), but the list does not fit our limits; only that stream fails.
 */
#ifndef RINGGATE_HPACK_H
#define RINGGATE_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* SETTINGS_HEADER_TABLE_SIZE before any SETTINGS arrive (RFC 9113 6.5.2). */
#define HPACK_DEFAULT_TABLE_SIZE 4096u
/* The largest table either side will allocate; far more than gRPC needs. */
#define HPACK_TABLE_SIZE_MAX (1u << 20)
/*
 * Default for SETTINGS_MAX_HEADER_LIST_SIZE (sum of name + value + 32):
 * twice gRPC C-core's 8 KiB metadata default, so any standard server fits.
 */
#define HPACK_DEFAULT_MAX_LIST_SIZE 16384u
/* Longest string either side accepts: keeps every integer within 5 octets. */
#define HPACK_STRING_MAX ((1u << 28) - 1)

/* A string that points into someone else's buffer. */
typedef struct hpack_slice {
	const char *base;
	size_t len;
} hpack_slice;

/* hpack_header.flags */
enum {
	/* Never indexed (RFC 7541 6.2.3, 7.1.3).  Encoder: the caller marks a
	 * secret; authorization, proxy-authorization, cookie and set-cookie are
	 * always treated so.  Decoder: set when the peer sent it so. */
	HPACK_F_SENSITIVE = 1u << 0,
	/* Encoder only: a literal without indexing, for values that change on
	 * every call and would only churn the table.  grpc-timeout,
	 * grpc-trace-bin, traceparent, x-request-id, x-b3-traceid and
	 * x-b3-spanid get this once their name is in a table (their first
	 * value is indexed, so later calls reference the name). */
	HPACK_F_NO_INDEX = 1u << 1,
};

/* Names must be lowercase (RFC 9113 8.2.1); the codec does not check. */
struct hpack_header {
	hpack_slice name;
	hpack_slice value;
	unsigned flags;
};

enum hpack_error {
	HPACK_OK = 0,
	/* Compression errors (connection-fatal). */
	HPACK_E_TRUNCATED = -1,     /* block ends inside a representation          */
	HPACK_E_INTEGER = -2,       /* integer over 2^28-1, or more than 5 octets  */
	HPACK_E_STRING_LENGTH = -3, /* string longer than the rest of the block;
				       encoder: a string over HPACK_STRING_MAX     */
	HPACK_E_HUFFMAN = -4,       /* EOS decoded, padding > 7 bits or not ones   */
	HPACK_E_INDEX = -5,         /* index 0, or past the static + dynamic table */
	HPACK_E_SIZE_UPDATE = -6,   /* over our limit, not at the block start, or
				       missing after we lowered our limit          */
	/* Header-list errors (the stream fails, the table stays in sync). */
	HPACK_E_LIST_TOO_LARGE = -7,   /* sum of name+value+32 over max_list_size */
	HPACK_E_SCRATCH_FULL = -8,     /* decoded strings overflow the scratch    */
	HPACK_E_TOO_MANY_HEADERS = -9, /* more fields than the caller's array     */
	/* Encoder. */
	HPACK_E_BUFFER = -10, /* output capacity below hpack_encode_bound()  */
};

/* True for the errors after which the decoder must be freed. */
static inline bool hpack_is_compression_error(int e)
{
	return e <= HPACK_E_TRUNCATED && e >= HPACK_E_SIZE_UPDATE;
}

/* A short, stable, lower_snake_case label for logs and metrics. */
const char *hpack_error_name(int e);

/* ---- Decoder -------------------------------------------------------- */

struct hpack_decoder;

/*
 * table_size: the SETTINGS_HEADER_TABLE_SIZE we advertise (allocated now,
 * at most HPACK_TABLE_SIZE_MAX).  initial_size: the table size the peer's
 * encoder starts from, HPACK_DEFAULT_TABLE_SIZE on HTTP/2; when it exceeds
 * table_size, the first block must open with a size update <= table_size.
 * max_list_size: our SETTINGS_MAX_HEADER_LIST_SIZE.  NULL on bad sizes or
 * out of memory.
 */
struct hpack_decoder *hpack_decoder_new(uint32_t table_size, uint32_t initial_size,
					uint32_t max_list_size);
void hpack_decoder_free(struct hpack_decoder *d);

/*
 * We now advertise `size` (<= the table_size given at creation); call when
 * the peer ACKs the SETTINGS that carry it.  If it is below the table's
 * current maximum, the next block must open with a size update <= size.
 */
void hpack_decoder_set_max(struct hpack_decoder *d, uint32_t size);
void hpack_decoder_set_max_list(struct hpack_decoder *d, uint32_t max_list_size);

/* The caller's output space for one block. */
struct hpack_decoded {
	struct hpack_header *headers; /* in: array of max_headers              */
	size_t max_headers;
	char *scratch; /* in: storage for strings that need it      */
	size_t scratch_cap;
	size_t count;        /* out: headers stored                          */
	size_t scratch_used; /* out                                          */
	size_t list_size;    /* out: sum of name + value + 32, all fields    */
	size_t error_at;     /* out: offset of the failing representation    */
};

/*
 * Decode one complete header block (HEADERS + CONTINUATION payloads joined,
 * padding and priority removed).  Returns HPACK_OK or a negative
 * enum hpack_error.  After a header-list error `count` headers are valid but
 * the list is incomplete; after a compression error nothing is.
 */
int hpack_decode(struct hpack_decoder *d, const uint8_t *block, size_t len,
		 struct hpack_decoded *out);

/* ---- Encoder -------------------------------------------------------- */

struct hpack_encoder;

enum {
	HPACK_ENC_NO_HUFFMAN = 1u << 0, /* send every string raw */
};

/*
 * max_size: the most table we are willing to keep for the peer (allocated
 * now, at most HPACK_TABLE_SIZE_MAX).  initial_size: the table size the
 * peer's decoder starts from, HPACK_DEFAULT_TABLE_SIZE on HTTP/2.
 * The table in use is min(peer's setting, max_size); a change is announced
 * by a size update at the start of the next block.
 */
struct hpack_encoder *hpack_encoder_new(uint32_t max_size, uint32_t initial_size, unsigned flags);
void hpack_encoder_free(struct hpack_encoder *e);

/* The peer's SETTINGS_HEADER_TABLE_SIZE arrived. */
void hpack_encoder_set_peer_max(struct hpack_encoder *e, uint32_t peer_size);

/* Output bytes that always suffice for these headers; SIZE_MAX if a
 * string is longer than HPACK_STRING_MAX. */
size_t hpack_encode_bound(const struct hpack_header *h, size_t n);

/*
 * Encode one header block into out[0..cap).  Returns the bytes written, or
 * HPACK_E_BUFFER when cap < hpack_encode_bound(h, n) (checked before any
 * state changes, so the encoder stays in sync with the peer), or
 * HPACK_E_STRING_LENGTH.
 */
ssize_t hpack_encode(struct hpack_encoder *e, const struct hpack_header *h, size_t n, uint8_t *out,
		     size_t cap);

/* ---- Table inspection (tests, fuzzing, debugging) ------------------- */

struct hpack_table;

const struct hpack_table *hpack_decoder_table(const struct hpack_decoder *d);
const struct hpack_table *hpack_encoder_table(const struct hpack_encoder *e);
uint32_t hpack_table_count(const struct hpack_table *t);
uint32_t hpack_table_size(const struct hpack_table *t); /* sum of name+value+32 */
uint32_t hpack_table_max(const struct hpack_table *t);
/*
 * Copy entry i (0 = newest, HPACK index 62) into buf and point h at it.
 * Returns 0, or -1 if i is out of range or buf is too small.
 */
int hpack_table_get(const struct hpack_table *t, uint32_t i, char *buf, size_t cap,
		    struct hpack_header *h);

#endif
