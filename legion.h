/*
 * legion.h: the one shared header of legion and its helpers. Its comments are the
 * contracts: what each function returns and who frees what. Definitions in the .c
 * files do not repeat them.
 *
 * Conventions: functions return 0 on success and -1 on failure (after a warning on
 * stderr), unless said otherwise. Only main() exits. A pointer returned "owned" is
 * the caller's to free.
 */
#ifndef LEGION_H
#define LEGION_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define LEGION_VERSION "0.1.0"

/* Exit codes (sysexits.h); a job's own status once the job ran. */
#define EXIT_USAGE 64     /* bad command line */
#define EXIT_DATAERR 65   /* bad input data (an app file, a JSON document) */
#define EXIT_UNAVAIL 69   /* backend unavailable (or not built) */
#define EXIT_SOFTWARE 70  /* internal error */
#define EXIT_TEMPFAIL 75  /* throttled or timed out after retries: try again */
#define EXIT_NOPERM 77    /* credentials refused */
#define EXIT_CONFIG 78    /* configuration missing */
#define EXIT_NOEXEC 126   /* a program found but not runnable (as a shell says) */
#define EXIT_NOTFOUND 127 /* a program not found */

/* ---- util.c: messages, buffers, small parsers -------------------------------- */

extern const char *progname; /* set by main: "legion", "legion-jobd", ... */
extern int verbose;          /* -v: HTTP request lines on stderr */

/* "prog: message" on stderr; warnx-style, no errno. */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: message: strerror(errno)". */
void warn_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer that is always NUL-terminated (p may be NULL while empty).
 * max caps len (0 = 64 MiB); adding past it fails. Free with buf_free. */
struct buf {
	char *p;
	size_t len, cap, max;
};
int buf_add(struct buf *b, const void *data, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);
/* Appends s[0..n) percent-encoded (RFC 3986): every byte but letters, digits, "-._~"
 * and those in keep (e.g. "/" for a path) as %XX. */
int buf_add_pct(struct buf *b, const char *s, size_t n, const char *keep);
/* Appends "key=value" (value percent-encoded), after a "&" when b is not empty. */
int buf_add_form(struct buf *b, const char *key, const char *value);
/* Takes ownership of b's storage: returns it (never NULL: "" when empty, owned) and
 * leaves b empty. NULL only when out of memory. */
char *buf_take(struct buf *b);

/* Sizes: "8g", "512m", "1.5g", "2048M", "1024k", plain bytes; returns MiB in *mib.
 * Rejects junk, negatives, zero and values over max_mib. */
int parse_size_mib(const char *s, long long max_mib, long long *mib);
/* Whole numbers in [lo, hi], with an end-pointer check. */
int parse_int(const char *s, long long lo, long long hi, long long *out);
/* Durations: "90", "90s", "5m", "1h", "2d" -> seconds in [0, hi]. */
int parse_duration(const char *s, long long hi, long long *secs);

/* Base64 (standard alphabet, padded) of data into out; decode rejects anything but
 * the alphabet and trailing '='. */
int base64_encode(const void *data, size_t n, struct buf *out);
int base64_decode(const char *s, size_t n, struct buf *out);
/* The same decoder a piece at a time, for data too big to hold twice. lenient (set
 * before the first call) also skips whitespace, takes the URL alphabet (- _) and at the
 * end refuses a lone digit and more than two '='. Each call decodes s[0..n) into out
 * (room for n / 4 * 3 + 3 bytes) and sets *outn; -1 on a byte outside the alphabet or
 * data after '='. base64_stream_end: 0 when what came was complete. */
struct base64_stream {
	unsigned acc;
	int bits, pad, lenient;
};
int base64_stream_decode(struct base64_stream *d, const char *s, size_t n, unsigned char *out,
			 size_t *outn);
int base64_stream_end(const struct base64_stream *d);

/* n random bytes from the system (getrandom, else /dev/urandom). */
int random_bytes(void *p, size_t n);
/* 2n lowercase hex digits of n random bytes into out (2n+1 bytes). */
int random_hex(char *out, size_t n);
/* Reads a whole file into *out (max bytes at most). */
int read_file(const char *path, size_t max, struct buf *out);
/* Writes a file with mode (0600 for secrets), atomically via a temp file + rename. */
int write_file(const char *path, const void *p, size_t n, mode_t mode);
/* Legion's state folder: $LEGION_HOME, else $XDG_STATE_HOME/legion, else
 * ~/.local/state/legion (not created here); -1 with a message when none of the three is
 * set (no /tmp fallback) or the path is not absolute. */
int legion_home(char *out, size_t n);
/* Creates dir (0700) if missing and checks it can be trusted: a real folder owned by
 * this user that nobody else may write to. -1 with a message naming it otherwise. */
int state_dir(const char *dir);
/* mkdir -p with mode for each created folder. */
int mkdirs(const char *path, mode_t mode);
/* A wait status as a shell reports it: the exit code, or 128 + the signal. */
int exit_status(int wstatus);
/* Monotonic milliseconds. */
long long now_ms(void);
/* Sleeps ms, returning early (with 1) when *stop becomes non-zero. */
int sleep_ms(long long ms, volatile sig_atomic_t *stop);

/* ---- json.c: jsmn reader, escaping writer --------------------------------------- */

#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#ifndef LEGION_JSMN_IMPL
#define JSMN_HEADER
#endif
#include "jsmn.h"

/* A parsed document: tokens point into s (not copied, not owned). Feed it more bytes
 * by calling json_parse again with the same struct and a longer len. */
struct json {
	const char *s;
	size_t len;
	jsmntok_t *t;
	int n, cap;
	jsmn_parser p;
};
#define JSON_MORE 1 /* json_parse: the document is incomplete, feed more */
#define JSON_MAX_DEPTH 64
/* Parses s[0..len). Returns 0 when one complete value (with only white space after
 * it), JSON_MORE when truncated, -1 when malformed or nested deeper than JSON_MAX_DEPTH
 * (message in err, if non-NULL). The token array grows as needed; free it with
 * json_free. */
int json_parse(struct json *j, const char *s, size_t len, char err[128]);
void json_free(struct json *j);
/* Index of the token after the subtree at i (iterative: any depth). */
int json_skip(const struct json *j, int i);
/* Token index of key's value in object i, or -1. */
int json_get(const struct json *j, int i, const char *key);
/* Follows a dotted path of keys and array indexes ("properties.containers.0.name")
 * from token i; -1 when absent. */
int json_path(const struct json *j, int i, const char *path);
/* The nth element of array i, or -1. */
int json_at(const struct json *j, int i, int nth);
/* 1 when token i is a string equal to s (after decoding), else 0. */
int json_eq(const struct json *j, int i, const char *s);
/* Decoded string value (escapes, \uXXXX and surrogate pairs to UTF-8), owned;
 * NULL when i < 0, not a string, or invalid. */
char *json_str(const struct json *j, int i);
/* Decodes into dst[0..n); -1 when absent, not a string, invalid or too long. */
int json_strcpy(const struct json *j, int i, char *dst, size_t n);
/* Integer from a number token or a string of digits (IMDS sends numbers as strings).
 * -1 when absent or not an integer. */
int json_int(const struct json *j, int i, long long *out);
/* Number (integer or fraction) like json_int. */
int json_num(const struct json *j, int i, double *out);
/* 1 for true, 0 for false, -1 otherwise. */
int json_bool(const struct json *j, int i);
/* Decodes the JSON string body s[0..n) (no quotes) into out. -1 on bad escapes. */
int json_unescape(const char *s, size_t n, struct buf *out);

/* An escaping JSON writer. Calls nest; key is NULL inside arrays and at the top.
 * Errors (out of memory, bad nesting) stick and surface in jw_finish. */
struct jw {
	struct buf b;
	unsigned char first[64]; /* per depth: no comma needed yet */
	char kind[64];           /* per depth: the closer, '}' or ']' */
	int depth, err;
};
void jw_obj(struct jw *w, const char *key);
void jw_arr(struct jw *w, const char *key);
void jw_end(struct jw *w); /* closes the innermost object or array */
void jw_str(struct jw *w, const char *key, const char *val); /* NULL -> null */
void jw_strn(struct jw *w, const char *key, const char *val, size_t n);
void jw_int(struct jw *w, const char *key, long long v);
void jw_num(struct jw *w, const char *key, double v);
void jw_bool(struct jw *w, const char *key, int v);
void jw_null(struct jw *w, const char *key);
/* Inserts already-valid JSON text as a value (e.g. a document read from a server). */
void jw_raw(struct jw *w, const char *key, const char *json, size_t n);
/* The document, NUL-terminated, owned; NULL on error. Resets w. */
char *jw_finish(struct jw *w, size_t *len);
/* Appends the JSON string literal of s[0..n) (with quotes) to b. */
int json_quote(struct buf *b, const char *s, size_t n);

/* ---- http.c: libcurl, one setup, retries, parallel requests ---------------------- */

struct http_resp;
struct http_req {
	const char *method; /* "GET" when NULL */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;           /* sent as is; body_len bytes */
	size_t body_len;
	const char *ca_pem;  /* trust exactly these certificates (pinning), or NULL */
	const char *resolve; /* "host:port:address" (curl's RESOLVE), or NULL */
	long timeout_ms;     /* whole request; 0 = 60 s; -1 = none (streams) */
	int tries;           /* 0 = default (6); 1 = no retry */
	size_t max_body;     /* response cap; 0 = 16 MiB */
	const char *redact;  /* a secret that must never be printed (e.g. a token) */
	/* Streaming: when set, body bytes go here instead of into resp.body; a non-zero
	 * return aborts the transfer. */
	int (*on_data)(void *arg, const char *p, size_t n);
	/* Each line of the response's head as it arrives (the status line first, CRLF
	 * kept, the blank line last), before its body, with the same arg; a non-zero
	 * return aborts the transfer. NULL: not wanted. */
	int (*on_head)(void *arg, const char *line, size_t n);
	void *arg;
	/* After an answer >= 400: adds what the server said in its protocol's error shape
	 * to resp->err (with http_err_append), or NULL. */
	void (*explain)(struct http_resp *resp);
};

struct http_resp {
	long status;           /* 0 when no response arrived */
	int sent;              /* a try was started: the server may have acted on the
				* request even when status is 0 */
	struct buf body;       /* the response body, NUL-terminated */
	long long retry_after; /* seconds from Retry-After, or -1 */
	char err[256];         /* why it failed: "METHOD url: HTTP 404" and what the
				* request's explain added, or the transport error */
};

/* Process-wide curl setup; call once from main before threads. */
int http_init(void);
void http_cleanup(void);
/* Another thread may make requests too (its own connections, from its first request);
 * it calls http_thread_end before it ends. */
void http_thread_end(void);
/* Performs req, retrying 429, 5xx and connection errors with exponential backoff and
 * jitter, honouring Retry-After, bounded in tries and time; no sleep after the last
 * try. Returns 0 when a response arrived (any status: check resp->status), -1 when
 * none did (resp->err says why). Free resp with http_resp_free. */
int http_do(const struct http_req *req, struct http_resp *resp);
/* How fast a server lets a caller's fan-outs go: at most limit in flight (0 = no
 * limit) and no start before hold_ms (now_ms clock), from its last 429. Zero it once;
 * each fan-out reads and updates it. */
struct http_throttle {
	int limit;
	long long hold_ms;
};
/* Runs n requests with at most parallel in flight (libcurl multi), each with the
 * retries of http_do, paced by throttling (carry: the caller's state across fan-outs,
 * or NULL). Returns the number that got no response at all. */
int http_do_many(const struct http_req *reqs, struct http_resp *resps, int n, int parallel,
		 struct http_throttle *carry);
void http_resp_free(struct http_resp *resp);
/* "Authorization: Bearer TOKEN" into out; -1 when it does not fit. */
int http_bearer(char *out, size_t n, const char *token);
/* For a request's explain: appends the code and the first line of the message found
 * at these JSON paths of the body (when it is JSON) to resp->err. */
void http_explain_json(struct http_resp *resp, const char *code_path, const char *msg_path);
/* The same for the {"error":{"code","message"}} shape of ARM and the job API. */
void http_explain_error(struct http_resp *resp);
/* Appends " code: msg" (either may be empty) to resp->err, truncating quietly; control
 * characters (a server's line breaks) become spaces. */
void http_err_append(struct http_resp *resp, const char *code, const char *msg);
/* Set to make every waiting request give up at its next chance (Ctrl-C). */
extern volatile sig_atomic_t http_stop;
/* For signal handlers (async-signal-safe): sets http_stop, or, between
 * http_hold_begin and http_hold_end, only after the end: clean-up (deleting what a run
 * created) must reach the backend whatever signals arrive meanwhile. Holds nest.
 * Returns how many signals this hold has deferred (0 when none is on). */
int http_interrupt(void);
void http_hold_begin(void);
void http_hold_end(void);

/* ---- auth.c, azcli.c, jwt.c: Entra ID tokens ---------------------------------------- */

/* One Azure cloud (auth.c's table): where Entra ID and ARM are, the audience of ARM's
 * tokens, and the DNS suffix of ACI's public names (LABEL.REGION.aci_dns). */
struct cloud {
	const char *name;     /* AzurePublicCloud, AzureUSGovernment, AzureChinaCloud */
	const char *az_name;  /* what `az cloud set` records in the CLI's config */
	const char *login;    /* Entra ID's authority host */
	const char *arm;      /* ARM's endpoint (no trailing slash) */
	const char *resource; /* ARM's token audience; + ".default" is the v2.0 scope */
	const char *aci_dns;  /* ACI's public DNS suffix */
};
/* The cloud named (its name or the az CLI's, any case), or NULL. */
const struct cloud *cloud_find(const char *name);
/* "AzurePublicCloud, AzureUSGovernment, AzureChinaCloud": for messages. */
#define CLOUD_NAMES "AzurePublicCloud, AzureUSGovernment, AzureChinaCloud"

/* Where credentials came from and the current token. Zero-initialise; free with
 * auth_free. */
struct auth {
	char *tenant, *client_id, *secret; /* owned; tenant and client may come from the token */
	char *user;                        /* owned: the signed-in user (az login), or NULL */
	char *subscription;                /* owned: the credential's default (az), or NULL */
	char *authority, *imds;            /* login and managed-identity endpoints, owned */
	char *scope, *resource;            /* ARM's, as v2.0 scope and as v1 resource, owned */
	char *token;                       /* owned; never printed */
	long long expires_ms;              /* now_ms() clock */
	int kind;                          /* AUTH_* */
	int then_cli;                      /* managed identity absent: try the Azure CLI */
	char *token_file;                  /* workload: AZURE_FEDERATED_TOKEN_FILE, or NULL
					    * for GitHub Actions' OIDC endpoint; owned */
	char *assertion;                   /* during a token request only; owned */
	struct auth_cert *cert;            /* certificate: cert.c's, owned */
	int cert_ex;                       /* why cert_load failed (exit code) */
	const struct cloud *cloud;         /* the table's, never NULL after auth_init */
	int cloud_fixed;                   /* --cloud or AZURE_CLOUD chose it (not az's) */
};
/* The credentials, in DefaultAzureCredential's order; LEGION_CREDENTIAL spells them as
 * auth_kind_name does: secret, certificate, workload, msi, cli. */
enum { AUTH_NONE, AUTH_SECRET, AUTH_CERT, AUTH_WORKLOAD, AUTH_MSI, AUTH_CLI };
const char *auth_kind_name(int kind);
/* Picks the credential from the environment: LEGION_CREDENTIAL's, else the first
 * configured of AZURE_CLIENT_ID/SECRET/TENANT_ID (or the seed's APP_ID/PASSWORD/
 * TENANT_ID), a certificate, a workload identity, else managed identity and then the
 * Azure CLI (decided by the first auth_token). The cloud: cloud (--cloud's name, checked
 * by the caller with cloud_find), else AZURE_CLOUD, else the Azure CLI's active cloud
 * when az is the credential, else Azure's public cloud; AZURE_AUTHORITY_HOST still
 * overrides its login host. Returns 0, or -1 with *exit_code = EXIT_CONFIG when a
 * credential is half set, LEGION_CREDENTIAL or the cloud is unknown. */
int auth_init(struct auth *a, const char *cloud, int *exit_code);
/* A valid token (cached; refreshed when within 5 minutes of expiry). Not owned: valid
 * until the next auth_* call. NULL on failure with *exit_code set (EXIT_NOPERM when the
 * credential was refused, EXIT_CONFIG when there is none, EXIT_UNAVAIL / EXIT_TEMPFAIL
 * otherwise). Fills tenant, client_id and user from the token where they were unknown. */
const char *auth_token(struct auth *a, int *exit_code);
void auth_free(struct auth *a);
/* A token endpoint's (or IMDS's) answer: 0 with *token (owned, secret) and *life
 * (seconds, > 0) from access_token and expires_in; -1 when either is missing or bad. */
int auth_parse_token(const char *body, size_t n, char **token, long long *life);
/* Entra ID's error shape ({"error","error_description"}) into resp->err (an http_req
 * explain). */
void entra_explain(struct http_resp *resp);

/* azcli.c: runs `az account get-access-token --resource a->resource [--tenant T]`
 * (execve, argument list, environment inherited, 60 s at most) and puts its token,
 * expiry, tenant and subscription into a. 0, or -1 with a message and *exit_code
 * (EXIT_CONFIG: no az, or not logged in; EXIT_UNAVAIL: it failed or said nonsense). */
int azcli_token(struct auth *a, int *exit_code);
/* The Azure CLI's active cloud as az records it (AZURE_CLOUD_NAME, else [cloud] name in
 * $AZURE_CONFIG_DIR/config or ~/.azure/config) into name, and the file into where: 1,
 * or 0 when az records none (its default, the public cloud). */
int azcli_cloud(char *name, size_t n, char *where, size_t wn);

/* cert.c: the certificate and RSA key (PKCS#1 or PKCS#8) in the PEM file at path,
 * checked to match each other and to be valid now. Owned (cert_free); NULL with a
 * message and *exit_code (EXIT_CONFIG; EXIT_NOPERM when expired or not yet valid). */
struct auth_cert;
struct auth_cert *cert_load(const char *path, int *exit_code);
/* A client assertion for aud (the token endpoint): RS256, x5t, iss = sub = client_id,
 * a random jti, valid 10 minutes. Owned; NULL when signing failed. */
char *cert_assertion(const struct auth_cert *c, const char *client_id, const char *aud);
void cert_free(struct auth_cert *c);

/* jwt.c: base64url (no padding) of data appended to out. */
int b64url_encode(const void *data, size_t n, struct buf *out);
/* The decoded claims (payload JSON) of a JWT appended to json; -1 when not a JWT. */
int jwt_claims(const char *jwt, struct buf *json);
/* The first of the NULL-terminated claim names that is a string claim of jwt, owned;
 * NULL when none is (or jwt is not a JWT). The signature is not checked. */
char *jwt_claim(const char *jwt, const char *const *names);

/* ---- backends: container groups ---------------------------------------------------- */

struct env_var {
	char *name, *value; /* owned */
	int secure;         /* ACI secureValue: never returned, never logged */
};
struct tag {
	char *name, *value; /* owned */
};

/* What a group is doing, as ACI reports it; local maps its processes onto these. */
enum group_state {
	GS_UNKNOWN, /* not observed (yet) */
	GS_PENDING,
	GS_RUNNING,
	GS_SUCCEEDED,
	GS_FAILED,
	GS_STOPPED,
};
/* "Pending", "Running", ... ("-" for GS_UNKNOWN); and back (GS_UNKNOWN when unknown). */
const char *group_state_name(enum group_state s);
enum group_state group_state_parse(const char *s);
/* 1 while a group is provisioning or running. */
int group_alive(enum group_state s);

/* A container group, the backend-neutral shape (ACI's word). One container each. */
struct group {
	char *name;  /* owned; unique within the cluster's scope */
	char *image; /* owned */
	char **argv; /* owned, NULL-terminated command */
	struct env_var *env;
	int nenv;
	double cpu;
	long long memory_mb;
	int ports[8];
	int nports;
	struct tag *tags;
	int ntags;
	char *dns_label; /* owned or NULL */
	/* observed, filled by get/list */
	enum group_state state;
	char *ip, *fqdn; /* owned or NULL */
	int exit_code;   /* -1 while running or unknown */
	long long created;
};
void group_free(struct group *g);
void groups_free(struct group *g, int n);
/* Adds an owned copy; -1 when out of memory. */
int group_setenv(struct group *g, const char *name, const char *value, int secure);
int group_settag(struct group *g, const char *name, const char *value);
/* The tag's value, or NULL. */
const char *group_tag(const struct group *g, const char *name);
/* Adds every string member of the JSON object at token obj as a tag (ACI's "tags",
 * local's spec.json); -1 when out of memory. */
int group_tags_json(struct group *g, const struct json *j, int obj);

/* What a backend needs from the command line, and nothing else. */
struct backend_cfg {
	const char *location;                      /* region, or NULL: the backend's default */
	const char *resource_group, *subscription; /* aci */
	const char *cloud; /* aci: --cloud (checked), or NULL: AZURE_CLOUD, az's, public */
	/* aci: every group on this subnet (a Microsoft.Network subnet resource id: private
	 * addresses only, no DNS label), and pulling through this user-assigned identity
	 * (a Microsoft.ManagedIdentity resource id); NULL for neither. Registry passwords
	 * are the backend's to read (LEGION_REGISTRY_USERNAME / _PASSWORD). */
	const char *subnet, *identity;
	int parallel;   /* requests at once; 0 = the backend's default */
	int all;        /* list: the whole subscription, not one resource group (aci) */
	int rg_cleanup; /* remove: also an empty resource group Legion made (aci) */
	/* fargate: NULL for the LEGION_AWS_* variables */
	const char *subnets, *security_groups, *execution_role;
	int keep_logs; /* the log group outlives the cluster */
};

/* One backend: a plugin behind this interface (a function table; its state is in
 * struct backend). Each call returns 0 or -1 with a message printed and *ex set to
 * the exit code main should use. */
struct backend;
struct backend_ops {
	const char *name;
	int (*open)(struct backend *be, const struct backend_cfg *cfg, int *ex);
	/* Creates all n groups (in parallel where it can) and waits until each is
	 * provisioned (running or ended). On failure, groups it created are deleted. */
	int (*create)(struct backend *be, struct group *gs, int n, int *ex);
	/* Optional: the name peers will reach g by, known before g is created (ACI's
	 * public DNS name) into out; -1 when only its creation tells (--subnet's private
	 * addresses). NULL for backends whose addresses come with creation. */
	int (*peer_name)(struct backend *be, const struct group *g, char *out, size_t n);
	/* Fills *g (observed fields too). BACKEND_FOUND, BACKEND_GONE when the backend
	 * said it does not exist, BACKEND_FAILED when it could not tell (after retries). */
	int (*get)(struct backend *be, const char *name, struct group *g, int *ex);
	/* Every Legion group (tag legion-cluster present), or only cluster's. Owned array. */
	int (*list)(struct backend *be, const char *cluster, struct group **gs, int *n, int *ex);
	/* Deletes groups by name, in parallel; a missing one counts as deleted. */
	int (*remove)(struct backend *be, char *const *names, int n, int *ex);
	/* Optional: the cores and memory (MB) the platform can hold for one cluster
	 * (local: this machine's); NULL when the platform has its own limits. */
	void (*capacity)(struct backend *be, double *cpus, long long *mem_mb);
	/* The last tail lines (0 = all) of a group's output into out. */
	int (*logs)(struct backend *be, const char *name, int tail, struct buf *out, int *ex);
	void (*close)(struct backend *be);
};
enum { BACKEND_FAILED = -1, BACKEND_FOUND = 0, BACKEND_GONE = 1 };
struct backend {
	const struct backend_ops *ops;
	void *ctx; /* the backend's own state, from open to close */
};
#define ACI_DEFAULT_LOCATION "westus" /* aci without --location */
extern const struct backend_ops backend_local, backend_aci, backend_fargate;
/* The backend called name, or NULL; names into out ("local, aci, fargate") for messages. */
const struct backend_ops *backend_find(const char *name);
void backend_names(char *out, size_t n);
/* remove, saying so on stderr, with http_hold set: signals meanwhile do not cancel it.
 * -1 when something may be left (the backend said what). */
int backend_delete(struct backend *be, char *const *names, int n);

/* ---- cluster.c: a cluster's credentials and its master's job API (pinned TLS) ------- */

#define JOB_API_PORT 7090
/* The job API's version: GET /v1/health answers {"ok":true,"version":LEGION_VERSION,
 * "api":JOB_API_VERSION}; the CLI warns when a master speaks another. */
#define JOB_API_VERSION 1

/* What the CLI knows of a cluster: where its job API is and the secrets to use it. */
struct cluster {
	char id[32];        /* legion-<8 hex> */
	char backend[16];   /* local | aci */
	char tls_name[128]; /* the name in the master's certificate */
	char ip[64];        /* where the job API listens */
	char host[256];     /* the name workers use for the master: its public FQDN when
			     * that resolves (ACI), else ip */
	char *token;        /* owned, secret: the job API's bearer token */
	char *spark_secret; /* owned, secret */
	char *cert_pem;     /* owned: the only certificate trusted for the job API */
	char *key_pem;      /* owned, secret: only while creating the master */
};
/* A new cluster: fresh id, token, Spark secret and TLS identity. */
int cluster_new(struct cluster *m, const char *backend);
/* Saves / loads / forgets $LEGION_HOME/clusters/ID.json (0600; key_pem not kept). */
int cluster_save(const struct cluster *m);
/* 0, 1 when there is no such file, -1 when unreadable. */
int cluster_load(const char *cluster, struct cluster *m);
void cluster_forget(const char *cluster);
void cluster_free(struct cluster *m);
/* A job API request: method and path ("/v1/status"), an optional JSON body; the
 * response into *r (free with http_resp_free). tries 0 = default. Returns http_do's. */
int cluster_call(const struct cluster *m, const char *method, const char *path, const char *body,
		 size_t n, int tries, long timeout_ms, struct http_resp *r);
/* A job API request (GET or HEAD of path) with the caller's hooks and limits in *q
 * (method, timeout_ms, tries, max_body, on_head, on_data, arg); the URL, the token, the
 * pinned certificate and the address are filled in here. Returns http_do's. */
int cluster_stream(const struct cluster *m, const char *path, struct http_req *q,
		   struct http_resp *r);
/* Where a followed job's lines go: line(arg, err, text) for each (err: its stderr). */
struct job_sink {
	void (*line)(void *arg, int err, const char *text);
	void *arg;
};
/* Streams a job's log until the job ends: each line to sink, or (sink NULL) stdout
 * lines to stdout and stderr lines to stderr. Fills state (e.g. "SUCCEEDED") and
 * *exit_code. Returns 0, -1 on failure. */
int cluster_follow(const struct cluster *m, const char *id, const struct job_sink *sink,
		   char *state, size_t n, int *exit_code);

/* ---- tls.c: the job daemon's TLS server and certificates ------------------------- */

/* tls.c: an EC P-256 key and a self-signed X.509 v3 certificate for dns_names (a
 * NULL-terminated list; CN = the first, one subjectAltName dNSName each; valid from an
 * hour ago for a year; cA FALSE; keyUsage digitalSignature). *cert_pem ("BEGIN
 * CERTIFICATE") and *key_pem ("BEGIN EC PRIVATE KEY", SEC1) are owned. */
int tls_identity(const char *const *dns_names, char **cert_pem, char **key_pem);

/* tls.c: a TLS 1.2 server (BearSSL) for the job daemon. tls_server_new loads a PEM
 * certificate chain and its EC private key (SEC1 or PKCS#8) and checks they match;
 * returns owned (free with tls_server_free), NULL on failure. It must outlive its
 * connections. */
struct tls_server;
struct tls_server *tls_server_new(const char *cert_pem, const char *key_pem);
void tls_server_free(struct tls_server *s);
/* One connection over the connected socket fd (owned from here on: tls_close closes
 * it). Every wait for the socket gives up after timeout_ms. NULL when out of memory. */
struct tls_conn;
struct tls_conn *tls_accept(struct tls_server *s, int fd, long timeout_ms);
void tls_set_timeout(struct tls_conn *c, long timeout_ms);
/* Up to n decrypted bytes (the handshake runs on the first call); 0 at the peer's
 * close_notify, -1 on error, timeout or a peer that just went away. */
ssize_t tls_read(struct tls_conn *c, void *p, size_t n);
/* Queues all n bytes (sending full records as they fill); tls_flush sends the rest. */
int tls_write(struct tls_conn *c, const void *p, size_t n);
int tls_flush(struct tls_conn *c);
/* BearSSL's error code for the connection (0 = none), for messages. */
int tls_error(const struct tls_conn *c);
/* Sends close_notify, drains what the client still sends (bounded), closes the
 * socket and frees c. */
void tls_close(struct tls_conn *c);

/* ---- proc.c: process groups, PATH search, recursive delete -------------------------- */

/* Starts argv[0] (a path) with env in its own process group, in cwd (NULL: here), with
 * fds[0..2] as stdin, stdout, stderr (-1: /dev/null; fds NULL: this process's own) and every other
 * descriptor closed. Signal handlers and the signal mask are reset in the child.
 * Everything the child needs is ready before fork: after it, only async-signal-safe
 * calls; when exec fails the child says "unable to run WHAT" and exits 127 (not found)
 * or 126. Returns the pid (= its process group), or -1 with a message. */
pid_t proc_spawn(char *const argv[], char *const env[], const char *cwd, const int fds[3],
		 const char *what);
/* Sends sig to pid's process group, waits up to grace_ms for pid (saying what did
 * not stop), then SIGKILLs the group; reaps pid and returns its wait status. */
int proc_stop_group(pid_t pid, int sig, long grace_ms, const char *what);
/* prog's path: itself when it contains '/', else the first executable match in the
 * colon-separated list path (NULL: $PATH, else /usr/local/bin:/usr/bin:/bin), into out.
 * -1 (errno ENOENT) when not found. */
int proc_which(const char *prog, const char *path, char *out, size_t n);
/* Removes everything inside dir (recursively, symbolic links not followed) but the
 * entry named keep (NULL: none); dir itself stays. */
void proc_rm_tree(const char *dir, const char *keep);
/* The exit code after signal sig, as a shell shows it (SIGTERM: 143). */
#define EXIT_SIGNALED(sig) (128 + (sig))

#endif
