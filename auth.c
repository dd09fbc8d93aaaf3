/*
 * auth.c: Entra ID access tokens for ARM, from the first credential that is configured,
 * in the order of the Azure SDKs' DefaultAzureCredential (client secret, certificate,
 * workload identity, managed identity, the Azure CLI) or the one LEGION_CREDENTIAL
 * names; cached in memory and refreshed before they expire; the table of Azure clouds
 * (login host, ARM, its audience, ACI's DNS suffix) and which one is used. Leaves out
 * running az (azcli.c), JWTs (jwt.c) and certificates (cert.c), and never writes a
 * token, secret or assertion anywhere.
 */
#include "legion.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_IMDS "http://169.254.169.254"

/*
 * The clouds. Sources, each value checked with the search tool:
 * - login hosts: Microsoft Entra "National clouds" (learn.microsoft.com/entra/
 *   identity-platform/authentication-national-cloud): login.microsoftonline.com,
 *   login.microsoftonline.us; for 21Vianet that page now names
 *   login.partner.microsoftonline.cn, while MSAL's AzureCloudInstance, the az CLI
 *   (azure-cli-core cloud.py, AZURE_CHINA_CLOUD.active_directory) and the Azure SDKs'
 *   AzureAuthorityHosts use login.chinacloudapi.cn, which we follow.
 * - ARM endpoints and audiences: azure-cli-core cloud.py (resource_manager), the same
 *   in azure-sdk-for-js's cloudSettingHelpers.ts (getArmEndpoint): management.azure.com,
 *   management.usgovcloudapi.net, management.chinacloudapi.cn; the token audience is
 *   the ARM endpoint with a slash, as the Azure SDKs ask for it (ENDPOINT/.default).
 * - ACI DNS suffixes: "customlabel.azureregion.azurecontainer.io" (ACI overview,
 *   learn.microsoft.com), "customlabel.azureregion.azurecontainer.console.azure.cn"
 *   (the same overview on docs.azure.cn). For US Government no Microsoft page was
 *   found: azurecontainer.console.azure.us is what deployments there use
 *   (LABEL.usgovvirginia.azurecontainer.console.azure.us). Only LEGION_HOST, the name
 *   a container gives itself before ARM has answered, is built from it; the address
 *   workers are given is ARM's ipAddress.fqdn.
 * az_name: the names `az cloud list` shows (cloud.py: AzureCloud for the public one).
 */
static const struct cloud clouds[] = {
	{"AzurePublicCloud", "AzureCloud", "https://login.microsoftonline.com",
	 "https://management.azure.com", "https://management.azure.com/", "azurecontainer.io"},
	{"AzureUSGovernment", "AzureUSGovernment", "https://login.microsoftonline.us",
	 "https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net/",
	 "azurecontainer.console.azure.us"},
	{"AzureChinaCloud", "AzureChinaCloud", "https://login.chinacloudapi.cn",
	 "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/",
	 "azurecontainer.console.azure.cn"},
};

const struct cloud *cloud_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof clouds / sizeof *clouds; i++)
		if (!strcasecmp(name, clouds[i].name) || !strcasecmp(name, clouds[i].az_name))
			return &clouds[i];
	return NULL;
}

static const char *const kind_names[] = {
	[AUTH_NONE] = "none",         [AUTH_SECRET] = "secret", [AUTH_CERT] = "certificate",
	[AUTH_WORKLOAD] = "workload", [AUTH_MSI] = "msi",       [AUTH_CLI] = "cli",
};

const char *auth_kind_name(int kind)
{
	return kind >= 0 && kind <= AUTH_CLI ? kind_names[kind] : "none";
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static char *dup_trim_slash(const char *s)
{
	char *d = strdup(s);
	if (d) {
		size_t n = strlen(d);
		while (n > 0 && d[n - 1] == '/')
			d[--n] = '\0';
	}
	return d;
}

/* Entra ID's {"error","error_description"} (which leads with AADSTSnnnnn) into the
 * message; IMDS answers in the same shape. */
void entra_explain(struct http_resp *r)
{
	http_explain_json(r, "error", "error_description");
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? strdup(v) : NULL;
	return v && !*dst ? -1 : 0;
}

/* The client secret from the environment: 1 when configured, 0 when not, -1 when half
 * of it is (a secret without its client or tenant). */
static int find_secret(struct auth *a, int forced)
{
	static const char *const names[2][3] = {
		{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"},
		{"APP_ID", "PASSWORD", "TENANT_ID"}, /* the seed's spellings */
	};
	for (int set = 0; set < 2; set++) {
		const char *id = env(names[set][0]), *secret = env(names[set][1]),
			   *tenant = env(names[set][2]);
		/* AZURE_CLIENT_ID alone is also a managed identity's or a workload's */
		if (!secret && (set == 0 || !id) && !(forced && set == 0))
			continue;
		for (int k = 0; k < 3; k++)
			if (!env(names[set][k])) {
				if (!id && !secret)
					warnx_("LEGION_CREDENTIAL=secret: set %s, %s and %s",
					       names[set][0], names[set][1], names[set][2]);
				else
					warnx_("%s is set but %s is not: set all of %s, %s and %s",
					       names[set][k ? 0 : 1], names[set][k], names[set][0],
					       names[set][1], names[set][2]);
				return -1;
			}
		if (set_str(&a->client_id, id) < 0 || set_str(&a->secret, secret) < 0 ||
		    set_str(&a->tenant, tenant) < 0)
			return -1;
		a->kind = AUTH_SECRET;
		return 1;
	}
	return 0;
}

/* AZURE_CLIENT_ID and AZURE_TENANT_ID, which a certificate or a workload needs
 * (what names the credential in the message). */
static int client_and_tenant(struct auth *a, const char *what)
{
	const char *miss = !env("AZURE_CLIENT_ID")   ? "AZURE_CLIENT_ID"
			   : !env("AZURE_TENANT_ID") ? "AZURE_TENANT_ID"
						     : NULL;
	if (miss) {
		warnx_("%s is set but %s is not: a %s needs AZURE_CLIENT_ID and AZURE_TENANT_ID "
		       "too",
		       what, miss,
		       !strcmp(what, "AZURE_CLIENT_CERTIFICATE_PATH") ? "certificate"
								      : "workload identity");
		return -1;
	}
	return set_str(&a->client_id, env("AZURE_CLIENT_ID")) < 0 ||
			       set_str(&a->tenant, env("AZURE_TENANT_ID")) < 0
		       ? -1
		       : 0;
}

static int find_cert(struct auth *a, int forced)
{
	const char *path = env("AZURE_CLIENT_CERTIFICATE_PATH");
	if (!path) {
		if (forced)
			warnx_("LEGION_CREDENTIAL=certificate: set AZURE_CLIENT_CERTIFICATE_PATH, "
			       "AZURE_CLIENT_ID and AZURE_TENANT_ID");
		return forced ? -1 : 0;
	}
	if (client_and_tenant(a, "AZURE_CLIENT_CERTIFICATE_PATH") < 0)
		return -1;
	int ex;
	if (!(a->cert = cert_load(path, &ex))) {
		a->cert_ex = ex;
		return -1;
	}
	a->kind = AUTH_CERT;
	return 1;
}

/* A federated token: AZURE_FEDERATED_TOKEN_FILE (AKS, any CI that writes one), else
 * GitHub Actions' OIDC endpoint when the job may ask for it and AZURE_CLIENT_ID says
 * which app to exchange it for. */
static int find_workload(struct auth *a, int forced)
{
	const char *file = env("AZURE_FEDERATED_TOKEN_FILE");
	int gha = env("ACTIONS_ID_TOKEN_REQUEST_URL") && env("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
	if (!file && !(gha && (forced || env("AZURE_CLIENT_ID")))) {
		if (forced)
			warnx_("LEGION_CREDENTIAL=workload: set AZURE_FEDERATED_TOKEN_FILE (or run "
			       "in "
			       "GitHub Actions with 'permissions: id-token: write'), "
			       "AZURE_CLIENT_ID "
			       "and AZURE_TENANT_ID");
		return forced ? -1 : 0;
	}
	if (client_and_tenant(a, file ? "AZURE_FEDERATED_TOKEN_FILE"
				      : "ACTIONS_ID_TOKEN_REQUEST_URL") < 0 ||
	    set_str(&a->token_file, file) < 0)
		return -1;
	a->kind = AUTH_WORKLOAD;
	return 1;
}

/* GitHub Actions' OIDC token for Entra ID's audience, as azure/login asks for it. Owned. */
static char *actions_token(int *ex)
{
	struct buf url = {0};
	struct http_resp r = {0};
	struct json j = {0};
	char authz[4096];
	char *tok = NULL;
	const char *u = env("ACTIONS_ID_TOKEN_REQUEST_URL");
	*ex = EXIT_UNAVAIL;
	if (buf_addf(&url, "%s%saudience=api%%3A%%2F%%2FAzureADTokenExchange", u,
		     strchr(u, '?') ? "&" : "?") < 0 ||
	    http_bearer(authz, sizeof authz, env("ACTIONS_ID_TOKEN_REQUEST_TOKEN")) < 0) {
		warnx_("ACTIONS_ID_TOKEN_REQUEST_URL or _TOKEN is too long");
		*ex = EXIT_CONFIG;
		goto out;
	}
	const char *hdrs[] = {authz, "Accept: application/json", NULL};
	struct http_req q = {.url = url.p,
			     .headers = hdrs,
			     .max_body = 1 << 16,
			     .redact = env("ACTIONS_ID_TOKEN_REQUEST_TOKEN")};
	if (http_do(&q, &r) < 0 || r.status != 200) {
		warnx_("unable to get GitHub Actions' OIDC token: %s%s", r.err,
		       r.status == 401 || r.status == 403
			       ? " (does the job have 'permissions: id-token: write'?)"
			       : "");
		*ex = r.status == 401 || r.status == 403 ? EXIT_NOPERM : EXIT_UNAVAIL;
	} else if (json_parse(&j, r.body.p, r.body.len, NULL) != 0 ||
		   !(tok = json_str(&j, json_get(&j, 0, "value"))) || !*tok) {
		free(tok);
		tok = NULL;
		warnx_("unable to get GitHub Actions' OIDC token: the answer has no \"value\"");
	}
out:
	memset(authz, 0, sizeof authz);
	if (r.body.p)
		explicit_bzero(r.body.p, r.body.len);
	http_resp_free(&r);
	json_free(&j);
	buf_free(&url);
	return tok;
}

/* The federated token, read anew for every token request (the file rotates). Owned. */
static char *federated_token(const struct auth *a, int *ex)
{
	if (!a->token_file)
		return actions_token(ex);
	struct buf b = {.max = 1 << 16};
	*ex = EXIT_CONFIG;
	if (read_file(a->token_file, 1 << 16, &b) < 0) {
		warn_("AZURE_FEDERATED_TOKEN_FILE: unable to read %s", a->token_file);
		buf_free(&b);
		return NULL;
	}
	size_t n = b.len;
	while (n > 0 && strchr(" \t\r\n", b.p[n - 1]))
		b.p[--n] = '\0';
	b.len = n;
	if (n == 0 || strspn(b.p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789-_.") != n) {
		warnx_("AZURE_FEDERATED_TOKEN_FILE: %s does not hold a token (a JWT)",
		       a->token_file);
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

/* The Azure CLI's active cloud into a, unless --cloud or AZURE_CLOUD chose one. */
static int az_cloud(struct auth *a)
{
	char name[128], where[1100];
	if (a->cloud_fixed || azcli_cloud(name, sizeof name, where, sizeof where) <= 0)
		return 0;
	const struct cloud *c = cloud_find(name);
	if (!c) {
		warnx_("the Azure CLI's active cloud '%s' (%s) is not one legion knows (%s): "
		       "give --cloud or AZURE_CLOUD",
		       name, where, CLOUD_NAMES);
		return -1;
	}
	a->cloud = c;
	return 0;
}

/* The login host (AZURE_AUTHORITY_HOST wins), ARM's scope and resource of a->cloud. */
static int set_endpoints(struct auth *a)
{
	const char *login = env("AZURE_AUTHORITY_HOST");
	char scope[256];
	snprintf(scope, sizeof scope, "%s.default", a->cloud->resource);
	free(a->authority);
	free(a->scope);
	free(a->resource);
	a->authority = dup_trim_slash(login ? login : a->cloud->login);
	a->scope = strdup(scope);
	a->resource = strdup(a->cloud->resource);
	return a->authority && a->scope && a->resource ? 0 : -1;
}

/* Which credential: the one LEGION_CREDENTIAL names, else the first configured. */
static int pick(struct auth *a, int *ex)
{
	const char *want = env("LEGION_CREDENTIAL");
	int forced = AUTH_NONE;
	if (want) {
		for (int k = AUTH_SECRET; k <= AUTH_CLI; k++)
			if (!strcmp(want, kind_names[k]))
				forced = k;
		if (!forced) {
			warnx_("LEGION_CREDENTIAL: '%s' is not a credential (secret, certificate, "
			       "workload, msi, cli)",
			       want);
			return -1;
		}
	}
	int rc = 0;
	if (!forced || forced == AUTH_SECRET)
		rc = find_secret(a, forced == AUTH_SECRET);
	if (!rc && (!forced || forced == AUTH_CERT))
		rc = find_cert(a, forced == AUTH_CERT);
	if (!rc && (!forced || forced == AUTH_WORKLOAD))
		rc = find_workload(a, forced == AUTH_WORKLOAD);
	if (rc < 0)
		return -1;
	if (!rc) {
		a->kind = forced ? forced : AUTH_MSI;
		if (a->kind == AUTH_CLI && az_cloud(a) < 0)
			return -1;
		a->then_cli = !forced;
		if (a->kind == AUTH_MSI && set_str(&a->client_id, env("AZURE_CLIENT_ID")) < 0)
			return -1;
		if (a->kind == AUTH_CLI && set_str(&a->tenant, env("AZURE_TENANT_ID")) < 0)
			return -1;
	}
	(void)ex;
	return 0;
}

int auth_init(struct auth *a, const char *cloud, int *ex)
{
	memset(a, 0, sizeof *a);
	*ex = EXIT_CONFIG;
	const char *from_env = env("AZURE_CLOUD");
	a->cloud = cloud_find(cloud ? cloud : from_env ? from_env : "AzurePublicCloud");
	a->cloud_fixed = cloud || from_env;
	if (!a->cloud) {
		warnx_("%s: '%s' is not a cloud (%s)", cloud ? "--cloud" : "AZURE_CLOUD",
		       cloud ? cloud : from_env, CLOUD_NAMES);
		return -1;
	}
	if (pick(a, ex) < 0) {
		if (a->cert_ex)
			*ex = a->cert_ex;
		auth_free(a);
		return -1;
	}
	const char *imds = env("LEGION_IMDS_ENDPOINT");
	a->imds = dup_trim_slash(imds ? imds : DEFAULT_IMDS);
	if (set_endpoints(a) < 0 || !a->imds) {
		warnx_("out of memory");
		auth_free(a);
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	*ex = 0;
	return 0;
}

/* The token request for the credential kind; *redact: what must not be printed (an
 * assertion made here is owned by the caller). */
static int token_request(struct auth *a, struct buf *url, struct buf *body, char **redact, int *ex)
{
	if (a->kind == AUTH_MSI) {
		struct buf q = {0};
		int rc = buf_add_form(&q, "api-version", "2018-02-01") < 0 ||
					 buf_add_form(&q, "resource", a->resource) < 0 ||
					 (a->client_id &&
					  buf_add_form(&q, "client_id", a->client_id) < 0) ||
					 buf_addf(url, "%s/metadata/identity/oauth2/token?%s",
						  a->imds, q.p) < 0
				 ? -1
				 : 0;
		buf_free(&q);
		return rc;
	}
	if (buf_addf(url, "%s/%s/oauth2/v2.0/token", a->authority, a->tenant) < 0 ||
	    buf_add_form(body, "grant_type", "client_credentials") < 0 ||
	    buf_add_form(body, "client_id", a->client_id) < 0 ||
	    buf_add_form(body, "scope", a->scope) < 0)
		return -1;
	if (a->kind == AUTH_SECRET) {
		*redact = a->secret;
		return buf_add_form(body, "client_secret", a->secret);
	}
	char *assertion = a->kind == AUTH_CERT ? cert_assertion(a->cert, a->client_id, url->p)
					       : federated_token(a, ex);
	if (!assertion && a->kind == AUTH_CERT) {
		warnx_("unable to sign the client assertion");
		*ex = EXIT_UNAVAIL;
	}
	if (!assertion)
		return -1;
	*redact = assertion;
	a->assertion = assertion;
	return buf_add_form(body, "client_assertion_type",
			    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") < 0 ||
			       buf_add_form(body, "client_assertion", assertion) < 0
		       ? -1
		       : 0;
}

/* After a token arrived: who it is for, from its claims, where the credential did not
 * say (a managed identity's client and tenant, an az login's user). */
static void note_who(struct auth *a)
{
	static const char *const user[] = {"upn", "unique_name", "preferred_username", NULL};
	static const char *const app[] = {"appid", "azp", NULL};
	static const char *const tid[] = {"tid", NULL};
	if (!a->user && a->kind == AUTH_CLI)
		a->user = jwt_claim(a->token, user);
	if (!a->client_id && !a->user)
		a->client_id = jwt_claim(a->token, app);
	if (!a->tenant)
		a->tenant = jwt_claim(a->token, tid);
}

static void no_credentials(const char *why)
{
	warnx_("no Azure credentials: set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and "
	       "AZURE_TENANT_ID (or a certificate or workload identity, see 'man legion'), "
	       "run 'az login', or run where a managed identity is (%s)",
	       why);
}

/* A managed identity that is not there, while the Azure CLI may be: try az. */
static int msi_absent(struct auth *a, const struct http_resp *r, int *ex)
{
	char az[4096];
	if (a->then_cli && proc_which("az", NULL, az, sizeof az) == 0) {
		a->kind = AUTH_CLI;
		if (az_cloud(a) < 0) {
			*ex = EXIT_CONFIG;
			return -1;
		}
		if (set_str(&a->tenant, env("AZURE_TENANT_ID")) < 0 || set_endpoints(a) < 0)
			return -1;
		free(a->client_id);
		a->client_id = NULL;
		return azcli_token(a, ex);
	}
	char why[300];
	snprintf(why, sizeof why, "managed identity %s: %s",
		 r->status ? "answered" : "is not reachable", r->err);
	no_credentials(why);
	*ex = EXIT_CONFIG;
	return -1;
}

/* One token from Entra ID or IMDS into a. */
static int http_token(struct auth *a, int *ex)
{
	struct buf url = {0}, body = {0};
	struct http_resp r = {0};
	struct json j = {0};
	char *redact = NULL;
	int rc = -1, msi = a->kind == AUTH_MSI, default_imds = msi && !env("LEGION_IMDS_ENDPOINT");
	long long t0 = now_ms(); /* the token's life counts from the request */
	*ex = EXIT_SOFTWARE;
	if (token_request(a, &url, &body, &redact, ex) < 0) {
		if (*ex == EXIT_SOFTWARE)
			warnx_("out of memory");
		goto out;
	}
	const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	const char *md[] = {"Metadata: true", NULL};
	struct http_req q = {
		.method = msi ? "GET" : "POST",
		.url = url.p,
		.headers = msi ? md : form,
		.body = msi ? NULL : body.p,
		.body_len = body.len,
		.max_body = 1 << 20,
		.redact = redact,
		.explain = entra_explain,
	};
	if (a->then_cli) { /* a probe, as DefaultAzureCredential's: az comes next */
		q.timeout_ms = 1500;
		q.tries = 1;
	} else if (default_imds) {
		q.timeout_ms = 3000; /* IMDS answers at once where it is */
		q.tries = 2;
	}
	if (http_do(&q, &r) < 0 || (r.status != 200 && default_imds)) {
		if (msi) {
			rc = msi_absent(a, &r, ex);
			goto out;
		}
		warnx_("unable to get a token: %s", r.err);
		*ex = EXIT_UNAVAIL;
		goto out;
	}
	if (r.status != 200) {
		if (r.status == 400 || r.status == 401 || r.status == 403) {
			warnx_("credential refused for client %s: %s",
			       a->client_id ? a->client_id : "(managed identity)", r.err);
			*ex = EXIT_NOPERM;
		} else {
			warnx_("unable to get a token: %s", r.err);
			*ex = r.status == 429 || r.status >= 500 ? EXIT_TEMPFAIL : EXIT_UNAVAIL;
		}
		goto out;
	}
	long long life = 0;
	char *tok = NULL;
	if (auth_parse_token(r.body.p, r.body.len, &tok, &life) < 0) {
		warnx_("unable to get a token: %s answered with no access_token/expires_in",
		       msi ? "managed identity" : "the token endpoint");
		*ex = EXIT_UNAVAIL;
		goto out;
	}
	if (a->token)
		explicit_bzero(a->token, strlen(a->token));
	free(a->token);
	a->token = tok;
	/* refresh 5 minutes early, or at three quarters of a short lifetime */
	long long margin = life > 1200 ? 300 : life / 4;
	a->expires_ms = t0 + (life - margin) * 1000;
	rc = 0;
	*ex = 0;
out:
	if (a->assertion) {
		explicit_bzero(a->assertion, strlen(a->assertion));
		free(a->assertion);
		a->assertion = NULL;
	}
	if (body.p)
		explicit_bzero(body.p, body.len); /* the secret or assertion was in there */
	buf_free(&url);
	buf_free(&body);
	if (r.body.p)
		explicit_bzero(r.body.p, r.body.len);
	http_resp_free(&r);
	json_free(&j);
	return rc;
}

const char *auth_token(struct auth *a, int *ex)
{
	if (a->token && now_ms() < a->expires_ms)
		return a->token;
	int rc = a->kind == AUTH_CLI ? azcli_token(a, ex) : http_token(a, ex);
	if (rc < 0)
		return NULL;
	note_who(a);
	*ex = 0;
	return a->token;
}

int auth_parse_token(const char *body, size_t n, char **token, long long *life)
{
	struct json j = {0};
	*token = NULL;
	if (!body || json_parse(&j, body, n, NULL) != 0 ||
	    !(*token = json_str(&j, json_get(&j, 0, "access_token"))) ||
	    json_int(&j, json_get(&j, 0, "expires_in"), life) < 0 || *life <= 0) {
		free(*token);
		*token = NULL;
		json_free(&j);
		return -1;
	}
	json_free(&j);
	return 0;
}

void auth_free(struct auth *a)
{
	char **secret[] = {&a->secret, &a->token};
	for (size_t i = 0; i < sizeof secret / sizeof *secret; i++)
		if (*secret[i])
			explicit_bzero(*secret[i], strlen(*secret[i]));
	char **all[] = {&a->tenant, &a->client_id,    &a->secret,    &a->authority,
			&a->imds,   &a->scope,        &a->resource,  &a->token,
			&a->user,   &a->subscription, &a->token_file};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		free(*all[i]);
	cert_free(a->cert);
	memset(a, 0, sizeof *a);
}
