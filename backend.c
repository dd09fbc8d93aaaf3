/*
 * backend.c: the backend table, and container groups, the backend-neutral shape every
 * backend speaks: who owns which string, states, small setters. Leaves out where a
 * group runs (local.c, aci.c).
 */
#include "legion.h"

#include <stdlib.h>
#include <string.h>

static const struct backend_ops *const backends[] = {&backend_local, &backend_aci,
						     &backend_fargate};
#define NBACKENDS (sizeof backends / sizeof backends[0])

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; name && i < NBACKENDS; i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

void backend_names(char *out, size_t n)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < NBACKENDS && k < n; i++)
		k += (size_t)snprintf(out + k, n - k, "%s%s", i ? ", " : "", backends[i]->name);
}

int backend_delete(struct backend *be, char *const *names, int n)
{
	int ex, rc;
	if (n <= 0)
		return 0;
	fprintf(stderr, "%s: deleting %d container group%s\n", progname, n, n == 1 ? "" : "s");
	http_hold_begin(); /* cleaning up after Ctrl-C must still reach the backend */
	rc = be->ops->remove(be, names, n, &ex);
	http_hold_end();
	return rc;
}

static const char *const state_names[] = {
	[GS_UNKNOWN] = "-",           [GS_PENDING] = "Pending", [GS_RUNNING] = "Running",
	[GS_SUCCEEDED] = "Succeeded", [GS_FAILED] = "Failed",   [GS_STOPPED] = "Stopped",
};

const char *group_state_name(enum group_state s)
{
	return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "-";
}

enum group_state group_state_parse(const char *s)
{
	for (size_t i = 1; s && i < sizeof state_names / sizeof state_names[0]; i++)
		if (!strcmp(state_names[i], s))
			return (enum group_state)i;
	return GS_UNKNOWN;
}

int group_alive(enum group_state s)
{
	return s == GS_PENDING || s == GS_RUNNING;
}

void group_free(struct group *g)
{
	free(g->name);
	free(g->image);
	for (char **a = g->argv; a && *a; a++)
		free(*a);
	free(g->argv);
	for (int i = 0; i < g->nenv; i++) {
		if (g->env[i].value)
			memset(g->env[i].value, 0, strlen(g->env[i].value));
		free(g->env[i].name);
		free(g->env[i].value);
	}
	free(g->env);
	for (int i = 0; i < g->ntags; i++) {
		free(g->tags[i].name);
		free(g->tags[i].value);
	}
	free(g->tags);
	free(g->dns_label);
	free(g->ip);
	free(g->fqdn);
	memset(g, 0, sizeof *g);
	g->exit_code = -1;
}

void groups_free(struct group *g, int n)
{
	for (int i = 0; i < n; i++)
		group_free(&g[i]);
	free(g);
}

/* Copies of name and value into *a and *b, or -1 with neither kept. */
static int dup_pair(char **a, char **b, const char *name, const char *value)
{
	*a = strdup(name);
	*b = strdup(value);
	if (*a && *b)
		return 0;
	free(*a);
	free(*b);
	return -1;
}

int group_setenv(struct group *g, const char *name, const char *value, int secure)
{
	struct env_var *e = realloc(g->env, (size_t)(g->nenv + 1) * sizeof *e);
	if (!e)
		return -1;
	g->env = e;
	e = &g->env[g->nenv];
	e->secure = secure;
	if (dup_pair(&e->name, &e->value, name, value) < 0)
		return -1;
	g->nenv++;
	return 0;
}

int group_settag(struct group *g, const char *name, const char *value)
{
	struct tag *t = realloc(g->tags, (size_t)(g->ntags + 1) * sizeof *t);
	if (!t)
		return -1;
	g->tags = t;
	t = &g->tags[g->ntags];
	if (dup_pair(&t->name, &t->value, name, value) < 0)
		return -1;
	g->ntags++;
	return 0;
}

const char *group_tag(const struct group *g, const char *name)
{
	for (int i = 0; i < g->ntags; i++)
		if (!strcmp(g->tags[i].name, name))
			return g->tags[i].value;
	return NULL;
}

int group_tags_json(struct group *g, const struct json *j, int obj)
{
	int rc = 0;
	if (obj < 0 || j->t[obj].type != JSMN_OBJECT)
		return 0;
	for (int k = obj + 1, m = 0; m < j->t[obj].size; m++) {
		char *tn = json_str(j, k), *tv = json_str(j, k + 1);
		if (tn && tv && group_settag(g, tn, tv) < 0)
			rc = -1;
		free(tn);
		free(tv);
		k = json_skip(j, k + 1);
	}
	return rc;
}
