/*
 * pb_schema.c - compile FileDescriptorSets into the tables of pb_schema.h.
 *
 * The sets are unpacked with protobuf-c (C generated from descriptor.proto)
 * and compiled in three passes:
 *
 *   1. collect   every file of every set, dropping a file seen before with
 *                the same name and bytes; every message, enum and service
 *                goes into one table sorted by full name, where a name
 *                listed twice is a conflict.
 *   2. compile   messages and enums take their final places, in the same
 *                sorted order, so the schema's arrays double as lookup
 *                indexes; every type_name becomes a pointer found in that
 *                table.
 *   3. services  methods, their input and output, and their google.api.http
 *                rules, read from MethodOptions' unknown fields (protobuf-c
 *                keeps them) and flattened with their additional bindings.
 *
 * What the schema keeps lives in one arena; protobuf-c's unpacked messages
 * and the loader's own tables are freed before pb_schema_load returns.
 * Extensions declared in the sets are not compiled: the JSON mapping of
 * extension fields is not supported.
 */
#include "grpc/pb_schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "descriptor.pb-c.h"
#include "http.pb-c.h"

/* Field number of the google.api.http extension of MethodOptions
 * (google/api/annotations.proto). */
#define HTTP_RULE_EXTENSION 72295728u
/* Largest field number protobuf allows (2^29 - 1). */
#define MAX_FIELD_NUMBER 536870911
/* Messages whose largest field number is at most this get a direct
 * number -> field table (pb_schema.h). */
#define DIRECT_TABLE_MAX 256
/* A set file of this size or more is refused: 64 MiB was protobuf's default
 * total-bytes limit for one message (CodedInputStream), and no real
 * descriptor set comes near it. */
#define MAX_SET_BYTES (64u << 20)
/* Deepest nesting of message declarations accepted: far beyond any real
 * schema, it bounds the loader's recursion on hostile input. */
#define MAX_NESTING 100
/* Arena block size: a few blocks hold a typical schema. */
#define ARENA_BLOCK (64u * 1024)

/*
 * The arena: bump allocation from big blocks, all freed at once.
 *
 *   head -> [next|used|cap| data ...... used ...... cap ] -> [older] -> NULL
 *
 * Blocks come from calloc and nothing is reused, so memory is zeroed.  A
 * request bigger than a quarter block gets a block of its own, linked
 * behind the head so the head's free space stays usable.
 */
struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct arena_block *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	struct arena_block *b = a->head;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	if (n == 0)
		n = align;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
		struct arena_block *nb = calloc(1, sizeof(*nb) + cap);

		if (nb == NULL)
			return NULL;
		nb->cap = cap;
		if (cap == n && b != NULL) {
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		b = nb;
	}
	void *p = (unsigned char *)b->data + b->used;
	b->used += n;
	return p;
}

static void *arena_array(struct arena *a, size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / 2 / size)
		return NULL;
	return arena_alloc(a, count * size);
}

static void arena_free(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b != NULL) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
}

struct pb_schema {
	struct arena arena;          /* everything below lives in it, the schema too */
	struct pb_message *messages; /* sorted by full_name */
	unsigned nmessages;
	struct pb_enum *enums; /* sorted by full_name */
	unsigned nenums;
	struct pb_service *services; /* load order */
	unsigned nservices;
	const struct pb_service **services_by_name;
};

/* ---- the loader's working state ---------------------------------------- */

struct src_file {
	const char *set; /* the set's name, for errors */
	const Google__Protobuf__FileDescriptorProto *fd;
	uint8_t *bytes; /* the file re-serialized, to compare duplicates */
	size_t len;
	unsigned seq; /* position over all sets: load order */
	bool skip;    /* an identical copy was loaded before */
	bool proto3;
};

enum def_kind { DEF_MESSAGE, DEF_ENUM, DEF_SERVICE };

/* One named definition; the loader's table of them is sorted by name. */
struct def {
	const char *name; /* full name, in the arena */
	const void *desc; /* Descriptor-, EnumDescriptor- or ServiceDescriptorProto */
	const struct src_file *file;
	unsigned seq;   /* collection order */
	unsigned index; /* place in the schema's array of its kind */
	uint8_t kind;   /* enum def_kind */
};

struct loader {
	struct pb_schema *s;
	struct arena *arena;
	char *err;
	size_t errlen;
	bool failed;
	Google__Protobuf__FileDescriptorSet **sets;
	unsigned nsets;
	struct src_file *files;
	unsigned nfiles;
	struct def *defs;
	unsigned ndefs, capdefs;
	unsigned nmessages, nenums, nservices;
	const struct def **msg_defs, **enum_defs, **svc_defs; /* by index */
};

__attribute__((format(printf, 2, 3))) static int fail(struct loader *L, const char *fmt, ...)
{
	/* The first error is the one reported: later ones are consequences. */
	if (!L->failed && L->err != NULL && L->errlen > 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(L->err, L->errlen, fmt, ap);
		va_end(ap);
	}
	L->failed = true;
	return -1;
}

static int fail_nomem(struct loader *L)
{
	return fail(L, "out of memory loading descriptor sets");
}

static char *arena_strndup(struct loader *L, const char *s, size_t n)
{
	char *p = arena_alloc(L->arena, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static char *arena_strdup(struct loader *L, const char *s)
{
	return arena_strndup(L, s, strlen(s));
}

/* a + sep + b, or b alone when a is empty (a top-level name in no package). */
static char *arena_join(struct loader *L, const char *a, char sep, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p;

	if (la == 0)
		return arena_strndup(L, b, lb);
	p = arena_alloc(L->arena, la + 1 + lb + 1);
	if (p != NULL) {
		memcpy(p, a, la);
		p[la] = sep;
		memcpy(p + la + 1, b, lb + 1);
	}
	return p;
}

static bool empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

/*
 * Compare a NUL-terminated name with a slice; the order is strcmp's, so
 * tables sorted with strcmp can be searched with a slice.  A slice holding
 * a NUL never equals a name.
 */
static int name_cmp(const char *a, const char *b, size_t blen)
{
	for (size_t i = 0; i < blen; i++) {
		unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];

		if (ca == '\0')
			return -1;
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return a[blen] != '\0' ? 1 : 0;
}

/* Binary search of n items `stride` bytes apart, sorted by the name stored
 * at byte `off` of each item (a const char *). */
static const void *find_item(const void *base, size_t n, size_t stride, size_t off, const char *key,
			     size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *item = (const char *)base + mid * stride;
		const char *name;
		int c;

		memcpy(&name, item + off, sizeof(name));
		c = name_cmp(name, key, len);
		if (c == 0)
			return item;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The same over an array of pointers to items. */
static const void *find_ptr(const void *const *arr, size_t n, size_t off, const char *key,
			    size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *name;
		int c;

		memcpy(&name, (const char *)arr[mid] + off, sizeof(name));
		c = name_cmp(name, key, len);
		if (c == 0)
			return arr[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- pass 1: collect --------------------------------------------------- */

static int cmp_file_name(const void *a, const void *b)
{
	const struct src_file *fa = *(const struct src_file *const *)a;
	const struct src_file *fb = *(const struct src_file *const *)b;
	int c = strcmp(fa->fd->name, fb->fd->name);

	if (c != 0)
		return c;
	return fa->seq < fb->seq ? -1 : fa->seq > fb->seq;
}

/*
 * A file that two sets both include (google/protobuf/timestamp.proto, a
 * shared common.proto) is loaded once: a later copy with the same name and
 * the same bytes is skipped.  A copy that differs is kept, so that the
 * names it defines again are reported as conflicts.
 */
static int dedupe_files(struct loader *L)
{
	const struct src_file **order = malloc(L->nfiles * sizeof(*order));

	if (order == NULL)
		return fail_nomem(L);
	for (unsigned i = 0; i < L->nfiles; i++)
		order[i] = &L->files[i];
	qsort(order, L->nfiles, sizeof(*order), cmp_file_name);
	for (unsigned i = 1; i < L->nfiles; i++) {
		struct src_file *f = &L->files[order[i]->seq];

		/* Compare with every earlier kept copy of the same name. */
		for (unsigned j = i; j-- > 0;) {
			const struct src_file *g = order[j];

			if (strcmp(g->fd->name, f->fd->name) != 0)
				break;
			if (!g->skip && g->len == f->len &&
			    memcmp(g->bytes, f->bytes, f->len) == 0) {
				f->skip = true;
				break;
			}
		}
	}
	free(order);
	return 0;
}

static int unpack_sets(struct loader *L, const uint8_t *const *bufs, const size_t *lens,
		       const char *const *names, unsigned n)
{
	size_t total = 0;

	L->sets = calloc(n, sizeof(*L->sets));
	if (L->sets == NULL)
		return fail_nomem(L);
	L->nsets = n;
	for (unsigned i = 0; i < n; i++) {
		const char *name = names[i];

		if (bufs[i] == NULL && lens[i] != 0)
			return fail(L, "%s: no data", name);
		L->sets[i] = google__protobuf__file_descriptor_set__unpack(NULL, lens[i], bufs[i]);
		if (L->sets[i] == NULL)
			return fail(L, "%s: not a FileDescriptorSet (truncated or corrupt)", name);
		if (L->sets[i]->n_file == 0)
			return fail(L, "%s: the descriptor set holds no files", name);
		total += L->sets[i]->n_file;
	}
	if (total > UINT32_MAX / 2)
		return fail(L, "too many files in the descriptor sets");
	L->files = calloc(total, sizeof(*L->files));
	if (L->files == NULL)
		return fail_nomem(L);
	for (unsigned i = 0; i < n; i++) {
		const Google__Protobuf__FileDescriptorSet *set = L->sets[i];

		for (size_t j = 0; j < set->n_file; j++) {
			const Google__Protobuf__FileDescriptorProto *fd = set->file[j];
			struct src_file *f = &L->files[L->nfiles];

			if (empty(fd->name))
				return fail(L, "%s: file #%zu of the set has no name", names[i], j);
			f->set = names[i];
			f->fd = fd;
			f->seq = L->nfiles++;
			if (empty(fd->syntax) || strcmp(fd->syntax, "proto2") == 0)
				f->proto3 = false;
			else if (strcmp(fd->syntax, "proto3") == 0)
				f->proto3 = true;
			else
				return fail(L, "%s: %s: syntax \"%s\" is not supported", f->set,
					    fd->name, fd->syntax);
			f->len = protobuf_c_message_get_packed_size(&fd->base);
			f->bytes = malloc(f->len ? f->len : 1);
			if (f->bytes == NULL)
				return fail_nomem(L);
			protobuf_c_message_pack(&fd->base, f->bytes);
		}
	}
	return dedupe_files(L);
}

static int add_def(struct loader *L, const struct src_file *f, enum def_kind kind,
		   const char *scope, const char *name, const void *desc, const char **full)
{
	static const char *const kinds[] = {"message", "enum", "service"};
	struct def *d;

	if (empty(name))
		return fail(L, "%s: %s: a %s in %s has no name", f->set, f->fd->name, kinds[kind],
			    empty(scope) ? "the file" : scope);
	if (L->ndefs == L->capdefs) {
		unsigned cap = L->capdefs ? L->capdefs * 2 : 64;
		struct def *nd = realloc(L->defs, cap * sizeof(*nd));

		if (nd == NULL)
			return fail_nomem(L);
		L->defs = nd;
		L->capdefs = cap;
	}
	d = &L->defs[L->ndefs];
	d->name = arena_join(L, scope, '.', name);
	if (d->name == NULL)
		return fail_nomem(L);
	d->desc = desc;
	d->file = f;
	d->seq = L->ndefs++;
	d->kind = (uint8_t)kind;
	d->index = 0;
	if (kind == DEF_SERVICE)
		d->index = L->nservices++; /* services keep load order */
	if (full != NULL)
		*full = d->name;
	return 0;
}

static int collect_message(struct loader *L, const struct src_file *f, const char *scope,
			   const Google__Protobuf__DescriptorProto *m, unsigned depth)
{
	const char *full;

	if (depth > MAX_NESTING)
		return fail(L, "%s: %s: %s: messages nested deeper than %d", f->set, f->fd->name,
			    scope, MAX_NESTING);
	if (add_def(L, f, DEF_MESSAGE, scope, m->name, m, &full) < 0)
		return -1;
	for (size_t i = 0; i < m->n_nested_type; i++)
		if (collect_message(L, f, full, m->nested_type[i], depth + 1) < 0)
			return -1;
	for (size_t i = 0; i < m->n_enum_type; i++)
		if (add_def(L, f, DEF_ENUM, full, m->enum_type[i]->name, m->enum_type[i], NULL) < 0)
			return -1;
	return 0;
}

static int collect_file(struct loader *L, const struct src_file *f)
{
	const Google__Protobuf__FileDescriptorProto *fd = f->fd;
	const char *pkg = fd->package ? fd->package : "";

	for (size_t i = 0; i < fd->n_message_type; i++)
		if (collect_message(L, f, pkg, fd->message_type[i], 0) < 0)
			return -1;
	for (size_t i = 0; i < fd->n_enum_type; i++)
		if (add_def(L, f, DEF_ENUM, pkg, fd->enum_type[i]->name, fd->enum_type[i], NULL) <
		    0)
			return -1;
	for (size_t i = 0; i < fd->n_service; i++)
		if (add_def(L, f, DEF_SERVICE, pkg, fd->service[i]->name, fd->service[i], NULL) < 0)
			return -1;
	return 0;
}

static int cmp_def(const void *a, const void *b)
{
	const struct def *da = a, *db = b;
	int c = strcmp(da->name, db->name);

	if (c != 0)
		return c;
	return da->seq < db->seq ? -1 : da->seq > db->seq;
}

static int collect(struct loader *L)
{
	for (unsigned i = 0; i < L->nfiles; i++)
		if (!L->files[i].skip && collect_file(L, &L->files[i]) < 0)
			return -1;
	if (L->ndefs > 1)
		qsort(L->defs, L->ndefs, sizeof(*L->defs), cmp_def);
	for (unsigned i = 1; i < L->ndefs; i++) {
		const struct def *a = &L->defs[i - 1], *b = &L->defs[i];

		if (strcmp(a->name, b->name) == 0)
			return fail(L,
				    "%s: %s: defined twice, differently (%s in %s, and %s in %s)",
				    b->file->set, b->name, a->file->fd->name, a->file->set,
				    b->file->fd->name, b->file->set);
	}
	L->msg_defs = calloc(L->ndefs + 1, sizeof(*L->msg_defs));
	L->enum_defs = calloc(L->ndefs + 1, sizeof(*L->enum_defs));
	L->svc_defs = calloc(L->ndefs + 1, sizeof(*L->svc_defs));
	if (L->msg_defs == NULL || L->enum_defs == NULL || L->svc_defs == NULL)
		return fail_nomem(L);
	for (unsigned i = 0; i < L->ndefs; i++) {
		struct def *d = &L->defs[i];

		switch (d->kind) {
		case DEF_MESSAGE:
			d->index = L->nmessages++;
			L->msg_defs[d->index] = d;
			break;
		case DEF_ENUM:
			d->index = L->nenums++;
			L->enum_defs[d->index] = d;
			break;
		default: L->svc_defs[d->index] = d; break;
		}
	}
	return 0;
}

static const struct def *find_def(const struct loader *L, const char *name, size_t len)
{
	return find_item(L->defs, L->ndefs, sizeof(*L->defs), offsetof(struct def, name), name,
			 len);
}

/*
 * A type reference: fully qualified (".pkg.Msg", which protoc always
 * writes) or relative to a scope, looked up from the innermost scope
 * outwards as descriptor.proto describes (a simplification of C++'s
 * rules that is enough for hand-made descriptors).
 */
static const struct def *resolve(struct loader *L, const char *scope, const char *ref)
{
	size_t slen = strlen(scope), rlen = strlen(ref);
	const struct def *d = NULL;
	char *buf;

	if (ref[0] == '.')
		return find_def(L, ref + 1, rlen - 1);
	buf = malloc(slen + 1 + rlen + 1);
	if (buf == NULL) {
		fail_nomem(L); /* the caller's "not found" will not overwrite it */
		return NULL;
	}
	for (;;) {
		size_t n = 0;

		if (slen > 0) {
			memcpy(buf, scope, slen);
			buf[slen] = '.';
			n = slen + 1;
		}
		memcpy(buf + n, ref, rlen);
		d = find_def(L, buf, n + rlen);
		if (d != NULL || slen == 0)
			break;
		while (slen > 0 && scope[slen - 1] != '.')
			slen--;
		if (slen > 0)
			slen--;
	}
	free(buf);
	return d;
}

/* ---- pass 2: enums and messages ---------------------------------------- */

static int cmp_enum_name(const void *a, const void *b)
{
	const struct pb_enum_value *va = *(const struct pb_enum_value *const *)a;
	const struct pb_enum_value *vb = *(const struct pb_enum_value *const *)b;

	return strcmp(va->name, vb->name);
}

/* By number, then declaration order: the first declared alias comes first. */
static int cmp_enum_number(const void *a, const void *b)
{
	const struct pb_enum_value *va = *(const struct pb_enum_value *const *)a;
	const struct pb_enum_value *vb = *(const struct pb_enum_value *const *)b;

	if (va->number != vb->number)
		return va->number < vb->number ? -1 : 1;
	return va < vb ? -1 : va > vb;
}

static int compile_enum(struct loader *L, const struct def *def, struct pb_enum *e)
{
	const Google__Protobuf__EnumDescriptorProto *ed = def->desc;
	const char *set = def->file->set;
	struct pb_enum_value *values;
	const struct pb_enum_value **by_name, **by_number;

	e->full_name = def->name;
	if (ed->n_value == 0)
		return fail(L, "%s: %s: enum has no values", set, def->name);
	if (ed->n_value > UINT32_MAX / 2)
		return fail(L, "%s: %s: too many values", set, def->name);
	values = arena_array(L->arena, ed->n_value, sizeof(*values));
	by_name = arena_array(L->arena, ed->n_value, sizeof(*by_name));
	by_number = arena_array(L->arena, ed->n_value, sizeof(*by_number));
	if (values == NULL || by_name == NULL || by_number == NULL)
		return fail_nomem(L);
	for (size_t i = 0; i < ed->n_value; i++) {
		const Google__Protobuf__EnumValueDescriptorProto *vd = ed->value[i];

		if (empty(vd->name))
			return fail(L, "%s: %s: value #%zu has no name", set, def->name, i);
		if (!vd->has_number)
			return fail(L, "%s: %s.%s: value has no number", set, def->name, vd->name);
		values[i].name = arena_strdup(L, vd->name);
		if (values[i].name == NULL)
			return fail_nomem(L);
		values[i].number = vd->number;
		by_name[i] = by_number[i] = &values[i];
	}
	qsort(by_name, ed->n_value, sizeof(*by_name), cmp_enum_name);
	qsort(by_number, ed->n_value, sizeof(*by_number), cmp_enum_number);
	for (size_t i = 1; i < ed->n_value; i++)
		if (strcmp(by_name[i - 1]->name, by_name[i]->name) == 0)
			return fail(L, "%s: %s.%s: value declared twice", set, def->name,
				    by_name[i]->name);
	e->values = values;
	e->nvalues = (unsigned)ed->n_value;
	e->by_name = by_name;
	e->by_number = by_number;
	/* Enums of proto2 files are closed; proto3 (and editions' open) are
	 * not.  Closedness belongs to the enum's file, not the field's. */
	e->closed = !def->file->proto3;
	e->null_value = strcmp(def->name, "google.protobuf.NullValue") == 0;
	return 0;
}

static const struct {
	const char *name;
	enum pb_wkt wkt;
} wkt_names[] = {
	{"google.protobuf.Any", PB_WKT_ANY},
	{"google.protobuf.BoolValue", PB_WKT_BOOL_VALUE},
	{"google.protobuf.BytesValue", PB_WKT_BYTES_VALUE},
	{"google.protobuf.DoubleValue", PB_WKT_DOUBLE_VALUE},
	{"google.protobuf.Duration", PB_WKT_DURATION},
	{"google.protobuf.Empty", PB_WKT_EMPTY},
	{"google.protobuf.FieldMask", PB_WKT_FIELD_MASK},
	{"google.protobuf.FloatValue", PB_WKT_FLOAT_VALUE},
	{"google.protobuf.Int32Value", PB_WKT_INT32_VALUE},
	{"google.protobuf.Int64Value", PB_WKT_INT64_VALUE},
	{"google.protobuf.ListValue", PB_WKT_LIST_VALUE},
	{"google.protobuf.StringValue", PB_WKT_STRING_VALUE},
	{"google.protobuf.Struct", PB_WKT_STRUCT},
	{"google.protobuf.Timestamp", PB_WKT_TIMESTAMP},
	{"google.protobuf.UInt32Value", PB_WKT_UINT32_VALUE},
	{"google.protobuf.UInt64Value", PB_WKT_UINT64_VALUE},
	{"google.protobuf.Value", PB_WKT_VALUE},
};

static enum pb_wkt wkt_of(const char *full_name)
{
	if (strncmp(full_name, "google.protobuf.", 16) != 0)
		return PB_WKT_NONE;
	for (size_t i = 0; i < sizeof(wkt_names) / sizeof(wkt_names[0]); i++)
		if (strcmp(full_name, wkt_names[i].name) == 0)
			return wkt_names[i].wkt;
	return PB_WKT_NONE;
}

/* Wire type of one element of each field type (index: enum pb_type). */
static const uint8_t wire_of_type[19] = {
	[PB_TYPE_DOUBLE] = PB_WIRE_I64,    [PB_TYPE_FLOAT] = PB_WIRE_I32,
	[PB_TYPE_INT64] = PB_WIRE_VARINT,  [PB_TYPE_UINT64] = PB_WIRE_VARINT,
	[PB_TYPE_INT32] = PB_WIRE_VARINT,  [PB_TYPE_FIXED64] = PB_WIRE_I64,
	[PB_TYPE_FIXED32] = PB_WIRE_I32,   [PB_TYPE_BOOL] = PB_WIRE_VARINT,
	[PB_TYPE_STRING] = PB_WIRE_LEN,    [PB_TYPE_GROUP] = PB_WIRE_SGROUP,
	[PB_TYPE_MESSAGE] = PB_WIRE_LEN,   [PB_TYPE_BYTES] = PB_WIRE_LEN,
	[PB_TYPE_UINT32] = PB_WIRE_VARINT, [PB_TYPE_ENUM] = PB_WIRE_VARINT,
	[PB_TYPE_SFIXED32] = PB_WIRE_I32,  [PB_TYPE_SFIXED64] = PB_WIRE_I64,
	[PB_TYPE_SINT32] = PB_WIRE_VARINT, [PB_TYPE_SINT64] = PB_WIRE_VARINT,
};

/* protoc's ToJsonName: drop each '_' and upper-case the letter after it. */
static const char *json_name_of(struct loader *L, const char *name)
{
	size_t n = strlen(name), j = 0;
	char *out = arena_alloc(L->arena, n + 1);
	bool upper = false;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (c == '_') {
			upper = true;
			continue;
		}
		if (upper && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		upper = false;
		out[j++] = c;
	}
	out[j] = '\0';
	return out;
}

/* `,"name":` for a printer's member keys; NULL (not an error) when the
 * name has a byte JSON would escape, or a non-ASCII one. */
static int member_key(struct loader *L, const char *name, const char **key, uint32_t *len)
{
	size_t n = strlen(name);
	char *p;

	*key = NULL;
	*len = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			return 0;
	}
	if (n > UINT32_MAX - 4 || (p = arena_alloc(L->arena, n + 5)) == NULL)
		return -1;
	p[0] = ',';
	p[1] = '"';
	memcpy(p + 2, name, n);
	p[n + 2] = '"';
	p[n + 3] = ':';
	p[n + 4] = '\0';
	*key = p;
	*len = (uint32_t)n + 4;
	return 0;
}

static int cmp_field_number(const void *a, const void *b)
{
	const struct pb_field *fa = a, *fb = b;

	return fa->number < fb->number ? -1 : fa->number > fb->number;
}

static int cmp_field_json(const void *a, const void *b)
{
	const struct pb_field *fa = *(const struct pb_field *const *)a;
	const struct pb_field *fb = *(const struct pb_field *const *)b;

	return strcmp(fa->json_name, fb->json_name);
}

static int cmp_field_name(const void *a, const void *b)
{
	const struct pb_field *fa = *(const struct pb_field *const *)a;
	const struct pb_field *fb = *(const struct pb_field *const *)b;

	return strcmp(fa->name, fb->name);
}

static int compile_field(struct loader *L, const struct def *def,
			 const Google__Protobuf__FieldDescriptorProto *fd, size_t noneofs,
			 struct pb_field *f)
{
	const char *set = def->file->set;
	const char *msg = def->name;
	bool proto3 = def->file->proto3;
	int type;

	if (empty(fd->name))
		return fail(L, "%s: %s: a field has no name", set, msg);
	f->name = arena_strdup(L, fd->name);
	f->json_name = fd->json_name ? arena_strdup(L, fd->json_name) : json_name_of(L, fd->name);
	if (f->name == NULL || f->json_name == NULL ||
	    member_key(L, f->json_name, &f->json_key, &f->json_key_len) < 0 ||
	    member_key(L, f->name, &f->name_key, &f->name_key_len) < 0)
		return fail_nomem(L);
	if (!fd->has_number || fd->number < 1 || fd->number > MAX_FIELD_NUMBER)
		return fail(L, "%s: %s.%s: field number %d out of range", set, msg, fd->name,
			    fd->has_number ? fd->number : 0);
	f->number = (uint32_t)fd->number;
	if (fd->has_label &&
	    (fd->label < GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL ||
	     fd->label > GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED))
		return fail(L, "%s: %s.%s: bad label %d", set, msg, fd->name, (int)fd->label);
	f->repeated = fd->has_label &&
		      fd->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;

	type = fd->has_type ? (int)fd->type : 0;
	if (fd->has_type && (type < PB_TYPE_DOUBLE || type > PB_TYPE_SINT64))
		return fail(L, "%s: %s.%s: bad field type %d", set, msg, fd->name, type);
	if (type == PB_TYPE_MESSAGE || type == PB_TYPE_GROUP || type == PB_TYPE_ENUM || type == 0) {
		const struct def *t;

		if (empty(fd->type_name))
			return fail(L, "%s: %s.%s: no type", set, msg, fd->name);
		t = resolve(L, msg, fd->type_name);
		if (t == NULL)
			return fail(L,
				    "%s: %s.%s: type %s not found (is the set built with protoc "
				    "--include_imports?)",
				    set, msg, fd->name, fd->type_name);
		if (type == 0)
			type = t->kind == DEF_ENUM ? PB_TYPE_ENUM : PB_TYPE_MESSAGE;
		if (t->kind == DEF_ENUM && type == PB_TYPE_ENUM)
			f->enumt = &L->s->enums[t->index];
		else if (t->kind == DEF_MESSAGE && type != PB_TYPE_ENUM)
			f->message = &L->s->messages[t->index];
		else
			return fail(L, "%s: %s.%s: type %s is not %s", set, msg, fd->name,
				    fd->type_name, type == PB_TYPE_ENUM ? "an enum" : "a message");
	}
	f->type = (uint8_t)type;
	f->wire = wire_of_type[type];

	/* Only repeated scalars can be packed: proto3 packs them unless
	 * [packed = false], proto2 only when [packed = true]. */
	if (f->repeated && f->wire != PB_WIRE_LEN && f->wire != PB_WIRE_SGROUP) {
		const Google__Protobuf__FieldOptions *o = fd->options;

		f->packed = o != NULL && o->has_packed ? o->packed : proto3;
	}
	f->map = f->repeated && type == PB_TYPE_MESSAGE && f->message->map_entry;

	f->oneof = -1;
	if (fd->has_oneof_index) {
		if (fd->oneof_index < 0 || (size_t)fd->oneof_index >= noneofs)
			return fail(L, "%s: %s.%s: oneof index %d out of range", set, msg, fd->name,
				    fd->oneof_index);
		if (f->repeated)
			return fail(L, "%s: %s.%s: a repeated field in a oneof", set, msg,
				    fd->name);
		f->oneof = fd->oneof_index;
	}
	f->has_presence = !f->repeated &&
			  (type == PB_TYPE_MESSAGE || type == PB_TYPE_GROUP || f->oneof >= 0 ||
			   !proto3 || (fd->has_proto3_optional && fd->proto3_optional));
	return 0;
}

static int compile_message(struct loader *L, const struct def *def, struct pb_message *m)
{
	const Google__Protobuf__DescriptorProto *d = def->desc;
	const char *set = def->file->set;
	size_t n = d->n_field, no = d->n_oneof_decl;
	struct pb_field *fields;
	struct pb_oneof *oneofs = NULL;
	const struct pb_field **by_json, **by_name, **by_number = NULL;
	unsigned *members = NULL;
	bool *optional = NULL;
	int rc = 0;

	if (n > UINT32_MAX / 2 || no > INT32_MAX)
		return fail(L, "%s: %s: too many fields", set, def->name);
	fields = arena_array(L->arena, n, sizeof(*fields));
	by_json = arena_array(L->arena, n, sizeof(*by_json));
	by_name = arena_array(L->arena, n, sizeof(*by_name));
	if (no > 0) {
		oneofs = arena_array(L->arena, no, sizeof(*oneofs));
		members = calloc(no, sizeof(*members));
		optional = calloc(no, sizeof(*optional));
	}
	if (fields == NULL || by_json == NULL || by_name == NULL ||
	    (no > 0 && (oneofs == NULL || members == NULL || optional == NULL))) {
		rc = fail_nomem(L);
		goto out;
	}
	for (size_t i = 0; i < no; i++) {
		if (empty(d->oneof_decl[i]->name)) {
			rc = fail(L, "%s: %s: oneof #%zu has no name", set, def->name, i);
			goto out;
		}
		oneofs[i].name = arena_strdup(L, d->oneof_decl[i]->name);
		if (oneofs[i].name == NULL) {
			rc = fail_nomem(L);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const Google__Protobuf__FieldDescriptorProto *fd = d->field[i];

		rc = compile_field(L, def, fd, no, &fields[i]);
		if (rc < 0)
			goto out;
		if (fields[i].oneof >= 0) {
			members[fields[i].oneof]++;
			if (fd->has_proto3_optional && fd->proto3_optional)
				optional[fields[i].oneof] = true;
		}
	}
	/* protoc wraps each proto3 `optional` field in a oneof of its own. */
	for (size_t i = 0; i < no; i++)
		oneofs[i].synthetic = members[i] == 1 && optional[i];

	qsort(fields, n, sizeof(*fields), cmp_field_number);
	for (size_t i = 1; i < n; i++) {
		if (fields[i - 1].number == fields[i].number) {
			rc = fail(L, "%s: %s: field number %u used by %s and %s", set, def->name,
				  fields[i].number, fields[i - 1].name, fields[i].name);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		by_json[i] = by_name[i] = &fields[i];
	qsort(by_json, n, sizeof(*by_json), cmp_field_json);
	qsort(by_name, n, sizeof(*by_name), cmp_field_name);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(by_name[i - 1]->name, by_name[i]->name) == 0) {
			rc = fail(L, "%s: %s.%s: field declared twice", set, def->name,
				  by_name[i]->name);
			goto out;
		}
	}
	m->max_number = n > 0 ? fields[n - 1].number : 0;
	if (m->max_number <= DIRECT_TABLE_MAX) {
		by_number = arena_array(L->arena, m->max_number + 1, sizeof(*by_number));
		if (by_number == NULL) {
			rc = fail_nomem(L);
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			by_number[fields[i].number] = &fields[i];
	}
	if (m->map_entry && (n != 2 || fields[0].number != 1 || fields[1].number != 2 ||
			     fields[0].repeated || fields[1].repeated)) {
		rc = fail(L, "%s: %s: a map entry needs fields key = 1 and value = 2", set,
			  def->name);
		goto out;
	}
	m->fields = fields;
	m->nfields = (unsigned)n;
	m->oneofs = oneofs;
	m->noneofs = (unsigned)no;
	m->by_json = by_json;
	m->by_name = by_name;
	m->by_number = by_number;
out:
	free(members);
	free(optional);
	return rc;
}

static int compile_types(struct loader *L)
{
	struct pb_schema *s = L->s;

	s->nmessages = L->nmessages;
	s->nenums = L->nenums;
	s->messages = arena_array(L->arena, L->nmessages + 1, sizeof(*s->messages));
	s->enums = arena_array(L->arena, L->nenums + 1, sizeof(*s->enums));
	if (s->messages == NULL || s->enums == NULL)
		return fail_nomem(L);
	for (unsigned i = 0; i < L->nenums; i++)
		if (compile_enum(L, L->enum_defs[i], &s->enums[i]) < 0)
			return -1;
	/* Headers first: a field needs its type's map_entry flag. */
	for (unsigned i = 0; i < L->nmessages; i++) {
		const struct def *def = L->msg_defs[i];
		const Google__Protobuf__DescriptorProto *d = def->desc;
		struct pb_message *m = &s->messages[i];

		m->full_name = def->name;
		m->map_entry =
			d->options != NULL && d->options->has_map_entry && d->options->map_entry;
		m->proto3 = def->file->proto3;
		m->wkt = (uint8_t)wkt_of(def->name);
	}
	for (unsigned i = 0; i < L->nmessages; i++)
		if (compile_message(L, L->msg_defs[i], &s->messages[i]) < 0)
			return -1;
	return 0;
}

/* ---- pass 3: services and google.api.http ------------------------------ */

/*
 * Check a field path ("agent.id") against message m: every step but the
 * last a singular message field.  A path variable must also end on a
 * singular field (HttpRule: no repeated or map fields in the path).
 */
static int check_field_path(struct loader *L, const char *set, const char *elem, const char *what,
			    const struct pb_message *m, const char *path, size_t len,
			    bool singular_leaf)
{
	const struct pb_message *cur = m;
	size_t i = 0;

	for (;;) {
		size_t j = i;
		const struct pb_field *f;

		while (j < len && path[j] != '.')
			j++;
		f = cur ? pb_field_by_name(cur, path + i, j - i) : NULL;
		if (f == NULL)
			return fail(L,
				    "%s: %s: google.api.http %s \"%.*s\": no field \"%.*s\" in %s",
				    set, elem, what, (int)len, path, (int)(j - i), path + i,
				    cur ? cur->full_name : "a scalar");
		if (j == len) {
			if (singular_leaf && f->repeated)
				return fail(L,
					    "%s: %s: google.api.http %s \"%.*s\": a repeated field "
					    "cannot be a path variable",
					    set, elem, what, (int)len, path);
			return 0;
		}
		if (f->repeated || f->type != PB_TYPE_MESSAGE)
			return fail(L,
				    "%s: %s: google.api.http %s \"%.*s\": %s is not a singular "
				    "message field",
				    set, elem, what, (int)len, path, f->name);
		cur = f->message;
		i = j + 1;
	}
}

/* The variables of a path template ("/v1/{name=agents/x}/runs/{id}:stop")
 * must name fields of the request. */
static int check_template(struct loader *L, const char *set, const char *elem,
			  const struct pb_message *input, const char *path)
{
	if (path[0] != '/')
		return fail(L, "%s: %s: google.api.http path \"%s\" does not start with /", set,
			    elem, path);
	for (const char *p = path; *p != '\0'; p++) {
		const char *end, *name_end;

		if (*p == '}')
			return fail(L, "%s: %s: google.api.http path \"%s\": unbalanced }", set,
				    elem, path);
		if (*p != '{')
			continue;
		end = strchr(p + 1, '}');
		name_end = strpbrk(p + 1, "={}");
		if (end == NULL || name_end == NULL || *name_end == '{' ||
		    memchr(p + 1, '{', (size_t)(end - p - 1)) != NULL)
			return fail(L, "%s: %s: google.api.http path \"%s\": unbalanced {", set,
				    elem, path);
		if (name_end == p + 1)
			return fail(L, "%s: %s: google.api.http path \"%s\": empty variable", set,
				    elem, path);
		if (check_field_path(L, set, elem, "path variable", input, p + 1,
				     (size_t)(name_end - p - 1), true) < 0)
			return -1;
		p = end;
	}
	return 0;
}

static int fill_rule(struct loader *L, const char *set, const char *elem, const struct pb_method *m,
		     const Google__Api__HttpRule *r, struct pb_http_rule *out)
{
	const char *path = NULL, *body = r->body ? r->body : "";
	const char *rbody = r->response_body ? r->response_body : "";

	switch (r->pattern_case) {
	case GOOGLE__API__HTTP_RULE__PATTERN_GET:
		out->verb = PB_HTTP_GET;
		path = r->get;
		break;
	case GOOGLE__API__HTTP_RULE__PATTERN_PUT:
		out->verb = PB_HTTP_PUT;
		path = r->put;
		break;
	case GOOGLE__API__HTTP_RULE__PATTERN_POST:
		out->verb = PB_HTTP_POST;
		path = r->post;
		break;
	case GOOGLE__API__HTTP_RULE__PATTERN_DELETE:
		out->verb = PB_HTTP_DELETE;
		path = r->delete_;
		break;
	case GOOGLE__API__HTTP_RULE__PATTERN_PATCH:
		out->verb = PB_HTTP_PATCH;
		path = r->patch;
		break;
	case GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM:
		out->verb = PB_HTTP_CUSTOM;
		if (r->custom == NULL || empty(r->custom->kind))
			return fail(L, "%s: %s: google.api.http custom pattern without a kind", set,
				    elem);
		path = r->custom->path;
		out->custom_method = arena_strdup(L, r->custom->kind);
		if (out->custom_method == NULL)
			return fail_nomem(L);
		break;
	default:
		return fail(L,
			    "%s: %s: google.api.http rule without a pattern (get, put, post, "
			    "delete, patch or custom)",
			    set, elem);
	}
	if (empty(path))
		return fail(L, "%s: %s: google.api.http rule with an empty path", set, elem);
	if (check_template(L, set, elem, m->input, path) < 0)
		return -1;
	if (body[0] != '\0' && strcmp(body, "*") != 0 &&
	    check_field_path(L, set, elem, "body", m->input, body, strlen(body), false) < 0)
		return -1;
	if (rbody[0] != '\0' && check_field_path(L, set, elem, "response_body", m->output, rbody,
						 strlen(rbody), false) < 0)
		return -1;
	out->path = arena_strdup(L, path);
	out->body = arena_strdup(L, body);
	out->response_body = arena_strdup(L, rbody);
	if (out->path == NULL || out->body == NULL || out->response_body == NULL)
		return fail_nomem(L);
	return 0;
}

/* Length of the varint at p[0..len), 0 when malformed; its value in *v. */
static size_t read_varint(const uint8_t *p, size_t len, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < len && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80))
			return i + 1;
	}
	return 0;
}

/*
 * The google.api.http option of a method.  descriptor.proto does not know
 * the extension, so protobuf-c leaves it among MethodOptions' unknown
 * fields, each stored with its length prefix.  A message field seen more
 * than once merges, which for protobuf is the concatenation of the
 * encodings: the occurrences are joined and unpacked as one HttpRule.
 */
static int method_rules(struct loader *L, const char *set, const char *elem,
			const Google__Protobuf__MethodOptions *opt, struct pb_method *m)
{
	const ProtobufCMessage *base = opt ? &opt->base : NULL;
	Google__Api__HttpRule *rule;
	struct pb_http_rule *rules;
	uint8_t *buf;
	size_t total = 0;
	unsigned nrules;

	if (base == NULL)
		return 0;
	for (unsigned i = 0; i < base->n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u = &base->unknown_fields[i];
		uint64_t n;
		size_t h;

		if (u->tag != HTTP_RULE_EXTENSION)
			continue;
		h = read_varint(u->data, u->len, &n);
		if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED || h == 0 ||
		    n != u->len - h)
			return fail(L, "%s: %s: google.api.http option is not a message", set,
				    elem);
		total += u->len - h;
	}
	if (total == 0) {
		/* No option, or an empty one: no rule either way. */
		return 0;
	}
	buf = malloc(total);
	if (buf == NULL)
		return fail_nomem(L);
	total = 0;
	for (unsigned i = 0; i < base->n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u = &base->unknown_fields[i];
		uint64_t n;
		size_t h;

		if (u->tag != HTTP_RULE_EXTENSION)
			continue;
		h = read_varint(u->data, u->len, &n);
		memcpy(buf + total, u->data + h, u->len - h);
		total += u->len - h;
	}
	rule = google__api__http_rule__unpack(NULL, total, buf);
	free(buf);
	if (rule == NULL)
		return fail(L, "%s: %s: google.api.http option is not a valid HttpRule", set, elem);
	nrules = 1;
	for (size_t i = 0; i < rule->n_additional_bindings; i++) {
		if (rule->additional_bindings[i]->n_additional_bindings > 0) {
			google__api__http_rule__free_unpacked(rule, NULL);
			return fail(L,
				    "%s: %s: google.api.http additional_bindings[%zu] has "
				    "additional_bindings of its own (only one level is allowed)",
				    set, elem, i);
		}
		nrules++;
	}
	rules = arena_array(L->arena, nrules, sizeof(*rules));
	if (rules == NULL) {
		google__api__http_rule__free_unpacked(rule, NULL);
		return fail_nomem(L);
	}
	int rc = fill_rule(L, set, elem, m, rule, &rules[0]);
	for (unsigned i = 1; rc == 0 && i < nrules; i++)
		rc = fill_rule(L, set, elem, m, rule->additional_bindings[i - 1], &rules[i]);
	google__api__http_rule__free_unpacked(rule, NULL);
	if (rc < 0)
		return -1;
	m->rules = rules;
	m->nrules = nrules;
	return 0;
}

static const struct pb_message *method_type(struct loader *L, const struct def *def,
					    const char *elem, const char *what, const char *ref)
{
	const struct def *t;

	if (empty(ref)) {
		fail(L, "%s: %s: no %s type", def->file->set, elem, what);
		return NULL;
	}
	t = resolve(L, def->name, ref);
	if (t == NULL) {
		fail(L,
		     "%s: %s: %s type %s not found (is the set built with protoc "
		     "--include_imports?)",
		     def->file->set, elem, what, ref);
		return NULL;
	}
	if (t->kind != DEF_MESSAGE) {
		fail(L, "%s: %s: %s type %s is not a message", def->file->set, elem, what, ref);
		return NULL;
	}
	return &L->s->messages[t->index];
}

/* "/agents.v1.AgentService/GetAgent": the :path of the gRPC request. */
static const char *grpc_path_of(struct loader *L, const char *service, const char *method)
{
	size_t ls = strlen(service), lm = strlen(method);
	char *p = arena_alloc(L->arena, 1 + ls + 1 + lm + 1);

	if (p != NULL) {
		p[0] = '/';
		memcpy(p + 1, service, ls);
		p[1 + ls] = '/';
		memcpy(p + 2 + ls, method, lm + 1);
	}
	return p;
}

static int compile_service(struct loader *L, const struct def *def, struct pb_service *svc)
{
	const Google__Protobuf__ServiceDescriptorProto *sd = def->desc;
	const char *set = def->file->set;
	struct pb_method *methods;

	if (sd->n_method > UINT32_MAX / 2)
		return fail(L, "%s: %s: too many methods", set, def->name);
	methods = arena_array(L->arena, sd->n_method, sizeof(*methods));
	if (methods == NULL)
		return fail_nomem(L);
	svc->full_name = def->name;
	for (size_t i = 0; i < sd->n_method; i++) {
		const Google__Protobuf__MethodDescriptorProto *md = sd->method[i];
		struct pb_method *m = &methods[i];
		const char *elem;

		if (empty(md->name))
			return fail(L, "%s: %s: method #%zu has no name", set, def->name, i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(sd->method[j]->name, md->name) == 0)
				return fail(L, "%s: %s.%s: method declared twice", set, def->name,
					    md->name);
		elem = arena_join(L, def->name, '.', md->name);
		m->name = arena_strdup(L, md->name);
		m->grpc_path = grpc_path_of(L, def->name, md->name);
		if (elem == NULL || m->name == NULL || m->grpc_path == NULL)
			return fail_nomem(L);
		m->grpc_path_len = strlen(m->grpc_path);
		m->input = method_type(L, def, elem, "input", md->input_type);
		m->output = method_type(L, def, elem, "output", md->output_type);
		if (m->input == NULL || m->output == NULL)
			return -1;
		m->client_streaming = md->has_client_streaming && md->client_streaming;
		m->server_streaming = md->has_server_streaming && md->server_streaming;
		m->service = svc;
		if (method_rules(L, set, elem, md->options, m) < 0)
			return -1;
	}
	svc->methods = methods;
	svc->nmethods = (unsigned)sd->n_method;
	return 0;
}

static int compile_services(struct loader *L)
{
	struct pb_schema *s = L->s;
	unsigned k = 0;

	s->nservices = L->nservices;
	s->services = arena_array(L->arena, L->nservices + 1, sizeof(*s->services));
	s->services_by_name = arena_array(L->arena, L->nservices + 1, sizeof(*s->services_by_name));
	if (s->services == NULL || s->services_by_name == NULL)
		return fail_nomem(L);
	for (unsigned i = 0; i < L->nservices; i++)
		if (compile_service(L, L->svc_defs[i], &s->services[i]) < 0)
			return -1;
	/* The loader's table is sorted by name: its services, in order, are
	 * the by-name index. */
	for (unsigned i = 0; i < L->ndefs; i++)
		if (L->defs[i].kind == DEF_SERVICE)
			s->services_by_name[k++] = &s->services[L->defs[i].index];
	return 0;
}

/* ---- entry points ------------------------------------------------------- */

static void loader_free(struct loader *L)
{
	for (unsigned i = 0; i < L->nfiles; i++)
		free(L->files[i].bytes);
	free(L->files);
	for (unsigned i = 0; i < L->nsets; i++)
		if (L->sets[i] != NULL)
			google__protobuf__file_descriptor_set__free_unpacked(L->sets[i], NULL);
	free(L->sets);
	free(L->defs);
	free(L->msg_defs);
	free(L->enum_defs);
	free(L->svc_defs);
}

int pb_schema_load_buffers(struct pb_schema **out, const uint8_t *const *bufs, const size_t *lens,
			   const char *const *names, unsigned n, char *err, size_t errlen)
{
	struct arena arena = {NULL};
	struct loader L = {.err = err, .errlen = errlen, .arena = &arena};
	const char **setnames = NULL;
	int rc = -1;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (n == 0) {
		fail(&L, "no descriptor sets to load");
		return -1;
	}
	L.s = arena_alloc(&arena, sizeof(*L.s));
	setnames = arena_array(&arena, n, sizeof(*setnames));
	if (L.s == NULL || setnames == NULL) {
		fail_nomem(&L);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "descriptor set #%u", i);
		setnames[i] = arena_strdup(&L, names != NULL && names[i] != NULL ? names[i] : buf);
		if (setnames[i] == NULL) {
			fail_nomem(&L);
			goto out;
		}
	}
	if (unpack_sets(&L, bufs, lens, setnames, n) < 0 || collect(&L) < 0 ||
	    compile_types(&L) < 0 || compile_services(&L) < 0)
		goto out;
	L.s->arena = arena;
	*out = L.s;
	rc = 0;
out:
	loader_free(&L);
	if (rc < 0)
		arena_free(&arena);
	return rc;
}

static int read_set(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;

	*data = NULL;
	*len = 0;
	if (f == NULL)
		goto fail_errno;
	for (;;) {
		size_t got;

		if (n == cap) {
			uint8_t *nb;

			if (cap >= MAX_SET_BYTES) {
				if (err != NULL && errlen > 0)
					snprintf(err, errlen, "%s: %u bytes or more, too large",
						 path, MAX_SET_BYTES);
				goto fail;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				errno = ENOMEM;
				goto fail_errno;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				errno = EIO;
				goto fail_errno;
			}
			break;
		}
	}
	fclose(f);
	*data = buf;
	*len = n;
	return 0;
fail_errno:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
fail:
	if (f != NULL)
		fclose(f);
	free(buf);
	return -1;
}

int pb_schema_load(struct pb_schema **out, const char *const *files, unsigned nfiles, char *err,
		   size_t errlen)
{
	uint8_t **bufs = calloc(nfiles ? nfiles : 1, sizeof(*bufs));
	size_t *lens = calloc(nfiles ? nfiles : 1, sizeof(*lens));
	int rc = -1;

	*out = NULL;
	if (bufs == NULL || lens == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory loading descriptor sets");
		goto out;
	}
	for (unsigned i = 0; i < nfiles; i++)
		if (read_set(files[i], &bufs[i], &lens[i], err, errlen) < 0)
			goto out;
	rc = pb_schema_load_buffers(out, (const uint8_t *const *)bufs, lens, files, nfiles, err,
				    errlen);
out:
	for (unsigned i = 0; bufs != NULL && i < nfiles; i++)
		free(bufs[i]);
	free(bufs);
	free(lens);
	return rc;
}

void pb_schema_free(struct pb_schema *s)
{
	if (s != NULL) {
		/* The schema lives in its own arena: copy the list head out. */
		struct arena a = s->arena;

		arena_free(&a);
	}
}

/* ---- lookups ------------------------------------------------------------ */

static const char *strip_dot(const char *name)
{
	return name[0] == '.' ? name + 1 : name;
}

const struct pb_message *pb_schema_message(const struct pb_schema *s, const char *full_name)
{
	full_name = strip_dot(full_name);
	return find_item(s->messages, s->nmessages, sizeof(*s->messages),
			 offsetof(struct pb_message, full_name), full_name, strlen(full_name));
}

const struct pb_enum *pb_schema_enum(const struct pb_schema *s, const char *full_name)
{
	full_name = strip_dot(full_name);
	return find_item(s->enums, s->nenums, sizeof(*s->enums),
			 offsetof(struct pb_enum, full_name), full_name, strlen(full_name));
}

const struct pb_service *pb_schema_service(const struct pb_schema *s, const char *full_name)
{
	full_name = strip_dot(full_name);
	return find_ptr((const void *const *)s->services_by_name, s->nservices,
			offsetof(struct pb_service, full_name), full_name, strlen(full_name));
}

unsigned pb_schema_nservices(const struct pb_schema *s)
{
	return s->nservices;
}

const struct pb_service *pb_schema_service_at(const struct pb_schema *s, unsigned i)
{
	return i < s->nservices ? &s->services[i] : NULL;
}

const struct pb_field *pb_field_by_number(const struct pb_message *m, uint32_t number)
{
	size_t lo = 0, hi = m->nfields;

	if (m->by_number != NULL)
		return number <= m->max_number ? m->by_number[number] : NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->fields[mid].number == number)
			return &m->fields[mid];
		if (m->fields[mid].number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct pb_field *pb_field_by_json(const struct pb_message *m, const char *name, size_t len)
{
	return find_ptr((const void *const *)m->by_json, m->nfields,
			offsetof(struct pb_field, json_name), name, len);
}

const struct pb_field *pb_field_by_name(const struct pb_message *m, const char *name, size_t len)
{
	return find_ptr((const void *const *)m->by_name, m->nfields,
			offsetof(struct pb_field, name), name, len);
}

const struct pb_enum_value *pb_enum_by_name(const struct pb_enum *e, const char *name, size_t len)
{
	return find_ptr((const void *const *)e->by_name, e->nvalues,
			offsetof(struct pb_enum_value, name), name, len);
}

const struct pb_enum_value *pb_enum_by_number(const struct pb_enum *e, int32_t number)
{
	size_t lo = 0, hi = e->nvalues;

	/* Lower bound: the first declared of several aliases. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->by_number[mid]->number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < e->nvalues && e->by_number[lo]->number == number ? e->by_number[lo] : NULL;
}
