/*
 * t/fuzz/arm.c: libFuzzer target for the aci backend's readers of ARM's answers: a
 * container group (aci.c's parse_group), a list page (add_listed), the error shape
 * (arm.c: code, message, exit code, explain) and a logs answer. The input's first byte
 * picks the HTTP status; the rest is the body. Leaves out requests (t/aci.bats).
 */
#include "aci.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const long statuses[] = {200, 201, 400, 401, 403, 404, 409, 422, 429, 500, 503, 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct http_resp r = {.status = statuses[data[0] % (sizeof statuses / sizeof *statuses)]};
	data++, size--;
	char *body = malloc(size + 1);
	if (!body)
		abort();
	memcpy(body, data, size);
	body[size] = '\0';
	r.body.p = body;
	r.body.len = size;
	r.body.cap = size + 1;
	snprintf(r.err, sizeof r.err, "GET https://arm.example/x: HTTP %ld", r.status);

	char code[96], why[1024];
	arm_code(&r, code, sizeof code);
	arm_why(&r, why, sizeof why);
	for (const char *c = why; *c; c++)
		if ((unsigned char)*c < 0x20)
			abort(); /* one line for people, whatever ARM sent */
	int ex = arm_exit(&r);
	if (ex != EXIT_TEMPFAIL && ex != EXIT_NOPERM && ex != EXIT_CONFIG && ex != EXIT_UNAVAIL &&
	    ex != EXIT_DATAERR)
		abort();
	http_explain_error(&r);
	if (strlen(r.err) >= sizeof r.err || strpbrk(r.err, "\r\n"))
		abort();

	struct json j = {0};
	if (json_parse(&j, body, size, NULL) == 0) {
		struct group g = {.exit_code = -1};
		parse_group(&j, 0, &g);
		if (g.state < GS_UNKNOWN || g.state > GS_STOPPED)
			abort();
		group_free(&g);
		char **names = NULL, **ids = NULL;
		int n = 0, cap = 0;
		add_listed(&j, NULL, &names, &ids, &n, &cap);
		add_listed(&j, "legion-0123abcd", &names, &ids, &n, &cap);
		if (n > cap)
			abort();
		for (int k = 0; k < n; k++) {
			if (!names[k])
				abort();
			free(names[k]);
			free(ids[k]);
		}
		free(names);
		free(ids);
		free(json_str(&j, json_get(&j, 0, "content"))); /* a logs answer */
		free(json_str(&j, json_get(&j, 0, "nextLink")));
	}
	json_free(&j);
	http_resp_free(&r);
	return 0;
}
