/*
 * helpers/jobspec.c: a POST /v1/jobs body into a job: its files (base64, decoded as
 * they are written) in the job's directory, its spark.properties (the daemon's, the job's
 * own spark.local.dir inside that directory, and the body's "conf", with the keys legion
 * owns refused) and its spark-submit argv. Leaves out queueing (api.c, jobq.c), and
 * never interprets an app: its bytes and arguments are data handed to spark-submit.
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 1024
#define MAX_FILES 256

/* A file name we accept from a client: [A-Za-z0-9._+-], not starting with '.'. */
static int file_name_ok(const char *s)
{
	if (!s || !*s || *s == '.' || strlen(s) > 200)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-' || *s == '+'))
			return 0;
	return 1;
}

/* Decodes the base64 in JSON string token i (raw, escapes \/ \n \r \t allowed) into a
 * new file at path (0600), a piece at a time. 0, or -1 with why set. */
static int b64_to_file(const struct json *j, int i, const char *path, const char **why)
{
	const char *s = j->s + j->t[i].start;
	size_t n = (size_t)(j->t[i].end - j->t[i].start), o;
	struct base64_stream d = {.lenient = 1};
	char in[16384];
	unsigned char out[sizeof in / 4 * 3 + 3];
	int rc = -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	*why = "unable to write the file";
	if (fd < 0)
		return -1;
	for (size_t k = 0; k < n;) {
		size_t m = 0; /* the next piece, JSON escapes undone */
		for (; k < n && m < sizeof in; k++) {
			char c = s[k];
			if (c == '\\' && k + 1 < n) {
				c = s[++k];
				if (c == 'n' || c == 'r' || c == 't')
					continue;
				if (c != '/')
					c = '!'; /* outside the alphabet: refused below */
			}
			in[m++] = c;
		}
		*why = "not base64";
		if (base64_stream_decode(&d, in, m, out, &o) < 0)
			goto out;
		if (o && write(fd, out, o) != (ssize_t)o) {
			*why = "unable to write the file";
			goto out;
		}
	}
	*why = "not base64";
	rc = base64_stream_end(&d);
out:
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* Conf keys the daemon owns: security, addresses, the master, and whatever else its
 * own properties set (the UI's port and reverse proxy included: /v1/ui/driver finds the
 * driver's UI on 4040), except spark.ui.enabled (a job may turn its UI off) and the
 * JVMs' extraJavaOptions. */
static int conf_reserved(const char *k)
{
	static const char *const exact[] = {
		"spark.master",
		"spark.submit.deployMode",
		"spark.master.rest.enabled",
		"spark.local.dir", /* the job's own folder: see write_props */
		NULL,
	};
	for (int i = 0; exact[i]; i++)
		if (!strcmp(k, exact[i]))
			return 1;
	if (!strncmp(k, "spark.authenticate", 18) || !strncmp(k, "spark.network.crypto.", 21))
		return 1;
	/* the daemon's are only the class archives' options (legion-master): a job's own
	 * replace them, as spark-submit's --driver-java-options would */
	if (!strcmp(k, "spark.ui.enabled") || !strcmp(k, "spark.driver.extraJavaOptions") ||
	    !strcmp(k, "spark.executor.extraJavaOptions"))
		return 0;
	size_t n = strlen(k);
	for (const char *line = jobd_cfg.base.p; line && *line; line = strchr(line, '\n') + 1) {
		if (!strncmp(line, k, n) && line[n] == '=')
			return 1;
		if (!strchr(line, '\n'))
			break;
	}
	return 0;
}

/* A job being built from a POST body. */
struct newjob {
	struct job *j; /* borrowed */
	struct buf props;
	struct buf lists[4];   /* --py-files, --jars, --files, --archives: comma-separated */
	struct buf unpack;     /* "archive\0folder\0" pairs the driver gets unpacked */
	char *driver_python;   /* the app's own choice (spark.pyspark.[driver.]python) */
	int driver_python_set; /* from spark.pyspark.driver.python (else .python's) */
	char *cls;
	char **args;
	int nargs;
};

/* A URL for Spark to fetch ({"url"} of a file list): scheme://..., at most 2048 bytes,
 * no commas (the lists' separator), spaces or control characters. */
static int url_ok(const char *s)
{
	size_t n = strlen(s), k = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+.-");
	if (n > 2048 || k == 0 || strncmp(s + k, "://", 3))
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == ',')
			return 0;
	return 1;
}

/* Adds path (and "#alias") to list. 0, or -1 after an error reply. */
static int list_add(struct req *r, struct buf *list, const char *path, const char *alias)
{
	if ((list->len && buf_add(list, ",", 1) < 0) || buf_adds(list, path) < 0 ||
	    (alias && buf_addf(list, "#%s", alias) < 0)) {
		httpd_reply_err(r, 500, "InternalError", "out of memory");
		return -1;
	}
	return 0;
}

/* One {"name","data"[,"alias"]} or {"url"} of array key, k-th: a file in dir (or the
 * URL) added to the list. 0, or -1 after an error reply. */
static int take_file(struct req *r, const struct json *j, const char *key, int k, int e,
		     const char *dir, struct newjob *nj, struct buf *list)
{
	int d = json_get(j, e, "data"), archive = list == &nj->lists[3];
	char *name = NULL, *alias = NULL, path[PATH_MAX + 256];
	if (j->t[e].type == JSMN_OBJECT && json_get(j, e, "url") >= 0) {
		if (httpd_json_str(r, j, e, "url", 2048, 1, &name) < 0)
			return -1;
		int rc = url_ok(name) ? list_add(r, list, name, NULL) : -1;
		if (!url_ok(name))
			httpd_reply_err(r, 400, "BadRequest", "\"%s\"[%d]: bad URL", key, k);
		free(name);
		return rc;
	}
	if (j->t[e].type != JSMN_OBJECT || d < 0 || j->t[d].type != JSMN_STRING) {
		httpd_reply_err(r, 400, "BadRequest", "\"%s\"[%d] must be {\"name\",\"data\"}", key,
				k);
		return -1;
	}
	if (httpd_json_str(r, j, e, "name", 200, 1, &name) < 0 ||
	    (archive && httpd_json_str(r, j, e, "alias", 200, 0, &alias) < 0)) {
		free(name);
		return -1;
	}
	int ok = file_name_ok(name) && (!alias || file_name_ok(alias));
	snprintf(path, sizeof path, "%s/%s", dir, ok ? name : "");
	const char *why = NULL;
	if (!ok)
		httpd_reply_err(r, 400, "BadRequest", "\"%s\"[%d]: bad file name", key, k);
	else if (access(path, F_OK) == 0)
		httpd_reply_err(r, 400, "BadRequest", "\"%s\"[%d]: duplicate file name", key, k);
	else if (b64_to_file(j, d, path, &why) < 0)
		httpd_reply_err(r, 400, "BadRequest", "\"%s\"[%d]: %s", key, k, why);
	else if (list_add(r, list, path, alias) == 0) {
		/* the driver's copy: into the job's folder, for a relative driver python */
		const char *to = alias ? alias : name;
		if (!archive || (buf_add(&nj->unpack, path, strlen(path) + 1) == 0 &&
				 buf_add(&nj->unpack, to, strlen(to) + 1) == 0))
			ok = 2;
		else
			httpd_reply_err(r, 500, "InternalError", "out of memory");
	}
	free(name);
	free(alias);
	return ok == 2 ? 0 : -1;
}

/* Writes each entry of array key into subdir, adding paths to list. */
static int take_files(struct req *r, const struct json *j, const char *key, const char *subdir,
		      struct newjob *nj, struct buf *list)
{
	int a = json_get(j, 0, key);
	if (a < 0)
		return 0;
	if (j->t[a].type != JSMN_ARRAY || j->t[a].size > MAX_FILES) {
		httpd_reply_err(r, 400, "BadRequest",
				"\"%s\" must be an array of {\"name\",\"data\"}", key);
		return -1;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/%s", nj->j->dir, subdir);
	if (j->t[a].size > 0 && mkdir(dir, 0700) < 0) {
		httpd_reply_err(r, 500, "InternalError", "unable to create %s", subdir);
		return -1;
	}
	for (int k = 0; k < j->t[a].size; k++)
		if (take_file(r, j, key, k, json_at(j, a, k), dir, nj, list) < 0)
			return -1;
	return 0;
}

/* The job's name, app and files on disk, its class. 0, or -1 after an error reply. */
static int take_app(struct req *r, const struct json *j, struct newjob *nj)
{
	struct job *job = nj->j;
	char *s = NULL, path[PATH_MAX + 256];
	int i;
	if (httpd_json_str(r, j, 0, "name", sizeof job->name - 1, 0, &s) < 0)
		return -1;
	for (char *c = s; c && *c; c++)
		if ((unsigned char)*c < 0x20) {
			httpd_reply_err(r, 400, "BadRequest", "\"name\" has control characters");
			free(s);
			return -1;
		}
	snprintf(job->name, sizeof job->name, "%s", s ? s : "");
	free(s);
	if (httpd_json_str(r, j, 0, "app", 200, 1, &s) < 0)
		return -1;
	if (!file_name_ok(s)) {
		httpd_reply_err(r, 400, "BadRequest",
				"\"app\" must be a file name ([A-Za-z0-9._+-])");
		free(s);
		return -1;
	}
	snprintf(job->app, sizeof job->app, "%s", s);
	free(s);
	i = json_get(j, 0, "appData");
	if (i < 0 || j->t[i].type != JSMN_STRING) {
		httpd_reply_err(r, 400, "BadRequest", "\"appData\" (base64) is missing");
		return -1;
	}
	snprintf(path, sizeof path, "%s/app", job->dir);
	if (mkdir(path, 0700) < 0) {
		httpd_reply_err(r, 500, "InternalError", "unable to create the job's directory");
		return -1;
	}
	snprintf(path, sizeof path, "%s/app/%s", job->dir, job->app);
	const char *why;
	if (b64_to_file(j, i, path, &why) < 0) {
		httpd_reply_err(r, 400, "BadRequest", "\"appData\": %s", why);
		return -1;
	}
	if (take_files(r, j, "pyFiles", "py", nj, &nj->lists[0]) < 0 ||
	    take_files(r, j, "jars", "jars", nj, &nj->lists[1]) < 0 ||
	    take_files(r, j, "files", "files", nj, &nj->lists[2]) < 0 ||
	    take_files(r, j, "archives", "archives", nj, &nj->lists[3]) < 0)
		return -1;
	if (httpd_json_str(r, j, 0, "class", 255, 0, &nj->cls) < 0)
		return -1;
	for (char *c = nj->cls; c && *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '$')) {
			httpd_reply_err(r, 400, "BadRequest",
					"\"class\" must be a Java class name");
			return -1;
		}
	return 0;
}

/* A Python driver's stderr apart from its stdout (spark-submit's PythonRunner merges
 * them): legion-pydriver, when it is on PATH, becomes the driver's python; it points fd 2
 * at the job's stderr FIFO (jobq.c) and execs the python the app asked for. 0, or -1
 * after an error reply. */
static int driver_stderr(struct req *r, struct newjob *nj)
{
	char helper[PATH_MAX];
	size_t n = strlen(nj->j->app);
	if (n < 3 || strcmp(nj->j->app + n - 3, ".py") ||
	    proc_which("legion-pydriver", NULL, helper, sizeof helper) < 0)
		return 0;
	const char *py = nj->driver_python, *e;
	if (!py && (e = getenv("PYSPARK_DRIVER_PYTHON")) && *e)
		py = e;
	if (!py && (e = getenv("PYSPARK_PYTHON")) && *e)
		py = e;
	if (!(nj->j->driver_python = strdup(py ? py : "python3")) ||
	    agent_prop(&nj->props, "spark.pyspark.driver.python", helper) < 0) {
		httpd_reply_err(r, 500, "InternalError", "out of memory");
		return -1;
	}
	return 0;
}

/* The job's spark.properties at path: the daemon's, then the body's "conf" (later lines
 * win in Java). 0, or -1 after an error reply. */
static int write_props(struct req *r, const struct json *j, struct newjob *nj, const char *path)
{
	/* the driver's scratch space (shuffle and broadcast blocks, temp files) inside the
	 * job's 0700 folder, removed with the job's files when it ends */
	char local[PATH_MAX + 16];
	snprintf(local, sizeof local, "%s/local", nj->j->dir);
	if (mkdir(local, 0700) < 0) {
		httpd_reply_err(r, 500, "InternalError", "unable to create the job's local dir");
		return -1;
	}
	if (buf_add(&nj->props, jobd_cfg.base.p, jobd_cfg.base.len) < 0 ||
	    agent_prop(&nj->props, "spark.local.dir", local) < 0) {
		httpd_reply_err(r, 500, "InternalError", "out of memory");
		return -1;
	}
	int c = json_get(j, 0, "conf");
	if (c >= 0 && j->t[c].type != JSMN_OBJECT) {
		httpd_reply_err(r, 400, "BadRequest", "\"conf\" must be an object of strings");
		return -1;
	}
	for (int k = c + 1, m = 0; c >= 0 && m < j->t[c].size; m++, k = json_skip(j, k + 1)) {
		char *key = json_str(j, k), *val = NULL;
		const jsmntok_t *v = &j->t[k + 1];
		if (v->type == JSMN_STRING)
			val = json_str(j, k + 1);
		else if (v->type == JSMN_PRIMITIVE && j->s[v->start] != 'n')
			val = strndup(j->s + v->start, (size_t)(v->end - v->start));
		int bad = !key || !val || strncmp(key, "spark.", 6) || strlen(key) > 256 ||
			  strlen(val) > 65536 || strcspn(key, " \t\r\n=:") != strlen(key);
		if (bad || conf_reserved(key)) {
			httpd_reply_err(r, 400, "BadRequest",
					bad ? "conf: keys are spark.* names, values strings"
					    : "conf: %s is set by legion",
					key ? key : "");
			free(key);
			free(val);
			return -1;
		}
		int rc = agent_prop(&nj->props, key, val);
		if (!strcmp(key, "spark.pyspark.driver.python") ||
		    (!strcmp(key, "spark.pyspark.python") && !nj->driver_python_set)) {
			nj->driver_python_set = !strcmp(key, "spark.pyspark.driver.python");
			free(nj->driver_python);
			nj->driver_python = val;
			val = NULL;
		}
		free(key);
		free(val);
		if (rc < 0) {
			httpd_reply_err(r, 500, "InternalError", "out of memory");
			return -1;
		}
	}
	if (driver_stderr(r, nj) < 0)
		return -1;
	if (write_file(path, nj->props.p, nj->props.len, 0600) < 0) {
		httpd_reply_err(r, 500, "InternalError", "unable to write the job's properties");
		return -1;
	}
	return 0;
}

/* The spark-submit argv into job->argv. 0, or -1 after an error reply. */
static int make_argv(struct req *r, const struct json *j, struct newjob *nj, const char *path)
{
	struct job *job = nj->j;
	int a = json_get(j, 0, "args");
	if (a >= 0 && (j->t[a].type != JSMN_ARRAY || j->t[a].size > MAX_ARGS)) {
		httpd_reply_err(r, 400, "BadRequest",
				"\"args\" must be an array of at most %d strings", MAX_ARGS);
		return -1;
	}
	int nargs = a >= 0 ? j->t[a].size : 0;
	/* spark-submit --master URL --deploy-mode client --properties-file F
	 * [--name N] [--class C] [--py-files L] [--jars L] [--files L] [--archives L]
	 * APP ARGS... */
	size_t n = 7 + 12 + 1 + (size_t)nargs + 1;
	char **argv = calloc(n, sizeof *argv);
	if (!argv) {
		httpd_reply_err(r, 500, "InternalError", "out of memory");
		return -1;
	}
	job->argv = argv;
	int x = 0;
	struct buf t = {0};
#define ARG(...)                                                                                   \
	do {                                                                                       \
		t.len = 0;                                                                         \
		if (buf_addf(&t, __VA_ARGS__) < 0 || !(argv[x++] = strdup(t.p))) {                 \
			buf_free(&t);                                                              \
			httpd_reply_err(r, 500, "InternalError", "out of memory");                 \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)
	ARG("%s/bin/spark-submit", jobd_cfg.spark_home);
	ARG("--master");
	ARG("spark://%s:7077", jobd_cfg.host);
	ARG("--deploy-mode");
	ARG("client");
	ARG("--properties-file");
	ARG("%s", path);
	if (job->name[0]) {
		ARG("--name");
		ARG("%s", job->name);
	}
	if (nj->cls) {
		ARG("--class");
		ARG("%s", nj->cls);
	}
	static const char *const opt[] = {"--py-files", "--jars", "--files", "--archives"};
	for (int k = 0; k < 4; k++)
		if (nj->lists[k].len) {
			ARG("%s", opt[k]);
			ARG("%s", nj->lists[k].p);
		}
	ARG("%s/app/%s", job->dir, job->app);
	for (int k = 0; k < nargs; k++) {
		int e = json_at(j, a, k);
		struct buf v = {0};
		if (j->t[e].type != JSMN_STRING ||
		    json_unescape(j->s + j->t[e].start, (size_t)(j->t[e].end - j->t[e].start), &v) <
			    0 ||
		    v.len > 131072 || (v.len && memchr(v.p, '\0', v.len))) {
			buf_free(&v);
			buf_free(&t);
			httpd_reply_err(r, 400, "BadRequest", "\"args\"[%d] must be a string", k);
			return -1;
		}
		argv[x++] = buf_take(&v);
		if (!argv[x - 1]) {
			buf_free(&t);
			httpd_reply_err(r, 500, "InternalError", "out of memory");
			return -1;
		}
	}
#undef ARG
	buf_free(&t);
	return 0;
}

int jobspec_build(struct req *r, const struct json *body, struct job *job)
{
	struct newjob nj = {.j = job};
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/spark.properties", job->dir);
	int rc = take_app(r, body, &nj) < 0 || write_props(r, body, &nj, path) < 0 ||
				 make_argv(r, body, &nj, path) < 0
			 ? -1
			 : 0;
	if (rc == 0 && nj.unpack.len) {
		job->unpack_len = nj.unpack.len;
		job->unpack = buf_take(&nj.unpack);
	}
	buf_free(&nj.props);
	buf_free(&nj.unpack);
	for (int k = 0; k < 4; k++)
		buf_free(&nj.lists[k]);
	free(nj.cls);
	free(nj.driver_python);
	return rc;
}
