/*
 * t/fuzz/api.c: libFuzzer target for the job API's request handling without a network:
 * the input is a whole request (head and body, at most HDR_MAX bytes); its head is
 * parsed as the daemon's front does, the bearer token checked, and an authorized
 * request routed (helpers/api.c: paths, methods, body limits, every handler, jobs
 * created on disk and killed). Replies are only recorded. The daemon's state is reset
 * after each input. Leaves out TLS and the threads (one request at a time).
 */
#include "helpers/helpers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct jobd_config jobd_cfg;
static char token[] = "fuzz-token-0123456789abcdef";

static void cleanup(void)
{
	char jobs[PATH_MAX + 8];
	snprintf(jobs, sizeof jobs, "%s/jobs", jobd_cfg.workdir);
	proc_rm_tree(jobs, NULL);
	rmdir(jobs);
	rmdir(jobd_cfg.workdir);
	jobq_free();
	buf_free(&jobd_cfg.base);
	http_cleanup();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char tmpl[] = "/tmp/legion-fuzz-api-XXXXXX", jobs[PATH_MAX + 8];
	if (!mkdtemp(tmpl) || http_init() < 0)
		abort();
	snprintf(jobd_cfg.workdir, sizeof jobd_cfg.workdir, "%s", tmpl);
	snprintf(jobs, sizeof jobs, "%s/jobs", tmpl);
	if (mkdir(jobs, 0700) < 0)
		abort();
	atexit(cleanup);
	snprintf(jobd_cfg.spark_home, sizeof jobd_cfg.spark_home, "/opt/spark");
	snprintf(jobd_cfg.host, sizeof jobd_cfg.host, "127.0.0.1");
	jobd_cfg.addr[0] = '\0'; /* the Spark master's page: a URL with no host fails at once */
	jobd_cfg.token = token;
	jobd_cfg.idle_s = 600;
	if (agent_prop(&jobd_cfg.base, "spark.authenticate", "true") < 0 ||
	    agent_prop(&jobd_cfg.base, "spark.authenticate.secret", "s3cret") < 0)
		abort();
	jobd.quit = 1; /* log streams end at once */
	return 0;
}

/* A daemon that has one queued job (job-1, with a log) and no workers. */
static void seed_state(void)
{
	struct job *j = calloc(1, sizeof *j);
	char dir[PATH_MAX + 16], log[PATH_MAX + 32];
	snprintf(dir, sizeof dir, "%s/jobs/job-1", jobd_cfg.workdir);
	snprintf(log, sizeof log, "%s/log.ndjson", dir);
	if (!j || !(j->dir = strdup(dir)) || mkdir(dir, 0700) < 0 ||
	    write_file(log, "{}\n", 3, 0600) < 0)
		abort();
	j->id = 1;
	j->exit_code = -1;
	j->log_len = 3;
	snprintf(j->app, sizeof j->app, "pi.py");
	jobd.jobs = jobd.last = j;
	jobd.njobs = jobd.next_id = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	seed_state();
	r->fd = -1;
	r->hlen = size < HDR_MAX ? size : HDR_MAX;
	memcpy(r->head, data, r->hlen);
	if (httpd_head_step(r, 0) == 1 && api_authorized(r->auth) &&
	    (r->clen <= 0 || (size_t)r->clen <= r->hlen - r->hend)) {
		api_route(r);
		if (r->status < 200 || r->status > 599)
			abort(); /* every request gets an answer */
	}
	buf_free(&r->body);
	free(r);
	/* the next input starts from a fresh daemon */
	char jobs[PATH_MAX + 8];
	snprintf(jobs, sizeof jobs, "%s/jobs", jobd_cfg.workdir);
	proc_rm_tree(jobs, NULL);
	jobq_free();
	jobd.njobs = jobd.next_id = jobd.nworkers = 0;
	return 0;
}
