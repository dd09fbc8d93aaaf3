/*
 * helpers/cds.c: Class Data Sharing for the JVMs legion-master and legion-worker start:
 * the options that map a role's archive (mk/cds.sh built it) into SPARK_DAEMON_JAVA_OPTS,
 * SPARK_LAUNCHER_OPTS and the driver's and executors' extraJavaOptions. An archive is used
 * only while ROLE.ok beside it still holds its size and mtime: a truncated archive
 * crashes the JVM that maps it (SIGBUS), so a dump cut short or a damaged file is left
 * out and that JVM starts as before. The daemons' and the launcher's JVMs (never a job's
 * code) also compile with C1 only. Leaves out building the archives (mk/cds.sh) and any
 * JIT setting of the driver's and executors' JVMs.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The archives' folder: $LEGION_CDS_DIR (the image's), else ~/.cache/legion/cds (the
 * local backend's; `make cds`). 0, or -1 when there is none to use. */
static int cds_dir(char *out, size_t n)
{
	const char *d = getenv("LEGION_CDS_DIR"), *home = getenv("HOME");
	if (d && !strcmp(d, "off"))
		return -1;
	if (d && *d)
		snprintf(out, n, "%s", d);
	else if (home && *home == '/')
		snprintf(out, n, "%s/.cache/legion/cds", home);
	else
		return -1;
	/* the options are split at white space by Spark and spark-class */
	return strcspn(out, " \t\r\n\"'\\$") == strlen(out) ? 0 : -1;
}

int cds_opts(const char *role, char *out, size_t n)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], ok[64];
	struct stat st;
	long long size = -1, mtime = -1;
	out[0] = '\0';
	if (cds_dir(dir, sizeof dir) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s.ok", dir, role);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int got = fgets(ok, sizeof ok, f) && sscanf(ok, "%lld %lld", &size, &mtime) == 2;
	fclose(f);
	snprintf(path, sizeof path, "%s/%s.jsa", dir, role);
	if (!got || stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (long long)st.st_size != size ||
	    (long long)st.st_mtime != mtime)
		return -1;
	/* -Xshare:auto: a stale archive (other jars) is refused by the JVM, which then
	 * starts without it; its notice would go to stdout (the driver's output), so the
	 * cds log tags are off */
	int k = snprintf(out, n, "-XX:SharedArchiveFile=%s -Xshare:auto -Xlog:cds*=off", path);
	if (k < 0 || (size_t)k >= n) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int daemon_env(const char *name, const char *role)
{
	/* Spark's master and worker daemons and spark-class's launcher run none of a job's
	 * code: C1 alone compiles what they run, and C2's compiler threads no longer take
	 * the cores the driver and executors start on (BENCHMARKS.md) */
	char opts[PATH_MAX + 160], *v;
	int k = snprintf(opts, sizeof opts, "-XX:TieredStopAtLevel=1");
	if (cds_opts(role, opts + k + 1, sizeof opts - (size_t)k - 1) == 0)
		opts[k] = ' ';
	const char *old = getenv(name);
	if (old && *old) { /* the operator's own options come last: theirs win */
		size_t n = strlen(opts) + strlen(old) + 2;
		if (!(v = malloc(n)))
			return -1;
		snprintf(v, n, "%s %s", opts, old);
		int rc = setenv(name, v, 1);
		free(v);
		return rc;
	}
	return setenv(name, opts, 1);
}
