/*
 * helpers/legion-jobd: the master's job daemon, started by legion-master with Spark's
 * master as PROG. It runs PROG (its output in WORKDIR/master.log) and supervises it,
 * serves the job API over TLS to holders of the cluster token (api.c), runs one
 * spark-submit at a time (jobq.c) and exits when idle. This file owns the start, the
 * accept / idle / shutdown loop and the one shutdown path. Leaves out the set-up of
 * secrets and the TLS identity (legion-master writes them into WORKDIR).
 *
 * Under abuse (slow clients holding connections): the connections whose bearer token
 * is not verified yet live in this file's front, an event loop on the main thread
 * (poll, non-blocking TLS through tls_pump): up to PRE_MAX (1024) of them, cheap (a
 * silent one is a slot and a descriptor; the TLS engine comes with its first byte, the
 * head buffer with its first decrypted byte), each closed HDR_DEADLINE_MS (10 s) after
 * accept unless its whole request head arrived, TLS handshake included; when the front
 * is full the oldest connection makes room. Only a request whose head carries the
 * cluster token gets one of the AUTH_MAX (64) threads, kept for verified clients: it
 * reads the body (one deadline, BODY_DEADLINE_MS) and runs the handler (api.c). So a
 * worker's heartbeat and the CLI's calls get through while an attacker, even one on
 * their own address, holds a thousand connections: what it holds costs it a slot in
 * the front for 10 s at most, never a thread. Errors before the token (401, 400, 431)
 * are answered from the loop without waiting, then the socket is drained and closed.
 *
 * Exit codes: 0 idle exit; 64 usage; 69 unable to listen, or PROG failed; 70 internal
 * error; 78 configuration missing; 128+N after signal N (jobs and PROG stopped first).
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define USAGE "usage: legion-jobd [-v] [-p PORT] [-i IDLE_SECS] [-d WORKDIR] PROG [ARG...]"
static const char EXITS[] = "exit: 0 idle; 64 usage; 69 cannot listen, or PROG failed;\n"
			    "      70 internal error; 78 configuration missing;\n"
			    "      128+N after signal N (130 / 143 after SIGINT / SIGTERM)";

#define MASTER_GRACE_MS 10000
#define LINGER_MS 15000 /* idle exit: time to tell heartbeating workers to stop */
/* The idle clock starts when the first worker registers, or this long after start if
 * none has: provisioning workers can take minutes, longer than a short idle timeout. */
#define START_ALLOWANCE_MS (600 * 1000LL)
#define THREAD_STACK (256 << 10)
#define PRE_MAX 1024  /* connections whose token is not verified yet */
#define AUTH_MAX 64   /* verified requests served at once, a thread each */
#define DRAIN_MS 2000 /* after a reply from the front: reading what comes */
#define DRAIN_MAX ((size_t)4 << 20)

struct jobd_config jobd_cfg;
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* ---- the supervised program: Spark's master ------------------------------------------ */

static int start_master(char **argv)
{
	char path[PATH_MAX], log[PATH_MAX + 16];
	if (proc_which(argv[0], NULL, path, sizeof path) < 0) {
		warnx_("fatal: unable to find %s", argv[0]);
		return -1;
	}
	snprintf(log, sizeof log, "%s/master.log", jobd_cfg.workdir);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		warn_("fatal: unable to open %s", log);
		return -1;
	}
	char *prog = argv[0];
	argv[0] = path; /* what proc_spawn executes */
	const int fds[3] = {-1, fd, fd};
	pid_t pid = proc_spawn(argv, jobd_cfg.env, jobd_cfg.workdir, fds, "spark");
	argv[0] = prog;
	close(fd);
	if (pid < 0)
		return -1;
	jobd_lock();
	jobd.master = pid;
	jobd_unlock();
	warnx_("spark master starting: spark://%s:7077 (pid %d, log %s)", jobd_cfg.host, (int)pid,
	       log);
	return 0;
}

/* The last lines of the master's log on stderr, when it died on us. */
static void tail_master_log(void)
{
	char log[PATH_MAX + 16];
	struct buf b = {0};
	snprintf(log, sizeof log, "%s/master.log", jobd_cfg.workdir);
	if (read_file(log, (size_t)16 << 20, &b) == 0 && b.len) {
		size_t start = b.len > 2048 ? b.len - 2048 : 0;
		fprintf(stderr, "%s: last lines of %s:\n%s\n", progname, log, b.p + start);
	}
	buf_free(&b);
}

/* Stops the master (if it runs) and forgets it. */
static void stop_master(void)
{
	jobd_lock();
	pid_t master = jobd.master;
	jobd.master = 0;
	jobd_unlock();
	if (master > 0)
		proc_stop_group(master, SIGTERM, MASTER_GRACE_MS, "the Spark master");
}

/* ---- start-up ------------------------------------------------------------------------ */

static int listen_on(const char *addr, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		warnx_("fatal: unable to listen: bad address %s", addr);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
	if (fd < 0) {
		warn_("fatal: unable to create a socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
		warn_("fatal: unable to listen on %s:%d", addr, port);
		close(fd);
		return -1;
	}
	return fd;
}

/* The token (scrubbed from the environment), SPARK_HOME, this container's names and
 * the idle timeout (idle < 0: LEGION_IDLE_TIMEOUT, else 600). 0, or -1 (exit 78). */
static int read_env(long long idle)
{
	const char *t = getenv("LEGION_TOKEN"), *v;
	jobd_cfg.token = t && *t ? strdup(t) : NULL;
	agent_scrub_env("LEGION_TOKEN");
	if (!jobd_cfg.token || strlen(jobd_cfg.token) < 16 || strlen(jobd_cfg.token) > 512) {
		warnx_("fatal: unable to find LEGION_TOKEN (16-512 characters) in the environment");
		return -1;
	}
	if (idle < 0) {
		idle = 600;
		if ((v = getenv("LEGION_IDLE_TIMEOUT")) && *v &&
		    parse_duration(v, 365LL * 86400, &idle) < 0) {
			warnx_("fatal: unable to use LEGION_IDLE_TIMEOUT=%s: not a duration", v);
			return -1;
		}
	}
	jobd_cfg.idle_s = idle;
	v = getenv("SPARK_HOME");
	if (!v || !*v || strlen(v) >= sizeof jobd_cfg.spark_home - 32) {
		warnx_("fatal: unable to find SPARK_HOME in the environment");
		return -1;
	}
	strcpy(jobd_cfg.spark_home, v);
	if ((v = getenv("LEGION_CLUSTER")))
		snprintf(jobd_cfg.cluster, sizeof jobd_cfg.cluster, "%s", v);
	if (agent_host(jobd_cfg.host, sizeof jobd_cfg.host, jobd_cfg.addr, sizeof jobd_cfg.addr) <
	    0)
		return -1;
	v = getenv("LEGION_TLS_NAME");
	snprintf(jobd_cfg.tls_name, sizeof jobd_cfg.tls_name, "%s", v && *v ? v : jobd_cfg.host);
	return 0;
}

/* What legion-master left in WORKDIR: the base properties (kept in memory for each
 * job's), the TLS certificate and key (the key file is removed once loaded). 0, or -1
 * (exit 78). */
static int load_workdir(const char *workdir)
{
	struct buf cert = {0}, key = {0};
	char path[PATH_MAX + 16];
	int rc = -1;
	if (!realpath(workdir, jobd_cfg.workdir) || strlen(jobd_cfg.workdir) > PATH_MAX - 512) {
		warn_("fatal: unable to use %s", workdir);
		return -1;
	}
	snprintf(jobd_cfg.props, sizeof jobd_cfg.props, "%s/spark.properties", jobd_cfg.workdir);
	if (read_file(jobd_cfg.props, (size_t)1 << 20, &jobd_cfg.base) < 0) {
		warn_("fatal: unable to read %s (legion-master writes it)", jobd_cfg.props);
		return -1;
	}
	snprintf(path, sizeof path, "%s/tls.key", jobd_cfg.workdir);
	int got_key = read_file(path, (size_t)1 << 16, &key) == 0;
	unlink(path);
	snprintf(path, sizeof path, "%s/tls.crt", jobd_cfg.workdir);
	if (!got_key || read_file(path, (size_t)1 << 20, &cert) < 0)
		warn_("fatal: unable to read the TLS identity in %s", jobd_cfg.workdir);
	else if ((jobd_cfg.tls = tls_server_new(cert.p, key.p)))
		rc = 0;
	if (key.p)
		explicit_bzero(key.p, key.len);
	buf_free(&key);
	buf_free(&cert);
	return rc;
}

/* ---- the loop and the one way out -------------------------------------------------- */

/* ---- the front: every connection until its token is verified ------------------------ */

enum pstate { P_NEW, P_TLS, P_DRAIN };
struct pconn {
	int fd;
	enum pstate st;
	short events;       /* what it waits for */
	long long born;     /* accept (P_DRAIN: when to give up on it) */
	size_t drained;     /* P_DRAIN: bytes thrown away */
	struct tls_conn *c; /* from its first byte */
	struct req *r;      /* from its first decrypted byte */
};
static struct pconn *pre; /* PRE_MAX of them; npre in use */
static struct pollfd *pfd;
static int npre, pre_max = PRE_MAX;

/* Frees what pc holds and closes its socket; the slot is reused by pre_compact. */
static void pre_close(struct pconn *pc)
{
	if (pc->r) {
		explicit_bzero(pc->r->head, sizeof pc->r->head);
		free(pc->r);
	}
	if (pc->c)
		close(tls_release(pc->c));
	else if (pc->fd >= 0)
		close(pc->fd);
	*pc = (struct pconn){.fd = -1};
}

/* After a reply from the loop (401, 400, 431, 503): close_notify, our half of the TCP
 * connection closed, and what the client still sends thrown away for a while, so that
 * its kernel does not answer our reply with a reset (the lingering close of tls_close,
 * without the waits). */
static void pre_drain(struct pconn *pc)
{
	if (verbose && pc->r && pc->r->status)
		warnx_("%s %s -> %d", pc->r->method, pc->r->path, pc->r->status);
	explicit_bzero(pc->r->head, sizeof pc->r->head);
	free(pc->r);
	pc->r = NULL;
	pc->fd = tls_release(pc->c);
	pc->c = NULL;
	shutdown(pc->fd, SHUT_WR);
	pc->st = P_DRAIN;
	pc->events = POLLIN;
	pc->born = now_ms() + DRAIN_MS - HDR_DEADLINE_MS; /* expires DRAIN_MS from now */
}

/* A verified request to a thread of its own (one of AUTH_MAX), else 503. */
static void pre_handoff(struct pconn *pc, pthread_attr_t *attr)
{
	pthread_t t;
	jobd_lock();
	int ok = jobd.conns < AUTH_MAX;
	jobd.conns += ok;
	jobd_unlock();
	tls_set_timeout(pc->c, IO_TIMEOUT_MS);
	if (ok && pthread_create(&t, attr, api_serve, pc->r) == 0) {
		*pc = (struct pconn){.fd = -1}; /* the thread owns it all now */
		return;
	}
	if (ok) {
		jobd_lock();
		jobd.conns--;
		jobd_unlock();
	}
	tls_set_timeout(pc->c, 0);
	httpd_reply_err(pc->r, 503, "Busy", "%d requests are being served: try again", AUTH_MAX);
	pre_drain(pc);
}

/* Reads what decrypted bytes there are into the head; at its end, the token. */
static void pre_head(struct pconn *pc, pthread_attr_t *attr)
{
	struct req *r = pc->r;
	if (!r) {
		if (!(r = pc->r = calloc(1, sizeof *r))) {
			pre_close(pc);
			return;
		}
		r->c = pc->c;
		r->fd = pc->fd;
	}
	size_t old = r->hlen;
	ssize_t n = tls_read(pc->c, r->head + r->hlen, HDR_MAX - r->hlen); /* does not wait */
	if (n <= 0) {
		pre_close(pc);
		return;
	}
	r->hlen += (size_t)n;
	int rc = httpd_head_step(r, old);
	if (rc == 0)
		return;
	if (rc == 1 && api_authorized(r->auth)) {
		pre_handoff(pc, attr);
		return;
	}
	if (rc == 1)
		httpd_reply_err(r, 401, "Unauthorized", "a valid bearer token is required");
	pre_drain(pc);
}

/* Moves one connection on as far as its bytes allow, never waiting. */
static void pre_step(struct pconn *pc, pthread_attr_t *attr)
{
	short ev = POLLIN;
	if (pc->st == P_DRAIN) {
		char junk[4096];
		ssize_t n;
		while ((n = recv(pc->fd, junk, sizeof junk, MSG_DONTWAIT)) > 0)
			if ((pc->drained += (size_t)n) > DRAIN_MAX)
				break;
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			pre_close(pc);
		return;
	}
	if (pc->st == P_NEW) { /* the TLS engine only for a connection that speaks */
		if (!(pc->c = tls_accept(jobd_cfg.tls, pc->fd, 0))) {
			pre_close(pc);
			return;
		}
		pc->st = P_TLS;
	}
	while (pc->fd >= 0 && pc->st == P_TLS) {
		int rc = tls_pump(pc->c, &ev);
		if (rc < 0)
			pre_close(pc);
		else if (rc == 0) {
			pc->events = ev;
			return;
		} else
			pre_head(pc, attr);
	}
}

/* Takes new connections: when the front is full, the oldest one makes room (a client
 * that is not stalling needs milliseconds, not the time it takes to be the oldest). */
static void pre_accept(int lfd)
{
	for (int k = 0; k < 64; k++) {
		int fd = accept(lfd, NULL, NULL); /* accept4 is not POSIX */
		if (fd >= 0)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && npre > 0)
			fd = -2; /* out of descriptors: evict, then try again */
		else if (fd < 0)
			return;
		if (npre == pre_max || fd == -2) {
			int old = 0;
			for (int i = 1; i < npre; i++)
				if (pre[i].born < pre[old].born)
					old = i;
			pre_close(&pre[old]);
			pre[old] = pre[--npre];
			if (fd == -2)
				continue;
		}
		pre[npre++] =
			(struct pconn){.fd = fd, .st = P_NEW, .events = POLLIN, .born = now_ms()};
	}
}

/* Drops the closed and handed-off slots. */
static void pre_compact(void)
{
	int k = 0;
	for (int i = 0; i < npre; i++)
		if (pre[i].fd >= 0)
			pre[k++] = pre[i];
	npre = k;
}

/* One round of the front: waits up to ms for any socket, moves every ready connection
 * on, closes those past their deadline, accepts new ones. */
static void front(int lfd, pthread_attr_t *attr, int ms)
{
	pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	long long now = now_ms(), first = now + ms;
	for (int i = 0; i < npre; i++) {
		pfd[i + 1] = (struct pollfd){.fd = pre[i].fd, .events = pre[i].events};
		if (pre[i].born + HDR_DEADLINE_MS < first)
			first = pre[i].born + HDR_DEADLINE_MS;
	}
	int n = npre, wait = first > now ? (int)(first - now) : 0;
	if (poll(pfd, (nfds_t)n + 1, wait) < 0)
		return;
	for (int i = 0; i < n; i++)
		if (pfd[i + 1].revents)
			pre_step(&pre[i], attr);
	now = now_ms();
	for (int i = 0; i < n; i++) /* a deadline missed: closed, without a word */
		if (pre[i].fd >= 0 && now >= pre[i].born + HDR_DEADLINE_MS)
			pre_close(&pre[i]);
	pre_compact();
	if (pfd[0].revents)
		pre_accept(lfd);
}

/* The front's tables, and descriptors enough for them (the soft limit raised). */
static int front_init(void)
{
	struct rlimit rl;
	rlim_t want = PRE_MAX + AUTH_MAX * 4 + 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur =
			rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
			pre_max = rl.rlim_cur > AUTH_MAX * 4 + 256 + 16
					  ? (int)(rl.rlim_cur - AUTH_MAX * 4 - 256)
					  : 16;
	}
	pre = calloc(PRE_MAX, sizeof *pre);
	pfd = calloc(PRE_MAX + 1, sizeof *pfd);
	if (!pre || !pfd) {
		warnx_("fatal: out of memory");
		return -1;
	}
	return 0;
}

static void front_free(void)
{
	for (int i = 0; pre && i < npre; i++)
		pre_close(&pre[i]);
	npre = 0;
	free(pre);
	free(pfd);
	pre = NULL;
	pfd = NULL;
}

/* Serves until a signal, the master's death or the idle timeout (after a linger that
 * lets heartbeating workers hear "stop"). Returns the exit code. */
static int serve_loop(int lfd, pthread_attr_t *attr)
{
	enum { RUN, LINGER, DONE } phase = RUN;
	long long linger_end = 0;
	int ex = 0;
	while (phase != DONE) {
		front(lfd, attr, 250);
		int sig = got_signal, status;
		jobd_lock();
		if (jobd.nworkers > 0 && jobd.idle_since > now_ms())
			jobd.idle_since = now_ms(); /* the first worker: the clock starts */
		pid_t master = jobd.master;
		long long idle_ms = jobd_cfg.idle_s * 1000;
		if (jobd.njobs == 0 && idle_ms < FIRST_JOB_MIN_MS)
			idle_ms = FIRST_JOB_MIN_MS;
		int idle_now = !jobs_busy() && jobd_cfg.idle_s > 0 &&
			       now_ms() - jobd.idle_since >= idle_ms;
		int waiting = 0; /* workers heard from lately that were not yet told to stop */
		for (int i = 0; i < jobd.nworkers; i++)
			waiting += !jobd.workers[i].told_stop &&
				   now_ms() - jobd.workers[i].seen_ms < 30000;
		jobd_unlock();
		if (master > 0 && waitpid(master, &status, WNOHANG) == master) {
			kill(-master, SIGKILL);
			jobd_lock();
			jobd.master = 0;
			jobd_unlock();
			if (phase == RUN && !sig) {
				warnx_("fatal: spark master exited (status %d)",
				       exit_status(status));
				tail_master_log();
				return EXIT_UNAVAIL;
			}
		}
		if (sig) {
			warnx_("got signal %d: stopping jobs and the spark master", sig);
			return EXIT_SIGNALED(sig);
		} else if (phase == RUN && idle_now) {
			warnx_("idle for %llds: stopping", idle_ms / 1000);
			phase = LINGER;
			linger_end = now_ms() + LINGER_MS;
			jobd_lock();
			jobd.stopping = 1;
			jobd_unlock();
			stop_master();
		} else if (phase == LINGER && (waiting == 0 || now_ms() >= linger_end))
			phase = DONE;
	}
	return ex;
}

/* The one shutdown path: refuse jobs, kill the running one and the master, end the
 * runner, wait (bounded) for connections, remove the properties file and wipe the
 * secrets in memory. */
static void shut_down(pthread_t *runner, int lfd)
{
	jobd_lock();
	jobd.stopping = 1;
	for (struct job *j = jobd.jobs; j; j = j->next)
		if (j->state == J_RUNNING && !j->kill_ms) {
			j->kill_ms = now_ms();
			if (j->pid > 0)
				kill(-j->pid, SIGTERM);
		}
	jobd_unlock();
	stop_master();
	if (runner) {
		jobd_lock();
		jobd.quit = 1;
		jobd_changed();
		jobd_unlock();
		pthread_join(*runner, NULL);
	}
	if (lfd >= 0)
		close(lfd);
	front_free();
	jobd_lock();
	long long end = now_ms() + 5000;
	while (jobd.conns > 0 && now_ms() < end) {
		jobd_changed();
		jobd_wait(100);
	}
	int left = jobd.conns;
	jobd_unlock();
	if (jobd_cfg.props[0])
		unlink(jobd_cfg.props);
	if (jobd_cfg.token)
		explicit_bzero(jobd_cfg.token, strlen(jobd_cfg.token));
	if (jobd_cfg.base.p)
		explicit_bzero(jobd_cfg.base.p, jobd_cfg.base.len);
	if (left) /* a connection thread still reads the state: leave it be */
		return;
	jobq_free();
	free(jobd_cfg.env);
	free(jobd_cfg.token);
	buf_free(&jobd_cfg.base);
	tls_server_free(jobd_cfg.tls);
	http_cleanup();
}

/* Options into *port, *idle, *workdir; optind at PROG. 0, or the exit code (-h: -1). */
static int parse_opts(int argc, char **argv, long long *port, long long *idle, const char **workdir)
{
	int opt;
	opterr = 0; /* our own message, in our own shape */
	while ((opt = getopt(argc, argv, "+vp:i:d:h")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'p':
			if (agent_opt_port(optarg, port) < 0)
				return EXIT_USAGE;
			break;
		case 'i':
			if (agent_opt_secs('i', optarg, 365LL * 86400, idle) < 0)
				return EXIT_USAGE;
			break;
		case 'd': *workdir = optarg; break;
		case 'h': printf("%s\n%s\n", USAGE, EXITS); return -1;
		default: return agent_usage(optopt, USAGE);
		}
	}
	return optind < argc ? 0 : agent_usage(0, USAGE);
}

int main(int argc, char **argv)
{
	progname = "legion-jobd";
	long long port = 7090, idle = -1;
	const char *workdir = "legion-jobd"; /* in the cwd: each group (container) has its own */
	int lfd = -1, ex = parse_opts(argc, argv, &port, &idle, &workdir);
	pthread_t runner;
	if (ex)
		return ex < 0 ? 0 : ex;
	jobd_cfg.port = (int)port;
	ex = EXIT_CONFIG;
	if (read_env(idle) < 0 || load_workdir(workdir) < 0)
		goto out;
	ex = EXIT_SOFTWARE;
	char local_ip[96], public_dns[300];
	snprintf(local_ip, sizeof local_ip, "SPARK_LOCAL_IP=%s", jobd_cfg.addr);
	snprintf(public_dns, sizeof public_dns, "SPARK_PUBLIC_DNS=%s", jobd_cfg.host);
	const char *extra[] = {local_ip, public_dns, NULL};
	if (!(jobd_cfg.env = agent_env(extra)) || http_init() < 0)
		goto out;
	ex = EXIT_UNAVAIL;
	if (front_init() < 0 || (lfd = listen_on(jobd_cfg.addr, jobd_cfg.port)) < 0)
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

	jobd.idle_since = now_ms() + START_ALLOWANCE_MS;
	if (start_master(argv + optind) < 0)
		goto out;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	if (pthread_create(&runner, &attr, jobq_runner, NULL) != 0) {
		warnx_("fatal: unable to start a thread");
		pthread_attr_destroy(&attr);
		ex = EXIT_SOFTWARE;
		goto out;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	warnx_("serving the job API on https://%s:%d (%s), idle timeout %llds (before the "
	       "first job: at least %llds, from the first worker's registration or %llds after "
	       "start)",
	       jobd_cfg.addr, jobd_cfg.port, jobd_cfg.tls_name, jobd_cfg.idle_s,
	       FIRST_JOB_MIN_MS / 1000, START_ALLOWANCE_MS / 1000);
	ex = serve_loop(lfd, &attr);
	shut_down(&runner, lfd);
	pthread_attr_destroy(&attr);
	warnx_("exiting (%d)", ex);
	return ex;
out:
	shut_down(NULL, lfd);
	return ex;
}
