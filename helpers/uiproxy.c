/*
 * helpers/uiproxy.c: the job API's /v1/ui/: Spark's web UIs (the master's on 8080, the
 * running driver's on 4040, a worker's on 8081), reached over this container's own
 * address and relayed to a holder of the cluster token: GET and HEAD only, one plain
 * HTTP/1.0 request upstream with a deadline, a bounded head and body, a few headers kept
 * and Location rewritten to stay under /v1/ui/. Leaves out the token and the request
 * head (legion-jobd.c, httpd.c) and the pages' links: Spark's reverse-proxy mode
 * (spark.ui.reverseProxyUrl, set by legion-master) writes them.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define UI_DEADLINE_MS 60000              /* connect to the last byte relayed */
#define UI_HEAD_MAX 16384                 /* the UI's response head */
#define UI_BODY_MAX ((long long)64 << 20) /* a page, a script, a log excerpt */
#define UI_JSON_MAX ((size_t)1 << 20)     /* the master's /json/, to find a worker */

/* One request to a UI and its answer's head. */
struct up {
	int fd;
	long long deadline;
	char head[UI_HEAD_MAX + 1];
	size_t len, hend; /* bytes read into head; where the head ends (body follows) */
	int status;
	long long clen; /* Content-Length, -1 when the body ends at close */
};

/* Waits for ev on fd until the deadline: 1 ready, 0 timed out or failed. */
static int up_wait(int fd, short ev, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = ev};
		int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 0;
	}
}

/* Connects to addr:port (IPv4) before the deadline; -1 with why set. */
static int up_connect(struct up *u, const char *addr, int port, const char **why)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	*why = "not an IPv4 address";
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	u->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	*why = "no socket";
	if (u->fd < 0)
		return -1;
	int rc = connect(u->fd, (struct sockaddr *)&sa, sizeof sa), err = 0;
	socklen_t el = sizeof err;
	if (rc < 0 && errno == EINPROGRESS && up_wait(u->fd, POLLOUT, u->deadline) &&
	    getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0)
		rc = err ? (errno = err, -1) : 0;
	else if (rc < 0 && errno == EINPROGRESS)
		errno = ETIMEDOUT;
	*why = errno == ECONNREFUSED ? "nothing listens there" : "unable to connect";
	return rc;
}

static int up_write(struct up *u, const char *p, size_t n)
{
	while (n > 0) {
		if (!up_wait(u->fd, POLLOUT, u->deadline))
			return -1;
		ssize_t w = send(u->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Up to n bytes before the deadline: 0 at the end, -1 on an error or the deadline. */
static ssize_t up_read(struct up *u, char *p, size_t n)
{
	for (;;) {
		if (!up_wait(u->fd, POLLIN, u->deadline))
			return -1;
		ssize_t k = recv(u->fd, p, n, 0);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		return k;
	}
}

/* The value of header name in the head's lines, or NULL; *n its length. */
static const char *up_header(const struct up *u, const char *name, size_t *n)
{
	size_t k = strlen(name);
	for (const char *l = strstr(u->head, "\r\n"); l && l + 2 < u->head + u->hend;
	     l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2;
		if (strncasecmp(h, name, k) || h[k] != ':')
			continue;
		h += k + 1;
		h += strspn(h, " \t");
		*n = strcspn(h, "\r");
		return h;
	}
	return NULL;
}

/* Sends "METHOD target HTTP/1.0" with Host and the base the client sees the UI under,
 * then reads the answer's head: status and length. 0, or -1 with why set. */
static int up_request(struct up *u, const char *method, const char *hostport, const char *target,
		      const char *base, const char **why)
{
	char req[1600];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.0\r\nHost: %s\r\nX-Forwarded-Context: %s\r\n"
			 "Accept-Encoding: identity\r\nUser-Agent: legion-jobd\r\n\r\n",
			 method, target, hostport, base);
	*why = "request too long";
	if (n < 0 || (size_t)n >= sizeof req)
		return -1;
	*why = "the UI did not take the request";
	if (up_write(u, req, (size_t)n) < 0)
		return -1;
	for (;;) {
		*why = "the UI's answer is cut short or late";
		ssize_t k = up_read(u, u->head + u->len, UI_HEAD_MAX - u->len);
		if (k <= 0)
			return -1;
		u->len += (size_t)k;
		u->head[u->len] = '\0';
		char *e = strstr(u->head, "\r\n\r\n");
		if (e) {
			u->hend = (size_t)(e - u->head) + 4;
			break;
		}
		*why = "the UI's answer head is too large";
		if (u->len >= UI_HEAD_MAX || memchr(u->head, '\0', u->len))
			return -1;
	}
	long long st, len = -1;
	char code[4] = "";
	if (strncmp(u->head, "HTTP/1.", 7) || u->head[8] != ' ')
		goto bad;
	memcpy(code, u->head + 9, 3);
	if (parse_int(code, 100, 599, &st) < 0 || (u->head[12] != ' ' && u->head[12] != '\r'))
		goto bad;
	u->status = (int)st;
	size_t vn;
	const char *v = up_header(u, "Content-Length", &vn);
	if (v) {
		char num[24];
		if (vn >= sizeof num)
			goto bad;
		memcpy(num, v, vn);
		num[vn] = '\0';
		if (parse_int(num, 0, INT64_MAX, &len) < 0)
			goto bad;
	}
	u->clen = len;
	return 0;
bad:
	*why = "the UI's answer is not HTTP";
	return -1;
}

/* ---- what the client gets ----------------------------------------------------------- */

/* Location v of the UI at hostport, as the client must see it: the UI's own absolute
 * URLs and server-relative paths under base (unless already under /v1/ui/); anything
 * else unchanged. Into out (n bytes); -1 when it does not fit. */
static int ui_location(const char *v, size_t vn, const char *hostport, const char *base, char *out,
		       size_t n)
{
	char self[300];
	snprintf(self, sizeof self, "http://%s", hostport);
	size_t k = strlen(self);
	if (vn >= k && !strncmp(v, self, k) && (vn == k || v[k] == '/' || v[k] == '?')) {
		v += k;
		vn -= k;
		if (vn == 0 || v[0] == '?')
			return snprintf(out, n, "%s/%.*s", base, (int)vn, v) < (int)n ? 0 : -1;
	}
	if (vn > 0 && v[0] == '/' && (vn < 2 || v[1] != '/') && strncmp(v, "/v1/ui/", 7))
		return snprintf(out, n, "%s%.*s", base, (int)vn, v) < (int)n ? 0 : -1;
	return snprintf(out, n, "%.*s", (int)vn, v) < (int)n ? 0 : -1;
}

/* The reply's head: the UI's status, the headers a browser needs, and the length (or
 * chunks) of what follows. */
static int ui_send_head(struct req *r, const struct up *u, const char *hostport, const char *base,
			int head_only)
{
	static const char *const keep[] = {
		"Content-Type",
		"Content-Disposition",
		"Last-Modified",
		"Cache-Control",
		"X-Content-Type-Options",
		"X-Frame-Options",
		"Content-Security-Policy",
		NULL,
	};
	struct buf h = {.max = UI_HEAD_MAX + 4096};
	char loc[2048];
	size_t vn;
	const char *v;
	int rc = buf_addf(&h, "HTTP/1.1 %d %s\r\nConnection: close\r\n", u->status,
			  httpd_reason(u->status));
	for (int i = 0; keep[i]; i++)
		if ((v = up_header(u, keep[i], &vn)))
			rc |= buf_addf(&h, "%s: %.*s\r\n", keep[i], (int)vn, v);
	if ((v = up_header(u, "Location", &vn))) {
		if (ui_location(v, vn, hostport, base, loc, sizeof loc) == 0)
			rc |= buf_addf(&h, "Location: %s\r\n", loc);
	}
	if (u->clen >= 0)
		rc |= buf_addf(&h, "Content-Length: %lld\r\n\r\n", u->clen);
	else if (!r->http10 && !head_only)
		rc |= buf_adds(&h, "Transfer-Encoding: chunked\r\n\r\n");
	else
		rc |= buf_adds(&h, "\r\n");
	r->status = u->status;
	if (!rc)
		rc = tls_write(r->c, h.p, h.len);
	buf_free(&h);
	return rc ? -1 : 0;
}

/* Relays the body: what came with the head, then the rest, as it arrives. */
static void ui_relay(struct req *r, struct up *u)
{
	char buf[16384];
	long long sent = 0, want = u->clen;
	int chunked = want < 0 && !r->http10;
	size_t have = u->len - u->hend;
	const char *p = u->head + u->hend;
	for (;;) {
		if (want >= 0 && (long long)have > want - sent)
			have = (size_t)(want - sent);
		if (have > 0) {
			int rc = chunked ? httpd_send_chunk(r, p, have) : tls_write(r->c, p, have);
			if (rc < 0 || tls_flush(r->c) < 0)
				return;
			sent += (long long)have;
		}
		if ((want >= 0 && sent >= want) || sent > UI_BODY_MAX)
			break;
		ssize_t k = up_read(u, buf, sizeof buf);
		if (k < 0)
			return; /* cut short: the client sees the connection close early */
		if (k == 0) {
			if (want >= 0)
				return;
			break;
		}
		p = buf;
		have = (size_t)k;
	}
	if (chunked && sent <= UI_BODY_MAX)
		tls_write(r->c, "0\r\n\r\n", 5);
	tls_flush(r->c);
}

/* One request to the UI at addr:port, relayed under base. */
static void ui_forward(struct req *r, const char *what, const char *addr, int port,
		       const char *base, const char *rest)
{
	struct up *u = calloc(1, sizeof *u);
	char hostport[96], target[1100];
	const char *why = "out of memory";
	if (!u) {
		httpd_reply_err(r, 500, "InternalError", "%s", why);
		return;
	}
	u->fd = -1;
	u->deadline = now_ms() + UI_DEADLINE_MS;
	snprintf(hostport, sizeof hostport, "%s:%d", addr, port);
	snprintf(target, sizeof target, "%s%s%s", *rest ? rest : "/", r->query[0] ? "?" : "",
		 r->query);
	int head_only = !strcmp(r->method, "HEAD");
	if (up_connect(u, addr, port, &why) < 0) {
		if (!strcmp(what, "driver") && errno == ECONNREFUSED)
			httpd_reply_err(r, 503, "UiNotReady", "the driver's UI is not up (yet)");
		else
			httpd_reply_err(r, 502, "BadGateway", "the %s's UI at %s: %s", what,
					hostport, why);
	} else if (up_request(u, r->method, hostport, target, base, &why) < 0)
		httpd_reply_err(r, 502, "BadGateway", "the %s's UI at %s: %s", what, hostport, why);
	else if (u->clen > UI_BODY_MAX)
		httpd_reply_err(r, 502, "BadGateway", "the %s's UI sent more than %lld bytes", what,
				UI_BODY_MAX);
	else {
		tls_set_deadline(r->c, u->deadline); /* a slow reader is a slow client too */
		if (ui_send_head(r, u, hostport, base, head_only) == 0 && !head_only)
			ui_relay(r, u);
		else
			tls_flush(r->c);
		tls_set_deadline(r->c, 0);
	}
	if (u->fd >= 0)
		close(u->fd);
	free(u);
}

/* The web UI address of worker id, from the master's /json/, into addr and *port.
 * 0, or -1 after an error reply. */
static int worker_ui(struct req *r, const char *id, char *addr, size_t addrn, int *port)
{
	struct up *u = calloc(1, sizeof *u);
	struct buf body = {.max = UI_JSON_MAX};
	struct json j = {0};
	char hostport[96], host[256] = "", url[320] = "";
	const char *why = "out of memory";
	int rc = -1;
	snprintf(hostport, sizeof hostport, "%s:8080", jobd_cfg.addr);
	if (!u) {
		httpd_reply_err(r, 500, "InternalError", "%s", why);
		return -1;
	}
	u->fd = -1;
	u->deadline = now_ms() + 10000;
	if (up_connect(u, jobd_cfg.addr, 8080, &why) < 0 ||
	    up_request(u, "GET", hostport, "/json/", UI_MASTER_BASE, &why) < 0) {
		httpd_reply_err(r, 502, "BadGateway", "the master's UI at %s: %s", hostport, why);
		goto out;
	}
	ssize_t k = (ssize_t)(u->len - u->hend);
	char chunk[16384];
	int ok = buf_add(&body, u->head + u->hend, (size_t)k) == 0;
	while (ok && (k = up_read(u, chunk, sizeof chunk)) > 0)
		ok = buf_add(&body, chunk, (size_t)k) == 0;
	if (!ok || k < 0 || u->status != 200 || json_parse(&j, body.p, body.len, NULL) != 0) {
		httpd_reply_err(r, 502, "BadGateway", "the master's /json/ is not readable");
		goto out;
	}
	int ws = json_get(&j, 0, "workers"), w = -1;
	for (int i = 0; ws >= 0 && j.t[ws].type == JSMN_ARRAY && i < j.t[ws].size && w < 0; i++)
		if (json_eq(&j, json_get(&j, json_at(&j, ws, i), "id"), id))
			w = json_at(&j, ws, i);
	if (w < 0) {
		httpd_reply_err(r, 404, "WorkerNotFound", "the master knows no worker %s", id);
		goto out;
	}
	long long p = 0;
	json_strcpy(&j, json_get(&j, w, "webuiaddress"), url, sizeof url);
	char *hp = !strncmp(url, "http://", 7) ? url + 7 : NULL,
	     *colon = hp ? strrchr(hp, ':') : NULL;
	if (colon && (size_t)(colon - hp) < sizeof host) {
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = '\0';
	}
	if (!host[0] || parse_int(colon + 1, 1, 65535, &p) < 0 ||
	    agent_resolve(host, addr, addrn) < 0) {
		httpd_reply_err(r, 502, "BadGateway", "worker %s: no usable UI address", id);
		goto out;
	}
	*port = (int)p;
	rc = 0;
out:
	json_free(&j);
	buf_free(&body);
	if (u->fd >= 0)
		close(u->fd);
	free(u);
	return rc;
}

/* 1 when the path and query are plain printable ASCII (no spaces, controls, or bytes
 * over 126: what the UIs' own links hold once percent-encoded). */
static int printable(const char *s)
{
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	return 1;
}

void api_ui(struct req *r)
{
	const char *p = r->path + strlen("/v1/ui/"), *rest;
	char base[256], id[160] = "", addr[64];
	int port;
	if (!printable(r->path) || !printable(r->query)) {
		httpd_reply_err(r, 400, "BadRequest", "the path holds bytes a URL cannot");
		return;
	}
	if (!strncmp(p, "master", 6) && (!p[6] || p[6] == '/')) {
		snprintf(base, sizeof base, "%s", UI_MASTER_BASE);
		snprintf(addr, sizeof addr, "%s", jobd_cfg.addr);
		port = 8080;
		rest = p + 6;
	} else if (!strncmp(p, "driver", 6) && (!p[6] || p[6] == '/')) {
		jobd_lock();
		int running = 0;
		for (struct job *j = jobd.jobs; j; j = j->next)
			running |= j->state == J_RUNNING;
		jobd_unlock();
		if (!running) {
			httpd_reply_err(r, 404, "NoRunningJob",
					"no job runs now: a driver's UI lives as long as its job");
			return;
		}
		snprintf(base, sizeof base, "/v1/ui/driver");
		snprintf(addr, sizeof addr, "%s", jobd_cfg.addr);
		port = 4040;
		rest = p + 6;
	} else if (!strncmp(p, "worker/", 7) && p[7]) {
		size_t n = strcspn(p + 7, "/");
		if (n >= sizeof id ||
		    strspn(p + 7, "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") < n) {
			httpd_reply_err(r, 404, "WorkerNotFound", "not a worker id");
			return;
		}
		memcpy(id, p + 7, n);
		id[n] = '\0';
		if (worker_ui(r, id, addr, sizeof addr, &port) < 0)
			return;
		snprintf(base, sizeof base, "/v1/ui/worker/%s", id);
		rest = p + 7 + n;
	} else {
		httpd_reply_err(r, 404, "NotFound", "no such UI: master, driver or worker/ID");
		return;
	}
	if (!*rest) { /* the pages' relative links need the trailing slash */
		char loc[1200];
		snprintf(loc, sizeof loc, "Location: %s/%s%s\r\n", base, r->query[0] ? "?" : "",
			 r->query);
		if (httpd_send_head(r, 302, "text/plain", 0, loc) == 0)
			tls_flush(r->c);
		return;
	}
	/* An application's root through the master: Spark's master rewrites the driver's
	 * own redirect from "/" with an app id cut short (the servlet's path info lacks
	 * "/proxy"), so send it to the application's jobs page here. */
	if (port == 8080 && !strncmp(rest, "/proxy/app-", 11)) {
		size_t n = strcspn(rest + 7, "/");
		const char *after = rest + 7 + n;
		if (!*after || !strcmp(after, "/")) {
			char loc[1200];
			snprintf(loc, sizeof loc, "Location: %s/proxy/%.*s/jobs/\r\n", base, (int)n,
				 rest + 7);
			if (httpd_send_head(r, 302, "text/plain", 0, loc) == 0)
				tls_flush(r->c);
			return;
		}
	}
	ui_forward(r, id[0] ? "worker" : base + 7, addr, port, base, rest);
}
