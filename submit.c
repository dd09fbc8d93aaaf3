/*
 * submit.c: a run's lifecycle: `legion submit` starts a cluster (or uses --master's),
 * its workers, sends the job, follows it (or detaches) and deletes what the run
 * created; `legion deploy-master` starts a master and keeps it. Leaves out options
 * (legion.c), the job API client (cluster.c) and where containers run (backends).
 */
#include "cli.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JVM_OVERHEAD_MB(m) ((m) / 10 > 384 ? (m) / 10 : 384)
#define WORKER_DAEMON_MB 512 /* the Spark worker JVM and the agent beside the executor */

/* Memory of a worker container for an executor of mb MiB. */
static long long worker_group_mb(long long mb)
{
	return mb + JVM_OVERHEAD_MB(mb) + WORKER_DAEMON_MB;
}

static char **argv_dup(const char *const *a)
{
	int n = 0;
	while (a[n])
		n++;
	char **v = calloc((size_t)n + 1, sizeof *v);
	for (int i = 0; v && i < n; i++)
		if (!(v[i] = strdup(a[i]))) {
			for (int k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return NULL;
		}
	return v;
}

/* ---- the cluster's containers ---- */

#define MASTER_PORTS                                                                               \
	{                                                                                          \
		7077, JOB_API_PORT, 7078, 7079                                                     \
	}
#define WORKER_PORTS                                                                               \
	{                                                                                          \
		7078, 7079                                                                         \
	} /* Spark worker, executor block manager: authenticated and encrypted RPC. The UIs
	   * (8080, 8081) are never public: the helpers read them over the container's own
	   * address. */
#define MASTER_DAEMON_MB 512 /* the Spark master JVM and the job daemon */

/* Environment both roles share: cluster, secrets, the master's certificate. */
static int common_env(struct group *g, const struct opts *o, const struct cluster *m)
{
	char idle[32];
	snprintf(idle, sizeof idle, "%lld", o->idle_timeout);
	int rc = group_setenv(g, "LEGION_CLUSTER", m->id, 0) |
		 group_setenv(g, "LEGION_TOKEN", m->token, 1) |
		 group_setenv(g, "LEGION_SPARK_SECRET", m->spark_secret, 1) |
		 group_setenv(g, "LEGION_TLS_CERT", m->cert_pem, 0) |
		 group_setenv(g, "LEGION_TLS_NAME", m->tls_name, 0) |
		 group_setenv(g, "LEGION_IDLE_TIMEOUT", idle, 0);
	return rc;
}

static int role_tags(struct group *g, const struct cluster *m, const char *role)
{
	char now[32];
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	return group_settag(g, "legion-cluster", m->id) | group_settag(g, "legion-role", role) |
	       group_settag(g, "legion-created", now);
}

static int master_group(const struct opts *o, const struct cluster *m, struct group *g)
{
	static const int ports[] = MASTER_PORTS;
	char name[64], idle[32];
	const char *argv[] = {"legion-master", "-i", idle, NULL};
	memset(g, 0, sizeof *g);
	g->exit_code = -1;
	snprintf(name, sizeof name, "%s-master", m->id);
	snprintf(idle, sizeof idle, "%lld", o->idle_timeout);
	g->name = strdup(name);
	g->image = strdup(o->image ? o->image : "local"); /* local runs no image */
	g->dns_label = strdup(m->id);
	g->argv = argv_dup(argv);
	g->cpu = (double)o->driver_cores;
	g->memory_mb = o->driver_mem_mb + JVM_OVERHEAD_MB(o->driver_mem_mb) + MASTER_DAEMON_MB;
	memcpy(g->ports, ports, sizeof ports);
	g->nports = (int)(sizeof ports / sizeof ports[0]);
	if (!g->name || !g->image || !g->dns_label || !g->argv || common_env(g, o, m) ||
	    group_setenv(g, "LEGION_TLS_KEY", m->key_pem, 1) || storage_env(o, g) ||
	    role_tags(g, m, "master"))
		return -1;
	return 0;
}

int worker_group(const struct opts *o, const struct cluster *m, const char *run, int i,
		 struct group *g)
{
	char name[64], cores[16], mem[32];
	const char *argv[] = {"legion-worker", NULL};
	memset(g, 0, sizeof *g);
	g->exit_code = -1;
	snprintf(name, sizeof name, "%s-%s-w%d", m->id, run, i);
	snprintf(cores, sizeof cores, "%lld", o->executor_cores);
	snprintf(mem, sizeof mem, "%lld", o->executor_mem_mb);
	g->name = strdup(name);
	g->image = strdup(o->image ? o->image : "local"); /* local runs no image */
	g->argv = argv_dup(argv);
	g->cpu = (double)o->executor_cores;
	g->memory_mb = worker_group_mb(o->executor_mem_mb);
	/* the master and the driver reach a worker by its own public name (ACI) */
	static const int ports[] = WORKER_PORTS;
	memcpy(g->ports, ports, sizeof ports);
	g->nports = (int)(sizeof ports / sizeof ports[0]);
	g->dns_label = strdup(name);
	if (!g->name || !g->image || !g->argv || !g->dns_label || common_env(g, o, m) ||
	    group_setenv(g, "LEGION_MASTER", m->host[0] ? m->host : m->ip, 0) ||
	    group_setenv(g, "LEGION_WORKER_NAME", name, 0) ||
	    group_setenv(g, "LEGION_WORKER_CORES", cores, 0) ||
	    group_setenv(g, "LEGION_WORKER_MEMORY", mem, 0) || role_tags(g, m, "worker"))
		return -1;
	return 0;
}

/* One line on stderr when the master's helpers speak another job API than this CLI
 * (an image built for another legion: its /v1/health says which). */
static void check_api(const struct http_resp *r)
{
	struct json j = {0};
	long long api = -1;
	char version[32] = "";
	if (json_parse(&j, r->body.p, r->body.len, NULL) == 0) {
		json_int(&j, json_get(&j, 0, "api"), &api);
		json_strcpy(&j, json_get(&j, 0, "version"), version, sizeof version);
	}
	json_free(&j);
	char speaks[32] = "no job API version";
	if (api >= 0)
		snprintf(speaks, sizeof speaks, "job API %lld", api);
	if (api != JOB_API_VERSION)
		warnx_("warning: the master's helpers (legion %s) speak %s, this legion %s speaks "
		       "%d: build and push its image ('make image' tags it %s)",
		       version[0] ? version : "before 0.1.0", speaks, LEGION_VERSION,
		       JOB_API_VERSION, LEGION_VERSION);
}

/* Polls the job API until it answers, the master's container ends, or the deadline. A
 * GET that fails is not an answer: only a master the backend says is gone or ended is
 * reported so. */
static int wait_master(struct backend *be, const struct cluster *m, const char *group, int *ex)
{
	long long secs = 180, pause = 200;
	const char *t = getenv("LEGION_MASTER_TIMEOUT");
	if (t && *t && parse_int(t, 1, 86400, &secs) < 0) {
		warnx_("LEGION_MASTER_TIMEOUT: '%s' is not a whole number of seconds (1-86400)", t);
		*ex = EXIT_CONFIG;
		return -1;
	}
	long long deadline = now_ms() + secs * 1000;
	while (!got_signal) {
		struct http_resp r = {0};
		int ok = cluster_call(m, "GET", "/v1/health", NULL, 0, 1, 3000, &r) == 0 &&
			 r.status == 200;
		if (ok)
			check_api(&r);
		http_resp_free(&r);
		if (ok)
			return 0;
		struct group g;
		int e2, rc = be->ops->get(be, group, &g, &e2);
		if (rc == BACKEND_GONE || (rc == BACKEND_FOUND && !group_alive(g.state))) {
			struct buf log = {0};
			if (rc == BACKEND_FOUND && be->ops->logs(be, group, 20, &log, &e2) == 0 &&
			    log.len)
				fprintf(stderr, "%s", log.p);
			warnx_("the master %s stopped (%s) before its job API answered", group,
			       rc == BACKEND_FOUND ? group_state_name(g.state) : "gone");
			buf_free(&log);
			if (rc == BACKEND_FOUND)
				group_free(&g);
			*ex = EXIT_UNAVAIL;
			return -1;
		}
		if (rc == BACKEND_FOUND)
			group_free(&g);
		if (now_ms() > deadline) {
			warnx_("the master %s did not answer within %lld s "
			       "(LEGION_MASTER_TIMEOUT); "
			       "'legion logs %s --container %s' may say why",
			       group, secs, m->id, group);
			*ex = EXIT_UNAVAIL; /* README: the master never came up */
			return -1;
		}
		sleep_ms(pause, &got_signal);
		pause = pause < 2000 ? pause * 3 / 2 : 2000;
	}
	*ex = interrupted();
	return -1;
}

#define API_GONE_MS 60000 /* a running master whose job API is silent this long is gone */

/* Waits until want workers of this run have registered with the job daemon; gives up
 * at once when the master's group ended meanwhile (a crash), or when its job API has
 * not answered for API_GONE_MS, naming which. */
static int wait_workers(struct backend *be, const struct cluster *m, const char *prefix, int want,
			int *ex)
{
	long long deadline = now_ms() + 600000, said = 0, checked = now_ms(), heard = now_ms();
	int last = -1;
	while (!got_signal) {
		struct http_resp r = {0};
		struct json j = {0};
		int have = 0, answered = 0;
		if (cluster_call(m, "GET", "/v1/status", NULL, 0, 1, 5000, &r) == 0 &&
		    r.status == 200 && json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
			answered = 1;
			int ws = json_get(&j, 0, "workers");
			for (int k = 0; ws >= 0 && k < j.t[ws].size; k++) {
				char name[128];
				if (json_strcpy(&j, json_get(&j, json_at(&j, ws, k), "name"), name,
						sizeof name) == 0 &&
				    !strncmp(name, prefix, strlen(prefix)))
					have++;
			}
		}
		json_free(&j);
		http_resp_free(&r);
		if (have != last || now_ms() - said > 10000) {
			progress_note(have == last, "%d of %d workers registered", have, want);
			last = have;
			said = now_ms();
		}
		if (have >= want) {
			progress_clear();
			return 0;
		}
		if (answered)
			heard = now_ms();
		else if (now_ms() - checked > 3000) {
			checked = now_ms();
			if (master_unusable(be, m->id, want, now_ms() - heard, API_GONE_MS)) {
				*ex = EXIT_UNAVAIL;
				return -1;
			}
		}
		if (now_ms() > deadline) {
			progress_clear();
			warnx_("only %d of %d workers registered within 600 s", have, want);
			*ex = EXIT_TEMPFAIL;
			return -1;
		}
		sleep_ms(250, &got_signal);
	}
	progress_clear();
	*ex = interrupted();
	return -1;
}

/* Adds each file of a comma-separated list to array key: {"name", base64 "data"} for a
 * file here (with "alias" after an archive's '#'), {"url"} for a URL Spark fetches. */
static int add_files(struct jw *w, const char *key, const char *list)
{
	jw_arr(w, key);
	char *copy = strdup(list), *save = NULL;
	int rc = copy ? 0 : -1;
	for (char *f = copy ? strtok_r(copy, ",", &save) : NULL; f && rc == 0;
	     f = strtok_r(NULL, ",", &save)) {
		struct buf raw = {0}, b64 = {0};
		if (strstr(f, "://")) {
			jw_obj(w, NULL);
			jw_str(w, "url", f);
			jw_end(w);
			continue;
		}
		char *alias = !strcmp(key, "archives") ? strchr(f, '#') : NULL;
		if (alias)
			*alias++ = '\0';
		const char *base = strrchr(f, '/');
		if (read_file(f, 64 << 20, &raw) < 0 || base64_encode(raw.p, raw.len, &b64) < 0) {
			warn_("unable to read %s", f);
			rc = -1;
		} else {
			jw_obj(w, NULL);
			jw_str(w, "name", base ? base + 1 : f);
			if (alias)
				jw_str(w, "alias", alias);
			jw_strn(w, "data", b64.p, b64.len);
			jw_end(w);
		}
		buf_free(&raw);
		buf_free(&b64);
	}
	free(copy);
	jw_end(w);
	return rc;
}

/* One "key=value" of o's conf (or the properties file) into the job's "conf". */
static void conf_entry(struct jw *w, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[256];
	snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
	jw_str(w, key, eq + 1);
}

/* The job's "conf": legion's sizes, then the config file's, --properties-file's, the
 * --conf options and what spark-submit's own options set (later ones win, as in
 * spark-submit). */
static void job_conf(struct jw *w, const struct opts *o)
{
	char v[32];
	jw_obj(w, "conf");
	snprintf(v, sizeof v, "%lldm", o->executor_mem_mb);
	jw_str(w, "spark.executor.memory", v);
	snprintf(v, sizeof v, "%lld", o->executor_cores);
	jw_str(w, "spark.executor.cores", v);
	snprintf(v, sizeof v, "%lldm", o->driver_mem_mb);
	jw_str(w, "spark.driver.memory", v);
	/* the job starts with the executors it asked for, not whatever is there yet: Spark
	 * standalone waits for cores.max * ratio cores (at most its 30 s default) */
	snprintf(v, sizeof v, "%lld",
		 o->total_cores ? o->total_cores : o->num_executors * o->executor_cores);
	if (o->max_executors)
		scale_conf(w, o); /* the executors come and go */
	else {
		jw_str(w, "spark.cores.max", v);
		jw_str(w, "spark.scheduler.minRegisteredResourcesRatio", "1.0");
	}
	for (int i = 0; i < o->nconf_file; i++)
		conf_entry(w, o->conf[i]);
	for (int i = 0; i < o->nprops; i++)
		conf_entry(w, o->props[i]);
	for (int i = o->nconf_file; i < o->nconf; i++)
		conf_entry(w, o->conf[i]);
	const struct {
		const char *key, *val;
	} flags[] = {
		{"spark.jars.packages", o->packages},
		{"spark.jars.repositories", o->repositories},
		{"spark.jars.excludes", o->exclude_packages},
		{"spark.driver.extraJavaOptions", o->driver_java_options},
		{"spark.driver.extraClassPath", o->driver_class_path},
		{"spark.driver.extraLibraryPath", o->driver_library_path},
	};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (flags[i].val)
			jw_str(w, flags[i].key, flags[i].val);
	jw_end(w);
}

/* The job document of DESIGN.md's POST /v1/jobs. Owned, or NULL. */
static char *job_body(const struct opts *o, size_t *n)
{
	struct buf raw = {0}, b64 = {0};
	struct jw w = {0};
	char *doc = NULL;
	const char *base = strrchr(o->app, '/');
	base = base ? base + 1 : o->app;
	if (read_file(o->app, 64 << 20, &raw) < 0 || base64_encode(raw.p, raw.len, &b64) < 0) {
		warn_("unable to read %s", o->app);
		goto out;
	}
	jw_obj(&w, NULL);
	jw_str(&w, "name", o->name ? o->name : base);
	jw_str(&w, "app", base);
	jw_strn(&w, "appData", b64.p, b64.len);
	jw_arr(&w, "args");
	for (int i = 0; i < o->napp_args; i++)
		jw_str(&w, NULL, o->app_args[i]);
	jw_end(&w);
	job_conf(&w, o);
	if (o->klass)
		jw_str(&w, "class", o->klass);
	if ((o->py_files && add_files(&w, "pyFiles", o->py_files) < 0) ||
	    (o->jars && add_files(&w, "jars", o->jars) < 0) ||
	    (o->files && add_files(&w, "files", o->files) < 0) ||
	    (o->archives && add_files(&w, "archives", o->archives) < 0)) {
		jw_finish(&w, NULL);
		goto out;
	}
	jw_end(&w);
	doc = jw_finish(&w, n);
out:
	buf_free(&raw);
	buf_free(&b64);
	return doc;
}

/* What one run created and what becomes of it: the single owner of its teardown. */
struct run {
	const struct opts *o;
	struct backend be;
	int opened;
	struct cluster c;
	int new_cluster;         /* this run made the cluster (not --master) */
	char master[64];         /* the master's group name while this run owns it */
	struct group *ws;        /* this run's workers (nw allocated) */
	int nw, nws;             /* allocated; created and so this run's to delete */
	char tag[5], prefix[64]; /* this run's worker names: CLUSTER-TAG-wN */
	char *body;              /* the job document */
	size_t blen;
	char job[64];                    /* the job's id once submitted */
	int started;                     /* the master and every worker were created */
	int keep;                        /* leave everything running (--keep-alive, --detach) */
	long long master_ms, workers_ms; /* when their creation began (cost.c) */
	double master_cpu;
	long long master_mb;
	struct price price; /* --price-file's row for --location, if any */
	struct heal heal;   /* replaces workers that stop mid-job (heal.c) */
	struct scale *sc;   /* --max-executors: the workers' owner while the job runs */
};

/* The cost line of a run whose job ran: what its groups held until now (deleted). */
static void run_cost(const struct run *r)
{
	struct cost c = {0};
	long long now = now_ms();
	if (!r->job[0] || r->keep)
		return;
	if (r->master[0])
		cost_add(&c, r->master_cpu, r->master_mb, r->master_ms, now);
	double wsecs = scale_cost(r->sc, &c, now);
	for (int i = 0; i < r->nws; i++) {
		cost_add(&c, r->ws[i].cpu, r->ws[i].memory_mb, r->workers_ms, now);
		wsecs += (double)(now - r->workers_ms) / 1000.0;
	}
	cost_print(&c, &r->price, /* no row on the local backend (price_for) */
		   r->master[0] ? "this run's cluster" : "this run's workers");
	char how[64];
	if (r->sc)
		scale_summary(r->sc, how, sizeof how);
	else
		snprintf(how, sizeof how, "%d worker%s", r->nws, r->nws == 1 ? "" : "s");
	fprintf(stderr, "%s: worker-seconds: %.0f (%s)\n", progname, wsecs, how);
}

/* Deletes what the run created unless it is kept; forgets the credentials of a cluster
 * it made. Returns ex, or EXIT_TEMPFAIL when something could not be deleted and the
 * run would have succeeded. */
static int run_teardown(struct run *r, int ex)
{
	char **names = calloc((size_t)r->nws + 2, sizeof *names);
	int n = 0;
	scale_stop(r->sc);
	if (!r->keep && scale_delete(r->sc) < 0 && ex == 0)
		ex = EXIT_TEMPFAIL; /* the scaler's workers first, then the rest */
	if (!r->keep && names) {
		for (int i = 0; i < r->nws; i++)
			names[n++] = r->ws[i].name;
		if (r->master[0])
			names[n++] = r->master;
		if (n > 0 && backend_delete(&r->be, names, n) < 0 && ex == 0)
			ex = EXIT_TEMPFAIL;
	}
	if (r->new_cluster && !r->keep)
		cluster_forget(r->c.id);
	if (r->opened)
		run_cost(r);
	free(names);
	scale_free(r->sc);
	for (int i = 0; r->ws && i < r->nw; i++)
		group_free(&r->ws[i]);
	free(r->ws);
	free(r->body);
	cluster_free(&r->c);
	if (r->opened)
		r->be.ops->close(&r->be);
	return ex;
}

/* A new cluster (id, secrets, TLS identity) and its master's group into *g. */
static int new_master(struct run *r, struct group *g, int *ex)
{
	if (cluster_new(&r->c, r->be.ops->name) < 0) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	r->new_cluster = 1;
	snprintf(cleanup_hint, sizeof cleanup_hint, "legion delete %s\n", r->c.id);
	if (master_group(r->o, &r->c, g) < 0) {
		warnx_("out of memory");
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	fprintf(stderr, "%s: starting cluster %s (%s backend)\n", progname, r->c.id,
		r->be.ops->name);
	r->master_ms = now_ms();
	r->master_cpu = g->cpu;
	r->master_mb = g->memory_mb;
	return 0;
}

/* The master's group g was created: this run owns it; where it is into r->c (the name
 * workers use stays the one they were given, if any), saved. */
static int master_made(struct run *r, const struct group *g, int *ex)
{
	snprintf(r->master, sizeof r->master, "%s", g->name);
	snprintf(r->c.ip, sizeof r->c.ip, "%s", g->ip ? g->ip : "");
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
	if (r->c.host[0]) {
		/* announced to the workers before the master existed: theirs stays */
	} else if (g->fqdn && getaddrinfo(g->fqdn, NULL, &hints, &res) == 0) {
		freeaddrinfo(res); /* public DNS: what Spark's master advertises (ACI) */
		snprintf(r->c.host, sizeof r->c.host, "%s", g->fqdn);
	} else
		snprintf(r->c.host, sizeof r->c.host, "%s", r->c.ip);
	if (cluster_save(&r->c) < 0) {
		*ex = EXIT_CONFIG;
		return -1;
	}
	return 0;
}

/* Waits for the job API of the master this run made. */
static int master_up(struct run *r, int *ex)
{
	if (wait_master(&r->be, &r->c, r->master, ex) < 0)
		return -1;
	timings_mark("master answered");
	return 0;
}

/* Creates the master's group g (new_master's; the caller frees it) alone and waits
 * for its job API. */
static int start_master(struct run *r, struct group *g, int *ex)
{
	timings_mark("master requested");
	if (r->be.ops->create(&r->be, g, 1, ex) < 0)
		return -1; /* a failed create deleted it */
	timings_mark("master provisioned");
	if (master_made(r, g, ex) < 0)
		return -1;
	return master_up(r, ex);
}

/* The master's name for its workers when the backend knows it before the master exists
 * (ACI's public DNS name) into r->c.host; 0 then, and the run starts everything at once. */
static int master_known(struct run *r, const struct group *g)
{
	if (!r->be.ops->peer_name || r->nw == 0 ||
	    r->be.ops->peer_name(&r->be, g, r->c.host, sizeof r->c.host) < 0) {
		r->c.host[0] = '\0';
		return -1;
	}
	return 0;
}

/* One fan-out for a new cluster's master and the run's nw workers (built from
 * r->c.host, which names the master before it exists; they register once it answers),
 * then waits for the master's job API. A failed create deleted all of them; after it,
 * the run owns them all (run_teardown). */
static int start_together(struct run *r, struct group *master, int *ex)
{
	struct group *gs = calloc((size_t)r->nw + 1, sizeof *gs);
	if (!gs) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	gs[0] = *master; /* gs owns them during the create, then hands them back */
	memcpy(gs + 1, r->ws, (size_t)r->nw * sizeof *gs);
	fprintf(stderr, "%s: starting %d worker%s with the master\n", progname, r->nw,
		r->nw == 1 ? "" : "s");
	r->workers_ms = r->master_ms = now_ms();
	timings_mark("master and %d worker%s requested", r->nw, r->nw == 1 ? "" : "s");
	int rc = r->be.ops->create(&r->be, gs, r->nw + 1, ex);
	*master = gs[0];
	memcpy(r->ws, gs + 1, (size_t)r->nw * sizeof *gs);
	free(gs);
	if (rc < 0)
		return -1;
	timings_mark("master and workers provisioned");
	r->nws = r->nw;
	r->started = 1;
	if (master_made(r, master, ex) < 0)
		return -1;
	return master_up(r, ex);
}

/* This run's r->nw workers' groups, built for the cluster in r->c. */
static int build_workers(struct run *r, int *ex)
{
	random_hex(r->tag, 2);
	snprintf(r->prefix, sizeof r->prefix, "%s-%s-w", r->c.id, r->tag);
	if (!(r->ws = calloc((size_t)r->nw + 1, sizeof *r->ws))) { /* --min-executors 0: none */
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	for (int i = 0; i < r->nw; i++)
		if (worker_group(r->o, &r->c, r->tag, i + 1, &r->ws[i]) < 0) {
			warnx_("out of memory");
			*ex = EXIT_SOFTWARE;
			return -1;
		}
	return 0;
}

/* Refuses (-1, *ex) a run the backend's platform cannot hold: the executors' cores
 * (the driver mostly waits while they compute), and every group's memory. */
static int check_capacity(struct run *r, int *ex)
{
	const struct opts *o = r->o;
	double cpus;
	long long have_mb, want_mb = o->num_executors * worker_group_mb(o->executor_mem_mb);
	if (!r->be.ops->capacity || o->force)
		return 0;
	r->be.ops->capacity(&r->be, &cpus, &have_mb);
	if ((*ex = scale_quota(o, cpus)) != 0)
		return -1;
	if (!o->master)
		want_mb += o->driver_mem_mb + JVM_OVERHEAD_MB(o->driver_mem_mb) + MASTER_DAEMON_MB;
	long long cores = o->num_executors * o->executor_cores;
	if ((double)cores > cpus) {
		warnx_("%lld executors x %lld cores = %lld cores, but this machine has %.0f "
		       "(--force starts them anyway)",
		       o->num_executors, o->executor_cores, cores, cpus);
		*ex = EXIT_UNAVAIL;
		return -1;
	}
	if (have_mb > 0 && want_mb > have_mb) {
		warnx_("the cluster needs %lld MB of memory (executors, JVM overhead and %s), but "
		       "this machine has %lld MB (--force starts it anyway)",
		       want_mb, o->master ? "workers' daemons" : "the master", have_mb);
		*ex = EXIT_UNAVAIL;
		return -1;
	}
	return 0;
}

/* The cluster (new, or --master's) and this run's workers, registered. A new cluster
 * whose master's name is known up front starts master and workers together
 * (start_together); otherwise the master first, then the workers. */
static int run_start(struct run *r, int *ex)
{
	const struct opts *o = r->o;
	struct group mg = {0};
	int rc = -1, together = 0;
	if (open_backend(o, &r->be, ex) < 0)
		return -1;
	r->opened = 1;
	if (check_capacity(r, ex) < 0)
		return -1;
	if (!(r->body = job_body(o, &r->blen))) {
		*ex = EXIT_DATAERR;
		return -1;
	}
	r->nw = (int)o->num_executors;
	if (o->master) {
		int lrc = cluster_load(o->master, &r->c);
		if (lrc != 0) {
			if (lrc > 0)
				warnx_("no credentials for cluster %s here: it was not "
				       "deployed from this machine (or was deleted)",
				       o->master);
			*ex = EXIT_CONFIG;
			return -1;
		}
		snprintf(cleanup_hint, sizeof cleanup_hint,
			 "legion delete %s (the whole cluster; its workers also stop "
			 "themselves when idle)\n",
			 r->c.id);
	} else {
		if (new_master(r, &mg, ex) < 0)
			goto out;
		together = master_known(r, &mg) == 0;
		if (!together && start_master(r, &mg, ex) < 0)
			goto out;
	}
	if (build_workers(r, ex) < 0)
		goto out;
	if (together) {
		if (start_together(r, &mg, ex) < 0)
			goto out;
	} else {
		fprintf(stderr, "%s: starting %d worker%s\n", progname, r->nw,
			r->nw == 1 ? "" : "s");
		r->workers_ms = now_ms();
		timings_mark("%d worker%s requested", r->nw, r->nw == 1 ? "" : "s");
		if (r->nw > 0 && r->be.ops->create(&r->be, r->ws, r->nw, ex) < 0)
			goto out; /* create deleted the workers it made */
		timings_mark("workers provisioned");
		r->nws = r->nw;
		r->started = 1;
	}
	if (wait_workers(&r->be, &r->c, r->prefix, r->nw, ex) < 0)
		goto out;
	timings_mark("%d worker%s registered", r->nw, r->nw == 1 ? "" : "s");
	rc = 0;
out:
	group_free(&mg);
	return rc;
}

/* POSTs the job; its id into r->job. */
static int run_submit(struct run *r, int *ex)
{
	struct http_resp h = {0};
	struct json j = {0};
	int rc = -1;
	if (cluster_call(&r->c, "POST", "/v1/jobs", r->body, r->blen, 1, 120000, &h) < 0 ||
	    h.status != 201) {
		warnx_("the master refused the job: %s", h.err[0] ? h.err : "no id");
		*ex = h.status == 400 || h.status == 413 ? EXIT_DATAERR : EXIT_UNAVAIL;
	} else if (json_parse(&j, h.body.p, h.body.len, NULL) != 0 ||
		   json_strcpy(&j, json_get(&j, 0, "id"), r->job, sizeof r->job) < 0) {
		warnx_("the master answered the job without an id");
		*ex = EXIT_UNAVAIL;
	} else {
		fprintf(stderr, "%s: job %s submitted to %s\n", progname, r->job, r->c.id);
		timings_mark("job submitted");
		rc = 0;
	}
	json_free(&j);
	http_resp_free(&h);
	return rc;
}

/* --detach: {"cluster","job"} on stdout; the cluster stops itself after the job and
 * --idle-timeout. */
static void run_detach(struct run *r)
{
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "cluster", r->c.id);
	jw_str(&w, "job", r->job);
	jw_end(&w);
	char *doc = jw_finish(&w, NULL);
	printf("%s\n", doc ? doc : "{}");
	free(doc);
	r->keep = 1;
}

/* A state and exit code from the job daemon into the CLI's exit status. */
static int job_exit(const char *state, int code)
{
	if (!strcmp(state, "SUCCEEDED"))
		return 0;
	if (code > 0 && code < 256)
		return code;
	return 1;
}

/* A replacement worker, numbered like the run's others (heal.c). */
static int make_worker(void *arg, int number, struct group *g)
{
	struct run *r = arg;
	return worker_group(r->o, &r->c, r->tag, number, g);
}

/* The loop that follows the job: called every few seconds (from heal.c's ticker
 * thread) while the main thread streams the job's log. */
static void follow_tick(void *arg)
{
	struct run *r = arg;
	heal_tick(&r->heal);
}

/* Streams the job's output to its end and returns its exit status; on a signal, kills
 * the job first. */
static int run_follow(struct run *r)
{
	char state[32] = "";
	int code = -1;
	struct job_sink sink = {progress_line, NULL};
	struct ticker t = {0};
	struct heal_cfg hc = {&r->be,      r->c.id, r->o->max_replacements, &r->ws, &r->nw, &r->nws,
			      make_worker, r};
	if (hc.max < 0)
		hc.max = r->o->num_executors;
	heal_init(&r->heal, &hc);
	progress_start(r->o->log_level, r->job, r->nw);
	/* a scaled run's scaler owns the workers and replaces lost ones for Spark's target;
	 * otherwise heal.c's ticker replaces them */
	r->sc = scale_start(&r->be, r->o, &r->c, r->tag, r->ws, &r->nws, r->workers_ms);
	if (!r->sc)
		ticker_start(&t, 3000, follow_tick, r);
	int rc = cluster_follow(&r->c, r->job, &sink, state, sizeof state, &code);
	ticker_stop(&t);
	scale_stop(r->sc); /* the job ended: nothing more to scale */
	progress_clear();
	timings_mark("job finished (%s)", rc == 0 ? state : "not followed to its end");
	if (rc == 0) {
		heal_free(&r->heal);
		fprintf(stderr, "%s: job %s %s (exit %d)\n", progname, r->job, state, code);
		return job_exit(state, code);
	}
	if (!got_signal) {
		heal_master_lost(&r->heal);
		heal_free(&r->heal);
		return EXIT_UNAVAIL;
	}
	heal_free(&r->heal);
	fprintf(stderr, "%s: interrupted: killing job %s\n", progname, r->job);
	struct http_resp h = {0};
	char path[128];
	snprintf(path, sizeof path, "/v1/jobs/%s", r->job);
	http_hold_begin(); /* a second signal must not stop the kill */
	cluster_call(&r->c, "DELETE", path, NULL, 0, 2, 10000, &h);
	http_hold_end();
	http_resp_free(&h);
	return interrupted();
}

int cmd_submit(const struct opts *o)
{
	struct run r = {.o = o};
	int ex = 0;
	if ((ex = price_for(o, &r.price)) != 0)
		return ex;
	progress_start(o->log_level, "job", (int)o->num_executors);
	timings_start(o->timings || verbose, (int)o->num_executors);
	if (run_start(&r, &ex) == 0 && run_submit(&r, &ex) == 0) {
		if (o->detach)
			run_detach(&r);
		else
			ex = run_follow(&r);
	}
	if (o->keep_alive && r.started) {
		fprintf(stderr, "%s: keeping cluster %s: 'legion delete %s' removes it\n", progname,
			r.c.id, r.c.id);
		r.keep = 1;
	}
	ex = run_teardown(&r, ex);
	timings_mark("teardown done");
	if (!ex && got_signal)
		ex = interrupted();
	return ex;
}

int cmd_deploy(const struct opts *o)
{
	struct run r = {.o = o};
	int ex = 0;
	if (open_backend(o, &r.be, &ex) < 0)
		return ex;
	r.opened = 1;
	struct group mg = {0};
	int ok = new_master(&r, &mg, &ex) == 0 && start_master(&r, &mg, &ex) == 0;
	group_free(&mg);
	if (ok) {
		struct jw w = {0};
		struct group g;
		char ui[300];
		int e2, got = r.be.ops->get(&r.be, r.master, &g, &e2) == BACKEND_FOUND;
		/* the master's UI is reachable on this machine (local) only: never public */
		snprintf(ui, sizeof ui, "http://%s:8080", r.c.ip);
		jw_obj(&w, NULL);
		jw_str(&w, "cluster", r.c.id);
		jw_str(&w, "backend", r.be.ops->name);
		jw_obj(&w, "master");
		jw_str(&w, "name", r.master);
		jw_str(&w, "ip", r.c.ip);
		jw_str(&w, "fqdn", got ? g.fqdn : NULL);
		jw_str(&w, "ui", strcmp(r.be.ops->name, "local") ? NULL : ui);
		jw_end(&w);
		jw_end(&w);
		if (got)
			group_free(&g);
		char *doc = jw_finish(&w, NULL);
		printf("%s\n", doc ? doc : "{}");
		free(doc);
		r.keep = 1; /* the master is the point */
	}
	return run_teardown(&r, ex);
}
