/*
 * fuzz_pb_json.c - libFuzzer target for the JSON <-> protobuf transcoder.
 *
 * Input: one control octet, then the payload.
 *   control  bits 0-1  0: payload is JSON -> protobuf, 1: payload is wire
 *                      bytes -> JSON, 2: JSON with ignore_unknown_fields,
 *                      3: "path\0value[\0value]" for the text setters
 *            bits 2-4  print options: emit_defaults, proto names, enums as
 *                      integers
 *            bits 5-6  message type: Everything, Nested, Value, Any
 *            bit 7     a 200-byte output limit (the -E2BIG paths)
 *
 * Whenever a message prints, its JSON must parse back and print again to
 * the same text (proto -> JSON -> proto -> JSON is stable; see
 * check_stable for the one projection json_format makes too).  The schema
 * is tests/protos/transcode_test.proto compiled by protoc:
 * $PBJSON_DESCRIPTORS, else the path the build compiled in.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/pb_json.h"
#include "grpc/pb_schema.h"

#ifndef PBJSON_DESCRIPTORS
#define PBJSON_DESCRIPTORS "tests/protos/transcode_test.pb"
#endif

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);                    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static struct pb_schema *schema;
static const struct pb_message *types[4];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const names[4] = {"transcode.test.Everything", "transcode.test.Nested",
					     "google.protobuf.Value", "google.protobuf.Any"};
	const char *path = getenv("PBJSON_DESCRIPTORS");
	char err[512];

	(void)argc;
	(void)argv;
	if (path == NULL)
		path = PBJSON_DESCRIPTORS;
	if (pb_schema_load(&schema, &path, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_pb_json: %s\n", err);
		abort();
	}
	for (int i = 0; i < 4; i++) {
		types[i] = pb_schema_message(schema, names[i]);
		REQUIRE(types[i] != NULL);
	}
	return 0;
}

static void check_error(const struct pb_json_error *err)
{
	REQUIRE(memchr(err->path, '\0', sizeof(err->path)) != NULL);
	REQUIRE(memchr(err->message, '\0', sizeof(err->message)) != NULL);
	REQUIRE(err->message[0] != '\0');
}

/* A printed message the parser may refuse legitimately, as json_format
 * refuses its own output there: a float printed as 3.4028235e+38 (just
 * above FLT_MAX once read as a double), a repeated NullValue printed as
 * [null]; and the reader's nesting limits count JSON arrays the printer
 * does not need. */
static bool legit_refusal(const struct pb_json_error *err)
{
	return strstr(err->message, "float value too") != NULL ||
	       strstr(err->message, "null is not allowed") != NULL ||
	       strstr(err->message, "too deep") != NULL ||
	       strstr(err->message, "nested too deeply") != NULL;
}

/* JSON -> protobuf; false when refused legitimately (else abort). */
static bool reparse(const struct pb_message *m, const struct pb_buf *json, struct pb_buf *wire)
{
	struct pb_json_error err;

	wire->len = 0;
	if (pb_json_to_proto_ex(schema, m, (const char *)json->data, json->len, NULL, wire, &err) ==
	    0)
		return true;
	check_error(&err);
	if (!legit_refusal(&err)) {
		fprintf(stderr, "printed JSON does not parse: %s: %s\n%.*s\n", err.path,
			err.message, (int)json->len, (const char *)json->data);
		abort();
	}
	return false;
}

static void reprint(const struct pb_message *m, const struct pb_buf *wire,
		    const struct pb_json_print_opts *po, struct pb_buf *json)
{
	struct pb_json_error err;

	json->len = 0;
	if (pb_proto_to_json(schema, m, wire->data, wire->len, po, json, &err) != 0) {
		fprintf(stderr, "re-encoded message does not print: %s: %s\n", err.path,
			err.message);
		abort();
	}
}

/*
 * proto -> JSON -> proto -> JSON gives the same JSON twice, or else once
 * more: like json_format, printing may lose what JSON cannot say (a
 * NullValue field holding 1 prints as null, which reads back as 0), but
 * one round trip reaches the fixed point.
 */
static void check_stable(const struct pb_message *m, const uint8_t *wire, size_t len,
			 const struct pb_json_print_opts *po)
{
	struct pb_buf j1 = {0}, p2 = {0}, j2 = {0}, p3 = {0}, j3 = {0};
	struct pb_json_error err;

	if (pb_proto_to_json(schema, m, wire, len, po, &j1, &err) != 0) {
		check_error(&err);
		goto out;
	}
	if (!reparse(m, &j1, &p2))
		goto out;
	reprint(m, &p2, po, &j2);
	if (j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0)
		goto out;
	if (!reparse(m, &j2, &p3))
		goto out;
	reprint(m, &p3, po, &j3);
	if (j2.len != j3.len || memcmp(j2.data, j3.data, j2.len) != 0) {
		fprintf(stderr, "unstable:\n%.*s\n%.*s\n%.*s\n", (int)j1.len, (const char *)j1.data,
			(int)j2.len, (const char *)j2.data, (int)j3.len, (const char *)j3.data);
		abort();
	}
out:
	pb_buf_free(&j1);
	pb_buf_free(&p2);
	pb_buf_free(&j2);
	pb_buf_free(&p3);
	pb_buf_free(&j3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	const struct pb_message *m = types[(ctl >> 5) & 3];
	struct pb_json_print_opts po = {
		.emit_defaults = ctl & 4, .use_proto_names = ctl & 8, .enums_as_ints = ctl & 16};
	struct pb_json_parse_opts jo = {.ignore_unknown_fields = (ctl & 3) == 2};
	struct pb_buf out = {.limit = (ctl & 0x80) ? 200 : 0};
	struct pb_json_error err;
	/* An exact-size copy, so ASan sees any read past the end. */
	uint8_t *in = malloc(size > 1 ? size - 1 : 1);
	size_t n = size - 1;
	int rc;

	REQUIRE(in != NULL);
	memcpy(in, data + 1, n);
	switch (ctl & 3) {
	case 0:
	case 2:
		rc = pb_json_to_proto_ex(schema, m, (const char *)in, n, &jo, &out, &err);
		if (rc == 0)
			check_stable(m, out.data, out.len, &po);
		else if (rc == -1)
			check_error(&err);
		else
			REQUIRE(rc == -E2BIG && out.len == 0);
		break;
	case 1:
		rc = pb_proto_to_json(schema, m, in, n, &po, &out, &err);
		if (rc == 0) {
			if (out.limit == 0)
				check_stable(m, in, n, &po);
		} else if (rc == -1) {
			check_error(&err);
		} else {
			REQUIRE(rc == -E2BIG && out.len == 0);
		}
		break;
	default: {
		const uint8_t *nul = memchr(in, 0, n);
		size_t plen = nul ? (size_t)(nul - in) : n;
		const char *val = nul ? (const char *)nul + 1 : "";
		size_t vlen = nul ? n - plen - 1 : 0;
		const char *v2 = memchr(val, 0, vlen);

		rc = pb_set_field_from_text(m, (const char *)in, plen, val, vlen, &out, &err);
		if (rc == -1)
			check_error(&err);
		if (rc == 0)
			check_stable(m, out.data, out.len, &po);
		out.len = 0;
		if (v2 != NULL) {
			rc = pb_set_map_entry_from_text(m, (const char *)in, plen, val,
							(size_t)(v2 - val), v2 + 1,
							vlen - (size_t)(v2 - val) - 1, &out, &err);
			if (rc == -1)
				check_error(&err);
			if (rc == 0)
				check_stable(m, out.data, out.len, &po);
		}
		break;
	}
	}
	pb_buf_free(&out);
	free(in);
	return 0;
}
