/*
 * pb_json_print.c - protobuf wire bytes -> JSON text, as
 * json_format.MessageToJson prints the message those bytes parse to.
 *
 * Two printers, tried in turn (see "the one-pass printer" below):
 *
 *   one-pass   canonical input only (what protobuf libraries write): each
 *              tag read once, JSON written as it goes; gives up, leaving
 *              nothing behind, at anything else, including every error.
 *   frames     everything, and the definition of the output and of the
 *              error messages: what follows.
 *
 * The frame printer walks the wire bytes of each message with an explicit
 * stack of frames (one per message, Struct or ListValue being printed),
 * writing JSON as it goes; nothing is decoded into a tree.
 *
 * The wire format lets a message arrive in any order: fields out of number
 * order, the elements of a repeated field interleaved with other fields, a
 * singular field sent twice (the last value wins, or for a message the two
 * are merged), two members of a oneof (the last wins).  JSON needs each
 * field once.  So each message is first scanned tag by tag (payloads are
 * skipped, not read):
 *
 *   - canonical (the case for anything a protobuf library serialised):
 *     field numbers never go down, a singular message field and a oneof
 *     appear at most once.  The message is printed in one pass over the
 *     wire bytes, a run of one field's occurrences becoming one JSON value.
 *
 *   - otherwise the scan records every occurrence {field, order, value} on
 *     the scratch stack, sorts them by field, and prints from that list;
 *     a merged message is printed from the list of its pieces ("segments"),
 *     which is all a message value ever is to this printer.
 *
 *   message frame:  segs[] --scan--> canonical? --yes--> print in wire order
 *                                               --no---> occ[] sorted by field
 *
 * Unknown fields are skipped; a field whose wire type does not match its
 * declaration is unknown too, as protobuf's parsers treat it.
 */
#include "grpc/pb_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/pb_json_text.h"
#include "grpc/pb_wire.h"

/* Frames: one per message, Struct or ListValue printed, each a level
 * deeper than its parent, so the nesting limit bounds them; only a chain
 * of Any payloads (whose levels start again at 0) can run out.  The
 * context lives on the caller's stack (about 40 KB). */
#define PP_MAX_FRAMES  (PB_JSON_MAX_DEPTH + 8)
#define SCRATCH_INLINE 4096

struct seg {
	const uint8_t *p, *end;
};

/* One occurrence of a known field (slow path). */
struct occ {
	uint32_t fidx;
	uint32_t seq;
	const uint8_t *val; /* the value, or a LEN payload */
	const uint8_t *end;
	uint32_t wire;
};

/* Who won each oneof (slow path): the member set last, and the position
 * of the last occurrence of another member (a message member merges only
 * the occurrences after it). */
struct oneof_win {
	uint32_t fidx; /* UINT32_MAX: none */
	uint32_t clear_seq;
};

/* One occurrence of a field as read_field gives it. */
struct field_at {
	const struct pb_field *f;
	const uint8_t *tag; /* where its tag starts */
	const uint8_t *val, *vend, *next;
	unsigned wire;
};

/* The occurrences of one field, as a JSON value will show them. */
struct group {
	const struct pb_field *f;
	uint32_t fidx;
	const uint8_t *p, *end; /* fast: tags from the first occurrence to the run's end */
	struct field_at first;  /* fast: the first occurrence, already read */
	bool single;            /* fast: ...and the only one of the run */
	uint32_t oi, oj;        /* slow: occurrences [oi, oj) */
	uint32_t min_seq;       /* slow: occurrences before this are cleared */
};

struct elem_it {
	const struct pb_field *f;
	bool slow;
	bool single; /* fast: one occurrence, *first, not yet given */
	const uint8_t *p, *end;
	const struct field_at *first;
	uint32_t oi, oj, min_seq;
	size_t occ_off;            /* slow: the occurrences (scratch may move: an offset) */
	const uint8_t *pk, *pkend; /* inside a packed chunk */
};

enum pkind { P_MSG, P_STRUCT, P_LIST, P_CLOSE };
enum pstate { S_START, S_FIELDS, S_RMSG, S_MAP };

/*
 * A message being printed.  Fields up to `g` start zeroed; the rest is
 * set before use.
 */
struct pframe {
	uint8_t kind;  /* enum pkind */
	uint8_t state; /* enum pstate */
	bool first;    /* no member printed yet */
	bool slow;
	bool dedup;     /* S_MAP: some keys repeat; print only the last entry of each */
	bool have_next; /* fast: `next` holds the field after the current run */
	uint32_t nsegs;
	uint32_t level;     /* wire nesting of this message (0: top, or an Any's payload) */
	uint32_t next_fidx; /* emit_defaults: first schema field not yet handled */
	uint32_t index;     /* element of the group in progress */
	uint32_t nprinted;
	const struct pb_field *gf; /* the field in progress (error paths) */
	const struct pb_message *m;
	struct seg one;     /* the input when it is one segment */
	size_t segs_off;    /* else segments on the scratch stack */
	const uint8_t *cur; /* fast: next tag */
	size_t occ_off, win_off;
	uint32_t nocc, oi;
	size_t keep;     /* scratch top after this frame's own tables */
	size_t map_keep; /* scratch top during S_MAP */
	size_t keepbits; /* S_MAP dedup: one bit per entry */
	size_t mark;
	struct field_at next;
	struct group g;
	struct elem_it it;
};

struct pp {
	struct pb_buf *out;
	const struct pb_schema *schema;
	struct pb_json_print_opts opts;
	struct pb_json_error *err;
	unsigned nframes;
	int alloc_rc; /* -ENOMEM / -E2BIG once an allocation failed */
	struct pbj_scratch sc;
	struct pframe frames[PP_MAX_FRAMES];
	uint8_t sc_inline[SCRATCH_INLINE];
};

/* begin_msg's results besides errors. */
#define DONE   0
#define PUSHED 1

/* ---- errors -------------------------------------------------------------------- */

static void build_path(struct pp *pp, char *path)
{
	size_t n = 0;

	path[0] = '\0';
	for (unsigned i = 0; i < pp->nframes; i++) {
		const struct pframe *f = &pp->frames[i];
		char num[16];

		if (f->kind == P_CLOSE || f->gf == NULL)
			continue;
		if (f->kind == P_MSG) {
			const char *name =
				pp->opts.use_proto_names ? f->gf->name : f->gf->json_name;

			if (n > 0)
				pbj_path_add(path, &n, ".", 1);
			pbj_path_add(path, &n, name, strlen(name));
		}
		if (f->state == S_RMSG || f->state == S_MAP)
			pbj_path_add(path, &n, num,
				     (size_t)snprintf(num, sizeof(num), "[%u]",
						      f->index > 0 ? f->index - 1 : 0));
	}
}

__attribute__((format(printf, 2, 3))) static int fail(struct pp *pp, const char *fmt, ...)
{
	va_list ap;

	if (pp->err != NULL) {
		build_path(pp, pp->err->path);
		va_start(ap, fmt);
		vsnprintf(pp->err->message, sizeof(pp->err->message), fmt, ap);
		va_end(ap);
		pp->err->offset = 0;
	}
	return -1;
}

static int oom(struct pp *pp, int rc)
{
	pp->alloc_rc = rc;
	if (pp->err != NULL) {
		build_path(pp, pp->err->path);
		snprintf(pp->err->message, sizeof(pp->err->message), "%s",
			 rc == -E2BIG ? "output too large" : "out of memory");
	}
	return rc;
}

static int malformed(struct pp *pp)
{
	return fail(pp, "malformed protobuf data (truncated, or a bad tag or length)");
}

/* ---- output ---------------------------------------------------------------------- */

static inline int put(struct pp *pp, const char *s, size_t n)
{
	int rc = pb_buf_ensure(pp->out, n);

	if (rc < 0)
		return oom(pp, rc);
	memcpy(pp->out->data + pp->out->len, s, n);
	pp->out->len += n;
	return 0;
}

static inline int putc1(struct pp *pp, char c)
{
	int rc = pb_buf_ensure(pp->out, 1);

	if (rc < 0)
		return oom(pp, rc);
	pp->out->data[pp->out->len++] = (uint8_t)c;
	return 0;
}

static int put_str_escaped(struct pp *pp, const uint8_t *p, size_t n)
{
	int rc = pbj_put_string(pp->out, p, n);

	if (rc == -1)
		return fail(pp, "invalid UTF-8 in a string");
	return rc < 0 ? oom(pp, rc) : 0;
}

static inline int put_str(struct pp *pp, const uint8_t *p, size_t n)
{
	if (n <= 32 && pbj_plain_short(p, n)) {
		/* Nothing to escape or check: quotes around a copy. */
		int rc = pb_buf_ensure(pp->out, n + 2);
		uint8_t *o;

		if (rc < 0)
			return oom(pp, rc);
		o = pp->out->data + pp->out->len;
		o[0] = '"';
		pbj_copy(o + 1, p, n);
		o[n + 1] = '"';
		pp->out->len += n + 2;
		return 0;
	}
	return put_str_escaped(pp, p, n);
}

/* ---- wire reading ------------------------------------------------------------------ */

static inline const uint8_t *read_field(const uint8_t *p, const uint8_t *end, uint32_t *num,
					unsigned *wire, const uint8_t **val, const uint8_t **vend);

/* A tag: a varint of at most 5 bytes, of which protobuf keeps the low 32
 * bits. */
static inline const uint8_t *get_tag(const uint8_t *p, const uint8_t *end, uint32_t *tag)
{
	uint32_t v = 0;

	/* Fields 1 to 15, the usual case, have one-byte tags. */
	if (p < end && *p < 0x80) {
		*tag = *p;
		return p + 1;
	}
	for (unsigned i = 0; i < 5; i++) {
		if (p >= end)
			return NULL;
		v |= (uint32_t)(*p & 0x7f) << (7 * i);
		if (*p++ < 0x80) {
			*tag = v;
			return p;
		}
	}
	return NULL;
}

/*
 * Where a message parsed on its own (the top level, an Any's payload)
 * ends: protobuf's parser stops without error at a zero tag or an end-group
 * tag there, ignoring what follows.
 */
static const uint8_t *top_level_end(const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		const uint8_t *q = p, *a, *b;
		uint32_t tag, num;
		unsigned wire;

		if (get_tag(p, end, &tag) == NULL)
			return end;
		if (tag == 0 || (tag & 7) == PB_WIRE_EGROUP)
			return q;
		p = read_field(q, end, &num, &wire, &a, &b);
		if (p == NULL)
			return end;
	}
	return end;
}

/*
 * One field at p: its number, wire type and value ([val, vend): the bytes
 * of a varint or fixed value, a LEN payload, or a group with its end tag).
 * Returns the position after it, or NULL when malformed.
 */
static inline __attribute__((always_inline)) const uint8_t *
read_field(const uint8_t *p, const uint8_t *end, uint32_t *num, unsigned *wire, const uint8_t **val,
	   const uint8_t **vend)
{
	uint64_t len;
	uint32_t tag;

	p = get_tag(p, end, &tag);
	if (p == NULL)
		return NULL;
	*num = tag >> 3;
	*wire = (unsigned)(tag & 7);
	if (*num == 0)
		return NULL;
	/* LEN and VARINT, the usual wire types, before the jump table. */
	if (*wire == PB_WIRE_LEN) {
		p = pb_get_varint(p, end, &len);
		if (p == NULL || len > (uint64_t)(end - p))
			return NULL;
		*val = p;
		*vend = p + len;
		return p + len;
	}
	switch (*wire) {
	case PB_WIRE_VARINT:
		*val = p;
		p = pb_get_varint(p, end, &len);
		break;
	case PB_WIRE_I64:
		*val = p;
		p = end - p >= 8 ? p + 8 : NULL;
		break;
	case PB_WIRE_I32:
		*val = p;
		p = end - p >= 4 ? p + 4 : NULL;
		break;
	case PB_WIRE_LEN:
		p = pb_get_varint(p, end, &len);
		if (p == NULL || len > (uint64_t)(end - p))
			return NULL;
		*val = p;
		p += len;
		break;
	case PB_WIRE_SGROUP:
		*val = p;
		p = pb_skip_value(p, end, PB_WIRE_SGROUP, *num, PB_JSON_MAX_DEPTH);
		break;
	default: return NULL;
	}
	*vend = p;
	return p;
}

/* Does wire type `wire` carry field f?  Repeated scalars come packed or not. */
static inline bool wire_ok(const struct pb_field *f, unsigned wire)
{
	return wire == f->wire ||
	       (f->repeated && wire == PB_WIRE_LEN && pb_type_is_packable(f->type));
}

static inline const struct pb_field *field_of(const struct pb_message *m, uint32_t num)
{
	if (m->by_number != NULL)
		return num <= m->max_number ? m->by_number[num] : NULL;
	return pb_field_by_number(m, num);
}

/* A known field carried with a wire type it accepts, else NULL. */
static inline const struct pb_field *known(const struct pb_message *m, uint32_t num, unsigned wire)
{
	const struct pb_field *f = field_of(m, num);

	return f != NULL && wire_ok(f, wire) ? f : NULL;
}

static inline uint64_t varint_at(const uint8_t *p)
{
	uint64_t v = 0;

	/* Validated already: at most 10 bytes, terminated. */
	pb_get_varint(p, p + PB_VARINT_MAX, &v);
	return v;
}

/* The 64 bits of a scalar value (varint, or little-endian fixed). */
static inline uint64_t raw_value(unsigned wire, const uint8_t *val)
{
	if (wire == PB_WIRE_VARINT)
		return varint_at(val);
	if (wire == PB_WIRE_I64)
		return pb_get_le64(val);
	return pb_get_le32(val);
}

/* A proto2 (closed) enum drops values it does not declare: the parser
 * keeps them as unknown fields. */
static inline bool enum_value_ok(const struct pb_field *f, uint64_t raw)
{
	return f->type != PB_TYPE_ENUM || !f->enumt->closed ||
	       pb_enum_by_number(f->enumt, (int32_t)raw) != NULL;
}

/* Iterate the fields of a message given as segments. */
struct tagit {
	const struct seg *segs;
	uint32_t nsegs, si;
	const uint8_t *p;
};

static void tagit_init(struct tagit *it, const struct seg *segs, uint32_t nsegs)
{
	it->segs = segs;
	it->nsegs = nsegs;
	it->si = 0;
	it->p = nsegs > 0 ? segs[0].p : NULL;
}

/* 1 with a field, 0 at the end, -1 when malformed. */
static int tagit_next(struct tagit *it, uint32_t *num, unsigned *wire, const uint8_t **val,
		      const uint8_t **vend)
{
	while (it->si < it->nsegs) {
		const uint8_t *end = it->segs[it->si].end;

		if (it->p < end) {
			it->p = read_field(it->p, end, num, wire, val, vend);
			return it->p == NULL ? -1 : 1;
		}
		if (++it->si < it->nsegs)
			it->p = it->segs[it->si].p;
	}
	return 0;
}

/* ---- scratch --------------------------------------------------------------------------- */

static int salloc(struct pp *pp, size_t n, size_t *off)
{
	int rc = pbj_scratch_alloc(&pp->sc, n, off);

	return rc < 0 ? oom(pp, rc) : 0;
}

/*
 * Segments handed over on the scratch stack move when it grows: a callee
 * that allocates keeps them by offset and looks them up again.
 */
struct segsref {
	const struct seg *p;
	size_t off;
	bool on_stack;
};

static struct segsref segs_ref(const struct pp *pp, const struct seg *segs)
{
	const uint8_t *b = pp->sc.base, *q = (const uint8_t *)segs;
	struct segsref r = {segs, 0, q >= b && q < b + pp->sc.cap};

	if (r.on_stack)
		r.off = (size_t)(q - b);
	return r;
}

static const struct seg *segs_get(const struct pp *pp, const struct segsref *r)
{
	return r->on_stack ? (const struct seg *)pbj_at(&pp->sc, r->off) : r->p;
}

/* A list of segments growing at the top of the scratch stack. */
struct seglist {
	size_t off;
	uint32_t n, cap;
};

static int seglist_add(struct pp *pp, struct seglist *sl, const uint8_t *p, const uint8_t *end)
{
	if (sl->n == sl->cap) {
		uint32_t more = sl->cap ? sl->cap : 4;
		size_t off;

		/* The list is the top allocation: growing it extends it. */
		if (sl->cap != 0 && sl->off + (size_t)sl->cap * sizeof(struct seg) != pp->sc.top)
			return fail(pp, "internal: segment list not at the top");
		if (salloc(pp, (size_t)more * sizeof(struct seg), &off) < 0)
			return -1;
		if (sl->cap == 0)
			sl->off = off;
		sl->cap += more;
	}
	struct seg *s = (struct seg *)pbj_at(&pp->sc, sl->off) + sl->n++;

	s->p = p;
	s->end = end;
	return 0;
}

/* ---- scalars ---------------------------------------------------------------------------- */

static int put_double(struct pp *pp, double d, bool is_float)
{
	char *o;
	int rc;

	if (isnan(d))
		return put(pp, "\"NaN\"", 5);
	if (isinf(d))
		return d > 0 ? put(pp, "\"Infinity\"", 10) : put(pp, "\"-Infinity\"", 11);
	if ((rc = pb_buf_ensure(pp->out, PBJ_NUM_MAX)) < 0)
		return oom(pp, rc);
	o = (char *)pp->out->data + pp->out->len;
	pp->out->len += is_float ? pbj_fmt_float(o, (float)d) : pbj_fmt_double(o, d);
	return 0;
}

/* Integers are formatted in place: room for the longest, then no copy.
 * `bits` is an int64_t's two's complement when is_signed. */
static int put_integer(struct pp *pp, uint64_t bits, bool is_signed, bool quoted)
{
	int rc = pb_buf_ensure(pp->out, 24);
	char *o;

	if (rc < 0)
		return oom(pp, rc);
	o = (char *)pp->out->data + pp->out->len;
	o[0] = '"';
	o += quoted;
	o += is_signed ? pbj_fmt_i64(o, (int64_t)bits) : pbj_fmt_u64(o, bits);
	o[0] = '"';
	o += quoted;
	pp->out->len = (size_t)((uint8_t *)o - pp->out->data);
	return 0;
}

/* The signed or unsigned integer a field type holds in raw wire bits. */
static bool int_value(unsigned type, uint64_t raw, int64_t *sv, uint64_t *uv)
{
	switch (type) {
	case PB_TYPE_INT32:
	case PB_TYPE_SFIXED32:
	case PB_TYPE_ENUM: *sv = (int32_t)(uint32_t)raw; return true;
	case PB_TYPE_SINT32:
		*sv = (int32_t)(((uint32_t)raw >> 1) ^ (0u - ((uint32_t)raw & 1)));
		return true;
	case PB_TYPE_INT64:
	case PB_TYPE_SFIXED64: *sv = (int64_t)raw; return true;
	case PB_TYPE_SINT64: *sv = pb_zigzag_dec(raw); return true;
	case PB_TYPE_UINT32:
	case PB_TYPE_FIXED32: *uv = (uint32_t)raw; return false;
	default: *uv = raw; return false;
	}
}

/*
 * pb_enum_by_number, first trying the value's number as an index: most
 * enums number their values 0, 1, 2, ...  It is the lower bound (the first
 * declared alias) when the value below it has a smaller number.
 */
static inline const struct pb_enum_value *enum_value(const struct pb_enum *e, int32_t number)
{
	uint32_t i = (uint32_t)number;

	if (i < e->nvalues && e->by_number[i]->number == number &&
	    (i == 0 || e->by_number[i - 1]->number < number))
		return e->by_number[i];
	return pb_enum_by_number(e, number);
}

/* A scalar other than a string or bytes, from the raw bits of its value. */
static int put_number(struct pp *pp, const struct pb_field *f, uint64_t raw, bool as_key)
{
	uint64_t uv;
	int64_t sv;

	switch (f->type) {
	case PB_TYPE_DOUBLE: return put_double(pp, pb_bits_double(raw), false);
	case PB_TYPE_FLOAT: return put_double(pp, pb_bits_float((uint32_t)raw), true);
	case PB_TYPE_BOOL:
		if (as_key)
			return raw ? put(pp, "\"true\"", 6) : put(pp, "\"false\"", 7);
		return raw ? put(pp, "true", 4) : put(pp, "false", 5);
	case PB_TYPE_ENUM:
		if (!pp->opts.enums_as_ints) {
			const struct pb_enum_value *ev;

			if (f->enumt->null_value)
				return put(pp, "null", 4);
			ev = enum_value(f->enumt, (int32_t)raw);
			if (ev != NULL)
				return put_str(pp, (const uint8_t *)ev->name, strlen(ev->name));
		}
		return put_integer(pp, (uint64_t)(int64_t)(int32_t)raw, true, false);
	default: break;
	}
	if (int_value(f->type, raw, &sv, &uv)) {
		bool wide = f->type == PB_TYPE_INT64 || f->type == PB_TYPE_SINT64 ||
			    f->type == PB_TYPE_SFIXED64;

		return put_integer(pp, (uint64_t)sv, true, wide || as_key);
	}
	return put_integer(pp, uv, false,
			   f->type == PB_TYPE_UINT64 || f->type == PB_TYPE_FIXED64 || as_key);
}

/*
 * One scalar value of field f ([val, vend) as read_field gives it; for
 * packed elements wire is the element's).  As a map key it is a string.
 */
static int put_scalar(struct pp *pp, const struct pb_field *f, unsigned wire, const uint8_t *val,
		      const uint8_t *vend, bool as_key)
{
	switch (f->type) {
	case PB_TYPE_STRING: return put_str(pp, val, (size_t)(vend - val));
	case PB_TYPE_BYTES: {
		int rc = pbj_put_base64(pp->out, val, (size_t)(vend - val));

		return rc < 0 ? oom(pp, rc) : 0;
	}
	default: return put_number(pp, f, raw_value(wire, val), as_key);
	}
}

static const uint8_t zeros[8];

/* The default value of a scalar field: its zero, printed the usual way. */
static int put_scalar_default(struct pp *pp, const struct pb_field *f, bool as_key)
{
	return put_scalar(pp, f, f->wire, zeros, zeros, as_key);
}

/* Types whose default is judged by the low 32 bits of the raw value. */
static inline bool raw_is_32(const struct pb_field *f)
{
	switch (f->type) {
	case PB_TYPE_INT32:
	case PB_TYPE_UINT32:
	case PB_TYPE_ENUM:
	case PB_TYPE_SINT32:
	case PB_TYPE_FIXED32:
	case PB_TYPE_SFIXED32:
	case PB_TYPE_FLOAT: return true;
	default: return false;
	}
}

/* Is a singular scalar's value its default (not printed without presence)?
 * Floating point compares bits: -0.0 is printed, as protobuf keeps it. */
static bool is_default(const struct pb_field *f, unsigned wire, const uint8_t *val,
		       const uint8_t *vend)
{
	if (f->type == PB_TYPE_STRING || f->type == PB_TYPE_BYTES)
		return vend == val;
	uint64_t raw = raw_value(wire, val);

	return raw_is_32(f) ? (uint32_t)raw == 0 : raw == 0;
}

/* ---- message frames ------------------------------------------------------------------------ */

static const struct seg *frame_segs(struct pp *pp, const struct pframe *f)
{
	/* With no segments segs_off is stale: never form a pointer from it. */
	return f->nsegs <= 1 ? &f->one : pbj_at(&pp->sc, f->segs_off);
}

static int occ_cmp(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;

	if (x->fidx != y->fidx)
		return x->fidx < y->fidx ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Scan the frame's message: validate its fields, decide whether it is
 * canonical, and if not build the sorted occurrence list and the oneof
 * winners.
 */
static int scan_msg(struct pp *pp, struct pframe *f)
{
	const struct pb_message *m = f->m;
	struct tagit it;
	uint32_t num, last = 0, ntags = 0;
	unsigned wire;
	const uint8_t *val, *vend;
	uint64_t oneofs = 0;
	bool canonical = f->nsegs <= 1;
	int rc;

	tagit_init(&it, frame_segs(pp, f), f->nsegs);
	while ((rc = tagit_next(&it, &num, &wire, &val, &vend)) > 0) {
		const struct pb_field *fld = known(m, num, wire);

		ntags++;
		if (fld == NULL || !canonical)
			continue;
		if (num < last) {
			canonical = false;
		} else if (num == last) {
			if (!fld->repeated && fld->type == PB_TYPE_MESSAGE)
				canonical = false; /* to be merged */
		} else if (fld->oneof >= 0) {
			uint64_t bit = 1ull << (fld->oneof & 63);

			if (oneofs & bit)
				canonical = false; /* two members of one oneof */
			oneofs |= bit;
		}
		last = num;
	}
	if (rc < 0)
		return malformed(pp);
	f->slow = !canonical;
	f->cur = f->nsegs == 1 ? f->one.p : NULL;
	if (canonical)
		return 0;

	/* The slow path: every occurrence of a known field, in order. */
	struct occ *occ;
	struct oneof_win *win;
	uint32_t n = 0;

	if (salloc(pp, (size_t)ntags * sizeof(struct occ) + 8, &f->occ_off) < 0 ||
	    salloc(pp, (size_t)m->noneofs * sizeof(struct oneof_win) + 8, &f->win_off) < 0)
		return -1;
	occ = pbj_at(&pp->sc, f->occ_off);
	win = pbj_at(&pp->sc, f->win_off);
	for (unsigned i = 0; i < m->noneofs; i++)
		win[i].fidx = UINT32_MAX, win[i].clear_seq = 0;
	tagit_init(&it, frame_segs(pp, f), f->nsegs);
	while (tagit_next(&it, &num, &wire, &val, &vend) > 0) {
		const struct pb_field *fld = known(m, num, wire);

		if (fld == NULL)
			continue;
		if (!fld->repeated && fld->type == PB_TYPE_ENUM &&
		    !enum_value_ok(fld, varint_at(val)))
			continue;
		uint32_t fidx = (uint32_t)(fld - m->fields), seq = n + 1;

		occ[n] = (struct occ){fidx, seq, val, vend, wire};
		n++;
		if (fld->oneof >= 0) {
			struct oneof_win *w = &win[fld->oneof];

			if (w->fidx != fidx && w->fidx != UINT32_MAX)
				w->clear_seq = seq - 1; /* every earlier one is cleared */
			w->fidx = fidx;
		}
	}
	qsort(occ, n, sizeof(*occ), occ_cmp);
	f->nocc = n;
	f->oi = 0;
	return 0;
}

/*
 * The next field to print: fast, the next run of one known field in wire
 * order; slow, the next field in the sorted occurrences (losing oneof
 * members skipped).  1 with g filled, 0 at the end, -1 on error.
 */
static int next_group(struct pp *pp, struct pframe *f, struct group *g)
{
	const struct pb_message *m = f->m;
	uint32_t num;
	unsigned wire;
	const uint8_t *val, *vend;

	if (!f->slow) {
		const uint8_t *p, *end = f->one.end;
		struct field_at *a = &g->first;

		if (f->have_next) {
			/* The previous run's end already read this field. */
			*a = f->next;
			f->have_next = false;
		} else {
			a->f = NULL;
			for (p = f->cur; p != NULL && p < end;) {
				a->tag = p;
				p = read_field(p, end, &num, &a->wire, &a->val, &a->vend);
				if (p == NULL)
					return malformed(pp);
				a->next = p;
				a->f = known(m, num, a->wire);
				if (a->f != NULL)
					break;
			}
			if (a->f == NULL) {
				f->cur = NULL;
				return 0;
			}
		}
		g->f = a->f;
		g->fidx = (uint32_t)(a->f - m->fields);
		g->p = a->tag;
		g->single = true;
		/* The run ends at the next known field with another number. */
		for (p = a->next; p < end;) {
			struct field_at *n = &f->next;
			const uint8_t *q = p;

			p = read_field(p, end, &num, &wire, &val, &vend);
			if (p == NULL)
				return malformed(pp);
			n->f = known(m, num, wire);
			if (n->f == NULL)
				continue;
			if (n->f != a->f) {
				n->tag = q;
				n->wire = wire;
				n->val = val;
				n->vend = vend;
				n->next = p;
				f->have_next = true;
				p = q;
				break;
			}
			g->single = false;
		}
		g->end = p;
		f->cur = f->have_next ? NULL : p;
		return 1;
	}
	const struct occ *occ = pbj_at(&pp->sc, f->occ_off);
	const struct oneof_win *win = pbj_at(&pp->sc, f->win_off);

	while (f->oi < f->nocc) {
		uint32_t i = f->oi, j = i + 1, fidx = occ[i].fidx;
		const struct pb_field *fld = &m->fields[fidx];

		while (j < f->nocc && occ[j].fidx == fidx)
			j++;
		f->oi = j;
		g->min_seq = 0;
		if (fld->oneof >= 0) {
			if (win[fld->oneof].fidx != fidx)
				continue;
			g->min_seq = win[fld->oneof].clear_seq + 1;
		}
		g->f = fld;
		g->fidx = fidx;
		g->oi = i;
		g->oj = j;
		return 1;
	}
	return 0;
}

static void elem_init(const struct pframe *f, const struct group *g, struct elem_it *it)
{
	it->f = g->f;
	it->slow = f->slow;
	it->pk = it->pkend = NULL;
	if (f->slow) {
		it->occ_off = f->occ_off;
		it->oi = g->oi;
		it->oj = g->oj;
		it->min_seq = g->min_seq;
	} else {
		it->single = g->single;
		it->first = &g->first;
		it->p = g->p;
		it->end = g->end;
	}
}

/*
 * The next element of a group: packed chunks are opened into their
 * values.  1 with the element, 0 at the end, -1 when malformed.
 */
static int elem_next(struct pp *pp, struct elem_it *it, unsigned *wire, const uint8_t **val,
		     const uint8_t **vend)
{
	const struct pb_field *f = it->f;

	for (;;) {
		if (it->pk != NULL && it->pk < it->pkend) {
			const uint8_t *p = it->pk;
			uint64_t v;

			*wire = f->wire;
			*val = p;
			if (f->wire == PB_WIRE_VARINT)
				p = pb_get_varint(p, it->pkend, &v);
			else if (f->wire == PB_WIRE_I64)
				p = it->pkend - p >= 8 ? p + 8 : NULL;
			else
				p = it->pkend - p >= 4 ? p + 4 : NULL;
			if (p == NULL)
				return fail(pp, "malformed packed field");
			it->pk = *vend = p;
			return 1;
		}
		unsigned w;
		const uint8_t *a, *b;

		if (it->slow) {
			if (it->oi >= it->oj)
				return 0;
			const struct occ *o =
				(const struct occ *)pbj_at(&pp->sc, it->occ_off) + it->oi++;

			if (o->seq < it->min_seq)
				continue;
			w = o->wire;
			a = o->val;
			b = o->end;
		} else if (it->single) {
			if (it->first == NULL)
				return 0;
			w = it->first->wire;
			a = it->first->val;
			b = it->first->vend;
			it->first = NULL;
		} else {
			uint32_t num;

			if (it->p >= it->end)
				return 0;
			it->p = read_field(it->p, it->end, &num, &w, &a, &b);
			if (it->p == NULL)
				return malformed(pp);
			if (num != f->number || !wire_ok(f, w))
				continue;
		}
		if (w == PB_WIRE_LEN && f->wire != PB_WIRE_LEN) {
			it->pk = a;
			it->pkend = b;
			continue;
		}
		*wire = w;
		*val = a;
		*vend = b;
		return 1;
	}
}

/* Next element, skipping values a closed enum does not declare. */
static int elem_next_valid(struct pp *pp, struct elem_it *it, unsigned *wire, const uint8_t **val,
			   const uint8_t **vend)
{
	int rc;

	while ((rc = elem_next(pp, it, wire, val, vend)) > 0)
		if (it->f->type != PB_TYPE_ENUM || enum_value_ok(it->f, raw_value(*wire, *val)))
			return 1;
	return rc;
}

/* ---- starting values ----------------------------------------------------------------------------
 */

static int push_frame(struct pp *pp, enum pkind kind, const struct pb_message *m,
		      const struct seg *segs, uint32_t nsegs, uint32_t level, struct pframe **out)
{
	struct pframe *f = NULL;

	if (pp->nframes >= PP_MAX_FRAMES)
		return fail(pp, "message nested too deeply");
	f = &pp->frames[pp->nframes++];
	memset(f, 0, offsetof(struct pframe, m));
	f->kind = (uint8_t)kind;
	f->state = S_START;
	f->first = true;
	f->m = m;
	f->level = level;
	f->mark = pp->sc.top;
	f->nsegs = nsegs;
	f->cur = NULL;
	if (nsegs == 1) {
		f->one = segs[0];
	} else if (nsegs > 1) {
		struct segsref r = segs_ref(pp, segs);

		if (salloc(pp, (size_t)nsegs * sizeof(struct seg), &f->segs_off) < 0)
			return -1;
		segs = segs_get(pp, &r);
		memcpy(pbj_at(&pp->sc, f->segs_off), segs, (size_t)nsegs * sizeof(struct seg));
	}
	if (out != NULL)
		*out = f;
	return 0;
}

/* The last occurrence of field `num` with wire type `wire`. */
static int last_field(struct pp *pp, const struct seg *segs, uint32_t nsegs, uint32_t want,
		      unsigned want_wire, const uint8_t **val, const uint8_t **vend)
{
	struct tagit it;
	uint32_t num;
	unsigned wire;
	const uint8_t *a, *b;
	int rc, found = 0;

	tagit_init(&it, segs, nsegs);
	while ((rc = tagit_next(&it, &num, &wire, &a, &b)) > 0) {
		if (num == want && wire == want_wire) {
			*val = a;
			*vend = b;
			found = 1;
		}
	}
	return rc < 0 ? malformed(pp) : found;
}

static int put_time(struct pp *pp, const struct pb_message *m, const struct seg *segs,
		    uint32_t nsegs)
{
	const uint8_t *a, *b;
	int64_t sec = 0;
	int32_t ns = 0;
	int rc;

	if ((rc = last_field(pp, segs, nsegs, 1, PB_WIRE_VARINT, &a, &b)) < 0)
		return -1;
	if (rc)
		sec = (int64_t)varint_at(a);
	if ((rc = last_field(pp, segs, nsegs, 2, PB_WIRE_VARINT, &a, &b)) < 0)
		return -1;
	if (rc)
		ns = (int32_t)varint_at(a);
	rc = m->wkt == PB_WKT_TIMESTAMP ? pbj_put_timestamp(pp->out, sec, ns)
					: pbj_put_duration(pp->out, sec, ns);
	if (rc == -1)
		return fail(pp, m->wkt == PB_WKT_TIMESTAMP
					? "Timestamp out of range (year 1 to 9999)"
					: "Duration is not valid");
	return rc < 0 ? oom(pp, rc) : 0;
}

/* FieldMask: the paths in camelCase, joined with commas, as one string. */
static int put_field_mask(struct pp *pp, const struct seg *segs, uint32_t nsegs)
{
	struct tagit it;
	uint32_t num;
	unsigned wire;
	const uint8_t *a, *b;
	size_t total = 0, off;
	int rc;
	struct pb_buf tmp;
	struct segsref r = segs_ref(pp, segs);

	tagit_init(&it, segs, nsegs);
	while ((rc = tagit_next(&it, &num, &wire, &a, &b)) > 0)
		if (num == 1 && wire == PB_WIRE_LEN)
			total += (size_t)(b - a) + 1;
	if (rc < 0)
		return malformed(pp);
	/* Join into scratch memory, then escape into the output. */
	if (salloc(pp, total + 1, &off) < 0)
		return -1;
	tmp.data = pbj_at(&pp->sc, off);
	tmp.len = 0;
	tmp.cap = total + 1;
	tmp.limit = 0;
	tagit_init(&it, segs_get(pp, &r), nsegs);
	for (size_t k = 0; tagit_next(&it, &num, &wire, &a, &b) > 0;) {
		if (num != 1 || wire != PB_WIRE_LEN)
			continue;
		if (k++ > 0)
			tmp.data[tmp.len++] = ',';
		if (pbj_put_mask_path(&tmp, a, (size_t)(b - a)) < 0)
			return fail(pp, "FieldMask path cannot be converted to camelCase");
	}
	return put_str(pp, tmp.data, tmp.len);
}

static bool is_wrapper(unsigned wkt)
{
	return wkt >= PB_WKT_DOUBLE_VALUE && wkt <= PB_WKT_BYTES_VALUE;
}

/*
 * Nesting is counted as protobuf's parser counts it (json_format prints
 * what that parser accepted): every message below the top, map entries
 * included, at most PB_JSON_MAX_DEPTH levels; an Any's payload is parsed
 * on its own and starts again at 0.
 */
static int check_level(struct pp *pp, uint32_t level)
{
	if (level > PB_JSON_MAX_DEPTH)
		return fail(pp, "message too deep: more than %d levels", PB_JSON_MAX_DEPTH);
	return 0;
}

static int begin_msg(struct pp *pp, const struct pb_message *m, const struct seg *segs,
		     uint32_t nsegs, uint32_t level);

/* google.protobuf.Value: the kind set last (a message kind merged over
 * its occurrences since another kind was set). */
static int begin_value(struct pp *pp, const struct pb_message *m, const struct seg *segs,
		       uint32_t nsegs, uint32_t level)
{
	static const uint8_t kind_wire[7] = {0,           PB_WIRE_VARINT, PB_WIRE_I64,
					     PB_WIRE_LEN, PB_WIRE_VARINT, PB_WIRE_LEN,
					     PB_WIRE_LEN};
	struct tagit it;
	uint32_t num, kind = 0, nk = 0;
	unsigned wire;
	const uint8_t *a, *b, *va = NULL, *vb = NULL;
	size_t mark = pp->sc.top, off = 0;
	struct segsref r = segs_ref(pp, segs);
	int rc;

	/* The kind set last, and how many occurrences it has since. */
	tagit_init(&it, segs, nsegs);
	while ((rc = tagit_next(&it, &num, &wire, &a, &b)) > 0) {
		if (num < 1 || num > 6 || wire != kind_wire[num])
			continue;
		nk = num == kind ? nk + 1 : 1;
		kind = num;
		va = a;
		vb = b;
	}
	if (rc < 0)
		return malformed(pp);
	if (kind == 5 || kind == 6) {
		/* Its occurrences since, merged: a second pass fills them in. */
		struct seg *list;
		uint32_t cur = 0, i = 0;

		if (salloc(pp, (size_t)nk * sizeof(struct seg), &off) < 0)
			return -1;
		list = pbj_at(&pp->sc, off);
		tagit_init(&it, segs_get(pp, &r), nsegs);
		while (tagit_next(&it, &num, &wire, &a, &b) > 0) {
			if (num < 1 || num > 6 || wire != kind_wire[num])
				continue;
			i = num == cur ? i : 0;
			cur = num;
			if (num == kind && i < nk)
				list[i++] = (struct seg){a, b};
		}
	}
	switch (kind) {
	case 0:
	case 1: rc = put(pp, "null", 4); break;
	case 2: rc = put_double(pp, pb_bits_double(pb_get_le64(va)), false); break;
	case 3: rc = put_str(pp, va, (size_t)(vb - va)); break;
	case 4: rc = varint_at(va) ? put(pp, "true", 4) : put(pp, "false", 5); break;
	default: {
		/* Struct or ListValue: a frame of its own, which takes over
		 * the depth this Value holds. */
		const struct seg *list = pbj_at(&pp->sc, off);
		const struct pb_field *kf = field_of(m, kind);

		/* The list stays below the frame until this one moves on. */
		if (kf == NULL || kf->message == NULL)
			return fail(pp, "google.protobuf.Value without struct_value / list_value");
		if (check_level(pp, level + 1) < 0 ||
		    push_frame(pp, kind == 5 ? P_STRUCT : P_LIST, kf->message, list, nk, level + 1,
			       NULL) < 0)
			return -1;
		return PUSHED;
	}
	}
	pp->sc.top = mark;
	return rc < 0 ? rc : DONE;
}

static int begin_any(struct pp *pp, const struct seg *segs, uint32_t nsegs)
{
	const uint8_t *ua = zeros, *ub = zeros, *va = zeros, *vb = zeros;
	const struct pb_message *inner;
	char name[512];
	const uint8_t *slash;
	size_t n;
	struct pframe *f = NULL;
	int rc;

	if ((rc = last_field(pp, segs, nsegs, 1, PB_WIRE_LEN, &ua, &ub)) < 0 ||
	    (rc = last_field(pp, segs, nsegs, 2, PB_WIRE_LEN, &va, &vb)) < 0)
		return -1;
	if (ua == ub && va == vb)
		return put(pp, "{}", 2);
	if (put(pp, "{\"@type\":", 9) < 0 || put_str(pp, ua, (size_t)(ub - ua)) < 0)
		return -1;
	slash = memrchr(ua, '/', (size_t)(ub - ua));
	if (slash != NULL)
		ua = slash + 1;
	n = (size_t)(ub - ua);
	inner = NULL;
	if (n < sizeof(name) && pp->schema != NULL) {
		memcpy(name, ua, n);
		name[n] = '\0';
		inner = pb_schema_message(pp->schema, name);
	}
	if (inner == NULL)
		return fail(pp, "can not find message descriptor by type_url: %.*s",
			    (int)(n > 128 ? 128 : n), (const char *)ua);
	struct seg s = {va, top_level_end(va, vb)};

	if (inner->wkt != PB_WKT_NONE && inner->wkt != PB_WKT_EMPTY) {
		/* {"@type": ..., "value": <the WKT's JSON>}: a closing frame
		 * under the value's frame (if it needs one) prints the '}'. */
		if (push_frame(pp, P_CLOSE, NULL, NULL, 0, 0, NULL) < 0 ||
		    put(pp, ",\"value\":", 9) < 0)
			return -1;
		rc = begin_msg(pp, inner, &s, 1, 0);
		return rc < 0 ? rc : PUSHED;
	}
	if (push_frame(pp, P_MSG, inner, &s, 1, 0, &f) < 0)
		return -1;
	f->first = false; /* "@type" is printed: members follow with ',' */
	return PUSHED;
}

/*
 * Print a message value of type m made of segments (one, many when merged,
 * none for a default): WKTs with a scalar form at once, the rest as a
 * pushed frame.  `count`: json_format counts this message's depth.
 */
static int begin_msg(struct pp *pp, const struct pb_message *m, const struct seg *segs,
		     uint32_t nsegs, uint32_t level)
{
	const uint8_t *a, *b;
	int rc;

	if (check_level(pp, level) < 0)
		return -1;
	switch (m->wkt) {
	case PB_WKT_TIMESTAMP:
	case PB_WKT_DURATION: rc = put_time(pp, m, segs, nsegs); break;
	case PB_WKT_FIELD_MASK: {
		size_t mark = pp->sc.top;

		rc = put_field_mask(pp, segs, nsegs);
		pp->sc.top = mark;
		break;
	}
	case PB_WKT_VALUE: return begin_value(pp, m, segs, nsegs, level);
	case PB_WKT_ANY: return begin_any(pp, segs, nsegs);
	case PB_WKT_STRUCT:
	case PB_WKT_LIST_VALUE:
		if (push_frame(pp, m->wkt == PB_WKT_STRUCT ? P_STRUCT : P_LIST, m, segs, nsegs,
			       level, NULL) < 0)
			return -1;
		return PUSHED;
	default:
		if (is_wrapper(m->wkt) && m->nfields >= 1) {
			const struct pb_field *vf = &m->fields[0];

			rc = last_field(pp, segs, nsegs, 1, vf->wire, &a, &b);
			if (rc == 1)
				rc = put_scalar(pp, vf, vf->wire, a, b, false);
			else if (rc == 0)
				rc = put_scalar_default(pp, vf, false);
			break;
		}
		if (push_frame(pp, P_MSG, m, segs, nsegs, level, NULL) < 0)
			return -1;
		return PUSHED;
	}
	return rc < 0 ? rc : DONE;
}

/* ---- members --------------------------------------------------------------------------------- */

/* A name with bytes JSON escapes (a json_name option can say anything). */
static int put_key_escaped(struct pp *pp, bool *first, const struct pb_field *fld)
{
	const char *name = pp->opts.use_proto_names ? fld->name : fld->json_name;

	if (!*first && putc1(pp, ',') < 0)
		return -1;
	*first = false;
	if (put_str(pp, (const uint8_t *)name, strlen(name)) < 0)
		return -1;
	return putc1(pp, ':');
}

/* A member's key, after a ',' unless it is the object's first member. */
static inline __attribute__((always_inline)) int put_key(struct pp *pp, bool *first,
							 const struct pb_field *fld)
{
	const char *key = pp->opts.use_proto_names ? fld->name_key : fld->json_key;
	size_t keylen = pp->opts.use_proto_names ? fld->name_key_len : fld->json_key_len;
	int rc;

	if (key == NULL)
		return put_key_escaped(pp, first, fld);
	/* The schema made it: `,"name":`. */
	if ((rc = pb_buf_ensure(pp->out, keylen)) < 0)
		return oom(pp, rc);
	if (*first) {
		key++;
		keylen--;
		*first = false;
	}
	pbj_copy(pp->out->data + pp->out->len, key, keylen);
	pp->out->len += keylen;
	return 0;
}

/* emit_defaults prints what json_format's including_default_value_fields
 * adds: every field but singular messages and oneof members. */
static int put_default(struct pp *pp, bool *first, const struct pb_field *fld)
{
	if (fld->oneof >= 0 || (!fld->repeated && fld->type == PB_TYPE_MESSAGE) ||
	    fld->type == PB_TYPE_GROUP)
		return 0;
	if (put_key(pp, first, fld) < 0)
		return -1;
	if (fld->map)
		return put(pp, "{}", 2);
	if (fld->repeated)
		return put(pp, "[]", 2);
	return put_scalar_default(pp, fld, false);
}

/* Map entries: the key and the value of one entry (last wins; a message
 * value merged over its occurrences). */
struct entry {
	bool has_key;
	unsigned kwire;
	const uint8_t *ka, *kb;
	struct seglist vals; /* message values (when asked for) */
	uint32_t nvals;      /* occurrences of the value */
	bool has_val;
	unsigned vwire;
	const uint8_t *va, *vb;
};

static int parse_entry(struct pp *pp, const struct pb_message *em, const uint8_t *p,
		       const uint8_t *end, struct entry *e, bool list_vals)
{
	const struct pb_field *kf = &em->fields[0], *vf = &em->fields[1];
	uint32_t num;
	unsigned wire;
	const uint8_t *a, *b;

	memset(e, 0, sizeof(*e));
	while (p < end) {
		p = read_field(p, end, &num, &wire, &a, &b);
		if (p == NULL)
			return malformed(pp);
		if (num == 1 && wire == kf->wire) {
			e->has_key = true;
			e->kwire = wire;
			e->ka = a;
			e->kb = b;
		} else if (num == 2 && wire == vf->wire) {
			e->has_val = true;
			e->vwire = wire;
			e->va = a;
			e->vb = b;
			e->nvals++;
			if (list_vals && vf->type == PB_TYPE_MESSAGE &&
			    seglist_add(pp, &e->vals, a, b) < 0)
				return -1;
		}
	}
	return 0;
}

/* A map key, reduced to what makes two keys equal. */
struct mkey {
	uint64_t v;
	const uint8_t *s;
	size_t n;
	uint32_t hash;
};

/* The key without its hash: small maps compare keys pair by pair. */
static inline void key_of(const struct pb_field *kf, const struct entry *e, struct mkey *k)
{
	k->s = NULL;
	k->n = 0;
	k->v = 0;
	if (kf->type == PB_TYPE_STRING) {
		if (e->has_key) {
			k->s = e->ka;
			k->n = (size_t)(e->kb - e->ka);
		}
	} else {
		int64_t sv;
		uint64_t uv, raw = e->has_key ? raw_value(e->kwire, e->ka) : 0;

		if (kf->type == PB_TYPE_BOOL)
			k->v = raw != 0;
		else
			k->v = int_value(kf->type, raw, &sv, &uv) ? (uint64_t)sv : uv;
	}
}

/* Equal keys (mkey_eq) hash alike: the bytes, then v. */
static uint32_t mkey_hash(const struct mkey *k)
{
	uint32_t h = PBJ_HASH_INIT;

	for (size_t i = 0; i < k->n; i++)
		h = pbj_hash_step(h, k->s[i]);
	for (int i = 0; i < 8; i++)
		h = pbj_hash_step(h, (uint8_t)(k->v >> (8 * i)));
	return h;
}

static void map_key(const struct pb_field *kf, const struct entry *e, struct mkey *k)
{
	key_of(kf, e, k);
	k->hash = mkey_hash(k);
}

struct dslot {
	uint32_t hash;
	uint32_t idx; /* entry index + 1; 0: empty */
	const uint8_t *s;
	size_t n;
	uint64_t v;
};

/* Maps this small are checked pair by pair, without a table. */
#define SMALL_MAP 16

static bool mkey_eq(const struct mkey *a, const struct mkey *b)
{
	return a->v == b->v && a->n == b->n && (a->n == 0 || memcmp(a->s, b->s, a->n) == 0);
}

static int map_dedup_small(struct pp *pp, struct pframe *f, const struct pb_message *em,
			   uint32_t count)
{
	struct mkey keys[SMALL_MAP];
	struct elem_it it;
	unsigned wire;
	const uint8_t *a, *b;
	uint32_t i = 0;
	uint8_t *bits;
	bool dup = false;

	elem_init(f, &f->g, &it);
	while (i < count && elem_next(pp, &it, &wire, &a, &b) > 0) {
		struct entry e;
		size_t mark = pp->sc.top;

		if (parse_entry(pp, em, a, b, &e, true) < 0)
			return -1;
		pp->sc.top = mark;
		map_key(&em->fields[0], &e, &keys[i++]);
	}
	for (uint32_t x = 0; x < count && !dup; x++)
		for (uint32_t y = x + 1; y < count && !dup; y++)
			dup = keys[x].hash == keys[y].hash && mkey_eq(&keys[x], &keys[y]);
	if (!dup)
		return 0;
	if (salloc(pp, count / 8 + 1, &f->keepbits) < 0)
		return -1;
	bits = pbj_at(&pp->sc, f->keepbits);
	memset(bits, 0, count / 8 + 1);
	for (uint32_t x = 0; x < count; x++) {
		bool later = false;

		for (uint32_t y = x + 1; y < count && !later; y++)
			later = keys[x].hash == keys[y].hash && mkey_eq(&keys[x], &keys[y]);
		if (!later)
			bits[x / 8] |= (uint8_t)(1u << (x % 8));
	}
	f->dedup = true;
	return 0;
}

/*
 * Before printing a map: if a key repeats, mark which entries to print
 * (the last of each key, as a protobuf map keeps).
 */
static int map_dedup(struct pp *pp, struct pframe *f, const struct pb_message *em)
{
	const struct pb_field *kf = &em->fields[0];
	struct elem_it it;
	unsigned wire;
	const uint8_t *a, *b;
	uint32_t count = 0, cap = 16, i = 0;
	size_t toff;
	struct dslot *tab;
	uint8_t *bits;
	int rc;
	bool dup = false;

	f->dedup = false;
	if (!f->slow && f->g.single)
		return 0;
	elem_init(f, &f->g, &it);
	while ((rc = elem_next(pp, &it, &wire, &a, &b)) > 0)
		count++;
	if (rc < 0)
		return -1;
	if (count < 2)
		return 0;
	if (count <= SMALL_MAP)
		return map_dedup_small(pp, f, em, count);
	while (cap < count * 2)
		cap *= 2;
	if (salloc(pp, (size_t)cap * sizeof(struct dslot), &toff) < 0 ||
	    salloc(pp, count / 8 + 1, &f->keepbits) < 0)
		return -1;
	tab = pbj_at(&pp->sc, toff);
	bits = pbj_at(&pp->sc, f->keepbits);
	memset(tab, 0, (size_t)cap * sizeof(*tab));
	memset(bits, 0xff, count / 8 + 1);
	elem_init(f, &f->g, &it);
	while (elem_next(pp, &it, &wire, &a, &b) > 0) {
		struct entry e;
		struct mkey k;
		size_t mark = pp->sc.top;

		if (parse_entry(pp, em, a, b, &e, true) < 0)
			return -1;
		pp->sc.top = mark;
		/* parse_entry may have grown (moved) the scratch stack. */
		tab = pbj_at(&pp->sc, toff);
		bits = pbj_at(&pp->sc, f->keepbits);
		map_key(kf, &e, &k);
		for (uint32_t j = k.hash & (cap - 1);; j = (j + 1) & (cap - 1)) {
			struct dslot *s = &tab[j];

			if (s->idx == 0) {
				*s = (struct dslot){k.hash, i + 1, k.s, k.n, k.v};
				break;
			}
			if (s->hash == k.hash && s->v == k.v && s->n == k.n &&
			    (k.n == 0 || memcmp(s->s, k.s, k.n) == 0)) {
				bits[(s->idx - 1) / 8] &= (uint8_t) ~(1u << ((s->idx - 1) % 8));
				s->idx = i + 1;
				dup = true;
				break;
			}
		}
		i++;
	}
	f->dedup = dup;
	/* Only the bits are needed from here: the table is dropped. */
	if (dup) {
		memmove(pbj_at(&pp->sc, toff), bits, count / 8 + 1);
		f->keepbits = toff;
		pp->sc.top = toff + count / 8 + 1;
	} else {
		pp->sc.top = toff;
	}
	return 0;
}

/* One map entry: key, ':' and the value (a frame may be pushed). */
static int put_entry(struct pp *pp, struct pframe *f, const struct pb_message *em, const uint8_t *p,
		     const uint8_t *end)
{
	const struct pb_field *kf = &em->fields[0], *vf = &em->fields[1];
	struct entry e;
	int rc;

	if (check_level(pp, f->level + 1) < 0 || parse_entry(pp, em, p, end, &e, true) < 0)
		return -1;
	if (f->nprinted++ > 0 && putc1(pp, ',') < 0)
		return -1;
	rc = e.has_key ? put_scalar(pp, kf, e.kwire, e.ka, e.kb, true)
		       : put_scalar_default(pp, kf, true);
	if (rc < 0 || putc1(pp, ':') < 0)
		return -1;
	if (vf->type == PB_TYPE_MESSAGE)
		return begin_msg(pp, vf->message, pbj_at(&pp->sc, e.vals.off), e.vals.n,
				 f->level + 2);
	if (vf->type == PB_TYPE_GROUP)
		return fail(pp, "group fields are not supported");
	return e.has_val ? put_scalar(pp, vf, e.vwire, e.va, e.vb, false)
			 : put_scalar_default(pp, vf, false);
}

/*
 * Print one field's group in a message.  Sets the frame's state when the
 * field is a repeated message or a map (continued by the caller), returns
 * PUSHED when a singular message's frame was pushed.
 */
static int put_group(struct pp *pp, struct pframe *f, struct group *g)
{
	const struct pb_field *fld = g->f;
	struct elem_it it;
	unsigned wire, lw = 0;
	const uint8_t *a, *b, *la = NULL, *lb = NULL;
	int rc;

	f->gf = fld; /* for error paths */
	if (fld->type == PB_TYPE_GROUP)
		return fail(pp, "group fields are not supported");
	elem_init(f, g, &it);
	if (fld->map || (fld->repeated && fld->type == PB_TYPE_MESSAGE)) {
		if (put_key(pp, &f->first, fld) < 0)
			return -1;
		f->g = *g;
		elem_init(f, &f->g, &f->it); /* it points into the group */
		f->index = 0;
		f->nprinted = 0;
		if (fld->map) {
			if (map_dedup(pp, f, fld->message) < 0)
				return -1;
			f->map_keep = pp->sc.top;
			f->state = S_MAP;
			return putc1(pp, '{');
		}
		f->state = S_RMSG;
		return putc1(pp, '[');
	}
	if (fld->repeated) {
		rc = elem_next_valid(pp, &it, &wire, &a, &b);
		if (rc <= 0) {
			if (rc == 0 && pp->opts.emit_defaults)
				return put_default(pp, &f->first, fld);
			return rc;
		}
		if (put_key(pp, &f->first, fld) < 0 || putc1(pp, '[') < 0)
			return -1;
		do {
			if (put_scalar(pp, fld, wire, a, b, false) < 0)
				return -1;
			rc = elem_next_valid(pp, &it, &wire, &a, &b);
			if (rc > 0 && putc1(pp, ',') < 0)
				return -1;
		} while (rc > 0);
		if (rc < 0)
			return -1;
		return putc1(pp, ']');
	}
	if (fld->type == PB_TYPE_MESSAGE) {
		struct seglist sl = {0, 0, 0};

		while ((rc = elem_next(pp, &it, &wire, &a, &b)) > 0) {
			if (!f->slow) {
				la = a;
				lb = b;
				break; /* canonical: one occurrence */
			}
			if (seglist_add(pp, &sl, a, b) < 0)
				return -1;
		}
		if (rc < 0 || put_key(pp, &f->first, fld) < 0)
			return -1;
		if (!f->slow) {
			struct seg s = {la, lb};

			return begin_msg(pp, fld->message, &s, 1, f->level + 1);
		}
		return begin_msg(pp, fld->message, pbj_at(&pp->sc, sl.off), sl.n, f->level + 1);
	}
	/* A singular scalar: the last value counts (earlier strings are
	 * still checked, as the parser would have read them). */
	while ((rc = elem_next_valid(pp, &it, &wire, &a, &b)) > 0) {
		if (fld->type == PB_TYPE_STRING && la != NULL &&
		    !pbj_utf8_valid(la, (size_t)(lb - la)))
			return fail(pp, "invalid UTF-8 in a string");
		la = a;
		lb = b;
		lw = wire;
	}
	if (rc < 0)
		return -1;
	if (la == NULL || (!fld->has_presence && is_default(fld, lw, la, lb))) {
		if (pp->opts.emit_defaults)
			return put_default(pp, &f->first, fld);
		return 0;
	}
	if (put_key(pp, &f->first, fld) < 0)
		return -1;
	return put_scalar(pp, fld, lw, la, lb, false);
}

static int pop(struct pp *pp)
{
	struct pframe *f = &pp->frames[pp->nframes - 1];

	pp->sc.top = f->mark;
	pp->nframes--;
	return 0;
}

/* Struct and ListValue: their one field (1) is the whole JSON value. */
static int start_container(struct pp *pp, struct pframe *f)
{
	struct group g;
	int rc = next_group(pp, f, &g);

	if (rc < 0)
		return -1;
	f->keep = pp->sc.top;
	if (rc == 0 || g.f->number != 1) {
		if (put(pp, f->kind == P_STRUCT ? "{}" : "[]", 2) < 0)
			return -1;
		return pop(pp);
	}
	f->first = false;
	f->g = g;
	f->gf = g.f;
	elem_init(f, &f->g, &f->it);
	f->index = 0;
	f->nprinted = 0;
	if (f->kind == P_STRUCT) {
		if (map_dedup(pp, f, g.f->message) < 0)
			return -1;
		f->map_keep = pp->sc.top;
		f->state = S_MAP;
		return putc1(pp, '{');
	}
	f->state = S_RMSG;
	return putc1(pp, '[');
}

/* Advance the top frame until it pushes a child or ends. */
static int step(struct pp *pp, struct pframe *f)
{
	struct group g;
	unsigned wire;
	const uint8_t *a, *b;
	int rc;

	if (f->kind == P_CLOSE) {
		if (putc1(pp, '}') < 0)
			return -1;
		return pop(pp);
	}
	if (f->state == S_START) {
		/* Struct and ListValue messages have their fields resolved
		 * like any message (merges, unknown fields). */
		if (scan_msg(pp, f) < 0)
			return -1;
		if (f->kind != P_MSG)
			return start_container(pp, f);
		f->keep = pp->sc.top;
		f->state = S_FIELDS;
		if (f->first && putc1(pp, '{') < 0)
			return -1;
	}
	for (;;) {
		switch (f->state) {
		case S_FIELDS:
			pp->sc.top = f->keep;
			f->gf = NULL;
			rc = next_group(pp, f, &g);
			if (rc < 0)
				return -1;
			if (pp->opts.emit_defaults) {
				uint32_t upto = rc ? g.fidx : f->m->nfields;

				for (; f->next_fidx < upto; f->next_fidx++)
					if (put_default(pp, &f->first,
							&f->m->fields[f->next_fidx]) < 0)
						return -1;
				f->next_fidx = upto + 1;
			}
			if (rc == 0) {
				if (putc1(pp, '}') < 0)
					return -1;
				return pop(pp);
			}
			rc = put_group(pp, f, &g);
			if (rc < 0)
				return -1;
			if (rc == PUSHED)
				return 0;
			break;
		case S_RMSG:
			rc = elem_next(pp, &f->it, &wire, &a, &b);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				if (putc1(pp, ']') < 0)
					return -1;
				if (f->kind == P_LIST)
					return pop(pp);
				f->state = S_FIELDS;
				break;
			}
			if (f->index++ > 0 && putc1(pp, ',') < 0)
				return -1;
			{
				struct seg s = {a, b};

				rc = begin_msg(pp, f->g.f->message, &s, 1, f->level + 1);
			}
			if (rc < 0)
				return -1;
			if (rc == PUSHED)
				return 0;
			break;
		default: /* S_MAP */
			pp->sc.top = f->map_keep;
			rc = elem_next(pp, &f->it, &wire, &a, &b);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				if (putc1(pp, '}') < 0)
					return -1;
				if (f->kind == P_STRUCT)
					return pop(pp);
				f->state = S_FIELDS;
				break;
			}
			f->index++;
			if (f->dedup) {
				const uint8_t *bits = pbj_at(&pp->sc, f->keepbits);
				uint32_t i = f->index - 1;

				if (!(bits[i / 8] & (1u << (i % 8))))
					break;
			}
			rc = put_entry(pp, f, f->g.f->message, a, b);
			if (rc < 0)
				return -1;
			if (rc == PUSHED)
				return 0;
			break;
		}
	}
}

/* ---- the one-pass printer -------------------------------------------------------------
 *
 * For canonical input the frame printer above still reads every tag two
 * or three times (scan, runs, elements) and moves every value through a
 * frame: about half of its time.  So pb_proto_to_json first tries this
 * printer, which prints in a single pass, a call per message level, and
 * gives up (-1) at the first thing it does not print exactly as the frame
 * printer would: input that is not canonical (scan_msg's rules, checked
 * tag by tag), a singular field sent twice, a message value to merge, a
 * map with a repeated key, a closed enum's undeclared value, an Any, and
 * every error.  Its output is then dropped and the frame printer runs from
 * the start, so it stays the definition of the output and of every error
 * message; this printer only takes the common case faster.  Input it gives
 * up on late costs the part already printed twice (at worst about 1.5x
 * the frame printer alone).
 *
 * Recursion is bounded: levels are counted as the frame printer counts
 * them (check_level), each call goes one or two deeper and gives up past
 * PB_JSON_MAX_DEPTH, and Any (whose payload starts again at level 0) is
 * left to the frame printer.
 */

/*
 * The keys of a map being printed, to find a repeated one at its end.
 * Most maps are small: their keys stay here, without hashes; past
 * KEYS_INLINE they move to the scratch stack.
 */
#define KEYS_INLINE 4

struct keylist {
	size_t off;
	uint32_t n, cap; /* cap 0: the keys are in small[] */
	struct mkey small[KEYS_INLINE];
};

static inline void keylist_reset(struct keylist *kl)
{
	kl->n = kl->cap = 0;
}

static struct mkey *keylist_keys(struct pp *pp, struct keylist *kl)
{
	return kl->cap == 0 ? kl->small : (struct mkey *)pbj_at(&pp->sc, kl->off);
}

static int keylist_grow(struct pp *pp, struct keylist *kl)
{
	uint32_t more = kl->cap ? kl->cap : 16;
	size_t off;

	/* Values printed between two keys free their scratch memory, so
	 * the list is the top allocation again and grows in place. */
	if (kl->cap != 0 && kl->off + (size_t)kl->cap * sizeof(struct mkey) != pp->sc.top)
		return -1;
	if (salloc(pp, (size_t)more * sizeof(struct mkey), &off) < 0)
		return -1;
	if (kl->cap == 0) {
		kl->off = off;
		memcpy(pbj_at(&pp->sc, off), kl->small, sizeof(kl->small));
	}
	kl->cap += more;
	return 0;
}

static inline int keylist_add(struct pp *pp, struct keylist *kl, const struct mkey *k)
{
	if (kl->cap == 0 && kl->n < KEYS_INLINE) {
		kl->small[kl->n++] = *k;
		return 0;
	}
	if ((kl->cap == 0 || kl->n == kl->cap) && keylist_grow(pp, kl) < 0)
		return -1;
	((struct mkey *)pbj_at(&pp->sc, kl->off))[kl->n++] = *k;
	return 0;
}

/* 1 when two keys of the list are equal, 0 when none are, -1 on error. */
static int keys_repeat(struct pp *pp, struct keylist *kl)
{
	struct mkey *keys;
	uint32_t n = kl->n, cap = 32, *tab;
	size_t toff;

	if (n < 2)
		return 0;
	if (n <= SMALL_MAP) {
		keys = keylist_keys(pp, kl);
		for (uint32_t x = 0; x < n; x++)
			for (uint32_t y = x + 1; y < n; y++)
				if (mkey_eq(&keys[x], &keys[y]))
					return 1;
		return 0;
	}
	while (cap < n * 2)
		cap *= 2;
	if (salloc(pp, (size_t)cap * sizeof(uint32_t), &toff) < 0)
		return -1;
	keys = keylist_keys(pp, kl);
	tab = pbj_at(&pp->sc, toff);
	memset(tab, 0, (size_t)cap * sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++)
		keys[i].hash = mkey_hash(&keys[i]);
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = keys[i].hash & (cap - 1);; j = (j + 1) & (cap - 1)) {
			if (tab[j] == 0) {
				tab[j] = i + 1;
				break;
			}
			const struct mkey *o = &keys[tab[j] - 1];

			if (o->hash == keys[i].hash && mkey_eq(o, &keys[i]))
				return 1;
		}
	}
	return 0;
}

static int fast_value(struct pp *pp, const struct pb_message *m, const uint8_t *p,
		      const uint8_t *end, uint32_t level);

/*
 * A map entry as protobuf libraries write a string key and a LEN value:
 * key field, value field, each once, one-byte lengths, nothing after.
 * Anything else is left to parse_entry.
 */
static inline bool entry_plain(const struct pb_message *em, const uint8_t *p, const uint8_t *end,
			       struct entry *e)
{
	size_t n = (size_t)(end - p), klen, vlen;

	if (em->fields[0].wire != PB_WIRE_LEN || em->fields[1].wire != PB_WIRE_LEN || n < 4 ||
	    p[0] != (1 << 3 | PB_WIRE_LEN) || (klen = p[1]) >= 0x80 || n < klen + 4 ||
	    p[klen + 2] != (2 << 3 | PB_WIRE_LEN) || (vlen = p[klen + 3]) >= 0x80 ||
	    vlen != n - klen - 4)
		return false;
	e->has_key = e->has_val = true;
	e->kwire = e->vwire = PB_WIRE_LEN;
	e->ka = p + 2;
	e->kb = e->ka + klen;
	e->va = e->kb + 2;
	e->vb = end;
	e->nvals = 1;
	return true;
}

/* `"key":` after a ',' unless first, for a string map key. */
static inline int put_str_key(struct pp *pp, bool comma, const uint8_t *p, size_t n)
{
	if (n <= 32 && pbj_plain_short(p, n)) {
		int rc = pb_buf_ensure(pp->out, n + 4);
		uint8_t *o;

		if (rc < 0)
			return oom(pp, rc);
		o = pp->out->data + pp->out->len;
		*o = ',';
		o += comma;
		o[0] = '"';
		pbj_copy(o + 1, p, n);
		o[n + 1] = '"';
		o[n + 2] = ':';
		pp->out->len += comma + n + 3;
		return 0;
	}
	if ((comma && putc1(pp, ',') < 0) || put_str(pp, p, n) < 0)
		return -1;
	return putc1(pp, ':');
}

/* One map entry of a map in a message at `level` (put_entry's output). */
static int fast_entry(struct pp *pp, const struct pb_message *em, const uint8_t *p,
		      const uint8_t *end, uint32_t level, uint32_t *nel, struct keylist *keys)
{
	const struct pb_field *kf = &em->fields[0], *vf = &em->fields[1];
	struct entry e;
	struct mkey k;
	int rc;

	if (level + 1 > PB_JSON_MAX_DEPTH)
		return -1;
	if (!entry_plain(em, p, end, &e) && parse_entry(pp, em, p, end, &e, false) < 0)
		return -1;
	if (vf->type == PB_TYPE_GROUP || (vf->type == PB_TYPE_MESSAGE && e.nvals > 1))
		return -1;
	if (kf->type == PB_TYPE_STRING && e.has_key) {
		k = (struct mkey){0, e.ka, (size_t)(e.kb - e.ka), 0};
		rc = put_str_key(pp, (*nel)++ > 0, k.s, k.n);
	} else {
		key_of(kf, &e, &k);
		if ((*nel)++ > 0 && putc1(pp, ',') < 0)
			return -1;
		rc = e.has_key ? put_scalar(pp, kf, e.kwire, e.ka, e.kb, true)
			       : put_scalar_default(pp, kf, true);
		if (rc == 0)
			rc = putc1(pp, ':');
	}
	if (rc < 0)
		return -1;
	if (vf->type == PB_TYPE_MESSAGE)
		rc = e.has_val ? fast_value(pp, vf->message, e.va, e.vb, level + 2)
			       : fast_value(pp, vf->message, zeros, zeros, level + 2);
	else if (vf->type == PB_TYPE_STRING && e.has_val)
		rc = put_str(pp, e.va, (size_t)(e.vb - e.va));
	else
		rc = e.has_val ? put_scalar(pp, vf, e.vwire, e.va, e.vb, false)
			       : put_scalar_default(pp, vf, false);
	if (rc < 0)
		return -1;
	return keylist_add(pp, keys, &k);
}

/*
 * Canonical order, as scan_msg decides it, checked field by field: `last`
 * is the number of the previous known field, `oneofs` the oneofs seen.
 */
static inline bool fast_in_order(const struct pb_field *f, uint32_t *last, uint64_t *oneofs)
{
	if (f->number < *last)
		return false;
	if (f->number == *last)
		return f->repeated || f->type != PB_TYPE_MESSAGE;
	if (f->oneof >= 0) {
		uint64_t bit = 1ull << (f->oneof & 63);

		if (*oneofs & bit)
			return false;
		*oneofs |= bit;
	}
	*last = f->number;
	return true;
}

/* Struct and ListValue (start_container's output): the occurrences of
 * field 1 as one JSON object or array. */
static int fast_container(struct pp *pp, const struct pb_message *m, const uint8_t *p,
			  const uint8_t *end, uint32_t level, bool is_struct)
{
	struct keylist keys;
	size_t mark = pp->sc.top;
	uint32_t last = 0, nel = 0;
	uint64_t oneofs = 0;

	keylist_reset(&keys);
	if (putc1(pp, is_struct ? '{' : '[') < 0)
		return -1;
	while (p < end) {
		const struct pb_field *f;
		const uint8_t *a, *b;
		uint32_t num;
		unsigned wire;

		p = read_field(p, end, &num, &wire, &a, &b);
		if (p == NULL)
			return -1;
		f = known(m, num, wire);
		if (f == NULL)
			continue;
		if (!fast_in_order(f, &last, &oneofs))
			return -1;
		if (num != 1)
			continue; /* canonical: field 1's run came first, if any */
		if (is_struct) {
			if (!f->map || fast_entry(pp, f->message, a, b, level, &nel, &keys) < 0)
				return -1;
			continue;
		}
		if (!f->repeated || f->type != PB_TYPE_MESSAGE ||
		    (nel++ > 0 && putc1(pp, ',') < 0) ||
		    fast_value(pp, f->message, a, b, level + 1) < 0)
			return -1;
	}
	if (is_struct && keys_repeat(pp, &keys) != 0)
		return -1;
	pp->sc.top = mark;
	return putc1(pp, is_struct ? '}' : ']');
}

/* google.protobuf.Value (begin_value's output) when one occurrence of
 * its last kind is all there is to print. */
static int fast_wkt_value(struct pp *pp, const struct pb_message *m, const uint8_t *p,
			  const uint8_t *end, uint32_t level)
{
	static const uint8_t kind_wire[7] = {0,           PB_WIRE_VARINT, PB_WIRE_I64,
					     PB_WIRE_LEN, PB_WIRE_VARINT, PB_WIRE_LEN,
					     PB_WIRE_LEN};
	const uint8_t *va = NULL, *vb = NULL;
	uint32_t kind = 0, nk = 0;

	while (p < end) {
		const uint8_t *a, *b;
		uint32_t num;
		unsigned wire;

		p = read_field(p, end, &num, &wire, &a, &b);
		if (p == NULL)
			return -1;
		if (num < 1 || num > 6 || wire != kind_wire[num])
			continue;
		nk = num == kind ? nk + 1 : 1;
		kind = num;
		va = a;
		vb = b;
	}
	switch (kind) {
	case 0:
	case 1: return put(pp, "null", 4);
	case 2: return put_double(pp, pb_bits_double(pb_get_le64(va)), false);
	case 3: return put_str(pp, va, (size_t)(vb - va));
	case 4: return varint_at(va) ? put(pp, "true", 4) : put(pp, "false", 5);
	default: {
		const struct pb_field *kf = field_of(m, kind);

		if (nk > 1 || kf == NULL || kf->message == NULL || level + 1 > PB_JSON_MAX_DEPTH)
			return -1;
		return fast_container(pp, kf->message, va, vb, level + 1, kind == 5);
	}
	}
}

/* Timestamp and Duration (put_time's output). */
static int fast_time(struct pp *pp, const struct pb_message *m, const uint8_t *p,
		     const uint8_t *end)
{
	int64_t sec = 0;
	int32_t ns = 0;
	int rc;

	while (p < end) {
		const uint8_t *a, *b;
		uint32_t num;
		unsigned wire;
		uint64_t v;

		/* Seconds and nanos (tags 0x08, 0x10): each varint read once. */
		if (*p == 0x08 || *p == 0x10) {
			bool is_sec = *p == 0x08;

			p = pb_get_varint(p + 1, end, &v);
			if (p == NULL)
				return -1;
			if (is_sec)
				sec = (int64_t)v;
			else
				ns = (int32_t)v;
			continue;
		}
		p = read_field(p, end, &num, &wire, &a, &b);
		if (p == NULL)
			return -1;
		if (wire != PB_WIRE_VARINT)
			continue;
		if (num == 1)
			sec = (int64_t)varint_at(a);
		else if (num == 2)
			ns = (int32_t)varint_at(a);
	}
	rc = m->wkt == PB_WKT_TIMESTAMP ? pbj_put_timestamp(pp->out, sec, ns)
					: pbj_put_duration(pp->out, sec, ns);
	return rc < 0 ? -1 : 0;
}

/* One element of a repeated scalar field: `"key":[` before the first. */
static inline int fast_elem(struct pp *pp, const struct pb_field *f, uint64_t raw, const uint8_t *a,
			    const uint8_t *b, uint32_t *nel, bool *first)
{
	if (f->type == PB_TYPE_ENUM && !enum_value_ok(f, raw))
		return -1; /* the frame printer skips it */
	if ((*nel)++ == 0) {
		if (put_key(pp, first, f) < 0 || putc1(pp, '[') < 0)
			return -1;
	} else if (putc1(pp, ',') < 0) {
		return -1;
	}
	if (f->type == PB_TYPE_STRING || f->type == PB_TYPE_BYTES)
		return put_scalar(pp, f, PB_WIRE_LEN, a, b, false);
	return put_number(pp, f, raw, false);
}

/* A packed chunk of a repeated scalar field. */
static int fast_packed(struct pp *pp, const struct pb_field *f, const uint8_t *p,
		       const uint8_t *end, uint32_t *nel, bool *first)
{
	while (p < end) {
		uint64_t raw;

		if (f->wire == PB_WIRE_VARINT) {
			p = pb_get_varint(p, end, &raw);
			if (p == NULL)
				return -1;
		} else if (f->wire == PB_WIRE_I64) {
			if (end - p < 8)
				return -1;
			raw = pb_get_le64(p);
			p += 8;
		} else {
			if (end - p < 4)
				return -1;
			raw = pb_get_le32(p);
			p += 4;
		}
		if (fast_elem(pp, f, raw, NULL, NULL, nel, first) < 0)
			return -1;
	}
	return 0;
}

/* `"key":"value"` for a string field: one reservation for both. */
static inline int put_key_str(struct pp *pp, bool *first, const struct pb_field *f,
			      const uint8_t *p, size_t n)
{
	const char *key = pp->opts.use_proto_names ? f->name_key : f->json_key;
	size_t keylen = pp->opts.use_proto_names ? f->name_key_len : f->json_key_len;
	uint8_t *o;
	int rc;

	if (key == NULL || n > 32 || !pbj_plain_short(p, n)) {
		if (put_key(pp, first, f) < 0)
			return -1;
		return put_str(pp, p, n);
	}
	if ((rc = pb_buf_ensure(pp->out, keylen + n + 2)) < 0)
		return oom(pp, rc);
	if (*first) {
		key++;
		keylen--;
		*first = false;
	}
	o = pp->out->data + pp->out->len;
	pbj_copy(o, key, keylen);
	o += keylen;
	o[0] = '"';
	pbj_copy(o + 1, p, n);
	o[n + 1] = '"';
	pp->out->len += keylen + n + 2;
	return 0;
}

/* A singular field (put_group's output for one occurrence). */
static int fast_single(struct pp *pp, const struct pb_field *f, unsigned wire, const uint8_t *a,
		       const uint8_t *b, uint32_t level, bool *first)
{
	uint64_t raw = 0;

	switch (f->type) {
	case PB_TYPE_MESSAGE:
		if (put_key(pp, first, f) < 0)
			return -1;
		return fast_value(pp, f->message, a, b, level + 1);
	case PB_TYPE_GROUP: return -1;
	case PB_TYPE_STRING:
	case PB_TYPE_BYTES:
		if (!f->has_presence && a == b)
			return pp->opts.emit_defaults ? put_default(pp, first, f) : 0;
		if (f->type == PB_TYPE_STRING)
			return put_key_str(pp, first, f, a, (size_t)(b - a));
		if (put_key(pp, first, f) < 0)
			return -1;
		return put_scalar(pp, f, wire, a, b, false);
	default:
		raw = raw_value(wire, a);
		if (f->type == PB_TYPE_ENUM && !enum_value_ok(f, raw))
			return -1; /* the frame printer drops it */
		if (!f->has_presence && (raw_is_32(f) ? (uint32_t)raw == 0 : raw == 0))
			return pp->opts.emit_defaults ? put_default(pp, first, f) : 0;
		if (put_key(pp, first, f) < 0)
			return -1;
		return put_number(pp, f, raw, false);
	}
}

/* The end of a repeated field's run. */
static int fast_close(struct pp *pp, const struct pb_field *f, uint32_t nel, struct keylist *keys,
		      bool *first)
{
	if (f->map)
		return keys_repeat(pp, keys) != 0 ? -1 : putc1(pp, '}');
	if (nel > 0 || f->type == PB_TYPE_MESSAGE)
		return putc1(pp, ']');
	/* Only empty packed chunks: the frame printer found no element. */
	return pp->opts.emit_defaults ? put_default(pp, first, f) : 0;
}

/* A message's fields as a JSON object (the P_MSG frame's output). */
static int fast_fields(struct pp *pp, const struct pb_message *m, const uint8_t *p,
		       const uint8_t *end, uint32_t level)
{
	const struct pb_field *rf = NULL; /* the repeated field whose run is open */
	struct keylist keys;
	size_t mark = pp->sc.top;
	uint32_t last = 0, next_fidx = 0, nel = 0;
	uint64_t oneofs = 0;
	bool first = true;

	keylist_reset(&keys);
	if (putc1(pp, '{') < 0)
		return -1;
	while (p < end) {
		const struct pb_field *f;
		const uint8_t *a, *b;
		uint32_t num;
		unsigned wire;

		p = read_field(p, end, &num, &wire, &a, &b);
		if (p == NULL)
			return -1;
		f = known(m, num, wire);
		if (f == NULL)
			continue;
		if (num != last) {
			if (!fast_in_order(f, &last, &oneofs))
				return -1;
			if (rf != NULL && fast_close(pp, rf, nel, &keys, &first) < 0)
				return -1;
			rf = NULL;
			pp->sc.top = mark;
			if (pp->opts.emit_defaults) {
				uint32_t fidx = (uint32_t)(f - m->fields);

				for (; next_fidx < fidx; next_fidx++)
					if (put_default(pp, &first, &m->fields[next_fidx]) < 0)
						return -1;
				next_fidx = fidx + 1;
			}
			if (!f->repeated) {
				if (fast_single(pp, f, wire, a, b, level, &first) < 0)
					return -1;
				continue;
			}
			if (f->type == PB_TYPE_GROUP)
				return -1;
			rf = f;
			nel = 0;
			keylist_reset(&keys);
			if (f->type == PB_TYPE_MESSAGE &&
			    (put_key(pp, &first, f) < 0 || putc1(pp, f->map ? '{' : '[') < 0))
				return -1;
		} else if (!f->repeated) {
			return -1; /* the last value wins, or two messages merge */
		}
		if (f->map) {
			if (fast_entry(pp, f->message, a, b, level, &nel, &keys) < 0)
				return -1;
		} else if (f->type == PB_TYPE_MESSAGE) {
			if ((nel++ > 0 && putc1(pp, ',') < 0) ||
			    fast_value(pp, f->message, a, b, level + 1) < 0)
				return -1;
		} else if (wire == PB_WIRE_LEN && f->wire != PB_WIRE_LEN) {
			if (fast_packed(pp, f, a, b, &nel, &first) < 0)
				return -1;
		} else if (fast_elem(pp, f, f->wire == PB_WIRE_LEN ? 0 : raw_value(wire, a), a, b,
				     &nel, &first) < 0) {
			return -1;
		}
	}
	if (rf != NULL && fast_close(pp, rf, nel, &keys, &first) < 0)
		return -1;
	pp->sc.top = mark;
	if (pp->opts.emit_defaults)
		for (; next_fidx < m->nfields; next_fidx++)
			if (put_default(pp, &first, &m->fields[next_fidx]) < 0)
				return -1;
	return putc1(pp, '}');
}

/*
 * A well-known type's value at `level`.  Out of line: plain messages, the
 * usual case, should not pay for its stack frame.
 */
static __attribute__((noinline)) int fast_wkt_rare(struct pp *pp, const struct pb_message *m,
						   const uint8_t *p, const uint8_t *end,
						   uint32_t level)
{
	struct seg s = {p, end};
	const uint8_t *a, *b;
	size_t mark;
	int rc;

	switch (m->wkt) {
	case PB_WKT_FIELD_MASK:
		mark = pp->sc.top;
		rc = put_field_mask(pp, &s, 1);
		pp->sc.top = mark;
		return rc;
	case PB_WKT_ANY: return -1;
	default:
		if (is_wrapper(m->wkt) && m->nfields >= 1) {
			const struct pb_field *vf = &m->fields[0];

			rc = last_field(pp, &s, 1, 1, vf->wire, &a, &b);
			if (rc == 1)
				return put_scalar(pp, vf, vf->wire, a, b, false);
			return rc == 0 ? put_scalar_default(pp, vf, false) : -1;
		}
		return fast_fields(pp, m, p, end, level);
	}
}

static __attribute__((noinline)) int fast_wkt(struct pp *pp, const struct pb_message *m,
					      const uint8_t *p, const uint8_t *end, uint32_t level)
{
	switch (m->wkt) {
	case PB_WKT_TIMESTAMP:
	case PB_WKT_DURATION: return fast_time(pp, m, p, end);
	case PB_WKT_VALUE: return fast_wkt_value(pp, m, p, end, level);
	case PB_WKT_STRUCT:
	case PB_WKT_LIST_VALUE:
		return fast_container(pp, m, p, end, level, m->wkt == PB_WKT_STRUCT);
	default: return fast_wkt_rare(pp, m, p, end, level);
	}
}

/* A message value at `level` (begin_msg's output, frames run to the end). */
static inline int fast_value(struct pp *pp, const struct pb_message *m, const uint8_t *p,
			     const uint8_t *end, uint32_t level)
{
	if (level > PB_JSON_MAX_DEPTH)
		return -1;
	if (m->wkt == PB_WKT_NONE)
		return fast_fields(pp, m, p, end, level);
	return fast_wkt(pp, m, p, end, level);
}

static void pp_init(struct pp *pp, const struct pb_schema *schema,
		    const struct pb_json_print_opts *opts, struct pb_buf *out,
		    struct pb_json_error *err)
{
	pp->out = out;
	pp->schema = schema;
	if (opts != NULL)
		pp->opts = *opts;
	else
		memset(&pp->opts, 0, sizeof(pp->opts));
	pp->err = err;
	pp->nframes = 0;
	pp->alloc_rc = 0;
	pp->sc.base = pp->sc_inline;
	pp->sc.top = 0;
	pp->sc.cap = sizeof(pp->sc_inline);
	pp->sc.heap = NULL;
	pp->sc.limit = 0; /* bounded by the input: one entry per field read */
	if (err != NULL) {
		err->path[0] = err->message[0] = '\0';
		err->offset = 0;
	}
}

/* The one-pass printer: 0, or -1 with nothing appended when it gives up. */
static int print_fast(struct pp *pp, const struct pb_message *m, const uint8_t *data, size_t len)
{
	size_t before = pp->out->len;

	/* It refuses a zero or end-group tag at the top, so it never needs
	 * top_level_end's cut. */
	if (fast_value(pp, m, data != NULL ? data : zeros, data != NULL ? data + len : zeros, 0) ==
	    0)
		return 0;
	pp->out->len = before;
	return -1;
}

/* The frame printer: 0, or -1 / -ENOMEM / -E2BIG with err filled. */
static int print_frames(struct pp *pp, const struct pb_message *m, const uint8_t *data, size_t len)
{
	struct seg s = {zeros, zeros};
	size_t before = pp->out->len;
	int rc;

	if (data != NULL) {
		s.p = data;
		s.end = top_level_end(data, data + len);
	}
	rc = begin_msg(pp, m, &s, 1, 0);
	while (rc >= 0 && pp->nframes > 0)
		rc = step(pp, &pp->frames[pp->nframes - 1]);
	if (rc < 0) {
		pp->out->len = before;
		return pp->alloc_rc < 0 ? pp->alloc_rc : -1;
	}
	return 0;
}

int pb_proto_to_json(const struct pb_schema *schema, const struct pb_message *m,
		     const uint8_t *data, size_t len, const struct pb_json_print_opts *opts,
		     struct pb_buf *out, struct pb_json_error *err)
{
	struct pp ctx;
	int rc;

	pp_init(&ctx, schema, opts, out, err);
	rc = print_fast(&ctx, m, data, len);
	if (rc < 0) {
		/* Start again, and let the frame printer say what is wrong. */
		pbj_scratch_free(&ctx.sc);
		pp_init(&ctx, schema, opts, out, err);
		rc = print_frames(&ctx, m, data, len);
	}
	pbj_scratch_free(&ctx.sc);
	return rc;
}
