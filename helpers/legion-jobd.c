/*
 * helpers/legion-jobd: the master's job daemon. It starts Spark's master, serves the job
 * API over TLS to holders of the cluster token, runs one spark-submit at a time (its
 * output kept on disk as NDJSON) and exits when idle. Leaves out HTTP keep-alive and
 * chunked request bodies (one request per connection, Content-Length only), and never
 * interprets an app: its bytes and arguments are data handed to spark-submit.
 *
 * Exit codes: 0 idle exit; 64 usage; 69 unable to listen, or Spark's master failed;
 * 70 internal error; 73 unable to write in WORKDIR; 78 configuration missing;
 * 130 / 143 after SIGINT / SIGTERM (jobs and the master stopped first).
 */
#include "legion.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#define USAGE "usage: legion-jobd [-v] [-p PORT] [-i IDLE_SECS] [-d WORKDIR]"
static const char EXITS[] =
	"exit: 0 idle; 64 usage; 69 cannot listen, or the Spark master failed;\n"
	"      70 internal error; 73 WORKDIR not writable; 78 configuration missing;\n"
	"      130 / 143 after SIGINT / SIGTERM";

#define HDR_MAX 8192                    /* request line + headers */
#define BODY_MAX_JOB ((size_t)96 << 20) /* POST /v1/jobs: a ~64 MiB app in base64 */
#define BODY_MAX ((size_t)64 << 10)     /* every other request */
#define HDR_DEADLINE_MS 10000           /* whole request head */
#define IO_TIMEOUT_MS 30000             /* any single wait on a socket */
#define BODY_DEADLINE_MS (10 * 60000)   /* whole request body */
#define MAX_CONNS 64
#define MAX_JOBS 1000
#define MAX_WORKERS 1024
#define MAX_ARGS 1024
#define MAX_FILES 256
#define LINE_MAX_BYTES 16384          /* longer output lines are split */
#define LOG_MAX ((long long)64 << 20) /* per job, on disk */
#define KILL_GRACE_MS 5000            /* SIGTERM, then SIGKILL */
#define MASTER_GRACE_MS 10000
#define LINGER_MS 15000 /* idle exit: time to tell heartbeating workers to stop */
#define THREAD_STACK (256 << 10)
#define KEEPALIVE_MS 30000 /* a silent job's log stream sends a blank line this often */

/* ---- configuration (set in main, read-only afterwards) ------------------------------ */

static struct {
	char host[256], addr[64], tls_name[256], cluster[64];
	int port;
	long long idle_s;
	char workdir[PATH_MAX], props[PATH_MAX + 32], spark_home[PATH_MAX];
	char *token;     /* owned copy; scrubbed from the environment */
	struct buf base; /* the properties every Spark process gets (has the secret) */
	char **env;      /* environment for Spark processes: secrets removed */
	struct tls_server *tls;
} cfg;

/* ---- shared state: one mutex, one condition for every change ---------------------- */

enum jstate { J_QUEUED, J_RUNNING, J_SUCCEEDED, J_FAILED, J_KILLED };
static const char *const jstate_name[] = {"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "KILLED"};

struct job {
	int id;
	char name[128];
	char app[256];
	enum jstate state;
	int exit_code;     /* -1 until it ended (and when killed before it started) */
	char **argv;       /* spark-submit command, owned */
	char *dir;         /* owned */
	pid_t pid;         /* its process group while running */
	long long kill_ms; /* when DELETE or shutdown sent SIGTERM, 0 = not asked */
	long long submitted, started, ended; /* unix seconds */
	long long log_len;                   /* NDJSON bytes in dir/log.ndjson */
	struct job *next;
};

struct worker {
	char name[128], host[256];
	long long cores, memory_mb, executors;
	long long seen_ms, seen_unix;
	int told_stop;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *jobs, *last;
	int njobs, next_id;
	struct worker *workers;
	int nworkers;
	int stopping;         /* no new jobs; heartbeats answer stop */
	int quit;             /* the runner and log streams end */
	long long idle_since; /* now_ms() when the last job ended, or start */
	int conns;
	pid_t master;
} st = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static pthread_mutex_t http_mu = PTHREAD_MUTEX_INITIALIZER; /* http.c is single-threaded */
static volatile sig_atomic_t got_signal;

static void lock(void)
{
	pthread_mutex_lock(&st.mu);
}

static void unlock(void)
{
	pthread_mutex_unlock(&st.mu);
}

static void changed(void)
{
	pthread_cond_broadcast(&st.cv);
}

/* 1 while a job waits or runs (call with the lock held). */
static int jobs_busy(void)
{
	for (struct job *j = st.jobs; j; j = j->next)
		if (j->state <= J_RUNNING)
			return 1;
	return 0;
}

/* Waits for a change, at most ms. */
static void wait_change(long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&st.cv, &st.mu, &ts);
}

/* ---- processes ------------------------------------------------------------------------ */

/* Starts argv in its own process group in cwd with stdin from /dev/null and stdout,
 * stderr on out, err. Everything the child needs is ready before fork: after it, only
 * async-signal-safe calls. Returns the pid (= process group), or -1. */
static pid_t spawn(char *const argv[], const char *cwd, int out, int err)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		warn_("unable to open /dev/null");
		return -1;
	}
	struct rlimit rl;
	int maxfd = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		maxfd = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	pid_t pid = fork();
	if (pid < 0) {
		warn_("unable to fork");
		close(devnull);
		return -1;
	}
	if (pid == 0) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigset_t none;
		sigemptyset(&dfl.sa_mask);
		sigemptyset(&none);
		sigaction(SIGPIPE, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		for (int fd = 3; fd < maxfd; fd++)
			close(fd); /* sockets accepted by other threads may lack FD_CLOEXEC yet */
		if (cwd && chdir(cwd) < 0)
			_exit(126);
		execve(argv[0], argv, cfg.env);
		static const char msg[] = "legion-jobd: fatal: unable to run spark: exec failed\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
		_exit(errno == ENOENT ? 127 : 126);
	}
	setpgid(pid, pid); /* also here: no window where a kill of the group misses it */
	close(devnull);
	return pid;
}

static void set_cloexec(int fd)
{
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Removes everything inside dir (recursively) but the entry named keep (NULL: none);
 * dir itself stays. */
static void rm_files(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[PATH_MAX];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (keep && !strcmp(e->d_name, keep)))
			continue;
		if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
			continue;
		struct stat sb;
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			rm_files(p, NULL);
			rmdir(p);
		} else
			unlink(p);
	}
	closedir(d);
}

/* ---- the Spark master ------------------------------------------------------------------ */

static int start_master(void)
{
	char bin[PATH_MAX + 32], log[PATH_MAX + 16];
	snprintf(bin, sizeof bin, "%s/bin/spark-class", cfg.spark_home);
	snprintf(log, sizeof log, "%s/master.log", cfg.workdir);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		warn_("fatal: unable to open %s", log);
		return -1;
	}
	char *argv[] = {bin,
			"org.apache.spark.deploy.master.Master",
			"--host",
			cfg.host,
			"--port",
			"7077",
			"--webui-port",
			"8080",
			"--properties-file",
			cfg.props,
			NULL};
	pid_t pid = spawn(argv, cfg.workdir, fd, fd);
	close(fd);
	if (pid < 0)
		return -1;
	lock();
	st.master = pid;
	unlock();
	warnx_("spark master starting: spark://%s:7077 (pid %d, log %s)", cfg.host, (int)pid, log);
	return 0;
}

/* The last lines of the master's log on stderr, when it died on us. */
static void tail_master_log(void)
{
	char log[PATH_MAX + 16];
	struct buf b = {0};
	snprintf(log, sizeof log, "%s/master.log", cfg.workdir);
	if (read_file(log, (size_t)16 << 20, &b) == 0 && b.len) {
		size_t start = b.len > 2048 ? b.len - 2048 : 0;
		fprintf(stderr, "%s: last lines of %s:\n%s\n", progname, log, b.p + start);
	}
	buf_free(&b);
}

/* ---- job output: lines from pipes into NDJSON on disk ------------------------------- */

/* Appends s[0..n) to out as valid UTF-8: each invalid byte becomes U+FFFD. */
static int add_utf8(struct buf *out, const unsigned char *s, size_t n)
{
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k = c < 0x80         ? 1
			   : (c >> 5) == 6  ? 2
			   : (c >> 4) == 14 ? 3
			   : (c >> 3) == 30 ? 4
					    : 0;
		int ok = k > 0 && i + k <= n;
		for (size_t m = 1; ok && m < k; m++)
			ok = (s[i + m] & 0xc0) == 0x80;
		if (ok && k > 1) { /* no overlong forms, surrogates or values past U+10FFFF */
			unsigned cp = k == 2 ? c & 0x1f : k == 3 ? c & 0x0f : c & 0x07;
			for (size_t m = 1; m < k; m++)
				cp = (cp << 6) | (s[i + m] & 0x3f);
			ok = (k == 2 && cp >= 0x80) ||
			     (k == 3 && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) ||
			     (k == 4 && cp >= 0x10000 && cp <= 0x10ffff);
		}
		if (ok) {
			i += k;
			continue;
		}
		if (buf_add(out, s + run, i - run) < 0 || buf_add(out, "\xef\xbf\xbd", 3) < 0)
			return -1;
		run = ++i;
	}
	return buf_add(out, s + run, n - run);
}

struct stream {
	const char *name; /* "stdout" or "stderr" */
	int fd;
	char line[LINE_MAX_BYTES];
	size_t n;
};

struct joblog {
	struct job *job;
	int fd;
	long long len; /* bytes written */
	int truncated;
	struct buf rec, text; /* scratch */
};

/* Writes one NDJSON record to the log (unless the log is full). */
static void log_line(struct joblog *l, const char *stream, const char *p, size_t n)
{
	if (n && p[n - 1] == '\r')
		n--;
	l->rec.len = l->text.len = 0;
	if (l->truncated)
		return;
	if (add_utf8(&l->text, (const unsigned char *)p, n) < 0 ||
	    buf_addf(&l->rec, "{\"stream\":\"%s\",\"line\":", stream) < 0 ||
	    json_quote(&l->rec, l->text.p ? l->text.p : "", l->text.len) < 0 ||
	    buf_adds(&l->rec, "}\n") < 0)
		return;
	if (l->len + (long long)l->rec.len > LOG_MAX) {
		static const char note[] = "{\"stream\":\"stderr\","
					   "\"line\":\"legion-jobd: log truncated at 64 MiB\"}\n";
		l->truncated = 1;
		if (write(l->fd, note, sizeof note - 1) == (ssize_t)(sizeof note - 1))
			l->len += (long long)sizeof note - 1;
		return;
	}
	const char *q = l->rec.p;
	size_t left = l->rec.len;
	while (left > 0) {
		ssize_t w = write(l->fd, q, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			l->truncated = 1; /* disk full: stop logging, keep running */
			return;
		}
		q += w;
		left -= (size_t)w;
		l->len += w;
	}
}

/* Reads what fd has; splits it into lines. Returns 0, or -1 at end of file. */
static int drain(struct joblog *l, struct stream *s)
{
	char chunk[8192];
	ssize_t r = read(s->fd, chunk, sizeof chunk);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r <= 0) {
		if (s->n)
			log_line(l, s->name, s->line, s->n);
		s->n = 0;
		return -1;
	}
	for (ssize_t i = 0; i < r; i++) {
		if (chunk[i] == '\n') {
			log_line(l, s->name, s->line, s->n);
			s->n = 0;
		} else {
			if (s->n == sizeof s->line) {
				log_line(l, s->name, s->line, s->n);
				s->n = 0;
			}
			s->line[s->n++] = chunk[i];
		}
	}
	return 0;
}

/* Runs j to its end: output to the log, final state set. Called without the lock. */
static void run_job(struct job *j)
{
	char path[PATH_MAX + 32];
	int p1[2] = {-1, -1}, p2[2] = {-1, -1}, status = 0, have_status = 0;
	struct stream so = {.name = "stdout", .fd = -1}, se = {.name = "stderr", .fd = -1};
	struct joblog l = {.job = j, .fd = -1};
	pid_t pid = -1;

	snprintf(path, sizeof path, "%s/log.ndjson", j->dir);
	l.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (l.fd < 0 || pipe(p1) < 0 || pipe(p2) < 0) {
		warn_("%s: unable to set up its output", path);
		status = 70 << 8;
		have_status = 1;
		goto done;
	}
	set_cloexec(p1[0]);
	set_cloexec(p2[0]);
	set_cloexec(p1[1]);
	set_cloexec(p2[1]);
	pid = spawn(j->argv, j->dir, p1[1], p2[1]);
	close(p1[1]);
	close(p2[1]);
	p1[1] = p2[1] = -1;
	so.fd = p1[0];
	se.fd = p2[0];
	p1[0] = p2[0] = -1; /* closed through so and se from here on */
	if (pid < 0) {
		status = 70 << 8;
		have_status = 1;
		goto done;
	}
	lock();
	j->pid = pid;
	if (j->kill_ms) /* a DELETE came in while it was starting */
		kill(-pid, SIGTERM);
	unlock();
	warnx_("job-%d started (pid %d): %s", j->id, (int)pid, j->app);

	long long exited_ms = 0;
	while (so.fd >= 0 || se.fd >= 0) {
		struct pollfd pf[2] = {{.fd = so.fd, .events = POLLIN},
				       {.fd = se.fd, .events = POLLIN}};
		int r = poll(pf, 2, 250);
		long long before = l.len;
		for (int k = 0; r > 0 && k < 2; k++) {
			struct stream *s = k ? &se : &so;
			if (s->fd >= 0 && (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    drain(&l, s) < 0) {
				close(s->fd);
				s->fd = -1;
			}
		}
		lock();
		if (l.len != before) {
			j->log_len = l.len;
			changed();
		}
		if (j->kill_ms && now_ms() - j->kill_ms > KILL_GRACE_MS)
			kill(-pid, SIGKILL);
		unlock();
		if (!have_status && waitpid(pid, &status, WNOHANG) == pid) {
			have_status = 1;
			exited_ms = now_ms();
		}
		/* the driver is gone but something it started holds the pipes open */
		if (have_status && now_ms() - exited_ms > 2000) {
			kill(-pid, SIGKILL);
			if (now_ms() - exited_ms > 4000)
				break;
		}
	}
	if (!have_status) {
		for (;;) {
			pid_t r = waitpid(pid, &status, WNOHANG);
			if (r == pid || (r < 0 && errno != EINTR))
				break;
			lock();
			if (j->kill_ms && now_ms() - j->kill_ms > KILL_GRACE_MS)
				kill(-pid, SIGKILL);
			unlock();
			sleep_ms(50, NULL);
		}
	}
	kill(-pid, SIGKILL); /* nothing of the job outlives it */
done:
	for (int k = 0; k < 2; k++) {
		if (p1[k] >= 0)
			close(p1[k]);
		if (p2[k] >= 0)
			close(p2[k]);
	}
	if (so.fd >= 0)
		close(so.fd);
	if (se.fd >= 0)
		close(se.fd);
	if (l.fd >= 0)
		close(l.fd);
	buf_free(&l.rec);
	buf_free(&l.text);
	/* the app and its properties (with the secret) go; the log stays */
	rm_files(j->dir, "log.ndjson");
	lock();
	j->pid = 0;
	j->log_len = l.len;
	j->exit_code = exit_status(status);
	j->state = j->kill_ms ? J_KILLED : j->exit_code == 0 ? J_SUCCEEDED : J_FAILED;
	j->ended = (long long)time(NULL);
	st.idle_since = now_ms();
	changed();
	unlock();
	warnx_("job-%d %s (exit code %d)", j->id, jstate_name[j->state], j->exit_code);
}

static void *runner(void *arg)
{
	(void)arg;
	lock();
	for (;;) {
		struct job *j = NULL;
		for (struct job *k = st.jobs; k && !j; k = k->next)
			if (k->state == J_QUEUED)
				j = k;
		if (st.quit) {
			for (struct job *k = st.jobs; k; k = k->next)
				if (k->state == J_QUEUED) {
					k->state = J_KILLED;
					k->ended = (long long)time(NULL);
					rm_files(k->dir, "log.ndjson");
				}
			changed();
			break;
		}
		if (!j) {
			wait_change(1000);
			continue;
		}
		j->state = J_RUNNING;
		j->started = (long long)time(NULL);
		changed();
		unlock();
		run_job(j);
		lock();
	}
	unlock();
	return NULL;
}

/* ---- HTTP over TLS: one request per connection ------------------------------------ */

struct req {
	struct tls_conn *c;
	int fd;
	char head[HDR_MAX + 1];
	size_t hlen, hend;
	char method[16], path[512], query[512];
	const char *auth;
	long long clen;
	int expect100, chunked, http10;
	struct buf body;
	int status; /* sent, for the access log */
};

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static int send_head(struct req *r, int status, const char *ctype, long long len, const char *extra)
{
	char h[768];
	int n = snprintf(h, sizeof h,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
			 "Connection: close\r\n%s",
			 status, reason(status), ctype, extra ? extra : "");
	if (len >= 0)
		n += snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %lld\r\n\r\n", len);
	else if (!r->http10)
		n += snprintf(h + n, sizeof h - (size_t)n, "Transfer-Encoding: chunked\r\n\r\n");
	else
		n += snprintf(h + n, sizeof h - (size_t)n, "\r\n");
	r->status = status;
	return tls_write(r->c, h, (size_t)n);
}

static void reply_json(struct req *r, int status, const char *json, size_t n, const char *extra)
{
	if (send_head(r, status, "application/json", (long long)n + 1, extra) == 0 &&
	    tls_write(r->c, json, n) == 0 && tls_write(r->c, "\n", 1) == 0)
		tls_flush(r->c);
}

static void reply_doc(struct req *r, int status, struct jw *w, const char *extra)
{
	size_t n;
	char *doc = jw_finish(w, &n);
	if (!doc) {
		static const char oom[] =
			"{\"error\":{\"code\":\"InternalError\",\"message\":\"out of memory\"}}";
		reply_json(r, 500, oom, sizeof oom - 1, NULL);
		return;
	}
	reply_json(r, status, doc, n, extra);
	free(doc);
}

static void reply_err(struct req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void reply_err(struct req *r, int status, const char *code, const char *fmt, ...)
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
	reply_doc(r, status, &w, extra);
}

/* Reads the request head. Returns 0 when complete, -1 when the client went away or
 * timed out (nothing to answer), 1 after an error reply. */
static int read_head(struct req *r)
{
	long long end = now_ms() + HDR_DEADLINE_MS;
	size_t from = 0; /* where the bytes not yet searched begin (less 3: "\r\n\r\n") */
	for (;;) {
		r->head[r->hlen] = '\0';
		char *e = strstr(r->head + from, "\r\n\r\n");
		if (e) {
			r->hend = (size_t)(e - r->head) + 4;
			return 0;
		}
		if (memchr(r->head + from, '\0', r->hlen - from)) {
			reply_err(r, 400, "BadRequest", "NUL byte in the request head");
			return 1;
		}
		if (r->hlen >= HDR_MAX) {
			reply_err(r, 431, "HeadersTooLarge", "request head larger than %d bytes",
				  HDR_MAX);
			return 1;
		}
		long long left = end - now_ms();
		if (left <= 0)
			return -1;
		tls_set_timeout(r->c, (long)left);
		ssize_t n = tls_read(r->c, r->head + r->hlen, HDR_MAX - r->hlen);
		if (n <= 0)
			return -1;
		from = r->hlen > 3 ? r->hlen - 3 : 0;
		r->hlen += (size_t)n;
	}
}

/* Parses the request line and the headers we use. 0, or 1 after an error reply. */
static int parse_head(struct req *r)
{
	char *line = r->head, *eol = strstr(line, "\r\n");
	*eol = '\0';
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line ||
	    (size_t)(sp1 - line) >= sizeof r->method) {
		reply_err(r, 400, "BadRequest", "malformed request line");
		return 1;
	}
	memcpy(r->method, line, (size_t)(sp1 - line));
	r->method[sp1 - line] = '\0';
	for (char *m = r->method; *m; m++)
		if (*m < 'A' || *m > 'Z') {
			reply_err(r, 400, "BadRequest", "malformed method");
			return 1;
		}
	if (!strcmp(sp2 + 1, "HTTP/1.0"))
		r->http10 = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.1")) {
		reply_err(r, 505, "VersionNotSupported", "HTTP/1.1 or HTTP/1.0 only");
		return 1;
	}
	*sp2 = '\0';
	char *target = sp1 + 1, *q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	if (strlen(target) >= sizeof r->path || (q && strlen(q) >= sizeof r->query)) {
		reply_err(r, 414, "UriTooLong", "request target too long");
		return 1;
	}
	strcpy(r->path, target);
	strcpy(r->query, q ? q : "");
	r->clen = -1;
	for (line = eol + 2; *line && strncmp(line, "\r\n", 2); line = eol + 2) {
		eol = strstr(line, "\r\n");
		*eol = '\0';
		char *colon = strchr(line, ':');
		if (!colon || colon == line || *line == ' ' || *line == '\t') {
			reply_err(r, 400, "BadRequest", "malformed header line");
			return 1;
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
				reply_err(r, 400, "BadRequest", "bad Content-Length");
				return 1;
			}
			r->clen = n;
		} else if (!strcasecmp(line, "Transfer-Encoding"))
			r->chunked = 1;
		else if (!strcasecmp(line, "Expect") && !strcasecmp(v, "100-continue"))
			r->expect100 = 1;
	}
	return 0;
}

/* Constant-time check of "Bearer <token>". */
static int authorized(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strlen(h), k = strlen(cfg.token);
	unsigned char diff = n != k;
	for (size_t i = 0; i < k; i++)
		diff |= (unsigned char)(cfg.token[i] ^ (i < n ? h[i] : 0));
	return diff == 0;
}

/* Reads the body (Content-Length bytes, at most max). 0, -1 client gone, 1 replied. */
static int read_body(struct req *r, size_t max)
{
	if (r->chunked || (r->clen < 0 && !strcmp(r->method, "POST"))) {
		reply_err(r, 411, "LengthRequired", "send the body with a Content-Length");
		return 1;
	}
	if (r->clen <= 0)
		return 0;
	if ((unsigned long long)r->clen > max) {
		reply_err(r, 413, "PayloadTooLarge", "body larger than %zu bytes", max);
		return 1;
	}
	size_t want = (size_t)r->clen, have = r->hlen - r->hend;
	/* the whole body at once: growing by doubling would take up to twice its size */
	r->body.p = malloc(want + 1);
	r->body.cap = r->body.p ? want + 1 : 0;
	r->body.max = want;
	if (!r->body.p || buf_add(&r->body, r->head + r->hend, have < want ? have : want) < 0) {
		reply_err(r, 500, "InternalError", "out of memory");
		return 1;
	}
	if (r->body.len < want && r->expect100) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (tls_write(r->c, cont, sizeof cont - 1) < 0 || tls_flush(r->c) < 0)
			return -1;
	}
	long long end = now_ms() + BODY_DEADLINE_MS;
	char chunk[16384];
	while (r->body.len < want) {
		long long left = end - now_ms();
		if (left <= 0)
			return -1;
		tls_set_timeout(r->c, left < IO_TIMEOUT_MS ? (long)left : IO_TIMEOUT_MS);
		size_t w = want - r->body.len;
		ssize_t n = tls_read(r->c, chunk, w < sizeof chunk ? w : sizeof chunk);
		if (n <= 0)
			return -1;
		if (buf_add(&r->body, chunk, (size_t)n) < 0) {
			reply_err(r, 500, "InternalError", "out of memory");
			return 1;
		}
	}
	tls_set_timeout(r->c, IO_TIMEOUT_MS);
	return 0;
}

/* The body as a JSON object, or an error reply (then returns -1). */
static int parse_json(struct req *r, struct json *j)
{
	char err[128] = "";
	int rc = json_parse(j, r->body.p ? r->body.p : "", r->body.len, err);
	if (rc == JSON_MORE)
		snprintf(err, sizeof err, "truncated JSON");
	if (rc != 0 || j->t[0].type != JSMN_OBJECT) {
		reply_err(r, 400, "BadJson", "%s", err[0] ? err : "the body must be a JSON object");
		return -1;
	}
	return 0;
}

/* ---- handlers ------------------------------------------------------------------------ */

static struct job *find_job(const char *id)
{
	long long n;
	if (strncmp(id, "job-", 4) || parse_int(id + 4, 1, INT_MAX, &n) < 0)
		return NULL;
	for (struct job *j = st.jobs; j; j = j->next)
		if (j->id == n)
			return j;
	return NULL;
}

/* Writes job j's fields; called with the lock held. */
static void jw_job(struct jw *w, const char *key, const struct job *j)
{
	char id[32];
	snprintf(id, sizeof id, "job-%d", j->id);
	jw_obj(w, key);
	jw_str(w, "id", id);
	jw_str(w, "name", j->name);
	jw_str(w, "app", j->app);
	jw_str(w, "state", jstate_name[j->state]);
	if (j->state >= J_SUCCEEDED && j->exit_code >= 0)
		jw_int(w, "exitCode", j->exit_code);
	else
		jw_null(w, "exitCode");
	jw_int(w, "submitted", j->submitted);
	if (j->started)
		jw_int(w, "started", j->started);
	if (j->ended)
		jw_int(w, "ended", j->ended);
	jw_end(w);
}

/* What Spark's master says about itself, summarised into w (null when unreachable). */
static void jw_spark(struct jw *w)
{
	char url[320];
	snprintf(url, sizeof url, "http://%s:8080/json/", cfg.addr);
	struct http_req q = {.url = url, .timeout_ms = 2000, .tries = 1, .max_body = 1 << 20};
	struct http_resp resp = {0};
	struct json j = {0};
	pthread_mutex_lock(&http_mu);
	int rc = http_do(&q, &resp);
	pthread_mutex_unlock(&http_mu);
	if (rc < 0 || resp.status != 200 || json_parse(&j, resp.body.p, resp.body.len, NULL) != 0 ||
	    j.t[0].type != JSMN_OBJECT) {
		jw_null(w, "spark");
		goto out;
	}
	char status[32] = "";
	long long v;
	jw_obj(w, "spark");
	json_strcpy(&j, json_get(&j, 0, "status"), status, sizeof status);
	jw_str(w, "status", status[0] ? status : NULL);
	int ws = json_get(&j, 0, "workers"), alive = 0;
	for (int k = 0; ws >= 0 && j.t[ws].type == JSMN_ARRAY && k < j.t[ws].size; k++)
		alive += json_eq(&j, json_get(&j, json_at(&j, ws, k), "state"), "ALIVE");
	jw_int(w, "aliveWorkers", alive);
	if (json_int(&j, json_get(&j, 0, "cores"), &v) == 0)
		jw_int(w, "cores", v);
	if (json_int(&j, json_get(&j, 0, "coresused"), &v) == 0)
		jw_int(w, "coresUsed", v);
	int apps = json_get(&j, 0, "activeapps");
	jw_int(w, "activeApps", apps >= 0 && j.t[apps].type == JSMN_ARRAY ? j.t[apps].size : 0);
	jw_end(w);
out:
	json_free(&j);
	http_resp_free(&resp);
}

static void h_status(struct req *r)
{
	struct jw w = {0};
	char url[320];
	jw_obj(&w, NULL);
	jw_str(&w, "cluster", cfg.cluster[0] ? cfg.cluster : NULL);
	jw_str(&w, "version", LEGION_VERSION);
	jw_str(&w, "host", cfg.host);
	jw_obj(&w, "master");
	snprintf(url, sizeof url, "spark://%s:7077", cfg.host);
	jw_str(&w, "url", url);
	snprintf(url, sizeof url, "http://%s:8080", cfg.host);
	jw_str(&w, "webui", url);
	lock();
	jw_bool(&w, "running", st.master > 0);
	unlock();
	jw_end(&w);
	jw_spark(&w);
	lock();
	long long now = now_ms();
	jw_bool(&w, "stopping", st.stopping);
	jw_int(&w, "idleTimeout", cfg.idle_s);
	jw_int(&w, "idleSeconds", jobs_busy() ? 0 : (now - st.idle_since) / 1000);
	jw_arr(&w, "workers");
	for (int i = 0; i < st.nworkers; i++) {
		const struct worker *k = &st.workers[i];
		jw_obj(&w, NULL);
		jw_str(&w, "name", k->name);
		jw_str(&w, "host", k->host);
		if (k->cores >= 0)
			jw_int(&w, "cores", k->cores);
		if (k->memory_mb >= 0)
			jw_int(&w, "memoryMB", k->memory_mb);
		if (k->executors >= 0)
			jw_int(&w, "executors", k->executors);
		jw_int(&w, "lastHeartbeat", k->seen_unix);
		jw_int(&w, "secondsSinceHeartbeat", (now - k->seen_ms) / 1000);
		jw_end(&w);
	}
	jw_end(&w);
	jw_arr(&w, "jobs");
	for (struct job *j = st.jobs; j; j = j->next)
		jw_job(&w, NULL, j);
	jw_end(&w);
	unlock();
	jw_end(&w);
	reply_doc(r, 200, &w, NULL);
}

/* A string member: decoded, owned in *out, 1..max bytes, no NUL. Absent: 0 with *out
 * NULL when optional. Returns -1 after an error reply. */
static int get_str(struct req *r, const struct json *j, int obj, const char *key, size_t max,
		   int required, char **out)
{
	*out = NULL;
	int i = json_get(j, obj, key);
	if (i < 0) {
		if (!required)
			return 0;
		reply_err(r, 400, "BadRequest", "\"%s\" is missing", key);
		return -1;
	}
	struct buf b = {0};
	if (j->t[i].type != JSMN_STRING ||
	    json_unescape(j->s + j->t[i].start, (size_t)(j->t[i].end - j->t[i].start), &b) < 0 ||
	    b.len == 0 || b.len > max || memchr(b.p, '\0', b.len)) {
		buf_free(&b);
		reply_err(r, 400, "BadRequest", "\"%s\" must be a string of 1 to %zu bytes", key,
			  max);
		return -1;
	}
	*out = b.p;
	return 0;
}

static void h_workers(struct req *r)
{
	struct json j = {0};
	char *name = NULL, *host = NULL;
	long long cores = -1, mem = -1, execs = -1;
	if (parse_json(r, &j) < 0 || get_str(r, &j, 0, "name", 127, 1, &name) < 0 ||
	    get_str(r, &j, 0, "host", 255, 1, &host) < 0)
		goto out;
	int i;
	if (((i = json_get(&j, 0, "cores")) >= 0 && (json_int(&j, i, &cores) < 0 || cores < 0)) ||
	    ((i = json_get(&j, 0, "memoryMB")) >= 0 && (json_int(&j, i, &mem) < 0 || mem < 0)) ||
	    ((i = json_get(&j, 0, "executors")) >= 0 &&
	     (json_int(&j, i, &execs) < 0 || execs < 0))) {
		reply_err(r, 400, "BadRequest",
			  "cores, memoryMB and executors must be whole numbers");
		goto out;
	}
	lock();
	struct worker *w = NULL;
	for (int k = 0; k < st.nworkers && !w; k++)
		if (!strcmp(st.workers[k].name, name))
			w = &st.workers[k];
	if (!w && st.nworkers < MAX_WORKERS) {
		if (!st.workers)
			st.workers = calloc(MAX_WORKERS, sizeof *st.workers);
		if (st.workers) {
			w = &st.workers[st.nworkers++];
			snprintf(w->name, sizeof w->name, "%s", name);
			warnx_("worker %s registered from %s", name, host);
		}
	}
	int stop = st.stopping, busy = jobs_busy();
	if (w) {
		snprintf(w->host, sizeof w->host, "%s", host);
		w->cores = cores;
		w->memory_mb = mem;
		w->executors = execs;
		w->seen_ms = now_ms();
		w->seen_unix = (long long)time(NULL);
		w->told_stop |= stop;
	}
	unlock();
	if (!w) {
		reply_err(r, 503, "TooManyWorkers", "more than %d workers", MAX_WORKERS);
		goto out;
	}
	struct jw d = {0};
	jw_obj(&d, NULL);
	jw_bool(&d, "ok", 1);
	jw_bool(&d, "stop", stop);
	jw_bool(&d, "busy", busy); /* a job waits or runs: workers are not idle */
	jw_end(&d);
	reply_doc(r, 200, &d, NULL);
out:
	free(name);
	free(host);
	json_free(&j);
}

/* A file name we accept from a client: [A-Za-z0-9._+-], not starting with '.'. */
static int file_name_ok(const char *s)
{
	if (!s || !*s || *s == '.' || strlen(s) > 200)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-' || *s == '+'))
			return 0;
	return 1;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes the base64 in JSON string token i (raw, escapes \/ \n \r allowed) into a new
 * file at path (0600). 0, or -1 with why set. */
static int b64_to_file(const struct json *j, int i, const char *path, const char **why)
{
	const unsigned char *s = (const unsigned char *)j->s + j->t[i].start;
	size_t n = (size_t)(j->t[i].end - j->t[i].start);
	unsigned char out[12288];
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0, rc = -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	*why = "unable to write the file";
	if (fd < 0)
		return -1;
	*why = "not base64";
	for (size_t k = 0; k < n; k++) {
		unsigned char c = s[k];
		if (c == '\\' && k + 1 < n) {
			c = s[++k];
			if (c == 'n' || c == 'r' || c == 't')
				continue;
			if (c != '/')
				goto out;
		}
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad)
			goto out;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
		if (o == sizeof out) {
			if (write(fd, out, o) != (ssize_t)o) {
				*why = "unable to write the file";
				goto out;
			}
			o = 0;
		}
	}
	if (bits >= 6 || pad > 2)
		goto out;
	if (o && write(fd, out, o) != (ssize_t)o) {
		*why = "unable to write the file";
		goto out;
	}
	rc = 0;
out:
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* Conf keys the daemon owns: security, addresses, the master, and whatever else its
 * own properties set, except the UI's (a job may turn it on). */
static int conf_reserved(const char *k)
{
	static const char *const exact[] = {
		"spark.master",
		"spark.submit.deployMode",
		"spark.master.rest.enabled",
		NULL,
	};
	for (int i = 0; exact[i]; i++)
		if (!strcmp(k, exact[i]))
			return 1;
	if (!strncmp(k, "spark.authenticate", 18) || !strncmp(k, "spark.network.crypto.", 21))
		return 1;
	if (!strcmp(k, "spark.ui.enabled") || !strcmp(k, "spark.ui.port"))
		return 0;
	size_t n = strlen(k);
	for (const char *line = cfg.base.p; line && *line; line = strchr(line, '\n') + 1) {
		if (!strncmp(line, k, n) && line[n] == '=')
			return 1;
		if (!strchr(line, '\n'))
			break;
	}
	return 0;
}

/* A job being built from a POST body. */
struct newjob {
	struct job *j;
	struct buf props;
	struct buf lists[3]; /* --py-files, --jars, --files: comma-separated paths */
	char *cls;
	char **args;
	int nargs;
};

/* Writes each {"name","data"} of array key into subdir, adding paths to list. */
static int take_files(struct req *r, const struct json *j, const char *key, const char *subdir,
		      struct job *job, struct buf *list)
{
	int a = json_get(j, 0, key);
	if (a < 0)
		return 0;
	if (j->t[a].type != JSMN_ARRAY || j->t[a].size > MAX_FILES) {
		reply_err(r, 400, "BadRequest", "\"%s\" must be an array of {\"name\",\"data\"}",
			  key);
		return -1;
	}
	char dir[PATH_MAX], path[PATH_MAX + 256];
	snprintf(dir, sizeof dir, "%s/%s", job->dir, subdir);
	if (j->t[a].size > 0 && mkdir(dir, 0700) < 0) {
		reply_err(r, 500, "InternalError", "unable to create %s", subdir);
		return -1;
	}
	for (int k = 0; k < j->t[a].size; k++) {
		int e = json_at(j, a, k), d = json_get(j, e, "data");
		char *name = NULL;
		if (j->t[e].type != JSMN_OBJECT || d < 0 || j->t[d].type != JSMN_STRING) {
			reply_err(r, 400, "BadRequest", "\"%s\"[%d] must be {\"name\",\"data\"}",
				  key, k);
			return -1;
		}
		if (get_str(r, j, e, "name", 200, 1, &name) < 0)
			return -1;
		if (!file_name_ok(name)) {
			reply_err(r, 400, "BadRequest", "\"%s\"[%d]: bad file name", key, k);
			free(name);
			return -1;
		}
		snprintf(path, sizeof path, "%s/%s", dir, name);
		free(name);
		const char *why;
		if (access(path, F_OK) == 0) {
			reply_err(r, 400, "BadRequest", "\"%s\"[%d]: duplicate file name", key, k);
			return -1;
		}
		if (b64_to_file(j, d, path, &why) < 0) {
			reply_err(r, 400, "BadRequest", "\"%s\"[%d]: %s", key, k, why);
			return -1;
		}
		if ((list->len && buf_add(list, ",", 1) < 0) || buf_adds(list, path) < 0) {
			reply_err(r, 500, "InternalError", "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Builds job nj->j from the body: files on disk, properties, the argv. 0, or -1
 * after an error reply. */
static int build_job(struct req *r, const struct json *j, struct newjob *nj)
{
	struct job *job = nj->j;
	char *s = NULL, path[PATH_MAX + 256];
	int i;
	if (get_str(r, j, 0, "name", sizeof job->name - 1, 0, &s) < 0)
		return -1;
	for (char *c = s; c && *c; c++)
		if ((unsigned char)*c < 0x20) {
			reply_err(r, 400, "BadRequest", "\"name\" has control characters");
			free(s);
			return -1;
		}
	snprintf(job->name, sizeof job->name, "%s", s ? s : "");
	free(s);
	if (get_str(r, j, 0, "app", 200, 1, &s) < 0)
		return -1;
	if (!file_name_ok(s)) {
		reply_err(r, 400, "BadRequest", "\"app\" must be a file name ([A-Za-z0-9._+-])");
		free(s);
		return -1;
	}
	snprintf(job->app, sizeof job->app, "%s", s);
	free(s);
	i = json_get(j, 0, "appData");
	if (i < 0 || j->t[i].type != JSMN_STRING) {
		reply_err(r, 400, "BadRequest", "\"appData\" (base64) is missing");
		return -1;
	}
	snprintf(path, sizeof path, "%s/app", job->dir);
	if (mkdir(path, 0700) < 0) {
		reply_err(r, 500, "InternalError", "unable to create the job's directory");
		return -1;
	}
	snprintf(path, sizeof path, "%s/app/%s", job->dir, job->app);
	const char *why;
	if (b64_to_file(j, i, path, &why) < 0) {
		reply_err(r, 400, "BadRequest", "\"appData\": %s", why);
		return -1;
	}
	if (take_files(r, j, "pyFiles", "py", job, &nj->lists[0]) < 0 ||
	    take_files(r, j, "jars", "jars", job, &nj->lists[1]) < 0 ||
	    take_files(r, j, "files", "files", job, &nj->lists[2]) < 0)
		return -1;
	if (get_str(r, j, 0, "class", 255, 0, &nj->cls) < 0)
		return -1;
	for (char *c = nj->cls; c && *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '$')) {
			reply_err(r, 400, "BadRequest", "\"class\" must be a Java class name");
			return -1;
		}

	/* properties: the daemon's, then the user's conf (later lines win in Java) */
	if (buf_add(&nj->props, cfg.base.p, cfg.base.len) < 0) {
		reply_err(r, 500, "InternalError", "out of memory");
		return -1;
	}
	int c = json_get(j, 0, "conf");
	if (c >= 0 && j->t[c].type != JSMN_OBJECT) {
		reply_err(r, 400, "BadRequest", "\"conf\" must be an object of strings");
		return -1;
	}
	for (int k = c + 1, m = 0; c >= 0 && m < j->t[c].size; m++, k = json_skip(j, k + 1)) {
		char *key = json_str(j, k), *val = NULL;
		const jsmntok_t *v = &j->t[k + 1];
		if (v->type == JSMN_STRING)
			val = json_str(j, k + 1);
		else if (v->type == JSMN_PRIMITIVE && j->s[v->start] != 'n')
			val = strndup(j->s + v->start, (size_t)(v->end - v->start));
		int bad = !key || !val || strncmp(key, "spark.", 6) || strlen(key) > 256 ||
			  strlen(val) > 65536 || strcspn(key, " \t\r\n=:") != strlen(key);
		if (bad || conf_reserved(key)) {
			reply_err(r, 400, "BadRequest",
				  bad ? "conf: keys are spark.* names, values strings"
				      : "conf: %s is set by legion",
				  key ? key : "");
			free(key);
			free(val);
			return -1;
		}
		int rc = agent_prop(&nj->props, key, val);
		free(key);
		free(val);
		if (rc < 0) {
			reply_err(r, 500, "InternalError", "out of memory");
			return -1;
		}
	}
	snprintf(path, sizeof path, "%s/spark.properties", job->dir);
	if (write_file(path, nj->props.p, nj->props.len, 0600) < 0) {
		reply_err(r, 500, "InternalError", "unable to write the job's properties");
		return -1;
	}

	int a = json_get(j, 0, "args");
	if (a >= 0 && (j->t[a].type != JSMN_ARRAY || j->t[a].size > MAX_ARGS)) {
		reply_err(r, 400, "BadRequest", "\"args\" must be an array of at most %d strings",
			  MAX_ARGS);
		return -1;
	}
	int nargs = a >= 0 ? j->t[a].size : 0;
	/* spark-submit --master URL --deploy-mode client --properties-file F
	 * [--name N] [--class C] [--py-files L] [--jars L] [--files L] APP ARGS... */
	size_t n = 7 + 10 + 1 + (size_t)nargs + 1;
	char **argv = calloc(n, sizeof *argv);
	if (!argv) {
		reply_err(r, 500, "InternalError", "out of memory");
		return -1;
	}
	job->argv = argv;
	int x = 0;
	struct buf t = {0};
#define ARG(...)                                                                                   \
	do {                                                                                       \
		t.len = 0;                                                                         \
		if (buf_addf(&t, __VA_ARGS__) < 0 || !(argv[x++] = strdup(t.p))) {                 \
			buf_free(&t);                                                              \
			reply_err(r, 500, "InternalError", "out of memory");                       \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)
	ARG("%s/bin/spark-submit", cfg.spark_home);
	ARG("--master");
	ARG("spark://%s:7077", cfg.host);
	ARG("--deploy-mode");
	ARG("client");
	ARG("--properties-file");
	ARG("%s", path);
	if (job->name[0]) {
		ARG("--name");
		ARG("%s", job->name);
	}
	if (nj->cls) {
		ARG("--class");
		ARG("%s", nj->cls);
	}
	static const char *const opt[] = {"--py-files", "--jars", "--files"};
	for (int k = 0; k < 3; k++)
		if (nj->lists[k].len) {
			ARG("%s", opt[k]);
			ARG("%s", nj->lists[k].p);
		}
	ARG("%s/app/%s", job->dir, job->app);
	for (int k = 0; k < nargs; k++) {
		int e = json_at(j, a, k);
		struct buf v = {0};
		if (j->t[e].type != JSMN_STRING ||
		    json_unescape(j->s + j->t[e].start, (size_t)(j->t[e].end - j->t[e].start), &v) <
			    0 ||
		    v.len > 131072 || (v.len && memchr(v.p, '\0', v.len))) {
			buf_free(&v);
			buf_free(&t);
			reply_err(r, 400, "BadRequest", "\"args\"[%d] must be a string", k);
			return -1;
		}
		argv[x++] = buf_take(&v);
		if (!argv[x - 1]) {
			buf_free(&t);
			reply_err(r, 500, "InternalError", "out of memory");
			return -1;
		}
	}
#undef ARG
	buf_free(&t);
	return 0;
}

static void free_job(struct job *j)
{
	if (!j)
		return;
	for (char **a = j->argv; a && *a; a++)
		free(*a);
	free(j->argv);
	free(j->dir);
	free(j);
}

static void h_submit(struct req *r)
{
	struct json j = {0};
	struct newjob nj = {0};
	char dir[PATH_MAX + 64];
	if (parse_json(r, &j) < 0)
		goto out;
	lock();
	int id = 0;
	if (!st.stopping && st.njobs < MAX_JOBS)
		id = ++st.next_id;
	int stopping = st.stopping;
	unlock();
	if (!id) {
		reply_err(r, 503, stopping ? "ShuttingDown" : "TooManyJobs",
			  stopping ? "the daemon is shutting down"
				   : "this master ran %d jobs: start a new one",
			  MAX_JOBS);
		goto out;
	}
	snprintf(dir, sizeof dir, "%s/jobs/job-%d", cfg.workdir, id);
	nj.j = calloc(1, sizeof *nj.j);
	if (!nj.j || !(nj.j->dir = strdup(dir))) {
		reply_err(r, 500, "InternalError", "out of memory");
		goto out;
	}
	nj.j->id = id;
	nj.j->exit_code = -1;
	if (mkdir(dir, 0700) < 0) {
		reply_err(r, 500, "InternalError", "unable to create the job's directory");
		goto out;
	}
	if (build_job(r, &j, &nj) < 0) {
		rm_files(dir, NULL);
		rmdir(dir);
		lock();
		if (st.next_id == id) /* nobody took a later id: give this one back */
			st.next_id--;
		unlock();
		goto out;
	}
	nj.j->submitted = (long long)time(NULL);
	lock();
	if (st.stopping) {
		unlock();
		rm_files(dir, NULL);
		rmdir(dir);
		reply_err(r, 503, "ShuttingDown", "the daemon is shutting down");
		goto out;
	}
	if (st.last)
		st.last->next = nj.j;
	else
		st.jobs = nj.j;
	st.last = nj.j;
	st.njobs++;
	changed();
	struct jw w = {0};
	jw_job(&w, NULL, nj.j);
	unlock();
	char loc[64];
	snprintf(loc, sizeof loc, "Location: /v1/jobs/job-%d\r\n", id);
	nj.j = NULL; /* owned by the list now */
	reply_doc(r, 201, &w, loc);
out:
	free_job(nj.j);
	buf_free(&nj.props);
	for (int k = 0; k < 3; k++)
		buf_free(&nj.lists[k]);
	free(nj.cls);
	json_free(&j);
}

static void h_job(struct req *r, const char *id)
{
	struct jw w = {0};
	lock();
	struct job *j = find_job(id);
	if (j && !strcmp(r->method, "DELETE")) {
		if (j->state == J_QUEUED) {
			j->state = J_KILLED;
			j->ended = (long long)time(NULL);
			j->kill_ms = now_ms();
			rm_files(j->dir, "log.ndjson"); /* its app and properties */
			changed();
		} else if (j->state == J_RUNNING) {
			if (!j->kill_ms) {
				j->kill_ms = now_ms();
				if (j->pid > 0)
					kill(-j->pid, SIGTERM);
				warnx_("job-%d: kill requested", j->id);
			}
			long long end = now_ms() + KILL_GRACE_MS + 5000;
			while (j->state == J_RUNNING && now_ms() < end)
				wait_change(500);
		}
	}
	if (j)
		jw_job(&w, NULL, j);
	unlock();
	if (!j) {
		reply_err(r, 404, "JobNotFound", "no job %s", id);
		return;
	}
	reply_doc(r, 200, &w, NULL);
}

/* Sends n bytes as one chunk (or raw for HTTP/1.0). */
static int send_chunk(struct req *r, const char *p, size_t n)
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
static int client_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

static int query_flag(const char *q, const char *name)
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

static void h_log(struct req *r, const char *id)
{
	int follow = query_flag(r->query, "follow"), fd = -1;
	char path[PATH_MAX + 32], buf[16384];
	long long off = 0;
	lock();
	struct job *j = find_job(id);
	if (j)
		snprintf(path, sizeof path, "%s/log.ndjson", j->dir);
	unlock();
	if (!j) {
		reply_err(r, 404, "JobNotFound", "no job %s", id);
		return;
	}
	if (send_head(r, 200, "application/x-ndjson", -1, NULL) < 0 || tls_flush(r->c) < 0)
		return;
	tls_set_timeout(r->c, 60000);
	long long sent_ms = now_ms();
	for (;;) {
		int idle = 0;
		lock();
		while (follow && !st.quit && j->state <= J_RUNNING && off == j->log_len) {
			if (now_ms() - sent_ms >= KEEPALIVE_MS) {
				idle = 1;
				break;
			}
			wait_change(1000);
			if (off == j->log_len && client_gone(r->fd))
				break;
		}
		long long len = j->log_len;
		int ended = j->state >= J_SUCCEEDED, state = j->state, code = j->exit_code;
		int quit = st.quit;
		unlock();
		if (idle) { /* a blank line: clients' stall timers see life, a gone client shows */
			if (send_chunk(r, "\n", 1) < 0 || tls_flush(r->c) < 0)
				goto gone;
			sent_ms = now_ms();
			continue;
		}
		if (off == len && !ended && (quit || client_gone(r->fd) || !follow))
			break;
		sent_ms = now_ms();
		if (fd < 0 && len > 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			break;
		while (off < len) {
			size_t want = len - off < (long long)sizeof buf ? (size_t)(len - off)
									: sizeof buf;
			ssize_t n = pread(fd, buf, want, (off_t)off);
			if (n <= 0)
				goto end;
			if (send_chunk(r, buf, (size_t)n) < 0)
				goto gone;
			off += n;
		}
		if (tls_flush(r->c) < 0)
			goto gone;
		if (ended && off == len) {
			struct jw w = {0};
			jw_obj(&w, NULL);
			jw_str(&w, "state", jstate_name[state]);
			if (code >= 0)
				jw_int(&w, "exitCode", code);
			else
				jw_null(&w, "exitCode");
			jw_end(&w);
			size_t dn;
			char *doc = jw_finish(&w, &dn);
			if (doc) {
				doc[dn] = '\n'; /* jw_finish's NUL becomes the line's end */
				int rc = send_chunk(r, doc, dn + 1);
				free(doc);
				if (rc < 0)
					goto gone;
			}
			break;
		}
		if (!follow)
			break;
	}
end:
	if (!r->http10)
		tls_write(r->c, "0\r\n\r\n", 5);
	tls_flush(r->c);
gone:
	if (fd >= 0)
		close(fd);
}

/* 1 when method m is in allow ("GET, DELETE"). */
static int allowed(const char *allow, const char *m)
{
	size_t k = strlen(m);
	for (const char *a = allow; *a;) {
		size_t n = strcspn(a, ", ");
		if (n == k && !strncmp(a, m, k))
			return 1;
		a += n;
		a += strspn(a, ", ");
	}
	return 0;
}

static void route(struct req *r)
{
	const char *p = r->path, *m = r->method;
	const char *allow = NULL;
	size_t max = BODY_MAX;
	enum { HEALTH, STATUS, WORKERS, JOBS, JOB, LOG } what;
	char id[64] = "";
	if (!strcmp(p, "/v1/health"))
		what = HEALTH, allow = "GET";
	else if (!strcmp(p, "/v1/status"))
		what = STATUS, allow = "GET";
	else if (!strcmp(p, "/v1/workers"))
		what = WORKERS, allow = "POST";
	else if (!strcmp(p, "/v1/jobs"))
		what = JOBS, allow = "GET, POST", max = BODY_MAX_JOB;
	else if (!strncmp(p, "/v1/jobs/", 9) && strlen(p + 9) < sizeof id && p[9]) {
		snprintf(id, sizeof id, "%s", p + 9);
		char *slash = strchr(id, '/');
		what = JOB, allow = "GET, DELETE";
		if (slash && !strcmp(slash, "/log"))
			*slash = '\0', what = LOG, allow = "GET";
		else if (slash) {
			reply_err(r, 404, "NotFound", "no such path");
			return;
		}
	} else {
		reply_err(r, 404, "NotFound", "no such path");
		return;
	}
	if (!allowed(allow, m)) {
		char h[64];
		snprintf(h, sizeof h, "Allow: %s\r\n", allow);
		struct jw w = {0};
		jw_obj(&w, NULL);
		jw_obj(&w, "error");
		jw_str(&w, "code", "MethodNotAllowed");
		jw_str(&w, "message", "method not allowed here");
		jw_end(&w);
		jw_end(&w);
		reply_doc(r, 405, &w, h);
		return;
	}
	int rc = read_body(r, max);
	if (rc != 0)
		return;
	switch (what) {
	case HEALTH: {
		static const char ok[] = "{\"ok\":true}";
		reply_json(r, 200, ok, sizeof ok - 1, NULL);
		break;
	}
	case STATUS: h_status(r); break;
	case WORKERS: h_workers(r); break;
	case JOBS:
		if (!strcmp(m, "POST"))
			h_submit(r);
		else {
			struct jw w = {0};
			jw_obj(&w, NULL);
			jw_arr(&w, "jobs");
			lock();
			for (struct job *j = st.jobs; j; j = j->next)
				jw_job(&w, NULL, j);
			unlock();
			jw_end(&w);
			jw_end(&w);
			reply_doc(r, 200, &w, NULL);
		}
		break;
	case JOB: h_job(r, id); break;
	case LOG: h_log(r, id); break;
	}
}

static void handle(struct tls_conn *c, int fd)
{
	struct req *r = calloc(1, sizeof *r);
	if (!r)
		return;
	r->c = c;
	r->fd = fd;
	int rc = read_head(r);
	if (rc == 0 && parse_head(r) == 0) {
		if (!authorized(r->auth))
			reply_err(r, 401, "Unauthorized", "a valid bearer token is required");
		else
			route(r);
	}
	if (verbose && r->status)
		warnx_("%s %s -> %d", r->method, r->path, r->status);
	explicit_bzero(r->head, sizeof r->head);
	buf_free(&r->body);
	free(r);
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct tls_conn *c = tls_accept(cfg.tls, fd, IO_TIMEOUT_MS);
	if (c) {
		handle(c, fd);
		tls_close(c);
	} else
		close(fd);
	lock();
	st.conns--;
	changed();
	unlock();
	return NULL;
}

/* ---- start-up ------------------------------------------------------------------------ */

static int listen_on(const char *addr, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		warnx_("fatal: unable to listen: bad address %s", addr);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0) {
		warn_("fatal: unable to create a socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
		warn_("fatal: unable to listen on %s:%d", addr, port);
		close(fd);
		return -1;
	}
	return fd;
}

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Copies a secret out of the environment and scrubs it there; NULL when unset. */
static char *take_secret(const char *name)
{
	const char *v = getenv(name);
	char *copy = v && *v ? strdup(v) : NULL;
	agent_scrub_env(name);
	return copy;
}

/* Writes the base properties and cfg.props. */
static int write_props(const char *secret, const char *acct, const char *key)
{
	struct buf *b = &cfg.base;
	int rc = 0;
	rc |= agent_prop(b, "spark.authenticate", "true");
	rc |= agent_prop(b, "spark.authenticate.secret", secret);
	rc |= agent_prop(b, "spark.network.crypto.enabled", "true");
	rc |= agent_prop(b, "spark.master.rest.enabled", "false");
	rc |= agent_prop(b, "spark.driver.port", "7078");
	rc |= agent_prop(b, "spark.blockManager.port", "7079");
	rc |= agent_prop(b, "spark.driver.host", cfg.host);
	rc |= agent_prop(b, "spark.driver.bindAddress", cfg.addr);
	rc |= agent_prop(b, "spark.ui.enabled", "false");
	rc |= agent_prop(b, "spark.ui.port", "4040");
	if (acct && key) {
		char k[512];
		static const char *const kinds[] = {"blob", "dfs"};
		for (int i = 0; i < 2; i++) {
			snprintf(k, sizeof k,
				 "spark.hadoop.fs.azure.account.key.%s.%s.core.windows.net", acct,
				 kinds[i]);
			rc |= agent_prop(b, k, key);
		}
	}
	if (rc) {
		warnx_("fatal: out of memory");
		return -1;
	}
	snprintf(cfg.props, sizeof cfg.props, "%s/spark.properties", cfg.workdir);
	if (write_file(cfg.props, b->p, b->len, 0600) < 0) {
		warn_("fatal: unable to write %s", cfg.props);
		return -1;
	}
	return 0;
}

/* TLS from LEGION_TLS_CERT / LEGION_TLS_KEY, else a fresh identity for tls_name that is
 * published on stderr and in WORKDIR/tls.crt (the CLI can pin it from the log). */
static int setup_tls(char *key)
{
	const char *cert = getenv("LEGION_TLS_CERT");
	char *gen_cert = NULL, *gen_key = NULL;
	int rc = -1;
	if ((cert && *cert) != (key != NULL)) {
		warnx_("fatal: unable to use TLS: set LEGION_TLS_CERT and _KEY, or neither");
		return -1;
	}
	if (!key) {
		const char *names[] = {cfg.tls_name, NULL};
		if (tls_identity(names, &gen_cert, &gen_key) < 0)
			return -1;
		cert = gen_cert;
		key = gen_key;
		char path[PATH_MAX + 16];
		snprintf(path, sizeof path, "%s/tls.crt", cfg.workdir);
		if (write_file(path, cert, strlen(cert), 0644) < 0) {
			warn_("fatal: unable to write %s", path);
			goto out;
		}
		fprintf(stderr, "%s: generated a TLS certificate for %s:\n%s", progname,
			cfg.tls_name, cert);
	}
	cfg.tls = tls_server_new(cert, key);
	rc = cfg.tls ? 0 : -1;
out:
	free(gen_cert);
	if (gen_key) {
		explicit_bzero(gen_key, strlen(gen_key));
		free(gen_key);
	}
	return rc;
}

static void free_all(void)
{
	while (st.jobs) {
		struct job *j = st.jobs;
		st.jobs = j->next;
		free_job(j);
	}
	free(st.workers);
	free(cfg.env);
	if (cfg.token) {
		explicit_bzero(cfg.token, strlen(cfg.token));
		free(cfg.token);
	}
	if (cfg.base.p)
		explicit_bzero(cfg.base.p, cfg.base.len);
	buf_free(&cfg.base);
	tls_server_free(cfg.tls);
	http_cleanup();
}

int main(int argc, char **argv)
{
	progname = "legion-jobd";
	long long port = 7090, idle = -1;
	const char *workdir = "legion-jobd"; /* in the cwd: each group (container) has its own */
	int opt, lfd = -1, ex = EXIT_SOFTWARE;
	char *secret = NULL, *tls_key = NULL, *acct_key = NULL;
	pthread_t run_thread;
	int have_runner = 0;

	opterr = 0; /* our own message, in our own shape */
	while ((opt = getopt(argc, argv, "vp:i:d:h")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'p':
			if (agent_opt_port(optarg, &port) < 0)
				return EXIT_USAGE;
			break;
		case 'i':
			if (agent_opt_secs('i', optarg, 365LL * 86400, &idle) < 0)
				return EXIT_USAGE;
			break;
		case 'd': workdir = optarg; break;
		case 'h': printf("%s\n%s\n", USAGE, EXITS); return 0;
		default: return agent_usage(optopt, USAGE);
		}
	}
	if (optind != argc)
		return agent_usage(0, USAGE);

	/* secrets first: out of the environment before anything else can see it */
	cfg.token = take_secret("LEGION_TOKEN");
	secret = take_secret("LEGION_SPARK_SECRET");
	tls_key = take_secret("LEGION_TLS_KEY");
	acct_key = take_secret("AZURE_STORAGE_ACCOUNT_KEY");
	const char *acct = getenv("AZURE_STORAGE_ACCOUNT_NAME"), *v;
	ex = EXIT_CONFIG;
	if (!cfg.token || strlen(cfg.token) < 16 || strlen(cfg.token) > 512) {
		warnx_("fatal: unable to find LEGION_TOKEN (16-512 characters) in the environment");
		goto out;
	}
	if (!secret) {
		warnx_("fatal: unable to find LEGION_SPARK_SECRET in the environment");
		goto out;
	}
	if ((acct && *acct) != (acct_key != NULL)) {
		warnx_("fatal: unable to use storage: set AZURE_STORAGE_ACCOUNT_NAME and _KEY");
		goto out;
	}
	if (acct && strcspn(acct, ".=:/ \\") != strlen(acct)) {
		warnx_("fatal: unable to use AZURE_STORAGE_ACCOUNT_NAME: not an account name");
		goto out;
	}
	if (idle < 0) {
		idle = 600;
		if ((v = getenv("LEGION_IDLE_TIMEOUT")) && *v &&
		    parse_duration(v, 365LL * 86400, &idle) < 0) {
			warnx_("fatal: unable to use LEGION_IDLE_TIMEOUT=%s: not a duration", v);
			goto out;
		}
	}
	cfg.idle_s = idle;
	cfg.port = (int)port;
	v = getenv("SPARK_HOME");
	if (!v || !*v || strlen(v) >= sizeof cfg.spark_home - 32) {
		warnx_("fatal: unable to find SPARK_HOME in the environment");
		goto out;
	}
	strcpy(cfg.spark_home, v);
	if ((v = getenv("LEGION_CLUSTER")))
		snprintf(cfg.cluster, sizeof cfg.cluster, "%s", v);
	if (agent_host(cfg.host, sizeof cfg.host, cfg.addr, sizeof cfg.addr) < 0)
		goto out;
	v = getenv("LEGION_TLS_NAME");
	snprintf(cfg.tls_name, sizeof cfg.tls_name, "%s", v && *v ? v : cfg.host);

	ex = 73; /* EX_CANTCREAT */
	if (mkdir(workdir, 0700) < 0 && errno != EEXIST) {
		warn_("fatal: unable to create %s", workdir);
		goto out;
	}
	if (!realpath(workdir, cfg.workdir) || strlen(cfg.workdir) > PATH_MAX - 512) {
		warn_("fatal: unable to use %s", workdir);
		goto out;
	}
	char jobs[PATH_MAX + 16];
	snprintf(jobs, sizeof jobs, "%s/jobs", cfg.workdir);
	if (mkdir(jobs, 0700) < 0 && errno != EEXIST) {
		warn_("fatal: unable to create %s", jobs);
		goto out;
	}
	if (write_props(secret, acct, acct_key) < 0)
		goto out;
	ex = EXIT_CONFIG;
	if (setup_tls(tls_key) < 0)
		goto out;
	/* from here on the secrets live only in cfg.base and the properties file */
	explicit_bzero(secret, strlen(secret));
	free(secret);
	secret = NULL;
	if (tls_key)
		explicit_bzero(tls_key, strlen(tls_key));
	free(tls_key);
	tls_key = NULL;
	if (acct_key)
		explicit_bzero(acct_key, strlen(acct_key));
	free(acct_key);
	acct_key = NULL;
	ex = EXIT_SOFTWARE;
	char local_ip[96], public_dns[300];
	snprintf(local_ip, sizeof local_ip, "SPARK_LOCAL_IP=%s", cfg.addr);
	snprintf(public_dns, sizeof public_dns, "SPARK_PUBLIC_DNS=%s", cfg.host);
	const char *extra[] = {local_ip, public_dns, NULL};
	if (!(cfg.env = agent_env(extra)) || http_init() < 0)
		goto out;

	ex = EXIT_UNAVAIL;
	if ((lfd = listen_on(cfg.addr, cfg.port)) < 0)
		goto out;

	/* signals reach the main thread only: the others start with them blocked */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);

	st.idle_since = now_ms();
	if (start_master() < 0)
		goto out;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	if (pthread_create(&run_thread, &attr, runner, NULL) != 0) {
		warnx_("fatal: unable to start a thread");
		ex = EXIT_SOFTWARE;
		goto out;
	}
	have_runner = 1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	warnx_("serving the job API on https://%s:%d (%s), idle timeout %llds", cfg.addr, cfg.port,
	       cfg.tls_name, cfg.idle_s);

	enum { RUN, LINGER, DONE } phase = RUN;
	long long linger_end = 0;
	while (phase != DONE) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, 250) > 0) {
			int cfd = accept(lfd, NULL, NULL);
			if (cfd >= 0) {
				set_cloexec(cfd);
				pthread_t t;
				lock();
				int ok = st.conns < MAX_CONNS;
				if (ok)
					st.conns++;
				unlock();
				if (!ok ||
				    pthread_create(&t, &attr, serve, (void *)(intptr_t)cfd) != 0) {
					if (ok) {
						lock();
						st.conns--;
						unlock();
					}
					close(cfd);
				}
			}
		}
		int sig = got_signal;
		lock();
		pid_t master = st.master;
		int idle_now = !jobs_busy() && cfg.idle_s > 0 &&
			       now_ms() - st.idle_since >= cfg.idle_s * 1000;
		int waiting = 0; /* workers heard from lately that were not yet told to stop */
		for (int i = 0; i < st.nworkers; i++)
			waiting += !st.workers[i].told_stop &&
				   now_ms() - st.workers[i].seen_ms < 30000;
		unlock();
		int status;
		if (master > 0 && waitpid(master, &status, WNOHANG) == master) {
			kill(-master, SIGKILL);
			lock();
			st.master = 0;
			unlock();
			if (phase == RUN && !sig) {
				warnx_("fatal: spark master exited (status %d)",
				       exit_status(status));
				tail_master_log();
				ex = EXIT_UNAVAIL;
				phase = DONE;
			}
		}
		if (sig) {
			warnx_("got signal %d: stopping jobs and the spark master", sig);
			ex = 128 + sig;
			phase = DONE;
		} else if (phase == RUN && idle_now) {
			warnx_("idle for %llds: stopping", cfg.idle_s);
			ex = 0;
			phase = LINGER;
			linger_end = now_ms() + LINGER_MS;
			lock();
			st.stopping = 1;
			master = st.master;
			st.master = 0;
			unlock();
			if (master > 0)
				agent_stop_group(master, SIGTERM, MASTER_GRACE_MS,
						 "the Spark master");
		} else if (phase == LINGER && (waiting == 0 || now_ms() >= linger_end))
			phase = DONE;
	}

	/* shutting down: refuse jobs, kill the running one and the master */
	lock();
	st.stopping = 1;
	for (struct job *j = st.jobs; j; j = j->next)
		if (j->state == J_RUNNING && !j->kill_ms) {
			j->kill_ms = now_ms();
			if (j->pid > 0)
				kill(-j->pid, SIGTERM);
		}
	pid_t master = st.master;
	st.master = 0;
	unlock();
	if (master > 0)
		agent_stop_group(master, SIGTERM, MASTER_GRACE_MS, "the Spark master");
	lock();
	st.quit = 1;
	changed();
	unlock();
	pthread_join(run_thread, NULL);
	have_runner = 0;
	close(lfd);
	lfd = -1;
	lock();
	long long end = now_ms() + 5000;
	while (st.conns > 0 && now_ms() < end) {
		changed();
		wait_change(100);
	}
	int left = st.conns;
	unlock();
	pthread_attr_destroy(&attr);
	unlink(cfg.props);
	if (left == 0)
		free_all();
	warnx_("exiting (%d)", ex);
	return ex;
out:
	if (have_runner) {
		lock();
		st.quit = 1;
		changed();
		unlock();
		pthread_join(run_thread, NULL);
	}
	if (st.master > 0)
		agent_stop_group(st.master, SIGTERM, MASTER_GRACE_MS, "the Spark master");
	if (lfd >= 0)
		close(lfd);
	if (secret)
		explicit_bzero(secret, strlen(secret));
	free(secret);
	if (tls_key)
		explicit_bzero(tls_key, strlen(tls_key));
	free(tls_key);
	if (acct_key)
		explicit_bzero(acct_key, strlen(acct_key));
	free(acct_key);
	if (cfg.props[0])
		unlink(cfg.props);
	free_all();
	return ex;
}
