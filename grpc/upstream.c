/*
 * upstream.c - per-worker connection pool for one gRPC service: picking a
 * connection, the bounded wait queue, reconnect with backoff, GOAWAY
 * hand-over.
 */
#include "grpc/upstream.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct upstream_conn {
	struct h2_conn h2;
	struct upstream *up;
	struct upstream_slot *slot; /* NULL once replaced (draining) */
	bool was_open;
};

static const struct h2_conn_ops pool_conn_ops;

void upstream_config_init(struct upstream_config *cfg, const char *name)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	cfg->conns_per_endpoint = 1;
	cfg->max_queue = 1024;
	cfg->backoff_initial_ms = 100;
	cfg->backoff_max_ms = 5000;
	cfg->max_recv_message = 16u << 20;
	cfg->h2 = h2_conn_config_default;
}

static int add_endpoint(struct upstream_config *cfg, const char *hp, size_t len, char *err,
			size_t errlen)
{
	char buf[sizeof(cfg->endpoints[0].name)];
	if (len == 0 || len >= sizeof(buf)) {
		snprintf(err, errlen, "'%.*s': expected HOST:PORT", (int)len, hp);
		return -1;
	}
	memcpy(buf, hp, len);
	buf[len] = '\0';
	char *colon = strrchr(buf, ':');
	if (!colon || colon == buf || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
		snprintf(err, errlen, "'%s': expected HOST:PORT", buf);
		return -1;
	}
	if (cfg->nendpoints == UPSTREAM_MAX_ENDPOINTS) {
		snprintf(err, errlen, "more than %d endpoints", UPSTREAM_MAX_ENDPOINTS);
		return -1;
	}
	*colon = '\0';
	char *host = buf;
	if (host[0] == '[' && colon[-1] == ']') {
		host++;
		colon[-1] = '\0';
	}
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int gai = getaddrinfo(host, colon + 1, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "'%.*s': %s", (int)len, hp, gai_strerror(gai));
		return -1;
	}
	struct upstream_endpoint *ep = &cfg->endpoints[cfg->nendpoints++];
	memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
	ep->addrlen = res->ai_addrlen;
	snprintf(ep->name, sizeof(ep->name), "%.*s", (int)len, hp);
	freeaddrinfo(res);
	if (!cfg->authority[0])
		snprintf(cfg->authority, sizeof(cfg->authority), "%s", ep->name);
	return 0;
}

int upstream_config_add_endpoints(struct upstream_config *cfg, const char *list, char *err,
				  size_t errlen)
{
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (add_endpoint(cfg, p, len, err, errlen) < 0)
			return -1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* ---- connections ---- */

static void slot_connect(struct upstream_slot *sl);

static uint32_t backoff_ms(struct upstream *u, unsigned failures)
{
	const struct upstream_config *cfg = u->cfg;
	uint64_t ms = cfg->backoff_initial_ms;
	for (unsigned i = 1; i < failures && ms < cfg->backoff_max_ms; i++)
		ms *= 2;
	if (ms > cfg->backoff_max_ms)
		ms = cfg->backoff_max_ms;
	/* +-20% so a fleet of workers does not reconnect in lockstep. */
	u->rng ^= u->rng << 13;
	u->rng ^= u->rng >> 7;
	u->rng ^= u->rng << 17;
	uint64_t span = ms * 2 / 5 + 1;
	return (uint32_t)(ms - ms / 5 + u->rng % span);
}

static void on_retry(struct ring_loop *loop, struct ring_timer *t)
{
	(void)loop;
	slot_connect(container_of(t, struct upstream_slot, retry));
}

static bool any_conn_alive(const struct upstream *u)
{
	for (unsigned i = 0; i < u->nslots; i++) {
		const struct upstream_conn *uc = u->slots[i].conn;
		if (uc && (uc->h2.state == H2C_CONNECTING || uc->h2.state == H2C_OPEN))
			return true;
	}
	return false;
}

static const char *last_error(const struct upstream *u)
{
	for (unsigned i = 0; i < u->nslots; i++)
		if (u->slots[i].last_error)
			return u->slots[i].last_error;
	return "no connection";
}

static void fail_queue(struct upstream *u, int code, const char *why)
{
	while (u->qhead) {
		struct grpc_call *c = u->qhead;
		grpc_call_fail(c, code, why); /* unqueues it */
	}
}

static struct upstream_conn *pick(struct upstream *u)
{
	struct upstream_conn *best = NULL;
	for (unsigned k = 0; k < u->nslots; k++) {
		unsigned i = (u->rr + k) % u->nslots;
		struct upstream_conn *uc = u->slots[i].conn;
		if (!uc || !h2_conn_can_open(&uc->h2))
			continue;
		if (!best || uc->h2.active < best->h2.active)
			best = uc;
	}
	u->rr++;
	return best;
}

static void dispatch_queue(struct upstream *u)
{
	while (u->qhead) {
		struct upstream_conn *uc = pick(u);
		if (!uc)
			return;
		struct grpc_call *c = u->qhead;
		upstream_unqueue(u, c);
		if (grpc_call_begin(c, &uc->h2, u->cfg->authority, strlen(u->cfg->authority)) < 0)
			grpc_call_fail(c, GRPC_INTERNAL, "cannot open a stream to the upstream");
	}
}

static void conn_ready(struct h2_conn *h)
{
	struct upstream_conn *uc = container_of(h, struct upstream_conn, h2);
	uc->was_open = true;
	if (uc->slot)
		uc->slot->last_error = NULL; /* failures reset once it proves to work */
	UPSTREAM_STAT_INC(uc->up->stats.connects);
	UPSTREAM_STAT_INC(uc->up->stats.open_conns);
	dispatch_queue(uc->up);
}

static void conn_capacity(struct h2_conn *h)
{
	struct upstream_conn *uc = container_of(h, struct upstream_conn, h2);
	dispatch_queue(uc->up);
}

static void conn_draining(struct h2_conn *h)
{
	struct upstream_conn *uc = container_of(h, struct upstream_conn, h2);
	struct upstream *u = uc->up;
	UPSTREAM_STAT_INC(u->stats.goaways);
	/* Hand the slot to a fresh connection at once; this one finishes
	 * its streams and closes itself. */
	struct upstream_slot *sl = uc->slot;
	uc->slot = NULL;
	if (sl && sl->conn == uc) {
		sl->conn = NULL;
		if (!u->stopping)
			slot_connect(sl);
	}
}

static void conn_closed(struct h2_conn *h, int err, const char *why)
{
	struct upstream_conn *uc = container_of(h, struct upstream_conn, h2);
	struct upstream *u = uc->up;
	(void)err;
	if (uc->was_open)
		UPSTREAM_STAT_ADD(u->stats.open_conns, (uint64_t)-1);
	struct upstream_slot *sl = uc->slot;
	uc->slot = NULL;
	if (sl && sl->conn == uc) {
		sl->conn = NULL;
		sl->last_error = why;
		/* It worked only if the server spoke HTTP/2 back: a peer that
		 * accepts and hangs up must not get a reconnect loop. */
		bool worked = uc->was_open && uc->h2.preface_seen;
		if (worked) {
			sl->failures = 0;
		} else {
			sl->failures++;
			UPSTREAM_STAT_INC(u->stats.connect_failures);
		}
		if (!u->stopping) {
			/* A connection that had worked is retried at once; one
			 * that never came up waits its backoff. */
			uint32_t wait = worked ? 1 : backoff_ms(u, sl->failures);
			ring_timer_set(u->loop, &sl->retry, wait);
		}
	}
	if (!any_conn_alive(u) && u->qhead) {
		char msg[200];
		snprintf(msg, sizeof(msg), "upstream %s unavailable: %s", u->cfg->name,
			 why ? why : "connection failed");
		UPSTREAM_STAT_ADD(u->stats.calls_unavailable, u->queued);
		fail_queue(u, GRPC_UNAVAILABLE, msg);
	}
}

static void conn_release(struct h2_conn *h)
{
	struct upstream_conn *uc = container_of(h, struct upstream_conn, h2);
	uc->up->live_conns--;
	free(uc);
}

static const struct h2_conn_ops pool_conn_ops = {
	.ready = conn_ready,
	.capacity = conn_capacity,
	.draining = conn_draining,
	.closed = conn_closed,
	.release = conn_release,
};

static void slot_connect(struct upstream_slot *sl)
{
	struct upstream *u = sl->up;
	if (u->stopping || sl->conn)
		return;
	struct upstream_conn *uc = calloc(1, sizeof(*uc));
	if (!uc) {
		sl->last_error = "out of memory";
		ring_timer_set(u->loop, &sl->retry, backoff_ms(u, ++sl->failures));
		return;
	}
	uc->up = u;
	uc->slot = sl;
	sl->attempt_ms = u->loop->now_ms;
	const struct upstream_endpoint *ep = &u->cfg->endpoints[sl->ep];
	int ret = h2_conn_open(&uc->h2, u->loop, u->chunks, (const struct sockaddr *)&ep->addr,
			       ep->addrlen, &u->cfg->h2, &pool_conn_ops);
	if (ret < 0) {
		free(uc);
		sl->last_error = "cannot create a socket";
		ring_timer_set(u->loop, &sl->retry, backoff_ms(u, ++sl->failures));
		return;
	}
	sl->conn = uc;
	u->live_conns++;
	if (u->cfg->secure && u->cfg->secure(u->cfg->secure_arg, &uc->h2.rc, sl->ep) < 0) {
		/* Fails like a refused connect: the release brings the retry. */
		sl->last_error = "cannot set up TLS";
		ring_conn_close(&uc->h2.rc);
	}
}

int upstream_init(struct upstream *u, const struct upstream_config *cfg, struct ring_loop *loop,
		  struct ring_chunks *chunks)
{
	memset(u, 0, sizeof(*u));
	if (cfg->nendpoints == 0)
		return -EINVAL;
	u->cfg = cfg;
	u->loop = loop;
	u->chunks = chunks;
	u->qtail = &u->qhead;
	u->rng = 0x9e3779b97f4a7c15ull ^ (uintptr_t)u;
	u->nslots = cfg->nendpoints * (cfg->conns_per_endpoint ? cfg->conns_per_endpoint : 1);
	u->slots = calloc(u->nslots, sizeof(*u->slots));
	if (!u->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < u->nslots; i++) {
		struct upstream_slot *sl = &u->slots[i];
		sl->up = u;
		sl->ep = i % cfg->nendpoints;
		ring_timer_init(&sl->retry, on_retry);
		slot_connect(sl);
	}
	return 0;
}

void upstream_stop(struct upstream *u)
{
	if (u->stopping)
		return;
	u->stopping = true;
	for (unsigned i = 0; i < u->nslots; i++) {
		struct upstream_slot *sl = &u->slots[i];
		ring_timer_cancel(u->loop, &sl->retry);
		if (sl->conn)
			h2_conn_close(&sl->conn->h2, H2_NO_ERROR, "shutting down");
	}
	fail_queue(u, GRPC_UNAVAILABLE, "gateway shutting down");
}

void upstream_destroy(struct upstream *u)
{
	free(u->slots);
	u->slots = NULL;
}

void upstream_unqueue(struct upstream *u, struct grpc_call *c)
{
	if (c->state != GC_QUEUED)
		return;
	*c->qprev = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	else
		u->qtail = c->qprev;
	c->qnext = NULL;
	c->qprev = NULL;
	c->state = GC_NEW;
	u->queued--;
}

/*
 * A call found every connection down.  A slot waiting out a long backoff
 * connects now instead, if its last attempt is at least the initial
 * backoff old: a backend that came back is used by the next call rather
 * than after up to backoff_max_ms of failed ones, while a dead one still
 * gets at most one attempt per initial backoff per slot.  The call then
 * waits for that attempt like any queued call.
 */
static void reconnect_on_demand(struct upstream *u)
{
	for (unsigned i = 0; i < u->nslots; i++) {
		struct upstream_slot *sl = &u->slots[i];
		if (sl->conn || u->loop->now_ms - sl->attempt_ms < u->cfg->backoff_initial_ms)
			continue;
		ring_timer_cancel(u->loop, &sl->retry);
		slot_connect(sl);
	}
}

void upstream_submit(struct upstream *u, struct grpc_call *c)
{
	if (u->stopping) {
		grpc_call_fail_later(c, GRPC_UNAVAILABLE, "gateway shutting down");
		return;
	}
	/* Calls already waiting go first. */
	if (!u->qhead) {
		struct upstream_conn *uc = pick(u);
		if (uc) {
			if (grpc_call_begin(c, &uc->h2, u->cfg->authority,
					    strlen(u->cfg->authority)) < 0)
				grpc_call_fail_later(c, GRPC_INTERNAL,
						     "cannot open a stream to the upstream");
			return;
		}
	}
	if (!any_conn_alive(u))
		reconnect_on_demand(u);
	if (!any_conn_alive(u)) {
		char msg[200];
		snprintf(msg, sizeof(msg), "upstream %s unavailable: %s", u->cfg->name,
			 last_error(u));
		UPSTREAM_STAT_INC(u->stats.calls_unavailable);
		grpc_call_fail_later(c, GRPC_UNAVAILABLE, msg);
		return;
	}
	if (u->queued >= u->cfg->max_queue) {
		UPSTREAM_STAT_INC(u->stats.calls_rejected_queue_full);
		grpc_call_fail_later(c, GRPC_RESOURCE_EXHAUSTED, "upstream queue is full");
		return;
	}
	c->state = GC_QUEUED;
	c->qnext = NULL;
	c->qprev = u->qtail;
	*u->qtail = c;
	u->qtail = &c->qnext;
	u->queued++;
	UPSTREAM_STAT_INC(u->stats.calls_queued);
}

unsigned upstream_ready_conns(const struct upstream *u)
{
	unsigned n = 0;
	for (unsigned i = 0; i < u->nslots; i++)
		if (u->slots[i].conn && u->slots[i].conn->h2.state == H2C_OPEN)
			n++;
	return n;
}
