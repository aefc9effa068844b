/* holdfast's entry point: parse, merge settings, dispatch to a command, map errors to exit statuses. */
#include "cli.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Upper bounds of --parallel and --threads (holdfast(1)): far above what helps, low enough that a typo
 * does not ask for millions of threads or connections. */
#define CLI_PARALLEL_MAX 1024
#define CLI_THREADS_MAX 1024

/* Exit statuses (documented in holdfast(1)). */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,    /* could not run: I/O, internal error */
	EXIT_USAGE = 2,    /* invalid arguments or configuration */
	EXIT_VERIFY = 3,   /* ran, and found damage or a verification mismatch */
	EXIT_AUTH = 4,     /* wrong passphrase or key */
	EXIT_NOTFOUND = 5, /* unknown repository, tenant, snapshot */
	EXIT_LOCKED = 6,   /* another run holds the lock */
	EXIT_STORAGE = 7,  /* storage or network unavailable after retries */
	EXIT_NOSPACE = 8,  /* no space left at the target */
	EXIT_EXISTS = 9    /* target already exists (refused to overwrite) */
};

int cli_exit_code(int rc)
{
	switch (rc) {
	case HF_OK: return EXIT_OK;
	case HF_EUSAGE:
	case HF_ECONFIG: return EXIT_USAGE;
	case HF_EVERIFY:
	case HF_ECORRUPT: return EXIT_VERIFY;
	case HF_EAUTH: return EXIT_AUTH;
	case HF_ENOTFOUND: return EXIT_NOTFOUND;
	case HF_ELOCKED: return EXIT_LOCKED;
	case HF_ENET: return EXIT_STORAGE;
	case HF_ENOSPC: return EXIT_NOSPACE;
	case HF_EEXISTS: return EXIT_EXISTS;
	case HF_EINTERRUPTED: return 130;
	default: return EXIT_ERROR;
	}
}

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("holdfast: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_fail(int rc, const char *what)
{
	const char *msg = hf_error_message(), *hint = hf_error_hint();
	if (what && *msg)
		fprintf(stderr, "holdfast: error: %s: %s\n", what, msg);
	else
		fprintf(stderr, "holdfast: error: %s\n", *msg ? msg : what ? what : hf_error_name(rc));
	if (hint)
		fprintf(stderr, "HINT: %s\n", hint);
	return rc;
}

int cli_int_range(const cli *c, cli_opt_id id, long def, long min, long max, long *out)
{
	const cli_opt *o = &cli_options[id];
	const char *v = c->val[id], *env = o->env ? getenv(o->env) : NULL;
	char *end;
	long n;
	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (!errno && end != v && !*end && n >= min && n <= max) {
		*out = n;
		return 0;
	}
	/* the same order as cli_merge: command line, environment, config file */
	if (c->given[id])
		return cli_error(HF_EUSAGE, "invalid --%s '%s': not a whole number from %ld to %ld", o->name, v, min,
				 max);
	if (env && *env)
		return cli_error(HF_EUSAGE, "invalid %s '%s': not a whole number from %ld to %ld", o->env, v, min, max);
	return cli_error(HF_EUSAGE, "config file '%s': [%s] %s = '%s' is not a whole number from %ld to %ld",
			 cli_config_path(c) ? cli_config_path(c) : "?", o->section, o->id == O_REPO ? "url" : o->name, v,
			 min, max);
}

void cli_repo_options(const cli *c, hf_repo_options *o)
{
	memset(o, 0, sizeof(*o));
	o->version = HF_REPO_OPTIONS_VERSION;
	o->url = c->val[O_REPO];
	o->catalog_path = c->val[O_CATALOG];
	o->cred.password_file = c->val[O_PASSWORD_FILE];
	o->cred.key_file = c->val[O_KEY_FILE];
	o->cred.password_fd = -1;
	o->s3_endpoint = c->val[O_S3_ENDPOINT];
	o->s3_region = c->val[O_S3_REGION];
	o->ca_file = c->val[O_CA_FILE];
	o->insecure = c->given[O_INSECURE];
	o->parallel = (int)cli_int(c, O_PARALLEL, 0);
	o->retries = (int)cli_int(c, O_S3_RETRIES, 0);
	if (c->val[O_S3_RETRIES] && o->retries == 0)
		o->retries = -1; /* --s3-retries 0: no retries */
	o->timeout = (int)cli_int(c, O_S3_TIMEOUT, 0);
	/* The S3 driver reads the shared credentials file and profile from the standard variables. */
	if (c->val[O_S3_CREDENTIALS])
		setenv("AWS_SHARED_CREDENTIALS_FILE", c->val[O_S3_CREDENTIALS], 1);
	if (c->val[O_S3_PROFILE])
		setenv("AWS_PROFILE", c->val[O_S3_PROFILE], 1);

	o->compression = (int)cli_int(c, O_COMPRESSION, -1);
	o->threads = (int)cli_int(c, O_THREADS, 0);
}

int cli_open_repo(cli *c, hf_repo **out)
{
	hf_repo_options o;
	int rc;
	cli_repo_options(c, &o);
	if (!o.cred.password_file && !o.cred.key_file)
		return cli_error(HF_EUSAGE, "no passphrase or key file: use --password-file FILE, --key-file FILE or "
					    "HOLDFAST_PASSWORD_FILE");
	{
		/* checked as long, before anything is stored in an int: 4294967297 threads is not 1 thread */
		long par, thr, ret, tmo, comp;
		if ((rc = cli_int_range(c, O_PARALLEL, 0, 1, CLI_PARALLEL_MAX, &par)) < 0 ||
		    (rc = cli_int_range(c, O_THREADS, 0, 1, CLI_THREADS_MAX, &thr)) < 0 ||
		    (rc = cli_int_range(c, O_S3_RETRIES, 0, 0, 100, &ret)) < 0 ||
		    (rc = cli_int_range(c, O_S3_TIMEOUT, 0, 1, 86400, &tmo)) < 0 ||
		    (rc = cli_int_range(c, O_COMPRESSION, -1, 0, 19, &comp)) < 0)
			return rc;
		o.parallel = (int)par;
		o.threads = (int)thr;
		o.retries = c->val[O_S3_RETRIES] && ret == 0 ? -1 : (int)ret; /* --s3-retries 0: no retries */
		o.timeout = (int)tmo;
		o.compression = (int)comp;
	}
	/* A tier may name its own repository (e.g. a dedicated bucket with COMPLIANCE lock): used for
	 * commands about a tenant whose tier the config file names, unless --repo was given. */
	if (!c->given[O_REPO]) {
		const char *tier = c->val[O_TIER];
		const char *tenant = c->val[O_TENANT];
		if (!tenant && c->nargs && !strcmp(c->cmd, "tenant")) /* tenant add|show ID */
			tenant = c->args[0];
		if (!tier && tenant)
			tier = cli_tenant_setting(c, tenant, "tier");
		if (tier && cli_tier_setting(c, tier, "repository"))
			o.url = cli_tier_setting(c, tier, "repository");
	}
	if ((rc = hf_repo_open(out, &o)) < 0)
		return cli_fail(rc, NULL);
	{
		const char *tiers[64];
		size_t n = cli_tiers(c, tiers, 64);
		for (size_t i = 0; i < n; i++) {
			const char *mode = cli_tier_setting(c, tiers[i], "lock-mode");
			const char *days = cli_tier_setting(c, tiers[i], "lock-days");
			char *end = NULL;
			long d = 0;
			/* range-checked as long: strtol's 4294967326 cast to int was 30, a retention nobody set */
			if (days) {
				errno = 0;
				d = strtol(days, &end, 10);
			}
			if (days && (errno || end == days || *end || d < 1 || d > 36500)) {
				hf_repo_free(*out);
				*out = NULL;
				return cli_error(HF_ECONFIG,
						 "config file '%s': [tier %s] lock-days = '%s' is not a whole number from 1 "
						 "to 36500",
						 cli_config_path(c) ? cli_config_path(c) : "?", tiers[i], days);
			}
			if ((rc = hf_repo_set_tier(*out, tiers[i], mode, (int)d)) < 0) {
				hf_repo_free(*out);
				*out = NULL;
				return cli_fail(rc, NULL);
			}
		}
	}
	return 0;
}

int cli_check_options(const cli *c, const cli_opt_id *allowed, size_t n)
{
	static const cli_opt_id global[] = {O_REPO, O_PASSWORD_FILE, O_KEY_FILE, O_CONFIG, O_CATALOG, O_JSON, O_QUIET,
					    O_VERBOSE, O_HELP, O_S3_ENDPOINT, O_S3_REGION, O_CA_FILE, O_INSECURE,
					    O_PARALLEL, O_THREADS, O_S3_RETRIES, O_S3_TIMEOUT, O_S3_CREDENTIALS,
					    O_S3_PROFILE};
	for (int i = 0; i < O_COUNT; i++) {
		int ok = !c->given[i];
		for (size_t k = 0; !ok && k < sizeof(global) / sizeof(global[0]); k++)
			ok = global[k] == (cli_opt_id)i;
		for (size_t k = 0; !ok && k < n; k++)
			ok = allowed[k] == (cli_opt_id)i;
		if (!ok)
			return cli_error(HF_EUSAGE, "option '--%s' does not apply to '%s%s%s'", cli_options[i].name, c->cmd,
					 c->sub ? " " : "", c->sub ? c->sub : "");
	}
	return 0;
}

void cli_usage_cmd(const char *cmd, const char *sub, const char *synopsis, const cli_opt_id *opts, size_t n,
		   const char *about)
{
	printf("usage: holdfast %s%s%s %s\n\n%s\n", cmd, sub ? " " : "", sub ? sub : "", synopsis, about);
	if (n)
		printf("\noptions:\n");
	for (size_t i = 0; i < n; i++) {
		const cli_opt *o = &cli_options[opts[i]];
		char left[64];
		if (o->shortc)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shortc, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		printf("  %-30s %s\n", left, o->help);
	}
	printf("\nglobal options: --repo URL, --password-file FILE, --key-file FILE, --config FILE, --catalog FILE,\n"
	       "  --json, --quiet, --verbose; see holdfast(1). Environment: HOLDFAST_REPOSITORY, HOLDFAST_PASSWORD_FILE.\n");
}

static void usage(void)
{
	printf("holdfast %s: encrypted, deduplicated, per-tenant backups\n\n"
	       "usage: holdfast [--repo URL] [--password-file FILE | --key-file FILE] [--config FILE] COMMAND ...\n\n"
	       "commands:\n"
	       "  init                      create a repository\n"
	       "  key add|list|remove       manage key slots\n"
	       "  tenant add|list|show      manage tenants\n"
	       "  backup                    back up one tenant's files, tar archive, stdin or PostgreSQL data\n"
	       "  snapshots                 list snapshots\n"
	       "  restore                   restore a tenant's snapshot (latest, by id, or at a time)\n"
	       "  check                     verify the repository, optionally reading all data\n"
	       "  catalog rebuild           recreate the catalog from the repository\n"
	       "  version                   print the version\n\n"
	       "'holdfast COMMAND --help' describes a command; man holdfast(1) has everything.\n",
	       hf_version());
}

typedef struct command {
	const char *name;
	int (*run)(cli *c);
} command;

static const command commands[] = {
	{"init", cmd_init}, {"key", cmd_key}, {"tenant", cmd_tenant}, {"backup", cmd_backup},
	{"snapshots", cmd_snapshots}, {"restore", cmd_restore}, {"check", cmd_check}, {"catalog", cmd_catalog},
};

int main(int argc, char **argv)
{
	cli c;
	int rc;
	memset(&c, 0, sizeof(c));
	c.tty = isatty(STDERR_FILENO);
	/* glibc's default of 8 arenas per core keeps freed pack-sized buffers resident in idle arenas;
	 * one arena per core bounds peak RSS (measured: restore from S3 204 -> 169 MiB, same speed). */
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		mallopt(M_ARENA_MAX, n > 2 ? (int)n : 2);
	}
	for (int i = 0; i < O_COUNT; i++) /* the table is indexed by option id */
		if (cli_options[i].id != (cli_opt_id)i || !cli_options[i].name) {
			fprintf(stderr, "holdfast: internal error: option table out of order at %d\n", i);
			return EXIT_ERROR;
		}
	if (hf_library_init(1) < 0) {
		fprintf(stderr, "holdfast: error: unable to initialise the crypto library\n");
		return EXIT_ERROR;
	}
	if ((rc = cli_parse(&c, argc, argv)) < 0)
		goto done;
	if (c.given[O_VERSION] || (c.cmd && !strcmp(c.cmd, "version"))) {
		printf("holdfast %s\n", hf_version());
		goto done;
	}
	if (!c.cmd) {
		usage();
		rc = c.given[O_HELP] ? 0 : HF_EUSAGE;
		goto done;
	}
	if (!strcmp(c.cmd, "help")) {
		usage();
		goto done;
	}
	if (!c.given[O_HELP] && (rc = cli_merge(&c)) < 0)
		goto done;
	if (c.verbose)
		hf_set_verbosity(3);
	{
		const command *found = NULL;
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(commands[i].name, c.cmd))
				found = &commands[i];
		rc = found ? found->run(&c) : cli_error(HF_EUSAGE, "unknown command '%s' (see 'holdfast --help')", c.cmd);
	}
done:
	cli_free(&c);
	fflush(stdout);
	if (ferror(stdout) && rc == 0) {
		fprintf(stderr, "holdfast: error: unable to write standard output\n");
		rc = HF_EIO;
	}
	return cli_exit_code(rc);
}
