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
#include "helpers.h"

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

#define MASTER_GRACE_MS 10000
#define LINGER_MS 15000 /* idle exit: time to tell heartbeating workers to stop */
#define THREAD_STACK (256 << 10)
#define MAX_CONNS 64

struct jobd_config jobd_cfg;
static volatile sig_atomic_t got_signal;

static void set_cloexec(int fd)
{
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* ---- the Spark master ------------------------------------------------------------------ */

static int start_master(void)
{
	char bin[PATH_MAX + 32], log[PATH_MAX + 16];
	snprintf(bin, sizeof bin, "%s/bin/spark-class", jobd_cfg.spark_home);
	snprintf(log, sizeof log, "%s/master.log", jobd_cfg.workdir);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		warn_("fatal: unable to open %s", log);
		return -1;
	}
	char *argv[] = {bin,
			"org.apache.spark.deploy.master.Master",
			"--host",
			jobd_cfg.host,
			"--port",
			"7077",
			"--webui-port",
			"8080",
			"--properties-file",
			jobd_cfg.props,
			NULL};
	const int fds[3] = {-1, fd, fd};
	pid_t pid = proc_spawn(argv, jobd_cfg.env, jobd_cfg.workdir, fds, "spark");
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

/* Writes the base properties and jobd_cfg.props. */
static int write_props(const char *secret, const char *acct, const char *key)
{
	struct buf *b = &jobd_cfg.base;
	int rc = 0;
	rc |= agent_prop(b, "spark.authenticate", "true");
	rc |= agent_prop(b, "spark.authenticate.secret", secret);
	rc |= agent_prop(b, "spark.network.crypto.enabled", "true");
	rc |= agent_prop(b, "spark.master.rest.enabled", "false");
	rc |= agent_prop(b, "spark.driver.port", "7078");
	rc |= agent_prop(b, "spark.blockManager.port", "7079");
	rc |= agent_prop(b, "spark.driver.host", jobd_cfg.host);
	rc |= agent_prop(b, "spark.driver.bindAddress", jobd_cfg.addr);
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
	snprintf(jobd_cfg.props, sizeof jobd_cfg.props, "%s/spark.properties", jobd_cfg.workdir);
	if (write_file(jobd_cfg.props, b->p, b->len, 0600) < 0) {
		warn_("fatal: unable to write %s", jobd_cfg.props);
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
		const char *names[] = {jobd_cfg.tls_name, NULL};
		if (tls_identity(names, &gen_cert, &gen_key) < 0)
			return -1;
		cert = gen_cert;
		key = gen_key;
		char path[PATH_MAX + 16];
		snprintf(path, sizeof path, "%s/tls.crt", jobd_cfg.workdir);
		if (write_file(path, cert, strlen(cert), 0644) < 0) {
			warn_("fatal: unable to write %s", path);
			goto out;
		}
		fprintf(stderr, "%s: generated a TLS certificate for %s:\n%s", progname,
			jobd_cfg.tls_name, cert);
	}
	jobd_cfg.tls = tls_server_new(cert, key);
	rc = jobd_cfg.tls ? 0 : -1;
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
	jobq_free();
	free(jobd_cfg.env);
	if (jobd_cfg.token) {
		explicit_bzero(jobd_cfg.token, strlen(jobd_cfg.token));
		free(jobd_cfg.token);
	}
	if (jobd_cfg.base.p)
		explicit_bzero(jobd_cfg.base.p, jobd_cfg.base.len);
	buf_free(&jobd_cfg.base);
	tls_server_free(jobd_cfg.tls);
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
	jobd_cfg.token = take_secret("LEGION_TOKEN");
	secret = take_secret("LEGION_SPARK_SECRET");
	tls_key = take_secret("LEGION_TLS_KEY");
	acct_key = take_secret("AZURE_STORAGE_ACCOUNT_KEY");
	const char *acct = getenv("AZURE_STORAGE_ACCOUNT_NAME"), *v;
	ex = EXIT_CONFIG;
	if (!jobd_cfg.token || strlen(jobd_cfg.token) < 16 || strlen(jobd_cfg.token) > 512) {
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
	jobd_cfg.idle_s = idle;
	jobd_cfg.port = (int)port;
	v = getenv("SPARK_HOME");
	if (!v || !*v || strlen(v) >= sizeof jobd_cfg.spark_home - 32) {
		warnx_("fatal: unable to find SPARK_HOME in the environment");
		goto out;
	}
	strcpy(jobd_cfg.spark_home, v);
	if ((v = getenv("LEGION_CLUSTER")))
		snprintf(jobd_cfg.cluster, sizeof jobd_cfg.cluster, "%s", v);
	if (agent_host(jobd_cfg.host, sizeof jobd_cfg.host, jobd_cfg.addr, sizeof jobd_cfg.addr) <
	    0)
		goto out;
	v = getenv("LEGION_TLS_NAME");
	snprintf(jobd_cfg.tls_name, sizeof jobd_cfg.tls_name, "%s", v && *v ? v : jobd_cfg.host);

	ex = EXIT_CANTCREAT;
	if (mkdir(workdir, 0700) < 0 && errno != EEXIST) {
		warn_("fatal: unable to create %s", workdir);
		goto out;
	}
	if (!realpath(workdir, jobd_cfg.workdir) || strlen(jobd_cfg.workdir) > PATH_MAX - 512) {
		warn_("fatal: unable to use %s", workdir);
		goto out;
	}
	char jobs[PATH_MAX + 16];
	snprintf(jobs, sizeof jobs, "%s/jobs", jobd_cfg.workdir);
	if (mkdir(jobs, 0700) < 0 && errno != EEXIST) {
		warn_("fatal: unable to create %s", jobs);
		goto out;
	}
	if (write_props(secret, acct, acct_key) < 0)
		goto out;
	ex = EXIT_CONFIG;
	if (setup_tls(tls_key) < 0)
		goto out;
	/* from here on the secrets live only in jobd_cfg.base and the properties file */
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
	snprintf(local_ip, sizeof local_ip, "SPARK_LOCAL_IP=%s", jobd_cfg.addr);
	snprintf(public_dns, sizeof public_dns, "SPARK_PUBLIC_DNS=%s", jobd_cfg.host);
	const char *extra[] = {local_ip, public_dns, NULL};
	if (!(jobd_cfg.env = agent_env(extra)) || http_init() < 0)
		goto out;

	ex = EXIT_UNAVAIL;
	if ((lfd = listen_on(jobd_cfg.addr, jobd_cfg.port)) < 0)
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

	jobd.idle_since = now_ms();
	if (start_master() < 0)
		goto out;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	if (pthread_create(&run_thread, &attr, jobq_runner, NULL) != 0) {
		warnx_("fatal: unable to start a thread");
		ex = EXIT_SOFTWARE;
		goto out;
	}
	have_runner = 1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	warnx_("serving the job API on https://%s:%d (%s), idle timeout %llds", jobd_cfg.addr,
	       jobd_cfg.port, jobd_cfg.tls_name, jobd_cfg.idle_s);

	enum { RUN, LINGER, DONE } phase = RUN;
	long long linger_end = 0;
	while (phase != DONE) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, 250) > 0) {
			int cfd = accept(lfd, NULL, NULL);
			if (cfd >= 0) {
				set_cloexec(cfd);
				pthread_t t;
				jobd_lock();
				int ok = jobd.conns < MAX_CONNS;
				if (ok)
					jobd.conns++;
				jobd_unlock();
				if (!ok || pthread_create(&t, &attr, api_serve,
							  (void *)(intptr_t)cfd) != 0) {
					if (ok) {
						jobd_lock();
						jobd.conns--;
						jobd_unlock();
					}
					close(cfd);
				}
			}
		}
		int sig = got_signal;
		jobd_lock();
		pid_t master = jobd.master;
		int idle_now = !jobs_busy() && jobd_cfg.idle_s > 0 &&
			       now_ms() - jobd.idle_since >= jobd_cfg.idle_s * 1000;
		int waiting = 0; /* workers heard from lately that were not yet told to stop */
		for (int i = 0; i < jobd.nworkers; i++)
			waiting += !jobd.workers[i].told_stop &&
				   now_ms() - jobd.workers[i].seen_ms < 30000;
		jobd_unlock();
		int status;
		if (master > 0 && waitpid(master, &status, WNOHANG) == master) {
			kill(-master, SIGKILL);
			jobd_lock();
			jobd.master = 0;
			jobd_unlock();
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
			ex = EXIT_SIGNALED(sig);
			phase = DONE;
		} else if (phase == RUN && idle_now) {
			warnx_("idle for %llds: stopping", jobd_cfg.idle_s);
			ex = 0;
			phase = LINGER;
			linger_end = now_ms() + LINGER_MS;
			jobd_lock();
			jobd.stopping = 1;
			master = jobd.master;
			jobd.master = 0;
			jobd_unlock();
			if (master > 0)
				proc_stop_group(master, SIGTERM, MASTER_GRACE_MS,
						"the Spark master");
		} else if (phase == LINGER && (waiting == 0 || now_ms() >= linger_end))
			phase = DONE;
	}

	/* shutting down: refuse jobs, kill the running one and the master */
	jobd_lock();
	jobd.stopping = 1;
	for (struct job *j = jobd.jobs; j; j = j->next)
		if (j->state == J_RUNNING && !j->kill_ms) {
			j->kill_ms = now_ms();
			if (j->pid > 0)
				kill(-j->pid, SIGTERM);
		}
	pid_t master = jobd.master;
	jobd.master = 0;
	jobd_unlock();
	if (master > 0)
		proc_stop_group(master, SIGTERM, MASTER_GRACE_MS, "the Spark master");
	jobd_lock();
	jobd.quit = 1;
	jobd_changed();
	jobd_unlock();
	pthread_join(run_thread, NULL);
	have_runner = 0;
	close(lfd);
	lfd = -1;
	jobd_lock();
	long long end = now_ms() + 5000;
	while (jobd.conns > 0 && now_ms() < end) {
		jobd_changed();
		jobd_wait(100);
	}
	int left = jobd.conns;
	jobd_unlock();
	pthread_attr_destroy(&attr);
	unlink(jobd_cfg.props);
	if (left == 0)
		free_all();
	warnx_("exiting (%d)", ex);
	return ex;
out:
	if (have_runner) {
		jobd_lock();
		jobd.quit = 1;
		jobd_changed();
		jobd_unlock();
		pthread_join(run_thread, NULL);
	}
	if (jobd.master > 0)
		proc_stop_group(jobd.master, SIGTERM, MASTER_GRACE_MS, "the Spark master");
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
	if (jobd_cfg.props[0])
		unlink(jobd_cfg.props);
	free_all();
	return ex;
}
