/*
 * t/check.h: the C test drivers' TAP reporter (t/json_test.c, t/httpd_test.c,
 * t/auth_test.c, t/sigv4_test.c). One "ok N - what" or "not ok N - what (file:line)" line
 * a check; the driver prints the plan and exits non-zero when failed > 0.
 */
#ifndef LEGION_T_CHECK_H
#define LEGION_T_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int passed, failed;

static int check_at(int ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int check_at(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	printf("%s %d - ", ok ? "ok" : "not ok", passed + failed + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok && file)
		printf(" (%s:%d)", file, line);
	putchar('\n');
	if (ok)
		passed++;
	else
		failed++;
	return ok;
}
/* CHECK(condition, "what", ...): the line is named when it fails. */
#define CHECK(cond, ...) check_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* check(ok, "what", ...): the same without the line. */
#define check(ok, ...) check_at((ok), NULL, 0, __VA_ARGS__)

#endif
