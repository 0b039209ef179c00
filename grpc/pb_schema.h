/*
 * pb_schema.h - protobuf types loaded at run time from FileDescriptorSet
 * files and compiled into tables the transcoder walks.
 *
 * A schema is built once (start-up or reload), never modified, and shared
 * read-only by every worker; all of its memory comes from one arena freed
 * with the schema.  Every cross reference (a field's message type, a
 * method's input) is resolved to a pointer at load time, so the hot path
 * never looks a name up.
 *
 *   pb_schema ─┬─ messages[]  full name -> pb_message ─ fields[] (by number)
 *              ├─ enums[]     full name -> pb_enum    ─ values[]
 *              └─ services[]  full name -> pb_service ─ methods[] ─ http rules[]
 */
#ifndef RINGGATE_PB_SCHEMA_H
#define RINGGATE_PB_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field types: the numbers of FieldDescriptorProto.Type. */
enum pb_type {
	PB_TYPE_DOUBLE = 1,
	PB_TYPE_FLOAT = 2,
	PB_TYPE_INT64 = 3,
	PB_TYPE_UINT64 = 4,
	PB_TYPE_INT32 = 5,
	PB_TYPE_FIXED64 = 6,
	PB_TYPE_FIXED32 = 7,
	PB_TYPE_BOOL = 8,
	PB_TYPE_STRING = 9,
	PB_TYPE_GROUP = 10, /* proto2 groups: loaded, rejected by the transcoder */
	PB_TYPE_MESSAGE = 11,
	PB_TYPE_BYTES = 12,
	PB_TYPE_UINT32 = 13,
	PB_TYPE_ENUM = 14,
	PB_TYPE_SFIXED32 = 15,
	PB_TYPE_SFIXED64 = 16,
	PB_TYPE_SINT32 = 17,
	PB_TYPE_SINT64 = 18,
};

/* Wire types (protobuf encoding). */
enum pb_wire {
	PB_WIRE_VARINT = 0,
	PB_WIRE_I64 = 1,
	PB_WIRE_LEN = 2,
	PB_WIRE_SGROUP = 3,
	PB_WIRE_EGROUP = 4,
	PB_WIRE_I32 = 5,
};

/* Messages the proto3 JSON mapping treats specially. */
enum pb_wkt {
	PB_WKT_NONE = 0,
	PB_WKT_ANY,
	PB_WKT_TIMESTAMP,
	PB_WKT_DURATION,
	PB_WKT_FIELD_MASK,
	PB_WKT_STRUCT,
	PB_WKT_VALUE,
	PB_WKT_LIST_VALUE,
	PB_WKT_EMPTY,
	PB_WKT_DOUBLE_VALUE,
	PB_WKT_FLOAT_VALUE,
	PB_WKT_INT64_VALUE,
	PB_WKT_UINT64_VALUE,
	PB_WKT_INT32_VALUE,
	PB_WKT_UINT32_VALUE,
	PB_WKT_BOOL_VALUE,
	PB_WKT_STRING_VALUE,
	PB_WKT_BYTES_VALUE,
};

struct pb_message;
struct pb_enum;

struct pb_enum_value {
	const char *name;
	int32_t number;
};

struct pb_enum {
	const char *full_name;              /* "agents.v1.Status" (no leading dot) */
	const struct pb_enum_value *values; /* declaration order */
	unsigned nvalues;
	/* Sorted views for lookups (binary search). */
	const struct pb_enum_value *const *by_name;
	const struct pb_enum_value *const *by_number; /* first declared wins for aliases */
	bool closed;     /* proto2 enum: unknown numbers are not valid values */
	bool null_value; /* google.protobuf.NullValue */
};

struct pb_field {
	const char *name;      /* proto name, "display_name" */
	const char *json_name; /* "displayName", or the json_name option */
	uint32_t number;
	uint8_t type; /* enum pb_type */
	uint8_t wire; /* enum pb_wire of one element (LEN for packed is implied) */
	bool repeated;
	bool packed; /* repeated scalar sent packed (proto3 default, or [packed=true]) */
	bool map;    /* repeated map-entry message: a JSON object */
	/* Presence: message fields, oneof members, proto3 `optional`, and
	 * proto2 optional fields report whether they were set; plain proto3
	 * scalars do not (default values are not emitted). */
	bool has_presence;
	int32_t oneof;                    /* index into message->oneofs, -1 if none */
	const struct pb_message *message; /* MESSAGE / GROUP (map entries too) */
	const struct pb_enum *enumt;      /* ENUM */
	/* The JSON member key as a printer writes it after another member,
	 * `,"displayName":` (skip the ',' for the first member), for the
	 * json_name and the proto name; NULL when the name needs escaping or
	 * is not ASCII (the printer then escapes it itself). */
	const char *json_key, *name_key;
	uint32_t json_key_len, name_key_len;
};

struct pb_oneof {
	const char *name;
	bool synthetic; /* the one-member oneof protoc makes for proto3 `optional` */
};

struct pb_message {
	const char *full_name;         /* "agents.v1.Agent" */
	const struct pb_field *fields; /* sorted by number */
	unsigned nfields;
	const struct pb_oneof *oneofs;
	unsigned noneofs;
	/* Lookups: by_json sorted by json_name, by_name by proto name
	 * (binary search); by_number is a direct table when the largest
	 * number is small (<= 256), else NULL and fields is searched. */
	const struct pb_field *const *by_json;
	const struct pb_field *const *by_name;
	const struct pb_field *const *by_number;
	uint32_t max_number;
	bool map_entry; /* fields are key (1) and value (2) */
	bool proto3;
	uint8_t wkt; /* enum pb_wkt */
};

/*
 * google.api.http rules, flattened: the rule and each of its
 * additional_bindings become one pb_http_rule.
 */
enum pb_http_verb {
	PB_HTTP_GET,
	PB_HTTP_PUT,
	PB_HTTP_POST,
	PB_HTTP_DELETE,
	PB_HTTP_PATCH,
	PB_HTTP_CUSTOM, /* custom.kind holds the method name */
};

struct pb_http_rule {
	uint8_t verb;              /* enum pb_http_verb */
	const char *custom_method; /* PB_HTTP_CUSTOM only */
	const char *path;          /* the template, "/v1/{agent_id}:execute" */
	const char *body;          /* "" none, "*" whole message, or a field path */
	const char *response_body; /* "" whole message, or a field path */
};

struct pb_method {
	const char *name;      /* "GetAgent" */
	const char *grpc_path; /* "/agents.v1.AgentService/GetAgent" */
	size_t grpc_path_len;
	const struct pb_message *input, *output;
	bool client_streaming, server_streaming;
	const struct pb_http_rule *rules;
	unsigned nrules;
	const struct pb_service *service;
};

struct pb_service {
	const char *full_name; /* "agents.v1.AgentService" */
	const struct pb_method *methods;
	unsigned nmethods;
};

struct pb_schema;

/*
 * Load FileDescriptorSet files (protoc --include_imports
 * --descriptor_set_out).  Types may be split across files and sets; a
 * name defined twice with different content, a reference to a type no
 * file defines, a malformed set or a bad google.api.http option is an
 * error.  The well-known types are recognised by full name when a set
 * includes them; a set that uses one without including it is an error
 * like any other missing type (protoc's --include_imports adds them).
 *
 * Returns 0, or -1 with a message in err naming the file and the element
 * ("agents.pb: agents.v1.Agent.owner: type .agents.v1.User not found").
 */
int pb_schema_load(struct pb_schema **out, const char *const *files, unsigned nfiles, char *err,
		   size_t errlen);
/* Same, from in-memory serialized FileDescriptorSets (tests, reflection). */
int pb_schema_load_buffers(struct pb_schema **out, const uint8_t *const *bufs, const size_t *lens,
			   const char *const *names, unsigned n, char *err, size_t errlen);
void pb_schema_free(struct pb_schema *s);

/* Lookups by full name, without a leading dot; NULL when absent. */
const struct pb_message *pb_schema_message(const struct pb_schema *s, const char *full_name);
const struct pb_enum *pb_schema_enum(const struct pb_schema *s, const char *full_name);
const struct pb_service *pb_schema_service(const struct pb_schema *s, const char *full_name);

/* Every service, in load order. */
unsigned pb_schema_nservices(const struct pb_schema *s);
const struct pb_service *pb_schema_service_at(const struct pb_schema *s, unsigned i);

/* Field lookups (binary search / direct table). */
const struct pb_field *pb_field_by_number(const struct pb_message *m, uint32_t number);
const struct pb_field *pb_field_by_json(const struct pb_message *m, const char *name, size_t len);
const struct pb_field *pb_field_by_name(const struct pb_message *m, const char *name, size_t len);
const struct pb_enum_value *pb_enum_by_name(const struct pb_enum *e, const char *name, size_t len);
const struct pb_enum_value *pb_enum_by_number(const struct pb_enum *e, int32_t number);

#endif
