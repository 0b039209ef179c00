/*
 * pbjson_tool.c - the JSON <-> protobuf transcoder on the command line, for
 * differential tests that run thousands of cases through one process.
 *
 *   pbjson_tool DESCRIPTOR_SET.pb MESSAGE_TYPE
 *
 * Each stdin line is one case; each gets one stdout line:
 *
 *   J <base64 JSON> [ignore_unknown] [type=NAME]          JSON -> protobuf
 *   P <base64 protobuf> [defaults] [proto_names] [enum_ints] [type=NAME]
 *   T <base64 path> <base64 value> [type=NAME]             pb_set_field_from_text
 *
 *   OK <base64 output>
 *   ERR <path>: <message>
 *
 * Base64 keeps arbitrary bytes (invalid UTF-8, NULs, newlines) on one line;
 * "-" stands for empty input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/pb_json.h"
#include "grpc/pb_schema.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_b64(const uint8_t *p, size_t n)
{
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		putchar(b64[v >> 18]);
		putchar(b64[(v >> 12) & 63]);
		putchar(b64[(v >> 6) & 63]);
		putchar(b64[v & 63]);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		printf("%c%c==", b64[v >> 18], b64[(v >> 12) & 63]);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		printf("%c%c%c=", b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63]);
	}
}

/* Strict standard base64 (the test writes it); returns the length or -1. */
static long get_b64(const char *s, size_t n, uint8_t *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long o = 0;

	if (n == 1 && s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *c = strchr(b64, s[i]);

		if (s[i] == '=')
			break;
		if (c == NULL || s[i] == '\0')
			return -1;
		acc = acc << 6 | (uint32_t)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

static void report(int rc, const struct pb_buf *out, const struct pb_json_error *err)
{
	if (rc == 0) {
		fputs("OK ", stdout);
		put_b64(out->data, out->len);
		putchar('\n');
	} else if (rc == -1) {
		printf("ERR %s: %s\n", err->path, err->message);
	} else {
		printf("ERR : %s\n", strerror(-rc));
	}
}

int main(int argc, char **argv)
{
	struct pb_schema *schema;
	const struct pb_message *root;
	char errbuf[512], *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: %s DESCRIPTOR_SET.pb MESSAGE_TYPE\n", argv[0]);
		return 2;
	}
	if (pb_schema_load(&schema, (const char *const *)&argv[1], 1, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "%s\n", errbuf);
		return 2;
	}
	root = pb_schema_message(schema, argv[2]);
	if (root == NULL) {
		fprintf(stderr, "%s: no such message\n", argv[2]);
		return 2;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		char *words[8], *save = NULL;
		int nw = 0;

		line[strcspn(line, "\r\n")] = '\0';
		for (char *w = strtok_r(line, " ", &save); w && nw < 8;
		     w = strtok_r(NULL, " ", &save))
			words[nw++] = w;
		if (nw < 2) {
			puts("ERR : bad request line");
			fflush(stdout);
			continue;
		}
		const struct pb_message *m = root;
		struct pb_json_parse_opts popts = {0};
		struct pb_json_print_opts oopts = {0};

		for (int i = 2; i < nw; i++) {
			if (strcmp(words[i], "ignore_unknown") == 0)
				popts.ignore_unknown_fields = true;
			else if (strcmp(words[i], "defaults") == 0)
				oopts.emit_defaults = true;
			else if (strcmp(words[i], "proto_names") == 0)
				oopts.use_proto_names = true;
			else if (strcmp(words[i], "enum_ints") == 0)
				oopts.enums_as_ints = true;
			else if (strncmp(words[i], "type=", 5) == 0)
				m = pb_schema_message(schema, words[i] + 5);
		}
		size_t len = strlen(words[1]);
		uint8_t *in = malloc(len + 1);
		long inlen = in ? get_b64(words[1], len, in) : -1;
		struct pb_buf out = {0};
		struct pb_json_error err;
		int rc;

		if (m == NULL || inlen < 0) {
			puts(m == NULL ? "ERR : no such message type" : "ERR : bad base64 input");
		} else if (strcmp(words[0], "J") == 0) {
			rc = pb_json_to_proto_ex(schema, m, (const char *)in, (size_t)inlen, &popts,
						 &out, &err);
			report(rc, &out, &err);
		} else if (strcmp(words[0], "P") == 0) {
			rc = pb_proto_to_json(schema, m, in, (size_t)inlen, &oopts, &out, &err);
			report(rc, &out, &err);
		} else if (strcmp(words[0], "T") == 0 && nw >= 3) {
			size_t vlen = strlen(words[2]);
			uint8_t *val = malloc(vlen + 1);
			long vl = val ? get_b64(words[2], vlen, val) : -1;

			if (vl < 0) {
				puts("ERR : bad base64 input");
			} else {
				rc = pb_set_field_from_text(m, (const char *)in, (size_t)inlen,
							    (const char *)val, (size_t)vl, &out,
							    &err);
				report(rc, &out, &err);
			}
			free(val);
		} else {
			puts("ERR : bad request line");
		}
		pb_buf_free(&out);
		free(in);
		fflush(stdout);
	}
	free(line);
	pb_schema_free(schema);
	return 0;
}
