/*
 * awsauth.c: AWS credentials as the SDKs find them (environment, web identity through
 * STS, the shared credentials and config files, the ECS container endpoint), the
 * region, endpoints (AWS_ENDPOINT_URL[_<SERVICE>]), signed JSON 1.1 calls with AWS's
 * error shape and throttling, and STS GetCallerIdentity. Leaves out SSO, credential_process,
 * role chaining from profiles, and IMDS (EC2 instance roles).
 */
#include "aws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STS_VERSION "2011-06-15"
#define CONTAINER_HOST "http://169.254.170.2"
#define THROTTLE_TRIES 6

const char *aws_source_name(enum aws_source s)
{
	static const char *const n[] = {"none", "env", "web-identity", "shared-file", "container"};
	return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "none";
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int set_keys(struct aws *a, const char *ak, const char *sk, const char *tok)
{
	free(a->access_key);
	free(a->secret_key);
	if (a->session_token)
		memset(a->session_token, 0, strlen(a->session_token));
	free(a->session_token);
	a->access_key = strdup(ak);
	a->secret_key = strdup(sk);
	a->session_token = tok && *tok ? strdup(tok) : NULL;
	return a->access_key && a->secret_key && (!tok || !*tok || a->session_token) ? 0 : -1;
}

char *aws_xml(const char *xml, const char *tag)
{
	char open[96], close[96];
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	const char *s = xml ? strstr(xml, open) : NULL;
	const char *e = s ? strstr(s, close) : NULL;
	if (!e)
		return NULL;
	s += strlen(open);
	struct buf b = {0};
	static const char *const ent[][2] = {
		{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}};
	while (s < e) {
		size_t k = 0;
		while (k < 5 && strncmp(s, ent[k][0], strlen(ent[k][0])))
			k++;
		int rc = k < 5 ? buf_adds(&b, ent[k][1]) : buf_add(&b, s, 1);
		s += k < 5 ? strlen(ent[k][0]) : 1;
		if (rc < 0) {
			buf_free(&b);
			return NULL;
		}
	}
	return buf_take(&b);
}

/* Seconds since the epoch of an ISO 8601 UTC time ("2026-12-02T17:00:00Z"), or 0. */
static long long iso_time(const char *s)
{
	struct tm tm = {0};
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

/* ---- web identity: STS AssumeRoleWithWebIdentity ---- */

static int web_identity(struct aws *a, int *ex)
{
	const char *file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = env("AWS_ROLE_ARN");
	const char *session = env("AWS_ROLE_SESSION_NAME");
	struct buf tok = {0}, body = {0};
	struct http_resp r = {0};
	char url[512], sess[64];
	int rc = -1;
	if (read_file(file, 64 << 10, &tok) < 0) {
		warn_("AWS_WEB_IDENTITY_TOKEN_FILE: unable to read %s", file);
		*ex = EXIT_CONFIG;
		return -1;
	}
	while (tok.len > 0 && strchr(" \t\r\n", tok.p[tok.len - 1]))
		tok.p[--tok.len] = '\0';
	snprintf(sess, sizeof sess, "legion-%lld", (long long)time(NULL));
	aws_endpoint(a, "STS", "sts", url, sizeof url);
	strncat(url, "/", sizeof url - strlen(url) - 1);
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	if (buf_add_form(&body, "Action", "AssumeRoleWithWebIdentity") < 0 ||
	    buf_add_form(&body, "Version", STS_VERSION) < 0 ||
	    buf_add_form(&body, "RoleArn", role) < 0 ||
	    buf_add_form(&body, "RoleSessionName", session ? session : sess) < 0 ||
	    buf_add_form(&body, "WebIdentityToken", tok.p ? tok.p : "") < 0) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	struct http_req q = {.method = "POST",
			     .url = url,
			     .headers = hdrs,
			     .body = body.p,
			     .body_len = body.len,
			     .redact = tok.p};
	if (http_do(&q, &r) < 0 || r.status != 200) {
		char w[512];
		warnx_("STS AssumeRoleWithWebIdentity for %s: %s", role, aws_why(&r, w, sizeof w));
		*ex = r.status == 0 ? EXIT_UNAVAIL : r.status >= 500 ? EXIT_TEMPFAIL : EXIT_NOPERM;
		goto out;
	}
	char *ak = aws_xml(r.body.p, "AccessKeyId"), *sk = aws_xml(r.body.p, "SecretAccessKey"),
	     *st = aws_xml(r.body.p, "SessionToken"), *exp = aws_xml(r.body.p, "Expiration");
	if (!ak || !sk || !st || set_keys(a, ak, sk, st) < 0) {
		warnx_("STS AssumeRoleWithWebIdentity for %s: no credentials in the answer", role);
		*ex = EXIT_UNAVAIL;
	} else {
		a->expires = iso_time(exp);
		a->source = AWS_SRC_WEB_IDENTITY;
		snprintf(a->role_arn, sizeof a->role_arn, "%s", role);
		rc = 0;
	}
	if (sk)
		memset(sk, 0, strlen(sk));
	if (st)
		memset(st, 0, strlen(st));
	free(ak);
	free(sk);
	free(st);
	free(exp);
out:
	if (tok.p)
		memset(tok.p, 0, tok.len);
	if (body.p)
		memset(body.p, 0, body.len);
	buf_free(&tok);
	buf_free(&body);
	http_resp_free(&r);
	return rc;
}

/* ---- the ECS container credentials endpoint ---- */

static int container(struct aws *a, int *ex)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
		   *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
		   *tok = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char url[1024], authz[2200];
	struct buf tb = {0};
	struct http_resp r = {0};
	const char *hdrs[2] = {NULL, NULL};
	int rc = -1;
	if (rel)
		snprintf(url, sizeof url, "%s%s%s", CONTAINER_HOST, rel[0] == '/' ? "" : "/", rel);
	else
		snprintf(url, sizeof url, "%s", full);
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		warnx_("AWS_CONTAINER_CREDENTIALS_FULL_URI: '%s' is not an http(s) URL", url);
		*ex = EXIT_CONFIG;
		return -1;
	}
	if (tfile) {
		if (read_file(tfile, 16 << 10, &tb) < 0) {
			warn_("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: unable to read %s", tfile);
			*ex = EXIT_CONFIG;
			return -1;
		}
		while (tb.len > 0 && strchr(" \t\r\n", tb.p[tb.len - 1]))
			tb.p[--tb.len] = '\0';
		tok = tb.p;
	}
	if (tok) {
		snprintf(authz, sizeof authz, "Authorization: %s", tok);
		hdrs[0] = authz;
	}
	struct http_req q = {.url = url, .headers = hdrs, .redact = tok, .timeout_ms = 10000};
	struct json j = {0};
	if (http_do(&q, &r) < 0 || r.status != 200) {
		warnx_("the container credentials endpoint: %s", r.err);
		*ex = r.status == 0 ? EXIT_UNAVAIL : r.status >= 500 ? EXIT_TEMPFAIL : EXIT_NOPERM;
	} else if (json_parse(&j, r.body.p, r.body.len, NULL) != 0) {
		warnx_("the container credentials endpoint: the answer is not JSON");
		*ex = EXIT_UNAVAIL;
	} else {
		char *ak = json_str(&j, json_get(&j, 0, "AccessKeyId")),
		     *sk = json_str(&j, json_get(&j, 0, "SecretAccessKey")),
		     *st = json_str(&j, json_get(&j, 0, "Token")),
		     *exp = json_str(&j, json_get(&j, 0, "Expiration"));
		if (ak && sk && set_keys(a, ak, sk, st) == 0) {
			a->expires = iso_time(exp);
			a->source = AWS_SRC_CONTAINER;
			rc = 0;
		} else {
			warnx_("the container credentials endpoint: no AccessKeyId and "
			       "SecretAccessKey in its answer");
			*ex = EXIT_UNAVAIL;
		}
		if (sk)
			memset(sk, 0, strlen(sk));
		if (st)
			memset(st, 0, strlen(st));
		free(ak);
		free(sk);
		free(st);
		free(exp);
	}
	json_free(&j);
	if (r.body.p)
		memset(r.body.p, 0, r.body.len);
	http_resp_free(&r);
	if (tb.p)
		memset(tb.p, 0, tb.len);
	buf_free(&tb);
	return rc;
}

/* ---- the shared files ---- */

/* key's value in section sect of an INI file's text (modified in place: lines are cut).
 * Returns a pointer into text, or NULL. */
static const char *ini_get(char *text, size_t len, const char *sect, const char *key)
{
	const char *in = NULL, *found = NULL;
	for (char *line = text, *next; line && line < text + len && !found; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line += strspn(line, " \t");
		size_t n = strlen(line);
		while (n > 0 && strchr(" \t\r", line[n - 1]))
			line[--n] = '\0';
		if (line[0] == '[') {
			char *end = strchr(line, ']');
			if (end)
				*end = '\0';
			char *name = line + 1 + strspn(line + 1, " \t");
			size_t k = strlen(name);
			while (k > 0 && strchr(" \t", name[k - 1]))
				name[--k] = '\0';
			in = !strcmp(name, sect) ? name : NULL;
			continue;
		}
		if (!in || line[0] == '#' || line[0] == ';')
			continue;
		size_t kn = strcspn(line, " \t=");
		char *eq = strchr(line, '=');
		if (eq && kn == strlen(key) && !strncmp(line, key, kn))
			found = eq + 1 + strspn(eq + 1, " \t");
	}
	return found;
}

/* The value of key for profile in the file (the config file names sections "profile
 * NAME", but "default"), into out; 1 when found, 0 when not, -1 when unreadable. */
static int file_get(const char *path, const char *profile, int config, const char *key, char *out,
		    size_t n)
{
	struct buf b = {0};
	char sect[160];
	if (read_file(path, 1 << 20, &b) < 0)
		return errno == ENOENT ? 0 : -1;
	if (config && strcmp(profile, "default"))
		snprintf(sect, sizeof sect, "profile %s", profile);
	else
		snprintf(sect, sizeof sect, "%s", profile);
	const char *v = b.p ? ini_get(b.p, b.len, sect, key) : NULL;
	int rc = v && *v && strlen(v) < n;
	if (rc)
		snprintf(out, n, "%s", v);
	if (b.p)
		memset(b.p, 0, b.len);
	buf_free(&b);
	return rc;
}

static void shared_paths(char *cred, char *conf, size_t n)
{
	const char *h = env("HOME");
	const char *c = env("AWS_SHARED_CREDENTIALS_FILE"), *f = env("AWS_CONFIG_FILE");
	snprintf(cred, n, "%s", c ? c : "");
	snprintf(conf, n, "%s", f ? f : "");
	if (!c && h)
		snprintf(cred, n, "%s/.aws/credentials", h);
	if (!f && h)
		snprintf(conf, n, "%s/.aws/config", h);
}

/* 1 when the profile's keys were found in either file, 0 when not, -1 on error. */
static int shared_files(struct aws *a, int *ex)
{
	char cred[1024], conf[1024];
	const char *profile = env("AWS_PROFILE");
	profile = profile ? profile : "default";
	snprintf(a->profile, sizeof a->profile, "%s", profile);
	shared_paths(cred, conf, sizeof cred);
	const char *files[2] = {cred, conf};
	for (int k = 0; k < 2; k++) {
		char ak[256] = "", sk[256] = "", st[4096] = "";
		if (!files[k][0])
			continue;
		int rc = file_get(files[k], profile, k, "aws_access_key_id", ak, sizeof ak);
		if (rc < 0) {
			warn_("unable to read %s", files[k]);
			*ex = EXIT_CONFIG;
			return -1;
		}
		if (!rc)
			continue;
		if (file_get(files[k], profile, k, "aws_secret_access_key", sk, sizeof sk) != 1) {
			warnx_("%s: profile %s has aws_access_key_id but no aws_secret_access_key",
			       files[k], profile);
			*ex = EXIT_CONFIG;
			return -1;
		}
		file_get(files[k], profile, k, "aws_session_token", st, sizeof st);
		rc = set_keys(a, ak, sk, st);
		memset(sk, 0, sizeof sk);
		memset(st, 0, sizeof st);
		if (rc < 0) {
			*ex = EXIT_SOFTWARE;
			return -1;
		}
		a->source = AWS_SRC_FILE;
		snprintf(a->file, sizeof a->file, "%s", files[k]);
		return 1;
	}
	return 0;
}

/* Finds credentials, first source that has them wins. */
static int find_credentials(struct aws *a, int *ex)
{
	const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
	if (ak || sk) {
		if (!ak || !sk) {
			warnx_("%s is set but %s is not",
			       ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			       ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
			*ex = EXIT_CONFIG;
			return -1;
		}
		a->source = AWS_SRC_ENV;
		if (set_keys(a, ak, sk, env("AWS_SESSION_TOKEN")) < 0) {
			*ex = EXIT_SOFTWARE;
			return -1;
		}
		return 0;
	}
	if (env("AWS_WEB_IDENTITY_TOKEN_FILE") && env("AWS_ROLE_ARN"))
		return web_identity(a, ex);
	int rc = shared_files(a, ex);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
	    env("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
		return container(a, ex);
	warnx_("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
	       "AWS_PROFILE (~/.aws/credentials), or AWS_WEB_IDENTITY_TOKEN_FILE and "
	       "AWS_ROLE_ARN");
	*ex = EXIT_CONFIG;
	return -1;
}

static int region_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int aws_init(struct aws *a, const char *location, int *ex)
{
	char cred[1024], conf[1024];
	memset(a, 0, sizeof *a);
	a->parallel = 16;
	/* the region first: STS (web identity) needs it */
	const char *r = location ? location : env("AWS_REGION");
	r = r ? r : env("AWS_DEFAULT_REGION");
	if (r)
		snprintf(a->region, sizeof a->region, "%s", r);
	else {
		const char *profile = env("AWS_PROFILE");
		shared_paths(cred, conf, sizeof cred);
		if (conf[0])
			file_get(conf, profile ? profile : "default", 1, "region", a->region,
				 sizeof a->region);
	}
	if (!a->region[0]) {
		warnx_("no AWS region: give --location, or set AWS_REGION (or region in "
		       "~/.aws/config)");
		*ex = EXIT_CONFIG;
		return -1;
	}
	if (!region_ok(a->region)) {
		warnx_("%s: '%s' is not an AWS region name", location ? "--location" : "AWS_REGION",
		       a->region);
		*ex = location ? EXIT_USAGE : EXIT_CONFIG;
		return -1;
	}
	if (find_credentials(a, ex) < 0) {
		aws_free(a);
		return -1;
	}
	return 0;
}

void aws_free(struct aws *a)
{
	if (a->secret_key)
		memset(a->secret_key, 0, strlen(a->secret_key));
	if (a->session_token)
		memset(a->session_token, 0, strlen(a->session_token));
	free(a->access_key);
	free(a->secret_key);
	free(a->session_token);
	a->access_key = a->secret_key = a->session_token = NULL;
}

void aws_endpoint(const struct aws *a, const char *id, const char *host, char *out, size_t n)
{
	char name[96];
	snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", id);
	const char *e = env(name);
	e = e ? e : env("AWS_ENDPOINT_URL");
	if (e)
		snprintf(out, n, "%s", e);
	else
		snprintf(out, n, "https://%s.%s.amazonaws.com", host, a->region);
	size_t k = strlen(out);
	while (k > 0 && out[k - 1] == '/')
		out[--k] = '\0';
}

/* Temporary credentials are fetched again five minutes before they expire. */
static int refresh(struct aws *a, int *ex)
{
	if (!a->expires || (long long)time(NULL) < a->expires - 300)
		return 0;
	if (a->source == AWS_SRC_WEB_IDENTITY)
		return web_identity(a, ex);
	if (a->source == AWS_SRC_CONTAINER)
		return container(a, ex);
	return 0;
}

/* ---- AWS's error shapes ---- */

void aws_code(const struct http_resp *r, char *code, size_t n)
{
	struct json j = {0};
	code[0] = '\0';
	if (!r->body.p)
		return;
	if (json_parse(&j, r->body.p, r->body.len, NULL) == 0) {
		char t[160];
		if (json_strcpy(&j, json_get(&j, 0, "__type"), t, sizeof t) == 0) {
			const char *h = strrchr(t, '#');
			snprintf(code, n, "%s", h ? h + 1 : t);
		}
	} else { /* the query protocol (STS): <Error><Code> */
		char *c = aws_xml(r->body.p, "Code");
		if (c)
			snprintf(code, n, "%s", c);
		free(c);
	}
	json_free(&j);
}

const char *aws_why(const struct http_resp *r, char *out, size_t n)
{
	char code[160];
	char *msg = NULL;
	struct json j = {0};
	aws_code(r, code, sizeof code);
	if (r->status > 0 && r->body.p && json_parse(&j, r->body.p, r->body.len, NULL) == 0) {
		msg = json_str(&j, json_get(&j, 0, "message"));
		if (!msg)
			msg = json_str(&j, json_get(&j, 0, "Message"));
	} else if (r->status > 0 && r->body.p)
		msg = aws_xml(r->body.p, "Message");
	json_free(&j);
	if (msg)
		msg[strcspn(msg, "\r\n")] = '\0';
	if (r->status > 0 && (code[0] || msg))
		snprintf(out, n, "HTTP %ld %s%s%s", r->status, code, msg && code[0] ? ": " : "",
			 msg ? msg : "");
	else
		snprintf(out, n, "%s", r->err[0] ? r->err : "no answer");
	free(msg);
	return out;
}

static int is_throttle(const char *code)
{
	return !strcmp(code, "ThrottlingException") || !strcmp(code, "Throttling") ||
	       !strcmp(code, "TooManyRequestsException") || !strcmp(code, "RequestLimitExceeded");
}

int aws_exit(const struct http_resp *r)
{
	char code[160];
	aws_code(r, code, sizeof code);
	if (r->status == 0 || r->status == 429 || r->status >= 500 || is_throttle(code))
		return EXIT_TEMPFAIL;
	if (r->status == 401 || r->status == 403 || strstr(code, "AccessDenied") ||
	    strstr(code, "Signature") || strstr(code, "ClientToken") || strstr(code, "Expired") ||
	    !strcmp(code, "UnrecognizedClientException") || !strcmp(code, "AuthFailure"))
		return EXIT_NOPERM;
	if (strstr(code, "LimitExceeded") || strstr(code, "Capacity"))
		return EXIT_UNAVAIL;
	if (r->status == 400 || r->status == 409)
		return EXIT_DATAERR;
	return EXIT_UNAVAIL;
}

/* ---- signed calls ---- */

/* One call's request, its headers and its signature. */
struct signed_call {
	char url[512];
	char target[200];
	const char *in[3];
	struct sigv4_signed s;
};

static int sign_call(struct aws *a, const struct aws_call *c, struct signed_call *sc,
		     struct http_req *q)
{
	aws_endpoint(a, c->id, c->host, sc->url, sizeof sc->url - 1);
	strcat(sc->url, "/");
	snprintf(sc->target, sizeof sc->target, "X-Amz-Target: %s", c->target);
	sc->in[0] = "Content-Type: application/x-amz-json-1.1";
	sc->in[1] = sc->target;
	sc->in[2] = NULL;
	struct sigv4_key k = {a->access_key, a->secret_key, a->session_token, a->region,
			      c->service};
	size_t n = c->body ? strlen(c->body) : 0;
	if (sigv4_sign(&k, "POST", sc->url, sc->in, c->body, n, time(NULL), &sc->s) < 0) {
		warnx_("unable to sign a request to %s", sc->url);
		return -1;
	}
	memset(q, 0, sizeof *q);
	q->method = "POST";
	q->url = sc->url;
	q->headers = sc->s.hdrs;
	q->body = c->body ? c->body : "";
	q->body_len = n;
	q->redact = c->redact;
	return 0;
}

/* Signs and runs the calls idx[0..m) into r[idx[k]]; -1 when one could not be signed. */
static int run_some(struct aws *a, const struct aws_call *c, struct http_resp *r, const int *idx,
		    int m, int *ex)
{
	struct signed_call *sc = calloc((size_t)m, sizeof *sc);
	struct http_req *q = calloc((size_t)m, sizeof *q);
	struct http_resp *rr = calloc((size_t)m, sizeof *rr);
	int rc = -1, k = 0;
	if (!sc || !q || !rr) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	for (; k < m; k++)
		if (sign_call(a, &c[idx[k]], &sc[k], &q[k]) < 0) {
			*ex = EXIT_SOFTWARE;
			goto out;
		}
	http_do_many(q, rr, m, a->parallel, &a->throttle);
	for (int x = 0; x < m; x++) {
		http_resp_free(&r[idx[x]]);
		r[idx[x]] = rr[x];
	}
	rc = 0;
out:
	for (int x = 0; sc && x < k; x++)
		sigv4_free(&sc[x].s);
	free(sc);
	free(q);
	free(rr);
	return rc;
}

int aws_json_many(struct aws *a, const struct aws_call *c, struct http_resp *r, int n, int *ex)
{
	int *idx = calloc((size_t)(n > 0 ? n : 1), sizeof *idx), m = n, rc = -1;
	if (!idx) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	if (refresh(a, ex) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		idx[i] = i;
	for (int try = 1; m > 0; try++) {
		if (run_some(a, c, r, idx, m, ex) < 0)
			goto out;
		int still = 0;
		for (int k = 0; k < m; k++) {
			char code[160];
			aws_code(&r[idx[k]], code, sizeof code);
			if (r[idx[k]].status == 400 && is_throttle(code))
				idx[still++] = idx[k];
		}
		m = still;
		if (m == 0 || try == THROTTLE_TRIES)
			break;
		/* throttled: one at a time from here, after a backoff with jitter */
		a->throttle.limit = 1;
		long long step = 400LL << (try < 6 ? try : 6);
		unsigned rnd = 0;
		random_bytes(&rnd, sizeof rnd);
		if (verbose)
			fprintf(stderr, "%s: throttled (%d calls), again in %lld ms\n", progname, m,
				step);
		if (sleep_ms(step / 2 + (long long)(rnd % (unsigned)(step / 2 + 1)), &http_stop)) {
			*ex = EXIT_SIGNALED(SIGINT);
			goto out;
		}
	}
	rc = 0;
	for (int i = 0; i < n; i++)
		if (r[i].status == 0)
			rc = -1;
	if (rc < 0) {
		for (int i = 0; i < n; i++)
			if (r[i].status == 0) {
				warnx_("%s", r[i].err);
				break;
			}
		*ex = EXIT_TEMPFAIL;
	}
out:
	free(idx);
	return rc;
}

int aws_json(struct aws *a, const struct aws_call *c, struct http_resp *r, const char *what,
	     const char *ok_code, int *ex)
{
	memset(r, 0, sizeof *r);
	if (aws_json_many(a, c, r, 1, ex) < 0) {
		http_resp_free(r);
		return -1;
	}
	if (r->status == 200)
		return 0;
	char w[512], code[128];
	aws_code(r, code, sizeof code);
	if (ok_code && r->status == 400 && !strcmp(code, ok_code))
		return 1;
	warnx_("%s: %s", what, aws_why(r, w, sizeof w));
	*ex = aws_exit(r);
	http_resp_free(r);
	return -1;
}

/* ---- STS GetCallerIdentity and `legion auth --backend fargate` ---- */

int aws_query(struct aws *a, const char *id, const char *host, const char *service,
	      const char *body, const char *what, struct http_resp *r, int *ex)
{
	char url[512];
	const char *in[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL};
	struct sigv4_key k = {a->access_key, a->secret_key, a->session_token, a->region, service};
	struct sigv4_signed s;
	memset(r, 0, sizeof *r);
	if (refresh(a, ex) < 0)
		return -1;
	aws_endpoint(a, id, host, url, sizeof url - 1);
	strcat(url, "/");
	if (sigv4_sign(&k, "POST", url, in, body, strlen(body), time(NULL), &s) < 0) {
		warnx_("unable to sign a request to %s", url);
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	struct http_req q = {.method = "POST",
			     .url = url,
			     .headers = s.hdrs,
			     .body = body,
			     .body_len = strlen(body)};
	int rc = 0;
	if (http_do(&q, r) < 0 || r->status != 200) {
		char w[512];
		warnx_("%s: %s", what, aws_why(r, w, sizeof w));
		*ex = r->status == 0 ? EXIT_UNAVAIL : aws_exit(r);
		http_resp_free(r);
		rc = -1;
	}
	sigv4_free(&s);
	return rc;
}

int aws_whoami(struct aws *a, char **account, char **arn, char **user, int *ex)
{
	struct http_resp r;
	*account = *arn = *user = NULL;
	if (aws_query(a, "STS", "sts", "sts", "Action=GetCallerIdentity&Version=" STS_VERSION,
		      "STS GetCallerIdentity", &r, ex) < 0)
		return -1;
	*account = aws_xml(r.body.p, "Account");
	*arn = aws_xml(r.body.p, "Arn");
	*user = aws_xml(r.body.p, "UserId");
	http_resp_free(&r);
	return 0;
}

int fargate_auth(const char *location)
{
	struct aws a;
	int ex = 0;
	char *account, *arn, *user;
	if (aws_init(&a, location, &ex) < 0)
		return ex;
	if (aws_whoami(&a, &account, &arn, &user, &ex) == 0) {
		struct jw w = {0};
		jw_obj(&w, NULL);
		jw_str(&w, "kind", aws_source_name(a.source));
		jw_str(&w, "region", a.region);
		char masked[32];
		size_t kl = strlen(a.access_key);
		snprintf(masked, sizeof masked, "****%s", kl > 4 ? a.access_key + kl - 4 : "");
		jw_str(&w, "accessKeyId", masked);
		jw_bool(&w, "temporary", a.session_token != NULL);
		if (a.source == AWS_SRC_FILE) {
			jw_str(&w, "profile", a.profile);
			jw_str(&w, "file", a.file);
		}
		if (a.source == AWS_SRC_WEB_IDENTITY)
			jw_str(&w, "roleArn", a.role_arn);
		if (a.expires)
			jw_int(&w, "expiresIn", a.expires - (long long)time(NULL));
		jw_str(&w, "account", account);
		jw_str(&w, "arn", arn);
		jw_str(&w, "userId", user);
		jw_end(&w);
		char *doc = jw_finish(&w, NULL);
		if (doc)
			printf("%s\n", doc);
		ex = doc ? 0 : EXIT_SOFTWARE;
		free(doc);
		free(account);
		free(arn);
		free(user);
	}
	aws_free(&a);
	return ex;
}
