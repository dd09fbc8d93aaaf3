/*
 * aci.c: the aci backend: container groups on Azure Container Instances through the
 * ARM REST API (PUT/GET/DELETE containerGroups, list by tag, container logs), with
 * Entra ID tokens from auth.c and parallel fan-out through http_do_many. Leaves out
 * VNets, registries with credentials and GPU SKUs.
 */
#include "legion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ACI_API "2023-05-01"
#define RG_API "2021-04-01"
#define SUB_API "2020-01-01"
#define DEFAULT_ARM "https://management.azure.com"
#define CONTAINER "spark" /* one container per group, always this name */
#define PROVISION_DEADLINE_MS (15 * 60 * 1000)

struct aci {
	struct auth auth;
	char arm[256];
	char sub[64];
	char rg[128];
	char location[64];
	int parallel, all;
	char authz[4096]; /* "Authorization: Bearer ..." for the current token */
};

/* Turns an HTTP result into an exit code: throttled or down 75, refused 77, bad 65. */
static int exit_for(const struct http_resp *r)
{
	if (r->status == 0 || r->status == 429 || r->status >= 500)
		return EXIT_TEMPFAIL;
	if (r->status == 401 || r->status == 403)
		return EXIT_NOPERM;
	if (r->status == 400 || r->status == 409 || r->status == 422)
		return EXIT_DATAERR;
	return EXIT_UNAVAIL;
}

/* Refreshes the Authorization header; -1 with *ex set when no token can be had. */
static int authorize(struct aci *a, int *ex)
{
	const char *tok = auth_token(&a->auth, ex);
	if (!tok)
		return -1;
	snprintf(a->authz, sizeof a->authz, "Authorization: Bearer %s", tok);
	return 0;
}

static void fill_req(struct aci *a, struct http_req *q, const char **hdrs, const char *method,
		     const char *url, const char *body, size_t n)
{
	hdrs[0] = a->authz;
	hdrs[1] = "Content-Type: application/json";
	hdrs[2] = NULL;
	memset(q, 0, sizeof *q);
	q->method = method;
	q->url = url;
	q->headers = hdrs;
	q->body = body;
	q->body_len = n;
	q->redact = a->auth.token;
}

/* One ARM request with a fresh token. Returns 0 when a response arrived. */
static int arm(struct aci *a, const char *method, const char *url, const char *body,
	       struct http_resp *r, int *ex)
{
	const char *hdrs[3];
	struct http_req q;
	memset(r, 0, sizeof *r);
	if (authorize(a, ex) < 0)
		return -1;
	fill_req(a, &q, hdrs, method, url, body, body ? strlen(body) : 0);
	if (http_do(&q, r) < 0) {
		warnx_("%s", r->err);
		*ex = exit_for(r);
		return -1;
	}
	return 0;
}

static void group_url(const struct aci *a, const char *name, char *out, size_t n)
{
	snprintf(out, n,
		 "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerInstance/"
		 "containerGroups/%s?api-version=" ACI_API,
		 a->arm, a->sub, a->rg, name);
}

/* The only subscription this identity sees, when none was named. */
static int pick_subscription(struct aci *a, int *ex)
{
	char url[512];
	struct http_resp r;
	struct json j = {0};
	snprintf(url, sizeof url, "%s/subscriptions?api-version=" SUB_API, a->arm);
	if (arm(a, "GET", url, NULL, &r, ex) < 0)
		return -1;
	int rc = -1;
	if (r.status != 200) {
		warnx_("unable to list subscriptions: %s", r.err);
		*ex = exit_for(&r);
	} else if (json_parse(&j, r.body.p, r.body.len, NULL) != 0) {
		warnx_("unable to list subscriptions: the answer is not JSON");
		*ex = EXIT_UNAVAIL;
	} else {
		int v = json_get(&j, 0, "value");
		int count = v >= 0 ? j.t[v].size : 0;
		if (count == 1 && json_strcpy(&j, json_get(&j, json_at(&j, v, 0), "subscriptionId"),
					      a->sub, sizeof a->sub) == 0)
			rc = 0;
		else {
			warnx_("%s: name one with --subscription or AZURE_SUBSCRIPTION_ID",
			       count ? "this identity sees several subscriptions"
				     : "this identity sees no subscription");
			*ex = EXIT_CONFIG;
		}
	}
	json_free(&j);
	http_resp_free(&r);
	return rc;
}

static int name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("-_.()", s[i])))
			return 0;
	return 1;
}

static int a_open(struct backend *be, const struct opts *o, int *ex)
{
	struct aci *a = calloc(1, sizeof *a);
	if (!a) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	be->ctx = a;
	const char *arm_ep = getenv("LEGION_ARM_ENDPOINT");
	snprintf(a->arm, sizeof a->arm, "%s", arm_ep && *arm_ep ? arm_ep : DEFAULT_ARM);
	size_t k = strlen(a->arm);
	while (k > 0 && a->arm[k - 1] == '/')
		a->arm[--k] = '\0';
	if (!name_ok(o->resource_group, 90)) {
		warnx_("--resource-group: '%s' is not a resource group name", o->resource_group);
		*ex = EXIT_USAGE;
		return -1;
	}
	if (!name_ok(o->location, 60)) {
		warnx_("--location: '%s' is not an Azure region name", o->location);
		*ex = EXIT_USAGE;
		return -1;
	}
	snprintf(a->rg, sizeof a->rg, "%s", o->resource_group);
	snprintf(a->location, sizeof a->location, "%s", o->location);
	a->parallel = o->parallel > 0 ? (int)o->parallel : 16;
	a->all = o->all;
	if (auth_init(&a->auth, ex) < 0)
		return -1;
	const char *sub = o->subscription ? o->subscription : getenv("AZURE_SUBSCRIPTION_ID");
	if (sub && *sub) {
		if (strlen(sub) >= sizeof a->sub || strspn(sub, "0123456789abcdefABCDEF-") != strlen(sub)) {
			warnx_("'%s' is not a subscription id", sub);
			*ex = EXIT_USAGE;
			return -1;
		}
		snprintf(a->sub, sizeof a->sub, "%s", sub);
	} else if (pick_subscription(a, ex) < 0)
		return -1;
	return 0;
}

static void a_close(struct backend *be)
{
	struct aci *a = be->ctx;
	if (a) {
		auth_free(&a->auth);
		memset(a->authz, 0, sizeof a->authz);
		free(a);
	}
	be->ctx = NULL;
}

/* Creates the resource group (tagged as Legion's) unless it exists. */
static int ensure_rg(struct aci *a, int *ex)
{
	char url[512];
	struct http_resp r;
	snprintf(url, sizeof url, "%s/subscriptions/%s/resourcegroups/%s?api-version=" RG_API,
		 a->arm, a->sub, a->rg);
	if (arm(a, "GET", url, NULL, &r, ex) < 0)
		return -1;
	long st = r.status;
	http_resp_free(&r);
	if (st == 200)
		return 0;
	if (st != 404) {
		warnx_("unable to read resource group %s: HTTP %ld", a->rg, st);
		*ex = exit_for(&(struct http_resp){.status = st});
		return -1;
	}
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "location", a->location);
	jw_obj(&w, "tags");
	jw_str(&w, "legion-managed", "true");
	jw_end(&w);
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	int rc = -1;
	if (body && arm(a, "PUT", url, body, &r, ex) == 0) {
		if (r.status == 200 || r.status == 201) {
			fprintf(stderr, "%s: created resource group %s in %s\n", progname, a->rg,
				a->location);
			rc = 0;
		} else {
			warnx_("unable to create resource group %s: %s", a->rg, r.err);
			*ex = exit_for(&r);
		}
		http_resp_free(&r);
	}
	free(body);
	return rc;
}

/* The ARM document for one group: secrets only as secureValue. Owned. */
static char *group_body(const struct aci *a, const struct group *g)
{
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "location", a->location);
	jw_obj(&w, "tags");
	for (int i = 0; i < g->ntags; i++)
		jw_str(&w, g->tags[i].name, g->tags[i].value);
	jw_end(&w);
	jw_obj(&w, "properties");
	jw_str(&w, "osType", "Linux");
	jw_str(&w, "restartPolicy", "Never");
	jw_arr(&w, "containers");
	jw_obj(&w, NULL);
	jw_str(&w, "name", CONTAINER);
	jw_obj(&w, "properties");
	jw_str(&w, "image", g->image);
	jw_arr(&w, "command");
	for (char **p = g->argv; p && *p; p++)
		jw_str(&w, NULL, *p);
	jw_end(&w);
	jw_arr(&w, "environmentVariables");
	for (int i = 0; i < g->nenv; i++) {
		jw_obj(&w, NULL);
		jw_str(&w, "name", g->env[i].name);
		jw_str(&w, g->env[i].secure ? "secureValue" : "value", g->env[i].value);
		jw_end(&w);
	}
	if (g->dns_label) { /* the name peers use must resolve to the container itself */
		char fqdn[256];
		snprintf(fqdn, sizeof fqdn, "%s.%s.azurecontainer.io", g->dns_label, a->location);
		jw_obj(&w, NULL);
		jw_str(&w, "name", "LEGION_HOST");
		jw_str(&w, "value", fqdn);
		jw_end(&w);
	}
	jw_end(&w);
	jw_obj(&w, "resources");
	jw_obj(&w, "requests");
	jw_num(&w, "cpu", g->cpu);
	/* ACI takes memory in steps of 0.1 GB */
	jw_num(&w, "memoryInGB", ceil((double)g->memory_mb / 1024.0 * 10.0) / 10.0);
	jw_end(&w);
	jw_end(&w);
	jw_arr(&w, "ports");
	for (int i = 0; i < g->nports; i++) {
		jw_obj(&w, NULL);
		jw_int(&w, "port", g->ports[i]);
		jw_str(&w, "protocol", "TCP");
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w); /* container properties */
	jw_end(&w); /* container */
	jw_end(&w); /* containers */
	jw_obj(&w, "ipAddress");
	jw_str(&w, "type", "Public");
	if (g->dns_label)
		jw_str(&w, "dnsNameLabel", g->dns_label);
	jw_arr(&w, "ports");
	for (int i = 0; i < g->nports; i++) {
		jw_obj(&w, NULL);
		jw_int(&w, "port", g->ports[i]);
		jw_str(&w, "protocol", "TCP");
		jw_end(&w);
	}
	if (g->nports == 0) { /* ACI wants a port on a public address */
		jw_obj(&w, NULL);
		jw_int(&w, "port", 8081);
		jw_str(&w, "protocol", "TCP");
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w); /* ipAddress */
	jw_end(&w); /* properties */
	jw_end(&w);
	return jw_finish(&w, NULL);
}

/* Fills the observed fields of g from an ARM containerGroup document. */
static void parse_group(const struct json *j, int root, struct group *g)
{
	int p = json_get(j, root, "properties");
	if (!g->name) /* callers may hold the name they asked for */
		g->name = json_str(j, json_get(j, root, "name"));
	int tags = json_get(j, root, "tags");
	for (int i = 0; i < g->ntags; i++) {
		free(g->tags[i].name);
		free(g->tags[i].value);
	}
	g->ntags = 0;
	if (tags >= 0 && j->t[tags].type == JSMN_OBJECT)
		for (int k = tags + 1, m = 0; m < j->t[tags].size; m++) {
			char *tn = json_str(j, k), *tv = json_str(j, k + 1);
			if (tn && tv)
				group_settag(g, tn, tv);
			free(tn);
			free(tv);
			k = json_skip(j, k + 1);
		}
	free(g->ip);
	free(g->fqdn);
	g->ip = json_str(j, json_path(j, p, "ipAddress.ip"));
	g->fqdn = json_str(j, json_path(j, p, "ipAddress.fqdn"));
	int c = json_path(j, p, "containers.0.properties");
	json_num(j, json_path(j, c, "resources.requests.cpu"), &g->cpu);
	double gb = 0;
	if (json_num(j, json_path(j, c, "resources.requests.memoryInGB"), &gb) == 0)
		g->memory_mb = (long long)(gb * 1024 + 0.5);
	free(g->image);
	g->image = json_str(j, json_get(j, c, "image"));
	char *state = json_str(j, json_path(j, p, "instanceView.state"));
	char *prov = json_str(j, json_get(j, p, "provisioningState"));
	long long code;
	g->exit_code = -1;
	if (json_int(j, json_path(j, c, "instanceView.currentState.exitCode"), &code) == 0 &&
	    json_eq(j, json_path(j, c, "instanceView.currentState.state"), "Terminated"))
		g->exit_code = (int)code;
	free(g->state);
	if (state)
		g->state = state;
	else if (prov && !strcmp(prov, "Failed"))
		g->state = strdup("Failed");
	else if (prov && !strcmp(prov, "Succeeded"))
		g->state = strdup("Running");
	else
		g->state = strdup("Pending");
	if (state && prov && !strcmp(prov, "Failed") && !strcmp(state, "Pending")) {
		free(g->state);
		g->state = strdup("Failed");
	}
	free(prov);
}

/* GETs every named group in parallel into gs (observed fields). found[i] = 0 when it
 * is gone. Returns -1 when a request got no answer. */
static int get_many(struct aci *a, struct group *gs, char *const *names, int n, int *found,
		    int *ex)
{
	struct http_req *q = calloc((size_t)n, sizeof *q);
	struct http_resp *r = calloc((size_t)n, sizeof *r);
	char (*urls)[512] = calloc((size_t)n, sizeof *urls);
	const char *hdrs[3];
	int rc = 0;
	if (!q || !r || !urls || authorize(a, ex) < 0) {
		free(q);
		free(r);
		free(urls);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		group_url(a, names[i], urls[i], sizeof urls[i]);
		fill_req(a, &q[i], hdrs, "GET", urls[i], NULL, 0);
	}
	http_do_many(q, r, n, a->parallel);
	for (int i = 0; i < n; i++) {
		found[i] = 0;
		if (r[i].status == 200) {
			struct json j = {0};
			if (json_parse(&j, r[i].body.p, r[i].body.len, NULL) == 0) {
				parse_group(&j, 0, &gs[i]);
				found[i] = 1;
			}
			json_free(&j);
		} else if (r[i].status != 404) {
			warnx_("%s", r[i].err);
			*ex = exit_for(&r[i]);
			rc = -1;
		}
		http_resp_free(&r[i]);
	}
	free(q);
	free(r);
	free(urls);
	return rc;
}

static int a_remove(struct backend *be, char *const *names, int n, int *ex);

static int a_create(struct backend *be, struct group *gs, int n, int *ex)
{
	struct aci *a = be->ctx;
	if (ensure_rg(a, ex) < 0)
		return -1;
	struct http_req *q = calloc((size_t)n, sizeof *q);
	struct http_resp *r = calloc((size_t)n, sizeof *r);
	char **bodies = calloc((size_t)n, sizeof *bodies), **names = calloc((size_t)n, sizeof *names);
	char (*urls)[512] = calloc((size_t)n, sizeof *urls);
	int *found = calloc((size_t)n, sizeof *found);
	const char *hdrs[3];
	int rc = -1, made = 0;
	if (!q || !r || !bodies || !names || !urls || !found || authorize(a, ex) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		names[i] = gs[i].name;
		group_url(a, gs[i].name, urls[i], sizeof urls[i]);
		if (!(bodies[i] = group_body(a, &gs[i]))) {
			*ex = EXIT_SOFTWARE;
			goto out;
		}
		fill_req(a, &q[i], hdrs, "PUT", urls[i], bodies[i], strlen(bodies[i]));
	}
	http_do_many(q, r, n, a->parallel);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		if (r[i].status == 200 || r[i].status == 201)
			made++;
		else if (!failed++) { /* the first refusal says why; the rest are alike */
			warnx_("unable to create %s: %s", gs[i].name, r[i].err);
			*ex = exit_for(&r[i]);
		}
	}
	if (failed) {
		if (failed > 1)
			warnx_("%d of %d container groups were refused", failed, n);
		goto out;
	}
	/* wait until every group is provisioned: running, or ended */
	long long deadline = now_ms() + PROVISION_DEADLINE_MS, pause = 250;
	for (;; pause = pause < 5000 ? pause * 2 : 5000) {
		if (get_many(a, gs, names, n, found, ex) < 0)
			goto out;
		int pending = 0;
		for (int i = 0; i < n; i++) {
			if (!found[i]) {
				warnx_("container group %s disappeared while starting", gs[i].name);
				*ex = EXIT_UNAVAIL;
				goto out;
			}
			if (!strcmp(gs[i].state, "Failed")) {
				warnx_("container group %s failed to start", gs[i].name);
				*ex = EXIT_UNAVAIL;
				goto out;
			}
			pending += !strcmp(gs[i].state, "Pending");
		}
		if (!pending)
			break;
		if (now_ms() > deadline) {
			warnx_("%d container groups were still pending after %d minutes", pending,
			       PROVISION_DEADLINE_MS / 60000);
			*ex = EXIT_TEMPFAIL;
			goto out;
		}
		if (sleep_ms(pause, &http_stop)) {
			*ex = 130;
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0 && made > 0) {
		int e2;
		int saved = http_stop;
		http_stop = 0;
		fprintf(stderr, "%s: rolling back: deleting the %d group%s this run created\n", progname,
			n, n == 1 ? "" : "s");
		a_remove(be, names, n, &e2);
		http_stop = saved;
	}
	for (int i = 0; r && i < n; i++)
		http_resp_free(&r[i]);
	for (int i = 0; bodies && i < n; i++)
		if (bodies[i]) {
			memset(bodies[i], 0, strlen(bodies[i])); /* secure values */
			free(bodies[i]);
		}
	free(q);
	free(r);
	free(bodies);
	free(names);
	free(urls);
	free(found);
	return rc;
}

static int a_get(struct backend *be, const char *name, struct group *g, int *ex)
{
	char *names[] = {(char *)name};
	int found = 0;
	memset(g, 0, sizeof *g);
	g->exit_code = -1;
	if (get_many(be->ctx, g, names, 1, &found, ex) < 0)
		return -1;
	return found ? 0 : 1;
}

static int a_list(struct backend *be, const char *cluster, struct group **out, int *n, int *ex)
{
	struct aci *a = be->ctx;
	char *url = NULL;
	struct buf first = {0};
	*out = NULL;
	*n = 0;
	if (a->all)
		buf_addf(&first,
			 "%s/subscriptions/%s/providers/Microsoft.ContainerInstance/containerGroups"
			 "?api-version=" ACI_API, a->arm, a->sub);
	else
		buf_addf(&first,
			 "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerInstance/"
			 "containerGroups?api-version=" ACI_API, a->arm, a->sub, a->rg);
	url = buf_take(&first);
	char **names = NULL;
	int cap = 0, rc = 0;
	for (int page = 0; url && page < 1000; page++) {
		struct http_resp r;
		struct json j = {0};
		if (arm(a, "GET", url, NULL, &r, ex) < 0) {
			rc = -1;
			break;
		}
		free(url);
		url = NULL;
		if (r.status == 404 && !a->all) { /* no resource group: no groups */
			http_resp_free(&r);
			break;
		}
		if (r.status != 200 || json_parse(&j, r.body.p, r.body.len, NULL) != 0) {
			warnx_("unable to list container groups: %s", r.err[0] ? r.err : "not JSON");
			*ex = exit_for(&r);
			http_resp_free(&r);
			json_free(&j);
			rc = -1;
			break;
		}
		int v = json_get(&j, 0, "value");
		for (int k = 0; v >= 0 && k < j.t[v].size; k++) {
			int g = json_at(&j, v, k);
			char c[64];
			if (json_strcpy(&j, json_path(&j, g, "tags.legion-cluster"), c, sizeof c) < 0 ||
			    (cluster && strcmp(c, cluster)))
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				char **nn = realloc(names, (size_t)cap * sizeof *nn);
				if (!nn)
					break;
				names = nn;
			}
			if ((names[*n] = json_str(&j, json_get(&j, g, "name"))))
				(*n)++;
		}
		url = json_str(&j, json_get(&j, 0, "nextLink"));
		json_free(&j);
		http_resp_free(&r);
	}
	free(url);
	int count = *n;
	if (rc == 0 && count > 0) {
		*out = calloc((size_t)count, sizeof **out);
		int *found = calloc((size_t)count, sizeof *found);
		if (!*out || !found || get_many(a, *out, names, count, found, ex) < 0)
			rc = -1;
		int k = 0; /* keep the ones still there */
		for (int i = 0; *out && i < count; i++) {
			if (rc == 0 && found[i])
				(*out)[k++] = (*out)[i];
			else
				group_free(&(*out)[i]);
		}
		*n = k;
		free(found);
	}
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int a_remove(struct backend *be, char *const *names, int n, int *ex)
{
	struct aci *a = be->ctx;
	struct http_req *q = calloc((size_t)n, sizeof *q);
	struct http_resp *r = calloc((size_t)n, sizeof *r);
	char (*urls)[512] = calloc((size_t)n, sizeof *urls);
	const char *hdrs[3];
	int rc = -1;
	if (!q || !r || !urls || authorize(a, ex) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		group_url(a, names[i], urls[i], sizeof urls[i]);
		fill_req(a, &q[i], hdrs, "DELETE", urls[i], NULL, 0);
	}
	http_do_many(q, r, n, a->parallel);
	rc = 0;
	for (int i = 0; i < n; i++) {
		long st = r[i].status;
		if (st != 200 && st != 202 && st != 204 && st != 404) {
			warnx_("unable to delete %s: %s", names[i], r[i].err);
			*ex = exit_for(&r[i]);
			rc = -1;
		}
		http_resp_free(&r[i]);
	}
out:
	free(q);
	free(r);
	free(urls);
	return rc;
}

static int a_logs(struct backend *be, const char *name, int tail, struct buf *out, int *ex)
{
	struct aci *a = be->ctx;
	char url[768];
	struct http_resp r;
	struct json j = {0};
	int n = snprintf(url, sizeof url,
			 "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerInstance/"
			 "containerGroups/%s/containers/" CONTAINER "/logs?api-version=" ACI_API,
			 a->arm, a->sub, a->rg, name);
	if (tail > 0)
		snprintf(url + n, sizeof url - (size_t)n, "&tail=%d", tail);
	if (arm(a, "GET", url, NULL, &r, ex) < 0)
		return -1;
	int rc = -1;
	char *content = NULL;
	if (r.status == 404) {
		warnx_("no container group named %s", name);
		*ex = EXIT_DATAERR;
	} else if (r.status != 200) {
		warnx_("%s", r.err);
		*ex = exit_for(&r);
	} else if (json_parse(&j, r.body.p, r.body.len, NULL) != 0 ||
		   !(content = json_str(&j, json_get(&j, 0, "content")))) {
		warnx_("the logs of %s came without content", name);
		*ex = EXIT_UNAVAIL;
	} else
		rc = buf_adds(out, content);
	free(content);
	json_free(&j);
	http_resp_free(&r);
	return rc;
}

const struct backend backend_aci = {
	.name = "aci",
	.open = a_open,
	.create = a_create,
	.get = a_get,
	.list = a_list,
	.remove = a_remove,
	.logs = a_logs,
	.close = a_close,
};
