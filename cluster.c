/*
 * cluster.c: what the CLI keeps of a cluster (its id, job API token, Spark secret and the
 * master's certificate, in a 0600 file under $LEGION_HOME/clusters) and the client of
 * the master's job API over TLS pinned to that certificate. Leaves out creating
 * containers (the backends) and the lifecycle (submit.c).
 */
#include "legion.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cluster_free(struct cluster *m)
{
	char **secrets[] = {&m->token, &m->spark_secret, &m->key_pem, &m->cert_pem};
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		if (*secrets[i])
			memset(*secrets[i], 0, strlen(*secrets[i]));
		free(*secrets[i]);
		*secrets[i] = NULL;
	}
}

int cluster_new(struct cluster *m, const char *backend)
{
	char id[9], tok[65], sec[65];
	memset(m, 0, sizeof *m);
	if (random_hex(id, 4) < 0 || random_hex(tok, 32) < 0 || random_hex(sec, 32) < 0)
		return -1;
	snprintf(m->id, sizeof m->id, "legion-%s", id);
	snprintf(m->backend, sizeof m->backend, "%s", backend);
	snprintf(m->tls_name, sizeof m->tls_name, "master.%s.legion", m->id);
	m->token = strdup(tok);
	m->spark_secret = strdup(sec);
	memset(tok, 0, sizeof tok);
	memset(sec, 0, sizeof sec);
	const char *names[] = {m->tls_name, NULL};
	if (!m->token || !m->spark_secret || tls_identity(names, &m->cert_pem, &m->key_pem) < 0) {
		warnx_("unable to create the cluster's credentials");
		cluster_free(m);
		return -1;
	}
	return 0;
}

/* The file of a cluster's credentials, in a state folder that can be trusted. */
static int cluster_file(const char *cluster, char *out, size_t n)
{
	char home[1024], dir[1100];
	if (legion_home(home, sizeof home) < 0 || state_dir(home) < 0)
		return -1;
	snprintf(dir, sizeof dir, "%s/clusters", home);
	if (state_dir(dir) < 0)
		return -1;
	snprintf(out, n, "%s/%s.json", dir, cluster);
	return 0;
}

int cluster_save(const struct cluster *m)
{
	char path[1200];
	if (cluster_file(m->id, path, sizeof path) < 0)
		return -1;
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "cluster", m->id);
	jw_str(&w, "backend", m->backend);
	jw_str(&w, "tlsName", m->tls_name);
	jw_str(&w, "ip", m->ip);
	jw_str(&w, "host", m->host);
	jw_str(&w, "token", m->token);
	jw_str(&w, "sparkSecret", m->spark_secret);
	jw_str(&w, "cert", m->cert_pem);
	jw_end(&w);
	size_t n = 0;
	char *doc = jw_finish(&w, &n);
	int rc = doc ? write_file(path, doc, n, 0600) : -1;
	if (rc < 0)
		warn_("unable to write %s", path);
	if (doc)
		memset(doc, 0, n);
	free(doc);
	return rc;
}

int cluster_load(const char *cluster, struct cluster *m)
{
	char path[1200];
	struct buf b = {0};
	struct json j = {0};
	memset(m, 0, sizeof *m);
	if (cluster_file(cluster, path, sizeof path) < 0)
		return -1;
	if (read_file(path, 1 << 20, &b) < 0) {
		int e = errno;
		buf_free(&b);
		if (e == ENOENT)
			return 1;
		warn_("unable to read %s", path);
		return -1;
	}
	int rc = -1;
	if (json_parse(&j, b.p, b.len, NULL) == 0 &&
	    json_strcpy(&j, json_get(&j, 0, "cluster"), m->id, sizeof m->id) == 0 &&
	    json_strcpy(&j, json_get(&j, 0, "backend"), m->backend, sizeof m->backend) == 0 &&
	    json_strcpy(&j, json_get(&j, 0, "tlsName"), m->tls_name, sizeof m->tls_name) == 0 &&
	    json_strcpy(&j, json_get(&j, 0, "ip"), m->ip, sizeof m->ip) == 0 &&
	    json_strcpy(&j, json_get(&j, 0, "host"), m->host, sizeof m->host) == 0 &&
	    (m->token = json_str(&j, json_get(&j, 0, "token"))) &&
	    (m->spark_secret = json_str(&j, json_get(&j, 0, "sparkSecret"))) &&
	    (m->cert_pem = json_str(&j, json_get(&j, 0, "cert"))))
		rc = 0;
	else
		warnx_("%s is damaged: delete it", path);
	if (rc < 0)
		cluster_free(m);
	memset(b.p, 0, b.len);
	buf_free(&b);
	json_free(&j);
	return rc;
}

void cluster_forget(const char *cluster)
{
	char path[1200];
	if (cluster_file(cluster, path, sizeof path) == 0)
		unlink(path);
}

int cluster_call(const struct cluster *m, const char *method, const char *path, const char *body,
		 size_t n, int tries, long timeout_ms, struct http_resp *r)
{
	char url[512], resolve[256], auth[160];
	snprintf(url, sizeof url, "https://%s:%d%s", m->tls_name, JOB_API_PORT, path);
	snprintf(resolve, sizeof resolve, "%s:%d:%s", m->tls_name, JOB_API_PORT, m->ip);
	http_bearer(auth, sizeof auth, m->token);
	const char *hdrs[] = {auth, "Content-Type: application/json", NULL};
	struct http_req q = {
		.method = method,
		.url = url,
		.headers = hdrs,
		.body = body,
		.body_len = n,
		.ca_pem = m->cert_pem,
		.resolve = resolve,
		.timeout_ms = timeout_ms,
		.tries = tries,
		.redact = m->token,
		.explain = http_explain_error, /* DESIGN.md's error shape */
	};
	int rc = http_do(&q, r);
	memset(auth, 0, sizeof auth);
	return rc;
}

int cluster_stream(const struct cluster *m, const char *path, struct http_req *q,
		   struct http_resp *r)
{
	char url[2200], resolve[256], auth[160];
	snprintf(url, sizeof url, "https://%s:%d%s", m->tls_name, JOB_API_PORT, path);
	snprintf(resolve, sizeof resolve, "%s:%d:%s", m->tls_name, JOB_API_PORT, m->ip);
	http_bearer(auth, sizeof auth, m->token);
	const char *hdrs[] = {auth, NULL};
	q->url = url;
	q->headers = hdrs;
	q->ca_pem = m->cert_pem;
	q->resolve = resolve;
	q->redact = m->token;
	int rc = http_do(q, r);
	memset(auth, 0, sizeof auth);
	q->url = NULL;
	q->headers = NULL;
	q->resolve = NULL;
	return rc;
}

/* NDJSON lines of a job's log, cut at newlines as they arrive. */
struct follow {
	const struct job_sink *sink;
	struct buf line;
	char state[32];
	long long exit_code;
	int ended;
};

static void follow_line(struct follow *f, const char *p, size_t n)
{
	struct json j = {0};
	if (n == 0)
		return;
	if (json_parse(&j, p, n, NULL) != 0) {
		warnx_("the job log sent a line that is not JSON");
		json_free(&j);
		return;
	}
	int line = json_get(&j, 0, "line");
	char *text = line >= 0 ? json_str(&j, line) : NULL;
	if (text) {
		int err = json_eq(&j, json_get(&j, 0, "stream"), "stderr");
		if (f->sink) {
			f->sink->line(f->sink->arg, err, text);
		} else {
			FILE *out = err ? stderr : stdout;
			fprintf(out, "%s\n", text);
			fflush(out);
		}
		free(text);
	} else if (json_get(&j, 0, "state") >= 0) {
		json_strcpy(&j, json_get(&j, 0, "state"), f->state, sizeof f->state);
		if (json_int(&j, json_get(&j, 0, "exitCode"), &f->exit_code) < 0)
			f->exit_code = -1;
		f->ended = 1;
	}
	json_free(&j);
}

static int on_log(void *arg, const char *p, size_t n)
{
	struct follow *f = arg;
	for (;;) {
		const char *nl = memchr(p, '\n', n);
		if (!nl)
			return buf_add(&f->line, p, n) < 0;
		if (buf_add(&f->line, p, (size_t)(nl - p)) < 0)
			return 1;
		follow_line(f, f->line.p, f->line.len);
		f->line.len = 0;
		n -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
}

int cluster_follow(const struct cluster *m, const char *id, const struct job_sink *sink,
		   char *state, size_t n, int *exit_code)
{
	char url[512], resolve[256], auth[160];
	snprintf(url, sizeof url, "https://%s:%d/v1/jobs/%s/log?follow=1", m->tls_name,
		 JOB_API_PORT, id);
	snprintf(resolve, sizeof resolve, "%s:%d:%s", m->tls_name, JOB_API_PORT, m->ip);
	http_bearer(auth, sizeof auth, m->token);
	const char *hdrs[] = {auth, NULL};
	struct follow f = {.sink = sink, .line = {.max = 16 << 20}, .exit_code = -1};
	struct http_req q = {
		.url = url,
		.headers = hdrs,
		.ca_pem = m->cert_pem,
		.resolve = resolve,
		.timeout_ms = -1,
		.redact = m->token,
		.on_data = on_log,
		.arg = &f,
	};
	struct http_resp r = {0};
	int rc = http_do(&q, &r);
	memset(auth, 0, sizeof auth);
	if (f.line.len)
		follow_line(&f, f.line.p, f.line.len);
	if (rc < 0 || r.status != 200 || !f.ended) {
		if (!http_stop)
			warnx_("lost the job's log: %s",
			       r.err[0] ? r.err : "the stream ended early");
		rc = -1;
	} else {
		snprintf(state, n, "%s", f.state);
		*exit_code = (int)f.exit_code;
	}
	buf_free(&f.line);
	http_resp_free(&r);
	return rc;
}
