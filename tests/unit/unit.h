/*
 * unit.h - the smallest test harness that does the job.
 *
 * A test file is a table of cases plus a main() that walks it.  CHECK
 * records a failure with file:line and the case name and carries on, so one
 * run shows every broken rule.  unit_finish() prints the closing line
 * "N passed, N failed" and returns the exit status for main().
 */
#ifndef RINGGATE_UNIT_H
#define RINGGATE_UNIT_H

#include <stdio.h>

static unsigned unit_passed, unit_failed;

#define CHECK(cond, name, ...)                                                                     \
	do {                                                                                       \
		if (cond) {                                                                        \
			unit_passed++;                                                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			fprintf(stderr, "%s:%d: [%s] check failed: %s: ", __FILE__, __LINE__,      \
				(name), #cond);                                                    \
			fprintf(stderr, " " __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static inline int unit_finish(void)
{
	printf("%u passed, %u failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
