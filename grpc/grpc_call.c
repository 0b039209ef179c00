/*
 * grpc_call.c - request framing, response deframing and the one final
 * status of a gRPC call.
 */
#include "grpc/grpc_call.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/upstream.h"

/* Request headers we add besides the caller's metadata. */
#define GRPC_FIXED_HEADERS       8u
#define GRPC_MAX_METADATA        64u
#define GRPC_MAX_RESPONSE_FIELDS 128u
/* Transparent retries of a stream the server never processed. */
#define GRPC_MAX_ATTEMPTS 3u

static const char user_agent[] = "ringgate/" RINGGATE_VERSION;

static const struct h2_stream_ops call_stream_ops;

static bool slice_eq(hpack_slice s, const char *lit, size_t n)
{
	return s.len == n && memcmp(s.base, lit, n) == 0;
}

#define SLICE_EQ(s, lit) slice_eq((s), (lit), sizeof(lit) - 1)

static void call_release_buffers(struct grpc_call *c)
{
	free(c->req);
	c->req = NULL;
	c->req_len = c->req_cap = 0;
	free(c->msg);
	c->msg = NULL;
	c->msg_len = c->msg_have = 0;
}

static void call_finish(struct grpc_call *c, const struct grpc_status_info *st)
{
	if (c->state == GC_DONE)
		return;
	if (c->state == GC_QUEUED)
		upstream_unqueue(c->up, c);
	ring_defer_cancel(c->up->loop, &c->fail_defer);
	c->state = GC_DONE;
	ring_timer_cancel(c->up->loop, &c->deadline);
	call_release_buffers(c);
	UPSTREAM_STAT_INC(c->up->stats.calls_finished);
	c->ops->done(c, st);
}

void grpc_call_fail(struct grpc_call *c, int code, const char *message)
{
	struct grpc_status_info st = {
		.code = code,
		.message = message,
		.message_len = message ? strlen(message) : 0,
	};
	if (c->state == GC_ACTIVE && c->stream.conn)
		h2_stream_cancel(&c->stream, H2_CANCEL);
	call_finish(c, &st);
}

static void on_fail_defer(struct ring_loop *loop, struct ring_defer *d)
{
	(void)loop;
	struct grpc_call *c = container_of(d, struct grpc_call, fail_defer);
	grpc_call_fail(c, c->fail_code, c->fail_msg);
}

void grpc_call_fail_later(struct grpc_call *c, int code, const char *message)
{
	if (c->state == GC_DONE || c->state == GC_FAILING)
		return;
	if (c->state == GC_QUEUED)
		upstream_unqueue(c->up, c);
	if (c->state == GC_ACTIVE && c->stream.conn)
		h2_stream_cancel(&c->stream, H2_CANCEL);
	c->state = GC_FAILING;
	c->fail_code = code;
	snprintf(c->fail_msg, sizeof(c->fail_msg), "%s", message ? message : "");
	c->fail_defer.fn = on_fail_defer;
	ring_defer(c->up->loop, &c->fail_defer);
}

static void on_deadline(struct ring_loop *loop, struct ring_timer *t)
{
	(void)loop;
	struct grpc_call *c = container_of(t, struct grpc_call, deadline);
	char msg[96];
	snprintf(msg, sizeof(msg), "deadline of %llu ms exceeded",
		 (unsigned long long)c->params.timeout_ms);
	grpc_call_fail(c, GRPC_DEADLINE_EXCEEDED, msg);
}

static int req_append(struct grpc_call *c, const void *msg, size_t len)
{
	if (len > UINT32_MAX)
		return -E2BIG;
	size_t need = c->req_len + 5 + len;
	if (need > c->req_cap) {
		size_t cap = c->req_cap ? c->req_cap : 256;
		while (cap < need)
			cap *= 2;
		uint8_t *p = realloc(c->req, cap);
		if (!p)
			return -ENOMEM;
		c->req = p;
		c->req_cap = cap;
	}
	uint8_t *p = c->req + c->req_len;
	p[0] = 0; /* not compressed: we never advertise grpc-encoding */
	p[1] = (uint8_t)(len >> 24);
	p[2] = (uint8_t)(len >> 16);
	p[3] = (uint8_t)(len >> 8);
	p[4] = (uint8_t)len;
	if (len)
		memcpy(p + 5, msg, len);
	c->req_len = need;
	return 0;
}

int grpc_call_start(struct upstream *up, struct grpc_call *c, const struct grpc_call_params *p,
		    const struct grpc_call_ops *ops, const void *msg, size_t len, bool last)
{
	if (!p->path.len || p->path.base[0] != '/' || p->nmetadata > GRPC_MAX_METADATA)
		return -EINVAL;
	void *user = c->user;
	memset(c, 0, sizeof(*c));
	c->user = user;
	c->up = up;
	c->ops = ops;
	c->params = *p;
	c->state = GC_NEW;
	c->retryable = true;
	/* The loop's clock: a clock read per call is a measurable share of
	 * a call's own CPU on paravirtualised hosts. */
	c->started_ns = up->loop->now_ns;
	ring_timer_init(&c->deadline, on_deadline);
	if (!c->params.timeout_ms)
		c->params.timeout_ms = up->cfg->default_timeout_ms;
	UPSTREAM_STAT_INC(up->stats.calls);

	if (req_append(c, msg, len) < 0) {
		grpc_call_fail_later(c, GRPC_RESOURCE_EXHAUSTED, "request message too large");
		return 0;
	}
	c->req_end = last;
	if (c->params.timeout_ms) {
		c->deadline_at = up->loop->now_ms + c->params.timeout_ms;
		ring_timer_set(up->loop, &c->deadline, c->params.timeout_ms);
	}
	upstream_submit(up, c);
	return 0;
}

int grpc_call_send(struct grpc_call *c, const void *msg, size_t len, bool last)
{
	if (c->state == GC_DONE || c->req_end)
		return -EPIPE;
	if (c->state == GC_ACTIVE && !c->retryable) {
		uint8_t prefix[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
				     (uint8_t)(len >> 8), (uint8_t)len};
		int ret = h2_stream_send(&c->stream, prefix, 5, false);
		if (ret == 0)
			ret = h2_stream_send(&c->stream, msg, len, last);
		c->req_end = last;
		return ret;
	}
	/* Not on the wire yet (or still replayable): keep it with the rest. */
	int ret = req_append(c, msg, len);
	if (ret < 0)
		return ret;
	c->req_end = last;
	if (c->state == GC_ACTIVE) {
		ret = h2_stream_send(&c->stream, c->req + c->req_len - 5 - len, 5 + len, last);
		/* Client streaming past the first message cannot be replayed
		 * without keeping the whole request; stop trying. */
		c->retryable = false;
	}
	return ret;
}

void grpc_call_cancel(struct grpc_call *c)
{
	if (c->state == GC_DONE)
		return;
	if (c->state == GC_QUEUED)
		upstream_unqueue(c->up, c);
	if (c->state == GC_ACTIVE && c->stream.conn)
		h2_stream_cancel(&c->stream, H2_CANCEL);
	ring_defer_cancel(c->up->loop, &c->fail_defer);
	c->state = GC_DONE;
	ring_timer_cancel(c->up->loop, &c->deadline);
	call_release_buffers(c);
	UPSTREAM_STAT_INC(c->up->stats.calls_finished);
}

/* ---- putting the call on a stream ---- */

int grpc_call_begin(struct grpc_call *c, struct h2_conn *conn, const char *authority,
		    size_t authority_len)
{
	struct hpack_header h[GRPC_FIXED_HEADERS + GRPC_MAX_METADATA];
	size_t n = 0;
#define ADD(nm, val, vlen, fl)                                                                     \
	h[n++] = (struct hpack_header){{(nm), sizeof(nm) - 1}, {(val), (vlen)}, (fl)}
	ADD(":method", "POST", 4, 0);
	ADD(":scheme", "http", 4, 0);
	h[n++] = (struct hpack_header){{":path", 5}, c->params.path, 0};
	ADD(":authority", authority, authority_len, 0);
	ADD("content-type", "application/grpc", 16, 0);
	ADD("te", "trailers", 8, 0);
	ADD("user-agent", user_agent, sizeof(user_agent) - 1, 0);
	char timeout[10];
	if (c->deadline_at) {
		uint64_t now = c->up->loop->now_ms;
		uint64_t left_ms = c->deadline_at > now ? c->deadline_at - now : 1;
		size_t tl = grpc_timeout_encode(left_ms * 1000000ull, timeout);
		/* No flag: the encoder knows the name as volatile, indexes it
		 * once and then sends each value raw after the name's index. */
		ADD("grpc-timeout", timeout, tl, 0);
	}
#undef ADD
	/* -bin values are base64-encoded into one buffer for the block. */
	size_t bin_need = 0;
	for (size_t i = 0; i < c->params.nmetadata; i++) {
		const struct hpack_header *m = &c->params.metadata[i];
		if (grpc_key_is_binary(m->name.base, m->name.len))
			bin_need += grpc_base64_encoded_len(m->value.len);
	}
	char stackbuf[2048];
	char *bin = bin_need <= sizeof(stackbuf) ? stackbuf : malloc(bin_need);
	if (!bin)
		return -ENOMEM;
	size_t bin_used = 0;
	for (size_t i = 0; i < c->params.nmetadata; i++) {
		const struct hpack_header *m = &c->params.metadata[i];
		h[n] = *m;
		if (grpc_key_is_binary(m->name.base, m->name.len)) {
			size_t el = grpc_base64_encode((const uint8_t *)m->value.base, m->value.len,
						       bin + bin_used);
			h[n].value = (hpack_slice){bin + bin_used, el};
			bin_used += el;
		}
		n++;
	}
	int ret = h2_stream_open(conn, &c->stream, &call_stream_ops, h, n, false);
	if (bin != stackbuf)
		free(bin);
	if (ret < 0)
		return ret;
	c->state = GC_ACTIVE;
	c->attempts++;
	c->got_headers = false;
	c->prefix_have = 0;
	c->http_status = 0;
	ret = h2_stream_send(&c->stream, c->req, c->req_len, c->req_end);
	if (ret < 0) {
		h2_stream_cancel(&c->stream, H2_CANCEL);
		c->state = GC_NEW;
		return ret;
	}
	return 0;
}

/* ---- the response ---- */

static struct grpc_call *call_of(struct h2_stream *s)
{
	return container_of(s, struct grpc_call, stream);
}

static int parse_status_digits(hpack_slice v)
{
	if (v.len == 0 || v.len > 3)
		return -1;
	int code = 0;
	for (size_t i = 0; i < v.len; i++) {
		if (v.base[i] < '0' || v.base[i] > '9')
			return -1;
		code = code * 10 + (v.base[i] - '0');
	}
	return code;
}

static void on_headers_block(struct h2_stream *s, const struct hpack_header *h, size_t n,
			     bool end_stream);

static void deliver_message(struct grpc_call *c, const uint8_t *p, size_t len)
{
	if (c->state == GC_ACTIVE)
		c->ops->message(c, p, len);
}

/*
 * Split DATA into messages.  A message that lies whole inside one DATA
 * frame is handed over in place; only one that spans frames is copied.
 */
static bool deframe(struct grpc_call *c, const uint8_t *p, size_t n)
{
	uint32_t max = c->up->cfg->max_recv_message;
	while (n > 0 && c->state == GC_ACTIVE) {
		if (c->msg == NULL || c->msg_have == c->msg_len) {
			if (c->prefix_have < 5) {
				/* Fast path: a whole message in this frame. */
				if (c->prefix_have == 0 && n >= 5) {
					uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
						       (uint32_t)p[3] << 8 | p[4];
					if (p[0] != 0 || len > max)
						goto bad;
					if (n - 5 >= len) {
						deliver_message(c, p + 5, len);
						p += 5 + len;
						n -= 5 + len;
						continue;
					}
				}
				size_t take = 5 - c->prefix_have < n ? 5 - c->prefix_have : n;
				memcpy(c->prefix + c->prefix_have, p, take);
				c->prefix_have += (unsigned)take;
				p += take;
				n -= take;
				if (c->prefix_have < 5)
					return true;
				uint32_t len = (uint32_t)c->prefix[1] << 24 |
					       (uint32_t)c->prefix[2] << 16 |
					       (uint32_t)c->prefix[3] << 8 | c->prefix[4];
				if (c->prefix[0] != 0 || len > max)
					goto bad;
				free(c->msg);
				c->msg = malloc(len ? len : 1);
				if (!c->msg) {
					grpc_call_fail(c, GRPC_RESOURCE_EXHAUSTED,
						       "out of memory for a response message");
					return false;
				}
				c->msg_len = len;
				c->msg_have = 0;
			}
		}
		size_t take = c->msg_len - c->msg_have < n ? c->msg_len - c->msg_have : n;
		memcpy(c->msg + c->msg_have, p, take);
		c->msg_have += take;
		p += take;
		n -= take;
		if (c->msg_have == c->msg_len) {
			deliver_message(c, c->msg, c->msg_len);
			free(c->msg);
			c->msg = NULL;
			c->msg_len = c->msg_have = 0;
			c->prefix_have = 0;
		}
	}
	/* A message whose 5-byte prefix completed exactly at the frame's
	 * end with length 0 is delivered here. */
	if (c->state == GC_ACTIVE && c->msg && c->msg_len == 0) {
		deliver_message(c, c->msg, 0);
		free(c->msg);
		c->msg = NULL;
		c->prefix_have = 0;
	}
	return c->state == GC_ACTIVE;
bad:;
	const uint8_t *pre = c->prefix_have == 5 ? c->prefix : p;
	char msg[128];
	if (pre[0] != 0)
		snprintf(msg, sizeof(msg),
			 "compressed response message (flag %u) but no "
			 "compression was negotiated",
			 pre[0]);
	else
		snprintf(msg, sizeof(msg), "response message larger than %u bytes", max);
	grpc_call_fail(c, pre[0] != 0 ? GRPC_INTERNAL : GRPC_RESOURCE_EXHAUSTED, msg);
	return false;
}

static void on_data(struct h2_stream *s, const uint8_t *p, size_t n, bool end_stream)
{
	struct grpc_call *c = call_of(s);
	if (c->http_status != 200 || c->bad_content_type) {
		/* Not a gRPC response (a proxy's error page, say): its body
		 * is not messages.  The status comes from :status. */
		if (end_stream)
			on_headers_block(s, NULL, 0, true);
		return;
	}
	if (!deframe(c, p, n))
		return;
	if (end_stream) {
		if (c->prefix_have || c->msg)
			grpc_call_fail(c, GRPC_INTERNAL, "stream ended inside a response message");
		else if (c->http_status != 200)
			on_headers_block(s, NULL, 0, true);
		else
			grpc_call_fail(c, GRPC_INTERNAL,
				       "server closed the stream without trailers");
	}
}

static void on_headers_block(struct h2_stream *s, const struct hpack_header *h, size_t n,
			     bool end_stream)
{
	struct grpc_call *c = call_of(s);
	if (c->state != GC_ACTIVE)
		return;
	struct hpack_header meta[GRPC_MAX_RESPONSE_FIELDS];
	size_t nmeta = 0;
	int grpc_status = -1;
	hpack_slice message = {0}, details = {0};
	bool first = !c->got_headers;

	for (size_t i = 0; i < n; i++) {
		hpack_slice name = h[i].name, v = h[i].value;
		if (name.len && name.base[0] == ':') {
			if (first && SLICE_EQ(name, ":status"))
				c->http_status = parse_status_digits(v);
			continue;
		}
		if (first && SLICE_EQ(name, "content-type")) {
			c->bad_content_type =
				!(v.len >= 16 && memcmp(v.base, "application/grpc", 16) == 0 &&
				  (v.len == 16 || v.base[16] == '+' || v.base[16] == ';'));
		} else if (SLICE_EQ(name, "grpc-status")) {
			grpc_status = parse_status_digits(v);
		} else if (SLICE_EQ(name, "grpc-message")) {
			message = v;
		} else if (SLICE_EQ(name, "grpc-status-details-bin")) {
			details = v;
		}
		if (nmeta < sizeof(meta) / sizeof(meta[0]))
			meta[nmeta++] = h[i];
	}
	if (first) {
		c->got_headers = true;
		/* The server has the request: replaying it is no longer safe,
		 * and its bytes are no longer needed. */
		c->retryable = false;
		if (c->req_end) {
			free(c->req);
			c->req = NULL;
			c->req_len = c->req_cap = 0;
		}
	}

	if (!end_stream) {
		if (c->http_status != 200 || c->bad_content_type)
			return; /* judged when the stream ends */
		c->ops->headers(c, meta, nmeta);
		return;
	}

	/* Trailers, or a trailers-only response. */
	struct grpc_status_info st = {.trailers = meta, .ntrailers = nmeta, .from_server = true};
	char mbuf[1024], hbuf[64];
	uint8_t dbuf[2048];
	char *mdec = NULL;
	uint8_t *ddec = NULL;
	if (c->http_status != 200) {
		st.code = grpc_code_from_http(c->http_status);
		snprintf(hbuf, sizeof(hbuf), "upstream answered HTTP status %d", c->http_status);
		st.message = hbuf;
		st.message_len = strlen(hbuf);
		st.from_server = false;
	} else if (c->bad_content_type && grpc_status < 0) {
		st.code = GRPC_UNKNOWN;
		st.message = "upstream response is not application/grpc";
		st.message_len = strlen(st.message);
		st.from_server = false;
	} else if (grpc_status < 0) {
		st.code = GRPC_UNKNOWN;
		st.message = "upstream trailers carry no grpc-status";
		st.message_len = strlen(st.message);
		st.from_server = false;
	} else {
		st.code = grpc_status;
		if (message.len) {
			mdec = message.len <= sizeof(mbuf) ? mbuf : malloc(message.len);
			if (mdec) {
				st.message = mdec;
				st.message_len =
					grpc_percent_decode(message.base, message.len, mdec);
			}
		}
		if (details.len) {
			size_t cap = details.len / 4 * 3 + 3;
			ddec = cap <= sizeof(dbuf) ? dbuf : malloc(cap);
			long dl = ddec ? grpc_base64_decode(details.base, details.len, ddec) : -1;
			if (dl >= 0) {
				st.details = ddec;
				st.details_len = (size_t)dl;
			}
		}
	}
	call_finish(c, &st);
	if (mdec && mdec != mbuf)
		free(mdec);
	if (ddec && ddec != dbuf)
		free(ddec);
}

static void on_reset(struct h2_stream *s, uint32_t code, bool unprocessed, const char *why)
{
	struct grpc_call *c = call_of(s);
	if (c->state != GC_ACTIVE)
		return;
	if (unprocessed && c->retryable && c->attempts < GRPC_MAX_ATTEMPTS) {
		/* The server promised it never saw this stream: send it again
		 * on another connection (gRPC's transparent retry). */
		c->state = GC_NEW;
		UPSTREAM_STAT_INC(c->up->stats.retries);
		upstream_submit(c->up, c);
		return;
	}
	int gcode;
	char msg[160];
	switch (code) {
	case H2_LOCAL_CONN_LOST:
		gcode = GRPC_UNAVAILABLE;
		snprintf(msg, sizeof(msg), "upstream connection lost: %s", why ? why : "closed");
		break;
	case H2_REFUSED_STREAM:
		gcode = GRPC_UNAVAILABLE;
		snprintf(msg, sizeof(msg), "upstream refused the stream");
		break;
	case H2_CANCEL:
		gcode = GRPC_CANCELLED;
		snprintf(msg, sizeof(msg), "upstream cancelled the stream");
		break;
	case H2_ENHANCE_YOUR_CALM:
		gcode = GRPC_RESOURCE_EXHAUSTED;
		snprintf(msg, sizeof(msg), "upstream reset the stream: ENHANCE_YOUR_CALM");
		break;
	default:
		gcode = GRPC_INTERNAL;
		snprintf(msg, sizeof(msg), "upstream reset the stream: %s (%s)",
			 h2_error_code_name(code), why ? why : "");
		break;
	}
	struct grpc_status_info st = {.code = gcode, .message = msg, .message_len = strlen(msg)};
	call_finish(c, &st);
}

static const struct h2_stream_ops call_stream_ops = {
	.headers = on_headers_block,
	.data = on_data,
	.reset = on_reset,
};
