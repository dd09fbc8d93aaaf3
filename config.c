/*
 * config.c: the config file (~/.config/legion/config or --config FILE) in
 * spark-defaults' "key value" form: which file, its settings as their options, spark.*
 * keys as --conf. Leaves out what an option means (legion.c's set_opt).
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const config_keys[] = {
	"backend",       "location",       "resource-group",  "subscription",    "image",
	"num-executors", "executor-cores", "executor-memory", "driver-cores",    "driver-memory",
	"idle-timeout",  "parallel",       "subnets",         "security-groups", "execution-role",
	"subnet",        "identity",       "storage-auth",    "price-file",
};

/* Which config file: --config FILE (or --config=FILE) anywhere on the line, else
 * $XDG_CONFIG_HOME/legion/config, else ~/.config/legion/config. 1 when explicit. */
static int config_path(int argc, char **argv, char *out, size_t n)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			snprintf(out, n, "%s", argv[i + 1]);
			return 1;
		}
		if (!strncmp(argv[i], "--config=", 9)) {
			snprintf(out, n, "%s", argv[i] + 9);
			return 1;
		}
	}
	if (config_file("config", out, n) < 0)
		out[0] = '\0';
	return 0;
}

int config_file(const char *name, char *out, size_t n)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
	if (x && *x)
		snprintf(out, n, "%s/legion/%s", x, name);
	else if (h && *h)
		snprintf(out, n, "%s/.config/legion/%s", h, name);
	else
		return -1;
	return 0;
}

/* One "key value" line (trimmed, NUL-terminated inside the file's buffer, which
 * outlives o: values point into it). */
static int config_line(struct opts *o, char *line)
{
	char *val = line + strcspn(line, " \t");
	if (!*val)
		return bad(o, "'%s' has no value (lines are 'key value')", line);
	char *end = val;
	val += strspn(val, " \t");
	if (!strncmp(line, "spark.", 6)) { /* as --conf KEY=VALUE: the value moves up */
		*end = '=';
		memmove(end + 1, val, strlen(val) + 1);
		return opt_by_name(o, "conf", line);
	}
	*end = '\0';
	size_t k = 0;
	while (k < sizeof config_keys / sizeof config_keys[0] && strcmp(config_keys[k], line))
		k++;
	if (k == sizeof config_keys / sizeof config_keys[0])
		return bad(o, "'%s' is not a setting (%s, ..., or spark.*)", line, config_keys[0]);
	/* the environment comes before the file */
	if ((!strcmp(line, "backend") && o->backend_from_env) ||
	    (!strcmp(line, "image") && getenv("LEGION_IMAGE") && *getenv("LEGION_IMAGE")) ||
	    (!strcmp(line, "subscription") && getenv("AZURE_SUBSCRIPTION_ID") &&
	     *getenv("AZURE_SUBSCRIPTION_ID")))
		return 0;
	int rc = opt_by_name(o, line, val); /* 0 too for another command's setting */
	if (!strcmp(line, "backend"))
		o->backend_from_env = 0;
	return rc == 1 ? 0 : rc;
}

/* Reads the config file into *keep (owned by main: o's strings point into it). A
 * missing default file is fine; a missing --config FILE, or a bad line, is exit 78. */
int read_config(int argc, char **argv, struct opts *o, struct buf *keep)
{
	char path[1024];
	int explicit = config_path(argc, argv, path, sizeof path);
	if (!path[0])
		return 0;
	if (read_file(path, 1 << 20, keep) < 0) {
		if (errno == ENOENT && !explicit)
			return 0;
		warn_("--config: unable to read %s", path);
		return EXIT_CONFIG;
	}
	if (keep->len != strlen(keep->p ? keep->p : "")) {
		warnx_("%s: not a text file", path);
		return EXIT_CONFIG;
	}
	int no = 0, rc = 0;
	for (char *line = keep->p, *next; line && *line && !rc; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		no++;
		line += strspn(line, " \t\r");
		size_t n = strlen(line);
		while (n > 0 && strchr(" \t\r", line[n - 1]))
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		snprintf(config_where, sizeof config_where, "%s:%d", path, no);
		rc = config_line(o, line);
	}
	config_where[0] = '\0';
	return rc > 0 ? EXIT_CONFIG : 0;
}
