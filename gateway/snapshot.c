/*
 * snapshot.c - building the read-only route table.
 */
#include "gateway/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Direct responses are held in memory; anything bigger belongs on a CDN. */
#define GW_STATIC_MAX_BYTES (8u << 20)

static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		fclose(f);
		return -1;
	}
	if ((unsigned long long)st.st_size > GW_STATIC_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, GW_STATIC_MAX_BYTES);
		fclose(f);
		return -1;
	}
	size_t n = (size_t)st.st_size;
	char *buf = malloc(n ? n : 1);
	if (!buf || fread(buf, 1, n, f) != n) {
		snprintf(err, errlen, "%s: read failed", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	*data = buf;
	*len = n;
	return 0;
}

int gw_snapshot_build(const struct gw_config *cfg, struct gw_snapshot **out, char *err,
		      size_t errlen)
{
	struct gw_snapshot *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->routes = calloc(2 + cfg->nstatics, sizeof(*s->routes));
	if (!s->routes) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->routes[s->nroutes++] = (struct gw_route){"/healthz", 8, GW_ROUTE_HEALTHZ, 0, 0, 0};
	s->routes[s->nroutes++] = (struct gw_route){"/metrics", 8, GW_ROUTE_METRICS, 0, 0, 0};
	for (unsigned i = 0; i < cfg->nstatics; i++) {
		const struct gw_static_route *sr = &cfg->statics[i];
		struct gw_route *r = &s->routes[s->nroutes];
		char why[400];
		if (read_file(sr->file, &r->body, &r->body_len, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "static %s: %s", sr->path, why);
			gw_snapshot_free(s);
			return -1;
		}
		r->path = sr->path;
		r->path_len = strlen(sr->path);
		r->kind = GW_ROUTE_STATIC;
		r->content_type = sr->content_type;
		s->nroutes++;
	}
	if (gw_api_build(cfg, &s->api, err, errlen) < 0) {
		gw_snapshot_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void gw_snapshot_free(struct gw_snapshot *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->nroutes; i++)
		free(s->routes[i].body);
	free(s->routes);
	gw_api_free(&s->api);
	free(s);
}

const struct gw_route *gw_snapshot_route(const struct gw_snapshot *s, const char *path, size_t len)
{
	/* A handful of admin and direct routes: a scan beats hashing.  The
	 * descriptor-driven routes get a compiled matcher of their own. */
	for (unsigned i = 0; i < s->nroutes; i++) {
		const struct gw_route *r = &s->routes[i];
		if (r->path_len == len && memcmp(r->path, path, len) == 0)
			return r;
	}
	return NULL;
}
