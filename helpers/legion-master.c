/*
 * helpers/legion-master: the master container's entrypoint. Checks the configuration,
 * writes Spark's properties (with the RPC secret and the storage key or the OAuth
 * settings of --storage-auth sp|msi with the client secret, mode 0600) and
 * the TLS identity into WORKDIR, takes those secrets out of the environment, and execs
 * the chain: legion-jobd [-v] [-p PORT] [-i SECS] -d WORKDIR spark-class ...Master.
 * Leaves out the job API and any waiting (legion-jobd does those): it only prepares and
 * execs, the way legion-worker does for a worker.
 *
 * Exit codes: 64 usage; 70 internal error; 73 unable to write in WORKDIR; 78
 * configuration missing; 126 / 127 legion-jobd could not be run; otherwise legion-jobd's.
 */
#include "helpers.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE "usage: legion-master [-v] [-p PORT] [-i IDLE_SECS] [-d WORKDIR]"
static const char EXITS[] =
	"exit: 64 usage; 70 internal error; 73 WORKDIR not writable; 78 configuration\n"
	"      missing; 126 / 127 legion-jobd not runnable; otherwise those of legion-jobd";

/* What the set-up reads from the environment; the secrets are owned copies. */
struct setup {
	char *secret, *tls_key, *acct_key, *sp_secret; /* scrubbed from the environment */
	const char *acct, *tls_cert;
	const char *storage; /* LEGION_STORAGE_AUTH: sp, msi, or NULL (the key, if any) */
	char host[256], addr[64], tls_name[256];
	char workdir[PATH_MAX], props[PATH_MAX + 32];
};

/* Copies a secret out of the environment and scrubs it there; NULL when unset. */
static char *take_secret(const char *name)
{
	const char *v = getenv(name);
	char *copy = v && *v ? strdup(v) : NULL;
	agent_scrub_env(name);
	return copy;
}

static void wipe(char **s)
{
	if (*s)
		explicit_bzero(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

/* LEGION_STORAGE_AUTH sp (with LEGION_STORAGE_CLIENT_ID, _TOKEN_ENDPOINT and
 * _CLIENT_SECRET) or msi. 0, or -1 after a message. */
static int check_oauth(const struct setup *s)
{
	const char *id = getenv("LEGION_STORAGE_CLIENT_ID"),
		   *ep = getenv("LEGION_STORAGE_TOKEN_ENDPOINT");
	if (!strcmp(s->storage, "sp") && (!id || !*id || !ep || !*ep || !s->sp_secret)) {
		warnx_("fatal: unable to use storage: LEGION_STORAGE_AUTH sp needs "
		       "LEGION_STORAGE_CLIENT_ID, _TOKEN_ENDPOINT and _CLIENT_SECRET");
		return -1;
	}
	if (strcmp(s->storage, "sp") && strcmp(s->storage, "msi")) {
		warnx_("fatal: unable to use LEGION_STORAGE_AUTH '%s': not sp or msi", s->storage);
		return -1;
	}
	return 0;
}

/* spark.hadoop.fs.azure.account.NAME[.ACCT.dfs.core.windows.net]=v; an unset v is
 * left out, or written empty when hadoop-azure insists on the key (always). */
static int azprop(struct buf *b, const char *name, const char *acct, const char *v, int always)
{
	char k[512];
	if ((!v || !*v) && !always)
		return 0;
	snprintf(k, sizeof k, "spark.hadoop.fs.azure.account.%s%s%s%s", name, acct ? "." : "",
		 acct ? acct : "", acct ? ".dfs.core.windows.net" : "");
	return agent_prop(b, k, v ? v : "");
}

/* hadoop-azure's OAuth for abfss (sp: ClientCredsTokenProvider with the client secret;
 * msi: MsiTokenProvider), for AZURE_STORAGE_ACCOUNT_NAME's account, else every one. */
static int oauth_props(const struct setup *s, struct buf *b)
{
	static const char pkg[] = "org.apache.hadoop.fs.azurebfs.oauth2.";
	const char *acct = s->acct && *s->acct ? s->acct : NULL,
		   *ep = getenv("LEGION_STORAGE_TOKEN_ENDPOINT");
	int sp = !strcmp(s->storage, "sp"), rc = 0;
	char provider[128];
	snprintf(provider, sizeof provider, "%s%s", pkg,
		 sp ? "ClientCredsTokenProvider" : "MsiTokenProvider");
	rc |= azprop(b, "auth.type", acct, "OAuth", 0);
	rc |= azprop(b, "oauth.provider.type", acct, provider, 0);
	/* MsiTokenProvider wants both keys; empty: the only identity, no authority */
	rc |= azprop(b, "oauth2.client.id", acct, getenv("LEGION_STORAGE_CLIENT_ID"), !sp);
	if (sp)
		return rc | azprop(b, "oauth2.client.endpoint", acct, ep, 0) |
		       azprop(b, "oauth2.client.secret", acct, s->sp_secret, 0);
	return rc | azprop(b, "oauth2.msi.tenant", acct, getenv("LEGION_STORAGE_TENANT"), 1) |
	       azprop(b, "oauth2.msi.endpoint", acct, ep, 0);
}

/* The environment's configuration into s. 0, or -1 after a message (exit 78). */
static int read_env(struct setup *s)
{
	const char *t = getenv("LEGION_TOKEN");
	s->secret = take_secret("LEGION_SPARK_SECRET");
	s->tls_key = take_secret("LEGION_TLS_KEY");
	s->acct_key = take_secret("AZURE_STORAGE_ACCOUNT_KEY");
	s->sp_secret = take_secret("LEGION_STORAGE_CLIENT_SECRET");
	s->acct = getenv("AZURE_STORAGE_ACCOUNT_NAME");
	s->storage = getenv("LEGION_STORAGE_AUTH");
	if (s->storage && !*s->storage)
		s->storage = NULL;
	s->tls_cert = getenv("LEGION_TLS_CERT");
	if (!t || strlen(t) < 16 || strlen(t) > 512) {
		warnx_("fatal: unable to find LEGION_TOKEN (16-512 characters) in the environment");
		return -1;
	}
	if (!s->secret) {
		warnx_("fatal: unable to find LEGION_SPARK_SECRET in the environment");
		return -1;
	}
	if (!s->storage && (s->acct && *s->acct) != (s->acct_key != NULL)) {
		warnx_("fatal: unable to use storage: set AZURE_STORAGE_ACCOUNT_NAME and _KEY");
		return -1;
	}
	if (s->storage && check_oauth(s) < 0)
		return -1;
	if (s->acct && strcspn(s->acct, ".=:/ \\") != strlen(s->acct)) {
		warnx_("fatal: unable to use AZURE_STORAGE_ACCOUNT_NAME: not an account name");
		return -1;
	}
	if ((s->tls_cert && *s->tls_cert) != (s->tls_key != NULL)) {
		warnx_("fatal: unable to use TLS: set LEGION_TLS_CERT and _KEY, or neither");
		return -1;
	}
	const char *v = getenv("SPARK_HOME");
	if (!v || !*v || strlen(v) >= PATH_MAX - 32) {
		warnx_("fatal: unable to find SPARK_HOME in the environment");
		return -1;
	}
	if (agent_host(s->host, sizeof s->host, s->addr, sizeof s->addr) < 0)
		return -1;
	v = getenv("LEGION_TLS_NAME");
	snprintf(s->tls_name, sizeof s->tls_name, "%s", v && *v ? v : s->host);
	return 0;
}

/* WORKDIR and WORKDIR/jobs. 0, or -1 after a message (exit 73). */
static int make_workdir(struct setup *s, const char *workdir)
{
	if (mkdir(workdir, 0700) < 0 && errno != EEXIST) {
		warn_("fatal: unable to create %s", workdir);
		return -1;
	}
	if (!realpath(workdir, s->workdir) || strlen(s->workdir) > PATH_MAX - 512) {
		warn_("fatal: unable to use %s", workdir);
		return -1;
	}
	char jobs[PATH_MAX + 16];
	snprintf(jobs, sizeof jobs, "%s/jobs", s->workdir);
	if (mkdir(jobs, 0700) < 0 && errno != EEXIST) {
		warn_("fatal: unable to create %s", jobs);
		return -1;
	}
	return 0;
}

/* The properties every Spark process of this master gets, into WORKDIR (0600). */
static int write_props(struct setup *s)
{
	struct buf b = {0};
	int rc = 0;
	rc |= agent_prop(&b, "spark.authenticate", "true");
	rc |= agent_prop(&b, "spark.authenticate.secret", s->secret);
	rc |= agent_prop(&b, "spark.network.crypto.enabled", "true");
	rc |= agent_prop(&b, "spark.master.rest.enabled", "false");
	rc |= agent_prop(&b, "spark.ui.killEnabled", "false"); /* master, driver */
	rc |= agent_prop(&b, "spark.driver.port", "7078");
	rc |= agent_prop(&b, "spark.blockManager.port", "7079");
	rc |= agent_prop(&b, "spark.driver.host", s->host);
	rc |= agent_prop(&b, "spark.driver.bindAddress", s->addr);
	/* the UIs: drivers' on (4040), all bound to this container's address (never a
	 * public port) and reached through the job API's /v1/ui/ (legion ui); in Spark's
	 * reverse-proxy mode the master's page links to workers and apps through itself */
	rc |= agent_prop(&b, "spark.ui.enabled", "true");
	rc |= agent_prop(&b, "spark.ui.port", "4040");
	rc |= agent_prop(&b, "spark.ui.reverseProxy", "true");
	rc |= agent_prop(&b, "spark.ui.reverseProxyUrl", UI_MASTER_BASE);
	if (s->storage)
		rc |= oauth_props(s, &b);
	else if (s->acct && s->acct_key) {
		char k[512];
		static const char *const kinds[] = {"blob", "dfs"};
		for (int i = 0; i < 2; i++) {
			snprintf(k, sizeof k,
				 "spark.hadoop.fs.azure.account.key.%s.%s.core.windows.net",
				 s->acct, kinds[i]);
			rc |= agent_prop(&b, k, s->acct_key);
		}
	}
	/* start-up: the driver's and executors' class archives (a job's own conf wins) */
	char cds[PATH_MAX + 128];
	if (cds_opts("driver", cds, sizeof cds) == 0)
		rc |= agent_prop(&b, "spark.driver.extraJavaOptions", cds);
	if (cds_opts("executor", cds, sizeof cds) == 0)
		rc |= agent_prop(&b, "spark.executor.extraJavaOptions", cds);
	snprintf(s->props, sizeof s->props, "%s/spark.properties", s->workdir);
	if (rc)
		warnx_("fatal: out of memory");
	else if ((rc = write_file(s->props, b.p, b.len, 0600)) < 0)
		warn_("fatal: unable to write %s", s->props);
	if (b.p)
		explicit_bzero(b.p, b.len);
	buf_free(&b);
	return rc ? -1 : 0;
}

/* WORKDIR/tls.crt and WORKDIR/tls.key (0600; legion-jobd loads and removes it): from
 * LEGION_TLS_CERT / LEGION_TLS_KEY, else a fresh identity for tls_name that is
 * published on stderr (the CLI can pin it from the log). Returns the exit code. */
static int write_tls(struct setup *s)
{
	char *gen_cert = NULL, *gen_key = NULL, path[PATH_MAX + 16];
	const char *cert = s->tls_cert, *key = s->tls_key;
	int ex = EXIT_CANTCREAT;
	if (!key) {
		const char *names[] = {s->tls_name, NULL};
		if (tls_identity(names, &gen_cert, &gen_key) < 0)
			return EXIT_CONFIG;
		cert = gen_cert;
		key = gen_key;
	}
	snprintf(path, sizeof path, "%s/tls.key", s->workdir);
	if (write_file(path, key, strlen(key), 0600) < 0) {
		warn_("fatal: unable to write %s", path);
		goto out;
	}
	snprintf(path, sizeof path, "%s/tls.crt", s->workdir);
	if (write_file(path, cert, strlen(cert), 0644) < 0) {
		warn_("fatal: unable to write %s", path);
		goto out;
	}
	if (gen_cert)
		fprintf(stderr, "%s: generated a TLS certificate for %s:\n%s", progname,
			s->tls_name, gen_cert);
	ex = 0;
out:
	free(gen_cert);
	wipe(&gen_key);
	return ex;
}

/* Copies of the NULL-terminated strings at argv[*n...] (at most max). */
static int push(char **argv, int *n, int max, const char *const *add)
{
	for (; *add; add++)
		if (*n >= max - 1 || !(argv[(*n)++] = strdup(*add))) {
			warnx_("fatal: out of memory");
			return -1;
		}
	return 0;
}

/* legion-jobd's command line: our options, then Spark's master as its program. */
static char **chain(struct setup *s, const char *port, const char *idle)
{
	char **argv;
	int n = 0, rc = 0, max = 24;
	char bin[PATH_MAX + 32];
	if (!(argv = calloc((size_t)max, sizeof *argv)))
		return NULL;
	snprintf(bin, sizeof bin, "%s/bin/spark-class", getenv("SPARK_HOME"));
	rc |= push(argv, &n, max, (const char *const[]){"legion-jobd", NULL});
	if (verbose)
		rc |= push(argv, &n, max, (const char *const[]){"-v", NULL});
	if (port)
		rc |= push(argv, &n, max, (const char *const[]){"-p", port, NULL});
	if (idle)
		rc |= push(argv, &n, max, (const char *const[]){"-i", idle, NULL});
	rc |= push(argv, &n, max,
		   (const char *const[]){"-d", s->workdir, "--", bin,
					 "org.apache.spark.deploy.master.Master", "--host", s->host,
					 "--port", "7077", "--webui-port", "8080",
					 "--properties-file", s->props, NULL});
	return rc ? NULL : argv;
}

int main(int argc, char **argv)
{
	progname = "legion-master";
	const char *workdir = "legion-jobd", *port = NULL, *idle = NULL; /* in the cwd */
	long long x;
	int opt;
	opterr = 0; /* our own message, in our own shape */
	while ((opt = getopt(argc, argv, "vp:i:d:h")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'p':
			if (agent_opt_port(optarg, &x) < 0)
				return EXIT_USAGE;
			port = optarg;
			break;
		case 'i':
			if (agent_opt_secs('i', optarg, 365LL * 86400, &x) < 0)
				return EXIT_USAGE;
			idle = optarg;
			break;
		case 'd': workdir = optarg; break;
		case 'h': printf("%s\n%s\n", USAGE, EXITS); return 0;
		default: return agent_usage(optopt, USAGE);
		}
	}
	if (optind != argc)
		return agent_usage(0, USAGE);

	/* secrets first: out of the environment before anything else can see them */
	struct setup s = {0};
	int ex = EXIT_CONFIG;
	if (read_env(&s) < 0)
		goto out;
	ex = EXIT_CANTCREAT;
	if (make_workdir(&s, workdir) < 0 || write_props(&s) < 0)
		goto out;
	if ((ex = write_tls(&s)) != 0)
		goto out;
	ex = EXIT_SOFTWARE;
	char **cmd = chain(&s, port, idle), path[PATH_MAX];
	if (!cmd || daemon_env("SPARK_DAEMON_JAVA_OPTS", "master") < 0 ||
	    daemon_env("SPARK_LAUNCHER_OPTS", "launcher") < 0)
		goto out;
	wipe(&s.secret);
	wipe(&s.tls_key);
	wipe(&s.acct_key);
	wipe(&s.sp_secret);
	if (proc_which(cmd[0], NULL, path, sizeof path) < 0) {
		warnx_("fatal: unable to find legion-jobd in PATH");
		ex = EXIT_NOTFOUND;
		goto out;
	}
	execv(path, cmd);
	warn_("fatal: unable to run %s", path);
	ex = errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
out:
	wipe(&s.secret);
	wipe(&s.tls_key);
	wipe(&s.acct_key);
	wipe(&s.sp_secret);
	if (s.props[0]) { /* exec failed: what the set-up wrote goes */
		char key[PATH_MAX + 16];
		snprintf(key, sizeof key, "%s/tls.key", s.workdir);
		unlink(key);
		unlink(s.props);
	}
	return ex;
}
