/*
 * grpc_wire.c - gRPC's header-level encodings.
 */
#include "grpc/grpc_wire.h"

#include <string.h>

static const char *const code_names[] = {
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *grpc_code_name(int code)
{
	return code >= 0 && code <= 16 ? code_names[code] : "UNKNOWN";
}

int grpc_code_to_http(int code)
{
	static const int http[] = {
		200, /* OK */
		499, /* CANCELLED */
		500, /* UNKNOWN */
		400, /* INVALID_ARGUMENT */
		504, /* DEADLINE_EXCEEDED */
		404, /* NOT_FOUND */
		409, /* ALREADY_EXISTS */
		403, /* PERMISSION_DENIED */
		429, /* RESOURCE_EXHAUSTED */
		400, /* FAILED_PRECONDITION */
		409, /* ABORTED */
		400, /* OUT_OF_RANGE */
		501, /* UNIMPLEMENTED */
		500, /* INTERNAL */
		503, /* UNAVAILABLE */
		500, /* DATA_LOSS */
		401, /* UNAUTHENTICATED */
	};
	return code >= 0 && code <= 16 ? http[code] : 500;
}

int grpc_code_from_http(int http_status)
{
	switch (http_status) {
	case 400: return GRPC_INTERNAL;
	case 401: return GRPC_UNAUTHENTICATED;
	case 403: return GRPC_PERMISSION_DENIED;
	case 404: return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504: return GRPC_UNAVAILABLE;
	default: return GRPC_UNKNOWN;
	}
}

size_t grpc_timeout_encode(uint64_t ns, char out[10])
{
	static const struct {
		uint64_t ns_per_unit;
		char unit;
	} units[] = {
		{1ull, 'n'},          {1000ull, 'u'},        {1000000ull, 'm'},
		{1000000000ull, 'S'}, {60000000000ull, 'M'}, {3600000000000ull, 'H'},
	};
	const uint64_t max_value = 99999999ull;
	uint64_t v = 0;
	char unit = 'H';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t per = units[i].ns_per_unit;
		v = ns / per + (ns % per ? 1 : 0);
		unit = units[i].unit;
		if (v <= max_value)
			break;
	}
	if (v > max_value)
		v = max_value;
	if (v == 0)
		v = 1; /* "0n" would be an already-expired deadline */
	char digits[8];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	size_t len = 0;
	while (n)
		out[len++] = digits[--n];
	out[len++] = unit;
	return len;
}

int grpc_timeout_decode(const char *s, size_t len, uint64_t *ns)
{
	if (len < 2 || len > 9)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	uint64_t per;
	switch (s[len - 1]) {
	case 'n': per = 1; break;
	case 'u': per = 1000; break;
	case 'm': per = 1000000; break;
	case 'S': per = 1000000000ull; break;
	case 'M': per = 60000000000ull; break;
	case 'H': per = 3600000000000ull; break;
	default: return -1;
	}
	*ns = v > UINT64_MAX / per ? UINT64_MAX : v * per;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t grpc_percent_encode(const char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	return n;
}

size_t grpc_percent_decode(const char *in, size_t len, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '%' && i + 2 < len && hexval(in[i + 1]) >= 0 &&
		    hexval(in[i + 2]) >= 0) {
			out[n++] = (char)(hexval(in[i + 1]) << 4 | hexval(in[i + 2]));
			i += 2;
		} else {
			out[n++] = in[i];
		}
	}
	return n;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t grpc_base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t n = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[n++] = b64[v >> 18];
		out[n++] = b64[(v >> 12) & 63];
		out[n++] = b64[(v >> 6) & 63];
		out[n++] = b64[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[n++] = b64[v >> 18];
		out[n++] = b64[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[n++] = b64[v >> 18];
		out[n++] = b64[(v >> 12) & 63];
		out[n++] = b64[(v >> 6) & 63];
	}
	return n;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

long grpc_base64_decode(const char *in, size_t len, uint8_t *out)
{
	while (len && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	size_t n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64val(in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)n;
}

bool grpc_key_is_binary(const char *key, size_t len)
{
	return len >= 4 && memcmp(key + len - 4, "-bin", 4) == 0;
}
