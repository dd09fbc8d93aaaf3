/*
 * helpers/legion-worker: the worker container's entrypoint. Writes Spark's properties
 * (with the RPC secret, mode 0600), takes the secret out of the environment, and execs
 * the chain: legion-register [-p PORT] legion-idle [-p PORT] [-u SECS] spark-class
 * ...Worker. Leaves out the job API (legion-register, legion-idle do that) and any
 * waiting: it only prepares and execs.
 *
 * Exit codes: 64 usage; 73 unable to write in DIR; 78 configuration missing;
 * 126 / 127 legion-register could not be run; otherwise those of the chain.
 */
#include "helpers.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE "usage: legion-worker [-v] [-d DIR] [-p PORT] [-u SECS]"
static const char EXITS[] =
	"exit: 64 usage; 73 DIR not writable; 78 configuration missing; 126 / 127\n"
	"      legion-register not runnable; otherwise those of the chain";

/* Appends copies of the NULL-terminated strings to argv at *n (at most max). */
static int push(char **argv, int *n, int max, ...)
{
	va_list ap;
	va_start(ap, max);
	for (const char *s; (s = va_arg(ap, const char *));) {
		if (*n >= max - 1 || !(argv[(*n)++] = strdup(s))) {
			va_end(ap);
			warnx_("fatal: out of memory");
			return -1;
		}
	}
	va_end(ap);
	return 0;
}

/* DIR with Spark's properties (the secret, 0600), work/ and local/; props, work and
 * local (PATH_MAX + 32 bytes each) get their paths. 0, or the exit code (73). */
static int write_dir(const char *dir, const char *secret, char *props, char *work, char *local)
{
	char d[PATH_MAX];
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || !realpath(dir, d) ||
	    strlen(d) > PATH_MAX - 64) {
		warn_("fatal: unable to create %s", dir);
		return EXIT_CANTCREAT;
	}
	snprintf(props, PATH_MAX + 32, "%s/spark.properties", d);
	snprintf(work, PATH_MAX + 32, "%s/work", d);
	snprintf(local, PATH_MAX + 32, "%s/local", d);
	struct buf b = {0};
	int rc = agent_prop(&b, "spark.authenticate", "true");
	rc = rc < 0 ? rc : agent_prop(&b, "spark.authenticate.secret", secret);
	rc = rc < 0 ? rc : agent_prop(&b, "spark.network.crypto.enabled", "true");
	rc = rc < 0 ? rc : agent_prop(&b, "spark.ui.killEnabled", "false");
	/* SIGPWR (legion-idle, before it stops the worker) decommissions it: the master
	 * schedules nothing more on it and the drivers move its executors' blocks away */
	rc = rc < 0 ? rc : agent_prop(&b, "spark.decommission.enabled", "true");
	/* its UI's links go through the master's (legion ui) */
	rc = rc < 0 ? rc : agent_prop(&b, "spark.ui.reverseProxy", "true");
	rc = rc < 0 ? rc : agent_prop(&b, "spark.ui.reverseProxyUrl", UI_MASTER_BASE);
	if (rc || write_file(props, b.p, b.len, 0600) < 0 ||
	    (mkdir(work, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(local, 0700) < 0 && errno != EEXIST)) {
		warn_("fatal: unable to write %s", props);
		if (b.p)
			explicit_bzero(b.p, b.len);
		buf_free(&b);
		return EXIT_CANTCREAT;
	}
	explicit_bzero(b.p, b.len); /* b holds at least the three lines */
	buf_free(&b);
	return 0;
}

/* Runs the chain in this process; returns the exit code only when that failed. */
static int exec_chain(char **cmd)
{
	char path[PATH_MAX];
	if (proc_which(cmd[0], NULL, path, sizeof path) < 0) {
		warnx_("fatal: unable to find legion-register in PATH");
		return EXIT_NOTFOUND;
	}
	execv(path, cmd);
	warn_("fatal: unable to run %s", path);
	return errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
}

int main(int argc, char **argv)
{
	progname = "legion-worker";
	const char *dir = "legion-worker", *port = NULL, *unreach = NULL; /* in the cwd */
	int opt;
	long long x;
	opterr = 0; /* our own message, in our own shape */
	while ((opt = getopt(argc, argv, "vd:p:u:h")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'd': dir = optarg; break;
		case 'p':
			if (agent_opt_port(optarg, &x) < 0)
				return EXIT_USAGE;
			port = optarg;
			break;
		case 'u':
			if (agent_opt_secs('u', optarg, 86400, &x) < 0)
				return EXIT_USAGE;
			unreach = optarg;
			break;
		case 'h': printf("%s\n%s\n", USAGE, EXITS); return 0;
		default: return agent_usage(optopt, USAGE);
		}
	}
	if (optind != argc)
		return agent_usage(0, USAGE);

	const char *secret = getenv("LEGION_SPARK_SECRET"), *master = getenv("LEGION_MASTER");
	const char *home = getenv("SPARK_HOME"), *cores = getenv("LEGION_WORKER_CORES");
	const char *mem = getenv("LEGION_WORKER_MEMORY");
	if (!secret || !*secret || !master || !*master || !home || !*home) {
		warnx_("fatal: unable to find %s in the environment",
		       !secret || !*secret   ? "LEGION_SPARK_SECRET"
		       : !master || !*master ? "LEGION_MASTER"
					     : "SPARK_HOME");
		return EXIT_CONFIG;
	}
	if ((cores && *cores && parse_int(cores, 1, 4096, &x) < 0) ||
	    (mem && *mem && parse_int(mem, 1, 1 << 30, &x) < 0)) {
		warnx_("fatal: unable to use LEGION_WORKER_CORES / _MEMORY: not whole numbers");
		return EXIT_CONFIG;
	}
	char host[256], addr[64];
	if (agent_host(host, sizeof host, addr, sizeof addr) < 0)
		return EXIT_CONFIG;

	char props[PATH_MAX + 32], work[PATH_MAX + 32], local[PATH_MAX + 32];
	int rc = write_dir(dir, secret, props, work, local);
	if (rc)
		return rc;
	agent_scrub_env("LEGION_SPARK_SECRET");
	agent_scrub_env("LEGION_TLS_KEY"); /* a worker never needs the master's key */
	if (setenv("SPARK_LOCAL_IP", addr, 1) < 0 || setenv("SPARK_PUBLIC_DNS", host, 1) < 0 ||
	    setenv("SPARK_LOCAL_DIRS", local, 1) < 0 ||
	    daemon_env("SPARK_DAEMON_JAVA_OPTS", "worker") < 0 ||
	    daemon_env("SPARK_LAUNCHER_OPTS", "launcher") < 0) {
		warnx_("fatal: out of memory");
		return EXIT_SOFTWARE;
	}

	/* legion-register [-v] [-p P] legion-idle [-v] [-p P] [-u U] spark-class Worker
	 * spark://MASTER:7077 --host H [--cores C] [--memory Mm] --webui-port 8081
	 * --work-dir W --properties-file F */
	char *cmd[40] = {0}, s[PATH_MAX + 64];
	int n = 0, max = (int)(sizeof cmd / sizeof *cmd);
	const char *v = verbose ? "-v" : NULL;
#define PUSH(...) rc = rc < 0 ? rc : push(cmd, &n, max, __VA_ARGS__, (char *)NULL)
	rc = 0;
	PUSH("legion-register");
	if (v)
		PUSH(v);
	if (port)
		PUSH("-p", port);
	PUSH("legion-idle");
	if (v)
		PUSH(v);
	if (port)
		PUSH("-p", port);
	if (unreach)
		PUSH("-u", unreach);
	snprintf(s, sizeof s, "%s/bin/spark-class", home);
	PUSH(s, "org.apache.spark.deploy.worker.Worker");
	snprintf(s, sizeof s, "spark://%s:7077", master);
	PUSH(s, "--host", host);
	if (cores && *cores)
		PUSH("--cores", cores);
	if (mem && *mem) {
		snprintf(s, sizeof s, "%sm", mem);
		PUSH("--memory", s);
	}
	/* fixed ports, so a container platform can expose them (the executor's block
	 * manager takes 7079 from the application's configuration) */
	PUSH("--port", "7078", "--webui-port", "8081", "--work-dir", work, "--properties-file",
	     props);
#undef PUSH
	if (rc < 0)
		return EXIT_SOFTWARE;
	return exec_chain(cmd);
}
