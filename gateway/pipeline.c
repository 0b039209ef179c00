/*
 * pipeline.c - the phases and the handlers behind them.
 */
#include "gateway/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api.h"

#include "gateway/snapshot.h"
#include "gateway/worker.h"

enum gw_phase_result { GW_NEXT, GW_DONE };

struct gw_request {
	struct worker *w;
	struct http_exchange *x;
	const struct gw_route *route;         /* an exact (admin, direct) route, or */
	const struct gw_api_route *api_route; /* a REST -> gRPC route */
	struct http_route_match match;
};

typedef enum gw_phase_result gw_phase_fn(struct gw_request *r);

/* REST routes: 404 / 405 with Allow, or the matched route. */
static enum gw_phase_result route_api(struct gw_request *r)
{
	struct http_exchange *x = r->x;
	const struct gw_api *api = &r->w->snap->api;
	enum http_route_status st = HTTP_ROUTE_NOT_FOUND;
	if (api->router)
		st = http_router_match(api->router, x->req.method_name.base, x->req.method_name.len,
				       x->req.path.base, x->req.path.len, &r->match);
	if (st == HTTP_ROUTE_FOUND) {
		r->api_route = r->match.target;
		x->tag = (uint32_t)(r->api_route - api->routes) + 1;
		return GW_NEXT;
	}
	char msg[200];
	int plen = x->req.path.len > 100 ? 100 : (int)x->req.path.len;
	int mlen = x->req.method_name.len > 20 ? 20 : (int)x->req.method_name.len;
	if (st == HTTP_ROUTE_METHOD_NOT_ALLOWED) {
		char allow[256] = "Allow: ";
		size_t n =
			7 + http_router_allow(api->router, &r->match, allow + 7, sizeof(allow) - 9);
		if (n > sizeof(allow) - 3)
			n = sizeof(allow) - 3;
		memcpy(allow + n, "\r\n", 3);
		snprintf(msg, sizeof(msg), "method %.*s not allowed on %.*s", mlen,
			 x->req.method_name.base, plen, x->req.path.base);
		http_respond_error(x, 405, (http_slice){allow, n + 2}, msg);
		return GW_DONE;
	}
	snprintf(msg, sizeof(msg), "no route for %.*s %.*s", mlen, x->req.method_name.base, plen,
		 x->req.path.base);
	http_respond_error(x, 404, (http_slice){0}, msg);
	return GW_DONE;
}

static enum gw_phase_result phase_route(struct gw_request *r)
{
	struct http_exchange *x = r->x;
	r->route = gw_snapshot_route(r->w->snap, x->req.path.base, x->req.path.len);
	if (!r->route)
		return route_api(r);
	/* Admin and direct routes are read-only resources. */
	if (x->req.method != HTTP_M_GET && x->req.method != HTTP_M_HEAD) {
		static const char allow[] = "Allow: GET, HEAD\r\n";
		char msg[160];
		snprintf(msg, sizeof(msg), "method %.*s not allowed on %.*s",
			 (int)(x->req.method_name.len > 20 ? 20 : x->req.method_name.len),
			 x->req.method_name.base, (int)r->route->path_len, r->route->path);
		http_respond_error(x, 405, (http_slice){allow, sizeof(allow) - 1}, msg);
		return GW_DONE;
	}
	return GW_NEXT;
}

static void handle_metrics(struct gw_request *r)
{
	const struct gw_runtime *rt = r->w->rt;
	char *text = NULL;
	long n = gw_metrics_render(rt, &text);
	if (n < 0) {
		http_respond_error(r->x, 500, (http_slice){0}, "cannot render metrics");
		return;
	}
	http_respond(r->x, 200, "text/plain; version=0.0.4; charset=utf-8", (http_slice){0},
		     (struct http_body_ref){.data = text, .len = (size_t)n});
	free(text);
}

static enum gw_phase_result phase_handle(struct gw_request *r)
{
	static const char healthy[] = "{\"status\":\"ok\"}";
	const struct gw_route *route = r->route;
	if (r->api_route) {
		gw_api_handle(r->w, r->x, r->api_route, &r->match);
		return GW_DONE;
	}
	switch (route->kind) {
	case GW_ROUTE_HEALTHZ:
		http_respond(r->x, 200, "application/json", (http_slice){0},
			     (struct http_body_ref){healthy, sizeof(healthy) - 1, true});
		break;
	case GW_ROUTE_METRICS: handle_metrics(r); break;
	case GW_ROUTE_STATIC:
		/* The snapshot outlives every request that started on it, so
		 * the body is queued by reference. */
		http_respond(r->x, 200, route->content_type, (http_slice){0},
			     (struct http_body_ref){route->body, route->body_len, true});
		break;
	}
	return GW_DONE;
}

static const struct {
	const char *name;
	gw_phase_fn *run;
} phases[] = {
	{"route", phase_route},
	{"handle", phase_handle},
};

void gw_pipeline_run(struct worker *w, struct http_exchange *x)
{
	/* `match` (captures for every template variable: over a kilobyte) is
	 * written by the router before anything reads it, so it is not zeroed
	 * for requests that never reach the router. */
	struct gw_request r;
	r.w = w;
	r.x = x;
	r.route = NULL;
	r.api_route = NULL;
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (phases[i].run(&r) == GW_DONE)
			return;
}
