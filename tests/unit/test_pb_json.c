/*
 * test_pb_json.c - the JSON <-> protobuf transcoder (grpc/pb_json_*.c)
 * against the proto3 JSON mapping as google.protobuf.json_format applies
 * it.  One table per rule family; the expected values come from
 * json_format (python3-protobuf 4.21) on the same input.
 *
 * The schema is tests/protos/transcode_test.proto compiled by protoc
 * (argv[1], or $PBJSON_DESCRIPTORS); the text helpers need none.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/pb_json.h"
#include "grpc/pb_json_text.h"
#include "grpc/pb_schema.h"
#include "grpc/pb_wire.h"
#include "unit.h"

static struct pb_schema *schema;
static const struct pb_message *everything;

/* ---- helpers -------------------------------------------------------------- */

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		if (*hex == ' ') {
			hex--;
			continue;
		}
		unsigned v;

		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void tohex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

/* JSON -> proto -> JSON with default options; "ERR path" on failure. */
static void json_roundtrip(const char *json, const char *type, bool ignore, char *out, size_t cap)
{
	const struct pb_message *m = type ? pb_schema_message(schema, type) : everything;
	struct pb_json_parse_opts po = {.ignore_unknown_fields = ignore};
	struct pb_json_print_opts oo = {0};
	struct pb_buf wire = {0}, text = {0};
	struct pb_json_error err;

	if (pb_json_to_proto_ex(schema, m, json, strlen(json), &po, &wire, &err) != 0) {
		snprintf(out, cap, "ERR %s", err.path);
	} else if (pb_proto_to_json(schema, m, wire.data, wire.len, &oo, &text, &err) != 0) {
		snprintf(out, cap, "PRINT ERR %s: %s", err.path, err.message);
	} else {
		snprintf(out, cap, "%.*s", (int)text.len, (const char *)text.data);
	}
	pb_buf_free(&wire);
	pb_buf_free(&text);
}

/* ---- text helpers ------------------------------------------------------------ */

static void test_fmt_double(void)
{
	static const struct {
		double v;
		const char *want;
	} rows[] = {
		{0.0, "0.0"},
		{-0.0, "-0.0"},
		{1.0, "1.0"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{0.1 + 0.2, "0.30000000000000004"},
		{1e16, "1e+16"},
		{1e15, "1000000000000000.0"},
		{1234567890123456.0, "1234567890123456.0"},
		{12345678901234567.0, "1.2345678901234568e+16"},
		{1e-4, "0.0001"},
		{1e-5, "1e-05"},
		{1.5e-7, "1.5e-07"},
		{5e-324, "5e-324"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{9007199254740993.0, "9007199254740992.0"},
		{123.456, "123.456"},
		{1e22, "1e+22"},
		{1e23, "1e+23"},
		{0x1p-1022, "2.2250738585072014e-308"},
		{0x1p+1023, "8.98846567431158e+307"},
		{0x1p-1000, "9.332636185032189e-302"},
		{100.0, "100.0"},
		{3.14159, "3.14159"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[PBJ_NUM_MAX + 1];
		size_t n = pbj_fmt_double(buf, rows[i].v);

		buf[n] = '\0';
		CHECK(strcmp(buf, rows[i].want) == 0, "repr(double)", "%a: got %s want %s",
		      rows[i].v, buf, rows[i].want);
	}
}

static void test_fmt_float(void)
{
	static const struct {
		float v;
		const char *want;
	} rows[] = {
		{0.1f, "0.1"},
		{-0.0f, "-0.0"},
		{1.0f, "1.0"},
		{16777216.0f, "16777216.0"},
		{16777217.0f, "16777216.0"},
		{137438953472.0f, "137438950000.0"},
		{123456792.0f, "123456790.0"},
		{1e10f, "10000000000.0"},
		{3.4028234663852886e38f, "3.4028235e+38"},
		{1.17549435e-38f, "1.1754944e-38"},
		{1e-45f, "1.4013e-45"},
		{123456.7f, "123456.7"},
		{0.3f, "0.3"},
		{2.5f, "2.5"},
		{1e-7f, "1e-07"},
		{96439.3984375f, "96439.4"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[PBJ_NUM_MAX + 1];
		size_t n = pbj_fmt_float(buf, rows[i].v);

		buf[n] = '\0';
		CHECK(strcmp(buf, rows[i].want) == 0, "json_format ToShortestFloat",
		      "%a: got %s want %s", (double)rows[i].v, buf, rows[i].want);
	}
}

static void test_base64(void)
{
	static const struct {
		const char *in, *want; /* want: hex, or NULL for an error */
	} rows[] = {
		{"", ""},           {"AP8=", "00ff"},   {"AP8", "00ff"},
		{"AP-_", "00ffbf"}, {"AP+/", "00ffbf"}, {"QUJD====", "414243"},
		{"QQ=A", "4100"},   {"Q=Q=", "41"},     {"!QUJD", "414243"},
		{"A", NULL},        {"Q Q", NULL},      {"=QQ", NULL},
		{"QR==", "41"}, /* leftover bits ignored */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t out[64];
		char hex[130];
		long n = pbj_base64_decode((const uint8_t *)rows[i].in, strlen(rows[i].in), out);

		if (rows[i].want == NULL) {
			CHECK(n < 0, "base64 refused as binascii does", "%s: got %ld", rows[i].in,
			      n);
			continue;
		}
		CHECK(n >= 0, "base64 accepted as binascii does", "%s", rows[i].in);
		if (n < 0)
			continue;
		tohex(out, (size_t)n, hex);
		CHECK(strcmp(hex, rows[i].want) == 0, "base64 decoded as binascii does",
		      "%s: got %s want %s", rows[i].in, hex, rows[i].want);
	}
	struct pb_buf b = {0};
	uint8_t all[256];

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	for (size_t n = 0; n <= 256; n += 37) {
		uint8_t back[256];

		b.len = 0;
		CHECK(pbj_put_base64(&b, all, n) == 0, "base64 out", "n=%zu", n);
		CHECK(b.data[0] == '"' && b.data[b.len - 1] == '"' && (b.len - 2) % 4 == 0,
		      "base64 out: quoted, padded", "n=%zu", n);
		long m = pbj_base64_decode(b.data + 1, b.len - 2, back);

		CHECK(m == (long)n && memcmp(back, all, n) == 0, "base64 round trip", "n=%zu", n);
	}
	pb_buf_free(&b);
}

static void test_py_numbers(void)
{
	static const struct {
		const char *in;
		bool ok, neg, ov;
		uint64_t mag;
	} ints[] = {
		{"5", true, false, false, 5},
		{" 5 ", true, false, false, 5},
		{"\t-5\n", true, true, false, 5},
		{"+7", true, false, false, 7},
		{"007", true, false, false, 7},
		{"1_000", true, false, false, 1000},
		{"1__0", false, false, false, 0},
		{"_1", false, false, false, 0},
		{"1_", false, false, false, 0},
		{"", false, false, false, 0},
		{"-", false, false, false, 0},
		{"0x10", false, false, false, 0},
		{"1e2", false, false, false, 0},
		{"18446744073709551615", true, false, false, UINT64_MAX},
		{"18446744073709551616", true, false, true, 0},
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		bool neg, ov;
		uint64_t mag = 0;
		bool ok = pbj_py_int(ints[i].in, strlen(ints[i].in), &neg, &mag, &ov);

		CHECK(ok == ints[i].ok, "Python int() grammar", "%s", ints[i].in);
		if (ok && ints[i].ok)
			CHECK(neg == ints[i].neg && ov == ints[i].ov && (ov || mag == ints[i].mag),
			      "Python int() value", "%s", ints[i].in);
	}
	static const struct {
		const char *in;
		bool ok;
		double want;
	} floats[] = {
		{"1.5", true, 1.5},        {" 1.5 ", true, 1.5},
		{"1.", true, 1.0},         {".5", true, 0.5},
		{"1_0.5", true, 10.5},     {"1e1_0", true, 1e10},
		{"-iNf", true, -INFINITY}, {"infinity", true, INFINITY},
		{"1__0", false, 0},        {".", false, 0},
		{"1e", false, 0},          {"0x1p3", false, 0},
		{"1.5x", false, 0},        {"1e400", true, INFINITY},
	};
	for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
		double d = 0;
		bool ok = pbj_py_float(floats[i].in, strlen(floats[i].in), &d);

		CHECK(ok == floats[i].ok && (!ok || d == floats[i].want), "Python float() grammar",
		      "%s: ok %d value %g", floats[i].in, ok, d);
	}
	/* Correct rounding past the fast path (strtod with a sticky digit). */
	char big[1200];

	memset(big, '1', sizeof(big) - 1);
	big[0] = '0';
	big[1] = '.';
	big[sizeof(big) - 1] = '\0';
	CHECK(pbj_json_number_to_double(big, strlen(big)) == 0.1111111111111111, "long mantissa",
	      "%.17g", pbj_json_number_to_double(big, strlen(big)));
	CHECK(pbj_json_number_to_double("123e-2", 6) == 1.23, "exponent", " ");
	CHECK(pbj_json_number_to_double("2.4e-324", 8) == 0.0 &&
		      pbj_json_number_to_double("2.5e-324", 8) == 5e-324,
	      "subnormal rounding", " ");
}

static void test_timestamps(void)
{
	static const struct {
		const char *in;
		int64_t sec;
		int32_t ns;
		bool ok;
	} rows[] = {
		{"1970-01-01T00:00:00Z", 0, 0, true},
		{"1972-01-01T10:00:20.021-05:00", 63126020, 21000000, true},
		{"1972-01-01T10:00:20.021+05:30", 63088220, 21000000, true},
		{"0001-01-01T00:00:00Z", -62135596800, 0, true},
		{"9999-12-31T23:59:59.999999999Z", 253402300799, 999999999, true},
		{"1970-1-1T0:0:0Z", 0, 0, true},
		{"1970-01- 1T00:00:00Z", 0, 0, true},
		{"1969-12-31T23:59:59.5Z", -1, 500000000, true},
		{"1970-01-01T00:00:00.Z", 0, 0, true},
		{"2000-02-29T00:00:00Z", 951782400, 0, true},
		{"1900-02-29T00:00:00Z", 0, 0, false},
		{"1970-01-01t00:00:00Z", 0, 0, false},
		{"1970-01-01T24:00:00Z", 0, 0, false},
		{"1970-01-01T00:00:60Z", 0, 0, false},
		{"0000-01-01T00:00:00Z", 0, 0, false},
		{"10000-01-01T00:00:00Z", 0, 0, false},
		{"1970-01-01T00:00:00.1234567890Z", 0, 0, false},
		{"1970-01-01T00:00:00+0100", 0, 0, false},
		{"1970-01-01T00:00:00", 0, 0, false},
		{"1970-01-01T00:00:00Zx", 0, 0, false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t sec = 0;
		int32_t ns = 0;
		const char *why = "";
		int rc = pbj_parse_timestamp(rows[i].in, strlen(rows[i].in), &sec, &ns, &why);

		CHECK((rc == 0) == rows[i].ok, "Timestamp text accepted as json_format does",
		      "%s: %s", rows[i].in, why);
		if (rc == 0 && rows[i].ok)
			CHECK(sec == rows[i].sec && ns == rows[i].ns, "Timestamp value",
			      "%s: %lld.%09d", rows[i].in, (long long)sec, ns);
	}
	static const struct {
		int64_t sec;
		int32_t ns;
		const char *want; /* NULL: refused */
	} out[] = {
		{0, 0, "\"1970-01-01T00:00:00Z\""},
		{0, 21000000, "\"1970-01-01T00:00:00.021Z\""},
		{0, 21000, "\"1970-01-01T00:00:00.000021Z\""},
		{0, 21, "\"1970-01-01T00:00:00.000000021Z\""},
		{-1, 0, "\"1969-12-31T23:59:59Z\""},
		{0, -1, "\"1969-12-31T23:59:59.999999999Z\""},
		{1, 2000000000, "\"1970-01-01T00:00:03Z\""},
		{253402300799, 999999999, "\"9999-12-31T23:59:59.999999999Z\""},
		{253402300800, 0, NULL},
		{-62135596801, 0, NULL},
		{INT64_MIN, 0, NULL},
	};
	struct pb_buf b = {0};

	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		b.len = 0;
		int rc = pbj_put_timestamp(&b, out[i].sec, out[i].ns);

		if (out[i].want == NULL) {
			CHECK(rc == -1, "Timestamp outside years 1-9999 refused", "%lld",
			      (long long)out[i].sec);
			continue;
		}
		CHECK(rc == 0 && b.len == strlen(out[i].want) &&
			      memcmp(b.data, out[i].want, b.len) == 0,
		      "Timestamp printed with 0/3/6/9 digits, Z", "got %.*s want %s", (int)b.len,
		      (const char *)b.data, out[i].want);
	}
	static const struct {
		const char *in;
		int64_t sec;
		int32_t ns;
		bool ok;
	} din[] = {
		{"1.5s", 1, 500000000, true},
		{"-0.000001s", 0, -1000, true},
		{"-1.5s", -1, -500000000, true},
		{"1.s", 1, 0, true},
		{"315576000000s", 315576000000, 0, true},
		{"315576000001s", 0, 0, false},
		{"1.0000000001s", 1, 0, true},
		{"1.9999999999s", 0, 0, false},
		{" 1.5s", 0, 0, false}, /* sign mismatch? no: " 1" then +0.5 */
		{".5s", 0, 0, false},
		{"1", 0, 0, false},
		{"1.5e3s", 0, 0, false},
	};
	for (size_t i = 0; i < sizeof(din) / sizeof(din[0]); i++) {
		int64_t sec = 0;
		int32_t ns = 0;
		const char *why = "";
		int rc = pbj_parse_duration(din[i].in, strlen(din[i].in), &sec, &ns, &why);

		if (i == 8) { /* " 1.5s" is accepted: int(" 1") = 1 */
			CHECK(rc == 0 && sec == 1 && ns == 500000000, "Duration with a space", "%s",
			      why);
			continue;
		}
		CHECK((rc == 0) == din[i].ok && (rc != 0 || (sec == din[i].sec && ns == din[i].ns)),
		      "Duration text as json_format reads it", "%s: rc %d %lld %d (%s)", din[i].in,
		      rc, (long long)sec, ns, why);
	}
	static const struct {
		int64_t sec;
		int32_t ns;
		const char *want;
	} dout[] = {
		{1, 340012, "\"1.000340012s\""},
		{-3, -100000000, "\"-3.100s\""},
		{0, -1000, "\"-0.000001s\""},
		{5, 0, "\"5s\""},
		{-315576000000, 0, "\"-315576000000s\""},
		{1, -1, NULL},
		{315576000001, 0, NULL},
		{0, 1000000000, NULL},
	};
	for (size_t i = 0; i < sizeof(dout) / sizeof(dout[0]); i++) {
		b.len = 0;
		int rc = pbj_put_duration(&b, dout[i].sec, dout[i].ns);

		if (dout[i].want == NULL) {
			CHECK(rc == -1, "invalid Duration refused", "%lld %d",
			      (long long)dout[i].sec, dout[i].ns);
			continue;
		}
		CHECK(rc == 0 && b.len == strlen(dout[i].want) &&
			      memcmp(b.data, dout[i].want, b.len) == 0,
		      "Duration printed", "got %.*s want %s", (int)b.len, (const char *)b.data,
		      dout[i].want);
	}
	pb_buf_free(&b);
}

static void test_utf8_and_strings(void)
{
	static const struct {
		const char *in;
		size_t n;
		bool ok;
	} rows[] = {
		{"abc", 3, true},
		{"\xc3\xa9", 2, true},
		{"\xf0\x9f\x98\x80", 4, true},
		{"\xf4\x8f\xbf\xbf", 4, true},
		{"\xf4\x90\x80\x80", 4, false},
		{"\xed\xa0\x80", 3, false},
		{"\xc0\x80", 2, false},
		{"\xe0\x80\x80", 3, false},
		{"\xc3", 1, false},
		{"\xff", 1, false},
		{"abcdefgh\x80", 9, false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK(pbj_utf8_valid((const uint8_t *)rows[i].in, rows[i].n) == rows[i].ok,
		      "RFC 3629 UTF-8", "row %zu", i);
	struct pb_buf b = {0};
	const char *s = "a\"b\\c\n\x01\x7f\xc3\xa9/";

	CHECK(pbj_put_string(&b, (const uint8_t *)s, strlen(s)) == 0 &&
		      b.len == strlen("\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9/\"") &&
		      memcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9/\"", b.len) == 0,
	      "strings escaped as json.dumps(ensure_ascii=False)", "%.*s", (int)b.len,
	      (const char *)b.data);
	pb_buf_free(&b);
}

/* ---- JSON -> proto -> JSON ------------------------------------------------------ */

static void test_json_rules(void)
{
	static const struct {
		const char *name, *json, *want; /* want: printed JSON, or "ERR path" */
	} rows[] = {
		{"empty object", "{}", "{}"},
		{"whitespace around", " \t\n{ } \r\n", "{}"},
		{"lowerCamelCase name", "{\"fInt32\": 5}", "{\"fInt32\":5}"},
		{"proto name accepted", "{\"f_int32\": 5}", "{\"fInt32\":5}"},
		{"json_name option", "{\"customName\": 1}", "{\"customName\":1}"},
		{"json_name option: proto name too", "{\"renamed\": 1}", "{\"customName\":1}"},
		{"camelCase of digits", "{\"field_with_digit_2x\": 2}", "{\"fieldWithDigit2x\":2}"},
		{"unknown field", "{\"colour\": 1}", "ERR colour"},
		{"duplicate key", "{\"fInt32\": 1, \"fInt32\": 2}", "ERR fInt32"},
		{"both names: last wins", "{\"fInt32\": 1, \"f_int32\": 2}", "{\"fInt32\":2}"},
		{"both names, repeated: cleared", "{\"rInt32\": [1], \"r_int32\": [2]}",
		 "{\"rInt32\":[2]}"},
		{"both names, null clears", "{\"fString\": \"x\", \"f_string\": null}", "{}"},
		{"default omitted", "{\"fInt32\": 0, \"fString\": \"\", \"fBool\": false}", "{}"},
		{"int64 as string out", "{\"fInt64\": -5}", "{\"fInt64\":\"-5\"}"},
		{"uint64 max", "{\"fUint64\": \"18446744073709551615\"}",
		 "{\"fUint64\":\"18446744073709551615\"}"},
		{"int64 min", "{\"fInt64\": -9223372036854775808}",
		 "{\"fInt64\":\"-9223372036854775808\"}"},
		{"int32 overflow", "{\"fInt32\": 2147483648}", "ERR fInt32"},
		{"int32 min", "{\"fInt32\": -2147483648}", "{\"fInt32\":-2147483648}"},
		{"1e2 for an int", "{\"fInt32\": 1e2}", "{\"fInt32\":100}"},
		{"1.5 for an int", "{\"fInt32\": 1.5}", "ERR fInt32"},
		{"number as string", "{\"fInt32\": \"12\"}", "{\"fInt32\":12}"},
		{"\"1e2\" is no int", "{\"fInt32\": \"1e2\"}", "ERR fInt32"},
		{"leading zero", "{\"fInt32\": 01}", "ERR fInt32"},
		{"uint32 negative", "{\"fUint32\": -1}", "ERR fUint32"},
		{"sint32 zigzag", "{\"fSint32\": -3}", "{\"fSint32\":-3}"},
		{"sfixed64 min", "{\"fSfixed64\": \"-9223372036854775808\"}",
		 "{\"fSfixed64\":\"-9223372036854775808\"}"},
		{"double NaN", "{\"fDouble\": \"NaN\"}", "{\"fDouble\":\"NaN\"}"},
		{"double -Infinity", "{\"fDouble\": \"-Infinity\"}", "{\"fDouble\":\"-Infinity\"}"},
		{"bare NaN refused", "{\"fDouble\": NaN}", "ERR fDouble"},
		{"double -0.0 kept", "{\"fDouble\": -0.0}", "{\"fDouble\":-0.0}"},
		{"double -0 (an int) is 0", "{\"fDouble\": -0}", "{}"},
		{"double from int", "{\"fDouble\": 1}", "{\"fDouble\":1.0}"},
		{"float printed short", "{\"fFloat\": 0.1}", "{\"fFloat\":0.1}"},
		{"float too large", "{\"fFloat\": 3.5e38}", "ERR fFloat"},
		{"float string too large: inf", "{\"fFloat\": \"1e39\"}",
		 "{\"fFloat\":\"Infinity\"}"},
		{"bool", "{\"fBool\": true}", "{\"fBool\":true}"},
		{"bool as string refused", "{\"fBool\": \"true\"}", "ERR fBool"},
		{"string escapes", "{\"fString\": \"a\\u00e9\\ud83d\\ude00\\n\"}",
		 "{\"fString\":\"a\xc3\xa9\xf0\x9f\x98\x80\\n\"}"},
		{"lone surrogate", "{\"fString\": \"\\ud800\"}", "ERR fString"},
		{"invalid UTF-8", "{\"fString\": \"\xff\"}", "ERR fString"},
		{"control character", "{\"fString\": \"a\x01\"}", "ERR fString"},
		{"bytes url-safe, unpadded", "{\"fBytes\": \"AP-_\"}", "{\"fBytes\":\"AP+/\"}"},
		{"bytes bad length", "{\"fBytes\": \"A\"}", "ERR fBytes"},
		{"enum by name", "{\"fEnum\": \"BLUE\"}", "{\"fEnum\":\"BLUE\"}"},
		{"enum by number", "{\"fEnum\": 2}", "{\"fEnum\":\"GREEN\"}"},
		{"enum unknown number kept", "{\"fEnum\": 42}", "{\"fEnum\":42}"},
		{"enum unknown name", "{\"fEnum\": \"PURPLE\"}", "ERR fEnum"},
		{"enum alias prints first", "{\"fAliased\": \"ALIASED_UNO\"}",
		 "{\"fAliased\":\"ALIASED_ONE\"}"},
		{"enum negative", "{\"fEnum\": \"NEGATIVE\"}", "{\"fEnum\":\"NEGATIVE\"}"},
		{"nested", "{\"fNested\": {\"a\": 1, \"child\": {\"b\": \"x\"}}}",
		 "{\"fNested\":{\"a\":1,\"child\":{\"b\":\"x\"}}}"},
		{"nested error path", "{\"fNested\": {\"child\": {\"a\": \"x\"}}}",
		 "ERR fNested.child.a"},
		{"empty nested is set", "{\"fNested\": {}}", "{\"fNested\":{}}"},
		{"[] as an empty message", "{\"fNested\": []}", "{\"fNested\":{}}"},
		{"null clears", "{\"fNested\": null, \"fInt32\": null}", "{}"},
		{"repeated packed", "{\"rInt32\": [1, -2, 3]}", "{\"rInt32\":[1,-2,3]}"},
		{"repeated empty omitted", "{\"rInt32\": []}", "{}"},
		{"repeated null element", "{\"rInt32\": [1, null]}", "ERR rInt32[1]"},
		{"repeated unpacked", "{\"uInt32\": [1, 2]}", "{\"uInt32\":[1,2]}"},
		{"repeated messages", "{\"rNested\": [{\"a\": 1}, {}]}",
		 "{\"rNested\":[{\"a\":1},{}]}"},
		{"repeated strings", "{\"rString\": [\"a\", \"\"]}", "{\"rString\":[\"a\",\"\"]}"},
		{"map string", "{\"mString\": {\"k\": \"v\"}}", "{\"mString\":{\"k\":\"v\"}}"},
		{"map int keys", "{\"mInt32\": {\"-1\": \"a\", \"2\": \"b\"}}",
		 "{\"mInt32\":{\"-1\":\"a\",\"2\":\"b\"}}"},
		{"map bool keys", "{\"mBool\": {\"true\": \"t\"}}", "{\"mBool\":{\"true\":\"t\"}}"},
		{"map bad bool key", "{\"mBool\": {\"yes\": \"t\"}}", "ERR mBool[\"yes\"]"},
		{"map duplicate key", "{\"mString\": {\"a\": \"1\", \"a\": \"2\"}}",
		 "ERR mString[\"a\"]"},
		{"map message values", "{\"mStringNested\": {\"k\": {\"a\": 1}}}",
		 "{\"mStringNested\":{\"k\":{\"a\":1}}}"},
		{"map enum values", "{\"mStringEnum\": {\"k\": \"RED\"}}",
		 "{\"mStringEnum\":{\"k\":\"RED\"}}"},
		{"map sfixed64 key", "{\"mSfixed64\": {\"-9223372036854775808\": {}}}",
		 "{\"mSfixed64\":{\"-9223372036854775808\":{}}}"},
		{"oneof", "{\"oString\": \"x\"}", "{\"oString\":\"x\"}"},
		{"oneof default printed", "{\"oInt32\": 0}", "{\"oInt32\":0}"},
		{"oneof twice", "{\"oInt32\": 1, \"oString\": \"x\"}", "ERR oString"},
		{"oneof null then other", "{\"oInt32\": null, \"oString\": \"x\"}",
		 "{\"oString\":\"x\"}"},
		{"oneof NullValue", "{\"oNull\": null}", "{\"oNull\":null}"},
		{"optional default printed", "{\"pInt32\": 0, \"pString\": \"\"}",
		 "{\"pInt32\":0,\"pString\":\"\"}"},
		{"Timestamp with offset", "{\"wTimestamp\": \"1972-01-01T10:00:20.021-05:00\"}",
		 "{\"wTimestamp\":\"1972-01-01T15:00:20.021Z\"}"},
		{"Timestamp bad", "{\"wTimestamp\": \"1972-01-01\"}", "ERR wTimestamp"},
		{"Duration", "{\"wDuration\": \"-1.5s\"}", "{\"wDuration\":\"-1.500s\"}"},
		{"Duration tiny", "{\"wDuration\": \"-0.000001s\"}",
		 "{\"wDuration\":\"-0.000001s\"}"},
		{"FieldMask camelCase", "{\"wFieldMask\": \"fooBar,baz.quxQuux\"}",
		 "{\"wFieldMask\":\"fooBar,baz.quxQuux\"}"},
		{"FieldMask no _", "{\"wFieldMask\": \"foo_bar\"}", "ERR wFieldMask"},
		{"Struct", "{\"wStruct\": {\"a\": [1, \"x\", null, true, {\"b\": {}}]}}",
		 "{\"wStruct\":{\"a\":[1.0,\"x\",null,true,{\"b\":{}}]}}"},
		{"Struct duplicate key", "{\"wStruct\": {\"a\": 1, \"\\u0061\": 2}}",
		 "ERR wStruct[\"\\u0061\"]"},
		{"Value null", "{\"wValue\": null}", "{\"wValue\":null}"},
		{"Value NaN literal", "{\"wValue\": NaN}", "{\"wValue\":\"NaN\"}"},
		{"ListValue", "{\"wListValue\": [[], {}, 2.5]}", "{\"wListValue\":[[],{},2.5]}"},
		{"Empty", "{\"wEmpty\": {}}", "{\"wEmpty\":{}}"},
		{"wrapper", "{\"wInt32\": 0, \"wString\": \"\"}",
		 "{\"wInt32\":0,\"wString\":\"\"}"},
		{"wrapper int64", "{\"wInt64\": 5}", "{\"wInt64\":\"5\"}"},
		{"wrapper null", "{\"wBool\": null}", "{}"},
		{"Any regular",
		 "{\"wAny\": {\"a\": 1, \"@type\": \"type.googleapis.com/transcode.test.Nested\"}}",
		 "{\"wAny\":{\"@type\":\"type.googleapis.com/transcode.test.Nested\",\"a\":1}}"},
		{"Any WKT",
		 "{\"wAny\": {\"@type\": \"type.googleapis.com/google.protobuf.Duration\", "
		 "\"value\": "
		 "\"1s\"}}",
		 "{\"wAny\":{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"value\":"
		 "\"1s\"}}"},
		{"Any empty", "{\"wAny\": {}}", "{\"wAny\":{}}"},
		{"Any without @type", "{\"wAny\": {\"a\": 1}}", "ERR wAny"},
		{"Any unknown type", "{\"wAny\": {\"@type\": \"x/no.Such\"}}", "ERR wAny"},
		{"trailing garbage", "{} x", "ERR "},
		{"trailing comma", "{\"fInt32\": 1,}", "ERR fInt32"},
		{"not an object", "[1]", "ERR "},
		{"truncated", "{\"fInt32\": ", "ERR fInt32"},
		{"big field number", "{\"fMaxNumber\": 7}", "{\"fMaxNumber\":7}"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char got[1024];

		json_roundtrip(rows[i].json, NULL, false, got, sizeof(got));
		CHECK(strcmp(got, rows[i].want) == 0, rows[i].name, "%s: got %s want %s",
		      rows[i].json, got, rows[i].want);
	}
	char got[1024];

	json_roundtrip("{\"colour\": {\"a\": [1, 2]}, \"fInt32\": 3}", NULL, true, got,
		       sizeof(got));
	CHECK(strcmp(got, "{\"fInt32\":3}") == 0, "ignore_unknown_fields", "%s", got);
	json_roundtrip("{\"colour\": 1, \"colour\": 2}", NULL, true, got, sizeof(got));
	CHECK(strncmp(got, "ERR", 3) == 0, "ignored keys are still checked for duplicates", "%s",
	      got);
	/* json_format iterates a message value's keys: a string's characters
	 * or an array's elements, dropped when they name no field. */
	json_roundtrip("{\"fNested\": \"xyz\", \"rNested\": [\"zz\", \"q\"]}", NULL, true, got,
		       sizeof(got));
	CHECK(strcmp(got, "{\"fNested\":{},\"rNested\":[{},{}]}") == 0,
	      "keys of a string or array, ignored", "%s", got);
	json_roundtrip("{\"fNested\": \"xa\"}", NULL, true, got, sizeof(got));
	CHECK(strcmp(got, "ERR fNested") == 0, "a string naming a field is no message", "%s", got);
	json_roundtrip("{\"fNested\": [\"b\"]}", NULL, true, got, sizeof(got));
	CHECK(strcmp(got, "ERR fNested[0]") == 0, "an array naming a field is no message", "%s",
	      got);
}

/* ---- wire encoding details -------------------------------------------------------- */

static void test_wire_out(void)
{
	static const struct {
		const char *name, *json, *hex;
	} rows[] = {
		{"varint", "{\"fInt32\": 150}", "28 9601"},
		{"negative int32: 10 bytes", "{\"fInt32\": -1}", "28 ffffffffffffffffff01"},
		{"sint32 zigzag", "{\"fSint32\": -1}", "70 01"},
		{"fixed32", "{\"fFixed32\": 1}", "3d 01000000"},
		{"double", "{\"fDouble\": 1}", "09 000000000000f03f"},
		{"packed", "{\"rInt32\": [1, 300]}", "ca01 03 01ac02"},
		{"unpacked", "{\"uInt32\": [1, 2]}", "e802 01 e802 02"},
		{"string", "{\"fString\": \"hi\"}", "4a 02 6869"},
		{"nested length", "{\"fNested\": {\"a\": 1}}", "8a01 02 0801"},
		{"map entry", "{\"mString\": {\"a\": \"b\"}}", "c204 06 0a0161 120162"},
		{"bool map key", "{\"mBool\": {\"false\": \"\"}}", "ba04 04 0800 1200"},
		{"Value null", "{\"wValue\": null}", "ea07 02 0800"},
		{"Timestamp", "{\"wTimestamp\": \"1970-01-01T00:00:01.5Z\"}",
		 "ca07 08 0801 1080cab5ee01"},
		{"optional zero sent", "{\"pInt32\": 0}", "d805 00"},
		{"oneof NullValue sent", "{\"oNull\": null}", "a805 00"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pb_buf b = {0};
		struct pb_json_error err;
		uint8_t want[64];
		size_t n = unhex(rows[i].hex, want);
		char hex[256];
		int rc = pb_json_to_proto_ex(schema, everything, rows[i].json, strlen(rows[i].json),
					     NULL, &b, &err);

		tohex(b.data, b.len, hex);
		CHECK(rc == 0 && b.len == n && memcmp(b.data, want, n) == 0, rows[i].name,
		      "got %s (%s)", hex, rc ? err.message : "");
		pb_buf_free(&b);
	}
	/* A nested body past 127 bytes: its length needs two bytes, so the
	 * body moves right by one; and past 16383, by two. */
	for (size_t len = 100; len <= 20000; len += 7919) {
		char *json = malloc(len + 64);
		struct pb_buf b = {0};
		struct pb_json_error err;
		if (!json) {
			CHECK(json != NULL, "malloc");
			return;
		}
		int n = sprintf(json, "{\"fNested\": {\"b\": \"");

		memset(json + n, 'x', len);
		sprintf(json + n + len, "\"}, \"fInt32\": 1}");
		int rc =
			pb_json_to_proto_ex(schema, everything, json, strlen(json), NULL, &b, &err);
		/* 8a01 L(len+2+...) 12 L(len) x... 28 01 */
		size_t inner = 1 + pb_varint_size(len) + len;
		size_t want = 2 + pb_varint_size(inner) + inner + 2;
		uint64_t l1 = 0, l2 = 0;
		const uint8_t *p = b.data + 2;

		p = rc == 0 ? pb_get_varint(p, b.data + b.len, &l1) : NULL;
		p = p ? pb_get_varint(p + 1, b.data + b.len, &l2) : NULL;
		CHECK(rc == 0 && b.len == want && l1 == inner && l2 == len && p != NULL &&
			      p[0] == 'x' && p[len - 1] == 'x' && b.data[b.len - 2] == 0x28,
		      "back-patched lengths: minimal varints, body moved", "len %zu: got %zu bytes",
		      len, b.len);
		pb_buf_free(&b);
		free(json);
	}
}

/* ---- proto -> JSON --------------------------------------------------------------- */

static void test_print(void)
{
	static const struct {
		const char *name, *hex;
		int opts; /* 1 defaults, 2 proto names, 4 enums as ints */
		const char *want;
	} rows[] = {
		{"empty", "", 0, "{}"},
		{"last value wins", "2801 2802", 0, "{\"fInt32\":2}"},
		{"out of order", "2801 1807", 0, "{\"fInt64\":\"7\",\"fInt32\":1}"},
		{"split repeated joined", "c80101 2809 c80102", 0,
		 "{\"fInt32\":9,\"rInt32\":[1,2]}"},
		{"packed and unpacked mixed", "ca01020102 c80103", 0, "{\"rInt32\":[1,2,3]}"},
		{"empty packed omitted", "ca0100", 0, "{}"},
		{"messages merged", "8a01020801 8a0103120178", 0,
		 "{\"fNested\":{\"a\":1,\"b\":\"x\"}}"},
		{"oneof: last member", "8805 05 920501 73", 0, "{\"oString\":\"s\"}"},
		{"unknown field skipped", "b83e01 2801", 0, "{\"fInt32\":1}"},
		{"wrong wire type: unknown", "2a0101", 0, "{}"},
		{"int32 from 64-bit varint", "28ffffffffffffffffff01", 0, "{\"fInt32\":-1}"},
		{"explicit zero omitted", "2800", 0, "{}"},
		{"-0.0 printed", "090000000000000080", 0, "{\"fDouble\":-0.0}"},
		{"NaN", "09000000000000f87f", 0, "{\"fDouble\":\"NaN\"}"},
		{"enum unknown number", "800163", 0, "{\"fEnum\":99}"},
		{"enum as int", "800103", 4, "{\"fEnum\":3}"},
		{"proto names", "2801", 2, "{\"f_int32\":1}"},
		{"map: last key wins", "c204060a016b120161 c204060a016b120162", 0,
		 "{\"mString\":{\"k\":\"b\"}}"},
		{"map entry without value", "c204030a016b", 0, "{\"mString\":{\"k\":\"\"}}"},
		{"Value empty: null", "ea0700", 0, "{\"wValue\":null}"},
		{"Timestamp nanos normalised", "ca07080801 10ffffffff0f", 0,
		 "{\"wTimestamp\":\"1970-01-01T00:00:00.999999999Z\"}"},
		{"Any WKT",
		 "c207320a2c747970652e676f6f676c65617069732e636f6d2f676f6f676c652e70726f746f6275662"
		 "e"
		 "4475726174696f6e12020805",
		 0,
		 "{\"wAny\":{\"@type\":\"type.googleapis.com/"
		 "google.protobuf.Duration\",\"value\":\"5s\"}}"},
		{"stops at a zero tag at the top", "2801 00 ffff", 0, "{\"fInt32\":1}"},
		{"big field number", "f8ffffff0f07", 0, "{\"fMaxNumber\":7}"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t wire[512];
		size_t n = unhex(rows[i].hex, wire);
		struct pb_json_print_opts o = {.emit_defaults = rows[i].opts & 1,
					       .use_proto_names = rows[i].opts & 2,
					       .enums_as_ints = rows[i].opts & 4};
		struct pb_buf b = {0};
		struct pb_json_error err;
		int rc = pb_proto_to_json(schema, everything, wire, n, &o, &b, &err);

		CHECK(rc == 0 && b.len == strlen(rows[i].want) &&
			      memcmp(b.data, rows[i].want, b.len) == 0,
		      rows[i].name, "got %.*s (%s) want %s", (int)b.len, (const char *)b.data,
		      rc ? err.message : "", rows[i].want);
		pb_buf_free(&b);
	}
	static const struct {
		const char *name, *hex, *path;
	} bad[] = {
		{"truncated varint", "2880", ""},
		{"truncated length", "4a0568", ""},
		{"invalid UTF-8", "4a01ff", "fString"},
		{"bad wire type", "2e", ""},
		{"nested zero tag", "8a01020000", "fNested"},
		{"Timestamp year 10000", "ca07070880e2cfaef007", "wTimestamp"},
		{"Duration sign mismatch", "d2070d08ffffffffffffffffff011005", "wDuration"},
		{"Any of an unknown type", "c207090a07782f6e6f2e4e6f", "wAny"},
		{"truncated packed", "ca010180", "rInt32"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t wire[512];
		size_t n = unhex(bad[i].hex, wire);
		struct pb_buf b = {0};
		struct pb_json_error err;
		int rc = pb_proto_to_json(schema, everything, wire, n, NULL, &b, &err);

		CHECK(rc == -1 && strcmp(err.path, bad[i].path) == 0 && b.len == 0, bad[i].name,
		      "rc %d path %s (%s)", rc, err.path, err.message);
		pb_buf_free(&b);
	}
	/* emit_defaults: every field but singular messages and oneofs. */
	struct pb_buf b = {0};
	struct pb_json_print_opts o = {.emit_defaults = true};
	const struct pb_message *nested = pb_schema_message(schema, "transcode.test.Nested");

	CHECK(pb_proto_to_json(schema, nested, NULL, 0, &o, &b, NULL) == 0 &&
		      b.len == strlen("{\"a\":0,\"b\":\"\",\"nums\":[],\"color\":\"COLOR_"
				      "UNSPECIFIED\"}") &&
		      memcmp(b.data,
			     "{\"a\":0,\"b\":\"\",\"nums\":[],\"color\":\"COLOR_UNSPECIFIED\"}",
			     b.len) == 0,
	      "emit_defaults", "%.*s", (int)b.len, (const char *)b.data);
	pb_buf_free(&b);
}

/* ---- limits ---------------------------------------------------------------------- */

static void test_limits(void)
{
	char *json = malloc(64 * 1024);
	struct pb_buf b = {0};
	struct pb_json_error err;
	size_t n = 0;
	int rc;

	if (!json) {
		CHECK(json != NULL, "malloc");
		return;
	}

	/* PB_JSON_MAX_DEPTH messages deep is the limit, as json_format's. */
	for (int depth = PB_JSON_MAX_DEPTH; depth <= PB_JSON_MAX_DEPTH + 1; depth++) {
		n = 0;
		static const char open_field[] = "{\"recursive\":";
		for (int i = 1; i < depth; i++) {
			memcpy(json + n, open_field, sizeof(open_field) - 1);
			n += sizeof(open_field) - 1;
		}
		json[n++] = '{';
		json[n++] = '}';
		for (int i = 1; i < depth; i++)
			json[n++] = '}';
		b.len = 0;
		rc = pb_json_to_proto(everything, json, n, NULL, &b, &err);
		CHECK((rc == 0) == (depth <= PB_JSON_MAX_DEPTH), "message depth limit",
		      "depth %d: rc %d %s", depth, rc, err.message);
		if (rc == 0) {
			struct pb_buf t = {0};

			rc = pb_proto_to_json(NULL, everything, b.data, b.len, NULL, &t, &err);
			CHECK(rc == 0 && t.len == n, "deepest message prints back", "%d %s", rc,
			      err.message);
			pb_buf_free(&t);
		}
	}
	/* Deep arrays and ignored values end in an error, not a crash. */
	memset(json, '[', 60000);
	rc = pb_json_to_proto(everything, json, 60000, NULL, &b, &err);
	CHECK(rc == -1, "deep JSON refused", " ");
	n = (size_t)sprintf(json, "{\"x\":");
	memset(json + n, '[', 50000);
	rc = pb_json_to_proto(everything, json, n + 50000,
			      &(struct pb_json_parse_opts){.ignore_unknown_fields = true}, &b,
			      &err);
	CHECK(rc == -1, "deep ignored value refused", " ");
	/* Output limit. */
	struct pb_buf small = {.limit = 16};

	n = (size_t)sprintf(json, "{\"fString\": \"%040d\"}", 0);
	rc = pb_json_to_proto(everything, json, n, NULL, &small, &err);
	CHECK(rc == -E2BIG && small.len == 0, "pb_buf.limit (JSON -> proto)", "rc %d", rc);
	uint8_t wire[64];
	size_t wn = unhex("4a0a 61616161616161616161", wire);
	struct pb_buf small2 = {.limit = 8};

	rc = pb_proto_to_json(NULL, everything, wire, wn, NULL, &small2, &err);
	CHECK(rc == -E2BIG && small2.len == 0, "pb_buf.limit (proto -> JSON)", "rc %d", rc);
	pb_buf_free(&small);
	pb_buf_free(&small2);
	/* Output is appended after what the buffer held; kept on error. */
	b.len = 0;
	CHECK(pb_buf_reserve(&b, 3) == 0, "reserve", " ");
	memcpy(b.data, "abc", 3);
	b.len = 3;
	rc = pb_json_to_proto(everything, "{\"fInt32\": 1}", 13, NULL, &b, &err);
	CHECK(rc == 0 && b.len == 5 && memcmp(b.data, "abc\x28\x01", 5) == 0, "appends", " ");
	rc = pb_json_to_proto(everything, "{\"fInt32\": x}", 13, NULL, &b, &err);
	CHECK(rc == -1 && b.len == 5 && err.offset == 11, "error: buffer restored, offset set",
	      "%zu %zu", b.len, err.offset);
	pb_buf_free(&b);
	free(json);
	/* NULL with length 0 is empty input. */
	struct pb_buf e = {0};

	CHECK(pb_json_to_proto(everything, NULL, 0, NULL, &e, &err) == -1, "NULL JSON: no value",
	      " ");
	CHECK(pb_proto_to_json(schema, everything, NULL, 0, NULL, &e, &err) == 0 && e.len == 2,
	      "NULL wire: empty message", " ");
	e.len = 0;
	CHECK(pb_set_field_from_text(everything, "f_string", 8, NULL, 0, &e, &err) == 0 &&
		      e.len == 2,
	      "NULL text: empty string", " ");
	pb_buf_free(&e);
}

/* ---- text setters ------------------------------------------------------------------- */

static void test_text_setters(void)
{
	static const struct {
		const char *path, *value, *hex; /* hex NULL: error */
	} rows[] = {
		{"f_int32", "150", "289601"},
		{"f_int32", "x", NULL},
		{"f_bool", "true", "4001"},
		{"f_bool", "0", "4000"},
		{"f_enum", "BLUE", "800103"},
		{"f_enum", "2", "800102"},
		{"f_string", "a b", "4a03612062"},
		{"f_bytes", "AP8", "520200ff"},
		{"f_nested.a", "1", "8a01020801"},
		{"f_nested.child.b", "x", "8a0105 1a03 120178"},
		{"r_int32", "5", "c80105"},
		{"w_int32", "7", "a2080208 07"},
		{"w_bool", "false", "b20800"},
		{"w_timestamp", "1970-01-01T00:00:01Z", "ca07020801"},
		{"w_field_mask", "a.bC", "da07070a05612e625f63"},
		{"f_nested", "x", NULL},
		{"r_nested.a", "1", NULL},
		{"m_string", "x", NULL},
		{"nope", "1", NULL},
		{"f_string", "\xff", NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pb_buf b = {0};
		struct pb_json_error err;
		uint8_t want[64];
		char hex[256];
		int rc = pb_set_field_from_text(everything, rows[i].path, strlen(rows[i].path),
						rows[i].value, strlen(rows[i].value), &b, &err);

		if (rows[i].hex == NULL) {
			CHECK(rc == -1 && b.len == 0, "text value refused", "%s=%s", rows[i].path,
			      rows[i].value);
		} else {
			size_t n = unhex(rows[i].hex, want);

			tohex(b.data, b.len, hex);
			CHECK(rc == 0 && b.len == n && memcmp(b.data, want, n) == 0,
			      "text value encoded", "%s=%s: got %s (%s)", rows[i].path,
			      rows[i].value, hex, rc ? err.message : "");
		}
		pb_buf_free(&b);
	}
	struct pb_buf b = {0};
	struct pb_json_error err;
	int rc = pb_set_map_entry_from_text(everything, "m_string", 8, "team", 4, "search", 6, &b,
					    &err);
	char hex[128];

	tohex(b.data, b.len, hex);
	CHECK(rc == 0 && strcmp(hex, "c2040e0a047465616d1206736561726368") == 0,
	      "map entry from text", "%s", hex);
	b.len = 0;
	rc = pb_set_map_entry_from_text(everything, "m_bool", 6, "true", 4, "x", 1, &b, &err);
	CHECK(rc == 0, "bool map key from text", "%s", err.message);
	rc = pb_set_map_entry_from_text(everything, "m_int32", 7, "x", 1, "v", 1, &b, &err);
	CHECK(rc == -1 && strcmp(err.path, "m_int32") == 0, "bad map key from text", "%s",
	      err.path);
	rc = pb_set_map_entry_from_text(everything, "f_int32", 7, "k", 1, "1", 1, &b, &err);
	CHECK(rc == -1, "not a map", " ");
	pb_buf_free(&b);
}

/* ---- round trips on a larger message ------------------------------------------------ */

static void test_roundtrip_stable(void)
{
	static const char *const docs[] = {
		"{\"fDouble\":1e+300,\"fFloat\":-3.4028e+38,\"fInt64\":\"-9223372036854775808\","
		"\"fUint64\":\"18446744073709551615\",\"fString\":\"\\u0000\\\"\",\"fBytes\":"
		"\"AAEC\","
		"\"rDouble\":[\"NaN\",\"Infinity\",-0.0,5e-324],\"rEnum\":[\"RED\",7],"
		"\"mInt64\":{\"-1\":\"1\"},\"mStringValue\":{\"a\":{\"b\":[null]}},"
		"\"oTimestamp\":\"2024-02-29T12:00:00.000001Z\",\"customName\":3,"
		"\"recursive\":{\"rRecursive\":[{},{\"fBool\":true}]},"
		"\"wAny\":{\"@type\":\"type.googleapis.com/"
		"google.protobuf.Any\",\"value\":{\"@type\":"
		"\"type.googleapis.com/google.protobuf.Struct\",\"value\":{\"k\":[]}}},"
		"\"wDuration\":\"315576000000s\",\"wFieldMask\":\"\",\"wListValue\":[],"
		"\"wFloat\":\"-Infinity\",\"rwValue\":[null,\"s\"]}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char got[4096];

		json_roundtrip(docs[i], NULL, false, got, sizeof(got));
		CHECK(strcmp(got, docs[i]) == 0, "canonical JSON reads and prints back unchanged",
		      "\n got  %s\n want %s", got, docs[i]);
	}
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : getenv("PBJSON_DESCRIPTORS");
	char err[512];

	test_fmt_double();
	test_fmt_float();
	test_base64();
	test_py_numbers();
	test_timestamps();
	test_utf8_and_strings();
	if (path == NULL)
		path = "tests/protos/transcode_test.pb";
	if (pb_schema_load(&schema, &path, 1, err, sizeof(err)) < 0) {
		CHECK(false, "descriptor set loads", "%s", err);
		return unit_finish();
	}
	everything = pb_schema_message(schema, "transcode.test.Everything");
	CHECK(everything != NULL, "test message present", " ");
	if (everything != NULL) {
		test_json_rules();
		test_wire_out();
		test_print();
		test_limits();
		test_text_setters();
		test_roundtrip_stable();
	}
	pb_schema_free(schema);
	return unit_finish();
}
