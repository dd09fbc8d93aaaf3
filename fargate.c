/*
 * fargate.c: the fargate backend: container groups as ECS tasks on Fargate (RunTask,
 * DescribeTasks, ListTasks, StopTask; a group's name is its task's startedBy and its
 * legion-name tag), their logs from CloudWatch, rollback. Leaves out what a cluster
 * shares (ecs.c), signing and credentials (sigv4.c, awsauth.c) and public IPs (EC2).
 */
#include "aws.h"

#include <stdlib.h>
#include <string.h>

#define PROVISION_TIMEOUT_S 600
#define DESCRIBE_MAX 100 /* tasks per DescribeTasks */

static void f_close(struct backend *be);

static int f_open_(struct backend *be, const struct backend_cfg *o, int *ex)
{
	struct fargate *f = calloc(1, sizeof *f);
	if (!f) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	be->ctx = f;
	const char *c = getenv("LEGION_ECS_CLUSTER"), *sn = getenv("LEGION_AWS_SUBNETS"),
		   *sg = getenv("LEGION_AWS_SECURITY_GROUPS"),
		   *role = getenv("LEGION_AWS_EXECUTION_ROLE"),
		   *pub = getenv("LEGION_AWS_PUBLIC_IP"), *keep = getenv("LEGION_AWS_KEEP_LOGS");
	snprintf(f->cluster, sizeof f->cluster, "%s", c && *c ? c : "legion");
	snprintf(f->subnets, sizeof f->subnets, "%s", o->subnets ? o->subnets : sn ? sn : "");
	snprintf(f->sgs, sizeof f->sgs, "%s",
		 o->security_groups ? o->security_groups
		 : sg               ? sg
				    : "");
	snprintf(f->role, sizeof f->role, "%s",
		 o->execution_role ? o->execution_role
		 : role            ? role
				   : "");
	f->public_ip = !pub || !*pub || !strcmp(pub, "1") || !strcmp(pub, "true");
	if (pub && *pub && !f->public_ip && strcmp(pub, "0") && strcmp(pub, "false")) {
		warnx_("LEGION_AWS_PUBLIC_IP: '%s' is not true or false", pub);
		*ex = EXIT_CONFIG;
		return -1;
	}
	f->keep_logs = o->keep_logs || (keep && (!strcmp(keep, "1") || !strcmp(keep, "true")));
	if (strspn(f->cluster,
		   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
	    strlen(f->cluster)) {
		warnx_("LEGION_ECS_CLUSTER: '%s' is not an ECS cluster name", f->cluster);
		*ex = EXIT_CONFIG;
		return -1;
	}
	long long secs = PROVISION_TIMEOUT_S;
	const char *pt = getenv("LEGION_PROVISION_TIMEOUT");
	if (pt && *pt && parse_int(pt, 1, 86400, &secs) < 0) {
		warnx_("LEGION_PROVISION_TIMEOUT: '%s' is not a whole number of seconds (1-86400)",
		       pt);
		*ex = EXIT_CONFIG;
		return -1;
	}
	f->provision_ms = secs * 1000;
	if (aws_init(&f->aws, o->location, ex) < 0)
		return -1;
	f->aws.parallel = o->parallel > 0 ? o->parallel : 16;
	return 0;
}

static int f_open(struct backend *be, const struct backend_cfg *o, int *ex)
{
	if (f_open_(be, o, ex) == 0)
		return 0;
	f_close(be);
	return -1;
}

static void f_close(struct backend *be)
{
	struct fargate *f = be->ctx;
	if (f) {
		aws_free(&f->aws);
		free(f);
	}
	be->ctx = NULL;
}

/* ---- tasks as groups ---- */

static enum group_state task_state(const char *last, int has_exit, int code)
{
	if (!last)
		return GS_UNKNOWN;
	if (!strcmp(last, "RUNNING"))
		return GS_RUNNING;
	if (!strcmp(last, "PROVISIONING") || !strcmp(last, "PENDING") ||
	    !strcmp(last, "ACTIVATING"))
		return GS_PENDING;
	if (has_exit)
		return code == 0 ? GS_SUCCEEDED : GS_FAILED;
	return GS_STOPPED; /* DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED */
}

/* Fills g from a DescribeTasks task (token t). */
static void parse_task(const struct json *j, int t, struct group *g)
{
	int tags = json_get(j, t, "tags");
	for (int k = 0; tags >= 0 && k < j->t[tags].size; k++) {
		int x = json_at(j, tags, k);
		char *key = json_str(j, json_get(j, x, "key")),
		     *val = json_str(j, json_get(j, x, "value"));
		if (key && val && strncmp(key, "aws:", 4))
			group_settag(g, key, val);
		free(key);
		free(val);
	}
	if (!g->name) {
		const char *n = group_tag(g, "legion-name");
		g->name = n ? strdup(n) : json_str(j, json_get(j, t, "startedBy"));
	}
	int c = json_path(j, t, "containers.0");
	free(g->image);
	g->image = json_str(j, json_get(j, c, "image"));
	long long code = -1, v;
	char *last = json_str(j, json_get(j, t, "lastStatus"));
	enum group_state st = task_state(last, 0, 0);
	/* an exit code counts once the task stopped (moto reports 0 from the start) */
	int has_exit = st == GS_STOPPED && json_int(j, json_get(j, c, "exitCode"), &code) == 0;
	g->exit_code = has_exit ? (int)code : -1;
	g->state = task_state(last, has_exit, (int)code);
	free(last);
	if (json_int(j, json_get(j, t, "cpu"), &v) == 0 && v > 0)
		g->cpu = (double)v / 1024.0;
	if (json_int(j, json_get(j, t, "memory"), &v) == 0 ||
	    json_int(j, json_get(j, c, "memory"), &v) == 0)
		g->memory_mb = v;
	double created;
	if (json_num(j, json_get(j, t, "createdAt"), &created) == 0)
		g->created = (long long)created;
	int det = json_path(j, t, "attachments.0.details");
	for (int k = 0; det >= 0 && k < j->t[det].size; k++) {
		int d = json_at(j, det, k);
		if (json_eq(j, json_get(j, d, "name"), "privateIPv4Address")) {
			free(g->ip);
			g->ip = json_str(j, json_get(j, d, "value"));
		}
	}
}

/* The id of task t's network interface (owned), or NULL. */
static char *task_eni(const struct json *j, int t)
{
	int det = json_path(j, t, "attachments.0.details");
	for (int k = 0; det >= 0 && k < j->t[det].size; k++) {
		int d = json_at(j, det, k);
		if (json_eq(j, json_get(j, d, "name"), "networkInterfaceId"))
			return json_str(j, json_get(j, d, "value"));
	}
	return NULL;
}

/* The public IP of network interface eni (EC2 DescribeNetworkInterfaces), owned; NULL
 * when it has none (or EC2 did not say). */
static char *public_ip(struct fargate *f, const char *eni)
{
	char body[256];
	struct http_resp r;
	int ex;
	if (strspn(eni, "eni-0123456789abcdef") != strlen(eni))
		return NULL;
	snprintf(body, sizeof body,
		 "Action=DescribeNetworkInterfaces&Version=2016-11-15&NetworkInterfaceId.1=%s",
		 eni);
	if (aws_query(&f->aws, "EC2", "ec2", "ec2", body, "EC2 DescribeNetworkInterfaces", &r,
		      &ex) < 0)
		return NULL;
	char *ip = aws_xml(r.body.p, "publicIp");
	http_resp_free(&r);
	return ip;
}

/* The arns of the tasks startedBy name (NULL: all of the ECS cluster's), running and
 * stopped (or running only), appended to *arns (*n of them). */
static int list_arns(struct fargate *f, const char *name, int running_only, char ***arns, int *n,
		     int *ex)
{
	static const char *const states[] = {"RUNNING", "STOPPED"};
	for (int s = 0; s < (running_only ? 1 : 2); s++) {
		char *next = NULL;
		for (int page = 0; page < 1000; page++) {
			struct jw w = {0};
			struct http_resp r;
			jw_obj(&w, NULL);
			jw_str(&w, "cluster", f->cluster);
			if (name)
				jw_str(&w, "startedBy", name);
			jw_str(&w, "desiredStatus", states[s]);
			if (next)
				jw_str(&w, "nextToken", next);
			jw_end(&w);
			char *body = jw_finish(&w, NULL);
			free(next);
			next = NULL;
			struct aws_call c;
			char target[128];
			ecs_prepare(&c, "ListTasks", body, target);
			int rc = body ? aws_json(&f->aws, &c, &r, "ECS ListTasks",
						 "ClusterNotFoundException", ex)
				      : -1;
			free(body);
			if (rc == 1) {
				http_resp_free(&r); /* no ECS cluster yet: no tasks */
				return 0;
			}
			if (rc < 0)
				return -1;
			struct json j = {0};
			if (json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
				int a = json_get(&j, 0, "taskArns");
				for (int k = 0; a >= 0 && k < j.t[a].size; k++) {
					char **na = realloc(*arns, (size_t)(*n + 1) * sizeof *na);
					if (!na)
						break;
					*arns = na;
					if (((*arns)[*n] = json_str(&j, json_at(&j, a, k))))
						(*n)++;
				}
				next = json_str(&j, json_get(&j, 0, "nextToken"));
			}
			json_free(&j);
			http_resp_free(&r);
			if (!next)
				break;
		}
		free(next);
	}
	return 0;
}

/* What a group does not hold of a task: its ARN and why it stopped (owned). */
struct task_extra {
	char *arn, *reason, *eni;
};

static void extras_free(struct task_extra *x, int n)
{
	for (int i = 0; x && i < n; i++) {
		free(x[i].arn);
		free(x[i].reason);
		free(x[i].eni);
	}
	free(x);
}

/* DescribeTasks of arns[0..n) (with tags) into groups: *gs (owned), *ng of them, and
 * (when x is non-NULL) their extras in *x (owned, *ng of them). */
static int describe(struct fargate *f, char *const *arns, int n, struct group **gs, int *ng,
		    struct task_extra **x, int *ex)
{
	*gs = calloc((size_t)(n > 0 ? n : 1), sizeof **gs);
	*ng = 0;
	if (x)
		*x = calloc((size_t)(n > 0 ? n : 1), sizeof **x);
	if (!*gs || (x && !*x)) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	for (int at = 0; at < n; at += DESCRIBE_MAX) {
		struct jw w = {0};
		struct http_resp r;
		jw_obj(&w, NULL);
		jw_str(&w, "cluster", f->cluster);
		jw_arr(&w, "tasks");
		for (int k = at; k < n && k < at + DESCRIBE_MAX; k++)
			jw_str(&w, NULL, arns[k]);
		jw_end(&w);
		jw_arr(&w, "include");
		jw_str(&w, NULL, "TAGS");
		jw_end(&w);
		jw_end(&w);
		char *body = jw_finish(&w, NULL);
		int rc = body ? ecs_call(f, "DescribeTasks", body, &r, ex) : -1;
		free(body);
		if (rc < 0)
			return -1;
		struct json j = {0};
		if (json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
			int ts = json_get(&j, 0, "tasks");
			for (int k = 0; ts >= 0 && k < j.t[ts].size; k++) {
				struct group *g = &(*gs)[*ng];
				int t = json_at(&j, ts, k);
				g->exit_code = -1;
				parse_task(&j, t, g);
				if (!g->name || !group_tag(g, "legion-cluster")) {
					group_free(g);
					continue;
				}
				if (x) {
					(*x)[*ng].arn = json_str(&j, json_get(&j, t, "taskArn"));
					(*x)[*ng].reason =
						json_str(&j, json_get(&j, t, "stoppedReason"));
					(*x)[*ng].eni = task_eni(&j, t);
				}
				(*ng)++;
			}
		}
		json_free(&j);
		http_resp_free(&r);
	}
	return 0;
}

static void free_arns(char **arns, int n)
{
	for (int i = 0; i < n; i++)
		free(arns[i]);
	free(arns);
}

/* The task named name, newest first: BACKEND_FOUND with *g, BACKEND_GONE, BACKEND_FAILED.
 * arn (when non-NULL) gets its ARN. */
static int find_task(struct fargate *f, const char *name, struct group *g, char *arn, size_t an,
		     int *ex)
{
	char **arns = NULL;
	int n = 0, ng = 0, rc = BACKEND_FAILED;
	struct group *gs = NULL;
	struct task_extra *x = NULL;
	memset(g, 0, sizeof *g);
	g->exit_code = -1;
	if (list_arns(f, name, 0, &arns, &n, ex) == 0 &&
	    describe(f, arns, n, &gs, &ng, &x, ex) == 0) {
		int best = -1;
		for (int i = 0; i < ng; i++)
			if (!strcmp(gs[i].name, name) &&
			    (best < 0 || gs[i].created > gs[best].created ||
			     group_alive(gs[i].state)))
				best = i;
		rc = BACKEND_GONE;
		if (best >= 0) {
			*g = gs[best];
			memset(&gs[best], 0, sizeof gs[best]);
			if (arn)
				snprintf(arn, an, "%s", x[best].arn ? x[best].arn : "");
			rc = BACKEND_FOUND;
		}
	}
	groups_free(gs, ng);
	extras_free(x, ng);
	free_arns(arns, n);
	return rc;
}

static int f_get(struct backend *be, const char *name, struct group *g, int *ex)
{
	return find_task(be->ctx, name, g, NULL, 0, ex);
}

static int f_list(struct backend *be, const char *cluster, struct group **out, int *n, int *ex)
{
	struct fargate *f = be->ctx;
	char **arns = NULL;
	int na = 0, ng = 0;
	struct group *gs = NULL;
	*out = NULL;
	*n = 0;
	if (list_arns(f, NULL, 0, &arns, &na, ex) < 0 ||
	    describe(f, arns, na, &gs, &ng, NULL, ex) < 0) {
		free_arns(arns, na);
		groups_free(gs, ng);
		return -1;
	}
	free_arns(arns, na);
	int k = 0;
	for (int i = 0; i < ng; i++) {
		const char *c = group_tag(&gs[i], "legion-cluster");
		if (cluster && strcmp(c, cluster)) {
			group_free(&gs[i]);
			continue;
		}
		if (k != i) {
			gs[k] = gs[i];
			memset(&gs[i], 0, sizeof gs[i]);
		}
		k++;
	}
	*out = gs;
	*n = k;
	return 0;
}

/* StopTask for arns[0..n) in parallel; -1 when one could not be stopped. */
static int stop_tasks(struct fargate *f, char *const *arns, int n, int *ex)
{
	struct aws_call *c = calloc((size_t)(n > 0 ? n : 1), sizeof *c);
	struct http_resp *r = calloc((size_t)(n > 0 ? n : 1), sizeof *r);
	char(*targets)[128] = calloc((size_t)(n > 0 ? n : 1), sizeof *targets);
	int rc = -1;
	if (!c || !r || !targets) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct jw w = {0};
		jw_obj(&w, NULL);
		jw_str(&w, "cluster", f->cluster);
		jw_str(&w, "task", arns[i]);
		jw_str(&w, "reason", "legion: deleted");
		jw_end(&w);
		ecs_prepare(&c[i], "StopTask", jw_finish(&w, NULL), targets[i]);
		if (!c[i].body) {
			*ex = EXIT_SOFTWARE;
			goto out;
		}
	}
	rc = aws_json_many(&f->aws, c, r, n, ex);
	for (int i = 0; rc == 0 && i < n; i++) {
		char code[128];
		aws_code(&r[i], code, sizeof code);
		if (r[i].status != 200 && strcmp(code, "InvalidParameterException")) {
			char w[512];
			warnx_("ECS StopTask %s: %s", arns[i], aws_why(&r[i], w, sizeof w));
			*ex = aws_exit(&r[i]);
			rc = -1;
		}
	}
out:
	for (int i = 0; c && i < n; i++)
		free(c[i].body);
	for (int i = 0; r && i < n; i++)
		http_resp_free(&r[i]);
	free(c);
	free(r);
	free(targets);
	return rc;
}

/* The cluster id of a master's group name ("legion-1234abcd-master"), into out. */
static int master_cluster(const char *name, char *out, size_t n)
{
	size_t k = strlen(name);
	if (k < 8 || strcmp(name + k - 7, "-master") || k - 7 >= n)
		return 0;
	memcpy(out, name, k - 7);
	out[k - 7] = '\0';
	return 1;
}

/* The ARNs of the running tasks called any of names: one listing of the ECS cluster
 * and its DescribeTasks, rather than a ListTasks per name. */
static int running_named(struct fargate *f, char *const *names, int n, char ***out, int *nout,
			 int *ex)
{
	char **arns = NULL;
	int na = 0, ng = 0, rc = -1;
	struct group *gs = NULL;
	struct task_extra *x = NULL;
	if (list_arns(f, NULL, 1, &arns, &na, ex) == 0 &&
	    describe(f, arns, na, &gs, &ng, &x, ex) == 0) {
		rc = 0;
		for (int k = 0; k < ng; k++) {
			int want = 0;
			for (int i = 0; i < n && !want; i++)
				want = !strcmp(gs[k].name, names[i]);
			char **nv = want && x[k].arn
					    ? realloc(*out, (size_t)(*nout + 1) * sizeof *nv)
					    : NULL;
			if (nv) {
				*out = nv;
				nv[(*nout)++] = x[k].arn;
				x[k].arn = NULL;
			}
		}
	}
	groups_free(gs, ng);
	extras_free(x, ng);
	free_arns(arns, na);
	return rc;
}

static int f_remove(struct backend *be, char *const *names, int n, int *ex)
{
	struct fargate *f = be->ctx;
	char **arns = NULL;
	int na = 0, rc = 0;
	if (n <= 4) { /* by startedBy, one ListTasks each */
		for (int i = 0; i < n; i++)
			if (list_arns(f, names[i], 1, &arns, &na, ex) < 0)
				rc = -1;
	} else if (running_named(f, names, n, &arns, &na, ex) < 0)
		rc = -1;
	if (na > 0 && stop_tasks(f, arns, na, ex) < 0)
		rc = -1;
	free_arns(arns, na);
	for (int i = 0; i < n; i++) {
		char cluster[64];
		if (master_cluster(names[i], cluster, sizeof cluster) &&
		    ecs_drop_cluster(f, cluster) < 0)
			rc = -1;
	}
	if (rc < 0 && !*ex)
		*ex = EXIT_TEMPFAIL;
	return rc;
}

/* The RunTask document of g with task definition td. Owned, or NULL. */
static char *run_body(const struct fargate *f, const struct group *g, const char *td)
{
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "cluster", f->cluster);
	jw_str(&w, "taskDefinition", td);
	jw_str(&w, "launchType", "FARGATE");
	jw_int(&w, "count", 1);
	jw_str(&w, "startedBy", g->name);
	jw_bool(&w, "enableECSManagedTags", 1);
	jw_obj(&w, "networkConfiguration");
	jw_obj(&w, "awsvpcConfiguration");
	const char *lists[2] = {f->subnets, f->sgs}, *keys[2] = {"subnets", "securityGroups"};
	for (int k = 0; k < 2; k++) {
		jw_arr(&w, keys[k]);
		const char *p = lists[k];
		while (*p) {
			size_t m = strcspn(p, ",");
			if (m)
				jw_strn(&w, NULL, p, m);
			p += m + (p[m] == ',');
		}
		jw_end(&w);
	}
	jw_str(&w, "assignPublicIp", f->public_ip ? "ENABLED" : "DISABLED");
	jw_end(&w);
	jw_end(&w);
	jw_obj(&w, "overrides");
	jw_arr(&w, "containerOverrides");
	jw_obj(&w, NULL);
	jw_str(&w, "name", ECS_CONTAINER);
	jw_arr(&w, "environment"); /* plain values only: secrets are the task definition's */
	for (int i = 0; i < g->nenv; i++) {
		if (g->env[i].secure)
			continue;
		jw_obj(&w, NULL);
		jw_str(&w, "name", g->env[i].name);
		jw_str(&w, "value", g->env[i].value);
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	jw_end(&w);
	jw_end(&w);
	jw_arr(&w, "tags");
	for (int i = 0; i <= g->ntags; i++) {
		jw_obj(&w, NULL);
		jw_str(&w, "key", i < g->ntags ? g->tags[i].name : "legion-name");
		jw_str(&w, "value", i < g->ntags ? g->tags[i].value : g->name);
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	return jw_finish(&w, NULL);
}

/* Copies what was observed of task t into g (the group asked for). */
static void observed(struct group *g, struct group *t)
{
	g->state = t->state;
	g->exit_code = t->exit_code;
	free(g->ip);
	g->ip = t->fqdn ? t->fqdn : t->ip; /* fqdn: the public IP found meanwhile */
	if (t->fqdn)
		t->fqdn = NULL;
	else
		t->ip = NULL;
	g->created = t->created;
}

/* Polls until every task runs: -1 when one stopped or is still pending at the deadline. */
static int wait_running(struct fargate *f, struct group *gs, char **arns, int n, int *ex)
{
	long long deadline = now_ms() + f->provision_ms, pause = 250;
	for (;; pause = pause < 5000 ? pause * 2 : 5000) {
		struct group *ts = NULL;
		struct task_extra *x = NULL;
		int nt = 0, pending = 0, rc = 0;
		if (describe(f, arns, n, &ts, &nt, &x, ex) < 0)
			return -1;
		for (int i = 0; i < n && !rc; i++) {
			int k = 0;
			while (k < nt && (!x[k].arn || strcmp(x[k].arn, arns[i])))
				k++;
			if (k == nt || !group_alive(ts[k].state)) {
				warnx_("ECS task %s stopped before it ran: %s", gs[i].name,
				       k < nt && x[k].reason ? x[k].reason : "gone");
				*ex = EXIT_UNAVAIL;
				rc = -1;
			} else if (ts[k].state == GS_PENDING)
				pending++;
			else if (f->public_ip &&
				 !(ts[k].fqdn = x[k].eni ? public_ip(f, x[k].eni) : NULL)) {
				/* the CLI and the other tasks reach a task by its public IP */
				warnx_("ECS task %s runs but has no public IP: check that subnet "
				       "%s "
				       "routes to an internet gateway, or set "
				       "LEGION_AWS_PUBLIC_IP=false to use private addresses",
				       gs[i].name, f->subnets);
				*ex = EXIT_UNAVAIL;
				rc = -1;
			} else
				observed(&gs[i], &ts[k]);
		}
		groups_free(ts, nt);
		extras_free(x, nt);
		if (rc < 0 || !pending)
			return rc;
		if (now_ms() > deadline) {
			warnx_("%d ECS task%s still pending after %lld s "
			       "(LEGION_PROVISION_TIMEOUT)",
			       pending, pending == 1 ? " was" : "s were", f->provision_ms / 1000);
			*ex = EXIT_UNAVAIL;
			return -1;
		}
		if (sleep_ms(pause, &http_stop)) {
			*ex = EXIT_SIGNALED(SIGINT);
			return -1;
		}
	}
}

/* The task definitions of gs into tds: one registration per role and size. */
static int task_defs(struct fargate *f, const char *cluster, const struct group *gs, int n,
		     const char *secret, char (*tds)[512], int *ex)
{
	for (int i = 0; i < n; i++) {
		int k = 0;
		while (k < i && !(gs[k].cpu == gs[i].cpu && gs[k].memory_mb == gs[i].memory_mb &&
				  !strcmp(gs[k].image, gs[i].image) &&
				  !strcmp(group_tag(&gs[k], "legion-role"),
					  group_tag(&gs[i], "legion-role"))))
			k++;
		if (k < i)
			memcpy(tds[i], tds[k], sizeof tds[i]);
		else if (ecs_task_definition(f, cluster, &gs[i], secret, tds[i], sizeof tds[i],
					     ex) < 0)
			return -1;
	}
	return 0;
}

/* RunTask for each group; the ARNs into arns (owned). -1 after the first refusal. */
static int run_tasks(struct fargate *f, struct group *gs, int n, char (*tds)[512], char **arns,
		     int *ex)
{
	struct aws_call *c = calloc((size_t)n, sizeof *c);
	struct http_resp *r = calloc((size_t)n, sizeof *r);
	char(*targets)[128] = calloc((size_t)n, sizeof *targets);
	int rc = -1;
	if (!c || !r || !targets) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		ecs_prepare(&c[i], "RunTask", run_body(f, &gs[i], tds[i]), targets[i]);
		if (!c[i].body) {
			*ex = EXIT_SOFTWARE;
			goto out;
		}
	}
	if (aws_json_many(&f->aws, c, r, n, ex) < 0)
		goto out;
	rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct json j = {0};
		char w[512];
		if (r[i].status != 200) {
			warnx_("unable to start %s: ECS RunTask: %s", gs[i].name,
			       aws_why(&r[i], w, sizeof w));
			*ex = aws_exit(&r[i]);
			rc = -1;
		} else if (json_parse(&j, r[i].body.p, r[i].body.len, NULL) != 0 ||
			   !(arns[i] = json_str(&j, json_path(&j, 0, "tasks.0.taskArn")))) {
			char *why = json_str(&j, json_path(&j, 0, "failures.0.reason"));
			warnx_("unable to start %s: ECS RunTask: %s", gs[i].name,
			       why ? why : "no task in the answer");
			free(why);
			*ex = EXIT_UNAVAIL;
			rc = -1;
		}
		json_free(&j);
	}
out:
	for (int i = 0; c && i < n; i++)
		free(c[i].body);
	for (int i = 0; r && i < n; i++)
		http_resp_free(&r[i]);
	free(c);
	free(r);
	free(targets);
	return rc;
}

/* What create needs before any request: -1 with a message naming the variable. */
static int check_config(const struct fargate *f, const struct group *gs, int n, int *ex)
{
	const char *miss = !f->subnets[0] ? "LEGION_AWS_SUBNETS=subnet-ID[,subnet-ID...]"
			   : !f->role[0]
				   ? "LEGION_AWS_EXECUTION_ROLE=arn:aws:iam::ACCOUNT:role/NAME"
				   : NULL;
	if (miss) {
		warnx_("the fargate backend needs %s (README: Running on AWS Fargate)", miss);
		*ex = EXIT_CONFIG;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int cpu;
		long long mem;
		if (!group_tag(&gs[i], "legion-cluster") || !group_tag(&gs[i], "legion-role") ||
		    strlen(gs[i].name) > 36) {
			warnx_("%s: not a Legion group (tags, or a name over 36 characters)",
			       gs[i].name);
			*ex = EXIT_SOFTWARE;
			return -1;
		}
		if (fargate_size(gs[i].cpu, gs[i].memory_mb, 0, &cpu, &mem) < 0) {
			*ex = EXIT_USAGE;
			return -1;
		}
	}
	return 0;
}

static int f_create(struct backend *be, struct group *gs, int n, int *ex)
{
	struct fargate *f = be->ctx;
	if (n <= 0)
		return 0;
	if (check_config(f, gs, n, ex) < 0)
		return -1;
	const char *cluster = group_tag(&gs[0], "legion-cluster");
	char secret[512] = "";
	char(*tds)[512] = calloc((size_t)n, sizeof *tds);
	char **arns = calloc((size_t)n, sizeof *arns), **names = calloc((size_t)n, sizeof *names);
	int rc = -1, touched = 0;
	if (!tds || !arns || !names) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	for (int i = 0; i < n; i++)
		names[i] = gs[i].name;
	if (ecs_ensure_cluster(f, ex) < 0)
		goto out;
	touched = 1; /* from here on, something of the cluster's may exist */
	if (ecs_log_group(f, cluster, ex) < 0 ||
	    ecs_secret(f, cluster, gs, n, secret, sizeof secret, ex) < 0 ||
	    task_defs(f, cluster, gs, n, secret, tds, ex) < 0 ||
	    run_tasks(f, gs, n, tds, arns, ex) < 0 || wait_running(f, gs, arns, n, ex) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0 && touched) {
		int e2 = 0;
		http_hold_begin(); /* cleaning up after Ctrl-C must still reach AWS */
		fprintf(stderr, "%s: rolling back: stopping the %d ECS task%s this run asked for\n",
			progname, n, n == 1 ? "" : "s");
		if (f_remove(be, names, n, &e2) < 0)
			warnx_("some of them may be left: 'legion gc --backend fargate' stops "
			       "them");
		http_hold_end();
		if (http_stop)
			*ex = EXIT_SIGNALED(SIGINT);
	}
	for (int i = 0; arns && i < n; i++)
		free(arns[i]);
	free(arns);
	free(names);
	free(tds);
	return rc;
}

static int f_logs(struct backend *be, const char *name, int tail, struct buf *out, int *ex)
{
	struct fargate *f = be->ctx;
	struct group g;
	char arn[512], stream[640], group[128];
	int rc = find_task(f, name, &g, arn, sizeof arn, ex);
	if (rc != BACKEND_FOUND) {
		if (rc == BACKEND_GONE)
			warnx_("no ECS task %s", name);
		return -1;
	}
	const char *id = strrchr(arn, '/');
	snprintf(stream, sizeof stream, "legion/" ECS_CONTAINER "/%s", id ? id + 1 : arn);
	snprintf(group, sizeof group, "/legion/%s", group_tag(&g, "legion-cluster"));
	group_free(&g);
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "logGroupName", group);
	jw_str(&w, "logStreamName", stream);
	jw_bool(&w, "startFromHead", tail <= 0);
	jw_int(&w, "limit", tail > 0 ? tail : 10000);
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	struct http_resp r;
	struct aws_call c = {
		"CLOUDWATCH_LOGS", "logs", "logs", "Logs_20140328.GetLogEvents", body, NULL};
	rc = body ? aws_json(&f->aws, &c, &r, "CloudWatch Logs GetLogEvents",
			     "ResourceNotFoundException", ex)
		  : -1;
	free(body);
	if (rc == 1) {
		fprintf(stderr, "%s: %s has written no log yet\n", progname, name);
		http_resp_free(&r);
		return 0;
	}
	if (rc < 0)
		return -1;
	struct json j = {0};
	if (json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
		int ev = json_get(&j, 0, "events");
		for (int k = 0; ev >= 0 && k < j.t[ev].size; k++) {
			char *m = json_str(&j, json_get(&j, json_at(&j, ev, k), "message"));
			if (m && (buf_adds(out, m) < 0 || buf_adds(out, "\n") < 0))
				rc = -1;
			free(m);
		}
	}
	json_free(&j);
	http_resp_free(&r);
	return rc;
}

const struct backend_ops backend_fargate = {
	.name = "fargate",
	.open = f_open,
	.create = f_create,
	.get = f_get,
	.list = f_list,
	.remove = f_remove,
	.logs = f_logs,
	.close = f_close,
};
