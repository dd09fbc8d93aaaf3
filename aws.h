/*
 * aws.h: what the fargate backend's files share: sigv4.c (request signing), awsauth.c
 * (credentials, region, endpoints, requests and AWS's error shapes) and fargate.c (ECS
 * tasks). legion.c includes it for `legion auth --backend fargate`; nothing else does.
 */
#ifndef LEGION_AWS_H
#define LEGION_AWS_H

#include "legion.h"

#include <time.h>

/* ---- sigv4.c: AWS Signature Version 4 ------------------------------------------------ */

/* SHA-256 of data as 64 lowercase hex digits (+ NUL) into hex. */
void sha256_hex(const void *data, size_t n, char hex[65]);

/* What a signature needs besides the request. */
struct sigv4_key {
	const char *access_key, *secret_key; /* the secret is never copied */
	const char *session_token;           /* NULL unless temporary credentials */
	const char *region, *service;        /* "us-east-1", "ecs" */
};

/* The headers a signed request adds, each a whole "Name: value" line: x-amz-date,
 * x-amz-security-token (session credentials only; owned) and Authorization. hdrs is
 * the request's whole NULL-terminated header list: the caller's lines, then these
 * (room for 16 of the caller's). Free with sigv4_free. */
struct sigv4_signed {
	char date[40];
	char host[300];
	char *token;
	char authz[600];
	const char *hdrs[24];
	char *canonical, *string_to_sign; /* owned: the signature's parts, for t/sigv4_test */
};
/* Signs method url with the caller's headers (NULL-terminated "Name: value" lines, at
 * most 16; every one is signed, with host and x-amz-date, which it adds; the Host line
 * it adds is what curl would send) and body[0..n) at when (time(NULL) normally; a
 * fixed time for tests). The query in url must already be in URI-encoded form. -1
 * when the URL or a header does not parse or does not fit. */
int sigv4_sign(const struct sigv4_key *k, const char *method, const char *url,
	       const char *const *headers, const void *body, size_t n, time_t when,
	       struct sigv4_signed *out);
void sigv4_free(struct sigv4_signed *s);

/* ---- awsauth.c: credentials, region, endpoints, requests ------------------------------ */

enum aws_source {
	AWS_SRC_NONE,
	AWS_SRC_ENV,          /* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY */
	AWS_SRC_WEB_IDENTITY, /* AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, via STS */
	AWS_SRC_FILE,         /* ~/.aws/credentials or ~/.aws/config, a profile */
	AWS_SRC_CONTAINER,    /* the ECS container credentials endpoint */
};
/* "env", "web-identity", "shared-file", "container" ("none"). */
const char *aws_source_name(enum aws_source s);

/* Credentials and where they came from. Zero-initialise; free with aws_free. */
struct aws {
	char *access_key, *secret_key, *session_token; /* owned; the secrets never printed */
	long long expires;                             /* unix time; 0 = does not expire */
	enum aws_source source;
	char profile[128]; /* the profile used (AWS_SRC_FILE) */
	char file[1024];   /* the file it came from (AWS_SRC_FILE) */
	char region[64];
	char role_arn[256]; /* AWS_SRC_WEB_IDENTITY */
	struct http_throttle throttle;
	int parallel;
};
/* Finds credentials (environment, web identity, shared files, container endpoint: the
 * first that has them) and the region (location, else AWS_REGION, AWS_DEFAULT_REGION,
 * the profile's region). -1 with *ex = EXIT_CONFIG when none are set or no region,
 * EXIT_NOPERM when STS or the endpoint refused, EXIT_USAGE for a bad region. */
int aws_init(struct aws *a, const char *location, int *ex);
void aws_free(struct aws *a);
/* The endpoint of service (its SDK id for AWS_ENDPOINT_URL_<ID>, e.g. "ECS",
 * "SECRETS_MANAGER"; host: its host prefix, "ecs") into out, without a trailing '/':
 * AWS_ENDPOINT_URL_<ID>, else AWS_ENDPOINT_URL, else https://HOST.REGION.amazonaws.com. */
void aws_endpoint(const struct aws *a, const char *id, const char *host, char *out, size_t n);

/* One call of an AWS JSON 1.1 API (ECS, Secrets Manager, CloudWatch Logs). */
struct aws_call {
	const char *id, *host, *service; /* as aws_endpoint; service: the signing name */
	const char *target;              /* X-Amz-Target, e.g. "...V20141113.RunTask" */
	char *body;                      /* the JSON document, owned by the caller */
	const char *redact;              /* a secret in the body, never printed */
};
/* Runs n calls, a->parallel at once, signed, with http.c's retries for 5xx and a
 * bounded backoff of its own for ThrottlingException (AWS answers 400 for those).
 * Returns 0 when every call got an answer (check each status), else -1 with a
 * message and *ex set. */
int aws_json_many(struct aws *a, const struct aws_call *c, struct http_resp *r, int n, int *ex);
/* One call; 0 when it answered 200 and 1 when it was refused with AWS error code
 * ok_code (non-NULL: a refusal that means "nothing there"); r holds the answer then
 * (free with http_resp_free). Else -1 after a message "what: why" and *ex set (r freed). */
int aws_json(struct aws *a, const struct aws_call *c, struct http_resp *r, const char *what,
	     const char *ok_code, int *ex);
/* AWS's error type ("ThrottlingException", from __type without its namespace) into
 * code ("" when none). */
void aws_code(const struct http_resp *r, char *code, size_t n);
/* "HTTP 400 Code: message" from AWS's error shape, else the transport error. */
const char *aws_why(const struct http_resp *r, char *out, size_t n);
/* An answer as an exit code: throttled or down 75, refused 77, a limit 69, invalid 65. */
int aws_exit(const struct http_resp *r);
/* One signed call of a query-protocol API (STS, EC2): body is the form; 0 when it
 * answered 200 (r holds the XML; free with http_resp_free), else -1 after a message
 * "what: why" and *ex set. */
int aws_query(struct aws *a, const char *id, const char *host, const char *service,
	      const char *body, const char *what, struct http_resp *r, int *ex);
/* STS GetCallerIdentity: the account, ARN and user id (owned) of the credentials. */
int aws_whoami(struct aws *a, char **account, char **arn, char **user, int *ex);
/* The text of the first <tag>...</tag> in an XML answer, entities decoded; owned or
 * NULL. */
char *aws_xml(const char *xml, const char *tag);

/* ---- ecs.c and fargate.c: the fargate backend ---------------------------------------- */

#define ECS_CONTAINER "spark" /* one container per task, always this name */

/* The backend's state between open and close. */
struct fargate {
	struct aws aws;
	char cluster[256];  /* the ECS cluster (LEGION_ECS_CLUSTER, default legion) */
	char subnets[1024]; /* comma-separated (LEGION_AWS_SUBNETS) */
	char sgs[1024];     /* comma-separated (LEGION_AWS_SECURITY_GROUPS) */
	char role[512];     /* the task execution role's ARN (LEGION_AWS_EXECUTION_ROLE) */
	int public_ip;      /* assignPublicIp ENABLED (LEGION_AWS_PUBLIC_IP, default 1) */
	int keep_logs;      /* the log group outlives the cluster (LEGION_AWS_KEEP_LOGS) */
	long long provision_ms;
};
/* Calls of ECS, Secrets Manager and CloudWatch Logs: op is the action ("RunTask"); the
 * body is owned by the caller. aws_json's contract. */
int ecs_call(struct fargate *f, const char *op, char *body, struct http_resp *r, int *ex);
int sm_call(struct fargate *f, const char *op, char *body, const char *redact, struct http_resp *r,
	    int *ex);
int logs_call(struct fargate *f, const char *op, char *body, struct http_resp *r, int *ex);
/* The call struct ecs_call uses, for fan-outs with aws_json_many. */
void ecs_prepare(struct aws_call *c, const char *op, char *body, char target[128]);
/* Fargate's CPU and memory for a group asking cores and mb: the smallest allowed pair
 * that holds both (with say, a note on stderr when the CPU had to grow); -1 with a
 * message when none does. */
int fargate_size(double cores, long long mb, int say, int *cpu_units, long long *mem_mb);
/* What a cluster shares: its ECS cluster (made when missing), its log group
 * /legion/<cluster>, and a Secrets Manager secret legion/<cluster> holding the secure
 * environment of gs (a JSON object), whose ARN goes into arn. */
int ecs_ensure_cluster(struct fargate *f, int *ex);
int ecs_log_group(struct fargate *f, const char *cluster, int *ex);
int ecs_secret(struct fargate *f, const char *cluster, const struct group *gs, int n, char *arn,
	       size_t an, int *ex);
/* Registers the task definition for group g (family <cluster>-<role>; secrets only as
 * valueFrom of secret_arn) and puts its ARN into arn. */
int ecs_task_definition(struct fargate *f, const char *cluster, const struct group *g,
			const char *secret_arn, char *arn, size_t an, int *ex);
/* Deletes what a cluster shares: its secret, its log group (unless keep_logs) and its
 * task definitions. Says what could not be deleted; -1 then. */
int ecs_drop_cluster(struct fargate *f, const char *cluster);

/* legion.c's `legion auth --backend fargate`: prints the JSON, returns the exit code. */
int fargate_auth(const char *location);

#endif
