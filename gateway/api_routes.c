/*
 * api_routes.c - compiling descriptors and configured routes into the
 * shared route table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api.h"

static const char *const verb_names[] = {"GET", "PUT", "POST", "DELETE", "PATCH"};

/* Which upstream serves `service`: an exact binding, then "*", then the
 * only upstream there is. */
static int upstream_for(const struct gw_config *cfg, const char *service, char *err, size_t errlen)
{
	const char *name = NULL;
	for (unsigned i = 0; i < cfg->nbindings && !name; i++)
		if (strcmp(cfg->bindings[i].service, service) == 0)
			name = cfg->bindings[i].upstream;
	for (unsigned i = 0; i < cfg->nbindings && !name; i++)
		if (strcmp(cfg->bindings[i].service, "*") == 0)
			name = cfg->bindings[i].upstream;
	if (!name && cfg->nupstreams == 1)
		return 0;
	for (unsigned i = 0; name && i < cfg->nupstreams; i++)
		if (strcmp(cfg->upstreams[i]->name, name) == 0)
			return (int)i;
	if (name)
		snprintf(err, errlen, "service %s: upstream '%s' is not defined", service, name);
	else
		snprintf(err, errlen,
			 "service %s: no upstream serves it (add it under services:, or a \"*\" "
			 "binding)",
			 service);
	return -1;
}

/*
 * Resolve "a.b.c" from message m.  Every step but the last must be a
 * singular message field; the last must be a message field (repeated
 * allowed when allow_repeated).  Returns the depth or -1.
 */
static int resolve_path(const struct pb_message *m, const char *path, const struct pb_field **out,
			bool allow_repeated, char *why, size_t whylen)
{
	unsigned depth = 0;
	const char *p = path;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (depth == GW_FIELD_PATH_MAX) {
			snprintf(why, whylen, "field path '%s' is too deep", path);
			return -1;
		}
		const struct pb_field *f = m ? pb_field_by_name(m, p, len) : NULL;
		if (!f) {
			snprintf(why, whylen, "no field '%.*s' in %s", (int)len, p,
				 m ? m->full_name : "a scalar");
			return -1;
		}
		bool last = dot == NULL;
		if (f->type != PB_TYPE_MESSAGE || f->map ||
		    (f->repeated && !(last && allow_repeated))) {
			snprintf(why, whylen,
				 "field '%.*s' of %s must be a %smessage field to carry a body",
				 (int)len, p, m->full_name,
				 last && allow_repeated ? "" : "singular ");
			return -1;
		}
		out[depth++] = f;
		m = f->message;
		p = dot ? dot + 1 : p + len;
	}
	return (int)depth;
}

static int add_route(struct gw_api *api, const struct gw_config *cfg, const struct pb_method *pm,
		     const char *http_method, const char *tmpl, const char *body,
		     const char *response_body, uint32_t timeout_ms,
		     const struct gw_transcode_opts *opts, char *err, size_t errlen)
{
	char why[256];
	struct gw_api_route *r = &api->routes[api->nroutes];
	memset(r, 0, sizeof(*r));
	r->method = pm;
	int up = upstream_for(cfg, pm->service->full_name, err, errlen);
	if (up < 0)
		return -1;
	r->upstream = (unsigned)up;
	r->http_method = http_method;
	r->tmpl = tmpl;
	r->timeout_ms = timeout_ms;
	r->transcode = *opts;
	snprintf(r->label, sizeof(r->label), "%s %s", http_method, tmpl);

	if (!body || !*body) {
		r->body_kind = GW_BODY_NONE;
	} else if (strcmp(body, "*") == 0) {
		r->body_kind = GW_BODY_ALL;
	} else {
		int d = resolve_path(pm->input, body, r->body_path, false, why, sizeof(why));
		if (d < 0) {
			snprintf(err, errlen, "%s (%s): body: %s", r->label, pm->grpc_path, why);
			return -1;
		}
		r->body_kind = GW_BODY_FIELD;
		r->body_depth = (unsigned)d;
	}
	if (response_body && *response_body) {
		int d = resolve_path(pm->output, response_body, r->resp_path, true, why,
				     sizeof(why));
		if (d < 0) {
			snprintf(err, errlen, "%s (%s): response_body: %s", r->label, pm->grpc_path,
				 why);
			return -1;
		}
		r->resp_depth = (unsigned)d;
	}
	api->nroutes++;
	return 0;
}

static const struct pb_method *find_method(const struct pb_schema *s, const char *spec)
{
	const char *slash = strrchr(spec, '/');
	if (!slash)
		return NULL;
	char svc[256];
	size_t n = (size_t)(slash - spec);
	if (n >= sizeof(svc))
		return NULL;
	memcpy(svc, spec, n);
	svc[n] = '\0';
	const struct pb_service *ps = pb_schema_service(s, svc);
	for (unsigned i = 0; ps && i < ps->nmethods; i++)
		if (strcmp(ps->methods[i].name, slash + 1) == 0)
			return &ps->methods[i];
	return NULL;
}

int gw_api_build(const struct gw_config *cfg, struct gw_api *api, char *err, size_t errlen)
{
	memset(api, 0, sizeof(*api));
	if (cfg->ndescriptors == 0) {
		if (cfg->nroutes) {
			snprintf(err, errlen,
				 "routes are configured but no descriptors are loaded");
			return -1;
		}
		return 0;
	}
	if (cfg->nupstreams == 0) {
		snprintf(err, errlen, "descriptors are loaded but no upstream is configured");
		return -1;
	}
	if (pb_schema_load(&api->schema, (const char *const *)cfg->descriptors, cfg->ndescriptors,
			   err, errlen) < 0)
		return -1;

	unsigned cap = cfg->nroutes;
	unsigned nsvc = pb_schema_nservices(api->schema);
	for (unsigned i = 0; i < nsvc && cfg->annotated_routes; i++) {
		const struct pb_service *ps = pb_schema_service_at(api->schema, i);
		for (unsigned k = 0; k < ps->nmethods; k++)
			cap += ps->methods[k].nrules;
	}
	api->routes = calloc(cap ? cap : 1, sizeof(*api->routes));
	if (!api->routes) {
		snprintf(err, errlen, "out of memory");
		gw_api_free(api);
		return -1;
	}

	for (unsigned i = 0; i < nsvc && cfg->annotated_routes; i++) {
		const struct pb_service *ps = pb_schema_service_at(api->schema, i);
		for (unsigned k = 0; k < ps->nmethods; k++) {
			const struct pb_method *pm = &ps->methods[k];
			for (unsigned j = 0; j < pm->nrules; j++) {
				const struct pb_http_rule *hr = &pm->rules[j];
				const char *verb = hr->verb == PB_HTTP_CUSTOM
							   ? hr->custom_method
							   : verb_names[hr->verb];
				if (add_route(api, cfg, pm, verb, hr->path, hr->body,
					      hr->response_body, 0, &cfg->transcode, err,
					      errlen) < 0) {
					gw_api_free(api);
					return -1;
				}
			}
		}
	}
	for (unsigned i = 0; i < cfg->nroutes; i++) {
		const struct gw_route_cfg *rc = &cfg->routes[i];
		const struct pb_method *pm = find_method(api->schema, rc->grpc_method);
		char where[96] = "";
		if (rc->origin.file)
			snprintf(where, sizeof(where), "%s:%u:%u: ", rc->origin.file,
				 rc->origin.line, rc->origin.column);
		if (!pm) {
			snprintf(err, errlen, "%sroute %s %s: no gRPC method %s in the descriptors",
				 where, rc->method, rc->path, rc->grpc_method);
			gw_api_free(api);
			return -1;
		}
		char sub[400];
		if (add_route(api, cfg, pm, rc->method, rc->path, rc->body, rc->response_body,
			      rc->timeout_ms, rc->has_transcode ? &rc->transcode : &cfg->transcode,
			      sub, sizeof(sub)) < 0) {
			snprintf(err, errlen, "%s%s", where, sub);
			gw_api_free(api);
			return -1;
		}
	}
	if (api->nroutes == 0)
		return 0;

	struct http_route *hr = calloc(api->nroutes, sizeof(*hr));
	if (!hr) {
		snprintf(err, errlen, "out of memory");
		gw_api_free(api);
		return -1;
	}
	for (unsigned i = 0; i < api->nroutes; i++)
		hr[i] = (struct http_route){api->routes[i].http_method, api->routes[i].tmpl,
					    &api->routes[i]};
	struct http_router_error rerr;
	int ret = http_router_build(hr, api->nroutes, &api->router, &rerr);
	free(hr);
	if (ret < 0) {
		if (rerr.route >= 0 && rerr.other >= 0)
			snprintf(err, errlen, "routes conflict: %s (%s) and %s (%s)",
				 api->routes[rerr.other].label,
				 api->routes[rerr.other].method->grpc_path,
				 api->routes[rerr.route].label,
				 api->routes[rerr.route].method->grpc_path);
		else if (rerr.route >= 0)
			snprintf(err, errlen, "%s (%s): %s", api->routes[rerr.route].label,
				 api->routes[rerr.route].method->grpc_path, rerr.msg);
		else
			snprintf(err, errlen, "routes: %s", rerr.msg);
		gw_api_free(api);
		return -1;
	}
	return 0;
}

void gw_api_free(struct gw_api *api)
{
	http_router_free(api->router);
	free(api->routes);
	pb_schema_free(api->schema);
	memset(api, 0, sizeof(*api));
}
