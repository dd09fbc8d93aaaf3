/*
 * helpers/legion-register: registers this worker with the master's job daemon (POST
 * /v1/workers over TLS pinned to LEGION_TLS_CERT), retrying with backoff until it
 * answers, then execs the rest of its command line. It gives up after -t seconds, or
 * sooner (-g) when the master is gone: its name no longer resolves or its port refuses
 * connections on every try for that long. A name that has not resolved yet is a master
 * still being created (workers start with it): only -t bounds that wait. Leaves out
 * heartbeats (legion-idle) and anything Spark: it only knows the job API.
 *
 * Exit codes: 0 the master answered "stop" (nothing to do); 64 usage; 65 the master
 * refused the registration as malformed; 77 the token was refused; 78 configuration
 * missing; 111 no answer before the deadline (or the master is gone); 126 / 127 PROG could not be run;
 * 130 / 143 interrupted by SIGINT / SIGTERM while waiting.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "usage: legion-register [-v] [-p PORT] [-t SECS] [-g SECS] PROG..."
static const char EXITS[] =
	"exit: 0 the master said stop; 64 usage; 65 registration refused; 77 token refused;\n"
	"      78 configuration missing; 111 no answer in time, or the master is gone;\n"
	"      126 / 127 PROG not runnable; 130 / 143 interrupted";

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
	http_stop = 1;
}

/* Why the master looks gone after a try without an answer: its name does not resolve
 * (once it has: *resolved records that), or its port refuses connections (a container
 * that ended, a group deleted). NULL when it may still come (a timeout: the address
 * exists, the daemon may be starting; a name not made yet: its group is being created). */
static const char *master_gone(const struct agent *a, int *resolved)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", a->port);
	int rc = getaddrinfo(a->master, port, &hints, &res);
	if (rc == EAI_NONAME)
		return *resolved ? "its name does not resolve" : NULL;
	if (rc != 0)
		return NULL; /* no resolver: not proof of anything */
	*resolved = 1;
	const char *why = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		int e = connect(fd, res->ai_addr, res->ai_addrlen) == 0 ? 0 : errno;
		if (e == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			socklen_t n = sizeof e;
			e = 0;
			if (poll(&p, 1, 3000) == 1)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &n);
		}
		if (e == ECONNREFUSED)
			why = "it refuses connections";
		close(fd);
	}
	freeaddrinfo(res);
	return why;
}

/* Heartbeats until the master answers for good (2xx, or a 4xx other than 408, 429),
 * limit seconds pass, the master has looked gone (master_gone) on every try for gone
 * seconds, or a signal comes. Returns the last status (0: no answer), with *stop from
 * the answer, *tries counted and *why set when the master is gone. */
static long heartbeat_until(struct agent *a, long long limit, long long gone, int *stop, int *tries,
			    const char **why)
{
	long long end = now_ms() + limit * 1000, wait = 1000, gone_since = -1;
	int busy = 0, resolved = 0;
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
		const char *g = status ? NULL : master_gone(a, &resolved);
		if (!g)
			gone_since = -1;
		else if (gone_since < 0)
			gone_since = now_ms();
		else if (now_ms() - gone_since >= gone * 1000) {
			*why = g;
			break;
		}
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
	/* the CLI waits up to 900 s for a group to be provisioned and 180 s more for the
	 * master's job API: a worker created with its master waits as long */
	long long port = 7090, limit = 1200, gone = 60;
	int opt;
	opterr = 0; /* our own message, in our own shape */
	while ((opt = getopt(argc, argv, "+vp:t:g:h")) != -1) {
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
		case 'g':
			if (agent_opt_secs('g', optarg, 86400, &gone) < 0)
				return EXIT_USAGE;
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
	const char *why = NULL;
	long status = heartbeat_until(&a, limit, gone, &stop, &tries, &why);
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
	if (why)
		warnx_("fatal: unable to register: the master %s is gone (%s for %llds)", a.master,
		       why, gone);
	else
		warnx_("fatal: unable to register: no answer from %s in %llds", a.master, limit);
	return EXIT_NOANSWER;
}
