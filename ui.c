/*
 * ui.c: `legion ui CLUSTER`: a plain HTTP listener on 127.0.0.1 that relays each GET or
 * HEAD under /v1/ui/ to the cluster's job API (TLS pinned to the master's certificate,
 * the cluster token added here), so that a browser on this machine shows Spark's UIs.
 * Leaves out the UIs and their links (the job daemon's helpers/uiproxy.c and Spark's
 * reverse-proxy mode) and concurrency: heads are read for every connection at once, but
 * requests are relayed one at a time.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define UI_CONNS 64                  /* connections waiting for their request head */
#define UI_HEAD_MAX 8192             /* a request head */
#define UI_HEAD_MS 10000             /* accept to the end of the head */
#define UI_REQ_MS 120000             /* one relayed request, whole */
#define UI_SEND_MS 30000             /* one wait for the browser to take bytes */
#define UI_ERR_MAX ((size_t)1 << 20) /* an answer other than 2xx is held, up to this */
#define UI_HDRS_MAX 16384            /* the header lines kept from an answer */
#define UI_PATH_MAX 511              /* the job API's limits: path, query */

/* A browser's connection until its request head is complete. */
struct uconn {
	int fd;
	long long born;
	size_t len;
	char head[UI_HEAD_MAX + 1];
};

/* One request being relayed to the browser at fd. */
struct relay {
	int fd;
	int status, head_sent, broken;
	struct buf hdrs; /* header lines kept from the job API's answer */
};

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR && !got_signal)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *reason(int status)
{
	return status < 300   ? "OK"
	       : status < 400 ? "Redirect"
	       : status < 500 ? "Client Error"
			      : "Server Error";
}

/* An answer of our own: status, extra header lines, a line of text. */
static void reply(int fd, int status, const char *extra, const char *text)
{
	char h[1024];
	int n = snprintf(h, sizeof h,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n%sContent-Length: %zu"
			 "\r\n\r\n%s\n",
			 status, reason(status), extra ? extra : "", strlen(text) + 1, text);
	if (n > 0 && (size_t)n < sizeof h)
		send_all(fd, h, (size_t)n);
}

/* The header lines a browser needs from the job API's answer; a new status line
 * (after an interim 1xx) starts over. */
static int on_head(void *arg, const char *line, size_t n)
{
	static const char *const keep[] = {
		"Content-Type",
		"Content-Length",
		"Content-Disposition",
		"Location",
		"Last-Modified",
		"Cache-Control",
		"X-Frame-Options",
		"X-Content-Type-Options",
		"Content-Security-Policy",
		NULL,
	};
	struct relay *rl = arg;
	if (n > 12 && !strncmp(line, "HTTP/", 5)) {
		const char *sp = memchr(line, ' ', n);
		rl->status = sp ? atoi(sp + 1) : 0;
		rl->hdrs.len = 0;
		return 0;
	}
	for (int i = 0; keep[i]; i++) {
		size_t k = strlen(keep[i]);
		if (n > k && !strncasecmp(line, keep[i], k) && line[k] == ':') {
			while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
				n--;
			if (buf_add(&rl->hdrs, line, n) < 0 || buf_add(&rl->hdrs, "\r\n", 2) < 0)
				return 1;
		}
	}
	return 0;
}

static int send_head(struct relay *rl)
{
	char first[64];
	rl->head_sent = 1;
	snprintf(first, sizeof first, "HTTP/1.1 %d %s\r\n", rl->status, reason(rl->status));
	if (send_all(rl->fd, first, strlen(first)) < 0 ||
	    (rl->hdrs.len && send_all(rl->fd, rl->hdrs.p, rl->hdrs.len) < 0) ||
	    send_all(rl->fd, "Connection: close\r\n\r\n", 21) < 0) {
		rl->broken = 1;
		return -1;
	}
	return 0;
}

/* A 2xx body as it arrives: the head first. */
static int on_data(void *arg, const char *p, size_t n)
{
	struct relay *rl = arg;
	if (!rl->head_sent && send_head(rl) < 0)
		return 1;
	if (send_all(rl->fd, p, n) < 0) {
		rl->broken = 1;
		return 1;
	}
	return 0;
}

/* 0 when the head's request line and Host are acceptable: GET or HEAD, a target under
 * /v1/ui/ (or / for the master's page) within the job API's limits, and a Host naming
 * this listener (a page elsewhere that renamed itself 127.0.0.1, DNS rebinding, gets
 * nothing). Otherwise answers and returns -1. */
static int check_request(int fd, char *head, int port, char *method, size_t mn, char **target)
{
	char *eol = strstr(head, "\r\n"), *sp1, *sp2;
	*eol = '\0';
	sp1 = strchr(head, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || (size_t)(sp1 - head) >= mn || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		reply(fd, 400, NULL, "legion ui: not an HTTP/1 request");
		return -1;
	}
	memcpy(method, head, (size_t)(sp1 - head));
	method[sp1 - head] = '\0';
	*sp2 = '\0';
	*target = sp1 + 1;
	char host[80] = "", ok1[40], ok2[40];
	for (char *l = eol + 2; *l && strncmp(l, "\r\n", 2); l = strstr(l, "\r\n") + 2)
		if (!strncasecmp(l, "Host:", 5)) {
			const char *v = l + 5 + strspn(l + 5, " \t");
			snprintf(host, sizeof host, "%.*s", (int)strcspn(v, " \t\r"), v);
		}
	snprintf(ok1, sizeof ok1, "127.0.0.1:%d", port);
	snprintf(ok2, sizeof ok2, "localhost:%d", port);
	if (strcmp(host, ok1) && strcasecmp(host, ok2)) {
		reply(fd, 403, NULL, "legion ui: only for http://127.0.0.1 or localhost");
		return -1;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		reply(fd, 405, "Allow: GET, HEAD\r\n", "legion ui: the UIs are read only");
		return -1;
	}
	size_t pn = strcspn(*target, "?"), qn = strlen(*target) - pn;
	for (const char *c = *target; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f) {
			reply(fd, 400, NULL, "legion ui: the path holds bytes a URL cannot");
			return -1;
		}
	if (pn > UI_PATH_MAX || qn > UI_PATH_MAX + 1) {
		reply(fd, 414, NULL, "legion ui: the path or the query is too long");
		return -1;
	}
	if (!strncmp(*target, "/?", 2) || !strcmp(*target, "/")) {
		reply(fd, 302, "Location: /v1/ui/master/\r\n", "legion ui: see /v1/ui/master/");
		return -1;
	}
	if (strncmp(*target, "/v1/ui/", 7)) {
		reply(fd, 404, NULL,
		      "legion ui: the UIs are under /v1/ui/master/, /v1/ui/driver/ and "
		      "/v1/ui/worker/ID/");
		return -1;
	}
	return 0;
}

/* Relays one complete request head from the browser at fd. */
static void serve(const struct cluster *m, int fd, char *head, int port)
{
	char method[8], *target;
	if (check_request(fd, head, port, method, sizeof method, &target) < 0)
		return;
	struct relay rl = {.fd = fd, .hdrs = {.max = UI_HDRS_MAX}};
	struct http_req q = {
		.method = method,
		.timeout_ms = UI_REQ_MS,
		.tries = 1,
		.max_body = UI_ERR_MAX,
		.on_head = on_head,
		.on_data = on_data,
		.arg = &rl,
	};
	struct http_resp r = {0};
	int rc = cluster_stream(m, target, &q, &r);
	if (verbose)
		fprintf(stderr, "%s: ui: %s %.*s -> %d\n", progname, method,
			(int)strcspn(target, "?"), target, rc < 0 ? 502 : rl.status);
	if (rc < 0 && !rl.head_sent && !rl.broken) {
		char msg[400];
		snprintf(msg, sizeof msg, "legion ui: no answer from the cluster's job API: %s",
			 r.err);
		reply(fd, 502, NULL, msg);
	} else if (rc == 0 && !rl.head_sent && send_head(&rl) == 0 && r.body.len)
		send_all(fd, r.body.p, r.body.len);
	buf_free(&rl.hdrs);
	http_resp_free(&r);
}

/* A socket listening on 127.0.0.1:port (0: a free one, then *port says which). */
static int listen_local(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
	socklen_t sl = sizeof sa;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
	if (fd < 0) {
		warn_("ui: unable to create a socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		warn_("ui: --port %d: unable to listen on 127.0.0.1:%d", *port, *port);
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* New connections; when all slots are taken the oldest makes room. */
static void take(int lfd, struct uconn *cs, int *n)
{
	struct timeval tv = {UI_SEND_MS / 1000, 0};
	for (int k = 0; k < 16; k++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (*n == UI_CONNS) {
			int old = 0;
			for (int i = 1; i < *n; i++)
				if (cs[i].born < cs[old].born)
					old = i;
			close(cs[old].fd);
			cs[old] = cs[--*n];
		}
		cs[*n].fd = fd;
		cs[*n].born = now_ms();
		cs[*n].len = 0;
		(*n)++;
	}
}

/* Reads what connection c has sent; serves it once its head is whole. 1 when c is
 * done (served, refused or gone). */
static int step(const struct cluster *m, struct uconn *c, int port)
{
	ssize_t k = recv(c->fd, c->head + c->len, UI_HEAD_MAX - c->len, MSG_DONTWAIT);
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (k <= 0)
		return 1;
	c->len += (size_t)k;
	c->head[c->len] = '\0';
	if (strstr(c->head, "\r\n\r\n")) {
		serve(m, c->fd, c->head, port);
		return 1;
	}
	if (c->len >= UI_HEAD_MAX || memchr(c->head, '\0', c->len)) {
		reply(c->fd, 431, NULL, "legion ui: request head too large");
		return 1;
	}
	return 0;
}

/* Serves until Ctrl-C (or SIGTERM). */
static void ui_loop(const struct cluster *m, int lfd, int port)
{
	struct uconn *cs = calloc(UI_CONNS, sizeof *cs);
	struct pollfd pf[UI_CONNS + 1];
	int n = 0;
	if (!cs) {
		warnx_("ui: out of memory");
		return;
	}
	while (!got_signal) {
		long long now = now_ms(), first = now + 1000;
		pf[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (int i = 0; i < n; i++) {
			pf[i + 1] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
			if (cs[i].born + UI_HEAD_MS < first)
				first = cs[i].born + UI_HEAD_MS;
		}
		int live = n;
		if (poll(pf, (nfds_t)live + 1, first > now ? (int)(first - now) : 0) < 0)
			continue; /* EINTR: the loop's condition sees the signal */
		for (int i = 0; i < live; i++)
			if (pf[i + 1].revents && step(m, &cs[i], port)) {
				close(cs[i].fd);
				cs[i].fd = -1;
			}
		now = now_ms();
		int k = 0;
		for (int i = 0; i < n; i++) {
			if (cs[i].fd >= 0 && now >= cs[i].born + UI_HEAD_MS) {
				close(cs[i].fd); /* no whole head in time: closed without a word */
				cs[i].fd = -1;
			}
			if (cs[i].fd >= 0)
				cs[k++] = cs[i];
		}
		n = k;
		if (pf[0].revents)
			take(lfd, cs, &n);
	}
	for (int i = 0; i < n; i++)
		close(cs[i].fd);
	free(cs);
}

int cmd_ui(const struct opts *o)
{
	struct cluster m;
	struct http_resp r = {0};
	int rc = cluster_load(o->cluster, &m), port = (int)o->port, ex = 0;
	if (rc != 0) {
		if (rc > 0)
			warnx_("ui: no credentials for cluster %s here (see 'legion status')",
			       o->cluster);
		return EXIT_CONFIG;
	}
	if (cluster_call(&m, "GET", "/v1/health", NULL, 0, 2, 10000, &r) < 0 || r.status != 200) {
		warnx_("ui: cluster %s: the master's job API does not answer: %s", o->cluster,
		       r.err[0] ? r.err : "no answer");
		ex = r.status == 401 ? EXIT_NOPERM : EXIT_UNAVAIL;
		goto out;
	}
	int lfd = listen_local(&port);
	if (lfd < 0) {
		ex = EXIT_UNAVAIL;
		goto out;
	}
	printf("http://127.0.0.1:%d/\n", port);
	fflush(stdout);
	fprintf(stderr,
		"%s: the Spark UIs of %s at http://127.0.0.1:%d/ (the master's; the running "
		"job's under /v1/ui/driver/); Ctrl-C to stop\n",
		progname, o->cluster, port);
	ui_loop(&m, lfd, port);
	close(lfd);
	ex = interrupted();
out:
	http_resp_free(&r);
	cluster_free(&m);
	return ex;
}
