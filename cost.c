/*
 * cost.c: what a run's container groups held (vCPU-seconds and GB-seconds, from each
 * group's creation to its deletion) and, with a price file (--price-file, else
 * ~/.config/legion/prices), what that comes to. Leaves out when groups are made and
 * deleted (submit.c) and fetching prices (prices.c); Legion ships no prices of its own
 * (README: What a job cost).
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PRICE_FILE_MAX_AGE_DAYS 90

void cost_add(struct cost *c, double cpu, long long memory_mb, long long from_ms, long long to_ms)
{
	double s = to_ms > from_ms ? (double)(to_ms - from_ms) / 1000.0 : 0;
	/* ACI is asked for memory in GB with one decimal, rounded up (aci.c) */
	double gb = ceil((double)memory_mb / 1024.0 * 10.0) / 10.0;
	c->groups++;
	c->vcpu_s += cpu * s;
	c->gb_s += gb * s;
	if (s > c->secs)
		c->secs = s;
}

/* One "region vcpu-second gb-second currency" line into p when its region is the one
 * asked for (or "*" and nothing better was found). 0, or -1 when malformed. */
static int price_line(char *line, const char *region, struct price *p)
{
	char reg[64], cur[16], *end;
	double v[2];
	char *f[4], *save = NULL;
	int n = 0;
	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		if (n < 4)
			f[n++] = t;
		else
			return -1;
	if (n != 4 || strlen(f[0]) >= sizeof reg || strlen(f[3]) >= sizeof cur)
		return -1;
	for (int k = 0; k < 2; k++) {
		errno = 0;
		v[k] = strtod(f[k + 1], &end);
		if (errno || *end || end == f[k + 1] || !(v[k] >= 0) || v[k] > 1)
			return -1;
	}
	snprintf(reg, sizeof reg, "%s", f[0]);
	snprintf(cur, sizeof cur, "%s", f[3]);
	int exact = !strcmp(reg, region);
	if (exact || (!strcmp(reg, "*") && p->found < 2)) {
		p->vcpu_s = v[0];
		p->gb_s = v[1];
		snprintf(p->currency, sizeof p->currency, "%s", cur);
		snprintf(p->region, sizeof p->region, "%s", reg);
		p->found = exact ? 2 : 1;
	}
	return 0;
}

int price_default(char *out, size_t n)
{
	struct stat st;
	return config_file("prices", out, n) == 0 && stat(out, &st) == 0 ? 0 : -1;
}

/* "# fetched: 2026-12-03T06:50:00Z" (legion prices' line): one warning when that is
 * longer ago than PRICE_FILE_MAX_AGE_DAYS. */
static void price_age(const char *line, const char *path)
{
	struct tm tm = {0};
	if (sscanf(line, "# fetched: %4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	long long days = ((long long)time(NULL) - (long long)timegm(&tm)) / 86400;
	if (days > PRICE_FILE_MAX_AGE_DAYS)
		warnx_("%s: its prices were fetched %lld days ago (%.10s): still used; refresh "
		       "them with 'legion prices > %s'",
		       path, days, line + 11, path);
}

int price_load(const char *path, const char *region, struct price *p)
{
	struct buf b = {0};
	memset(p, 0, sizeof *p);
	if (read_file(path, 1 << 20, &b) < 0) {
		warn_("unable to read the price file %s", path);
		buf_free(&b);
		return EXIT_CONFIG;
	}
	int no = 0, rc = 0;
	for (char *line = b.p, *next; line && *line && !rc; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		no++;
		if (!strncmp(line, "# fetched: ", 11))
			price_age(line, path);
		line[strcspn(line, "#\r")] = '\0';
		if (strspn(line, " \t") == strlen(line))
			continue;
		if (price_line(line, region, p) < 0) {
			warnx_("%s:%d: not 'region vcpu-second-price gb-second-price currency' "
			       "(like: westus 0.00001 0.000001 USD)",
			       path, no);
			rc = EXIT_CONFIG;
		}
	}
	snprintf(p->file, sizeof p->file, "%s", path);
	buf_free(&b);
	return rc;
}

int price_for(const struct opts *o, struct price *p)
{
	char dflt[1024];
	const char *pf = o->price_file;
	int local = !strcmp(o->backend, "local");
	memset(p, 0, sizeof *p);
	if (!pf && !local && price_default(dflt, sizeof dflt) == 0)
		pf = dflt;
	int rc = pf ? price_load(pf, o->location ? o->location : ACI_DEFAULT_LOCATION, p) : 0;
	if (local) /* this machine's cores: seconds, never money (a --price-file is still checked) */
		p->found = 0;
	return rc;
}

double cost_money(const struct cost *c, const struct price *p)
{
	return p && p->found ? c->vcpu_s * p->vcpu_s + c->gb_s * p->gb_s : 0;
}

void cost_print(const struct cost *c, const struct price *p, const char *what)
{
	if (!c->groups)
		return;
	fprintf(stderr,
		"%s: cost: %s (%d container group%s, %.0f s): %.1f vCPU-seconds, %.1f "
		"GB-seconds",
		progname, what, c->groups, c->groups == 1 ? "" : "s", c->secs, c->vcpu_s, c->gb_s);
	double m = cost_money(c, p);
	if (p && p->found) /* a short run at real prices is a fraction of a cent */
		fprintf(stderr, "; about %.*f %s at %s's %s prices", m >= 0.01 ? 4 : 6, m,
			p->currency, p->file, p->region);
	fputc('\n', stderr);
}
