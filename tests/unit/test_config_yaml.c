/*
 * test_config_yaml.c - the YAML configuration file (gateway/config_yaml.c).
 *
 * One row per rule: a YAML text, written to a temporary file and loaded
 * over the command line's defaults, and either the fields it must produce
 * (a check function) or the exact "FILE:LINE:COLUMN: key: " prefix and a
 * piece of the message it must be rejected with.  Every row ends with
 * gw_config_free_yaml_parts(), so the sanitizer build's leak checker
 * proves that nothing loaded (or half-loaded before an error) leaks.
 *
 * Usage: test_config_yaml [examples/ringgate.yaml]  (the example file is
 * loaded too when given, so the documented example stays valid).
 */
#include "gateway/config_yaml.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static char dir[64];   /* the temporary directory */
static char file[128]; /* dir/ringgate.yaml */

/* The command line's defaults (they hold heap strings of their own). */
static void fresh(struct gw_config *cfg)
{
	char *argv[] = {"ringgate", NULL};
	memset(cfg, 0, sizeof(*cfg));
	if (gw_config_from_args(cfg, 1, argv) != GW_CLI_RUN)
		exit(2);
}

static void release(struct gw_config *cfg)
{
	gw_config_free_yaml_parts(cfg);
	gw_config_free(cfg);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fwrite(text, 1, strlen(text), f);
	fclose(f);
}

static char *joined(const char *rel)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s/%s", dir, rel);
	return buf;
}

#define STREQ(a, b) ((a) && strcmp((a), (b)) == 0)

/* ---- checks for the rows that load ---- */

/* Nothing in the file: the struct holds exactly the defaults. */
static void check_defaults(const struct gw_config *cfg, const char *name)
{
	static struct gw_config ref;
	fresh(&ref);
	CHECK(cfg->nlisten == 1 && STREQ(cfg->listen[0], "0.0.0.0:8080"), name, "listen");
	CHECK(cfg->listen_heap == 0, name, "no heap listen strings");
	CHECK(cfg->workers == ref.workers && cfg->ncpus == 0 && cfg->log_level == ref.log_level,
	      name, "workers, cpus, log level");
	CHECK(memcmp(&cfg->http, &ref.http, sizeof(ref.http)) == 0, name, "http limits, timeouts");
	CHECK(cfg->max_connections == ref.max_connections &&
		      cfg->drain_timeout_ms == ref.drain_timeout_ms &&
		      cfg->default_timeout_ms == ref.default_timeout_ms &&
		      cfg->max_timeout_ms == ref.max_timeout_ms &&
		      cfg->max_response_bytes == ref.max_response_bytes,
	      name, "numbers");
	CHECK(cfg->annotated_routes == ref.annotated_routes &&
		      memcmp(&cfg->transcode, &ref.transcode, sizeof(ref.transcode)) == 0,
	      name, "routes, transcoding");
	CHECK(cfg->ndescriptors == 0 && cfg->nupstreams == 0 && cfg->nbindings == 0 &&
		      cfg->nroutes == 0 && cfg->routes == NULL && cfg->nstatics == 0,
	      name, "no lists");
	bool same_fwd = cfg->nforward_headers == ref.nforward_headers;
	for (unsigned i = 0; same_fwd && i < ref.nforward_headers; i++)
		same_fwd = STREQ(cfg->forward_headers[i], ref.forward_headers[i]);
	CHECK(same_fwd && cfg->nresponse_headers == ref.nresponse_headers, name, "header rules");
	CHECK((cfg->timeout_header == NULL && ref.timeout_header == NULL) ||
		      (cfg->timeout_header && ref.timeout_header &&
		       strcmp(cfg->timeout_header, ref.timeout_header) == 0),
	      name, "timeout_header");
	CHECK(cfg->config_file == file, name, "config_file");
	release(&ref);
}

static const char full_yaml[] =
	"listen: [\"127.0.0.1:8081\", \"[::1]:8082\"]\n"
	"workers: 3\n"
	"cpus: \"0-1,3\"\n"
	"log_level: debug\n"
	"limits:\n"
	"  max_body: 2MiB\n"
	"  max_header_bytes: 4KiB\n"
	"  max_headers: 50\n"
	"  max_connections: 1000\n"
	"  max_response_body: 4MB\n"
	"timeouts:\n"
	"  idle: 90s\n"
	"  header: 5s\n"
	"  body: 1m\n"
	"  send: 1500ms\n"
	"  drain: 0\n"
	"  upstream_default: 10s\n"
	"  upstream_max: 2m\n"
	"descriptors: [agents.pb, /opt/x.pb, sub/y.pb]\n"
	"upstreams:\n"
	"  - name: agents\n"
	"    endpoints: [\"127.0.0.1:50051\", \"127.0.0.1:50052,127.0.0.1:50053\"]\n"
	"    connections_per_endpoint: 2\n"
	"    max_queue: 10\n"
	"    authority: agents.internal\n"
	"    connect_timeout: 2s\n"
	"    keepalive: {interval: 0, timeout: 5s}\n"
	"    backoff: {initial: 50ms, max: 2s}\n"
	"    max_response_message: 8MiB\n"
	"    window: {stream: 1MiB, connection: 8MiB}\n"
	"  - name: billing-2\n"
	"    endpoints: [\"[::1]:50060\"]\n"
	"services:\n"
	"  - service: agents.v1.AgentService\n"
	"    upstream: agents\n"
	"  - service: \"*\"\n"
	"    upstream: billing-2\n"
	"routes:\n"
	"  annotated: false\n"
	"  extra:\n"
	"    - method: GET\n"
	"      path: /v2/agents/{agent_id}\n"
	"      grpc: agents.v1.AgentService/GetAgent\n"
	"      timeout: 5s\n"
	"      transcode: {emit_defaults: true, allow_unknown_fields: false}\n"
	"    - method: POST\n"
	"      path: /v2/agents\n"
	"      grpc: agents.v1.AgentService/CreateAgent\n"
	"      body: \"*\"\n"
	"      response_body: agent.name\n"
	"transcoding:\n"
	"  use_proto_names: true\n"
	"  enums_as_ints: true\n"
	"  allow_unknown_fields: true\n"
	"headers:\n"
	"  forward: [Authorization, X-Tenant-*]\n"
	"  response: [x-ratelimit-*]\n"
	"  timeout_header: X-Request-Timeout\n"
	"static:\n"
	"  - path: /robots.txt\n"
	"    file: robots.txt\n"
	"  - path: /about\n"
	"    file: /srv/about.html\n";

static void check_full(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->nlisten == 2 && STREQ(cfg->listen[0], "127.0.0.1:8081") &&
		      STREQ(cfg->listen[1], "[::1]:8082"),
	      name, "listen");
	CHECK(cfg->listen_heap == 3, name, "listen_heap %#x", cfg->listen_heap);
	CHECK(cfg->workers == 3, name, "workers %u", cfg->workers);
	CHECK(cfg->ncpus == 3 && cfg->cpus[0] == 0 && cfg->cpus[1] == 1 && cfg->cpus[2] == 3, name,
	      "cpus");
	CHECK(cfg->log_level == GW_LOG_DEBUG, name, "log_level");
	CHECK(cfg->http.limits.max_body == 2u << 20, name, "max_body");
	CHECK(cfg->http.limits.max_header_bytes == 4096, name, "max_header_bytes");
	CHECK(cfg->http.limits.max_request_line == 4096, name, "max_request_line capped: %zu",
	      cfg->http.limits.max_request_line);
	CHECK(cfg->http.limits.max_headers == 50, name, "max_headers");
	CHECK(cfg->max_connections == 1000, name, "max_connections");
	CHECK(cfg->max_response_bytes == 4000000, name, "max_response_bytes");
	CHECK(cfg->http.idle_timeout_ms == 90000, name, "idle");
	CHECK(cfg->http.header_timeout_ms == 5000, name, "header");
	CHECK(cfg->http.body_timeout_ms == 60000, name, "body");
	CHECK(cfg->http.send_timeout_ms == 1500, name, "send");
	CHECK(cfg->drain_timeout_ms == 0, name, "drain");
	CHECK(cfg->default_timeout_ms == 10000, name, "upstream_default");
	CHECK(cfg->max_timeout_ms == 120000, name, "upstream_max");

	CHECK(cfg->ndescriptors == 3 && STREQ(cfg->descriptors[0], joined("agents.pb")) &&
		      STREQ(cfg->descriptors[1], "/opt/x.pb") &&
		      STREQ(cfg->descriptors[2], joined("sub/y.pb")),
	      name, "descriptors resolved beside the file: %s", cfg->descriptors[0]);

	CHECK(cfg->nupstreams == 2, name, "nupstreams %u", cfg->nupstreams);
	if (cfg->nupstreams == 2) {
		const struct upstream_config *u = cfg->upstreams[0], *b = cfg->upstreams[1];
		CHECK(STREQ(u->name, "agents") && u->nendpoints == 3, name, "agents endpoints");
		CHECK(STREQ(u->endpoints[2].name, "127.0.0.1:50053"), name, "third endpoint");
		CHECK(u->conns_per_endpoint == 2 && u->max_queue == 10, name, "pool");
		CHECK(STREQ(u->authority, "agents.internal"), name, "authority");
		CHECK(u->h2.connect_timeout_ms == 2000, name, "connect_timeout");
		CHECK(u->h2.ping_interval_ms == 0 && u->h2.ping_timeout_ms == 5000, name,
		      "keepalive");
		CHECK(u->backoff_initial_ms == 50 && u->backoff_max_ms == 2000, name, "backoff");
		CHECK(u->max_recv_message == 8u << 20, name, "max_response_message");
		CHECK(u->h2.stream_window == 1u << 20 && u->h2.conn_window == 8u << 20, name,
		      "window");
		CHECK(u->default_timeout_ms == 10000, name, "default timeout propagated");
		CHECK(STREQ(b->name, "billing-2") && b->nendpoints == 1, name, "billing");
		CHECK(STREQ(b->authority, "[::1]:50060"), name, "default authority: %s",
		      b->authority);
		CHECK(b->conns_per_endpoint == 1 && b->max_queue == 1024 &&
			      b->backoff_max_ms == 5000 && b->max_recv_message == 16u << 20,
		      name, "billing keeps upstream_config_init's defaults");
		CHECK(b->h2.ping_interval_ms == h2_conn_config_default.ping_interval_ms, name,
		      "billing h2 defaults");
		CHECK(b->default_timeout_ms == 10000, name, "default timeout propagated");
	}

	CHECK(cfg->nbindings == 2, name, "nbindings");
	CHECK(STREQ(cfg->bindings[0].service, "agents.v1.AgentService") &&
		      STREQ(cfg->bindings[0].upstream, "agents"),
	      name, "binding 0");
	CHECK(STREQ(cfg->bindings[1].service, "*") && STREQ(cfg->bindings[1].upstream, "billing-2"),
	      name, "binding 1");
	CHECK(cfg->bindings[1].origin.file == file && cfg->bindings[1].origin.line == 36 &&
		      cfg->bindings[1].origin.column == 5,
	      name, "binding origin %u:%u", cfg->bindings[1].origin.line,
	      cfg->bindings[1].origin.column);

	CHECK(!cfg->annotated_routes, name, "annotated");
	CHECK(cfg->nroutes == 2 && cfg->routes, name, "nroutes %u", cfg->nroutes);
	if (cfg->nroutes == 2) {
		const struct gw_route_cfg *r = &cfg->routes[0], *p = &cfg->routes[1];
		CHECK(STREQ(r->method, "GET") && STREQ(r->path, "/v2/agents/{agent_id}") &&
			      STREQ(r->grpc_method, "agents.v1.AgentService/GetAgent"),
		      name, "route 0");
		CHECK(STREQ(r->body, "") && STREQ(r->response_body, ""), name, "route 0 bodies");
		CHECK(r->timeout_ms == 5000, name, "route 0 timeout");
		CHECK(r->has_transcode && r->transcode.emit_defaults &&
			      r->transcode.use_proto_names && r->transcode.enums_as_ints &&
			      !r->transcode.allow_unknown_fields,
		      name, "route 0 transcode: own keys plus the global ones");
		CHECK(r->origin.file == file && r->origin.line == 41 && r->origin.column == 7, name,
		      "route origin %u:%u", r->origin.line, r->origin.column);
		CHECK(STREQ(p->method, "POST") && STREQ(p->body, "*") &&
			      STREQ(p->response_body, "agent.name") && p->timeout_ms == 0,
		      name, "route 1");
		CHECK(!p->has_transcode, name, "route 1 has no override");
	}
	CHECK(!cfg->transcode.emit_defaults && cfg->transcode.use_proto_names &&
		      cfg->transcode.enums_as_ints && cfg->transcode.allow_unknown_fields,
	      name, "transcoding");

	CHECK(cfg->nforward_headers == 2 && STREQ(cfg->forward_headers[0], "authorization") &&
		      STREQ(cfg->forward_headers[1], "x-tenant-*"),
	      name, "forward headers lowercased");
	CHECK(cfg->nresponse_headers == 1 && STREQ(cfg->response_headers[0], "x-ratelimit-*"), name,
	      "response headers");
	CHECK(STREQ(cfg->timeout_header, "x-request-timeout"), name, "timeout_header");

	CHECK(cfg->nstatics == 2 && STREQ(cfg->statics[0].path, "/robots.txt") &&
		      STREQ(cfg->statics[0].file, joined("robots.txt")) &&
		      STREQ(cfg->statics[1].file, "/srv/about.html"),
	      name, "static");
	CHECK(cfg->statics[0].content_type == NULL, name, "content type left to the caller");
	CHECK(cfg->config_file == file, name, "config_file");
}

static void check_durations(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->http.idle_timeout_ms == 60000, name, "plain 60 is seconds: %u",
	      cfg->http.idle_timeout_ms);
	CHECK(cfg->http.header_timeout_ms == 1500, name, "1.5s: %u", cfg->http.header_timeout_ms);
	CHECK(cfg->http.body_timeout_ms == 90000, name, "1m30s: %u", cfg->http.body_timeout_ms);
	CHECK(cfg->http.send_timeout_ms == 250, name, "quoted 250ms: %u",
	      cfg->http.send_timeout_ms);
	CHECK(cfg->drain_timeout_ms == 2500, name, "2.5 plain: %u", cfg->drain_timeout_ms);
	CHECK(cfg->max_timeout_ms == 3600000, name, "1h: %u", cfg->max_timeout_ms);
	CHECK(cfg->default_timeout_ms == 500, name, ".5s: %u", cfg->default_timeout_ms);
}

static void check_sizes(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->http.limits.max_body == 1000000, name, "1MB: %llu",
	      (unsigned long long)cfg->http.limits.max_body);
	CHECK(cfg->http.limits.max_header_bytes == 16384, name, "16 KiB with a space");
	CHECK(cfg->max_response_bytes == 4096, name, "plain 4096");
	CHECK(cfg->http.limits.max_request_line == 8192, name, "request line kept below the head");
}

static void check_size_units(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->http.limits.max_body == 512, name, "512B");
	CHECK(cfg->http.limits.max_header_bytes == 1u << 20, name, "1MiB");
	CHECK(cfg->max_response_bytes == 1u << 30, name, "1GiB");
}

static void check_order_free(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->nbindings == 1 && STREQ(cfg->bindings[0].upstream, "a"), name,
	      "services may precede upstreams");
	CHECK(cfg->nroutes == 1 && cfg->routes[0].has_transcode &&
		      cfg->routes[0].transcode.enums_as_ints &&
		      cfg->routes[0].transcode.emit_defaults,
	      name, "routes inherit transcoding written after them");
}

static void check_tolerant(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->workers == 3, name, "!!str tag ignored, quoted key accepted");
	CHECK(cfg->http.limits.max_headers == 5, name, "anchor without alias accepted");
	CHECK(cfg->http.idle_timeout_ms == 60000, name, "empty section leaves defaults");
	CHECK(cfg->ndescriptors == 0, name, "empty list");
	CHECK(cfg->timeout_header && cfg->timeout_header[0] == '\0', name, "timeout_header \"\"");
	CHECK(cfg->nforward_headers == 1 && STREQ(cfg->forward_headers[0], "*"), name,
	      "bare * forward rule");
}

static void check_log_levels(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->log_level == GW_LOG_ERROR, name, "error");
	CHECK(cfg->ncpus == 1 && cfg->cpus[0] == 2, name, "plain number cpus");
}

static void check_annotated(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->annotated_routes, name, "annotated: true");
	CHECK(cfg->nroutes == 0 && cfg->routes == NULL, name, "no extra routes");
}

struct row {
	const char *name;
	const char *yaml;
	/* success: */
	void (*check)(const struct gw_config *cfg, const char *name);
	/* failure: "LINE:COL: key: " after "FILE:", and a piece of the message */
	const char *at;
	const char *msg;
};

#define LONG_NEST                                                                                  \
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"

static const char tls_yaml[] =
	"listen:\n"
	"  - \"127.0.0.1:8080\"\n"
	"  - address: \"127.0.0.1:8443\"\n"
	"    tls:\n"
	"      certificates:\n"
	"        - {cert: a.pem, key: a.key, names: [api.example.com, \"*.example.org\"]}\n"
	"        - {cert: /etc/b.pem, key: b.key}\n"
	"      min_version: \"1.3\"\n"
	"      ciphers: TLS13-AES128-GCM-SHA256\n"
	"      groups: \"P-256\"\n"
	"      client_auth: optional\n"
	"      client_ca: ca.pem\n"
	"      handshake_timeout: 500ms\n"
	"      session_tickets: false\n"
	"      ticket_key_rotation: 10m\n"
	"upstreams:\n"
	"  - name: a\n"
	"    endpoints: [\"127.0.0.1:1\"]\n"
	"    tls: {ca: up-ca.pem, server_name: a.internal, verify: false, cert: c.pem, "
	"key: c.key}\n"
	"  - name: b\n"
	"    endpoints: [\"127.0.0.1:2\"]\n"
	"    tls: true\n"
	"  - name: c\n"
	"    endpoints: [\"127.0.0.1:3\"]\n"
	"    tls: false\n";

static void check_tls(const struct gw_config *cfg, const char *name)
{
	CHECK(cfg->nlisten == 2 && STREQ(cfg->listen[1], "127.0.0.1:8443"), name, "addresses");
	CHECK(cfg->listen_tls[0] == NULL, name, "a string entry is plain HTTP");
	const struct tls_server_config *t = cfg->listen_tls[1];
	CHECK(t != NULL, name, "listen[1] has tls");
	if (!t)
		return;
	CHECK(t->ncerts == 2 && STREQ(t->certs[0].cert, joined("a.pem")) &&
		      STREQ(t->certs[0].key, joined("a.key")) &&
		      STREQ(t->certs[1].cert, "/etc/b.pem"),
	      name, "certificates, paths relative to the file");
	CHECK(t->certs[0].nnames == 2 && STREQ(t->certs[0].names[1], "*.example.org") &&
		      t->certs[1].nnames == 0,
	      name, "SNI names");
	CHECK(t->min_version == 13 && STREQ(t->ciphers, "TLS13-AES128-GCM-SHA256") &&
		      STREQ(t->groups, "P-256"),
	      name, "version, ciphers, groups");
	CHECK(t->client_auth == TLS_CLIENT_AUTH_OPTIONAL && STREQ(t->client_ca, joined("ca.pem")),
	      name, "client auth");
	CHECK(t->handshake_timeout_ms == 500 && !t->session_tickets && t->ticket_rotation_s == 600,
	      name, "timeout, tickets");
	const struct tls_client_config *u = cfg->upstream_tls[0];
	CHECK(u && STREQ(u->ca, joined("up-ca.pem")) && STREQ(u->server_name, "a.internal") &&
		      !u->verify && STREQ(u->cert, joined("c.pem")) &&
		      STREQ(u->key, joined("c.key")),
	      name, "upstream tls mapping");
	u = cfg->upstream_tls[1];
	CHECK(u && u->verify && !u->ca && !u->cert && u->min_version == 12 &&
		      u->handshake_timeout_ms == TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS,
	      name, "tls: true gives the defaults");
	CHECK(cfg->upstream_tls[2] == NULL, name, "tls: false");
}

static const struct row rows[] = {
	/* ---- files that load ---- */
	{"empty file: all defaults", "", check_defaults, NULL, NULL},
	{"comments only: all defaults", "# nothing here\n\n   # still nothing\n", check_defaults,
	 NULL, NULL},
	{"null document: all defaults", "---\n...\n", check_defaults, NULL, NULL},
	{"every key", full_yaml, check_full, NULL, NULL},
	{"durations",
	 "timeouts:\n  idle: 60\n  header: 1.5s\n  body: 1m30s\n  send: \"250ms\"\n"
	 "  drain: 2.5\n  upstream_max: 1h\n  upstream_default: .5s\n",
	 check_durations, NULL, NULL},
	{"sizes", "limits: {max_body: 1MB, max_header_bytes: 16 KiB, max_response_body: 4096}\n",
	 check_sizes, NULL, NULL},
	{"size units",
	 "limits: {max_body: 512B, max_header_bytes: 1MiB, max_response_body: 1GiB}\n",
	 check_size_units, NULL, NULL},
	{"table order, not file order",
	 "routes:\n  extra:\n  - {method: GET, path: /x, grpc: a.S/M, transcode: {emit_defaults: "
	 "true}}\n"
	 "services: [{service: a.S, upstream: a}]\n"
	 "transcoding: {enums_as_ints: true}\n"
	 "upstreams: [{name: a, endpoints: [\"127.0.0.1:1\"]}]\n",
	 check_order_free, NULL, NULL},
	{"tags ignored, quoted keys, anchors, empty values",
	 "\"workers\": !!str 3\nlimits: &l\n  max_headers: 5\ntimeouts:\ndescriptors:\n"
	 "headers: {timeout_header: \"\", forward: [\"*\"]}\n",
	 check_tolerant, NULL, NULL},
	{"log level, cpus as a number", "log_level: error\ncpus: 2\n", check_log_levels, NULL,
	 NULL},
	{"annotated true", "routes: {annotated: true, extra: []}\n", check_annotated, NULL, NULL},

	/* ---- YAML itself ---- */
	{"syntax error with libyaml's position", "workers: 2\nlimits: {max_body: 1\n", NULL,
	 "3:1: ", "YAML syntax error: did not find expected ',' or '}'"},
	{"syntax error: mapping value in a scalar", "workers: a: b\n", NULL,
	 "1:11: ", "YAML syntax error: mapping values are not allowed in this context"},
	{"syntax error: tab indentation", "limits:\n\tmax_body: 1\n", NULL,
	 "2:1: ", "YAML syntax error: found character that cannot start any token"},
	{"not UTF-8", "log_level: \xc3\x28\n", NULL, "", "cannot read the file as UTF-8 text"},
	{"alias rejected", "limits: &l {max_headers: 5}\ntimeouts: *l\n", NULL,
	 "2:11: ", "aliases (*l) are not supported"},
	{"two documents", "workers: 1\n---\nworkers: 2\n", NULL,
	 "2:1: ", "only one YAML document is allowed"},
	{"top level is a list", "- listen\n- workers\n", NULL,
	 "1:1: ", "the top level must be a mapping"},
	{"top level is a scalar", "hello\n", NULL, "1:1: ", "got 'hello'"},
	{"non-string key", "? [a, b]\n: 1\n", NULL, "1:3: ", "keys must be strings; got a list"},
	{"NUL in a value", "log_level: \"de\\0bug\"\n", NULL, "1:12: ", "NUL character"},
	{"nesting too deep", "workers: " LONG_NEST "\n", NULL, "1:41: ", "nested more than 32"},

	/* ---- keys ---- */
	{"unknown top-level key", "workers: 1\nlisen: [\"a:1\"]\n", NULL,
	 "2:1: lisen: ", "unknown key at the top level (expected one of: listen, workers,"},
	{"unknown nested key", "timeouts:\n  idel: 5s\n", NULL,
	 "2:3: timeouts.idel: ", "unknown key in 'timeouts' (expected one of: idle, header, body"},
	{"unknown key in a list item",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n    keepalive: {intervl: "
	 "1s}\n",
	 NULL, "4:17: upstreams[0].keepalive.intervl: ",
	 "unknown key in 'upstreams[0].keepalive' (expected one of: interval, timeout)"},
	{"duplicate top-level key", "workers: 2\nworkers: 3\n", NULL,
	 "2:1: workers: ", "duplicate key (first given at line 1, column 1)"},
	{"duplicate nested key", "limits:\n  max_body: 1\n  max_body: 2\n", NULL,
	 "3:3: limits.max_body: ", "duplicate key (first given at line 2, column 3)"},
	{"merge keys are not special", "limits:\n  <<: {max_body: 1}\n", NULL,
	 "2:3: limits.<<: ", "unknown key"},

	/* ---- numbers and booleans ---- */
	{"fraction where a whole number goes", "workers: 1.5\n", NULL,
	 "1:10: workers: ", "expected a whole number from 1 to 1024; got '1.5'"},
	{"negative number", "workers: -1\n", NULL,
	 "1:10: workers: ", "expected a whole number from 1 to 1024; got '-1'"},
	{"zero workers", "workers: 0\n", NULL, "1:10: workers: ", "0 is out of range (1 to 1024)"},
	{"too many workers", "workers: 1025\n", NULL, "1:10: workers: ", "out of range"},
	{"overflow", "limits: {max_connections: 99999999999999999999999}\n", NULL,
	 "1:27: limits.max_connections: ", "out of range (1 to 10000000)"},
	{"quoted number", "workers: \"2\"\n", NULL,
	 "1:10: workers: ", "write the number without quotes"},
	{"hex number", "workers: 0x10\n", NULL, "1:10: workers: ", "expected a whole number"},
	{"list where a number goes", "workers: [1]\n", NULL, "1:10: workers: ", "got a list"},
	{"max_headers range", "limits:\n  max_headers: 300\n", NULL,
	 "2:16: limits.max_headers: ", "out of range (1 to 256)"},
	{"yes is not a boolean", "transcoding:\n  emit_defaults: yes\n", NULL,
	 "2:18: transcoding.emit_defaults: ", "expected true or false; got 'yes'"},
	{"1 is not a boolean", "routes: {annotated: 1}\n", NULL,
	 "1:21: routes.annotated: ", "expected true or false"},
	{"quoted true is not a boolean", "transcoding: {enums_as_ints: \"true\"}\n", NULL,
	 "1:30: transcoding.enums_as_ints: ",
	 "expected true or false; got 'true' (a quoted string: write it without quotes)"},

	/* ---- sizes and durations ---- */
	{"bad size", "limits:\n  max_body: lots\n", NULL,
	 "2:13: limits.max_body: ", "expected a size like 4096, 64KiB, 16MiB; got 'lots'"},
	{"fractional size", "limits:\n  max_body: 1.5MiB\n", NULL,
	 "2:13: limits.max_body: ", "expected a size"},
	{"size unit case", "limits:\n  max_body: 1mib\n", NULL,
	 "2:13: limits.max_body: ", "expected a size"},
	{"size too large", "limits:\n  max_body: 2GiB\n", NULL,
	 "2:13: limits.max_body: ", "2GiB is out of range (0 to 1GiB)"},
	{"size too small", "limits:\n  max_header_bytes: 100\n", NULL,
	 "2:21: limits.max_header_bytes: ", "out of range (256 to 1MiB)"},
	{"size overflow", "limits:\n  max_body: 99999999999GiB\n", NULL,
	 "2:13: limits.max_body: ", "out of range"},
	{"bad duration, deep in a file (the SPEC's example)",
	 "# ringgate\nlisten: [\"0.0.0.0:8080\"]\nworkers: 2\n\nlimits:\n  max_body: 1MiB\n"
	 "  max_headers: 100\n\n# timeouts\ntimeouts:\n  header: 10s\n  idle: soon\n",
	 NULL, "12:9: timeouts.idle: ", "expected a duration like 250ms, 5s, 1m; got 'soon'"},
	{"duration word", "timeouts:\n  idle: soon\n", NULL,
	 "2:9: timeouts.idle: ", "expected a duration like 250ms, 5s, 1m; got 'soon'"},
	{"duration unit unknown", "timeouts:\n  idle: 5d\n", NULL,
	 "2:9: timeouts.idle: ", "expected a duration"},
	{"negative duration", "timeouts:\n  idle: -5s\n", NULL,
	 "2:9: timeouts.idle: ", "expected a duration"},
	{"duration with trailing bare number", "timeouts:\n  idle: 1m30\n", NULL,
	 "2:9: timeouts.idle: ", "expected a duration"},
	{"sub-millisecond", "timeouts:\n  idle: 0.5ms\n", NULL,
	 "2:9: timeouts.idle: ", "expected whole milliseconds"},
	{"zero idle", "timeouts:\n  idle: 0s\n", NULL,
	 "2:9: timeouts.idle: ", "0s is out of range (1ms to 24h)"},
	{"header timeout too long", "timeouts:\n  header: 2h\n", NULL,
	 "2:11: timeouts.header: ", "out of range (1ms to 1h)"},
	{"huge duration", "timeouts:\n  idle: 99999999999999999h\n", NULL,
	 "2:9: timeouts.idle: ", "out of range"},
	{"empty duration", "timeouts:\n  idle:\n", NULL,
	 "2:8: timeouts.idle: ", "got an empty value"},
	{"upstream_default above upstream_max",
	 "timeouts:\n  upstream_max: 10s\n  upstream_default: 1m\n", NULL,
	 "3:21: timeouts.upstream_default: ", "upstream_default (1m) exceeds upstream_max (10s)"},

	/* ---- top-level values ---- */
	{"listen must be a list", "listen: \"0.0.0.0:8080\"\n", NULL,
	 "1:9: listen: ", "expected a list of HOST:PORT addresses; got '0.0.0.0:8080'"},
	{"listen empty", "listen: []\n", NULL, "1:9: listen: ", "needs at least one"},
	{"listen without port", "listen: [\"localhost\"]\n", NULL,
	 "1:10: listen[0]: ", "expected HOST:PORT (port 0-65535)"},
	{"listen port too big", "listen: [\"a:70000\"]\n", NULL,
	 "1:10: listen[0]: ", "expected HOST:PORT"},
	{"too many listen addresses",
	 "listen: [a:1, a:2, a:3, a:4, a:5, a:6, a:7, a:8, a:9, a:10, a:11, a:12, a:13, a:14, "
	 "a:15, a:16, a:17]\n",
	 NULL, "1:", "listen: too many HOST:PORT addresses (at most 16)"},
	{"cpus reversed range", "cpus: 3-1\n", NULL,
	 "1:7: cpus: ", "expected a CPU list like 0-3,6"},
	{"cpus repeat", "cpus: \"0,0\"\n", NULL, "1:7: cpus: ", "no repeats"},
	{"log level unknown", "log_level: loud\n", NULL,
	 "1:12: log_level: ", "expected debug, info, warn or error; got 'loud'"},
	{"log level empty", "log_level:\n", NULL,
	 "1:11: log_level: ", "expected a string; got an empty value"},
	{"section must be a mapping", "transcoding: [1]\n", NULL,
	 "1:14: transcoding: ", "expected a mapping (key: value lines); got a list"},
	{"section as a scalar", "limits: 5\n", NULL, "1:9: limits: ", "expected a mapping"},
	{"empty descriptor", "descriptors: [\"\"]\n", NULL,
	 "1:15: descriptors[0]: ", "expected a file name; got an empty string"},
	{"descriptor not a string", "descriptors: [{a: 1}]\n", NULL,
	 "1:15: descriptors[0]: ", "expected a string; got a mapping"},

	/* ---- upstreams ---- */
	{"upstream without name", "upstreams:\n  - endpoints: [\"127.0.0.1:1\"]\n", NULL,
	 "2:5: upstreams[0]: ", "missing required key 'name'"},
	{"upstream without endpoints", "upstreams:\n  - name: a\n", NULL,
	 "2:5: upstreams[0]: ", "missing required key 'endpoints'"},
	{"upstream item not a mapping", "upstreams: [agents]\n", NULL,
	 "1:13: upstreams[0]: ", "expected a mapping"},
	{"upstream empty endpoints", "upstreams:\n  - name: a\n    endpoints: []\n", NULL,
	 "3:16: upstreams[0].endpoints: ", "needs at least one"},
	{"upstream bad endpoint (upstream.c's message)",
	 "upstreams:\n  - name: a\n    endpoints:\n      - 127.0.0.1:1\n      - 127.0.0.1:http\n",
	 NULL, "5:9: upstreams[0].endpoints[1]: ", "'127.0.0.1:http': expected HOST:PORT"},
	{"duplicate upstream name",
	 "upstreams:\n  - {name: a, endpoints: [\"127.0.0.1:1\"]}\n"
	 "  - {name: a, endpoints: [\"127.0.0.1:2\"]}\n",
	 NULL, "3:12: upstreams[1].name: ", "upstream name 'a' is already used by upstreams[0]"},
	{"bad upstream name", "upstreams:\n  - {name: \"a b\", endpoints: [\"127.0.0.1:1\"]}\n",
	 NULL, "2:12: upstreams[0].name: ", "expected a name of 1 to 63 letters"},
	{"upstream window too small",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n    window: {stream: 1KiB}\n",
	 NULL, "4:22: upstreams[0].window.stream: ", "1KiB is out of range (64KiB to 2147483647)"},
	{"upstream backoff initial above max",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n"
	 "    backoff: {initial: 10s, max: 1s}\n",
	 NULL, "4:34: upstreams[0].backoff.max: ", "backoff initial (10s) exceeds max (1s)"},
	{"upstream keepalive negative",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n"
	 "    keepalive:\n      interval: -1s\n",
	 NULL, "5:17: upstreams[0].keepalive.interval: ", "expected a duration"},
	{"upstream queue fraction",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n    max_queue: 1.5\n", NULL,
	 "4:16: upstreams[0].max_queue: ", "expected a whole number from 0 to 1000000"},
	{"upstream conns zero",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n"
	 "    connections_per_endpoint: 0\n",
	 NULL, "4:31: upstreams[0].connections_per_endpoint: ", "out of range (1 to 64)"},
	{"upstream authority not a string",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n    authority: [x]\n", NULL,
	 "4:16: upstreams[0].authority: ", "expected a string; got a list"},

	/* ---- services ---- */
	{"service names an unknown upstream",
	 "upstreams: [{name: agents, endpoints: [\"127.0.0.1:1\"]}]\n"
	 "services:\n  - service: a.S\n    upstream: agnets\n",
	 NULL, "4:15: services[0].upstream: ",
	 "no upstream named 'agnets' in this file (defined: agents)"},
	{"service without any upstream", "services:\n  - {service: \"*\", upstream: x}\n", NULL,
	 "2:30: services[0].upstream: ", "none is defined under upstreams"},
	{"service bound twice",
	 "upstreams: [{name: a, endpoints: [\"127.0.0.1:1\"]}]\n"
	 "services:\n  - {service: a.S, upstream: a}\n  - {service: a.S, upstream: a}\n",
	 NULL, "4:15: services[1].service: ", "service 'a.S' is already bound at line 3"},
	{"bad service name",
	 "upstreams: [{name: a, endpoints: [\"127.0.0.1:1\"]}]\n"
	 "services:\n  - {service: a..S, upstream: a}\n",
	 NULL, "3:15: services[0].service: ", "expected a service name like package.Service"},
	{"service without upstream key", "services:\n  - service: a.S\n", NULL,
	 "2:5: services[0]: ", "missing required key 'upstream'"},

	/* ---- routes ---- */
	{"route without method", "routes:\n  extra:\n    - {path: /x, grpc: a.S/M}\n", NULL,
	 "3:7: routes.extra[0]: ", "missing required key 'method'"},
	{"route without grpc", "routes:\n  extra:\n    - {method: GET, path: /x}\n", NULL,
	 "3:7: routes.extra[0]: ", "missing required key 'grpc'"},
	{"route path without slash",
	 "routes:\n  extra:\n    - method: GET\n      path: v1/x\n      grpc: a.S/M\n", NULL,
	 "4:13: routes.extra[0].path: ", "expected a path starting with '/'; got 'v1/x'"},
	{"route bad grpc method",
	 "routes:\n  extra:\n    - method: GET\n      path: /x\n      grpc: GetAgent\n", NULL,
	 "5:13: routes.extra[0].grpc: ", "expected package.Service/Method"},
	{"route bad method token",
	 "routes:\n  extra:\n    - method: \"GE T\"\n      path: /x\n      grpc: a.S/M\n", NULL,
	 "3:15: routes.extra[0].method: ", "expected an HTTP method"},
	{"route bad body",
	 "routes:\n  extra:\n    - {method: POST, path: /x, grpc: a.S/M, body: \"a b\"}\n", NULL,
	 "3:51: routes.extra[0].body: ", "expected \"\" (no body), \"*\""},
	{"route response_body star",
	 "routes:\n  extra:\n    - {method: GET, path: /x, grpc: a.S/M, response_body: \"*\"}\n",
	 NULL, "3:59: routes.extra[0].response_body: ", "a field path"},
	{"route timeout bad",
	 "routes:\n  extra:\n    - {method: GET, path: /x, grpc: a.S/M, timeout: fast}\n", NULL,
	 "3:53: routes.extra[0].timeout: ", "expected a duration"},
	{"route transcode unknown key",
	 "routes:\n  extra:\n    - method: GET\n      path: /x\n      grpc: a.S/M\n"
	 "      transcode:\n        emit_default: true\n",
	 NULL, "7:9: routes.extra[0].transcode.emit_default: ",
	 "unknown key in 'routes.extra[0].transcode'"},
	{"route declared twice",
	 "routes:\n  extra:\n    - {method: GET, path: /x, grpc: a.S/M}\n"
	 "    - {method: GET, path: /x, grpc: a.S/N}\n",
	 NULL, "4:27: routes.extra[1].path: ", "GET /x is already routed at line 3"},
	{"extra must be a list", "routes:\n  extra: {method: GET}\n", NULL,
	 "2:10: routes.extra: ", "expected a list of routes; got a mapping"},

	/* ---- tls ---- */
	{"tls listeners and upstreams", tls_yaml, check_tls, NULL, NULL},
	{"tls without certificates",
	 "listen:\n  - address: \"127.0.0.1:1\"\n    tls: {min_version: \"1.2\"}\n", NULL,
	 "3:10: listen[0].tls: ", "missing required key 'certificates'"},
	{"tls certificate without key",
	 "listen:\n  - address: \"127.0.0.1:1\"\n    tls: {certificates: [{cert: a.pem}]}\n", NULL,
	 "3:26: listen[0].tls.certificates[0]: ", "missing required key 'key'"},
	{"tls old version",
	 "listen:\n  - address: \"127.0.0.1:1\"\n    tls:\n"
	 "      certificates: [{cert: a, key: b}]\n      min_version: \"1.0\"\n",
	 NULL, "5:20: listen[0].tls.min_version: ", "expected \"1.2\" or \"1.3\""},
	{"tls client_auth without a CA",
	 "listen:\n  - address: \"127.0.0.1:1\"\n    tls:\n"
	 "      certificates: [{cert: a, key: b}]\n      client_auth: require\n",
	 NULL, "5:20: listen[0].tls.client_auth: ", "needs client_ca"},
	{"tls client_auth unknown",
	 "listen:\n  - address: \"127.0.0.1:1\"\n    tls:\n"
	 "      certificates: [{cert: a, key: b}]\n      client_auth: maybe\n",
	 NULL, "5:20: listen[0].tls.client_auth: ", "expected none, optional or require"},
	{"tls bad SNI name",
	 "listen:\n  - address: \"127.0.0.1:1\"\n    tls:\n"
	 "      certificates: [{cert: a, key: b, names: [\"a b\"]}]\n",
	 NULL, "4:48: listen[0].tls.certificates[0].names[0]: ", "expected a host name"},
	{"listen entry without address", "listen:\n  - tls: {certificates: [{cert: a, key: b}]}\n",
	 NULL, "2:5: listen[0]: ", "missing required key 'address'"},
	{"listen entry unknown key", "listen:\n  - {address: \"127.0.0.1:1\", tsl: {}}\n", NULL,
	 "2:30: listen[0].tsl: ", "unknown key"},
	{"upstream tls cert without key",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n    tls: {cert: c.pem}\n",
	 NULL, "4:17: upstreams[0].tls.cert: ", "cert and key go together"},
	{"upstream tls not a bool",
	 "upstreams:\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n    tls: yes-please\n", NULL,
	 "4:10: upstreams[0].tls: ", "expected true or false"},

	/* ---- headers ---- */
	{"bad forward header", "headers:\n  forward: [\"x tenant\"]\n", NULL,
	 "2:13: headers.forward[0]: ", "expected a header name, optionally ending in '*'"},
	{"star inside a header rule", "headers:\n  response: [\"x-*-id\"]\n", NULL,
	 "2:14: headers.response[0]: ", "expected a header name"},
	{"bad timeout header", "headers:\n  timeout_header: \"x-timeout*\"\n", NULL,
	 "2:19: headers.timeout_header: ", "expected a header name (or \"\" for none)"},

	/* ---- static ---- */
	{"static path without slash", "static:\n  - {path: robots.txt, file: robots.txt}\n", NULL,
	 "2:12: static[0].path: ", "expected a path starting with '/'"},
	{"static reserved path", "static:\n  - {path: /metrics, file: m.txt}\n", NULL,
	 "2:12: static[0].path: ", "reserved for the admin endpoints"},
	{"static duplicate path",
	 "static:\n  - {path: /a, file: a.txt}\n  - {path: /a, file: b.txt}\n", NULL,
	 "3:12: static[1].path: ", "'/a' is already served by static[0]"},
	{"static without file", "static:\n  - path: /a\n", NULL,
	 "2:5: static[0]: ", "missing required key 'file'"},
};

static void run_row(const struct row *r)
{
	struct gw_config *cfg = malloc(sizeof(*cfg));
	char err[1024];
	if (!cfg)
		exit(2);
	fresh(cfg);
	write_file(file, r->yaml);
	memset(err, 'x', sizeof(err));
	int rc = gw_config_load_yaml(cfg, file, err, sizeof(err));
	if (getenv("VERBOSE") && rc)
		printf("%-45.45s %s\n", r->name, err + strlen(dir) + 1);
	if (!r->at) {
		CHECK(rc == 0, r->name, "rejected: %s", err);
		if (rc == 0)
			r->check(cfg, r->name);
	} else {
		char want[512];
		snprintf(want, sizeof(want), "%s:%s", file, r->at);
		CHECK(rc == -1, r->name, "accepted");
		CHECK(rc == -1 && strncmp(err, want, strlen(want)) == 0, r->name,
		      "want prefix '%s', got '%s'", want, err);
		CHECK(rc == -1 && strstr(err, r->msg) != NULL, r->name, "want '%s' in '%s'", r->msg,
		      err);
		CHECK(rc == -1 && !strchr(err, '\n'), r->name, "one line: '%s'", err);
	}
	/* Free twice, in both orders with gw_config_free: the counts are
	 * zeroed, so nothing is freed twice (ASan would say). */
	gw_config_free_yaml_parts(cfg);
	CHECK(cfg->ndescriptors == 0 && cfg->nupstreams == 0 && cfg->nbindings == 0 &&
		      cfg->nroutes == 0 && cfg->routes == NULL && cfg->nstatics == 0 &&
		      cfg->timeout_header == NULL && cfg->listen_heap == 0,
	      r->name, "everything released");
	gw_config_free(cfg);
	gw_config_free_yaml_parts(cfg);
	free(cfg);
}

/* The file path without a directory: relative names stay as written
 * (they are relative to the working directory, which is the file's). */
static void test_bare_file_name(void)
{
	const char *name = "path without a directory";
	char cwd[512];
	struct gw_config *cfg = malloc(sizeof(*cfg));
	char err[512];
	if (!cfg || !getcwd(cwd, sizeof(cwd)) || chdir(dir) != 0)
		exit(2);
	fresh(cfg);
	write_file("bare.yaml", "descriptors: [agents.pb, ../up.pb]\n"
				"static: [{path: /r, file: r.txt}]\nworkers: x\n");
	int rc = gw_config_load_yaml(cfg, "bare.yaml", err, sizeof(err));
	CHECK(rc == -1 && strncmp(err, "bare.yaml:3:10: workers: ", 25) == 0, name, "%s", err);
	release(cfg);
	fresh(cfg);
	write_file("bare.yaml", "descriptors: [agents.pb, ../up.pb]\n"
				"static: [{path: /r, file: r.txt}]\n");
	rc = gw_config_load_yaml(cfg, "bare.yaml", err, sizeof(err));
	CHECK(rc == 0, name, "%s", err);
	CHECK(cfg->ndescriptors == 2 && STREQ(cfg->descriptors[0], "agents.pb") &&
		      STREQ(cfg->descriptors[1], "../up.pb"),
	      name, "descriptors as written");
	CHECK(cfg->nstatics == 1 && STREQ(cfg->statics[0].file, "r.txt"), name, "static file");
	release(cfg);
	unlink("bare.yaml");
	if (chdir(cwd) != 0)
		exit(2);
	free(cfg);
}

static void test_missing_file(void)
{
	const char *name = "missing file";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	char err[512], path[256];
	if (!cfg)
		exit(2);
	fresh(cfg);
	snprintf(path, sizeof(path), "%s/nope.yaml", dir);
	int rc = gw_config_load_yaml(cfg, path, err, sizeof(err));
	char want[300];
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	CHECK(rc == -1 && strcmp(err, want) == 0, name, "%s", err);
	CHECK(cfg->config_file == NULL, name, "config_file untouched on failure");
	rc = gw_config_load_yaml(cfg, dir, err, sizeof(err));
	snprintf(want, sizeof(want), "%s: cannot open: Is a directory", dir);
	CHECK(rc == -1 && strcmp(err, want) == 0, "a directory", "%s", err);
	release(cfg);
	free(cfg);
}

/* A later key replaces an earlier list; the old copies are freed. */
static void test_reload_over_loaded(void)
{
	const char *name = "load twice into one config";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	char err[512];
	if (!cfg)
		exit(2);
	fresh(cfg);
	write_file(file, full_yaml);
	CHECK(gw_config_load_yaml(cfg, file, err, sizeof(err)) == 0, name, "%s", err);
	write_file(file, "listen: [\"127.0.0.1:9\"]\ndescriptors: [b.pb]\n"
			 "upstreams: [{name: z, endpoints: [\"127.0.0.1:1\"]}]\n"
			 "services: [{service: \"*\", upstream: z}]\nroutes: {extra: []}\n"
			 "headers: {forward: [a], response: [], timeout_header: t}\nstatic: []\n");
	CHECK(gw_config_load_yaml(cfg, file, err, sizeof(err)) == 0, name, "%s", err);
	CHECK(cfg->nlisten == 1 && STREQ(cfg->listen[0], "127.0.0.1:9") && cfg->listen_heap == 1,
	      name, "listen replaced");
	CHECK(cfg->ndescriptors == 1 && cfg->nupstreams == 1 && cfg->nbindings == 1 &&
		      cfg->nroutes == 0 && cfg->routes == NULL && cfg->nforward_headers == 1 &&
		      cfg->nresponse_headers == 0 && STREQ(cfg->timeout_header, "t") &&
		      cfg->nstatics == 0,
	      name, "lists replaced");
	/* gw_config_free zeroes counts but leaves pointers behind: a load
	 * after it must not take them for its own. */
	write_file(file, full_yaml);
	gw_config_free(cfg);
	CHECK(gw_config_load_yaml(cfg, file, err, sizeof(err)) == 0, name, "%s", err);
	CHECK(cfg->nstatics == 2 && cfg->nbindings == 2, name, "loaded after gw_config_free");
	release(cfg);
	free(cfg);
}

static void test_example(const char *path)
{
	const char *name = "examples/ringgate.yaml";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	char err[512];
	if (!cfg)
		exit(2);
	fresh(cfg);
	int rc = gw_config_load_yaml(cfg, path, err, sizeof(err));
	CHECK(rc == 0, name, "%s", err);
	CHECK(cfg->nupstreams >= 1 && cfg->nbindings >= 1 && cfg->nroutes >= 1, name,
	      "the example shows upstreams, services and routes");
	release(cfg);
	free(cfg);
}

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/test_config_yaml.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(file, sizeof(file), "%s/ringgate.yaml", dir);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
	test_bare_file_name();
	test_missing_file();
	test_reload_over_loaded();
	if (argc > 1)
		test_example(argv[1]);

	unlink(file);
	rmdir(dir);
	return unit_finish();
}
