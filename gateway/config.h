/*
 * config.h - ringgate's configuration: what the command line (and later
 * the YAML file) says, validated once, read-only afterwards.
 */
#ifndef RINGGATE_CONFIG_H
#define RINGGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/log.h"
#include "grpc/upstream.h"
#include "http/h1_server.h"
#include "tls/tls.h"

#define GW_MAX_WORKERS      1024
#define GW_MAX_LISTENERS    16
#define GW_MAX_STATIC       64
#define GW_MAX_UPSTREAMS    32
#define GW_MAX_DESCRIPTORS  64
#define GW_MAX_BINDINGS     256
#define GW_MAX_ROUTES       1024
#define GW_MAX_HEADER_RULES 64

/* A direct response: a path answered with a file's bytes (like nginx's
 * `return` or Envoy's direct_response). */
struct gw_static_route {
	char *path;
	char *file;
	const char *content_type;
};

/* Where a configuration value came from, for error messages. */
struct gw_origin {
	const char *file; /* NULL: the command line */
	unsigned line, column;
};

/* JSON rendering and parsing options (global, or per route). */
struct gw_transcode_opts {
	bool emit_defaults;        /* print fields at their default value */
	bool use_proto_names;      /* "display_name" rather than "displayName" */
	bool enums_as_ints;        /* print enums as numbers */
	bool allow_unknown_fields; /* ignore unknown JSON fields instead of 400 */
};

/* Which upstream serves a gRPC service ("*" matches every service). */
struct gw_binding {
	char *service;  /* "agents.v1.AgentService" or "*" */
	char *upstream; /* an upstream's name */
	struct gw_origin origin;
};

/* A route declared in the configuration, in addition to the
 * google.api.http annotations of the descriptors. */
struct gw_route_cfg {
	char *method;        /* GET, POST, ... or a custom verb */
	char *path;          /* HttpRule template */
	char *grpc_method;   /* "agents.v1.AgentService/GetAgent" */
	char *body;          /* "" none, "*" all, or a field path */
	char *response_body; /* "" whole message, or a field path */
	uint32_t timeout_ms; /* 0: the upstream's default */
	bool has_transcode;  /* transcode below overrides the global options */
	struct gw_transcode_opts transcode;
	struct gw_origin origin;
};

struct gw_config {
	const char *listen[GW_MAX_LISTENERS];
	unsigned nlisten;
	/* Bit i set: listen[i] is a heap copy (from the YAML file), freed by
	 * gw_config_free_yaml_parts; the others point into argv or literals. */
	uint32_t listen_heap;

	/* TLS of each listener (NULL: plain HTTP): heap copies, except that
	 * listeners without their own share cli_tls (--tls-cert ...). */
	struct tls_server_config *listen_tls[GW_MAX_LISTENERS];
	struct tls_server_config *cli_tls;

	unsigned workers;         /* 0: one per CPU in the affinity mask */
	int cpus[GW_MAX_WORKERS]; /* pinning, in worker order */
	unsigned ncpus;           /* 0: not given */
	enum gw_log_level log_level;
	bool check_only;

	unsigned max_connections; /* whole process; split across workers */
	unsigned drain_timeout_ms;
	unsigned buf_count, buf_size; /* provided receive buffers per worker */
	unsigned sq_entries;
	unsigned batch_wait_us; /* longest batched wait under load; 0: never batch */

	struct h1_server_config http;

	struct gw_static_route statics[GW_MAX_STATIC];
	unsigned nstatics;

	/* REST -> gRPC */
	char *descriptors[GW_MAX_DESCRIPTORS]; /* FileDescriptorSet files */
	unsigned ndescriptors;
	struct upstream_config *upstreams[GW_MAX_UPSTREAMS]; /* name, endpoints, pool */
	unsigned nupstreams;
	/* TLS to each upstream (NULL: cleartext h2c), same index. */
	struct tls_client_config *upstream_tls[GW_MAX_UPSTREAMS];
	struct gw_binding bindings[GW_MAX_BINDINGS];
	unsigned nbindings;
	struct gw_route_cfg *routes; /* GW_MAX_ROUTES entries when any */
	unsigned nroutes;
	bool annotated_routes; /* serve the google.api.http rules (default true) */
	struct gw_transcode_opts transcode;
	/* Request headers forwarded as gRPC metadata (lowercase names; a
	 * trailing '*' is a prefix match), and response metadata returned
	 * as headers. */
	char *forward_headers[GW_MAX_HEADER_RULES];
	unsigned nforward_headers;
	char *response_headers[GW_MAX_HEADER_RULES];
	unsigned nresponse_headers;
	/* A request header whose value (a duration: "250ms", "5s") sets the
	 * call deadline, capped by max_timeout_ms; "" for none. */
	char *timeout_header;
	uint32_t default_timeout_ms; /* deadline when neither route nor header says */
	uint32_t max_timeout_ms;
	uint32_t max_response_bytes; /* largest JSON response (buffered unary) */

	const char *config_file; /* --config, for messages */
};

/* Exit status for bad configuration or arguments (SPEC "Interfaces"). */
#define GW_EXIT_CONFIG 2

enum gw_cli_result { GW_CLI_RUN, GW_CLI_EXIT_OK, GW_CLI_EXIT_BAD };

/*
 * Parse argv into cfg.  Prints --help / --version itself (GW_CLI_EXIT_OK)
 * and a message naming the option and the problem on errors
 * (GW_CLI_EXIT_BAD).
 */
enum gw_cli_result gw_config_from_args(struct gw_config *cfg, int argc, char **argv);

/* Resolve defaults that depend on the machine (workers, cpus). Returns 0
 * or -1 with a message printed. */
int gw_config_finish(struct gw_config *cfg);

void gw_config_free(struct gw_config *cfg);

/* Defaults of a listener's / an upstream's TLS settings, and freeing. */
void gw_tls_server_config_init(struct tls_server_config *t);
void gw_tls_server_config_free(struct tls_server_config *t);
void gw_tls_client_config_init(struct tls_client_config *t);
void gw_tls_client_config_free(struct tls_client_config *t);
/* Drop every listener's TLS settings (the listen list is replaced). */
void gw_config_clear_listen_tls(struct gw_config *cfg);

#endif
