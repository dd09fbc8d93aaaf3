/*
 * bench/fanout.c: creates N worker-shaped container groups through the aci backend
 * and deletes them, timing each phase; for `make bench` against t/fake-azure with
 * added latency. Usage: fanout N PARALLEL. Prints one JSON line.
 */
#include "legion.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	long long n, par;
	if (argc != 3 || parse_int(argv[1], 1, 1000, &n) < 0 ||
	    parse_int(argv[2], 1, 64, &par) < 0) {
		fprintf(stderr, "usage: fanout N PARALLEL\n");
		return EXIT_USAGE;
	}
	struct backend_cfg o = {
		.location = "westus", .resource_group = "legion-bench", .parallel = par};
	struct backend be = {.ops = &backend_aci};
	int ex = 0;
	if (http_init() < 0 || be.ops->open(&be, &o, &ex) < 0)
		return ex ? ex : 1;
	struct group *gs = calloc((size_t)n, sizeof *gs);
	char **names = calloc((size_t)n, sizeof *names);
	char run[9];
	random_hex(run, 4);
	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof name, "legion-%s-bench-w%d", run, i + 1);
		gs[i].name = strdup(name);
		gs[i].image = strdup("legion/spark:bench");
		gs[i].argv = calloc(2, sizeof *gs[i].argv);
		gs[i].argv[0] = strdup("legion-worker");
		gs[i].cpu = 1;
		gs[i].memory_mb = 2048;
		gs[i].exit_code = -1;
		group_settag(&gs[i], "legion-cluster", "legion-00000000");
		group_settag(&gs[i], "legion-role", "worker");
		names[i] = gs[i].name;
	}
	long long t0 = now_ms();
	int rc = be.ops->create(&be, gs, (int)n, &ex);
	long long t1 = now_ms();
	if (rc == 0)
		rc = be.ops->remove(&be, names, (int)n, &ex);
	long long t2 = now_ms();
	printf("{\"groups\":%lld,\"parallel\":%lld,\"createMs\":%lld,\"deleteMs\":%lld,\"ok\":%s}"
	       "\n",
	       n, par, t1 - t0, t2 - t1, rc == 0 ? "true" : "false");
	groups_free(gs, (int)n);
	free(names);
	be.ops->close(&be);
	http_cleanup();
	return rc == 0 ? 0 : 1;
}
