/*
 * t/httpd_test.c: the job daemon's HTTP request parsing (helpers/httpd.c) on buffers:
 * where the head ends, the request line, methods, targets, versions, headers,
 * Content-Length and the limits (431 head too large, 411 length required, 413 body too
 * large), each error with the status the daemon answers. Leaves out sockets and TLS
 * (t/jobd.bats drives the daemon over the network).
 * Output: "ok N - what" / "not ok N - what" lines, then "N passed, M failed"; the exit
 * status is 1 when anything failed.
 */
#include "helpers/helpers.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "t/check.h"

/* Feeds head (n bytes) into a fresh r as if read from a socket in pieces of step bytes,
 * then parses it. The status the daemon would answer (0 = a good request), or -2 when
 * the head never ended. */
static int parse(struct req *r, const char *head, size_t n, size_t step, const char **why)
{
	memset(r, 0, sizeof *r);
	*why = "";
	size_t from = 0;
	while (r->hlen < n || n == 0) {
		size_t k = n - r->hlen < step ? n - r->hlen : step;
		if (k > HDR_MAX - r->hlen)
			k = HDR_MAX - r->hlen;
		memcpy(r->head + r->hlen, head + r->hlen, k);
		from = r->hlen > 3 ? r->hlen - 3 : 0;
		r->hlen += k;
		int rc = httpd_head_end(r, from, why);
		if (rc == 1)
			return httpd_parse_head(r, why);
		if (rc)
			return rc;
		if (k == 0)
			break;
	}
	return -2;
}

static int parse_s(struct req *r, const char *head, const char **why)
{
	return parse(r, head, strlen(head), strlen(head), why);
}

static void request_line(void)
{
	struct req r;
	const char *why = "";
	CHECK(parse_s(&r, "GET /v1/health HTTP/1.1\r\n\r\n", &why) == 0, "a plain GET parses");
	CHECK(!strcmp(r.method, "GET") && !strcmp(r.path, "/v1/health") && !r.query[0],
	      "method GET, path /v1/health, no query");
	CHECK(r.clen == -1 && !r.http10 && !r.chunked && !r.expect100 && !r.auth,
	      "no Content-Length (-1), HTTP/1.1, nothing else set");
	CHECK(r.hend == strlen("GET /v1/health HTTP/1.1\r\n\r\n"), "the head ends after CRLFCRLF");
	CHECK(parse_s(&r, "GET /v1/jobs/job-1/log?follow=1&x=y HTTP/1.0\r\n\r\n", &why) == 0 &&
		      !strcmp(r.path, "/v1/jobs/job-1/log") && !strcmp(r.query, "follow=1&x=y") &&
		      r.http10,
	      "the query is split off; HTTP/1.0 is noted");
	CHECK(parse_s(&r, "DELETE /v1/jobs/job-2 HTTP/1.1\r\n\r\n", &why) == 0 &&
		      !strcmp(r.method, "DELETE"),
	      "DELETE parses");
	static const struct {
		const char *head;
		int status;
		const char *why;
	} bad[] = {
		{"GET /v1/health\r\n\r\n", 400, "malformed request line"},
		{"GET  /v1/health HTTP/1.1\r\n\r\n", 400, "malformed request line"},
		{"GET /a b HTTP/1.1\r\n\r\n", 400, "malformed request line"},
		{" /v1/health HTTP/1.1\r\n\r\n", 400, "malformed request line"},
		{"get /v1/health HTTP/1.1\r\n\r\n", 400, "malformed method"},
		{"G3T /v1/health HTTP/1.1\r\n\r\n", 400, "malformed method"},
		{"VERYLONGMETHODNAME /v1/health HTTP/1.1\r\n\r\n", 400, "malformed request line"},
		{"GET /v1/health HTTP/2\r\n\r\n", 505, "HTTP/1.1 or HTTP/1.0 only"},
		{"GET /v1/health http/1.1\r\n\r\n", 505, "HTTP/1.1 or HTTP/1.0 only"},
		{"\r\n\r\n", 400, "malformed request line"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = parse_s(&r, bad[i].head, &why);
		CHECK(rc == bad[i].status && !strcmp(why, bad[i].why), "%.*s -> %d %s (got %d %s)",
		      (int)strcspn(bad[i].head, "\r"), bad[i].head, bad[i].status, bad[i].why, rc,
		      why);
	}
	char head[2048];
	memset(head, 'a', sizeof head);
	memcpy(head, "GET /", 5);
	strcpy(head + 5 + 511, " HTTP/1.1\r\n\r\n");
	CHECK(parse_s(&r, head, &why) == 414, "a 512-byte path -> 414");
	strcpy(head + 5 + 510, " HTTP/1.1\r\n\r\n");
	CHECK(parse_s(&r, head, &why) == 0 && strlen(r.path) == 511, "a 511-byte path fits");
	memset(head, 'a', sizeof head);
	memcpy(head, "GET /?", 6);
	strcpy(head + 6 + 512, " HTTP/1.1\r\n\r\n");
	CHECK(parse_s(&r, head, &why) == 414 && !strcmp(why, "request target too long"),
	      "a 512-byte query -> 414");
}

static void headers(void)
{
	struct req r;
	const char *why = "";
	CHECK(parse_s(&r,
		      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nauthorization:   Bearer abc  \r\n"
		      "CONTENT-LENGTH: 42\r\nExpect: 100-continue\r\n\r\n",
		      &why) == 0,
	      "a POST with headers parses");
	CHECK(r.auth && !strcmp(r.auth, "Bearer abc"), "Authorization: any case, trimmed (%s)",
	      r.auth ? r.auth : "NULL");
	CHECK(r.clen == 42 && r.expect100, "Content-Length 42, Expect: 100-continue");
	CHECK(parse_s(&r, "POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &why) ==
			      0 &&
		      r.chunked,
	      "Transfer-Encoding is noted");
	CHECK(parse_s(&r, "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		      &why) == 0 &&
		      r.clen == 5,
	      "a repeated equal Content-Length is fine");
	CHECK(parse_s(&r, "GET / HTTP/1.1\r\nExpect: something\r\n\r\n", &why) == 0 && !r.expect100,
	      "another Expect is ignored");
	static const struct {
		const char *head, *why;
	} bad[] = {
		{"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "malformed header line"},
		{"GET / HTTP/1.1\r\n: empty name\r\n\r\n", "malformed header line"},
		{"GET / HTTP/1.1\r\n folded: x\r\n\r\n", "malformed header line"},
		{"GET / HTTP/1.1\r\n\tfolded: x\r\n\r\n", "malformed header line"},
		{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"},
		{"POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", "bad Content-Length"},
		{"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", "bad Content-Length"},
		{"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		 "bad Content-Length"},
		{"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		 "bad Content-Length"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = parse_s(&r, bad[i].head, &why);
		CHECK(rc == 400 && !strcmp(why, bad[i].why),
		      "header case %zu -> 400 %s (got %d %s)", i, bad[i].why, rc, why);
	}
}

static void limits(void)
{
	struct req r;
	const char *why = "";
	static char big[HDR_MAX + 100];
	memset(big, 'x', sizeof big);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK(parse(&r, big, sizeof big, 1000, &why) == 431 &&
		      !strcmp(why, "request head larger than 8192 bytes"),
	      "a head past 8192 bytes -> 431 (%s)", why);
	/* exactly HDR_MAX bytes, ending in the blank line: fits */
	memcpy(big + HDR_MAX - 4, "\r\n\r\n", 4);
	CHECK(parse(&r, big, HDR_MAX, 700, &why) == 0 && r.hend == HDR_MAX,
	      "a head of exactly 8192 bytes fits");
	const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	CHECK(parse(&r, nul, sizeof nul - 1, 5, &why) == 400 &&
		      !strcmp(why, "NUL byte in the request head"),
	      "a NUL byte in the head -> 400");
	const char *h = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
	for (size_t step = 1; step <= 8; step++)
		CHECK(parse(&r, h, strlen(h), step, &why) == 0 && r.hend == strlen(h) - 4,
		      "the head's end is found when read %zu byte(s) at a time", step);
	CHECK(parse(&r, "GET / HTTP/1.1\r\nHost: x\r\n", 25, 25, &why) == -2,
	      "an unfinished head asks for more");

	CHECK(parse_s(&r, "POST /v1/jobs HTTP/1.1\r\n\r\n", &why) == 0 &&
		      httpd_check_length(&r, BODY_MAX) == 411,
	      "POST without Content-Length -> 411");
	CHECK(parse_s(&r, "POST /v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &why) ==
			      0 &&
		      httpd_check_length(&r, BODY_MAX) == 411,
	      "a chunked body -> 411");
	CHECK(parse_s(&r, "GET /v1/jobs HTTP/1.1\r\n\r\n", &why) == 0 &&
		      httpd_check_length(&r, BODY_MAX) == 0,
	      "GET without Content-Length is fine");
	CHECK(parse_s(&r, "POST /v1/workers HTTP/1.1\r\nContent-Length: 65536\r\n\r\n", &why) ==
			      0 &&
		      httpd_check_length(&r, BODY_MAX) == 0,
	      "a body of exactly the limit is fine");
	CHECK(parse_s(&r, "POST /v1/workers HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", &why) ==
			      0 &&
		      httpd_check_length(&r, BODY_MAX) == 413,
	      "a body one byte past the limit -> 413");
	CHECK(parse_s(&r, "POST /v1/jobs HTTP/1.1\r\nContent-Length: 100663297\r\n\r\n", &why) ==
			      0 &&
		      httpd_check_length(&r, BODY_MAX_JOB) == 413 &&
		      httpd_check_length(&r, (size_t)100663297) == 0,
	      "a job body past 96 MiB -> 413");
}

static void helpers_(void)
{
	CHECK(httpd_query_flag("follow=1", "follow"), "follow=1 is set");
	CHECK(httpd_query_flag("a=b&follow=true", "follow"), "follow=true after another");
	CHECK(!httpd_query_flag("follow=0", "follow"), "follow=0 is not set");
	CHECK(!httpd_query_flag("follower=1", "follow"), "follower=1 is another name");
	CHECK(!httpd_query_flag("", "follow"), "an empty query sets nothing");
	CHECK(!strcmp(httpd_reason(431), "Request Header Fields Too Large") &&
		      !strcmp(httpd_reason(411), "Length Required") &&
		      !strcmp(httpd_reason(413), "Content Too Large"),
	      "reason phrases of the limits");
}

int main(void)
{
	progname = "httpd_test";
	request_line();
	headers();
	limits();
	helpers_();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
