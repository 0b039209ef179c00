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
#include "http/h1_server.h"

#define GW_MAX_WORKERS 1024
#define GW_MAX_LISTENERS 16
#define GW_MAX_STATIC 64

/* A direct response: a path answered with a file's bytes (like nginx's
 * `return` or Envoy's direct_response). */
struct gw_static_route {
	char *path;
	char *file;
	const char *content_type;
};

struct gw_config {
	const char *listen[GW_MAX_LISTENERS];
	unsigned nlisten;

	unsigned workers;         /* 0: one per CPU in the affinity mask */
	int cpus[GW_MAX_WORKERS]; /* pinning, in worker order */
	unsigned ncpus;           /* 0: not given */
	enum gw_log_level log_level;
	bool check_only;

	unsigned max_connections; /* whole process; split across workers */
	unsigned drain_timeout_ms;
	unsigned buf_count, buf_size; /* provided receive buffers per worker */
	unsigned sq_entries;

	struct h1_server_config http;

	struct gw_static_route statics[GW_MAX_STATIC];
	unsigned nstatics;
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

#endif
