/*
 * ecs.c: what a Fargate cluster shares beyond its tasks: the ECS cluster, Fargate's
 * CPU and memory sizes, task definitions (secrets only as Secrets Manager valueFrom),
 * the cluster's secret and its CloudWatch log group, and deleting them. Leaves out the
 * tasks themselves (fargate.c) and signing (sigv4.c, awsauth.c).
 */
#include "aws.h"

#include <stdlib.h>
#include <string.h>

#define ECS_TARGET "AmazonEC2ContainerServiceV20141113."
#define SM_TARGET "secretsmanager."
#define LOGS_TARGET "Logs_20140328."

void ecs_prepare(struct aws_call *c, const char *op, char *body, char target[128])
{
	snprintf(target, 128, ECS_TARGET "%s", op);
	memset(c, 0, sizeof *c);
	c->id = "ECS";
	c->host = "ecs";
	c->service = "ecs";
	c->target = target;
	c->body = body;
}

int ecs_call(struct fargate *f, const char *op, char *body, struct http_resp *r, int *ex)
{
	struct aws_call c;
	char target[128], what[160];
	ecs_prepare(&c, op, body, target);
	snprintf(what, sizeof what, "ECS %s", op);
	return aws_json(&f->aws, &c, r, what, NULL, ex);
}

int sm_call(struct fargate *f, const char *op, char *body, const char *redact, struct http_resp *r,
	    int *ex)
{
	char target[128], what[160];
	snprintf(target, sizeof target, SM_TARGET "%s", op);
	snprintf(what, sizeof what, "Secrets Manager %s", op);
	struct aws_call c = {
		"SECRETS_MANAGER", "secretsmanager", "secretsmanager", target, body, redact};
	return aws_json(&f->aws, &c, r, what, NULL, ex);
}

int logs_call(struct fargate *f, const char *op, char *body, struct http_resp *r, int *ex)
{
	char target[128], what[160];
	snprintf(target, sizeof target, LOGS_TARGET "%s", op);
	snprintf(what, sizeof what, "CloudWatch Logs %s", op);
	struct aws_call c = {"CLOUDWATCH_LOGS", "logs", "logs", target, body, NULL};
	return aws_json(&f->aws, &c, r, what, NULL, ex);
}

/* Fargate's task sizes (AWS ECS developer guide, "Task CPU and memory"): per CPU, the
 * memory range in MiB and its step. */
static const struct {
	int cpu;
	long long lo, hi, step;
} sizes[] = {
	{256, 512, 2048, 512},        {512, 1024, 4096, 1024},   {1024, 2048, 8192, 1024},
	{2048, 4096, 16384, 1024},    {4096, 8192, 30720, 1024}, {8192, 16384, 61440, 4096},
	{16384, 32768, 122880, 8192},
};

int fargate_size(double cores, long long mb, int say, int *cpu_units, long long *mem_mb)
{
	int want = (int)(cores * 1024 + 0.5);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		if (sizes[i].cpu < want || mb > sizes[i].hi)
			continue;
		long long m = mb < sizes[i].lo ? sizes[i].lo : mb;
		m = (m + sizes[i].step - 1) / sizes[i].step * sizes[i].step;
		if (m == 768) /* 0.25 vCPU takes 512, 1024 or 2048 MiB */
			m = 1024;
		if (m == 1536)
			m = 2048;
		if (say && sizes[i].cpu != want)
			fprintf(stderr,
				"%s: %g vCPU with %lld MiB is not a Fargate size: using %g vCPU "
				"and %lld MiB\n",
				progname, cores, mb, sizes[i].cpu / 1024.0, m);
		*cpu_units = sizes[i].cpu;
		*mem_mb = m;
		return 0;
	}
	warnx_("%g vCPU with %lld MiB is larger than any Fargate task (16 vCPU, 120 GiB)", cores,
	       mb);
	return -1;
}

int ecs_ensure_cluster(struct fargate *f, int *ex)
{
	struct http_resp r;
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "clusterName", f->cluster);
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	int rc = body ? ecs_call(f, "CreateCluster", body, &r, ex) : -1;
	if (rc == 0)
		http_resp_free(&r);
	free(body);
	return rc;
}

/* Runs one call where a refusal with code ok_code counts as done; 0, 1 for ok_code. */
static int call_ok(struct fargate *f, int which, const char *op, char *body, const char *redact,
		   const char *ok_code, struct http_resp *r, int *ex)
{
	char target[128];
	struct aws_call c = {0};
	if (which == 0)
		ecs_prepare(&c, op, body, target);
	else {
		snprintf(target, sizeof target, "%s%s", which == 1 ? SM_TARGET : LOGS_TARGET, op);
		c = (struct aws_call){which == 1 ? "SECRETS_MANAGER" : "CLOUDWATCH_LOGS",
				      which == 1 ? "secretsmanager" : "logs",
				      which == 1 ? "secretsmanager" : "logs",
				      target,
				      body,
				      redact};
	}
	return aws_json(&f->aws, &c, r, op, ok_code, ex);
}

int ecs_log_group(struct fargate *f, const char *cluster, int *ex)
{
	struct http_resp r;
	struct jw w = {0};
	char group[128];
	snprintf(group, sizeof group, "/legion/%s", cluster);
	jw_obj(&w, NULL);
	jw_str(&w, "logGroupName", group);
	jw_obj(&w, "tags");
	jw_str(&w, "legion-cluster", cluster);
	jw_end(&w);
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	int rc = body ? call_ok(f, 2, "CreateLogGroup", body, NULL,
				"ResourceAlreadyExistsException", &r, ex)
		      : -1;
	if (rc >= 0)
		http_resp_free(&r);
	free(body);
	return rc < 0 ? -1 : 0;
}

/* The ARN of secret name (DescribeSecret) into arn. */
static int secret_arn(struct fargate *f, const char *name, char *arn, size_t an, int *ex)
{
	struct http_resp r;
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "SecretId", name);
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	int rc = body ? sm_call(f, "DescribeSecret", body, NULL, &r, ex) : -1;
	if (rc == 0) {
		struct json j = {0};
		if (json_parse(&j, r.body.p, r.body.len, NULL) != 0 ||
		    json_strcpy(&j, json_get(&j, 0, "ARN"), arn, an) < 0) {
			warnx_("Secrets Manager DescribeSecret: no ARN in the answer");
			*ex = EXIT_UNAVAIL;
			rc = -1;
		}
		json_free(&j);
		http_resp_free(&r);
	}
	free(body);
	return rc;
}

int ecs_secret(struct fargate *f, const char *cluster, const struct group *gs, int n, char *arn,
	       size_t an, int *ex)
{
	struct jw v = {0}, w = {0};
	char name[128];
	int have = 0;
	arn[0] = '\0';
	snprintf(name, sizeof name, "legion/%s", cluster);
	jw_obj(&v, NULL);
	for (int i = 0; i < n; i++)
		for (int e = 0; e < gs[i].nenv; e++) {
			int dup = 0;
			for (int p = 0; p < i && !dup; p++)
				for (int q = 0; q < gs[p].nenv; q++)
					dup |= gs[p].env[q].secure &&
					       !strcmp(gs[p].env[q].name, gs[i].env[e].name);
			for (int q = 0; q < e; q++)
				dup |= gs[i].env[q].secure &&
				       !strcmp(gs[i].env[q].name, gs[i].env[e].name);
			if (gs[i].env[e].secure && !dup) {
				jw_str(&v, gs[i].env[e].name, gs[i].env[e].value);
				have = 1;
			}
		}
	jw_end(&v);
	char *value = jw_finish(&v, NULL);
	if (!value) {
		*ex = EXIT_SOFTWARE;
		return -1;
	}
	if (!have) {
		free(value);
		return 0;
	}
	jw_obj(&w, NULL);
	jw_str(&w, "Name", name);
	jw_str(&w, "Description", "Legion cluster secrets (deleted with the cluster)");
	jw_str(&w, "SecretString", value);
	jw_arr(&w, "Tags");
	jw_obj(&w, NULL);
	jw_str(&w, "Key", "legion-cluster");
	jw_str(&w, "Value", cluster);
	jw_end(&w);
	jw_end(&w);
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	struct http_resp r;
	int k = body ? call_ok(f, 1, "CreateSecret", body, value, "ResourceExistsException", &r, ex)
		     : -1,
	    rc = k < 0 ? -1 : 0;
	if (k >= 0) { /* made now, or already the cluster's (its master's start) */
		struct json j = {0};
		if (k == 1 || json_parse(&j, r.body.p, r.body.len, NULL) != 0 ||
		    json_strcpy(&j, json_get(&j, 0, "ARN"), arn, an) < 0)
			rc = secret_arn(f, name, arn, an, ex);
		json_free(&j);
		http_resp_free(&r);
	}
	memset(value, 0, strlen(value));
	if (body)
		memset(body, 0, strlen(body));
	free(value);
	free(body);
	return rc < 0 ? -1 : 0;
}

/* The container definition of g: image, command, ports, secrets by reference, logs. */
static void container_def(struct fargate *f, struct jw *w, const char *cluster,
			  const struct group *g, const char *secret_arn, long long mem)
{
	char group[128], ref[1024];
	snprintf(group, sizeof group, "/legion/%s", cluster);
	jw_obj(w, NULL);
	jw_str(w, "name", ECS_CONTAINER);
	jw_str(w, "image", g->image);
	jw_bool(w, "essential", 1);
	jw_int(w, "memory", mem); /* the whole task's: AWS does not need it, moto does */
	jw_arr(w, "command");
	for (char **p = g->argv; p && *p; p++)
		jw_str(w, NULL, *p);
	jw_end(w);
	jw_arr(w, "portMappings");
	for (int i = 0; i < g->nports; i++) {
		jw_obj(w, NULL);
		jw_int(w, "containerPort", g->ports[i]);
		jw_str(w, "protocol", "tcp");
		jw_end(w);
	}
	jw_end(w);
	jw_arr(w, "secrets");
	for (int i = 0; secret_arn && secret_arn[0] && i < g->nenv; i++) {
		if (!g->env[i].secure)
			continue;
		/* ARN:json-key:version-stage:version-id */
		snprintf(ref, sizeof ref, "%s:%s::", secret_arn, g->env[i].name);
		jw_obj(w, NULL);
		jw_str(w, "name", g->env[i].name);
		jw_str(w, "valueFrom", ref);
		jw_end(w);
	}
	jw_end(w);
	jw_obj(w, "logConfiguration");
	jw_str(w, "logDriver", "awslogs");
	jw_obj(w, "options");
	jw_str(w, "awslogs-group", group);
	jw_str(w, "awslogs-region", f->aws.region);
	jw_str(w, "awslogs-stream-prefix", "legion");
	jw_end(w);
	jw_end(w);
	jw_end(w);
}

int ecs_task_definition(struct fargate *f, const char *cluster, const struct group *g,
			const char *secret_arn, char *arn, size_t an, int *ex)
{
	int cpu;
	long long mem;
	char family[160], v[32];
	const char *role = group_tag(g, "legion-role");
	if (fargate_size(g->cpu, g->memory_mb, 1, &cpu, &mem) < 0) {
		*ex = EXIT_USAGE;
		return -1;
	}
	snprintf(family, sizeof family, "%s-%s", cluster, role ? role : "task");
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "family", family);
	jw_arr(&w, "requiresCompatibilities");
	jw_str(&w, NULL, "FARGATE");
	jw_end(&w);
	jw_str(&w, "networkMode", "awsvpc");
	snprintf(v, sizeof v, "%d", cpu);
	jw_str(&w, "cpu", v);
	snprintf(v, sizeof v, "%lld", mem);
	jw_str(&w, "memory", v);
	jw_str(&w, "executionRoleArn", f->role);
	jw_arr(&w, "containerDefinitions");
	container_def(f, &w, cluster, g, secret_arn, mem);
	jw_end(&w);
	jw_arr(&w, "tags");
	jw_obj(&w, NULL);
	jw_str(&w, "key", "legion-cluster");
	jw_str(&w, "value", cluster);
	jw_end(&w);
	jw_end(&w);
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	struct http_resp r;
	int rc = body ? ecs_call(f, "RegisterTaskDefinition", body, &r, ex) : -1;
	if (rc == 0) {
		struct json j = {0};
		if (json_parse(&j, r.body.p, r.body.len, NULL) != 0 ||
		    json_strcpy(&j, json_path(&j, 0, "taskDefinition.taskDefinitionArn"), arn, an) <
			    0) {
			warnx_("ECS RegisterTaskDefinition: no taskDefinitionArn in the answer");
			*ex = EXIT_UNAVAIL;
			rc = -1;
		}
		json_free(&j);
		http_resp_free(&r);
	}
	free(body);
	return rc;
}

/* Deregisters every revision of family (ListTaskDefinitions, then one call each). */
static int drop_family(struct fargate *f, const char *family)
{
	struct jw w = {0};
	struct http_resp r;
	int ex, rc = 0;
	jw_obj(&w, NULL);
	jw_str(&w, "familyPrefix", family);
	jw_str(&w, "status", "ACTIVE");
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	if (!body || ecs_call(f, "ListTaskDefinitions", body, &r, &ex) < 0) {
		free(body);
		return -1;
	}
	free(body);
	struct json j = {0};
	if (json_parse(&j, r.body.p, r.body.len, NULL) == 0) {
		int a = json_get(&j, 0, "taskDefinitionArns");
		for (int k = 0; a >= 0 && k < j.t[a].size; k++) {
			char *arn = json_str(&j, json_at(&j, a, k));
			const char *fam = arn ? strstr(arn, ":task-definition/") : NULL;
			size_t fl = strlen(family);
			/* a prefix: legion-1-master must not take legion-1-master2's */
			if (fam && !strncmp(fam + 17, family, fl) && fam[17 + fl] == ':') {
				struct http_resp d;
				jw_obj(&w, NULL);
				jw_str(&w, "taskDefinition", arn);
				jw_end(&w);
				char *b = jw_finish(&w, NULL);
				if (b && ecs_call(f, "DeregisterTaskDefinition", b, &d, &ex) == 0)
					http_resp_free(&d);
				else
					rc = -1;
				free(b);
			}
			free(arn);
		}
	}
	json_free(&j);
	http_resp_free(&r);
	return rc;
}

int ecs_drop_cluster(struct fargate *f, const char *cluster)
{
	struct http_resp r;
	struct jw w = {0};
	char name[128];
	int ex, rc = 0;
	snprintf(name, sizeof name, "legion/%s", cluster);
	jw_obj(&w, NULL);
	jw_str(&w, "SecretId", name);
	jw_bool(&w, "ForceDeleteWithoutRecovery", 1);
	jw_end(&w);
	char *body = jw_finish(&w, NULL);
	int k = body ? call_ok(f, 1, "DeleteSecret", body, NULL, "ResourceNotFoundException", &r,
			       &ex)
		     : -1;
	if (k >= 0)
		http_resp_free(&r);
	rc |= k < 0;
	free(body);
	if (!f->keep_logs) {
		snprintf(name, sizeof name, "/legion/%s", cluster);
		jw_obj(&w, NULL);
		jw_str(&w, "logGroupName", name);
		jw_end(&w);
		body = jw_finish(&w, NULL);
		k = body ? call_ok(f, 2, "DeleteLogGroup", body, NULL, "ResourceNotFoundException",
				   &r, &ex)
			 : -1;
		if (k >= 0)
			http_resp_free(&r);
		rc |= k < 0;
		free(body);
	}
	const char *roles[] = {"master", "worker"};
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof name, "%s-%s", cluster, roles[i]);
		rc |= drop_family(f, name) < 0;
	}
	if (rc)
		warnx_("some of cluster %s's secret, log group or task definitions may be left",
		       cluster);
	return rc ? -1 : 0;
}
