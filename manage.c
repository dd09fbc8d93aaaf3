/*
 * manage.c: the commands that act on what exists (delete, gc, auth) and opening the
 * backend every command uses. gc's rule: ended groups, groups whose master is gone, and
 * clusters whose master has been idle past its own timeout.
 */
#include "cli.h"
#include "aws.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int open_backend(const struct opts *o, struct backend *be, int *ex)
{
	struct backend_cfg cfg = {
		.location = o->location,
		.resource_group = o->resource_group,
		.subscription = o->subscription,
		.cloud = o->cloud,
		.subnet = o->subnet,
		.identity = o->identity,
		.parallel = (int)o->parallel,
		.all = o->all,
		/* submit leaves an empty resource group for the next run: ARM takes a while
		 * to delete one and refuses to recreate it meanwhile; delete, gc and a failed
		 * deploy-master remove it when Legion made it and nothing is left in it */
		.rg_cleanup = o->app == NULL,
		.subnets = o->subnets,
		.security_groups = o->security_groups,
		.execution_role = o->execution_role,
		.keep_logs = o->keep_logs,
	};
	be->ops = backend_find(o->backend);
	be->ctx = NULL;
	return be->ops->open(be, &cfg, ex);
}

int cmd_delete(const struct opts *o)
{
	struct backend be;
	struct group *gs = NULL;
	int n = 0, ex = 0;
	if (open_backend(o, &be, &ex) < 0)
		return ex;
	if (be.ops->list(&be, o->cluster, &gs, &n, &ex) == 0) {
		char **names = calloc((size_t)n + 1, sizeof *names);
		for (int i = 0; names && i < n; i++)
			names[i] = gs[i].name;
		if (n == 0)
			fprintf(stderr, "%s: cluster %s has no containers\n", progname, o->cluster);
		else if (names && backend_delete(&be, names, n) < 0)
			ex = ex ? ex : EXIT_TEMPFAIL;
		free(names);
		cluster_forget(o->cluster);
	}
	groups_free(gs, n);
	be.ops->close(&be);
	return ex;
}

/* Terminated groups, and every group of a cluster whose master is gone or ended. */
/* A master that outlived its own idle stop: its job API (credentials from this machine)
 * says it has had no job for longer than its idle timeout plus a minute's grace. */
#define GC_IDLE_GRACE_S 60
static int idle_past_timeout(const char *cluster)
{
	struct cluster m;
	struct http_resp r = {0};
	long long idle = -1, timeout = -1;
	if (cluster_load(cluster, &m) != 0)
		return 0; /* not deployed from here: only its job API could tell */
	if (cluster_call(&m, "GET", "/v1/status", NULL, 0, 1, 5000, &r) == 0 && r.status == 200) {
		struct json j = {0};
		if (json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
			json_int(&j, json_get(&j, 0, "idleSeconds"), &idle);
			json_int(&j, json_get(&j, 0, "idleTimeout"), &timeout);
		}
		json_free(&j);
	}
	http_resp_free(&r);
	cluster_free(&m);
	return timeout > 0 && idle > timeout + GC_IDLE_GRACE_S;
}

static int is_master(const struct group *g)
{
	const char *role = group_tag(g, "legion-role");
	return role && !strcmp(role, "master");
}

/* Which groups gc takes: ended ones, those whose master is not alive, and every group
 * of a cluster whose master is idle past its timeout. Names point into gs. */
static int gc_pick(const struct opts *o, struct group *gs, int n, char **names)
{
	int k = 0;
	long long now = (long long)time(NULL);
	char *idle = calloc((size_t)n + 1, 1); /* idle[x]: gs[x] is an idle master */
	for (int x = 0; idle && x < n; x++)
		idle[x] = is_master(&gs[x]) && group_alive(gs[x].state) &&
			  idle_past_timeout(group_tag(&gs[x], "legion-cluster"));
	for (int i = 0; i < n; i++) {
		const char *cl = group_tag(&gs[i], "legion-cluster"),
			   *c = group_tag(&gs[i], "legion-created");
		long long created = 0;
		if (c)
			parse_int(c, 0, INT64_MAX, &created);
		if (now - created < o->older_than)
			continue;
		int master_alive = 0, master_idle = 0;
		for (int x = 0; x < n; x++)
			if (!strcmp(group_tag(&gs[x], "legion-cluster"), cl) && is_master(&gs[x]) &&
			    group_alive(gs[x].state)) {
				master_alive = 1; /* a starting master is alive too */
				master_idle |= idle && idle[x];
			}
		if (!group_alive(gs[i].state) || !master_alive || master_idle)
			names[k++] = gs[i].name;
	}
	free(idle);
	return k;
}

int cmd_gc(const struct opts *o)
{
	struct backend be;
	struct group *gs = NULL;
	int n = 0, ex = 0;
	if (open_backend(o, &be, &ex) < 0)
		return ex;
	if (be.ops->list(&be, NULL, &gs, &n, &ex) < 0)
		goto out;
	char **names = calloc((size_t)n + 1, sizeof *names);
	int k = names ? gc_pick(o, gs, n, names) : 0;
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_arr(&w, o->dry_run ? "wouldDelete" : "deleted");
	for (int i = 0; i < k; i++)
		jw_str(&w, NULL, names[i]);
	jw_end(&w);
	jw_end(&w);
	if (!o->dry_run && k > 0) {
		if (backend_delete(&be, names, k) < 0)
			ex = ex ? ex : EXIT_TEMPFAIL;
		else /* a cluster whose master went needs no credentials here */
			for (int i = 0; i < n; i++)
				for (int x = 0; x < k && is_master(&gs[i]); x++)
					if (names[x] == gs[i].name)
						cluster_forget(group_tag(&gs[i], "legion-cluster"));
	}
	char *doc = jw_finish(&w, NULL);
	printf("%s\n", doc ? doc : "{}");
	free(doc);
	free(names);
out:
	groups_free(gs, n);
	be.ops->close(&be);
	return ex;
}

/* Which credential, who, where: never the token. */
int cmd_auth(struct opts *o)
{
	struct auth a;
	int ex;
	if (!strcmp(o->backend, "fargate"))
		return fargate_auth(o->location);
	if (auth_init(&a, o->cloud, &ex) < 0)
		return ex;
	const char *tok = auth_token(&a, &ex);
	if (tok) {
		const char *sub =
			o->subscription ? o->subscription : getenv("AZURE_SUBSCRIPTION_ID");
		struct jw w = {0};
		jw_obj(&w, NULL);
		jw_str(&w, "credential", auth_kind_name(a.kind));
		jw_str(&w, "tenant", a.tenant);
		jw_str(&w, "clientId", a.client_id);
		jw_str(&w, "user", a.user);
		jw_str(&w, "subscription", sub && *sub ? sub : a.subscription);
		jw_str(&w, "authority",
		       a.kind == AUTH_MSI   ? a.imds
		       : a.kind == AUTH_CLI ? NULL
					    : a.authority);
		jw_int(&w, "expiresIn", (a.expires_ms - now_ms()) / 1000);
		jw_str(&w, "cloud", a.cloud->name);
		jw_end(&w);
		char *doc = jw_finish(&w, NULL);
		if (doc)
			printf("%s\n", doc);
		free(doc);
		ex = doc ? 0 : EXIT_SOFTWARE;
	}
	auth_free(&a);
	return ex;
}
