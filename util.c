/*
 * util.c: messages, growable buffers, number/size/duration parsing, randomness and
 * small file helpers shared by legion and the helpers. Leaves out anything that
 * knows about HTTP, JSON or Azure.
 */
#include "legion.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *progname = "legion";
int verbose;

static void vmsg(const char *fmt, va_list ap, int err)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "%s: ", progname);
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (err)
		fprintf(stderr, "%s: %s\n", line, strerror(err));
	else
		fprintf(stderr, "%s\n", line);
}

void warnx_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap, 0);
	va_end(ap);
}

void warn_(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap, e);
	va_end(ap);
}

#define BUF_DEFAULT_MAX ((size_t)64 << 20)

int buf_add(struct buf *b, const void *data, size_t n)
{
	size_t max = b->max ? b->max : BUF_DEFAULT_MAX;
	if (n > max || b->len > max - n)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof small)
		return buf_add(b, small, (size_t)n);
	char *big = malloc((size_t)n + 1);
	if (!big)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

int buf_add_pct(struct buf *b, const char *s, size_t n, const char *keep)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || (c && (strchr("-._~", c) || strchr(keep, c)));
		if ((plain ? buf_add(b, &s[i], 1) : buf_addf(b, "%%%02X", c)) < 0)
			return -1;
	}
	return 0;
}

int buf_add_form(struct buf *b, const char *key, const char *value)
{
	if (buf_addf(b, "%s%s=", b->len ? "&" : "", key) < 0)
		return -1;
	return buf_add_pct(b, value, strlen(value), "");
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *buf_take(struct buf *b)
{
	char *p = b->p;
	if (!p)
		p = calloc(1, 1);
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

int parse_int(const char *s, long long lo, long long hi, long long *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int parse_size_mib(const char *s, long long max_mib, long long *mib)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -1;
	if (strspn(s, "0123456789.") != (size_t)(end - s))
		return -1; /* strtod also reads exponents and hex: 1e3g, 0x400m */
	double scale;      /* bytes per unit, then divided into MiB */
	switch (tolower((unsigned char)*end)) {
	case '\0': scale = 1.0 / (1024 * 1024); break;
	case 'k': scale = 1.0 / 1024; break;
	case 'm': scale = 1; break;
	case 'g': scale = 1024; break;
	case 't': scale = 1024.0 * 1024; break;
	default: return -1;
	}
	if (*end) {
		end++;
		if (tolower((unsigned char)*end) == 'i')
			end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
		if (*end)
			return -1;
	}
	double m = v * scale;
	if (m > (double)max_mib || m < 1)
		return -1;
	/* exact for the sizes people write (1.5g = 1536m); fractions of a MiB round up */
	long long r = (long long)m;
	if ((double)r < m)
		r++;
	if (r > max_mib)
		return -1;
	*mib = r;
	return 0;
}

int parse_duration(const char *s, long long hi, long long *secs)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -1;
	long long unit = 1;
	if (*end) {
		switch (*end) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -1;
		}
		if (end[1])
			return -1;
	}
	if (v > hi / unit)
		return -1;
	*secs = v * unit;
	return 0;
}

int random_bytes(void *p, size_t n)
{
	unsigned char *c = p;
	while (n > 0) {
		ssize_t r = getrandom(c, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		c += r;
		n -= (size_t)r;
	}
	if (n == 0)
		return 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		warn_("unable to open /dev/urandom");
		return -1;
	}
	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			close(fd);
			warn_("unable to read /dev/urandom");
			return -1;
		}
		c += r;
		n -= (size_t)r;
	}
	close(fd);
	return 0;
}

int random_hex(char *out, size_t n)
{
	unsigned char raw[64];
	if (n > sizeof raw || random_bytes(raw, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int read_file(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			errno = EISDIR;
		close(fd);
		return -1;
	}
	out->max = max;
	char chunk[65536];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		if (buf_add(out, chunk, (size_t)r) < 0) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	if (!out->p && buf_add(out, "", 0) < 0)
		return -1;
	return 0;
}

int write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	if (!tmp)
		return -1;
	snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	int rc = fchmod(fd, mode);
	const char *c = p;
	size_t left = n;
	while (rc == 0 && left > 0) {
		ssize_t w = write(fd, c, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -1;
		else {
			c += w;
			left -= (size_t)w;
		}
	}
	if (close(fd) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sleep_ms(long long ms, volatile sig_atomic_t *stop)
{
	long long end = now_ms() + ms;
	for (;;) {
		if (stop && *stop)
			return 1;
		long long left = end - now_ms();
		if (left <= 0)
			return 0;
		if (left > 100)
			left = 100;
		struct timespec ts = {left / 1000, (left % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

int base64_encode(const void *data, size_t n, struct buf *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char q[4];
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		if (buf_add(out, q, 4) < 0)
			return -1;
	}
	return buf_add(out, "", 0);
}

/* A base64 digit's value: the standard alphabet, and with lenient the URL one too. */
static int b64_digit(unsigned char c, int lenient)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || (lenient && c == '-'))
		return 62;
	if (c == '/' || (lenient && c == '_'))
		return 63;
	return -1;
}

int base64_stream_decode(struct base64_stream *d, const char *s, size_t n, unsigned char *out,
			 size_t *outn)
{
	size_t o = 0;
	*outn = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (d->lenient && (c == ' ' || c == '\n' || c == '\r' || c == '\t'))
			continue;
		if (c == '=') {
			d->pad++;
			continue;
		}
		int v = b64_digit(c, d->lenient);
		if (v < 0 || d->pad)
			return -1;
		d->acc = (d->acc << 6) | (unsigned)v;
		d->bits += 6;
		if (d->bits >= 8) {
			d->bits -= 8;
			out[o++] = (unsigned char)(d->acc >> d->bits);
			d->acc &= (1u << d->bits) - 1;
		}
	}
	*outn = o;
	return 0;
}

int base64_stream_end(const struct base64_stream *d)
{
	return d->lenient && (d->bits >= 6 || d->pad > 2) ? -1 : 0;
}

int base64_decode(const char *s, size_t n, struct buf *out)
{
	struct base64_stream d = {0};
	unsigned char chunk[3 * 1024 + 3];
	if (buf_add(out, "", 0) < 0)
		return -1;
	for (size_t i = 0, k; i < n; i += k) {
		size_t m;
		k = n - i < 4096 ? n - i : 4096;
		if (base64_stream_decode(&d, s + i, k, chunk, &m) < 0 || buf_add(out, chunk, m) < 0)
			return -1;
	}
	return base64_stream_end(&d);
}

int legion_home(char *out, size_t n)
{
	const char *h = getenv("LEGION_HOME"), *xdg = getenv("XDG_STATE_HOME"),
		   *home = getenv("HOME");
	int k;
	if (h && *h)
		k = snprintf(out, n, "%s", h);
	else if (xdg && *xdg)
		k = snprintf(out, n, "%s/legion", xdg);
	else if (home && *home)
		k = snprintf(out, n, "%s/.local/state/legion", home);
	else {
		warnx_("no state folder: set HOME, XDG_STATE_HOME or LEGION_HOME");
		return -1;
	}
	if (k < 0 || (size_t)k >= n || out[0] != '/') {
		warnx_("state folder '%s': give an absolute path shorter than %zu bytes", out, n);
		return -1;
	}
	return 0;
}

int state_dir(const char *dir)
{
	struct stat st;
	if (mkdirs(dir, 0700) < 0) {
		warn_("unable to create %s", dir);
		return -1;
	}
	if (lstat(dir, &st) < 0) {
		warn_("unable to use %s", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		warnx_("refusing state folder %s: not a folder (a symbolic link?)", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		warnx_("refusing state folder %s: owned by uid %ld, not by this user (%ld)", dir,
		       (long)st.st_uid, (long)geteuid());
		return -1;
	}
	if (st.st_mode & 022) {
		warnx_("refusing state folder %s: others may write to it (chmod go-w %s)", dir,
		       dir);
		return -1;
	}
	return 0;
}

int mkdirs(const char *path, mode_t mode)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}
