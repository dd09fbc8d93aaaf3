/*
 * helpers/legion-register: registers this worker with the master's job daemon (POST
 * /v1/workers over TLS pinned to LEGION_TLS_CERT), retrying with backoff until it
 * answers, then execs the rest of its command line. Leaves out heartbeats (legion-idle)
 * and anything Spark: it only knows the job API.
 *
 * Exit codes: 0 the master answered "stop" (nothing to do); 64 usage; 65 the master
 * refused the registration as malformed; 77 the token was refused; 78 configuration
 * missing; 111 no answer before the deadline; 126 / 127 PROG could not be run;
 * 130 / 143 interrupted by SIGINT / SIGTERM while waiting.
 */
#include "helpers.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "usage: legion-register [-v] [-p PORT] [-t SECS] PROG..."
static const char EXITS[] =
	"exit: 0 the master said stop; 64 usage; 65 registration refused; 77 token refused;\n"
	"      78 configuration missing; 111 no answer in time; 126 / 127 PROG not runnable;\n"
	"      130 / 143 interrupted";

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
	http_stop = 1;
}

/* Heartbeats until the master answers for good (2xx, or a 4xx other than 408, 429),
 * limit seconds pass or a signal comes. Returns the last status (0: no answer), with
 * *stop from the answer and *tries counted. */
static long heartbeat_until(struct agent *a, long long limit, int *stop, int *tries)
{
	long long end = now_ms() + limit * 1000, wait = 1000;
	int busy = 0;
	long status = 0;
	for (;;) {
		long long left = end - now_ms();
		status = agent_heartbeat(a, -1, left < 10000 ? (left > 1000 ? left : 1000) : 10000,
					 stop, &busy);
		(*tries)++;
		if ((status >= 200 && status < 300) || status == 401 || status == 403 ||
		    (status >= 400 && status < 500 && status != 408 && status != 429))
			break;
		if (http_stop)
			break;
		left = end - now_ms();
		if (left <= 0)
			break;
		unsigned r = 0;
		random_bytes(&r, sizeof r);
		long long nap = wait / 2 + (long long)(r % (unsigned)(wait / 2 + 1)); /* jitter */
		if (nap > left)
			nap = left;
		if (*tries == 1 || verbose)
			warnx_("master %s not answering yet (%s): retrying for up to %llds",
			       a->master, status ? "error" : "no answer", left / 1000);
		if (sleep_ms(nap, &http_stop))
			break;
		wait = wait * 2 > 15000 ? 15000 : wait * 2;
	}
	return status;
}

int main(int argc, char **argv)
{
	progname = "legion-register";
	long long port = 7090, limit = 600;
	int opt;
	opterr = 0; /* our own message, in our own shape */
	while ((opt = getopt(argc, argv, "+vp:t:h")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'p':
			if (agent_opt_port(optarg, &port) < 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (agent_opt_secs('t', optarg, 86400, &limit) < 0)
				return EXIT_USAGE;
			if (limit == 0) {
				warnx_("fatal: unable to use -t %s: not a duration", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': printf("%s\n%s\n", USAGE, EXITS); return 0;
		default: return agent_usage(optopt, USAGE);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s\n", USAGE);
		return EXIT_USAGE;
	}
	char path[PATH_MAX];
	if (proc_which(argv[optind], NULL, path, sizeof path) < 0) {
		warnx_("fatal: unable to find %s", argv[optind]);
		return EXIT_NOTFOUND;
	}

	struct agent a;
	int ex;
	if (agent_init(&a, (int)port, &ex) < 0)
		return ex;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (http_init() < 0) {
		agent_free(&a);
		return EXIT_SOFTWARE;
	}

	int stop = 0, tries = 0;
	long status = heartbeat_until(&a, limit, &stop, &tries);
	http_cleanup();
	agent_free(&a);
	if (status >= 200 && status < 300) {
		if (stop) {
			warnx_("the master says stop: not starting %s", argv[optind]);
			return 0;
		}
		warnx_("registered as %s with %s after %d tries", a.name, a.master, tries);
		execv(path, argv + optind);
		warn_("fatal: unable to run %s", path);
		return errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
	}
	if (status == 401 || status == 403) {
		warnx_("fatal: unable to register: the master refused the token");
		return EXIT_NOPERM;
	}
	if (status >= 400 && status < 500 && status != 408 && status != 429) {
		warnx_("fatal: unable to register: the master said %ld", status);
		return EXIT_DATAERR;
	}
	if (http_stop) {
		warnx_("fatal: unable to register: interrupted");
		return EXIT_SIGNALED(got_signal ? got_signal : SIGTERM);
	}
	warnx_("fatal: unable to register: no answer from %s in %llds", a.master, limit);
	return EXIT_NOANSWER;
}
