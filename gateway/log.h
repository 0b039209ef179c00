/*
 * log.h - leveled diagnostic log on stderr.
 *
 * For start-up, shutdown and rare events; the per-request access log is a
 * separate, structured stream.  Levels below the configured one cost a
 * compare.
 */
#ifndef RINGGATE_LOG_H
#define RINGGATE_LOG_H

enum gw_log_level { GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERROR };

extern enum gw_log_level gw_log_threshold;

/* Returns 0 and sets *out, or -1 for an unknown name. */
int gw_log_level_parse(const char *name, enum gw_log_level *out);

void gw_log_write(enum gw_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define gw_log(level, ...)                                                                         \
	do {                                                                                       \
		if ((level) >= gw_log_threshold)                                                   \
			gw_log_write((level), __VA_ARGS__);                                        \
	} while (0)

#endif
