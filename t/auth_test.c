/*
 * t/auth_test.c: auth.c's token cache against a token endpoint (t/fake-azure, driven
 * by t/auth.bats, which serves 2-second tokens): a token is reused while it is fresh
 * and replaced by a new one once its refresh point has passed. Leaves out the
 * credential sources and error codes (t/auth.bats runs `legion auth` for those).
 * Needs AZURE_AUTHORITY_HOST, SSL_CERT_FILE and AZURE_CLIENT_ID/SECRET/TENANT_ID.
 * Output: "ok N - what" / "not ok N - what", then "N passed, M failed"; exit 1 on any
 * failure.
 */
#include "legion.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "t/check.h"

int main(void)
{
	struct auth a;
	int ex = -1;
	char *first = NULL;
	progname = "auth_test";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!check(http_init() == 0, "http_init"))
		goto out;
	int rc = auth_init(&a, NULL, &ex);
	if (!check(rc == 0 && ex == 0 && a.kind == AUTH_SECRET,
		   "auth_init picks the client secret from the environment (exit code %d)", ex))
		goto out_http;

	long long t0 = now_ms();
	const char *tok = auth_token(&a, &ex);
	if (!check(tok && *tok && ex == 0, "the first auth_token gets a token (exit code %d)", ex))
		goto out_auth;
	first = strdup(tok);
	long long refresh_in = a.expires_ms - t0;
	check(refresh_in > 0 && refresh_in <= 2000,
	      "a 2-second token is due for refresh within 2 s, not later (%lld ms)", refresh_in);

	tok = auth_token(&a, &ex);
	check(tok && now_ms() < a.expires_ms && !strcmp(tok, first),
	      "asked again before the refresh point, auth_token returns the cached token");

	/* the behaviour under test is time itself: go past the refresh point */
	sleep_ms(a.expires_ms - now_ms() + 50, NULL);
	tok = auth_token(&a, &ex);
	check(tok && ex == 0, "past the refresh point auth_token gets a token (exit code %d)", ex);
	check(tok && strcmp(tok, first) != 0, "and it is a new token, not the expired one");
	check(a.expires_ms > now_ms(), "and its refresh point is in the future again");

out_auth:
	auth_free(&a);
out_http:
	http_cleanup();
out:
	free(first);
	printf("1..%d\n%d passed, %d failed\n", passed + failed, passed, failed);
	return failed ? 1 : 0;
}
