/*
 * test_router.c - the route matcher against google.api.HttpRule.
 *
 * Tables first, one row per rule (named after it), expected result beside
 * the input; the loops that walk them come last.  Captures are written as
 * "field=raw" joined by ';', a '+' before the field marking a multi-segment
 * capture, so one string states field, text and kind of every capture.
 */
#include "http/router.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- template syntax ------------------------------------------------------ */

struct tmpl_case {
	const char *name;
	const char *tmpl;
	unsigned column; /* 0: valid */
	const char *msg; /* substring of the error message */
};

static const struct tmpl_case tmpl_cases[] = {
	{"grammar root path", "/", 0, NULL},
	{"grammar literal", "/v1/agents", 0, NULL},
	{"grammar '*'", "/v1/*", 0, NULL},
	{"grammar '**' last", "/v1/**", 0, NULL},
	{"grammar '**' before verb", "/v1/**:cancel", 0, NULL},
	{"grammar {field}", "/v1/{a}", 0, NULL},
	{"grammar {field=*}", "/v1/{a=*}", 0, NULL},
	{"grammar {field=**}", "/v1/{a=**}", 0, NULL},
	{"grammar {field=segments/*}", "/v1/{name=shelves/*}/books", 0, NULL},
	{"grammar {field=a/*/b/**}:verb", "/v1/{n=a/*/b/**}:get", 0, NULL},
	{"grammar FieldPath IDENT.IDENT", "/v1/{a.b.c}", 0, NULL},
	{"grammar IDENT with _ and digits", "/v1/{_a1.b_2}", 0, NULL},
	{"grammar Verb after variable", "/v1/agents/{agent_id}:execute", 0, NULL},
	{"literal pchar sub-delims and @", "/v1/a=b@c!$&'()+,;~._-", 0, NULL},
	{"literal %HH escape", "/v1/a%2Fb%3a", 0, NULL},
	{"template starts with '/'", "v1/x", 1, "starts with '/'"},
	{"empty template", "", 1, "starts with '/'"},
	{"empty segment '//'", "/v1//x", 5, "empty segment"},
	{"trailing '/' is an empty segment", "/v1/", 5, "empty segment"},
	{"verb needs a segment", "/:verb", 2, "empty segment"},
	{"'**' in the middle", "/v1/**/x", 5, "'**' must be the last segment"},
	{"'**' in a variable in the middle", "/v1/{a=**}/x", 8, "'**' must be the last"},
	{"variable inside a variable", "/v1/{a={b}}", 8, "may not contain a variable"},
	{"unterminated variable", "/v1/{a", 5, "unterminated"},
	{"unterminated variable template", "/v1/{a=b", 5, "unterminated"},
	{"empty field path", "/v1/{}", 6, "expected a field name"},
	{"IDENT starts with a letter", "/v1/{1a}", 6, "expected a field name"},
	{"FieldPath trailing '.'", "/v1/{a.}", 8, "expected a field name"},
	{"FieldPath '..'", "/v1/{a..b}", 8, "expected a field name"},
	{"empty variable template", "/v1/{a=}", 8, "empty segment"},
	{"junk after field path", "/v1/{a-b}", 7, "expected '=' or '}'"},
	{"field bound twice", "/v1/{a}/{a}", 10, "bound twice"},
	{"empty verb", "/v1/x:", 6, "empty verb"},
	{"verb must end the template", "/v1/x:a/b", 8, "the verb must end"},
	{"verb has no ':'", "/v1/x:a:b", 8, "the verb must end"},
	{"verb inside a variable", "/v1/{a=b:c}", 9, "not allowed in a variable"},
	{"'*' is a whole segment", "/v1/a*", 6, "'*' must be a whole segment"},
	{"'***'", "/v1/***", 7, "'*' must be a whole segment"},
	{"variable is a whole segment", "/v1/a{b}", 6, "variable must be a whole segment"},
	{"stray '}'", "/v1/x}", 6, "'}' without a variable"},
	{"bad escape: one hex digit", "/v1/a%2", 6, "two hex digits"},
	{"bad escape: not hex", "/v1/a%zz", 6, "two hex digits"},
	{"space is not a pchar", "/v1/a b", 6, "unexpected byte 0x20"},
	{"'?' is not a pchar", "/v1/?", 5, "'?' is not allowed"},
	{"NUL byte", "/v1/\x01", 5, "byte 0x01 is not allowed"},
};

/* ---- matching ------------------------------------------------------------- */

/* The target of each route is its name, so a row names the route it wants. */
static const struct http_route api[] = {
	{"GET", "/", "root"},
	{"GET", "/v1/agents", "list"},
	{"POST", "/v1/agents", "create"},
	{"GET", "/v1/agents/{agent_id}", "get"},
	{"DELETE", "/v1/agents/{agent_id}", "delete"},
	{"PATCH", "/v1/agents/{agent.id}", "update"},
	{"REPORT", "/v1/agents/{agent_id}", "report"},
	{"POST", "/v1/agents/{agent_id}:execute", "execute"},
	{"GET", "/v1/agents/special", "special"},
	{"GET", "/v1/{name=shelves/*/books/*}", "book"},
	{"GET", "/v1/files/{path=**}", "file"},
	{"GET", "/v1/files/{path=**}:download", "download"},
	{"GET", "/v1/things/{id}", "thing"},
	{"GET", "/v1/messages/{message_id}/{sub.subfield}", "message"},
	{"GET", "/v1/a%20b/x", "spaced"},
	{"GET", "/v1/abc", "abc"},
	{"*", "/any/{x}", "any"},
	{"GET", "/any/{x}", "any-get"},
	{"GET", "/v1/{project=projects/*}/zones", "zones"},
	/* precedence: literal > '*' > '**', with backtracking */
	{"GET", "/b/{x}/c", "b-star-c"},
	{"GET", "/b/lit/d", "b-lit-d"},
	{"GET", "/b/{x=**}", "b-rest"},
	{"GET", "/p/special", "p-lit"},
	{"GET", "/p/{id}", "p-star"},
	{"GET", "/p/{rest=**}", "p-rest"},
	/* the method is part of the match */
	{"POST", "/m/list", "m-post-list"},
	{"GET", "/m/{id}", "m-get"},
	{"GET", "/deep/{a=**}", "deep"},
	{"GET", "/v2/{a}/{b}/{c}/{d}", "four"},
};

struct match_case {
	const char *name;
	const char *method;
	const char *path;
	enum http_route_status status;
	const char *route; /* FOUND: route name; 405: the Allow value */
	const char *caps;  /* FOUND: expected captures */
};

#define FOUND HTTP_ROUTE_FOUND
#define NF    HTTP_ROUTE_NOT_FOUND
#define NA    HTTP_ROUTE_METHOD_NOT_ALLOWED

static const struct match_case match_cases[] = {
	{"literal path", "GET", "/v1/agents", FOUND, "list", ""},
	{"literal path, other method", "POST", "/v1/agents", FOUND, "create", ""},
	{"root path '/'", "GET", "/", FOUND, "root", ""},
	{"root path, wrong method -> 405", "PUT", "/", NA, "GET", NULL},
	{"{field} single segment", "GET", "/v1/agents/abc123", FOUND, "get", "agent_id=abc123"},
	{"{a.b.c} nested field path", "PATCH", "/v1/agents/x", FOUND, "update", "agent.id=x"},
	{"two variables, nested second", "GET", "/v1/messages/123/foo", FOUND, "message",
	 "message_id=123;sub.subfield=foo"},
	{"four variables", "GET", "/v2/1/2/3/4", FOUND, "four", "a=1;b=2;c=3;d=4"},
	{"{field=segments/*} multi", "GET", "/v1/shelves/1/books/2", FOUND, "book",
	 "+name=shelves/1/books/2"},
	{"{field=segments/*} needs its literals", "GET", "/v1/shelves/1/boks/2", NF, NULL, NULL},
	{"{field=projects/*} then literal", "GET", "/v1/projects/p1/zones", FOUND, "zones",
	 "+project=projects/p1"},
	{"{field=**} many segments", "GET", "/v1/files/a/b/c.txt", FOUND, "file",
	 "+path=a/b/c.txt"},
	{"{field=**} one segment", "GET", "/v1/files/a", FOUND, "file", "+path=a"},
	{"{field=**} zero segments", "GET", "/v1/files", FOUND, "file", "+path="},
	{":verb suffix", "POST", "/v1/agents/x:execute", FOUND, "execute", "agent_id=x"},
	{":verb after '**'", "GET", "/v1/files/a/b:download", FOUND, "download", "+path=a/b"},
	{":verb unknown -> plain '**'", "GET", "/v1/files/a/b:zip", FOUND, "file", "+path=a/b:zip"},
	{"':' without verb route is plain", "GET", "/v1/things/a:b", FOUND, "thing", "id=a:b"},
	{"last ':' splits the verb", "POST", "/v1/agents/a:b:execute", FOUND, "execute",
	 "agent_id=a:b"},
	{"empty verb stem is plain", "GET", "/v1/agents/:execute", FOUND, "get",
	 "agent_id=:execute"},
	{"empty verb is plain", "GET", "/v1/agents/x:", FOUND, "get", "agent_id=x:"},
	{"verb route is method-aware", "GET", "/v1/agents/x:execute", FOUND, "get",
	 "agent_id=x:execute"},
	{"verb and plain 405 merge Allow", "PUT", "/v1/agents/x:execute", NA,
	 "DELETE, GET, PATCH, POST, REPORT", NULL},
	{"trailing slash does not match", "GET", "/v1/agents/", NF, NULL, NULL},
	{"trailing slash after variable", "GET", "/v1/things/a/", NF, NULL, NULL},
	{"empty segment '//'", "GET", "/v1//agents", NF, NULL, NULL},
	{"empty segment under '**'", "GET", "/v1/files/a//b", NF, NULL, NULL},
	{"'//' alone", "GET", "//", NF, NULL, NULL},
	{"empty path", "GET", "", NF, NULL, NULL},
	{"path without leading '/'", "GET", "v1/agents", NF, NULL, NULL},
	{"asterisk-form", "OPTIONS", "*", NF, NULL, NULL},
	{"percent-encoded literal", "GET", "/v1/%61bc", FOUND, "abc", ""},
	{"decoded byte compares exactly", "GET", "/v1/%41bc", NF, NULL, NULL},
	{"percent-encoded literal, tail", "GET", "/v1/ab%63", FOUND, "abc", ""},
	{"literal with %20 in the template", "GET", "/v1/a%20b/x", FOUND, "spaced", ""},
	{"literal decoded both sides", "GET", "/v1/%61%20%62/x", FOUND, "spaced", ""},
	{"malformed escape matches no literal", "GET", "/v1/ab%6", NF, NULL, NULL},
	{"malformed escape still fills '*'", "GET", "/v1/agents/%zz", FOUND, "get", "agent_id=%zz"},
	{"capture stays raw", "GET", "/v1/agents/a%2Fb", FOUND, "get", "agent_id=a%2Fb"},
	{"literal beats '*'", "GET", "/v1/agents/special", FOUND, "special", ""},
	{"literal beats '*' (2)", "GET", "/p/special", FOUND, "p-lit", ""},
	{"'*' beats '**'", "GET", "/p/other", FOUND, "p-star", "id=other"},
	{"'**' takes the rest", "GET", "/p/a/b", FOUND, "p-rest", "+rest=a/b"},
	{"backtrack: literal fails deeper", "GET", "/b/lit/c", FOUND, "b-star-c", "x=lit"},
	{"backtrack: literal wins", "GET", "/b/lit/d", FOUND, "b-lit-d", ""},
	{"backtrack: down to '**'", "GET", "/b/lit/e", FOUND, "b-rest", "+x=lit/e"},
	{"backtrack: '*' then literal", "GET", "/b/q/c", FOUND, "b-star-c", "x=q"},
	{"backtrack: '**' takes none", "GET", "/b", FOUND, "b-rest", "+x="},
	{"method-aware precedence", "GET", "/m/list", FOUND, "m-get", "id=list"},
	{"method-aware precedence (2)", "POST", "/m/list", FOUND, "m-post-list", ""},
	{"405 lists every fitting method", "DELETE", "/m/list", NA, "GET, POST", NULL},
	{"405 Allow, sorted", "DELETE", "/v1/agents", NA, "GET, POST", NULL},
	{"405 Allow on variable", "PUT", "/v1/agents/x", NA, "DELETE, GET, PATCH, REPORT", NULL},
	{"404 unknown path", "GET", "/v1/nothing/here", NF, NULL, NULL},
	{"404 too deep", "GET", "/v1/agents/x/y", NF, NULL, NULL},
	{"404 too shallow", "GET", "/v1", NF, NULL, NULL},
	{"custom method", "REPORT", "/v1/agents/x", FOUND, "report", "agent_id=x"},
	{"methods are case-sensitive", "get", "/v1/agents", NA, "GET, POST", NULL},
	{"unknown method -> 405", "BREW", "/v1/agents", NA, "GET, POST", NULL},
	{"method '*' accepts any", "BREW", "/any/1", FOUND, "any", "x=1"},
	{"exact method beats '*'", "GET", "/any/1", FOUND, "any-get", "x=1"},
	{"a '/' inside the verb is a segment", "POST", "/v1/agents/x:execute/y", NF, NULL, NULL},
};

/* ---- capture decoding ----------------------------------------------------- */

struct decode_case {
	const char *name;
	const char *raw;
	bool multi;
	const char *want; /* NULL: -EINVAL */
};

static const struct decode_case decode_cases[] = {
	{"single: plain", "abc", false, "abc"},
	{"single: %20", "a%20b", false, "a b"},
	{"single: %2F decodes", "a%2Fb", false, "a/b"},
	{"single: %2f decodes", "a%2fb", false, "a/b"},
	{"single: upper and lower hex", "%4a%4A", false, "JJ"},
	{"single: '+' is not a space in a path", "a+b", false, "a+b"},
	{"single: %25 is '%'", "%2541", false, "%41"},
	{"multi: %2F stays", "a%2Fb/c", true, "a%2Fb/c"},
	{"multi: %2f stays", "a%2fb", true, "a%2fb"},
	{"multi: others decode", "a%20b/%41", true, "a b/A"},
	{"multi: %252F is %2F literally", "%252F", true, "%2F"},
	{"empty", "", false, ""},
	{"invalid: % at end", "ab%", false, NULL},
	{"invalid: % one digit", "ab%4", false, NULL},
	{"invalid: % not hex", "%zz", false, NULL},
	{"invalid: multi too", "a/%g0", true, NULL},
};

/* ---- conflicts ------------------------------------------------------------ */

struct conflict_case {
	const char *name;
	struct http_route a, b;
	bool conflict;
};

static const struct conflict_case conflict_cases[] = {
	{"same shape, different variable names",
	 {"GET", "/v1/{a}", NULL},
	 {"GET", "/v1/{b}", NULL},
	 true},
	{"variable vs bare '*'", {"GET", "/v1/{a}", NULL}, {"GET", "/v1/*", NULL}, true},
	{"variable vs bare '**'", {"GET", "/v1/{a=**}", NULL}, {"GET", "/v1/**", NULL}, true},
	{"variable boundaries do not matter",
	 {"GET", "/v1/{a=x/*}", NULL},
	 {"GET", "/v1/x/{b}", NULL},
	 true},
	{"literals compare decoded", {"GET", "/v1/abc", NULL}, {"GET", "/v1/%61bc", NULL}, true},
	{"same verb", {"POST", "/v1/{a}:run", NULL}, {"POST", "/v1/{b}:run", NULL}, true},
	{"method '*' twice", {"*", "/v1/x", NULL}, {"*", "/v1/x", NULL}, true},
	{"custom method twice", {"REPORT", "/v1/{a}", NULL}, {"REPORT", "/v1/{b}", NULL}, true},
	{"different methods", {"GET", "/v1/{a}", NULL}, {"POST", "/v1/{a}", NULL}, false},
	{"literal vs variable", {"GET", "/v1/{a}", NULL}, {"GET", "/v1/abc", NULL}, false},
	{"'*' vs '**'", {"GET", "/v1/{a}", NULL}, {"GET", "/v1/{a=**}", NULL}, false},
	{"with and without verb", {"GET", "/v1/{a}", NULL}, {"GET", "/v1/{a}:x", NULL}, false},
	{"different verbs", {"GET", "/v1/{a}:x", NULL}, {"GET", "/v1/{a}:y", NULL}, false},
	{"exact method vs '*'", {"GET", "/v1/{a}", NULL}, {"*", "/v1/{a}", NULL}, false},
	{"literal case matters", {"GET", "/v1/abc", NULL}, {"GET", "/v1/ABC", NULL}, false},
	{"different depth", {"GET", "/v1/{a}", NULL}, {"GET", "/v1/{a}/{b}", NULL}, false},
};

/* ---- helpers ------------------------------------------------------------- */

static void caps_text(const struct http_route_match *m, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (unsigned k = 0; k < m->ncaptures; k++) {
		const struct http_capture *c = &m->captures[k];
		int n = snprintf(out + o, cap - o, "%s%s%.*s=%.*s", k ? ";" : "",
				 c->multi ? "+" : "", (int)c->field.len, c->field.base,
				 (int)c->raw.len, c->raw.base);
		if (n < 0 || (size_t)n >= cap - o)
			return;
		o += (size_t)n;
	}
}

static struct http_router *build_or_die(const struct http_route *routes, size_t n)
{
	struct http_router *r = NULL;
	struct http_router_error err;
	int rc = http_router_build(routes, n, &r, &err);
	CHECK(rc == 0, "build", "rc %d: %s", rc, err.msg);
	if (rc)
		exit(1);
	return r;
}

static void test_templates(void)
{
	for (size_t i = 0; i < N(tmpl_cases); i++) {
		const struct tmpl_case *c = &tmpl_cases[i];
		struct http_router_error err;
		int rc = http_router_check_template(c->tmpl, strlen(c->tmpl), &err);
		if (!c->column) {
			CHECK(rc == 0, c->name, "%s: rc %d: %s", c->tmpl, rc, err.msg);
			continue;
		}
		CHECK(rc == -EINVAL, c->name, "%s: rc %d", c->tmpl, rc);
		CHECK(err.column == c->column, c->name, "%s: column %u, want %u (%s)", c->tmpl,
		      err.column, c->column, err.msg);
		CHECK(strstr(err.msg, c->msg) != NULL, c->name, "msg \"%s\" lacks \"%s\"", err.msg,
		      c->msg);
	}
}

/* The limits are named constants; one past each is an error. */
static void test_limits(void)
{
	char t[HTTP_ROUTER_MAX_TEMPLATE + 64];
	struct http_router_error err;
	size_t o = 0;

	for (int k = 0; k < HTTP_ROUTER_MAX_SEGMENTS; k++)
		o += (size_t)sprintf(t + o, "/s");
	CHECK(http_router_check_template(t, o, &err) == 0, "limit: max segments ok", "%s", err.msg);
	o += (size_t)sprintf(t + o, "/s");
	CHECK(http_router_check_template(t, o, &err) == -EINVAL && strstr(err.msg, "segments"),
	      "limit: one segment too many", "%s", err.msg);

	o = 0;
	for (int k = 0; k < HTTP_ROUTER_MAX_CAPTURES; k++)
		o += (size_t)sprintf(t + o, "/{v%d}", k);
	CHECK(http_router_check_template(t, o, &err) == 0, "limit: max captures ok", "%s", err.msg);
	o += (size_t)sprintf(t + o, "/{v%d}", HTTP_ROUTER_MAX_CAPTURES);
	CHECK(http_router_check_template(t, o, &err) == -EINVAL && strstr(err.msg, "variables"),
	      "limit: one capture too many", "%s", err.msg);

	t[0] = '/';
	memset(t + 1, 'a', HTTP_ROUTER_MAX_TEMPLATE - 1);
	CHECK(http_router_check_template(t, HTTP_ROUTER_MAX_TEMPLATE, &err) == 0,
	      "limit: max template length ok", "%s", err.msg);
	t[HTTP_ROUTER_MAX_TEMPLATE] = 'a';
	CHECK(http_router_check_template(t, HTTP_ROUTER_MAX_TEMPLATE + 1, &err) == -EINVAL &&
		      strstr(err.msg, "longer than"),
	      "limit: template too long", "%s", err.msg);
}

static void test_matches(void)
{
	struct http_router *r = build_or_die(api, N(api));
	for (size_t i = 0; i < N(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		struct http_route_match m;
		char caps[512], allow[128];
		enum http_route_status st = http_router_match(r, c->method, strlen(c->method),
							      c->path, strlen(c->path), &m);
		CHECK(st == c->status, c->name, "%s %s: status %d, want %d", c->method, c->path, st,
		      c->status);
		if (st != c->status)
			continue;
		if (st == FOUND) {
			caps_text(&m, caps, sizeof(caps));
			CHECK(strcmp((const char *)m.target, c->route) == 0, c->name,
			      "%s %s: route %s, want %s", c->method, c->path,
			      (const char *)m.target, c->route);
			CHECK(strcmp(api[m.route].tmpl, m.tmpl) == 0 &&
				      api[m.route].target == m.target,
			      c->name, "route index %u", m.route);
			CHECK(strcmp(caps, c->caps) == 0, c->name,
			      "%s: captures \"%s\", want \"%s\"", c->path, caps, c->caps);
			for (unsigned k = 0; k < m.ncaptures; k++) /* slices into the input */
				CHECK(m.captures[k].raw.base >= c->path &&
					      m.captures[k].raw.base + m.captures[k].raw.len <=
						      c->path + strlen(c->path),
				      c->name, "capture %u outside the path", k);
		} else if (st == NA) {
			size_t n = http_router_allow(r, &m, allow, sizeof(allow));
			CHECK(n == strlen(c->route) && strcmp(allow, c->route) == 0, c->name,
			      "Allow \"%s\", want \"%s\"", allow, c->route);
		} else {
			CHECK(m.allow == 0, c->name, "404 with an Allow set");
		}
	}
	http_router_free(r);
}

/* Captures decoded per the single/multi rule, end to end. */
static void test_decode_matched(void)
{
	static const struct http_route routes[] = {
		{"GET", "/f/{path=**}", NULL},
		{"GET", "/o/{id}", NULL},
		{"GET", "/s/{n=shelves/*}", NULL},
	};
	static const struct {
		const char *name, *path, *want;
	} rows[] = {
		{"reserved expansion: '**' keeps %2F", "/f/dir%2Fx/y%20z", "dir%2Fx/y z"},
		{"simple expansion: {id} decodes %2F", "/o/a%2Fb%20c", "a/b c"},
		{"reserved expansion: =shelves/* keeps %2f", "/s/shelves/a%2fb", "shelves/a%2fb"},
	};
	struct http_router *r = build_or_die(routes, N(routes));
	for (size_t i = 0; i < N(rows); i++) {
		struct http_route_match m;
		char out[64] = {0};
		ssize_t n = -1;
		if (http_router_match(r, "GET", 3, rows[i].path, strlen(rows[i].path), &m) ==
			    FOUND &&
		    m.ncaptures == 1)
			n = http_router_decode(&m.captures[0], out);
		CHECK(n == (ssize_t)strlen(rows[i].want) &&
			      memcmp(out, rows[i].want, (size_t)n) == 0,
		      rows[i].name, "%s: got %zd", rows[i].path, n);
	}
	http_router_free(r);
}

static void test_decode(void)
{
	for (size_t i = 0; i < N(decode_cases); i++) {
		const struct decode_case *c = &decode_cases[i];
		struct http_capture cap = {{"f", 1}, {c->raw, strlen(c->raw)}, c->multi};
		char out[64];
		ssize_t n = http_router_decode(&cap, out);
		if (!c->want) {
			CHECK(n == -EINVAL, c->name, "%s: %zd", c->raw, n);
			continue;
		}
		CHECK(n == (ssize_t)strlen(c->want) && memcmp(out, c->want, (size_t)n) == 0,
		      c->name, "%s: got %zd \"%.*s\", want \"%s\"", c->raw, n, n > 0 ? (int)n : 0,
		      out, c->want);
	}
}

static void test_conflicts(void)
{
	for (size_t i = 0; i < N(conflict_cases); i++) {
		const struct conflict_case *c = &conflict_cases[i];
		struct http_route routes[3] = {{"GET", "/unrelated", NULL}, c->a, c->b};
		struct http_router *r = NULL;
		struct http_router_error err;
		int rc = http_router_build(routes, 3, &r, &err);
		if (!c->conflict) {
			CHECK(rc == 0 && r, c->name, "rc %d: %s", rc, err.msg);
			http_router_free(r);
			continue;
		}
		CHECK(rc == -EEXIST && !r, c->name, "rc %d", rc);
		CHECK(err.route == 2 && err.other == 1, c->name, "route %d other %d", err.route,
		      err.other);
		/* the message names both templates */
		CHECK(strstr(err.msg, c->a.tmpl) && strstr(err.msg, c->b.tmpl), c->name, "msg: %s",
		      err.msg);
	}
}

static void test_build_errors(void)
{
	static const struct {
		const char *name;
		struct http_route bad;
		int rc;
		unsigned column;
		const char *msg;
	} rows[] = {
		{"template error names route and column",
		 {"GET", "/v1/{a={b}}", NULL},
		 -EINVAL,
		 8,
		 "route 1: GET \"/v1/{a={b}}\": column 8: a variable may not contain a variable"},
		{"empty method", {"", "/x", NULL}, -EINVAL, 0, "route 1"},
		{"method not a token", {"G T", "/x", NULL}, -EINVAL, 0, "not an HTTP token"},
		{"method too long",
		 {"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", "/x", NULL},
		 -EINVAL,
		 0,
		 "1 to 32 bytes"},
		{"NULL template", {"GET", NULL, NULL}, -EINVAL, 0, "no template"},
		{"NULL method", {NULL, "/x", NULL}, -EINVAL, 0, "route 1"},
		{"control bytes are escaped", {"GET", "/a\nb", NULL}, -EINVAL, 3, "\"/a\\x0ab\""},
	};
	for (size_t i = 0; i < N(rows); i++) {
		struct http_route routes[2] = {{"GET", "/ok", NULL}, rows[i].bad};
		struct http_router *r = (struct http_router *)1;
		struct http_router_error err;
		int rc = http_router_build(routes, 2, &r, &err);
		CHECK(rc == rows[i].rc && r == NULL, rows[i].name, "rc %d", rc);
		CHECK(err.route == 1 && err.column == rows[i].column, rows[i].name,
		      "route %d column %u", err.route, err.column);
		CHECK(strstr(err.msg, rows[i].msg) != NULL, rows[i].name, "msg: %s", err.msg);
	}

	/* 64 distinct methods fit in the Allow mask, 65 do not */
	struct http_route many[HTTP_ROUTER_MAX_METHODS + 1];
	char names[HTTP_ROUTER_MAX_METHODS + 1][8];
	struct http_router *r = NULL;
	struct http_router_error err;
	for (int k = 0; k <= HTTP_ROUTER_MAX_METHODS; k++) {
		snprintf(names[k], sizeof(names[k]), "M%02d", k);
		many[k] = (struct http_route){names[k], "/x", NULL};
	}
	CHECK(http_router_build(many, HTTP_ROUTER_MAX_METHODS, &r, &err) == 0, "limit: 64 methods",
	      "%s", err.msg);
	if (r) {
		struct http_route_match m;
		char allow[8];
		CHECK(http_router_match(r, "M63", 3, "/x", 2, &m) == FOUND &&
			      m.target == many[63].target,
		      "method bit 63", "");
		CHECK(http_router_match(r, "GET", 3, "/x", 2, &m) == NA && m.allow == UINT64_MAX,
		      "405 with all 64 methods", "");
		/* snprintf-like: truncated, NUL-terminated, full length returned */
		CHECK(http_router_allow(r, &m, allow, sizeof(allow)) == 64 * 3 + 63 * 2 &&
			      strcmp(allow, "M00, M0") == 0,
		      "Allow truncates like snprintf", "%s", allow);
	}
	http_router_free(r);
	CHECK(http_router_build(many, HTTP_ROUTER_MAX_METHODS + 1, &r, &err) == -EINVAL &&
		      strstr(err.msg, "distinct methods"),
	      "limit: 65 methods", "%s", err.msg);

	/* no routes: everything is 404 */
	CHECK(http_router_build(NULL, 0, &r, &err) == 0, "empty router", "%s", err.msg);
	if (r) {
		struct http_route_match m;
		CHECK(http_router_match(r, "GET", 3, "/", 1, &m) == NF, "empty router 404", "");
		http_router_free(r);
	}
}

/* A path deeper than the indexed segments can still fill a '**'. */
static void test_long_paths(void)
{
	static const struct http_route routes[] = {
		{"GET", "/f/{path=**}", NULL},
		{"GET", "/g/{path=**}:zip", NULL},
		{"GET", "/h/*/*", NULL},
	};
	struct http_router *r = build_or_die(routes, N(routes));
	struct http_route_match m;
	char p[1024];
	size_t o;

	for (int verb = 0; verb < 2; verb++) {
		o = (size_t)sprintf(p, verb ? "/g" : "/f");
		for (int k = 0; k < 3 * HTTP_ROUTER_MAX_SEGMENTS; k++)
			o += (size_t)sprintf(p + o, "/%d", k);
		if (verb)
			o += (size_t)sprintf(p + o, ":zip");
		CHECK(http_router_match(r, "GET", 3, p, o, &m) == FOUND && m.ncaptures == 1 &&
			      m.captures[0].raw.base == p + 3 &&
			      m.captures[0].raw.len == o - 3 - (verb ? 4 : 0),
		      verb ? "long path, '**' and verb" : "long path, '**'", "len %zu",
		      m.captures[0].raw.len);
	}
	o = (size_t)sprintf(p, "/h");
	for (int k = 0; k < 2 * HTTP_ROUTER_MAX_SEGMENTS; k++)
		o += (size_t)sprintf(p + o, "/x");
	CHECK(http_router_match(r, "GET", 3, p, o, &m) == NF, "long path, no '**'", "");
	http_router_free(r);
}

int main(void)
{
	test_templates();
	test_limits();
	test_matches();
	test_decode();
	test_decode_matched();
	test_conflicts();
	test_build_errors();
	test_long_paths();
	return unit_finish();
}
