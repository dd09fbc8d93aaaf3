/*
 * scale.c: --max-executors: Spark's dynamic allocation (its conf, the options' checks)
 * and the scaler of an attached submit: a thread beside the job's log that reads what
 * the driver wants (its ExecutorAllocationManager gauges, through the job API's proxy of
 * the driver's UI), creates worker groups for the difference in one fan-out, deletes
 * workers whose executor Spark released (by the Spark master's view), and keeps each
 * group's lifetime for the cost and worker-seconds lines. Leaves out the run's lifecycle (submit.c), how a worker
 * group looks (submit.c's worker_group) and where containers run (backends); a detached
 * cluster is not scaled (README: scaling).
 */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SCALE_POLL_MS 2000      /* how often the scaler looks */
#define SCALE_IDLE_SEEN 2       /* polls a worker shows no executor before it goes */
#define SCALE_BACKOFF_MAX 60000 /* the longest wait after a refused scale-out */

int scale_opts(struct opts *o)
{
	if (!o->max_executors) {
		if (o->min_executors_set)
			return bad(o, "--min-executors %lld needs --max-executors",
				   o->min_executors);
		return 0;
	}
	if (o->max_executors < o->min_executors)
		return bad(o, "--max-executors %lld is below --min-executors %lld",
			   o->max_executors, o->min_executors);
	if (o->num_executors_set && o->max_executors < o->num_executors)
		return bad(o, "--max-executors %lld is below --num-executors %lld",
			   o->max_executors, o->num_executors);
	if (o->num_executors_set && o->num_executors < o->min_executors)
		return bad(o, "--num-executors %lld is below --min-executors %lld",
			   o->num_executors, o->min_executors);
	if (o->total_cores)
		return bad(o,
			   "--total-executor-cores %lld caps a fixed cluster; with "
			   "--max-executors %lld the cap is --max-executors",
			   o->total_cores, o->max_executors);
	if (o->detach)
		return bad(o,
			   "--max-executors %lld needs an attached submit: with --detach "
			   "nobody would scale the workers (README: scaling)",
			   o->max_executors);
	if (!o->num_executors_set)
		o->num_executors = o->min_executors; /* Spark's initialExecutors */
	return 0;
}

int scale_quota(const struct opts *o, double cpus)
{
	long long cores = o->max_executors * o->executor_cores;
	if (!o->max_executors || o->force || (double)cores <= cpus)
		return 0;
	return bad(o,
		   "--max-executors %lld x %lld cores = %lld cores is above the %.0f this machine "
		   "has (--force starts them anyway)",
		   o->max_executors, o->executor_cores, cores, cpus);
}

void scale_conf(struct jw *w, const struct opts *o)
{
	char v[32];
	jw_str(w, "spark.dynamicAllocation.enabled", "true");
	/* standalone workers keep no shuffle service: executors holding shuffle data that
	 * is still referenced stay (the shuffle survives scale-in) */
	jw_str(w, "spark.dynamicAllocation.shuffleTracking.enabled", "true");
	/* a shuffle no job references any more is forgotten at the driver's next GC, and
	 * only then its executors may go: Spark's default waits up to 30 min for it */
	jw_str(w, "spark.cleaner.periodicGC.interval", "15s");
	/* an idle executor goes after 15 s, not Spark's 60: its worker is billed until then
	 * (bench/scale.sh) */
	jw_str(w, "spark.dynamicAllocation.executorIdleTimeout", "15s");
	/* an executor Spark releases, or one on a worker being stopped (legion-idle sends
	 * the Spark worker SIGPWR first), hands its cached and shuffle blocks to the others
	 * before it exits */
	jw_str(w, "spark.decommission.enabled", "true");
	jw_str(w, "spark.storage.decommission.enabled", "true");
	jw_str(w, "spark.storage.decommission.shuffleBlocks.enabled", "true");
	jw_str(w, "spark.storage.decommission.rddBlocks.enabled", "true");
	snprintf(v, sizeof v, "%lld", o->min_executors);
	jw_str(w, "spark.dynamicAllocation.minExecutors", v);
	snprintf(v, sizeof v, "%lld", o->max_executors);
	jw_str(w, "spark.dynamicAllocation.maxExecutors", v);
	snprintf(v, sizeof v, "%lld", o->num_executors);
	jw_str(w, "spark.dynamicAllocation.initialExecutors", v);
	/* the cap is the most executors; the job does not wait for workers that come later
	 * (no spark.scheduler.minRegisteredResourcesRatio) */
	snprintf(v, sizeof v, "%lld", o->max_executors * o->executor_cores);
	jw_str(w, "spark.cores.max", v);
}

/* ---- what Spark wants ---- */

/* Spark's gauge whose name ends in suffix, in the metrics document at token gauges. */
static int gauge(const struct json *j, int gauges, const char *suffix, long long *out)
{
	size_t sn = strlen(suffix);
	for (int k = gauges + 1, i = 0; gauges >= 0 && i < j->t[gauges].size;
	     i++, k = json_skip(j, k + 1)) {
		const jsmntok_t *key = &j->t[k];
		size_t kn = (size_t)(key->end - key->start);
		if (kn >= sn && !memcmp(j->s + key->end - sn, suffix, sn))
			return json_int(j, json_get(j, k + 1, "value"), out);
	}
	return -1;
}

int scale_wants(const struct cluster *m, long long *target, long long *needed)
{
	struct http_resp r = {0};
	struct json j = {0};
	int rc = -1;
	if (cluster_call(m, "GET", "/v1/ui/driver/metrics/json/", NULL, 0, 1, 5000, &r) == 0 &&
	    r.status == 200 && json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
		int g = json_get(&j, 0, "gauges");
		long long x = 0;
		if (gauge(&j, g, ".ExecutorAllocationManager.executors.numberTargetExecutors",
			  target) == 0) {
			rc = 0;
			if (needed)
				*needed = gauge(&j, g,
						".ExecutorAllocationManager.executors."
						"numberMaxNeededExecutors",
						&x) == 0
						  ? x
						  : -1;
		}
	}
	if (rc < 0 && verbose)
		warnx_("scaler: no target from the driver: HTTP %ld %s %.200s", r.status, r.err,
		       r.body.p ? r.body.p : "");
	json_free(&j);
	http_resp_free(&r);
	return rc;
}

/* ---- the scaler ---- */

struct sworker {
	struct group g;
	long long born_ms, gone_ms; /* gone_ms 0 while it exists */
	int idle;                   /* polls in a row it showed no executor */
};

struct scale {
	struct backend *be;
	const struct opts *o;
	const struct cluster *c;
	char tag[8], prefix[80];
	struct sworker *w;
	int n, cap, next; /* workers (gone ones kept for the cost), the next index */
	int peak;
	pthread_t th;
	int running;
	volatile sig_atomic_t stop;
	long long retry_ms, backoff; /* after a refused scale-out */
	int refused;                 /* a refusal was reported (once a run) */
	int limit;                   /* after a refusal: at most this many at once */
};

static int alive(const struct scale *s)
{
	int k = 0;
	for (int i = 0; i < s->n; i++)
		k += !s->w[i].gone_ms;
	return k;
}

static struct sworker *find(struct scale *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!s->w[i].gone_ms && !strcmp(s->w[i].g.name, name))
			return &s->w[i];
	return NULL;
}

/* Whether the Spark master's live worker at host runs an executor (cores in use), in
 * its /json/ document mj: 1, 0, or -1 when the master does not list it. */
static int master_busy(const struct json *mj, const char *host)
{
	int ws = mj->t ? json_get(mj, 0, "workers") : -1, found = -1;
	for (int k = 0; ws >= 0 && k < mj->t[ws].size; k++) {
		int e = json_at(mj, ws, k);
		long long used = 0;
		if (json_eq(mj, json_get(mj, e, "host"), host) != 1 ||
		    json_eq(mj, json_get(mj, e, "state"), "ALIVE") != 1 ||
		    json_int(mj, json_get(mj, e, "coresused"), &used) < 0)
			continue;
		if (used > 0)
			return 1;
		found = 0;
	}
	return found;
}

/* Which workers of this run have no executor: the Spark master's own view (its /json/
 * through the job API, current the moment Spark releases an executor), else what the
 * worker's agent last reported (the job daemon's /v1/status, up to a heartbeat old).
 * Idle counts go up for those with none, back to 0 for the others. */
static void observe(struct scale *s)
{
	struct http_resp r = {0}, mr = {0};
	struct json j = {0}, mj = {0};
	if (cluster_call(s->c, "GET", "/v1/ui/master/json/", NULL, 0, 1, 5000, &mr) < 0 ||
	    mr.status != 200 || json_parse(&mj, mr.body.p, mr.body.len, NULL) != 0)
		json_free(&mj); /* then only the agents' reports */
	if (cluster_call(s->c, "GET", "/v1/status", NULL, 0, 1, 5000, &r) == 0 && r.status == 200 &&
	    json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
		int ws = json_get(&j, 0, "workers");
		for (int k = 0; ws >= 0 && k < j.t[ws].size; k++) {
			int e = json_at(&j, ws, k);
			char name[128], host[256];
			long long ex = -1;
			struct sworker *w;
			if (json_strcpy(&j, json_get(&j, e, "name"), name, sizeof name) < 0 ||
			    !(w = find(s, name)))
				continue;
			json_int(&j, json_get(&j, e, "executors"), &ex);
			int busy = json_strcpy(&j, json_get(&j, e, "host"), host, sizeof host) < 0
					   ? -1
					   : master_busy(&mj, host);
			if (busy < 0)
				busy = ex != 0;
			w->idle = busy ? 0 : w->idle + 1;
		}
	}
	json_free(&mj);
	json_free(&j);
	http_resp_free(&mr);
	http_resp_free(&r);
}

static void say(const struct scale *s, int to, long long want)
{
	fprintf(stderr, "%s: scaling to %d worker%s (Spark wants %lld, %d running)\n", progname, to,
		to == 1 ? "" : "s", want, alive(s));
}

/* Creates k workers in one fan-out; a refusal waits, longer each time. */
static void grow(struct scale *s, int k, long long want)
{
	if (now_ms() < s->retry_ms)
		return;
	if (s->limit > 0 && k > s->limit)
		k = s->limit; /* a quota may hold some of them */
	if (s->n + k > s->cap) {
		int cap = s->n + k + 8;
		struct sworker *nw = realloc(s->w, (size_t)cap * sizeof *nw);
		if (!nw)
			return;
		s->w = nw;
		s->cap = cap;
	}
	struct group *gs = calloc((size_t)k, sizeof *gs);
	if (!gs)
		return;
	int ok = 1;
	for (int i = 0; i < k && ok; i++)
		ok = worker_group(s->o, s->c, s->tag, s->next + i, &gs[i]) == 0;
	say(s, alive(s) + k, want);
	int ex = 0;
	long long t = now_ms();
	if (ok && s->be->ops->create(s->be, gs, k, &ex) == 0) {
		for (int i = 0; i < k; i++)
			s->w[s->n++] = (struct sworker){.g = gs[i], .born_ms = t};
		s->next += k;
		s->backoff = 0;
		if (alive(s) > s->peak)
			s->peak = alive(s);
		free(gs);
		return;
	}
	groups_free(gs, k);
	s->next += k; /* names are not reused: a deleted group may linger */
	s->limit = k > 1 ? k / 2 : 1;
	s->backoff = s->backoff ? s->backoff * 2 : 5000;
	if (s->backoff > SCALE_BACKOFF_MAX)
		s->backoff = SCALE_BACKOFF_MAX;
	s->retry_ms = now_ms() + s->backoff;
	if (!s->refused)
		fprintf(stderr,
			"%s: scaling out was refused: the job goes on with %d worker%s; "
			"retrying with backoff\n",
			progname, alive(s), alive(s) == 1 ? "" : "s");
	s->refused = 1;
}

/* Deletes up to k workers that have shown no executor for a while. */
static void shrink(struct scale *s, int k, long long want)
{
	char **names = calloc((size_t)k, sizeof *names);
	int idx[256], m = 0;
	for (int i = 0; names && i < s->n && m < k && m < 256; i++)
		if (!s->w[i].gone_ms && s->w[i].idle >= SCALE_IDLE_SEEN) {
			idx[m] = i;
			names[m++] = s->w[i].g.name;
		}
	if (m > 0) {
		say(s, alive(s) - m, want);
		backend_delete(s->be, names, m); /* a missing one counts as deleted */
		long long t = now_ms();
		for (int i = 0; i < m; i++)
			s->w[idx[i]].gone_ms = t;
	}
	free(names);
}

static void *scaler(void *arg)
{
	struct scale *s = arg;
	while (!s->stop && !got_signal) {
		long long want;
		if (scale_wants(s->c, &want, NULL) == 0) {
			if (want > s->o->max_executors)
				want = s->o->max_executors;
			observe(s);
			int have = alive(s);
			if (want > have)
				grow(s, (int)want - have, want);
			else {
				s->limit = 0; /* what Spark wants is there */
				if (want < have)
					shrink(s, have - (int)want, want);
			}
		}
		sleep_ms(SCALE_POLL_MS, &s->stop);
	}
	http_thread_end();
	return NULL;
}

struct scale *scale_start(struct backend *be, const struct opts *o, const struct cluster *c,
			  const char *tag, struct group *ws, int *nws, long long born_ms)
{
	if (!o->max_executors)
		return NULL;
	struct scale *s = calloc(1, sizeof *s);
	int cap = *nws + 8;
	if (!s || !(s->w = calloc((size_t)cap, sizeof *s->w))) {
		free(s);
		warnx_("out of memory: the workers are not scaled");
		return NULL;
	}
	*s = (struct scale){.be = be, .o = o, .c = c, .w = s->w, .cap = cap, .next = *nws + 1};
	snprintf(s->tag, sizeof s->tag, "%s", tag);
	for (int i = 0; i < *nws; i++) { /* the first workers are the scaler's now */
		s->w[s->n++] = (struct sworker){.g = ws[i], .born_ms = born_ms};
		memset(&ws[i], 0, sizeof ws[i]);
	}
	*nws = 0;
	s->peak = s->n;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals stay the main thread's */
	s->running = pthread_create(&s->th, NULL, scaler, s) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->running)
		warnx_("unable to start the scaler: the job keeps its %d workers", s->n);
	return s;
}

void scale_stop(struct scale *s)
{
	if (!s || !s->running)
		return;
	s->stop = 1;
	pthread_join(s->th, NULL);
	s->running = 0;
}

int scale_delete(struct scale *s)
{
	if (!s)
		return 0;
	char **names = calloc((size_t)s->n + 1, sizeof *names);
	int m = 0, rc;
	for (int i = 0; names && i < s->n; i++)
		if (!s->w[i].gone_ms)
			names[m++] = s->w[i].g.name;
	rc = names ? backend_delete(s->be, names, m) : -1;
	long long t = now_ms();
	for (int i = 0; i < s->n; i++)
		if (!s->w[i].gone_ms)
			s->w[i].gone_ms = t;
	free(names);
	return rc;
}

double scale_cost(const struct scale *s, struct cost *c, long long now)
{
	double secs = 0;
	for (int i = 0; s && i < s->n; i++) {
		long long end = s->w[i].gone_ms ? s->w[i].gone_ms : now;
		cost_add(c, s->w[i].g.cpu, s->w[i].g.memory_mb, s->w[i].born_ms, end);
		secs += (double)(end - s->w[i].born_ms) / 1000.0;
	}
	return secs;
}

void scale_summary(const struct scale *s, char *out, size_t n)
{
	snprintf(out, n, "peak %d worker%s, %d created", s->peak, s->peak == 1 ? "" : "s", s->n);
}

void scale_free(struct scale *s)
{
	if (!s)
		return;
	scale_stop(s);
	for (int i = 0; i < s->n; i++)
		group_free(&s->w[i].g);
	free(s->w);
	free(s);
}
