/*
 * storage.c: how a cluster's Spark reaches Azure storage (--storage-auth key|sp|msi):
 * which credential the master's container gets, as environment for legion-master (the
 * secret as a secure value, never an argument), checked before anything is created.
 * Leaves out the Spark properties (helpers/legion-master.c writes them into its 0600
 * properties file) and the tokens (hadoop-azure in the driver fetches them).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum { STORAGE_NONE, STORAGE_KEY, STORAGE_SP, STORAGE_MSI };

/* What the master needs for one mode; strings are the environment's or a's. */
struct storage {
	int mode;
	const char *acct, *key;      /* key; acct also narrows sp and msi to one account */
	const char *client, *tenant; /* sp, msi (optional for msi) */
	char endpoint[1024];         /* sp: the token endpoint; msi: IMDS's, or "" */
	struct auth a;               /* sp: the CLI's service principal */
};

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* A storage account name: 3-24 lowercase letters and digits. */
static int account_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 3 && n <= 24 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

/* The credential of sp: the CLI's own service principal with a client secret, at the
 * login host of the CLI's cloud. */
static int find_sp(const struct opts *o, struct storage *st)
{
	int ex = 0;
	if (auth_init(&st->a, o->cloud, &ex) < 0)
		return ex;
	if (st->a.kind != AUTH_SECRET) {
		warnx_("--storage-auth sp: no service principal with a client secret (set "
		       "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID; hadoop-azure "
		       "takes no certificate): or use --storage-auth msi or key");
		return EXIT_CONFIG;
	}
	st->client = st->a.client_id;
	st->tenant = st->a.tenant;
	snprintf(st->endpoint, sizeof st->endpoint, "%s/%s/oauth2/token", st->a.authority,
		 st->tenant);
	return 0;
}

/* The managed identity of msi: the master container's (--identity on aci), this
 * machine's on local; AZURE_CLIENT_ID picks one of several. */
static int find_msi(const struct opts *o, struct storage *st)
{
	if (!strcmp(o->backend, "fargate"))
		return bad(o, "--storage-auth msi: the fargate backend's containers have no Azure "
			      "managed identity: use sp or key");
	if (!strcmp(o->backend, "aci") && !o->identity)
		return bad(o, "--storage-auth msi: the master's container needs a managed "
			      "identity: give --identity IDENTITY_ID (with the Storage Blob Data "
			      "role on the account)");
	st->client = env("AZURE_CLIENT_ID");
	st->tenant = env("AZURE_TENANT_ID");
	const char *imds = env("LEGION_IMDS_ENDPOINT");
	if (imds) {
		size_t n = strlen(imds);
		while (n > 0 && imds[n - 1] == '/')
			n--;
		snprintf(st->endpoint, sizeof st->endpoint, "%.*s/metadata/identity/oauth2/token",
			 (int)n, imds);
	}
	return 0;
}

/* Resolves the mode and its credential into st: 0 or the exit code after a message. */
static int resolve(const struct opts *o, struct storage *st)
{
	const char *m = o->storage_auth;
	memset(st, 0, sizeof *st);
	st->acct = env("AZURE_STORAGE_ACCOUNT_NAME");
	st->key = env("AZURE_STORAGE_ACCOUNT_KEY");
	if (!m)
		m = st->key ? "key" : NULL;
	if (!m)
		return 0;
	if (o->master && o->storage_auth)
		return bad(o, "--storage-auth applies to a master this command creates; the "
			      "cluster --master names keeps the storage access it was made with");
	if (st->acct && !account_ok(st->acct)) {
		warnx_("AZURE_STORAGE_ACCOUNT_NAME: '%s' is not a storage account name (3-24 "
		       "lowercase letters and digits)",
		       st->acct);
		return EXIT_CONFIG;
	}
	st->mode = !strcmp(m, "key") ? STORAGE_KEY : !strcmp(m, "sp") ? STORAGE_SP : STORAGE_MSI;
	if (st->mode == STORAGE_KEY && (!st->acct || !st->key)) {
		warnx_("--storage-auth key: set AZURE_STORAGE_ACCOUNT_NAME and "
		       "AZURE_STORAGE_ACCOUNT_KEY (the account's access key)");
		return EXIT_CONFIG;
	}
	return st->mode == STORAGE_SP    ? find_sp(o, st)
	       : st->mode == STORAGE_MSI ? find_msi(o, st)
					 : 0;
}

int storage_check(const struct opts *o)
{
	struct storage st;
	int ex = resolve(o, &st);
	auth_free(&st.a);
	return ex;
}

/* name=value on g when value is set (secure: a secret). */
static int setenv_if(struct group *g, const char *name, const char *value, int secure)
{
	return value && *value ? group_setenv(g, name, value, secure) : 0;
}

int storage_env(const struct opts *o, struct group *g)
{
	struct storage st;
	int rc = resolve(o, &st) ? -1 : 0;
	if (!rc && st.mode == STORAGE_KEY)
		rc = group_setenv(g, "AZURE_STORAGE_ACCOUNT_NAME", st.acct, 0) |
		     group_setenv(g, "AZURE_STORAGE_ACCOUNT_KEY", st.key, 1);
	else if (!rc && st.mode != STORAGE_NONE)
		rc = group_setenv(g, "LEGION_STORAGE_AUTH", st.mode == STORAGE_SP ? "sp" : "msi",
				  0) |
		     setenv_if(g, "AZURE_STORAGE_ACCOUNT_NAME", st.acct, 0) |
		     setenv_if(g, "LEGION_STORAGE_CLIENT_ID", st.client, 0) |
		     setenv_if(g, "LEGION_STORAGE_TENANT", st.tenant, 0) |
		     setenv_if(g, "LEGION_STORAGE_TOKEN_ENDPOINT", st.endpoint, 0) |
		     setenv_if(g, "LEGION_STORAGE_CLIENT_SECRET",
			       st.mode == STORAGE_SP ? st.a.secret : NULL, 1);
	auth_free(&st.a);
	return rc;
}
