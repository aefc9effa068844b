/* The CLI: option table, merged settings (argv > environment > config file > default), output helpers.
 * The CLI sees only include/holdfast/ and its own files. */
#ifndef HF_CLI_H
#define HF_CLI_H

#include "holdfast/holdfast.h"
#include "holdfast/report.h"

#include <stddef.h>
#include <stdint.h>

/* Every option, defined once (cli_opts.c). */
typedef enum {
	O_REPO, O_PASSWORD_FILE, O_KEY_FILE, O_CONFIG, O_CATALOG, O_JSON, O_QUIET, O_VERBOSE, O_HELP,
	O_S3_ENDPOINT, O_S3_REGION, O_CA_FILE, O_INSECURE, O_PARALLEL, O_COMPRESSION, O_THREADS,
	O_TENANT, O_TIER, O_PATH, O_EXCLUDE, O_STDIN, O_STDIN_NAME, O_TAR, O_LABEL,
	O_PG, O_PG_DATABASE, O_PG_SCHEMA, O_PG_ROWS, O_TENANT_COLUMN, O_TENANT_VALUE, O_PG_TABLES, O_PG_JOINS,
	O_SNAPSHOT, O_AT, O_SOURCE, O_TARGET, O_TARGET_PG, O_IN_PLACE, O_INCLUDE, O_OVERWRITE, O_KEEP_GOING, O_NO_SYNC,
	O_READ_DATA, O_READ_DATA_SUBSET,
	O_CREATE_BUCKET, O_LOCK_MODE, O_LOCK_DAYS, O_PACK_SIZE, O_CHUNK_AVG,
	O_NEW_PASSWORD_FILE, O_NEW_KEY_FILE, O_KDF_MEMORY, O_KDF_ITERATIONS, O_DISCOVER, O_S3_RETRIES, O_S3_TIMEOUT, O_S3_CREDENTIALS, O_S3_PROFILE,
	O_VERSION,
	O_COUNT
} cli_opt_id;

typedef struct cli_opt {
	cli_opt_id id;
	const char *name;   /* long name, also the config-file key */
	char shortc;
	int has_arg;
	int multi;          /* may be given several times (collected in order) */
	const char *env;    /* environment variable or NULL */
	const char *section;/* config section: "repository", "s3" or NULL (not settable in the file) */
	const char *arg;    /* argument name for help */
	const char *help;
} cli_opt;

extern const cli_opt cli_options[O_COUNT];

typedef struct cli {
	const char *cmd, *sub;
	const char *val[O_COUNT];   /* single values after merging */
	const char **multi[O_COUNT];/* multi values */
	size_t nmulti[O_COUNT];
	int given[O_COUNT];         /* given on the command line */
	const char **args;          /* positional arguments after the command */
	size_t nargs;
	int json, quiet, verbose, tty;
	void *ini;                  /* parsed config file (cli_config.c) */
} cli;

/* cli_opts.c */
int cli_parse(cli *c, int argc, char **argv);
int cli_merge(cli *c);  /* environment, config file, tenant section */
const char *cli_tenant_setting(cli *c, const char *tenant, const char *key);
const char *cli_tier_setting(cli *c, const char *tier, const char *key);
/* A tier blueprint value with {tenant} replaced by the tenant id (malloc'd, NULL when unset). */
char *cli_blueprint(cli *c, const char *tier, const char *key, const char *tenant);
int cli_tier_defined(cli *c, const char *tier, int *any_tiers);
/* Names of the tiers defined in the config file. */
size_t cli_tiers(cli *c, const char **names, size_t cap);
void cli_free(cli *c);
/* The option's value as a number, def when unset, -1 when it is not a whole number that fits an int. */
long cli_int(const cli *c, cli_opt_id id, long def);
/* The config file that was read, or NULL. */
const char *cli_config_path(const cli *c);

/* cli_main.c */
/* Print "holdfast: error: ..." and return code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_code(int rc);
int cli_fail(int rc, const char *what);
void cli_repo_options(const cli *c, hf_repo_options *o);
/* The option's value, def when unset; outside min..max (or not a number) it is a usage error whose one-line
 * message names the option and where it was set (command line, environment or config file). */
int cli_int_range(const cli *c, cli_opt_id id, long def, long min, long max, long *out);
int cli_open_repo(cli *c, hf_repo **out);
/* Options given on the command line must be global or in `allowed` (HF_EUSAGE otherwise). */
int cli_check_options(const cli *c, const cli_opt_id *allowed, size_t n);
void cli_usage_cmd(const char *cmd, const char *sub, const char *synopsis, const cli_opt_id *opts, size_t n,
		   const char *about);

/* cli_output.c */
void cli_human_bytes(char *out, size_t cap, uint64_t n);
void cli_time(char *out, size_t cap, int64_t ns);
void cli_progress(const char *phase, uint64_t done_bytes, uint64_t total_bytes, uint64_t items, void *payload);
void cli_progress_end(cli *c);
/* Print a document an hf_report_*_json call (returning rc) rendered into *doc, and free it. */
int cli_print_json(int rc, char **doc);

/* commands */
int cmd_init(cli *c);
int cmd_key(cli *c);
int cmd_tenant(cli *c);
int cmd_backup(cli *c);
int cmd_snapshots(cli *c);
int cmd_restore(cli *c);
int cmd_check(cli *c);
int cmd_catalog(cli *c);

#endif
