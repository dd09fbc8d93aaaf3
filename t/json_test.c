/*
 * t/json_test.c: the JSON reader and writer (json.c) and util.c's buffers, base64 and
 * number/size/duration parsers, exercised the way legion uses them: server documents
 * fed whole or as bytes arrive, malformed and hostile input, and the writer's escaping.
 * Leaves out anything with a network (http.c, auth.c: t/auth_test.c).
 * Output: "ok N - what" / "not ok N - what" lines, then "N passed, M failed"; the exit
 * status is 1 when anything failed.
 */
#include "legion.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t/check.h"

/* A small deterministic PRNG (xorshift64*), so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Parses a whole NUL-terminated document into a fresh j. */
static int parse(struct json *j, const char *s, char *err)
{
	memset(j, 0, sizeof *j);
	err[0] = '\0';
	return json_parse(j, s, strlen(s), err);
}

/* json_parse's result for s, with the message checked when it is -1. */
static int parse_rc(const char *s, size_t n)
{
	struct json j = {0};
	char err[128] = "";
	int rc = json_parse(&j, s, n, err);
	if (rc < 0 && !err[0])
		rc = -2; /* -1 must come with a message */
	json_free(&j);
	return rc;
}

/* The decoded string at path, owned ("(absent)" never matches a real value). */
static char *str_at(const struct json *j, const char *path)
{
	return json_str(j, json_path(j, 0, path));
}

static int str_is(const struct json *j, const char *path, const char *want)
{
	char *s = str_at(j, path);
	int ok = s && !strcmp(s, want);
	free(s);
	return ok;
}

static int same_tokens(const struct json *a, const struct json *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++) {
		const jsmntok_t *x = &a->t[i], *y = &b->t[i];
		if (x->type != y->type || x->start != y->start || x->end != y->end ||
		    x->size != y->size || x->parent != y->parent)
			return 0;
	}
	return 1;
}

static const char doc[] =
	"{\"name\":\"w1\",\"n\":-12,\"f\":0.5,\"e\":-1.5e3,\"E\":2E+2,\"z\":0,"
	"\"t\":true,\"fa\":false,\"nu\":null,\"arr\":[1,[2,3],{\"k\":\"v\"}],"
	"\"obj\":{\"deep\":{\"x\":[10,20,30]}},"
	"\"imds\":{\"expires_in\":\"3599\",\"neg\":\"-5\",\"junk\":\"12abc\",\"empty\":\"\","
	"\"word\":\"true\",\"frac\":\"1.5\"},"
	"\"esc\":[\"a\\nb\",\"q\\\"q\",\"s\\/s\",\"b\\\\s\",\"\\u00e9\",\"\\u20AC\","
	"\"\\ud83d\\ude00\",\"\\uD83D\\uDE00\",\"\\b\\f\\r\\t\",\"h\xc3\xa9llo\"],"
	"\"k\\\"ey\":1,\"big\":9223372036854775807,\"bigger\":9223372036854775808,"
	"\"huge\":1e400,\"empty_obj\":{},\"empty_arr\":[]}\n";

static void test_read(void)
{
	struct json j;
	char err[128];
	long long v;
	double d;
	int rc = parse(&j, doc, err);
	CHECK(rc == 0, "a nested document parses (%s)", err);
	if (rc != 0)
		return;
	CHECK(j.t[0].type == JSMN_OBJECT && j.t[0].size == 19, "the top object has 19 members");
	CHECK(json_skip(&j, 0) == j.n, "json_skip of the root is past every token");
	CHECK(str_is(&j, "name", "w1"), "json_get + json_str read a string");
	CHECK(json_eq(&j, json_get(&j, 0, "name"), "w1") &&
		      !json_eq(&j, json_get(&j, 0, "name"), "w"),
	      "json_eq compares the whole string");
	CHECK(json_get(&j, 0, "nope") == -1, "json_get of a missing key is -1");
	CHECK(json_get(&j, json_get(&j, 0, "arr"), "k") == -1, "json_get on an array is -1");
	CHECK(json_get(&j, -1, "name") == -1, "json_get on -1 is -1");
	CHECK(json_int(&j, json_get(&j, 0, "n"), &v) == 0 && v == -12, "a negative integer");
	CHECK(json_int(&j, json_get(&j, 0, "z"), &v) == 0 && v == 0, "zero");
	CHECK(json_num(&j, json_get(&j, 0, "f"), &d) == 0 && d == 0.5, "a fraction");
	CHECK(json_num(&j, json_get(&j, 0, "e"), &d) == 0 && d == -1500,
	      "a negative exponent form");
	CHECK(json_num(&j, json_get(&j, 0, "E"), &d) == 0 && d == 200, "an upper-case E with +");
	CHECK(json_int(&j, json_get(&j, 0, "f"), &v) == -1, "json_int refuses a fraction");
	CHECK(json_int(&j, json_get(&j, 0, "e"), &v) == -1, "json_int refuses an exponent");
	CHECK(json_int(&j, json_get(&j, 0, "big"), &v) == 0 && v == INT64_MAX, "INT64_MAX reads");
	CHECK(json_int(&j, json_get(&j, 0, "bigger"), &v) == -1, "INT64_MAX+1 is refused");
	CHECK(json_num(&j, json_get(&j, 0, "huge"), &d) == -1, "1e400 is refused (not finite)");
	CHECK(json_int(&j, json_get(&j, 0, "name"), &v) == -1, "json_int of a word is -1");
	CHECK(json_int(&j, json_get(&j, 0, "arr"), &v) == -1, "json_int of an array is -1");
	CHECK(json_int(&j, -1, &v) == -1, "json_int of an absent value is -1");
	CHECK(json_bool(&j, json_get(&j, 0, "t")) == 1, "true");
	CHECK(json_bool(&j, json_get(&j, 0, "fa")) == 0, "false");
	CHECK(json_bool(&j, json_get(&j, 0, "nu")) == -1, "null is not a bool");
	CHECK(json_bool(&j, json_get(&j, 0, "n")) == -1, "a number is not a bool");
	CHECK(json_bool(&j, json_path(&j, 0, "imds.word")) == -1,
	      "the string \"true\" is not a bool");
	CHECK(json_str(&j, json_get(&j, 0, "n")) == NULL, "json_str of a number is NULL");
	CHECK(json_str(&j, -1) == NULL, "json_str of an absent value is NULL");

	/* IMDS sends numbers as strings */
	CHECK(json_int(&j, json_path(&j, 0, "imds.expires_in"), &v) == 0 && v == 3599,
	      "json_int reads \"3599\" (IMDS)");
	CHECK(json_int(&j, json_path(&j, 0, "imds.neg"), &v) == 0 && v == -5,
	      "json_int reads \"-5\"");
	CHECK(json_int(&j, json_path(&j, 0, "imds.junk"), &v) == -1, "json_int refuses \"12abc\"");
	CHECK(json_int(&j, json_path(&j, 0, "imds.empty"), &v) == -1, "json_int refuses \"\"");
	CHECK(json_int(&j, json_path(&j, 0, "imds.word"), &v) == -1, "json_int refuses \"true\"");
	CHECK(json_num(&j, json_path(&j, 0, "imds.frac"), &d) == 0 && d == 1.5,
	      "json_num reads \"1.5\"");

	/* paths, arrays, skipping */
	CHECK(json_int(&j, json_path(&j, 0, "obj.deep.x.2"), &v) == 0 && v == 30,
	      "json_path obj.deep.x.2");
	CHECK(json_int(&j, json_path(&j, 0, "arr.1.0"), &v) == 0 && v == 2, "json_path arr.1.0");
	CHECK(str_is(&j, "arr.2.k", "v"), "json_path arr.2.k");
	CHECK(json_path(&j, 0, "arr.3") == -1, "json_path past the end of an array is -1");
	CHECK(json_path(&j, 0, "arr.-1") == -1, "json_path with a negative index is -1");
	CHECK(json_path(&j, 0, "arr.x") == -1, "json_path with a key into an array is -1");
	CHECK(json_path(&j, 0, "obj.nope.x") == -1, "json_path through a missing key is -1");
	CHECK(json_path(&j, 0, "name.0") == -1, "json_path into a string is -1");
	CHECK(json_path(&j, 0, "") == 0, "json_path \"\" is the token itself");
	CHECK(json_path(&j, -1, "name") == -1, "json_path from -1 is -1");
	int arr = json_get(&j, 0, "arr");
	CHECK(json_at(&j, arr, 0) == arr + 1, "json_at 0 is the first element");
	CHECK(json_at(&j, arr, 2) >= 0 && j.t[json_at(&j, arr, 2)].type == JSMN_OBJECT,
	      "json_at 2 skips the nested array");
	CHECK(json_at(&j, arr, 3) == -1 && json_at(&j, arr, -1) == -1,
	      "json_at out of range is -1");
	CHECK(json_at(&j, 0, 0) == -1, "json_at on an object is -1");
	CHECK(json_skip(&j, arr) == json_get(&j, 0, "obj") - 1, "json_skip passes a whole array");
	CHECK(json_skip(&j, j.n + 5) == j.n, "json_skip past the end is n");
	int eo = json_get(&j, 0, "empty_obj"), ea = json_get(&j, 0, "empty_arr");
	CHECK(eo > 0 && j.t[eo].size == 0 && json_skip(&j, eo) == eo + 1, "an empty object");
	CHECK(ea > 0 && j.t[ea].size == 0 && json_at(&j, ea, 0) == -1, "an empty array");
	CHECK(json_get(&j, 0, "k\"ey") > 0, "json_get finds a key written with an escape");

	/* string escapes */
	static const char *const want[] = {
		"a\nb",
		"q\"q",
		"s/s",
		"b\\s",
		"\xc3\xa9",
		"\xe2\x82\xac",
		"\xf0\x9f\x98\x80",
		"\xf0\x9f\x98\x80",
		"\b\f\r\t",
		"h\xc3\xa9llo",
	};
	static const char *const what[] = {
		"\\n",
		"\\\"",
		"\\/",
		"\\\\",
		"\\u00e9 to 2-byte UTF-8",
		"\\u20AC to 3-byte UTF-8",
		"a surrogate pair to 4-byte UTF-8",
		"an upper-case surrogate pair",
		"\\b \\f \\r \\t",
		"raw UTF-8 passes through",
	};
	for (int i = 0; i < 10; i++) {
		char path[16];
		snprintf(path, sizeof path, "esc.%d", i);
		CHECK(str_is(&j, path, want[i]), "decodes %s", what[i]);
	}
	char small[4];
	CHECK(json_strcpy(&j, json_get(&j, 0, "name"), small, 3) == 0 && !strcmp(small, "w1"),
	      "json_strcpy into a buffer that fits");
	CHECK(json_strcpy(&j, json_get(&j, 0, "name"), small, 2) == -1,
	      "json_strcpy refuses to truncate");
	json_free(&j);
	CHECK(j.t == NULL && j.n == 0, "json_free leaves the struct empty");

	/* escapes a parser must refuse, and ones only decoding can refuse */
	CHECK(parse_rc("[\"\\x\"]", 6) == -1, "an unknown escape \\x is malformed");
	CHECK(parse_rc("[\"\\'\"]", 6) == -1, "\\' is malformed");
	CHECK(parse_rc("[\"\\u12G4\"]", 10) == -1, "a non-hex \\u escape is malformed");
	CHECK(parse_rc("[\"\\u12\"]", 8) == -1, "a short \\u escape is malformed");
	static const char *const bad_str[] = {
		"[\"\\ud800\"]",        "[\"\\udc00\"]", "[\"\\ud800x\"]",  "[\"\\ud800\\u0041\"]",
		"[\"\\ud800\\ud800\"]", "[\"\\u0000\"]", "[\"a\\u0000b\"]",
	};
	static const char *const bad_what[] = {
		"a lone high surrogate",        "a lone low surrogate",
		"a high surrogate before text", "a high surrogate before a non-surrogate",
		"two high surrogates",          "\\u0000",
		"\\u0000 inside text",
	};
	for (int i = 0; i < 7; i++) {
		int ok = parse(&j, bad_str[i], err) == 0;
		char *s = ok ? json_str(&j, 1) : NULL;
		char tmp[16];
		ok = ok && !s && json_strcpy(&j, 1, tmp, sizeof tmp) == -1 && !json_eq(&j, 1, "");
		CHECK(ok, "json_str refuses %s", bad_what[i]);
		free(s);
		json_free(&j);
	}
	struct buf b = {0};
	CHECK(json_unescape("abc\\", 4, &b) == -1, "json_unescape refuses a trailing backslash");
	buf_free(&b);
	CHECK(json_unescape("\\u00", 4, &b) == -1, "json_unescape refuses a cut \\u escape");
	buf_free(&b);
	CHECK(json_unescape("", 0, &b) == 0 && b.p && b.len == 0,
	      "json_unescape of nothing is \"\"");
	buf_free(&b);
}

/* Feeds a document the way a reader does: a longer prefix each call, in a buffer that
 * moves (as a growing buf's does). Returns 1 when every prefix but the whole was
 * JSON_MORE and the whole gave the tokens of one parse. */
static int feed(const char *s, size_t n, size_t (*next)(size_t at, size_t n), int *calls)
{
	struct json whole = {0}, inc = {0};
	char err[128];
	int ok = json_parse(&whole, s, n, err) == 0;
	size_t end = ok ? (size_t)whole.t[0].end : 0;
	*calls = 0;
	for (size_t at = 0; ok && at < n;) {
		at = next(at, n);
		char *copy = malloc(at + 1);
		if (!copy)
			return 0;
		memcpy(copy, s, at);
		int rc = json_parse(&inc, copy, at, err);
		++*calls;
		if (rc != (at < end ? JSON_MORE : 0))
			ok = 0;
		else if (rc == 0)
			ok = same_tokens(&whole, &inc) &&
			     json_get(&inc, 0, "esc") == json_get(&whole, 0, "esc");
		free(copy);
	}
	json_free(&whole);
	json_free(&inc);
	return ok;
}
static size_t one_byte(size_t at, size_t n)
{
	return at + 1 <= n ? at + 1 : n;
}
static size_t random_chunk(size_t at, size_t n)
{
	size_t k = at + 1 + rnd() % 16;
	return k < n ? k : n;
}
static size_t random_big_chunk(size_t at, size_t n)
{
	size_t k = at + 1 + rnd() % 4096;
	return k < n ? k : n;
}

static void test_incremental(void)
{
	int calls;
	size_t n = strlen(doc);
	CHECK(feed(doc, n, one_byte, &calls) && calls == (int)n,
	      "fed one byte at a time: JSON_MORE until complete, then the same tokens");
	int ok = 1;
	for (int trial = 0; trial < 200 && ok; trial++)
		ok = feed(doc, n, random_chunk, &calls);
	CHECK(ok, "fed in random chunks of 1-16 bytes (200 trials): same tokens");

	/* a bigger document: 2000 array elements of mixed kinds */
	struct buf big = {0};
	buf_adds(&big, "[");
	for (int i = 0; i < 2000; i++)
		buf_addf(&big,
			 "%s{\"i\":%d,\"s\":\"x\\u00e9\\n%d\",\"f\":%d.25e-1,\"b\":[true,null]}",
			 i ? "," : "", i, i, -i);
	buf_adds(&big, "]");
	ok = 1;
	for (int trial = 0; trial < 20 && ok; trial++)
		ok = feed(big.p, big.len, random_big_chunk, &calls);
	CHECK(ok, "a 2000-element document fed in random chunks up to 4 KiB: same tokens");
	buf_free(&big);

	/* after JSON_MORE the same struct keeps going, with a token array that grows */
	struct json j = {0};
	char err[128];
	const char *part = "{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23";
	const char *full = "{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,"
			   "24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,"
			   "46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,"
			   "68,69,70]}";
	CHECK(json_parse(&j, part, strlen(part), err) == JSON_MORE, "a cut number is JSON_MORE");
	CHECK(json_parse(&j, full, strlen(full), err) == 0 && j.n == 73,
	      "the rest completes it, growing the tokens (%d)", j.n);
	json_free(&j);
}

static void test_malformed(void)
{
	static const struct {
		const char *s, *what;
		int rc;
	} cases[] = {
		{"", "nothing yet", JSON_MORE},
		{" \n\t", "white space only", JSON_MORE},
		{"{\"a\":[1,2", "a truncated array", JSON_MORE},
		{"{\"a\":\"xy", "a truncated string", JSON_MORE},
		{"{\"a\":\"x\\", "a string cut after a backslash", JSON_MORE},
		{"{\"a\":tr", "a truncated literal", JSON_MORE},
		{"{\"a\":-", "a truncated number", JSON_MORE},
		{"[1]]", "an extra closing bracket", -1},
		{"{\"a\":1]", "a mismatched closing bracket", -1},
		{"]", "a closing bracket first", -1},
		{"}", "a closing brace first", -1},
		{"[}", "an array closed by a brace", -1},
		{"{\"a\" \"b\"}", "{\"a\" \"b\"} (no colon)", -1},
		{"{\"a\":1 \"b\":2}", "members without a comma", -1},
		{"{\"a\"}", "a key without a value", -1},
		{"{\"a\":1,\"b\"}", "a last key without a value", -1},
		{"{1:2}", "a number as a key", -1},
		{"{[1]:2}", "an array as a key", -1},
		{"[1,]", "a trailing comma in an array", -1},
		{"{\"a\":1,}", "a trailing comma in an object", -1},
		{"[,1]", "a leading comma", -1},
		{"[1,,2]", "two commas", -1},
		{"[,]", "a lone comma", -1},
		{"{,}", "a lone comma in an object", -1},
		{"[1 2]", "array elements without a comma", -1},
		{"{\"a\"::1}", "two colons", -1},
		{"[\"a\":1]", "a colon in an array", -1},
		{"[1:2]", "a colon after a number", -1},
		{"[tru]", "the literal tru", -1},
		{"[True]", "the literal True", -1},
		{"[nul]", "the literal nul", -1},
		{"[nulll]", "the literal nulll", -1},
		{"[01]", "a leading zero", -1},
		{"[1.]", "a fraction without digits", -1},
		{"[.5]", "a fraction without an integer part", -1},
		{"[-]", "a lone minus", -1},
		{"[+1]", "a plus sign", -1},
		{"[1e]", "an exponent without digits", -1},
		{"[0x10]", "a hex number", -1},
		{"[NaN]", "NaN", -1},
		{"[Infinity]", "Infinity", -1},
		{"[\"a\tb\"]", "a raw tab in a string", -1},
		{"[\"a\nb\"]", "a raw newline in a string", -1},
		{"[\"a\x1f\"]", "a raw 0x1f in a string", -1},
		{"{} x", "trailing garbage", -1},
		{"[1][2]", "two documents", -1},
		{"\"s\"", "a string at the top", -1},
		{"true ", "a literal at the top", -1},
		{"[\"a\x7f\"]", "(valid) a raw DEL in a string", 0},
		{" [ 1 , { \"a\" : [ ] } ] \r\n", "(valid) white space everywhere", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = parse_rc(cases[i].s, strlen(cases[i].s));
		CHECK(rc == cases[i].rc, "%s: %s (got %d)", cases[i].what,
		      cases[i].rc == 0  ? "0"
		      : cases[i].rc < 0 ? "-1 with a message"
					: "JSON_MORE",
		      rc);
	}

	/* text jsmn skips before a document (found by t/fuzz/json.c) */
	CHECK(parse_rc(" , [1]", 6) == -1, "a ',' before the document is malformed");
	CHECK(parse_rc("::[\"a", 5) == -1,
	      "':' before an unfinished document is -1, not JSON_MORE");
	CHECK(parse_rc("\"a\", \"b", 8) == -1,
	      "strings then an unfinished one are -1, not JSON_MORE");

	/* NUL bytes: before, inside and after a document */
	CHECK(parse_rc("\0[1]", 4) == -1, "a leading NUL is malformed");
	CHECK(parse_rc("[1]\0", 4) == -1, "a NUL after the document is malformed");
	CHECK(parse_rc("[1,\0 2]", 7) == -1, "a NUL between values is malformed, not JSON_MORE");
	CHECK(parse_rc("[\"a\0b\"]", 7) == -1, "a NUL inside a string is malformed, not JSON_MORE");
	CHECK(parse_rc("[tr\0ue]", 7) == -1, "a NUL inside a literal is malformed, not JSON_MORE");

	/* depth: JSON_MAX_DEPTH levels parse, any deeper is refused before parsing (jsmn's
	 * parent walk costs the square of the depth: 100,000 levels took 25 s) */
	enum { DEEP = 10000, OK = JSON_MAX_DEPTH };
	char *s = malloc(2 * DEEP + 2);
	memset(s, '[', DEEP);
	memset(s + DEEP, ']', DEEP + 1);
	struct json j = {0};
	char err[128];
	int rc = json_parse(&j, s + DEEP - OK, 2 * OK, err);
	CHECK(rc == 0 && j.n == OK && json_skip(&j, 0) == OK && j.t[OK - 1].size == 0,
	      "%d nested arrays parse (%d tokens)", OK, j.n);
	int k = 0;
	for (int d = 1; d < OK && k >= 0; d++)
		k = json_at(&j, k, 0);
	CHECK(k == OK - 1, "json_at walks all %d levels", OK);
	json_free(&j);
	CHECK(parse_rc(s + DEEP - OK, OK) == JSON_MORE, "%d unclosed arrays are JSON_MORE", OK);
	CHECK(parse_rc(s + DEEP - OK - 1, 2 * OK + 2) == -1, "%d nested arrays are -1", OK + 1);
	long long t0 = now_ms();
	rc = json_parse(&j, s, 2 * DEEP, err);
	CHECK(rc == -1 && strstr(err, "nested too deep"),
	      "10,000 nested arrays are refused (%s, %lld ms)", err, now_ms() - t0);
	json_free(&j);
	CHECK(parse_rc(s, DEEP) == -1, "10,000 unclosed arrays are -1, not JSON_MORE");
	free(s);

	struct buf o = {0};
	for (int i = 0; i < DEEP; i++)
		buf_adds(&o, "{\"a\":");
	buf_adds(&o, "{}");
	for (int i = 0; i < DEEP; i++)
		buf_adds(&o, "}");
	t0 = now_ms();
	rc = json_parse(&j, o.p, o.len, err);
	long long ms = now_ms() - t0;
	CHECK(rc == -1 && ms < 1000, "10,000 nested objects are refused (%lld ms)", ms);
	json_free(&j);
	CHECK(parse_rc(o.p + 5 * (DEEP - 10), o.len - 6 * (DEEP - 10)) == 0 &&
		      !json_parse(&j, o.p + 5 * (DEEP - 10), o.len - 6 * (DEEP - 10), err) &&
		      json_path(&j, 0, "a.a.a.a.a") == 10,
	      "json_path walks nested objects");
	json_free(&j);
	buf_free(&o);

	/* a 10 MB string */
	enum { BIG = 10 << 20 };
	s = malloc(BIG + 5);
	s[0] = '[';
	s[1] = '"';
	memset(s + 2, 'x', BIG);
	memcpy(s + 2 + BIG, "\"]", 3);
	rc = json_parse(&j, s, BIG + 4, err);
	char *v = rc == 0 ? json_str(&j, 1) : NULL;
	CHECK(rc == 0 && v && strlen(v) == BIG, "a 10 MB string parses and decodes");
	free(v);
	json_free(&j);
	int more = 1;
	for (size_t at = 1 << 20; at < BIG + 4 && more; at += 1 << 20)
		more = json_parse(&j, s, at, err) == JSON_MORE;
	CHECK(more && json_parse(&j, s, BIG + 4, err) == 0 && j.n == 2,
	      "a 10 MB string fed in 1 MB chunks: JSON_MORE, then complete");
	json_free(&j);
	s[2 + BIG / 2] = '\n';
	CHECK(parse_rc(s, BIG + 4) == -1, "a raw newline in the middle of a 10 MB string is -1");
	free(s);
}

/* jw_finish's output, compared with want; frees it. */
static int doc_is(struct jw *w, const char *want, char *got, size_t gotn)
{
	size_t len = 0;
	char *out = jw_finish(w, &len);
	snprintf(got, gotn, "%s", out ? out : "(NULL)");
	int ok = out && want && !strcmp(out, want) && len == strlen(want);
	if (!want)
		ok = !out;
	free(out);
	return ok;
}

/* 1 when the C library itself reads back its %.17g of v (it does on real hardware;
 * under valgrind, whose x87 emulation has 64-bit long doubles, musl's strtod may not). */
static int libc_exact(double v)
{
	char t[40];
	snprintf(t, sizeof t, "%.17g", v);
	return strtod(t, NULL) == v;
}

static int num_is(double v, const char *want)
{
	struct jw w = {0};
	char got[64];
	jw_arr(&w, NULL);
	jw_num(&w, NULL, v);
	jw_end(&w);
	char full[64];
	snprintf(full, sizeof full, "[%s]", want);
	int ok = doc_is(&w, full, got, sizeof got);
	if (!ok)
		printf("# jw_num: want %s, got %s\n", full, got);
	return ok;
}

static void test_writer(void)
{
	struct jw w = {0};
	char got[512];
	jw_obj(&w, NULL);
	jw_str(&w, "s", "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	jw_int(&w, "min", INT64_MIN);
	jw_num(&w, "pi", 3.25);
	jw_bool(&w, "t", 1);
	jw_bool(&w, "f", 0);
	jw_null(&w, "n");
	jw_str(&w, "nul", NULL);
	jw_arr(&w, "a");
	jw_int(&w, NULL, 1);
	jw_obj(&w, NULL);
	jw_end(&w);
	jw_arr(&w, NULL);
	jw_end(&w);
	jw_end(&w);
	jw_raw(&w, "raw", "{\"x\":1}", 7);
	jw_strn(&w, "cut", "abc", 2);
	jw_int(&w, "k\"e\\y\n", 2);
	jw_end(&w);
	const char *want =
		"{\"s\":\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f "
		"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
		"\"min\":-9223372036854775808,\"pi\":3.25,\"t\":true,\"f\":false,"
		"\"n\":null,\"nul\":null,\"a\":[1,{},[]],\"raw\":{\"x\":1},\"cut\":\"ab\","
		"\"k\\\"e\\\\y\\n\":2}";
	CHECK(doc_is(&w, want, got, sizeof got),
	      "the writer escapes quotes, backslashes, control characters and 0x7f, passes UTF-8 "
	      "through, and nests");
	if (strcmp(got, want))
		printf("# got:  %s\n# want: %s\n", got, want);

	/* every byte from 1 to 255 survives writing and reading back */
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	jw_arr(&w, NULL);
	jw_str(&w, NULL, all);
	jw_end(&w);
	char *out = jw_finish(&w, NULL);
	struct json j = {0};
	char err[128];
	char *back = out && json_parse(&j, out, strlen(out), err) == 0 ? json_str(&j, 1) : NULL;
	CHECK(back && !strcmp(back, all), "bytes 1-255 round-trip through jw_str and json_str");
	free(back);
	free(out);
	json_free(&j);

	/* numbers: shortest text that reads back the same */
	CHECK(num_is(0, "0"), "jw_num 0");
	CHECK(num_is(1, "1"), "jw_num 1");
	CHECK(num_is(10, "10"), "jw_num 10 (not 1e+01)");
	CHECK(num_is(100, "100"), "jw_num 100 (not 1e+02)");
	CHECK(num_is(16384, "16384"), "jw_num 16384");
	CHECK(num_is(-2.5, "-2.5"), "jw_num -2.5");
	CHECK(num_is(0.1, "0.1"), "jw_num 0.1");
	CHECK(num_is(1.5, "1.5"), "jw_num 1.5");
	CHECK(num_is(123456789012.0, "123456789012"), "jw_num 123456789012");
	CHECK(num_is(1e21, "1e+21"), "jw_num 1e21");
	CHECK(num_is(NAN, "null") && num_is(INFINITY, "null"), "jw_num NaN and Infinity are null");
	double hard[] = {1.0 / 3, 2.0 / 3, 0.1 + 0.2, DBL_MAX,   DBL_MIN,
			 5e-324,  -1e-7,   4.35,      1e15 + 0.5};
	int ok = 1, inexact = 0;
	for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) {
		if (!libc_exact(hard[i])) {
			inexact++;
			continue;
		}
		jw_arr(&w, NULL);
		jw_num(&w, NULL, hard[i]);
		jw_end(&w);
		out = jw_finish(&w, NULL);
		double d = 0;
		ok = ok && out && json_parse(&j, out, strlen(out), err) == 0 &&
		     json_num(&j, 1, &d) == 0 && d == hard[i];
		json_free(&j);
		free(out);
	}
	CHECK(ok, "jw_num round-trips 1/3, 0.1+0.2, DBL_MAX, DBL_MIN, 5e-324 exactly");
	ok = 1;
	for (int i = 0; i < 2000 && ok; i++) {
		uint64_t bits = rnd();
		double v;
		memcpy(&v, &bits, sizeof v);
		if (!isfinite(v))
			continue;
		if (!libc_exact(v)) {
			inexact++;
			continue;
		}
		jw_arr(&w, NULL);
		jw_num(&w, NULL, v);
		jw_end(&w);
		out = jw_finish(&w, NULL);
		char longest[40];
		snprintf(longest, sizeof longest, "[%.17g]", v);
		ok = out && strtod(out + 1, NULL) == v && strlen(out) <= strlen(longest) &&
		     parse_rc(out, strlen(out)) == 0;
		if (!ok)
			printf("# jw_num(%.17g) gave %s\n", v, out ? out : "(NULL)");
		free(out);
	}
	CHECK(ok, "jw_num: 2,000 random doubles read back exactly, valid JSON, never longer than "
		  "%%.17g");
	if (inexact)
		printf("# %d values left out: the C library's own %%.17g did not read back "
		       "(valgrind "
		       "emulates x87 long double with 64 bits)\n",
		       inexact);

	/* wrong nesting is an error in jw_finish, and the writer is reusable after */
	jw_end(&w);
	CHECK(doc_is(&w, NULL, got, sizeof got), "jw_end with nothing open fails");
	jw_obj(&w, NULL);
	CHECK(doc_is(&w, NULL, got, sizeof got), "an unclosed object fails");
	CHECK(doc_is(&w, NULL, got, sizeof got), "an empty document fails");
	jw_arr(&w, NULL);
	jw_end(&w);
	jw_end(&w);
	CHECK(doc_is(&w, NULL, got, sizeof got), "one jw_end too many fails");
	jw_obj(&w, NULL);
	jw_int(&w, NULL, 1);
	jw_end(&w);
	CHECK(doc_is(&w, NULL, got, sizeof got),
	      "a value without a key inside an object fails (got %s)", got);
	jw_arr(&w, NULL);
	jw_int(&w, "k", 1);
	jw_end(&w);
	CHECK(doc_is(&w, NULL, got, sizeof got), "a key inside an array fails (got %s)", got);
	jw_obj(&w, "k");
	jw_end(&w);
	CHECK(doc_is(&w, NULL, got, sizeof got), "a key at the top fails (got %s)", got);
	jw_arr(&w, NULL);
	jw_end(&w);
	jw_arr(&w, NULL);
	jw_end(&w);
	CHECK(doc_is(&w, NULL, got, sizeof got), "two documents at the top fail (got %s)", got);
	char deep[127];
	memset(deep, '[', 63);
	memset(deep + 63, ']', 63);
	deep[126] = '\0';
	for (int i = 0; i < 63; i++)
		jw_arr(&w, NULL);
	for (int i = 0; i < 63; i++)
		jw_end(&w);
	CHECK(doc_is(&w, deep, got, sizeof got), "63 levels of nesting are written");
	for (int i = 0; i < 64; i++)
		jw_arr(&w, NULL);
	for (int i = 0; i < 64; i++)
		jw_end(&w);
	CHECK(doc_is(&w, NULL, got, sizeof got),
	      "64 levels of nesting fail instead of overflowing");
	jw_obj(&w, NULL);
	jw_str(&w, "again", "yes");
	jw_end(&w);
	CHECK(doc_is(&w, "{\"again\":\"yes\"}", got, sizeof got),
	      "the writer works again after an error");

	struct buf b = {0};
	CHECK(json_quote(&b, "a\0b", 3) == 0 && !strcmp(b.p, "\"a\\u0000b\""),
	      "json_quote escapes a NUL");
	buf_free(&b);
}

static void test_util(void)
{
	/* buffers */
	struct buf b = {0};
	char *p = buf_take(&b);
	CHECK(p && !*p && !b.p && !b.len, "buf_take of an empty buf is an owned \"\"");
	free(p);
	b.max = 8;
	CHECK(buf_adds(&b, "12345678") == 0 && buf_add(&b, "9", 1) == -1 && b.len == 8 &&
		      !strcmp(b.p, "12345678"),
	      "buf_add stops at max and leaves the buffer as it was");
	buf_free(&b);
	b.max = 0;
	char long_s[1001];
	memset(long_s, 'y', 1000);
	long_s[1000] = '\0';
	CHECK(buf_addf(&b, "<%s>", long_s) == 0 && b.len == 1002 && b.p[1001] == '>' && !b.p[1002],
	      "buf_addf writes more than its small buffer");
	buf_free(&b);

	/* base64 */
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
					  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	int ok = 1;
	for (int i = 0; i < 7; i++) {
		struct buf e = {0}, d = {0};
		ok = ok && base64_encode(plain[i], strlen(plain[i]), &e) == 0 && e.p &&
		     !strcmp(e.p, enc[i]) && base64_decode(e.p, e.len, &d) == 0 && d.p &&
		     !strcmp(d.p, plain[i]);
		buf_free(&e);
		buf_free(&d);
	}
	CHECK(ok, "base64 of the RFC 4648 test vectors, both ways");
	ok = 1;
	for (int n = 0; n < 300 && ok; n++) {
		unsigned char raw[300];
		for (int i = 0; i < n; i++)
			raw[i] = (unsigned char)rnd();
		struct buf e = {0}, d = {0};
		ok = base64_encode(raw, (size_t)n, &e) == 0 && e.len == (size_t)(n + 2) / 3 * 4 &&
		     base64_decode(e.p, e.len, &d) == 0 && d.len == (size_t)n &&
		     !memcmp(d.p, raw, (size_t)n);
		buf_free(&e);
		buf_free(&d);
	}
	CHECK(ok, "base64 round-trips random bytes of every length from 0 to 299");
	static const char *const bad64[] = {"Zm9v!", "Zm=9", "Zm9v\n", "Zm 9v", "Zm9v-_"};
	ok = 1;
	for (int i = 0; i < 5; i++) {
		struct buf d = {0};
		ok = ok && base64_decode(bad64[i], strlen(bad64[i]), &d) == -1;
		buf_free(&d);
	}
	CHECK(ok, "base64_decode refuses !, '=' inside, newlines, spaces and the URL alphabet");
	ok = 1;
	for (int n = 0; n < 200 && ok; n++) { /* fed in pieces of 1..7 characters */
		unsigned char raw[200], out[200 + 8];
		for (int i = 0; i < n; i++)
			raw[i] = (unsigned char)rnd();
		struct buf e = {0};
		struct base64_stream d = {0};
		size_t got = 0, m;
		ok = base64_encode(raw, (size_t)n, &e) == 0;
		for (size_t i = 0, k; ok && i < e.len; i += k) {
			k = 1 + rnd() % 7;
			k = k > e.len - i ? e.len - i : k;
			ok = base64_stream_decode(&d, e.p + i, k, out + got, &m) == 0;
			got += m;
		}
		ok = ok && base64_stream_end(&d) == 0 && got == (size_t)n && !memcmp(out, raw, got);
		buf_free(&e);
	}
	CHECK(ok, "base64_stream_decode in pieces gives what base64_decode gives");
	static const struct {
		const char *s, *want; /* want NULL: refused */
	} lenient[] = {
		{"Zm9v\nYmFy", "foobar"},
		{" Zm 9v\t", "foo"},
		{"-_8=", "\xfb\xff"},
		{"Zg==", "f"},
		{"Z", NULL},
		{"Zg===", NULL},
		{"Zg==Zg", NULL},
		{"Zm9v!", NULL},
	};
	ok = 1;
	for (size_t i = 0; i < sizeof lenient / sizeof *lenient; i++) {
		struct base64_stream d = {.lenient = 1};
		unsigned char out[16];
		size_t m = 0;
		int rc = base64_stream_decode(&d, lenient[i].s, strlen(lenient[i].s), out, &m);
		rc = rc < 0 ? rc : base64_stream_end(&d);
		if (lenient[i].want)
			ok = ok && rc == 0 && m == strlen(lenient[i].want) &&
			     !memcmp(out, lenient[i].want, m);
		else
			ok = ok && rc == -1;
	}
	CHECK(ok, "lenient base64: whitespace and the URL alphabet taken; a lone digit, "
		  "'===' and data after '=' refused");

	/* sizes in MiB */
	static const struct {
		const char *s;
		long long mib; /* -1: refused */
	} sizes[] = {
		{"8g", 8192},
		{"512m", 512},
		{"1.5g", 1536},
		{"2048M", 2048},
		{"1024k", 1},
		{"8G", 8192},
		{"8gb", 8192},
		{"8GiB", 8192},
		{"1536k", 2},
		{"1048576", 1},
		{"14g", 14336},
		{"0", -1},
		{"0g", -1},
		{"-1", -1},
		{"-1g", -1},
		{"8x", -1},
		{"1e3g", -1},
		{"1e3", -1},
		{"0x400m", -1},
		{"", -1},
		{"g", -1},
		{".5g", -1},
		{"8 g", -1},
		{"8g ", -1},
		{" 8g", -1},
		{"8gbx", -1},
		{"1..5g", -1},
		{"1k", -1},
		{"14.1g", -1},
		{"15g", -1},
		{"99999999999999999999g", -1},
		{"1e400g", -1},
		{"inf", -1},
		{"nan", -1},
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		long long mib = -7;
		int rc = parse_size_mib(sizes[i].s, 14336, &mib);
		if (sizes[i].mib < 0)
			CHECK(rc == -1 && mib == -7, "parse_size_mib refuses '%s'", sizes[i].s);
		else
			CHECK(rc == 0 && mib == sizes[i].mib,
			      "parse_size_mib '%s' is %lld MiB (got %lld)", sizes[i].s,
			      sizes[i].mib, mib);
	}
	long long v = 0;
	CHECK(parse_size_mib(NULL, 1024, &v) == -1, "parse_size_mib refuses NULL");
	CHECK(parse_size_mib("8t", INT64_MAX, &v) == 0 && v == 8 << 20,
	      "parse_size_mib '8t' with no cap");

	/* whole numbers */
	static const struct {
		const char *s;
		long long lo, hi, want; /* want -1 with lo 0: refused */
		int rc;
	} ints[] = {
		{"42", 1, 256, 42, 0},
		{"1", 1, 256, 1, 0},
		{"256", 1, 256, 256, 0},
		{"0", 1, 256, 0, -1},
		{"257", 1, 256, 0, -1},
		{"-1", 1, 256, 0, -1},
		{"-1", -5, 5, -1, 0},
		{"abc", 1, 256, 0, -1},
		{"", 1, 256, 0, -1},
		{" 1", 1, 256, 0, -1},
		{"1 ", 1, 256, 0, -1},
		{"1.0", 1, 256, 0, -1},
		{"0x10", 0, 256, 0, -1},
		{"2x", 1, 256, 0, -1},
		{"9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX, 0},
		{"9223372036854775808", INT64_MIN, INT64_MAX, 0, -1},
		{"-9223372036854775809", INT64_MIN, INT64_MAX, 0, -1},
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		v = -7;
		int rc = parse_int(ints[i].s, ints[i].lo, ints[i].hi, &v);
		CHECK(rc == ints[i].rc && (rc ? v == -7 : v == ints[i].want),
		      "parse_int '%s' in [%lld, %lld]: %s", ints[i].s, ints[i].lo, ints[i].hi,
		      ints[i].rc ? "refused" : "accepted");
	}
	CHECK(parse_int(NULL, 0, 1, &v) == -1, "parse_int refuses NULL");

	/* durations */
	static const struct {
		const char *s;
		long long secs; /* -1: refused */
	} durs[] = {
		{"90", 90},     {"90s", 90},  {"5m", 300},    {"1h", 3600},
		{"2d", 172800}, {"0", 0},     {"7d", 604800}, {"8d", -1},
		{"-5", -1},     {"5x", -1},   {"5mm", -1},    {"5 m", -1},
		{"", -1},       {"1.5h", -1}, {"m", -1},      {"99999999999999999999", -1},
		{"5M", -1},
	};
	for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
		v = -7;
		int rc = parse_duration(durs[i].s, 7 * 86400, &v);
		if (durs[i].secs < 0)
			CHECK(rc == -1 && v == -7, "parse_duration refuses '%s'", durs[i].s);
		else
			CHECK(rc == 0 && v == durs[i].secs, "parse_duration '%s' is %llds",
			      durs[i].s, durs[i].secs);
	}
}

int main(void)
{
	progname = "json_test";
	setvbuf(stdout, NULL, _IOLBF, 0);
	static const struct {
		void (*fn)(void);
		const char *name;
	} parts[] = {
		{test_read, "reading"},
		{test_incremental, "incremental parsing"},
		{test_malformed, "malformed input"},
		{test_writer, "the writer"},
		{test_util, "util.c"},
	};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		long long t0 = now_ms();
		parts[i].fn();
		printf("# %s: %lld ms\n", parts[i].name, now_ms() - t0);
	}
	printf("1..%d\n%d passed, %d failed\n", passed + failed, passed, failed);
	return failed ? 1 : 0;
}
