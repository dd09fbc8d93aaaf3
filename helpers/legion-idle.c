/*
 * helpers/legion-idle: runs PROG (the Spark worker) in its own process group, heartbeats
 * to the master's job daemon, watches the worker's executors on its JSON page, and
 * stops PROG when it has been idle too long, when the master says stop, or when the
 * master has been unreachable too long; on a signal or the master's stop, it first
 * decommissions the Spark worker (SIGPWR). Leaves out registration (legion-register)
 * and Spark's own configuration (legion-worker writes it).
 *
 * Exit codes: 0 stopped on purpose (idle, told to stop, master unreachable); PROG's own
 * status when it exits by itself (128+N after signal N); 64 usage; 77 the master
 * refused the token; 78 configuration missing; 126 / 127 PROG could not be run;
 * 129 / 130 / 143 after SIGHUP / SIGINT / SIGTERM (forwarded to PROG first).
 */
#include "helpers.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define USAGE "usage: legion-idle [-v] [-p PORT] [-n SECS] [-i SECS] [-u SECS] [-w URL|-] PROG..."
static const char EXITS[] =
	"exit: 0 stopped (idle, told to stop, master unreachable); PROG's status when it\n"
	"      exits by itself; 64 usage; 77 token refused; 78 configuration missing;\n"
	"      126 / 127 PROG not runnable; 128+N after signal N";
#define STOP_GRACE_MS 10000
#define DECOMMISSION_MS 20000 /* the longest a decommissioned worker keeps its executors */

static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t wake; /* a signal or a child's exit: stop sleeping */

static void on_signal(int sig)
{
	got_signal = sig;
	wake = 1;
}

static void on_child(int sig)
{
	(void)sig;
	wake = 1;
}

/* TERM, INT, HUP end the watch; a child's exit wakes it. */
static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);
}

/* Executors the Spark worker runs now, from its JSON page; -1 when unknown. */
static int executors(const char *url)
{
	if (!strcmp(url, "-"))
		return -1;
	struct http_req q = {.url = url, .timeout_ms = 3000, .tries = 1, .max_body = 4 << 20};
	struct http_resp r = {0};
	struct json j = {0};
	int n = -1;
	if (http_do(&q, &r) == 0 && r.status == 200 &&
	    json_parse(&j, r.body.p ? r.body.p : "", r.body.len, NULL) == 0) {
		int e = json_get(&j, 0, "executors");
		if (e >= 0 && j.t[e].type == JSMN_ARRAY)
			n = j.t[e].size;
	}
	json_free(&j);
	http_resp_free(&r);
	return n;
}

/* Spark's graceful stop before the signal that ends the worker: SIGPWR makes the Spark
 * worker (spark.decommission.enabled, legion-worker's properties) tell the master, which
 * schedules nothing more on it and has each driver decommission its executors there
 * (they move their blocks to other executors when the application enables it, then
 * exit). Waits up to DECOMMISSION_MS while the worker still runs executors. Only a
 * worker whose page answers gets it: before its JVM has its handler, SIGPWR ends it. */
static void decommission(pid_t pid, const char *url)
{
	int n = executors(url);
	if (n < 0 || kill(pid, SIGPWR) < 0)
		return;
	warnx_("decommissioning the worker (%d executor%s)", n, n == 1 ? "" : "s");
	long long end = now_ms() + DECOMMISSION_MS;
	while (n > 0 && now_ms() < end) {
		sleep_ms(500, NULL);
		n = executors(url);
	}
	if (n > 0)
		warnx_("the worker still runs %d executor%s after %ds: stopping it anyway", n,
		       n == 1 ? "" : "s", DECOMMISSION_MS / 1000);
}

/* What watch() looks after, and what it found. */
struct watch {
	struct agent *a;
	pid_t pid;
	const char *prog, *wurl;
	long long every, idle, unreach; /* seconds */
	long long last_busy, last_ok;   /* now_ms() */
	const char *why;                /* why it stopped watching; NULL after a signal */
	int worked;                     /* it has had an executor, or the master a job */
	int code;                       /* the exit code */
};

/* Heartbeats every w->every seconds until PROG exits (returns 1), or a signal, the
 * master's "stop", a refused token, an unreachable master or the idle timeout (0). */
static int watch(struct watch *w)
{
	long long t0 = now_ms(), every = w->every;
	long hb_timeout = every * 1000 < 2000    ? 2000
			  : every * 1000 > 10000 ? 10000
						 : (long)every * 1000;
	int status;
	w->last_busy = w->last_ok = t0;
	for (;;) {
		wake = 0;
		if (waitpid(w->pid, &status, WNOHANG) == w->pid) {
			w->code = exit_status(status);
			warnx_("%s exited with status %d", w->prog, w->code);
			kill(-w->pid, SIGKILL); /* its executors, if any are left */
			return 1;
		}
		if (got_signal)
			break;
		/* heartbeat first: the master knows of a job before its executors exist */
		int n = executors(w->wurl), stop = 0, busy = 0;
		long st = agent_heartbeat(w->a, n, hb_timeout, &stop, &busy);
		long long now = now_ms();
		if (n > 0 || (busy && st >= 200 && st < 300))
			w->last_busy = now;
		if (st >= 200 && st < 300) {
			w->last_ok = now;
			if (stop) {
				w->why = "the master says stop";
				break;
			}
		} else if (st == 401 || st == 403) {
			w->why = "the master refused the token";
			w->code = EXIT_NOPERM;
			break;
		} else if (now - w->last_ok >= w->unreach * 1000) {
			w->why = "the master is unreachable";
			break;
		}
		if (n > 0 || busy)
			w->worked = 1;
		/* before its first executor or job, a worker waits at least FIRST_JOB_MIN_MS:
		 * the CLI sends the job some seconds after the last worker registered */
		long long idle_ms = w->idle * 1000;
		if (!w->worked && idle_ms < FIRST_JOB_MIN_MS)
			idle_ms = FIRST_JOB_MIN_MS;
		if (w->idle > 0 && now - w->last_busy >= idle_ms) {
			w->why = "idle";
			break;
		}
		if (got_signal)
			break;
		sleep_ms(every * 1000, &wake);
	}
	return 0;
}

int main(int argc, char **argv)
{
	progname = "legion-idle";
	long long port = 7090, every = 5, idle = -1, unreach = 30;
	const char *wurl = NULL, *v;
	int opt;
	opterr = 0; /* our own message, in our own shape */
	while ((opt = getopt(argc, argv, "+vp:n:i:u:w:h")) != -1) {
		long long *dst = NULL;
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'p':
			if (agent_opt_port(optarg, &port) < 0)
				return EXIT_USAGE;
			break;
		case 'n': dst = &every; break;
		case 'i': dst = &idle; break;
		case 'u': dst = &unreach; break;
		case 'w': wurl = optarg; break;
		case 'h': printf("%s\n%s\n", USAGE, EXITS); return 0;
		default: return agent_usage(optopt, USAGE);
		}
		if (dst && agent_opt_secs(opt, optarg, 365LL * 86400, dst) < 0)
			return EXIT_USAGE;
	}
	if (optind >= argc || every < 1)
		return agent_usage(0, USAGE);
	if (idle < 0) {
		idle = 600;
		if ((v = getenv("LEGION_IDLE_TIMEOUT")) && *v &&
		    parse_duration(v, 365LL * 86400, &idle) < 0) {
			warnx_("fatal: unable to use LEGION_IDLE_TIMEOUT=%s: not a duration", v);
			return EXIT_CONFIG;
		}
	}
	struct agent a;
	int ex;
	if (agent_init(&a, (int)port, &ex) < 0)
		return ex;
	if (agent_own_token(&a) < 0) { /* this process lives as long as the worker */
		agent_free(&a);
		return EXIT_SOFTWARE;
	}
	char url[320], path[PATH_MAX];
	if (!wurl) {
		snprintf(url, sizeof url, "http://%s:8081/json/", a.addr);
		wurl = url;
	}
	if (proc_which(argv[optind], NULL, path, sizeof path) < 0) {
		warnx_("fatal: unable to find %s", argv[optind]);
		agent_free(&a);
		return EXIT_NOTFOUND;
	}
	char **env = agent_env(NULL);
	if (!env) {
		agent_free(&a);
		return EXIT_SOFTWARE;
	}

	catch_signals();

	const char *prog = argv[optind];
	argv[optind] = path; /* the path found: what proc_spawn executes */
	pid_t pid = proc_spawn(argv + optind, env, NULL, NULL, "the worker");
	free(env);
	if (pid < 0)
		return EXIT_SOFTWARE;
	if (http_init() < 0) {
		proc_stop_group(pid, SIGTERM, STOP_GRACE_MS, "the worker");
		agent_free(&a);
		return EXIT_SOFTWARE;
	}

	struct watch w = {.a = &a,
			  .pid = pid,
			  .prog = prog,
			  .wurl = wurl,
			  .every = every,
			  .idle = idle,
			  .unreach = unreach};
	if (watch(&w)) {
		http_cleanup();
		agent_free(&a);
		return w.code;
	}
	const char *why = w.why;
	long long last_ok = w.last_ok, last_busy = w.last_busy;
	int code = w.code;
	if (got_signal) {
		warnx_("got signal %d: stopping %s", (int)got_signal, prog);
		decommission(pid, wurl);
		proc_stop_group(pid, got_signal, STOP_GRACE_MS, "the worker");
		code = EXIT_SIGNALED(got_signal);
	} else {
		long long secs = (now_ms() - (strcmp(why, "idle") ? last_ok : last_busy)) / 1000;
		warnx_("stopping %s: %s (%llds)", prog, why, secs);
		if (!strcmp(why, "the master says stop"))
			decommission(pid, wurl);
		proc_stop_group(pid, SIGTERM, STOP_GRACE_MS, "the worker");
	}
	http_cleanup();
	agent_free(&a);
	return code;
}
