/*
 * heal.c: self-healing while an attached `submit` follows its job: the follow loop's
 * thread (a ticker that calls submit.c's hooks every few seconds while the main thread
 * streams the job's log), the replacement of a worker group that ended before the job
 * did (up to --max-replacements), and naming the master's end. Leaves out how a worker
 * group is built (submit.c's callback), the job's log (cluster.c) and where groups run
 * (the backends).
 */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define HEAL_CHECKS 3 /* workers looked at per tick (round robin), besides the master */

/* ---- the follow loop's thread ---- */

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;
	while (!t->quit && !got_signal) {
		if (sleep_ms(t->ms, &t->quit) || got_signal)
			break;
		t->fn(t->arg);
	}
	http_thread_end();
	return NULL;
}

int ticker_start(struct ticker *t, long ms, void (*fn)(void *), void *arg)
{
	memset(t, 0, sizeof *t);
	t->ms = ms;
	t->fn = fn;
	t->arg = arg;
	/* signals go to the main thread: it follows the job and kills it on Ctrl-C */
	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	t->on = pthread_create(&t->thread, NULL, ticker_main, t) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!t->on)
		warnx_("unable to start a thread: lost workers will not be replaced");
	return t->on ? 0 : -1;
}

void ticker_stop(struct ticker *t)
{
	if (!t->on)
		return;
	t->quit = 1;
	pthread_join(t->thread, NULL);
	t->on = 0;
}

/* ---- groups ---- */

int group_ended(struct backend *be, const char *name, char *why, size_t n)
{
	struct group g;
	int e2, rc = be->ops->get(be, name, &g, &e2);
	if (rc == BACKEND_GONE) {
		snprintf(why, n, "gone");
		return 1;
	}
	if (rc != BACKEND_FOUND)
		return -1;
	int ended = !group_alive(g.state);
	if (ended && g.exit_code >= 0)
		snprintf(why, n, "%s, exit %d", group_state_name(g.state), g.exit_code);
	else if (ended)
		snprintf(why, n, "%s", group_state_name(g.state));
	ended = ended ? (g.state == GS_SUCCEEDED ? 2 : 1) : 0;
	group_free(&g);
	return ended;
}

int master_unusable(struct backend *be, const char *cluster, int want, long long silent_ms,
		    long long limit_ms)
{
	char name[64], why[64];
	snprintf(name, sizeof name, "%s-master", cluster);
	int end = group_ended(be, name, why, sizeof why);
	if (end <= 0 && silent_ms <= limit_ms)
		return 0;
	const char *s = want == 1 ? "" : "s";
	progress_clear();
	if (end > 0 && !strcmp(why, "gone"))
		warnx_("the master of %s stopped before %d worker%s registered: its group %s is "
		       "gone",
		       cluster, want, s, name);
	else if (end > 0)
		warnx_("the master of %s stopped before %d worker%s registered: its group %s "
		       "ended (%s)",
		       cluster, want, s, name, why);
	else
		warnx_("the master of %s stopped answering before %d worker%s registered: its job "
		       "API has been silent for %lld s (its group %s %s)",
		       cluster, want, s, silent_ms / 1000, name,
		       end == 0 ? "still runs" : "could not be read");
	warnx_("'legion logs %s --container %s' may say why", cluster, name);
	return 1;
}

/* ---- healing ---- */

void heal_init(struct heal *h, const struct heal_cfg *cfg)
{
	memset(h, 0, sizeof *h);
	h->cfg = *cfg;
	snprintf(h->master, sizeof h->master, "%s-master", cfg->cluster);
}

/* Replaces worker i (which ended: why) if the budget allows; one line either way. */
static void replace(struct heal *h, int i, const char *why)
{
	const struct heal_cfg *c = &h->cfg;
	const char *name = (*c->ws)[i].name;
	if (h->used >= c->max) {
		if (c->max == 0)
			warnx_("worker %s stopped (%s): not replacing it (--max-replacements 0)",
			       name, why);
		else
			warnx_("worker %s stopped (%s): not replacing it (all %lld replacements "
			       "used)",
			       name, why, c->max);
		return;
	}
	h->used++;
	warnx_("worker %s stopped (%s): replacing it (%lld of %lld)", name, why, h->used, c->max);
	struct group *ws = realloc(*c->ws, (size_t)(*c->nw + 1) * sizeof *ws);
	if (!ws) {
		warnx_("out of memory");
		return;
	}
	*c->ws = ws;
	struct group *g = &ws[*c->nw];
	int ex;
	if (c->make(c->arg, *c->nw + 1, g) < 0) {
		warnx_("out of memory");
		group_free(g);
		return;
	}
	/* one slot more, created or not: teardown frees every allocated one */
	(*c->nw)++;
	if (c->be->ops->create(c->be, g, 1, &ex) < 0) {
		warnx_("unable to replace worker %s: the job goes on with fewer", name);
		return; /* create deleted what it made */
	}
	/* created: this run's to delete; the ended group stays in the list for teardown */
	if (*c->nws != *c->nw - 1) { /* keep ws[0..nws) the created ones */
		struct group t = ws[*c->nws];
		ws[*c->nws] = *g;
		*g = t;
	}
	(*c->nws)++;
}

void heal_tick(struct heal *h)
{
	const struct heal_cfg *c = &h->cfg;
	char why[64];
	if (h->master_ended || got_signal)
		return;
	if (group_ended(c->be, h->master, why, sizeof why) > 0) {
		snprintf(h->master_why, sizeof h->master_why, "%s", why);
		h->master_ended = 1;
		warnx_("the master %s stopped (%s)", h->master, why);
		return;
	}
	int n = *c->nws, checks = n < HEAL_CHECKS ? n : HEAL_CHECKS;
	if (!h->done || h->ndone < n) {
		char *d = realloc(h->done, (size_t)n + 1);
		if (!d)
			return;
		memset(d + h->ndone, 0, (size_t)(n + 1 - h->ndone));
		h->done = d;
		h->ndone = n + 1;
	}
	for (int k = 0; k < checks && !got_signal; k++) {
		int i = h->next++ % n;
		if (h->done[i])
			continue;
		int rc = group_ended(c->be, (*c->ws)[i].name, why, sizeof why);
		if (rc == 2) /* exit 0: it stopped itself (told to, or idle): no failure */
			h->done[i] = 1;
		else if (rc == 1) {
			h->done[i] = 1;
			replace(h, i, why);
		}
	}
}

int heal_master_lost(struct heal *h)
{
	char why[64];
	for (int k = 0; k < 5 && !h->master_ended && !got_signal; k++) {
		if (group_ended(h->cfg.be, h->master, why, sizeof why) > 0) {
			snprintf(h->master_why, sizeof h->master_why, "%s", why);
			h->master_ended = 1;
			warnx_("the master %s stopped (%s): the job is lost", h->master, why);
			return 1;
		}
		sleep_ms(1000, &got_signal);
	}
	return h->master_ended;
}

void heal_free(struct heal *h)
{
	free(h->done);
	h->done = NULL;
}
