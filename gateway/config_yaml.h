/*
 * config_yaml.h - `ringgate --config FILE`: the YAML configuration file.
 *
 * The file is layered over a struct gw_config that already holds the
 * defaults (gw_config_from_args or config.c's defaults): a key that is
 * absent leaves its field alone, a key that is present replaces it (a list
 * replaces the whole list).  examples/ringgate.yaml documents every key.
 *
 * Every error is one line "PATH:LINE:COLUMN: key.path: problem" (1-based,
 * pointing at the offending node), or "PATH: problem" when the file itself
 * cannot be read, so the caller prints it and exits GW_EXIT_CONFIG.
 */
#ifndef RINGGATE_CONFIG_YAML_H
#define RINGGATE_CONFIG_YAML_H

#include <stddef.h>

#include "gateway/config.h"

/*
 * Load PATH into cfg.  Returns 0, or -1 with the message in err.
 *
 * Ownership: every string and object stored in cfg is a heap copy owned
 * by cfg and released by gw_config_free_yaml_parts(), also after a -1
 * (cfg then holds what was loaded before the error).  PATH itself is not
 * copied: the origin fields and cfg->config_file (set when NULL) point at
 * it, so it must outlive cfg (argv does).
 *
 * Left to the caller: statics[].content_type stays NULL for the entries
 * the file adds; fill it from the file name (config.c's content_type_for)
 * before serving.  The caller also re-runs gw_config_finish() as usual.
 */
int gw_config_load_yaml(struct gw_config *cfg, const char *path, char *err, size_t errlen);

/*
 * Free every heap part of cfg that a YAML load may have filled: listen
 * strings the file gave (cfg->listen_heap), descriptors, upstreams,
 * bindings, routes, header rules, timeout_header and statics.  Counts are
 * zeroed, so calling it twice, or before or after gw_config_free(), is safe.
 */
void gw_config_free_yaml_parts(struct gw_config *cfg);

#endif
