/*
 * jwt.c: JSON Web Tokens as credentials need them: base64url, reading a token's claims
 * (who a token is for; never checking it: Entra ID and ARM do that). Leaves out
 * signing (cert.c) and every request (auth.c).
 */
#include "legion.h"

#include <stdlib.h>
#include <string.h>

int b64url_encode(const void *data, size_t n, struct buf *out)
{
	size_t start = out->len;
	if (base64_encode(data, n, out) < 0)
		return -1;
	size_t k = start;
	for (size_t i = start; i < out->len; i++) {
		char c = out->p[i];
		if (c == '=')
			continue;
		out->p[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out->len = k;
	out->p[k] = '\0';
	return 0;
}

int jwt_claims(const char *jwt, struct buf *json)
{
	const char *p = jwt ? strchr(jwt, '.') : NULL;
	const char *e = p ? strchr(p + 1, '.') : NULL;
	if (!e || e - p - 1 > 64 * 1024)
		return -1;
	struct base64_stream d = {.lenient = 1};
	unsigned char *tmp = malloc((size_t)(e - p) / 4 * 3 + 4);
	size_t m = 0;
	int rc = tmp && base64_stream_decode(&d, p + 1, (size_t)(e - p - 1), tmp, &m) == 0 &&
				 base64_stream_end(&d) == 0 && buf_add(json, tmp, m) == 0
			 ? 0
			 : -1;
	free(tmp);
	return rc;
}

char *jwt_claim(const char *jwt, const char *const *names)
{
	struct buf b = {0};
	struct json j = {0};
	char *v = NULL;
	if (jwt_claims(jwt, &b) == 0 && json_parse(&j, b.p, b.len, NULL) == 0 &&
	    j.t[0].type == JSMN_OBJECT)
		for (int i = 0; names[i] && !v; i++)
			v = json_str(&j, json_get(&j, 0, names[i]));
	json_free(&j);
	buf_free(&b);
	return v;
}
