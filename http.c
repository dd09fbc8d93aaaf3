/*
 * http.c: every HTTP request legion and the helpers make, through libcurl's multi
 * interface: one setup function with all overrides (trust, proxy, user agent,
 * timeouts, pinning), connection reuse, bounded retries with backoff and jitter that
 * honour Retry-After, parallel fan-out. Leaves out what a request means (auth.c,
 * aci.c) and is not thread-safe: one thread per process makes requests.
 */
#include "legion.h"
#include "roots.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TRIES 6
#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_MAX_BODY ((size_t)16 << 20)
#define RETRY_BUDGET_MS (5 * 60 * 1000) /* no retry starts later than this */
#define BACKOFF_BASE_MS 400
#define BACKOFF_MAX_MS 30000
#define RETRY_AFTER_MAX_S 120
#define THROTTLE_TRIES 30 /* extra tries a request may spend on 429s, within the budget */

volatile sig_atomic_t http_stop;
static volatile sig_atomic_t held, deferred;
static sig_atomic_t stop_before_hold;
static int holds;

int http_interrupt(void)
{
	if (!held) {
		http_stop = 1;
		return 0;
	}
	if (deferred < 100)
		deferred++;
	return deferred;
}

void http_hold_begin(void)
{
	if (holds++ == 0) {
		stop_before_hold = http_stop;
		deferred = 0;
		held = 1;
		http_stop = 0;
	}
}

void http_hold_end(void)
{
	if (holds > 0 && --holds == 0) {
		held = 0;
		if (stop_before_hold || deferred)
			http_stop = 1;
	}
}

/* Each thread has its own multi handle (and so its own connection cache): the main
 * thread's from http_init, another's from its first request until http_thread_end. */
static _Thread_local CURLM *multi;
static struct curl_blob roots_blob;
static const char *ca_file; /* SSL_CERT_FILE, CURL_CA_BUNDLE or the system bundle */

/* One request of a fan-out: waiting for its (next) try, in flight, or done. */
enum slot_state { SLOT_WAITING, SLOT_RUNNING, SLOT_DONE };
struct slot {
	const struct http_req *req;
	struct http_resp *resp;
	CURL *easy;
	struct curl_slist *hdrs, *resolve;
	enum slot_state state;
	int tries, delivered;
	long long start_ms; /* the first try: the retry budget runs from here */
	long long next_ms;  /* waiting: not before this time */
	long long sent_ms;  /* running: since when */
	CURLcode cc;
	char errbuf[CURL_ERROR_SIZE]; /* curl's detail: its strerror is compiled out */
};

int http_init(void)
{
	static const char *const bundles[] = {
		"/etc/ssl/certs/ca-certificates.crt", /* Debian, Alpine */
		"/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
		"/etc/ssl/cert.pem",                  /* BSDs, macOS */
		NULL,
	};
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		warnx_("unable to initialise libcurl");
		return -1;
	}
	ca_file = getenv("SSL_CERT_FILE");
	if (!ca_file || !*ca_file)
		ca_file = getenv("CURL_CA_BUNDLE");
	if (ca_file && !*ca_file)
		ca_file = NULL;
	for (int i = 0; !ca_file && bundles[i]; i++) {
		FILE *f = fopen(bundles[i], "r");
		if (f) {
			fclose(f);
			ca_file = bundles[i];
		}
	}
	roots_blob.data = (void *)legion_roots_pem;
	roots_blob.len = sizeof legion_roots_pem - 1;
	roots_blob.flags = CURL_BLOB_NOCOPY;
	multi = curl_multi_init();
	if (!multi) {
		warnx_("unable to initialise libcurl");
		return -1;
	}
	return 0;
}

void http_thread_end(void)
{
	if (multi)
		curl_multi_cleanup(multi);
	multi = NULL;
}

void http_cleanup(void)
{
	if (multi)
		curl_multi_cleanup(multi);
	multi = NULL;
	curl_global_cleanup();
}

void http_resp_free(struct http_resp *r)
{
	buf_free(&r->body);
}

/* Sets r->err; truncates quietly (messages are for people). */
static void errf(struct http_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errf(struct http_resp *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
}

static void resp_reset(struct http_resp *r)
{
	http_resp_free(r);
	r->status = 0;
	r->retry_after = -1;
	r->err[0] = '\0';
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;
	size_t len = size * n;
	if (s->req->on_data) {
		long code = 0;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300) {
			s->delivered = 1;
			return s->req->on_data(s->req->arg, p, len) ? 0 : len;
		}
	}
	if (buf_add(&s->resp->body, p, len) < 0) {
		snprintf(s->resp->err, sizeof s->resp->err, "response body larger than %zu bytes",
			 s->resp->body.max);
		return 0;
	}
	return len;
}

static char *header_value(const char *p, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(p, name, k) || p[k] != ':')
		return NULL;
	p += k + 1;
	n -= k + 1;
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
		n--;
	char *v = malloc(n + 1);
	if (v) {
		memcpy(v, p, n);
		v[n] = '\0';
	}
	return v;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;
	size_t len = size * n;
	char *v;
	if (s->req->on_head && s->req->on_head(s->req->arg, p, len))
		return 0;
	if (len > 5 && !strncmp(p, "HTTP/", 5)) { /* a new response: forget the last */
		s->resp->retry_after = -1;
	} else if ((v = header_value(p, len, "Retry-After"))) {
		long long secs;
		if (parse_int(v, 0, 86400, &secs) == 0)
			s->resp->retry_after = secs;
		free(v);
	}
	return len;
}

/* The URL for messages: without its query (SAS tokens live there). */
static void url_for_humans(const char *url, char *out, size_t n)
{
	size_t k = strcspn(url, "?");
	if (k >= n)
		k = n - 1;
	memcpy(out, url, k);
	out[k] = '\0';
}

/* Every override in one place. */
static int setup(struct slot *s)
{
	const struct http_req *q = s->req;
	CURL *e = s->easy ? s->easy : curl_easy_init();
	if (!e)
		return -1;
	s->easy = e;
	curl_easy_reset(e);
	curl_slist_free_all(s->hdrs);
	curl_slist_free_all(s->resolve);
	s->hdrs = s->resolve = NULL;
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "legion/" LEGION_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 15000L);
	long t = q->timeout_ms ? q->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (t > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t);
	else { /* a stream: only give up when nothing arrives for a long while */
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 300L);
	}
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	s->errbuf[0] = '\0';
	if (q->ca_pem) { /* pinned: trust exactly this, nothing else */
		/* BearSSL's PEM reader wants the last line ended: environment values and
		 * $(cat) lose that newline */
		size_t n = strlen(q->ca_pem);
		char *pem = malloc(n + 2);
		if (!pem)
			return -1;
		memcpy(pem, q->ca_pem, n);
		if (n == 0 || pem[n - 1] != '\n')
			pem[n++] = '\n';
		pem[n] = '\0';
		struct curl_blob b = {pem, n, CURL_BLOB_COPY};
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
		free(pem);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	} else if (ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
	} else {
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &roots_blob);
	}
	if (q->resolve) {
		s->resolve = curl_slist_append(NULL, q->resolve);
		if (!s->resolve)
			return -1;
		curl_easy_setopt(e, CURLOPT_RESOLVE, s->resolve);
	}
	s->hdrs = curl_slist_append(NULL, "Expect:");
	for (const char *const *h = q->headers; s->hdrs && h && *h; h++)
		s->hdrs = curl_slist_append(s->hdrs, *h);
	if (!s->hdrs)
		return -1;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
	const char *m = q->method ? q->method : "GET";
	if (!strcmp(m, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(m, "GET"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	if (q->body || strcmp(m, "GET")) {
		if (strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "DELETE")) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body ? q->body : "");
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)(q->body ? q->body_len : 0));
		}
	}
	s->resp->body.max = q->max_body ? q->max_body : DEFAULT_MAX_BODY;
	return 0;
}

static int retryable(const struct slot *s)
{
	if (s->delivered)
		return 0; /* a stream already handed bytes on: cannot take them back */
	if (s->cc != CURLE_OK) {
		switch (s->cc) {
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2: return 1;
		default: return 0;
		}
	}
	long st = s->resp->status;
	return st == 429 || st == 408 || (st >= 500 && st != 501 && st != 505);
}

/* Milliseconds before the next try: Retry-After when the server gave one, else
 * exponential backoff with jitter (half to all of the step). */
static long long backoff_ms(const struct slot *s)
{
	if (s->resp->retry_after >= 0) {
		long long ra = s->resp->retry_after;
		if (ra > RETRY_AFTER_MAX_S)
			ra = RETRY_AFTER_MAX_S;
		return ra * 1000;
	}
	long long step = (long long)BACKOFF_BASE_MS << (s->tries - 1 < 10 ? s->tries - 1 : 10);
	if (step > BACKOFF_MAX_MS)
		step = BACKOFF_MAX_MS;
	unsigned r = 0;
	random_bytes(&r, sizeof r);
	return step / 2 + (long long)(r % (unsigned)(step / 2 + 1));
}

static void note(const struct slot *s, const char *what)
{
	char u[512];
	if (!verbose)
		return;
	url_for_humans(s->req->url, u, sizeof u);
	if (s->req->redact && *s->req->redact && strstr(u, s->req->redact))
		snprintf(u, sizeof u, "(url withheld)");
	fprintf(stderr, "%s: %s %s %s", progname, what, s->req->method ? s->req->method : "GET", u);
	if (!strcmp(what, "<"))
		fprintf(stderr, " -> %ld (%lld ms)", s->resp->status, now_ms() - s->sent_ms);
	fputc('\n', stderr);
}

static int start(struct slot *s)
{
	resp_reset(s->resp);
	s->delivered = 0;
	if (setup(s) < 0 || curl_multi_add_handle(multi, s->easy) != CURLM_OK) {
		snprintf(s->resp->err, sizeof s->resp->err, "out of memory");
		s->state = SLOT_DONE;
		return -1;
	}
	s->state = SLOT_RUNNING;
	s->resp->sent = 1;
	if (s->tries++ == 0)
		s->start_ms = now_ms(); /* the retry budget runs from the first try */
	s->sent_ms = now_ms();
	note(s, ">");
	return 0;
}

/* Why a transfer failed, for people, into out: libcurl is built with
 * --disable-verbose, so curl_easy_strerror says only "Error"; its error buffer still
 * has the detail. */
static const char *why_failed(const struct slot *s, char *out, size_t n)
{
	const char *what;
	switch (s->cc) {
	case CURLE_COULDNT_RESOLVE_HOST: what = "could not resolve the host name"; break;
	case CURLE_COULDNT_RESOLVE_PROXY: what = "could not resolve the proxy"; break;
	case CURLE_COULDNT_CONNECT: what = "could not connect"; break;
	case CURLE_OPERATION_TIMEDOUT: what = "timed out"; break;
	case CURLE_PEER_FAILED_VERIFICATION:
		what = "the server's certificate was not accepted";
		break;
	case CURLE_SSL_CONNECT_ERROR: what = "the TLS handshake failed"; break;
	case CURLE_SSL_CACERT_BADFILE: what = "unable to load the CA certificates"; break;
	case CURLE_GOT_NOTHING: what = "the server closed the connection without answering"; break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR: what = "the connection broke"; break;
	case CURLE_PARTIAL_FILE: what = "the answer was cut short"; break;
	default: what = curl_easy_strerror(s->cc); break;
	}
	size_t k = strlen(s->errbuf);
	while (k > 0 && (s->errbuf[k - 1] == '\n' || s->errbuf[k - 1] == ' '))
		k--;
	if (k >= 7 && !memcmp(s->errbuf + k - 7, ": Error", 7))
		k -= 7; /* curl appends its (compiled-out) strerror */
	if (k)
		snprintf(out, n, "%s (%.*s)", what, (int)k, s->errbuf);
	else
		snprintf(out, n, "%s", what);
	return out;
}

/* A transfer ended: finish the slot or schedule its next try. */
static void finished(struct slot *s, CURLcode cc)
{
	char why[sizeof s->resp->err];
	curl_multi_remove_handle(multi, s->easy);
	s->cc = cc;
	long code = 0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	s->resp->status = code;
	if (cc == CURLE_OK)
		note(s, "<");
	else if (verbose)
		fprintf(stderr, "%s: < %s\n", progname, why_failed(s, why, sizeof why));
	int max = s->req->tries > 0 ? s->req->tries : DEFAULT_TRIES;
	long long wait = retryable(s) ? backoff_ms(s) : -1;
	/* throttled (429) is "come back later", not a failure: more tries, same budget */
	if (code == 429 && max > 1)
		max += THROTTLE_TRIES;
	if (wait >= 0 && s->tries < max && !http_stop &&
	    now_ms() + wait - s->start_ms <= RETRY_BUDGET_MS) {
		s->next_ms = now_ms() + wait;
		s->state = SLOT_WAITING;
		if (verbose)
			fprintf(stderr, "%s: retrying in %lld ms (try %d of %d)\n", progname, wait,
				s->tries + 1, max);
		return;
	}
	s->state = SLOT_DONE;
	if (cc != CURLE_OK) {
		char u[256];
		url_for_humans(s->req->url, u, sizeof u);
		if (s->resp->err[0])
			snprintf(why, sizeof why, "%s", s->resp->err);
		else
			why_failed(s, why, sizeof why);
		errf(s->resp, "%s %s: %s", s->req->method ? s->req->method : "GET", u, why);
		s->resp->status = 0;
	} else if (code >= 400) {
		char u[256];
		url_for_humans(s->req->url, u, sizeof u);
		errf(s->resp, "%s %s: HTTP %ld", s->req->method ? s->req->method : "GET", u, code);
		if (s->req->explain)
			s->req->explain(s->resp);
	}
}

/* Ctrl-C: every slot not done ends "interrupted", in flight or not. */
static void interrupt_all(struct slot *s, int n)
{
	for (int i = 0; i < n; i++) {
		if (s[i].state == SLOT_DONE)
			continue;
		if (s[i].state == SLOT_RUNNING)
			curl_multi_remove_handle(multi, s[i].easy);
		snprintf(s[i].resp->err, sizeof s[i].resp->err, "interrupted");
		s[i].resp->status = 0;
		s[i].state = SLOT_DONE;
	}
}

/* How a fan-out paces itself: a 429 drops it to one at a time and holds every start
 * back until its Retry-After; each round of successes lets one more run, once the
 * server has had a second to refill what it refused. */
static void pace(struct http_throttle *t, const struct slot *x, int parallel, int *grown)
{
	if (x->resp->status == 429) {
		t->limit = 1;
		*grown = 0;
		if (x->state == SLOT_WAITING && x->next_ms > t->hold_ms)
			t->hold_ms = x->next_ms;
	} else if (x->resp->status > 0 && x->resp->status < 400 && t->limit < parallel &&
		   now_ms() > t->hold_ms + 1000 && ++*grown >= t->limit) {
		t->limit++;
		*grown = 0;
	}
}

/* Starts waiting slots that are due, up to the limit; returns how many run. */
static int start_due(struct slot *s, int n, int active, const struct http_throttle *t)
{
	long long now = now_ms();
	for (int i = 0; i < n && active < t->limit; i++)
		if (s[i].state == SLOT_WAITING && s[i].next_ms <= now && t->hold_ms <= now &&
		    start(&s[i]) == 0)
			active++;
	return active;
}

/* Waits until the next due retry or until a transfer moves (at most 100 ms while any
 * runs). */
static void wait_some(const struct slot *s, int n, int active, const struct http_throttle *t)
{
	long long now = now_ms(), wake = now + 1000;
	for (int i = 0; i < n; i++)
		if (s[i].state == SLOT_WAITING) {
			long long due = t->hold_ms > s[i].next_ms ? t->hold_ms : s[i].next_ms;
			if (due < wake)
				wake = due;
		}
	long long ms = wake - now;
	if (active >= t->limit || (active > 0 && ms > 100))
		ms = 100;
	if (ms <= 0)
		return;
	if (active > 0)
		curl_multi_poll(multi, NULL, 0, (int)ms, NULL);
	else
		sleep_ms(ms, &http_stop);
}

int http_do_many(const struct http_req *reqs, struct http_resp *resps, int n, int parallel,
		 struct http_throttle *carry)
{
	if (n <= 0)
		return 0;
	if (parallel < 1)
		parallel = 1;
	struct slot *s = calloc((size_t)n, sizeof *s);
	if (!s) {
		warnx_("out of memory");
		return n;
	}
	long long t0 = now_ms();
	for (int i = 0; i < n; i++) {
		s[i].req = &reqs[i];
		s[i].resp = &resps[i];
		memset(&resps[i], 0, sizeof resps[i]);
		resps[i].retry_after = -1;
		s[i].start_ms = s[i].next_ms = t0;
	}
	if (!multi && !(multi = curl_multi_init())) {
		warnx_("unable to initialise libcurl");
		free(s);
		return n;
	}
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 64L);
	/* a server that throttled the caller's last fan-out a moment ago still does */
	struct http_throttle t = {parallel, 0};
	if (carry && carry->limit > 0 && carry->limit < parallel)
		t.limit = carry->limit;
	if (carry)
		t.hold_ms = carry->hold_ms;
	int active = 0, grown = 0;
	for (;;) {
		if (http_stop) {
			interrupt_all(s, n);
			break;
		}
		active = start_due(s, n, active, &t);
		int running = 0, q, left = 0;
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(multi, &q))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct slot *x;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			active--;
			finished(x, msg->data.result);
			pace(&t, x, parallel, &grown);
		}
		for (int i = 0; i < n; i++)
			left += s[i].state != SLOT_DONE;
		if (left == 0)
			break;
		wait_some(s, n, active, &t);
	}
	if (carry && (n > 1 || t.limit < parallel)) { /* a lone request says nothing of a
						       * fan-out */
		carry->limit = t.limit < parallel ? t.limit : 0;
		carry->hold_ms = t.hold_ms;
	}
	int failed = 0;
	for (int i = 0; i < n; i++) {
		if (resps[i].status == 0)
			failed++;
		/* keep handles: connections stay in the multi's cache for reuse */
		if (s[i].easy)
			curl_easy_cleanup(s[i].easy);
		curl_slist_free_all(s[i].hdrs);
		curl_slist_free_all(s[i].resolve);
	}
	free(s);
	return failed;
}

int http_do(const struct http_req *req, struct http_resp *resp)
{
	return http_do_many(req, resp, 1, 1, NULL) ? -1 : 0;
}

int http_bearer(char *out, size_t n, const char *token)
{
	int k = snprintf(out, n, "Authorization: Bearer %s", token ? token : "");
	return k < 0 || (size_t)k >= n ? -1 : 0;
}

void http_explain_json(struct http_resp *r, const char *code_path, const char *msg_path)
{
	struct json j = {0};
	char code[96] = "", msg[160] = "";
	if (r->body.p && json_parse(&j, r->body.p, r->body.len, NULL) == 0) {
		json_strcpy(&j, json_path(&j, 0, code_path), code, sizeof code);
		char *d = json_str(&j, json_path(&j, 0, msg_path));
		if (d) {
			d[strcspn(d, "\r\n")] = '\0';
			snprintf(msg, sizeof msg, "%s", d);
			free(d);
		}
	}
	json_free(&j);
	http_err_append(r, code, msg);
}

void http_explain_error(struct http_resp *r)
{
	http_explain_json(r, "error.code", "error.message");
}

void http_err_append(struct http_resp *r, const char *code, const char *msg)
{
	size_t k = strlen(r->err);
	if (code && *code)
		snprintf(r->err + k, sizeof r->err - k, " %s%s%s", code, msg && *msg ? ": " : "",
			 msg && *msg ? msg : "");
	else if (msg && *msg)
		snprintf(r->err + k, sizeof r->err - k, ": %s", msg);
	for (char *c = r->err + k; *c; c++) /* a server's text stays on one line */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
}
