/*
 * helpers/api.c: the job API: the router (paths, methods, body limits, the bearer token)
 * and its handlers: health, status, worker heartbeats, submit, list, get, kill, and the
 * log stream (NDJSON, followed while the job runs). Leaves out HTTP framing (httpd.c),
 * building a job from a body (jobspec.c) and running it (jobq.c).
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEEPALIVE_MS 30000 /* a silent job's log stream sends a blank line this often */

static pthread_mutex_t http_mu = PTHREAD_MUTEX_INITIALIZER; /* http.c is single-threaded */

int api_authorized(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strlen(h), k = strlen(jobd_cfg.token);
	unsigned char diff = n != k;
	for (size_t i = 0; i < k; i++)
		diff |= (unsigned char)(jobd_cfg.token[i] ^ (i < n ? h[i] : 0));
	return diff == 0;
}

static struct job *find_job(const char *id)
{
	long long n;
	if (strncmp(id, "job-", 4) || parse_int(id + 4, 1, INT_MAX, &n) < 0)
		return NULL;
	for (struct job *j = jobd.jobs; j; j = j->next)
		if (j->id == n)
			return j;
	return NULL;
}

/* Writes job j's fields; called with the lock held. */
static void jw_job(struct jw *w, const char *key, const struct job *j)
{
	char id[32];
	snprintf(id, sizeof id, "job-%d", j->id);
	jw_obj(w, key);
	jw_str(w, "id", id);
	jw_str(w, "name", j->name);
	jw_str(w, "app", j->app);
	jw_str(w, "state", jstate_name[j->state]);
	if (j->state >= J_SUCCEEDED && j->exit_code >= 0)
		jw_int(w, "exitCode", j->exit_code);
	else
		jw_null(w, "exitCode");
	jw_int(w, "submitted", j->submitted);
	if (j->started)
		jw_int(w, "started", j->started);
	if (j->ended)
		jw_int(w, "ended", j->ended);
	jw_end(w);
}

/* What Spark's master says about itself, summarised into w (null when unreachable). */
static void jw_spark(struct jw *w)
{
	char url[320];
	snprintf(url, sizeof url, "http://%s:8080/json/", jobd_cfg.addr);
	struct http_req q = {.url = url, .timeout_ms = 2000, .tries = 1, .max_body = 1 << 20};
	struct http_resp resp = {0};
	struct json j = {0};
	pthread_mutex_lock(&http_mu);
	int rc = http_do(&q, &resp);
	pthread_mutex_unlock(&http_mu);
	if (rc < 0 || resp.status != 200 || json_parse(&j, resp.body.p, resp.body.len, NULL) != 0 ||
	    j.t[0].type != JSMN_OBJECT) {
		jw_null(w, "spark");
		goto out;
	}
	char status[32] = "";
	long long v;
	jw_obj(w, "spark");
	json_strcpy(&j, json_get(&j, 0, "status"), status, sizeof status);
	jw_str(w, "status", status[0] ? status : NULL);
	int ws = json_get(&j, 0, "workers"), alive = 0;
	for (int k = 0; ws >= 0 && j.t[ws].type == JSMN_ARRAY && k < j.t[ws].size; k++)
		alive += json_eq(&j, json_get(&j, json_at(&j, ws, k), "state"), "ALIVE");
	jw_int(w, "aliveWorkers", alive);
	if (json_int(&j, json_get(&j, 0, "cores"), &v) == 0)
		jw_int(w, "cores", v);
	if (json_int(&j, json_get(&j, 0, "coresused"), &v) == 0)
		jw_int(w, "coresUsed", v);
	int apps = json_get(&j, 0, "activeapps");
	jw_int(w, "activeApps", apps >= 0 && j.t[apps].type == JSMN_ARRAY ? j.t[apps].size : 0);
	jw_end(w);
out:
	json_free(&j);
	http_resp_free(&resp);
}

static void h_status(struct req *r)
{
	struct jw w = {0};
	char url[320];
	jw_obj(&w, NULL);
	jw_str(&w, "cluster", jobd_cfg.cluster[0] ? jobd_cfg.cluster : NULL);
	jw_str(&w, "version", LEGION_VERSION);
	jw_str(&w, "host", jobd_cfg.host);
	jw_obj(&w, "master");
	snprintf(url, sizeof url, "spark://%s:7077", jobd_cfg.host);
	jw_str(&w, "url", url);
	snprintf(url, sizeof url, "http://%s:8080", jobd_cfg.host);
	jw_str(&w, "webui", url);
	jobd_lock();
	jw_bool(&w, "running", jobd.master > 0);
	jobd_unlock();
	jw_end(&w);
	jw_spark(&w);
	jobd_lock();
	long long now = now_ms();
	jw_bool(&w, "stopping", jobd.stopping);
	jw_int(&w, "idleTimeout", jobd_cfg.idle_s);
	/* 0 until the idle clock starts (legion-jobd.c: the first worker, or an allowance) */
	jw_int(&w, "idleSeconds",
	       jobs_busy() || now < jobd.idle_since ? 0 : (now - jobd.idle_since) / 1000);
	jw_arr(&w, "workers");
	for (int i = 0; i < jobd.nworkers; i++) {
		const struct worker *k = &jobd.workers[i];
		jw_obj(&w, NULL);
		jw_str(&w, "name", k->name);
		jw_str(&w, "host", k->host);
		if (k->cores >= 0)
			jw_int(&w, "cores", k->cores);
		if (k->memory_mb >= 0)
			jw_int(&w, "memoryMB", k->memory_mb);
		if (k->executors >= 0)
			jw_int(&w, "executors", k->executors);
		jw_int(&w, "lastHeartbeat", k->seen_unix);
		jw_int(&w, "secondsSinceHeartbeat", (now - k->seen_ms) / 1000);
		jw_end(&w);
	}
	jw_end(&w);
	jw_arr(&w, "jobs");
	for (struct job *j = jobd.jobs; j; j = j->next)
		jw_job(&w, NULL, j);
	jw_end(&w);
	jobd_unlock();
	jw_end(&w);
	httpd_reply_doc(r, 200, &w, NULL);
}

static void h_workers(struct req *r)
{
	struct json j = {0};
	char *name = NULL, *host = NULL;
	long long cores = -1, mem = -1, execs = -1;
	if (httpd_json(r, &j) < 0 || httpd_json_str(r, &j, 0, "name", 127, 1, &name) < 0 ||
	    httpd_json_str(r, &j, 0, "host", 255, 1, &host) < 0)
		goto out;
	int i;
	if (((i = json_get(&j, 0, "cores")) >= 0 && (json_int(&j, i, &cores) < 0 || cores < 0)) ||
	    ((i = json_get(&j, 0, "memoryMB")) >= 0 && (json_int(&j, i, &mem) < 0 || mem < 0)) ||
	    ((i = json_get(&j, 0, "executors")) >= 0 &&
	     (json_int(&j, i, &execs) < 0 || execs < 0))) {
		httpd_reply_err(r, 400, "BadRequest",
				"cores, memoryMB and executors must be whole numbers");
		goto out;
	}
	jobd_lock();
	struct worker *w = NULL;
	for (int k = 0; k < jobd.nworkers && !w; k++)
		if (!strcmp(jobd.workers[k].name, name))
			w = &jobd.workers[k];
	if (!w && jobd.nworkers < MAX_WORKERS) {
		if (!jobd.workers)
			jobd.workers = calloc(MAX_WORKERS, sizeof *jobd.workers);
		if (jobd.workers) {
			w = &jobd.workers[jobd.nworkers++];
			snprintf(w->name, sizeof w->name, "%s", name);
			warnx_("worker %s registered from %s", name, host);
		}
	}
	int stop = jobd.stopping, busy = jobs_busy();
	if (w) {
		snprintf(w->host, sizeof w->host, "%s", host);
		w->cores = cores;
		w->memory_mb = mem;
		w->executors = execs;
		w->seen_ms = now_ms();
		w->seen_unix = (long long)time(NULL);
		w->told_stop |= stop;
	}
	jobd_unlock();
	if (!w) {
		httpd_reply_err(r, 503, "TooManyWorkers", "more than %d workers", MAX_WORKERS);
		goto out;
	}
	struct jw d = {0};
	jw_obj(&d, NULL);
	jw_bool(&d, "ok", 1);
	jw_bool(&d, "stop", stop);
	jw_bool(&d, "busy", busy); /* a job waits or runs: workers are not idle */
	jw_end(&d);
	httpd_reply_doc(r, 200, &d, NULL);
out:
	free(name);
	free(host);
	json_free(&j);
}

static void h_submit(struct req *r)
{
	struct json j = {0};
	struct job *job = NULL;
	char dir[PATH_MAX + 64];
	if (httpd_json(r, &j) < 0)
		goto out;
	jobd_lock();
	int id = 0;
	if (!jobd.stopping && jobd.njobs < MAX_JOBS)
		id = ++jobd.next_id;
	int stopping = jobd.stopping;
	jobd_unlock();
	if (!id) {
		httpd_reply_err(r, 503, stopping ? "ShuttingDown" : "TooManyJobs",
				stopping ? "the daemon is shutting down"
					 : "this master ran %d jobs: start a new one",
				MAX_JOBS);
		goto out;
	}
	snprintf(dir, sizeof dir, "%s/jobs/job-%d", jobd_cfg.workdir, id);
	job = calloc(1, sizeof *job);
	if (!job || !(job->dir = strdup(dir))) {
		httpd_reply_err(r, 500, "InternalError", "out of memory");
		goto out;
	}
	job->id = id;
	job->exit_code = -1;
	if (mkdir(dir, 0700) < 0) {
		httpd_reply_err(r, 500, "InternalError", "unable to create the job's directory");
		goto out;
	}
	if (jobspec_build(r, &j, job) < 0) {
		proc_rm_tree(dir, NULL);
		rmdir(dir);
		jobd_lock();
		if (jobd.next_id == id) /* nobody took a later id: give this one back */
			jobd.next_id--;
		jobd_unlock();
		goto out;
	}
	job->submitted = (long long)time(NULL);
	jobd_lock();
	if (jobd.stopping) {
		jobd_unlock();
		proc_rm_tree(dir, NULL);
		rmdir(dir);
		httpd_reply_err(r, 503, "ShuttingDown", "the daemon is shutting down");
		goto out;
	}
	if (jobd.last)
		jobd.last->next = job;
	else
		jobd.jobs = job;
	jobd.last = job;
	jobd.njobs++;
	jobd_changed();
	struct jw w = {0};
	jw_job(&w, NULL, job);
	jobd_unlock();
	char loc[64];
	snprintf(loc, sizeof loc, "Location: /v1/jobs/job-%d\r\n", id);
	job = NULL; /* owned by the list now */
	httpd_reply_doc(r, 201, &w, loc);
out:
	job_free(job);
	json_free(&j);
}

static void h_job(struct req *r, const char *id)
{
	struct jw w = {0};
	jobd_lock();
	struct job *j = find_job(id);
	if (j && !strcmp(r->method, "DELETE")) {
		if (j->state == J_QUEUED) {
			j->state = J_KILLED;
			j->ended = (long long)time(NULL);
			j->kill_ms = now_ms();
			proc_rm_tree(j->dir, "log.ndjson"); /* its app and properties */
			jobd_changed();
		} else if (j->state == J_RUNNING) {
			if (!j->kill_ms) {
				j->kill_ms = now_ms();
				if (j->pid > 0)
					kill(-j->pid, SIGTERM);
				warnx_("job-%d: kill requested", j->id);
			}
			long long end = now_ms() + KILL_GRACE_MS + 5000;
			while (j->state == J_RUNNING && now_ms() < end)
				jobd_wait(500);
		}
	}
	if (j)
		jw_job(&w, NULL, j);
	jobd_unlock();
	if (!j) {
		httpd_reply_err(r, 404, "JobNotFound", "no job %s", id);
		return;
	}
	httpd_reply_doc(r, 200, &w, NULL);
}

static void h_log(struct req *r, const char *id)
{
	int follow = httpd_query_flag(r->query, "follow"), fd = -1;
	char path[PATH_MAX + 32], buf[16384];
	long long off = 0;
	jobd_lock();
	struct job *j = find_job(id);
	if (j)
		snprintf(path, sizeof path, "%s/log.ndjson", j->dir);
	jobd_unlock();
	if (!j) {
		httpd_reply_err(r, 404, "JobNotFound", "no job %s", id);
		return;
	}
	if (httpd_send_head(r, 200, "application/x-ndjson", -1, NULL) < 0 || tls_flush(r->c) < 0)
		return;
	tls_set_timeout(r->c, 60000);
	long long sent_ms = now_ms();
	for (;;) {
		int idle = 0;
		jobd_lock();
		while (follow && !jobd.quit && j->state <= J_RUNNING && off == j->log_len) {
			if (now_ms() - sent_ms >= KEEPALIVE_MS) {
				idle = 1;
				break;
			}
			jobd_wait(1000);
			if (off == j->log_len && httpd_client_gone(r->fd))
				break;
		}
		long long len = j->log_len;
		int ended = j->state >= J_SUCCEEDED, state = j->state, code = j->exit_code;
		int quit = jobd.quit;
		jobd_unlock();
		if (idle) { /* a blank line: clients' stall timers see life, a gone client shows */
			if (httpd_send_chunk(r, "\n", 1) < 0 || tls_flush(r->c) < 0)
				goto gone;
			sent_ms = now_ms();
			continue;
		}
		if (off == len && !ended && (quit || httpd_client_gone(r->fd) || !follow))
			break;
		sent_ms = now_ms();
		if (fd < 0 && len > 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			break;
		while (off < len) {
			size_t want = len - off < (long long)sizeof buf ? (size_t)(len - off)
									: sizeof buf;
			ssize_t n = pread(fd, buf, want, (off_t)off);
			if (n <= 0)
				goto end;
			if (httpd_send_chunk(r, buf, (size_t)n) < 0)
				goto gone;
			off += n;
		}
		if (tls_flush(r->c) < 0)
			goto gone;
		if (ended && off == len) {
			struct jw w = {0};
			jw_obj(&w, NULL);
			jw_str(&w, "state", jstate_name[state]);
			if (code >= 0)
				jw_int(&w, "exitCode", code);
			else
				jw_null(&w, "exitCode");
			jw_end(&w);
			size_t dn;
			char *doc = jw_finish(&w, &dn);
			if (doc) {
				doc[dn] = '\n'; /* jw_finish's NUL becomes the line's end */
				int rc = httpd_send_chunk(r, doc, dn + 1);
				free(doc);
				if (rc < 0)
					goto gone;
			}
			break;
		}
		if (!follow)
			break;
	}
end:
	if (!r->http10)
		tls_write(r->c, "0\r\n\r\n", 5);
	tls_flush(r->c);
gone:
	if (fd >= 0)
		close(fd);
}

/* 1 when method m is in allow ("GET, DELETE"). */
static int allowed(const char *allow, const char *m)
{
	size_t k = strlen(m);
	for (const char *a = allow; *a;) {
		size_t n = strcspn(a, ", ");
		if (n == k && !strncmp(a, m, k))
			return 1;
		a += n;
		a += strspn(a, ", ");
	}
	return 0;
}

#define STR_(x) #x
#define STR(x) STR_(x)

void api_route(struct req *r)
{
	const char *p = r->path, *m = r->method;
	const char *allow = NULL;
	size_t max = BODY_MAX;
	enum { HEALTH, STATUS, WORKERS, JOBS, JOB, LOG, UI } what;
	char id[64] = "";
	if (!strcmp(p, "/v1/health"))
		what = HEALTH, allow = "GET";
	else if (!strcmp(p, "/v1/status"))
		what = STATUS, allow = "GET";
	else if (!strcmp(p, "/v1/workers"))
		what = WORKERS, allow = "POST";
	else if (!strcmp(p, "/v1/jobs"))
		what = JOBS, allow = "GET, POST", max = BODY_MAX_JOB;
	else if (!strncmp(p, "/v1/jobs/", 9) && strlen(p + 9) < sizeof id && p[9]) {
		snprintf(id, sizeof id, "%s", p + 9);
		char *slash = strchr(id, '/');
		what = JOB, allow = "GET, DELETE";
		if (slash && !strcmp(slash, "/log"))
			*slash = '\0', what = LOG, allow = "GET";
		else if (slash) {
			httpd_reply_err(r, 404, "NotFound", "no such path");
			return;
		}
	} else if (!strncmp(p, "/v1/ui/", 7))
		what = UI, allow = "GET, HEAD"; /* the UIs: read only (uiproxy.c) */
	else {
		httpd_reply_err(r, 404, "NotFound", "no such path");
		return;
	}
	if (!allowed(allow, m)) {
		char h[64];
		snprintf(h, sizeof h, "Allow: %s\r\n", allow);
		struct jw w = {0};
		jw_obj(&w, NULL);
		jw_obj(&w, "error");
		jw_str(&w, "code", "MethodNotAllowed");
		jw_str(&w, "message", "method not allowed here");
		jw_end(&w);
		jw_end(&w);
		httpd_reply_doc(r, 405, &w, h);
		return;
	}
	int rc = httpd_read_body(r, max);
	if (rc != 0)
		return;
	switch (what) {
	case HEALTH: { /* the CLI compares api with its own JOB_API_VERSION */
		static const char ok[] = "{\"ok\":true,\"version\":\"" LEGION_VERSION
					 "\",\"api\":" STR(JOB_API_VERSION) "}";
		httpd_reply_json(r, 200, ok, sizeof ok - 1, NULL);
		break;
	}
	case STATUS: h_status(r); break;
	case WORKERS: h_workers(r); break;
	case JOBS:
		if (!strcmp(m, "POST"))
			h_submit(r);
		else {
			struct jw w = {0};
			jw_obj(&w, NULL);
			jw_arr(&w, "jobs");
			jobd_lock();
			for (struct job *j = jobd.jobs; j; j = j->next)
				jw_job(&w, NULL, j);
			jobd_unlock();
			jw_end(&w);
			jw_end(&w);
			httpd_reply_doc(r, 200, &w, NULL);
		}
		break;
	case JOB: h_job(r, id); break;
	case LOG: h_log(r, id); break;
	case UI: api_ui(r); break;
	}
}

void *api_serve(void *arg)
{
	struct req *r = arg;
	struct tls_conn *c = r->c;
	tls_set_timeout(c, IO_TIMEOUT_MS);
	api_route(r);
	if (verbose && r->status)
		warnx_("%s %s -> %d", r->method, r->path, r->status);
	explicit_bzero(r->head, sizeof r->head);
	buf_free(&r->body);
	free(r);
	tls_close(c);
	jobd_lock();
	jobd.conns--;
	jobd_changed();
	jobd_unlock();
	return NULL;
}
