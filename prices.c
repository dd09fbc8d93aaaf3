/*
 * prices.c: `legion prices`: ACI's Linux standard pay-as-you-go vCPU and memory prices
 * per region from the public Azure Retail Prices API, printed as a price file (cost.c
 * reads it). Leaves out reading price files and the cost line (cost.c) and HTTP (http.c).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PRICES_URL "https://prices.azure.com/api/retail/prices"
#define PRICES_MAX_PAGES 100              /* ACI's rows are ~20 per region */
#define PRICES_MAX_PAGE ((size_t)8 << 20) /* one page's body */
#define PRICES_MAX_REGIONS 1024
#define METER_VCPU "Standard vCPU Duration" /* Linux: Windows adds its own software meter */
#define METER_MEMORY "Standard Memory Duration"

/* One region's two meters as found so far. */
struct region_price {
	char region[64], currency[2][8], since[2][32];
	double per_s[2]; /* [0] vCPU-second, [1] GB-second */
	int have[2];
};

struct fetch {
	struct region_price *r;
	int n;
	char base[1024];              /* the endpoint, for same-origin checks */
	char *seen[PRICES_MAX_PAGES]; /* every page's URL, for loops (owned) */
	int pages;
	char today[32]; /* rows effective later than now are not prices yet */
};

/* Seconds in one unit of measure ("1 Hour", "100 Seconds", "1 GB Hour", "1/Hour"),
 * *gb set when it is per GB; 0 when not understood. */
static double unit_seconds(const char *u, int *gb)
{
	static const struct {
		const char *word;
		double secs;
	} units[] = {{"Second", 1},  {"Seconds", 1},  {"Minute", 60}, {"Minutes", 60},
		     {"Hour", 3600}, {"Hours", 3600}, {"Day", 86400}, {"Days", 86400}};
	char *end;
	long n = strtol(u, &end, 10);
	if (end == u || n < 1 || n > 1000000 || (*end != ' ' && *end != '/'))
		return 0;
	end++;
	*gb = !strncmp(end, "GB ", 3);
	if (*gb)
		end += 3;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(end, units[i].word))
			return (double)n * units[i].secs;
	return 0;
}

/* The URL's "scheme://host:port" with the scheme's default port made explicit. */
static void origin(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	size_t scheme = p ? (size_t)(p - url) : 0, host = p ? strcspn(p + 3, "/?#") : 0;
	if (!p) {
		snprintf(out, n, "?");
		return;
	}
	int has_port = memchr(p + 3, ':', host) != NULL && p[3] != '[';
	if (p[3] == '[') { /* [::1]:port */
		const char *rb = memchr(p + 3, ']', host);
		has_port = rb && rb + 1 < p + 3 + host && rb[1] == ':';
	}
	snprintf(out, n, "%.*s://%.*s%s", (int)scheme, url, (int)host, p + 3,
		 has_port      ? ""
		 : scheme == 5 ? ":443"
			       : ":80");
}

static int loopback(const char *url)
{
	const char *h = strstr(url, "://");
	if (!h)
		return 0;
	h += 3;
	return !strncmp(h, "127.", 4) || !strncmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5);
}

/* LEGION_PRICES_URL (https, or http to a loopback address), else Azure's. */
static int endpoint(char *out, size_t n)
{
	const char *e = getenv("LEGION_PRICES_URL");
	if (!e || !*e) {
		snprintf(out, n, "%s", PRICES_URL);
		return 0;
	}
	if ((strncmp(e, "https://", 8) && !(strncmp(e, "http://", 7) == 0 && loopback(e))) ||
	    strchr(e, '?') || strcspn(e, " \t\r\n") != strlen(e) || strlen(e) >= n) {
		warnx_("LEGION_PRICES_URL: '%s' is not an https URL without a query (http only "
		       "to 127.0.0.1 or localhost)",
		       e);
		return -1;
	}
	snprintf(out, n, "%s", e);
	return 0;
}

static struct region_price *region_of(struct fetch *f, const char *region)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->r[i].region, region))
			return &f->r[i];
	if (f->n >= PRICES_MAX_REGIONS)
		return NULL;
	struct region_price *r = realloc(f->r, (size_t)(f->n + 1) * sizeof *r);
	if (!r)
		return NULL;
	f->r = r;
	memset(&r[f->n], 0, sizeof r[f->n]);
	snprintf(r[f->n].region, sizeof r[f->n].region, "%s", region);
	return &r[f->n++];
}

static int field(const struct json *j, int item, const char *key, char *out, size_t n)
{
	out[0] = '\0';
	return json_strcpy(j, json_get(j, item, key), out, n);
}

/* One row of Items: kept when it is a Linux standard pay-as-you-go duration meter of
 * its region's first tier, the latest that is in effect. */
static void take_row(struct fetch *f, const struct json *j, int item)
{
	char product[128], sku[128], meter[128], type[32], region[64], cur[8], unit[64], since[32];
	double price, tier = 0;
	int gb;
	if (field(j, item, "productName", product, sizeof product) < 0 ||
	    field(j, item, "skuName", sku, sizeof sku) < 0 ||
	    field(j, item, "meterName", meter, sizeof meter) < 0 ||
	    field(j, item, "type", type, sizeof type) < 0 || strcmp(type, "Consumption") ||
	    strcmp(product, "Container Instances") || strcmp(sku, "Standard"))
		return; /* Windows, Spot, GPU, confidential, savings plans, reservations */
	int k = !strcmp(meter, METER_VCPU) ? 0 : !strcmp(meter, METER_MEMORY) ? 1 : -1;
	if (k < 0 || field(j, item, "armRegionName", region, sizeof region) < 0 || !region[0] ||
	    strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(region) ||
	    field(j, item, "currencyCode", cur, sizeof cur) < 0 || strlen(cur) != 3 ||
	    strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3 ||
	    field(j, item, "unitOfMeasure", unit, sizeof unit) < 0 ||
	    json_num(j, json_get(j, item, "retailPrice"), &price) < 0 || !(price >= 0) ||
	    (json_get(j, item, "tierMinimumUnits") >= 0 &&
	     json_num(j, json_get(j, item, "tierMinimumUnits"), &tier) < 0) ||
	    tier != 0)
		return;
	field(j, item, "effectiveStartDate", since, sizeof since);
	if (since[0] && strcmp(since, f->today) > 0)
		return;
	double secs = unit_seconds(unit, &gb);
	if (secs <= 0 || gb != k) {
		warnx_("prices: %s %s: unit '%s' not understood; row skipped", region, meter, unit);
		return;
	}
	struct region_price *r = region_of(f, region);
	if (!r || (r->have[k] && strcmp(since, r->since[k]) < 0))
		return;
	r->per_s[k] = price / secs;
	r->have[k] = 1;
	snprintf(r->currency[k], sizeof r->currency[k], "%s", cur);
	snprintf(r->since[k], sizeof r->since[k], "%s", since);
}

/* One page: its rows into f, its NextPageLink (owned, NULL at the end) into *next. 0,
 * or the exit code after a message. */
static int page(struct fetch *f, const char *url, char **next)
{
	struct http_req q = {.url = url, .tries = 3, .max_body = PRICES_MAX_PAGE};
	struct http_resp r = {0};
	struct json j = {0};
	int ex = 0;
	*next = NULL;
	q.explain = NULL;
	if (http_do(&q, &r) < 0 || r.status != 200) {
		if (r.status >= 400)
			http_explain_json(&r, "Error.Code", "Error.Message");
		warnx_("prices: %s", r.err[0] ? r.err : "no answer");
		ex = r.status == 0                        ? EXIT_UNAVAIL
		     : r.status == 429 || r.status >= 500 ? EXIT_TEMPFAIL
							  : EXIT_UNAVAIL;
		goto out;
	}
	int items;
	if (json_parse(&j, r.body.p, r.body.len, NULL) != 0 || j.n < 1 ||
	    j.t[0].type != JSMN_OBJECT || (items = json_get(&j, 0, "Items")) < 0 ||
	    j.t[items].type != JSMN_ARRAY) {
		warnx_("prices: page %d of %s is not a price list (no Items array)", f->pages,
		       f->base);
		ex = EXIT_DATAERR;
		goto out;
	}
	for (int i = 0, t = items + 1; i < j.t[items].size; i++, t = json_skip(&j, t))
		if (j.t[t].type == JSMN_OBJECT)
			take_row(f, &j, t);
	int nl = json_get(&j, 0, "NextPageLink");
	if (nl >= 0 && j.t[nl].type == JSMN_STRING && j.t[nl].end > j.t[nl].start) {
		*next = json_str(&j, nl);
		if (!*next) {
			warnx_("prices: page %d: NextPageLink is not a string", f->pages);
			ex = EXIT_DATAERR;
		}
	}
out:
	json_free(&j);
	http_resp_free(&r);
	return ex;
}

/* Whether next may be fetched: the endpoint's own host, not seen, within the bound. */
static int next_ok(struct fetch *f, const char *next)
{
	char a[512], b[512];
	origin(f->base, a, sizeof a);
	origin(next, b, sizeof b);
	if (strcmp(a, b) || strcspn(next, " \t\r\n\"\\") != strlen(next)) {
		warnx_("prices: page %d: NextPageLink '%.200s' is not on %s", f->pages, next, a);
		return EXIT_DATAERR;
	}
	for (int i = 0; i < f->pages; i++)
		if (!strcmp(f->seen[i], next)) {
			warnx_("prices: page %d: NextPageLink goes back to page %d (a loop)",
			       f->pages, i + 1);
			return EXIT_DATAERR;
		}
	if (f->pages >= PRICES_MAX_PAGES) {
		warnx_("prices: more than %d pages: giving up", PRICES_MAX_PAGES);
		return EXIT_DATAERR;
	}
	return 0;
}

static int cmp_region(const void *a, const void *b)
{
	return strcmp(((const struct region_price *)a)->region,
		      ((const struct region_price *)b)->region);
}

/* A price with its trailing zeros cut: 0.0000112500000 -> 0.00001125. */
static void price_str(double v, char *out, size_t n)
{
	snprintf(out, n, "%.14f", v);
	size_t k = strlen(out);
	while (k > 2 && out[k - 1] == '0' && out[k - 2] != '.')
		out[--k] = '\0';
}

/* The price file: comment lines naming the source, then one line per region with both
 * meters in one currency. Returns the regions printed into out. */
static int render(struct fetch *f, const char *source, const char *fetched, struct buf *out)
{
	char lo[16] = "", hi[16] = "";
	int n = 0;
	if (f->n > 1)
		qsort(f->r, (size_t)f->n, sizeof *f->r, cmp_region);
	struct buf rows = {0};
	for (int i = 0; i < f->n; i++) {
		struct region_price *r = &f->r[i];
		if (!r->have[0] || !r->have[1] || strcmp(r->currency[0], r->currency[1]))
			continue;
		char v[32], g[32], since[16];
		int later = strcmp(r->since[0], r->since[1]) < 0;
		snprintf(since, sizeof since, "%.10s", r->since[later]);
		if (!lo[0] || strcmp(since, lo) < 0)
			snprintf(lo, sizeof lo, "%s", since);
		if (strcmp(since, hi) > 0)
			snprintf(hi, sizeof hi, "%s", since);
		price_str(r->per_s[0], v, sizeof v);
		price_str(r->per_s[1], g, sizeof g);
		buf_addf(&rows, "%s %s %s %s # since %s\n", r->region, v, g, r->currency[0],
			 since[0] ? since : "?");
		n++;
	}
	buf_addf(out,
		 "# Azure Container Instances: Linux, standard (not Spot, GPU or confidential), "
		 "pay-as-you-go retailPrice\n"
		 "# per vCPU-second (" METER_VCPU ") and per GB-second (" METER_MEMORY ")\n"
		 "# source: %s\n"
		 "# fetched: %s\n"
		 "# effective: %s to %s (effectiveStartDate of the rows used)\n"
		 "# region vcpu-second-price gb-second-price currency\n",
		 source, fetched, lo[0] ? lo : "?", hi[0] ? hi : "?");
	buf_adds(out, rows.p ? rows.p : "");
	buf_free(&rows);
	return n;
}

static int fetch_all(struct fetch *f, const char *first)
{
	char *url = strdup(first);
	int ex = url ? 0 : EXIT_SOFTWARE;
	while (url && !ex) {
		f->seen[f->pages++] = url;
		char *next = NULL;
		ex = page(f, url, &next);
		url = NULL;
		if (!ex && next && (ex = next_ok(f, next)) == 0)
			url = next;
		else
			free(next);
		if (!ex && interrupted())
			ex = interrupted();
	}
	return ex;
}

int cmd_prices(const struct opts *o)
{
	struct fetch f = {0};
	struct buf filter = {0}, url = {0}, out = {0};
	const char *cloud = o->cloud ? o->cloud : getenv("AZURE_CLOUD");
	int ex = 0;
	if (cloud && *cloud && cloud_find(cloud) &&
	    strcmp(cloud_find(cloud)->name, "AzurePublicCloud"))
		return bad(o,
			   "the Azure Retail Prices API has the public cloud's prices only, not "
			   "%s's: make a price file by hand (README: What a job cost)",
			   cloud_find(cloud)->name);
	if (o->location &&
	    (!*o->location || strlen(o->location) >= 64 ||
	     strspn(o->location, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(o->location)))
		return bad(o, "--location: '%s' is not a region name (like westus)", o->location);
	if (endpoint(f.base, sizeof f.base) < 0)
		return EXIT_CONFIG;
	time_t now = time(NULL);
	char fetched[32];
	strftime(fetched, sizeof fetched, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	snprintf(f.today, sizeof f.today, "%s", fetched);
	buf_adds(&filter, "serviceName eq 'Container Instances' and priceType eq 'Consumption'");
	if (o->location)
		buf_addf(&filter, " and armRegionName eq '%s'", o->location);
	buf_addf(&url, "%s?$filter=", f.base);
	if (!filter.p || buf_add_pct(&url, filter.p, filter.len, "") < 0) {
		ex = EXIT_SOFTWARE;
		goto out;
	}
	if ((ex = fetch_all(&f, url.p)) != 0)
		goto out;
	char source[1400];
	snprintf(source, sizeof source, "%s?$filter=%s", f.base, filter.p);
	if (render(&f, source, fetched, &out) == 0) {
		if (o->location)
			warnx_("prices: no Linux standard prices of Container Instances in '%s' "
			       "(is it a region of ACI?)",
			       o->location);
		else
			warnx_("prices: the answer had no Linux standard prices of Container "
			       "Instances");
		ex = o->location ? EXIT_USAGE : EXIT_UNAVAIL;
		goto out;
	}
	if (fwrite(out.p, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		warn_("prices: unable to write the price file");
		ex = EXIT_SOFTWARE;
	}
out:
	for (int i = 0; i < f.pages; i++)
		free(f.seen[i]);
	free(f.r);
	buf_free(&filter);
	buf_free(&url);
	buf_free(&out);
	return ex;
}
