/*
 * fuzz_router.c - libFuzzer target for the route matcher.
 *
 * The first byte picks the mode:
 *   even: the rest is up to 16 lines "<m><template>" (m picks a method);
 *         every template is checked, the set is built (errors are fine),
 *         and when it builds, each template turned into a path, plus the
 *         last line taken as a path, is matched against it;
 *   odd:  the next byte picks a method and the rest is a path matched
 *         against a fixed route set.
 *
 * Every match is checked against a naive oracle that knows nothing of the
 * trie: it tries each route on its own (verb pass, then plain pass) and
 * keeps the most specific one by comparing segment kinds left to right
 * (literal < '*' < '**', shorter first, exact method before "*").  Status,
 * route, every capture slice and the Allow value must agree, and decoding
 * a capture must stay inside an exactly sized buffer.
 */
#include "http/router.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* abort() rather than assert(): the check must survive -DNDEBUG builds */
#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#define MAX_INPUT  4096
#define MAX_ROUTES 32

static const char *const methods[] = {"GET", "POST", "*", "REPORT", "DELETE", "get", "BREW"};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* ---- the oracle ----------------------------------------------------------- */

enum { K_LIT, K_STAR, K_DSTAR };

struct oseg {
	int kind;
	const char *lit; /* raw, as in the template */
	size_t len;
};

struct ovar {
	const char *field;
	size_t field_len;
	int start, end;
	bool multi, to_end;
};

struct oroute {
	const char *method;
	int nseg, nvars;
	struct oseg seg[HTTP_ROUTER_MAX_SEGMENTS];
	struct ovar var[HTTP_ROUTER_MAX_CAPTURES];
	const char *verb; /* raw, NULL if none */
	size_t verb_len;
};

static int hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode into out (n bytes at most); false on a malformed escape. */
static bool decode(const char *s, size_t n, char *out, size_t *olen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; o++) {
		if (s[i] != '%') {
			out[o] = s[i++];
			continue;
		}
		if (i + 2 >= n || hexv((unsigned char)s[i + 1]) < 0 ||
		    hexv((unsigned char)s[i + 2]) < 0)
			return false;
		out[o] = (char)(hexv((unsigned char)s[i + 1]) << 4 | hexv((unsigned char)s[i + 2]));
		i += 3;
	}
	*olen = o;
	return true;
}

static bool dec_eq(const char *a, size_t an, const char *b, size_t bn)
{
	char da[MAX_INPUT], db[MAX_INPUT];
	size_t la, lb;
	if (an > MAX_INPUT || bn > MAX_INPUT)
		return false;
	return decode(a, an, da, &la) && decode(b, bn, db, &lb) && la == lb &&
	       memcmp(da, db, la) == 0;
}

/* Read a template the build accepted: strip variables down to their
 * segments, remembering which segments each one covers. */
static void shape(const char *method, const char *t, struct oroute *r)
{
	size_t n = strlen(t), i = 1;
	struct ovar *open = NULL;

	memset(r, 0, sizeof(*r));
	r->method = method;
	while (i < n) {
		char c = t[i];
		if (c == '/') {
			i++;
		} else if (c == '{') {
			size_t f = ++i;
			while (t[i] != '=' && t[i] != '}')
				i++;
			open = &r->var[r->nvars++];
			open->field = t + f;
			open->field_len = i - f;
			open->start = r->nseg;
			if (t[i] == '}') /* {x} is {x=*} */
				r->seg[r->nseg++] = (struct oseg){K_STAR, NULL, 0};
			else
				i++; /* '=' */
			if (t[i] == '}') {
				i++;
				open->end = r->nseg;
				open = NULL;
			}
		} else if (c == '}') {
			i++;
			open->end = r->nseg;
			open = NULL;
		} else if (c == ':') {
			r->verb = t + i + 1;
			r->verb_len = n - i - 1;
			break;
		} else {
			size_t s = i;
			while (i < n && t[i] != '/' && t[i] != '}' && t[i] != ':')
				i++;
			if (i - s == 2 && t[s] == '*' && t[s + 1] == '*')
				r->seg[r->nseg++] = (struct oseg){K_DSTAR, NULL, 0};
			else if (i - s == 1 && t[s] == '*')
				r->seg[r->nseg++] = (struct oseg){K_STAR, NULL, 0};
			else
				r->seg[r->nseg++] = (struct oseg){K_LIT, t + s, i - s};
		}
	}
	for (int k = 0; k < r->nvars; k++) {
		struct ovar *v = &r->var[k];
		v->to_end = r->seg[v->end - 1].kind == K_DSTAR;
		v->multi = v->end - v->start > 1 || v->to_end;
	}
}

struct req {
	const char *path;
	size_t len;
	int nseg;
	size_t off[MAX_INPUT], slen[MAX_INPUT];
};

static bool split(const char *p, size_t n, struct req *q)
{
	q->path = p;
	q->len = n;
	q->nseg = 0;
	if (n == 0 || p[0] != '/')
		return false;
	if (n == 1)
		return true;
	for (size_t i = 1;;) {
		size_t s = i;
		while (i < n && p[i] != '/')
			i++;
		if (i == s)
			return false;
		q->off[q->nseg] = s;
		q->slen[q->nseg++] = i - s;
		if (i == n)
			return true;
		i++;
		if (i == n)
			return false;
	}
}

static bool route_fits(const struct oroute *r, const struct req *q, const char *verb, size_t vlen)
{
	if (!verb != !r->verb)
		return false;
	if (verb && !dec_eq(verb, vlen, r->verb, r->verb_len))
		return false;
	for (int i = 0; i < r->nseg; i++) {
		if (r->seg[i].kind == K_DSTAR)
			return true;
		if (i >= q->nseg)
			return false;
		if (r->seg[i].kind == K_LIT &&
		    !dec_eq(q->path + q->off[i], q->slen[i], r->seg[i].lit, r->seg[i].len))
			return false;
	}
	return q->nseg == r->nseg;
}

/* Same method and the same template up to variable names. */
static bool equivalent(const struct oroute *a, const struct oroute *b)
{
	if (strcmp(a->method, b->method) != 0 || a->nseg != b->nseg || !a->verb != !b->verb)
		return false;
	if (a->verb && !dec_eq(a->verb, a->verb_len, b->verb, b->verb_len))
		return false;
	for (int i = 0; i < a->nseg; i++) {
		if (a->seg[i].kind != b->seg[i].kind)
			return false;
		if (a->seg[i].kind == K_LIT &&
		    !dec_eq(a->seg[i].lit, a->seg[i].len, b->seg[i].lit, b->seg[i].len))
			return false;
	}
	return true;
}

/* <0: a is more specific than b */
static int specificity(const struct oroute *a, const struct oroute *b)
{
	for (int i = 0;; i++) {
		if (i == a->nseg || i == b->nseg)
			return (i == a->nseg ? 0 : 1) - (i == b->nseg ? 0 : 1);
		if (a->seg[i].kind != b->seg[i].kind)
			return a->seg[i].kind - b->seg[i].kind;
	}
}

static void check_match(const struct http_router *rt, const struct oroute *routes, int n,
			const char *method, const char *path, size_t len)
{
	static struct req q; /* big: keep it off the stack */
	struct http_route_match m;
	enum http_route_status st = http_router_match(rt, method, strlen(method), path, len, &m);
	const char *allowed[2 * MAX_ROUTES]; /* a route may fit both passes */
	int nallowed = 0, best = -1;
	size_t end = len;
	bool verb_found = false;

	REQUIRE(n <= MAX_ROUTES);
	REQUIRE(st == HTTP_ROUTE_FOUND || st == HTTP_ROUTE_NOT_FOUND ||
		st == HTTP_ROUTE_METHOD_NOT_ALLOWED);
	if (!split(path, len, &q)) {
		REQUIRE(st == HTTP_ROUTE_NOT_FOUND && m.allow == 0);
		return;
	}

	/* verb pass, then plain pass */
	for (int pass = 0; pass < 2 && best < 0; pass++) {
		const char *verb = NULL;
		size_t vlen = 0, last_len = 0;
		if (pass == 0) {
			size_t c;
			if (q.nseg == 0)
				continue;
			last_len = q.slen[q.nseg - 1];
			c = last_len;
			while (c && path[q.off[q.nseg - 1] + c - 1] != ':')
				c--;
			if (c <= 1 || c >= last_len)
				continue;
			verb = path + q.off[q.nseg - 1] + c;
			vlen = last_len - c;
			q.slen[q.nseg - 1] = c - 1;
		}
		for (int k = 0; k < n; k++) {
			const struct oroute *r = &routes[k];
			bool exact = strcmp(r->method, method) == 0;
			if (!route_fits(r, &q, verb, vlen))
				continue;
			if (exact || strcmp(r->method, "*") == 0) {
				int s = best < 0 ? -1 : specificity(r, &routes[best]);
				if (s < 0 || (s == 0 && exact))
					best = k;
			} else {
				allowed[nallowed++] = r->method;
			}
		}
		if (pass == 0) {
			if (best >= 0) {
				verb_found = true;
				end = q.off[q.nseg - 1] + q.slen[q.nseg - 1];
			}
			q.slen[q.nseg - 1] = last_len;
		}
	}

	if (best < 0) {
		char want[512] = "", got[512];
		size_t o = 0;
		/* sorted, unique: the Allow value */
		for (int a = 0; a < nallowed; a++)
			for (int b = a + 1; b < nallowed; b++)
				if (strcmp(allowed[b], allowed[a]) < 0) {
					const char *t = allowed[a];
					allowed[a] = allowed[b];
					allowed[b] = t;
				}
		for (int a = 0; a < nallowed; a++)
			if (a == 0 || strcmp(allowed[a], allowed[a - 1]) != 0)
				o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%s",
						      o ? ", " : "", allowed[a]);
		REQUIRE(st == (nallowed ? HTTP_ROUTE_METHOD_NOT_ALLOWED : HTTP_ROUTE_NOT_FOUND));
		REQUIRE(http_router_allow(rt, &m, got, sizeof(got)) == o);
		REQUIRE(strcmp(got, want) == 0);
		return;
	}

	REQUIRE(st == HTTP_ROUTE_FOUND);
	REQUIRE(m.route == (unsigned)best);
	REQUIRE((int)m.ncaptures == routes[best].nvars);
	for (int k = 0; k < routes[best].nvars; k++) {
		const struct ovar *v = &routes[best].var[k];
		const struct http_capture *c = &m.captures[k];
		size_t start, stop;
		if (v->to_end) {
			stop = end;
		} else {
			int l = v->end - 1;
			stop = q.off[l] + q.slen[l];
			if (verb_found && l == q.nseg - 1)
				stop = end;
		}
		start = v->start < q.nseg ? q.off[v->start] : end;
		REQUIRE(c->field.len == v->field_len &&
			memcmp(c->field.base, v->field, v->field_len) == 0);
		REQUIRE(c->multi == v->multi);
		REQUIRE(c->raw.base == path + start && c->raw.len == stop - start);

		/* decoding never grows: an exactly sized buffer is enough */
		char *out = malloc(c->raw.len ? c->raw.len : 1);
		ssize_t d;
		REQUIRE(out);
		d = http_router_decode(c, out);
		REQUIRE(d == -EINVAL || (d >= 0 && (size_t)d <= c->raw.len));
		if (d >= 0 && !c->multi)
			REQUIRE(memchr(c->raw.base, '/', c->raw.len) == NULL);
		free(out);
	}
}

/* ---- the fixed route set -------------------------------------------------- */

static const struct http_route fixed[] = {
	{"GET", "/", NULL},
	{"GET", "/v1/agents", NULL},
	{"POST", "/v1/agents", NULL},
	{"GET", "/v1/agents/{agent_id}", NULL},
	{"DELETE", "/v1/agents/{agent_id}", NULL},
	{"POST", "/v1/agents/{agent_id}:execute", NULL},
	{"GET", "/v1/agents/special", NULL},
	{"GET", "/v1/{name=shelves/*/books/*}", NULL},
	{"GET", "/v1/files/{path=**}", NULL},
	{"GET", "/v1/files/{path=**}:download", NULL},
	{"GET", "/v1/{a.b.c}/x", NULL},
	{"GET", "/v1/a%20b/{x}", NULL},
	{"*", "/any/{x}", NULL},
	{"GET", "/any/{x}", NULL},
	{"REPORT", "/b/{x}/c", NULL},
	{"GET", "/b/lit/d", NULL},
	{"GET", "/b/{x=**}", NULL},
	{"POST", "/b/{x=lit/*}:go", NULL},
	{"GET", "/{x=**}:root", NULL},
	{"GET", "/%3A/{y}", NULL},
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

static struct http_router *fixed_router;
static struct oroute fixed_shapes[NFIXED];

static void fixed_init(void)
{
	struct http_router_error err;
	if (fixed_router)
		return;
	REQUIRE(http_router_build(fixed, NFIXED, &fixed_router, &err) == 0);
	for (size_t k = 0; k < NFIXED; k++)
		shape(fixed[k].method, fixed[k].tmpl, &fixed_shapes[k]);
}

/* ---- dynamic route sets --------------------------------------------------- */

/* A path the template should match: a variable becomes its sub-template
 * (or "s"), a '*' becomes "s" and a '**' becomes "p/q". */
static size_t instantiate(const char *t, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; t[i] && o + 4 < cap; i++) {
		if (t[i] == '{') {
			while (t[i + 1] && t[i + 1] != '=' && t[i + 1] != '}')
				i++;
			if (t[i + 1] == '=')
				i++;
			else
				out[o++] = 's';
		} else if (t[i] == '}') {
			continue;
		} else if (t[i] == '*' && t[i + 1] == '*') {
			memcpy(out + o, "p/q", 3);
			o += 3;
			i++;
		} else if (t[i] == '*') {
			out[o++] = 's';
		} else {
			out[o++] = t[i];
		}
	}
	return o;
}

static void fuzz_templates(const char *d, size_t n)
{
	static char text[MAX_ROUTES][MAX_INPUT + 1];
	static struct oroute shapes[MAX_ROUTES];
	struct http_route routes[MAX_ROUTES];
	struct http_router_error err;
	struct http_router *rt = NULL;
	int nr = 0, first_bad = -1, rc;
	const char *last = d;
	size_t last_len = 0;

	for (size_t i = 0; i < n && nr < MAX_ROUTES;) {
		const char *nl = memchr(d + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (d + i)) : n - i;
		last = d + i;
		last_len = l;
		if (l > 0) {
			const char *t = d + i + 1;
			size_t tl = l - 1;
			memcpy(text[nr], t, tl);
			text[nr][tl] = '\0';
			rc = http_router_check_template(t, tl, &err);
			REQUIRE(rc == 0 || rc == -EINVAL);
			REQUIRE(rc == 0 || (err.column >= 1 && err.column <= tl + 1 &&
					    memchr(err.msg, '\0', sizeof(err.msg))));
			/* build sees the string up to its first NUL */
			rc = http_router_check_template(t, strlen(text[nr]), NULL);
			if (rc && first_bad < 0)
				first_bad = nr;
			routes[nr] = (struct http_route){methods[(unsigned char)d[i] % NMETHODS],
							 text[nr], NULL};
			nr++;
		}
		i += l + 1;
	}

	rc = http_router_build(routes, (size_t)nr, &rt, &err);
	REQUIRE(memchr(err.msg, '\0', sizeof(err.msg)));
	if (first_bad >= 0) {
		REQUIRE(rc != 0 && rt == NULL && err.route >= 0 && err.route <= first_bad);
		return;
	}
	REQUIRE(rc == 0 || rc == -EEXIST);
	for (int k = 0; k < nr; k++)
		shape(routes[k].method, routes[k].tmpl, &shapes[k]);
	/* conflicts: exactly the pairs the oracle finds equivalent */
	if (rc) {
		REQUIRE(rt == NULL && err.other >= 0 && err.other < err.route);
		REQUIRE(equivalent(&shapes[err.other], &shapes[err.route]));
		for (int a = 0; a < err.route; a++)
			for (int b = a + 1; b < err.route; b++)
				REQUIRE(!equivalent(&shapes[a], &shapes[b]));
		return;
	}
	for (int a = 0; a < nr; a++)
		for (int b = a + 1; b < nr; b++)
			REQUIRE(!equivalent(&shapes[a], &shapes[b]));
	for (int k = 0; k < nr; k++) {
		char path[MAX_INPUT + 8];
		size_t pl = instantiate(routes[k].tmpl, path, sizeof(path));
		for (size_t mi = 0; mi < NMETHODS; mi++)
			check_match(rt, shapes, nr, methods[mi], path, pl);
		check_match(rt, shapes, nr, "GET", routes[k].tmpl, strlen(routes[k].tmpl));
	}
	check_match(rt, shapes, nr, "GET", last, last_len);
	http_router_free(rt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > MAX_INPUT)
		return 0;
	if (data[0] & 1) {
		fixed_init();
		check_match(fixed_router, fixed_shapes, (int)NFIXED, methods[data[1] % NMETHODS],
			    (const char *)data + 2, size - 2);
	} else {
		fuzz_templates((const char *)data + 1, size - 1);
	}
	return 0;
}
