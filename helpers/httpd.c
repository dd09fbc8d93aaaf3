/*
 * helpers/httpd.c: the job daemon's HTTP/1.1: a request head read and parsed (request
 * line, the headers the API uses, Content-Length and the limits), the body read, and
 * replies (JSON documents, errors, chunked streams) over a TLS connection. The parsing
 * works on a buffer (t/httpd_test.c). Leaves out keep-alive and chunked request bodies
 * (one request per connection, Content-Length only), and knows nothing of jobs.
 */
#include "helpers.h"

#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *httpd_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

int httpd_send_head(struct req *r, int status, const char *ctype, long long len, const char *extra)
{
	char h[768];
	int n = snprintf(h, sizeof h,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
			 "Connection: close\r\n%s",
			 status, httpd_reason(status), ctype, extra ? extra : "");
	if (len >= 0)
		n += snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %lld\r\n\r\n", len);
	else if (!r->http10)
		n += snprintf(h + n, sizeof h - (size_t)n, "Transfer-Encoding: chunked\r\n\r\n");
	else
		n += snprintf(h + n, sizeof h - (size_t)n, "\r\n");
	r->status = status;
	return r->c ? tls_write(r->c, h, (size_t)n) : -1;
}

void httpd_reply_json(struct req *r, int status, const char *json, size_t n, const char *extra)
{
	if (httpd_send_head(r, status, "application/json", (long long)n + 1, extra) == 0 &&
	    tls_write(r->c, json, n) == 0 && tls_write(r->c, "\n", 1) == 0)
		tls_flush(r->c);
}

void httpd_reply_doc(struct req *r, int status, struct jw *w, const char *extra)
{
	size_t n;
	char *doc = jw_finish(w, &n);
	if (!doc) {
		static const char oom[] =
			"{\"error\":{\"code\":\"InternalError\",\"message\":\"out of memory\"}}";
		httpd_reply_json(r, 500, oom, sizeof oom - 1, NULL);
		return;
	}
	httpd_reply_json(r, status, doc, n, extra);
	free(doc);
}

void httpd_reply_err(struct req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_obj(&w, "error");
	jw_str(&w, "code", code);
	jw_str(&w, "message", msg);
	jw_end(&w);
	jw_end(&w);
	const char *extra = status == 401 ? "WWW-Authenticate: Bearer realm=\"legion\"\r\n" : NULL;
	httpd_reply_doc(r, status, &w, extra);
}

int httpd_head_end(struct req *r, size_t from, const char **why)
{
	r->head[r->hlen] = '\0';
	char *e = strstr(r->head + from, "\r\n\r\n");
	if (e) {
		r->hend = (size_t)(e - r->head) + 4;
		return 1;
	}
	if (memchr(r->head + from, '\0', r->hlen - from)) {
		*why = "NUL byte in the request head";
		return 400;
	}
	if (r->hlen >= HDR_MAX) {
		*why = "request head larger than 8192 bytes";
		return 431;
	}
	return 0;
}

/* The error code in replies for an error status of the parser. */
static const char *err_code(int status)
{
	switch (status) {
	case 411: return "LengthRequired";
	case 413: return "PayloadTooLarge";
	case 414: return "UriTooLong";
	case 431: return "HeadersTooLarge";
	case 505: return "VersionNotSupported";
	default: return "BadRequest";
	}
}

int httpd_head_step(struct req *r, size_t old)
{
	const char *why = NULL;
	int rc = httpd_head_end(r, old > 3 ? old - 3 : 0, &why); /* "\r\n\r\n" may straddle */
	if (rc == 1 && !(rc = httpd_parse_head(r, &why)))
		return 1;
	if (rc)
		httpd_reply_err(r, rc, err_code(rc), "%s", why);
	return rc ? -1 : 0;
}

/* The request line into r: method, path, query, version. 0 or an error status. */
static int parse_request_line(struct req *r, char *line, const char **why)
{
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	*why = "malformed request line";
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line ||
	    (size_t)(sp1 - line) >= sizeof r->method)
		return 400;
	memcpy(r->method, line, (size_t)(sp1 - line));
	r->method[sp1 - line] = '\0';
	for (char *m = r->method; *m; m++)
		if (*m < 'A' || *m > 'Z') {
			*why = "malformed method";
			return 400;
		}
	if (!strcmp(sp2 + 1, "HTTP/1.0"))
		r->http10 = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.1")) {
		*why = "HTTP/1.1 or HTTP/1.0 only";
		return 505;
	}
	*sp2 = '\0';
	char *target = sp1 + 1, *q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	if (strlen(target) >= sizeof r->path || (q && strlen(q) >= sizeof r->query)) {
		*why = "request target too long";
		return 414;
	}
	strcpy(r->path, target);
	strcpy(r->query, q ? q : "");
	return 0;
}

/* One header line (NUL-terminated, no CRLF) into r. 0 or an error status. */
static int parse_header(struct req *r, char *line, const char **why)
{
	char *colon = strchr(line, ':');
	if (!colon || colon == line || *line == ' ' || *line == '\t') {
		*why = "malformed header line";
		return 400;
	}
	*colon = '\0';
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (char *t = v + strlen(v); t > v && (t[-1] == ' ' || t[-1] == '\t');)
		*--t = '\0';
	if (!strcasecmp(line, "Authorization"))
		r->auth = v;
	else if (!strcasecmp(line, "Content-Length")) {
		long long n;
		if (parse_int(v, 0, LLONG_MAX, &n) < 0 || (r->clen >= 0 && r->clen != n)) {
			*why = "bad Content-Length";
			return 400;
		}
		r->clen = n;
	} else if (!strcasecmp(line, "Transfer-Encoding"))
		r->chunked = 1;
	else if (!strcasecmp(line, "Expect") && !strcasecmp(v, "100-continue"))
		r->expect100 = 1;
	return 0;
}

int httpd_parse_head(struct req *r, const char **why)
{
	char *line = r->head, *eol = strstr(line, "\r\n");
	*eol = '\0';
	r->clen = -1;
	int rc = parse_request_line(r, line, why);
	for (line = eol + 2; !rc && *line && strncmp(line, "\r\n", 2); line = eol + 2) {
		eol = strstr(line, "\r\n");
		*eol = '\0';
		rc = parse_header(r, line, why);
	}
	return rc;
}

int httpd_check_length(const struct req *r, size_t max)
{
	if (r->chunked || (r->clen < 0 && !strcmp(r->method, "POST")))
		return 411;
	if (r->clen > 0 && (unsigned long long)r->clen > max)
		return 413;
	return 0;
}

/* Reads the body (Content-Length bytes, at most max). 0, -1 client gone, 1 replied. */
int httpd_read_body(struct req *r, size_t max)
{
	int rc = httpd_check_length(r, max);
	if (rc == 411) {
		httpd_reply_err(r, 411, "LengthRequired", "send the body with a Content-Length");
		return 1;
	}
	if (rc == 413) {
		httpd_reply_err(r, 413, "PayloadTooLarge", "body larger than %zu bytes", max);
		return 1;
	}
	if (r->clen <= 0)
		return 0;
	size_t want = (size_t)r->clen, have = r->hlen - r->hend;
	/* the whole body at once: growing by doubling would take up to twice its size */
	r->body.p = malloc(want + 1);
	r->body.cap = r->body.p ? want + 1 : 0;
	r->body.max = want;
	if (!r->body.p || buf_add(&r->body, r->head + r->hend, have < want ? have : want) < 0) {
		httpd_reply_err(r, 500, "InternalError", "out of memory");
		return 1;
	}
	if (r->body.len == want) /* it came with the head */
		return 0;
	if (r->expect100) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (tls_write(r->c, cont, sizeof cont - 1) < 0 || tls_flush(r->c) < 0)
			return -1;
	}
	/* one deadline for the whole body: every wait inside tls_read stops at it */
	tls_set_deadline(r->c, now_ms() + BODY_DEADLINE_MS);
	tls_set_timeout(r->c, IO_TIMEOUT_MS);
	char chunk[16384];
	while (r->body.len < want) {
		size_t w = want - r->body.len;
		ssize_t n = tls_read(r->c, chunk, w < sizeof chunk ? w : sizeof chunk);
		if (n <= 0)
			return -1;
		if (buf_add(&r->body, chunk, (size_t)n) < 0) {
			tls_set_deadline(r->c, 0);
			httpd_reply_err(r, 500, "InternalError", "out of memory");
			return 1;
		}
	}
	tls_set_deadline(r->c, 0);
	return 0;
}

int httpd_json_depth(const char *s, size_t n)
{
	int depth = 0, max = 0, in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = 0;
		} else if (ch == '"')
			in_str = 1;
		else if (ch == '[' || ch == '{') {
			if (++depth > max && (max = depth) > JSON_MAX_DEPTH)
				return max;
		} else if ((ch == ']' || ch == '}') && depth > 0)
			depth--;
	}
	return max;
}

/* The body as a JSON object, or an error reply (then returns -1). */
int httpd_json(struct req *r, struct json *j)
{
	char err[128] = "";
	if (r->body.p && httpd_json_depth(r->body.p, r->body.len) > JSON_MAX_DEPTH) {
		httpd_reply_err(r, 400, "BadJson", "JSON nested deeper than %d levels",
				JSON_MAX_DEPTH);
		return -1;
	}
	int rc = json_parse(j, r->body.p ? r->body.p : "", r->body.len, err);
	if (rc == JSON_MORE)
		snprintf(err, sizeof err, "truncated JSON");
	if (rc != 0 || j->t[0].type != JSMN_OBJECT) {
		httpd_reply_err(r, 400, "BadJson", "%s",
				err[0] ? err : "the body must be a JSON object");
		return -1;
	}
	return 0;
}
/* Sends n bytes as one chunk (or raw for HTTP/1.0). */
int httpd_send_chunk(struct req *r, const char *p, size_t n)
{
	char h[32];
	if (n == 0)
		return 0;
	if (r->http10)
		return tls_write(r->c, p, n);
	snprintf(h, sizeof h, "%zx\r\n", n);
	if (tls_write(r->c, h, strlen(h)) < 0 || tls_write(r->c, p, n) < 0 ||
	    tls_write(r->c, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* 1 when the client hung up (or sent anything: it has nothing more to send). */
int httpd_client_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

int httpd_query_flag(const char *q, const char *name)
{
	size_t k = strlen(name);
	while (*q) {
		size_t n = strcspn(q, "&");
		if (n > k && !strncmp(q, name, k) && q[k] == '=')
			return (n == k + 2 && q[k + 1] == '1') ||
			       (n == k + 5 && !strncmp(q + k + 1, "true", 4));
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

/* A string member: decoded, owned in *out, 1..max bytes, no NUL. Absent: 0 with *out
 * NULL when optional. Returns -1 after an error reply. */
int httpd_json_str(struct req *r, const struct json *j, int obj, const char *key, size_t max,
		   int required, char **out)
{
	*out = NULL;
	int i = json_get(j, obj, key);
	if (i < 0) {
		if (!required)
			return 0;
		httpd_reply_err(r, 400, "BadRequest", "\"%s\" is missing", key);
		return -1;
	}
	struct buf b = {0};
	if (j->t[i].type != JSMN_STRING ||
	    json_unescape(j->s + j->t[i].start, (size_t)(j->t[i].end - j->t[i].start), &b) < 0 ||
	    b.len == 0 || b.len > max || memchr(b.p, '\0', b.len)) {
		buf_free(&b);
		httpd_reply_err(r, 400, "BadRequest", "\"%s\" must be a string of 1 to %zu bytes",
				key, max);
		return -1;
	}
	*out = b.p;
	return 0;
}
