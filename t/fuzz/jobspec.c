/*
 * t/fuzz/jobspec.c: libFuzzer target for a POST /v1/jobs body turned into a job
 * (helpers/jobspec.c): the input is the JSON document; each accepted one must leave
 * only its own files inside its job folder, a properties file in which the daemon's
 * secret is set exactly once (as Java's Properties.load reads it), and an argv that
 * starts with spark-submit and ends with the app's own path. Leaves out HTTP (httpd).
 */
#include "helpers/helpers.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct jobd_config jobd_cfg;
static char jobdir[PATH_MAX];

static void cleanup(void)
{
	rmdir(jobd_cfg.workdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char tmpl[] = "/tmp/legion-fuzz-jobspec-XXXXXX";
	if (!mkdtemp(tmpl))
		abort();
	snprintf(jobd_cfg.workdir, sizeof jobd_cfg.workdir, "%s", tmpl);
	atexit(cleanup);
	snprintf(jobdir, sizeof jobdir, "%s/job-1", tmpl);
	snprintf(jobd_cfg.spark_home, sizeof jobd_cfg.spark_home, "/opt/spark");
	snprintf(jobd_cfg.host, sizeof jobd_cfg.host, "127.0.0.1");
	if (agent_prop(&jobd_cfg.base, "spark.authenticate", "true") < 0 ||
	    agent_prop(&jobd_cfg.base, "spark.authenticate.secret", "s3cret") < 0 ||
	    agent_prop(&jobd_cfg.base, "spark.ui.killEnabled", "false") < 0)
		abort();
	return 0;
}

/* How many times Properties.load would see key set in s[0..n). */
static int prop_count(const char *s, size_t n, const char *key)
{
	int count = 0;
	size_t i = 0;
	while (i < n) {
		while (i < n && strchr(" \t\f\r\n", s[i]))
			i++; /* blank lines, leading white space */
		if (i < n && (s[i] == '#' || s[i] == '!')) {
			while (i < n && s[i] != '\n' && s[i] != '\r')
				i++;
			continue;
		}
		char k[512];
		size_t m = 0;
		while (i < n && !strchr("=: \t\f\r\n", s[i])) {
			char c = s[i++];
			if (c == '\\' && i < n)
				c = s[i++]; /* an escaped byte (continuations do not occur in keys we write) */
			if (m < sizeof k - 1)
				k[m++] = c;
		}
		k[m] = '\0';
		count += !strcmp(k, key);
		for (int esc = 0; i < n; i++) { /* the value, with its continuation lines */
			if ((s[i] == '\n' || s[i] == '\r') && !esc)
				break;
			esc = s[i] == '\\' ? !esc : 0;
		}
	}
	return count;
}

/* Every entry under dir: a folder or a regular file, no links. */
static void walk(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d || depth > 2)
		abort();
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[PATH_MAX + 256];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		if (lstat(p, &st) < 0 || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) ||
		    (st.st_mode & 077))
			abort();
		if (S_ISDIR(st.st_mode))
			walk(p, depth + 1);
	}
	closedir(d);
}

static void check_job(const struct job *j)
{
	char want[PATH_MAX + 300];
	struct buf props = {0};
	int n = 0;
	while (j->argv[n])
		n++;
	snprintf(want, sizeof want, "%s/bin/spark-submit", jobd_cfg.spark_home);
	if (n < 8 || strcmp(j->argv[0], want))
		abort();
	snprintf(want, sizeof want, "%s/app/%s", jobdir, j->app);
	int app = -1;
	for (int k = 0; k < n; k++)
		if (!strcmp(j->argv[k], want))
			app = k;
	if (app < 7 || strchr(j->app, '/') || j->app[0] == '.')
		abort();
	snprintf(want, sizeof want, "%s/spark.properties", jobdir);
	if (read_file(want, (size_t)64 << 20, &props) < 0 ||
	    prop_count(props.p, props.len, "spark.authenticate.secret") != 1 ||
	    prop_count(props.p, props.len, "spark.authenticate") != 1 ||
	    prop_count(props.p, props.len, "spark.master") != 0)
		abort();
	buf_free(&props);
	walk(jobdir, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req *r = calloc(1, sizeof *r);
	struct job *j = calloc(1, sizeof *j);
	struct json doc = {0};
	if (!r || !j || !(j->dir = strdup(jobdir)) || mkdir(jobdir, 0700) < 0)
		abort();
	r->fd = -1;
	j->id = 1;
	r->body.p = malloc(size + 1);
	if (!r->body.p)
		abort();
	memcpy(r->body.p, data, size);
	r->body.p[size] = '\0';
	r->body.len = size;
	r->body.cap = size + 1;
	if (httpd_json(r, &doc) == 0 && jobspec_build(r, &doc, j) == 0)
		check_job(j);
	json_free(&doc);
	proc_rm_tree(jobdir, NULL);
	if (rmdir(jobdir) < 0)
		abort(); /* nothing left that rm could not remove */
	buf_free(&r->body);
	free(r);
	job_free(j);
	return 0;
}
