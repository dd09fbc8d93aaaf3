/*
 * t/fuzz/httpd.c: libFuzzer target for the job daemon's request head and body parsing
 * (helpers/httpd.c): the input is a request as a client sends it, fed in pieces (its
 * first byte sets their size) as the daemon's front reads them, then the head parsed,
 * the length checked and a body that came with the head read and taken as JSON. Replies
 * are only recorded (no connection). Leaves out the router (t/fuzz/api.c).
 */
#include "helpers/helpers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct jobd_config jobd_cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] % 64 + 1;
	data++, size--;
	struct req *r = calloc(1, sizeof *r);
	if (!r)
		return 0;
	r->fd = -1;
	int rc = 0;
	while (rc == 0 && r->hlen < size && r->hlen < HDR_MAX) {
		size_t old = r->hlen, k = size - old < step ? size - old : step;
		if (k > HDR_MAX - old)
			k = HDR_MAX - old;
		memcpy(r->head + old, data + old, k);
		r->hlen += k;
		rc = httpd_head_step(r, old);
	}
	if (rc == 1) {
		if (r->hend > r->hlen || strlen(r->method) >= sizeof r->method ||
		    strlen(r->path) >= sizeof r->path || strlen(r->query) >= sizeof r->query)
			abort();
		httpd_query_flag(r->query, "follow");
		int len = httpd_check_length(r, BODY_MAX);
		if (len == 0 && r->clen >= 0 && (size_t)r->clen <= r->hlen - r->hend &&
		    httpd_read_body(r, BODY_MAX) == 0) {
			struct json j = {0};
			char *name = NULL;
			httpd_json_depth(r->body.p ? r->body.p : "", r->body.len);
			if (httpd_json(r, &j) == 0 &&
			    httpd_json_str(r, &j, 0, "name", 127, 1, &name) == 0 &&
			    (!name || strlen(name) > 127))
				abort();
			free(name);
			json_free(&j);
		}
	}
	buf_free(&r->body);
	free(r);
	return 0;
}
