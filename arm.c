/*
 * arm.c: what the aci backend needs of Azure Resource Manager beyond container groups:
 * requests with a bearer token (one more try after a 401), ARM's error shape read once
 * (codes, messages, exit codes, advice), the subscription and the resource group.
 * Leaves out container groups (aci.c) and tokens (auth.c).
 */
#include "aci.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ARM's error code ({"error":{"code"}}) of an answer into code ("" when none). */
void arm_code(const struct http_resp *r, char *code, size_t n)
{
	struct json j = {0};
	code[0] = '\0';
	if (r->body.p && json_parse(&j, r->body.p, r->body.len, NULL) == 0)
		json_strcpy(&j, json_path(&j, 0, "error.code"), code, n);
	json_free(&j);
}

/* Why ARM refused, for people: "HTTP 400 Code: message" from the answer's body (ARM's
 * messages run longer than http.c's err, which also spends room on the URL), else the
 * transport error. Returns out. */
const char *arm_why(const struct http_resp *r, char *out, size_t n)
{
	struct json j = {0};
	char code[96] = "";
	char *msg = NULL;
	if (r->status > 0 && r->body.p && json_parse(&j, r->body.p, r->body.len, NULL) == 0) {
		json_strcpy(&j, json_path(&j, 0, "error.code"), code, sizeof code);
		msg = json_str(&j, json_path(&j, 0, "error.message"));
	}
	if (code[0])
		snprintf(out, n, "HTTP %ld %s%s%s", r->status, code, msg ? ": " : "",
			 msg ? msg : "");
	else
		snprintf(out, n, "%s", r->err[0] ? r->err : "no answer");
	for (char *c = out; *c; c++) /* ARM's messages hold line breaks: one line for people */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	free(msg);
	json_free(&j);
	return out;
}

int arm_is_quota(const char *code)
{
	return strstr(code, "Quota") != NULL; /* ContainerGroupQuotaReached, QuotaExceeded */
}

/* Turns an HTTP result into an exit code: throttled or down 75, refused 77, no quota
 * or no capacity 69, a request ARM found invalid 65. */
int arm_exit(const struct http_resp *r)
{
	char code[96];
	arm_code(r, code, sizeof code);
	if (r->status == 0 || r->status == 429 || r->status >= 500)
		return EXIT_TEMPFAIL;
	if (r->status == 401 || r->status == 403)
		return EXIT_NOPERM;
	if (!strcmp(code, "SubscriptionNotFound"))
		return EXIT_CONFIG;
	if (arm_is_quota(code) || (r->status == 409 && !strcmp(code, "ServiceUnavailable")))
		return EXIT_UNAVAIL;
	if (r->status == 400 || r->status == 409 || r->status == 422)
		return EXIT_DATAERR;
	return EXIT_UNAVAIL;
}

/* After a refusal: one line saying what the user can do about it. */
void arm_advise(const struct aci *a, const struct http_resp *r)
{
	char code[96];
	arm_code(r, code, sizeof code);
	if (arm_is_quota(code))
		warnx_("the subscription's container quota in %s is used up: use fewer or smaller "
		       "executors, free some ('legion status --all', 'legion gc'), "
		       "or ask Azure for more Microsoft.ContainerInstance quota",
		       a->location);
	else if (r->status == 409 && !strcmp(code, "ServiceUnavailable"))
		warnx_("ACI has no room for a group this size in %s now: try another --location, "
		       "or fewer cores or less memory per container",
		       a->location);
	else if (r->status == 0 || r->status == 429 || r->status >= 500)
		warnx_("this looks temporary (throttled or unavailable after retries): "
		       "try again in a few minutes");
	else if (r->status == 401 || r->status == 403)
		warnx_("check the identity's role (Contributor) on subscription %s or on resource "
		       "group %s",
		       a->sub, a->rg);
	else if (!strcmp(code, "InaccessibleImage"))
		warnx_("ACI could not pull the image: check --image, and for a private registry "
		       "set LEGION_REGISTRY_USERNAME and LEGION_REGISTRY_PASSWORD, or give "
		       "--identity "
		       "(a user-assigned identity with AcrPull on the registry)");
	else if (!strcmp(code, "SubscriptionNotFound"))
		warnx_("this identity sees no subscription %s: check --subscription and "
		       "AZURE_SUBSCRIPTION_ID",
		       a->sub);
}

/* Refreshes the Authorization header; -1 with *ex set when no token can be had. */
int arm_authorize(struct aci *a, int *ex)
{
	const char *tok = auth_token(&a->auth, ex);
	if (!tok)
		return -1;
	http_bearer(a->authz, sizeof a->authz, tok);
	return 0;
}

int arm_url(const struct aci *a, char *out, size_t n, const char *rest, ...)
{
	int k = snprintf(out, n, "%s/subscriptions/%s", a->arm, a->sub);
	if (k < 0 || (size_t)k >= n)
		return k;
	va_list ap;
	va_start(ap, rest);
	int m = vsnprintf(out + k, n - (size_t)k, rest, ap);
	va_end(ap);
	return m < 0 ? m : k + m;
}

void arm_req(struct aci *a, struct http_req *q, const char **hdrs, const char *method,
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
	q->explain = http_explain_error;
}

/* Runs n ARM requests, at most a->parallel at once, each with http.c's retries. A 401
 * (a token that expired on the way, or ARM's clock ahead of ours) gets one more try
 * with a fresh token. -1 only when no token could be had; check each status. */
int arm_many(struct aci *a, struct http_req *q, struct http_resp *r, int n, int *ex)
{
	if (n <= 0)
		return 0;
	if (arm_authorize(a, ex) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		q[i].redact = a->auth.token;
	http_do_many(q, r, n, a->parallel, &a->throttle);
	int *again = calloc((size_t)n, sizeof *again), k = 0;
	for (int i = 0; again && i < n; i++)
		if (r[i].status == 401)
			again[k++] = i;
	if (k == 0) {
		free(again);
		return 0;
	}
	struct http_req *q2 = calloc((size_t)k, sizeof *q2);
	struct http_resp *r2 = calloc((size_t)k, sizeof *r2);
	a->auth.expires_ms = 0; /* refresh now */
	int rc = -1;
	if (q2 && r2 && arm_authorize(a, ex) == 0) {
		for (int x = 0; x < k; x++) {
			q2[x] = q[again[x]];
			q2[x].redact = a->auth.token;
		}
		http_do_many(q2, r2, k, a->parallel, &a->throttle);
		for (int x = 0; x < k; x++) {
			http_resp_free(&r[again[x]]);
			r[again[x]] = r2[x];
		}
		rc = 0;
	}
	free(again);
	free(q2);
	free(r2);
	return rc;
}

/* One ARM request with a fresh token. Returns 0 when a response arrived. */
int arm(struct aci *a, const char *method, const char *url, const char *body, struct http_resp *r,
	int *ex)
{
	const char *hdrs[3];
	struct http_req q;
	memset(r, 0, sizeof *r);
	arm_req(a, &q, hdrs, method, url, body, body ? strlen(body) : 0);
	if (arm_many(a, &q, r, 1, ex) < 0)
		return -1;
	if (r->status == 0) {
		warnx_("%s", r->err);
		*ex = arm_exit(r);
		http_resp_free(r);
		return -1;
	}
	return 0;
}

/* The only subscription this identity sees, when none was named. */
int pick_subscription(struct aci *a, int *ex)
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
		*ex = arm_exit(&r);
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

int arm_name_ok(const char *s, size_t max)
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

/* One segment of a resource id: a name (letters, digits, -_.()), at most 128. */
static const char *id_name(const char *p)
{
	size_t n = strcspn(p, "/");
	char name[129];
	if (n == 0 || n >= sizeof name)
		return NULL;
	memcpy(name, p, n);
	name[n] = '\0';
	return arm_name_ok(name, 128) ? p + n : NULL;
}

/* p's next segment is word (any case); returns what follows it. */
static const char *id_word(const char *p, const char *word)
{
	size_t n = strlen(word);
	if (p[0] != '/' || strncasecmp(p + 1, word, n) || (p[n + 1] && p[n + 1] != '/'))
		return NULL;
	return p + n + 1;
}

int arm_id_ok(const char *id, const char *type, const char *child)
{
	const char *p = id;
	char ns[128], tp[128];
	const char *slash = strchr(type, '/');
	snprintf(ns, sizeof ns, "%.*s", (int)(slash - type), type);
	snprintf(tp, sizeof tp, "%s", slash + 1);
	if (strlen(id) >= 512 || !(p = id_word(p, "subscriptions")) || *p++ != '/' ||
	    !(p = id_name(p)) || !(p = id_word(p, "resourceGroups")) || *p++ != '/' ||
	    !(p = id_name(p)) || !(p = id_word(p, "providers")) || !(p = id_word(p, ns)) ||
	    !(p = id_word(p, tp)) || *p++ != '/' || !(p = id_name(p)))
		return 0;
	if (child && (!(p = id_word(p, child)) || *p++ != '/' || !(p = id_name(p))))
		return 0;
	return *p == '\0';
}

/* Creates the resource group (tagged as Legion's) unless it exists; one being deleted
 * (by a `legion delete` a moment ago) is waited for first. */
int ensure_rg(struct aci *a, int *ex)
{
	char url[512];
	struct http_resp r;
	arm_url(a, url, sizeof url, "/resourcegroups/%s?api-version=" RG_API, a->rg);
	long long deadline = now_ms() + 180000;
	for (;;) {
		if (arm(a, "GET", url, NULL, &r, ex) < 0)
			return -1;
		long st = r.status;
		struct json j = {0};
		char code[64];
		int deleting =
			st == 200 && json_parse(&j, r.body.p, r.body.len, NULL) == 0 &&
			json_eq(&j, json_path(&j, 0, "properties.provisioningState"), "Deleting");
		json_free(&j);
		arm_code(&r, code, sizeof code);
		if (st != 200 && (st != 404 || !strcmp(code, "SubscriptionNotFound"))) {
			char w[1024];
			warnx_("unable to read resource group %s: %s", a->rg,
			       arm_why(&r, w, sizeof w));
			*ex = arm_exit(&r);
			arm_advise(a, &r);
			http_resp_free(&r);
			return -1;
		}
		http_resp_free(&r);
		if (st == 200 && !deleting)
			return 0;
		if (st == 404)
			break;
		if (now_ms() > deadline) {
			warnx_("resource group %s is still being deleted: try again later, or use "
			       "another --resource-group",
			       a->rg);
			*ex = EXIT_TEMPFAIL;
			return -1;
		}
		if (sleep_ms(2000, &http_stop)) {
			*ex = EXIT_SIGNALED(SIGINT); /* main reports the signal that came */
			return -1;
		}
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
			char w[1024];
			warnx_("unable to create resource group %s: %s", a->rg,
			       arm_why(&r, w, sizeof w));
			*ex = arm_exit(&r);
			arm_advise(a, &r);
		}
		http_resp_free(&r);
	}
	free(body);
	return rc;
}

/* "ports": [{"port":N,"protocol":"TCP"}...], as containers and ipAddress both take. */
/* Deletes our resource group when Legion created it (tag legion-managed=true) and no
 * container group is left in it. ARM deletes it in the background. */
void drop_rg_if_empty(struct aci *a)
{
	char url[512], lurl[640];
	struct http_resp r = {0};
	struct json j = {0};
	int ex, ours = 0, empty = 0;
	arm_url(a, url, sizeof url, "/resourcegroups/%s?api-version=" RG_API, a->rg);
	if (arm(a, "GET", url, NULL, &r, &ex) == 0 && r.status == 200 &&
	    json_parse(&j, r.body.p, r.body.len, NULL) == 0)
		ours = json_eq(&j, json_path(&j, 0, "tags.legion-managed"), "true");
	json_free(&j);
	http_resp_free(&r);
	if (!ours)
		return;
	arm_url(a, lurl, sizeof lurl, CG_PATH "?api-version=" ACI_API, a->rg);
	if (arm(a, "GET", lurl, NULL, &r, &ex) == 0 && r.status == 200 &&
	    json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
		int v = json_get(&j, 0, "value");
		empty = v >= 0 && j.t[v].size == 0 && json_get(&j, 0, "nextLink") < 0;
	}
	json_free(&j);
	http_resp_free(&r);
	if (!empty)
		return;
	if (arm(a, "DELETE", url, NULL, &r, &ex) == 0) {
		if (r.status == 200 || r.status == 202 || r.status == 204)
			fprintf(stderr,
				"%s: deleting resource group %s (Legion made it; it is empty)\n",
				progname, a->rg);
		else
			warnx_("unable to delete the empty resource group %s: %s", a->rg, r.err);
	}
	http_resp_free(&r);
}
