/*
 * t/fuzz/auth.c: libFuzzer target for auth.c's readers of Entra ID's and IMDS's
 * answers: the token response (access_token, expires_in, numbers as strings too) and
 * the error shape an explain adds to a message. The input is a response body. Leaves
 * out requests (t/auth.bats talks to the emulator).
 */
#include "legion.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tok = NULL;
	long long life = 0;
	char *body = malloc(size + 1); /* http.c's bodies are NUL-terminated */
	if (!body)
		abort();
	memcpy(body, data, size);
	body[size] = '\0';
	if (auth_parse_token(body, size, &tok, &life) == 0 && (!tok || life <= 0))
		abort();
	free(tok);
	struct http_resp r = {.status = 401};
	snprintf(r.err, sizeof r.err, "POST https://login.example/t/oauth2/v2.0/token: HTTP 401");
	r.body.p = body;
	r.body.len = size;
	r.body.cap = size + 1;
	entra_explain(&r);
	if (strlen(r.err) >= sizeof r.err || strpbrk(r.err, "\r\n"))
		abort(); /* one line, always terminated */
	http_resp_free(&r);
	return 0;
}
