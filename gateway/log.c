/*
 * log.c - one line per event: RFC 3339 UTC time, level, message.
 */
#include "gateway/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum gw_log_level gw_log_threshold = GW_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int gw_log_level_parse(const char *name, enum gw_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum gw_log_level)i;
			return 0;
		}
	}
	return -1;
}

void gw_log_write(enum gw_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000L,
			      level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = m < 0 ? n : (n + (size_t)m >= sizeof(line) - 1 ? sizeof(line) - 2 : n + (size_t)m);
	line[n++] = '\n';
	/* One write per line so lines from several threads never interleave. */
	fwrite(line, 1, n, stderr);
	fflush(stderr);
}
