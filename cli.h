/*
 * cli.h: what the command line's files share: legion.c (options, main, the small
 * commands), submit.c (a run's lifecycle), status.c and ui.c. The helpers do not
 * include it.
 */
#ifndef LEGION_CLI_H
#define LEGION_CLI_H

#include "legion.h"

#include <pthread.h>

struct command;
/* The parsed command line. Strings point into argv (not owned) except conf. */
struct opts {
	const struct command *cmd; /* legion.c's */
	const char *backend, *location, *resource_group, *subscription, *master, *name, *image,
		*klass, *py_files, *jars, *output, *job, *container, *app, *cluster, *subnet,
		*identity, *storage_auth, *cloud;
	const char *subnets, *security_groups, *execution_role; /* fargate */
	int keep_logs;                                          /* fargate */
	long long num_executors, executor_cores, executor_mem_mb, driver_cores, driver_mem_mb,
		idle_timeout, parallel, tail, older_than, port;
	int keep_alive, detach, follow, all, force, dry_run, timings;
	int backend_from_env; /* backend came from LEGION_BACKEND */
	const char **conf;
	int nconf;
	/* spark-submit's options (README: spark-submit's options) */
	const char *files, *archives, *packages, *repositories, *exclude_packages, *properties_file,
		*driver_java_options, *driver_class_path, *driver_library_path;
	long long total_cores;        /* --total-executor-cores, 0 = not given */
	long long max_replacements;   /* --max-replacements, -1 = --num-executors */
	int num_executors_set;        /* --num-executors (or the config file) gave it */
	int nconf_file;               /* conf[0..nconf_file) came from the config file */
	int log_level, log_level_set; /* enum log_level: Spark lines shown on stderr */
	const char *price_file;       /* --price-file */
	long long max_executors;      /* --max-executors: 0 = no scaling (scale.c) */
	long long min_executors;      /* --min-executors (default 0) */
	int min_executors_set;
	char *props_data;   /* --properties-file's text (owned) */
	const char **props; /* its "key=value" entries, into props_data (owned) */
	int nprops;
	char **app_args;
	int napp_args;
};
/* The signal (SIGINT, SIGTERM) that arrived, or 0; set by legion.c's handler. */
extern volatile sig_atomic_t got_signal;
/* What removes a run's leftovers ("legion delete CLUSTER\n"), for a clean-up given up
 * on a repeated signal; empty: "legion gc". */
extern char cleanup_hint[160];
/* 128 + that signal (what a shell reports), or 0. */
int interrupted(void);
/* Opens o->backend (parsed and known: legion.c checks) with what it needs from o. */
int open_backend(const struct opts *o, struct backend *be, int *ex);
/* legion.c: one line naming the bad thing, then where to look; returns 64 (78 while
 * the config file is read). */
int bad(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* config.c: reads the config file into *keep (owned by main: o's strings point into
 * it); a missing default file is fine, a missing --config FILE or a bad line is 78. */
int read_config(int argc, char **argv, struct opts *o, struct buf *keep);
/* config.c: the path of Legion's file NAME in the user's config folder,
 * $XDG_CONFIG_HOME/legion/NAME, else ~/.config/legion/NAME, into out; -1 with neither. */
int config_file(const char *name, char *out, size_t n);
/* legion.c: a setting by its option's name (config.c); 0, 1 for no such option, or the
 * exit code after a message. config_where: "FILE:LINE" while the file is read. */
int opt_by_name(struct opts *o, const char *name, const char *val);
extern char config_where[1100];
/* sparkopts.c: spark-submit's options (README: spark-submit's options). Each returns
 * 0, or the exit code after bad()'s message. */
/* --packages G:A:V,.., --exclude-packages G:A,.., --repositories URL,.. (by name). */
int check_maven(const struct opts *o, const char *name, const char *list);
/* An unknown option arg: spark-submit's that do not apply say why. */
int submit_unknown_option(const struct opts *o, const char *arg);
/* --total-executor-cores: enough executors when --num-executors is not given. */
int total_cores(struct opts *o);
/* The application and its files are readable regular files (at most 70 MiB together,
 * else 65); --properties-file into o->props. */
int check_inputs(struct opts *o);
/* --master given a Spark master URL (spark://, local[*], yarn) instead of a cluster. */
int spark_master_url(const struct opts *o);
/* storage.c: --storage-auth key|sp|msi, how the master's Spark reaches Azure storage
 * (default key when AZURE_STORAGE_ACCOUNT_KEY is set, else none). */
/* The credential it needs is there: 0, 64 (a combination that cannot work) or 78 (the
 * credential is missing), after one line. */
int storage_check(const struct opts *o);
/* The master group's environment for it (secrets as secure values): 0, or -1. */
int storage_env(const struct opts *o, struct group *g);
/* Frees what o owns (conf, props). */
void opts_release(struct opts *o);
/* progress.c: a job's output as a person sees it on stderr. Spark's own log lines
 * ("yy/MM/dd HH:mm:ss LEVEL Class: message", and the indented lines that continue them)
 * below the level are hidden, every other line passes; the driver's scheduler lines
 * feed a status line: on a terminal one live line (rewritten in place, cleared before
 * any other output), elsewhere a plain "legion: ..." line at most every 5 s. */
enum log_level { L_ALL, L_TRACE, L_DEBUG, L_INFO, L_WARN, L_ERROR, L_FATAL, L_OFF };
/* The level named by s[0..n) (any case), or -1. */
int log_level_of(const char *s, size_t n);
/* Starts: Spark lines below level are hidden; job names the job in the status line. */
void progress_start(int level, const char *job, int workers);
/* What the run is doing before the job ("1 of 2 workers registered"): the live line on
 * a terminal, else a plain line when it changed (or every 10 s when again is set). */
void progress_note(int again, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A job_sink's line: one line of the job's output (err: its stderr). */
void progress_line(void *arg, int err, const char *text);
/* Clears the live line (before a message of its own on stderr); the next note or
 * line draws it again. */
void progress_clear(void);
/* timings.c: --timings (and -v): "legion: timing: +S.S s EVENT" lines on stderr, seconds
 * since timings_start. Starts the clock; on 0 every call below prints nothing;
 * executors: how many the job asked for. */
void timings_start(int on, int executors);
/* One event of the run's lifecycle. */
void timings_mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A driver log line's class ("SparkContext:") and message: driver started, each
 * executor registered, the first task. */
void timings_spark(const char *cls, const char *msg);
/* cost.c: what a run's container groups held, and with a price file what it costs. */
struct cost {
	int groups;
	double vcpu_s, gb_s, secs; /* secs: the longest-held group's */
};
struct price {
	int found;           /* 0 no row, 1 the "*" row, 2 the region's */
	double vcpu_s, gb_s; /* per vCPU-second, per GB-second */
	char region[64], currency[16], file[1024];
};
/* Adds a group of cpu vCPUs and memory_mb (as ACI is asked for it: GB, one decimal,
 * rounded up) held from from_ms to to_ms. */
void cost_add(struct cost *c, double cpu, long long memory_mb, long long from_ms, long long to_ms);
/* Reads a price file ("region vcpu-second gb-second currency" lines, '#' comments, "*"
 * for any region) into *p for region. 0 (p->found 0 when no row fits), or 78 after a
 * message naming the file and line. */
int price_load(const char *path, const char *region, struct price *p);
/* The default price file, $XDG_CONFIG_HOME/legion/prices (else ~/.config/legion/prices),
 * into out: 0 when it exists, -1 when not. A file with a "# fetched: DATE" line (legion
 * prices') older than 90 days gets one warning from price_load, and is still used. */
int price_default(char *out, size_t n);
/* "legion: cost: WHAT (N container groups, S s): V vCPU-seconds, G GB-seconds[; about
 * X CUR at FILE's REGION prices]" on stderr; nothing for no groups. */
void cost_print(const struct cost *c, const struct price *p, const char *what);
/* The prices of o's run: --price-file, else the default file. p->found is 0 when there
 * is no file or row, and always on the local backend (no money). 0, or the exit code of
 * a file that cannot be read or is malformed (78). */
int price_for(const struct opts *o, struct price *p);
/* What c comes to at p's prices (0 when p has no row). */
double cost_money(const struct cost *c, const struct price *p);
/* heal.c: the loop that follows a job, as a thread: fn(arg) every ms while the main
 * thread streams the job's log, until ticker_stop (which waits for the call under way)
 * or a signal. Its requests use their own connections (http_thread_end at its end); it
 * blocks SIGINT and SIGTERM. -1 (after a warning) when no thread could be started. */
struct ticker {
	pthread_t thread;
	int on;
	volatile sig_atomic_t quit;
	long ms;
	void (*fn)(void *arg);
	void *arg;
};
int ticker_start(struct ticker *t, long ms, void (*fn)(void *), void *arg);
void ticker_stop(struct ticker *t);
/* Whether group name can no longer serve: 1 when the backend says it ended with a
 * failure or is gone, 2 when it ended with exit 0, with "Failed, exit 137" or "gone" in
 * why; 0 while it is provisioning or running; -1 when the backend could not tell. */
int group_ended(struct backend *be, const char *name, char *why, size_t n);
/* While submit waits for want workers: 1 after saying (on stderr) why cluster's master
 * can take none: its group ended or is gone, or its job API has been silent for
 * silent_ms, more than limit_ms; 0 otherwise. */
int master_unusable(struct backend *be, const char *cluster, int want, long long silent_ms,
		    long long limit_ms);
/* Self-healing of an attached submit's cluster (README: self-healing). The run's
 * workers ws[0..nws) were created, ws[nws..nw) allocated only; a replacement is
 * appended (ws reallocated; the ended group stays for teardown to delete), built by
 * make(arg, number, g) like the run's others. */
struct heal_cfg {
	struct backend *be;
	const char *cluster;
	long long max; /* replacements allowed for this job */
	struct group **ws;
	int *nw, *nws;
	int (*make)(void *arg, int number, struct group *g);
	void *arg;
};
struct heal {
	struct heal_cfg cfg;
	char master[64];
	long long used; /* replacements started */
	char *done;     /* per worker: its end was handled */
	int ndone, next;
	int master_ended;
	char master_why[64];
};
void heal_init(struct heal *h, const struct heal_cfg *cfg);
/* One look (from the ticker): the master, and a few workers in turn; a worker that
 * ended with a failure (or is gone) is replaced while the budget lasts, with one stderr
 * line each ("worker X stopped (Failed, exit 137): replacing it (1 of 2)"); the master's
 * end is named once ("the master X stopped (Failed, exit 137)"). */
void heal_tick(struct heal *h);
/* After the job's log was lost: 1 when the master's group ended (named on stderr, the
 * backend asked again for up to 5 s), else 0. */
int heal_master_lost(struct heal *h);
void heal_free(struct heal *h);
/* submit.c: `legion submit` and `legion deploy-master`; each returns the exit code. */
int cmd_submit(const struct opts *o);
int cmd_deploy(const struct opts *o);
/* The worker group CLUSTER-RUN-wI of cluster m (owned fields); -1 when out of memory. */
int worker_group(const struct opts *o, const struct cluster *m, const char *run, int i,
		 struct group *g);
/* scale.c: --max-executors (README: scaling). scale_opts checks the options (64 after
 * bad()'s message naming both values) and makes --num-executors the initial count;
 * scale_quota refuses a --max-executors the machine's cpus cannot hold (64). */
int scale_opts(struct opts *o);
int scale_quota(const struct opts *o, double cpus);
/* Spark's dynamic allocation and cores.max into the job's conf (before the user's). */
void scale_conf(struct jw *w, const struct opts *o);
/* The driver's ExecutorAllocationManager target (and, needed non-NULL, the executors
 * its tasks need; -1 unknown), through the job API's proxy of the driver's UI. 0, or -1
 * when no driver answers (no job runs, or it has not started). */
int scale_wants(const struct cluster *m, long long *target, long long *needed);
/* The scaler of an attached submit: NULL without --max-executors. It takes the run's
 * first workers ws[0..*nws) (moved out, *nws set to 0) and follows the job in a thread
 * of its own until scale_stop. */
struct scale;
struct scale *scale_start(struct backend *be, const struct opts *o, const struct cluster *c,
			  const char *tag, struct group *ws, int *nws, long long born_ms);
void scale_stop(struct scale *s);
/* Deletes the workers it still has (-1 when something may be left). */
int scale_delete(struct scale *s);
/* Adds each worker's lifetime to c; returns the worker-seconds. */
double scale_cost(const struct scale *s, struct cost *c, long long now);
/* "peak N workers, M created" into out. */
void scale_summary(const struct scale *s, char *out, size_t n);
void scale_free(struct scale *s);
/* status.c: `legion status` and `legion logs`. */
int cmd_status(const struct opts *o);
int cmd_logs(const struct opts *o);
/* prices.c: `legion prices` (README: What a job cost). */
int cmd_prices(const struct opts *o);
/* ui.c: `legion ui`. */
int cmd_ui(const struct opts *o);
/* manage.c: `legion delete`, `legion gc`, `legion auth` (auth takes o for its backend). */
int cmd_delete(const struct opts *o);
int cmd_gc(const struct opts *o);
int cmd_auth(struct opts *o);

#endif
