/*
 * group.c: container groups, the backend-neutral shape both backends speak: who owns
 * which string, and small setters. Leaves out where a group runs (local.c, aci.c).
 */
#include "legion.h"

#include <stdlib.h>
#include <string.h>

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
	free(g->state);
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

int group_setenv(struct group *g, const char *name, const char *value, int secure)
{
	struct env_var *e = realloc(g->env, (size_t)(g->nenv + 1) * sizeof *e);
	if (!e)
		return -1;
	g->env = e;
	e = &g->env[g->nenv];
	e->name = strdup(name);
	e->value = strdup(value);
	e->secure = secure;
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return -1;
	}
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
	t->name = strdup(name);
	t->value = strdup(value);
	if (!t->name || !t->value) {
		free(t->name);
		free(t->value);
		return -1;
	}
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
