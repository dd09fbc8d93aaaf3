/*
 * helpers/common.c: what the helpers share: this container's address (then, as root, the
 * switch to LEGION_USER), the environment handed to Spark (secrets removed), Java
 * properties escaping, the worker's side of the job API (POST /v1/workers over pinned
 * TLS), the helpers' option parsing.
 * Leaves out process control (proc.c).
 */
#include "helpers.h"

#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;
/* <grp.h>'s, declared here: that header's struct group clashes with legion.h's */
int setgroups(size_t n, const gid_t *groups);

/* Never handed on to Spark, the driver or the user's app. */
static const char *const secrets[] = {
	"LEGION_TOKEN",
	"LEGION_SPARK_SECRET",
	"LEGION_TLS_KEY",
	"AZURE_STORAGE_ACCOUNT_KEY",
	"AZURE_CLIENT_SECRET",
	"LEGION_STORAGE_CLIENT_SECRET",
	NULL,
};

/* agent_resolve, with the failure told only when loud. */
static int resolve4(const char *name, char *addr, size_t addrn, int loud)
{
	struct in_addr in;
	if (inet_pton(AF_INET, name, &in) == 1) {
		if (strlen(name) >= addrn)
			return -1;
		strcpy(addr, name);
		return 0;
	}
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
	int e = getaddrinfo(name, NULL, &hints, &res);
	if (e) {
		if (loud)
			warnx_("unable to resolve %s: %s", name, gai_strerror(e));
		return -1;
	}
	const struct sockaddr_in *sa = (const struct sockaddr_in *)res->ai_addr;
	int rc = inet_ntop(AF_INET, &sa->sin_addr, addr, (socklen_t)addrn) ? 0 : -1;
	freeaddrinfo(res);
	return rc;
}

int agent_resolve(const char *name, char *addr, size_t addrn)
{
	return resolve4(name, addr, addrn, 1);
}

/* 1 when a is one of this machine's addresses (all of 127/8 counts). */
static int is_local(struct in_addr a)
{
	if ((ntohl(a.s_addr) >> 24) == 127)
		return 1;
	struct ifaddrs *ifs, *i;
	int found = 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next)
		found = i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == a.s_addr;
	freeifaddrs(ifs);
	return found;
}

/* The first non-loopback IPv4 interface address into addr. */
static int first_address(char *addr, size_t addrn)
{
	struct ifaddrs *ifs, *i;
	if (getifaddrs(&ifs) < 0) {
		warn_("unable to list network interfaces");
		return -1;
	}
	int rc = -1;
	for (i = ifs; i && rc < 0; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		const struct sockaddr_in *sa = (const struct sockaddr_in *)i->ifa_addr;
		if (inet_ntop(AF_INET, &sa->sin_addr, addr, (socklen_t)addrn))
			rc = 0;
	}
	freeifaddrs(ifs);
	if (rc < 0)
		warnx_("unable to find this container's address: set LEGION_HOST or CONTAINER_IP");
	return rc;
}

/* name's first address that is this machine's into addr; -1 when it has none. */
static int resolve_local(const char *name, char *addr, size_t addrn)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res, *r;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return -1;
	int rc = -1;
	for (r = res; r && rc < 0; r = r->ai_next) {
		const struct sockaddr_in *sa = (const struct sockaddr_in *)r->ai_addr;
		if (is_local(sa->sin_addr) &&
		    inet_ntop(AF_INET, &sa->sin_addr, addr, (socklen_t)addrn))
			rc = 0;
	}
	freeaddrinfo(res);
	return rc;
}

/* agent_host's name and address, and the /etc/hosts line (the step that needs root). */
static int host_of(char *host, size_t hostn, char *addr, size_t addrn)
{
	const char *h = getenv("LEGION_HOST"), *ip = getenv("CONTAINER_IP");
	struct in_addr in;
	if (!h || !*h)
		h = ip && *ip ? ip : NULL;
	if (!h) {
		if (first_address(addr, addrn) < 0 || strlen(addr) >= hostn)
			return -1;
		strcpy(host, addr);
		return 0;
	}
	if (strlen(h) >= hostn || strlen(h) > 253 || strcspn(h, " \t\n#") != strlen(h)) {
		warnx_("unable to use LEGION_HOST: not a host name or address");
		return -1;
	}
	strcpy(host, h);
	if (inet_pton(AF_INET, h, &in) == 1)
		return agent_resolve(h, addr, addrn);
	if (resolve_local(h, addr, addrn) == 0)
		return 0;
	/* A public name (ACI's FQDN) resolves to an address this container does not have:
	 * map it to our own, so that Spark binds what it advertises. */
	if (ip && *ip) {
		if (agent_resolve(ip, addr, addrn) < 0)
			return -1;
	} else if (first_address(addr, addrn) < 0)
		return -1;
	if (getpid() != 1) {
		/* not a container's first process (the emulator's exec mode, a test): never
		 * touch this machine's /etc/hosts; peers use the address instead */
		warnx_("%s does not resolve here: advertising %s instead", h, addr);
		if (strlen(addr) >= hostn)
			return -1;
		strcpy(host, addr);
		return 0;
	}
	char line[320];
	int n = snprintf(line, sizeof line, "%s\t%s\n", addr, h);
	int fd = open("/etc/hosts", O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		warn_("unable to map %s to %s in /etc/hosts", h, addr);
	else
		warnx_("mapped %s to %s in /etc/hosts", h, addr);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* As root with LEGION_USER naming another user: that user's group and ids for good, and
 * its HOME, USER and LOGNAME. 0 also when there is nothing to do; -1 after a message. */
static int drop_root(void)
{
	const char *u = getenv("LEGION_USER");
	if (geteuid() != 0 || !u || !*u)
		return 0;
	const struct passwd *pw = getpwnam(u);
	if (!pw) {
		warnx_("fatal: unable to find the user %s (LEGION_USER) in /etc/passwd", u);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (setenv("HOME", pw->pw_dir, 1) < 0 || setenv("USER", pw->pw_name, 1) < 0 ||
	    setenv("LOGNAME", pw->pw_name, 1) < 0) {
		warnx_("fatal: out of memory");
		return -1;
	}
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		warn_("fatal: unable to switch to the user %s (LEGION_USER)", u);
		return -1;
	}
	if (setuid(0) == 0 || geteuid() != uid || getegid() != gid) {
		warnx_("fatal: unable to give up root for the user %s (LEGION_USER)", u);
		return -1;
	}
	warnx_("running as %s (uid %ld)", u, (long)uid);
	return 0;
}

int agent_host(char *host, size_t hostn, char *addr, size_t addrn)
{
	if (host_of(host, hostn, addr, addrn) < 0)
		return -1;
	return drop_root();
}

static int is_secret(const char *entry)
{
	for (int i = 0; secrets[i]; i++) {
		size_t k = strlen(secrets[i]);
		if (!strncmp(entry, secrets[i], k) && entry[k] == '=')
			return 1;
	}
	return 0;
}

/* 1 when entries a and b ("NAME=...") name the same variable. */
static int same_name(const char *a, const char *b)
{
	size_t k = strcspn(a, "=");
	return !strncmp(a, b, k) && b[k] == '=' && a[k] == '=';
}

char **agent_env(const char *const *extra)
{
	size_t n = 0, m = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	for (const char *const *x = extra; x && *x; x++)
		n++;
	char **env = calloc(n + 1, sizeof *env);
	if (!env) {
		warnx_("out of memory");
		return NULL;
	}
	for (char **e = environ; e && *e; e++) {
		int replaced = 0;
		for (const char *const *x = extra; x && *x && !replaced; x++)
			replaced = same_name(*x, *e);
		if (!replaced && !is_secret(*e) && strchr(*e, '='))
			env[m++] = *e;
	}
	for (const char *const *x = extra; x && *x; x++)
		env[m++] = (char *)*x;
	env[m] = NULL;
	return env;
}

void agent_scrub_env(const char *name)
{
	char *v = getenv(name);
	if (v)
		explicit_bzero(v, strlen(v));
	unsetenv(name);
}

/* Java's Properties.load: backslash escapes; keys also escape the separators. */
static int prop_escape(struct buf *b, const char *s, int key)
{
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char e[8];
		const char *out = NULL;
		switch (c) {
		case '\\': out = "\\\\"; break;
		case '\n': out = "\\n"; break;
		case '\r': out = "\\r"; break;
		case '\t': out = "\\t"; break;
		case '\f': out = "\\f"; break;
		case '=':
		case ':':
		case '#':
		case '!':
			if (key || p == s) {
				e[0] = '\\', e[1] = (char)c, e[2] = '\0';
				out = e;
			}
			break;
		case ' ':
			if (key || p == s)
				out = "\\ ";
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(e, sizeof e, "\\u%04x", c);
				out = e;
			}
		}
		if (out ? buf_adds(b, out) : buf_add(b, p, 1))
			return -1;
	}
	return 0;
}

int agent_prop(struct buf *b, const char *key, const char *value)
{
	if (prop_escape(b, key, 1) < 0 || buf_add(b, "=", 1) < 0 || prop_escape(b, value, 0) < 0 ||
	    buf_add(b, "\n", 1) < 0) {
		warnx_("out of memory");
		return -1;
	}
	return 0;
}

/* ---- the worker's side of the job API -------------------------------------------- */

static char *need(const char *name, int *ex)
{
	char *v = getenv(name);
	if (!v || !*v) {
		warnx_("fatal: unable to find %s in the environment", name);
		*ex = EXIT_CONFIG;
		return NULL;
	}
	return v;
}

int agent_init(struct agent *a, int port, int *ex)
{
	memset(a, 0, sizeof *a);
	a->port = port ? port : 7090;
	a->cores = a->memory_mb = -1;
	const char *cert;
	if (!(a->token = need("LEGION_TOKEN", ex)) || !(cert = need("LEGION_TLS_CERT", ex)) ||
	    !(a->tls_name = need("LEGION_TLS_NAME", ex)) ||
	    !(a->master = need("LEGION_MASTER", ex)))
		return -1;
	/* a PEM whose last line lacks its newline does not load in libcurl + BearSSL */
	struct buf b = {0};
	if (buf_adds(&b, cert) < 0 || (b.p[b.len - 1] != '\n' && buf_add(&b, "\n", 1) < 0)) {
		buf_free(&b);
		warnx_("fatal: out of memory");
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	a->cert = b.p;
	*ex = EXIT_CONFIG;
	const char *v;
	if ((v = getenv("LEGION_WORKER_CORES")) && *v && parse_int(v, 1, 4096, &a->cores) < 0) {
		warnx_("fatal: unable to use LEGION_WORKER_CORES: not a whole number in 1..4096");
		agent_free(a);
		return -1;
	}
	if ((v = getenv("LEGION_WORKER_MEMORY")) && *v &&
	    parse_int(v, 1, 1 << 30, &a->memory_mb) < 0) {
		warnx_("fatal: unable to use LEGION_WORKER_MEMORY: not a whole number of MiB");
		agent_free(a);
		return -1;
	}
	if (agent_host(a->host, sizeof a->host, a->addr, sizeof a->addr) < 0) {
		agent_free(a);
		return -1;
	}
	v = getenv("LEGION_WORKER_NAME");
	snprintf(a->name, sizeof a->name, "%.127s", v && *v ? v : a->host);
	if (strlen(a->tls_name) > 253 || strchr(a->tls_name, ':') || strchr(a->tls_name, '/')) {
		warnx_("fatal: unable to use LEGION_TLS_NAME: not a DNS name");
		agent_free(a);
		return -1;
	}
	snprintf(a->url, sizeof a->url, "https://%s:%d/v1/workers", a->tls_name, a->port);
	*ex = 0;
	return 0;
}

int agent_own_token(struct agent *a)
{
	char *t = strdup(a->token);
	if (!t) {
		warnx_("out of memory");
		return -1;
	}
	agent_scrub_env("LEGION_TOKEN");
	a->token = t;
	a->token_owned = 1;
	return 0;
}

void agent_free(struct agent *a)
{
	free(a->cert);
	a->cert = NULL;
	if (a->token_owned) {
		explicit_bzero(a->token, strlen(a->token));
		free(a->token);
		a->token = NULL;
		a->token_owned = 0;
	}
}

long agent_heartbeat(struct agent *a, int executors, long timeout_ms, int *stop, int *busy)
{
	char addr[64], auth[600];
	/* the master's address may only resolve once its container is up: every try */
	if (resolve4(a->master, addr, sizeof addr, verbose) < 0)
		return 0;
	snprintf(a->resolve, sizeof a->resolve, "%s:%d:%s", a->tls_name, a->port, addr);
	if (http_bearer(auth, sizeof auth, a->token) < 0) {
		warnx_("LEGION_TOKEN is too long");
		return 0;
	}
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "name", a->name);
	jw_str(&w, "host", a->host);
	if (a->cores > 0)
		jw_int(&w, "cores", a->cores);
	if (a->memory_mb > 0)
		jw_int(&w, "memoryMB", a->memory_mb);
	if (executors >= 0)
		jw_int(&w, "executors", executors);
	jw_end(&w);
	size_t len;
	char *body = jw_finish(&w, &len);
	if (!body) {
		warnx_("out of memory");
		return 0;
	}
	const char *hdrs[] = {auth, "Content-Type: application/json", NULL};
	struct http_req q = {
		.method = "POST",
		.url = a->url,
		.headers = hdrs,
		.body = body,
		.body_len = len,
		.ca_pem = a->cert,
		.resolve = a->resolve,
		.timeout_ms = timeout_ms,
		.tries = 1,
		.max_body = 65536,
		.redact = a->token,
	};
	struct http_resp r = {0};
	long status = http_do(&q, &r) == 0 ? r.status : 0;
	if (status == 0 && verbose)
		warnx_("%s", r.err);
	if (status >= 200 && status < 300) {
		struct json j = {0};
		*stop = *busy = 0;
		if (json_parse(&j, r.body.p ? r.body.p : "", r.body.len, NULL) == 0) {
			*stop = json_bool(&j, json_get(&j, 0, "stop")) == 1;
			*busy = json_bool(&j, json_get(&j, 0, "busy")) == 1;
		}
		json_free(&j);
	} else if (status) {
		warnx_("%s", r.err[0] ? r.err : "unexpected answer");
	}
	explicit_bzero(auth, sizeof auth);
	http_resp_free(&r);
	free(body);
	return status;
}

int agent_opt_port(const char *arg, long long *port)
{
	if (parse_int(arg, 1, 65535, port) == 0)
		return 0;
	warnx_("fatal: unable to use -p %s: not a port", arg);
	return -1;
}

int agent_opt_secs(int opt, const char *arg, long long hi, long long *secs)
{
	if (parse_duration(arg, hi, secs) == 0)
		return 0;
	warnx_("fatal: unable to use -%c %s: not a duration", opt, arg);
	return -1;
}

int agent_usage(int opt, const char *usage)
{
	if (opt)
		warnx_("fatal: unable to use option -%c", opt);
	fprintf(stderr, "%s\n", usage);
	return EXIT_USAGE;
}
