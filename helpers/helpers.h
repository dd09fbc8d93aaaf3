/*
 * helpers/helpers.h: the contracts of the helper programs' code, by layer: common.c
 * (what every helper shares), then the job daemon's parts: httpd.c (HTTP/1.1 requests
 * and replies over TLS, no knowledge of jobs), jobq.c (the job queue, its runner thread
 * and NDJSON logs), jobspec.c (a POST /v1/jobs body into a job), api.c (the handlers and
 * the router). The core they build on (util, json, http, tls, proc) is in legion.h.
 */
#ifndef LEGION_HELPERS_H
#define LEGION_HELPERS_H

#include "legion.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>

/* ---- common.c: what the helpers share ---------------------------------------------- */

/* Exit codes of the helpers beyond legion.h's (sysexits.h and the shell's). */
#define EXIT_CANTCREAT 73 /* unable to write in the work directory */
#define EXIT_NOANSWER 111 /* legion-register: no answer before the deadline */
#define EXIT_NOEXEC 126   /* the program to run is not executable */
#define EXIT_NOTFOUND 127 /* the program to run was not found */

/* Until the first job (jobd) or the first executor or job (a worker), the idle timeout
 * is at least this: the CLI sends the job once all its workers registered, which it
 * notices some seconds after they did (a cloud's provisioning polls). */
#define FIRST_JOB_MIN_MS (60 * 1000LL)

/* The name peers use to reach this container (LEGION_HOST, else CONTAINER_IP, else
 * the first non-loopback IPv4 interface address) into host, and the IPv4 address to
 * bind into addr. A LEGION_HOST name that resolves to no address of this machine (ACI's
 * public FQDN) is mapped to CONTAINER_IP or the interface address in /etc/hosts. Then,
 * when run as root with LEGION_USER naming a user (the image's spark), switches to that
 * user for good (HOME, USER, LOGNAME too): everything after this runs unprivileged.
 * -1 after a message. */
int agent_host(char *host, size_t hostn, char *addr, size_t addrn);
/* The first IPv4 address of name (a literal passes through) into addr. */
int agent_resolve(const char *name, char *addr, size_t addrn);
/* The environment a helper passes to Spark: environ without the secrets
 * (LEGION_TOKEN, LEGION_SPARK_SECRET, LEGION_TLS_KEY, AZURE_STORAGE_ACCOUNT_KEY,
 * AZURE_CLIENT_SECRET, LEGION_STORAGE_CLIENT_SECRET) plus extra ("NAME=value" strings, NULL-terminated, replacing
 * variables of the same name). Returns an owned NULL-terminated array whose strings
 * are borrowed from environ and extra: free only the array. */
char **agent_env(const char *const *extra);
/* Overwrites the value of environment variable name in place, so that it no longer
 * shows in /proc/PID/environ, and removes it; call after copying the value. */
void agent_scrub_env(const char *name);
/* Appends "key=value\n" to b with Java properties escaping (key and value). */
int agent_prop(struct buf *b, const char *key, const char *value);

/* cds.c: the JVM options that map role's ("launcher", "master", "worker", "driver",
 * "executor") class archive from $LEGION_CDS_DIR (else ~/.cache/legion/cds; "off": none)
 * into out: 0, or -1 with out "" when there is no whole archive (its ROLE.ok no longer
 * matches its size and mtime). */
int cds_opts(const char *role, char *out, size_t n);
/* For the JVM of a daemon or launcher role ("launcher", "master", "worker"): puts
 * -XX:TieredStopAtLevel=1 and cds_opts(role) before environment variable name's own
 * value (or sets it). 0 also when there is no archive; -1 when out of memory. */
int daemon_env(const char *name, const char *role);

/* A worker's view of the job API, from the environment: LEGION_TOKEN, LEGION_TLS_CERT,
 * LEGION_TLS_NAME, LEGION_MASTER, LEGION_WORKER_NAME/CORES/MEMORY (see helpers/README.md). */
struct agent {
	char *token, *tls_name, *master; /* borrowed from the environment (token: owned
					  * after agent_own_token) */
	int token_owned;
	char *cert; /* owned: LEGION_TLS_CERT ending in a newline (BearSSL needs one) */
	char name[128], host[256], addr[64];
	long long cores, memory_mb;
	int port;
	char url[512], resolve[512];
};
/* Reads the environment (port 0 = 7090). -1 with *ex = EXIT_CONFIG when something is
 * missing or malformed. */
int agent_init(struct agent *a, int port, int *ex);
/* For a helper that keeps running (legion-idle, the container's first process): the
 * token copied into a->token (owned from here on, wiped by agent_free) and scrubbed from
 * the environment, so /proc/PID/environ no longer shows it. -1 when out of memory. */
int agent_own_token(struct agent *a);
void agent_free(struct agent *a);
/* The helpers' options: 0, or -1 after "prog: fatal: unable to use -X ARG: why". */
int agent_opt_port(const char *arg, long long *port);
int agent_opt_secs(int opt, const char *arg, long long hi, long long *secs);
/* A bad option (opt, or 0 for a bad argument list): message, usage line; returns 64. */
int agent_usage(int opt, const char *usage);
/* One POST /v1/workers with executors (-1 = unknown) and a whole-request timeout.
 * Returns the HTTP status (0 when no answer arrived); on 2xx sets *stop from the
 * answer's "stop" and *busy from "busy" (a job waits or runs on the master). */
long agent_heartbeat(struct agent *a, int executors, long timeout_ms, int *stop, int *busy);

/* Where the job API serves the master's web UI (api.c, uiproxy.c): Spark's
 * spark.ui.reverseProxyUrl, so that the pages' links stay under it. */
#define UI_MASTER_BASE "/v1/ui/master"

/* ---- tls.c: what only the job daemon uses (the rest of tls.c is in legion.h) ------ */

/* No wait starts after now_ms() reaches end_ms (0 = no deadline): with it, a peer that
 * trickles bytes cannot stretch a read or a handshake past end_ms. */
void tls_set_deadline(struct tls_conn *c, long long end_ms);
/* For an event loop: moves bytes between the socket and the engine (the handshake
 * included) without ever waiting. 1 when decrypted bytes can be read (tls_read then
 * returns at once), 0 when it must wait for the socket (*events: POLLIN or POLLOUT),
 * -1 when the connection failed or was closed. */
int tls_pump(struct tls_conn *c, short *events);
/* Queues close_notify and sends what the socket takes without waiting, frees c and
 * returns its socket, still open (the caller drains and closes it). */
int tls_release(struct tls_conn *c);

/* ---- httpd.c: one HTTP/1.1 request per connection, over TLS ------------------------ */

#define HDR_MAX 8192                    /* request line + headers */
#define BODY_MAX_JOB ((size_t)96 << 20) /* POST /v1/jobs: a ~64 MiB app in base64 */
#define BODY_MAX ((size_t)64 << 10)     /* every other request */
#define HDR_DEADLINE_MS 10000           /* accept to end of head, TLS included */
#define IO_TIMEOUT_MS 30000             /* any single wait on a socket */
#define BODY_DEADLINE_MS (10 * 60000)   /* whole request body */

/* One request: the head as read, what parsing found, the body, the status sent. */
struct req {
	struct tls_conn *c; /* NULL in tests: replies are only recorded in status */
	int fd;
	char head[HDR_MAX + 1];
	size_t hlen, hend; /* bytes read; where the head ends (after its blank line) */
	char method[16], path[512], query[512];
	const char *auth; /* the Authorization value, in head */
	long long clen;   /* Content-Length, -1 when absent */
	int expect100, chunked, http10;
	struct buf body;
	int status; /* sent, for the access log */
};

/* Where the head ends in r->head[0..hlen), searching from byte from: 1 with r->hend set,
 * 0 when more bytes are needed, or an error status (400 NUL byte, 431 head too large)
 * with the message in why. */
int httpd_head_end(struct req *r, size_t from, const char **why);
/* After bytes were added to the head (it held old bytes before): 1 when the head is
 * complete and parsed, 0 when more bytes are needed, -1 after an error reply (400,
 * 414, 431, 505). */
int httpd_head_step(struct req *r, size_t old);
/* Parses the request line and the headers we use (Authorization, Content-Length,
 * Transfer-Encoding, Expect) of a complete head, in place. 0, or an error status
 * (400, 414, 505) with the message in why. */
int httpd_parse_head(struct req *r, const char **why);
/* Whether a body of at most max bytes may follow the parsed head: 0, or an error status
 * (411 no Content-Length on a POST or a chunked body, 413 too large). */
int httpd_check_length(const struct req *r, size_t max);
/* Reads the body (Content-Length bytes, at most max). 0, -1 client gone, 1 replied. */
int httpd_read_body(struct req *r, size_t max);
/* How deep s[0..n) nests ([ and { outside strings), counted up to JSON_MAX_DEPTH + 1:
 * a byte scan before parsing, as the parser's work grows with the square of the depth. */
int httpd_json_depth(const char *s, size_t n);
/* The body as a JSON object (at most JSON_MAX_DEPTH deep), or an error reply (then
 * returns -1). */
int httpd_json(struct req *r, struct json *j);
/* String member key of object obj, at most max bytes, into *out (owned; NULL when
 * absent and not required). 0, or -1 after an error reply. */
int httpd_json_str(struct req *r, const struct json *j, int obj, const char *key, size_t max,
		   int required, char **out);
/* 1 when query string q has name=1 or name=true. */
int httpd_query_flag(const char *q, const char *name);
/* 1 when the client hung up (or sent anything: it has nothing more to send). */
int httpd_client_gone(int fd);

/* Replies. A length of -1 in send_head means chunked (raw for HTTP/1.0); extra is
 * more header lines, each ending in CRLF. */
const char *httpd_reason(int status);
int httpd_send_head(struct req *r, int status, const char *ctype, long long len, const char *extra);
int httpd_send_chunk(struct req *r, const char *p, size_t n);
void httpd_reply_json(struct req *r, int status, const char *json, size_t n, const char *extra);
void httpd_reply_doc(struct req *r, int status, struct jw *w, const char *extra);
/* {"error":{"code","message"}}; 401 adds WWW-Authenticate. */
void httpd_reply_err(struct req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- jobq.c: the daemon's state, the job queue, its runner, NDJSON logs ------------ */

#define MAX_JOBS 1000
#define MAX_WORKERS 1024
#define KILL_GRACE_MS 5000 /* SIGTERM, then SIGKILL */

/* Set in legion-jobd.c's main, read-only afterwards. */
struct jobd_config {
	char host[256], addr[64], tls_name[256], cluster[64];
	int port;
	long long idle_s;
	char workdir[PATH_MAX], props[PATH_MAX + 32], spark_home[PATH_MAX];
	char *token;     /* owned copy; scrubbed from the environment */
	struct buf base; /* the properties every Spark process gets (has the secret) */
	char **env;      /* environment for Spark processes: secrets removed */
	struct tls_server *tls;
};
extern struct jobd_config jobd_cfg;

enum jstate { J_QUEUED, J_RUNNING, J_SUCCEEDED, J_FAILED, J_KILLED };
extern const char *const jstate_name[];

struct job {
	int id;
	char name[128];
	char app[256];
	enum jstate state;
	int exit_code;     /* -1 until it ended (and when killed before it started) */
	char **argv;       /* spark-submit command, owned */
	char *dir;         /* owned */
	pid_t pid;         /* its process group while running */
	long long kill_ms; /* when DELETE or shutdown sent SIGTERM, 0 = not asked */
	long long submitted, started, ended; /* unix seconds */
	long long log_len;                   /* NDJSON bytes in dir/log.ndjson */
	char *driver_python; /* owned: a Python driver's python, run by legion-pydriver with
			      * its stderr on the FIFO dir/stderr.fifo; NULL: no FIFO */
	char *unpack;        /* owned: "archive\0folder\0"... unpacked into dir before the
			      * driver starts (unpack_len bytes) */
	size_t unpack_len;
	struct job *next;
};

struct worker {
	char name[128], host[256];
	long long cores, memory_mb, executors;
	long long seen_ms, seen_unix;
	int told_stop;
};

/* Everything threads share: one mutex, one condition for every change. */
struct jobd_state {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *jobs, *last;
	int njobs, next_id;
	struct worker *workers;
	int nworkers;
	int stopping;         /* no new jobs; heartbeats answer stop */
	int quit;             /* the runner and log streams end */
	long long idle_since; /* now_ms() when the last job ended, when the first worker
			       * registered, or (in the future) start + the allowance */
	int conns;
	pid_t master;
};
extern struct jobd_state jobd;

void jobd_lock(void);
void jobd_unlock(void);
void jobd_changed(void); /* wakes every waiter: call with the lock held */
/* Waits for a change, at most ms (with the lock held). */
void jobd_wait(long ms);
/* 1 while a job waits or runs (call with the lock held). */
int jobs_busy(void);
/* The runner thread: runs queued jobs one at a time until jobd.quit, then marks the
 * rest KILLED. */
void *jobq_runner(void *arg);
void job_free(struct job *j);
void jobq_free(void);

/* ---- jobspec.c: a POST /v1/jobs body into a job ------------------------------------ */

/* Builds job j (id and dir set, dir created) from the body: the app and files on disk,
 * its spark.properties, the spark-submit argv. 0, or -1 after an error reply. */
int jobspec_build(struct req *r, const struct json *body, struct job *j);

/* ---- api.c: the job API's handlers and router -------------------------------------- */

/* Constant-time check of an Authorization value: "Bearer <the cluster token>". */
int api_authorized(const char *h);
/* The thread of one authenticated request: arg is its struct req (owned from here on),
 * the head read and parsed, the token checked (legion-jobd.c's loop does that). Routes
 * it (the body read, the handler), closes the connection and counts it off jobd.conns. */
void *api_serve(void *arg);
/* Routes one request whose head is parsed and token checked: the body read (from what
 * follows the head in r->head, then the connection), the handler run, the reply sent
 * (recorded in r->status). api_serve's core, callable without a network (t/fuzz/api.c). */
void api_route(struct req *r);

/* ---- uiproxy.c: /v1/ui/, Spark's web UIs relayed ------------------------------------ */

/* Serves an authenticated GET or HEAD of /v1/ui/master/..., /v1/ui/driver/... (while a
 * job runs) or /v1/ui/worker/ID/... (ID: a worker id from the master's /json/) from
 * that UI, over this container's address: 60 s from connect to the last byte, a head of
 * at most 16 KiB, a body of at most 64 MiB; Location kept under /v1/ui/. Errors: 404
 * (no such UI, no running job, unknown worker), 502 (the UI failed), 503 (the driver's
 * UI not up yet). */
void api_ui(struct req *r);

#endif
