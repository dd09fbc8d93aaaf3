/*
 * progress.c: a running job as a person sees it on stderr: Spark's log lines filtered
 * by level (the job's log keeps them all: `legion logs --job`), and a status line fed by
 * the driver's scheduler lines (workers, job, stage i/n, tasks done/total). Leaves out
 * the job API (cluster.c) and the run's lifecycle (submit.c).
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PLAIN_EVERY_MS 5000 /* a non-terminal gets a progress line at most this often */

static struct {
	int level, tty, drawn, hiding;
	char job[64], note[256], last[512];
	int workers;
	long long said_ms;
	/* from the driver's DAGScheduler and TaskSetManager lines */
	int spark_job, stage_base, final_stage, stage, tasks_done, tasks_total, running;
} P = {.level = L_WARN, .spark_job = -1, .final_stage = -1, .stage = -1};

int log_level_of(const char *s, size_t n)
{
	static const char *const names[] = {"ALL",  "TRACE", "DEBUG", "INFO",
					    "WARN", "ERROR", "FATAL", "OFF"};
	for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
		if (strlen(names[i]) == n && !strncasecmp(s, names[i], n))
			return i;
	return -1;
}

void progress_start(int level, const char *job, int workers)
{
	const char *term = getenv("TERM");
	P.level = level;
	P.tty = isatty(2) && !(term && !strcmp(term, "dumb"));
	P.workers = workers;
	snprintf(P.job, sizeof P.job, "%s", job);
	P.note[0] = '\0';
}

void progress_clear(void)
{
	if (P.drawn)
		fputs("\r\033[K", stderr);
	P.drawn = 0;
}

/* The status line as it stands, into out. */
static void status_text(char *out, size_t n)
{
	if (P.note[0]) {
		snprintf(out, n, "%s", P.note);
		return;
	}
	size_t k = (size_t)snprintf(out, n, "%s running, %d worker%s", P.job, P.workers,
				    P.workers == 1 ? "" : "s");
	if (k < n && P.spark_job >= 0) {
		int total = P.final_stage - P.stage_base + 1;
		int i = P.stage >= P.stage_base ? P.stage - P.stage_base + 1 : 1;
		if (total < 1)
			total = 1;
		if (i > total)
			i = total;
		if (P.running)
			k += (size_t)snprintf(out + k, n - k, ": Spark job %d stage %d/%d",
					      P.spark_job, i, total);
		else
			k += (size_t)snprintf(out + k, n - k, ": Spark job %d done", P.spark_job);
		if (k < n && P.running && P.tasks_total > 0)
			snprintf(out + k, n - k, ", tasks %d/%d", P.tasks_done, P.tasks_total);
	}
}

/* Draws the status line (terminal) or prints it when it changed and its time came. */
static void status_show(int force)
{
	char text[512];
	status_text(text, sizeof text);
	if (P.tty) {
		struct winsize ws;
		int cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col : 80;
		/* one line: never longer than the terminal, so \r goes back to its start */
		fprintf(stderr, "\r\033[K%s: %.*s", progname, cols - (int)strlen(progname) - 3,
			text);
		fflush(stderr);
		P.drawn = 1;
	} else if (strcmp(text, P.last) && (force || now_ms() - P.said_ms >= PLAIN_EVERY_MS)) {
		fprintf(stderr, "%s: %s\n", progname, text);
		P.said_ms = now_ms();
	} else
		return;
	snprintf(P.last, sizeof P.last, "%s", text);
}

void progress_note(int again, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(P.note, sizeof P.note, fmt, ap);
	va_end(ap);
	if (!P.tty) { /* as before: each change, and now and then the same */
		if (strcmp(P.note, P.last) || again) {
			fprintf(stderr, "%s: %s\n", progname, P.note);
			snprintf(P.last, sizeof P.last, "%s", P.note);
		}
		return;
	}
	status_show(1);
}

/* The number after word in s (e.g. "Stage 3" after "Stage "), or -1. */
static int num_after(const char *s, const char *word)
{
	const char *p = strstr(s, word);
	if (!p)
		return -1;
	p += strlen(word);
	if (*p < '0' || *p > '9')
		return -1;
	return (int)strtol(p, NULL, 10);
}

/* What a scheduler line says about progress. 1 when something changed. */
static int spark_progress(const char *cls, const char *msg)
{
	int v;
	if (!strncmp(cls, "DAGScheduler:", 13)) {
		if ((v = num_after(msg, "Got job ")) >= 0) {
			P.spark_job = v;
			P.stage_base = P.final_stage + 1;
			P.stage = -1;
			P.running = 1;
			P.tasks_done = P.tasks_total = 0;
		} else if ((v = num_after(msg, "Final stage: ResultStage ")) >= 0)
			P.final_stage = v;
		else if (!strncmp(msg, "Submitting ", 11) &&
			 ((v = num_after(msg, "ResultStage ")) >= 0 ||
			  (v = num_after(msg, "ShuffleMapStage ")) >= 0)) {
			P.stage = v;
			P.tasks_done = P.tasks_total = 0;
		} else if (num_after(msg, "Job ") >= 0 && strstr(msg, " finished: "))
			P.running = 0;
		else
			return 0;
		return 1;
	}
	if (!strncmp(cls, "TaskSchedulerImpl:", 18) && !strncmp(msg, "Adding task set ", 16) &&
	    (v = num_after(msg, " with ")) >= 0) {
		P.tasks_total = v;
		return 1;
	}
	if (!strncmp(cls, "TaskSetManager:", 15) && !strncmp(msg, "Finished task ", 14)) {
		const char *p = strrchr(msg, '(');
		int d, t;
		if (p && sscanf(p, "(%d/%d)", &d, &t) == 2) {
			P.tasks_done = d;
			P.tasks_total = t;
			return 1;
		}
	}
	return 0;
}

/* The level of a log4j line "yy/MM/dd HH:mm:ss LEVEL Class: msg" (Spark's default
 * pattern), with *rest at "Class: msg"; -1 for any other line. */
static int spark_level(const char *s, const char **rest)
{
	static const char shape[] = "00/00/00 00:00:00 ";
	for (size_t i = 0; i < sizeof shape - 1; i++)
		if (shape[i] == '0' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return -1;
	const char *lv = s + sizeof shape - 1;
	size_t n = strcspn(lv, " ");
	int l = log_level_of(lv, n);
	if (l < 0 || lv[n] != ' ')
		return -1;
	*rest = lv + n + 1;
	return l;
}

void progress_line(void *arg, int err, const char *text)
{
	(void)arg;
	const char *rest = NULL;
	int l = err ? spark_level(text, &rest) : -1, changed = 0;
	if (l >= 0) {
		const char *msg = strchr(rest, ' ');
		if (msg) {
			changed = spark_progress(rest, msg + 1);
			timings_spark(rest, msg + 1);
		}
		P.hiding = l < P.level;
	} else if (!(err && P.hiding && (text[0] == '\t' || text[0] == ' ')))
		P.hiding = 0; /* an indented line continues the record before it */
	if (P.note[0]) {      /* the job's first line: the notes before it are over */
		P.note[0] = '\0';
		changed = 1;
	}
	if (!P.hiding) {
		progress_clear();
		FILE *out = err ? stderr : stdout;
		fprintf(out, "%s\n", text);
		fflush(out);
	}
	if (changed || (P.tty && !P.drawn))
		status_show(0);
}
