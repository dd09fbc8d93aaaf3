/*
 * cert.c: the certificate credential: a PEM file with an X.509 certificate and its RSA
 * private key (PKCS#1 or PKCS#8), checked to match and to be valid now, and the client
 * assertion Entra ID takes for it (a JWT signed RS256 with BearSSL, x5t = the
 * certificate's SHA-1 thumbprint). Leaves out PKCS#12, EC keys and the request (auth.c).
 */
#include "legion.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct auth_cert {
	br_skey_decoder_context kd; /* owns the private key's bytes */
	const br_rsa_private_key *sk;
	size_t nlen; /* modulus length, bytes */
	char x5t[64];
};

static void sink(void *ctx, const void *p, size_t n)
{
	struct buf *b = ctx;
	if (b && buf_add(b, p, n) < 0)
		b->max = 1; /* marks the object as failed */
}

/* The DER of the first CERTIFICATE and the first private key in text. */
static int pem_split(const char *text, struct buf *cert, struct buf *key)
{
	br_pem_decoder_context pc;
	struct buf *dst = NULL;
	const char *p = text;
	size_t left = strlen(text);
	int pass = 0;
	br_pem_decoder_init(&pc);
	while (left > 0 || pass == 0) {
		if (left == 0) { /* a last END line without its newline */
			p = "\n";
			left = 1;
			pass = 1;
		}
		size_t k = br_pem_decoder_push(&pc, p, left);
		p += k;
		left -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ: {
			const char *name = br_pem_decoder_name(&pc);
			dst = !strcmp(name, "CERTIFICATE") && !cert->len ? cert
			      : strstr(name, "PRIVATE KEY") && !key->len ? key
									 : NULL;
			br_pem_decoder_setdest(&pc, sink, dst);
			break;
		}
		case BR_PEM_END_OBJ: dst = NULL; break;
		case BR_PEM_ERROR: return -1;
		default: break;
		}
	}
	return cert->max == 1 || key->max == 1 ? -1 : 0;
}

static void x509_dn(void *ctx, const void *p, size_t n)
{
	(void)ctx, (void)p, (void)n;
}

/* Compares the key's modulus (p * q) with the certificate's RSA modulus. 1 when they
 * match: the same modulus is the same key pair. */
static int key_matches(const br_rsa_private_key *sk, const br_x509_pkey *pk)
{
	if (pk->key_type != BR_KEYTYPE_RSA)
		return 0;
	br_rsa_compute_modulus mod = br_rsa_compute_modulus_get_default();
	unsigned char n[512];
	size_t len = mod(NULL, sk);
	if (len == 0 || len > sizeof n || mod(n, sk) != len)
		return 0;
	const unsigned char *cn = pk->key.rsa.n;
	size_t cl = pk->key.rsa.nlen;
	while (cl > 0 && *cn == 0)
		cn++, cl--;
	return cl == len && !memcmp(cn, n, len);
}

struct auth_cert *cert_load(const char *path, int *ex)
{
	struct buf text = {0}, der = {.max = 1 << 20}, kder = {.max = 1 << 20};
	struct auth_cert *c = calloc(1, sizeof *c);
	br_x509_decoder_context xd;
	*ex = EXIT_CONFIG;
	if (!c) {
		warnx_("out of memory");
		*ex = EXIT_SOFTWARE;
		goto fail;
	}
	if (read_file(path, 1 << 20, &text) < 0) {
		warn_("AZURE_CLIENT_CERTIFICATE_PATH: unable to read %s", path);
		goto fail;
	}
	if (pem_split(text.p ? text.p : "", &der, &kder) < 0 || !der.len || !kder.len) {
		warnx_("AZURE_CLIENT_CERTIFICATE_PATH: %s is not a PEM file with a CERTIFICATE and "
		       "its PRIVATE KEY",
		       path);
		goto fail;
	}
	br_skey_decoder_init(&c->kd);
	br_skey_decoder_push(&c->kd, kder.p, kder.len);
	if (br_skey_decoder_last_error(&c->kd) ||
	    br_skey_decoder_key_type(&c->kd) != BR_KEYTYPE_RSA) {
		warnx_("AZURE_CLIENT_CERTIFICATE_PATH: %s: the private key is not an RSA key "
		       "(PKCS#1 or PKCS#8)",
		       path);
		goto fail;
	}
	c->sk = br_skey_decoder_get_rsa(&c->kd);
	c->nlen = (c->sk->n_bitlen + 7) / 8;
	br_x509_decoder_init(&xd, x509_dn, NULL);
	br_x509_decoder_push(&xd, der.p, der.len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&xd);
	if (!pk || br_x509_decoder_last_error(&xd)) {
		warnx_("AZURE_CLIENT_CERTIFICATE_PATH: %s: the certificate is not valid X.509",
		       path);
		goto fail;
	}
	if (!key_matches(c->sk, pk)) {
		warnx_("AZURE_CLIENT_CERTIFICATE_PATH: %s: the private key is not the "
		       "certificate's",
		       path);
		goto fail;
	}
	/* days since 0000-01-01; 719528 of them to 1970-01-01 */
	long long after = ((long long)xd.notafter_days - 719528) * 86400 + xd.notafter_seconds;
	long long before = ((long long)xd.notbefore_days - 719528) * 86400 + xd.notbefore_seconds;
	long long now = (long long)time(NULL);
	if (now > after || now < before) {
		char when[32];
		time_t t = (time_t)(now > after ? after : before);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
		warnx_("AZURE_CLIENT_CERTIFICATE_PATH: %s: the certificate %s %s", path,
		       now > after ? "expired on" : "is not valid before", when);
		*ex = EXIT_NOPERM;
		goto fail;
	}
	br_sha1_context sh;
	unsigned char d[20];
	struct buf t = {0};
	br_sha1_init(&sh);
	br_sha1_update(&sh, der.p, der.len);
	br_sha1_out(&sh, d);
	if (b64url_encode(d, sizeof d, &t) < 0) {
		*ex = EXIT_SOFTWARE;
		goto fail;
	}
	snprintf(c->x5t, sizeof c->x5t, "%s", t.p);
	buf_free(&t);
	if (kder.p)
		explicit_bzero(kder.p, kder.len);
	if (text.p)
		explicit_bzero(text.p, text.len);
	buf_free(&text);
	buf_free(&der);
	buf_free(&kder);
	*ex = 0;
	return c;
fail:
	if (kder.p)
		explicit_bzero(kder.p, kder.len);
	if (text.p)
		explicit_bzero(text.p, text.len);
	buf_free(&text);
	buf_free(&der);
	buf_free(&kder);
	cert_free(c);
	return NULL;
}

char *cert_assertion(const struct auth_cert *c, const char *client_id, const char *aud)
{
	char jti[33];
	long long now = (long long)time(NULL);
	struct jw h = {0}, cl = {0};
	struct buf out = {0};
	unsigned char hash[32], sig[512];
	if (random_hex(jti, 16) < 0 || c->nlen > sizeof sig)
		return NULL;
	jw_obj(&h, NULL);
	jw_str(&h, "alg", "RS256");
	jw_str(&h, "typ", "JWT");
	jw_str(&h, "x5t", c->x5t);
	jw_end(&h);
	jw_obj(&cl, NULL);
	jw_str(&cl, "aud", aud);
	jw_str(&cl, "iss", client_id);
	jw_str(&cl, "sub", client_id);
	jw_str(&cl, "jti", jti);
	jw_int(&cl, "iat", now);
	jw_int(&cl, "nbf", now);
	jw_int(&cl, "exp", now + 600);
	jw_end(&cl);
	size_t hn = 0, cn = 0;
	char *hd = jw_finish(&h, &hn), *cd = jw_finish(&cl, &cn);
	int ok = hd && cd && b64url_encode(hd, hn, &out) == 0 && buf_add(&out, ".", 1) == 0 &&
		 b64url_encode(cd, cn, &out) == 0;
	if (ok) {
		br_sha256_context sh;
		br_sha256_init(&sh);
		br_sha256_update(&sh, out.p, out.len);
		br_sha256_out(&sh, hash);
		ok = br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash, sizeof hash, c->sk,
						     sig) == 1 &&
		     buf_add(&out, ".", 1) == 0 && b64url_encode(sig, c->nlen, &out) == 0;
	}
	free(hd);
	free(cd);
	if (!ok) {
		buf_free(&out);
		return NULL;
	}
	return buf_take(&out);
}

void cert_free(struct auth_cert *c)
{
	if (c) {
		explicit_bzero(c, sizeof *c);
		free(c);
	}
}
