/*
 * api.h - REST routes that become gRPC calls.
 *
 * At load time every google.api.http rule of the descriptors (and every
 * route in the configuration) is compiled into a gw_api_route: the gRPC
 * method, the upstream that serves it, where the body goes, what part of
 * the reply is returned, and the options.  The routes go into one router
 * that every worker shares read-only through the snapshot.
 *
 * At run time gw_api_handle() turns a matched request into a gRPC call
 * (JSON body, path variables and query parameters into one protobuf
 * message) and the call's reply into the HTTP response: JSON for unary
 * methods, NDJSON or Server-Sent Events for server streaming.
 */
#ifndef RINGGATE_API_H
#define RINGGATE_API_H

#include "gateway/config.h"
#include "grpc/pb_schema.h"
#include "http/h1_server.h"
#include "http/router.h"

/* Deepest body / response_body field path ("a.b.c"). */
#define GW_FIELD_PATH_MAX 8

enum gw_body_kind { GW_BODY_NONE, GW_BODY_ALL, GW_BODY_FIELD };

struct gw_api_route {
	const struct pb_method *method;
	unsigned upstream; /* index into cfg->upstreams and each worker's pools */
	const char *http_method;
	const char *tmpl;
	uint8_t body_kind; /* enum gw_body_kind */
	const struct pb_field *body_path[GW_FIELD_PATH_MAX];
	unsigned body_depth;
	const struct pb_field *resp_path[GW_FIELD_PATH_MAX];
	unsigned resp_depth;
	uint32_t timeout_ms; /* 0: the upstream's default */
	struct gw_transcode_opts transcode;
	char label[160]; /* "GET /v1/agents/{agent_id}" for logs and metrics */
};

struct gw_api {
	struct pb_schema *schema;
	struct http_router *router;
	struct gw_api_route *routes;
	unsigned nroutes;
};

/*
 * Load the descriptors and compile the routes.  Returns 0 (api->router
 * is NULL when there is nothing to serve) or -1 with a message naming the
 * file, route or method at fault.
 */
int gw_api_build(const struct gw_config *cfg, struct gw_api *api, char *err, size_t errlen);
void gw_api_free(struct gw_api *api);

struct worker;

/* Answer a request that matched an API route (now or later). */
void gw_api_handle(struct worker *w, struct http_exchange *x, const struct gw_api_route *route,
		   const struct http_route_match *m);
/* The client went away before the answer: cancel the call. */
void gw_api_abort(struct worker *w, struct http_exchange *x);
/* At worker exit, once no call is left: free the reusable calls. */
void gw_api_worker_cleanup(struct worker *w);

#endif
