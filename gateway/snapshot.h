/*
 * snapshot.h - everything a worker reads to answer requests, built once
 * and never modified: routes and the bodies of direct responses.
 *
 * A reload builds a new snapshot and hands each worker the new pointer;
 * requests in flight finish on the one they started with.
 */
#ifndef RINGGATE_SNAPSHOT_H
#define RINGGATE_SNAPSHOT_H

#include <stddef.h>

#include "gateway/api.h"
#include "gateway/config.h"

enum gw_route_kind {
	GW_ROUTE_HEALTHZ,
	GW_ROUTE_METRICS,
	GW_ROUTE_STATIC,
};

struct gw_route {
	const char *path;
	size_t path_len;
	enum gw_route_kind kind;
	/* GW_ROUTE_STATIC: the reply */
	char *body;
	size_t body_len;
	const char *content_type;
};

struct gw_snapshot {
	struct gw_route *routes; /* exact paths: admin and direct responses */
	unsigned nroutes;
	struct gw_api api; /* descriptors, REST -> gRPC routes */
};

/* Build from cfg; on failure returns -1 with a message naming the file. */
int gw_snapshot_build(const struct gw_config *cfg, struct gw_snapshot **out, char *err,
		      size_t errlen);
void gw_snapshot_free(struct gw_snapshot *s);

/* Exact-path lookup (query string excluded). */
const struct gw_route *gw_snapshot_route(const struct gw_snapshot *s, const char *path, size_t len);

#endif
