/*
 * router.c - HttpRule path templates compiled into a segment trie.
 *
 * Build time parses each template into a flat list of pattern segments
 * (literal / '*' / '**') plus its variables (which pattern segments each
 * one covers) and an optional verb, then threads that list into a trie.
 * Variable names are not in the trie, so two templates that differ only in
 * variable names land on the same leaf: that is how conflicts are found.
 *
 *     node ── lits[] (hashed) ──> node        literal segment, decoded
 *          ── star            ──> node        '*'
 *          ── dstar           ──> leaf        '**' (always last)
 *          ── ends[]                          where templates stop: one per
 *                                             verb (or none), each holding
 *                                             a method mask and the routes
 *
 * Match time splits the raw path once (offset, length, hash of the decoded
 * bytes per segment, on the stack), then walks the trie depth-first in
 * order literal, '*', '**'.  Request segment d always meets pattern
 * segment d, except under '**' which takes d..end; so the trie is walked
 * as a tree, every node is visited at most once per pass, and a purely
 * literal route costs one hash lookup per segment.  Captures are computed
 * only for the winning route, from the segment offsets.
 *
 * The per-node literal tables are keyed by FNV-1a: the keys are fixed at
 * build time and a colliding request segment only costs a length check and
 * a memcmp per probe, so a hostile path cannot make lookups degrade.
 */
#include "http/router.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METHOD_ANY 0xff /* route method "*" */
#define NO_ROUTE   (-1)

/* ---- bytes ---------------------------------------------------------------- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 pchar minus ':' (the verb separator) and '*' (wildcards), and
 * minus '%' which is handled as an escape. */
static bool lit_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-._~!$&'()+,;=@", c) != NULL;
}

static bool ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

/* RFC 9110 tchar */
static bool tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

#define FNV_OFFSET 2166136261u
#define FNV_PRIME  16777619u

static uint32_t fnv(const char *s, size_t n)
{
	uint32_t h = FNV_OFFSET;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
	return h;
}

/* Does raw (percent-encoded, escapes known valid) decode to lit? */
static bool pct_eq(const char *raw, size_t rlen, const char *lit, size_t llen)
{
	size_t i = 0, j = 0;
	while (i < rlen && j < llen) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '%') {
			if (i + 2 >= rlen)
				return false;
			int hi = hexval((unsigned char)raw[i + 1]),
			    lo = hexval((unsigned char)raw[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (unsigned char)(hi << 4 | lo);
			i += 3;
		} else {
			i++;
		}
		if (c != (unsigned char)lit[j++])
			return false;
	}
	return i == rlen && j == llen;
}

/* Write s[0..len) into dst as a C-ish quoted string, bytes outside the
 * printable ASCII range as \xHH, truncated with "..." past `max` bytes. */
static void quote(char *dst, size_t cap, const char *s, size_t len, size_t max)
{
	size_t o = 0;
	assert(cap >= 8);
	dst[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == max || o + 8 >= cap) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
	}
	dst[o++] = '"';
	dst[o] = '\0';
}

/* ---- template parser ------------------------------------------------------ */

enum seg_kind { SEG_LIT, SEG_STAR, SEG_DSTAR };

struct pseg {
	uint8_t kind;
	uint16_t len;    /* decoded literal length */
	const char *lit; /* decoded literal, in tmpl.buf */
};

struct pvar {
	uint16_t field_off, field_len; /* in the template text          */
	uint8_t start, end;            /* pattern segments [start, end) */
	bool multi;                    /* more than one segment or '**' */
	bool to_end;                   /* ends with '**'                */
};

/* A parsed template.  Literals are stored decoded, so "%61bc" and "abc"
 * are the same literal (and conflict). */
struct tmpl {
	unsigned nseg, nvars;
	struct pseg seg[HTTP_ROUTER_MAX_SEGMENTS];
	struct pvar var[HTTP_ROUTER_MAX_CAPTURES];
	const char *verb; /* decoded, NULL when none */
	uint16_t verb_len;
	size_t used;
	char buf[HTTP_ROUTER_MAX_TEMPLATE];
};

struct parser {
	const char *s;
	size_t len, i;
	size_t dstar_at; /* position of a '**' seen so far, SIZE_MAX if none */
	struct tmpl *t;
	struct http_router_error *err;
};

#define END (-1)

static int peek(const struct parser *p)
{
	return p->i < p->len ? (unsigned char)p->s[p->i] : END;
}

static int fail(struct parser *p, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
	if (p->err) {
		va_list ap;
		int o;
		p->err->column = (unsigned)at + 1;
		o = snprintf(p->err->msg, sizeof(p->err->msg), "column %zu: ", at + 1);
		va_start(ap, fmt);
		vsnprintf(p->err->msg + o, sizeof(p->err->msg) - (size_t)o, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Describe the byte at p->i for an error message. */
static const char *what(const struct parser *p, char *tmp, size_t cap)
{
	int c = peek(p);
	if (c == END)
		return "end of template";
	if (c > 0x20 && c < 0x7f)
		snprintf(tmp, cap, "'%c'", c);
	else
		snprintf(tmp, cap, "byte 0x%02x", (unsigned)c);
	return tmp;
}

/* LITERAL: one or more lit_char or %HH, decoded into t->buf. */
static int parse_literal(struct parser *p, const char **out, uint16_t *out_len)
{
	struct tmpl *t = p->t;
	size_t start = t->used;
	while (p->i < p->len) {
		unsigned char c = (unsigned char)p->s[p->i];
		if (c == '%') {
			int hi = p->i + 2 < p->len ? hexval((unsigned char)p->s[p->i + 1]) : -1;
			int lo = p->i + 2 < p->len ? hexval((unsigned char)p->s[p->i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return fail(p, p->i, "'%%' must be followed by two hex digits");
			c = (unsigned char)(hi << 4 | lo);
			p->i += 3;
		} else if (lit_char(c)) {
			p->i++;
		} else {
			break;
		}
		/* decoding never grows and the template fits the buffer */
		assert(t->used < sizeof(t->buf));
		t->buf[t->used++] = (char)c;
	}
	*out = t->buf + start;
	*out_len = (uint16_t)(t->used - start);
	return 0;
}

static int parse_variable(struct parser *p);

/* Segments = Segment { "/" Segment }; stops before anything that cannot
 * continue it (end, ':', '}', or a stray byte) for the caller to judge. */
static int parse_segments(struct parser *p, bool in_var)
{
	struct tmpl *t = p->t;
	char tmp[16];
	for (;;) {
		size_t at = p->i;
		int c = peek(p), rc;
		if (t->nseg == HTTP_ROUTER_MAX_SEGMENTS)
			return fail(p, at, "more than %d segments", HTTP_ROUTER_MAX_SEGMENTS);
		if (c == '*') {
			bool two = p->i + 1 < p->len && p->s[p->i + 1] == '*';
			struct pseg *s = &t->seg[t->nseg++];
			s->kind = two ? SEG_DSTAR : SEG_STAR;
			s->lit = NULL;
			s->len = 0;
			p->i += two ? 2 : 1;
			if (two && p->dstar_at == SIZE_MAX)
				p->dstar_at = at;
		} else if (c == '{') {
			if (in_var)
				return fail(p, at, "a variable may not contain a variable");
			rc = parse_variable(p);
			if (rc)
				return rc;
		} else if (c == '%' || (c != END && lit_char((unsigned char)c))) {
			struct pseg *s = &t->seg[t->nseg++];
			s->kind = SEG_LIT;
			rc = parse_literal(p, &s->lit, &s->len);
			if (rc)
				return rc;
		} else if (c == END || c == '/' || c == '}' || c == ':') {
			return fail(p, at, "empty segment before %s", what(p, tmp, sizeof(tmp)));
		} else {
			return fail(p, at, "%s is not allowed in a path template",
				    what(p, tmp, sizeof(tmp)));
		}
		c = peek(p);
		if (c == '*')
			return fail(p, p->i, "'*' must be a whole segment");
		if (c == '{')
			return fail(p, p->i, "a variable must be a whole segment");
		if (c != '/')
			return 0;
		if (p->dstar_at != SIZE_MAX)
			return fail(p, p->dstar_at, "'**' must be the last segment");
		p->i++;
	}
}

/* Variable = "{" FieldPath [ "=" Segments ] "}" */
static int parse_variable(struct parser *p)
{
	struct tmpl *t = p->t;
	size_t open = p->i, fstart;
	char tmp[16];
	struct pvar *v;
	int rc;

	p->i++; /* '{' */
	fstart = p->i;
	for (;;) {
		if (peek(p) == END || !ident_start((unsigned char)peek(p)))
			return fail(p, p->i, "expected a field name, found %s",
				    what(p, tmp, sizeof(tmp)));
		while (peek(p) != END && ident_char((unsigned char)peek(p)))
			p->i++;
		if (peek(p) != '.')
			break;
		p->i++;
	}
	if (t->nvars == HTTP_ROUTER_MAX_CAPTURES)
		return fail(p, open, "more than %d variables", HTTP_ROUTER_MAX_CAPTURES);
	for (unsigned k = 0; k < t->nvars; k++) {
		const struct pvar *o = &t->var[k];
		if (o->field_len == p->i - fstart &&
		    memcmp(p->s + o->field_off, p->s + fstart, o->field_len) == 0)
			return fail(p, fstart, "field path '%.*s' is bound twice",
				    (int)o->field_len, p->s + fstart);
	}
	v = &t->var[t->nvars++];
	v->field_off = (uint16_t)fstart;
	v->field_len = (uint16_t)(p->i - fstart);
	v->start = (uint8_t)t->nseg;

	if (peek(p) == '=') {
		p->i++;
		rc = parse_segments(p, true);
		if (rc)
			return rc;
	} else if (peek(p) == '}') {
		struct pseg *s = &t->seg[t->nseg++]; /* {x} is {x=*} */
		s->kind = SEG_STAR;
		s->lit = NULL;
		s->len = 0;
	} else if (peek(p) == END) {
		return fail(p, open, "unterminated variable (no '}')");
	} else {
		return fail(p, p->i, "expected '=' or '}' after the field path, found %s",
			    what(p, tmp, sizeof(tmp)));
	}
	if (peek(p) == END)
		return fail(p, open, "unterminated variable (no '}')");
	if (peek(p) != '}')
		return fail(p, p->i, "%s is not allowed in a variable", what(p, tmp, sizeof(tmp)));
	p->i++;
	v->end = (uint8_t)t->nseg;
	v->to_end = t->seg[t->nseg - 1].kind == SEG_DSTAR;
	v->multi = v->end - v->start > 1 || v->to_end;
	return 0;
}

static int parse_template(const char *s, size_t len, struct tmpl *t, struct http_router_error *err)
{
	struct parser p = {s, len, 0, SIZE_MAX, t, err};
	char tmp[16];
	int rc;

	t->nseg = t->nvars = 0;
	t->verb = NULL;
	t->verb_len = 0;
	t->used = 0;
	if (len > HTTP_ROUTER_MAX_TEMPLATE)
		return fail(&p, HTTP_ROUTER_MAX_TEMPLATE, "template longer than %d bytes",
			    HTTP_ROUTER_MAX_TEMPLATE);
	if (len == 0 || s[0] != '/')
		return fail(&p, 0, "a template starts with '/'");
	p.i = 1;
	if (len == 1)
		return 0; /* the root path: no segments */
	rc = parse_segments(&p, false);
	if (rc)
		return rc;
	if (peek(&p) == ':') {
		size_t at = p.i++;
		rc = parse_literal(&p, &t->verb, &t->verb_len);
		if (rc)
			return rc;
		if (t->verb_len == 0)
			return fail(&p, at, "empty verb after ':'");
		if (peek(&p) != END)
			return fail(&p, p.i, "the verb must end the template, found %s",
				    what(&p, tmp, sizeof(tmp)));
	}
	if (peek(&p) == '}')
		return fail(&p, p.i, "'}' without a variable");
	if (peek(&p) != END)
		return fail(&p, p.i, "unexpected %s", what(&p, tmp, sizeof(tmp)));
	return 0;
}

int http_router_check_template(const char *tmpl, size_t len, struct http_router_error *err)
{
	struct tmpl t = {0}; /* ~2.5 KiB: a config checker's stack can spare it */
	if (err) {
		err->route = err->other = -1;
		err->column = 0;
		err->msg[0] = '\0';
	}
	return parse_template(tmpl, len, &t, err);
}

/* ---- the compiled router -------------------------------------------------- */

struct lit_child {
	uint32_t hash; /* fnv of the decoded literal */
	uint32_t len;
	char *text;
	uint32_t node;
};

/* Where templates stop.  routes[] holds one route per set bit of mask,
 * in bit order: the route for method id m is routes[popcount(mask below m)]. */
struct end {
	char *verb; /* decoded; NULL: no verb */
	uint32_t verb_len;
	uint64_t mask;
	int32_t any; /* route for method "*", NO_ROUTE if none */
	uint32_t *routes;
};

struct node {
	struct lit_child *lits;
	uint32_t nlits, caplits;
	uint32_t *slots;      /* open addressing: lits index + 1, 0 = free */
	uint32_t slot_mask;   /* slots - 1 (a power of two)                */
	uint32_t star, dstar; /* child node, 0 = none (0 is the root)   */
	struct end *ends;
	uint32_t nends;
};

struct rvar {
	uint16_t field_off, field_len;
	uint8_t start, end;
	bool multi, to_end;
};

struct route_rec {
	void *target;
	char *tmpl; /* copy; capture field names point into it */
	uint8_t method;
	uint8_t nvars;
	struct rvar *vars;
};

struct http_router {
	struct node *nodes;
	uint32_t nnodes, capnodes;
	struct route_rec *routes;
	uint32_t nroutes;
	bool has_verbs;
	unsigned nmethods; /* sorted by bytes: ids are Allow order */
	uint8_t method_len[HTTP_ROUTER_MAX_METHODS];
	char methods[HTTP_ROUTER_MAX_METHODS][HTTP_ROUTER_MAX_METHOD_LEN + 1];
};

void http_router_free(struct http_router *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->nnodes; i++) {
		struct node *n = &r->nodes[i];
		for (uint32_t k = 0; k < n->nlits; k++)
			free(n->lits[k].text);
		for (uint32_t k = 0; k < n->nends; k++) {
			free(n->ends[k].verb);
			free(n->ends[k].routes);
		}
		free(n->lits);
		free(n->slots);
		free(n->ends);
	}
	for (uint32_t i = 0; i < r->nroutes; i++) {
		free(r->routes[i].tmpl);
		free(r->routes[i].vars);
	}
	free(r->nodes);
	free(r->routes);
	free(r);
}

/* Returns the new node's index, 0 on allocation failure. */
static uint32_t new_node(struct http_router *r)
{
	if (r->nnodes == r->capnodes) {
		uint32_t cap = r->capnodes ? r->capnodes * 2 : 16;
		struct node *nn = realloc(r->nodes, cap * sizeof(*nn));
		if (!nn)
			return 0;
		r->nodes = nn;
		r->capnodes = cap;
	}
	memset(&r->nodes[r->nnodes], 0, sizeof(r->nodes[0]));
	return r->nnodes++;
}

static uint32_t lit_child(struct http_router *r, uint32_t ni, const struct pseg *s)
{
	uint32_t h = fnv(s->lit, s->len), child;
	struct node *n = &r->nodes[ni];
	char *text;

	for (uint32_t k = 0; k < n->nlits; k++)
		if (n->lits[k].hash == h && n->lits[k].len == s->len &&
		    memcmp(n->lits[k].text, s->lit, s->len) == 0)
			return n->lits[k].node;
	if (n->nlits == n->caplits) {
		uint32_t cap = n->caplits ? n->caplits * 2 : 4;
		struct lit_child *nl = realloc(n->lits, cap * sizeof(*nl));
		if (!nl)
			return 0;
		n->lits = nl;
		n->caplits = cap;
	}
	text = malloc(s->len + 1u);
	if (!text)
		return 0;
	memcpy(text, s->lit, s->len);
	text[s->len] = '\0';
	child = new_node(r); /* may move r->nodes */
	if (!child) {
		free(text);
		return 0;
	}
	n = &r->nodes[ni];
	n->lits[n->nlits++] = (struct lit_child){h, s->len, text, child};
	return child;
}

static uint32_t wild_child(struct http_router *r, uint32_t ni, bool dstar)
{
	uint32_t child = dstar ? r->nodes[ni].dstar : r->nodes[ni].star;
	if (child)
		return child;
	child = new_node(r);
	if (!child)
		return 0;
	if (dstar)
		r->nodes[ni].dstar = child;
	else
		r->nodes[ni].star = child;
	return child;
}

static struct end *find_end(struct node *n, const char *verb, size_t verb_len)
{
	for (uint32_t k = 0; k < n->nends; k++) {
		struct end *e = &n->ends[k];
		if (!e->verb != !verb)
			continue;
		if (!verb || (e->verb_len == verb_len && memcmp(e->verb, verb, verb_len) == 0))
			return e;
	}
	return NULL;
}

static struct end *add_end(struct node *n, const char *verb, size_t verb_len)
{
	struct end *ne = realloc(n->ends, (n->nends + 1) * sizeof(*ne)), *e;
	if (!ne)
		return NULL;
	n->ends = ne;
	e = &ne[n->nends];
	memset(e, 0, sizeof(*e));
	e->any = NO_ROUTE;
	if (verb) {
		e->verb = malloc(verb_len + 1);
		if (!e->verb)
			return NULL;
		memcpy(e->verb, verb, verb_len);
		e->verb[verb_len] = '\0';
		e->verb_len = (uint32_t)verb_len;
	}
	n->nends++;
	return e;
}

static unsigned rank(uint64_t mask, unsigned bit)
{
	return (unsigned)__builtin_popcountll(mask & ((UINT64_C(1) << bit) - 1));
}

/* Put route `ri` at `e`.  Returns 0, -ENOMEM, or -EEXIST with *other set. */
static int end_add_route(struct end *e, unsigned method, uint32_t ri, int *other)
{
	unsigned k, n;
	uint32_t *nr;

	if (method == METHOD_ANY) {
		if (e->any != NO_ROUTE) {
			*other = e->any;
			return -EEXIST;
		}
		e->any = (int32_t)ri;
		return 0;
	}
	k = rank(e->mask, method);
	if (e->mask >> method & 1) {
		*other = (int)e->routes[k];
		return -EEXIST;
	}
	n = (unsigned)__builtin_popcountll(e->mask);
	nr = realloc(e->routes, (n + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	memmove(nr + k + 1, nr + k, (n - k) * sizeof(*nr));
	nr[k] = ri;
	e->routes = nr;
	e->mask |= UINT64_C(1) << method;
	return 0;
}

static int build_tables(struct http_router *r)
{
	for (uint32_t i = 0; i < r->nnodes; i++) {
		struct node *n = &r->nodes[i];
		uint32_t size = 2;
		if (!n->nlits)
			continue;
		while (size < 2 * n->nlits) /* at most half full: short probes */
			size *= 2;
		n->slots = calloc(size, sizeof(*n->slots));
		if (!n->slots)
			return -ENOMEM;
		n->slot_mask = size - 1;
		for (uint32_t k = 0; k < n->nlits; k++) {
			uint32_t s = n->lits[k].hash & n->slot_mask;
			while (n->slots[s])
				s = (s + 1) & n->slot_mask;
			n->slots[s] = k + 1;
		}
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A method prints bare when it is a short token (the usual case), quoted
 * otherwise, so that a message never carries raw control bytes. */
static void method_text(char *dst, size_t cap, const char *m)
{
	size_t len = strlen(m), k = 0;
	while (k < len && (tchar((unsigned char)m[k]) || m[k] == '*'))
		k++;
	if (len && k == len && len <= 24)
		snprintf(dst, cap, "%s", m);
	else
		quote(dst, cap, m, len, 24);
}

static void route_error(struct http_router_error *err, const struct http_route *routes, int i,
			int other, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void route_error(struct http_router_error *err, const struct http_route *routes, int i,
			int other, const char *fmt, ...)
{
	char m[48], t[160];
	const char *ms = routes[i].method ? routes[i].method : "(null)";
	const char *ts = routes[i].tmpl ? routes[i].tmpl : "(null)";
	va_list ap;
	int o;

	if (!err)
		return;
	method_text(m, sizeof(m), ms);
	quote(t, sizeof(t), ts, strlen(ts), 100);
	err->route = i;
	err->other = other;
	o = snprintf(err->msg, sizeof(err->msg), "route %d: %s %s: ", i, m, t);
	assert(o > 0 && (size_t)o < sizeof(err->msg));
	va_start(ap, fmt);
	vsnprintf(err->msg + o, sizeof(err->msg) - (size_t)o, fmt, ap);
	va_end(ap);
}

/* Intern the distinct methods, sorted so that ids follow byte order. */
static int collect_methods(struct http_router *r, const struct http_route *routes, size_t n,
			   struct http_router_error *err)
{
	const char *names[HTTP_ROUTER_MAX_METHODS] = {NULL};
	unsigned nn = 0;

	for (size_t i = 0; i < n; i++) {
		const char *m = routes[i].method;
		size_t len = m ? strnlen(m, HTTP_ROUTER_MAX_METHOD_LEN + 1) : 0;
		bool seen = false;
		if (!m || len == 0 || len > HTTP_ROUTER_MAX_METHOD_LEN) {
			route_error(err, routes, (int)i, -1, "a method is 1 to %d bytes",
				    HTTP_ROUTER_MAX_METHOD_LEN);
			return -EINVAL;
		}
		if (strcmp(m, "*") == 0)
			continue;
		for (size_t k = 0; k < len; k++) {
			if (!tchar((unsigned char)m[k])) {
				route_error(err, routes, (int)i, -1,
					    "the method is not an HTTP token (RFC 9110 5.6.2)");
				return -EINVAL;
			}
		}
		for (unsigned k = 0; k < nn && !seen; k++)
			seen = strcmp(names[k], m) == 0;
		if (seen)
			continue;
		if (nn == HTTP_ROUTER_MAX_METHODS) {
			route_error(err, routes, (int)i, -1, "more than %d distinct methods",
				    HTTP_ROUTER_MAX_METHODS);
			return -EINVAL;
		}
		names[nn++] = m;
	}
	qsort(names, nn, sizeof(names[0]), cmp_str);
	for (unsigned k = 0; k < nn; k++) {
		size_t len = strlen(names[k]);
		memcpy(r->methods[k], names[k], len + 1);
		r->method_len[k] = (uint8_t)len;
	}
	r->nmethods = nn;
	return 0;
}

static int method_id(const struct http_router *r, const char *m, size_t len)
{
	for (unsigned k = 0; k < r->nmethods; k++)
		if (r->method_len[k] == len && memcmp(r->methods[k], m, len) == 0)
			return (int)k;
	return -1;
}

static int add_route(struct http_router *r, const struct http_route *routes, uint32_t ri,
		     struct tmpl *t, struct http_router_error *err)
{
	const struct http_route *in = &routes[ri];
	struct route_rec *rr = &r->routes[ri];
	size_t len = strnlen(in->tmpl, HTTP_ROUTER_MAX_TEMPLATE + 1);
	uint32_t ni = 0;
	struct end *e;
	int rc, other = -1;

	rc = parse_template(in->tmpl, len, t, err);
	if (rc) {
		char why[sizeof(err->msg)];
		if (err) {
			memcpy(why, err->msg, sizeof(why));
			route_error(err, routes, (int)ri, -1, "%s", why);
		}
		return rc;
	}
	rr->target = in->target;
	rr->method = strcmp(in->method, "*") == 0
			     ? METHOD_ANY
			     : (uint8_t)method_id(r, in->method, strlen(in->method));
	rr->tmpl = strdup(in->tmpl);
	rr->nvars = (uint8_t)t->nvars;
	rr->vars = t->nvars ? calloc(t->nvars, sizeof(*rr->vars)) : NULL;
	r->nroutes = ri + 1; /* rr is now owned by r, freed with it */
	if (!rr->tmpl || (t->nvars && !rr->vars))
		return -ENOMEM;
	for (unsigned k = 0; k < t->nvars; k++) {
		const struct pvar *v = &t->var[k];
		rr->vars[k] = (struct rvar){v->field_off, v->field_len, v->start,
					    v->end,       v->multi,     v->to_end};
	}

	for (unsigned k = 0; k < t->nseg; k++) {
		const struct pseg *s = &t->seg[k];
		ni = s->kind == SEG_LIT ? lit_child(r, ni, s)
					: wild_child(r, ni, s->kind == SEG_DSTAR);
		if (!ni)
			return -ENOMEM;
	}
	e = find_end(&r->nodes[ni], t->verb, t->verb_len);
	if (!e)
		e = add_end(&r->nodes[ni], t->verb, t->verb_len);
	if (!e)
		return -ENOMEM;
	if (t->verb)
		r->has_verbs = true;
	rc = end_add_route(e, rr->method, ri, &other);
	if (rc == -EEXIST) {
		char m[48], tq[160];
		const char *ot = routes[other].tmpl;
		method_text(m, sizeof(m), routes[other].method);
		quote(tq, sizeof(tq), ot, strlen(ot), 100);
		route_error(err, routes, (int)ri, other,
			    "conflicts with route %d: %s %s (same method, equivalent template)",
			    other, m, tq);
		if (err)
			err->column = 0;
	}
	return rc;
}

int http_router_build(const struct http_route *routes, size_t n, struct http_router **out,
		      struct http_router_error *err)
{
	struct http_router *r;
	struct tmpl *t = NULL;
	int rc;

	*out = NULL;
	if (err) {
		err->route = err->other = -1;
		err->column = 0;
		err->msg[0] = '\0';
	}
	if (n > INT32_MAX)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = collect_methods(r, routes, n, err);
	if (rc)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (!routes[i].tmpl) {
			route_error(err, routes, (int)i, -1, "no template");
			rc = -EINVAL;
			goto fail;
		}
	}
	rc = -ENOMEM;
	t = malloc(sizeof(*t));
	r->routes = calloc(n ? n : 1, sizeof(*r->routes));
	if (!t || !r->routes || new_node(r) != 0 /* the root is node 0 */ || r->nnodes != 1)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		rc = add_route(r, routes, (uint32_t)i, t, err);
		if (rc)
			goto fail;
	}
	rc = build_tables(r);
	if (rc)
		goto fail;
	free(t);
	*out = r;
	return 0;
fail:
	if (rc == -ENOMEM && err && !err->msg[0])
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	free(t);
	http_router_free(r);
	return rc;
}

/* ---- matching ------------------------------------------------------------- */

/*
 * One request segment.  Its hash is taken only when a node with literal
 * children looks it up: a segment under a variable (an id) is never
 * hashed, and the last one is not hashed twice when the verb pass splits it.
 */
struct rseg {
	uint32_t off, len; /* raw bytes in the path     */
	uint32_t dlen;     /* decoded length            */
	uint32_t hash;     /* fnv of the decoded bytes  */
	bool hashed;       /* the three fields below are set */
	bool bad;          /* malformed %: no literal matches it */
	bool pct;          /* contains '%'               */
};

static void init_seg(uint32_t off, uint32_t len, struct rseg *s)
{
	s->off = off;
	s->len = len;
	s->hashed = false;
}

static void hash_seg(const char *path, struct rseg *s)
{
	const char *p = path + s->off;
	uint32_t h = FNV_OFFSET, d = 0, len = s->len;
	s->hashed = true;
	s->bad = s->pct = false;
	for (uint32_t i = 0; i < len; d++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '%') {
			int hi = i + 2 < len ? hexval((unsigned char)p[i + 1]) : -1;
			int lo = i + 2 < len ? hexval((unsigned char)p[i + 2]) : -1;
			s->pct = true;
			if (hi < 0 || lo < 0) {
				s->bad = true;
				break;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 3;
		} else {
			i++;
		}
		h = (h ^ c) * FNV_PRIME;
	}
	s->hash = h;
	s->dlen = d;
}

struct walk {
	const struct http_router *r;
	const char *path;
	struct rseg *segs;
	struct rseg last; /* segs[nseg - 1] as this pass sees it */
	uint32_t nseg;    /* request segments (may exceed the indexed ones) */
	uint32_t end;     /* offset just past the last segment, before ":verb" */
	const char *verb; /* NULL: plain pass */
	size_t verb_len;
	int method;
	uint64_t allow;
	int32_t route;
};

static struct rseg *wseg(struct walk *w, uint32_t d)
{
	return d + 1 == w->nseg ? &w->last : &w->segs[d];
}

static const struct rseg *wseg_const(const struct walk *w, uint32_t d)
{
	return d + 1 == w->nseg ? &w->last : &w->segs[d];
}

static uint32_t lookup(const struct walk *w, const struct node *n, struct rseg *s)
{
	const char *raw = w->path + s->off;
	uint32_t i;
	if (!s->hashed)
		hash_seg(w->path, s);
	if (s->bad)
		return 0;
	for (i = s->hash & n->slot_mask; n->slots[i]; i = (i + 1) & n->slot_mask) {
		const struct lit_child *c = &n->lits[n->slots[i] - 1];
		if (c->hash != s->hash || c->len != s->dlen)
			continue;
		if (s->pct ? pct_eq(raw, s->len, c->text, c->len)
			   : memcmp(raw, c->text, c->len) == 0)
			return c->node;
	}
	return 0;
}

/* The request ends at node n: does a route of this pass end here? */
static bool leaf(struct walk *w, const struct node *n)
{
	for (uint32_t k = 0; k < n->nends; k++) {
		const struct end *e = &n->ends[k];
		if (w->verb ? !e->verb || !pct_eq(w->verb, w->verb_len, e->verb, e->verb_len)
			    : e->verb != NULL)
			continue;
		if (w->method >= 0 && (e->mask >> w->method & 1)) {
			w->route = (int32_t)e->routes[rank(e->mask, (unsigned)w->method)];
			return true;
		}
		if (e->any != NO_ROUTE) {
			w->route = e->any;
			return true;
		}
		w->allow |= e->mask;
		return false; /* verbs are unique per node */
	}
	return false;
}

static bool walk(struct walk *w, uint32_t ni, uint32_t d)
{
	const struct node *nodes = w->r->nodes, *n = &nodes[ni];

	if (d == w->nseg)
		return leaf(w, n) || (n->dstar && leaf(w, &nodes[n->dstar])); /* '**' takes none */
	/* a node at depth d has children only if some template has more
	 * than d segments, so d indexes a scanned segment here */
	assert(d < HTTP_ROUTER_MAX_SEGMENTS || (!n->nlits && !n->star && !n->dstar));
	if (n->nlits) {
		uint32_t child = lookup(w, n, wseg(w, d));
		if (child && walk(w, child, d + 1))
			return true;
	}
	if (n->star && walk(w, n->star, d + 1))
		return true;
	return n->dstar && leaf(w, &nodes[n->dstar]); /* '**' takes d..end */
}

static void fill_captures(const struct walk *w, struct http_route_match *m)
{
	const struct route_rec *rr = &w->r->routes[w->route];
	m->target = rr->target;
	m->route = (unsigned)w->route;
	m->tmpl = rr->tmpl;
	m->ncaptures = rr->nvars;
	for (unsigned k = 0; k < rr->nvars; k++) {
		const struct rvar *v = &rr->vars[k];
		struct http_capture *c = &m->captures[k];
		uint32_t start, stop;
		/* pattern segment i met request segment i, except that '**'
		 * (always last) took the rest, possibly nothing */
		start = v->start < w->nseg ? wseg_const(w, v->start)->off : w->end;
		if (v->to_end) {
			stop = w->end;
		} else {
			const struct rseg *s = wseg_const(w, v->end - 1u);
			stop = s->off + s->len;
		}
		assert(start <= stop);
		c->field.base = rr->tmpl + v->field_off;
		c->field.len = v->field_len;
		c->raw.base = w->path + start;
		c->raw.len = stop - start;
		c->multi = v->multi;
	}
}

enum http_route_status http_router_match(const struct http_router *r, const char *method,
					 size_t method_len, const char *path, size_t path_len,
					 struct http_route_match *m)
{
	struct rseg segs[HTTP_ROUTER_MAX_SEGMENTS];
	struct walk w;
	uint32_t nseg = 0, last_off = 0, last_len = 0;

	assert(r && m && (method || !method_len) && (path || !path_len));
	m->allow = 0;
	m->ncaptures = 0;
	if (path_len == 0 || path[0] != '/' || path_len > UINT32_MAX)
		return HTTP_ROUTE_NOT_FOUND;

	/* Split.  An empty segment matches no template, so stop at the first. */
	for (uint32_t i = 1; path_len > 1;) {
		const char *slash = memchr(path + i, '/', path_len - i);
		uint32_t stop = slash ? (uint32_t)(slash - path) : (uint32_t)path_len;
		if (stop == i)
			return HTTP_ROUTE_NOT_FOUND;
		if (nseg < HTTP_ROUTER_MAX_SEGMENTS)
			init_seg(i, stop - i, &segs[nseg]);
		nseg++;
		last_off = i;
		last_len = stop - i;
		if (!slash)
			break;
		i = stop + 1;
		if (i == path_len)
			return HTTP_ROUTE_NOT_FOUND; /* trailing '/' */
	}

	w.r = r;
	w.path = path;
	w.segs = segs;
	w.nseg = nseg;
	w.method = method_id(r, method, method_len);
	w.allow = 0;
	w.route = NO_ROUTE;

	/* Verb pass: the last segment split at its last ':'. */
	if (r->has_verbs && nseg) {
		const char *ls = path + last_off;
		uint32_t c = last_len;
		while (c && ls[c - 1] != ':')
			c--;
		/* c - 1 is the last ':' (c == 0: none); stem and verb non-empty */
		if (c > 1 && c < last_len) {
			uint32_t stem = c - 1;
			w.verb = ls + stem + 1;
			w.verb_len = last_len - stem - 1;
			w.end = last_off + stem;
			if (nseg <= HTTP_ROUTER_MAX_SEGMENTS)
				init_seg(last_off, stem, &w.last);
			if (walk(&w, 0, 0))
				goto found;
		}
	}
	/* Plain pass: every segment taken whole. */
	w.verb = NULL;
	w.verb_len = 0;
	w.end = (uint32_t)path_len;
	if (nseg && nseg <= HTTP_ROUTER_MAX_SEGMENTS)
		w.last = segs[nseg - 1];
	if (walk(&w, 0, 0))
		goto found;
	m->allow = w.allow;
	return w.allow ? HTTP_ROUTE_METHOD_NOT_ALLOWED : HTTP_ROUTE_NOT_FOUND;
found:
	m->allow = w.allow;
	fill_captures(&w, m);
	return HTTP_ROUTE_FOUND;
}

size_t http_router_allow(const struct http_router *r, const struct http_route_match *m, char *buf,
			 size_t cap)
{
	size_t o = 0;
	for (unsigned k = 0; k < r->nmethods; k++) {
		if (!(m->allow >> k & 1))
			continue;
		for (int part = 0; part < 2; part++) {
			const char *s = part ? r->methods[k] : ", ";
			size_t n = part ? r->method_len[k] : (o ? 2 : 0);
			if (o < cap) {
				size_t room = cap - 1 - o;
				memcpy(buf + o, s, n < room ? n : room);
			}
			o += n;
		}
	}
	if (cap)
		buf[o < cap ? o : cap - 1] = '\0';
	return o;
}

ssize_t http_router_decode(const struct http_capture *c, char *out)
{
	const char *s = c->raw.base;
	size_t n = c->raw.len, o = 0;

	for (size_t i = 0; i < n;) {
		int hi, lo;
		if (s[i] != '%') {
			out[o++] = s[i++];
			continue;
		}
		if (i + 2 >= n)
			return -EINVAL;
		hi = hexval((unsigned char)s[i + 1]);
		lo = hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (c->multi && hi == 2 && (lo == 0xf)) {
			/* reserved expansion: an encoded '/' is data, not a
			 * separator, so it must stay distinguishable */
			memmove(out + o, s + i, 3);
			o += 3;
		} else {
			out[o++] = (char)(hi << 4 | lo);
		}
		i += 3;
	}
	return (ssize_t)o;
}
