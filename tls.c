/*
 * tls.c: the master's TLS identity (an EC P-256 key and a self-signed certificate, built
 * with a small DER writer) and the job daemon's TLS server over BearSSL (one engine per
 * connection on a blocking socket, every wait bounded). Leaves out client-side TLS
 * (libcurl does that, see http.c), RSA keys, and certificate revocation.
 */
#include "legion.h"

#include <bearssl.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- a DER writer: append a value's contents, then wrap them in tag and length ---- */

struct der {
	struct buf b;
	int err;
};

static void der_put(struct der *d, const void *p, size_t n)
{
	if (!d->err && buf_add(&d->b, p, n) < 0)
		d->err = 1;
}

/* Where the contents of a constructed value begin; close it with der_close. */
static size_t der_open(const struct der *d)
{
	return d->b.len;
}

/* Inserts tag and length in front of the bytes written since start. */
static void der_close(struct der *d, unsigned char tag, size_t start)
{
	if (d->err)
		return;
	size_t n = d->b.len - start;
	unsigned char h[6];
	size_t hl = 0;
	h[hl++] = tag;
	if (n < 0x80) {
		h[hl++] = (unsigned char)n;
	} else {
		unsigned char len[4];
		size_t k = 0;
		for (size_t v = n; v; v >>= 8)
			len[k++] = (unsigned char)(v & 0xff);
		h[hl++] = (unsigned char)(0x80 | k);
		while (k)
			h[hl++] = len[--k];
	}
	der_put(d, h, hl); /* grows the buffer; the bytes are moved into place below */
	if (d->err)
		return;
	memmove(d->b.p + start + hl, d->b.p + start, n);
	memcpy(d->b.p + start, h, hl);
}

static void der_prim(struct der *d, unsigned char tag, const void *p, size_t n)
{
	size_t s = der_open(d);
	der_put(d, p, n);
	der_close(d, tag, s);
}

/* A non-negative INTEGER from big-endian bytes. */
static void der_uint(struct der *d, const unsigned char *p, size_t n)
{
	while (n > 1 && p[0] == 0)
		p++, n--;
	size_t s = der_open(d);
	if (n == 0 || (p[0] & 0x80))
		der_put(d, "", 1);
	der_put(d, p, n);
	der_close(d, 0x02, s);
}

/* UTCTime until 2049, GeneralizedTime after (RFC 5280, 4.1.2.5). */
static void der_time(struct der *d, time_t t)
{
	struct tm tm;
	char s[20];
	gmtime_r(&t, &tm);
	if (tm.tm_year + 1900 < 2050) {
		strftime(s, sizeof s, "%y%m%d%H%M%SZ", &tm);
		der_prim(d, 0x17, s, strlen(s));
	} else {
		strftime(s, sizeof s, "%Y%m%d%H%M%SZ", &tm);
		der_prim(d, 0x18, s, strlen(s));
	}
}

/* OBJECT IDENTIFIER contents, already encoded. */
static const unsigned char oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const unsigned char oid_ec_public_key[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const unsigned char oid_prime256v1[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_common_name[] = {0x55, 0x04, 0x03};
static const unsigned char oid_subject_alt_name[] = {0x55, 0x1d, 0x11};
static const unsigned char oid_basic_constraints[] = {0x55, 0x1d, 0x13};
static const unsigned char oid_key_usage[] = {0x55, 0x1d, 0x0f};

static void der_alg_ecdsa_sha256(struct der *d)
{
	size_t s = der_open(d);
	der_prim(d, 0x06, oid_ecdsa_sha256, sizeof oid_ecdsa_sha256);
	der_close(d, 0x30, s);
}

/* Name ::= SEQUENCE { SET { SEQUENCE { commonName, UTF8String } } } */
static void der_name_cn(struct der *d, const char *cn)
{
	size_t name = der_open(d);
	size_t rdn = der_open(d);
	size_t atv = der_open(d);
	der_prim(d, 0x06, oid_common_name, sizeof oid_common_name);
	der_prim(d, 0x0c, cn, strlen(cn));
	der_close(d, 0x30, atv);
	der_close(d, 0x31, rdn);
	der_close(d, 0x30, name);
}

/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET
 * STRING }: ext_open writes the id (and critical), ext_close wraps what follows. */
static void ext_open(struct der *d, const unsigned char *oid, size_t n, int critical, size_t *seq,
		     size_t *oct)
{
	static const unsigned char true_[] = {0xff};
	*seq = der_open(d);
	der_prim(d, 0x06, oid, n);
	if (critical)
		der_prim(d, 0x01, true_, 1);
	*oct = der_open(d);
}

static void ext_close(struct der *d, size_t seq, size_t oct)
{
	der_close(d, 0x04, oct);
	der_close(d, 0x30, seq);
}

/* A DNS name we put in a certificate: 1..253 bytes of letters, digits, '-', '.', '*'. */
static int dns_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '*'))
			return 0;
	}
	return 1;
}

/* PEM text of der[0..n) with banner, owned; NULL when out of memory. */
static char *pem(const void *der, size_t n, const char *banner)
{
	size_t len = br_pem_encode(NULL, der, n, banner, BR_PEM_LINE64);
	char *p = malloc(len + 1);
	if (p)
		br_pem_encode(p, der, n, banner, BR_PEM_LINE64);
	return p;
}

/* The certificate's [3] extensions: subjectAltName with each DNS name, basicConstraints
 * cA FALSE, keyUsage digitalSignature. */
static void der_extensions(struct der *dp, const char *const *dns_names)
{
	size_t exts = der_open(dp);
	size_t seq = der_open(dp), e, o;
	/* subjectAltName: dNSName [2] IA5String for each name */
	ext_open(dp, oid_subject_alt_name, sizeof oid_subject_alt_name, 0, &e, &o);
	size_t names = der_open(dp);
	for (int i = 0; dns_names[i]; i++)
		der_prim(dp, 0x82, dns_names[i], strlen(dns_names[i]));
	der_close(dp, 0x30, names);
	ext_close(dp, e, o);
	/* basicConstraints, critical: cA FALSE (the DEFAULT, so an empty SEQUENCE) */
	ext_open(dp, oid_basic_constraints, sizeof oid_basic_constraints, 1, &e, &o);
	der_prim(dp, 0x30, NULL, 0);
	ext_close(dp, e, o);
	/* keyUsage, critical: digitalSignature (bit 0; 7 unused bits) */
	ext_open(dp, oid_key_usage, sizeof oid_key_usage, 1, &e, &o);
	der_prim(dp, 0x03, "\x07\x80", 2);
	ext_close(dp, e, o);
	der_close(dp, 0x30, seq);
	der_close(dp, 0xa3, exts);
}

/* signatureAlgorithm and signatureValue (ECDSA P-256, SHA-256) over the DER from tbs
 * to the end. */
static int der_sign(struct der *d, size_t tbs, const br_ec_impl *ec, const br_ec_private_key *sk)
{
	unsigned char hash[32], sig[80];
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, d->b.p + tbs, d->b.len - tbs);
	br_sha256_out(&h, hash);
	size_t siglen = br_ecdsa_i31_sign_asn1(ec, &br_sha256_vtable, hash, sk, sig);
	if (!siglen)
		return -1;
	der_alg_ecdsa_sha256(d);
	size_t bits = der_open(d);
	der_put(d, "", 1); /* no unused bits */
	der_put(d, sig, siglen);
	der_close(d, 0x03, bits);
	return 0;
}

static int check_names(const char *const *dns_names)
{
	if (!dns_names || !dns_names[0]) {
		warnx_("unable to make a certificate: no DNS name");
		return -1;
	}
	for (int i = 0; dns_names[i]; i++)
		if (!dns_name_ok(dns_names[i])) {
			warnx_("unable to make a certificate: bad DNS name '%s'", dns_names[i]);
			return -1;
		}
	return 0;
}

int tls_identity(const char *const *dns_names, char **cert_pem, char **key_pem)
{
	*cert_pem = *key_pem = NULL;
	if (check_names(dns_names) < 0)
		return -1;
	const br_ec_impl *ec = &br_ec_p256_m31;
	unsigned char seed[48], serial[16], kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
	unsigned char pbuf[BR_EC_KBUF_PUB_MAX_SIZE], *keyder = NULL;
	br_hmac_drbg_context rng;
	br_ec_private_key sk;
	br_ec_public_key pk;
	struct der d = {0};
	int rc = -1;

	if (random_bytes(seed, sizeof seed) < 0 || random_bytes(serial, sizeof serial) < 0)
		goto out;
	serial[0] &= 0x7f; /* positive, at most 16 bytes */
	serial[0] |= 0x40; /* and never shortened by leading zeros */
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof seed);
	if (!br_ec_keygen(&rng.vtable, ec, &sk, kbuf, BR_EC_secp256r1) ||
	    !br_ec_compute_pub(ec, &pk, pbuf, &sk)) {
		warnx_("unable to make an EC key");
		goto out;
	}

	/* TBSCertificate */
	size_t cert = der_open(&d);
	size_t tbs = der_open(&d);
	size_t v = der_open(&d);
	der_uint(&d, (const unsigned char *)"\x02", 1); /* v3 */
	der_close(&d, 0xa0, v);
	der_uint(&d, serial, sizeof serial);
	der_alg_ecdsa_sha256(&d);
	der_name_cn(&d, dns_names[0]); /* issuer = subject: self-signed */
	size_t validity = der_open(&d);
	time_t now = time(NULL);
	der_time(&d, now - 3600);
	der_time(&d, now + 365L * 86400);
	der_close(&d, 0x30, validity);
	der_name_cn(&d, dns_names[0]);
	size_t spki = der_open(&d);
	size_t alg = der_open(&d);
	der_prim(&d, 0x06, oid_ec_public_key, sizeof oid_ec_public_key);
	der_prim(&d, 0x06, oid_prime256v1, sizeof oid_prime256v1);
	der_close(&d, 0x30, alg);
	size_t bits = der_open(&d);
	der_put(&d, "", 1); /* no unused bits */
	der_put(&d, pk.q, pk.qlen);
	der_close(&d, 0x03, bits);
	der_close(&d, 0x30, spki);

	der_extensions(&d, dns_names);
	der_close(&d, 0x30, tbs);
	if (d.err) {
		warnx_("out of memory");
		goto out;
	}

	if (der_sign(&d, tbs, ec, &sk) < 0) {
		warnx_("unable to sign the certificate");
		goto out;
	}
	der_close(&d, 0x30, cert);
	if (d.err) {
		warnx_("out of memory");
		goto out;
	}

	size_t kl = br_encode_ec_raw_der(NULL, &sk, &pk);
	keyder = kl ? malloc(kl) : NULL;
	if (!keyder || br_encode_ec_raw_der(keyder, &sk, &pk) != kl) {
		warnx_("unable to encode the EC key");
		goto out;
	}
	*cert_pem = pem(d.b.p, d.b.len, "CERTIFICATE");
	*key_pem = pem(keyder, kl, "EC PRIVATE KEY");
	if (!*cert_pem || !*key_pem) {
		warnx_("out of memory");
		free(*cert_pem);
		free(*key_pem);
		*cert_pem = *key_pem = NULL;
		goto out;
	}
	rc = 0;
out:
	if (keyder) {
		explicit_bzero(keyder, kl);
		free(keyder);
	}
	explicit_bzero(kbuf, sizeof kbuf);
	explicit_bzero(seed, sizeof seed);
	explicit_bzero(&rng, sizeof rng);
	buf_free(&d.b);
	return rc;
}

/* ---- the server side ---------------------------------------------------------------- */

#define TLS_MAX_CHAIN 4

struct tls_server {
	br_x509_certificate chain[TLS_MAX_CHAIN];
	size_t chain_len;
	unsigned issuer_key_type;
	br_ec_private_key sk;
	unsigned char x[BR_EC_KBUF_PRIV_MAX_SIZE];
};

#define TLS_OBUF (8192 + 85) /* records we send are at most 8 KiB: less memory */

struct tls_conn {
	br_ssl_server_context sc;
	br_sslio_context io;
	int fd;
	long timeout_ms;
	long long deadline; /* now_ms() after which no wait starts, 0 = none */
	unsigned char ibuf[BR_SSL_BUFSIZE_INPUT]; /* clients may send full 16 KiB records */
	unsigned char obuf[TLS_OBUF];
};

/* One PEM object decoded: its banner and DER bytes (owned). */
struct pem_obj {
	char name[128];
	struct buf der;
};

static void pem_sink(void *ctx, const void *p, size_t n)
{
	struct buf *b = ctx;
	if (buf_add(b, p, n) < 0)
		b->max = 1; /* marks the object as failed: checked at END_OBJ */
}

static void pem_free(struct pem_obj *objs, int n);

/* Decodes every PEM object in text into objs (up to max); returns the count, or -1
 * (nothing left to free) on malformed PEM or too many objects. */
static int pem_decode(const char *text, struct pem_obj *objs, int max)
{
	br_pem_decoder_context pc;
	int n = 0, in = 0;
	size_t len = strlen(text);
	br_pem_decoder_init(&pc);
	/* a trailing newline makes the last END line complete even when text lacks one */
	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass ? "\n" : text;
		size_t left = pass ? 1 : len;
		while (left > 0) {
			size_t k = br_pem_decoder_push(&pc, p, left);
			p += k;
			left -= k;
			switch (br_pem_decoder_event(&pc)) {
			case BR_PEM_BEGIN_OBJ:
				if (n >= max)
					goto fail;
				snprintf(objs[n].name, sizeof objs[n].name, "%s",
					 br_pem_decoder_name(&pc));
				memset(&objs[n].der, 0, sizeof objs[n].der);
				objs[n].der.max = 1 << 20;
				br_pem_decoder_setdest(&pc, pem_sink, &objs[n].der);
				in = 1;
				break;
			case BR_PEM_END_OBJ:
				if (!in)
					goto fail;
				in = 0;
				if (objs[n++].der.max == 1)
					goto fail;
				break;
			case BR_PEM_ERROR: goto fail;
			default: break;
			}
		}
	}
	if (!in)
		return n;
fail:
	pem_free(objs, n + in);
	return -1;
}

static void pem_free(struct pem_obj *objs, int n)
{
	for (int i = 0; i < n; i++) {
		if (objs[i].der.p)
			explicit_bzero(objs[i].der.p, objs[i].der.len);
		buf_free(&objs[i].der);
	}
}

static void x509_sink(void *ctx, const void *p, size_t n)
{
	(void)ctx, (void)p, (void)n; /* the subject DN: not needed */
}

void tls_server_free(struct tls_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->chain_len; i++)
		free(s->chain[i].data);
	explicit_bzero(s, sizeof *s);
	free(s);
}

struct tls_server *tls_server_new(const char *cert_pem, const char *key_pem)
{
	struct pem_obj certs[TLS_MAX_CHAIN], keys[1];
	int nc = -1, nk = -1;
	struct tls_server *s = calloc(1, sizeof *s);
	br_x509_decoder_context xd;
	br_skey_decoder_context kd;
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_public_key mine;

	if (!s) {
		warnx_("out of memory");
		return NULL;
	}
	nc = pem_decode(cert_pem, certs, TLS_MAX_CHAIN);
	nk = pem_decode(key_pem, keys, 1);
	if (nc <= 0) {
		warnx_("unable to read the TLS certificate: not PEM certificates");
		goto fail;
	}
	if (nk != 1) {
		warnx_("unable to read the TLS key: not one PEM private key");
		goto fail;
	}
	for (int i = 0; i < nc; i++) {
		if (strcmp(certs[i].name, "CERTIFICATE")) {
			warnx_("unable to read the TLS certificate: unexpected '%s'",
			       certs[i].name);
			goto fail;
		}
		s->chain[i].data_len = certs[i].der.len;
		s->chain[i].data = (unsigned char *)buf_take(&certs[i].der);
		if (!s->chain[i].data) {
			warnx_("out of memory");
			goto fail;
		}
		s->chain_len = (size_t)i + 1;
	}

	br_skey_decoder_init(&kd);
	br_skey_decoder_push(&kd, keys[0].der.p, keys[0].der.len);
	if (br_skey_decoder_last_error(&kd) != 0 ||
	    br_skey_decoder_key_type(&kd) != BR_KEYTYPE_EC) {
		warnx_("unable to read the TLS key: not an EC private key");
		goto fail;
	}
	const br_ec_private_key *k = br_skey_decoder_get_ec(&kd);
	if (k->xlen > sizeof s->x) {
		warnx_("unable to read the TLS key: unsupported curve");
		goto fail;
	}
	memcpy(s->x, k->x, k->xlen);
	s->sk.curve = k->curve;
	s->sk.x = s->x;
	s->sk.xlen = k->xlen;

	/* the key must be the certificate's: compare the public points */
	br_x509_decoder_init(&xd, x509_sink, NULL);
	br_x509_decoder_push(&xd, s->chain[0].data, s->chain[0].data_len);
	const br_x509_pkey *cp = br_x509_decoder_get_pkey(&xd);
	if (!cp || br_x509_decoder_last_error(&xd) != 0) {
		warnx_("unable to read the TLS certificate: bad X.509");
		goto fail;
	}
	s->issuer_key_type = br_x509_decoder_get_signer_key_type(&xd);
	if (cp->key_type != BR_KEYTYPE_EC || cp->key.ec.curve != s->sk.curve ||
	    !br_ec_compute_pub(br_ec_get_default(), &mine, q, &s->sk) ||
	    mine.qlen != cp->key.ec.qlen || memcmp(mine.q, cp->key.ec.q, mine.qlen)) {
		warnx_("unable to use the TLS key: it does not match the certificate");
		goto fail;
	}
	explicit_bzero(&kd, sizeof kd);
	pem_free(certs, nc);
	pem_free(keys, nk);
	return s;
fail:
	explicit_bzero(&kd, sizeof kd);
	if (nc > 0)
		pem_free(certs, nc);
	if (nk > 0)
		pem_free(keys, nk);
	tls_server_free(s);
	return NULL;
}

/* Waits until fd is ready for events, up to ms; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	long long end = now_ms() + ms;
	for (;;) {
		long long left = end - now_ms();
		if (left < 0)
			left = 0;
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* How long the next wait may last: the timeout, cut short by the deadline. */
static long wait_ms(const struct tls_conn *c)
{
	if (!c->deadline)
		return c->timeout_ms;
	long long left = c->deadline - now_ms();
	return left <= 0 ? 0 : left < c->timeout_ms ? (long)left : c->timeout_ms;
}

static int low_read(void *ctx, unsigned char *p, size_t n)
{
	struct tls_conn *c = ctx;
	for (;;) {
		if (wait_fd(c->fd, POLLIN, wait_ms(c)) <= 0)
			return -1;
		ssize_t r = recv(c->fd, p, n, 0);
		if (r > 0)
			return (int)r;
		if (r == 0 || (errno != EINTR && errno != EAGAIN))
			return -1;
	}
}

static int low_write(void *ctx, const unsigned char *p, size_t n)
{
	struct tls_conn *c = ctx;
	for (;;) {
		if (wait_fd(c->fd, POLLOUT, wait_ms(c)) <= 0)
			return -1;
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r > 0)
			return (int)r;
		if (r == 0 || (errno != EINTR && errno != EAGAIN))
			return -1;
	}
}

struct tls_conn *tls_accept(struct tls_server *s, int fd, long timeout_ms)
{
	struct tls_conn *c = malloc(sizeof *c);
	if (!c) {
		warnx_("out of memory");
		return NULL;
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->deadline = 0;
	br_ssl_server_init_full_ec(&c->sc, s->chain, s->chain_len, s->issuer_key_type, &s->sk);
	br_ssl_engine_set_versions(&c->sc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffers_bidi(&c->sc.eng, c->ibuf, sizeof c->ibuf, c->obuf,
				       sizeof c->obuf);
	if (!br_ssl_server_reset(&c->sc)) {
		warnx_("unable to start TLS: error %d", br_ssl_engine_last_error(&c->sc.eng));
		free(c);
		return NULL;
	}
	br_sslio_init(&c->io, &c->sc.eng, low_read, c, low_write, c);
	return c;
}

void tls_set_timeout(struct tls_conn *c, long timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

void tls_set_deadline(struct tls_conn *c, long long end_ms)
{
	c->deadline = end_ms;
}

int tls_pump(struct tls_conn *c, short *events)
{
	br_ssl_engine_context *e = &c->sc.eng;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(e);
		size_t n;
		if (st & BR_SSL_CLOSED)
			return -1;
		if (st & BR_SSL_SENDREC) { /* what the engine has to send goes first */
			unsigned char *b = br_ssl_engine_sendrec_buf(e, &n);
			ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0) {
				br_ssl_engine_sendrec_ack(e, (size_t)w);
				continue;
			}
			*events = POLLOUT;
			return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				       ? 0
				       : -1;
		}
		if (st & BR_SSL_RECVAPP)
			return 1;
		if (!(st & BR_SSL_RECVREC))
			return -1;
		unsigned char *b = br_ssl_engine_recvrec_buf(e, &n);
		ssize_t r = recv(c->fd, b, n, MSG_DONTWAIT);
		if (r > 0) {
			br_ssl_engine_recvrec_ack(e, (size_t)r);
			continue;
		}
		*events = POLLIN;
		return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0
											    : -1;
	}
}

int tls_release(struct tls_conn *c)
{
	br_ssl_engine_context *e = &c->sc.eng;
	int fd = c->fd;
	if (br_ssl_engine_current_state(e) != BR_SSL_CLOSED) {
		br_ssl_engine_close(e);
		while (br_ssl_engine_current_state(e) & BR_SSL_SENDREC) {
			size_t n;
			unsigned char *b = br_ssl_engine_sendrec_buf(e, &n);
			ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w <= 0)
				break;
			br_ssl_engine_sendrec_ack(e, (size_t)w);
		}
	}
	explicit_bzero(c, sizeof *c);
	free(c);
	return fd;
}

ssize_t tls_read(struct tls_conn *c, void *p, size_t n)
{
	if (n == 0)
		return 0;
	int r = br_sslio_read(&c->io, p, n);
	if (r > 0)
		return r;
	return br_ssl_engine_last_error(&c->sc.eng) == BR_ERR_OK ? 0 : -1;
}

int tls_write(struct tls_conn *c, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	return br_sslio_write_all(&c->io, p, n) < 0 ? -1 : 0;
}

int tls_flush(struct tls_conn *c)
{
	return br_sslio_flush(&c->io) < 0 ? -1 : 0;
}

int tls_error(const struct tls_conn *c)
{
	return br_ssl_engine_last_error(&c->sc.eng);
}

void tls_close(struct tls_conn *c)
{
	if (!c)
		return;
	br_ssl_engine_context *e = &c->sc.eng;
	c->deadline = 0; /* the close has its own bounds */
	/* send close_notify without waiting for the peer's */
	if (br_ssl_engine_current_state(e) != BR_SSL_CLOSED) {
		br_sslio_flush(&c->io);
		br_ssl_engine_close(e);
		long t = c->timeout_ms > 2000 ? 2000 : c->timeout_ms;
		c->timeout_ms = t;
		while (br_ssl_engine_current_state(e) & BR_SSL_SENDREC) {
			size_t n;
			unsigned char *b = br_ssl_engine_sendrec_buf(e, &n);
			int w = low_write(c, b, n);
			if (w < 0)
				break;
			br_ssl_engine_sendrec_ack(e, (size_t)w);
		}
	}
	/* Lingering close: whatever the client still sends (a body we refused to read)
	 * would make the kernel answer with a reset that can destroy our response. */
	shutdown(c->fd, SHUT_WR);
	long long end = now_ms() + 2000;
	size_t drained = 0;
	char junk[4096];
	while (drained < ((size_t)4 << 20) && now_ms() < end) {
		if (wait_fd(c->fd, POLLIN, end - now_ms()) <= 0)
			break;
		ssize_t r = recv(c->fd, junk, sizeof junk, 0);
		if (r <= 0)
			break;
		drained += (size_t)r;
	}
	close(c->fd);
	explicit_bzero(c, sizeof *c);
	free(c);
}
