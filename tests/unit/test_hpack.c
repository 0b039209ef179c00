/*
 * test_hpack.c - HPACK (RFC 7541): every Appendix C example both ways, the
 * error rules, the encoder's choices, and a seeded round-trip property test
 * of one encoder feeding one decoder across table-size changes.
 *
 * `test_hpack --print-huffman-table` prints grpc/hpack_huffman_table.c.
 */
#include "hpack.h"
#include "hpack_internal.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------- */

/* Hex digits to bytes, skipping spaces. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int v;

		if (*hex == ' ')
			continue;
		if (*hex >= '0' && *hex <= '9')
			v = *hex - '0';
		else if (*hex >= 'a' && *hex <= 'f')
			v = *hex - 'a' + 10;
		else
			abort();
		if (hi < 0) {
			hi = v;
		} else {
			if (n == cap)
				abort();
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		abort();
	return n;
}

static bool slice_is(hpack_slice s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && (n == 0 || memcmp(s.base, lit, n) == 0);
}

static bool slices_eq(hpack_slice a, hpack_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

struct field {
	const char *name;
	const char *value;
};

static size_t count_fields(const struct field *f, size_t max)
{
	size_t n = 0;

	while (n < max && f[n].name)
		n++;
	return n;
}

/* Headers of a NULL-terminated field list, with flags. */
static size_t to_headers(const struct field *f, size_t max, unsigned flags, struct hpack_header *h)
{
	size_t n = count_fields(f, max);

	for (size_t i = 0; i < n; i++) {
		h[i].name = (hpack_slice){f[i].name, strlen(f[i].name)};
		h[i].value = (hpack_slice){f[i].value, strlen(f[i].value)};
		h[i].flags = flags;
	}
	return n;
}

/* The table holds exactly these fields, newest first. */
static bool table_is(const struct hpack_table *t, const struct field *f, size_t n)
{
	char buf[1024];
	struct hpack_header h;

	if (hpack_table_count(t) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (hpack_table_get(t, (uint32_t)i, buf, sizeof(buf), &h) != 0)
			return false;
		if (!slice_is(h.name, f[i].name) || !slice_is(h.value, f[i].value))
			return false;
	}
	return true;
}

static bool table_has_name(const struct hpack_table *t, const char *name)
{
	char buf[1024];
	struct hpack_header h;

	for (uint32_t i = 0; i < hpack_table_count(t); i++)
		if (hpack_table_get(t, i, buf, sizeof(buf), &h) == 0 && slice_is(h.name, name))
			return true;
	return false;
}

/* Two tables (an encoder's and its peer decoder's) are in sync. */
static bool tables_eq(const struct hpack_table *a, const struct hpack_table *b)
{
	static char ba[1 << 16], bb[1 << 16];
	struct hpack_header ha, hb;

	if (hpack_table_count(a) != hpack_table_count(b) ||
	    hpack_table_size(a) != hpack_table_size(b) || hpack_table_max(a) != hpack_table_max(b))
		return false;
	for (uint32_t i = 0; i < hpack_table_count(a); i++) {
		if (hpack_table_get(a, i, ba, sizeof(ba), &ha) ||
		    hpack_table_get(b, i, bb, sizeof(bb), &hb))
			return false;
		if (!slices_eq(ha.name, hb.name) || !slices_eq(ha.value, hb.value))
			return false;
	}
	return true;
}

/* Output space for one decoded block. */
struct sink {
	struct hpack_header h[128];
	char scratch[1 << 16];
	struct hpack_decoded out;
};

static int decode_into(struct hpack_decoder *d, const uint8_t *b, size_t n, struct sink *s,
		       size_t max_headers, size_t scratch_cap)
{
	s->out = (struct hpack_decoded){
		.headers = s->h,
		.max_headers = max_headers,
		.scratch = s->scratch,
		.scratch_cap = scratch_cap,
	};
	return hpack_decode(d, b, n, &s->out);
}

static int decode_all(struct hpack_decoder *d, const uint8_t *b, size_t n, struct sink *s)
{
	return decode_into(d, b, n, s, 128, sizeof(s->scratch));
}

static bool headers_are(const struct sink *s, const struct field *f, size_t n)
{
	if (s->out.count != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!slice_is(s->h[i].name, f[i].name) || !slice_is(s->h[i].value, f[i].value))
			return false;
	return true;
}

static bool headers_eq(const struct hpack_header *a, const struct hpack_header *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!slices_eq(a[i].name, b[i].name) || !slices_eq(a[i].value, b[i].value))
			return false;
	return true;
}

/* ---- C.1 integers --------------------------------------------------- */

static void test_integers(void)
{
	static const struct {
		const char *name;
		uint32_t value;
		unsigned prefix;
		uint8_t high;
		const char *hex;
	} rows[] = {
		{"C.1.1 10 with a 5-bit prefix", 10, 5, 0x00, "0a"},
		{"C.1.2 1337 with a 5-bit prefix", 1337, 5, 0x00, "1f9a0a"},
		{"C.1.3 42 at an octet boundary", 42, 8, 0x00, "2a"},
		{"5.1 2^N-2 fits the prefix", 30, 5, 0xe0, "fe"},
		{"5.1 2^N-1 needs a zero octet", 31, 5, 0x20, "3f00"},
		{"5.1 7-bit prefix, 127", 127, 7, 0x80, "ff00"},
		{"5.1 6-bit prefix, 63+128", 191, 6, 0x40, "7f8001"},
		{"5.1 the largest string length", HPACK_STRING_MAX, 7, 0x00, "7f80ffff7f"},
		{"5.1 1-bit prefix, 0", 0, 1, 0xfe, "fe"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t want[16], got[16];
		size_t n = unhex(rows[i].hex, want, sizeof(want));
		uint8_t *end = hpack_int_encode(got, rows[i].high, rows[i].prefix, rows[i].value);
		const uint8_t *p = want;
		uint32_t v = 0;
		int rc;

		CHECK((size_t)(end - got) == n && memcmp(got, want, n) == 0, rows[i].name,
		      "encode: %zu octets", (size_t)(end - got));
		rc = hpack_int_decode(&p, want + n, rows[i].prefix, &v);
		CHECK(rc == 0 && v == rows[i].value && p == want + n, rows[i].name,
		      "decode: rc %d value %u used %zu", rc, v, (size_t)(p - want));
	}

	static const struct {
		const char *name;
		const char *hex;
		unsigned prefix;
		int rc;
		uint32_t value;
	} dec[] = {
		{"5.1 truncated after the prefix", "1f", 5, HPACK_E_TRUNCATED, 0},
		{"5.1 truncated in the continuation", "1f9a", 5, HPACK_E_TRUNCATED, 0},
		{"5.1 value over 2^28-1", "1fffffffff0f", 5, HPACK_E_INTEGER, 0},
		{"5.1 value over 2^28-1, 7-bit", "7fffffff7f", 7, HPACK_E_INTEGER, 0},
		{"5.1 five continuation octets", "1f8080808000", 5, HPACK_E_INTEGER, 0},
		{"5.1 four zero-padded octets are fine", "1f80808000", 5, 0, 31},
		{"5.1 prefix bits above N are ignored", "ea", 5, 0, 10},
	};

	for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		uint8_t in[16];
		size_t n = unhex(dec[i].hex, in, sizeof(in));
		const uint8_t *p = in;
		uint32_t v = 0;
		int rc = hpack_int_decode(&p, in + n, dec[i].prefix, &v);

		CHECK(rc == dec[i].rc && (rc || v == dec[i].value), dec[i].name, "rc %d value %u",
		      rc, v);
	}
}

/* ---- Huffman (5.2, Appendix B) -------------------------------------- */

static void print_huffman_table(void)
{
	static struct hpack_huff_step t[256][16];

	hpack_huff_build_steps(t);
	printf("/*\n"
	       " * hpack_huffman_table.c - the HPACK Huffman decoder's state machine.\n"
	       " *\n"
	       " * GENERATED by `test_hpack --print-huffman-table` from hpack_huff_codes\n"
	       " * through hpack_huff_build_steps(); do not edit.  test_hpack checks that\n"
	       " * this table and a freshly built one agree.\n"
	       " *\n"
	       " * Row s is state s (an internal node of the code tree, 0 = root); entry x\n"
	       " * is the step on input nibble x: {next state, HPACK_HUFF_* flags, symbol}.\n"
	       " */\n"
	       "#include \"hpack_internal.h\"\n"
	       "\n"
	       "/* clang-format off */\n"
	       "const struct hpack_huff_step hpack_huff_steps[256][16] = {\n");
	for (int s = 0; s < 256; s++) {
		printf("\t/* %3d */ {", s);
		for (int x = 0; x < 16; x++)
			printf("{%u,%u,%u}%s", t[s][x].next, t[s][x].flags, t[s][x].sym,
			       x == 15  ? "},\n"
			       : x == 7 ? ",\n\t           "
					: ",");
	}
	printf("};\n/* clang-format on */\n");
}

static void test_huffman_tables(void)
{
	static struct hpack_huff_step built[256][16];
	uint64_t kraft = 0; /* sum of 2^(30 - len): 2^30 for a complete code */
	bool canonical = true;
	uint32_t code = 0;
	unsigned prev_len = 0;

	/* Canonical: walking symbols by (length, symbol), each code is the
	 * previous one plus one, shifted to the new length. */
	for (unsigned len = 5; len <= 30; len++) {
		for (unsigned sym = 0; sym <= HPACK_HUFF_EOS; sym++) {
			if (hpack_huff_codes[sym].len != len)
				continue;
			if (prev_len)
				code = (code + 1) << (len - prev_len);
			prev_len = len;
			if (hpack_huff_codes[sym].code != code)
				canonical = false;
		}
	}
	for (unsigned sym = 0; sym <= HPACK_HUFF_EOS; sym++)
		kraft += 1ull << (30 - hpack_huff_codes[sym].len);
	CHECK(canonical, "B code table is canonical", "a row is mistyped");
	CHECK(kraft == 1ull << 30, "B code table is complete", "kraft %llu",
	      (unsigned long long)kraft);
	CHECK(hpack_huff_codes[HPACK_HUFF_EOS].code == 0x3fffffff &&
		      hpack_huff_codes[HPACK_HUFF_EOS].len == 30,
	      "B EOS is 30 ones", "");

	hpack_huff_build_steps(built);
	CHECK(memcmp(built, hpack_huff_steps, sizeof(built)) == 0,
	      "B generated decode table is current", "run test_hpack --print-huffman-table");
}

static void test_huffman_strings(void)
{
	static const struct {
		const char *name;
		const char *text;
		const char *hex;
	} rows[] = {
		{"C.4.1 www.example.com", "www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"},
		{"C.4.2 no-cache", "no-cache", "a8eb10649cbf"},
		{"C.4.3 custom-key", "custom-key", "25a849e95ba97d7f"},
		{"C.4.3 custom-value", "custom-value", "25a849e95bb8e8b4bf"},
		{"C.6.1 302", "302", "6402"},
		{"C.6.1 private", "private", "aec3771a4b"},
		{"C.6.1 date", "Mon, 21 Oct 2013 20:13:21 GMT",
		 "d07abe941054d444a8200595040b8166e082a62d1bff"},
		{"C.6.1 location", "https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"},
		{"C.6.2 307", "307", "640eff"},
		{"C.6.3 date", "Mon, 21 Oct 2013 20:13:22 GMT",
		 "d07abe941054d444a8200595040b8166e084a62d1bff"},
		{"C.6.3 gzip", "gzip", "9bd9ab"},
		{"C.6.3 set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
		 "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5"
		 "b1063d5007"},
		{"5.2 empty string", "", ""},
		{"5.2 seven bits of padding", "0", "07"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t want[128], got[128];
		char text[128];
		size_t n = unhex(rows[i].hex, want, sizeof(want));
		size_t tl = strlen(rows[i].text);
		uint8_t *end = hpack_huff_encode(got, (const uint8_t *)rows[i].text, tl);
		ssize_t dl;

		CHECK(hpack_huff_len((const uint8_t *)rows[i].text, tl) == n, rows[i].name,
		      "length");
		CHECK((size_t)(end - got) == n && memcmp(got, want, n) == 0, rows[i].name,
		      "encode");
		dl = hpack_huff_decode(text, sizeof(text), want, n);
		CHECK(dl == (ssize_t)tl && memcmp(text, rows[i].text, tl) == 0, rows[i].name,
		      "decode %zd", dl);
		CHECK(hpack_huff_check(want, n) == (ssize_t)tl, rows[i].name, "check");
		if (tl > 0)
			CHECK(hpack_huff_decode(text, tl - 1, want, n) == HPACK_E_SCRATCH_FULL,
			      rows[i].name, "one byte short of room");
	}

	static const struct {
		const char *name;
		const char *hex;
	} bad[] = {
		{"5.2 EOS decoded is an error", "ffffffff"},
		{"5.2 EOS after a symbol", "07ffffffff"},
		{"5.2 padding of 8 ones", "ff"},
		{"5.2 padding over 7 bits after a symbol", "1fff"},
		{"5.2 padding that is not all ones", "18"},
		{"5.2 padding with a zero at its end", "06"},
		{"5.2 a code cut short", "fe"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t in[16];
		char text[64];
		size_t n = unhex(bad[i].hex, in, sizeof(in));

		CHECK(hpack_huff_decode(text, sizeof(text), in, n) == HPACK_E_HUFFMAN, bad[i].name,
		      "decode");
		CHECK(hpack_huff_check(in, n) == HPACK_E_HUFFMAN, bad[i].name, "check");
	}

	/* Every symbol alone, and all of them in one string. */
	uint8_t all[256], enc[1024];
	char dec[256];
	bool each = true;

	for (unsigned c = 0; c < 256; c++) {
		uint8_t one = (uint8_t)c, e[8];
		char d[2];
		size_t el = (size_t)(hpack_huff_encode(e, &one, 1) - e);

		if (hpack_huff_decode(d, sizeof(d), e, el) != 1 || (uint8_t)d[0] != one)
			each = false;
		all[c] = one;
	}
	CHECK(each, "B every symbol round-trips", "");
	size_t el = (size_t)(hpack_huff_encode(enc, all, 256) - enc);
	CHECK(el == hpack_huff_len(all, 256) &&
		      hpack_huff_decode(dec, sizeof(dec), enc, el) == 256 &&
		      memcmp(dec, all, 256) == 0,
	      "B all 256 symbols in one string", "");
}

/* ---- Appendix A static table lookup --------------------------------- */

static void test_static_lookup(void)
{
	bool ok = true;

	for (unsigned i = 1; i <= HPACK_STATIC_COUNT; i++) {
		const struct hpack_static_entry *s = &hpack_static_table[i];
		unsigned first = i, name_idx, exact;

		while (first > 1 && strcmp(hpack_static_table[first - 1].name, s->name) == 0)
			first--;
		exact = hpack_static_find(s->name, s->name_len, s->value, s->value_len, &name_idx);
		if (exact != i || name_idx != first) {
			ok = false;
			fprintf(stderr, "static %u (%s: %s): exact %u name %u\n", i, s->name,
				s->value, exact, name_idx);
		}
		if (strlen(s->name) != s->name_len || strlen(s->value) != s->value_len)
			ok = false;
	}
	CHECK(ok, "A every static entry is found exactly", "");

	static const struct {
		const char *name, *value;
		unsigned exact, name_idx;
	} rows[] = {
		{":status", "302", 0, 8},
		{":status", "500", 14, 8},
		{":path", "/x", 0, 4},
		{"accept-encoding", "gzip", 0, 16},
		{"content-type", "x", 0, 31},
		{"Content-Type", "", 0, 0},
		{":pat", "", 0, 0},
		{"", "", 0, 0},
		{"x-unknown", "", 0, 0},
		{"te", "trailers", 0, 0},
		{"www-authenticate", "", 61, 61},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned name_idx;
		unsigned exact = hpack_static_find(rows[i].name, strlen(rows[i].name),
						   rows[i].value, strlen(rows[i].value), &name_idx);

		CHECK(exact == rows[i].exact && name_idx == rows[i].name_idx, rows[i].name,
		      "exact %u name %u", exact, name_idx);
	}
}

/* ---- C.2 single representations ------------------------------------- */

static void test_c2(void)
{
	static const struct {
		const char *name;
		const char *hex;
		struct field f;
		unsigned flags; /* decoded, and given to the encoder */
		uint32_t table_size;
	} rows[] = {
		{"C.2.1 literal with indexing",
		 "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
		 {"custom-key", "custom-header"},
		 0,
		 55},
		{"C.2.2 literal without indexing",
		 "040c2f73616d706c652f70617468",
		 {":path", "/sample/path"},
		 HPACK_F_NO_INDEX,
		 0},
		{"C.2.3 literal never indexed",
		 "100870617373776f726406736563726574",
		 {"password", "secret"},
		 HPACK_F_SENSITIVE,
		 0},
		{"C.2.4 indexed", "82", {":method", "GET"}, 0, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
		struct hpack_encoder *e = hpack_encoder_new(4096, 4096, HPACK_ENC_NO_HUFFMAN);
		static struct sink s;
		uint8_t in[64], out[64];
		size_t n = unhex(rows[i].hex, in, sizeof(in));
		struct hpack_header h;
		ssize_t el;
		int rc;

		rc = decode_all(d, in, n, &s);
		CHECK(rc == 0 && headers_are(&s, &rows[i].f, 1), rows[i].name, "decode rc %d", rc);
		CHECK(s.out.count == 1 && (s.h[0].flags & HPACK_F_SENSITIVE) ==
						  (rows[i].flags & HPACK_F_SENSITIVE),
		      rows[i].name, "never-indexed flag");
		CHECK(hpack_table_size(hpack_decoder_table(d)) == rows[i].table_size &&
			      table_is(hpack_decoder_table(d), &rows[i].f,
				       rows[i].table_size ? 1 : 0),
		      rows[i].name, "table size %u", hpack_table_size(hpack_decoder_table(d)));

		to_headers(&rows[i].f, 1, rows[i].flags, &h);
		el = hpack_encode(e, &h, 1, out, sizeof(out));
		CHECK(el == (ssize_t)n && memcmp(out, in, n) == 0, rows[i].name, "encode %zd", el);
		CHECK(tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)), rows[i].name,
		      "encoder table");
		hpack_decoder_free(d);
		hpack_encoder_free(e);
	}
}

/* ---- C.3 to C.6: sequences sharing a dynamic table ------------------ */

struct seq_block {
	const char *hex;
	struct field headers[8];
	struct field table[6]; /* newest first */
	uint32_t table_size;
	/* Our encoder's bytes when they differ from hex (NULL: identical), or
	 * "" when they differ in table effect (only a round trip is checked). */
	const char *ours;
};

struct seq {
	const char *name;
	uint32_t table_size;
	unsigned enc_flags;
	struct seq_block b[3];
};

#define REQ1                                                                                       \
	{":method", "GET"}, {":scheme", "http"}, {":path", "/"},                                   \
	{                                                                                          \
		":authority", "www.example.com"                                                    \
	}
#define AUTH                                                                                       \
	{                                                                                          \
		":authority", "www.example.com"                                                    \
	}
#define DATE1  "Mon, 21 Oct 2013 20:13:21 GMT"
#define DATE2  "Mon, 21 Oct 2013 20:13:22 GMT"
#define COOKIE "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
#define LOC    "https://www.example.com"

static const struct seq seqs[] = {
	{"C.3 requests without Huffman",
	 4096,
	 HPACK_ENC_NO_HUFFMAN,
	 {{"828684410f7777772e6578616d706c652e636f6d", {REQ1}, {AUTH}, 57, NULL},
	  {"828684be58086e6f2d6361636865",
	   {REQ1, {"cache-control", "no-cache"}},
	   {{"cache-control", "no-cache"}, AUTH},
	   110,
	   NULL},
	  {"828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
	   {{":method", "GET"},
	    {":scheme", "https"},
	    {":path", "/index.html"},
	    AUTH,
	    {"custom-key", "custom-value"}},
	   {{"custom-key", "custom-value"}, {"cache-control", "no-cache"}, AUTH},
	   164,
	   NULL}}},
	{"C.4 requests with Huffman",
	 4096,
	 0,
	 {{"828684418cf1e3c2e5f23a6ba0ab90f4ff", {REQ1}, {AUTH}, 57, NULL},
	  {"828684be5886a8eb10649cbf",
	   {REQ1, {"cache-control", "no-cache"}},
	   {{"cache-control", "no-cache"}, AUTH},
	   110,
	   NULL},
	  {"828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
	   {{":method", "GET"},
	    {":scheme", "https"},
	    {":path", "/index.html"},
	    AUTH,
	    {"custom-key", "custom-value"}},
	   {{"custom-key", "custom-value"}, {"cache-control", "no-cache"}, AUTH},
	   164,
	   NULL}}},
	{"C.5 responses without Huffman, table 256",
	 256,
	 HPACK_ENC_NO_HUFFMAN,
	 {{"4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a"
	   "323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
	   {{":status", "302"}, {"cache-control", "private"}, {"date", DATE1}, {"location", LOC}},
	   {{"location", LOC}, {"date", DATE1}, {"cache-control", "private"}, {":status", "302"}},
	   222,
	   NULL},
	  {"4803333037c1c0bf",
	   {{":status", "307"}, {"cache-control", "private"}, {"date", DATE1}, {"location", LOC}},
	   {{":status", "307"}, {"location", LOC}, {"date", DATE1}, {"cache-control", "private"}},
	   222,
	   NULL},
	  {"88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738"
	   "666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d33"
	   "3630303b2076657273696f6e3d31",
	   {{":status", "200"},
	    {"cache-control", "private"},
	    {"date", DATE2},
	    {"location", LOC},
	    {"content-encoding", "gzip"},
	    {"set-cookie", COOKIE}},
	   {{"set-cookie", COOKIE}, {"content-encoding", "gzip"}, {"date", DATE2}},
	   215,
	   ""}}},
	{"C.6 responses with Huffman, table 256",
	 256,
	 0,
	 {{"488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad17"
	   "1863c78f0b97c8e9ae82ae43d3",
	   {{":status", "302"}, {"cache-control", "private"}, {"date", DATE1}, {"location", LOC}},
	   {{"location", LOC}, {"date", DATE1}, {"cache-control", "private"}, {":status", "302"}},
	   222,
	   NULL},
	  /* "307" is 3 octets raw or Huffman; we send the tie raw, so our
	   * bytes are C.5.2's. */
	  {"4883640effc1c0bf",
	   {{":status", "307"}, {"cache-control", "private"}, {"date", DATE1}, {"location", LOC}},
	   {{":status", "307"}, {"location", LOC}, {"date", DATE1}, {"cache-control", "private"}},
	   222,
	   "4803333037c1c0bf"},
	  {"88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7"
	   "b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
	   {{":status", "200"},
	    {"cache-control", "private"},
	    {"date", DATE2},
	    {"location", LOC},
	    {"content-encoding", "gzip"},
	    {"set-cookie", COOKIE}},
	   {{"set-cookie", COOKIE}, {"content-encoding", "gzip"}, {"date", DATE2}},
	   215,
	   ""}}},
};

static void test_sequences(void)
{
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		const struct seq *q = &seqs[i];
		struct hpack_decoder *d =
			hpack_decoder_new(q->table_size, q->table_size, UINT32_MAX);
		struct hpack_decoder *peer =
			hpack_decoder_new(q->table_size, q->table_size, UINT32_MAX);
		struct hpack_encoder *e =
			hpack_encoder_new(q->table_size, q->table_size, q->enc_flags);
		static struct sink s;

		for (int b = 0; b < 3; b++) {
			const struct seq_block *blk = &q->b[b];
			size_t nh = count_fields(blk->headers, 8), nt = count_fields(blk->table, 6);
			uint8_t in[256], want[256], out[512];
			size_t n = unhex(blk->hex, in, sizeof(in)), wn;
			struct hpack_header h[8];
			char name[80];
			ssize_t el;
			int rc;

			snprintf(name, sizeof(name), "%.3s.%d%s", q->name, b + 1, q->name + 3);
			rc = decode_all(d, in, n, &s);
			CHECK(rc == 0 && headers_are(&s, blk->headers, nh), name, "decode rc %d",
			      rc);
			CHECK(table_is(hpack_decoder_table(d), blk->table, nt), name,
			      "table entries");
			CHECK(hpack_table_size(hpack_decoder_table(d)) == blk->table_size, name,
			      "table size %u", hpack_table_size(hpack_decoder_table(d)));

			/* The same list through our encoder. */
			to_headers(blk->headers, 8, 0, h);
			el = hpack_encode(e, h, nh, out, sizeof(out));
			CHECK(el > 0, name, "encode rc %zd", el);
			if (el <= 0)
				break;
			if (!blk->ours || blk->ours[0]) {
				wn = blk->ours ? unhex(blk->ours, want, sizeof(want)) : n;
				CHECK((size_t)el == wn &&
					      memcmp(out, blk->ours ? want : in, wn) == 0,
				      name, "encoded bytes differ (%zd octets)", el);
			}
			rc = decode_all(peer, out, (size_t)el, &s);
			CHECK(rc == 0 && headers_are(&s, blk->headers, nh), name, "round trip");
			CHECK(tables_eq(hpack_encoder_table(e), hpack_decoder_table(peer)), name,
			      "encoder and decoder tables in sync");
			if (blk->ours && !blk->ours[0]) {
				/* Where the RFC indexes set-cookie, we never index it. */
				CHECK(s.out.count == nh && (s.h[nh - 1].flags & HPACK_F_SENSITIVE),
				      name, "set-cookie sent never-indexed");
				CHECK(!table_has_name(hpack_encoder_table(e), "set-cookie"), name,
				      "set-cookie kept out of the table");
			} else {
				CHECK(tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)),
				      name, "encoder table matches the RFC's");
			}
		}
		hpack_decoder_free(d);
		hpack_decoder_free(peer);
		hpack_encoder_free(e);
	}
}

/* ---- decoding errors ------------------------------------------------ */

#define NONE (-1)

static void test_decode_errors(void)
{
	static const struct {
		const char *name;
		uint32_t table_size, initial;
		int64_t set_max[2]; /* hpack_decoder_set_max before the block, NONE */
		const char *hex;
		int rc;
		size_t error_at;
	} rows[] = {
		{"5.1 integer overflow (index)",
		 4096,
		 4096,
		 {NONE, NONE},
		 "ffffffff7f",
		 HPACK_E_INTEGER,
		 0},
		{"5.1 integer with too many octets",
		 4096,
		 4096,
		 {NONE, NONE},
		 "ff808080808000",
		 HPACK_E_INTEGER,
		 0},
		{"5.1 integer overflow (string length)",
		 4096,
		 4096,
		 {NONE, NONE},
		 "82407fffffff7f",
		 HPACK_E_INTEGER,
		 1},
		{"5.1 block ends inside an integer",
		 4096,
		 4096,
		 {NONE, NONE},
		 "ff",
		 HPACK_E_TRUNCATED,
		 0},
		{"6.2 block ends inside a name index",
		 4096,
		 4096,
		 {NONE, NONE},
		 "827f",
		 HPACK_E_TRUNCATED,
		 1},
		{"6.3 block ends inside a size update",
		 4096,
		 4096,
		 {NONE, NONE},
		 "3f",
		 HPACK_E_TRUNCATED,
		 0},
		{"5.2 string longer than the block",
		 4096,
		 4096,
		 {NONE, NONE},
		 "40056162",
		 HPACK_E_STRING_LENGTH,
		 0},
		{"5.2 value longer than the block",
		 4096,
		 4096,
		 {NONE, NONE},
		 "82400161056263",
		 HPACK_E_STRING_LENGTH,
		 1},
		{"6.2 block ends before the name",
		 4096,
		 4096,
		 {NONE, NONE},
		 "40",
		 HPACK_E_TRUNCATED,
		 0},
		{"6.2 block ends before the value",
		 4096,
		 4096,
		 {NONE, NONE},
		 "400161",
		 HPACK_E_TRUNCATED,
		 0},
		{"5.2 Huffman EOS in a name",
		 4096,
		 4096,
		 {NONE, NONE},
		 "4084ffffffff00",
		 HPACK_E_HUFFMAN,
		 0},
		{"5.2 Huffman EOS in a value",
		 4096,
		 4096,
		 {NONE, NONE},
		 "0484ffffffff",
		 HPACK_E_HUFFMAN,
		 0},
		{"5.2 Huffman padding over 7 bits",
		 4096,
		 4096,
		 {NONE, NONE},
		 "40821fff00",
		 HPACK_E_HUFFMAN,
		 0},
		{"5.2 Huffman padding not all ones",
		 4096,
		 4096,
		 {NONE, NONE},
		 "118118",
		 HPACK_E_HUFFMAN,
		 0},
		{"6.1 index 0", 4096, 4096, {NONE, NONE}, "80", HPACK_E_INDEX, 0},
		{"2.3.3 index past the empty dynamic table",
		 4096,
		 4096,
		 {NONE, NONE},
		 "82be",
		 HPACK_E_INDEX,
		 1},
		{"2.3.3 name index past the tables (with indexing)",
		 4096,
		 4096,
		 {NONE, NONE},
		 "7e00",
		 HPACK_E_INDEX,
		 0},
		{"2.3.3 name index past the tables (never indexed)",
		 4096,
		 4096,
		 {NONE, NONE},
		 "1f3000",
		 HPACK_E_INDEX,
		 0},
		{"2.3.3 index past one dynamic entry",
		 4096,
		 4096,
		 {NONE, NONE},
		 "4001610162bf",
		 HPACK_E_INDEX,
		 5},
		{"6.3 size update over our limit",
		 4096,
		 4096,
		 {NONE, NONE},
		 "3fe21f82",
		 HPACK_E_SIZE_UPDATE,
		 0},
		{"6.3 size update at our limit", 4096, 4096, {NONE, NONE}, "3fe11f82", 0, 0},
		{"4.2 size update after a field",
		 4096,
		 4096,
		 {NONE, NONE},
		 "8220",
		 HPACK_E_SIZE_UPDATE,
		 1},
		{"4.2 two size updates at the start", 4096, 4096, {NONE, NONE}, "203fe11f82", 0, 0},
		{"4.2 update required after we lowered our limit",
		 4096,
		 4096,
		 {100, NONE},
		 "82",
		 HPACK_E_SIZE_UPDATE,
		 0},
		{"4.2 required update present", 4096, 4096, {100, NONE}, "3f4582", 0, 0},
		{"4.2 update over the lowered limit",
		 4096,
		 4096,
		 {100, NONE},
		 "3f4682",
		 HPACK_E_SIZE_UPDATE,
		 0},
		{"4.2 update above the interval's least size",
		 4096,
		 4096,
		 {100, 200},
		 "3f960182",
		 HPACK_E_SIZE_UPDATE,
		 3},
		{"4.2 least size, then back up", 4096, 4096, {100, 200}, "3f453f960182", 0, 0},
		{"4.2 raising our limit needs no update", 4096, 256, {2000, NONE}, "82", 0, 0},
		{"4.2 empty block while an update is due",
		 4096,
		 4096,
		 {0, NONE},
		 "",
		 HPACK_E_SIZE_UPDATE,
		 0},
		{"4.2 peer starts above our table",
		 256,
		 4096,
		 {NONE, NONE},
		 "82",
		 HPACK_E_SIZE_UPDATE,
		 0},
		{"4.2 peer starts above our table, shrinks",
		 256,
		 4096,
		 {NONE, NONE},
		 "3fe10182",
		 0,
		 0},
		{"4.2 peer may grow up to our limit", 4096, 256, {NONE, NONE}, "3fe11f82", 0, 0},
		{"4.4 entry larger than the table empties it",
		 64,
		 64,
		 {NONE, NONE},
		 "400161016240016126626262626262626262626262626262626262626262626262626262626262626"
		 "2"
		 "626262626262",
		 0,
		 0},
		{"2.3.3 index into an emptied table",
		 64,
		 64,
		 {NONE, NONE},
		 "400161016240016126626262626262626262626262626262626262626262626262626262626262626"
		 "2"
		 "626262626262be",
		 HPACK_E_INDEX,
		 47},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct hpack_decoder *d =
			hpack_decoder_new(rows[i].table_size, rows[i].initial, UINT32_MAX);
		static struct sink s;
		uint8_t in[128];
		size_t n = unhex(rows[i].hex, in, sizeof(in));
		int rc;

		for (int k = 0; k < 2; k++)
			if (rows[i].set_max[k] != NONE)
				hpack_decoder_set_max(d, (uint32_t)rows[i].set_max[k]);
		rc = decode_all(d, in, n, &s);
		CHECK(rc == rows[i].rc, rows[i].name, "rc %d (%s), want %d", rc,
		      hpack_error_name(rc), rows[i].rc);
		if (rc && rc == rows[i].rc)
			CHECK(s.out.error_at == rows[i].error_at, rows[i].name, "error at %zu",
			      s.out.error_at);
		if (rc && rc == rows[i].rc)
			CHECK(hpack_is_compression_error(rc), rows[i].name, "class");
		hpack_decoder_free(d);
	}
}

/*
 * A header-list error must leave the decoder exactly where a decoder
 * without limits would be (RFC 9113 10.5.1), and the fields before the
 * limit intact.  Sweep each limit over every value that matters.
 */
static void test_list_limits_keep_sync(void)
{
	static const struct field list1[] = {
		{":status", "200"},
		{"content-type", "application/grpc"},
		{"grpc-encoding", "identity"},
		{"x-long-metadata", "a fairly long value that takes room in the scratch buffer"},
		{"grpc-accept-encoding", "gzip"},
		{NULL, NULL},
	};
	static const struct field list2[] = {
		{"x-long-metadata", "a fairly long value that takes room in the scratch buffer"},
		{"content-type", "application/grpc"},
		{"x-new", "value"},
		{"x-long-metadata", "a new value under a name from the table"},
		{"grpc-encoding", "identity"},
		{NULL, NULL},
	};
	struct hpack_encoder *e = hpack_encoder_new(4096, 4096, 0);
	struct hpack_header h1[8], h2[8];
	size_t n1 = to_headers(list1, 8, 0, h1), n2 = to_headers(list2, 8, 0, h2);
	uint8_t b1[512], b2[512];
	ssize_t l1 = hpack_encode(e, h1, n1, b1, sizeof(b1));
	ssize_t l2 = hpack_encode(e, h2, n2, b2, sizeof(b2));
	static struct sink s;
	bool sync_scratch = true, sync_list = true, sync_count = true, prefix_ok = true;
	bool saw_scratch = false, saw_list = false, saw_count = false;

	CHECK(l1 > 0 && l2 > 0, "limits: encode", "");
	for (int which = 0; which < 3; which++) {
		for (size_t lim = 0; lim < 400; lim++) {
			struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
			int want = which == 0   ? HPACK_E_SCRATCH_FULL
				   : which == 1 ? HPACK_E_LIST_TOO_LARGE
						: HPACK_E_TOO_MANY_HEADERS;
			bool sync = true;

			if (which == 1)
				hpack_decoder_set_max_list(d, (uint32_t)lim);
			for (int b = 0; b < 2; b++) {
				const uint8_t *blk = b ? b2 : b1;
				size_t len = (size_t)(b ? l2 : l1);
				const struct hpack_header *want_h = b ? h2 : h1;
				int rc = decode_into(d, blk, len, &s, which == 2 ? lim % 8 : 128,
						     which == 0 ? lim : sizeof(s.scratch));

				if (rc != 0 && rc != want)
					sync = false;
				if (rc == want) {
					if (which == 0)
						saw_scratch = true;
					if (which == 1)
						saw_list = true;
					if (which == 2)
						saw_count = true;
					if (hpack_is_compression_error(rc))
						sync = false;
				}
				if (!headers_eq(s.h, want_h, s.out.count))
					prefix_ok = false;
			}
			if (!tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)))
				sync = false;
			if (which == 0)
				sync_scratch &= sync;
			if (which == 1)
				sync_list &= sync;
			if (which == 2)
				sync_count &= sync;
			hpack_decoder_free(d);
		}
	}
	CHECK(saw_scratch && sync_scratch, "10.5.1 scratch overflow keeps the table in sync", "");
	CHECK(saw_list && sync_list, "10.5.1 header list too large keeps the table in sync", "");
	CHECK(saw_count && sync_count, "10.5.1 too many headers keeps the table in sync", "");
	CHECK(prefix_ok, "10.5.1 fields before a limit are intact", "");
	CHECK(!hpack_is_compression_error(HPACK_E_SCRATCH_FULL) &&
		      !hpack_is_compression_error(HPACK_E_LIST_TOO_LARGE) &&
		      !hpack_is_compression_error(HPACK_E_TOO_MANY_HEADERS),
	      "header-list errors are stream errors", "");
	hpack_encoder_free(e);

	/* Scratch spent, then a Huffman entry larger than the table: the table
	 * must still be emptied (4.4), as a decoder with room would do. */
	struct hpack_decoder *d = hpack_decoder_new(256, 256, UINT32_MAX);
	uint8_t blk[512], *p = blk;
	uint8_t big[300];

	memset(big, 'a', sizeof(big));
	*p++ = 0x40; /* x: y, raw, indexed */
	*p++ = 1;
	*p++ = 'x';
	*p++ = 1;
	*p++ = 'y';
	*p++ = 0x40; /* Huffman name "a" and a 300-octet Huffman value */
	p = hpack_int_encode(p, 0x80, 7, (uint32_t)hpack_huff_len((const uint8_t *)"a", 1));
	p = hpack_huff_encode(p, (const uint8_t *)"a", 1);
	p = hpack_int_encode(p, 0x80, 7, (uint32_t)hpack_huff_len(big, sizeof(big)));
	p = hpack_huff_encode(p, big, sizeof(big));
	int rc = decode_into(d, blk, (size_t)(p - blk), &s, 128, 0);
	CHECK(rc == HPACK_E_SCRATCH_FULL && s.out.count == 1 &&
		      hpack_table_count(hpack_decoder_table(d)) == 0,
	      "4.4 oversize entry after the scratch ran out empties the table", "rc %d count %u",
	      rc, hpack_table_count(hpack_decoder_table(d)));
	hpack_decoder_free(d);
}

/* ---- the encoder's choices ------------------------------------------ */

static void test_encoder_grpc_reuse(void)
{
	static const struct field req[] = {
		{":method", "POST"},
		{":scheme", "https"},
		{":path", "/ringgate.test.Echo/Say"},
		{":authority", "backend.internal:50051"},
		{"content-type", "application/grpc"},
		{"te", "trailers"},
		{"user-agent", "ringgate/0.1"},
		{"grpc-accept-encoding", "identity,gzip"},
		{"x-tenant", "acme"},
		{"grpc-timeout", "250m"},
		{NULL, NULL},
	};
	struct hpack_encoder *e = hpack_encoder_new(4096, 4096, 0);
	struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
	struct hpack_header h[16];
	size_t n = to_headers(req, 16, 0, h);
	uint8_t out[2][512];
	ssize_t len[2];
	static struct sink s;

	for (int call = 0; call < 2; call++) {
		int rc;

		len[call] = hpack_encode(e, h, n, out[call], sizeof(out[call]));
		rc = len[call] > 0 ? decode_all(d, out[call], (size_t)len[call], &s) : -100;
		CHECK(rc == 0 && s.out.count == n && headers_eq(s.h, h, n), "gRPC call round trip",
		      "call %d rc %d", call, rc);
	}
	/* Second call: every field one indexed octet (the deadline repeats). */
	bool one_octet = true;

	for (int i = 0; i < 10; i++)
		if (!(out[1][i] & 0x80))
			one_octet = false;
	CHECK(one_octet && len[1] == 10, "6.1 repeated gRPC headers are one octet each",
	      "first call %zd octets, second %zd", len[0], len[1]);
	CHECK(tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)), "gRPC tables in sync", "");
	hpack_encoder_free(e);
	hpack_decoder_free(d);
}

/*
 * The encoder remembers how each position's field came out as one index
 * and replays it while the table is unchanged.  Blocks whose fields move,
 * change value, or arrive after insertions and evictions (a 256-octet
 * table) must still decode to exactly what was encoded, with both tables
 * in step, also when the same block is sent twice and three times in a row.
 */
static void test_encoder_memo(void)
{
	static const struct field pool[] = {
		{":method", "POST"},
		{":scheme", "http"},
		{":path", "/a.S/M"},
		{":path", "/a.S/Other"},
		{":authority", "be:50051"},
		{"content-type", "application/grpc"},
		{"te", "trailers"},
		{"user-agent", "ringgate/0.1"},
		{"x-tenant", "acme"},
		{"x-tenant", "globex"},
		{"x-long", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"},
		{"authorization", "Bearer t"},
		{"grpc-timeout", "250m"},
	};
	const size_t npool = sizeof(pool) / sizeof(pool[0]);
	struct hpack_encoder *e = hpack_encoder_new(256, 256, 0);
	struct hpack_decoder *d = hpack_decoder_new(256, 256, UINT32_MAX);
	static struct sink s;
	uint64_t rng = 0x243f6a8885a308d3ull;
	unsigned bad = 0, repeats = 0;
	char ids[18][33];

	for (int call = 0; call < 3000 && bad == 0; call++) {
		struct hpack_header h[18];
		size_t n = 0;
		/* A stable prefix most of the time (the gRPC case), shuffled
		 * fields some of the time. */
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		bool shuffle = (rng >> 60) < 3;
		for (size_t i = 0; i < npool && n < 16; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t k = shuffle ? (size_t)(rng >> 33) % npool : i;
			if (!shuffle && (rng >> 62) == 0)
				continue; /* drop a field now and then */
			h[n].name = (struct hpack_slice){pool[k].name, strlen(pool[k].name)};
			h[n].value = (struct hpack_slice){pool[k].value, strlen(pool[k].value)};
			h[n].flags = 0;
			n++;
		}
		/* A value new on every call (a request id). */
		snprintf(ids[n], sizeof(ids[n]), "%016llx%016llx", (unsigned long long)rng,
			 (unsigned long long)call);
		h[n].name = (struct hpack_slice){"x-request-id", 12};
		h[n].value = (struct hpack_slice){ids[n], 32};
		h[n].flags = 0;
		n++;

		uint8_t out[2][1024];
		ssize_t len = hpack_encode(e, h, n, out[0], sizeof(out[0]));
		if (len <= 0 || decode_all(d, out[0], (size_t)len, &s) != 0 || s.out.count != n ||
		    !headers_eq(s.h, h, n) ||
		    !tables_eq(hpack_encoder_table(e), hpack_decoder_table(d))) {
			bad++;
			break;
		}
		/* The same block again, on the table it left behind. */
		if ((rng >> 58) == 1) {
			ssize_t len2 = hpack_encode(e, h, n, out[1], sizeof(out[1]));
			repeats++;
			if (len2 <= 0 || decode_all(d, out[1], (size_t)len2, &s) != 0 ||
			    !headers_eq(s.h, h, n))
				bad++;
			ssize_t len3 = hpack_encode(e, h, n, out[0], sizeof(out[0]));
			if (len3 <= 0 || decode_all(d, out[0], (size_t)len3, &s) != 0 ||
			    !headers_eq(s.h, h, n))
				bad++;
		}
	}
	CHECK(bad == 0, "memo: 3000 varied blocks round-trip, tables in step", "%u bad", bad);
	CHECK(repeats > 0, "memo: some blocks were repeated", "none");
	hpack_encoder_free(e);
	hpack_decoder_free(d);
}

/* The memo must see a difference at any position of a name or a value
 * of any length: a field that differs from the memo'd one only there must
 * not reuse the memo'd octets. */
static void test_encoder_memo_every_byte(void)
{
	unsigned bad = 0, cases = 0;
	for (size_t len = 1; len <= 40; len++) {
		for (size_t at = 0; at < len; at++) {
			for (int in_name = 0; in_name < 2; in_name++) {
				struct hpack_encoder *e = hpack_encoder_new(4096, 4096, 0);
				struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
				static struct sink s;
				char name[48], value[48];
				memset(name, 'n', len);
				memset(value, 'v', len);
				name[0] = 'x'; /* not a static-table name */
				char *str = in_name ? name : value;
				char was = str[at];
				for (int round = 0; round < 4; round++) {
					/* The field goes into the table, then out as an
					 * index (memo'd); round 2 differs in one byte,
					 * round 3 is the first field again. */
					str[at] = round == 2 ? 'z' : was;
					struct hpack_header h = {{name, len}, {value, len}, 0};
					uint8_t out[256];
					ssize_t n = hpack_encode(e, &h, 1, out, sizeof(out));
					cases++;
					if (n <= 0 || decode_all(d, out, (size_t)n, &s) != 0 ||
					    s.out.count != 1 || !headers_eq(s.h, &h, 1))
						bad++;
				}
				hpack_encoder_free(e);
				hpack_decoder_free(d);
			}
		}
	}
	CHECK(bad == 0, "memo: a one-byte difference anywhere is seen", "%u of %u bad", bad, cases);
}

static void test_encoder_sensitive(void)
{
	static const struct {
		const char *name;
		struct field f;
		unsigned flags;
		const char *first_octets; /* hex of the representation's start */
	} rows[] = {
		{"7.1.3 authorization is never indexed",
		 {"authorization", "Bearer abc.def"},
		 0,
		 "1f08"},
		{"7.1.3 proxy-authorization is never indexed",
		 {"proxy-authorization", "Basic Zm9vOmJhcg=="},
		 0,
		 "1f22"},
		{"7.1.3 cookie is never indexed", {"cookie", "session=1"}, 0, "1f11"},
		{"7.1.3 set-cookie is never indexed", {"set-cookie", "a=b"}, 0, "1f28"},
		{"7.1.3 Authorization in capitals too", {"Authorization", "Bearer x"}, 0, "10"},
		{"7.1.3 a caller-flagged name", {"x-api-key", "k-123"}, HPACK_F_SENSITIVE, "10"},
		{"7.1.3 a flagged static field", {":method", "GET"}, HPACK_F_SENSITIVE, "12"},
		{"6.2.2 a caller's no-index flag", {"x-trace", "t-1"}, HPACK_F_NO_INDEX, "00"},
		{"6.2.2 static name, no index", {"content-length", "12"}, HPACK_F_NO_INDEX, "0f0d"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct hpack_encoder *e = hpack_encoder_new(4096, 4096, 0);
		struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
		struct hpack_header h;
		uint8_t want[8], out[2][128];
		size_t wn = unhex(rows[i].first_octets, want, sizeof(want));
		ssize_t l0, l1;
		static struct sink s;
		int rc;

		to_headers(&rows[i].f, 1, rows[i].flags, &h);
		l0 = hpack_encode(e, &h, 1, out[0], sizeof(out[0]));
		l1 = hpack_encode(e, &h, 1, out[1], sizeof(out[1]));
		CHECK(l0 > 0 && (size_t)l0 >= wn && memcmp(out[0], want, wn) == 0, rows[i].name,
		      "first octet %02x", l0 > 0 ? out[0][0] : 0);
		CHECK(l0 == l1 && memcmp(out[0], out[1], (size_t)l0) == 0, rows[i].name,
		      "second time the same literal");
		CHECK(hpack_table_count(hpack_encoder_table(e)) == 0, rows[i].name, "table empty");
		rc = decode_all(d, out[0], (size_t)l0, &s);
		CHECK(rc == 0 && s.out.count == 1 && headers_eq(s.h, &h, 1), rows[i].name,
		      "round trip");
		bool never = rows[i].flags & HPACK_F_SENSITIVE || want[0] >> 4 == 1;
		CHECK(!!(s.h[0].flags & HPACK_F_SENSITIVE) == never, rows[i].name,
		      "decoded never-indexed flag");
		hpack_encoder_free(e);
		hpack_decoder_free(d);
	}

	/* Half-table rule: a field over max/2 is sent without indexing. */
	struct hpack_encoder *e = hpack_encoder_new(256, 256, HPACK_ENC_NO_HUFFMAN);
	char big[200];
	struct hpack_header h = {{"x-big", 5}, {big, 97}, 0};
	uint8_t out[512];

	memset(big, 'v', sizeof(big));
	ssize_t l = hpack_encode(e, &h, 1, out, sizeof(out));
	CHECK(l > 0 && out[0] == 0x00 && hpack_table_count(hpack_encoder_table(e)) == 0,
	      "6.2.2 a field over half the table is not indexed", "");
	h.value.len = 128 - 32 - 5; /* exactly max/2: indexed */
	l = hpack_encode(e, &h, 1, out, sizeof(out));
	CHECK(l > 0 && out[0] == 0x40 && hpack_table_count(hpack_encoder_table(e)) == 1,
	      "6.2.1 a field of half the table is indexed", "");
	hpack_encoder_free(e);
}

/* Volatile names: the first value is indexed, later ones only use the name. */
static void test_encoder_volatile(void)
{
	static const char *const names[] = {"grpc-timeout", "grpc-trace-bin", "traceparent",
					    "x-request-id", "X-Request-Id",   "x-b3-traceid",
					    "x-b3-spanid"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct hpack_encoder *e = hpack_encoder_new(4096, 4096, HPACK_ENC_NO_HUFFMAN);
		struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
		struct hpack_header h = {{names[i], strlen(names[i])}, {"v1", 2}, 0};
		uint8_t out[3][64];
		ssize_t l[3];
		static struct sink s;
		bool ok = true;

		for (int k = 0; k < 3; k++) {
			if (k == 2)
				h.value.base = "v2";
			l[k] = hpack_encode(e, &h, 1, out[k], sizeof(out[k]));
			if (l[k] <= 0 || decode_all(d, out[k], (size_t)l[k], &s) != 0 ||
			    !headers_eq(s.h, &h, 1))
				ok = false;
		}
		CHECK(ok && out[0][0] == 0x40, names[i], "6.2.1 first value indexed");
		CHECK(l[1] == 1 && out[1][0] == 0xbe, names[i],
		      "6.1 a repeated value is one octet");
		CHECK(l[2] == 5 && out[2][0] == 0x0f && out[2][1] == 0x2f, names[i],
		      "6.2.2 a new value reuses the name, not indexed");
		CHECK(hpack_table_count(hpack_encoder_table(e)) == 1 &&
			      tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)),
		      names[i], "one entry, in sync");
		hpack_encoder_free(e);
		hpack_decoder_free(d);
	}
}

static void test_encoder_size_updates(void)
{
	static const struct {
		const char *name;
		uint32_t cap, initial;
		int64_t peer[3];    /* successive peer settings before the block, NONE */
		const char *prefix; /* the block's first octets */
		uint32_t max_after;
	} rows[] = {
		{"6.3 no change, no update", 4096, 4096, {4096, NONE, NONE}, "82", 4096},
		{"6.3 peer lowers to 1000", 4096, 4096, {1000, NONE, NONE}, "3fc90782", 1000},
		{"4.2 lowered then raised: least, then final",
		 4096,
		 4096,
		 {100, 2000, NONE},
		 "3f453fb10f82",
		 2000},
		{"4.2 raised above our cap: capped, no update",
		 4096,
		 4096,
		 {65536, NONE, NONE},
		 "82",
		 4096},
		{"4.2 our cap below the initial size",
		 1024,
		 4096,
		 {NONE, NONE, NONE},
		 "3fe10782",
		 1024},
		{"4.2 peer disables the table", 4096, 4096, {0, NONE, NONE}, "2082", 0},
		{"4.2 a change and back still signals the dip",
		 4096,
		 4096,
		 {0, 4096, NONE},
		 "203fe11f82",
		 4096},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct hpack_encoder *e = hpack_encoder_new(rows[i].cap, rows[i].initial, 0);
		struct hpack_decoder *d = hpack_decoder_new(4096, rows[i].initial, UINT32_MAX);
		struct hpack_header h = {{":method", 7}, {"GET", 3}, 0};
		uint8_t want[16], out[64];
		size_t wn = unhex(rows[i].prefix, want, sizeof(want));
		static struct sink s;
		ssize_t l;
		int rc;

		for (int k = 0; k < 3; k++)
			if (rows[i].peer[k] != NONE) {
				hpack_encoder_set_peer_max(e, (uint32_t)rows[i].peer[k]);
				if (rows[i].peer[k] <= 4096)
					hpack_decoder_set_max(d, (uint32_t)rows[i].peer[k]);
			}
		l = hpack_encode(e, &h, 1, out, sizeof(out));
		CHECK(l == (ssize_t)wn && memcmp(out, want, wn) == 0, rows[i].name,
		      "%zd octets, first %02x", l, l > 0 ? out[0] : 0);
		CHECK(hpack_table_max(hpack_encoder_table(e)) == rows[i].max_after, rows[i].name,
		      "max %u", hpack_table_max(hpack_encoder_table(e)));
		rc = l > 0 ? decode_all(d, out, (size_t)l, &s) : -100;
		CHECK(rc == 0 && tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)),
		      rows[i].name, "decoder accepts it: rc %d", rc);
		hpack_encoder_free(e);
		hpack_decoder_free(d);
	}

	/* Lowering evicts at once, in both tables. */
	struct hpack_encoder *e = hpack_encoder_new(4096, 4096, 0);
	struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
	struct hpack_header h[3] = {
		{{"x-a", 3}, {"1111111111", 10}, 0},
		{{"x-b", 3}, {"2222222222", 10}, 0},
		{{"x-c", 3}, {"3333333333", 10}, 0},
	};
	uint8_t out[256];
	static struct sink s;
	ssize_t l = hpack_encode(e, h, 3, out, sizeof(out));
	int rc = decode_all(d, out, (size_t)l, &s);

	hpack_encoder_set_peer_max(e, 100);
	hpack_decoder_set_max(d, 100);
	CHECK(hpack_table_count(hpack_encoder_table(e)) == 2, "4.3 lowering evicts the oldest",
	      "%u", hpack_table_count(hpack_encoder_table(e)));
	l = hpack_encode(e, h + 2, 1, out, sizeof(out));
	rc = rc ? rc : decode_all(d, out, (size_t)l, &s);
	CHECK(rc == 0 && l == 3 && out[2] == 0xbe &&
		      tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)),
	      "4.3 after the update the newest entry is still 62", "l %zd rc %d", l, rc);
	hpack_encoder_free(e);
	hpack_decoder_free(d);
}

static void test_encoder_buffer(void)
{
	struct hpack_encoder *e = hpack_encoder_new(4096, 4096, 0);
	struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
	struct hpack_header h[2] = {
		{{"x-one", 5}, {"first value", 11}, 0},
		{{"x-two", 5}, {"second value", 12}, 0},
	};
	size_t bound = hpack_encode_bound(h, 2);
	uint8_t out[256];
	static struct sink s;
	ssize_t l;
	int rc;

	hpack_encoder_set_peer_max(e, 2048); /* a pending update must survive */
	hpack_decoder_set_max(d, 2048);
	CHECK(bound == 10 + 2 * 11 + 5 + 11 + 5 + 12, "bound", "%zu", bound);
	l = hpack_encode(e, h, 2, out, bound - 1);
	CHECK(l == HPACK_E_BUFFER && hpack_table_count(hpack_encoder_table(e)) == 0,
	      "a short buffer fails before any change", "%zd", l);
	l = hpack_encode(e, h, 2, out, bound);
	rc = l > 0 ? decode_all(d, out, (size_t)l, &s) : -100;
	CHECK(rc == 0 && s.out.count == 2 && headers_eq(s.h, h, 2) &&
		      tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)),
	      "the same call with the bound succeeds in sync", "l %zd rc %d", l, rc);

	struct hpack_header huge = {{"x", 1}, {"y", (size_t)HPACK_STRING_MAX + 1}, 0};

	CHECK(hpack_encode_bound(&huge, 1) == SIZE_MAX &&
		      hpack_encode(e, &huge, 1, out, sizeof(out)) == HPACK_E_STRING_LENGTH,
	      "a string over HPACK_STRING_MAX is refused", "");
	CHECK(hpack_encode(e, NULL, 0, out, sizeof(out)) == 0, "an empty list is zero octets", "");
	hpack_encoder_free(e);
	hpack_decoder_free(d);
}

/* ---- the round-trip property test ----------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rng_next(r) % n);
}

static const char *const name_pool[] = {
	":path",
	":authority",
	"content-type",
	"te",
	"user-agent",
	"grpc-timeout",
	"authorization",
	"cookie",
	"set-cookie",
	":status",
	"proxy-authorization",
	"grpc-encoding",
	"accept-encoding",
	"x-tenant",
	"grpc-trace-bin",
	"custom-key",
	"www-authenticate",
	"date",
	"x-bin-bin",
	"",
};
static const char *const value_pool[] = {
	"",
	"/",
	"GET",
	"POST",
	"200",
	"application/grpc",
	"trailers",
	"gzip, deflate",
	"gzip",
	"identity",
	"/pkg.Service/Method",
	"www.example.com",
	"Bearer token",
	"1S",
	"ringgate/0.1",
};

/* Fill `buf` with a random string; returns its length. */
static size_t random_string(struct rng *r, char *buf, size_t max)
{
	size_t len;
	uint32_t kind = rng_below(r, 10);

	if (kind < 6)
		len = rng_below(r, 24);
	else if (kind < 9)
		len = rng_below(r, 120);
	else
		len = rng_below(r, 700); /* over the small tables */
	if (len > max)
		len = max;
	bool binary = rng_below(r, 4) == 0;

	for (size_t i = 0; i < len; i++)
		buf[i] = binary ? (char)rng_below(r, 256) : (char)('a' + rng_below(r, 26));
	return len;
}

static void test_round_trip_property(void)
{
	static const uint32_t sizes[] = {0, 32, 40, 64, 100, 256, 1024, 4096};
	static char arena[1 << 16];
	static uint8_t block[1 << 17];
	static struct sink s;
	struct rng r = {0x5eed1234abcd9876ull};
	struct hpack_encoder *e = NULL;
	struct hpack_decoder *d = NULL;
	uint32_t dec_alloc = 0;
	unsigned bad_rc = 0, bad_list = 0, bad_sync = 0, bad_flags = 0, updates = 0;
	unsigned evictions_seen = 0;

	for (int iter = 0; iter < 2000; iter++) {
		if (iter % 100 == 0) {
			hpack_encoder_free(e);
			hpack_decoder_free(d);
			dec_alloc = sizes[rng_below(&r, 8)];
			e = hpack_encoder_new(sizes[rng_below(&r, 8)], 4096,
					      rng_below(&r, 3) == 0 ? HPACK_ENC_NO_HUFFMAN : 0);
			d = hpack_decoder_new(dec_alloc, 4096, UINT32_MAX);
			/* Our first SETTINGS reach the peer's encoder. */
			hpack_encoder_set_peer_max(e, dec_alloc);
		}
		if (rng_below(&r, 10) == 0) {
			/* We change our SETTINGS_HEADER_TABLE_SIZE. */
			uint32_t v = rng_below(&r, dec_alloc + 1);

			hpack_encoder_set_peer_max(e, v);
			hpack_decoder_set_max(d, v);
			if (rng_below(&r, 2)) {
				v = rng_below(&r, dec_alloc + 1);
				hpack_encoder_set_peer_max(e, v);
				hpack_decoder_set_max(d, v);
			}
			updates++;
		}

		struct hpack_header h[16];
		size_t n = rng_below(&r, 13), used = 0;

		for (size_t i = 0; i < n; i++) {
			char *p = arena + used;
			size_t nl, vl;

			if (rng_below(&r, 10) < 6) {
				const char *nm = name_pool[rng_below(&r, 20)];

				nl = strlen(nm);
				memcpy(p, nm, nl);
			} else {
				nl = random_string(&r, p, 40);
			}
			h[i].name = (hpack_slice){p, nl};
			p += nl;
			if (rng_below(&r, 10) < 4) {
				const char *v = value_pool[rng_below(&r, 15)];

				vl = strlen(v);
				memcpy(p, v, vl);
			} else {
				vl = random_string(&r, p, 2000);
			}
			h[i].value = (hpack_slice){p, vl};
			used += nl + vl;
			uint32_t f = rng_below(&r, 10);

			h[i].flags = f == 0 ? HPACK_F_SENSITIVE : f == 1 ? HPACK_F_NO_INDEX : 0;
		}

		uint32_t before = hpack_table_count(hpack_encoder_table(e));
		size_t bound = hpack_encode_bound(h, n);
		ssize_t l = hpack_encode(e, h, n, block, sizeof(block));
		int rc = l >= 0 ? decode_all(d, block, (size_t)l, &s) : (int)l;

		if (hpack_table_count(hpack_encoder_table(e)) < before)
			evictions_seen++;
		if (rc != 0 || (size_t)l > bound) {
			bad_rc++;
			fprintf(stderr, "iter %d: rc %d (%s)\n", iter, rc, hpack_error_name(rc));
			/* The pair is out of step now: start over. */
			hpack_encoder_free(e);
			hpack_decoder_free(d);
			e = hpack_encoder_new(4096, 4096, 0);
			d = hpack_decoder_new(4096, 4096, UINT32_MAX);
			dec_alloc = 4096;
			continue;
		}
		if (s.out.count != n || !headers_eq(s.h, h, n)) {
			bad_list++;
			fprintf(stderr, "iter %d: header list differs\n", iter);
		}
		for (size_t i = 0; i < s.out.count && i < n; i++)
			if ((h[i].flags & HPACK_F_SENSITIVE) && !(s.h[i].flags & HPACK_F_SENSITIVE))
				bad_flags++;
		if (!tables_eq(hpack_encoder_table(e), hpack_decoder_table(d))) {
			bad_sync++;
			fprintf(stderr, "iter %d: tables out of sync\n", iter);
		}
	}
	CHECK(bad_rc == 0, "round trip: every block decodes", "%u failures", bad_rc);
	CHECK(bad_list == 0, "round trip: decoded lists equal encoded ones", "%u", bad_list);
	CHECK(bad_flags == 0, "round trip: sensitive fields arrive never-indexed", "%u", bad_flags);
	CHECK(bad_sync == 0, "round trip: dynamic tables stay in sync", "%u", bad_sync);
	CHECK(updates > 100 && evictions_seen > 20, "round trip: exercised size changes",
	      "updates %u evictions %u", updates, evictions_seen);
	hpack_encoder_free(e);
	hpack_decoder_free(d);
}

/* Entries that wrap around the end of the byte ring, found again. */
static void test_ring_wrap(void)
{
	struct hpack_encoder *e = hpack_encoder_new(256, 256, HPACK_ENC_NO_HUFFMAN);
	struct hpack_decoder *d = hpack_decoder_new(256, 256, UINT32_MAX);
	char names[5][4] = {"x-a", "x-b", "x-c", "x-d", "x-e"}, val[60];
	struct hpack_header h;
	uint8_t out[256];
	static struct sink s;
	bool ok = true;

	/* Each entry is 3 + 60 + 32 = 95: two fit, the 5th starts at 252. */
	for (int i = 0; i < 5; i++) {
		memset(val, 'a' + i, sizeof(val));
		h = (struct hpack_header){{names[i], 3}, {val, sizeof(val)}, 0};
		ssize_t l = hpack_encode(e, &h, 1, out, sizeof(out));

		if (l <= 0 || out[0] != 0x40 || decode_all(d, out, (size_t)l, &s) != 0)
			ok = false;
	}
	CHECK(ok && hpack_table_count(hpack_encoder_table(e)) == 2, "2.3.2 ring wrap: fill", "");
	for (int k = 0; k < 2; k++) {
		ssize_t l = hpack_encode(e, &h, 1, out, sizeof(out));
		int rc = l > 0 ? decode_all(d, out, (size_t)l, &s) : -100;

		CHECK(l == 1 && out[0] == 0xbe && rc == 0 && s.out.count == 1 &&
			      headers_eq(s.h, &h, 1),
		      "2.3.2 a wrapped entry matches and decodes", "l %zd rc %d", l, rc);
	}
	h.value.len = 59; /* same name, a prefix of the value: no exact match */
	ssize_t l = hpack_encode(e, &h, 1, out, sizeof(out));
	CHECK(l > 1 && out[0] == 0x7e, "2.3.2 a wrapped name is reused", "%02x", out[0]);
	CHECK(decode_all(d, out, (size_t)l, &s) == 0 &&
		      tables_eq(hpack_encoder_table(e), hpack_decoder_table(d)),
	      "2.3.2 ring wrap: in sync", "");

	char buf[8];
	struct hpack_header got;

	CHECK(hpack_table_get(hpack_decoder_table(d), 2, buf, sizeof(buf), &got) == -1 &&
		      hpack_table_get(hpack_decoder_table(d), 0, buf, sizeof(buf), &got) == -1,
	      "hpack_table_get refuses a bad index or a short buffer", "");
	hpack_encoder_free(e);
	hpack_decoder_free(d);
}

/* Huffman errors are still found once the list is refused. */
static void test_refused_still_validates(void)
{
	static const struct {
		const char *name;
		const char *hex;
	} rows[] = {
		{"5.2 EOS in a value headed for the table, scratch spent", "40811f84ffffffff"},
		{"5.2 EOS in a value not headed for the table, scratch spent", "00811f84ffffffff"},
		{"5.2 bad padding in a value, scratch spent", "8240811f8118"},
		{"5.2 bad padding in a name, scratch spent", "82408118"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct hpack_decoder *d = hpack_decoder_new(4096, 4096, UINT32_MAX);
		static struct sink s;
		uint8_t in[32];
		size_t n = unhex(rows[i].hex, in, sizeof(in));
		int rc = decode_into(d, in, n, &s, 128, 0);

		CHECK(rc == HPACK_E_HUFFMAN, rows[i].name, "rc %d", rc);
		hpack_decoder_free(d);
	}
}

static void test_misc(void)
{
	static const int codes[] = {
		HPACK_OK,
		HPACK_E_TRUNCATED,
		HPACK_E_INTEGER,
		HPACK_E_STRING_LENGTH,
		HPACK_E_HUFFMAN,
		HPACK_E_INDEX,
		HPACK_E_SIZE_UPDATE,
		HPACK_E_LIST_TOO_LARGE,
		HPACK_E_SCRATCH_FULL,
		HPACK_E_TOO_MANY_HEADERS,
		HPACK_E_BUFFER,
	};
	bool named = true;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(hpack_error_name(codes[i]), "unknown") == 0)
			named = false;
	CHECK(named && strcmp(hpack_error_name(-99), "unknown") == 0, "every error has a name", "");
	CHECK(hpack_decoder_new(HPACK_TABLE_SIZE_MAX + 1, 4096, 1) == NULL &&
		      hpack_encoder_new(HPACK_TABLE_SIZE_MAX + 1, 4096, 0) == NULL,
	      "tables over HPACK_TABLE_SIZE_MAX are refused", "");

	/* A table of size 0 holds nothing and decodes fine. */
	struct hpack_decoder *d = hpack_decoder_new(0, 0, UINT32_MAX);
	static struct sink s;
	uint8_t in[32];
	size_t n = unhex("400161016282", in, sizeof(in));
	int rc = decode_all(d, in, n, &s);

	CHECK(rc == 0 && s.out.count == 2 && hpack_table_count(hpack_decoder_table(d)) == 0,
	      "4.4 table of size 0", "rc %d", rc);
	hpack_decoder_free(d);

	/* A Huffman name that decodes to nothing and an empty raw value. */
	d = hpack_decoder_new(4096, 4096, UINT32_MAX);
	n = unhex("4080 00 be", in, sizeof(in));
	rc = decode_into(d, in, n, &s, 4, 0);
	CHECK(rc == 0 && s.out.count == 2 && s.h[1].name.len == 0 && s.h[1].value.len == 0 &&
		      hpack_table_size(hpack_decoder_table(d)) == 32,
	      "5.2 empty strings need no scratch", "rc %d", rc);
	hpack_decoder_free(d);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--print-huffman-table") == 0) {
		print_huffman_table();
		return 0;
	}
	test_integers();
	test_huffman_tables();
	test_huffman_strings();
	test_static_lookup();
	test_c2();
	test_sequences();
	test_decode_errors();
	test_list_limits_keep_sync();
	test_encoder_grpc_reuse();
	test_encoder_memo();
	test_encoder_memo_every_byte();
	test_encoder_sensitive();
	test_encoder_volatile();
	test_encoder_size_updates();
	test_encoder_buffer();
	test_round_trip_property();
	test_ring_wrap();
	test_refused_still_validates();
	test_misc();
	return unit_finish();
}
