/*
 * pb_json.h - JSON <-> protobuf wire format, streaming, driven by the
 * compiled schema (pb_schema.h), exactly as the proto3 JSON mapping of
 * google.protobuf.json_format.
 *
 * No DOM and no per-field allocation: JSON tokens are turned into wire
 * bytes as they are read, and wire bytes into JSON text as they are read.
 * The only memory is the caller's output buffer (which grows) and a fixed
 * stack of nesting frames.
 */
#ifndef RINGGATE_PB_JSON_H
#define RINGGATE_PB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc/pb_schema.h"

/* Deepest nesting of JSON values / protobuf messages accepted (the same
 * limit as the reference implementations' recursion limit). */
#define PB_JSON_MAX_DEPTH 100

/* A growable output buffer.  data == NULL with cap == 0 is an empty one. */
struct pb_buf {
	uint8_t *data;
	size_t len, cap;
	size_t limit; /* 0: no limit; else growing past it is an error */
};

int pb_buf_reserve(struct pb_buf *b, size_t extra); /* 0 or -ENOMEM / -E2BIG */
void pb_buf_free(struct pb_buf *b);

/*
 * What went wrong, for the HTTP 400 body: the field path in JSON terms
 * ("agent.labels[\"team\"]", "items[3].price") and the problem ("expected
 * a number", "unknown field \"colour\"").  Both NUL-terminated.
 */
struct pb_json_error {
	char path[256];
	char message[256];
	size_t offset; /* byte offset in the input where it was found */
};

/* Empty, without zeroing half a kilobyte per request. */
static inline void pb_json_error_clear(struct pb_json_error *e)
{
	e->path[0] = e->message[0] = '\0';
	e->offset = 0;
}

struct pb_json_parse_opts {
	bool ignore_unknown_fields; /* false: unknown field names are an error */
};

/*
 * Parse the JSON text json[0..len) as message type m and append its wire
 * encoding to out.  Returns 0, or -1 with err filled (bad JSON, wrong
 * type, out of range, unknown field, bad enum name, bad base64, invalid
 * UTF-8, depth over PB_JSON_MAX_DEPTH), or -ENOMEM / -E2BIG (out->limit).
 *
 * Accepts what json_format.Parse accepts: field names in lowerCamelCase
 * or as in the proto; null for "not set"; 64-bit integers as numbers or
 * strings; numbers as strings; "NaN", "Infinity", "-Infinity"; bytes in
 * standard or URL-safe base64, padded or not; enums by name or number;
 * map keys as strings; the well-known types in their JSON forms.
 */
int pb_json_to_proto(const struct pb_message *m, const char *json, size_t len,
		     const struct pb_json_parse_opts *opts, struct pb_buf *out,
		     struct pb_json_error *err);

struct pb_json_print_opts {
	bool emit_defaults;   /* include fields at their default value */
	bool use_proto_names; /* "display_name" instead of "displayName" */
	bool enums_as_ints;   /* 2 instead of "STATUS_READY" */
};

/*
 * Decode the wire bytes data[0..len) of message type m and append JSON
 * text to out, as json_format.MessageToJson does (compact: no spaces).
 * Unknown fields are skipped, and so is a field whose wire type does not
 * match its declaration (protobuf's parsers keep it as unknown).  Returns
 * 0, or -1 with err filled for wire data that does not parse as m
 * (truncated, a bad tag, invalid UTF-8 in a string, nested deeper than
 * protobuf's parser allows, an Any whose type is not in the schema), or a
 * value json_format refuses to print (a Timestamp outside years 1-9999,
 * an invalid Duration, a FieldMask path with no camelCase form), or
 * -ENOMEM / -E2BIG.
 *
 * The `schema` is needed for google.protobuf.Any (its type URL names the
 * packed message); it may be NULL when no Any is involved.
 */
int pb_proto_to_json(const struct pb_schema *schema, const struct pb_message *m,
		     const uint8_t *data, size_t len, const struct pb_json_print_opts *opts,
		     struct pb_buf *out, struct pb_json_error *err);

/* Same for the JSON → protobuf direction when an Any must be parsed. */
int pb_json_to_proto_ex(const struct pb_schema *schema, const struct pb_message *m,
			const char *json, size_t len, const struct pb_json_parse_opts *opts,
			struct pb_buf *out, struct pb_json_error *err);

/*
 * Set one field, found by a dotted path of proto field names from m
 * ("agent.owner.id"), from a text value as it comes in a URL path segment
 * or a query parameter (already percent-decoded), appending the wire
 * bytes to out.  Protobuf parsers merge repeated occurrences of a nested
 * message, so the result can follow a body encoded by pb_json_to_proto.
 * Scalars, enums (name or number), bytes (base64), repeated fields (one
 * element per call), and the wrapper / Timestamp / Duration / FieldMask
 * well-known types are accepted; a path through a repeated or map field,
 * or ending on a message, is an error.  Returns 0 or -1 with err filled.
 */
int pb_set_field_from_text(const struct pb_message *m, const char *path, size_t path_len,
			   const char *value, size_t value_len, struct pb_buf *out,
			   struct pb_json_error *err);

/* Map field: m[key]=value query parameters ("labels[team]=search"). */
int pb_set_map_entry_from_text(const struct pb_message *m, const char *path, size_t path_len,
			       const char *key, size_t key_len, const char *value, size_t value_len,
			       struct pb_buf *out, struct pb_json_error *err);

#endif
