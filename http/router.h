/*
 * router.h - maps (method, raw path) to a route, google.api.HttpRule style.
 *
 * One idea: templates are compiled once into an immutable trie of path
 * segments; matching walks that trie over the raw (still percent-encoded)
 * request path, allocates nothing and writes only into the caller's result.
 * A built router is read-only, so every worker may share one.
 *
 * Template grammar (google/api/http.proto):
 *
 *     Template  = "/" Segments [ Verb ] ;      "/" alone is the root path
 *     Segments  = Segment { "/" Segment } ;
 *     Segment   = "*" | "**" | LITERAL | Variable ;
 *     Variable  = "{" FieldPath [ "=" Segments ] "}" ;   {x} is {x=*}
 *     FieldPath = IDENT { "." IDENT } ;
 *     Verb      = ":" LITERAL ;
 *
 * LITERAL is one or more RFC 3986 pchar bytes other than ':' and '*'
 * (unreserved, sub-delims, '@', valid %HH).  '**' may only be the last
 * segment; a variable may not contain a variable; a field path is bound
 * at most once per template.
 *
 * Matching rules (what a request path means):
 *  - the path is split on '/'; an empty segment ("//", a trailing '/')
 *    matches nothing, so "/v1/agents/" is NOT_FOUND for "/v1/agents"
 *    (no redirect, no normalisation; "/" alone is the root path);
 *  - '*' matches one non-empty segment, '**' zero or more;
 *  - a request segment containing '%' is percent-decoded before it is
 *    compared with a literal ("%61bc" matches "abc"); a segment with a
 *    malformed escape matches no literal (wildcards still take it raw);
 *  - the verb is what follows the last ':' of the last segment.  Routes
 *    with a verb are tried first; if none fits, the last segment is taken
 *    whole, ':' included ("/v1/things/a:b" matches "/v1/things/{id}");
 *  - most specific wins, level by level: literal, then '*', then '**',
 *    backtracking when a more specific branch fails deeper down.  The
 *    method is part of the match: the most specific route *for this
 *    method* wins; METHOD_NOT_ALLOWED only when no route of this method
 *    matches the path but a route of another method does;
 *  - method "*" (HttpRule custom kind "*") accepts any method; at the
 *    same template an exact method beats it.  Methods are case-sensitive.
 */
#ifndef RINGGATE_HTTP_ROUTER_H
#define RINGGATE_HTTP_ROUTER_H

#include "http/http_parser.h" /* http_slice */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Captures per route: 32 path variables is far beyond any real API
 * (googleapis' deepest resource names bind fewer than 8). */
#define HTTP_ROUTER_MAX_CAPTURES 32
/* Segments per template; also how deep a request path is indexed.  A
 * request path may be longer, but only a '**' can take the rest. */
#define HTTP_ROUTER_MAX_SEGMENTS 64
/* Bytes per template, method included: well above googleapis' longest. */
#define HTTP_ROUTER_MAX_TEMPLATE 1024
/* Distinct method names per router (the 405 Allow set is a 64-bit mask). */
#define HTTP_ROUTER_MAX_METHODS 64
/* Bytes per method token. */
#define HTTP_ROUTER_MAX_METHOD_LEN 32

/* One route given to http_router_build; strings are copied. */
struct http_route {
	const char *method; /* "GET", "POST", any token, or "*" for any method */
	const char *tmpl;   /* path template, e.g. "/v1/agents/{agent_id}:run" */
	void *target;       /* opaque, handed back on a match                   */
};

/* Why a build failed.  `msg` says what and where, e.g.
 *   route 2: GET "/v1/{a={b}}": column 8: a variable may not contain a variable */
struct http_router_error {
	int route;       /* index of the offending route, -1 if none       */
	int other;       /* conflicts: index of the earlier, equal route   */
	unsigned column; /* 1-based column in the template, 0 if n/a       */
	char msg[320];
};

struct http_router;

/*
 * Compile `n` routes.  Returns 0 and *out, or a negative errno with `err`
 * filled in (when non-NULL):
 *   -EINVAL  malformed method or template, or too many methods;
 *   -EEXIST  two routes with the same method and an equivalent template
 *            (same literals, same wildcard shapes at the same positions
 *            and the same verb, whatever the variable names);
 *   -ENOMEM.
 */
int http_router_build(const struct http_route *routes, size_t n, struct http_router **out,
		      struct http_router_error *err);
void http_router_free(struct http_router *r);

/* Check one template without building anything (config --check, fuzzing).
 * Returns 0 or -EINVAL with err->column and err->msg set. */
int http_router_check_template(const char *tmpl, size_t len, struct http_router_error *err);

/* One bound path variable. */
struct http_capture {
	http_slice field; /* field path as written in the template ("a.b.c"),
			     pointing into the router: valid while it lives   */
	http_slice raw;   /* the matched text, still percent-encoded, pointing
			     into the caller's path                            */
	bool multi;       /* the variable spans several segments ("{x=**}",
			     "{x=a/b}"), so "%2F" stays encoded on decode      */
};

enum http_route_status {
	HTTP_ROUTE_FOUND = 0,
	HTTP_ROUTE_NOT_FOUND,          /* 404 */
	HTTP_ROUTE_METHOD_NOT_ALLOWED, /* 405, `allow` says which methods fit */
};

/* Filled by http_router_match; only the fields of the status are set. */
struct http_route_match {
	/* FOUND */
	void *target;
	unsigned route;   /* index into the routes given to build  */
	const char *tmpl; /* that route's template, for logs/labels */
	unsigned ncaptures;
	struct http_capture captures[HTTP_ROUTER_MAX_CAPTURES];
	/* METHOD_NOT_ALLOWED (also set, possibly partial, on FOUND) */
	uint64_t allow; /* bit per router method; see http_router_allow */
};

/*
 * Match `method` and `path` (the raw path: percent-encoded, no query).
 * Captures appear in template order.  Safe to call from any thread on a
 * shared router; allocates nothing.
 */
enum http_route_status http_router_match(const struct http_router *r, const char *method,
					 size_t method_len, const char *path, size_t path_len,
					 struct http_route_match *m);

/*
 * Format m->allow as an Allow header value, methods in byte order:
 * "GET, POST".  Writes at most cap bytes including a NUL (when cap > 0)
 * and returns the full length, like snprintf.
 */
size_t http_router_allow(const struct http_router *r, const struct http_route_match *m, char *buf,
			 size_t cap);

/*
 * Percent-decode a capture into `out`, which must hold c->raw.len bytes
 * (decoding never grows).  Single-segment captures decode everything
 * ("%2F" becomes '/'); multi-segment captures keep "%2F"/"%2f" encoded
 * (HttpRule reserved expansion), so '/' in the value still means a
 * segment boundary.  Returns the decoded length, or -EINVAL for a '%' not
 * followed by two hex digits (the gateway answers 400).
 */
ssize_t http_router_decode(const struct http_capture *c, char *out);

#endif
