/*
 * sparkopts.c: spark-submit's options as `legion submit` takes them: their values
 * checked (Maven coordinates, repository URLs, archive folders), the ones that do not
 * apply and why, --total-executor-cores, and the application, its files and
 * --properties-file read before anything is created. Leaves out the option table and
 * parsing (legion.c) and the job document (submit.c).
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --packages G:A:V,.. and --exclude-packages G:A,.. (names of [A-Za-z0-9._-]),
 * --repositories URL,.. (scheme://...): checked here, resolved by Spark. */
int check_maven(const struct opts *o, const char *name, const char *a)
{
	int repo = !strcmp(name, "repositories"), parts = !strcmp(name, "packages") ? 3 : 2;
	const char *p = a;
	do {
		size_t n = strcspn(p, ",");
		if (repo) {
			const char *s = memchr(p, ':', n);
			int ok = n > 3 && s && s > p && s + 3 <= p + n && !strncmp(s, "://", 3);
			for (size_t i = 0; ok && i < n; i++)
				ok = (unsigned char)p[i] > 0x20 && p[i] != 0x7f;
			if (!ok)
				return bad(o,
					   "--%s: '%.*s' is not a URL (like "
					   "https://repo.example/maven2)",
					   name, (int)n, p);
		} else {
			int k = 1, ok = n > 0 && p[0] != ':' && p[n - 1] != ':';
			for (size_t i = 0; ok && i < n; i++) {
				if (p[i] == ':')
					ok = p[i - 1] != ':', k++;
				else
					ok = strchr("._-", p[i]) || (p[i] >= 'a' && p[i] <= 'z') ||
					     (p[i] >= 'A' && p[i] <= 'Z') ||
					     (p[i] >= '0' && p[i] <= '9');
			}
			if (!ok || k != parts)
				return bad(o, "--%s: '%.*s' is not %s", name, (int)n, p,
					   parts == 3 ? "groupId:artifactId:version"
						      : "groupId:artifactId");
		}
		p += n;
	} while (*p++ == ',');
	return 0;
}

/* spark-submit's options that have no meaning here, and why (README: spark-submit's
 * options); `--deploy-mode cluster` is answered in set_opt. */
static const struct {
	const char *name, *why;
} not_applicable[] = {
	{"supervise", "restarts a driver of cluster deploy mode; a legion job's driver runs in "
		      "its master's container: submit again"},
	{"kill", "Ctrl-C stops an attached submit's job; 'legion delete CLUSTER' a detached one"},
	{"status", "'legion status CLUSTER' shows a cluster's jobs"},
	{"queue", "YARN's queues do not exist on a legion cluster"},
	{"principal", "Kerberos is YARN's and Kubernetes': a legion cluster authenticates "
		      "with its own secret"},
	{"keytab", "Kerberos is YARN's and Kubernetes': a legion cluster authenticates with "
		   "its own secret"},
	{"proxy-user", "impersonation is Hadoop's: a legion cluster runs jobs as one user"},
	{"remote", "Spark Connect: a legion cluster serves no Spark Connect endpoint"},
	{"version", "'legion version' is legion's; the cluster runs pyspark's Spark"},
};

/* An unknown option of submit: spark-submit's that do not apply say why (64). */
int submit_unknown_option(const struct opts *o, const char *arg)
{
	if (!strncmp(arg, "--", 2))
		for (size_t i = 0; i < sizeof not_applicable / sizeof not_applicable[0]; i++) {
			size_t n = strlen(not_applicable[i].name);
			if (!strncmp(arg + 2, not_applicable[i].name, n) &&
			    (arg[2 + n] == '\0' || arg[2 + n] == '='))
				return bad(o, "spark-submit's --%s does not apply: %s",
					   not_applicable[i].name, not_applicable[i].why);
		}
	return bad(o, "unknown option '%s'", arg);
}

/* --total-executor-cores N: spark.cores.max, and enough executors for it when
 * --num-executors is not given. */
int total_cores(struct opts *o)
{
	if (!o->total_cores)
		return 0;
	if (!o->num_executors_set) {
		o->num_executors = (o->total_cores + o->executor_cores - 1) / o->executor_cores;
		if (o->num_executors > 256)
			return bad(o,
				   "--total-executor-cores %lld needs more than 256 executors of "
				   "%lld cores",
				   o->total_cores, o->executor_cores);
	} else if (o->total_cores > o->num_executors * o->executor_cores)
		return bad(o,
			   "--total-executor-cores %lld is more than %lld executors of %lld cores "
			   "have",
			   o->total_cores, o->num_executors, o->executor_cores);
	return 0;
}

/* A name Spark and the job daemon take for an archive's folder: [A-Za-z0-9._+-], not
 * starting with '.'. */
static int alias_ok(const char *s)
{
	if (!*s || *s == '.' || strlen(s) > 200)
		return 0;
	for (; *s; s++)
		if (!strchr("._+-", *s) && !(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9'))
			return 0;
	return 1;
}

/* Each file of --name's list is readable here (URLs are Spark's to fetch); adds their
 * sizes to *total. */
static int check_list(const struct opts *o, const char *name, const char *files, long long *total)
{
	char *list = strdup(files), *save = NULL;
	int rc = list ? 0 : bad(o, "out of memory");
	for (char *f = list ? strtok_r(list, ",", &save) : NULL; f && !rc;
	     f = strtok_r(NULL, ",", &save)) {
		char *alias = !strcmp(name, "archives") ? strchr(f, '#') : NULL;
		struct stat st;
		if (alias) {
			*alias++ = '\0';
			if (!alias_ok(alias))
				rc = bad(o,
					 "--archives: '%s' is not a folder name ([A-Za-z0-9._+-])",
					 alias);
		}
		if (rc || strstr(f, "://"))
			continue;
		if (access(f, R_OK) < 0 || stat(f, &st) < 0)
			rc = bad(o, "--%s: '%s': %s", name, f, strerror(errno));
		else if (!S_ISREG(st.st_mode))
			rc = bad(o, "--%s: '%s' is not a regular file", name, f);
		else
			*total += (long long)st.st_size;
	}
	free(list);
	return rc;
}

/* --properties-file: spark-defaults' "key value" (or key=value) lines, '#' and '!'
 * comments, into o->props (entries "key=value" in o->props_data). Keys that are not
 * spark.* are skipped with a warning, as spark-submit does. */
static int read_properties(struct opts *o)
{
	struct buf b = {0};
	if (read_file(o->properties_file, 1 << 20, &b) < 0) {
		int e = errno;
		buf_free(&b);
		return bad(o, "--properties-file: '%s': %s", o->properties_file, strerror(e));
	}
	o->props_data = buf_take(&b);
	if (!o->props_data)
		return 0;
	for (char *line = o->props_data, *next; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		line += strspn(line, " \t\r");
		size_t n = strlen(line);
		while (n > 0 && strchr(" \t\r", line[n - 1]))
			line[--n] = '\0';
		if (!n || line[0] == '#' || line[0] == '!')
			continue;
		char *end = line + strcspn(line, " \t=:"), *val = end;
		val += strspn(val, " \t");
		if (*val == '=' || *val == ':')
			val++;
		val += strspn(val, " \t");
		*end = '\0';
		if (strncmp(line, "spark.", 6)) {
			warnx_("--properties-file: ignoring '%s': not a spark.* property", line);
			continue;
		}
		*end = '='; /* "key=value": the value moves up */
		memmove(end + 1, val, strlen(val) + 1);
		const char **p = realloc(o->props, (size_t)(o->nprops + 1) * sizeof *p);
		if (!p)
			return bad(o, "out of memory");
		o->props = p;
		o->props[o->nprops++] = line;
	}
	return 0;
}

/* What travels with a job: base64 in one request of at most 96 MiB (the job API's). */
#define JOB_FILES_MAX ((long long)70 << 20)

/* Checks the application and its files before anything is created. */
int check_inputs(struct opts *o)
{
	const struct {
		const char *name, *list;
	} lists[] = {{"py-files", o->py_files},
		     {"jars", o->jars},
		     {"files", o->files},
		     {"archives", o->archives}};
	long long total = 0;
	struct stat st;
	if (access(o->app, R_OK) < 0)
		return bad(o, "application '%s': %s", o->app, strerror(errno));
	if (stat(o->app, &st) == 0 && !S_ISREG(st.st_mode))
		return bad(o, "application '%s' is not a regular file", o->app);
	total += (long long)st.st_size;
	for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
		int rc = lists[k].list ? check_list(o, lists[k].name, lists[k].list, &total) : 0;
		if (rc)
			return rc;
	}
	if (total > JOB_FILES_MAX) {
		warnx_("the application and its files come to %lld MiB; at most %lld MiB travel "
		       "with a job: put the big ones in storage and give their URLs "
		       "(wasbs://, abfss://, https://)",
		       total >> 20, JOB_FILES_MAX >> 20);
		return EXIT_DATAERR;
	}
	return o->properties_file ? read_properties(o) : 0;
}

int spark_master_url(const struct opts *o)
{
	if (strstr(o->master, "://") || !strncmp(o->master, "local", 5) ||
	    !strcmp(o->master, "yarn"))
		return bad(o,
			   "--master: '%s' is a Spark master URL: legion makes the cluster; "
			   "--master takes a cluster id from 'legion deploy-master'",
			   o->master);
	return 0;
}

void opts_release(struct opts *o)
{
	free(o->conf);
	free(o->props);
	free(o->props_data);
}
