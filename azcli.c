/*
 * azcli.c: the Azure CLI credential: runs `az account get-access-token` (execve with an
 * argument list, never a shell) and reads its JSON (token, expiry, tenant, subscription);
 * reads az's active cloud from its config file. Leaves out logging in (`az login` is the
 * user's), clouds registered with `az cloud register` and every other credential (auth.c).
 */
#include "legion.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define AZ_TIMEOUT_MS 60000 /* az's first run compiles its Python: give it time */

/* Reads fds[0] (stdout) and fds[1] (stderr) into out and err until both close or the
 * deadline passes; 1 on timeout, -1 when a buffer is full. */
static int drain(int fds[2], struct buf *out, struct buf *err, long long deadline)
{
	struct buf *dst[2] = {out, err};
	int open_n = 2;
	while (open_n > 0) {
		struct pollfd p[2];
		int np = 0, which[2];
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0) {
				p[np] = (struct pollfd){.fd = fds[i], .events = POLLIN};
				which[np++] = i;
			}
		long long left = deadline - now_ms();
		if (left <= 0)
			return 1;
		int r = poll(p, (nfds_t)np, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno != EINTR)
			return -1;
		for (int k = 0; r > 0 && k < np; k++) {
			if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char chunk[4096];
			int i = which[k];
			ssize_t n = read(fds[i], chunk, sizeof chunk);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(fds[i]);
				fds[i] = -1;
				open_n--;
			} else if (buf_add(dst[i], chunk, (size_t)n) < 0)
				return -1;
		}
		if (http_stop)
			return 1;
	}
	return 0;
}

/* The first line of what az said on stderr that says something (its "ERROR: ..."). */
static void first_line(const struct buf *err, char *out, size_t n)
{
	out[0] = '\0';
	const char *p = err->p ? err->p : "";
	const char *pick = NULL;
	for (const char *l = p; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		size_t len = strcspn(l, "\r\n");
		if (len && (!pick || !strncmp(l, "ERROR", 5))) {
			pick = l;
			if (!strncmp(l, "ERROR", 5))
				break;
		}
	}
	if (pick)
		snprintf(out, n, "%.*s", (int)strcspn(pick, "\r\n"), pick);
}

/* expiresOn as older az prints it: "2024-01-31 12:34:56.789012", local time. */
static long long parse_local_time(const char *s)
{
	struct tm tm = {0};
	if (!s || sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			 &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	return t == (time_t)-1 ? -1 : (long long)t;
}

/* Reads az's JSON answer into a. -1 (exit 69) when it is not what az prints. */
static int read_answer(struct auth *a, const struct buf *out, int *ex)
{
	struct json j = {0};
	char *tok = NULL;
	long long exp = -1;
	int rc = -1;
	if (out->p && json_parse(&j, out->p, out->len, NULL) == 0 && j.t[0].type == JSMN_OBJECT &&
	    (tok = json_str(&j, json_get(&j, 0, "accessToken"))) && *tok) {
		if (json_int(&j, json_get(&j, 0, "expires_on"), &exp) < 0) {
			char *on = json_str(&j, json_get(&j, 0, "expiresOn"));
			exp = parse_local_time(on);
			free(on);
		}
	}
	long long life = exp - (long long)time(NULL);
	if (!tok || !*tok || exp < 0) {
		warnx_("the Azure CLI's answer is not a token (no accessToken and expires_on in "
		       "the JSON of 'az account get-access-token')");
		*ex = EXIT_UNAVAIL;
	} else if (life <= 0) {
		warnx_("the Azure CLI handed out an expired token: run 'az login' again");
		*ex = EXIT_CONFIG;
	} else {
		char *tenant = json_str(&j, json_get(&j, 0, "tenant"));
		char *sub = json_str(&j, json_get(&j, 0, "subscription"));
		if (tenant && *tenant) {
			free(a->tenant);
			a->tenant = tenant;
			tenant = NULL;
		}
		if (sub && *sub) {
			free(a->subscription);
			a->subscription = sub;
			sub = NULL;
		}
		free(tenant);
		free(sub);
		if (a->token)
			explicit_bzero(a->token, strlen(a->token));
		free(a->token);
		a->token = tok;
		tok = NULL;
		long long margin = life > 1200 ? 300 : life / 4;
		a->expires_ms = now_ms() + (life - margin) * 1000;
		rc = 0;
	}
	if (tok)
		explicit_bzero(tok, strlen(tok));
	free(tok);
	json_free(&j);
	return rc;
}

int azcli_token(struct auth *a, int *ex)
{
	char az[4096];
	*ex = EXIT_CONFIG;
	if (proc_which("az", NULL, az, sizeof az) < 0) {
		warnx_("the Azure CLI credential needs 'az' on PATH: install the Azure CLI and run "
		       "'az login', or set another credential (see 'man legion', CREDENTIALS)");
		return -1;
	}
	char *argv[10] = {az,
			  "account",
			  "get-access-token",
			  "--resource",
			  (char *)a->resource,
			  "--output",
			  "json",
			  NULL};
	if (a->tenant) {
		argv[7] = "--tenant";
		argv[8] = a->tenant;
		argv[9] = NULL;
	}
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	if (pipe(po) < 0 || pipe(pe) < 0) {
		warn_("unable to run az: pipe");
		*ex = EXIT_SOFTWARE;
		for (int i = 0; i < 2; i++)
			if (po[i] >= 0)
				close(po[i]);
		return -1;
	}
	fcntl(po[0], F_SETFD, FD_CLOEXEC);
	fcntl(pe[0], F_SETFD, FD_CLOEXEC);
	int fds[3] = {-1, po[1], pe[1]};
	if (verbose)
		fprintf(stderr, "%s: > az account get-access-token --resource %s\n", progname,
			a->resource);
	long long t0 = now_ms();
	pid_t pid = proc_spawn(argv, environ, NULL, fds, "az");
	close(po[1]);
	close(pe[1]);
	struct buf out = {.max = 1 << 20}, err = {.max = 1 << 16};
	int rd[2] = {po[0], pe[0]}, rc = -1;
	int d = pid < 0 ? -1 : drain(rd, &out, &err, t0 + AZ_TIMEOUT_MS);
	for (int i = 0; i < 2; i++)
		if (rd[i] >= 0)
			close(rd[i]);
	if (pid < 0) {
		*ex = EXIT_SOFTWARE;
		goto out;
	}
	int st = d ? proc_stop_group(pid, SIGTERM, 2000, "az") : 0;
	if (!d)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	if (verbose)
		fprintf(stderr, "%s: < az account get-access-token -> exit %d (%lld ms)\n",
			progname, exit_status(st), now_ms() - t0);
	char why[512];
	first_line(&err, why, sizeof why);
	if (d != 0) {
		warnx_("the Azure CLI did not answer: %s",
		       d > 0 ? "'az account get-access-token' timed out"
			     : "its output is too long");
		*ex = EXIT_UNAVAIL;
	} else if (exit_status(st) != 0) {
		int login = strstr(why, "az login") != NULL;
		warnx_("the Azure CLI failed (exit %d): %s", exit_status(st),
		       why[0] ? why : "it printed nothing");
		*ex = login ? EXIT_CONFIG : EXIT_UNAVAIL;
	} else
		rc = read_answer(a, &out, ex);
out:
	if (out.p)
		explicit_bzero(out.p, out.len);
	buf_free(&out);
	buf_free(&err);
	if (rc == 0)
		*ex = 0;
	return rc;
}

/* The value of key in [section] of INI text p (configparser's "key = value" or
 * "key: value"; keys in any case) into out; 1 when found. */
static int ini_get(const char *p, const char *section, const char *key, char *out, size_t n)
{
	int in = 0;
	for (const char *l = p; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		size_t len = strcspn(l, "\r\n");
		while (len && (*l == ' ' || *l == '\t'))
			l++, len--;
		if (len && *l == '[') {
			size_t k = strlen(section);
			in = len >= k + 2 && !strncmp(l + 1, section, k) && l[k + 1] == ']';
			continue;
		}
		size_t kl = strlen(key), eq = strcspn(l, "=:\r\n");
		if (!in || eq >= len || eq < kl || strncasecmp(l, key, kl) ||
		    strspn(l + kl, " \t") != eq - kl)
			continue;
		const char *v = l + eq + 1;
		size_t vl = len - eq - 1;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		snprintf(out, n, "%.*s", (int)vl, v);
		return vl > 0;
	}
	return 0;
}

int azcli_cloud(char *name, size_t n, char *where, size_t wn)
{
	/* az's config: AZURE_CONFIG_DIR or ~/.azure, file "config", and knack's environment
	 * override AZURE_<SECTION>_<OPTION> (azure-cli-core _config.py, _environment.py) */
	const char *e = getenv("AZURE_CLOUD_NAME"), *dir = getenv("AZURE_CONFIG_DIR");
	const char *home = getenv("HOME");
	if (e && *e) {
		snprintf(name, n, "%s", e);
		snprintf(where, wn, "AZURE_CLOUD_NAME");
		return 1;
	}
	if (dir && *dir)
		snprintf(where, wn, "%s/config", dir);
	else if (home && *home)
		snprintf(where, wn, "%s/.azure/config", home);
	else
		return 0;
	struct buf b = {.max = 1 << 20};
	int rc =
		read_file(where, 1 << 20, &b) == 0 && b.p && ini_get(b.p, "cloud", "name", name, n);
	buf_free(&b);
	return rc;
}
