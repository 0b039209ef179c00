/*
 * grpc_wire.h - the small encodings of the gRPC HTTP/2 protocol
 * (PROTOCOL-HTTP2.md): grpc-timeout, grpc-message percent-coding, base64
 * for -bin metadata, status codes and their HTTP counterparts.
 *
 * Pure functions on caller buffers: no allocation, no state.
 */
#ifndef RINGGATE_GRPC_WIRE_H
#define RINGGATE_GRPC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

/* "NOT_FOUND"; "UNKNOWN" for codes outside 0..16. */
const char *grpc_code_name(int code);

/* gRPC status -> HTTP status for a REST client (grpc-gateway's table). */
int grpc_code_to_http(int code);

/* Non-200 :status from a gRPC server -> gRPC status (the gRPC spec's
 * http-grpc-status-mapping.md). */
int grpc_code_from_http(int http_status);

/*
 * grpc-timeout: at most 8 digits and a unit (H M S m u n).  Encodes the
 * finest unit that fits, rounding up so the server never sees a shorter
 * deadline than ours.  out needs 10 bytes; returns the length.
 */
size_t grpc_timeout_encode(uint64_t ns, char out[10]);
/* Returns 0 and the value in ns (saturating), or -1 if malformed. */
int grpc_timeout_decode(const char *s, size_t len, uint64_t *ns);

/*
 * grpc-message: bytes outside 0x20-0x7E and '%' are sent as %XX.
 * Encode needs 3*len bytes of room.  Decode is lenient, as the spec asks:
 * a '%' not followed by two hex digits is kept as it is.  Decode can work
 * in place (out == in).  Both return the output length.
 */
size_t grpc_percent_encode(const char *in, size_t len, char *out);
size_t grpc_percent_decode(const char *in, size_t len, char *out);

/*
 * Base64 for -bin metadata: we send standard alphabet without padding and
 * accept padded and unpadded input (PROTOCOL-HTTP2.md).  Encode needs
 * grpc_base64_encoded_len(len) bytes.  Decode returns the length or -1 on
 * bad input; out needs len*3/4+3 bytes.
 */
static inline size_t grpc_base64_encoded_len(size_t len)
{
	return (len / 3) * 4 + (len % 3 ? len % 3 + 1 : 0);
}
size_t grpc_base64_encode(const uint8_t *in, size_t len, char *out);
long grpc_base64_decode(const char *in, size_t len, uint8_t *out);

/* True for metadata keys that carry binary values ("-bin" suffix). */
bool grpc_key_is_binary(const char *key, size_t len);

#endif
