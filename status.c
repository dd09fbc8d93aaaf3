/*
 * status.c: the commands that look and do not change anything: `legion status` (the
 * clusters, their groups and jobs as JSON or a table) and `legion logs` (a job's output
 * from the job API, or a container's from the backend). What a cluster's groups held
 * (vCPU- and GB-seconds) is cost.c's arithmetic. Leaves out options (legion.c).
 */
#include "cli.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One group as status shows it. */
static void group_json(struct jw *w, const char *key, const struct group *g)
{
	jw_obj(w, key);
	jw_str(w, "name", g->name);
	jw_str(w, "role", group_tag(g, "legion-role"));
	jw_str(w, "state", group_state_name(g->state));
	jw_str(w, "ip", g->ip);
	jw_str(w, "fqdn", g->fqdn);
	jw_num(w, "cpu", g->cpu);
	jw_int(w, "memoryMB", g->memory_mb);
	long long created;
	const char *c = group_tag(g, "legion-created");
	if (c && parse_int(c, 0, INT64_MAX, &created) == 0)
		jw_int(w, "created", created);
	else
		jw_null(w, "created");
	if (g->exit_code >= 0)
		jw_int(w, "exitCode", g->exit_code);
	else
		jw_null(w, "exitCode");
	jw_end(w);
}

/* What groups gs[i..k) held: those running now, from their creation until now (held)
 * or, for a job that ran from t0 to t1, those created before t1, over its run time. */
static void held(const struct group *gs, int i, int k, long long t0, long long t1, struct cost *c)
{
	for (int x = i; x < k; x++) {
		long long created = 0;
		const char *tag = group_tag(&gs[x], "legion-created");
		if (tag)
			parse_int(tag, 0, INT64_MAX, &created);
		if (t0 < 0 ? !group_alive(gs[x].state) : created > t1)
			continue;
		long long from = t0 < 0 ? created : t0 > created ? t0 : created;
		cost_add(c, gs[x].cpu, gs[x].memory_mb, from * 1000, t1 * 1000);
	}
}

/* {"vcpuSeconds", "gbSeconds"}, and with a price row p "estimate" (6 decimals: a short
 * run is a fraction of a cent) and "currency" */
static void cost_json(struct jw *w, const char *key, const struct cost *c, const struct price *p)
{
	jw_obj(w, key);
	jw_num(w, "vcpuSeconds", round(c->vcpu_s * 10) / 10);
	jw_num(w, "gbSeconds", round(c->gb_s * 10) / 10);
	if (p && p->found) {
		jw_num(w, "estimate", round(cost_money(c, p) * 1e6) / 1e6);
		jw_str(w, "currency", p->currency);
	}
	jw_end(w);
}

/* The job API's jobs, member by member, each finished one with what the cluster held
 * while it ran. */
static void jobs_json(struct jw *w, const struct json *j, int jobs, const struct group *gs, int i,
		      int k, const struct price *p)
{
	jw_arr(w, "jobs");
	for (int n = 0; n < j->t[jobs].size; n++) {
		int job = json_at(j, jobs, n);
		if (job < 0 || j->t[job].type != JSMN_OBJECT)
			continue;
		jw_obj(w, NULL);
		int key = job + 1;
		for (int m = 0; m < j->t[job].size && key + 1 < j->n; m++) {
			char name[64];
			const jsmntok_t *v = &j->t[key + 1];
			int q = v->type == JSMN_STRING; /* a string's token leaves out its quotes */
			if (json_strcpy(j, key, name, sizeof name) == 0)
				jw_raw(w, name, j->s + v->start - q,
				       (size_t)(v->end - v->start + 2 * q));
			key = json_skip(j, key + 1);
		}
		long long t0 = -1, t1 = -1;
		json_int(j, json_get(j, job, "started"), &t0);
		json_int(j, json_get(j, job, "ended"), &t1);
		if (t0 >= 0 && t1 >= t0) {
			struct cost c = {0};
			held(gs, i, k, t0, t1, &c);
			cost_json(w, "cost", &c, p);
		}
		jw_end(w);
	}
	jw_end(w);
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int c = strcmp(group_tag(x, "legion-cluster"), group_tag(y, "legion-cluster"));
	if (c)
		return c;
	c = strcmp(group_tag(x, "legion-role"), group_tag(y, "legion-role"));
	return c ? c : strcmp(x->name, y->name);
}

static void print_table(const struct group *gs, int n)
{
	time_t now = time(NULL);
	printf("%-17s %-32s %-7s %-10s %-15s %4s %7s %6s\n", "CLUSTER", "NAME", "ROLE", "STATE",
	       "IP", "CPU", "MEM", "AGE");
	for (int i = 0; i < n; i++) {
		long long created = 0;
		const char *c = group_tag(&gs[i], "legion-created");
		if (c)
			parse_int(c, 0, INT64_MAX, &created);
		long long age = created ? (long long)now - created : 0;
		char agebuf[32];
		if (age < 120)
			snprintf(agebuf, sizeof agebuf, "%llds", age);
		else if (age < 7200)
			snprintf(agebuf, sizeof agebuf, "%lldm", age / 60);
		else
			snprintf(agebuf, sizeof agebuf, "%lldh", age / 3600);
		printf("%-17s %-32s %-7s %-10s %-15s %4g %6lldM %6s\n",
		       group_tag(&gs[i], "legion-cluster"), gs[i].name,
		       group_tag(&gs[i], "legion-role"), group_state_name(gs[i].state),
		       gs[i].ip ? gs[i].ip : "-", gs[i].cpu, gs[i].memory_mb, agebuf);
	}
}

/* --max-executors: what the running driver wants (its dynamic allocation's target) and
 * the worker groups there are, when the driver says (README: scaling); else null. */
static void scaling_json(struct jw *w, const struct group *gs, int n, const char *cl)
{
	struct cluster m;
	long long target = -1, needed = -1;
	if (cl && cluster_load(cl, &m) == 0) {
		if (scale_wants(&m, &target, &needed) < 0)
			target = -1;
		cluster_free(&m);
	}
	if (target < 0) {
		jw_null(w, "scaling");
		return;
	}
	int workers = 0;
	for (int i = 0; i < n; i++)
		workers += !strcmp(group_tag(&gs[i], "legion-role"), "worker") &&
			   group_alive(gs[i].state);
	jw_obj(w, "scaling");
	jw_int(w, "target", target);
	if (needed >= 0)
		jw_int(w, "needed", needed);
	jw_int(w, "workers", workers);
	jw_end(w);
}

int cmd_status(const struct opts *o)
{
	struct backend be;
	struct group *gs = NULL;
	struct price price;
	int n = 0, ex = 0;
	if ((ex = price_for(o, &price)) != 0)
		return ex;
	if (open_backend(o, &be, &ex) < 0)
		return ex;
	if (be.ops->list(&be, o->cluster, &gs, &n, &ex) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (!group_tag(&gs[i], "legion-role"))
			group_settag(&gs[i], "legion-role", "unknown");
	if (n > 0) /* gs is NULL when there are none */
		qsort(gs, (size_t)n, sizeof *gs, cmp_group);
	if (!strcmp(o->output, "table")) {
		print_table(gs, n);
		goto out;
	}
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_arr(&w, "clusters");
	for (int i = 0; i < n;) {
		const char *cl = group_tag(&gs[i], "legion-cluster");
		int k = i;
		while (k < n && !strcmp(group_tag(&gs[k], "legion-cluster"), cl))
			k++;
		jw_obj(&w, NULL);
		jw_str(&w, "cluster", cl);
		jw_str(&w, "backend", be.ops->name);
		int mi = -1;
		for (int x = i; x < k; x++)
			if (!strcmp(group_tag(&gs[x], "legion-role"), "master"))
				mi = x;
		if (mi >= 0)
			group_json(&w, "master", &gs[mi]);
		else
			jw_null(&w, "master");
		jw_arr(&w, "workers");
		for (int x = i; x < k; x++)
			if (x != mi)
				group_json(&w, NULL, &gs[x]);
		jw_end(&w);
		/* jobs, when this machine holds the cluster's credentials */
		struct cluster m;
		struct http_resp r = {0};
		struct json j = {0};
		int jobs = -1;
		if (mi >= 0 && gs[mi].state == GS_RUNNING && cluster_load(cl, &m) == 0) {
			if (cluster_call(&m, "GET", "/v1/status", NULL, 0, 1, 5000, &r) == 0 &&
			    r.status == 200 && json_parse(&j, r.body.p, r.body.len, NULL) == 0)
				jobs = json_get(&j, 0, "jobs");
			cluster_free(&m);
		}
		if (jobs >= 0 && j.t[jobs].type == JSMN_ARRAY)
			jobs_json(&w, &j, jobs, gs, i, k, &price);
		else
			jw_null(&w, "jobs");
		struct cost c = {0};
		held(gs, i, k, -1, (long long)time(NULL), &c);
		cost_json(&w, "cost", &c, &price);
		scaling_json(&w, gs + i, k - i, jobs >= 0 ? cl : NULL);
		json_free(&j);
		http_resp_free(&r);
		jw_end(&w);
		i = k;
	}
	jw_end(&w);
	jw_end(&w);
	char *doc = jw_finish(&w, NULL);
	if (doc)
		printf("%s\n", doc);
	else
		ex = EXIT_SOFTWARE;
	free(doc);
out:
	groups_free(gs, n);
	be.ops->close(&be);
	return ex;
}

/* The newest job's id from /v1/status, into id. */
static int last_job(const struct cluster *m, char *id, size_t n)
{
	struct http_resp r = {0};
	struct json j = {0};
	int rc = -1;
	if (cluster_call(m, "GET", "/v1/status", NULL, 0, 2, 5000, &r) == 0 && r.status == 200 &&
	    json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
		int jobs = json_get(&j, 0, "jobs");
		if (jobs >= 0 && j.t[jobs].size > 0)
			rc = json_strcpy(&j,
					 json_get(&j, json_at(&j, jobs, j.t[jobs].size - 1), "id"),
					 id, n);
	}
	json_free(&j);
	http_resp_free(&r);
	return rc;
}

/* --follow for a container: prints what its output gains every 2 s, until the
 * container ends or the user stops it. Backends return whole logs, so this keeps
 * the length already seen. */
static void follow_container(struct backend *be, const char *name, int *ex)
{
	struct buf all = {0};
	size_t seen = 0;
	int e2, first = 1;
	while (!got_signal) {
		all.len = 0;
		if (be->ops->logs(be, name, 0, &all, ex) < 0)
			break;
		if (first) /* what the first, --tail'ed print already showed */
			seen = all.len;
		else if (all.len > seen) {
			fwrite(all.p + seen, 1, all.len - seen, stdout);
			fflush(stdout);
			seen = all.len;
		}
		first = 0;
		struct group g;
		int rc = be->ops->get(be, name, &g, &e2);
		int running = rc == BACKEND_FOUND && group_alive(g.state);
		if (rc == BACKEND_FOUND)
			group_free(&g);
		if (!running) {
			if (!first && rc == BACKEND_FOUND) { /* the last words */
				all.len = 0;
				if (be->ops->logs(be, name, 0, &all, &e2) == 0 && all.len > seen)
					fwrite(all.p + seen, 1, all.len - seen, stdout);
			}
			break;
		}
		sleep_ms(2000, &got_signal);
	}
	buf_free(&all);
}

int cmd_logs(const struct opts *o)
{
	struct backend be;
	int ex = 0;
	if (open_backend(o, &be, &ex) < 0)
		return ex;
	if (o->container) {
		struct buf b = {0};
		if (be.ops->logs(&be, o->container, (int)o->tail, &b, &ex) == 0) {
			if (b.len) /* p is NULL while empty */
				fwrite(b.p, 1, b.len, stdout);
			if (o->follow)
				follow_container(&be, o->container, &ex);
		}
		buf_free(&b);
		be.ops->close(&be);
		return ex;
	}
	struct cluster m;
	char id[64];
	int rc = cluster_load(o->cluster, &m);
	if (rc != 0) {
		if (rc > 0)
			warnx_("no credentials for cluster %s here; try --container NAME",
			       o->cluster);
		be.ops->close(&be);
		return EXIT_CONFIG;
	}
	if (o->job)
		snprintf(id, sizeof id, "%s", o->job);
	else if (last_job(&m, id, sizeof id) < 0) {
		warnx_("cluster %s has no job (or its master does not answer)", o->cluster);
		ex = EXIT_UNAVAIL;
	}
	char state[32] = "";
	int code = -1;
	if (!ex && cluster_follow(&m, id, NULL, state, sizeof state, &code) < 0)
		ex = got_signal ? interrupted() : EXIT_UNAVAIL;
	cluster_free(&m);
	be.ops->close(&be);
	return ex;
}
