/* Where S3 credentials come from: explicit options, else the AWS environment variables, else the shared
 * credentials file. Secrets are copied into guarded memory and the file's bytes are wiped after parsing. */
#include "storage/s3/s3_internal.h"

#include "crypto/crypto.h"
#include "util/error.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *secure_dup(const char *s, size_t n)
{
	char *p = hf_secure_alloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static int set_creds(hf_s3 *s3, const char *ak, size_t aklen, const char *sk, size_t sklen, const char *tok,
		     size_t toklen)
{
	static const char th[] = "x-amz-security-token: ";
	if (!(s3->access_key = strndup(ak, aklen)) || !(s3->secret_key = secure_dup(sk, sklen)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	if (tok && toklen) {
		if (!(s3->token_header = hf_secure_alloc(sizeof(th) + toklen)))
			return hf_error_set(HF_ENOMEM, "out of memory");
		memcpy(s3->token_header, th, sizeof(th) - 1);
		memcpy(s3->token_header + sizeof(th) - 1, tok, toklen);
		s3->token_header[sizeof(th) - 1 + toklen] = '\0';
	}
	return 0;
}

static int set_creds_str(hf_s3 *s3, const char *ak, const char *sk, const char *tok)
{
	return set_creds(s3, ak, strlen(ak), sk, strlen(sk), tok, tok ? strlen(tok) : 0);
}

typedef struct span {
	const char *p;
	size_t n;
} span;

static span trim(const char *p, const char *end)
{
	span s;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	s.p = p;
	s.n = (size_t)(end - p);
	return s;
}

static int span_is(span s, const char *word) { return s.n == strlen(word) && memcmp(s.p, word, s.n) == 0; }

/* INI-style: "[profile]" sections of "name = value" lines; '#' and ';' start comment lines. */
static int parse_file(hf_s3 *s3, const hf_buf *f, const char *profile, int *found)
{
	const char *p = (const char *)f->data, *end = p + f->len;
	span ak = {NULL, 0}, sk = {NULL, 0}, tok = {NULL, 0};
	int in = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end, *eq;
		span line = trim(p, stop);
		p = nl ? nl + 1 : end;
		if (line.n == 0 || line.p[0] == '#' || line.p[0] == ';')
			continue;
		if (line.p[0] == '[' && line.p[line.n - 1] == ']') {
			in = span_is(trim(line.p + 1, line.p + line.n - 1), profile);
			continue;
		}
		if (!in || !(eq = memchr(line.p, '=', line.n)))
			continue;
		span name = trim(line.p, eq), val = trim(eq + 1, line.p + line.n);
		if (span_is(name, "aws_access_key_id"))
			ak = val;
		else if (span_is(name, "aws_secret_access_key"))
			sk = val;
		else if (span_is(name, "aws_session_token"))
			tok = val;
	}
	if (!ak.n || !sk.n)
		return 0;
	*found = 1;
	return set_creds(s3, ak.p, ak.n, sk.p, sk.n, tok.p, tok.n);
}

static int from_file(hf_s3 *s3, int *found)
{
	hf_buf f = HF_BUF_INIT;
	char *path = NULL;
	const char *env = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
	const char *profile = getenv("AWS_PROFILE");
	int rc = 0;

	if (!profile || !*profile)
		profile = "default";
	if (env && *env)
		path = strdup(env);
	else if (home && *home)
		path = hf_path_join(home, ".aws/credentials");
	else
		return 0;
	if (!path)
		return hf_error_set(HF_ENOMEM, "out of memory");
	if ((rc = hf_fs_read_file(path, &f)) < 0) {
		/* A missing default file just means "no credentials here"; a named one must exist. */
		if (rc == HF_ENOTFOUND && !(env && *env)) {
			hf_error_clear();
			rc = 0;
		}
		goto done;
	}
	rc = parse_file(s3, &f, profile, found);
done:
	if (f.data)
		hf_memzero(f.data, f.cap);
	hf_buf_free(&f);
	free(path);
	return rc;
}

int hf_s3_credentials(hf_s3 *s3, const hf_storage_options *opts)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	int found = 0, rc;

	if (opts && opts->access_key && *opts->access_key) {
		if (!opts->secret_key || !*opts->secret_key)
			return hf_error_set(HF_ECONFIG, "s3 access key given without a secret key for '%s'", s3->base.url);
		return set_creds_str(s3, opts->access_key, opts->secret_key, opts->session_token);
	}
	if (ak && *ak && sk && *sk)
		return set_creds_str(s3, ak, sk, getenv("AWS_SESSION_TOKEN"));
	if ((rc = from_file(s3, &found)) < 0 || found)
		return rc;
	hf_error_set(HF_ECONFIG, "no s3 credentials for '%s'", s3->base.url);
	hf_error_set_hint("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile '%s' to ~/.aws/credentials",
			  getenv("AWS_PROFILE") && *getenv("AWS_PROFILE") ? getenv("AWS_PROFILE") : "default");
	return HF_ECONFIG;
}
