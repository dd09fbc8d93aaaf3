/*
 * t/sigv4_test.c: sigv4.c against AWS's published Signature Version 4 examples: the
 * SigV4 test suite's get-vanilla, get-vanilla-query-order-key-case and post-vanilla
 * (AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service"), and the IAM ListUsers
 * example of AWS's signing documentation ("Examples of the complete Signature Version 4
 * signing process"), with its canonical request hash and signature. The expected values
 * are AWS's; the requests are written out here. Leaves out the wire (t/fargate-auth.bats
 * sends signed requests to moto, which checks them).
 * Output: "ok N - what" / "not ok N - what", then "N passed, M failed"; exit 1 on any
 * failure.
 */
#include "aws.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "t/check.h"

#define WHEN 1440938160 /* 20150830T123600Z */
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_CRED                                                                                 \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static const struct sigv4_key suite = {"AKIDEXAMPLE", SECRET, NULL, "us-east-1", "service"};

/* Signs and compares the Authorization line with want ("Authorization: " + want). */
static void expect(const char *what, const struct sigv4_key *k, const char *method, const char *url,
		   const char *const *hdrs, const char *want)
{
	struct sigv4_signed s;
	char line[700];
	snprintf(line, sizeof line, "Authorization: %s", want);
	int rc = sigv4_sign(k, method, url, hdrs, NULL, 0, WHEN, &s);
	if (!check(rc == 0 && !strcmp(s.authz, line), "%s", what))
		printf("#   got:  %s\n#   want: %s\n", rc == 0 ? s.authz : "(failed)", line);
	sigv4_free(&s);
}

static int has(const struct sigv4_signed *s, const char *line)
{
	for (int i = 0; s->hdrs[i]; i++)
		if (!strcmp(s->hdrs[i], line))
			return 1;
	return 0;
}

int main(void)
{
	char h[65];
	progname = "sigv4_test";
	sha256_hex("", 0, h);
	check(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	      "SHA-256 of nothing is the empty payload hash AWS documents");

	expect("get-vanilla signs as the test suite says", &suite, "GET",
	       "https://example.amazonaws.com/", NULL,
	       SUITE_CRED
	       "SignedHeaders=host;x-amz-date, "
	       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	expect("get-vanilla-query-order-key-case: the query is sorted before signing", &suite,
	       "GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", NULL,
	       SUITE_CRED
	       "SignedHeaders=host;x-amz-date, "
	       "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
	expect("post-vanilla signs as the test suite says", &suite, "POST",
	       "https://example.amazonaws.com/", NULL,
	       SUITE_CRED
	       "SignedHeaders=host;x-amz-date, "
	       "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
	expect("an explicit default port is left out of the signed host, as curl sends it", &suite,
	       "GET", "https://example.amazonaws.com:443/", NULL,
	       SUITE_CRED
	       "SignedHeaders=host;x-amz-date, "
	       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");

	/* the IAM ListUsers example: a header of the caller's is signed too */
	static const struct sigv4_key iam = {"AKIDEXAMPLE", SECRET, NULL, "us-east-1", "iam"};
	const char *ct[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL};
	struct sigv4_signed s;
	int rc = sigv4_sign(&iam, "GET",
			    "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", ct,
			    NULL, 0, WHEN, &s);
	char crh[65] = "";
	if (rc == 0)
		sha256_hex(s.canonical, strlen(s.canonical), crh);
	check(!strcmp(crh, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"),
	      "IAM ListUsers: the canonical request hashes to the documented value");
	check(rc == 0 &&
		      !strcmp(s.string_to_sign,
			      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/"
			      "aws4_request\n"
			      "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"),
	      "IAM ListUsers: the string to sign is the documented one");
	check(rc == 0 && !strcmp(s.authz,
				 "Authorization: AWS4-HMAC-SHA256 "
				 "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
				 "SignedHeaders=content-type;host;x-amz-date, "
				 "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5"
				 "924a6f2b5d7"),
	      "IAM ListUsers: the Authorization header is the documented one");
	check(rc == 0 && has(&s, ct[0]) && has(&s, "Host: iam.amazonaws.com") &&
		      has(&s, "X-Amz-Date: 20150830T123600Z"),
	      "the signed request carries the caller's headers, Host and X-Amz-Date");
	sigv4_free(&s);

	/* session credentials: the token travels as a header and is signed */
	static const struct sigv4_key tmp = {"ASIAEXAMPLE", SECRET, "tok/en+1==", "eu-west-1",
					     "ecs"};
	rc = sigv4_sign(&tmp, "POST", "http://127.0.0.1:5000/", NULL, "{}", 2, WHEN, &s);
	check(rc == 0 && has(&s, "X-Amz-Security-Token: tok/en+1==") &&
		      strstr(s.authz, "SignedHeaders=host;x-amz-date;x-amz-security-token,") &&
		      strstr(s.authz, "/20150830/eu-west-1/ecs/aws4_request"),
	      "a session token is sent as X-Amz-Security-Token and signed");
	check(rc == 0 && has(&s, "Host: 127.0.0.1:5000") &&
		      strstr(s.canonical, "\nhost:127.0.0.1:5000\n"),
	      "a port that is not the default is part of the signed host");
	check(rc == 0 && strstr(s.canonical, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c06"
					     "0f61caaff8a"),
	      "the body's SHA-256 ends the canonical request");
	sigv4_free(&s);
	check(sigv4_sign(&suite, "GET", "no-scheme/", NULL, NULL, 0, WHEN, &s) < 0,
	      "a URL without a scheme is refused");

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
