/*
 * config_yaml.c - the YAML configuration file, read with libyaml.
 *
 * Two steps.  First libyaml's event stream becomes a small tree whose
 * nodes keep their line and column.  (libyaml's document API would build a
 * tree too, but it resolves aliases silently, and we reject them so that a
 * value is always written where it applies.)  Then tables of fields walk
 * the tree: one row per key says its type, its range and where in the
 * struct it lands, so a key's whole rule is one line, and the "expected
 * one of" list of an unknown-key error comes from the same table.
 *
 * Tables are applied in their own order, not the file's: upstreams are
 * known before services name them, and the global transcoding options
 * before the routes that inherit them.
 */
#include "gateway/config_yaml.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* ---- the tree ---- */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

/*
 * One node.  A mapping keeps its pairs flat, in file order:
 *
 *     kids: [ key0 | value0 | key1 | value1 | ... ]      n = 2 * pairs
 */
struct ynode {
	enum ykind kind;
	unsigned line, col; /* 1-based, where the node starts */
	bool plain;         /* a scalar written without quotes or | > */
	char *text;         /* scalar value, NUL-terminated */
	size_t len;
	struct ynode **kids;
	size_t n, cap;
};

/* A configuration is a few levels deep; anything deeper is a mistake,
 * and the limit keeps the recursive walks' stack small. */
#define Y_MAX_DEPTH 32

struct yctx {
	struct gw_config *cfg;
	const char *file; /* as given, for messages and origins */
	char *err;
	size_t errlen;
	char key[256]; /* "upstreams[0].keepalive.interval" */
	size_t keylen;
};

static void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static struct ynode *ynode_new(enum ykind kind, yaml_mark_t m)
{
	struct ynode *n = calloc(1, sizeof(*n));
	if (n) {
		n->kind = kind;
		n->line = (unsigned)m.line + 1;
		n->col = (unsigned)m.column + 1;
	}
	return n;
}

static int ynode_add(struct ynode *parent, struct ynode *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct ynode **k = realloc(parent->kids, cap * sizeof(*k));
		if (!k)
			return -1;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

/* ---- messages ---- */

/* "FILE:LINE:COL: key.path: problem"; line 0: no position. */
static int __attribute__((format(printf, 4, 5)))
fail_at(struct yctx *c, unsigned line, unsigned col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *sep = c->keylen ? ": " : "";
	if (line)
		snprintf(c->err, c->errlen, "%s:%u:%u: %s%s%s", c->file, line, col, c->key, sep,
			 msg);
	else
		snprintf(c->err, c->errlen, "%s: %s%s%s", c->file, c->key, sep, msg);
	return -1;
}

#define fail(c, node, ...) fail_at((c), (node)->line, (node)->col, __VA_ARGS__)

static size_t kpush(struct yctx *c, const char *key)
{
	size_t old = c->keylen;
	int w = snprintf(c->key + old, sizeof(c->key) - old, "%s%s", old ? "." : "", key);
	c->keylen = w < 0 ? old : strlen(c->key);
	return old;
}

static size_t kpush_index(struct yctx *c, size_t i)
{
	size_t old = c->keylen;
	snprintf(c->key + old, sizeof(c->key) - old, "[%zu]", i);
	c->keylen = strlen(c->key);
	return old;
}

static void kpop(struct yctx *c, size_t old)
{
	c->keylen = old;
	c->key[old] = '\0';
}

static bool is_null(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->plain &&
	       (n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
		strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0);
}

/* What a node is, for "expected X; got Y". */
static const char *describe(const struct ynode *n, char *buf, size_t len)
{
	if (n->kind == Y_MAP)
		return "a mapping";
	if (n->kind == Y_SEQ)
		return "a list";
	if (is_null(n))
		return "an empty value";
	if (n->len > 60)
		snprintf(buf, len, "'%.57s...'", n->text);
	else
		snprintf(buf, len, "'%s'", n->text);
	return buf;
}

#define DESCRIBE(n) describe((n), (char[80]){0}, 80)

static const char *fmt_size(uint64_t v, char *buf, size_t len)
{
	static const struct {
		uint64_t mult;
		const char *unit;
	} units[] = {{1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (v && v % units[i].mult == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].mult),
				 units[i].unit);
			return buf;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

static const char *fmt_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms == 0)
		snprintf(buf, len, "0s");
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}

#define FMT_SIZE(v) fmt_size((v), (char[32]){0}, 32)
#define FMT_MS(v)   fmt_ms((v), (char[32]){0}, 32)

/* ---- event stream -> tree ---- */

static int syntax_error(struct yctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	switch (p->error) {
	case YAML_MEMORY_ERROR: return fail_at(c, 0, 0, "out of memory while reading the file");
	case YAML_READER_ERROR:
		return fail_at(c, 0, 0, "cannot read the file as UTF-8 text: %s at byte %zu",
			       problem, p->problem_offset);
	default: break;
	}
	if (p->context)
		return fail_at(c, (unsigned)p->problem_mark.line + 1,
			       (unsigned)p->problem_mark.column + 1,
			       "YAML syntax error: %s (%s that starts at line %u, column %u)",
			       problem, p->context, (unsigned)p->context_mark.line + 1,
			       (unsigned)p->context_mark.column + 1);
	return fail_at(c, (unsigned)p->problem_mark.line + 1, (unsigned)p->problem_mark.column + 1,
		       "YAML syntax error: %s", problem);
}

static int load_tree(struct yctx *c, FILE *f, struct ynode **root)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct ynode *stack[Y_MAX_DEPTH];
	unsigned depth = 0, docs = 0;
	int rc = -1;

	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return fail_at(c, 0, 0, "out of memory");
	yaml_parser_set_input_file(&p, f);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			syntax_error(c, &p);
			break;
		}
		struct ynode *n = NULL;
		bool stop = false;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			rc = 0;
			stop = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				fail_at(c, (unsigned)ev.start_mark.line + 1,
					(unsigned)ev.start_mark.column + 1,
					"only one YAML document is allowed; a second one starts "
					"here");
				stop = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			fail_at(c, (unsigned)ev.start_mark.line + 1,
				(unsigned)ev.start_mark.column + 1,
				"aliases (*%s) are not supported: write the value out in full",
				(const char *)ev.data.alias.anchor);
			stop = true;
			break;
		case YAML_SCALAR_EVENT:
			n = ynode_new(Y_SCALAR, ev.start_mark);
			if (!n)
				break;
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			n->len = ev.data.scalar.length;
			n->text = malloc(n->len + 1);
			if (n->text) {
				memcpy(n->text, ev.data.scalar.value, n->len);
				n->text[n->len] = '\0';
			}
			break;
		case YAML_SEQUENCE_START_EVENT: n = ynode_new(Y_SEQ, ev.start_mark); break;
		case YAML_MAPPING_START_EVENT: n = ynode_new(Y_MAP, ev.start_mark); break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			assert(depth > 0);
			depth--;
			break;
		default: break;
		}
		bool is_node = ev.type == YAML_SCALAR_EVENT ||
			       ev.type == YAML_SEQUENCE_START_EVENT ||
			       ev.type == YAML_MAPPING_START_EVENT;
		if (is_node) {
			if (!n || (n->kind == Y_SCALAR && !n->text)) {
				ynode_free(n);
				fail_at(c, 0, 0, "out of memory");
				stop = true;
			} else if (depth == 0) {
				assert(!*root);
				*root = n;
			} else if (ynode_add(stack[depth - 1], n) < 0) {
				ynode_free(n);
				fail_at(c, 0, 0, "out of memory");
				stop = true;
			}
			if (!stop && n->kind == Y_SCALAR && strlen(n->text) != n->len) {
				fail(c, n, "a NUL character is not allowed in a value");
				stop = true;
			}
			if (!stop && n->kind != Y_SCALAR) {
				if (depth == Y_MAX_DEPTH) {
					fail(c, n, "nested more than %d levels deep", Y_MAX_DEPTH);
					stop = true;
				} else {
					stack[depth++] = n;
				}
			}
		}
		yaml_event_delete(&ev);
		if (stop)
			break;
	}
	yaml_parser_delete(&p);
	if (rc) {
		ynode_free(*root);
		*root = NULL;
	}
	return rc;
}

/* ---- scalars ---- */

static int want_string(struct yctx *c, const struct ynode *n, const char **out)
{
	*out = "";
	if (n->kind != Y_SCALAR || is_null(n))
		return fail(c, n, "expected a string; got %s%s", DESCRIBE(n),
			    is_null(n) ? " (write \"\" for an empty string)" : "");
	*out = n->text;
	return 0;
}

/* Decimal digits only: no sign, no fraction, no exponent, no 0x. */
static int parse_uint(const char *s, uint64_t *out)
{
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, NULL, 10);
	if (errno)
		return -2;
	*out = v;
	return 0;
}

static int want_uint(struct yctx *c, const struct ynode *n, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v = 0;
	int r = n->kind == Y_SCALAR ? parse_uint(n->text, &v) : -1;
	if (r == -1 || !n->plain)
		return fail(c, n, "expected a whole number from %llu to %llu; got %s%s",
			    (unsigned long long)lo, (unsigned long long)hi, DESCRIBE(n),
			    r == 0 ? " (a quoted string: write the number without quotes)" : "");
	if (r == -2 || v < lo || v > hi)
		return fail(c, n, "%s is out of range (%llu to %llu)", n->text,
			    (unsigned long long)lo, (unsigned long long)hi);
	*out = v;
	return 0;
}

static int want_bool(struct yctx *c, const struct ynode *n, bool *out)
{
	if (n->kind == Y_SCALAR && n->plain && strcmp(n->text, "true") == 0)
		*out = true;
	else if (n->kind == Y_SCALAR && n->plain && strcmp(n->text, "false") == 0)
		*out = false;
	else
		return fail(c, n, "expected true or false; got %s%s", DESCRIBE(n),
			    n->kind == Y_SCALAR && !n->plain &&
					    (strcmp(n->text, "true") == 0 ||
					     strcmp(n->text, "false") == 0)
				    ? " (a quoted string: write it without quotes)"
				    : "");
	return 0;
}

/* "4096", "64KiB", "16 MiB", "1MB".  -1: not a size, -2: too large. */
static int parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{"", 1},
		{"B", 1},
		{"KiB", 1ull << 10},
		{"MiB", 1ull << 20},
		{"GiB", 1ull << 30},
		{"KB", 1000},
		{"kB", 1000},
		{"MB", 1000 * 1000},
		{"GB", 1000 * 1000 * 1000},
	};
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 19)
		return digits ? -2 : -1;
	uint64_t v = 0;
	for (size_t i = 0; i < digits; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	const char *unit = s + digits;
	if (*unit == ' ')
		unit++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].mult)
				return -2;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -1;
}

static int want_size(struct yctx *c, const struct ynode *n, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v = 0;
	int r = n->kind == Y_SCALAR && !is_null(n) ? parse_size(n->text, &v) : -1;
	if (r == -1)
		return fail(c, n, "expected a size like 4096, 64KiB, 16MiB; got %s", DESCRIBE(n));
	if (r == -2 || v < lo || v > hi)
		return fail(c, n, "%s is out of range (%s to %s)", n->text, FMT_SIZE(lo),
			    FMT_SIZE(hi));
	*out = v;
	return 0;
}

/*
 * "250ms", "5s", "1.5s", "1m30s", "2h", "300us"; a bare number is seconds.
 * In microseconds.  Returns 0, -1 (not a duration), -2 (finer than a
 * microsecond) or -3 (absurdly long).
 */
static int parse_duration_us(const char *s, uint64_t *out)
{
	const uint64_t cap = 1000ull << 40; /* 34 years */
	uint64_t total = 0;
	const char *p = s;
	if (!*p)
		return -1;
	while (*p) {
		uint64_t ip = 0, frac = 0, scale = 1, unit;
		const char *start = p;
		while (*p >= '0' && *p <= '9') {
			if (ip > cap)
				return -3;
			ip = ip * 10 + (uint64_t)(*p++ - '0');
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				if (scale == 1000000000)
					return -2;
				frac = frac * 10 + (uint64_t)(*p++ - '0');
				scale *= 10;
			}
		}
		if (p == start || (p == start + 1 && *start == '.'))
			return -1;
		if (*p == '\0' && start == s)
			unit = 1000000; /* the whole value is a number: seconds */
		else if (p[0] == 'u' && p[1] == 's')
			unit = 1, p += 2;
		else if (p[0] == 'm' && p[1] == 's')
			unit = 1000, p += 2;
		else if (*p == 's')
			unit = 1000000, p++;
		else if (*p == 'm')
			unit = 60000000, p++;
		else if (*p == 'h')
			unit = 3600000000ull, p++;
		else
			return -1;
		if (ip > cap / unit)
			return -3;
		if (frac * unit % scale)
			return -2;
		total += ip * unit + frac * unit / scale;
		if (total > cap)
			return -3;
	}
	*out = total;
	return 0;
}

/* The same in whole milliseconds (-2: finer than that). */
static int parse_duration(const char *s, uint64_t *out)
{
	uint64_t us;
	int r = parse_duration_us(s, &us);
	if (r == 0 && us % 1000)
		r = -2;
	if (r == 0)
		*out = us / 1000;
	return r;
}

static int want_duration(struct yctx *c, const struct ynode *n, uint64_t lo, uint64_t hi,
			 uint64_t *out)
{
	uint64_t v = 0;
	int r = n->kind == Y_SCALAR && !is_null(n) ? parse_duration(n->text, &v) : -1;
	if (r == -1)
		return fail(c, n, "expected a duration like 250ms, 5s, 1m; got %s", DESCRIBE(n));
	if (r == -2)
		return fail(c, n, "expected whole milliseconds; got %s", DESCRIBE(n));
	if (r == -3 || v < lo || v > hi)
		return fail(c, n, "%s is out of range (%s to %s)", n->text, FMT_MS(lo), FMT_MS(hi));
	*out = v;
	return 0;
}

/* ---- small syntax checks (NULL: fine, else the problem) ---- */

static bool is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_ident(const char *s, size_t len)
{
	if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

/* "a", "a.b.c": protobuf package-qualified names and field paths. */
static bool is_dotted(const char *s, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!is_ident(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

static const char *check_method(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!is_tchar(*p) || *p == '*')
			return "expected an HTTP method: GET, PUT, POST, DELETE, PATCH or another "
			       "token";
	return *s ? NULL
		  : "expected an HTTP method: GET, PUT, POST, DELETE, PATCH or another token";
}

static const char *check_path(const char *s)
{
	return s[0] == '/' ? NULL : "expected a path starting with '/'";
}

static const char *check_grpc_method(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || !is_dotted(s, (size_t)(slash - s)) || !is_ident(slash + 1, strlen(slash + 1)))
		return "expected package.Service/Method";
	return NULL;
}

static const char *check_body(const char *s)
{
	if (!*s || strcmp(s, "*") == 0 || is_dotted(s, strlen(s)))
		return NULL;
	return "expected \"\" (no body), \"*\" (the whole request) or a field path like a.b";
}

static const char *check_response_body(const char *s)
{
	if (!*s || is_dotted(s, strlen(s)))
		return NULL;
	return "expected \"\" (the whole response) or a field path like a.b";
}

static const char *check_service(const char *s)
{
	if (strcmp(s, "*") == 0 || is_dotted(s, strlen(s)))
		return NULL;
	return "expected a service name like package.Service, or \"*\"";
}

static const char *check_static_path(const char *s)
{
	if (s[0] != '/')
		return "expected a path starting with '/'";
	if (strcmp(s, "/healthz") == 0 || strcmp(s, "/metrics") == 0)
		return "this path is reserved for the admin endpoints";
	return NULL;
}

/* An HTTP header name, optionally ending in '*' (a prefix match);
 * lowercased in place. */
static const char *check_header_rule(char *s, bool allow_star)
{
	size_t len = strlen(s);
	if (allow_star && len && s[len - 1] == '*')
		len--;
	if (!len && !(allow_star && s[0] == '*'))
		return "expected a header name";
	for (size_t i = 0; i < len; i++) {
		if (!is_tchar(s[i]) || s[i] == '*')
			return allow_star ? "expected a header name, optionally ending in '*'"
					  : "expected a header name";
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	}
	return NULL;
}

/* ---- tables ---- */

enum ftype {
	F_UINT,     /* whole number, stored in an unsigned field */
	F_SIZE,     /* bytes: 4096 or 64KiB */
	F_DURATION, /* milliseconds: 250ms, 5s */
	F_BOOL,
	F_STR,    /* strdup into a char * (old value freed) */
	F_STRBUF, /* copied into a char array */
	F_MAP,    /* a nested table over the struct at base + off */
	F_CUSTOM,
};

struct fieldset;

struct field {
	const char *key;
	enum ftype type;
	bool required;
	size_t off, width;                       /* the target, relative to base */
	uint64_t lo, hi;                         /* F_UINT, F_SIZE, F_DURATION */
	const char *(*check)(const char *value); /* F_STR */
	const struct fieldset *sub;              /* F_MAP */
	int (*fn)(struct yctx *c, const struct ynode *v, void *base); /* F_CUSTOM */
};

struct fieldset {
	const struct field *f;
	size_t n;
};

/* Table rows: k the key, T the struct the table's base points at. */
/* clang-format off */
#define AT(T, member) .off = offsetof(T, member), .width = sizeof(((T *)0)->member)
#define NUM(k, ftype, T, member, l, h) {.key = k, .type = ftype, AT(T, member), .lo = l, .hi = h}
#define FLAG(k, T, member) {.key = k, .type = F_BOOL, AT(T, member)}
#define STR(k, req, T, member, chk) \
	{.key = k, .type = F_STR, .required = req, AT(T, member), .check = chk}
#define TEXT(k, T, member) {.key = k, .type = F_STRBUF, AT(T, member)}
#define MAP(k, T, member, set) {.key = k, .type = F_MAP, .off = offsetof(T, member), .sub = &set}
/* a nested mapping whose keys land in the same struct as its parent's */
#define SAME(k, set) {.key = k, .type = F_MAP, .off = 0, .sub = &set}
#define FN(k, req, f) {.key = k, .type = F_CUSTOM, .required = req, .fn = f}
#define FIELDSET(arr) {(arr), sizeof(arr) / sizeof((arr)[0])}
/* clang-format on */

static const struct ynode *map_get(const struct ynode *m, const char *key)
{
	if (!m || m->kind != Y_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		if (m->kids[i]->kind == Y_SCALAR && strcmp(m->kids[i]->text, key) == 0)
			return m->kids[i + 1];
	return NULL;
}

/* Every key a string, known to the table, and given once. */
static int check_keys(struct yctx *c, const struct ynode *m, const struct fieldset *fs)
{
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->kids[i];
		if (k->kind != Y_SCALAR)
			return fail(c, k, "keys must be strings; got %s", DESCRIBE(k));
		size_t j = 0;
		while (j < fs->n && strcmp(fs->f[j].key, k->text) != 0)
			j++;
		if (j == fs->n) {
			char where[sizeof(c->key) + 8], list[512];
			size_t used = 0;
			if (c->keylen)
				snprintf(where, sizeof(where), "in '%s'", c->key);
			else
				snprintf(where, sizeof(where), "at the top level");
			list[0] = '\0';
			for (j = 0; j < fs->n && used < sizeof(list); j++) {
				int w = snprintf(list + used, sizeof(list) - used, "%s%s",
						 j ? ", " : "", fs->f[j].key);
				used += w > 0 ? (size_t)w : 0;
			}
			kpush(c, k->text);
			return fail(c, k, "unknown key %s (expected one of: %s)", where, list);
		}
		for (size_t p = 0; p < i; p += 2) {
			const struct ynode *prev = m->kids[p];
			if (strcmp(prev->text, k->text) == 0) {
				kpush(c, k->text);
				return fail(c, k,
					    "duplicate key (first given at line %u, column %u)",
					    prev->line, prev->col);
			}
		}
	}
	return 0;
}

static void store_uint(void *base, const struct field *f, uint64_t v)
{
	char *p = (char *)base + f->off;
	if (f->width == sizeof(uint32_t)) {
		assert(v <= UINT32_MAX);
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, sizeof(x));
	} else {
		assert(f->width == sizeof(uint64_t));
		memcpy(p, &v, sizeof(v));
	}
}

static int apply_map(struct yctx *c, const struct ynode *map, const struct fieldset *fs,
		     void *base);

static int apply_field(struct yctx *c, const struct field *f, const struct ynode *v, void *base)
{
	uint64_t u = 0;
	switch (f->type) {
	case F_UINT:
		if (want_uint(c, v, f->lo, f->hi, &u))
			return -1;
		store_uint(base, f, u);
		return 0;
	case F_SIZE:
		if (want_size(c, v, f->lo, f->hi, &u))
			return -1;
		store_uint(base, f, u);
		return 0;
	case F_DURATION:
		if (want_duration(c, v, f->lo, f->hi, &u))
			return -1;
		store_uint(base, f, u);
		return 0;
	case F_BOOL: {
		bool b = false;
		assert(f->width == sizeof(bool));
		if (want_bool(c, v, &b))
			return -1;
		*(bool *)((char *)base + f->off) = b;
		return 0;
	}
	case F_STR: {
		const char *s, *problem;
		assert(f->width == sizeof(char *));
		if (want_string(c, v, &s))
			return -1;
		if (f->check && (problem = f->check(s)) != NULL)
			return fail(c, v, "%s; got %s", problem, DESCRIBE(v));
		char **dst = (char **)(void *)((char *)base + f->off);
		char *copy = strdup(s);
		if (!copy)
			return fail(c, v, "out of memory");
		free(*dst);
		*dst = copy;
		return 0;
	}
	case F_STRBUF: {
		const char *s;
		if (want_string(c, v, &s))
			return -1;
		if (strlen(s) >= f->width)
			return fail(c, v, "too long (at most %zu characters)", f->width - 1);
		memcpy((char *)base + f->off, s, strlen(s) + 1);
		return 0;
	}
	case F_MAP: return apply_map(c, v, f->sub, (char *)base + f->off);
	case F_CUSTOM: return f->fn(c, v, base);
	}
	return -1;
}

/* Apply a mapping through its table.  An empty value counts as an empty
 * mapping (a section whose keys are all commented out). */
static int apply_map(struct yctx *c, const struct ynode *map, const struct fieldset *fs, void *base)
{
	if (!is_null(map) && map->kind != Y_MAP)
		return fail(c, map, "expected a mapping (key: value lines); got %s", DESCRIBE(map));
	const struct ynode *m = map->kind == Y_MAP ? map : NULL;
	if (m && check_keys(c, m, fs) < 0)
		return -1;
	for (size_t i = 0; i < fs->n; i++) {
		const struct field *f = &fs->f[i];
		const struct ynode *v = map_get(m, f->key);
		if (!v) {
			if (f->required)
				return fail(c, map, "missing required key '%s'", f->key);
			continue;
		}
		size_t old = kpush(c, f->key);
		if (apply_field(c, f, v, base) < 0)
			return -1;
		kpop(c, old);
	}
	return 0;
}

/* The items of a list; an empty value counts as an empty list. */
static int want_seq(struct yctx *c, const struct ynode *v, size_t max, const char *what, size_t *n)
{
	*n = 0;
	if (is_null(v))
		return 0;
	if (v->kind != Y_SEQ)
		return fail(c, v, "expected a list of %s; got %s", what, DESCRIBE(v));
	if (v->n > max)
		return fail(c, v->kids[max], "too many %s (at most %zu)", what, max);
	*n = v->n;
	return 0;
}

/* A relative path names a file beside the YAML file. */
static char *resolve_path(const struct yctx *c, const char *rel)
{
	const char *slash = strrchr(c->file, '/');
	if (rel[0] == '/' || !slash)
		return strdup(rel);
	char *out;
	if (asprintf(&out, "%.*s%s", (int)(slash - c->file + 1), c->file, rel) < 0)
		return NULL;
	return out;
}

static int string_list(struct yctx *c, const struct ynode *v, char **arr, unsigned *count,
		       unsigned max, const char *what, const char *one, bool is_path,
		       bool header_rule);

/* ---- tls ---- */

static int set_path(struct yctx *c, const struct ynode *v, char **dst)
{
	const char *s;
	if (want_string(c, v, &s))
		return -1;
	if (!*s)
		return fail(c, v, "expected a file name; got an empty string");
	char *path = resolve_path(c, s);
	if (!path)
		return fail(c, v, "out of memory");
	free(*dst);
	*dst = path;
	return 0;
}

static int want_tls_version(struct yctx *c, const struct ynode *v, int *out)
{
	const char *s;
	if (want_string(c, v, &s))
		return -1;
	if (strcmp(s, "1.2") != 0 && strcmp(s, "1.3") != 0)
		return fail(c, v,
			    "expected \"1.2\" or \"1.3\" (older versions are not offered); got %s",
			    DESCRIBE(v));
	*out = s[2] == '3' ? 13 : 12;
	return 0;
}

/* clang-format off */
#define TLS_HANDLER(fn, T, body) \
	static int fn(struct yctx *c, const struct ynode *v, void *base) { T *t = base; body }
/* clang-format on */

TLS_HANDLER(h_cert_cert, struct tls_cert_config, return set_path(c, v, &t->cert);)
TLS_HANDLER(h_cert_key, struct tls_cert_config, return set_path(c, v, &t->key);)
TLS_HANDLER(h_srv_min, struct tls_server_config, return want_tls_version(c, v, &t->min_version);)
TLS_HANDLER(h_srv_client_ca, struct tls_server_config, return set_path(c, v, &t->client_ca);)
TLS_HANDLER(h_cli_min, struct tls_client_config, return want_tls_version(c, v, &t->min_version);)
TLS_HANDLER(h_cli_ca, struct tls_client_config, return set_path(c, v, &t->ca);)
TLS_HANDLER(h_cli_cert, struct tls_client_config, return set_path(c, v, &t->cert);)
TLS_HANDLER(h_cli_key, struct tls_client_config, return set_path(c, v, &t->key);)

static int h_cert_names(struct yctx *c, const struct ynode *v, void *base)
{
	struct tls_cert_config *cc = base;
	if (string_list(c, v, cc->names, &cc->nnames, TLS_MAX_NAMES, "host names", "a host name",
			false, false))
		return -1;
	for (unsigned i = 0; i < cc->nnames; i++) {
		const char *n = cc->names[i];
		const char *rest = n[0] == '*' && n[1] == '.' ? n + 2 : n;
		if (!*rest || strspn(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789.-") != strlen(rest)) {
			kpush_index(c, i);
			return fail(c, v->kids[i],
				    "expected a host name like api.example.com or *.example.com; "
				    "got %s",
				    DESCRIBE(v->kids[i]));
		}
	}
	return 0;
}

static const struct field cert_fields[] = {
	FN("cert", true, h_cert_cert),
	FN("key", true, h_cert_key),
	FN("names", false, h_cert_names),
};
static const struct fieldset cert_set = FIELDSET(cert_fields);

static int h_srv_certs(struct yctx *c, const struct ynode *v, void *base)
{
	struct tls_server_config *t = base;
	size_t n;
	if (want_seq(c, v, TLS_MAX_CERTS, "certificates", &n))
		return -1;
	if (n == 0)
		return fail(c, v, "needs at least one {cert, key} entry");
	for (size_t i = 0; i < n; i++) {
		size_t old = kpush_index(c, i);
		struct tls_cert_config *cc = &t->certs[t->ncerts++];
		if (apply_map(c, v->kids[i], &cert_set, cc))
			return -1;
		kpop(c, old);
	}
	return 0;
}

static int h_srv_client_auth(struct yctx *c, const struct ynode *v, void *base)
{
	struct tls_server_config *t = base;
	const char *s;
	if (want_string(c, v, &s))
		return -1;
	if (strcmp(s, "none") == 0)
		t->client_auth = TLS_CLIENT_AUTH_NONE;
	else if (strcmp(s, "optional") == 0)
		t->client_auth = TLS_CLIENT_AUTH_OPTIONAL;
	else if (strcmp(s, "require") == 0)
		t->client_auth = TLS_CLIENT_AUTH_REQUIRE;
	else
		return fail(c, v, "expected none, optional or require; got %s", DESCRIBE(v));
	return 0;
}

static int h_srv_rotation(struct yctx *c, const struct ynode *v, void *base)
{
	struct tls_server_config *t = base;
	uint64_t ms;
	if (want_duration(c, v, 60000, 7 * 24 * 3600000ull, &ms))
		return -1;
	t->ticket_rotation_s = (uint32_t)(ms / 1000);
	return 0;
}

static const struct field tls_server_fields[] = {
	FN("certificates", true, h_srv_certs),
	FN("min_version", false, h_srv_min),
	STR("ciphers", false, struct tls_server_config, ciphers, NULL),
	STR("groups", false, struct tls_server_config, groups, NULL),
	FN("client_auth", false, h_srv_client_auth),
	FN("client_ca", false, h_srv_client_ca),
	NUM("handshake_timeout", F_DURATION, struct tls_server_config, handshake_timeout_ms, 1,
	    3600000ull),
	FLAG("session_tickets", struct tls_server_config, session_tickets),
	FN("ticket_key_rotation", false, h_srv_rotation),
};
static const struct fieldset tls_server_set = FIELDSET(tls_server_fields);

static int listen_tls(struct yctx *c, const struct ynode *v, struct tls_server_config **out)
{
	struct tls_server_config *t = malloc(sizeof(*t));
	if (!t)
		return fail(c, v, "out of memory");
	gw_tls_server_config_init(t);
	*out = t;
	if (apply_map(c, v, &tls_server_set, t))
		return -1;
	if (t->client_auth != TLS_CLIENT_AUTH_NONE && !t->client_ca) {
		kpush(c, "client_auth");
		return fail(c, map_get(v, "client_auth"),
			    "client_auth %s needs client_ca (the CA bundle that signs client "
			    "certificates)",
			    t->client_auth == TLS_CLIENT_AUTH_REQUIRE ? "require" : "optional");
	}
	return 0;
}

static const struct field tls_client_fields[] = {
	FN("ca", false, h_cli_ca),
	STR("server_name", false, struct tls_client_config, server_name, NULL),
	FLAG("verify", struct tls_client_config, verify),
	FN("cert", false, h_cli_cert),
	FN("key", false, h_cli_key),
	FN("min_version", false, h_cli_min),
	STR("ciphers", false, struct tls_client_config, ciphers, NULL),
	STR("groups", false, struct tls_client_config, groups, NULL),
	NUM("handshake_timeout", F_DURATION, struct tls_client_config, handshake_timeout_ms, 1,
	    3600000ull),
};
static const struct fieldset tls_client_set = FIELDSET(tls_client_fields);

/* upstreams[].tls: true, false, or a mapping. */
static int h_up_tls(struct yctx *c, const struct ynode *v, void *base)
{
	(void)base;
	struct gw_config *cfg = c->cfg;
	unsigned idx = cfg->nupstreams - 1; /* the upstream being read */
	gw_tls_client_config_free(cfg->upstream_tls[idx]);
	cfg->upstream_tls[idx] = NULL;
	if (v->kind == Y_SCALAR && !is_null(v)) {
		bool on;
		if (want_bool(c, v, &on))
			return -1;
		if (!on)
			return 0;
	}
	struct tls_client_config *t = malloc(sizeof(*t));
	if (!t)
		return fail(c, v, "out of memory");
	gw_tls_client_config_init(t);
	cfg->upstream_tls[idx] = t;
	if (v->kind == Y_MAP && apply_map(c, v, &tls_client_set, t))
		return -1;
	if (!t->cert != !t->key) {
		kpush(c, t->cert ? "cert" : "key");
		return fail(c, map_get(v, t->cert ? "cert" : "key"),
			    "cert and key go together (the client certificate and its key)");
	}
	return 0;
}

/* ---- top-level scalars and lists ---- */

static void free_listen(struct gw_config *cfg)
{
	if (!cfg->listen_heap)
		return;
	for (unsigned i = 0; i < GW_MAX_LISTENERS; i++) {
		if (cfg->listen_heap & (1u << i)) {
			free((char *)(uintptr_t)cfg->listen[i]);
			cfg->listen[i] = NULL;
		}
	}
	cfg->listen_heap = 0;
	cfg->nlisten = 0;
}

static int h_listen(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	size_t n;
	_Static_assert(GW_MAX_LISTENERS <= 32, "listen_heap is a 32-bit mask");
	if (want_seq(c, v, GW_MAX_LISTENERS, "HOST:PORT addresses", &n))
		return -1;
	if (n == 0)
		return fail(c, v, "needs at least one HOST:PORT address");
	free_listen(cfg);
	gw_config_clear_listen_tls(cfg);
	cfg->nlisten = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ynode *item = v->kids[i];
		const char *s;
		size_t old = kpush_index(c, i);
		if (item->kind == Y_MAP) {
			/* {address: HOST:PORT, tls: {...}} */
			static const struct field listen_item_keys[] = {
				FN("address", true, NULL),
				FN("tls", false, NULL),
			};
			static const struct fieldset listen_item_set = FIELDSET(listen_item_keys);
			if (check_keys(c, item, &listen_item_set) < 0)
				return -1;
			const struct ynode *tls = map_get(item, "tls");
			item = map_get(item, "address");
			if (!item)
				return fail(c, v->kids[i], "missing required key 'address'");
			if (tls) {
				size_t o2 = kpush(c, "tls");
				if (listen_tls(c, tls, &cfg->listen_tls[cfg->nlisten]) < 0)
					return -1;
				kpop(c, o2);
			}
			kpush(c, "address");
		}
		if (want_string(c, item, &s))
			return -1;
		const char *colon = strrchr(s, ':');
		if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
		    strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
			return fail(c, item, "expected HOST:PORT (port 0-65535); got %s",
				    DESCRIBE(item));
		char *copy = strdup(s);
		if (!copy)
			return fail(c, item, "out of memory");
		cfg->listen[cfg->nlisten] = copy;
		cfg->listen_heap |= 1u << cfg->nlisten;
		cfg->nlisten++;
		kpop(c, old);
	}
	return 0;
}

/* "0-3,6" -> cpus[], in order, no repeats (the syntax of --cpus). */
static int h_cpus(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	const char *s;
	if (want_string(c, v, &s))
		return -1;
	unsigned n = 0;
	int cpus[GW_MAX_WORKERS];
	const char *p = s;
	while (*p) {
		char *end;
		if (*p < '0' || *p > '9')
			goto bad;
		long a = strtol(p, &end, 10), b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				goto bad;
			b = strtol(p, &end, 10);
			p = end;
		}
		if (a > b || b >= CPU_SETSIZE)
			goto bad;
		for (long i = a; i <= b; i++) {
			for (unsigned k = 0; k < n; k++)
				if (cpus[k] == i)
					goto bad;
			if (n == GW_MAX_WORKERS)
				goto bad;
			cpus[n++] = (int)i;
		}
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	if (n == 0)
		goto bad;
	memcpy(cfg->cpus, cpus, n * sizeof(cpus[0]));
	cfg->ncpus = n;
	return 0;
bad:
	return fail(c, v, "expected a CPU list like 0-3,6 (no repeats, below %d); got %s",
		    CPU_SETSIZE, DESCRIBE(v));
}

static int h_log_level(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	const char *s;
	if (want_string(c, v, &s))
		return -1;
	if (gw_log_level_parse(s, &cfg->log_level))
		return fail(c, v, "expected debug, info, warn or error; got %s", DESCRIBE(v));
	return 0;
}

/* A list of strings into a char *array[] that the list replaces. */
static int string_list(struct yctx *c, const struct ynode *v, char **arr, unsigned *count,
		       unsigned max, const char *what, const char *one, bool is_path,
		       bool header_rule)
{
	size_t n;
	if (want_seq(c, v, max, what, &n))
		return -1;
	for (unsigned i = 0; i < *count; i++) {
		free(arr[i]);
		arr[i] = NULL;
	}
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ynode *item = v->kids[i];
		const char *s;
		size_t old = kpush_index(c, i);
		if (want_string(c, item, &s))
			return -1;
		if (!*s)
			return fail(c, item, "expected %s; got an empty string", one);
		char *copy = is_path ? resolve_path(c, s) : strdup(s);
		if (!copy)
			return fail(c, item, "out of memory");
		arr[(*count)++] = copy;
		const char *problem = header_rule ? check_header_rule(copy, true) : NULL;
		if (problem)
			return fail(c, item, "%s; got %s", problem, DESCRIBE(item));
		kpop(c, old);
	}
	return 0;
}

static int h_descriptors(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	return string_list(c, v, cfg->descriptors, &cfg->ndescriptors, GW_MAX_DESCRIPTORS,
			   "descriptor set files", "a file name", true, false);
}

static int h_forward(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	return string_list(c, v, cfg->forward_headers, &cfg->nforward_headers, GW_MAX_HEADER_RULES,
			   "header names", "a header name", false, true);
}

static int h_response(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	return string_list(c, v, cfg->response_headers, &cfg->nresponse_headers,
			   GW_MAX_HEADER_RULES, "header names", "a header name", false, true);
}

static int h_timeout_header(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	const char *s, *problem;
	if (want_string(c, v, &s))
		return -1;
	char *copy = strdup(s);
	if (!copy)
		return fail(c, v, "out of memory");
	if (*copy && (problem = check_header_rule(copy, false)) != NULL) {
		free(copy);
		return fail(c, v, "%s (or \"\" for none); got %s", problem, DESCRIBE(v));
	}
	free(cfg->timeout_header);
	cfg->timeout_header = copy;
	return 0;
}

/* ---- limits, timeouts ---- */

static const struct field limits_fields[] = {
	NUM("max_body", F_SIZE, struct gw_config, http.limits.max_body, 0, 1ull << 30),
	NUM("max_header_bytes", F_SIZE, struct gw_config, http.limits.max_header_bytes, 256,
	    1u << 20),
	NUM("max_headers", F_UINT, struct gw_config, http.limits.max_headers, 1, 256),
	NUM("max_connections", F_UINT, struct gw_config, max_connections, 1, 10000000),
	NUM("max_response_body", F_SIZE, struct gw_config, max_response_bytes, 1, UINT32_MAX),
};
static const struct fieldset limits_set = FIELDSET(limits_fields);

#define MS_1H  3600000ull
#define MS_24H (24 * MS_1H)

static const struct field timeouts_fields[] = {
	NUM("idle", F_DURATION, struct gw_config, http.idle_timeout_ms, 1, MS_24H),
	NUM("header", F_DURATION, struct gw_config, http.header_timeout_ms, 1, MS_1H),
	NUM("body", F_DURATION, struct gw_config, http.body_timeout_ms, 1, MS_1H),
	NUM("send", F_DURATION, struct gw_config, http.send_timeout_ms, 1, MS_1H),
	NUM("drain", F_DURATION, struct gw_config, drain_timeout_ms, 0, MS_1H),
	NUM("upstream_default", F_DURATION, struct gw_config, default_timeout_ms, 0, MS_24H),
	NUM("upstream_max", F_DURATION, struct gw_config, max_timeout_ms, 1, MS_24H),
};
static const struct fieldset timeouts_set = FIELDSET(timeouts_fields);

static int h_timeouts(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	if (apply_map(c, v, &timeouts_set, base))
		return -1;
	/* Both may come from the defaults; then the file is not to blame
	 * and gw_config_finish's checks apply. */
	const struct ynode *def = map_get(v, "upstream_default"), *max = map_get(v, "upstream_max");
	if ((def || max) && cfg->max_timeout_ms && cfg->default_timeout_ms > cfg->max_timeout_ms) {
		kpush(c, def ? "upstream_default" : "upstream_max");
		return fail(c, def ? def : max, "upstream_default (%s) exceeds upstream_max (%s)",
			    FMT_MS(cfg->default_timeout_ms), FMT_MS(cfg->max_timeout_ms));
	}
	return 0;
}

/* ---- upstreams ---- */

static int h_up_name(struct yctx *c, const struct ynode *v, void *base)
{
	struct upstream_config *u = base;
	const char *s;
	if (want_string(c, v, &s))
		return -1;
	size_t len = strlen(s);
	if (len == 0 || len >= sizeof(u->name) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
		return fail(c, v,
			    "expected a name of 1 to %zu letters, digits, '.', '_' or '-'; got %s",
			    sizeof(u->name) - 1, DESCRIBE(v));
	for (unsigned i = 0; i < c->cfg->nupstreams; i++) {
		if (c->cfg->upstreams[i] != u && strcmp(c->cfg->upstreams[i]->name, s) == 0)
			return fail(c, v, "upstream name '%s' is already used by upstreams[%u]", s,
				    i);
	}
	upstream_config_init(u, s);
	return 0;
}

static int h_up_endpoints(struct yctx *c, const struct ynode *v, void *base)
{
	struct upstream_config *u = base;
	size_t n;
	if (want_seq(c, v, UPSTREAM_MAX_ENDPOINTS, "HOST:PORT endpoints", &n))
		return -1;
	if (n == 0)
		return fail(c, v, "needs at least one HOST:PORT endpoint");
	for (size_t i = 0; i < n; i++) {
		const struct ynode *item = v->kids[i];
		const char *s;
		char why[256];
		size_t old = kpush_index(c, i);
		if (want_string(c, item, &s))
			return -1;
		if (upstream_config_add_endpoints(u, s, why, sizeof(why)) < 0)
			return fail(c, item, "%s", why);
		kpop(c, old);
	}
	return 0;
}

static const struct field keepalive_fields[] = {
	NUM("interval", F_DURATION, struct upstream_config, h2.ping_interval_ms, 0, MS_24H),
	NUM("timeout", F_DURATION, struct upstream_config, h2.ping_timeout_ms, 1, MS_1H),
};
static const struct fieldset keepalive_set = FIELDSET(keepalive_fields);

static const struct field backoff_fields[] = {
	NUM("initial", F_DURATION, struct upstream_config, backoff_initial_ms, 1, MS_1H),
	NUM("max", F_DURATION, struct upstream_config, backoff_max_ms, 1, MS_1H),
};
static const struct fieldset backoff_set = FIELDSET(backoff_fields);

static int h_up_backoff(struct yctx *c, const struct ynode *v, void *base)
{
	struct upstream_config *u = base;
	if (apply_map(c, v, &backoff_set, base))
		return -1;
	if (u->backoff_initial_ms > u->backoff_max_ms) {
		const struct ynode *at =
			map_get(v, "max") ? map_get(v, "max") : map_get(v, "initial");
		kpush(c, map_get(v, "max") ? "max" : "initial");
		return fail(c, at, "backoff initial (%s) exceeds max (%s)",
			    FMT_MS(u->backoff_initial_ms), FMT_MS(u->backoff_max_ms));
	}
	return 0;
}

/* HTTP/2 windows: at least 64 KiB, at most 2^31-1 (RFC 9113 6.9.1). */
static const struct field window_fields[] = {
	NUM("stream", F_SIZE, struct upstream_config, h2.stream_window, 64 << 10, INT32_MAX),
	NUM("connection", F_SIZE, struct upstream_config, h2.conn_window, 64 << 10, INT32_MAX),
};
static const struct fieldset window_set = FIELDSET(window_fields);

static const struct field upstream_fields[] = {
	/* name first: it (re)initialises the upstream_config */
	FN("name", true, h_up_name),
	FN("endpoints", true, h_up_endpoints),
	NUM("connections_per_endpoint", F_UINT, struct upstream_config, conns_per_endpoint, 1, 64),
	NUM("max_queue", F_UINT, struct upstream_config, max_queue, 0, 1000000),
	TEXT("authority", struct upstream_config, authority),
	NUM("connect_timeout", F_DURATION, struct upstream_config, h2.connect_timeout_ms, 1,
	    10 * 60000),
	SAME("keepalive", keepalive_set),
	FN("backoff", false, h_up_backoff),
	NUM("max_response_message", F_SIZE, struct upstream_config, max_recv_message, 1,
	    UINT32_MAX),
	SAME("window", window_set),
	FN("tls", false, h_up_tls),
};
static const struct fieldset upstream_set = FIELDSET(upstream_fields);

static void free_upstreams(struct gw_config *cfg)
{
	for (unsigned i = 0; i < cfg->nupstreams; i++) {
		free(cfg->upstreams[i]);
		cfg->upstreams[i] = NULL;
		gw_tls_client_config_free(cfg->upstream_tls[i]);
		cfg->upstream_tls[i] = NULL;
	}
	cfg->nupstreams = 0;
}

static int h_upstreams(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	size_t n;
	if (want_seq(c, v, GW_MAX_UPSTREAMS, "upstreams", &n))
		return -1;
	free_upstreams(cfg);
	for (size_t i = 0; i < n; i++) {
		size_t old = kpush_index(c, i);
		struct upstream_config *u = malloc(sizeof(*u));
		if (!u)
			return fail(c, v->kids[i], "out of memory");
		upstream_config_init(u, "");
		cfg->upstreams[cfg->nupstreams++] = u;
		if (apply_map(c, v->kids[i], &upstream_set, u))
			return -1;
		kpop(c, old);
	}
	return 0;
}

/* ---- services ---- */

static int h_binding_upstream(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_binding *b = base;
	const struct gw_config *cfg = c->cfg;
	const char *s;
	if (want_string(c, v, &s))
		return -1;
	unsigned i = 0;
	while (i < cfg->nupstreams && strcmp(cfg->upstreams[i]->name, s) != 0)
		i++;
	if (i == cfg->nupstreams) {
		char names[256] = "";
		size_t used = 0;
		for (unsigned k = 0; k < cfg->nupstreams && used < sizeof(names); k++) {
			int w = snprintf(names + used, sizeof(names) - used, "%s%s", k ? ", " : "",
					 cfg->upstreams[k]->name);
			used += w > 0 ? (size_t)w : 0;
		}
		if (cfg->nupstreams)
			return fail(c, v, "no upstream named %s in this file (defined: %s)",
				    DESCRIBE(v), names);
		return fail(c, v,
			    "no upstream named %s in this file (none is defined under upstreams)",
			    DESCRIBE(v));
	}
	char *copy = strdup(s);
	if (!copy)
		return fail(c, v, "out of memory");
	free(b->upstream);
	b->upstream = copy;
	return 0;
}

static const struct field binding_fields[] = {
	STR("service", true, struct gw_binding, service, check_service),
	FN("upstream", true, h_binding_upstream),
};
static const struct fieldset binding_set = FIELDSET(binding_fields);

static void free_bindings(struct gw_config *cfg)
{
	for (unsigned i = 0; i < cfg->nbindings; i++) {
		free(cfg->bindings[i].service);
		free(cfg->bindings[i].upstream);
		memset(&cfg->bindings[i], 0, sizeof(cfg->bindings[i]));
	}
	cfg->nbindings = 0;
}

static int h_services(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	size_t n;
	if (want_seq(c, v, GW_MAX_BINDINGS, "service bindings", &n))
		return -1;
	free_bindings(cfg);
	for (size_t i = 0; i < n; i++) {
		const struct ynode *item = v->kids[i];
		size_t old = kpush_index(c, i);
		struct gw_binding *b = &cfg->bindings[cfg->nbindings++];
		memset(b, 0, sizeof(*b)); /* gw_config_free leaves stale pointers */
		b->origin = (struct gw_origin){c->file, item->line, item->col};
		if (apply_map(c, item, &binding_set, b))
			return -1;
		for (unsigned k = 0; k + 1 < cfg->nbindings; k++) {
			if (strcmp(cfg->bindings[k].service, b->service) == 0) {
				kpush(c, "service");
				return fail(c, map_get(item, "service"),
					    "service '%s' is already bound at line %u", b->service,
					    cfg->bindings[k].origin.line);
			}
		}
		kpop(c, old);
	}
	return 0;
}

/* ---- transcoding and routes ---- */

static const struct field transcode_fields[] = {
	FLAG("emit_defaults", struct gw_transcode_opts, emit_defaults),
	FLAG("use_proto_names", struct gw_transcode_opts, use_proto_names),
	FLAG("enums_as_ints", struct gw_transcode_opts, enums_as_ints),
	FLAG("allow_unknown_fields", struct gw_transcode_opts, allow_unknown_fields),
};
static const struct fieldset transcode_set = FIELDSET(transcode_fields);

static int h_route_transcode(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_route_cfg *r = base;
	r->has_transcode = true;
	return apply_map(c, v, &transcode_set, &r->transcode);
}

static const struct field route_fields[] = {
	STR("method", true, struct gw_route_cfg, method, check_method),
	STR("path", true, struct gw_route_cfg, path, check_path),
	STR("grpc", true, struct gw_route_cfg, grpc_method, check_grpc_method),
	STR("body", false, struct gw_route_cfg, body, check_body),
	STR("response_body", false, struct gw_route_cfg, response_body, check_response_body),
	NUM("timeout", F_DURATION, struct gw_route_cfg, timeout_ms, 0, MS_24H),
	FN("transcode", false, h_route_transcode),
};
static const struct fieldset route_set = FIELDSET(route_fields);

static void free_routes(struct gw_config *cfg)
{
	for (unsigned i = 0; cfg->routes && i < cfg->nroutes; i++) {
		struct gw_route_cfg *r = &cfg->routes[i];
		free(r->method);
		free(r->path);
		free(r->grpc_method);
		free(r->body);
		free(r->response_body);
	}
	free(cfg->routes);
	cfg->routes = NULL;
	cfg->nroutes = 0;
}

static int h_routes_extra(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	size_t n;
	if (want_seq(c, v, GW_MAX_ROUTES, "routes", &n))
		return -1;
	free_routes(cfg);
	if (n == 0)
		return 0;
	/* GW_MAX_ROUTES entries, as config.h promises: room to add more. */
	cfg->routes = calloc(GW_MAX_ROUTES, sizeof(*cfg->routes));
	if (!cfg->routes)
		return fail(c, v, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct ynode *item = v->kids[i];
		size_t old = kpush_index(c, i);
		struct gw_route_cfg *r = &cfg->routes[cfg->nroutes++];
		r->origin = (struct gw_origin){c->file, item->line, item->col};
		r->transcode = cfg->transcode; /* unspecified keys inherit */
		if (apply_map(c, item, &route_set, r))
			return -1;
		if ((!r->body && !(r->body = strdup(""))) ||
		    (!r->response_body && !(r->response_body = strdup(""))))
			return fail(c, item, "out of memory");
		for (unsigned k = 0; k + 1 < cfg->nroutes; k++) {
			const struct gw_route_cfg *o = &cfg->routes[k];
			if (strcmp(o->method, r->method) == 0 && strcmp(o->path, r->path) == 0) {
				kpush(c, "path");
				return fail(c, map_get(item, "path"),
					    "%s %s is already routed at line %u", r->method,
					    r->path, o->origin.line);
			}
		}
		kpop(c, old);
	}
	return 0;
}

static const struct field routes_fields[] = {
	FLAG("annotated", struct gw_config, annotated_routes),
	FN("extra", false, h_routes_extra),
};
static const struct fieldset routes_set = FIELDSET(routes_fields);

static const struct field headers_fields[] = {
	FN("forward", false, h_forward),
	FN("response", false, h_response),
	FN("timeout_header", false, h_timeout_header),
};
static const struct fieldset headers_set = FIELDSET(headers_fields);

/* ---- static ---- */

static int h_static_file(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_static_route *r = base;
	return set_path(c, v, &r->file);
}

static const struct field static_fields[] = {
	STR("path", true, struct gw_static_route, path, check_static_path),
	FN("file", true, h_static_file),
};
static const struct fieldset static_set = FIELDSET(static_fields);

static void free_statics(struct gw_config *cfg)
{
	for (unsigned i = 0; i < cfg->nstatics; i++) {
		free(cfg->statics[i].path);
		free(cfg->statics[i].file);
		memset(&cfg->statics[i], 0, sizeof(cfg->statics[i]));
	}
	cfg->nstatics = 0;
}

static int h_static(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	size_t n;
	if (want_seq(c, v, GW_MAX_STATIC, "static routes", &n))
		return -1;
	free_statics(cfg);
	for (size_t i = 0; i < n; i++) {
		const struct ynode *item = v->kids[i];
		size_t old = kpush_index(c, i);
		struct gw_static_route *r = &cfg->statics[cfg->nstatics++];
		memset(r, 0, sizeof(*r)); /* gw_config_free leaves stale pointers */
		if (apply_map(c, item, &static_set, r))
			return -1;
		for (unsigned k = 0; k + 1 < cfg->nstatics; k++) {
			if (strcmp(cfg->statics[k].path, r->path) == 0) {
				kpush(c, "path");
				return fail(c, map_get(item, "path"),
					    "'%s' is already served by static[%u]", r->path, k);
			}
		}
		kpop(c, old);
	}
	return 0;
}

/* ---- io: the workers' io_uring loops (the --buffers, --buffer-size and
 * --batch-wait options) ---- */

static int h_io_buffers(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	uint64_t n;
	if (want_uint(c, v, 16, 32768, &n))
		return -1;
	if (n & (n - 1))
		return fail(c, v, "expected a power of two from 16 to 32768; got %s", DESCRIBE(v));
	cfg->buf_count = (unsigned)n;
	return 0;
}

/* "300us", "0.5ms"; 0 turns batching off.  A bare number other than 0
 * is refused: seconds, as elsewhere, would be a mistake here. */
static int h_io_batch_wait(struct yctx *c, const struct ynode *v, void *base)
{
	struct gw_config *cfg = base;
	const char *s;
	uint64_t us = 0;
	if (want_string(c, v, &s))
		return -1;
	bool bare = s[strspn(s, "0123456789.")] == '\0';
	int r = bare && strcmp(s, "0") != 0 ? -1 : parse_duration_us(s, &us);
	if (r == -1 || r == -2)
		return fail(c, v, "expected a wait like 300us or 0.5ms (0: never batch); got %s",
			    DESCRIBE(v));
	if (r == -3 || us > 10000)
		return fail(c, v, "%s is out of range (0 to 10ms)", s);
	cfg->batch_wait_us = (unsigned)us;
	return 0;
}

static const struct field io_fields[] = {
	FN("buffers", false, h_io_buffers),
	NUM("buffer_size", F_SIZE, struct gw_config, buf_size, 1024, 1u << 20),
	FN("batch_wait", false, h_io_batch_wait),
};
static const struct fieldset io_set = FIELDSET(io_fields);

/* ---- the top level ---- */

static const struct field top_fields[] = {
	FN("listen", false, h_listen),
	NUM("workers", F_UINT, struct gw_config, workers, 1, GW_MAX_WORKERS),
	FN("cpus", false, h_cpus),
	FN("log_level", false, h_log_level),
	SAME("io", io_set),
	SAME("limits", limits_set),
	FN("timeouts", false, h_timeouts),
	FN("descriptors", false, h_descriptors),
	FN("upstreams", false, h_upstreams),
	FN("services", false, h_services),
	MAP("transcoding", struct gw_config, transcode, transcode_set),
	SAME("routes", routes_set),
	SAME("headers", headers_set),
	FN("static", false, h_static),
};
static const struct fieldset top_set = FIELDSET(top_fields);

int gw_config_load_yaml(struct gw_config *cfg, const char *path, char *err, size_t errlen)
{
	struct yctx c = {.cfg = cfg, .file = path, .err = err, .errlen = errlen};
	struct ynode *root = NULL;

	if (errlen)
		err[0] = '\0';
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail_at(&c, 0, 0, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return fail_at(&c, 0, 0, "cannot open: %s", strerror(EISDIR));
	}
	int rc = load_tree(&c, f, &root);
	fclose(f);
	if (rc)
		return -1;

	if (root && !is_null(root)) {
		if (root->kind != Y_MAP)
			rc = fail(&c, root,
				  "the top level must be a mapping (listen: ..., upstreams: ...); "
				  "got %s",
				  DESCRIBE(root));
		else
			rc = apply_map(&c, root, &top_set, cfg);
	}
	ynode_free(root);
	if (rc)
		return -1;

	if (cfg->http.limits.max_request_line > cfg->http.limits.max_header_bytes)
		cfg->http.limits.max_request_line = cfg->http.limits.max_header_bytes;
	for (unsigned i = 0; i < cfg->nupstreams; i++)
		cfg->upstreams[i]->default_timeout_ms = cfg->default_timeout_ms;
	if (!cfg->config_file)
		cfg->config_file = path;
	return 0;
}

void gw_config_free_yaml_parts(struct gw_config *cfg)
{
	free_listen(cfg);
	for (unsigned i = 0; i < cfg->ndescriptors; i++) {
		free(cfg->descriptors[i]);
		cfg->descriptors[i] = NULL;
	}
	cfg->ndescriptors = 0;
	free_upstreams(cfg);
	free_bindings(cfg);
	free_routes(cfg);
	for (unsigned i = 0; i < cfg->nforward_headers; i++) {
		free(cfg->forward_headers[i]);
		cfg->forward_headers[i] = NULL;
	}
	cfg->nforward_headers = 0;
	for (unsigned i = 0; i < cfg->nresponse_headers; i++) {
		free(cfg->response_headers[i]);
		cfg->response_headers[i] = NULL;
	}
	cfg->nresponse_headers = 0;
	free(cfg->timeout_header);
	cfg->timeout_header = NULL;
	free_statics(cfg);
}
