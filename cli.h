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
		*identity;
	const char *subnets, *security_groups, *execution_role; /* fargate */
	int keep_logs;                                          /* fargate */
	long long num_executors, executor_cores, executor_mem_mb, driver_cores, driver_mem_mb,
		idle_timeout, parallel, tail, older_than, port;
	int keep_alive, detach, follow, all, force, dry_run;
	int backend_from_env; /* backend came from LEGION_BACKEND */
	const char **conf;
	int nconf;
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
/* submit.c: `legion submit` and `legion deploy-master`; each returns the exit code. */
int cmd_submit(const struct opts *o);
int cmd_deploy(const struct opts *o);
/* status.c: `legion status` and `legion logs`. */
int cmd_status(const struct opts *o);
int cmd_logs(const struct opts *o);
/* ui.c: `legion ui`. */
int cmd_ui(const struct opts *o);

#endif
