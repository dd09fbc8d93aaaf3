/*
 * t/fuzz/json.c: libFuzzer target for json.c's reader and writer. Each input is parsed
 * whole and fed in two pieces (the results must agree), every token is read through
 * every accessor, and the input as a string goes through the writer and back (it must
 * come back byte for byte). Leaves out the documents' meanings (the other targets).
 */
#include "legion.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Reads token i through every accessor (results unused: sanitizers watch). */
static void touch(const struct json *j, int i)
{
	long long v;
	double d;
	char small[16];
	free(json_str(j, i));
	json_strcpy(j, i, small, sizeof small);
	json_int(j, i, &v);
	json_num(j, i, &d);
	json_bool(j, i);
	json_eq(j, i, "name");
	json_skip(j, i);
	json_at(j, i, 0);
	json_at(j, i, 3);
	json_get(j, i, "error");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct json j = {0}, k = {0};
	char err[128];
	int rc = json_parse(&j, s, size, err);
	if (rc == 0) {
		for (int i = 0; i < j.n; i++)
			touch(&j, i);
		json_path(&j, 0, "properties.containers.0.properties.instanceView.currentState");
		json_path(&j, 0, "error.code");
		json_path(&j, 0, "0.1.2");
	}
	/* the same bytes in two pieces, as they arrive from a socket */
	size_t cut = size ? data[0] % (size + 1) : 0;
	int rk = json_parse(&k, s, cut, NULL);
	if (rk == -1 && rc != -1)
		abort(); /* malformed stays malformed whatever follows */
	if (rk == JSON_MORE && json_parse(&k, s, size, NULL) != rc)
		abort(); /* a document must not depend on how its bytes arrived */
	if (rk == JSON_MORE && rc == 0 && j.n != k.n)
		abort();
	json_free(&j);
	json_free(&k);

	/* the writer: the input as a string value and a key, read back */
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_strn(&w, "k", s, size);
	jw_int(&w, "n", (long long)size);
	jw_end(&w);
	size_t n;
	char *doc = jw_finish(&w, &n);
	if (doc && !memchr(s, '\0', size)) {
		struct json r = {0};
		if (json_parse(&r, doc, n, err) != 0)
			abort(); /* what the writer writes must parse */
		struct buf b = {0};
		int v = json_get(&r, 0, "k");
		if (v < 0 ||
		    json_unescape(r.s + r.t[v].start, (size_t)(r.t[v].end - r.t[v].start), &b) <
			    0 ||
		    b.len != size || (size && memcmp(b.p, s, size)))
			abort(); /* a string comes back as it went in */
		json_free(&r);
		buf_free(&b);
	}
	free(doc);
	return 0;
}
