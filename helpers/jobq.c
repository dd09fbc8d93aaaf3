/*
 * helpers/jobq.c: the job daemon's shared state (one mutex, one condition for every
 * change), the job queue's runner thread (one spark-submit at a time, in its own
 * process group, killed with a grace when asked) and each job's output kept on disk as
 * NDJSON lines. Leaves out how jobs arrive (api.c, jobspec.c) and the Spark master
 * (legion-jobd.c).
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384          /* longer output lines are split */
#define LOG_MAX ((long long)64 << 20) /* per job, on disk */

const char *const jstate_name[] = {"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "KILLED"};
struct jobd_state jobd = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

void jobd_lock(void)
{
	pthread_mutex_lock(&jobd.mu);
}

void jobd_unlock(void)
{
	pthread_mutex_unlock(&jobd.mu);
}

void jobd_changed(void)
{
	pthread_cond_broadcast(&jobd.cv);
}

int jobs_busy(void)
{
	for (struct job *j = jobd.jobs; j; j = j->next)
		if (j->state <= J_RUNNING)
			return 1;
	return 0;
}

void jobd_wait(long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&jobd.cv, &jobd.mu, &ts);
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

/* Runs argv (argv[0] found on PATH) in dir and waits for it. Its exit code, or -1. */
static int run_tool(char **argv, const char *dir)
{
	char path[PATH_MAX], *prog = argv[0];
	int status;
	if (proc_which(prog, NULL, path, sizeof path) < 0)
		return -1;
	argv[0] = path;
	pid_t pid = proc_spawn(argv, jobd_cfg.env, dir, (const int[3]){-1, -1, -1}, prog);
	argv[0] = prog;
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return exit_status(status);
}

/* The driver's copy of each archive, unpacked into the job's folder under its alias, so
 * that a relative spark.pyspark.driver.python (./environment/bin/python) finds it, as
 * the executors find theirs (Spark unpacks them there). zip and jar through python3's
 * zipfile, the tar forms through tar; others stay packed, as Spark leaves them. 0, or
 * -1 after a line in the job's log. */
static int unpack_archives(struct job *j, struct joblog *l)
{
	for (size_t off = 0; off < j->unpack_len;) {
		char *file = j->unpack + off, *to = file + strlen(file) + 1, dest[PATH_MAX + 256];
		off = (size_t)(to - j->unpack) + strlen(to) + 1;
		size_t n = strlen(file);
		int zip = n > 4 && (!strcmp(file + n - 4, ".zip") || !strcmp(file + n - 4, ".jar"));
		int tar = (n > 4 && !strcmp(file + n - 4, ".tar")) ||
			  (n > 4 && !strcmp(file + n - 4, ".tgz")) ||
			  (n > 7 && !strcmp(file + n - 7, ".tar.gz"));
		if (!zip && !tar)
			continue;
		snprintf(dest, sizeof dest, "%s/%s", j->dir, to);
		char *zargv[] = {"python3", "-m", "zipfile", "-e", file, dest, NULL};
		char *targv[] = {"tar", "--no-same-owner", "-xf", file, "-C", dest, NULL};
		int rc = mkdir(dest, 0700) < 0 ? -1 : run_tool(zip ? zargv : targv, j->dir);
		if (rc != 0) {
			char msg[PATH_MAX + 128];
			int m = snprintf(msg, sizeof msg,
					 "legion-jobd: unable to unpack %s for the "
					 "driver (%s %s %d)",
					 strrchr(file, '/') + 1, zip ? "python3 -m zipfile" : "tar",
					 rc < 0 ? "did not run:" : "exited", rc);
			log_line(l, "stderr", msg,
				 (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1);
			return -1;
		}
	}
	return 0;
}

/* The environment of j's spark-submit: the daemon's, plus what legion-pydriver reads
 * (the FIFO and the python to run) when j has a Python driver. Owned array, strings
 * borrowed from jobd_cfg.env and vars. */
static char **job_env(const struct job *j, char vars[2][PATH_MAX + 64])
{
	size_t n = 0;
	while (jobd_cfg.env[n])
		n++;
	char **env = calloc(n + 3, sizeof *env);
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(jobd_cfg.env[i], "LEGION_STDERR=", 14) &&
		    strncmp(jobd_cfg.env[i], "LEGION_DRIVER_PYTHON=", 21))
			env[k++] = jobd_cfg.env[i];
	if (j->driver_python) {
		snprintf(vars[0], PATH_MAX + 64, "LEGION_STDERR=%s/stderr.fifo", j->dir);
		snprintf(vars[1], PATH_MAX + 64, "LEGION_DRIVER_PYTHON=%s", j->driver_python);
		env[k++] = vars[0];
		env[k++] = vars[1];
	}
	return env;
}

/* The read end of the FIFO a Python driver's stderr comes through (see
 * legion-pydriver), non-blocking; -1 when j has none or it could not be made. */
static int open_fifo(const struct job *j)
{
	char path[PATH_MAX + 32];
	if (!j->driver_python)
		return -1;
	snprintf(path, sizeof path, "%s/stderr.fifo", j->dir);
	if (mkfifo(path, 0600) < 0) {
		warn_("%s: unable to make the driver's stderr FIFO", path);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		warn_("%s: unable to open", path);
	return fd;
}

/* Starts j with its output into pipes (so, se; a Python driver's stderr into the FIFO
 * pe) and its log file open in l. The pid, or -1 (with what it opened left in l, so,
 * se, pe). */
static pid_t start_job(struct job *j, struct joblog *l, struct stream *so, struct stream *se,
		       struct stream *pe)
{
	char path[PATH_MAX + 32], vars[2][PATH_MAX + 64];
	int p1[2] = {-1, -1}, p2[2] = {-1, -1};
	snprintf(path, sizeof path, "%s/log.ndjson", j->dir);
	l->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (l->fd < 0 || pipe(p1) < 0 || pipe(p2) < 0) {
		warn_("%s: unable to set up its output", path);
		for (int k = 0; k < 2; k++) {
			if (p1[k] >= 0)
				close(p1[k]);
			if (p2[k] >= 0)
				close(p2[k]);
		}
		return -1;
	}
	for (int k = 0; k < 2; k++) {
		fcntl(p1[k], F_SETFD, FD_CLOEXEC);
		fcntl(p2[k], F_SETFD, FD_CLOEXEC);
	}
	so->fd = p1[0];
	se->fd = p2[0];
	char **env = job_env(j, vars);
	if (!env || unpack_archives(j, l) < 0) {
		close(p1[1]);
		close(p2[1]);
		free(env);
		return -1;
	}
	pe->fd = open_fifo(j);
	const int fds[3] = {-1, p1[1], p2[1]};
	pid_t pid = proc_spawn(j->argv, env, j->dir, fds, "spark");
	free(env);
	close(p1[1]);
	close(p2[1]);
	return pid;
}

/* SIGKILLs the job's group once a DELETE's or shutdown's grace is over. Lock held. */
static void kill_late(const struct job *j, pid_t pid)
{
	if (j->kill_ms && now_ms() - j->kill_ms > KILL_GRACE_MS)
		kill(-pid, SIGKILL);
}

/* Moves output into the log until both pipes close (or the driver exited and what it
 * started still holds them after a grace). 1 with *status when it reaped pid. */
static int pump(struct job *j, pid_t pid, struct joblog *l, struct stream *ss[3], int *status)
{
	long long exited_ms = 0;
	int have_status = 0;
	/* until stdout and stderr close: the FIFO may never have had a writer */
	while (ss[0]->fd >= 0 || ss[1]->fd >= 0) {
		struct pollfd pf[3];
		for (int k = 0; k < 3; k++)
			pf[k] = (struct pollfd){.fd = ss[k]->fd, .events = POLLIN};
		int r = poll(pf, 3, 250);
		long long before = l->len;
		for (int k = 0; r > 0 && k < 3; k++) {
			struct stream *s = ss[k];
			if (s->fd >= 0 && (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    drain(l, s) < 0) {
				close(s->fd);
				s->fd = -1;
			}
		}
		jobd_lock();
		if (l->len != before) {
			j->log_len = l->len;
			jobd_changed();
		}
		kill_late(j, pid);
		jobd_unlock();
		if (!have_status && waitpid(pid, status, WNOHANG) == pid) {
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
	return have_status;
}

/* Runs j to its end: output to the log, final state set. Called without the lock. */
static void run_job(struct job *j)
{
	int status = EXIT_SOFTWARE << 8; /* as if it exited 70: it could not start */
	struct stream so = {.name = "stdout", .fd = -1}, se = {.name = "stderr", .fd = -1},
		      pe = {.name = "stderr", .fd = -1};
	struct stream *ss[3] = {&so, &se, &pe};
	struct joblog l = {.job = j, .fd = -1};
	pid_t pid = start_job(j, &l, &so, &se, &pe);
	if (pid > 0) {
		jobd_lock();
		j->pid = pid;
		if (j->kill_ms) /* a DELETE came in while it was starting */
			kill(-pid, SIGTERM);
		jobd_unlock();
		warnx_("job-%d started (pid %d): %s", j->id, (int)pid, j->app);
		int have_status = pump(j, pid, &l, ss, &status);
		while (pe.fd >= 0 && drain(&l, &pe) == 0 && l.len != j->log_len) {
			jobd_lock(); /* what the Python driver wrote last */
			j->log_len = l.len;
			jobd_changed();
			jobd_unlock();
		}
		while (!have_status) {
			pid_t r = waitpid(pid, &status, WNOHANG);
			if (r == pid || (r < 0 && errno != EINTR))
				break;
			jobd_lock();
			kill_late(j, pid);
			jobd_unlock();
			sleep_ms(50, NULL);
		}
		kill(-pid, SIGKILL); /* nothing of the job outlives it */
	}
	if (so.fd >= 0)
		close(so.fd);
	if (se.fd >= 0)
		close(se.fd);
	if (pe.fd >= 0)
		close(pe.fd);
	if (l.fd >= 0)
		close(l.fd);
	buf_free(&l.rec);
	buf_free(&l.text);
	/* the app and its properties (with the secret) go; the log stays */
	proc_rm_tree(j->dir, "log.ndjson");
	jobd_lock();
	j->pid = 0;
	j->log_len = l.len;
	j->exit_code = exit_status(status);
	j->state = j->kill_ms ? J_KILLED : j->exit_code == 0 ? J_SUCCEEDED : J_FAILED;
	j->ended = (long long)time(NULL);
	jobd.idle_since = now_ms();
	jobd_changed();
	jobd_unlock();
	warnx_("job-%d %s (exit code %d)", j->id, jstate_name[j->state], j->exit_code);
}

void *jobq_runner(void *arg)
{
	(void)arg;
	jobd_lock();
	for (;;) {
		struct job *j = NULL;
		for (struct job *k = jobd.jobs; k && !j; k = k->next)
			if (k->state == J_QUEUED)
				j = k;
		if (jobd.quit) {
			for (struct job *k = jobd.jobs; k; k = k->next)
				if (k->state == J_QUEUED) {
					k->state = J_KILLED;
					k->ended = (long long)time(NULL);
					proc_rm_tree(k->dir, "log.ndjson");
				}
			jobd_changed();
			break;
		}
		if (!j) {
			jobd_wait(1000);
			continue;
		}
		j->state = J_RUNNING;
		j->started = (long long)time(NULL);
		jobd_changed();
		jobd_unlock();
		run_job(j);
		jobd_lock();
	}
	jobd_unlock();
	return NULL;
}
void job_free(struct job *j)
{
	if (!j)
		return;
	for (char **a = j->argv; a && *a; a++)
		free(*a);
	free(j->argv);
	free(j->dir);
	free(j->driver_python);
	free(j->unpack);
	free(j);
}

void jobq_free(void)
{
	while (jobd.jobs) {
		struct job *j = jobd.jobs;
		jobd.jobs = j->next;
		job_free(j);
	}
	jobd.last = NULL;
	free(jobd.workers);
	jobd.workers = NULL;
}
