/*
 * sigv4.c: AWS Signature Version 4 for one HTTP request (canonical request, string to
 * sign, derived key, Authorization header), with SHA-256 and HMAC-SHA256 from BearSSL.
 * Follows AWS's "Create a signed AWS API request" (IAM user guide, reference_sigv4).
 * Leaves out S3's single-encoded paths, chunked payloads, presigned URLs and SigV4a.
 */
#include "aws.h"

#include <bearssl.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HDRS 16

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void sha256_hex(const void *data, size_t n, char out[65])
{
	br_sha256_context c;
	unsigned char h[32];
	br_sha256_init(&c);
	br_sha256_update(&c, data, n);
	br_sha256_out(&c, h);
	hex(h, sizeof h, out);
}

static void hmac(const void *key, size_t kn, const void *msg, size_t mn, unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, key, kn);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, mn);
	br_hmac_out(&hc, out);
	memset(&kc, 0, sizeof kc);
	memset(&hc, 0, sizeof hc);
}

/* One header for the canonical form: lowercase name, trimmed value with runs of spaces
 * made one. */
struct chdr {
	char name[64];
	char value[2048];
};

static int chdr_set(struct chdr *h, const char *name, size_t nn, const char *val)
{
	if (nn == 0 || nn >= sizeof h->name)
		return -1;
	for (size_t i = 0; i < nn; i++)
		h->name[i] = (char)tolower((unsigned char)name[i]);
	h->name[nn] = '\0';
	size_t k = 0;
	val += strspn(val, " \t");
	for (; *val; val++) {
		if ((*val == ' ' || *val == '\t') && (k == 0 || h->value[k - 1] == ' '))
			continue;
		if (k + 1 >= sizeof h->value)
			return -1;
		h->value[k++] = *val == '\t' ? ' ' : *val;
	}
	while (k > 0 && h->value[k - 1] == ' ')
		k--;
	h->value[k] = '\0';
	return 0;
}

static int chdr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct chdr *)a)->name, ((const struct chdr *)b)->name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The path, each byte but unreserved ones and '/' percent-encoded (AWS encodes the
 * path once more for every service but S3). */
static int add_path(struct buf *b, const char *p, size_t n)
{
	if (n == 0)
		return buf_adds(b, "/");
	return buf_add_pct(b, p, n, "/");
}

/* The query's parameters sorted by name then value; "k" becomes "k=". */
static int add_query(struct buf *b, const char *q)
{
	char *copy = strdup(q), *save = NULL;
	char **v = NULL;
	int n = 0, rc = copy ? 0 : -1;
	for (char *p = copy ? strtok_r(copy, "&", &save) : NULL; p && !rc;
	     p = strtok_r(NULL, "&", &save)) {
		char **nv = realloc(v, (size_t)(n + 1) * sizeof *v);
		if (!nv) {
			rc = -1;
			break;
		}
		v = nv;
		v[n++] = p;
	}
	if (!rc && n > 1)
		qsort(v, (size_t)n, sizeof *v, str_cmp);
	for (int i = 0; !rc && i < n; i++)
		rc = buf_addf(b, "%s%s%s", i ? "&" : "", v[i], strchr(v[i], '=') ? "" : "=");
	free(v);
	free(copy);
	return rc;
}

/* Splits url into host (default port dropped, as curl's Host: line), path and query. */
static int split_url(const char *url, char *host, size_t hn, const char **path, size_t *pn,
		     const char **query)
{
	const char *s = strstr(url, "://");
	if (!s)
		return -1;
	int https = s - url == 5 && !strncmp(url, "https", 5);
	s += 3;
	size_t an = strcspn(s, "/?#");
	const char *at = memchr(s, '@', an);
	if (at) {
		an -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	if (an == 0 || an >= hn)
		return -1;
	memcpy(host, s, an);
	host[an] = '\0';
	char *colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']') &&
	    !strcmp(colon + 1, https ? "443" : "80")) /* curl leaves the default port out */
		*colon = '\0';
	s += an;
	*path = s;
	*pn = strcspn(s, "?#");
	*query = s[*pn] == '?' ? s + *pn + 1 : "";
	return 0;
}

/* The canonical request of AWS's step 1 into cr; the signed header list into sh. */
static int canonical(const char *method, const char *path, size_t pn, const char *query,
		     struct chdr *h, int nh, const void *body, size_t n, struct buf *cr,
		     struct buf *sh)
{
	char qcopy[4096], payload[65];
	size_t qn = strcspn(query, "#");
	if (qn >= sizeof qcopy)
		return -1;
	memcpy(qcopy, query, qn);
	qcopy[qn] = '\0';
	qsort(h, (size_t)nh, sizeof *h, chdr_cmp);
	sha256_hex(body ? body : "", body ? n : 0, payload);
	if (buf_addf(cr, "%s\n", method) < 0 || add_path(cr, path, pn) < 0 ||
	    buf_adds(cr, "\n") < 0 || add_query(cr, qcopy) < 0 || buf_adds(cr, "\n") < 0)
		return -1;
	for (int i = 0; i < nh; i++)
		if (buf_addf(cr, "%s:%s\n", h[i].name, h[i].value) < 0 ||
		    buf_addf(sh, "%s%s", i ? ";" : "", h[i].name) < 0)
			return -1;
	return buf_addf(cr, "\n%s\n%s", sh->p, payload);
}

/* The signature of string to sign sts with the key derived for date/region/service. */
static void signature(const struct sigv4_key *k, const char *date8, const char *sts, char sig[65])
{
	unsigned char kd[32], kr[32], ks[32], kk[32], out[32];
	size_t sn = strlen(k->secret_key);
	char *first = malloc(sn + 5);
	if (!first) {
		sig[0] = '\0';
		return;
	}
	memcpy(first, "AWS4", 4);
	memcpy(first + 4, k->secret_key, sn + 1);
	hmac(first, sn + 4, date8, strlen(date8), kd);
	memset(first, 0, sn + 4);
	free(first);
	hmac(kd, 32, k->region, strlen(k->region), kr);
	hmac(kr, 32, k->service, strlen(k->service), ks);
	hmac(ks, 32, "aws4_request", 12, kk);
	hmac(kk, 32, sts, strlen(sts), out);
	hex(out, 32, sig);
	memset(kd, 0, sizeof kd);
	memset(kr, 0, sizeof kr);
	memset(ks, 0, sizeof ks);
	memset(kk, 0, sizeof kk);
}

int sigv4_sign(const struct sigv4_key *k, const char *method, const char *url,
	       const char *const *headers, const void *body, size_t n, time_t when,
	       struct sigv4_signed *out)
{
	memset(out, 0, sizeof *out);
	const char *path, *query;
	size_t pn;
	int nh = 0, nc = 0, rc = -1;
	char amz[20], date8[9], sig[65];
	struct tm tm;
	struct buf cr = {0}, sh = {0}, sts = {0};
	struct chdr *h = calloc(MAX_HDRS + 3, sizeof *h);
	if (!h || split_url(url, out->host, sizeof out->host - 6, &path, &pn, &query) < 0)
		goto out;
	gmtime_r(&when, &tm);
	strftime(amz, sizeof amz, "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date8, amz, 8);
	date8[8] = '\0';
	for (const char *const *p = headers; p && *p; p++, nc++) {
		const char *colon = strchr(*p, ':');
		if (nc >= MAX_HDRS || !colon ||
		    chdr_set(&h[nh++], *p, (size_t)(colon - *p), colon + 1))
			goto out;
		out->hdrs[nc] = *p;
	}
	chdr_set(&h[nh++], "host", 4, out->host);
	chdr_set(&h[nh++], "x-amz-date", 10, amz);
	if (k->session_token && *k->session_token) {
		struct buf t = {0};
		if (buf_addf(&t, "X-Amz-Security-Token: %s", k->session_token) < 0 ||
		    chdr_set(&h[nh++], "x-amz-security-token", 20, k->session_token) < 0) {
			buf_free(&t);
			goto out;
		}
		out->token = buf_take(&t);
	}
	if (canonical(method, path, pn, query, h, nh, body, n, &cr, &sh) < 0)
		goto out;
	char crh[65];
	sha256_hex(cr.p, cr.len, crh);
	if (buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz, date8, k->region,
		     k->service, crh) < 0)
		goto out;
	signature(k, date8, sts.p, sig);
	int an = snprintf(out->authz, sizeof out->authz,
			  "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
			  "SignedHeaders=%s, Signature=%s",
			  k->access_key, date8, k->region, k->service, sh.p, sig);
	if (!sig[0] || an < 0 || (size_t)an >= sizeof out->authz)
		goto out;
	memmove(out->host + 6, out->host, strlen(out->host) + 1);
	memcpy(out->host, "Host: ", 6);
	snprintf(out->date, sizeof out->date, "X-Amz-Date: %s", amz);
	out->hdrs[nc++] = out->host;
	out->hdrs[nc++] = out->date;
	if (out->token)
		out->hdrs[nc++] = out->token;
	out->hdrs[nc++] = out->authz;
	out->hdrs[nc] = NULL;
	out->canonical = buf_take(&cr);
	out->string_to_sign = buf_take(&sts);
	rc = 0;
out:
	if (h)
		memset(h, 0, (MAX_HDRS + 3) * sizeof *h); /* the session token */
	free(h);
	buf_free(&cr);
	buf_free(&sh);
	buf_free(&sts);
	if (rc < 0)
		sigv4_free(out);
	return rc;
}

void sigv4_free(struct sigv4_signed *s)
{
	if (s->token) {
		memset(s->token, 0, strlen(s->token));
		free(s->token);
	}
	free(s->canonical);
	free(s->string_to_sign);
	memset(s, 0, sizeof *s);
}
