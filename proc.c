/*
 * proc.c: process groups and files for the programs that run others: starting a command
 * in its own process group, stopping a group with a grace, PATH search and recursive
 * delete. Leaves out what to run and when: the callers decide.
 */
#include "legion.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child's side of proc_spawn: only async-signal-safe calls. */
static void child(char *const argv[], char *const env[], const char *cwd, const int fds[3],
		  int maxfd, const char *msg, size_t msgn)
{
	static const int sigs[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	sigemptyset(&dfl.sa_mask);
	sigemptyset(&none);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &dfl, NULL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	for (int i = 0; fds && i < 3; i++)
		if (fds[i] != i && dup2(fds[i], i) < 0)
			_exit(EXIT_NOEXEC);
	for (int fd = 3; fd < maxfd; fd++)
		close(fd); /* sockets accepted by other threads may lack FD_CLOEXEC yet */
	if (cwd && chdir(cwd) < 0)
		_exit(EXIT_NOEXEC);
	execve(argv[0], argv, env);
	int e = errno;
	ssize_t w = write(2, msg, msgn);
	(void)w;
	_exit(e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
}

pid_t proc_spawn(char *const argv[], char *const env[], const char *cwd, const int fds[3],
		 const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof msg, "%s: fatal: unable to run %s: exec failed\n", progname,
			 what);
	size_t msgn = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
	int use[3], devnull = -1;
	for (int i = 0; fds && i < 3; i++) {
		if (fds[i] < 0 && devnull < 0 &&
		    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
			warn_("unable to open /dev/null");
			return -1;
		}
		use[i] = fds[i] < 0 ? devnull : fds[i];
	}
	struct rlimit rl;
	int maxfd = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		maxfd = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	pid_t pid = fork();
	if (pid == 0)
		child(argv, env, cwd, fds ? use : NULL, maxfd, msg, msgn);
	if (pid < 0)
		warn_("unable to fork");
	else
		setpgid(pid, pid); /* also here: no window where a kill of the group misses it */
	if (devnull >= 0)
		close(devnull);
	return pid;
}

int proc_stop_group(pid_t pid, int sig, long grace_ms, const char *what)
{
	int status = 0;
	kill(-pid, sig);
	long long end = now_ms() + grace_ms;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (now_ms() >= end) {
			warnx_("%s did not stop in %lds: killing it", what, grace_ms / 1000);
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		sleep_ms(50, NULL);
	}
	kill(-pid, SIGKILL); /* anything left in the group */
	return status;
}

int proc_which(const char *prog, const char *path, char *out, size_t n)
{
	if (strchr(prog, '/')) {
		if (strlen(prog) >= n) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcpy(out, prog);
		return 0;
	}
	if (!path)
		path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t k = strcspn(path, ":");
		int w = k ? snprintf(out, n, "%.*s/%s", (int)k, path, prog)
			  : snprintf(out, n, "./%s", prog);
		struct stat sb;
		if (w > 0 && (size_t)w < n && stat(out, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
		path += k;
		if (*path == ':')
			path++;
	}
	errno = ENOENT;
	return -1;
}

void proc_rm_tree(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[PATH_MAX];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (keep && !strcmp(e->d_name, keep)))
			continue;
		if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
			continue;
		struct stat sb;
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			proc_rm_tree(p, NULL);
			rmdir(p);
		} else
			unlink(p);
	}
	closedir(d);
}
