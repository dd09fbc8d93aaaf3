/*
 * timings.c: `legion submit --timings` (and -v): where a run's time goes, as a timeline
 * on stderr, one "legion: timing: +S.S s EVENT" line per event, seconds since submit
 * began. The lifecycle's events come from submit.c; the driver's (started, executors
 * registered, first task) from its own log lines, fed by progress.c. Leaves out
 * keeping the numbers anywhere else (bench/ reads these lines).
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct {
	int on, want, executors, driver, task;
	long long t0;
} T;

void timings_start(int on, int executors)
{
	memset(&T, 0, sizeof T);
	T.on = on;
	T.want = executors;
	T.t0 = now_ms();
}

void timings_mark(const char *fmt, ...)
{
	if (!T.on)
		return;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	long long ms = now_ms() - T.t0;
	progress_clear();
	fprintf(stderr, "%s: timing: +%lld.%01lld s %s\n", progname, ms / 1000, ms % 1000 / 100,
		what);
	fflush(stderr);
}

void timings_spark(const char *cls, const char *msg)
{
	if (!T.on)
		return;
	if (!T.driver && !strncmp(cls, "SparkContext:", 13) &&
	    !strncmp(msg, "Running Spark version ", 22)) {
		T.driver = 1;
		timings_mark("driver started (Spark %.32s)", msg + 22);
	} else if (strstr(cls, "DriverEndpoint:") && !strncmp(msg, "Registered executor ", 20)) {
		T.executors++;
		if (T.want > 0)
			timings_mark("executor %d of %d registered", T.executors, T.want);
		else
			timings_mark("executor %d registered", T.executors);
	} else if (!T.task && !strncmp(cls, "TaskSetManager:", 15) &&
		   !strncmp(msg, "Starting task ", 14)) {
		T.task = 1;
		timings_mark("first task (%d executor%s registered)", T.executors,
			     T.executors == 1 ? "" : "s");
	}
}
