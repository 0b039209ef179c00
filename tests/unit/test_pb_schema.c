/*
 * test_pb_schema.c - the descriptor loader: every field shape of
 * tests/protos/schema_test*.proto compiled as descriptor.proto defines it,
 * the google.api.http rules flattened, agents.proto loaded, and errors that
 * name the set and the element.
 *
 * The descriptor sets are built by protoc at test-build time and passed as
 * arguments; each is found by its base name (schema_test.pb, agents.pb,
 * ...).  The rows that need shapes protoc refuses to produce build a small
 * set in memory with protobuf-c instead.
 */
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "descriptor.pb-c.h"
#include "grpc/pb_schema.h"
#include "http.pb-c.h"
#include "unit.h"

static int g_argc;
static char **g_argv;

/* The path of the set named `base` among the arguments, or NULL. */
static const char *set_path(const char *base)
{
	size_t n = strlen(base);

	for (int i = 1; i < g_argc; i++) {
		size_t len = strlen(g_argv[i]);

		if (len >= n && strcmp(g_argv[i] + len - n, base) == 0 &&
		    (len == n || g_argv[i][len - n - 1] == '/'))
			return g_argv[i];
	}
	CHECK(0, base, "descriptor set not among the arguments");
	return NULL;
}

static struct pb_schema *load1(const char *base, char *err, size_t errlen)
{
	const char *path = set_path(base);
	struct pb_schema *s = NULL;

	if (path == NULL)
		return NULL;
	if (pb_schema_load(&s, &path, 1, err, errlen) < 0)
		return NULL;
	return s;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = path ? fopen(path, "rb") : NULL;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* ---- fields ------------------------------------------------------------- */

struct field_row {
	const char *msg, *field;
	uint32_t number;
	uint8_t type, wire;
	const char *json;
	bool repeated, packed, map, presence;
	const char *oneof;  /* NULL: in no oneof; "_x": synthetic */
	const char *target; /* message or enum type, NULL for scalars */
};

#define S3     "schematest.Scalars"
#define NESTED "schematest.Scalars.Nested"
#define P2     "schematest.legacy.Legacy"

static const struct field_row field_rows[] = {
	/* proto3 singular: no presence except messages */
	{S3, "f_double", 1, PB_TYPE_DOUBLE, PB_WIRE_I64, "fDouble", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_float", 2, PB_TYPE_FLOAT, PB_WIRE_I32, "fFloat", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_int64", 3, PB_TYPE_INT64, PB_WIRE_VARINT, "fInt64", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_uint64", 4, PB_TYPE_UINT64, PB_WIRE_VARINT, "fUint64", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_int32", 5, PB_TYPE_INT32, PB_WIRE_VARINT, "fInt32", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_fixed64", 6, PB_TYPE_FIXED64, PB_WIRE_I64, "fFixed64", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_fixed32", 7, PB_TYPE_FIXED32, PB_WIRE_I32, "fFixed32", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_bool", 8, PB_TYPE_BOOL, PB_WIRE_VARINT, "fBool", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_string", 9, PB_TYPE_STRING, PB_WIRE_LEN, "fString", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_message", 11, PB_TYPE_MESSAGE, PB_WIRE_LEN, "fMessage", 0, 0, 0, 1, NULL, NESTED},
	{S3, "f_bytes", 12, PB_TYPE_BYTES, PB_WIRE_LEN, "fBytes", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_uint32", 13, PB_TYPE_UINT32, PB_WIRE_VARINT, "fUint32", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_enum", 14, PB_TYPE_ENUM, PB_WIRE_VARINT, "fEnum", 0, 0, 0, 0, NULL,
	 "schematest.Color"},
	{S3, "f_sfixed32", 15, PB_TYPE_SFIXED32, PB_WIRE_I32, "fSfixed32", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_sfixed64", 16, PB_TYPE_SFIXED64, PB_WIRE_I64, "fSfixed64", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_sint32", 17, PB_TYPE_SINT32, PB_WIRE_VARINT, "fSint32", 0, 0, 0, 0, NULL, NULL},
	{S3, "f_sint64", 18, PB_TYPE_SINT64, PB_WIRE_VARINT, "fSint64", 0, 0, 0, 0, NULL, NULL},
	/* proto3 repeated: scalars packed, strings/bytes/messages never */
	{S3, "r_double", 21, PB_TYPE_DOUBLE, PB_WIRE_I64, "rDouble", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_float", 22, PB_TYPE_FLOAT, PB_WIRE_I32, "rFloat", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_int64", 23, PB_TYPE_INT64, PB_WIRE_VARINT, "rInt64", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_uint64", 24, PB_TYPE_UINT64, PB_WIRE_VARINT, "rUint64", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_int32", 25, PB_TYPE_INT32, PB_WIRE_VARINT, "rInt32", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_fixed64", 26, PB_TYPE_FIXED64, PB_WIRE_I64, "rFixed64", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_fixed32", 27, PB_TYPE_FIXED32, PB_WIRE_I32, "rFixed32", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_bool", 28, PB_TYPE_BOOL, PB_WIRE_VARINT, "rBool", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_string", 29, PB_TYPE_STRING, PB_WIRE_LEN, "rString", 1, 0, 0, 0, NULL, NULL},
	{S3, "r_message", 31, PB_TYPE_MESSAGE, PB_WIRE_LEN, "rMessage", 1, 0, 0, 0, NULL, NESTED},
	{S3, "r_bytes", 32, PB_TYPE_BYTES, PB_WIRE_LEN, "rBytes", 1, 0, 0, 0, NULL, NULL},
	{S3, "r_uint32", 33, PB_TYPE_UINT32, PB_WIRE_VARINT, "rUint32", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_enum", 34, PB_TYPE_ENUM, PB_WIRE_VARINT, "rEnum", 1, 1, 0, 0, NULL,
	 "schematest.Color"},
	{S3, "r_sfixed32", 35, PB_TYPE_SFIXED32, PB_WIRE_I32, "rSfixed32", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_sfixed64", 36, PB_TYPE_SFIXED64, PB_WIRE_I64, "rSfixed64", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_sint32", 37, PB_TYPE_SINT32, PB_WIRE_VARINT, "rSint32", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_sint64", 38, PB_TYPE_SINT64, PB_WIRE_VARINT, "rSint64", 1, 1, 0, 0, NULL, NULL},
	{S3, "r_unpacked", 39, PB_TYPE_INT32, PB_WIRE_VARINT, "rUnpacked", 1, 0, 0, 0, NULL, NULL},
	{S3, "r_enum_unpacked", 40, PB_TYPE_ENUM, PB_WIRE_VARINT, "rEnumUnpacked", 1, 0, 0, 0, NULL,
	 "schematest.Color"},
	/* proto3 optional: presence through a synthetic oneof */
	{S3, "o_int32", 41, PB_TYPE_INT32, PB_WIRE_VARINT, "oInt32", 0, 0, 0, 1, "_o_int32", NULL},
	{S3, "o_string", 42, PB_TYPE_STRING, PB_WIRE_LEN, "oString", 0, 0, 0, 1, "_o_string", NULL},
	{S3, "o_message", 43, PB_TYPE_MESSAGE, PB_WIRE_LEN, "oMessage", 0, 0, 0, 1, "_o_message",
	 NESTED},
	{S3, "o_enum", 44, PB_TYPE_ENUM, PB_WIRE_VARINT, "oEnum", 0, 0, 0, 1, "_o_enum",
	 "schematest.Color"},
	/* a real oneof: every member has presence */
	{S3, "c_string", 51, PB_TYPE_STRING, PB_WIRE_LEN, "cString", 0, 0, 0, 1, "choice", NULL},
	{S3, "c_message", 52, PB_TYPE_MESSAGE, PB_WIRE_LEN, "cMessage", 0, 0, 0, 1, "choice",
	 NESTED},
	{S3, "c_int64", 53, PB_TYPE_INT64, PB_WIRE_VARINT, "cInt64", 0, 0, 0, 1, "choice", NULL},
	/* [json_name] wins over the computed name */
	{S3, "custom_json", 60, PB_TYPE_STRING, PB_WIRE_LEN, "customJSON", 0, 0, 0, 0, NULL, NULL},
	/* references into another file, and into nested scopes */
	{S3, "legacy", 61, PB_TYPE_MESSAGE, PB_WIRE_LEN, "legacy", 0, 0, 0, 1, NULL, P2},
	{S3, "deeper", 62, PB_TYPE_MESSAGE, PB_WIRE_LEN, "deeper", 0, 0, 0, 1, NULL,
	 NESTED ".Deeper"},
	{S3, "level", 63, PB_TYPE_ENUM, PB_WIRE_VARINT, "level", 0, 0, 0, 0, NULL,
	 NESTED ".Deeper.Level"},
	{NESTED, "deeper", 2, PB_TYPE_MESSAGE, PB_WIRE_LEN, "deeper", 0, 0, 0, 1, NULL,
	 NESTED ".Deeper"},
	{NESTED ".Deeper", "level", 2, PB_TYPE_ENUM, PB_WIRE_VARINT, "level", 0, 0, 0, 0, NULL,
	 NESTED ".Deeper.Level"},
	/* proto2: presence on every singular field, packed only when asked */
	{P2, "count", 1, PB_TYPE_INT32, PB_WIRE_VARINT, "count", 0, 0, 0, 1, NULL, NULL},
	{P2, "id", 2, PB_TYPE_STRING, PB_WIRE_LEN, "id", 0, 0, 0, 1, NULL, NULL},
	{P2, "mode", 3, PB_TYPE_ENUM, PB_WIRE_VARINT, "mode", 0, 0, 0, 1, NULL,
	 "schematest.legacy.Mode"},
	{P2, "samples", 4, PB_TYPE_INT32, PB_WIRE_VARINT, "samples", 1, 0, 0, 0, NULL, NULL},
	{P2, "packed_samples", 5, PB_TYPE_SINT64, PB_WIRE_VARINT, "packedSamples", 1, 1, 0, 0, NULL,
	 NULL},
	{P2, "modes", 6, PB_TYPE_ENUM, PB_WIRE_VARINT, "modes", 1, 1, 0, 0, NULL,
	 "schematest.legacy.Mode"},
	{P2, "item", 7, PB_TYPE_GROUP, PB_WIRE_SGROUP, "item", 0, 0, 0, 1, NULL, P2 ".Item"},
	{P2, "entry", 10, PB_TYPE_GROUP, PB_WIRE_SGROUP, "entry", 1, 0, 0, 0, NULL, P2 ".Entry"},
	{P2, "child", 12, PB_TYPE_MESSAGE, PB_WIRE_LEN, "child", 0, 0, 0, 1, NULL, P2},
	{P2, "pick_a", 13, PB_TYPE_INT32, PB_WIRE_VARINT, "pickA", 0, 0, 0, 1, "pick", NULL},
	{P2, "pick_b", 14, PB_TYPE_STRING, PB_WIRE_LEN, "pickB", 0, 0, 0, 1, "pick", NULL},
	{P2, "blob", 15, PB_TYPE_BYTES, PB_WIRE_LEN, "blob", 0, 0, 0, 1, NULL, NULL},
	{P2, "by_name", 16, PB_TYPE_MESSAGE, PB_WIRE_LEN, "byName", 1, 0, 1, 0, NULL,
	 P2 ".ByNameEntry"},
	{P2 ".Item", "weight", 9, PB_TYPE_INT32, PB_WIRE_VARINT, "weight", 0, 0, 0, 1, NULL, NULL},
	/* lowerCamelCase exactly as protoc computes it */
	{"schematest.JsonNames", "foo_bar_baz", 1, PB_TYPE_INT32, PB_WIRE_VARINT, "fooBarBaz", 0, 0,
	 0, 0, NULL, NULL},
	{"schematest.JsonNames", "_leading", 2, PB_TYPE_INT32, PB_WIRE_VARINT, "Leading", 0, 0, 0,
	 0, NULL, NULL},
	{"schematest.JsonNames", "trailing_", 3, PB_TYPE_INT32, PB_WIRE_VARINT, "trailing", 0, 0, 0,
	 0, NULL, NULL},
	{"schematest.JsonNames", "double__under", 4, PB_TYPE_INT32, PB_WIRE_VARINT, "doubleUnder",
	 0, 0, 0, 0, NULL, NULL},
	{"schematest.JsonNames", "x2y_3z", 5, PB_TYPE_INT32, PB_WIRE_VARINT, "x2y3z", 0, 0, 0, 0,
	 NULL, NULL},
	{"schematest.JsonNames", "mixedCase_field", 6, PB_TYPE_INT32, PB_WIRE_VARINT,
	 "mixedCaseField", 0, 0, 0, 0, NULL, NULL},
	{"schematest.JsonNames", "a_b_c", 8, PB_TYPE_INT32, PB_WIRE_VARINT, "aBC", 0, 0, 0, 0, NULL,
	 NULL},
	{"schematest.JsonNames", "field_1", 9, PB_TYPE_INT32, PB_WIRE_VARINT, "field1", 0, 0, 0, 0,
	 NULL, NULL},
	/* maps: repeated entry messages, never packed, no presence */
	{"schematest.Maps", "m_string", 1, PB_TYPE_MESSAGE, PB_WIRE_LEN, "mString", 1, 0, 1, 0,
	 NULL, "schematest.Maps.MStringEntry"},
	{"schematest.Maps", "fake", 13, PB_TYPE_MESSAGE, PB_WIRE_LEN, "fake", 1, 0, 0, 0, NULL,
	 "schematest.Maps.FakeEntry"},
	{"schematest.Sparse", "high", 536870911, PB_TYPE_INT32, PB_WIRE_VARINT, "high", 0, 0, 0, 0,
	 NULL, NULL},
};

static void check_field_row(const struct pb_schema *s, const struct field_row *r)
{
	char name[160];
	const struct pb_message *m = pb_schema_message(s, r->msg);
	const struct pb_field *f;

	snprintf(name, sizeof(name), "%s.%s", r->msg, r->field);
	CHECK(m != NULL, name, "message not found");
	if (m == NULL)
		return;
	f = pb_field_by_name(m, r->field, strlen(r->field));
	CHECK(f != NULL, name, "field not found by name");
	if (f == NULL)
		return;
	CHECK(f->number == r->number, name, "number %u", f->number);
	CHECK(f->type == r->type, name, "type %d", f->type);
	CHECK(f->wire == r->wire, name, "wire %d", f->wire);
	CHECK(strcmp(f->json_name, r->json) == 0, name, "json_name %s", f->json_name);
	CHECK(f->repeated == r->repeated, name, "repeated %d", f->repeated);
	CHECK(f->packed == r->packed, name, "packed %d", f->packed);
	CHECK(f->map == r->map, name, "map %d", f->map);
	CHECK(f->has_presence == r->presence, name, "has_presence %d", f->has_presence);
	CHECK(pb_field_by_number(m, r->number) == f, name, "by number");
	CHECK(pb_field_by_json(m, r->json, strlen(r->json)) == f, name, "by json name");
	if (r->oneof == NULL) {
		CHECK(f->oneof == -1, name, "oneof %d", f->oneof);
	} else {
		bool in = f->oneof >= 0 && (unsigned)f->oneof < m->noneofs;

		CHECK(in && strcmp(m->oneofs[f->oneof].name, r->oneof) == 0, name, "oneof %s",
		      in ? m->oneofs[f->oneof].name : "(none)");
		CHECK(in && m->oneofs[f->oneof].synthetic == (r->oneof[0] == '_'), name,
		      "synthetic");
	}
	if (r->target == NULL) {
		CHECK(f->message == NULL && f->enumt == NULL, name, "no type expected");
	} else if (r->type == PB_TYPE_ENUM) {
		CHECK(f->enumt != NULL && f->enumt == pb_schema_enum(s, r->target), name, "enum %s",
		      f->enumt ? f->enumt->full_name : "(null)");
	} else {
		CHECK(f->message != NULL && f->message == pb_schema_message(s, r->target), name,
		      "message %s", f->message ? f->message->full_name : "(null)");
	}
}

static void test_fields(const struct pb_schema *s)
{
	for (size_t i = 0; i < sizeof(field_rows) / sizeof(field_rows[0]); i++)
		check_field_row(s, &field_rows[i]);

	const struct pb_message *sc = pb_schema_message(s, S3);
	const struct pb_message *p2 = pb_schema_message(s, P2);

	if (sc == NULL || p2 == NULL) {
		CHECK(0, "Scalars and Legacy load", "missing");
		return;
	}
	CHECK(sc->proto3 && !p2->proto3, "syntax: proto3 vs proto2 per file");
	CHECK(sc->nfields == 47, "Scalars: every declared field", "nfields %u", sc->nfields);
	bool sorted = true;
	for (unsigned i = 1; i < sc->nfields; i++)
		sorted &= sc->fields[i - 1].number < sc->fields[i].number;
	CHECK(sorted, "fields sorted by number");
	sorted = true;
	for (unsigned i = 1; i < sc->nfields; i++)
		sorted &= strcmp(sc->by_json[i - 1]->json_name, sc->by_json[i]->json_name) < 0 &&
			  strcmp(sc->by_name[i - 1]->name, sc->by_name[i]->name) < 0;
	CHECK(sorted, "by_json and by_name sorted");
	CHECK(sc->noneofs == 5 && !sc->oneofs[0].synthetic, "oneofs: real first, then synthetic",
	      "noneofs %u", sc->noneofs);
	CHECK(sc->by_number != NULL && sc->max_number == 63, "direct table for small numbers");
	CHECK(pb_field_by_number(sc, 10) == NULL && pb_field_by_number(sc, 0) == NULL &&
		      pb_field_by_number(sc, 64) == NULL &&
		      pb_field_by_number(sc, 1u << 30) == NULL,
	      "absent numbers: NULL");
	CHECK(pb_field_by_json(sc, "fDoubleX", 7) == pb_field_by_name(sc, "f_double", 8),
	      "lookups take a slice, not a C string");
	CHECK(pb_field_by_json(sc, "f_double", 8) == NULL, "by_json does not match proto names");
	CHECK(pb_field_by_name(sc, "fDouble", 7) == NULL, "by_name does not match json names");
	CHECK(pb_field_by_json(sc, "fDouble\0x", 9) == NULL, "a slice holding NUL matches nothing");
	CHECK(pb_field_by_json(sc, "", 0) == NULL, "empty name matches nothing");
	CHECK(pb_field_by_number(p2, 100) == NULL, "extensions are not fields");
	CHECK(p2->noneofs == 1 && !p2->oneofs[0].synthetic, "proto2 oneof is real");

	const struct pb_message *sp = pb_schema_message(s, "schematest.Sparse");
	CHECK(sp != NULL && sp->by_number == NULL && sp->max_number == 536870911,
	      "no direct table above 256");
	if (sp != NULL)
		CHECK(pb_field_by_number(sp, 1) && pb_field_by_number(sp, 300) &&
			      pb_field_by_number(sp, 536870911) && !pb_field_by_number(sp, 2) &&
			      !pb_field_by_number(sp, 301),
		      "sparse lookups by binary search");

	const struct pb_message *em = pb_schema_message(s, "schematest.Empty");
	CHECK(em != NULL && em->nfields == 0 && pb_field_by_number(em, 1) == NULL &&
		      pb_field_by_json(em, "a", 1) == NULL,
	      "a message without fields");

	CHECK(pb_schema_message(s, "Scalars") == NULL, "names are full names");
	CHECK(pb_schema_message(s, "schematest.Color") == NULL, "an enum is not a message");
	CHECK(pb_schema_enum(s, S3) == NULL, "a message is not an enum");
	CHECK(pb_schema_message(s, "schematest.Scalars.Nested.Deeper") != NULL,
	      "nested message by full name");
	CHECK(pb_schema_message(s, P2 ".Item") != NULL, "group type is a nested message");
}

/* ---- maps ---------------------------------------------------------------- */

static void test_maps(const struct pb_schema *s)
{
	static const struct {
		const char *field;
		uint8_t key, value;
		const char *value_type;
	} rows[] = {
		{"m_string", PB_TYPE_STRING, PB_TYPE_STRING, NULL},
		{"m_int32", PB_TYPE_INT32, PB_TYPE_MESSAGE, NESTED},
		{"m_int64", PB_TYPE_INT64, PB_TYPE_ENUM, "schematest.Color"},
		{"m_uint32", PB_TYPE_UINT32, PB_TYPE_BYTES, NULL},
		{"m_uint64", PB_TYPE_UINT64, PB_TYPE_DOUBLE, NULL},
		{"m_sint32", PB_TYPE_SINT32, PB_TYPE_BOOL, NULL},
		{"m_sint64", PB_TYPE_SINT64, PB_TYPE_INT64, NULL},
		{"m_fixed32", PB_TYPE_FIXED32, PB_TYPE_FLOAT, NULL},
		{"m_fixed64", PB_TYPE_FIXED64, PB_TYPE_UINT32, NULL},
		{"m_sfixed32", PB_TYPE_SFIXED32, PB_TYPE_STRING, NULL},
		{"m_sfixed64", PB_TYPE_SFIXED64, PB_TYPE_STRING, NULL},
		{"m_bool", PB_TYPE_BOOL, PB_TYPE_MESSAGE, "google.protobuf.Timestamp"},
	};
	const struct pb_message *m = pb_schema_message(s, "schematest.Maps");

	CHECK(m != NULL, "schematest.Maps loads");
	if (m == NULL)
		return;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *name = rows[i].field;
		const struct pb_field *f = pb_field_by_name(m, name, strlen(name));
		const struct pb_message *e = f ? f->message : NULL;

		CHECK(f != NULL && f->map && f->repeated && !f->packed && e != NULL && e->map_entry,
		      name, "map field with an entry type");
		if (e == NULL || e->nfields != 2) {
			CHECK(0, name, "entry with two fields");
			continue;
		}
		const struct pb_field *k = pb_field_by_number(e, 1), *v = pb_field_by_number(e, 2);
		CHECK(k && strcmp(k->name, "key") == 0 && k->type == rows[i].key, name,
		      "key type %d", k ? k->type : -1);
		CHECK(v && strcmp(v->name, "value") == 0 && v->type == rows[i].value, name,
		      "value type %d", v ? v->type : -1);
		if (v != NULL && rows[i].value_type != NULL) {
			const char *t = v->message ? v->message->full_name
					: v->enumt ? v->enumt->full_name
						   : "";
			CHECK(strcmp(t, rows[i].value_type) == 0, name, "value type %s", t);
		}
	}
	const struct pb_field *fake = pb_field_by_name(m, "fake", 4);
	CHECK(fake && !fake->map && fake->message && !fake->message->map_entry,
	      "a message named ...Entry is not a map entry");
}

/* ---- enums --------------------------------------------------------------- */

static void test_enums(const struct pb_schema *s)
{
	static const struct {
		const char *rule, *enumt, *name;
		int32_t number;
		bool found;
		const char *by_number; /* the value found by `number`, NULL: none */
	} rows[] = {
		{"enum: name to number", "schematest.Color", "COLOR_GREEN", 2, true, "COLOR_GREEN"},
		{"enum: zero value", "schematest.Color", "COLOR_UNSPECIFIED", 0, true,
		 "COLOR_UNSPECIFIED"},
		{"enum alias: both names resolve", "schematest.Color", "COLOR_CRIMSON", 1, true,
		 "COLOR_RED"},
		{"enum alias: first declared wins by number", "schematest.Color", "COLOR_RED", 1,
		 true, "COLOR_RED"},
		{"enum: negative number", "schematest.Color", "COLOR_NEGATIVE", -7, true,
		 "COLOR_NEGATIVE"},
		{"enum: INT32_MAX", "schematest.Color", "COLOR_LARGE", 2147483647, true,
		 "COLOR_LARGE"},
		{"enum: unknown name, unknown number", "schematest.Color", "COLOR_BLUE", 3, false,
		 NULL},
		{"enum: names are case sensitive", "schematest.Color", "color_red", -8, false,
		 NULL},
		{"enum nested in a nested message", NESTED ".Deeper.Level", "LEVEL_DEEP", 1, true,
		 "LEVEL_DEEP"},
		{"proto2 enum", "schematest.legacy.Mode", "MODE_AUTO", 5, true, "MODE_AUTO"},
		{"proto2 enum: gap in numbers", "schematest.legacy.Mode", "MODE_TWO", 2, false,
		 NULL},
		{"NullValue", "google.protobuf.NullValue", "NULL_VALUE", 0, true, "NULL_VALUE"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct pb_enum *e = pb_schema_enum(s, rows[i].enumt);
		const struct pb_enum_value *v, *n;

		CHECK(e != NULL, rows[i].rule, "enum %s not found", rows[i].enumt);
		if (e == NULL)
			continue;
		v = pb_enum_by_name(e, rows[i].name, strlen(rows[i].name));
		CHECK((v != NULL) == rows[i].found, rows[i].rule, "by name");
		if (v != NULL)
			CHECK(v->number == rows[i].number, rows[i].rule, "number %d", v->number);
		n = pb_enum_by_number(e, rows[i].number);
		if (rows[i].by_number == NULL)
			CHECK(n == NULL, rows[i].rule, "by number: %s", n ? n->name : "");
		else
			CHECK(n != NULL && strcmp(n->name, rows[i].by_number) == 0, rows[i].rule,
			      "by number: %s", n ? n->name : "(null)");
	}
	const struct pb_enum *color = pb_schema_enum(s, "schematest.Color");
	const struct pb_enum *mode = pb_schema_enum(s, "schematest.legacy.Mode");
	const struct pb_enum *null = pb_schema_enum(s, "google.protobuf.NullValue");

	if (color == NULL || mode == NULL || null == NULL)
		return;
	CHECK(!color->closed && mode->closed, "proto2 enums are closed, proto3 open");
	CHECK(null->null_value && !color->null_value && !mode->null_value,
	      "NullValue is recognised by name");
	CHECK(color->nvalues == 6 && strcmp(color->values[2].name, "COLOR_CRIMSON") == 0,
	      "values in declaration order, aliases kept");
	bool sorted = true;
	for (unsigned i = 1; i < color->nvalues; i++)
		sorted &= color->by_number[i - 1]->number <= color->by_number[i]->number &&
			  strcmp(color->by_name[i - 1]->name, color->by_name[i]->name) < 0;
	CHECK(sorted, "by_number and by_name sorted");
	CHECK(pb_enum_by_name(color, "COLOR_REDX", 9) == pb_enum_by_name(color, "COLOR_RED", 9),
	      "enum lookup takes a slice");
}

/* ---- well-known types ---------------------------------------------------- */

static void test_wkt(const struct pb_schema *s)
{
	static const struct {
		const char *field;
		enum pb_wkt wkt;
	} rows[] = {
		{"any", PB_WKT_ANY},
		{"timestamp", PB_WKT_TIMESTAMP},
		{"duration", PB_WKT_DURATION},
		{"field_mask", PB_WKT_FIELD_MASK},
		{"struct", PB_WKT_STRUCT},
		{"value", PB_WKT_VALUE},
		{"list_value", PB_WKT_LIST_VALUE},
		{"empty", PB_WKT_EMPTY},
		{"double_value", PB_WKT_DOUBLE_VALUE},
		{"float_value", PB_WKT_FLOAT_VALUE},
		{"int64_value", PB_WKT_INT64_VALUE},
		{"uint64_value", PB_WKT_UINT64_VALUE},
		{"int32_value", PB_WKT_INT32_VALUE},
		{"uint32_value", PB_WKT_UINT32_VALUE},
		{"bool_value", PB_WKT_BOOL_VALUE},
		{"string_value", PB_WKT_STRING_VALUE},
		{"bytes_value", PB_WKT_BYTES_VALUE},
	};
	const struct pb_message *m = pb_schema_message(s, "schematest.Wkts");

	CHECK(m != NULL, "schematest.Wkts loads");
	if (m == NULL)
		return;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct pb_field *f =
			pb_field_by_name(m, rows[i].field, strlen(rows[i].field));

		CHECK(f && f->message && f->message->wkt == rows[i].wkt, rows[i].field, "wkt %d",
		      f && f->message ? f->message->wkt : -1);
	}
	const struct pb_field *nv = pb_field_by_name(m, "null_value", 10);
	CHECK(nv && nv->type == PB_TYPE_ENUM && nv->enumt && nv->enumt->null_value,
	      "NullValue field is an enum with null_value");
	const struct pb_message *own = pb_schema_message(s, "schematest.Empty");
	CHECK(own && own->wkt == PB_WKT_NONE, "a message named Empty elsewhere is not the WKT");
	const struct pb_message *sc = pb_schema_message(s, S3);
	CHECK(sc && sc->wkt == PB_WKT_NONE, "ordinary messages are PB_WKT_NONE");
	const struct pb_message *st = pb_schema_message(s, "google.protobuf.Struct");
	const struct pb_field *fields = st ? pb_field_by_name(st, "fields", 6) : NULL;
	CHECK(fields && fields->map && fields->message->nfields == 2 &&
		      fields->message->fields[1].message &&
		      fields->message->fields[1].message->wkt == PB_WKT_VALUE,
	      "Struct.fields is a map to Value");
}

/* ---- google.api.http ---------------------------------------------------- */

static void test_http(const struct pb_schema *s)
{
	static const struct {
		const char *method;
		unsigned index;
		uint8_t verb;
		const char *custom, *path, *body, *response_body;
	} rows[] = {
		{"Get", 0, PB_HTTP_GET, NULL, "/v1/things/{name}", "", ""},
		{"Put", 0, PB_HTTP_PUT, NULL, "/v1/things/{name}", "*", ""},
		{"Post", 0, PB_HTTP_POST, NULL, "/v1/things", "body_field", ""},
		{"Delete", 0, PB_HTTP_DELETE, NULL, "/v1/{name=things/*}", "", ""},
		{"Patch", 0, PB_HTTP_PATCH, NULL, "/v1/things/{nested.value}", "nested", ""},
		{"Custom", 0, PB_HTTP_CUSTOM, "HEAD", "/v1/things/{name}", "", ""},
		{"ResponseBody", 0, PB_HTTP_GET, NULL, "/v1/things/{name}:payload", "", "payload"},
		{"Bindings", 0, PB_HTTP_POST, NULL, "/v1/things/{name}:bind", "*", ""},
		{"Bindings", 1, PB_HTTP_GET, NULL, "/v1/bind/{name=a/*/b/**}", "", ""},
		{"Bindings", 2, PB_HTTP_CUSTOM, "OPTIONS", "/v1/bind", "", ""},
		{"Bindings", 3, PB_HTTP_PUT, NULL, "/v2/bind/{name}", "nested", "payload"},
	};
	static const struct {
		const char *method;
		unsigned nrules;
		bool client_streaming, server_streaming;
	} methods[] = {
		{"Get", 1, 0, 0},        {"Put", 1, 0, 0},    {"Post", 1, 0, 0},
		{"Delete", 1, 0, 0},     {"Patch", 1, 0, 0},  {"Custom", 1, 0, 0},
		{"Bindings", 4, 0, 0},   {"NoRule", 0, 0, 0}, {"ClientStream", 0, 1, 0},
		{"BidiStream", 0, 1, 1},
	};
	const struct pb_service *svc = pb_schema_service(s, "schematest.HttpTest");

	CHECK(svc != NULL && svc->nmethods == 11, "service loads with every method");
	if (svc == NULL)
		return;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct pb_method *m = NULL;
		char name[64];

		snprintf(name, sizeof(name), "http %s[%u]", rows[i].method, rows[i].index);
		for (unsigned j = 0; j < svc->nmethods; j++)
			if (strcmp(svc->methods[j].name, rows[i].method) == 0)
				m = &svc->methods[j];
		if (m == NULL || rows[i].index >= m->nrules) {
			CHECK(0, name, "rule missing");
			continue;
		}
		const struct pb_http_rule *r = &m->rules[rows[i].index];
		CHECK(r->verb == rows[i].verb, name, "verb %d", r->verb);
		CHECK(rows[i].custom
			      ? r->custom_method && strcmp(r->custom_method, rows[i].custom) == 0
			      : r->custom_method == NULL,
		      name, "custom %s", r->custom_method ? r->custom_method : "(null)");
		CHECK(strcmp(r->path, rows[i].path) == 0, name, "path %s", r->path);
		CHECK(strcmp(r->body, rows[i].body) == 0, name, "body %s", r->body);
		CHECK(strcmp(r->response_body, rows[i].response_body) == 0, name,
		      "response_body %s", r->response_body);
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		const struct pb_method *m = NULL;

		for (unsigned j = 0; j < svc->nmethods; j++)
			if (strcmp(svc->methods[j].name, methods[i].method) == 0)
				m = &svc->methods[j];
		CHECK(m != NULL, methods[i].method, "method missing");
		if (m == NULL)
			continue;
		CHECK(m->nrules == methods[i].nrules && (m->nrules > 0) == (m->rules != NULL),
		      methods[i].method, "nrules %u", m->nrules);
		CHECK(m->client_streaming == methods[i].client_streaming &&
			      m->server_streaming == methods[i].server_streaming,
		      methods[i].method, "streaming");
		CHECK(m->service == svc, methods[i].method, "service back pointer");
	}
	const struct pb_method *get = &svc->methods[0];
	CHECK(strcmp(get->grpc_path, "/schematest.HttpTest/Get") == 0, "grpc_path", "%s",
	      get->grpc_path);
	CHECK(get->input == pb_schema_message(s, "schematest.HttpRequest") &&
		      get->output == pb_schema_message(s, "schematest.HttpResponse"),
	      "method input and output resolved");
	CHECK(pb_schema_nservices(s) == 1 && pb_schema_service_at(s, 0) == svc &&
		      pb_schema_service_at(s, 1) == NULL,
	      "services listed");
	CHECK(pb_schema_service(s, "HttpTest") == NULL &&
		      pb_schema_service(s, "schematest.HttpRequest") == NULL,
	      "service lookup by full name only");
}

/* ---- agents.proto --------------------------------------------------------- */

static void test_agents(void)
{
	char err[512] = "";
	struct pb_schema *s = load1("agents.pb", err, sizeof(err));

	CHECK(s != NULL, "agents.proto loads", "%s", err);
	if (s == NULL)
		return;
	const struct pb_service *svc = pb_schema_service(s, "agents.v1.AgentService");
	CHECK(svc && svc->nmethods == 7, "AgentService has seven methods");
	static const struct {
		const char *method;
		uint8_t verb;
		const char *path, *body;
		unsigned nrules;
	} rows[] = {
		{"ListAgents", PB_HTTP_GET, "/v1/agents", "", 1},
		{"GetAgent", PB_HTTP_GET, "/v1/agents/{agent_id}", "", 2},
		{"CreateAgent", PB_HTTP_POST, "/v1/agents", "agent", 1},
		{"UpdateAgent", PB_HTTP_PATCH, "/v1/agents/{agent.id}", "agent", 1},
		{"DeleteAgent", PB_HTTP_DELETE, "/v1/agents/{agent_id}", "", 1},
		{"ExecuteAgent", PB_HTTP_POST, "/v1/agents/{agent_id}:execute", "*", 1},
		{"StreamExecution", PB_HTTP_GET,
		 "/v1/agents/{agent_id}/executions/{execution_id}:stream", "", 1},
	};
	for (size_t i = 0; svc && i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct pb_method *m = &svc->methods[i];

		CHECK(strcmp(m->name, rows[i].method) == 0 && m->nrules == rows[i].nrules &&
			      m->rules[0].verb == rows[i].verb &&
			      strcmp(m->rules[0].path, rows[i].path) == 0 &&
			      strcmp(m->rules[0].body, rows[i].body) == 0,
		      rows[i].method, "rule %s %s", m->name,
		      m->nrules ? m->rules[0].path : "(none)");
	}
	if (svc != NULL) {
		CHECK(strcmp(svc->methods[1].rules[1].path, "/v1/teams/{team}/agents/{agent_id}") ==
			      0,
		      "GetAgent additional binding");
		CHECK(svc->methods[6].server_streaming && !svc->methods[6].client_streaming,
		      "StreamExecution is server streaming");
		CHECK(svc->methods[4].output->wkt == PB_WKT_EMPTY, "DeleteAgent returns Empty");
	}
	const struct pb_message *a = pb_schema_message(s, "agents.v1.Agent");
	if (a != NULL) {
		const struct pb_field *labels = pb_field_by_json(a, "labels", 6);
		const struct pb_field *temp = pb_field_by_json(a, "temperature", 11);
		const struct pb_field *mc = pb_field_by_json(a, "maxConcurrency", 14);
		const struct pb_field *status = pb_field_by_json(a, "status", 6);
		const struct pb_field *url = pb_field_by_json(a, "endpointUrl", 11);
		const struct pb_field *count = pb_field_by_json(a, "executionCount", 14);

		CHECK(labels && labels->map, "Agent.labels is a map");
		CHECK(temp && temp->has_presence && temp->oneof >= 0 &&
			      a->oneofs[temp->oneof].synthetic,
		      "Agent.temperature is proto3 optional");
		CHECK(mc && mc->message && mc->message->wkt == PB_WKT_INT32_VALUE,
		      "Agent.max_concurrency is a wrapper");
		CHECK(status && status->enumt && status->enumt->nvalues == 4 &&
			      !status->enumt->closed,
		      "Agent.status is AgentStatus");
		CHECK(url && url->oneof >= 0 && !a->oneofs[url->oneof].synthetic &&
			      strcmp(a->oneofs[url->oneof].name, "runtime") == 0,
		      "Agent.endpoint_url is in oneof runtime");
		CHECK(count && count->type == PB_TYPE_INT64 && !count->has_presence,
		      "Agent.execution_count is a plain int64");
	} else {
		CHECK(0, "agents.v1.Agent loads");
	}
	pb_schema_free(s);
}

/* ---- several sets together ------------------------------------------------ */

static void test_sets(void)
{
	const char *paths[3] = {set_path("agents.pb"), set_path("schema_test.pb"),
				set_path("schema_test.pb")};
	struct pb_schema *s = NULL;
	char err[512] = "";

	if (paths[0] == NULL || paths[1] == NULL)
		return;
	CHECK(pb_schema_load(&s, paths, 3, err, sizeof(err)) == 0 && s != NULL,
	      "files shared by sets, and a set loaded twice, are loaded once", "%s", err);
	if (s != NULL) {
		CHECK(pb_schema_nservices(s) == 2 &&
			      strcmp(pb_schema_service_at(s, 0)->full_name,
				     "agents.v1.AgentService") == 0 &&
			      strcmp(pb_schema_service_at(s, 1)->full_name,
				     "schematest.HttpTest") == 0,
		      "services in load order");
		CHECK(pb_schema_service(s, "agents.v1.AgentService") ==
				      pb_schema_service_at(s, 0) &&
			      pb_schema_service(s, "schematest.HttpTest") ==
				      pb_schema_service_at(s, 1),
		      "services by name");
		CHECK(pb_schema_message(s, "agents.v1.Agent") && pb_schema_message(s, S3) &&
			      pb_schema_message(s, "google.protobuf.Timestamp"),
		      "types of both sets");
		pb_schema_free(s);
	}
	pb_schema_free(NULL);
}

/* ---- json_name absent: computed as protoc does ----------------------------- */

static void strip_json_names(Google__Protobuf__DescriptorProto *m)
{
	for (size_t i = 0; i < m->n_field; i++) {
		free(m->field[i]->json_name);
		m->field[i]->json_name = NULL;
	}
	for (size_t i = 0; i < m->n_nested_type; i++)
		strip_json_names(m->nested_type[i]);
}

static void test_json_name_computed(const struct pb_schema *orig)
{
	size_t len = 0;
	uint8_t *buf = read_all(set_path("schema_test.pb"), &len);
	Google__Protobuf__FileDescriptorSet *set =
		buf ? google__protobuf__file_descriptor_set__unpack(NULL, len, buf) : NULL;
	struct pb_schema *s = NULL;
	char err[256] = "";

	CHECK(set != NULL, "schema_test.pb unpacks");
	if (set == NULL) {
		free(buf);
		return;
	}
	for (size_t i = 0; i < set->n_file; i++)
		for (size_t j = 0; j < set->file[i]->n_message_type; j++)
			strip_json_names(set->file[i]->message_type[j]);
	size_t n = google__protobuf__file_descriptor_set__get_packed_size(set);
	uint8_t *packed = malloc(n);
	google__protobuf__file_descriptor_set__pack(set, packed);
	const uint8_t *bufs[1] = {packed};
	const char *names[1] = {"stripped.pb"};
	CHECK(pb_schema_load_buffers(&s, bufs, &n, names, 1, err, sizeof(err)) == 0,
	      "a set without json_name loads", "%s", err);
	unsigned compared = 0, differ = 0;
	for (size_t i = 0; s && i < sizeof(field_rows) / sizeof(field_rows[0]); i++) {
		const struct field_row *r = &field_rows[i];
		const struct pb_message *a = pb_schema_message(orig, r->msg);
		const struct pb_message *b = pb_schema_message(s, r->msg);

		if (a == NULL || b == NULL)
			continue;
		for (unsigned k = 0; k < a->nfields && k < b->nfields; k++) {
			bool custom = strcmp(a->fields[k].name, "custom_json") == 0;

			compared++;
			if ((strcmp(a->fields[k].json_name, b->fields[k].json_name) == 0) ==
			    custom) {
				differ++;
				fprintf(stderr, "  %s.%s: protoc %s, computed %s\n", r->msg,
					a->fields[k].name, a->fields[k].json_name,
					b->fields[k].json_name);
			}
		}
	}
	CHECK(compared > 100 && differ == 0,
	      "json_name computed as protoc's lowerCamelCase when absent", "%u of %u differ",
	      differ, compared);
	const struct pb_message *sc = s ? pb_schema_message(s, S3) : NULL;
	const struct pb_field *cj = sc ? pb_field_by_name(sc, "custom_json", 11) : NULL;
	CHECK(cj && strcmp(cj->json_name, "customJson") == 0,
	      "without the descriptor's json_name the option is lost: default name");
	pb_schema_free(s);
	free(packed);
	google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
	free(buf);
}

/* ---- errors from protoc-built sets and damaged bytes ----------------------- */

static void test_file_errors(void)
{
	static const struct {
		const char *rule;
		const char *sets[2];
		const char *want[3]; /* substrings of the error */
	} rows[] = {
		{"missing import: a set built without --include_imports",
		 {"schema_noimports.pb", NULL},
		 {"schema_noimports.pb: ", "type .google.protobuf.", "not found"}},
		{"same full name, different definitions, in two sets",
		 {"dup_a.pb", "dup_b.pb"},
		 {"dup_b.pb: schematest.dup.Thing: defined twice", "dup_a.proto", "dup_b.proto"}},
		{"HttpRule: nested additional_bindings",
		 {"bad_nested_bindings.pb", NULL},
		 {"bad_nested_bindings.pb: schematest.bad.Bad.Call: ", "additional_bindings",
		  NULL}},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *paths[2];
		unsigned n = 0;
		/* Not NULL at the start: a failed load must reset it. */
		struct pb_schema *s = (struct pb_schema *)(uintptr_t)1;
		char err[512] = "";

		for (unsigned k = 0; k < 2 && rows[i].sets[k]; k++)
			if ((paths[n] = set_path(rows[i].sets[k])) != NULL)
				n++;
		if (n == 0)
			continue;
		CHECK(pb_schema_load(&s, paths, n, err, sizeof(err)) == -1 && s == NULL,
		      rows[i].rule, "loaded");
		for (unsigned k = 0; k < 3 && rows[i].want[k]; k++)
			CHECK(strstr(err, rows[i].want[k]) != NULL, rows[i].rule,
			      "error \"%s\" lacks \"%s\"", err, rows[i].want[k]);
	}

	/* Damaged bytes. */
	size_t len = 0;
	uint8_t *good = read_all(set_path("schema_test.pb"), &len);
	static const uint8_t garbage[] = "this is not a descriptor set";
	static const uint8_t long_varint[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff,
					      0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t empty_file[] = {0x0a, 0x00}; /* one file, no name */
	const struct {
		const char *rule;
		const uint8_t *buf;
		size_t len;
		const char *want;
	} bytes[] = {
		{"truncated by one byte", good, len ? len - 1 : 0, "truncated or corrupt"},
		{"truncated in the middle", good, len / 2, "truncated or corrupt"},
		{"truncated to three bytes", good, len > 3 ? 3 : 0, "truncated or corrupt"},
		{"garbage text", garbage, sizeof(garbage) - 1, "truncated or corrupt"},
		{"overlong varint", long_varint, sizeof(long_varint), "truncated or corrupt"},
		{"zero bytes: an empty set", garbage, 0, "holds no files"},
		{"a file without a name", empty_file, sizeof(empty_file), "has no name"},
	};
	for (size_t i = 0; good && i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		struct pb_schema *s = NULL;
		char err[256] = "";
		const char *name = "damaged.pb";

		CHECK(pb_schema_load_buffers(&s, &bytes[i].buf, &bytes[i].len, &name, 1, err,
					     sizeof(err)) == -1 &&
			      s == NULL,
		      bytes[i].rule, "loaded");
		CHECK(strncmp(err, "damaged.pb: ", 12) == 0 && strstr(err, bytes[i].want),
		      bytes[i].rule, "error \"%s\"", err);
	}
	free(good);

	struct pb_schema *s = NULL;
	char err[256] = "";
	const char *nofile = "/nonexistent/dir/none.pb";
	CHECK(pb_schema_load(&s, &nofile, 1, err, sizeof(err)) == -1 && s == NULL &&
		      strstr(err, nofile) == err,
	      "unreadable file: error names it", "%s", err);
	CHECK(pb_schema_load(&s, NULL, 0, err, sizeof(err)) == -1, "no sets at all");
	char tiny[8];
	CHECK(pb_schema_load(&s, &nofile, 1, tiny, sizeof(tiny)) == -1 &&
		      strlen(tiny) == sizeof(tiny) - 1,
	      "error truncated to errlen");
}

/* ---- rows on sets built in memory ------------------------------------------ */

/*
 * A one-file set: package synth,
 *   message Req { string name = 1; Inner inner = 2; repeated string tags = 3; }
 *   message Inner { string id = 1; }
 *   enum Kind { KIND_A = 0; }
 *   service Svc { rpc Call(Req) returns (Inner); }
 * which each row changes a little.
 */
struct synth {
	Google__Protobuf__FieldDescriptorProto name, inner, tags, id;
	Google__Protobuf__FieldDescriptorProto *req_fields[3], *inner_fields[1];
	Google__Protobuf__DescriptorProto req, innerm, *msgs[2];
	Google__Protobuf__MessageOptions map_opts;
	Google__Protobuf__OneofDescriptorProto oneof, *oneofs[1];
	Google__Protobuf__EnumValueDescriptorProto kind_a, *kind_values[1];
	Google__Protobuf__EnumDescriptorProto kind, *enums[1];
	Google__Protobuf__MethodOptions opts;
	ProtobufCMessageUnknownField uf[2];
	uint8_t ufdata[2][256];
	Google__Protobuf__MethodDescriptorProto call, *calls[1];
	Google__Protobuf__ServiceDescriptorProto svc, *svcs[1];
	Google__Protobuf__FileDescriptorProto file, *files[1];
	Google__Protobuf__FileDescriptorSet set;
};

static void synth_field(Google__Protobuf__FieldDescriptorProto *f, const char *name, int number,
			int type, bool repeated, const char *type_name)
{
	*f = (Google__Protobuf__FieldDescriptorProto)GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__INIT;
	f->name = (char *)name;
	f->has_number = 1;
	f->number = number;
	f->has_label = 1;
	f->label = repeated ? GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED
			    : GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
	f->has_type = 1;
	f->type = (Google__Protobuf__FieldDescriptorProto__Type)type;
	f->type_name = (char *)type_name;
}

static void synth_init(struct synth *s)
{
	memset(s, 0, sizeof(*s));
	synth_field(&s->name, "name", 1, PB_TYPE_STRING, false, NULL);
	synth_field(&s->inner, "inner", 2, PB_TYPE_MESSAGE, false, ".synth.Inner");
	synth_field(&s->tags, "tags", 3, PB_TYPE_STRING, true, NULL);
	synth_field(&s->id, "id", 1, PB_TYPE_STRING, false, NULL);
	s->req_fields[0] = &s->name;
	s->req_fields[1] = &s->inner;
	s->req_fields[2] = &s->tags;
	s->inner_fields[0] = &s->id;
	s->req = (Google__Protobuf__DescriptorProto)GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
	s->req.name = "Req";
	s->req.n_field = 3;
	s->req.field = s->req_fields;
	s->innerm = (Google__Protobuf__DescriptorProto)GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
	s->innerm.name = "Inner";
	s->innerm.n_field = 1;
	s->innerm.field = s->inner_fields;
	s->msgs[0] = &s->req;
	s->msgs[1] = &s->innerm;
	s->map_opts = (Google__Protobuf__MessageOptions)GOOGLE__PROTOBUF__MESSAGE_OPTIONS__INIT;
	s->oneof = (Google__Protobuf__OneofDescriptorProto)
		GOOGLE__PROTOBUF__ONEOF_DESCRIPTOR_PROTO__INIT;
	s->oneof.name = "pick";
	s->oneofs[0] = &s->oneof;
	s->kind_a = (Google__Protobuf__EnumValueDescriptorProto)
		GOOGLE__PROTOBUF__ENUM_VALUE_DESCRIPTOR_PROTO__INIT;
	s->kind_a.name = "KIND_A";
	s->kind_a.has_number = 1;
	s->kind_values[0] = &s->kind_a;
	s->kind = (Google__Protobuf__EnumDescriptorProto)
		GOOGLE__PROTOBUF__ENUM_DESCRIPTOR_PROTO__INIT;
	s->kind.name = "Kind";
	s->kind.n_value = 1;
	s->kind.value = s->kind_values;
	s->enums[0] = &s->kind;
	s->opts = (Google__Protobuf__MethodOptions)GOOGLE__PROTOBUF__METHOD_OPTIONS__INIT;
	s->opts.base.unknown_fields = s->uf;
	s->call = (Google__Protobuf__MethodDescriptorProto)
		GOOGLE__PROTOBUF__METHOD_DESCRIPTOR_PROTO__INIT;
	s->call.name = "Call";
	s->call.input_type = ".synth.Req";
	s->call.output_type = ".synth.Inner";
	s->calls[0] = &s->call;
	s->svc = (Google__Protobuf__ServiceDescriptorProto)
		GOOGLE__PROTOBUF__SERVICE_DESCRIPTOR_PROTO__INIT;
	s->svc.name = "Svc";
	s->svc.n_method = 1;
	s->svc.method = s->calls;
	s->svcs[0] = &s->svc;
	s->file = (Google__Protobuf__FileDescriptorProto)
		GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
	s->file.name = "synth.proto";
	s->file.package = "synth";
	s->file.syntax = "proto3";
	s->file.n_message_type = 2;
	s->file.message_type = s->msgs;
	s->file.n_enum_type = 1;
	s->file.enum_type = s->enums;
	s->file.n_service = 1;
	s->file.service = s->svcs;
	s->files[0] = &s->file;
	s->set = (Google__Protobuf__FileDescriptorSet)GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
	s->set.n_file = 1;
	s->set.file = s->files;
}

/* Attach raw bytes as occurrence i of the method's google.api.http option. */
static void synth_raw(struct synth *s, unsigned i, ProtobufCWireType wt, const uint8_t *data,
		      size_t len)
{
	size_t h = 0;

	if (wt == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
		/* protobuf-c keeps a length-delimited unknown field with its
		 * length prefix. */
		size_t v = len;
		do {
			s->ufdata[i][h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			v >>= 7;
		} while (v > 0);
	}
	if (len > 0)
		memcpy(s->ufdata[i] + h, data, len);
	s->uf[i].tag = 72295728;
	s->uf[i].wire_type = wt;
	s->uf[i].len = h + len;
	s->uf[i].data = s->ufdata[i];
	if (s->opts.base.n_unknown_fields < i + 1)
		s->opts.base.n_unknown_fields = i + 1;
	s->call.options = &s->opts;
}

static void synth_http(struct synth *s, unsigned i, const Google__Api__HttpRule *r)
{
	uint8_t buf[200];
	size_t n = google__api__http_rule__get_packed_size(r);

	if (n > sizeof(buf))
		abort();
	google__api__http_rule__pack(r, buf);
	synth_raw(s, i, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, buf, n);
}

static Google__Api__HttpRule rule_get(const char *path)
{
	Google__Api__HttpRule r = GOOGLE__API__HTTP_RULE__INIT;

	r.pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_GET;
	r.get = (char *)path;
	return r;
}

static void http_get(struct synth *s, const char *path, const char *body, const char *rbody)
{
	Google__Api__HttpRule r = rule_get(path);

	if (body)
		r.body = (char *)body;
	if (rbody)
		r.response_body = (char *)rbody;
	synth_http(s, 0, &r);
}

/* Row setups. */
static void x_none(struct synth *s)
{
	(void)s;
}
static void x_no_pattern(struct synth *s)
{
	Google__Api__HttpRule r = GOOGLE__API__HTTP_RULE__INIT;

	r.body = "*";
	synth_http(s, 0, &r);
}
static void x_custom_no_kind(struct synth *s)
{
	Google__Api__HttpRule r = GOOGLE__API__HTTP_RULE__INIT;
	Google__Api__CustomHttpPattern c = GOOGLE__API__CUSTOM_HTTP_PATTERN__INIT;

	c.path = "/v1/x";
	r.pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM;
	r.custom = &c;
	synth_http(s, 0, &r);
}
static void x_empty_path(struct synth *s)
{
	http_get(s, "", NULL, NULL);
}
static void x_relative_path(struct synth *s)
{
	http_get(s, "v1/things", NULL, NULL);
}
static void x_unknown_var(struct synth *s)
{
	http_get(s, "/v1/{nope}", NULL, NULL);
}
static void x_repeated_var(struct synth *s)
{
	http_get(s, "/v1/{tags}", NULL, NULL);
}
static void x_var_through_scalar(struct synth *s)
{
	http_get(s, "/v1/{name.x}", NULL, NULL);
}
static void x_unclosed(struct synth *s)
{
	http_get(s, "/v1/{name", NULL, NULL);
}
static void x_unopened(struct synth *s)
{
	http_get(s, "/v1/name}", NULL, NULL);
}
static void x_empty_var(struct synth *s)
{
	http_get(s, "/v1/{}", NULL, NULL);
}
static void x_nested_var(struct synth *s)
{
	http_get(s, "/v1/{inner.id=things/*}/{name}:go", "inner", "id");
}
static void x_body_unknown(struct synth *s)
{
	http_get(s, "/v1/x", "nope", NULL);
}
static void x_body_nested(struct synth *s)
{
	http_get(s, "/v1/x", "inner.id", NULL);
}
static void x_response_body_unknown(struct synth *s)
{
	http_get(s, "/v1/x", NULL, "name"); /* a field of Req, not of Inner */
}
static void x_wrong_wire(struct synth *s)
{
	static const uint8_t one[] = {1};

	synth_raw(s, 0, PROTOBUF_C_WIRE_TYPE_VARINT, one, 1);
}
static void x_not_http_rule(struct synth *s)
{
	static const uint8_t bad[] = {0x12, 0x05, 'a'}; /* get: 5 bytes, only 1 there */

	synth_raw(s, 0, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, bad, sizeof(bad));
}
static void x_empty_option(struct synth *s)
{
	synth_raw(s, 0, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, NULL, 0);
}
static void x_merged(struct synth *s)
{
	Google__Api__HttpRule a = rule_get("/v1/merged"), b = GOOGLE__API__HTTP_RULE__INIT;

	b.body = "*";
	synth_http(s, 0, &a);
	synth_http(s, 1, &b);
}
static void x_nested_bindings(struct synth *s)
{
	Google__Api__HttpRule top = rule_get("/v1/a"), mid = rule_get("/v1/b"),
			      leaf = rule_get("/v1/c");
	Google__Api__HttpRule *midp[1] = {&mid}, *leafp[1] = {&leaf};

	mid.n_additional_bindings = 1;
	mid.additional_bindings = leafp;
	top.n_additional_bindings = 1;
	top.additional_bindings = midp;
	synth_http(s, 0, &top);
}
static void x_binding_bad_path(struct synth *s)
{
	Google__Api__HttpRule top = rule_get("/v1/a"), b1 = rule_get("/v1/{name}"),
			      b2 = rule_get("/v1/{missing}");
	Google__Api__HttpRule *bs[2] = {&b1, &b2};

	top.n_additional_bindings = 2;
	top.additional_bindings = bs;
	synth_http(s, 0, &top);
}
static void x_relative_type(struct synth *s)
{
	s->inner.type_name = "Inner";
	s->call.input_type = "Req";
}
static void x_no_type_enum_name(struct synth *s)
{
	s->inner.has_type = 0;
	s->inner.type_name = ".synth.Kind";
}
static void x_missing_type(struct synth *s)
{
	s->inner.type_name = ".synth.Missing";
}
static void x_enum_as_message(struct synth *s)
{
	s->inner.type_name = ".synth.Kind";
}
static void x_no_type_name(struct synth *s)
{
	s->inner.type_name = NULL;
}
static void x_number_zero(struct synth *s)
{
	s->name.number = 0;
}
static void x_number_too_big(struct synth *s)
{
	s->name.number = 536870912;
}
static void x_number_twice(struct synth *s)
{
	s->tags.number = 1;
}
static void x_bad_type(struct synth *s)
{
	s->name.type = (Google__Protobuf__FieldDescriptorProto__Type)19;
}
static void x_bad_map_entry(struct synth *s)
{
	s->map_opts.has_map_entry = 1;
	s->map_opts.map_entry = 1;
	s->req.options = &s->map_opts;
}
static void x_editions(struct synth *s)
{
	s->file.syntax = "editions";
}
static void x_proto2(struct synth *s)
{
	s->file.syntax = NULL;
	s->tags.options = NULL;
}
static void x_file_no_name(struct synth *s)
{
	s->file.name = NULL;
}
static void x_message_no_name(struct synth *s)
{
	s->innerm.name = "";
}
static void x_input_missing(struct synth *s)
{
	s->call.input_type = ".synth.Nope";
}
static void x_output_enum(struct synth *s)
{
	s->call.output_type = ".synth.Kind";
}
static void x_enum_empty(struct synth *s)
{
	s->kind.n_value = 0;
}
static void x_oneof_range(struct synth *s)
{
	s->name.has_oneof_index = 1;
	s->name.oneof_index = 1;
	s->req.n_oneof_decl = 1;
	s->req.oneof_decl = s->oneofs;
}
static void x_oneof_ok(struct synth *s)
{
	s->name.has_oneof_index = 1;
	s->name.oneof_index = 0;
	s->req.n_oneof_decl = 1;
	s->req.oneof_decl = s->oneofs;
}
static void x_method_twice(struct synth *s)
{
	static Google__Protobuf__MethodDescriptorProto *two[2];

	two[0] = two[1] = &s->call;
	s->svc.n_method = 2;
	s->svc.method = two;
}

/* Checks for the rows that load. */
static const struct pb_method *synth_call(const struct pb_schema *s)
{
	const struct pb_service *svc = pb_schema_service(s, "synth.Svc");

	return svc && svc->nmethods == 1 ? &svc->methods[0] : NULL;
}
static bool c_no_rules(const struct pb_schema *s)
{
	const struct pb_method *m = synth_call(s);

	return m && m->nrules == 0 && m->rules == NULL;
}
static bool c_nested_var(const struct pb_schema *s)
{
	const struct pb_method *m = synth_call(s);

	return m && m->nrules == 1 &&
	       strcmp(m->rules[0].path, "/v1/{inner.id=things/*}/{name}:go") == 0 &&
	       strcmp(m->rules[0].body, "inner") == 0 &&
	       strcmp(m->rules[0].response_body, "id") == 0;
}
static bool c_body_nested(const struct pb_schema *s)
{
	const struct pb_method *m = synth_call(s);

	return m && m->nrules == 1 && strcmp(m->rules[0].body, "inner.id") == 0;
}
static bool c_merged(const struct pb_schema *s)
{
	const struct pb_method *m = synth_call(s);

	return m && m->nrules == 1 && m->rules[0].verb == PB_HTTP_GET &&
	       strcmp(m->rules[0].path, "/v1/merged") == 0 && strcmp(m->rules[0].body, "*") == 0;
}
static bool c_relative_type(const struct pb_schema *s)
{
	const struct pb_message *req = pb_schema_message(s, "synth.Req");
	const struct pb_field *f = req ? pb_field_by_number(req, 2) : NULL;
	const struct pb_method *m = synth_call(s);

	return f && f->message == pb_schema_message(s, "synth.Inner") && m && m->input == req;
}
static bool c_no_type_enum(const struct pb_schema *s)
{
	const struct pb_message *req = pb_schema_message(s, "synth.Req");
	const struct pb_field *f = req ? pb_field_by_number(req, 2) : NULL;

	return f && f->type == PB_TYPE_ENUM && f->wire == PB_WIRE_VARINT &&
	       f->enumt == pb_schema_enum(s, "synth.Kind") && !f->has_presence;
}
static bool c_proto2(const struct pb_schema *s)
{
	const struct pb_message *req = pb_schema_message(s, "synth.Req");
	const struct pb_field *f = req ? pb_field_by_number(req, 1) : NULL;
	const struct pb_enum *e = pb_schema_enum(s, "synth.Kind");

	return req && !req->proto3 && f && f->has_presence && e && e->closed;
}
static bool c_oneof(const struct pb_schema *s)
{
	const struct pb_message *req = pb_schema_message(s, "synth.Req");
	const struct pb_field *f = req ? pb_field_by_number(req, 1) : NULL;

	return f && f->oneof == 0 && f->has_presence && !req->oneofs[0].synthetic;
}

static void test_synth(void)
{
	static const struct {
		const char *rule;
		void (*setup)(struct synth *);
		const char *want;                        /* error substring; NULL: loads */
		bool (*check)(const struct pb_schema *); /* when it loads */
	} rows[] = {
		{"baseline set loads without http option", x_none, NULL, c_no_rules},
		{"HttpRule without a pattern", x_no_pattern,
		 "synth.Svc.Call: google.api.http rule "
		 "without a pattern",
		 NULL},
		{"HttpRule custom without a kind", x_custom_no_kind,
		 "custom pattern without a kind", NULL},
		{"HttpRule empty path", x_empty_path, "empty path", NULL},
		{"HttpRule path must start with /", x_relative_path, "does not start with /", NULL},
		{"path variable must name a field", x_unknown_var, "no field \"nope\" in synth.Req",
		 NULL},
		{"path variable must not be repeated", x_repeated_var, "repeated field", NULL},
		{"path variable steps through messages only", x_var_through_scalar,
		 "name is not a singular message field", NULL},
		{"path: unclosed {", x_unclosed, "unbalanced {", NULL},
		{"path: } without {", x_unopened, "unbalanced }", NULL},
		{"path: empty variable", x_empty_var, "empty variable", NULL},
		{"nested path variable with a pattern, field body and response_body", x_nested_var,
		 NULL, c_nested_var},
		{"body must name a field of the input", x_body_unknown, "body \"nope\"", NULL},
		{"body may be a nested field path", x_body_nested, NULL, c_body_nested},
		{"response_body must name a field of the output", x_response_body_unknown,
		 "response_body \"name\": no field \"name\" in synth.Inner", NULL},
		{"option with a varint wire type", x_wrong_wire,
		 "google.api.http option is not a "
		 "message",
		 NULL},
		{"option bytes that are not an HttpRule", x_not_http_rule, "not a valid HttpRule",
		 NULL},
		{"an empty option gives no rule", x_empty_option, NULL, c_no_rules},
		{"option given twice merges, as protobuf does", x_merged, NULL, c_merged},
		{"nested additional_bindings", x_nested_bindings,
		 "additional_bindings[0] has additional_bindings", NULL},
		{"additional binding checked like the rule", x_binding_bad_path,
		 "no field \"missing\"", NULL},
		{"relative type names resolve from the scope", x_relative_type, NULL,
		 c_relative_type},
		{"type omitted: taken from the named type", x_no_type_enum_name, NULL,
		 c_no_type_enum},
		{"missing type names set and field", x_missing_type,
		 "synth.pb: synth.Req.inner: type .synth.Missing not found", NULL},
		{"an enum where a message is expected", x_enum_as_message,
		 "type .synth.Kind is not a message", NULL},
		{"message field without type_name", x_no_type_name, "synth.Req.inner: no type",
		 NULL},
		{"field number 0", x_number_zero, "synth.Req.name: field number 0 out of range",
		 NULL},
		{"field number 2^29", x_number_too_big, "field number 536870912 out of range",
		 NULL},
		{"field number used twice", x_number_twice, "field number 1 used by", NULL},
		{"unknown field type", x_bad_type, "bad field type 19", NULL},
		{"map_entry message without key and value", x_bad_map_entry, "map entry", NULL},
		{"syntax editions is refused", x_editions, "synth.proto: syntax \"editions\"",
		 NULL},
		{"no syntax means proto2", x_proto2, NULL, c_proto2},
		{"file without a name", x_file_no_name, "has no name", NULL},
		{"message without a name", x_message_no_name,
		 "synth.proto: a message in synth has "
		 "no name",
		 NULL},
		{"method input not found", x_input_missing,
		 "synth.Svc.Call: input type .synth.Nope not found", NULL},
		{"method output is an enum", x_output_enum,
		 "output type .synth.Kind is not a "
		 "message",
		 NULL},
		{"enum without values", x_enum_empty, "synth.Kind: enum has no values", NULL},
		{"oneof index out of range", x_oneof_range, "oneof index 1 out of range", NULL},
		{"real oneof member in proto3 has presence", x_oneof_ok, NULL, c_oneof},
		{"method declared twice", x_method_twice, "method declared twice", NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct synth *sy = malloc(sizeof(*sy));
		struct pb_schema *s = NULL;
		char err[512] = "";
		const char *name = "synth.pb";

		synth_init(sy);
		rows[i].setup(sy);
		size_t n = google__protobuf__file_descriptor_set__get_packed_size(&sy->set);
		uint8_t *buf = malloc(n ? n : 1);
		google__protobuf__file_descriptor_set__pack(&sy->set, buf);
		const uint8_t *bufs[1] = {buf};
		int rc = pb_schema_load_buffers(&s, bufs, &n, &name, 1, err, sizeof(err));

		if (rows[i].want == NULL) {
			CHECK(rc == 0 && s != NULL, rows[i].rule, "error: %s", err);
			if (s != NULL && rows[i].check)
				CHECK(rows[i].check(s), rows[i].rule, "loaded wrong");
		} else {
			CHECK(rc == -1 && s == NULL, rows[i].rule, "loaded");
			CHECK(strncmp(err, "synth.pb: ", 10) == 0 && strstr(err, rows[i].want),
			      rows[i].rule, "error \"%s\" lacks \"%s\"", err, rows[i].want);
		}
		pb_schema_free(s);
		free(buf);
		free(sy);
	}

	/* The same set twice is one load; a changed copy of it conflicts. */
	struct synth *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	synth_init(a);
	synth_init(b);
	b->id.type = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES;
	size_t la = google__protobuf__file_descriptor_set__get_packed_size(&a->set);
	size_t lb = google__protobuf__file_descriptor_set__get_packed_size(&b->set);
	uint8_t *ba = malloc(la), *bb = malloc(lb);
	google__protobuf__file_descriptor_set__pack(&a->set, ba);
	google__protobuf__file_descriptor_set__pack(&b->set, bb);
	const uint8_t *same[2] = {ba, ba}, *diff[2] = {ba, bb};
	size_t lsame[2] = {la, la}, ldiff[2] = {la, lb};
	const char *names[2] = {"one.pb", "two.pb"};
	struct pb_schema *s = NULL;
	char err[512] = "";
	CHECK(pb_schema_load_buffers(&s, same, lsame, names, 2, err, sizeof(err)) == 0 &&
		      pb_schema_nservices(s) == 1,
	      "identical file in two sets: loaded once", "%s", err);
	pb_schema_free(s);
	s = NULL;
	CHECK(pb_schema_load_buffers(&s, diff, ldiff, names, 2, err, sizeof(err)) == -1 &&
		      strstr(err, "two.pb: synth.Inner: defined twice, differently (synth.proto in "
				  "one.pb, and synth.proto in two.pb)"),
	      "same file name, different content: conflict named", "%s", err);
	free(ba);
	free(bb);
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	char err[512] = "";
	struct pb_schema *s;

	g_argc = argc;
	g_argv = argv;
	s = load1("schema_test.pb", err, sizeof(err));
	CHECK(s != NULL, "schema_test.proto loads", "%s", err);
	if (s != NULL) {
		test_fields(s);
		test_maps(s);
		test_enums(s);
		test_wkt(s);
		test_http(s);
		test_json_name_computed(s);
		pb_schema_free(s);
	}
	test_agents();
	test_sets();
	test_file_errors();
	test_synth();
	return unit_finish();
}
