/*
 * legion.c: the command line: options, commands, the submit lifecycle and output
 * (JSON on stdout, messages on stderr) and the small commands. Leaves out the submit
 * lifecycle (submit.c), delete/gc/auth (manage.c), HTTP (http.c), tokens (auth.c), the job API client (cluster.c)
 * and where containers run (the backends).
 */
#include "cli.h"
#include "aws.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Every option of every command; `cmds` says which commands take it. */
enum {
	O_BACKEND = 256,
	O_NUM_EXECUTORS,
	O_EXECUTOR_CORES,
	O_EXECUTOR_MEMORY,
	O_DRIVER_CORES,
	O_DRIVER_MEMORY,
	O_LOCATION,
	O_RESOURCE_GROUP,
	O_MASTER,
	O_KEEP_ALIVE,
	O_PY_FILES,
	O_JARS,
	O_CLASS,
	O_NAME,
	O_IMAGE,
	O_IDLE_TIMEOUT,
	O_DETACH,
	O_FORCE,
	O_MAX_REPLACEMENTS,
	O_TIMINGS,
	O_FILE,
	O_SUBSCRIPTION,
	O_PARALLEL,
	O_JOB,
	O_CONTAINER,
	O_FOLLOW,
	O_ALL,
	O_OLDER_THAN,
	O_DRY_RUN,
	O_TAIL,
	O_CONFIG,
	O_PORT,
	O_SUBNETS,
	O_SECURITY_GROUPS,
	O_EXECUTION_ROLE,
	O_KEEP_LOGS,
	O_SUBNET,
	O_IDENTITY,
	O_STORAGE_AUTH,
	O_FILES,
	O_ARCHIVES,
	O_PACKAGES,
	O_REPOSITORIES,
	O_EXCLUDE_PACKAGES,
	O_PROPERTIES_FILE,
	O_DRIVER_JAVA_OPTIONS,
	O_DRIVER_CLASS_PATH,
	O_DRIVER_LIBRARY_PATH,
	O_TOTAL_EXECUTOR_CORES,
	O_DEPLOY_MODE,
	O_LOG_LEVEL,
	O_PRICE_FILE,
	O_MAX_EXECUTORS,
	O_MIN_EXECUTORS,
	O_CLOUD,
	O_HELP = 'h',
	O_VERBOSE = 'v',
	O_OUTPUT = 'o',
	O_CONF = 'c', /* spark-submit's -c */
};

#define C_SUBMIT 1
#define C_DEPLOY 2
#define C_STATUS 4
#define C_LOGS 8
#define C_DELETE 16
#define C_GC 32
#define C_AUTH 64
#define C_UI 128
#define C_PRICES 256
#define C_ALL 511
#define C_AZURE (C_SUBMIT | C_DEPLOY | C_STATUS | C_LOGS | C_DELETE | C_GC | C_AUTH)

static const struct opt {
	struct option o;
	int cmds;
	const char *arg, *help;
} opts_table[] = {
	{{"backend", required_argument, 0, O_BACKEND},
	 C_AZURE,
	 "local|aci|fargate",
	 "where containers run (default: local, or $LEGION_BACKEND)"},
	{{"num-executors", required_argument, 0, O_NUM_EXECUTORS},
	 C_SUBMIT,
	 "N",
	 "workers, one container each (default 2)"},
	{{"max-executors", required_argument, 0, O_MAX_EXECUTORS},
	 C_SUBMIT,
	 "N",
	 "scale workers with Spark's dynamic allocation, up to N (README: scaling)"},
	{{"min-executors", required_argument, 0, O_MIN_EXECUTORS},
	 C_SUBMIT,
	 "N",
	 "with --max-executors: workers kept while the job runs (default 0)"},
	{{"executor-cores", required_argument, 0, O_EXECUTOR_CORES},
	 C_SUBMIT,
	 "C",
	 "cores per worker, 1-4 (default 1)"},
	{{"executor-memory", required_argument, 0, O_EXECUTOR_MEMORY},
	 C_SUBMIT,
	 "SIZE",
	 "memory per executor, e.g. 512m, 8g, 1.5g (default 1g)"},
	{{"driver-cores", required_argument, 0, O_DRIVER_CORES},
	 C_SUBMIT | C_DEPLOY,
	 "C",
	 "cores of the master container, 1-4 (default 1)"},
	{{"driver-memory", required_argument, 0, O_DRIVER_MEMORY},
	 C_SUBMIT | C_DEPLOY,
	 "SIZE",
	 "memory of the driver (default 1g)"},
	{{"location", required_argument, 0, O_LOCATION},
	 C_AZURE | C_PRICES,
	 "REGION",
	 "Azure region (aci; default westus) or AWS region (fargate; default $AWS_REGION)"},
	{{"resource-group", required_argument, 0, O_RESOURCE_GROUP},
	 C_AZURE & ~C_AUTH,
	 "RG",
	 "Azure resource group (aci; default legion)"},
	{{"subscription", required_argument, 0, O_SUBSCRIPTION},
	 C_AZURE,
	 "ID",
	 "Azure subscription (default $AZURE_SUBSCRIPTION_ID, else the only one)"},
	{{"cloud", required_argument, 0, O_CLOUD},
	 C_AZURE | C_PRICES,
	 "NAME",
	 "AzurePublicCloud, AzureUSGovernment or AzureChinaCloud (aci; default $AZURE_CLOUD, "
	 "else az's active cloud with the Azure CLI credential, else AzurePublicCloud)"},
	{{"master", required_argument, 0, O_MASTER},
	 C_SUBMIT,
	 "CLUSTER",
	 "run on an existing cluster (from deploy-master) instead of a new one"},
	{{"keep-alive", optional_argument, 0, O_KEEP_ALIVE},
	 C_SUBMIT,
	 "[true|false]",
	 "keep the cluster after the job"},
	{{"conf", required_argument, 0, O_CONF},
	 C_SUBMIT,
	 "K=V",
	 "Spark configuration, repeatable"},
	{{"py-files", required_argument, 0, O_PY_FILES},
	 C_SUBMIT,
	 "F,..",
	 ".py/.zip/.egg files for the Python path"},
	{{"jars", required_argument, 0, O_JARS}, C_SUBMIT, "F,..", "jars for the classpath"},
	/* spark-submit's own, with its meaning (README: spark-submit's options) */
	{{"files", required_argument, 0, O_FILES}, C_SUBMIT, "F,..", "files for SparkFiles.get"},
	{{"archives", required_argument, 0, O_ARCHIVES}, C_SUBMIT, "A[#DIR],..", "unpacked in DIR"},
	{{"packages", required_argument, 0, O_PACKAGES}, C_SUBMIT, "G:A:V,..", "jars from Maven"},
	{{"repositories", required_argument, 0, O_REPOSITORIES},
	 C_SUBMIT,
	 "URL,..",
	 "more Maven repositories for --packages"},
	{{"exclude-packages", required_argument, 0, O_EXCLUDE_PACKAGES},
	 C_SUBMIT,
	 "G:A,..",
	 "dependencies of --packages left out"},
	{{"properties-file", required_argument, 0, O_PROPERTIES_FILE},
	 C_SUBMIT,
	 "FILE",
	 "Spark properties ('key value' lines) read here, under --conf"},
	{{"driver-java-options", required_argument, 0, O_DRIVER_JAVA_OPTIONS},
	 C_SUBMIT,
	 "OPTS",
	 "extra JVM options of the driver"},
	{{"driver-class-path", required_argument, 0, O_DRIVER_CLASS_PATH},
	 C_SUBMIT,
	 "PATH",
	 "extra class path of the driver (in the master's container)"},
	{{"driver-library-path", required_argument, 0, O_DRIVER_LIBRARY_PATH},
	 C_SUBMIT,
	 "PATH",
	 "extra native library path of the driver (in the master's container)"},
	{{"total-executor-cores", required_argument, 0, O_TOTAL_EXECUTOR_CORES},
	 C_SUBMIT,
	 "N",
	 "cores of all executors (spark.cores.max)"},
	{{"deploy-mode", required_argument, 0, O_DEPLOY_MODE}, C_SUBMIT, "client", "client only"},
	{{"log-level", required_argument, 0, O_LOG_LEVEL},
	 C_SUBMIT,
	 "LEVEL",
	 "Spark's log lines shown: WARN (default), INFO, ERROR, ALL, OFF"},
	{{"price-file", required_argument, 0, O_PRICE_FILE},
	 C_SUBMIT | C_STATUS,
	 "FILE",
	 "prices for the cost line and status's estimates"},
	{{"class", required_argument, 0, O_CLASS}, C_SUBMIT, "CLASS", "main class of a jar app"},
	{{"name", required_argument, 0, O_NAME}, C_SUBMIT, "NAME", "the application's name"},
	{{"image", required_argument, 0, O_IMAGE},
	 C_SUBMIT | C_DEPLOY,
	 "IMAGE",
	 "container image (aci, fargate; default $LEGION_IMAGE)"},
	{{"subnet", required_argument, 0, O_SUBNET},
	 C_SUBMIT | C_DEPLOY,
	 "SUBNET_ID",
	 "every container on this VNet subnet, private addresses only (aci)"},
	{{"identity", required_argument, 0, O_IDENTITY},
	 C_SUBMIT | C_DEPLOY,
	 "IDENTITY_ID",
	 "pull the image with this user-assigned managed identity (aci)"},
	{{"storage-auth", required_argument, 0, O_STORAGE_AUTH},
	 C_SUBMIT | C_DEPLOY,
	 "key|sp|msi",
	 "how Spark signs in to Azure storage (default: key, with AZURE_STORAGE_ACCOUNT_KEY)"},
	{{"idle-timeout", required_argument, 0, O_IDLE_TIMEOUT},
	 C_SUBMIT | C_DEPLOY,
	 "SECS",
	 "master and workers stop after this long without a job (default 600; 90s, 5m, 1h)"},
	{{"detach", no_argument, 0, O_DETACH},
	 C_SUBMIT,
	 NULL,
	 "print {\"cluster\",\"job\"} and return once the job started"},
	{{"max-replacements", required_argument, 0, O_MAX_REPLACEMENTS},
	 C_SUBMIT,
	 "N",
	 "replace up to N workers that stop mid-job (default --num-executors)"},
	{{"timings", no_argument, 0, O_TIMINGS},
	 C_SUBMIT,
	 NULL,
	 "a timeline on stderr: seconds from submit to each step (also with -v)"},
	{{"force", no_argument, 0, O_FORCE},
	 C_SUBMIT,
	 NULL,
	 "start a local cluster bigger than this machine"},
	{{"file", required_argument, 0, O_FILE},
	 C_SUBMIT,
	 "APP",
	 "the application (or give it as APP)"},
	{{"parallel", required_argument, 0, O_PARALLEL},
	 C_SUBMIT | C_DELETE | C_GC,
	 "N",
	 "containers created or deleted at once, 1-64 (default 16)"},
	{{"output", required_argument, 0, O_OUTPUT}, C_STATUS, "json|table", "output format"},
	{{"all", no_argument, 0, O_ALL}, C_STATUS, NULL, "the whole subscription (aci)"},
	{{"job", required_argument, 0, O_JOB}, C_LOGS, "ID", "a job's output (default: the last)"},
	{{"container", required_argument, 0, O_CONTAINER}, C_LOGS, "NAME", "a container's output"},
	{{"tail", required_argument, 0, O_TAIL}, C_LOGS, "N", "only the last N lines"},
	{{"follow", no_argument, 0, O_FOLLOW}, C_LOGS, NULL, "keep printing as output arrives"},
	{{"older-than", required_argument, 0, O_OLDER_THAN},
	 C_GC,
	 "AGE",
	 "only groups created longer ago (e.g. 1h; default 0)"},
	{{"dry-run", no_argument, 0, O_DRY_RUN},
	 C_GC,
	 NULL,
	 "print what would be deleted, delete nothing"},
	{{"port", required_argument, 0, O_PORT},
	 C_UI,
	 "P",
	 "the port on 127.0.0.1 (default: a free one)"},
	{{"subnets", required_argument, 0, O_SUBNETS},
	 C_SUBMIT | C_DEPLOY,
	 "ID,..",
	 "subnets of the tasks (fargate; default $LEGION_AWS_SUBNETS)"},
	{{"security-groups", required_argument, 0, O_SECURITY_GROUPS},
	 C_SUBMIT | C_DEPLOY,
	 "ID,..",
	 "security groups of the tasks (fargate; default $LEGION_AWS_SECURITY_GROUPS)"},
	{{"execution-role", required_argument, 0, O_EXECUTION_ROLE},
	 C_SUBMIT | C_DEPLOY,
	 "ARN",
	 "the ECS task execution role (fargate; default $LEGION_AWS_EXECUTION_ROLE)"},
	{{"keep-logs", no_argument, 0, O_KEEP_LOGS},
	 C_SUBMIT | C_DEPLOY | C_DELETE | C_GC,
	 NULL,
	 "keep the cluster's CloudWatch log group when it is deleted (fargate)"},
	{{"config", required_argument, 0, O_CONFIG},
	 C_ALL,
	 "FILE",
	 "defaults from FILE (default ~/.config/legion/config)"},
	{{"verbose", no_argument, 0, O_VERBOSE},
	 C_ALL,
	 NULL,
	 "HTTP requests on stderr; submit: every Spark log line too"},
	{{"help", no_argument, 0, O_HELP}, C_ALL, NULL, "this help"},
};
#define NOPTS (sizeof opts_table / sizeof opts_table[0])

static const struct command {
	const char *name;
	int bit;
	const char *args, *what;
} commands[] = {
	{"submit", C_SUBMIT, "[OPTIONS] APP [APP-ARGS...]",
	 "run a Spark application on a new (or --master) cluster and exit with its status"},
	{"deploy-master", C_DEPLOY, "[OPTIONS]", "start a cluster's master and keep it"},
	{"status", C_STATUS, "[OPTIONS] [CLUSTER]", "clusters, their containers and jobs, as JSON"},
	{"logs", C_LOGS, "[OPTIONS] CLUSTER", "a job's output, or a container's"},
	{"delete", C_DELETE, "[OPTIONS] CLUSTER", "delete everything a cluster created"},
	{"gc", C_GC, "[OPTIONS]", "delete stopped or orphaned Legion containers"},
	{"auth", C_AUTH, "[OPTIONS]",
	 "check the credentials (Azure; AWS with --backend fargate): print who they are"},
	{"ui", C_UI, "[OPTIONS] CLUSTER",
	 "Spark's web UIs of a cluster on http://127.0.0.1, until Ctrl-C"},
	{"prices", C_PRICES, "[OPTIONS]",
	 "ACI's prices per region from Azure's Retail Prices API, as a price file on stdout"},
	{"version", 0, "", "print the version"},
	{"help", 0, "[COMMAND]", "this help, or a command's"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage_command(FILE *f, const struct command *c)
{
	fprintf(f, "usage: legion %s %s\n%s.\n", c->name, c->args, c->what);
	if (!c->bit)
		return;
	fprintf(f, "\noptions:\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *p = &opts_table[i];
		if (!(p->cmds & c->bit))
			continue;
		char left[64];
		char shortopt[8] = "    ";
		if (p->o.val < 256)
			snprintf(shortopt, sizeof shortopt, "-%c, ", p->o.val);
		snprintf(left, sizeof left, "%s--%s%s%s", shortopt, p->o.name, p->arg ? " " : "",
			 p->arg ? p->arg : "");
		fprintf(f, "  %-36s %s\n", left, p->help);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: legion COMMAND [OPTIONS] [ARGS]\n"
		   "Serverless Apache Spark: a cluster per job, on Azure Container Instances "
		   "(--backend aci),\nAWS Fargate (--backend fargate) or on this machine "
		   "(--backend local, the default).\n\n"
		   "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].what);
	fprintf(f, "\n'legion COMMAND --help' shows a command's options.\n"
		   "Exit status: the job's own once it ran; 64 usage, 65 bad input data, 69 "
		   "backend\nunavailable, 75 temporary failure, 77 credentials refused, 78 "
		   "configuration missing,\n130/143 interrupted.\n");
}

/* While the config file is read: "FILE:LINE", for bad()'s messages (exit 78). */
char config_where[1100];

/* One line naming the bad thing, then where to look. */
int bad(const struct opts *o, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (config_where[0]) {
		fprintf(stderr, "%s: %s: %s\n", progname, config_where, msg);
		return EXIT_CONFIG;
	}
	if (o->cmd)
		fprintf(stderr, "%s: %s: %s\nTry 'legion %s --help'.\n", progname, o->cmd->name,
			msg, o->cmd->name);
	else
		fprintf(stderr, "%s: %s\nTry 'legion --help'.\n", progname, msg);
	return EXIT_USAGE;
}

#define MAX_CORES 4              /* ACI: 4 vCPU per group */
#define MAX_GROUP_MB (16 * 1024) /* ACI: 16 GB per group */
/* One option's value into o (argv, argc: for --keep-alive's separate value; NULL from
 * the config file). 0, -1 after --help, else the exit code after a message. */
static int set_opt(struct opts *o, int c, const char *name, const char *a, int argc, char **argv)
{
	long long v;
	switch (c) {
	case O_HELP: usage_command(stdout, o->cmd); return -1;
	case O_VERBOSE: verbose = 1; break;
	case O_BACKEND:
		o->backend = a;
		o->backend_from_env = 0;
		break;
	case O_NUM_EXECUTORS:
		if (parse_int(a, 1, 256, &o->num_executors) < 0)
			return bad(o, "--num-executors: '%s' is not a whole number from 1 to 256",
				   a);
		o->num_executors_set = 1;
		break;
	case O_EXECUTOR_CORES:
	case O_DRIVER_CORES:
		if (parse_int(a, 1, MAX_CORES, &v) < 0)
			return bad(o, "--%s: '%s' is not a whole number from 1 to %d", name, a,
				   MAX_CORES);
		*(c == O_EXECUTOR_CORES ? &o->executor_cores : &o->driver_cores) = v;
		break;
	case O_EXECUTOR_MEMORY:
	case O_DRIVER_MEMORY: {
		long long max = MAX_GROUP_MB - 2048;
		if (parse_size_mib(a, max, &v) < 0)
			return bad(o,
				   "--%s: '%s' is not a size from 1m to %lldg (like 512m, "
				   "8g, 1.5g)",
				   name, a, max / 1024);
		*(c == O_EXECUTOR_MEMORY ? &o->executor_mem_mb : &o->driver_mem_mb) = v;
		break;
	}
	case O_LOCATION: o->location = a; break;
	case O_RESOURCE_GROUP: o->resource_group = a; break;
	case O_SUBSCRIPTION: o->subscription = a; break;
	case O_CLOUD:
		if (!cloud_find(a))
			return bad(o, "--cloud: '%s' is not a cloud (" CLOUD_NAMES ")", a);
		o->cloud = a;
		break;
	case O_MASTER: o->master = a; break;
	case O_KEEP_ALIVE:
		if (!a && argv && optind < argc &&
		    (!strcmp(argv[optind], "true") || !strcmp(argv[optind], "false")))
			a = argv[optind++]; /* the seed's `--keep-alive true` */
		if (!a || !strcmp(a, "true"))
			o->keep_alive = 1;
		else if (!strcmp(a, "false"))
			o->keep_alive = 0;
		else
			return bad(o, "--keep-alive: '%s' is not true or false", a);
		break;
	case O_CONF: {
		const char *eq = strchr(a, '=');
		if (!eq || eq == a)
			return bad(o, "--conf: '%s' is not KEY=VALUE", a);
		const char **n = realloc(o->conf, (size_t)(o->nconf + 1) * sizeof *n);
		if (!n)
			return bad(o, "out of memory");
		o->conf = n;
		o->conf[o->nconf++] = a;
		break;
	}
	case O_PY_FILES: o->py_files = a; break;
	case O_JARS: o->jars = a; break;
	case O_CLASS: o->klass = a; break;
	case O_NAME: o->name = a; break;
	case O_IMAGE: o->image = a; break;
	case O_SUBNET: o->subnet = a; break; /* checked by the backend */
	case O_IDENTITY: o->identity = a; break;
	case O_STORAGE_AUTH:
		if (strcmp(a, "key") && strcmp(a, "sp") && strcmp(a, "msi"))
			return bad(o, "--storage-auth: '%s' is not key, sp or msi", a);
		o->storage_auth = a;
		break;
	case O_IDLE_TIMEOUT:
		if (parse_duration(a, 7 * 86400, &o->idle_timeout) < 0 || o->idle_timeout < 1)
			return bad(o, "--idle-timeout: '%s' is not a duration from 1s to 7d", a);
		break;
	case O_DETACH: o->detach = 1; break;
	case O_FORCE: o->force = 1; break;
	case O_MAX_REPLACEMENTS:
		if (parse_int(a, 0, 1000, &o->max_replacements) < 0)
			return bad(o,
				   "--max-replacements: '%s' is not a whole number from 0 to 1000",
				   a);
		break;
	case O_TIMINGS: o->timings = 1; break;
	case O_DRY_RUN: o->dry_run = 1; break;
	case O_FILE: o->app = a; break;
	case O_PARALLEL:
		if (parse_int(a, 1, 64, &o->parallel) < 0)
			return bad(o, "--parallel: '%s' is not a whole number from 1 to 64", a);
		break;
	case O_OUTPUT:
		if (strcmp(a, "json") && strcmp(a, "table"))
			return bad(o, "--output: '%s' is not json or table", a);
		o->output = a;
		break;
	case O_ALL: o->all = 1; break;
	case O_JOB: o->job = a; break;
	case O_CONTAINER: o->container = a; break;
	case O_TAIL:
		if (parse_int(a, 1, 1000000, &o->tail) < 0)
			return bad(o, "--tail: '%s' is not a whole number from 1 to 1000000", a);
		break;
	case O_FOLLOW: o->follow = 1; break;
	case O_PORT:
		if (parse_int(a, 1, 65535, &o->port) < 0)
			return bad(o, "--port: '%s' is not a port from 1 to 65535", a);
		break;
	case O_SUBNETS:
	case O_SECURITY_GROUPS:
		if (!*a || strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789-,") != strlen(a))
			return bad(o, "--%s: '%s' is not a comma-separated list of ids", name, a);
		*(c == O_SUBNETS ? &o->subnets : &o->security_groups) = a;
		break;
	case O_EXECUTION_ROLE:
		if (strncmp(a, "arn:", 4) || strcspn(a, " \t\n\"\\") != strlen(a))
			return bad(o, "--execution-role: '%s' is not an IAM role ARN", a);
		o->execution_role = a;
		break;
	case O_KEEP_LOGS: o->keep_logs = 1; break;
	case O_FILES: o->files = a; break;
	case O_ARCHIVES: o->archives = a; break;
	case O_PACKAGES:
	case O_EXCLUDE_PACKAGES:
	case O_REPOSITORIES:
		if (check_maven(o, name, a))
			return EXIT_USAGE;
		*(c == O_PACKAGES       ? &o->packages
		  : c == O_REPOSITORIES ? &o->repositories
					: &o->exclude_packages) = a;
		break;
	case O_PROPERTIES_FILE: o->properties_file = a; break;
	case O_PRICE_FILE: o->price_file = a; break;
	case O_DRIVER_JAVA_OPTIONS: o->driver_java_options = a; break;
	case O_DRIVER_CLASS_PATH: o->driver_class_path = a; break;
	case O_DRIVER_LIBRARY_PATH: o->driver_library_path = a; break;
	case O_TOTAL_EXECUTOR_CORES:
		if (parse_int(a, 1, 256 * MAX_CORES, &o->total_cores) < 0)
			return bad(
				o,
				"--total-executor-cores: '%s' is not a whole number from 1 to %d",
				a, 256 * MAX_CORES);
		break;
	case O_MAX_EXECUTORS:
	case O_MIN_EXECUTORS:
		if (parse_int(a, c == O_MIN_EXECUTORS ? 0 : 1, 256, &v) < 0)
			return bad(o, "--%s: '%s' is not a whole number from %d to 256", name, a,
				   c == O_MIN_EXECUTORS ? 0 : 1);
		if (c == O_MAX_EXECUTORS)
			o->max_executors = v;
		else
			o->min_executors = v, o->min_executors_set = 1;
		break;
	case O_DEPLOY_MODE:
		if (!strcmp(a, "cluster"))
			return bad(o,
				   "--deploy-mode cluster does not apply: the driver runs in the "
				   "cluster's master container already (client mode there)");
		if (strcmp(a, "client"))
			return bad(o, "--deploy-mode: '%s' is not client", a);
		break;
	case O_LOG_LEVEL:
		if ((o->log_level = log_level_of(a, strlen(a))) < 0)
			return bad(o,
				   "--log-level: '%s' is not ALL, TRACE, DEBUG, INFO, WARN, ERROR, "
				   "FATAL or OFF",
				   a);
		o->log_level_set = 1;
		break;
	case O_OLDER_THAN:
		if (parse_duration(a, 365 * 86400LL, &o->older_than) < 0)
			return bad(o,
				   "--older-than: '%s' is not a duration (like 90s, 30m, "
				   "1h, 2d)",
				   a);
		break;
	}
	return 0;
}

/* The settings a config file may hold: spark-defaults' "key value" lines, keys named
 * like the options they stand for, plus spark.* keys (as --conf). */
/* A setting of the config file as its option: 0 when it is another command's (skipped),
 * 1 when no option has that name, else set_opt's answer. */
int opt_by_name(struct opts *o, const char *name, const char *val)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opts_table[i].o.name, name))
			return opts_table[i].cmds & o->cmd->bit
				       ? set_opt(o, opts_table[i].o.val, name, val, 0, NULL)
				       : 0;
	return 1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	struct option longopts[NOPTS + 1];
	for (size_t i = 0; i < NOPTS; i++)
		longopts[i] = opts_table[i].o;
	memset(&longopts[NOPTS], 0, sizeof longopts[NOPTS]);
	/* submit stops at the app: what follows belongs to it */
	const char *shortopts = o->cmd->bit == C_SUBMIT ? "+:hvo:c:" : ":hvo:c:";
	opterr = 0;
	optind = 1;
	int c, idx;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		const char *a = optarg;
		const char *name = NULL;
		for (size_t i = 0; i < NOPTS; i++)
			if (opts_table[i].o.val == c)
				name = opts_table[i].o.name;
		if (c == '?') {
			if (optopt && optopt < 256)
				return bad(o, "unknown option '-%c'", optopt);
			if (o->cmd->bit == C_SUBMIT)
				return submit_unknown_option(o, argv[optind - 1]);
			return bad(o, "unknown option '%s'", argv[optind - 1]);
		}
		if (c == ':') {
			const char *opt = argv[optind - 1];
			if (opt && !strncmp(opt, "--", 2))
				return bad(o, "option '%s' needs a value", opt);
			return bad(o, "option '-%c' needs a value", optopt);
		}
		int allowed = 0;
		for (size_t i = 0; i < NOPTS; i++)
			if (opts_table[i].o.val == c)
				allowed = opts_table[i].cmds & o->cmd->bit;
		if (!allowed)
			return bad(o, "option '--%s' does not apply to %s", name, o->cmd->name);
		int rc = set_opt(o, c, name, a, argc, argv);
		if (rc)
			return rc;
	}
	int rest = argc - optind;
	char **pos = argv + optind;
	switch (o->cmd->bit) {
	case C_SUBMIT:
		if (!o->app) {
			if (rest == 0)
				return bad(o, "no application: give APP (a .py file or a jar)");
			o->app = pos[0];
			pos++;
			rest--;
		}
		o->app_args = pos;
		o->napp_args = rest;
		if (o->master && o->keep_alive)
			return bad(o, "--keep-alive applies to a cluster submit creates, not to "
				      "--master");
		if (verbose && !o->log_level_set)
			o->log_level = L_ALL;
		if (total_cores(o) || scale_opts(o))
			return EXIT_USAGE;
		break;
	case C_STATUS:
		if (rest > 1)
			return bad(o, "unexpected argument '%s'", pos[1]);
		o->cluster = rest ? pos[0] : NULL;
		break;
	case C_LOGS:
	case C_DELETE:
	case C_UI:
		if (rest < 1)
			return bad(o, "no cluster: give CLUSTER (see 'legion status')");
		if (rest > 1)
			return bad(o, "unexpected argument '%s'", pos[1]);
		o->cluster = pos[0];
		if (o->job && o->container)
			return bad(o, "--job and --container exclude each other");
		if (o->container && strncmp(o->container, o->cluster, strlen(o->cluster)))
			return bad(o, "--container: '%s' is not a container of %s", o->container,
				   o->cluster);
		break;
	default:
		if (rest > 0)
			return bad(o, "unexpected argument '%s'", pos[0]);
	}
	if (!backend_find(o->backend)) {
		char known[64];
		backend_names(known, sizeof known);
		return bad(o, "%s: '%s' is not a backend (%s)",
			   o->backend_from_env ? "LEGION_BACKEND" : "--backend", o->backend, known);
	}
	if (o->cluster && (strncmp(o->cluster, "legion-", 7) || strlen(o->cluster) != 15 ||
			   strspn(o->cluster + 7, "0123456789abcdef") != 8))
		return bad(o, "'%s' is not a cluster id (legion-<8 hex digits>)", o->cluster);
	if (o->master && spark_master_url(o))
		return EXIT_USAGE;
	if (o->master && (strncmp(o->master, "legion-", 7) || strlen(o->master) != 15 ||
			  strspn(o->master + 7, "0123456789abcdef") != 8))
		return bad(o, "--master: '%s' is not a cluster id (legion-<8 hex digits>)",
			   o->master);
	return 0;
}

static void defaults(struct opts *o)
{
	const char *b = getenv("LEGION_BACKEND");
	o->backend = b && *b ? b : "local";
	o->backend_from_env = b && *b;
	o->location = NULL; /* each backend has its own default */
	o->resource_group = "legion";
	o->num_executors = 2;
	o->executor_cores = 1;
	o->executor_mem_mb = 1024;
	o->driver_cores = 1;
	o->driver_mem_mb = 1024;
	o->idle_timeout = 600;
	o->max_replacements = -1; /* heal.c: as many as --num-executors */
	o->parallel = 16;
	o->output = "json";
	o->log_level = L_WARN;
	const char *img = getenv("LEGION_IMAGE");
	o->image = img && *img ? img : NULL; /* no default outside the user's own registry */
}

volatile sig_atomic_t got_signal;

int interrupted(void)
{
	return got_signal ? 128 + got_signal : 0;
}

char cleanup_hint[160];

/* A signal during clean-up is noted, and the clean-up goes on; a second one during it
 * gives up, saying what may be left. */
static void on_signal(int sig)
{
	static const char again[] = "legion: still cleaning up: interrupt once more to give up "
				    "(what is not deleted yet would be left)\n",
			  gave_up[] = "legion: clean-up abandoned: what this run created may be "
				      "left; it is removed by: ";
	got_signal = sig;
	int n = http_interrupt();
	ssize_t w = 0;
	if (n == 1)
		w = write(2, again, sizeof again - 1);
	else if (n >= 2) {
		const char *hint = cleanup_hint[0] ? cleanup_hint : "legion gc\n";
		size_t k = 0;
		while (hint[k]) /* strlen is not on every system's async-signal-safe list */
			k++;
		w = write(2, gave_up, sizeof gave_up - 1);
		w = write(2, hint, k);
		_exit(128 + sig);
	}
	(void)w;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	int ex = 0;
	progname = "legion";
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* -v before the command applies to it too */
	while (argc > 1 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--verbose"))) {
		verbose = 1;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		const struct command *c = argc > 2 ? find_command(argv[2]) : NULL;
		if (argc > 2 && !c) {
			fprintf(stderr, "%s: help: '%s' is not a command\nTry 'legion --help'.\n",
				progname, argv[2]);
			return EXIT_USAGE;
		}
		if (c)
			usage_command(stdout, c);
		else
			usage(stdout);
		return 0;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("legion %s\n", LEGION_VERSION);
		return 0;
	}
	o.cmd = find_command(name);
	if (!o.cmd || !o.cmd->bit) {
		fprintf(stderr, "%s: '%s' is not a command\nTry 'legion --help'.\n", progname,
			name);
		return EXIT_USAGE;
	}
	defaults(&o);
	struct buf config = {0}; /* o's strings from the config file point into it */
	ex = read_config(argc - 1, argv + 1, &o, &config);
	o.nconf_file = o.nconf;
	if (!ex)
		ex = parse_opts(argc - 1, argv + 1, &o);
	if (ex) {
		opts_release(&o);
		buf_free(&config);
		return ex < 0 ? 0 : ex;
	}
	if ((o.cmd->bit == C_SUBMIT && (ex = check_inputs(&o)) != 0) ||
	    ((o.cmd->bit & (C_SUBMIT | C_DEPLOY)) && (ex = storage_check(&o)) != 0)) {
		opts_release(&o);
		buf_free(&config);
		return ex;
	}
	if ((o.cmd->bit & (C_SUBMIT | C_DEPLOY)) && strcmp(o.backend, "local") && !o.image) {
		int aws = !strcmp(o.backend, "fargate");
		warnx_("no image for the %s backend: build and push yours ('make image', '%s', "
		       "'podman push'), then give --image or set "
		       "LEGION_IMAGE=%s/legion/spark:" LEGION_VERSION,
		       o.backend,
		       aws ? "aws ecr get-login-password | podman login ..."
			   : "az acr login -n REGISTRY",
		       aws ? "ACCOUNT.dkr.ecr.REGION.amazonaws.com" : "REGISTRY.azurecr.io");
		opts_release(&o);
		buf_free(&config);
		return EXIT_CONFIG;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (http_init() < 0) {
		opts_release(&o);
		buf_free(&config);
		return EXIT_SOFTWARE;
	}
	switch (o.cmd->bit) {
	case C_SUBMIT: ex = cmd_submit(&o); break;
	case C_DEPLOY: ex = cmd_deploy(&o); break;
	case C_STATUS: ex = cmd_status(&o); break;
	case C_LOGS: ex = cmd_logs(&o); break;
	case C_DELETE: ex = cmd_delete(&o); break;
	case C_GC: ex = cmd_gc(&o); break;
	case C_AUTH: ex = cmd_auth(&o); break;
	case C_UI: ex = cmd_ui(&o); break;
	case C_PRICES: ex = cmd_prices(&o); break;
	}
	http_cleanup();
	opts_release(&o);
	buf_free(&config);
	if (got_signal) /* interrupted in any phase: 130 / 143, whatever failed on the way */
		ex = 128 + got_signal;
	return ex;
}
