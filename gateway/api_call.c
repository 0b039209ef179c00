/*
 * api_call.c - one REST request as one gRPC call: building the request
 * message and metadata, and turning the reply, its metadata and its
 * status into the HTTP response.
 *
 *   request ──► body JSON ─┐
 *   path vars ─────────────┼─► protobuf ──► grpc_call ──► message(s) ──► JSON / NDJSON / SSE
 *   query params ──────────┘    metadata ◄── headers        status ─────► HTTP status + error JSON
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "gateway/api.h"
#include "gateway/snapshot.h"
#include "gateway/worker.h"
#include "grpc/grpc_call.h"
#include "grpc/pb_json.h"
#include "grpc/pb_json_text.h"
#include "grpc/pb_wire.h"
#include "grpc/upstream.h"
#include "tls/tls.h"

/* Metadata entries and their bytes per call: generous for real traffic,
 * and a hard bound on what a client can make us forward. */
#define GW_META_MAX     64
#define GW_META_STORE   8192
#define GW_RESP_HEADERS 2048
/* Finished calls kept per worker, and the largest reply buffer a kept call
 * (or the request buffer) holds on to: enough for a busy worker's calls in
 * flight, a few MB at most.  The sanitizer builds keep none, so that a use
 * after free still meets freed memory. */
#if defined(__SANITIZE_ADDRESS__)
#define GW_CALL_POOL_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GW_CALL_POOL_ON 0
#endif
#endif
#ifndef GW_CALL_POOL_ON
#define GW_CALL_POOL_ON 1
#endif
#define GW_CALL_POOL   256u
#define GW_KEEP_BUFFER 65536u

enum gw_stream_mode { GW_UNARY, GW_NDJSON, GW_SSE };

struct gw_call {
	struct grpc_call call;
	struct worker *w;
	struct http_exchange *x; /* NULL once the client left */
	const struct gw_api_route *route;
	const struct pb_schema *schema;
	struct pb_buf out; /* JSON of the reply (unary) or of one message */
	size_t nmeta;
	size_t store_used;
	size_t resp_headers_len;
	uint8_t mode; /* enum gw_stream_mode */
	bool stream_started;
	bool failed; /* answered locally; the call was cancelled */
	unsigned messages;
	struct ring_defer free_later;
	struct gw_call *next_free; /* in the worker's pool */
	/* The buffers below are filled front to back and never read past
	 * their counts, so a new call zeroes only what is above. */
	struct hpack_header meta[GW_META_MAX];
	char store[GW_META_STORE];
	char resp_headers[GW_RESP_HEADERS]; /* "Name: value\r\n" lines */
};

static const struct grpc_call_ops call_ops;

/* ---- small text helpers ---- */

static char *store_put(struct gw_call *g, const char *s, size_t n, bool lower)
{
	if (g->store_used + n + 1 > sizeof(g->store))
		return NULL;
	char *p = g->store + g->store_used;
	if (lower) {
		for (size_t i = 0; i < n; i++)
			p[i] = (char)((unsigned char)s[i] | ((unsigned)(s[i] - 'A') < 26u) << 5);
	} else {
		memcpy(p, s, n);
	}
	p[n] = '\0';
	g->store_used += n + 1;
	return p;
}

static bool add_meta(struct gw_call *g, const char *name, size_t nlen, const char *value,
		     size_t vlen)
{
	if (g->nmeta == GW_META_MAX)
		return false;
	char *n = store_put(g, name, nlen, true);
	char *v = n ? store_put(g, value, vlen, false) : NULL;
	if (!v)
		return false;
	g->meta[g->nmeta++] = (struct hpack_header){{n, nlen}, {v, vlen}, 0};
	return true;
}

static void resp_header(struct gw_call *g, const char *name, size_t nlen, const char *value,
			size_t vlen)
{
	if (g->resp_headers_len + nlen + vlen + 4 > sizeof(g->resp_headers))
		return;
	/* Values from the upstream reach a client verbatim: nothing that
	 * could end the header line or break the field. */
	if (!http_field_value_safe(value, vlen))
		return;
	char *p = g->resp_headers + g->resp_headers_len;
	memcpy(p, name, nlen);
	p[nlen] = ':';
	p[nlen + 1] = ' ';
	memcpy(p + nlen + 2, value, vlen);
	p[nlen + 2 + vlen] = '\r';
	p[nlen + 3 + vlen] = '\n';
	g->resp_headers_len += nlen + vlen + 4;
}

/* Allow-list match: exact, or a prefix for rules ending in '*'. */
static bool header_allowed(char *const *rules, unsigned n, const char *name, size_t len)
{
	for (unsigned i = 0; i < n; i++) {
		/* Most names differ in their first letter: skip those before
		 * measuring the rule (runs for every header of every request). */
		if (len && rules[i][0] != '*' && ((rules[i][0] | 0x20) != (name[0] | 0x20)))
			continue;
		size_t rl = strlen(rules[i]);
		if (rl && rules[i][rl - 1] == '*') {
			if (len >= rl - 1 && strncasecmp(name, rules[i], rl - 1) == 0)
				return true;
		} else if (rl == len && strncasecmp(name, rules[i], len) == 0) {
			return true;
		}
	}
	return false;
}

/* Headers that mean something to HTTP/2 or gRPC itself never pass as
 * metadata, whatever the allow-list says. */
static bool header_reserved(const char *name, size_t len)
{
	static const char *const reserved[] = {
		"connection",
		"content-length",
		"content-type",
		"host",
		"keep-alive",
		"te",
		"trailer",
		"upgrade",
		"transfer-encoding",
		"proxy-connection",
		/* set by ringgate from the verified client certificate only */
		"x-client-cert-subject",
	};
	if (len >= 5 && strncasecmp(name, "grpc-", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == len && strncasecmp(name, reserved[i], len) == 0)
			return true;
	return false;
}

/* "250ms", "5s", "1.5s", "2m", "1h"; a bare number is seconds. */
static bool parse_duration_ms(const char *s, size_t n, uint64_t *ms)
{
	uint64_t whole = 0, frac = 0, scale = 1;
	size_t i = 0;
	bool digits = false, dot = false;
	for (; i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'); i++) {
		if (s[i] == '.') {
			if (dot)
				return false;
			dot = true;
			continue;
		}
		digits = true;
		if (whole > 1000000000ull)
			return false;
		if (dot) {
			if (scale < 1000000) {
				frac = frac * 10 + (uint64_t)(s[i] - '0');
				scale *= 10;
			}
		} else {
			whole = whole * 10 + (uint64_t)(s[i] - '0');
		}
	}
	if (!digits)
		return false;
	uint64_t unit;
	const char *u = s + i;
	size_t ul = n - i;
	if (ul == 0 || (ul == 1 && u[0] == 's'))
		unit = 1000;
	else if (ul == 2 && u[0] == 'm' && u[1] == 's')
		unit = 1;
	else if (ul == 1 && u[0] == 'm')
		unit = 60000;
	else if (ul == 1 && u[0] == 'h')
		unit = 3600000;
	else
		return false;
	*ms = whole * unit + frac * unit / scale;
	return true;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Query-string decoding: %XX and '+' as space.  -1 on a bad escape. */
static long query_decode(const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '+') {
			out[o++] = ' ';
		} else if (in[i] == '%') {
			if (i + 2 >= n)
				return -1;
			int a = hexv(in[i + 1]);
			int b = hexv(in[i + 2]);
			if (a < 0 || b < 0)
				return -1;
			out[o++] = (char)(a << 4 | b);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	return (long)o;
}

/* ---- answering ---- */

static struct gw_call *call_new(struct worker *w)
{
	struct gw_call *g = w->call_pool;
	struct pb_buf out = {0};
	if (g) {
		w->call_pool = g->next_free;
		w->call_pool_len--;
		out = g->out;
	} else if (!(g = malloc(sizeof(*g)))) {
		return NULL;
	}
	memset(g, 0, offsetof(struct gw_call, meta));
	g->out.data = out.data;
	g->out.cap = out.cap;
	g->w = w;
	return g;
}

static void call_free(struct gw_call *g)
{
	struct worker *w = g->w;
	if (!GW_CALL_POOL_ON || w->call_pool_len == GW_CALL_POOL || g->out.cap > GW_KEEP_BUFFER) {
		pb_buf_free(&g->out);
		free(g);
		return;
	}
	g->next_free = w->call_pool;
	w->call_pool = g;
	w->call_pool_len++;
}

void gw_api_worker_cleanup(struct worker *w)
{
	while (w->call_pool) {
		struct gw_call *g = w->call_pool;
		w->call_pool = g->next_free;
		pb_buf_free(&g->out);
		free(g);
	}
	w->call_pool_len = 0;
	pb_buf_free(&w->req_scratch);
}

static void on_free_later(struct ring_loop *loop, struct ring_defer *d)
{
	(void)loop;
	call_free(container_of(d, struct gw_call, free_later));
}

/* The standard header lines every API response carries. */
static http_slice response_headers(struct gw_call *g)
{
	return (http_slice){g->resp_headers, g->resp_headers_len};
}

/* JSON string (quoted, escaped) appended to b. */
static void json_str(struct pb_buf *b, const char *s, size_t n)
{
	pbj_put_string(b, (const uint8_t *)s, n);
}

static void json_lit(struct pb_buf *b, const char *s)
{
	size_t n = strlen(s);
	if (pb_buf_ensure(b, n) == 0) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
	}
}

/* A wire-format cursor: next field of a message, or false at the end or
 * on malformed bytes. */
struct wire_field {
	uint32_t number;
	unsigned wire;
	const uint8_t *val; /* LEN: the payload */
	size_t len;
};

static bool wire_next(const uint8_t **pp, const uint8_t *end, struct wire_field *f)
{
	const uint8_t *p = *pp;
	uint64_t key = 0, v = 0;
	unsigned shift = 0;
	if (p >= end)
		return false;
	do {
		if (p >= end || shift > 63)
			return false;
		key |= (uint64_t)(*p & 0x7f) << shift;
		shift += 7;
	} while (*p++ & 0x80);
	f->number = (uint32_t)(key >> 3);
	f->wire = (unsigned)(key & 7);
	switch (f->wire) {
	case PB_WIRE_VARINT:
		while (p < end && (*p & 0x80))
			p++;
		if (p >= end)
			return false;
		p++;
		break;
	case PB_WIRE_I64:
		if (end - p < 8)
			return false;
		p += 8;
		break;
	case PB_WIRE_I32:
		if (end - p < 4)
			return false;
		p += 4;
		break;
	case PB_WIRE_LEN:
		shift = 0;
		do {
			if (p >= end || shift > 63)
				return false;
			v |= (uint64_t)(*p & 0x7f) << shift;
			shift += 7;
		} while (*p++ & 0x80);
		if (v > (uint64_t)(end - p))
			return false;
		f->val = p;
		f->len = (size_t)v;
		p += v;
		break;
	default: return false; /* groups never appear in what we transcode */
	}
	*pp = p;
	return true;
}

/*
 * google.rpc.Status.details (field 3, repeated Any) as JSON objects:
 * known types in full, unknown ones as {"@type": url, "value": base64}.
 */
static void append_details(struct gw_call *g, struct pb_buf *b, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	struct wire_field f;
	bool first = true;
	json_lit(b, "[");
	while (wire_next(&p, end, &f)) {
		if (f.number != 3 || f.wire != PB_WIRE_LEN)
			continue;
		const uint8_t *ap = f.val, *aend = f.val + f.len;
		struct wire_field af;
		const char *url = "";
		size_t url_len = 0;
		const uint8_t *val = NULL;
		size_t val_len = 0;
		while (wire_next(&ap, aend, &af)) {
			if (af.number == 1 && af.wire == PB_WIRE_LEN) {
				url = (const char *)af.val;
				url_len = af.len;
			} else if (af.number == 2 && af.wire == PB_WIRE_LEN) {
				val = af.val;
				val_len = af.len;
			}
		}
		json_lit(b, first ? "{\"@type\":" : ",{\"@type\":");
		first = false;
		json_str(b, url, url_len);
		const char *slash = memrchr(url, '/', url_len);
		char tname[256];
		size_t tl = slash ? url_len - (size_t)(slash + 1 - url) : url_len;
		const struct pb_message *m = NULL;
		if (tl < sizeof(tname) && g->schema) {
			memcpy(tname, slash ? slash + 1 : url, tl);
			tname[tl] = '\0';
			m = pb_schema_message(g->schema, tname);
		}
		struct pb_buf inner = {0};
		struct pb_json_error jerr;
		struct pb_json_print_opts po = {.use_proto_names =
							g->route->transcode.use_proto_names,
						.enums_as_ints = g->route->transcode.enums_as_ints};
		if (m &&
		    pb_proto_to_json(g->schema, m, val ? val : (const uint8_t *)"", val_len, &po,
				     &inner, &jerr) == 0 &&
		    inner.len >= 2) {
			if (m->wkt != PB_WKT_NONE) {
				json_lit(b, ",\"value\":");
				if (pb_buf_ensure(b, inner.len) == 0) {
					memcpy(b->data + b->len, inner.data, inner.len);
					b->len += inner.len;
				}
				json_lit(b, "}");
			} else if (inner.len > 2) {
				/* {"a":1} -> ,"a":1} after the @type member */
				json_lit(b, ",");
				if (pb_buf_ensure(b, inner.len - 1) == 0) {
					memcpy(b->data + b->len, inner.data + 1, inner.len - 1);
					b->len += inner.len - 1;
				}
			} else {
				json_lit(b, "}");
			}
		} else {
			json_lit(b, ",\"value\":");
			pbj_put_base64(b, val ? val : (const uint8_t *)"", val_len);
			json_lit(b, "}");
		}
		pb_buf_free(&inner);
	}
	json_lit(b, "]");
}

/* {"code":N,"message":"...","details":[...]} into b. */
static void error_json(struct gw_call *g, struct pb_buf *b, int code, const char *msg,
		       size_t msg_len, const uint8_t *details, size_t details_len)
{
	char num[32];
	snprintf(num, sizeof(num), "{\"code\":%d,\"message\":", code);
	json_lit(b, num);
	json_str(b, msg ? msg : "", msg ? msg_len : 0);
	json_lit(b, ",\"details\":");
	if (details_len)
		append_details(g, b, details, details_len);
	else
		json_lit(b, "[]");
	json_lit(b, "}");
}

static void respond_error(struct gw_call *g, int code, const char *msg, size_t msg_len,
			  const uint8_t *details, size_t details_len)
{
	struct http_exchange *x = g->x;
	struct pb_buf b = {0};
	error_json(g, &b, code, msg, msg_len, details, details_len);
	http_respond(x, grpc_code_to_http(code), "application/json", response_headers(g),
		     (struct http_body_ref){b.data, b.len, false});
	pb_buf_free(&b);
}

/* Our own 4xx before any call was made. */
static void reject(struct gw_call *g, int http_status, const char *msg)
{
	http_respond_error(g->x, http_status, response_headers(g), msg);
}

/* ---- the reply ---- */

/*
 * JSON of one reply message: the whole message, or its response_body
 * field (merged occurrences for a message, an array for a repeated one).
 */
static int reply_json(struct gw_call *g, const uint8_t *p, size_t n, struct pb_buf *out,
		      struct pb_json_error *err)
{
	const struct gw_api_route *r = g->route;
	const struct gw_transcode_opts *t = &r->transcode;
	struct pb_json_print_opts po = {.emit_defaults = t->emit_defaults,
					.use_proto_names = t->use_proto_names,
					.enums_as_ints = t->enums_as_ints};
	if (r->resp_depth == 0)
		return pb_proto_to_json(g->schema, r->method->output, p, n, &po, out, err);

	/* Walk down to the parent of the last field, merging occurrences
	 * (protobuf's rule for a repeated singular message field). */
	struct pb_buf cur = {0}, next = {0};
	const uint8_t *data = p;
	size_t len = n;
	int ret = 0;
	for (unsigned d = 0; d + 1 < r->resp_depth; d++) {
		next.len = 0;
		const uint8_t *q = data, *end = data + len;
		struct wire_field f;
		while (wire_next(&q, end, &f)) {
			if (f.number == r->resp_path[d]->number && f.wire == PB_WIRE_LEN &&
			    pb_buf_ensure(&next, f.len) == 0) {
				memcpy(next.data + next.len, f.val, f.len);
				next.len += f.len;
			}
		}
		struct pb_buf t2 = cur;
		cur = next;
		next = t2;
		data = cur.data ? cur.data : (const uint8_t *)"";
		len = cur.len;
	}
	const struct pb_field *last = r->resp_path[r->resp_depth - 1];
	const uint8_t *q = data, *end = data + len;
	struct wire_field f;
	if (last->repeated) {
		json_lit(out, "[");
		bool first = true;
		while (ret == 0 && wire_next(&q, end, &f)) {
			if (f.number != last->number || f.wire != PB_WIRE_LEN)
				continue;
			if (!first)
				json_lit(out, ",");
			first = false;
			ret = pb_proto_to_json(g->schema, last->message, f.val, f.len, &po, out,
					       err);
		}
		json_lit(out, "]");
	} else {
		next.len = 0;
		while (wire_next(&q, end, &f)) {
			if (f.number == last->number && f.wire == PB_WIRE_LEN &&
			    pb_buf_ensure(&next, f.len) == 0) {
				memcpy(next.data + next.len, f.val, f.len);
				next.len += f.len;
			}
		}
		ret = pb_proto_to_json(g->schema, last->message,
				       next.data ? next.data : (const uint8_t *)"", next.len, &po,
				       out, err);
	}
	pb_buf_free(&cur);
	pb_buf_free(&next);
	return ret;
}

static void on_headers(struct grpc_call *c, const struct hpack_header *h, size_t n)
{
	struct gw_call *g = container_of(c, struct gw_call, call);
	const struct gw_config *cfg = g->w->rt->cfg;
	for (size_t i = 0; i < n; i++)
		if (header_allowed(cfg->response_headers, cfg->nresponse_headers, h[i].name.base,
				   h[i].name.len))
			resp_header(g, h[i].name.base, h[i].name.len, h[i].value.base,
				    h[i].value.len);
}

static void stream_begin(struct gw_call *g)
{
	if (g->stream_started)
		return;
	g->stream_started = true;
	http_stream_begin(g->x, 200,
			  g->mode == GW_SSE ? "text/event-stream" : "application/x-ndjson",
			  response_headers(g));
}

/* The upstream sent bytes that are not its declared reply type. */
static void fail_bad_reply(struct gw_call *g, const struct pb_json_error *err)
{
	char msg[600];
	snprintf(msg, sizeof(msg), "upstream reply is not a valid %s: %s%s%s",
		 g->route->method->output->full_name, err->path, err->path[0] ? ": " : "",
		 err->message);
	g->failed = true;
	grpc_call_cancel(&g->call);
	if (g->stream_started) {
		struct pb_buf b = {0};
		json_lit(&b, g->mode == GW_SSE ? "event: error\ndata: " : "{\"error\":");
		error_json(g, &b, GRPC_INTERNAL, msg, strlen(msg), NULL, 0);
		json_lit(&b, g->mode == GW_SSE ? "\n\n" : "}\n");
		http_stream_write(g->x, b.data, b.len);
		http_stream_end(g->x);
		pb_buf_free(&b);
	} else {
		respond_error(g, GRPC_INTERNAL, msg, strlen(msg), NULL, 0);
	}
	/* We are inside the call's own callback: free it from the loop. */
	g->free_later.fn = on_free_later;
	ring_defer(&g->w->loop, &g->free_later);
}

static void on_message(struct grpc_call *c, const uint8_t *p, size_t n)
{
	struct gw_call *g = container_of(c, struct gw_call, call);
	struct pb_json_error err;
	pb_json_error_clear(&err);
	if (g->mode == GW_UNARY) {
		if (g->messages++ > 0) {
			snprintf(err.path, sizeof(err.path), "%s", "");
			snprintf(err.message, sizeof(err.message),
				 "a unary method sent a second message");
			fail_bad_reply(g, &err);
			return;
		}
		if (reply_json(g, p, n, &g->out, &err) != 0)
			fail_bad_reply(g, &err);
		return;
	}
	stream_begin(g);
	g->out.len = 0;
	json_lit(&g->out, g->mode == GW_SSE ? "data: " : "{\"result\":");
	if (reply_json(g, p, n, &g->out, &err) != 0) {
		fail_bad_reply(g, &err);
		return;
	}
	json_lit(&g->out, g->mode == GW_SSE ? "\n\n" : "}\n");
	g->messages++;
	http_stream_write(g->x, g->out.data, g->out.len);
}

static void on_done(struct grpc_call *c, const struct grpc_status_info *st)
{
	struct gw_call *g = container_of(c, struct gw_call, call);
	struct http_exchange *x = g->x;
	const struct gw_config *cfg = g->w->rt->cfg;
	GW_METRIC_INC(g->w->metrics.grpc_codes[st->code >= 0 && st->code <= 16 ? st->code : 2]);
	for (size_t i = 0; i < st->ntrailers && !g->stream_started; i++)
		if (header_allowed(cfg->response_headers, cfg->nresponse_headers,
				   st->trailers[i].name.base, st->trailers[i].name.len))
			resp_header(g, st->trailers[i].name.base, st->trailers[i].name.len,
				    st->trailers[i].value.base, st->trailers[i].value.len);
	x->user = NULL;

	if (g->mode == GW_UNARY || !g->stream_started) {
		if (st->code != GRPC_OK) {
			respond_error(g, st->code, st->message, st->message_len, st->details,
				      st->details_len);
		} else if (g->mode != GW_UNARY) {
			stream_begin(g); /* an empty stream */
			http_stream_end(x);
		} else if (g->messages == 0) {
			static const char msg[] = "upstream returned OK without a reply message";
			respond_error(g, GRPC_INTERNAL, msg, sizeof(msg) - 1, NULL, 0);
		} else {
			http_respond(x, 200, "application/json", response_headers(g),
				     (struct http_body_ref){g->out.data, g->out.len, false});
		}
	} else {
		if (st->code != GRPC_OK) {
			/* Never a silent truncated 200: the stream ends with the
			 * error as its last record. */
			struct pb_buf b = {0};
			json_lit(&b, g->mode == GW_SSE ? "event: error\ndata: " : "{\"error\":");
			error_json(g, &b, st->code, st->message, st->message_len, st->details,
				   st->details_len);
			json_lit(&b, g->mode == GW_SSE ? "\n\n" : "}\n");
			http_stream_write(x, b.data, b.len);
			pb_buf_free(&b);
		}
		http_stream_end(x);
	}
	call_free(g);
}

static const struct grpc_call_ops call_ops = {
	.headers = on_headers,
	.message = on_message,
	.done = on_done,
};

/* ---- building the request ---- */

/* tag + length in front of a nested message's bytes, innermost first. */
static int wrap_in_fields(struct pb_buf *b, const struct pb_field *const *path, unsigned depth)
{
	for (unsigned d = depth; d-- > 0;) {
		size_t len = b->len;
		uint8_t hdr[2 * PB_VARINT_MAX];
		uint8_t *h = pb_put_varint(hdr, ((uint64_t)path[d]->number << 3) | PB_WIRE_LEN);
		h = pb_put_varint(h, len);
		size_t hl = (size_t)(h - hdr);
		if (pb_buf_ensure(b, hl) < 0)
			return -ENOMEM;
		memmove(b->data + hl, b->data, len);
		memcpy(b->data, hdr, hl);
		b->len += hl;
	}
	return 0;
}

static bool content_type_is_json(http_slice ct)
{
	size_t n = ct.len;
	const char *semi = memchr(ct.base, ';', n);
	if (semi)
		n = (size_t)(semi - ct.base);
	while (n && (ct.base[n - 1] == ' ' || ct.base[n - 1] == '\t'))
		n--;
	if (n == 16 && strncasecmp(ct.base, "application/json", 16) == 0)
		return true;
	return n > 5 && strncasecmp(ct.base + n - 5, "+json", 5) == 0 &&
	       strncasecmp(ct.base, "application/", 12) == 0;
}

static void bad_field(struct gw_call *g, const char *what, const struct pb_json_error *err)
{
	char msg[700];
	if (err->path[0])
		snprintf(msg, sizeof(msg), "%s: %s: %s", what, err->path, err->message);
	else
		snprintf(msg, sizeof(msg), "%s: %s", what, err->message);
	reject(g, 400, msg);
}

/*
 * One query parameter into the request message.  Names may be proto or
 * JSON names, dotted for nested fields; "m[key]" addresses a map entry.
 * Returns 0, 1 (skipped), or -1 after answering.
 */
static int apply_query_param(struct gw_call *g, const struct http_route_match *m, char *key,
			     size_t klen, const char *val, size_t vlen, struct pb_buf *req)
{
	const struct gw_api_route *r = g->route;
	const struct pb_message *msg = r->method->input;
	char canon[256];
	size_t cl = 0;
	const char *map_key = NULL;
	size_t map_key_len = 0;
	if (klen && key[klen - 1] == ']') {
		char *open = memchr(key, '[', klen);
		if (!open)
			goto unknown;
		map_key = open + 1;
		map_key_len = (size_t)(key + klen - 1 - map_key);
		klen = (size_t)(open - key);
	}
	const char *p = key, *end = key + klen;
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
		const struct pb_field *f = msg ? pb_field_by_json(msg, p, len) : NULL;
		if (!f && msg)
			f = pb_field_by_name(msg, p, len);
		if (!f)
			goto unknown;
		size_t nl = strlen(f->name);
		if (cl + nl + 2 > sizeof(canon))
			goto unknown;
		if (cl)
			canon[cl++] = '.';
		memcpy(canon + cl, f->name, nl);
		cl += nl;
		msg = f->message;
		p = dot ? dot + 1 : end;
	}
	canon[cl] = '\0';
	/* Path variables win over a query parameter for the same field. */
	for (unsigned i = 0; i < m->ncaptures; i++)
		if (m->captures[i].field.len == cl &&
		    memcmp(m->captures[i].field.base, canon, cl) == 0)
			return 1;
	struct pb_json_error err;
	pb_json_error_clear(&err);
	int ret =
		map_key ? pb_set_map_entry_from_text(r->method->input, canon, cl, map_key,
						     map_key_len, val, vlen, req, &err)
			: pb_set_field_from_text(r->method->input, canon, cl, val, vlen, req, &err);
	if (ret != 0) {
		char what[300];
		snprintf(what, sizeof(what), "query parameter '%.*s'", (int)klen, key);
		bad_field(g, what, &err);
		return -1;
	}
	return 0;
unknown:
	if (r->transcode.allow_unknown_fields)
		return 1;
	char text[400];
	snprintf(text, sizeof(text), "query parameter '%.*s' names no field of %s", (int)klen, key,
		 r->method->input->full_name);
	reject(g, 400, text);
	return -1;
}

static int build_request(struct gw_call *g, struct http_exchange *x,
			 const struct http_route_match *m, struct pb_buf *req)
{
	const struct gw_api_route *r = g->route;
	struct pb_json_error err;
	pb_json_error_clear(&err);
	struct pb_json_parse_opts po = {.ignore_unknown_fields = r->transcode.allow_unknown_fields};

	if (r->body_kind != GW_BODY_NONE) {
		http_slice ct = {0};
		for (unsigned i = 0; i < x->req.nheaders; i++)
			if (http_slice_ieq(x->req.headers[i].name, "content-type"))
				ct = x->req.headers[i].value;
		if (x->body.len && ct.len && !content_type_is_json(ct)) {
			reject(g, 415, "request body must be application/json");
			return -1;
		}
		const struct pb_message *bm = r->body_kind == GW_BODY_ALL
						      ? r->method->input
						      : r->body_path[r->body_depth - 1]->message;
		const char *json = x->body.len ? x->body.base : "{}";
		size_t jlen = x->body.len ? x->body.len : 2;
		if (pb_json_to_proto_ex(g->schema, bm, json, jlen, &po, req, &err) != 0) {
			bad_field(g, "invalid JSON body", &err);
			return -1;
		}
		if (r->body_kind == GW_BODY_FIELD &&
		    wrap_in_fields(req, r->body_path, r->body_depth) < 0) {
			reject(g, 503, "out of memory");
			return -1;
		}
	}

	for (unsigned i = 0; i < m->ncaptures; i++) {
		const struct http_capture *cap = &m->captures[i];
		char val[1024];
		if (cap->raw.len > sizeof(val)) {
			reject(g, 414, "path variable too long");
			return -1;
		}
		ssize_t vl = http_router_decode(cap, val);
		if (vl < 0) {
			reject(g, 400, "malformed percent-encoding in the path");
			return -1;
		}
		if (pb_set_field_from_text(r->method->input, cap->field.base, cap->field.len, val,
					   (size_t)vl, req, &err) != 0) {
			char what[200];
			snprintf(what, sizeof(what), "path variable '%.*s'", (int)cap->field.len,
				 cap->field.base);
			bad_field(g, what, &err);
			return -1;
		}
	}

	if (r->body_kind != GW_BODY_ALL && x->req.query.len) {
		const char *q = x->req.query.base, *qend = q + x->req.query.len;
		while (q < qend) {
			const char *amp = memchr(q, '&', (size_t)(qend - q));
			const char *pend = amp ? amp : qend;
			const char *eq = memchr(q, '=', (size_t)(pend - q));
			const char *kend = eq ? eq : pend;
			if (kend > q) {
				char kbuf[512], vbuf[2048];
				size_t kraw = (size_t)(kend - q);
				size_t vraw = eq ? (size_t)(pend - eq - 1) : 0;
				if (kraw > sizeof(kbuf) || vraw > sizeof(vbuf)) {
					reject(g, 414, "query parameter too long");
					return -1;
				}
				long kl = query_decode(q, kraw, kbuf);
				long vl = eq ? query_decode(eq + 1, vraw, vbuf) : 0;
				if (kl < 0 || vl < 0) {
					reject(g, 400, "malformed percent-encoding in the query");
					return -1;
				}
				if (apply_query_param(g, m, kbuf, (size_t)kl, vbuf, (size_t)vl,
						      req) < 0)
					return -1;
			}
			q = amp ? amp + 1 : qend;
		}
	}
	return 0;
}

/* 16 lowercase hex digits: printf's machinery costs more than the rest
 * of the id's handling per request. */
static void put_hex64(char *out, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 14; i >= 0; i -= 2) {
		out[i + 1] = digits[v & 15];
		out[i] = digits[v >> 4 & 15];
		v >>= 8;
	}
}

/* x-request-id: the client's when it sent a sane one, else a new one. */
static void request_id(struct gw_call *g, struct http_exchange *x)
{
	for (unsigned i = 0; i < x->req.nheaders; i++) {
		const struct http_header *h = &x->req.headers[i];
		if (!http_slice_ieq(h->name, "x-request-id"))
			continue;
		if (h->value.len == 0 || h->value.len > 128)
			break;
		bool ok = true;
		for (size_t k = 0; k < h->value.len; k++)
			ok &= h->value.base[k] > 0x20 && h->value.base[k] < 0x7f;
		if (!ok)
			break;
		add_meta(g, "x-request-id", 12, h->value.base, h->value.len);
		resp_header(g, "x-request-id", 12, h->value.base, h->value.len);
		return;
	}
	struct worker *w = g->w;
	char id[32];
	put_hex64(id, w->reqid_seed);
	put_hex64(id + 16, ++w->reqid_counter);
	add_meta(g, "x-request-id", 12, id, 32);
	resp_header(g, "x-request-id", 12, id, 32);
}

static void release_scratch(struct pb_buf *req)
{
	if (req->cap > GW_KEEP_BUFFER)
		pb_buf_free(req);
}

void gw_api_handle(struct worker *w, struct http_exchange *x, const struct gw_api_route *route,
		   const struct http_route_match *m)
{
	const struct gw_config *cfg = w->rt->cfg;
	struct gw_call *g = call_new(w);
	if (!g) {
		http_respond_error(x, 503, (http_slice){0}, "out of memory");
		return;
	}
	g->x = x;
	g->route = route;
	g->schema = w->snap->api.schema;
	g->out.limit = cfg->max_response_bytes;
	request_id(g, x);
	const char *subject = tls_conn_peer_subject(http_exchange_transport(x));
	if (subject)
		add_meta(g, "x-client-cert-subject", 21, subject, strlen(subject));

	uint64_t timeout_ms = route->timeout_ms;
	bool from_header = false;
	for (unsigned i = 0; i < x->req.nheaders; i++) {
		const struct http_header *h = &x->req.headers[i];
		if (cfg->timeout_header && cfg->timeout_header[0] &&
		    http_slice_ieq(h->name, cfg->timeout_header)) {
			uint64_t ms;
			if (!parse_duration_ms(h->value.base, h->value.len, &ms) || ms == 0) {
				reject(g, 400,
				       "malformed timeout header (expected e.g. 250ms, 5s)");
				call_free(g);
				return;
			}
			timeout_ms = ms;
			from_header = true;
		} else if (http_slice_ieq(h->name, "accept") && route->method->server_streaming &&
			   memmem(h->value.base, h->value.len, "text/event-stream", 17)) {
			g->mode = GW_SSE;
		} else if (header_allowed(cfg->forward_headers, cfg->nforward_headers, h->name.base,
					  h->name.len) &&
			   !header_reserved(h->name.base, h->name.len)) {
			if (!add_meta(g, h->name.base, h->name.len, h->value.base, h->value.len)) {
				reject(g, 431, "too many forwarded headers");
				call_free(g);
				return;
			}
		}
	}
	if (route->method->server_streaming && g->mode != GW_SSE)
		g->mode = GW_NDJSON;
	/* A client may shorten its deadline, never stretch it past the cap. */
	if (from_header && cfg->max_timeout_ms && timeout_ms > cfg->max_timeout_ms)
		timeout_ms = cfg->max_timeout_ms;

	/* The call copies the message: the buffer is free again once
	 * grpc_call_start returns (even if a call started inside it). */
	struct pb_buf *req = &w->req_scratch;
	req->len = 0;
	req->limit = (size_t)cfg->http.limits.max_body * 2 + 65536;
	if (build_request(g, x, m, req) < 0) {
		release_scratch(req);
		call_free(g);
		return;
	}

	struct grpc_call_params params = {
		.path = {route->method->grpc_path, route->method->grpc_path_len},
		.timeout_ms = timeout_ms,
		.metadata = g->meta,
		.nmetadata = g->nmeta,
	};
	x->user = g;
	grpc_call_start(&w->upstreams[route->upstream], &g->call, &params, &call_ops, req->data,
			req->len, true);
	release_scratch(req);
}

void gw_api_abort(struct worker *w, struct http_exchange *x)
{
	(void)w;
	struct gw_call *g = x->user;
	if (!g)
		return;
	x->user = NULL;
	g->x = NULL;
	grpc_call_cancel(&g->call);
	call_free(g);
}
