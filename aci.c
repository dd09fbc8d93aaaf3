/*
 * aci.c: the aci backend: container groups on Azure Container Instances through the
 * ARM REST API (PUT/GET/DELETE containerGroups, list by tag, container logs), with
 * Entra ID tokens from auth.c and parallel fan-out through http_do_many; a VNet subnet,
 * private registries (password or user-assigned identity). Leaves out GPU SKUs, Spot
 * (refused for groups with inbound connections) and volumes.
 */
#include "aci.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CONTAINER "spark"       /* one container per group, always this name */
#define PROVISION_TIMEOUT_S 900 /* a group still Pending after this fails the run */

static void group_url(const struct aci *a, const char *name, char *out, size_t n)
{
	arm_url(a, out, n, CG_PATH "/%s?api-version=" ACI_API, a->rg, name);
}

static void a_close(struct backend *be);

/* --subnet, --identity and LEGION_REGISTRY_USERNAME / _PASSWORD into a. */
static int pull_and_net(struct aci *a, const struct backend_cfg *o, int *ex)
{
	if (o->subnet && !arm_id_ok(o->subnet, "Microsoft.Network/virtualNetworks", "subnets")) {
		warnx_("--subnet: '%s' is not a subnet id (/subscriptions/SUB/resourceGroups/RG/"
		       "providers/Microsoft.Network/virtualNetworks/VNET/subnets/NAME)",
		       o->subnet);
		*ex = EXIT_USAGE;
		return -1;
	}
	if (o->identity &&
	    !arm_id_ok(o->identity, "Microsoft.ManagedIdentity/userAssignedIdentities", NULL)) {
		warnx_("--identity: '%s' is not a user-assigned identity id (/subscriptions/SUB/"
		       "resourceGroups/RG/providers/Microsoft.ManagedIdentity/"
		       "userAssignedIdentities/NAME)",
		       o->identity);
		*ex = EXIT_USAGE;
		return -1;
	}
	snprintf(a->subnet, sizeof a->subnet, "%s", o->subnet ? o->subnet : "");
	snprintf(a->identity, sizeof a->identity, "%s", o->identity ? o->identity : "");
	const char *u = getenv("LEGION_REGISTRY_USERNAME"), *p = getenv("LEGION_REGISTRY_PASSWORD");
	int hu = u && *u, hp = p && *p;
	if (hu != hp) {
		warnx_("%s is set but %s is not: the registry needs both",
		       hu ? "LEGION_REGISTRY_USERNAME" : "LEGION_REGISTRY_PASSWORD",
		       hu ? "LEGION_REGISTRY_PASSWORD" : "LEGION_REGISTRY_USERNAME");
		*ex = EXIT_CONFIG;
		return -1;
	}
	if (hu && o->identity) {
		warnx_("--identity and LEGION_REGISTRY_USERNAME/_PASSWORD are two ways to pull the "
		       "image: give one");
		*ex = EXIT_USAGE;
		return -1;
	}
	if (hu && (!(a->reg_user = strdup(u)) || !(a->reg_pass = strdup(p)))) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	return 0;
}

static int a_open_(struct backend *be, const struct backend_cfg *o, int *ex)
{
	struct aci *a = calloc(1, sizeof *a);
	if (!a) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	be->ctx = a;
	if (!arm_name_ok(o->resource_group, 90)) {
		warnx_("--resource-group: '%s' is not a resource group name", o->resource_group);
		*ex = EXIT_USAGE;
		return -1;
	}
	const char *loc = o->location ? o->location : ACI_DEFAULT_LOCATION;
	if (!arm_name_ok(loc, 60)) {
		warnx_("--location: '%s' is not an Azure region name", loc);
		*ex = EXIT_USAGE;
		return -1;
	}
	if (pull_and_net(a, o, ex) < 0)
		return -1;
	snprintf(a->rg, sizeof a->rg, "%s", o->resource_group);
	snprintf(a->location, sizeof a->location, "%s", loc);
	a->parallel = o->parallel > 0 ? o->parallel : 16;
	a->all = o->all;
	a->rg_cleanup = o->rg_cleanup;
	long long secs = PROVISION_TIMEOUT_S;
	const char *pt = getenv("LEGION_PROVISION_TIMEOUT");
	if (pt && *pt && parse_int(pt, 1, 86400, &secs) < 0) {
		warnx_("LEGION_PROVISION_TIMEOUT: '%s' is not a whole number of seconds (1-86400)",
		       pt);
		*ex = EXIT_CONFIG;
		return -1;
	}
	a->provision_ms = secs * 1000;
	/* a token now: refused credentials stop the run before it creates anything */
	if (auth_init(&a->auth, o->cloud, ex) < 0 || arm_authorize(a, ex) < 0)
		return -1;
	/* the cloud's ARM (known now: az's cloud when az turned out to be the credential) */
	const char *arm_ep = getenv("LEGION_ARM_ENDPOINT");
	snprintf(a->arm, sizeof a->arm, "%s", arm_ep && *arm_ep ? arm_ep : a->auth.cloud->arm);
	size_t k = strlen(a->arm);
	while (k > 0 && a->arm[k - 1] == '/')
		a->arm[--k] = '\0';
	const char *sub = o->subscription ? o->subscription : getenv("AZURE_SUBSCRIPTION_ID");
	if (!sub || !*sub)
		sub = a->auth.subscription; /* the az CLI's default, if it is the credential */
	if (sub && *sub) {
		if (strlen(sub) >= sizeof a->sub ||
		    strspn(sub, "0123456789abcdefABCDEF-") != strlen(sub)) {
			warnx_("'%s' is not a subscription id", sub);
			*ex = EXIT_USAGE;
			return -1;
		}
		snprintf(a->sub, sizeof a->sub, "%s", sub);
	} else if (pick_subscription(a, ex) < 0)
		return -1;
	return 0;
}

/* On failure nothing is left to close. */
static int a_open(struct backend *be, const struct backend_cfg *o, int *ex)
{
	if (a_open_(be, o, ex) == 0)
		return 0;
	a_close(be);
	return -1;
}

static void a_close(struct backend *be)
{
	struct aci *a = be->ctx;
	if (a) {
		auth_free(&a->auth);
		memset(a->authz, 0, sizeof a->authz);
		if (a->reg_pass)
			memset(a->reg_pass, 0, strlen(a->reg_pass));
		free(a->reg_pass);
		free(a->reg_user);
		free(a);
	}
	be->ctx = NULL;
}

static void jw_ports(struct jw *w, const int *ports, int n)
{
	jw_arr(w, "ports");
	for (int i = 0; i < n; i++) {
		jw_obj(w, NULL);
		jw_int(w, "port", ports[i]);
		jw_str(w, "protocol", "TCP");
		jw_end(w);
	}
	jw_end(w);
}

/* The registry of an image reference: its first part when that names a host (a dot, a
 * port, or localhost), else Docker Hub's. */
static void image_server(const char *image, char *out, size_t n)
{
	size_t k = strcspn(image, "/");
	if (image[k] == '/' && (memchr(image, '.', k) || memchr(image, ':', k) ||
				(k == 9 && !strncmp(image, "localhost", 9))))
		snprintf(out, n, "%.*s", (int)k, image);
	else
		snprintf(out, n, "index.docker.io");
}

/* How ACI pulls g's image: imageRegistryCredentials (the password only in its own
 * field, which ACI never returns) through --identity or LEGION_REGISTRY_*. */
static void jw_registry(struct jw *w, const struct aci *a, const struct group *g)
{
	char server[256];
	if (!a->identity[0] && !a->reg_user)
		return;
	image_server(g->image, server, sizeof server);
	jw_arr(w, "imageRegistryCredentials");
	jw_obj(w, NULL);
	jw_str(w, "server", server);
	if (a->identity[0])
		jw_str(w, "identity", a->identity);
	else {
		jw_str(w, "username", a->reg_user);
		jw_str(w, "password", a->reg_pass);
	}
	jw_end(w);
	jw_end(w);
}

/* The group's address: public with its DNS label, or with --subnet private on the
 * subnet (no label: peers use the address). */
static void jw_address(struct jw *w, const struct aci *a, const struct group *g, const int *ports,
		       int np)
{
	if (a->subnet[0]) {
		jw_arr(w, "subnetIds");
		jw_obj(w, NULL);
		jw_str(w, "id", a->subnet);
		jw_end(w);
		jw_end(w);
	}
	jw_obj(w, "ipAddress");
	jw_str(w, "type", a->subnet[0] ? "Private" : "Public");
	if (g->dns_label && !a->subnet[0])
		jw_str(w, "dnsNameLabel", g->dns_label);
	jw_ports(w, ports, np);
	jw_end(w);
}

/* The public name g will have once it exists into out (ARM names it only then): its
 * DNS label in this location and cloud (no autoGeneratedDomainNameLabelScope: ACI's
 * default, Unsecure, adds no hash). -1 without a label or with --subnet (private). */
static int group_fqdn(const struct aci *a, const struct group *g, char *out, size_t n)
{
	if (!g->dns_label || a->subnet[0])
		return -1;
	int k = snprintf(out, n, "%s.%s.%s", g->dns_label, a->location, a->auth.cloud->aci_dns);
	return k > 0 && (size_t)k < n ? 0 : -1;
}

static int a_peer_name(struct backend *be, const struct group *g, char *out, size_t n)
{
	return group_fqdn(be->ctx, g, out, n);
}

/* The ARM document for one group: secrets only as secureValue. Owned. */
static char *group_body(const struct aci *a, const struct group *g)
{
	/* a public address needs a port, and each of its ports must be a container's */
	static const int fallback[] = {8081};
	const int *ports = g->nports ? g->ports : fallback;
	int np = g->nports ? g->nports : 1;
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "location", a->location);
	if (a->identity[0]) { /* the group holds the identity that pulls its image */
		jw_obj(&w, "identity");
		jw_str(&w, "type", "UserAssigned");
		jw_obj(&w, "userAssignedIdentities");
		jw_obj(&w, a->identity);
		jw_end(&w);
		jw_end(&w);
		jw_end(&w);
	}
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
	char fqdn[256];
	if (group_fqdn(a, g, fqdn, sizeof fqdn) == 0) { /* peers' name for it: itself */
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
	jw_ports(&w, ports, np);
	jw_end(&w); /* container properties */
	jw_end(&w); /* container */
	jw_end(&w); /* containers */
	jw_registry(&w, a, g);
	jw_address(&w, a, g, ports, np);
	jw_end(&w); /* properties */
	jw_end(&w);
	return jw_finish(&w, NULL);
}

/* Fills the observed fields of g from an ARM containerGroup document. */
void parse_group(const struct json *j, int root, struct group *g)
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
	group_tags_json(g, j, tags);
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
	if (state)
		g->state = group_state_parse(state);
	else if (prov && !strcmp(prov, "Failed"))
		g->state = GS_FAILED;
	else if (prov && !strcmp(prov, "Succeeded"))
		g->state = GS_RUNNING;
	else
		g->state = GS_PENDING;
	if (state && prov && !strcmp(prov, "Failed") && g->state == GS_PENDING)
		g->state = GS_FAILED;
	free(state);
	free(prov);
}

/* GETs groups in parallel into their observed fields: gs[idx[k]] for k < n (idx NULL:
 * gs[k]), by ids[] (ARM resource ids, from a list) when given, else by name in our
 * resource group. found[k] = 0 when it is gone. Returns -1 when a request failed. */
static int get_many(struct aci *a, struct group *gs, const int *idx, char *const *names,
		    char *const *ids, int n, int *found, int *ex)
{
	struct http_req *q = calloc((size_t)n, sizeof *q);
	struct http_resp *r = calloc((size_t)n, sizeof *r);
	char(*urls)[1024] = calloc((size_t)n, sizeof *urls);
	const char *hdrs[3];
	int rc = 0;
	if (!q || !r || !urls) {
		*ex = EXIT_SOFTWARE;
		rc = -1;
		goto out;
	}
	for (int k = 0; k < n; k++) {
		if (ids && ids[k])
			snprintf(urls[k], sizeof urls[k], "%s%s?api-version=" ACI_API, a->arm,
				 ids[k]);
		else
			group_url(a, names[k], urls[k], sizeof urls[k]);
		arm_req(a, &q[k], hdrs, "GET", urls[k], NULL, 0);
	}
	if (arm_many(a, q, r, n, ex) < 0) {
		rc = -1;
		goto out;
	}
	for (int k = 0; k < n; k++) {
		struct group *g = &gs[idx ? idx[k] : k];
		found[k] = 0;
		if (r[k].status == 200) {
			struct json j = {0};
			if (json_parse(&j, r[k].body.p, r[k].body.len, NULL) == 0) {
				parse_group(&j, 0, g);
				found[k] = 1;
			}
			json_free(&j);
		} else if (r[k].status != 404) {
			warnx_("%s", r[k].err);
			*ex = arm_exit(&r[k]);
			rc = -1;
		}
	}
out:
	for (int k = 0; r && k < n; k++)
		http_resp_free(&r[k]);
	free(q);
	free(r);
	free(urls);
	return rc;
}

static int a_remove(struct backend *be, char *const *names, int n, int *ex);
static int a_logs(struct backend *be, const char *name, int tail, struct buf *out, int *ex);

/* PUTs the groups whose index is in idx (m of them) in parallel; the answers land in
 * r[idx[k]]. */
static int put_some(struct aci *a, struct http_req *q, struct http_resp *r, const int *idx, int m,
		    int *ex)
{
	struct http_req *qq = calloc((size_t)m, sizeof *qq);
	struct http_resp *rr = calloc((size_t)m, sizeof *rr);
	int rc = -1;
	if (qq && rr) {
		for (int k = 0; k < m; k++)
			qq[k] = q[idx[k]];
		rc = arm_many(a, qq, rr, m, ex);
		for (int k = 0; k < m; k++) {
			http_resp_free(&r[idx[k]]);
			r[idx[k]] = rr[k];
		}
	} else
		*ex = EXIT_SOFTWARE;
	free(qq);
	free(rr);
	return rc;
}

/* Shows the last lines a group that failed to start wrote, before it is deleted. */
static void show_tail(struct backend *be, const char *name)
{
	struct buf log = {0};
	int e2;
	if (a_logs(be, name, 10, &log, &e2) == 0 && log.len) {
		fprintf(stderr, "%s: the last lines of %s:\n", progname, name);
		fwrite(log.p, 1, log.len, stderr);
		if (log.p[log.len - 1] != '\n')
			fputc('\n', stderr);
	}
	buf_free(&log);
}

/* Polls the pending groups until each is provisioned (running, or ended): -1 when one
 * failed, disappeared, or is still pending at the deadline. */
static int wait_provisioned(struct backend *be, struct group *gs, char **names, int n, int *ex)
{
	struct aci *a = be->ctx;
	int *found = calloc((size_t)n, sizeof *found), *idx = calloc((size_t)n, sizeof *idx);
	char **pnames = calloc((size_t)n, sizeof *pnames);
	int rc = -1;
	if (!found || !idx || !pnames) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	long long deadline = now_ms() + a->provision_ms, pause = 250;
	int pending = n;
	for (int i = 0; i < n; i++)
		idx[i] = i;
	for (;; pause = pause < 5000 ? pause * 2 : 5000) {
		for (int k = 0; k < pending; k++)
			pnames[k] = names[idx[k]];
		if (get_many(a, gs, idx, pnames, NULL, pending, found, ex) < 0)
			goto out;
		int still = 0;
		for (int k = 0; k < pending; k++) {
			struct group *g = &gs[idx[k]];
			if (!found[k]) {
				warnx_("container group %s disappeared while starting", g->name);
				*ex = EXIT_UNAVAIL;
				goto out;
			}
			if (g->state == GS_FAILED) {
				warnx_("container group %s failed to start", g->name);
				show_tail(be, g->name);
				*ex = EXIT_UNAVAIL;
				goto out;
			}
			if (g->state == GS_PENDING)
				idx[still++] = idx[k];
		}
		pending = still;
		if (!pending)
			break;
		if (now_ms() > deadline) {
			warnx_("%d container group%s still pending after %lld s "
			       "(ACI could not place %s in %s): try again later or another "
			       "--location",
			       pending, pending == 1 ? " was" : "s were", a->provision_ms / 1000,
			       pending == 1 ? "it" : "them", a->location);
			*ex = EXIT_UNAVAIL;
			goto out;
		}
		if (sleep_ms(pause, &http_stop)) {
			*ex = EXIT_SIGNALED(SIGINT); /* main reports the signal that came */
			goto out;
		}
	}
	rc = 0;
out:
	free(found);
	free(idx);
	free(pnames);
	return rc;
}

/* Groups whose PUT may have reached ARM without an answer (Ctrl-C, a broken connection)
 * may still appear after the rollback's DELETE: GET them until ARM has said 404 for
 * ROLLBACK_GRACE_MS in a row, deleting again whatever shows up. -1 when some may be
 * left. */
#define ROLLBACK_GRACE_MS 15000
static int confirm_gone(struct backend *be, char **names, int n)
{
	struct aci *a = be->ctx;
	struct group *gs = calloc((size_t)n, sizeof *gs);
	int *found = calloc((size_t)n, sizeof *found), rc = -1, ex;
	char **back = calloc((size_t)n, sizeof *back);
	if (!gs || !found || !back)
		goto out;
	fprintf(stderr,
		"%s: making sure %d container group%s whose request had no answer %s not "
		"created after all\n",
		progname, n, n == 1 ? "" : "s", n == 1 ? "was" : "were");
	for (long long quiet_since = now_ms(); now_ms() - quiet_since < ROLLBACK_GRACE_MS;) {
		if (sleep_ms(1000, NULL) || get_many(a, gs, NULL, names, NULL, n, found, &ex) < 0)
			goto out;
		int m = 0;
		for (int k = 0; k < n; k++)
			if (found[k])
				back[m++] = names[k];
		if (m > 0) {
			warnx_("%s was created after all: deleting it", back[0]);
			if (a_remove(be, back, m, &ex) < 0)
				goto out;
			quiet_since = now_ms();
		}
	}
	rc = 0;
out:
	if (gs)
		groups_free(gs, n);
	free(found);
	free(back);
	return rc;
}

static int a_create(struct backend *be, struct group *gs, int n, int *ex)
{
	struct aci *a = be->ctx;
	if (ensure_rg(a, ex) < 0)
		return -1;
	struct http_req *q = calloc((size_t)n, sizeof *q);
	struct http_resp *r = calloc((size_t)n, sizeof *r);
	char **bodies = calloc((size_t)n, sizeof *bodies),
	     **names = calloc((size_t)n, sizeof *names);
	char(*urls)[512] = calloc((size_t)n, sizeof *urls);
	int *idx = calloc((size_t)n, sizeof *idx);
	const char *hdrs[3];
	int rc = -1, sent = 0;
	if (!q || !r || !bodies || !names || !urls || !idx) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		names[i] = gs[i].name;
		group_url(a, gs[i].name, urls[i], sizeof urls[i]);
		if (!(bodies[i] = group_body(a, &gs[i]))) {
			*ex = EXIT_SOFTWARE;
			goto out;
		}
		arm_req(a, &q[i], hdrs, "PUT", urls[i], bodies[i], strlen(bodies[i]));
	}
	/* from here on, a PUT may have reached ARM even when no answer came back */
	sent = 1;
	if (arm_many(a, q, r, n, ex) < 0)
		goto out;
	/* the resource group went away meanwhile (a concurrent `legion delete` found it
	 * empty): make it again and retry those once */
	int m = 0;
	for (int i = 0; i < n; i++) {
		char code[64];
		arm_code(&r[i], code, sizeof code);
		if (r[i].status == 404 && !strcmp(code, "ResourceGroupNotFound"))
			idx[m++] = i;
	}
	if (m > 0 && (ensure_rg(a, ex) < 0 || put_some(a, q, r, idx, m, ex) < 0))
		goto out;
	int failed = 0, first = -1;
	for (int i = 0; i < n; i++)
		if (r[i].status != 200 && r[i].status != 201 && !failed++)
			first = i;
	if (failed) { /* the first refusal says why; the rest are alike */
		char w[1024];
		warnx_("unable to create %s: %s", gs[first].name, arm_why(&r[first], w, sizeof w));
		if (failed > 1)
			warnx_("%d of %d container groups were refused", failed, n);
		*ex = http_stop ? EXIT_SIGNALED(SIGINT) : arm_exit(&r[first]);
		if (!http_stop)
			arm_advise(a, &r[first]);
		goto out;
	}
	if (wait_provisioned(be, gs, names, n, ex) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0 && sent) {
		int e2;
		http_hold_begin(); /* cleaning up after Ctrl-C must still reach ARM */
		fprintf(stderr,
			"%s: rolling back: deleting the %d container group%s this run "
			"asked for\n",
			progname, n, n == 1 ? "" : "s");
		int left = a_remove(be, names, n, &e2) < 0, m = 0;
		for (int i = 0; i < n; i++)
			if (r[i].sent && r[i].status == 0)
				idx[m++] = i;
		for (int k = 0; k < m; k++)
			names[k] = names[idx[k]];
		if (!left && m > 0)
			left = confirm_gone(be, names, m) < 0;
		if (left)
			warnx_("some of them may be left: 'legion gc' deletes them");
		http_hold_end();
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
	free(idx);
	return rc;
}

static int a_get(struct backend *be, const char *name, struct group *g, int *ex)
{
	char *names[] = {(char *)name};
	int found = 0;
	memset(g, 0, sizeof *g);
	g->exit_code = -1;
	if (get_many(be->ctx, g, NULL, names, NULL, 1, &found, ex) < 0)
		return -1;
	return found ? 0 : 1;
}

/* The names and ids of a list page's groups that belong to cluster (NULL: any Legion
 * cluster), appended to names/ids (*n of *cap used). */
void add_listed(const struct json *j, const char *cluster, char ***names, char ***ids, int *n,
		int *cap)
{
	int v = json_get(j, 0, "value");
	for (int k = 0; v >= 0 && k < j->t[v].size; k++) {
		int g = json_at(j, v, k);
		char c[64];
		if (json_strcpy(j, json_path(j, g, "tags.legion-cluster"), c, sizeof c) < 0 ||
		    (cluster && strcmp(c, cluster)))
			continue;
		if (*n == *cap) {
			int nc = *cap ? *cap * 2 : 16;
			char **nn = realloc(*names, (size_t)nc * sizeof *nn);
			if (nn)
				*names = nn;
			char **ni = nn ? realloc(*ids, (size_t)nc * sizeof *ni) : NULL;
			if (!ni)
				return;
			*ids = ni;
			*cap = nc;
		}
		/* by id: with --all, groups live in other resource groups too */
		(*names)[*n] = json_str(j, json_get(j, g, "name"));
		(*ids)[*n] = json_str(j, json_get(j, g, "id"));
		if ((*names)[*n])
			(*n)++;
		else
			free((*ids)[*n]);
	}
}

static int a_list(struct backend *be, const char *cluster, struct group **out, int *n, int *ex)
{
	struct aci *a = be->ctx;
	char *url = NULL;
	struct buf first = {0};
	*out = NULL;
	*n = 0;
	char u[768];
	if (a->all)
		arm_url(a, u, sizeof u,
			"/providers/Microsoft.ContainerInstance/"
			"containerGroups?api-version=" ACI_API);
	else
		arm_url(a, u, sizeof u, CG_PATH "?api-version=" ACI_API, a->rg);
	buf_adds(&first, u);
	url = buf_take(&first);
	char **names = NULL, **ids = NULL;
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
		char code[64];
		arm_code(&r, code, sizeof code);
		if (r.status == 404 && !a->all && !strcmp(code, "ResourceGroupNotFound")) {
			http_resp_free(&r); /* no resource group: no groups */
			break;
		}
		if (r.status != 200 || json_parse(&j, r.body.p, r.body.len, NULL) != 0) {
			char w[1024];
			warnx_("unable to list container groups: %s",
			       r.status != 200 ? arm_why(&r, w, sizeof w)
					       : "the answer is not JSON");
			*ex = arm_exit(&r);
			arm_advise(a, &r);
			http_resp_free(&r);
			json_free(&j);
			rc = -1;
			break;
		}
		add_listed(&j, cluster, &names, &ids, n, &cap);
		url = json_str(&j, json_get(&j, 0, "nextLink"));
		json_free(&j);
		http_resp_free(&r);
	}
	free(url);
	int count = *n;
	if (rc == 0 && count > 0) {
		*out = calloc((size_t)count, sizeof **out);
		int *found = calloc((size_t)count, sizeof *found);
		if (!*out || !found || get_many(a, *out, NULL, names, ids, count, found, ex) < 0)
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
	for (int i = 0; i < count; i++) {
		free(names[i]);
		free(ids[i]);
	}
	free(names);
	free(ids);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ARM answers 202 to a DELETE it finishes later: GETs the groups so answered (status in
 * r) until each is gone (404), DELETE_WAIT_S at most. -1 (*ex set) when one is still
 * there. */
#define DELETE_WAIT_S 300
static int wait_deleted(struct aci *a, char *const *names, const struct http_resp *r, int n,
			int *ex)
{
	struct group *gs = calloc((size_t)n, sizeof *gs);
	int *found = calloc((size_t)n, sizeof *found), m = 0, rc = -1;
	char **left = calloc((size_t)n, sizeof *left);
	if (!gs || !found || !left) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (r[i].status == 202)
			left[m++] = names[i];
	if (m > 0)
		fprintf(stderr, "%s: waiting for ARM to finish deleting %d container group%s\n",
			progname, m, m == 1 ? "" : "s");
	for (long long deadline = now_ms() + DELETE_WAIT_S * 1000LL; m > 0;) {
		if (now_ms() > deadline) {
			warnx_("%s is still being deleted after %d s", left[0], DELETE_WAIT_S);
			*ex = EXIT_TEMPFAIL;
			goto out;
		}
		int e2;
		if (sleep_ms(1000, NULL))
			goto out;
		if (get_many(a, gs, NULL, left, NULL, m, found, &e2) < 0)
			continue; /* a GET that failed says nothing: ask again */
		int still = 0;
		for (int k = 0; k < m; k++)
			if (found[k])
				left[still++] = left[k];
		m = still;
	}
	rc = 0;
out:
	if (gs)
		groups_free(gs, n);
	free(found);
	free(left);
	return rc;
}

static int a_remove(struct backend *be, char *const *names, int n, int *ex)
{
	struct aci *a = be->ctx;
	struct http_req *q = calloc((size_t)n, sizeof *q);
	struct http_resp *r = calloc((size_t)n, sizeof *r);
	char(*urls)[512] = calloc((size_t)n, sizeof *urls);
	const char *hdrs[3];
	int rc = -1;
	if (!q || !r || !urls) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		group_url(a, names[i], urls[i], sizeof urls[i]);
		arm_req(a, &q[i], hdrs, "DELETE", urls[i], NULL, 0);
	}
	if (arm_many(a, q, r, n, ex) < 0)
		goto out;
	rc = 0;
	for (int i = 0; i < n; i++) {
		long st = r[i].status;
		if (st != 200 && st != 202 && st != 204 && st != 404) {
			char w[1024];
			warnx_("unable to delete %s: %s", names[i], arm_why(&r[i], w, sizeof w));
			*ex = arm_exit(&r[i]);
			rc = -1;
		}
	}
	if (rc == 0 && wait_deleted(a, names, r, n, ex) < 0)
		rc = -1;
	if (rc == 0 && a->rg_cleanup)
		drop_rg_if_empty(a);
out:
	for (int i = 0; r && i < n; i++)
		http_resp_free(&r[i]);
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
	int n = arm_url(a, url, sizeof url,
			CG_PATH "/%s/containers/" CONTAINER "/logs?api-version=" ACI_API, a->rg,
			name);
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
		*ex = arm_exit(&r);
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

const struct backend_ops backend_aci = {
	.name = "aci",
	.open = a_open,
	.create = a_create,
	.peer_name = a_peer_name,
	.get = a_get,
	.list = a_list,
	.remove = a_remove,
	.logs = a_logs,
	.close = a_close,
};
