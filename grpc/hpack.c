/*
 * hpack.c - HPACK (RFC 7541): integers, the dynamic table, the decoder and
 * the encoder.  The static table lives in hpack_static.c, the Huffman code
 * in hpack_huffman*.c.
 *
 * The one idea: a dynamic table is a pair of rings inside a single
 * allocation, so a connection's HPACK state costs one malloc at set-up and
 * nothing per header.  The decoder hands out slices and copies only what
 * must be copied into storage the caller lends; the encoder writes straight
 * into the caller's frame buffer.
 */
#include "hpack.h"
#include "hpack_internal.h"
#include "bytes_eq.h"

#include <assert.h>
#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* Per-entry overhead in the table's size accounting (RFC 7541 4.1). */
#define ENTRY_OVERHEAD 32u
/* First dynamic-table index (RFC 7541 2.3.3). */
#define DYNAMIC_BASE (HPACK_STATIC_COUNT + 1)

const char *hpack_error_name(int e)
{
	switch (e) {
	case HPACK_OK: return "ok";
	case HPACK_E_TRUNCATED: return "truncated";
	case HPACK_E_INTEGER: return "integer";
	case HPACK_E_STRING_LENGTH: return "string_length";
	case HPACK_E_HUFFMAN: return "huffman";
	case HPACK_E_INDEX: return "index";
	case HPACK_E_SIZE_UPDATE: return "size_update";
	case HPACK_E_LIST_TOO_LARGE: return "header_list_too_large";
	case HPACK_E_SCRATCH_FULL: return "scratch_full";
	case HPACK_E_TOO_MANY_HEADERS: return "too_many_headers";
	case HPACK_E_BUFFER: return "buffer";
	}
	return "unknown";
}

/* ---- Integers (RFC 7541 5.1) ---------------------------------------- */

int hpack_int_decode(const uint8_t **pp, const uint8_t *end, unsigned prefix, uint32_t *v)
{
	const uint8_t *p = *pp;
	uint32_t mask = (1u << prefix) - 1;
	uint32_t x;

	assert(prefix >= 1 && prefix <= 8);
	if (p == end)
		return HPACK_E_TRUNCATED;
	x = *p++ & mask;
	if (x == mask) {
		/* At most 4 continuation octets: 28 bits cover HPACK_STRING_MAX
		 * whatever the prefix, and x never nears 2^32. */
		for (unsigned shift = 0;; shift += 7) {
			uint8_t b;

			if (p == end)
				return HPACK_E_TRUNCATED;
			if (shift == 28)
				return HPACK_E_INTEGER;
			b = *p++;
			x += (uint32_t)(b & 0x7f) << shift;
			if (x > HPACK_STRING_MAX)
				return HPACK_E_INTEGER;
			if (!(b & 0x80))
				break;
		}
	}
	*pp = p;
	*v = x;
	return 0;
}

uint8_t *hpack_int_encode(uint8_t *out, uint8_t high, unsigned prefix, uint32_t v)
{
	uint32_t mask = (1u << prefix) - 1;

	assert(prefix >= 1 && prefix <= 8 && !(high & mask));
	assert(v <= HPACK_STRING_MAX);
	if (v < mask) {
		*out++ = (uint8_t)(high | v);
		return out;
	}
	*out++ = (uint8_t)(high | mask);
	v -= mask;
	while (v >= 0x80) {
		*out++ = (uint8_t)(0x80 | (v & 0x7f));
		v >>= 7;
	}
	*out++ = (uint8_t)v;
	return out;
}

/* ---- The dynamic table (RFC 7541 2.3.2, 4) -------------------------- */

/*
 * Two rings in the owner's single allocation:
 *
 *   +-------------+------------------------+------------------+-----------+
 *   | owner struct| ent[slots]             | data[cap]        | (decoder: |
 *   |             | oldest at `first`,     | name+value bytes,|  staging  |
 *   |             | newest at first+count-1| wrapping at cap  |  [cap])   |
 *   +-------------+------------------------+------------------+-----------+
 *
 * data[] holds the entries' names and values back to back in insertion
 * order, starting at the oldest entry's `off` and ending at `head`; an entry
 * may wrap around the end.  Live bytes total size - 32 * count, and size <=
 * max <= cap, so the rings never overrun: slots is a power of two >= cap/32
 * because every entry costs at least 32.
 */
struct hpack_entry {
	uint32_t off; /* data[] offset of the name; the value follows */
	uint32_t name_len;
	uint32_t value_len;
	uint32_t name_hash;  /* encoder only */
	uint32_t field_hash; /* encoder only: name and value */
};

struct hpack_table {
	struct hpack_entry *ent;
	char *data;
	uint32_t mask;  /* slots - 1 */
	uint32_t cap;   /* bytes in data[]: the most `max` can be */
	uint32_t max;   /* maximum size now (RFC 7541 4.2) */
	uint32_t size;  /* sum of name + value + 32 over the entries */
	uint32_t first; /* slot of the oldest entry */
	uint32_t count;
	uint32_t head;        /* data[] offset for the next entry's bytes */
	uint64_t gen;         /* bumped by every insertion, eviction and resize */
	uint64_t checked_gen; /* gen when table_check last ran */
};

static uint32_t table_slots(uint32_t cap)
{
	uint32_t n = 1;

	while (n < cap / ENTRY_OVERHEAD)
		n <<= 1;
	return n;
}

/*
 * Lay out an owner struct of `head` bytes, its table and `extra` bytes
 * per table byte after data[] (the decoder's staging area) in one block.
 */
static void *table_alloc(struct hpack_table *t0, size_t head, uint32_t cap, unsigned extra,
			 char **after)
{
	uint32_t slots = table_slots(cap);
	size_t ent_off =
		(head + alignof(struct hpack_entry) - 1) & ~(alignof(struct hpack_entry) - 1);
	size_t data_off = ent_off + (size_t)slots * sizeof(struct hpack_entry);
	char *mem = malloc(data_off + (size_t)cap * (1 + extra));

	if (!mem)
		return NULL;
	memset(t0, 0, sizeof(*t0));
	t0->ent = (struct hpack_entry *)(void *)(mem + ent_off);
	t0->data = mem + data_off;
	t0->mask = slots - 1;
	t0->cap = cap;
	t0->gen = 1;
	*after = mem + data_off + cap;
	return mem;
}

/* (off + n) mod cap for off < cap (or 0) and n <= cap. */
static inline uint32_t ring_add(const struct hpack_table *t, uint32_t off, uint32_t n)
{
	uint32_t r = off + n;

	assert(n <= t->cap && (off < t->cap || off == 0));
	return r >= t->cap ? r - t->cap : r;
}

static void ring_read(const struct hpack_table *t, uint32_t off, uint32_t n, char *dst)
{
	uint32_t k = t->cap - off; /* bytes before the wrap */

	if (n == 0)
		return;
	if (n <= k) {
		memcpy(dst, t->data + off, n);
	} else {
		memcpy(dst, t->data + off, k);
		memcpy(dst + k, t->data, n - k);
	}
}

static void ring_write(struct hpack_table *t, uint32_t off, const char *src, uint32_t n)
{
	uint32_t k = t->cap - off;

	if (n == 0)
		return;
	assert(src);
	if (n <= k) {
		memcpy(t->data + off, src, n);
	} else {
		memcpy(t->data + off, src, k);
		memcpy(t->data, src + k, n - k);
	}
}

static bool ring_eq(const struct hpack_table *t, uint32_t off, const char *s, uint32_t n)
{
	uint32_t k = t->cap - off;

	if (n == 0)
		return true;
	if (n <= k)
		return memcmp(t->data + off, s, n) == 0;
	return memcmp(t->data + off, s, k) == 0 && memcmp(t->data, s + k, n - k) == 0;
}

/* Entry i, 0 being the newest (HPACK index 62). */
static inline const struct hpack_entry *table_entry(const struct hpack_table *t, uint32_t i)
{
	assert(i < t->count);
	return &t->ent[(t->first + t->count - 1 - i) & t->mask];
}

static inline uint32_t entry_value_off(const struct hpack_table *t, const struct hpack_entry *e)
{
	return ring_add(t, e->off, e->name_len);
}

/* The invariants everything above relies on; O(count), so run at the end
 * of a block, and only when the table changed since the last run. */
static void table_check(struct hpack_table *t)
{
#ifndef NDEBUG
	if (t->gen == t->checked_gen)
		return;
	t->checked_gen = t->gen;
	uint32_t off = t->count ? t->ent[t->first].off : 0;
	uint64_t size = 0;

	assert(t->max <= t->cap && t->size <= t->max);
	assert(t->count <= t->mask + 1 && t->first <= t->mask);
	for (uint32_t i = t->count; i-- > 0;) {
		const struct hpack_entry *e = table_entry(t, i);

		assert(e->off == off);
		assert(e->name_len + e->value_len + ENTRY_OVERHEAD <= t->max);
		off = ring_add(t, off, e->name_len + e->value_len);
		size += e->name_len + e->value_len + ENTRY_OVERHEAD;
	}
	assert(off == t->head);
	assert(size == t->size);
#else
	(void)t;
#endif
}

static void table_evict(struct hpack_table *t)
{
	const struct hpack_entry *e = &t->ent[t->first];
	uint32_t sz = e->name_len + e->value_len + ENTRY_OVERHEAD;

	assert(t->count > 0 && t->size >= sz);
	t->gen++;
	t->size -= sz;
	t->first = (t->first + 1) & t->mask;
	if (--t->count == 0) {
		/* Restart at the beginning: fewer entries wrap. */
		assert(t->size == 0);
		t->first = 0;
		t->head = 0;
	}
}

static void table_clear(struct hpack_table *t)
{
	while (t->count)
		table_evict(t);
}

static void table_set_max(struct hpack_table *t, uint32_t max)
{
	assert(max <= t->cap);
	t->max = max;
	t->gen++;
	while (t->size > max)
		table_evict(t);
}

/*
 * Add an entry (RFC 7541 4.4).  The strings must not point into t->data:
 * the eviction below may reuse those bytes.
 */
static void table_insert(struct hpack_table *t, const char *name, uint32_t name_len,
			 const char *value, uint32_t value_len, uint32_t name_hash,
			 uint32_t field_hash)
{
	uint64_t sz = (uint64_t)name_len + value_len + ENTRY_OVERHEAD;
	struct hpack_entry *e;

	if (sz > t->max) {
		/* Not an error: the table just ends up empty. */
		table_clear(t);
		return;
	}
	while (t->size + sz > t->max)
		table_evict(t);
	assert(t->count <= t->mask);
	t->gen++;
	e = &t->ent[(t->first + t->count) & t->mask];
	e->off = t->head;
	e->name_len = name_len;
	e->value_len = value_len;
	e->name_hash = name_hash;
	e->field_hash = field_hash;
	ring_write(t, t->head, name, name_len);
	ring_write(t, ring_add(t, t->head, name_len), value, value_len);
	t->head = ring_add(t, t->head, name_len + value_len);
	t->count++;
	t->size += (uint32_t)sz;
}

uint32_t hpack_table_count(const struct hpack_table *t)
{
	return t->count;
}

uint32_t hpack_table_size(const struct hpack_table *t)
{
	return t->size;
}

uint32_t hpack_table_max(const struct hpack_table *t)
{
	return t->max;
}

int hpack_table_get(const struct hpack_table *t, uint32_t i, char *buf, size_t cap,
		    struct hpack_header *h)
{
	const struct hpack_entry *e;

	if (i >= t->count)
		return -1;
	e = table_entry(t, i);
	if ((size_t)e->name_len + e->value_len > cap)
		return -1;
	ring_read(t, e->off, e->name_len, buf);
	ring_read(t, entry_value_off(t, e), e->value_len, buf + e->name_len);
	h->name = (hpack_slice){buf, e->name_len};
	h->value = (hpack_slice){buf + e->name_len, e->value_len};
	h->flags = 0;
	return 0;
}

/* ---- Decoder -------------------------------------------------------- */

struct hpack_decoder {
	struct hpack_table t;
	/*
	 * cap bytes for strings headed for the table once the caller's
	 * scratch is spent: the block must still be processed to keep the
	 * table in sync (RFC 9113 10.5.1), and an entry never exceeds cap.
	 */
	char *staging;
	uint32_t limit;    /* the SETTINGS_HEADER_TABLE_SIZE we advertise */
	uint32_t low_mark; /* the least limit since the last block */
	bool need_update;  /* the next block must open with an update <= low_mark */
	uint32_t max_list;
};

struct hpack_decoder *hpack_decoder_new(uint32_t table_size, uint32_t initial_size,
					uint32_t max_list_size)
{
	struct hpack_table t;
	struct hpack_decoder *d;
	char *staging;

	if (table_size > HPACK_TABLE_SIZE_MAX)
		return NULL;
	d = table_alloc(&t, sizeof(*d), table_size, 1, &staging);
	if (!d)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->t = t;
	d->staging = staging;
	d->limit = table_size;
	d->max_list = max_list_size;
	if (initial_size > table_size) {
		/* The peer starts bigger than we allow: it must shrink first. */
		d->t.max = table_size;
		d->need_update = true;
		d->low_mark = table_size;
	} else {
		d->t.max = initial_size;
	}
	return d;
}

void hpack_decoder_free(struct hpack_decoder *d)
{
	free(d);
}

void hpack_decoder_set_max(struct hpack_decoder *d, uint32_t size)
{
	assert(size <= d->t.cap);
	if (size > d->t.cap)
		size = d->t.cap;
	d->limit = size;
	if (size < d->t.max) {
		/* The encoder must signal the least size of the interval (4.2). */
		if (!d->need_update || size < d->low_mark)
			d->low_mark = size;
		d->need_update = true;
	}
}

void hpack_decoder_set_max_list(struct hpack_decoder *d, uint32_t max_list_size)
{
	d->max_list = max_list_size;
}

const struct hpack_table *hpack_decoder_table(const struct hpack_decoder *d)
{
	return &d->t;
}

/*
 * Dynamic-table strings are handed out in place, pointing into the
 * table's ring, and copied only if a later field of the block inserts (an
 * insertion may overwrite them).  A steady gRPC response inserts nothing,
 * so its indexed fields cost no copy.  Each header with such a string is
 * listed until then; past RING_REFS_MAX, strings are copied at once.
 */
#define RING_REFS_MAX 16u

struct dctx {
	struct hpack_decoder *d;
	struct hpack_decoded *out;
	const uint8_t *p, *end;
	uint32_t staged;    /* staging bytes used by the current field */
	int refused;        /* first header-list error; decoding goes on */
	bool field_in_ring; /* the field being decoded points into the ring */
	uint32_t nrefs;
	uint32_t refs[RING_REFS_MAX]; /* indexes into out->headers, ascending */
};

/* n bytes of the caller's scratch, or NULL once the list is refused. */
static char *scratch_take(struct dctx *c, size_t n)
{
	struct hpack_decoded *o = c->out;
	char *p;

	if (c->refused)
		return NULL;
	if (o->scratch_cap - o->scratch_used < n) {
		c->refused = HPACK_E_SCRATCH_FULL;
		return NULL;
	}
	p = o->scratch + o->scratch_used;
	o->scratch_used += n;
	return p;
}

/*
 * Copy a string of a dynamic entry out of the ring (a later field may evict
 * it).  Into the scratch while the list is accepted; else into staging if
 * it is headed for the table, else nowhere (base NULL: never used).
 */
static void stash_entry_string(struct dctx *c, uint32_t off, uint32_t len, bool for_table,
			       hpack_slice *s)
{
	struct hpack_decoder *d = c->d;
	char *dst;

	s->len = len;
	s->base = "";
	if (len == 0)
		return;
	dst = scratch_take(c, len);
	if (!dst && for_table) {
		assert(c->staged + len <= d->t.cap);
		dst = d->staging + c->staged;
		c->staged += len;
	}
	if (dst)
		ring_read(&d->t, off, len, dst);
	s->base = dst;
}

/*
 * A string of a dynamic entry for the current field: in place when it is
 * contiguous in the ring and the field can be listed (see RING_REFS_MAX),
 * else copied like one headed for the table.
 */
static void entry_string(struct dctx *c, uint32_t off, uint32_t len, bool for_table, hpack_slice *s)
{
	const struct hpack_table *t = &c->d->t;

	if (!for_table && !c->refused && len && len <= t->cap - off &&
	    (c->field_in_ring || c->nrefs < RING_REFS_MAX)) {
		*s = (hpack_slice){t->data + off, len};
		c->field_in_ring = true;
		return;
	}
	stash_entry_string(c, off, len, for_table, s);
}

static bool in_ring(const struct hpack_table *t, const char *p)
{
	return p >= t->data && p < t->data + t->cap;
}

/*
 * Before the table changes: copy the listed headers' ring strings into the
 * scratch.  If it is full the list is refused and cut before the first
 * header that could not be copied, so `count` headers stay valid.
 */
static void pin_ring_strings(struct dctx *c)
{
	const struct hpack_table *t = &c->d->t;
	struct hpack_decoded *o = c->out;

	for (uint32_t i = 0; i < c->nrefs; i++) {
		struct hpack_header *h = &o->headers[c->refs[i]];
		hpack_slice *str[2] = {&h->name, &h->value};

		for (unsigned k = 0; k < 2; k++) {
			if (!in_ring(t, str[k]->base))
				continue;
			char *dst = scratch_take(c, str[k]->len);
			if (!dst) {
				o->count = c->refs[i];
				c->nrefs = 0;
				return;
			}
			memcpy(dst, str[k]->base, str[k]->len);
			str[k]->base = dst;
		}
	}
	c->nrefs = 0;
}

/* Resolve an index (RFC 7541 2.3.3) to a name, and a value if asked for. */
static int lookup(struct dctx *c, uint32_t idx, bool for_table, hpack_slice *name,
		  hpack_slice *value)
{
	const struct hpack_table *t = &c->d->t;
	const struct hpack_entry *e;

	if (idx == 0)
		return HPACK_E_INDEX;
	if (idx < DYNAMIC_BASE) {
		const struct hpack_static_entry *s = &hpack_static_table[idx];

		*name = (hpack_slice){s->name, s->name_len};
		if (value)
			*value = (hpack_slice){s->value, s->value_len};
		return 0;
	}
	if (idx - DYNAMIC_BASE >= t->count)
		return HPACK_E_INDEX;
	e = table_entry(t, idx - DYNAMIC_BASE);
	entry_string(c, e->off, e->name_len, for_table, name);
	if (value)
		entry_string(c, entry_value_off(t, e), e->value_len, false, value);
	return 0;
}

/*
 * A string literal (RFC 7541 5.2).  Raw strings stay in the block.  Huffman
 * ones are decoded into the scratch, or, once the list is refused, into
 * staging if headed for the table (*oversize when even that cannot hold
 * them: then the entry is larger than the table), else only validated.
 */
static int read_string(struct dctx *c, bool for_table, bool *oversize, hpack_slice *s)
{
	struct hpack_decoder *d = c->d;
	const uint8_t *src;
	uint32_t len;
	bool huff;
	ssize_t n;
	int rc;

	if (c->p == c->end)
		return HPACK_E_TRUNCATED;
	huff = *c->p & 0x80;
	rc = hpack_int_decode(&c->p, c->end, 7, &len);
	if (rc)
		return rc;
	if (len > (size_t)(c->end - c->p))
		return HPACK_E_STRING_LENGTH;
	src = c->p;
	c->p += len;
	if (!huff) {
		*s = (hpack_slice){(const char *)src, len};
		return 0;
	}
	if (!c->refused) {
		struct hpack_decoded *o = c->out;
		char *dst = o->scratch ? o->scratch + o->scratch_used : NULL;

		n = hpack_huff_decode(dst, o->scratch_cap - o->scratch_used, src, len);
		if (n >= 0) {
			*s = (hpack_slice){n ? dst : "", (size_t)n};
			o->scratch_used += (size_t)n;
			return 0;
		}
		if (n != HPACK_E_SCRATCH_FULL)
			return (int)n;
		c->refused = HPACK_E_SCRATCH_FULL;
	}
	if (for_table && !*oversize) {
		char *dst = d->staging + c->staged;

		n = hpack_huff_decode(dst, d->t.cap - c->staged, src, len);
		if (n >= 0) {
			*s = (hpack_slice){dst, (size_t)n};
			c->staged += (uint32_t)n;
			return 0;
		}
		if (n != HPACK_E_SCRATCH_FULL)
			return (int)n;
		*oversize = true;
	}
	n = hpack_huff_check(src, len);
	if (n < 0)
		return (int)n;
	*s = (hpack_slice){NULL, (size_t)n};
	return 0;
}

/* Hand a field to the caller unless the list is (now) refused. */
static void emit(struct dctx *c, hpack_slice name, hpack_slice value, unsigned flags)
{
	struct hpack_decoded *o = c->out;
	size_t sz = name.len + value.len + ENTRY_OVERHEAD;

	o->list_size = o->list_size > SIZE_MAX - sz ? SIZE_MAX : o->list_size + sz;
	if (c->refused)
		return;
	if (o->list_size > c->d->max_list) {
		c->refused = HPACK_E_LIST_TOO_LARGE;
		return;
	}
	if (o->count == o->max_headers) {
		c->refused = HPACK_E_TOO_MANY_HEADERS;
		return;
	}
	assert(name.base && value.base);
	if (c->field_in_ring)
		c->refs[c->nrefs++] = (uint32_t)o->count;
	o->headers[o->count++] = (struct hpack_header){name, value, flags};
}

/* Indexed Header Field (RFC 7541 6.1). */
static int indexed(struct dctx *c)
{
	hpack_slice name, value;
	uint32_t idx;
	int rc;

	rc = hpack_int_decode(&c->p, c->end, 7, &idx);
	if (rc)
		return rc;
	rc = lookup(c, idx, false, &name, &value);
	if (rc)
		return rc;
	emit(c, name, value, 0);
	return 0;
}

/* Literal Header Field with / without / never indexing (RFC 7541 6.2). */
static int literal(struct dctx *c)
{
	uint8_t b = *c->p;
	bool incr = b & 0x40;
	unsigned flags = !incr && (b & 0x10) ? HPACK_F_SENSITIVE : 0;
	bool oversize = false;
	hpack_slice name, value;
	uint32_t idx;
	int rc;

	rc = hpack_int_decode(&c->p, c->end, incr ? 6 : 4, &idx);
	if (rc)
		return rc;
	c->staged = 0;
	if (idx)
		rc = lookup(c, idx, incr, &name, NULL);
	else
		rc = read_string(c, incr, &oversize, &name);
	if (rc)
		return rc;
	rc = read_string(c, incr, &oversize, &value);
	if (rc)
		return rc;
	if (incr) {
		pin_ring_strings(c);
		if (oversize)
			table_clear(&c->d->t);
		else
			table_insert(&c->d->t, name.base, (uint32_t)name.len, value.base,
				     (uint32_t)value.len, 0, 0);
	}
	emit(c, name, value, flags);
	return 0;
}

/* Dynamic Table Size Update (RFC 7541 6.3, 4.2). */
static int size_update(struct dctx *c, bool at_start)
{
	struct hpack_decoder *d = c->d;
	uint32_t v;
	int rc;

	if (!at_start)
		return HPACK_E_SIZE_UPDATE;
	rc = hpack_int_decode(&c->p, c->end, 5, &v);
	if (rc)
		return rc;
	if (v > d->limit)
		return HPACK_E_SIZE_UPDATE;
	if (d->need_update && v <= d->low_mark)
		d->need_update = false;
	table_set_max(&d->t, v);
	return 0;
}

int hpack_decode(struct hpack_decoder *d, const uint8_t *block, size_t len,
		 struct hpack_decoded *out)
{
	struct dctx c = {.d = d, .out = out, .p = block, .end = len ? block + len : block};
	bool at_start = true;

	assert(out->scratch || !out->scratch_cap);
	assert(out->headers || !out->max_headers);
	out->count = 0;
	out->scratch_used = 0;
	out->list_size = 0;
	out->error_at = 0;
	while (c.p < c.end) {
		const uint8_t *at = c.p;
		uint8_t b = *c.p;
		int rc = 0;

		c.field_in_ring = false;
		if ((b & 0xe0) == 0x20) {
			rc = size_update(&c, at_start);
		} else {
			if (at_start && d->need_update)
				rc = HPACK_E_SIZE_UPDATE;
			at_start = false;
			if (!rc)
				rc = (b & 0x80) ? indexed(&c) : literal(&c);
		}
		if (rc) {
			out->error_at = (size_t)(at - block);
			return rc;
		}
	}
	if (d->need_update) {
		/* An empty block, or updates that do not go low enough. */
		out->error_at = len;
		return HPACK_E_SIZE_UPDATE;
	}
	table_check(&d->t);
	return c.refused;
}

/* ---- Encoder -------------------------------------------------------- */

/*
 * The octets of each field of the last block that came out as a single
 * index, by position.  A gRPC client sends the same fixed fields in the
 * same order on every call (method, scheme, path, authority, content
 * type, te, user agent), and while the table has not changed since
 * (same gen) the same field is the same index: those fields then cost a
 * compare instead of a static-table search, two hashes and a dynamic
 * table scan.  A volatile field (request id, deadline) that went out as
 * a literal naming an indexed name keeps that name's octets instead
 * (name_only): the next value follows them raw.
 */
#define MEMO_FIELDS 16u
#define MEMO_BYTES  120u

struct enc_memo {
	uint64_t gen; /* table generation it holds for; 0: empty */
	uint16_t name_len, value_len;
	uint8_t flags;
	uint8_t out_len;
	bool name_only;         /* out is a literal's prefix: the value follows raw */
	uint8_t out[6];         /* an index of up to 2^28-1 takes 5 octets */
	char bytes[MEMO_BYTES]; /* name, then value (unless name_only) */
};

struct hpack_encoder {
	struct hpack_table t;
	uint32_t pending_min; /* least table max since the last block */
	bool pending;         /* the next block opens with size update(s) */
	unsigned flags;
	struct enc_memo memo[MEMO_FIELDS];
};

struct hpack_encoder *hpack_encoder_new(uint32_t max_size, uint32_t initial_size, unsigned flags)
{
	struct hpack_table t;
	struct hpack_encoder *e;
	char *end;

	if (max_size > HPACK_TABLE_SIZE_MAX)
		return NULL;
	e = table_alloc(&t, sizeof(*e), max_size, 0, &end);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->t = t;
	e->flags = flags;
	e->t.max = initial_size < max_size ? initial_size : max_size;
	if (max_size < initial_size) {
		e->pending = true;
		e->pending_min = max_size;
	}
	return e;
}

void hpack_encoder_free(struct hpack_encoder *e)
{
	free(e);
}

void hpack_encoder_set_peer_max(struct hpack_encoder *e, uint32_t peer_size)
{
	uint32_t v = peer_size < e->t.cap ? peer_size : e->t.cap;

	if (v == e->t.max && !e->pending)
		return;
	if (!e->pending || v < e->pending_min)
		e->pending_min = v;
	e->pending = true;
	/* Evicting now matches what the peer does on the smallest update. */
	table_set_max(&e->t, v);
}

const struct hpack_table *hpack_encoder_table(const struct hpack_encoder *e)
{
	return &e->t;
}

static inline uint64_t load64(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

static inline uint64_t load32(const char *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

/*
 * A fast 32-bit hash for the dynamic-table lookup; only this process sees
 * it, so byte order does not matter.  The tail is read with fixed-size,
 * possibly overlapping loads: a variable-length memcpy would be a libc call
 * per header.
 */
static uint32_t hash_bytes(uint32_t seed, const char *s, size_t n)
{
	uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ull);
	uint64_t w;

	if (n >= 8) {
		const char *last = s + n - 8;

		for (; s < last; s += 8) {
			h = (h ^ load64(s)) * 0xff51afd7ed558ccdull;
			h ^= h >> 32;
		}
		w = load64(last);
	} else if (n >= 4) {
		w = load32(s) | load32(s + n - 4) << 32;
	} else if (n > 0) {
		w = (uint64_t)(uint8_t)s[0] | (uint64_t)(uint8_t)s[n / 2] << 8 |
		    (uint64_t)(uint8_t)s[n - 1] << 16;
	} else {
		w = 0;
	}
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	h *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32);
}

enum name_class {
	NAME_PLAIN,
	NAME_SENSITIVE, /* never indexed whatever the caller says */
	NAME_VOLATILE,  /* changes per call: one table entry for the name at most */
};

static bool lower_eq(const char *s, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 'A' && ch <= 'Z')
			ch += 'a' - 'A';
		if (ch != (unsigned char)lit[i])
			return false;
	}
	return true;
}

/*
 * Case-insensitive on purpose: an upper-case "Authorization" is malformed
 * HTTP/2, but it must still never reach the table.
 */
static enum name_class name_class(const char *n, size_t len)
{
#define IS(lit) (len == sizeof(lit) - 1 && lower_eq(n, lit, len))
	switch (len) {
	case 6: return IS("cookie") ? NAME_SENSITIVE : NAME_PLAIN;
	case 10: return IS("set-cookie") ? NAME_SENSITIVE : NAME_PLAIN;
	case 11: return IS("traceparent") || IS("x-b3-spanid") ? NAME_VOLATILE : NAME_PLAIN;
	case 12:
		return IS("grpc-timeout") || IS("x-request-id") || IS("x-b3-traceid")
			       ? NAME_VOLATILE
			       : NAME_PLAIN;
	case 13: return IS("authorization") ? NAME_SENSITIVE : NAME_PLAIN;
	case 14: return IS("grpc-trace-bin") ? NAME_VOLATILE : NAME_PLAIN;
	case 19: return IS("proxy-authorization") ? NAME_SENSITIVE : NAME_PLAIN;
	}
	return NAME_PLAIN;
#undef IS
}

/*
 * Search the dynamic table, newest first, for the name (lowest index) and,
 * if want_field, the exact field.  Hashes screen out nearly every entry
 * before a byte is compared.
 */
static void table_find(const struct hpack_table *t, const struct hpack_header *h,
		       uint32_t name_hash, uint32_t field_hash, bool want_field, uint32_t *name_idx,
		       uint32_t *field_idx)
{
	*name_idx = 0;
	*field_idx = 0;
	for (uint32_t i = 0; i < t->count; i++) {
		const struct hpack_entry *e = table_entry(t, i);

		if (e->name_hash != name_hash || e->name_len != h->name.len ||
		    !ring_eq(t, e->off, h->name.base, e->name_len))
			continue;
		if (!*name_idx)
			*name_idx = DYNAMIC_BASE + i;
		if (!want_field)
			return;
		if (e->field_hash == field_hash && e->value_len == h->value.len &&
		    ring_eq(t, entry_value_off(t, e), h->value.base, e->value_len)) {
			*field_idx = DYNAMIC_BASE + i;
			return;
		}
	}
}

/* A string literal without Huffman coding (RFC 7541 5.2). */
static uint8_t *put_raw_string(uint8_t *p, const char *s, size_t n)
{
	p = hpack_int_encode(p, 0x00, 7, (uint32_t)n);
	if (n)
		memcpy(p, s, n);
	return p + n;
}

/* A string literal (RFC 7541 5.2), Huffman-coded when that is shorter. */
static uint8_t *put_string(const struct hpack_encoder *e, uint8_t *p, const char *s, size_t n)
{
	if (n && !(e->flags & HPACK_ENC_NO_HUFFMAN)) {
		size_t hl = hpack_huff_len((const uint8_t *)s, n);

		if (hl < n) {
			p = hpack_int_encode(p, 0x80, 7, (uint32_t)hl);
			return hpack_huff_encode(p, (const uint8_t *)s, n);
		}
	}
	return put_raw_string(p, s, n);
}

/*
 * Pick a representation for one field:
 *   exact static or dynamic match (unless sensitive) -> indexed, 1 octet
 *                                                       for indexes < 127;
 *   sensitive -> literal never indexed (6.2.3);
 *   flagged no-index, or bigger than half the table -> literal without
 *   indexing (one large field should not flush the table);
 *   a volatile name already in a table -> literal without indexing that
 *   references the name: its values would only churn the table, but the
 *   first one is indexed so that later calls need not spell the name (and
 *   a value that does repeat, such as a fixed deadline, costs one octet);
 *   otherwise -> literal with incremental indexing, so the next call sends
 *   the field as one indexed octet.
 * A literal reuses a static name index before a dynamic one: static indexes
 * are smaller and never move.  *raw_value is set where the value starts
 * when the field went out as a literal naming an indexed name with its
 * value raw (see enc_memo).
 */
static uint8_t *encode_field(struct hpack_encoder *e, uint8_t *p, const struct hpack_header *h,
			     uint8_t **raw_value)
{
	const char *name = h->name.base, *value = h->value.base;
	size_t nlen = h->name.len, vlen = h->value.len;
	enum name_class cls = name_class(name, nlen);
	bool never = (h->flags & HPACK_F_SENSITIVE) || cls == NAME_SENSITIVE;
	bool no_index = h->flags & HPACK_F_NO_INDEX;
	uint32_t name_hash = 0, field_hash = 0, dname = 0, dfield = 0, nidx;
	unsigned sname, sfield;
	bool insert = false;

	sfield = hpack_static_find(name, nlen, value, vlen, &sname);
	if (sfield && !never)
		return hpack_int_encode(p, 0x80, 7, sfield);
	if (!never || !sname) {
		name_hash = hash_bytes(0, name, nlen);
		if (!never)
			field_hash = hash_bytes(name_hash, value, vlen);
		table_find(&e->t, h, name_hash, field_hash, !never, &dname, &dfield);
		if (dfield)
			return hpack_int_encode(p, 0x80, 7, dfield);
	}
	nidx = sname ? sname : dname;
	if (cls == NAME_VOLATILE && nidx)
		no_index = true;
	if (never) {
		p = hpack_int_encode(p, 0x10, 4, nidx);
	} else if (no_index || nlen + vlen + ENTRY_OVERHEAD > e->t.max / 2) {
		p = hpack_int_encode(p, 0x00, 4, nidx);
	} else {
		p = hpack_int_encode(p, 0x40, 6, nidx);
		insert = true;
	}
	if (!nidx)
		p = put_string(e, p, name, nlen);
	if (cls == NAME_VOLATILE && !insert) {
		/* A value that changes on every call goes raw: Huffman-coding
		 * it costs more per call than the octets it saves (11 for a
		 * 32-hex-digit request id). */
		if (nidx && !never)
			*raw_value = p;
		p = put_raw_string(p, value, vlen);
	} else {
		p = put_string(e, p, value, vlen);
	}
	if (insert)
		table_insert(&e->t, name, (uint32_t)nlen, value, (uint32_t)vlen, name_hash,
			     field_hash);
	return p;
}

/* Returns the end of the field's octets when the memo gives them, else NULL. */
static uint8_t *memo_put(const struct enc_memo *m, uint64_t gen, const struct hpack_header *h,
			 uint8_t *p)
{
	if (m->gen != gen || m->name_len != h->name.len || m->flags != h->flags ||
	    !bytes_eq(m->bytes, h->name.base, h->name.len))
		return NULL;
	if (m->name_only) {
		memcpy(p, m->out, m->out_len);
		return put_raw_string(p + m->out_len, h->value.base, h->value.len);
	}
	if (m->value_len != h->value.len ||
	    !bytes_eq(m->bytes + h->name.len, h->value.base, h->value.len))
		return NULL;
	memcpy(p, m->out, m->out_len);
	return p + m->out_len;
}

/* out[0, out_len) encodes the whole field (name_only false) or the part
 * before its raw value (true). */
static void memo_store(struct enc_memo *m, uint64_t gen, const struct hpack_header *h,
		       bool name_only, const uint8_t *out, size_t out_len)
{
	size_t kept = h->name.len + (name_only ? 0 : h->value.len);
	if (!gen || kept > MEMO_BYTES || out_len > sizeof(m->out) || h->flags > UINT8_MAX) {
		m->gen = 0;
		return;
	}
	m->gen = gen;
	m->name_only = name_only;
	m->name_len = (uint16_t)h->name.len;
	m->value_len = (uint16_t)h->value.len;
	m->flags = (uint8_t)h->flags;
	m->out_len = (uint8_t)out_len;
	memcpy(m->out, out, out_len);
	if (h->name.len)
		memcpy(m->bytes, h->name.base, h->name.len);
	if (!name_only && h->value.len)
		memcpy(m->bytes + h->name.len, h->value.base, h->value.len);
}

/*
 * Worst case per field: a first octet, two 5-octet lengths and both strings
 * raw (an index never needs more than the name it replaces plus 5 octets;
 * Huffman is used only when shorter).  Plus two size updates.
 */
#define FIELD_SLACK   11u
#define UPDATES_SLACK 10u

size_t hpack_encode_bound(const struct hpack_header *h, size_t n)
{
	size_t total = UPDATES_SLACK;

	for (size_t i = 0; i < n; i++) {
		size_t f;

		if (h[i].name.len > HPACK_STRING_MAX || h[i].value.len > HPACK_STRING_MAX)
			return SIZE_MAX;
		f = FIELD_SLACK + h[i].name.len + h[i].value.len;
		if (total > SIZE_MAX - f)
			return SIZE_MAX;
		total += f;
	}
	return total;
}

ssize_t hpack_encode(struct hpack_encoder *e, const struct hpack_header *h, size_t n, uint8_t *out,
		     size_t cap)
{
	size_t bound = hpack_encode_bound(h, n);
	uint8_t *p = out;

	if (bound == SIZE_MAX || bound > (size_t)SSIZE_MAX)
		return HPACK_E_STRING_LENGTH;
	if (cap < bound)
		return HPACK_E_BUFFER;
	if (e->pending) {
		/* The smallest size of the interval first, then the final one
		 * (RFC 7541 4.2). */
		if (e->pending_min < e->t.max)
			p = hpack_int_encode(p, 0x20, 5, e->pending_min);
		p = hpack_int_encode(p, 0x20, 5, e->t.max);
		e->pending = false;
	}
	for (size_t i = 0; i < n; i++) {
		if (i < MEMO_FIELDS) {
			uint8_t *end = memo_put(&e->memo[i], e->t.gen, &h[i], p);
			if (end) {
				p = end;
				continue;
			}
		}
		uint8_t *start = p, *raw_value = NULL;
		uint64_t gen = e->t.gen;
		p = encode_field(e, p, &h[i], &raw_value);
		/* Only a field sent as one index (first bit set), or a volatile
		 * literal naming an indexed name, with the table unchanged by
		 * it, encodes the same way next time. */
		if (i >= MEMO_FIELDS)
			continue;
		bool same = e->t.gen == gen;
		if (raw_value)
			memo_store(&e->memo[i], same ? gen : 0, &h[i], true, start,
				   (size_t)(raw_value - start));
		else
			memo_store(&e->memo[i], (*start & 0x80) && same ? gen : 0, &h[i], false,
				   start, (size_t)(p - start));
	}
	assert((size_t)(p - out) <= bound);
	table_check(&e->t);
	return p - out;
}
