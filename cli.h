/*
 * cli.h: what the command line's files share: legion.c (options, main, the small
 * commands), submit.c (a run's lifecycle), status.c and ui.c. The helpers do not
 * include it.
 */
#ifndef LEGION_CLI_H
#define LEGION_CLI_H

#include "legion.h"

struct command;
/* The parsed command line. Strings point into argv (not owned) except conf. */
struct opts {
	const struct command *cmd; /* legion.c's */
	const char *backend, *location, *resource_group, *subscription, *master, *name, *image,
		*klass, *py_files, *jars, *output, *job, *container, *app, *cluster, *subnet,
		*identity, *cloud;
	const char *subnets, *security_groups, *execution_role; /* fargate */
	int keep_logs;                                          /* fargate */
	long long num_executors, executor_cores, executor_mem_mb, driver_cores, driver_mem_mb,
		idle_timeout, parallel, tail, older_than, port;
	int keep_alive, detach, follow, all, force, dry_run;
	int backend_from_env; /* backend came from LEGION_BACKEND */
	const char **conf;
	int nconf;
	/* spark-submit's options (README: spark-submit's options) */
	const char *files, *archives, *packages, *repositories, *exclude_packages, *properties_file,
		*driver_java_options, *driver_class_path, *driver_library_path;
	long long total_cores;        /* --total-executor-cores, 0 = not given */
	int num_executors_set;        /* --num-executors (or the config file) gave it */
	int nconf_file;               /* conf[0..nconf_file) came from the config file */
	int log_level, log_level_set; /* enum log_level: Spark lines shown on stderr */
	const char *price_file;       /* --price-file */
	char *props_data;             /* --properties-file's text (owned) */
	const char **props;           /* its "key=value" entries, into props_data (owned) */
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
/* "legion: cost: WHAT (N container groups, S s): V vCPU-seconds, G GB-seconds[; about
 * X CUR at FILE's REGION prices]" on stderr; nothing for no groups. */
void cost_print(const struct cost *c, const struct price *p, const char *what);
/* submit.c: `legion submit` and `legion deploy-master`; each returns the exit code. */
int cmd_submit(const struct opts *o);
int cmd_deploy(const struct opts *o);
/* status.c: `legion status` and `legion logs`. */
int cmd_status(const struct opts *o);
int cmd_logs(const struct opts *o);
/* ui.c: `legion ui`. */
int cmd_ui(const struct opts *o);
/* manage.c: `legion delete`, `legion gc`, `legion auth` (auth takes o for its backend). */
int cmd_delete(const struct opts *o);
int cmd_gc(const struct opts *o);
int cmd_auth(struct opts *o);

#endif
