/*
 * json.c: reads JSON through jsmn tokens that point into the caller's buffer (fed
 * incrementally as bytes arrive), decodes strings and numbers on demand, and writes
 * every JSON document we produce through one escaping writer. Leaves out a tree,
 * per-field copies and any schema knowledge.
 */
#define LEGION_JSMN_IMPL
#include "legion.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_TOKENS (1 << 24)

static void seterr(char *err, const char *msg, size_t pos)
{
	if (err)
		snprintf(err, 128, "%s at byte %zu", msg, pos);
}

/* A primitive must be true, false, null or a number in JSON's grammar. */
static int valid_primitive(const char *s, size_t n)
{
	if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
	    (n == 4 && !memcmp(s, "null", 4)))
		return 1;
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	return i == n;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* 1 when s[a..b) is white space around exactly one sep (or white space only when sep
 * is 0). */
static int gap_ok(const char *s, int a, int b, char sep)
{
	while (a < b && is_ws(s[a]))
		a++;
	if (sep) {
		if (a >= b || s[a] != sep)
			return 0;
		a++;
		while (a < b && is_ws(s[a]))
			a++;
	}
	return a == b;
}

/* Where a token's text begins and ends, a string's quotes included. */
static int span_start(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->start - 1 : t->start;
}
static int span_end(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

/* What jsmn lets through: separators (it skips ',' and ':' wherever they are), object
 * members that are not "string: value", bad primitives, and strings with raw control
 * characters. One pass over the tokens in document order, through parent links: the
 * text between a container's children must be exactly one ',' (one ':' after a key). */
static int validate(const struct json *j, char *err)
{
	int *last = malloc((size_t)j->n * sizeof *last); /* per container: end of its last child */
	const char *msg = NULL;
	int at = 0;
#define FAIL(m, pos)                                                                               \
	do {                                                                                       \
		msg = (m);                                                                         \
		at = (pos);                                                                        \
		goto out;                                                                          \
	} while (0)
	if (!last)
		FAIL("out of memory", 0);
	for (int i = 0; i < j->n; i++) {
		const jsmntok_t *t = &j->t[i];
		last[i] = -1;
		if (t->type == JSMN_PRIMITIVE &&
		    !valid_primitive(j->s + t->start, (size_t)(t->end - t->start)))
			FAIL("invalid literal", t->start);
		for (int k = t->start; t->type == JSMN_STRING && k < t->end; k++)
			if ((unsigned char)j->s[k] < 0x20)
				FAIL("control character in string", k);
		if (i == 0)
			continue;
		int p = t->parent, c = p;
		char sep;
		if (p < 0 || p >= i || j->t[p].type == JSMN_PRIMITIVE)
			FAIL("invalid JSON", span_start(t));
		if (j->t[p].type == JSMN_STRING) { /* a value after its key */
			c = j->t[p].parent;
			if (c < 0 || j->t[c].type != JSMN_OBJECT || j->t[p].size != 1)
				FAIL("object member is not \"key\": value", span_start(&j->t[p]));
			sep = ':';
		} else if (j->t[p].type == JSMN_OBJECT && t->type != JSMN_STRING) {
			FAIL("object member is not \"key\": value", span_start(t));
		} else
			sep = last[c] < 0 ? 0 : ',';
		int from = last[c] < 0 ? j->t[c].start + 1 : last[c];
		if (!gap_ok(j->s, from, span_start(t), sep))
			FAIL(sep == ':' ? "expected ':' after a key"
			     : sep      ? "expected ',' between values"
					: "unexpected text",
			     from);
		last[c] = span_end(t);
	}
	for (int i = 0; i < j->n; i++) {
		const jsmntok_t *t = &j->t[i];
		int from = last[i] < 0 ? t->start + 1 : last[i];
		if ((t->type == JSMN_OBJECT || t->type == JSMN_ARRAY) &&
		    !gap_ok(j->s, from, t->end - 1, 0))
			FAIL("unexpected text before the closing bracket", from);
		if (t->type == JSMN_STRING && t->parent >= 0 &&
		    j->t[t->parent].type == JSMN_OBJECT && t->size != 1)
			FAIL("object member is not \"key\": value", span_start(t));
	}
#undef FAIL
out:
	free(last);
	if (msg)
		seterr(err, msg, (size_t)at);
	return msg ? -1 : 0;
}

/* Where s[0..n) nests deeper than JSON_MAX_DEPTH ([ and { outside strings), or -1: a
 * byte scan first, as jsmn's parent walk costs the square of the depth. */
static long too_deep(const char *s, size_t n)
{
	int depth = 0, in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"')
			in_str = 1;
		else if ((c == '[' || c == '{') && ++depth > JSON_MAX_DEPTH)
			return (long)i;
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
	}
	return -1;
}

int json_parse(struct json *j, const char *s, size_t len, char err[128])
{
	if (len > (size_t)INT32_MAX) {
		seterr(err, "document too large", 0);
		return -1;
	}
	long deep = too_deep(s, len);
	if (deep >= 0) {
		seterr(err, "nested too deep", (size_t)deep);
		return -1;
	}
	if (!j->t) {
		jsmn_init(&j->p);
		j->n = 0;
	}
	j->s = s;
	j->len = len;
	for (;;) {
		int r = j->t ? jsmn_parse(&j->p, s, len, j->t, (unsigned)j->cap) : JSMN_ERROR_NOMEM;
		if (r == JSMN_ERROR_NOMEM) {
			int cap = j->cap ? j->cap * 2 : 64;
			if (cap > JSON_MAX_TOKENS) {
				seterr(err, "too many values", j->p.pos);
				return -1;
			}
			jsmntok_t *t = realloc(j->t, (size_t)cap * sizeof *t);
			if (!t) {
				seterr(err, "out of memory", j->p.pos);
				return -1;
			}
			j->t = t;
			j->cap = cap;
			continue;
		}
		if (r == JSMN_ERROR_PART) {
			/* jsmn stops at a NUL byte and would wait for more forever */
			if (memchr(s + j->p.pos, '\0', len - j->p.pos)) {
				seterr(err, "NUL byte in the document", j->p.pos);
				return -1;
			}
			/* what came so far can already be refused: more bytes would not help */
			size_t k = 0;
			while (k < len && is_ws(s[k]))
				k++;
			if (k < len && s[k] != '{' && s[k] != '[') {
				seterr(err, "document is not an object or array", k);
				return -1;
			}
			if (j->p.toknext > 0 && j->t[0].type != JSMN_OBJECT &&
			    j->t[0].type != JSMN_ARRAY) {
				seterr(err, "document is not an object or array", 0);
				return -1;
			}
			if (j->p.toknext > 0 && j->t[0].end >= 0) {
				seterr(err, "trailing data after the document",
				       (size_t)j->t[0].end);
				return -1;
			}
			return JSON_MORE;
		}
		if (r == JSMN_ERROR_INVAL) {
			seterr(err, "invalid JSON", j->p.pos);
			return -1;
		}
		j->n = (int)j->p.toknext;
		break;
	}
	if (j->n == 0) {
		/* only white space so far; a NUL byte stops jsmn */
		size_t k = 0;
		while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
			k++;
		if (k < len) {
			seterr(err, "invalid JSON", k);
			return -1;
		}
		return JSON_MORE;
	}
	if (j->t[0].type == JSMN_PRIMITIVE || j->t[0].type == JSMN_STRING) {
		seterr(err, "document is not an object or array", 0);
		return -1;
	}
	if (!gap_ok(s, 0, j->t[0].start, 0)) { /* jsmn skips a ',' or ':' before it too */
		seterr(err, "unexpected text before the document", 0);
		return -1;
	}
	size_t k = (size_t)j->t[0].end;
	while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
		k++;
	if (k < len) {
		seterr(err, "trailing data after the document", k);
		return -1;
	}
	return validate(j, err);
}

void json_free(struct json *j)
{
	free(j->t);
	memset(j, 0, sizeof *j);
}

int json_skip(const struct json *j, int i)
{
	if (i < 0 || i >= j->n)
		return j->n;
	int end = j->t[i].end;
	int k = i + 1;
	while (k < j->n && j->t[k].start < end)
		k++;
	return k;
}

int json_get(const struct json *j, int i, const char *key)
{
	if (i < 0 || i >= j->n || j->t[i].type != JSMN_OBJECT)
		return -1;
	int k = i + 1;
	for (int m = 0; m < j->t[i].size && k < j->n; m++) {
		if (json_eq(j, k, key))
			return k + 1 < j->n ? k + 1 : -1;
		k = json_skip(j, k + 1);
	}
	return -1;
}

int json_at(const struct json *j, int i, int nth)
{
	if (i < 0 || i >= j->n || j->t[i].type != JSMN_ARRAY || nth < 0 || nth >= j->t[i].size)
		return -1;
	int k = i + 1;
	for (int m = 0; m < nth; m++)
		k = json_skip(j, k);
	return k < j->n ? k : -1;
}

int json_path(const struct json *j, int i, const char *path)
{
	char part[128];
	while (i >= 0 && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof part)
			return -1;
		memcpy(part, path, n);
		part[n] = '\0';
		path += n + (path[n] == '.');
		if (i < j->n && j->t[i].type == JSMN_ARRAY) {
			long long idx;
			if (parse_int(part, 0, INT32_MAX, &idx) < 0)
				return -1;
			i = json_at(j, i, (int)idx);
		} else
			i = json_get(j, i, part);
	}
	return i;
}

int json_eq(const struct json *j, int i, const char *s)
{
	if (i < 0 || i >= j->n || j->t[i].type != JSMN_STRING)
		return 0;
	const char *p = j->s + j->t[i].start;
	size_t n = (size_t)(j->t[i].end - j->t[i].start);
	if (!memchr(p, '\\', n))
		return strlen(s) == n && !memcmp(p, s, n);
	struct buf b = {0};
	int eq = json_unescape(p, n, &b) == 0 && b.len == strlen(s) && !memcmp(b.p, s, b.len);
	buf_free(&b);
	return eq;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct buf *b, unsigned cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(b, u, n);
}

int json_unescape(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	if (buf_add(out, "", 0) < 0)
		return -1;
	while (i < n) {
		size_t run = i;
		while (run < n && s[run] != '\\')
			run++;
		if (run > i && buf_add(out, s + i, run - i) < 0)
			return -1;
		i = run;
		if (i >= n)
			break;
		if (i + 1 >= n)
			return -1;
		char c = s[i + 1], lit;
		i += 2;
		switch (c) {
		case '"': lit = '"'; break;
		case '\\': lit = '\\'; break;
		case '/': lit = '/'; break;
		case 'b': lit = '\b'; break;
		case 'f': lit = '\f'; break;
		case 'n': lit = '\n'; break;
		case 'r': lit = '\r'; break;
		case 't': lit = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (i + 4 > n || hex4(s + i, &cp) < 0)
				return -1;
			i += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1; /* a lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' ||
				    hex4(s + i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					return -1; /* a high surrogate needs its low half */
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0)
				return -1; /* NUL would cut our C strings short */
			if (put_utf8(out, cp) < 0)
				return -1;
			continue;
		}
		default: return -1;
		}
		if (buf_add(out, &lit, 1) < 0)
			return -1;
	}
	return 0;
}

char *json_str(const struct json *j, int i)
{
	if (i < 0 || i >= j->n || j->t[i].type != JSMN_STRING)
		return NULL;
	struct buf b = {0};
	if (json_unescape(j->s + j->t[i].start, (size_t)(j->t[i].end - j->t[i].start), &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

int json_strcpy(const struct json *j, int i, char *dst, size_t n)
{
	char *s = json_str(j, i);
	if (!s)
		return -1;
	size_t len = strlen(s);
	int rc = -1;
	if (len < n) {
		memcpy(dst, s, len + 1);
		rc = 0;
	}
	free(s);
	return rc;
}

/* The token's text when it is a number, or a string holding one (IMDS). */
static int number_text(const struct json *j, int i, char *tmp, size_t n)
{
	if (i < 0 || i >= j->n)
		return -1;
	const jsmntok_t *t = &j->t[i];
	size_t len = (size_t)(t->end - t->start);
	if (t->type != JSMN_PRIMITIVE && t->type != JSMN_STRING)
		return -1;
	if (len == 0 || len >= n || !valid_primitive(j->s + t->start, len))
		return -1;
	memcpy(tmp, j->s + t->start, len);
	tmp[len] = '\0';
	if (tmp[0] != '-' && (tmp[0] < '0' || tmp[0] > '9'))
		return -1;
	return 0;
}

int json_int(const struct json *j, int i, long long *out)
{
	char tmp[64];
	if (number_text(j, i, tmp, sizeof tmp) < 0)
		return -1;
	return parse_int(tmp, INT64_MIN, INT64_MAX, out);
}

int json_num(const struct json *j, int i, double *out)
{
	char tmp[64], *end;
	if (number_text(j, i, tmp, sizeof tmp) < 0)
		return -1;
	double v = strtod(tmp, &end); /* underflow (5e-324, 1e-400) is still a number */
	if (*end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int json_bool(const struct json *j, int i)
{
	if (i < 0 || i >= j->n || j->t[i].type != JSMN_PRIMITIVE)
		return -1;
	const char *p = j->s + j->t[i].start;
	if (*p == 't')
		return 1;
	if (*p == 'f')
		return 0;
	return -1;
}

/* ---- writer ---- */

int json_quote(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (buf_add(b, "\"", 1) < 0)
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				u[0] = '\\';
				u[1] = 'u';
				u[2] = '0';
				u[3] = '0';
				u[4] = hex[c >> 4];
				u[5] = hex[c & 15];
				u[6] = '\0';
				esc = u;
			}
		}
		if (!esc)
			continue;
		if (buf_add(b, s + run, i - run) < 0 || buf_adds(b, esc) < 0)
			return -1;
		run = i + 1;
	}
	if (buf_add(b, s + run, n - run) < 0 || buf_add(b, "\"", 1) < 0)
		return -1;
	return 0;
}

/* The separator and key that come before every value. */
static void jw_pre(struct jw *w, const char *key)
{
	if (w->err)
		return;
	/* a key exactly inside objects; one value at the top */
	if ((key != NULL) != (w->depth > 0 && w->kind[w->depth] == '}') ||
	    (w->depth == 0 && w->b.len > 0)) {
		w->err = 1;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth] && buf_add(&w->b, ",", 1) < 0)
			w->err = 1;
		w->first[w->depth] = 0;
	}
	if (key && (json_quote(&w->b, key, strlen(key)) < 0 || buf_add(&w->b, ":", 1) < 0))
		w->err = 1;
}

static void jw_open(struct jw *w, const char *key, char c)
{
	jw_pre(w, key);
	if (w->err)
		return;
	if (w->depth + 1 >= (int)sizeof w->first || buf_add(&w->b, &c, 1) < 0) {
		w->err = 1;
		return;
	}
	w->depth++;
	w->first[w->depth] = 1;
	w->kind[w->depth] = c == '{' ? '}' : ']';
}

void jw_obj(struct jw *w, const char *key)
{
	jw_open(w, key, '{');
}
void jw_arr(struct jw *w, const char *key)
{
	jw_open(w, key, '[');
}

void jw_end(struct jw *w)
{
	if (w->err)
		return;
	if (w->depth <= 0 || buf_add(&w->b, &w->kind[w->depth], 1) < 0) {
		w->err = 1;
		return;
	}
	w->depth--;
}

void jw_strn(struct jw *w, const char *key, const char *val, size_t n)
{
	jw_pre(w, key);
	if (!w->err && json_quote(&w->b, val, n) < 0)
		w->err = 1;
}

void jw_str(struct jw *w, const char *key, const char *val)
{
	if (!val)
		jw_null(w, key);
	else
		jw_strn(w, key, val, strlen(val));
}

void jw_raw(struct jw *w, const char *key, const char *json, size_t n)
{
	jw_pre(w, key);
	if (!w->err && buf_add(&w->b, json, n) < 0)
		w->err = 1;
}

void jw_int(struct jw *w, const char *key, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%lld", v);
	jw_raw(w, key, tmp, (size_t)n);
}

void jw_num(struct jw *w, const char *key, double v)
{
	char tmp[64];
	if (!isfinite(v)) {
		jw_null(w, key);
		return;
	}
	/* shortest form that reads back the same; whole numbers below 1e17 without an
	 * exponent (as JavaScript writes them: 100, not 1e+02) */
	int whole = v == trunc(v) && fabs(v) < 1e17;
	int n = snprintf(tmp, sizeof tmp, whole ? "%.0f" : "%.17g", v);
	for (int prec = 1; prec < 17 && !whole; prec++) {
		char t2[64];
		int m = snprintf(t2, sizeof t2, "%.*g", prec, v);
		if (strtod(t2, NULL) == v) {
			memcpy(tmp, t2, (size_t)m + 1);
			n = m;
			break;
		}
	}
	jw_raw(w, key, tmp, (size_t)n);
}

void jw_bool(struct jw *w, const char *key, int v)
{
	jw_raw(w, key, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w, const char *key)
{
	jw_raw(w, key, "null", 4);
}

char *jw_finish(struct jw *w, size_t *len)
{
	char *out = NULL;
	if (!w->err && w->depth == 0 && w->b.len > 0) {
		if (len)
			*len = w->b.len;
		out = buf_take(&w->b);
	}
	buf_free(&w->b);
	memset(w, 0, sizeof *w);
	return out;
}
