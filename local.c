/*
 * local.c: the local backend: each container group is a session of processes on this
 * machine, on its own loopback address 127.1.x.y (claimed machine-wide: its supervisor
 * holds port 7091 of it bound), with its output in a log file and
 * its state under $LEGION_HOME/groups/NAME. Leaves out images (the command runs from
 * PATH, with the helpers beside legion first) and resource limits (cpu and memory
 * are recorded, not enforced). Secure values live only in the processes' environment.
 */
#include "legion.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct local {
	char home[1024];   /* $LEGION_HOME */
	char groups[1100]; /* $LEGION_HOME/groups */
	char path[4096];   /* PATH for the groups: helpers first */
	char spark[1024];  /* SPARK_HOME */
	char python[1024]; /* PYSPARK_PYTHON */
};

/* Spark from $SPARK_HOME, else the venv `make spark` installs. */
static void find_spark(struct local *l)
{
	const char *sh = getenv("SPARK_HOME"), *venv = getenv("LEGION_VENV");
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char v[1024];
	if (venv && *venv)
		snprintf(v, sizeof v, "%s", venv);
	else if (xdg && *xdg)
		snprintf(v, sizeof v, "%s/legion/venv", xdg);
	else
		snprintf(v, sizeof v, "%s/.cache/legion/venv", home ? home : "/");
	/* the installer's own HOME, for a sandboxed HOME */
	if (!(venv && *venv) && access(v, X_OK) < 0 && getenv("LEGION_CACHE_VENV"))
		snprintf(v, sizeof v, "%s", getenv("LEGION_CACHE_VENV"));
	if (sh && *sh)
		snprintf(l->spark, sizeof l->spark, "%s", sh);
	else {
		char pat[1100];
		glob_t g;
		snprintf(pat, sizeof pat, "%s/lib/python3*/site-packages/pyspark", v);
		if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0)
			snprintf(l->spark, sizeof l->spark, "%s", g.gl_pathv[0]);
		globfree(&g);
	}
	const char *py = getenv("PYSPARK_PYTHON");
	if (py && *py)
		snprintf(l->python, sizeof l->python, "%s", py);
	else {
		snprintf(l->python, sizeof l->python, "%s/bin/python3", v);
		if (access(l->python, X_OK) < 0)
			snprintf(l->python, sizeof l->python, "python3");
	}
}

static int l_open(struct backend *be, const struct backend_cfg *cfg, int *ex)
{
	(void)cfg;
	struct local *l = calloc(1, sizeof *l);
	if (!l) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	if (legion_home(l->home, sizeof l->home) < 0 || state_dir(l->home) < 0 ||
	    snprintf(l->groups, sizeof l->groups, "%s/groups", l->home) >= (int)sizeof l->groups ||
	    state_dir(l->groups) < 0) {
		free(l);
		*ex = EXIT_CONFIG;
		return -1;
	}
	char self[1024];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	const char *path = getenv("PATH");
	snprintf(l->path, sizeof l->path, "%s/helpers:%s:%s", self, self,
		 path && *path ? path : "/usr/bin:/bin");
	find_spark(l);
	be->ctx = l;
	return 0;
}

static void l_close(struct backend *be)
{
	free(be->ctx);
	be->ctx = NULL;
}

static void group_dir(const struct local *l, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", l->groups, name);
}

/* Exclusive lock over address allocation; returns the fd (close to unlock). */
static int lock_home(const struct local *l)
{
	char p[1200];
	snprintf(p, sizeof p, "%s/lock", l->home);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		flock(fd, LOCK_EX);
	return fd;
}

/* Reads a small file into out; -1 when missing. */
/* A group name as Legion makes them (legion-<hex>-master, legion-<hex>-<hex>-wN): a
 * name, never a path. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
	       s[0] != '-';
}

static int slurp(const char *dir, const char *file, char *out, size_t n)
{
	char p[1300];
	snprintf(p, sizeof p, "%s/%s", dir, file);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, out, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	out[r] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

/* A TCP socket bound to ip:port (not listening), or -1 with errno (EADDRINUSE: some
 * process on this machine holds it). reuse: SO_REUSEADDR, so that only a listener (or
 * a socket bound without it) is in the way, not connections that just ended. */
static int bind_tcp(const char *ip, int port, int reuse)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = inet_pton(AF_INET, ip, &sa.sin_addr) == 1
			 ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)
			 : -1;
	if (fd >= 0 && reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		fd = -1;
	}
	return fd;
}

/* Claims ip on this machine, not only in this LEGION_HOME: CLAIM_PORT bound (the
 * returned socket, which the group's supervisor keeps open while the group lives, so
 * another user's or LEGION_HOME's legion skips the address) and every port a group
 * listens on free. -1 with *busy set to the port in the way. */
#define CLAIM_PORT 7091
static int claim_ip(const char *ip, int *busy)
{
	static const int ports[] = {7077, 7078, 7079, 7090, 4040, 8080, 8081};
	int fd = bind_tcp(ip, CLAIM_PORT, 0);
	*busy = CLAIM_PORT;
	for (size_t k = 0; fd >= 0 && k < sizeof ports / sizeof *ports; k++) {
		int t = bind_tcp(ip, ports[k], 1);
		if (t < 0) {
			*busy = ports[k];
			close(fd);
			fd = -1;
		} else
			close(t);
	}
	return fd;
}

/* The address for a new group: the lowest 127.1.x.y no group of this LEGION_HOME holds
 * and claim_ip gets (after MAX_BUSY busy ones in a row: -1 with a message). Returns the
 * claim's socket. */
#define MAX_BUSY 256
static int alloc_ip(const struct local *l, const char *group, char *ip, size_t n)
{
	DIR *d = opendir(l->groups);
	if (!d)
		return -1;
	static unsigned char used[254][254];
	memset(used, 0, sizeof used);
	struct dirent *e;
	while ((e = readdir(d))) {
		char dir[1300], got[64];
		unsigned a, b;
		if (e->d_name[0] == '.')
			continue;
		group_dir(l, e->d_name, dir, sizeof dir);
		if (slurp(dir, "ip", got, sizeof got) == 0 &&
		    sscanf(got, "127.1.%u.%u", &a, &b) == 2 && a >= 1 && a <= 254 && b >= 1 &&
		    b <= 254)
			used[a - 1][b - 1] = 1;
	}
	closedir(d);
	int tried = 0, busy = 0;
	char last[32] = "";
	for (unsigned a = 1; a <= 254; a++)
		for (unsigned b = 2; b <= 254 && tried < MAX_BUSY; b++) {
			if (used[a - 1][b - 1])
				continue;
			snprintf(ip, n, "127.1.%u.%u", a, b);
			int fd = claim_ip(ip, &busy);
			if (fd >= 0)
				return fd;
			snprintf(last, sizeof last, "%s", ip);
			tried++;
		}
	if (tried)
		warnx_("no free loopback address for %s: %d tried, each in use on this machine "
		       "(the last, %s, on port %d): another program or another user's legion "
		       "holds them",
		       group, tried, last, busy);
	else
		warnx_("no free loopback address for %s", group);
	return -1;
}

/* The group's description without secure values, for get/list/status. */
static char *spec_json(const struct group *g, const char *ip)
{
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "name", g->name);
	jw_str(&w, "image", g->image);
	jw_arr(&w, "command");
	for (char **a = g->argv; a && *a; a++)
		jw_str(&w, NULL, *a);
	jw_end(&w);
	jw_arr(&w, "env");
	for (int i = 0; i < g->nenv; i++) {
		jw_obj(&w, NULL);
		jw_str(&w, "name", g->env[i].name);
		if (!g->env[i].secure)
			jw_str(&w, "value", g->env[i].value);
		jw_end(&w);
	}
	jw_end(&w);
	jw_num(&w, "cpu", g->cpu);
	jw_int(&w, "memoryMB", g->memory_mb);
	jw_arr(&w, "ports");
	for (int i = 0; i < g->nports; i++)
		jw_int(&w, NULL, g->ports[i]);
	jw_end(&w);
	jw_obj(&w, "tags");
	for (int i = 0; i < g->ntags; i++)
		jw_str(&w, g->tags[i].name, g->tags[i].value);
	jw_end(&w);
	jw_str(&w, "ip", ip);
	jw_int(&w, "created", (long long)time(NULL));
	jw_end(&w);
	return jw_finish(&w, NULL);
}

/* The environment of a group's processes: a small base, then the group's own. */
static char **group_environ(const struct local *l, const struct group *g, const char *ip)
{
	static const char *const keep[] = {
		"HOME", "LANG", "LC_ALL",  "TMPDIR",         "JAVA_HOME",
		"TZ",   "USER", "LOGNAME", "LEGION_CDS_DIR", /* helpers/cds.c */ NULL};
	size_t n = 0, cap = (size_t)g->nenv + 16;
	char **env = calloc(cap, sizeof *env);
	if (!env)
		return NULL;
	struct buf b = {0};
	int ok = 1;
#define PUT(...)                                                                                   \
	do {                                                                                       \
		b.len = 0;                                                                         \
		ok = ok && buf_addf(&b, __VA_ARGS__) == 0;                                         \
		if (ok && !(env[n++] = strdup(b.p)))                                               \
			ok = 0;                                                                    \
	} while (0)
	for (int i = 0; keep[i]; i++)
		if (getenv(keep[i]))
			PUT("%s=%s", keep[i], getenv(keep[i]));
	PUT("PATH=%s", l->path);
	if (l->spark[0])
		PUT("SPARK_HOME=%s", l->spark);
	PUT("PYSPARK_PYTHON=%s", l->python);
	PUT("CONTAINER_IP=%s", ip);
	PUT("CONTAINER_GROUP=%s", g->name);
	for (int i = 0; i < g->nenv; i++)
		PUT("%s=%s", g->env[i].name, g->env[i].value);
#undef PUT
	if (b.p)
		memset(b.p, 0, b.cap); /* secure values passed through here */
	buf_free(&b);
	if (!ok) {
		for (size_t i = 0; i < n; i++)
			free(env[i]);
		free(env);
		return NULL;
	}
	return env;
}

/* Wipes what the supervisor holds of secrets it no longer needs: env's strings (the
 * group's secure values, once the command has its own copy) and, before that, the
 * CLI's environment it was forked with (AZURE_CLIENT_SECRET, storage keys), which
 * /proc/PID/environ would show for as long as the group runs. */
static void wipe_env(char **env)
{
	for (char **e = env; e && *e; e++)
		explicit_bzero(*e, strlen(*e));
}

/* Runs in the forked supervisor: a new session, the command as its child, the exit
 * status into DIR/exit; it keeps claim (the address's claim socket) open until then.
 * Never returns. */
static void supervise(const char *dir, char **argv, char **env, int ready, int claim)
{
	static char *no_env[] = {NULL};
	char p[1300];
	wipe_env(environ); /* the supervisor uses env only */
	environ = no_env;
	setsid();
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	snprintf(p, sizeof p, "%s/log", dir);
	int log = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int null = open("/dev/null", O_RDONLY);
	if (log < 0 || null < 0)
		_exit(EXIT_SOFTWARE);
	dup2(null, 0);
	dup2(log, 1);
	dup2(log, 2);
	if (write(ready, "", 1) != 1) /* the session exists: the parent may look at it */
		_exit(EXIT_SOFTWARE);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != log && fd != claim)
			close(fd);
	snprintf(p, sizeof p, "%s/work", dir);
	mkdir(p, 0700);
	/* the command in the group's PATH (execvpe is not POSIX), as its own process group
	 * in this session */
	const char *path = "";
	for (char **e = env; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	char prog[2048];
	const int fds[3] = {-1, log, log};
	pid_t pid = -1;
	if (proc_which(argv[0], path, prog, sizeof prog) < 0)
		dprintf(2, "legion: unable to run %s: not found in the group's PATH\n", argv[0]);
	else {
		char *orig = argv[0];
		argv[0] = prog;
		pid = proc_spawn(argv, env, p, fds, orig);
		argv[0] = orig;
	}
	wipe_env(env);
	int st = 0, code = pid < 0 ? EXIT_NOTFOUND : EXIT_SOFTWARE;
	if (pid > 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		code = exit_status(st);
	}
	char num[16];
	int len = snprintf(num, sizeof num, "%d\n", code);
	snprintf(p, sizeof p, "%s/exit", dir);
	write_file(p, num, (size_t)len, 0600);
	_exit(0);
}

/* Removes DIR and everything in it (work/ is the processes': rm -r). */
static void remove_tree(const char *dir)
{
	proc_rm_tree(dir, NULL);
	rmdir(dir);
}

/* From /proc/PID/stat: its state letter, session and start time (clock ticks since
 * boot, field 22). -1 when there is no such process. */
static int proc_stat(long long pid, char *state, long long *sid, unsigned long long *start)
{
	char p[64], st[1024];
	snprintf(p, sizeof p, "/proc/%lld/stat", pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, st, sizeof st - 1);
	close(fd);
	if (r <= 0)
		return -1;
	st[r] = '\0';
	char *c = strrchr(st, ')'); /* the name may hold anything but ends at the last ')' */
	long long ppid, pgrp;
	if (!c || sscanf(c + 1,
			 " %c %lld %lld %lld %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
			 "%*s %*s %llu",
			 state, &ppid, &pgrp, sid, start) != 5)
		return -1;
	return 0;
}

static int start_group(struct local *l, struct group *g, int *ex)
{
	char dir[1300], ip[32];
	group_dir(l, g->name, dir, sizeof dir);
	int lk = lock_home(l);
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			warnx_("a group named %s exists already (legion delete it first)", g->name);
		else
			warn_("unable to create %s", dir);
		close(lk);
		*ex = errno == EEXIST ? EXIT_DATAERR : EXIT_CONFIG;
		return -1;
	}
	char *spec = NULL, **env = NULL;
	char p[1400];
	int rc = -1, started = 0, claim = -1;
	if ((claim = alloc_ip(l, g->name, ip, sizeof ip)) < 0) {
		*ex = EXIT_UNAVAIL;
		goto out;
	}
	snprintf(p, sizeof p, "%s/ip", dir);
	if (write_file(p, ip, strlen(ip), 0600) < 0 || !(spec = spec_json(g, ip)) ||
	    !(env = group_environ(l, g, ip))) {
		warn_("unable to write %s", dir);
		*ex = EXIT_CONFIG;
		goto out;
	}
	snprintf(p, sizeof p, "%s/spec.json", dir);
	if (write_file(p, spec, strlen(spec), 0600) < 0) {
		warn_("unable to write %s", p);
		*ex = EXIT_CONFIG;
		goto out;
	}
	fflush(NULL);
	int ready[2];
	if (pipe(ready) < 0) {
		warn_("unable to start %s", g->name);
		*ex = EXIT_UNAVAIL;
		goto out;
	}
	pid_t pid = fork();
	if (pid < 0) {
		warn_("unable to start %s", g->name);
		close(ready[0]);
		close(ready[1]);
		*ex = EXIT_UNAVAIL;
		goto out;
	}
	if (pid == 0) {
		close(ready[0]);
		supervise(dir, g->argv, env, ready[1], claim);
	}
	close(ready[1]);
	char byte;
	while (read(ready[0], &byte, 1) < 0 && errno == EINTR)
		;
	close(ready[0]);
	started = 1;
	char num[64], state;
	long long sid;
	unsigned long long start = 0;
	proc_stat(pid, &state, &sid, &start);
	int len = snprintf(num, sizeof num, "%d %llu\n", (int)pid, start);
	snprintf(p, sizeof p, "%s/pid", dir);
	if (write_file(p, num, (size_t)len, 0600) < 0) {
		kill(-pid, SIGKILL);
		warn_("unable to write %s", p);
		*ex = EXIT_CONFIG;
		goto out;
	}
	free(g->ip);
	g->ip = strdup(ip);
	rc = 0;
out:
	close(lk);
	if (claim >= 0)
		close(claim); /* the supervisor holds it from here */
	if (rc < 0 && !started)
		remove_tree(dir); /* nothing runs there: forget it */
	free(spec);
	for (char **e = env; e && *e; e++) {
		memset(*e, 0, strlen(*e));
		free(*e);
	}
	free(env);
	return rc;
}

static int l_remove(struct backend *be, char *const *names, int n, int *ex);

static int l_create(struct backend *be, struct group *gs, int n, int *ex)
{
	struct local *l = be->ctx;
	if (!l->spark[0]) {
		warnx_("Spark not found: run 'make spark', "
		       "or set SPARK_HOME to a Spark or pyspark folder");
		*ex = EXIT_CONFIG;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (start_group(l, &gs[i], ex) < 0) {
			char **names = calloc((size_t)i + 1, sizeof *names);
			for (int k = 0; names && k < i; k++)
				names[k] = gs[k].name;
			int e2;
			if (names)
				l_remove(be, names, i, &e2);
			free(names);
			return -1;
		}
	}
	return 0;
}

/* The session leader's pid, or -1 when it is gone. The pid file holds the pid and its
 * start time: a pid is trusted only while it is still that process (not reused) and
 * still leads its own session; a zombie counts as gone. */
static pid_t live_pid(const char *dir)
{
	char num[64], state;
	long long pid, sid;
	unsigned long long want, start;
	if (slurp(dir, "pid", num, sizeof num) < 0 || sscanf(num, "%lld %llu", &pid, &want) != 2 ||
	    pid < 2 || pid > (1 << 30))
		return -1;
	if (proc_stat(pid, &state, &sid, &start) < 0 || sid != pid || state == 'Z' || start != want)
		return -1;
	return (pid_t)pid;
}

/* Signals every process of session sid; returns how many were found. */
static int signal_session(pid_t sid, int sig)
{
	DIR *d = opendir("/proc");
	int found = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		long long pid;
		if (parse_int(e->d_name, 1, 1 << 30, &pid) < 0)
			continue;
		char state;
		long long s;
		unsigned long long start;
		if (proc_stat(pid, &state, &s, &start) == 0 && s == sid && state != 'Z') {
			found++;
			kill((pid_t)pid, sig);
		}
	}
	if (d)
		closedir(d);
	return found;
}

static int read_group(const struct local *l, const char *name, struct group *g)
{
	char dir[1300], p[1400];
	group_dir(l, name, dir, sizeof dir);
	snprintf(p, sizeof p, "%s/spec.json", dir);
	struct buf b = {0};
	struct json j = {0};
	memset(g, 0, sizeof *g);
	g->exit_code = -1;
	if (read_file(p, 1 << 20, &b) < 0) {
		buf_free(&b);
		return 1;
	}
	int rc = -1;
	if (json_parse(&j, b.p, b.len, NULL) != 0)
		goto out;
	g->name = json_str(&j, json_get(&j, 0, "name"));
	if (!g->name || strcmp(g->name, name) || !name_ok(name)) {
		warnx_("ignoring %s: its spec.json does not name this group", dir);
		goto out;
	}
	g->image = json_str(&j, json_get(&j, 0, "image"));
	g->ip = json_str(&j, json_get(&j, 0, "ip"));
	json_num(&j, json_get(&j, 0, "cpu"), &g->cpu);
	json_int(&j, json_get(&j, 0, "memoryMB"), &g->memory_mb);
	json_int(&j, json_get(&j, 0, "created"), &g->created);
	int t = json_get(&j, 0, "tags");
	if (group_tags_json(g, &j, t) < 0)
		goto out;
	int ports = json_get(&j, 0, "ports");
	for (int m = 0; ports >= 0 && m < j.t[ports].size && m < 8; m++) {
		long long v;
		if (json_int(&j, json_at(&j, ports, m), &v) == 0)
			g->ports[g->nports++] = (int)v;
	}
	char code[32];
	long long ec;
	if (live_pid(dir) > 0)
		g->state = GS_RUNNING;
	else if (slurp(dir, "exit", code, sizeof code) == 0 && parse_int(code, 0, 255, &ec) == 0) {
		g->exit_code = (int)ec;
		g->state = ec == 0 ? GS_SUCCEEDED : GS_FAILED;
	} else
		g->state = GS_STOPPED;
	rc = g->name ? 0 : -1;
out:
	json_free(&j);
	buf_free(&b);
	return rc;
}

static int l_get(struct backend *be, const char *name, struct group *g, int *ex)
{
	int rc = read_group(be->ctx, name, g);
	if (rc < 0) {
		warnx_("the state of group %s is unreadable", name);
		*ex = EXIT_SOFTWARE;
	}
	return rc;
}

static int l_list(struct backend *be, const char *cluster, struct group **out, int *n, int *ex)
{
	struct local *l = be->ctx;
	*out = NULL;
	*n = 0;
	DIR *d = opendir(l->groups);
	if (!d) {
		warn_("unable to read %s", l->groups);
		*ex = EXIT_CONFIG;
		return -1;
	}
	struct dirent *e;
	int cap = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		struct group g;
		if (read_group(l, e->d_name, &g) != 0) {
			group_free(&g);
			continue;
		}
		const char *c = group_tag(&g, "legion-cluster");
		if (!c || (cluster && strcmp(c, cluster))) {
			group_free(&g);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			struct group *ng = realloc(*out, (size_t)cap * sizeof *ng);
			if (!ng) {
				group_free(&g);
				break;
			}
			*out = ng;
		}
		(*out)[(*n)++] = g;
	}
	closedir(d);
	return 0;
}

static int l_remove(struct backend *be, char *const *names, int n, int *ex)
{
	struct local *l = be->ctx;
	(void)ex;
	pid_t *sids = calloc((size_t)n + 1, sizeof *sids);
	if (!sids)
		return -1;
	for (int i = 0; i < n; i++) {
		char dir[1300];
		group_dir(l, names[i], dir, sizeof dir);
		sids[i] = live_pid(dir);
		if (sids[i] > 0)
			signal_session(sids[i], SIGTERM);
	}
	/* a grace period for everyone at once, then SIGKILL */
	long long deadline = now_ms() + 10000;
	for (;;) {
		int alive = 0;
		for (int i = 0; i < n; i++)
			if (sids[i] > 0)
				alive += signal_session(sids[i], 0);
		if (!alive)
			break;
		if (now_ms() > deadline) {
			for (int i = 0; i < n; i++)
				if (sids[i] > 0)
					signal_session(sids[i], SIGKILL);
			deadline = now_ms() + 5000;
		}
		sleep_ms(50, NULL);
	}
	for (int i = 0; i < n; i++) {
		char dir[1300];
		group_dir(l, names[i], dir, sizeof dir);
		remove_tree(dir);
	}
	free(sids);
	return 0;
}

static int l_logs(struct backend *be, const char *name, int tail, struct buf *out, int *ex)
{
	struct local *l = be->ctx;
	char p[1400];
	snprintf(p, sizeof p, "%s/%s/log", l->groups, name);
	struct buf b = {0};
	if (read_file(p, 64 << 20, &b) < 0) {
		warnx_("no group named %s", name);
		buf_free(&b);
		*ex = EXIT_DATAERR;
		return -1;
	}
	size_t start = 0;
	if (tail > 0) {
		int lines = 0;
		size_t k = b.len;
		if (k > 0 && b.p[k - 1] == '\n')
			k--;
		while (k > 0 && lines < tail)
			if (b.p[--k] == '\n')
				lines++;
		start = lines == tail ? k + 1 : 0;
	}
	int rc = buf_add(out, b.p + start, b.len - start);
	buf_free(&b);
	return rc;
}

/* This machine: online CPUs and physical memory. */
static void l_capacity(struct backend *be, double *cpus, long long *mem_mb)
{
	(void)be;
	long n = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES),
	     size = sysconf(_SC_PAGESIZE);
	*cpus = n > 0 ? (double)n : 1;
	*mem_mb = pages > 0 && size > 0 ? (long long)pages * size / (1024 * 1024) : 0;
}

const struct backend_ops backend_local = {
	.name = "local",
	.capacity = l_capacity,
	.open = l_open,
	.create = l_create,
	.get = l_get,
	.list = l_list,
	.remove = l_remove,
	.logs = l_logs,
	.close = l_close,
};
