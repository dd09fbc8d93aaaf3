/*
 * auth.c: Entra ID access tokens for ARM: client credentials with a secret from the
 * environment, else managed identity (IMDS); cached in memory and refreshed before
 * they expire. Leaves out certificate assertions and the az CLI (not built yet) and
 * never writes a token or secret anywhere.
 */
#include "legion.h"

#include <stdlib.h>
#include <string.h>

#define ARM_SCOPE "https://management.azure.com/.default"
#define ARM_RESOURCE "https://management.azure.com/"
#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254"

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

int auth_init(struct auth *a, int *ex)
{
	static const char *const names[2][3] = {
		{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"},
		{"APP_ID", "PASSWORD", "TENANT_ID"}, /* the seed's spellings */
	};
	memset(a, 0, sizeof *a);
	*ex = EXIT_CONFIG;
	for (int set = 0; set < 2; set++) {
		const char *id = env(names[set][0]), *secret = env(names[set][1]),
			   *tenant = env(names[set][2]);
		if (!id && !secret)
			continue;
		for (int k = 0; k < 3; k++)
			if (!env(names[set][k])) {
				warnx_("%s is set but %s is not: set all of %s, %s and %s",
				       names[set][k ? 0 : 1], names[set][k], names[set][0],
				       names[set][1], names[set][2]);
				return -1;
			}
		a->client_id = strdup(id);
		a->secret = strdup(secret);
		a->tenant = strdup(tenant);
		a->kind = AUTH_SECRET;
		break;
	}
	if (a->kind == AUTH_NONE && env("AZURE_CLIENT_CERTIFICATE_PATH")) {
		warnx_("AZURE_CLIENT_CERTIFICATE_PATH: certificate credentials are not "
		       "supported by this build; set AZURE_CLIENT_SECRET instead");
		return -1;
	}
	if (a->kind == AUTH_NONE) {
		a->kind = AUTH_MSI;
		a->client_id = env("AZURE_CLIENT_ID") ? strdup(env("AZURE_CLIENT_ID")) : NULL;
	}
	const char *auth = env("AZURE_AUTHORITY_HOST");
	if (a->kind == AUTH_MSI)
		auth = env("LEGION_IMDS_ENDPOINT") ? env("LEGION_IMDS_ENDPOINT") : DEFAULT_IMDS;
	a->authority = dup_trim_slash(auth ? auth : DEFAULT_AUTHORITY);
	a->scope = strdup(a->kind == AUTH_MSI ? ARM_RESOURCE : ARM_SCOPE);
	if (!a->authority || !a->scope ||
	    (a->kind == AUTH_SECRET && (!a->client_id || !a->secret || !a->tenant))) {
		warnx_("out of memory");
		auth_free(a);
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	*ex = 0;
	return 0;
}

/* Appends name=value, percent-encoding the value as forms require. */
static int form_add(struct buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	if ((b->len && buf_add(b, "&", 1) < 0) || buf_adds(b, name) < 0 || buf_add(b, "=", 1) < 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || strchr("-._~", *p);
		if (plain ? buf_add(b, p, 1) < 0 : buf_add(b, e, 3) < 0)
			return -1;
	}
	return 0;
}

/* Builds the token request for the credential kind. */
static int token_request(const struct auth *a, struct buf *url, struct buf *body)
{
	if (a->kind == AUTH_SECRET) {
		if (buf_addf(url, "%s/%s/oauth2/v2.0/token", a->authority, a->tenant) < 0 ||
		    form_add(body, "grant_type", "client_credentials") < 0 ||
		    form_add(body, "client_id", a->client_id) < 0 ||
		    form_add(body, "client_secret", a->secret) < 0 ||
		    form_add(body, "scope", a->scope) < 0)
			return -1;
		return 0;
	}
	struct buf q = {0};
	int rc = form_add(&q, "api-version", "2018-02-01") < 0 ||
				 form_add(&q, "resource", a->scope) < 0 ||
				 (a->client_id && form_add(&q, "client_id", a->client_id) < 0) ||
				 buf_addf(url, "%s/metadata/identity/oauth2/token?%s", a->authority,
					  q.p) < 0
			 ? -1
			 : 0;
	buf_free(&q);
	return rc;
}

const char *auth_token(struct auth *a, int *ex)
{
	long long now = now_ms();
	if (a->token && now < a->expires_ms)
		return a->token;
	struct buf url = {0}, body = {0};
	struct http_resp r = {0};
	const char *out = NULL;
	*ex = EXIT_SOFTWARE;
	if (token_request(a, &url, &body) < 0) {
		warnx_("out of memory");
		goto out;
	}
	const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	const char *msi[] = {"Metadata: true", NULL};
	struct http_req q = {
		.method = a->kind == AUTH_SECRET ? "POST" : "GET",
		.url = url.p,
		.headers = a->kind == AUTH_SECRET ? form : msi,
		.body = a->kind == AUTH_SECRET ? body.p : NULL,
		.body_len = body.len,
		.max_body = 1 << 20,
		.redact = a->secret,
		.explain = entra_explain,
	};
	if (a->kind == AUTH_MSI && !getenv("LEGION_IMDS_ENDPOINT")) {
		q.timeout_ms = 3000; /* IMDS answers at once where it exists */
		q.tries = 2;
	}
	if (http_do(&q, &r) < 0) {
		if (a->kind == AUTH_MSI)
			warnx_("no Azure credentials: set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and "
			       "AZURE_TENANT_ID (managed identity is not reachable: %s)",
			       r.err);
		else
			warnx_("unable to get a token: %s", r.err);
		*ex = a->kind == AUTH_MSI ? EXIT_CONFIG : EXIT_UNAVAIL;
		goto out;
	}
	if (r.status != 200 && a->kind == AUTH_MSI && !getenv("LEGION_IMDS_ENDPOINT")) {
		/* something answered at the IMDS address, but it gave no identity */
		warnx_("no Azure credentials: set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and "
		       "AZURE_TENANT_ID (managed identity: %s)",
		       r.err);
		*ex = EXIT_CONFIG;
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
		       a->kind == AUTH_SECRET ? "the token endpoint" : "managed identity");
		*ex = EXIT_UNAVAIL;
		goto out;
	}
	free(a->token);
	a->token = tok;
	/* refresh 5 minutes early, or at three quarters of a short lifetime */
	long long margin = life > 1200 ? 300 : life / 4;
	a->expires_ms = now + (life - margin) * 1000;
	out = a->token;
	*ex = 0;
out:
	if (body.p)
		memset(body.p, 0, body.len); /* the secret was in there */
	buf_free(&url);
	buf_free(&body);
	http_resp_free(&r);
	return out;
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
	if (a->secret)
		memset(a->secret, 0, strlen(a->secret));
	if (a->token)
		memset(a->token, 0, strlen(a->token));
	free(a->tenant);
	free(a->client_id);
	free(a->secret);
	free(a->authority);
	free(a->scope);
	free(a->token);
	memset(a, 0, sizeof *a);
}
