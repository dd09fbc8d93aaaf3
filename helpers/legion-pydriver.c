/*
 * helpers/legion-pydriver: a Python driver's python (legion-jobd makes it the job's
 * spark.pyspark.driver.python). Points fd 2 at the FIFO $LEGION_STDERR, which the job
 * daemon reads as the job's stderr (spark-submit's PythonRunner would merge it into the
 * driver's stdout), then execs $LEGION_DRIVER_PYTHON (default python3) with its own
 * arguments. Leaves out everything else: without the FIFO the python keeps its stderr.
 *
 * Exit codes: those of the python; 126 / 127 when it could not be run.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE                                                                                      \
	"usage: legion-pydriver [PYTHON-ARG...]  (LEGION_STDERR=FIFO, "                            \
	"LEGION_DRIVER_PYTHON=PROG)"

int main(int argc, char **argv)
{
	progname = "legion-pydriver";
	if (argc == 2 && !strcmp(argv[1], "-h")) {
		printf("%s\n", USAGE);
		return 0;
	}
	const char *fifo = getenv("LEGION_STDERR"), *py = getenv("LEGION_DRIVER_PYTHON");
	if (!py || !*py)
		py = "python3";
	if (fifo && *fifo) {
		/* the daemon holds the read end open: a missing reader is not waited for */
		int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			warn_("unable to open %s: stderr stays with stdout", fifo);
		else if (fcntl(fd, F_SETFL, 0) < 0 || dup2(fd, 2) < 0)
			warn_("unable to use %s: stderr stays with stdout", fifo);
		if (fd >= 0)
			close(fd);
	}
	char *prog = strdup(py);
	unsetenv("LEGION_STDERR");
	unsetenv("LEGION_DRIVER_PYTHON");
	if (!prog) {
		warnx_("fatal: out of memory");
		return EXIT_NOEXEC;
	}
	argv[0] = prog;
	execvp(prog, argv);
	int e = errno;
	warn_("fatal: unable to run %s", prog);
	return e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
}
