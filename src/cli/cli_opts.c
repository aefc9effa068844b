/* The option table and how settings are merged: command line > environment > config file > default. */
#include "cli.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define R "repository"
const cli_opt cli_options[O_COUNT] = {
	{O_REPO, "repo", 'r', 1, 0, "HOLDFAST_REPOSITORY", R, "URL", "repository: a path, file:///path or s3://bucket/prefix"},
	{O_PASSWORD_FILE, "password-file", 'p', 1, 0, "HOLDFAST_PASSWORD_FILE", R, "FILE", "read the passphrase from FILE (first line)"},
	{O_KEY_FILE, "key-file", 'k', 1, 0, "HOLDFAST_KEY_FILE", R, "FILE", "unlock with a key file instead of a passphrase"},
	{O_CONFIG, "config", 'c', 1, 0, "HOLDFAST_CONFIG", NULL, "FILE", "configuration file (default /etc/holdfast/holdfast.conf if present)"},
	{O_CATALOG, "catalog", 0, 1, 0, "HOLDFAST_CATALOG", R, "FILE", "catalog database (default under $XDG_STATE_HOME/holdfast)"},
	{O_JSON, "json", 0, 0, 0, NULL, NULL, NULL, "print machine-readable JSON"},
	{O_QUIET, "quiet", 'q', 0, 0, NULL, NULL, NULL, "print only errors"},
	{O_VERBOSE, "verbose", 'v', 0, 0, NULL, NULL, NULL, "print more detail"},
	{O_HELP, "help", 'h', 0, 0, NULL, NULL, NULL, "show help"},
	{O_S3_ENDPOINT, "s3-endpoint", 0, 1, 0, "HOLDFAST_S3_ENDPOINT", "s3", "URL", "S3 endpoint, e.g. https://s3.eu-west-1.amazonaws.com"},
	{O_S3_REGION, "s3-region", 0, 1, 0, "AWS_REGION", "s3", "REGION", "S3 region (default us-east-1)"},
	{O_CA_FILE, "ca-file", 0, 1, 0, "HOLDFAST_CA_FILE", "s3", "FILE", "CA bundle for TLS verification"},
	{O_INSECURE, "insecure", 0, 0, 0, NULL, NULL, NULL, "disable TLS certificate verification (never in production)"},
	{O_PARALLEL, "parallel", 0, 1, 0, NULL, "s3", "N", "concurrent transfers (default 8)"},
	{O_COMPRESSION, "compression", 0, 1, 0, NULL, R, "LEVEL", "zstd level for new data (0 = off; default: the repository's)"},
	{O_THREADS, "threads", 0, 1, 0, NULL, R, "N", "worker threads (default: number of CPUs)"},
	{O_TENANT, "tenant", 't', 1, 0, NULL, NULL, "ID", "tenant id"},
	{O_TIER, "tier", 0, 1, 0, NULL, NULL, "NAME", "tier of a new tenant"},
	{O_PATH, "path", 0, 1, 1, NULL, NULL, "PATH", "file or directory to back up (repeatable)"},
	{O_EXCLUDE, "exclude", 0, 1, 1, NULL, NULL, "PATTERN", "skip entries matching PATTERN (repeatable)"},
	{O_STDIN, "stdin", 0, 0, 0, NULL, NULL, NULL, "back up what arrives on standard input"},
	{O_STDIN_NAME, "stdin-name", 0, 1, 0, NULL, NULL, "NAME", "file name for --stdin data"},
	{O_TAR, "tar", 0, 1, 0, NULL, NULL, "FILE", "backup: import a tar archive; restore: write one ('-' = stdout)"},
	{O_LABEL, "label", 0, 1, 0, NULL, NULL, "TEXT", "label shown in listings"},
	{O_PG, "pg", 0, 1, 0, NULL, NULL, "DSN", "PostgreSQL connection string (no password: use a passfile)"},
	{O_PG_DATABASE, "pg-database", 0, 1, 0, NULL, NULL, "NAME", "database-per-tenant: the tenant's database"},
	{O_PG_SCHEMA, "pg-schema", 0, 1, 0, NULL, NULL, "NAME", "schema-per-tenant: the tenant's schema"},
	{O_PG_ROWS, "pg-rows", 0, 0, 0, NULL, NULL, NULL, "shared tables: select the tenant's rows by a column"},
	{O_TENANT_COLUMN, "tenant-column", 0, 1, 0, NULL, NULL, "COL", "the tenant column of shared tables"},
	{O_TENANT_VALUE, "tenant-value", 0, 1, 0, NULL, NULL, "VALUE", "the tenant's value in that column (default: the tenant id)"},
	{O_PG_TABLES, "pg-tables", 0, 1, 0, NULL, NULL, "T1,T2", "shared tables to include (default: all with the column)"},
	{O_PG_JOINS, "pg-joins", 0, 1, 0, NULL, NULL, "C:FK->P.PK,...", "related tables without the column"},
	{O_SNAPSHOT, "snapshot", 's', 1, 0, NULL, NULL, "ID", "snapshot id, unique prefix or 'latest'"},
	{O_AT, "at", 0, 1, 0, NULL, NULL, "TIME", "newest snapshot at or before TIME (RFC 3339)"},
	{O_SOURCE, "source", 0, 1, 0, NULL, NULL, "KIND", "only snapshots of this source: files or postgres"},
	{O_TARGET, "target", 0, 1, 0, NULL, NULL, "DIR", "restore into this directory"},
	{O_TARGET_PG, "target-pg", 0, 1, 0, NULL, NULL, "DSN", "restore into this database"},
	{O_IN_PLACE, "in-place", 0, 0, 0, NULL, NULL, NULL, "replace the tenant's current data in the database"},
	{O_INCLUDE, "include", 0, 1, 1, NULL, NULL, "PATH", "restore only this path (repeatable)"},
	{O_OVERWRITE, "overwrite", 0, 0, 0, NULL, NULL, NULL, "replace existing files in the target"},
	{O_KEEP_GOING, "keep-going", 0, 0, 0, NULL, NULL, NULL, "restore what is intact and report damaged files"},
	{O_NO_SYNC, "no-sync", 0, 0, 0, NULL, NULL, NULL, "do not make the restored files durable before exiting"},
	{O_READ_DATA, "read-data", 0, 0, 0, NULL, NULL, NULL, "read and authenticate every pack"},
	{O_READ_DATA_SUBSET, "read-data-subset", 0, 1, 0, NULL, NULL, "PCT", "read a random PCT percent of the packs"},
	{O_CREATE_BUCKET, "create-bucket", 0, 0, 0, NULL, NULL, NULL, "create the S3 bucket with Object Lock"},
	{O_LOCK_MODE, "lock-mode", 0, 1, 0, NULL, R, "MODE", "Object Lock mode: governance, compliance or none"},
	{O_LOCK_DAYS, "lock-days", 0, 1, 0, NULL, R, "DAYS", "Object Lock retention of new objects (default 30)"},
	{O_PACK_SIZE, "pack-size", 0, 1, 0, NULL, NULL, "MIB", "target pack size in MiB (default 16)"},
	{O_CHUNK_AVG, "chunk-size", 0, 1, 0, NULL, NULL, "KIB", "average chunk size in KiB, a power of two (default 1024)"},
	{O_NEW_PASSWORD_FILE, "new-password-file", 0, 1, 0, NULL, NULL, "FILE", "key add: passphrase of the new key slot"},
	{O_NEW_KEY_FILE, "new-key-file", 0, 1, 0, NULL, NULL, "FILE", "key add: key file of the new slot (created if missing)"},
	{O_KDF_MEMORY, "kdf-memory", 0, 1, 0, NULL, NULL, "MIB", "Argon2id memory of a new passphrase slot (default 64, minimum 8)"},
	{O_KDF_ITERATIONS, "kdf-iterations", 0, 1, 0, NULL, NULL, "N", "Argon2id passes of a new passphrase slot (default 3)"},
	{O_DISCOVER, "discover", 0, 0, 0, NULL, NULL, NULL, "tenant add: enrol every tenant the tier's PostgreSQL blueprint finds"},
	{O_S3_RETRIES, "s3-retries", 0, 1, 0, NULL, "s3", "N", "retries of a failed S3 request, with backoff (default 6)"},
	{O_S3_TIMEOUT, "s3-timeout", 0, 1, 0, NULL, "s3", "SECONDS", "abandon an S3 request after SECONDS without progress (default 30)"},
	{O_S3_CREDENTIALS, "s3-credentials-file", 0, 1, 0, "AWS_SHARED_CREDENTIALS_FILE", "s3", "FILE", "shared credentials file (default ~/.aws/credentials)"},
	{O_S3_PROFILE, "s3-profile", 0, 1, 0, "AWS_PROFILE", "s3", "NAME", "profile in the shared credentials file (default 'default')"},
	{O_VERSION, "version", 'V', 0, 0, NULL, NULL, NULL, "print the version and exit"},
};
#undef R

/* ---- config file ---- */

typedef struct ini_entry {
	char *section, *key, *value;
} ini_entry;

typedef struct ini_data {
	ini_entry *v;
	size_t n, cap;
	char *path;
	/* values of lines too long for libinih's line buffer, see ini_read_line */
	char **longval;
	size_t nlong;
	int long_err;   /* line number of a long line that is not "key = value", 0 if none */
	int long_max;   /* libinih's line buffer, as it told the reader */
} ini_data;

/* The long-value marker that ini_read_line puts in place of a value: never in a text file. */
#define LONGVAL_MARK '\x01'

/* What libinih makes of a value (after the '='): leading blanks go, an inline comment (';' after a
 * blank) is cut, trailing blanks go. Done here for the values that never went through libinih. */
static void ini_clean_value(char *v)
{
	char *s = v, *e;
	int was_space = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s; *e && !(was_space && *e == ';'); e++)
		was_space = *e == ' ' || *e == '\t';
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	memmove(v, s, (size_t)(e - s));
	v[e - s] = '\0';
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
	ini_data *d = user;
	if (value[0] == LONGVAL_MARK) {
		size_t i = (size_t)strtoul(value + 1, NULL, 10);
		if (i >= d->nlong)
			return 0;
		value = d->longval[i];
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		ini_entry *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return 0;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n].section = strdup(section);
	d->v[d->n].key = strdup(name);
	d->v[d->n].value = strdup(value);
	d->n++;
	return 1;
}

static const char *ini_get(const cli *c, const char *section, const char *key)
{
	const ini_data *d = c->ini;
	const char *found = NULL;
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].section, section) && !strcmp(d->v[i].key, key))
			found = d->v[i].value; /* the last one wins */
	return found;
}

static int section_is(const char *section, const char *kind, const char *name)
{
	size_t k = strlen(kind);
	return !strncmp(section, kind, k) && section[k] == ' ' && !strcmp(section + k + 1, name);
}

const char *cli_tenant_setting(cli *c, const char *tenant, const char *key)
{
	char sec[256];
	snprintf(sec, sizeof(sec), "tenant %s", tenant);
	return ini_get(c, sec, key);
}

const char *cli_tier_setting(cli *c, const char *tier, const char *key)
{
	char sec[256];
	snprintf(sec, sizeof(sec), "tier %s", tier);
	return ini_get(c, sec, key);
}

char *cli_blueprint(cli *c, const char *tier, const char *key, const char *tenant)
{
	const char *v = tier ? cli_tier_setting(c, tier, key) : NULL, *p;
	size_t n = 0, tl = strlen(tenant);
	char *out, *w;
	if (!v)
		return NULL;
	for (p = v; (p = strstr(p, "{tenant}")); p += 8)
		n++;
	if (!(out = malloc(strlen(v) + n * tl + 1)))
		return NULL;
	for (w = out, p = v; *p;) {
		if (!strncmp(p, "{tenant}", 8)) {
			memcpy(w, tenant, tl);
			w += tl;
			p += 8;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	return out;
}

size_t cli_tiers(cli *c, const char **names, size_t cap)
{
	const ini_data *d = c->ini;
	size_t n = 0;
	for (size_t i = 0; d && i < d->n; i++) {
		const char *name = d->v[i].section + 5;
		int seen = 0;
		if (strncmp(d->v[i].section, "tier ", 5))
			continue;
		for (size_t k = 0; k < n; k++)
			seen |= !strcmp(names[k], name);
		if (!seen && n < cap)
			names[n++] = name;
	}
	return n;
}

int cli_tier_defined(cli *c, const char *tier, int *any_tiers)
{
	const ini_data *d = c->ini;
	int found = 0;
	*any_tiers = 0;
	for (size_t i = 0; d && i < d->n; i++) {
		if (!strncmp(d->v[i].section, "tier ", 5)) {
			*any_tiers = 1;
			if (section_is(d->v[i].section, "tier", tier))
				found = 1;
		}
	}
	return found;
}

/* The config-file key of an option: its long name, except the repository URL, written "url". */
static const char *config_key(const cli_opt *o)
{
	return o->id == O_REPO ? "url" : o->name;
}

/* Known keys per section kind, so typos in the config file are errors, not silently ignored. */
static int key_known(const char *section, const char *key)
{
	static const char *tenant_keys[] = {"tier", "path", "exclude", "pg", "pg-database", "pg-schema", "pg-rows",
					    "tenant-column", "tenant-value", "pg-tables", "pg-joins", NULL};
	static const char *tier_keys[] = {"rpo", "rto", "lock-mode", "lock-days", "repository", "schedule",
					  "drill-schedule", "keep-daily", "keep-weekly", "keep-monthly",
					  /* the blueprint of the tier's tenants; values may contain {tenant} */
					  "path", "exclude", "pg", "pg-database", "pg-schema", "pg-rows", "tenant-column",
					  "tenant-value", "pg-tables", "pg-joins", NULL};
	const char **list = NULL;
	if (!strncmp(section, "tenant ", 7))
		list = tenant_keys;
	else if (!strncmp(section, "tier ", 5))
		list = tier_keys;
	if (list) {
		for (; *list; list++)
			if (!strcmp(*list, key))
				return 1;
		return 0;
	}
	for (int i = 0; i < O_COUNT; i++)
		if (cli_options[i].section && !strcmp(cli_options[i].section, section) &&
		    !strcmp(config_key(&cli_options[i]), key))
			return 1;
	return 0;
}

/* The config file, fed to libinih one line per call (ini_parse_stream). libinih reads into a fixed
 * buffer (200 bytes in Debian's r55, no realloc), and splits a longer line into pieces that it then
 * parses as lines of their own, so a long path, pg or pg-joins value failed as "malformed" with a line
 * number past the end of the file. Lines that fit are passed as they are. A longer "key = value" line
 * is passed as "key=<mark><n>" and its value kept aside (ini_cb puts it back, cleaned as libinih would);
 * a longer comment is passed as an empty comment. Any other long line (a section header, an indented
 * continuation line) cannot be shortened without changing its meaning, and is an error naming it. */
typedef struct ini_stream {
	ini_data *d;
	const char *p, *end;
	int lineno;
} ini_stream;

static char *ini_read_line(char *str, int num, void *stream)
{
	ini_stream *st = stream;
	ini_data *d = st->d;
	const char *eol, *next, *s, *sep;
	size_t len;
	if (st->p >= st->end || num < 16)
		return NULL;
	eol = memchr(st->p, '\n', (size_t)(st->end - st->p));
	next = eol ? eol + 1 : st->end;
	if (!eol)
		eol = st->end;
	len = (size_t)(eol - st->p);
	st->lineno++;
	d->long_max = num - 3; /* room for "\r\n" and the terminating NUL */
	if (len + 2 <= (size_t)num) {
		memcpy(str, st->p, len);
		str[len] = '\n';
		str[len + 1] = '\0';
		st->p = next;
		return str;
	}
	snprintf(str, (size_t)num, "#\n");
	for (s = st->p; s < eol && (*s == ' ' || *s == '\t'); s++)
		;
	if (s < eol && (*s == ';' || *s == '#')) {
		st->p = next;
		return str; /* a comment: its text does not matter */
	}
	/* the key ends at the first '=' or ':', as in libinih; an inline comment before it means no key */
	for (sep = s; sep < eol && *sep != '=' && *sep != ':'; sep++)
		if (*sep == ';' && sep > s && (sep[-1] == ' ' || sep[-1] == '\t'))
			break;
	if (s == st->p && sep < eol && *sep != ';' && (size_t)(sep - st->p) + 24 < (size_t)num) {
		char **v = realloc(d->longval, (d->nlong + 1) * sizeof(*v)), *val;
		if (v)
			d->longval = v;
		if (v && (val = strndup(sep + 1, (size_t)(eol - sep - 1)))) {
			ini_clean_value(val);
			d->longval[d->nlong] = val;
			snprintf(str, (size_t)num, "%.*s=%c%zu\n", (int)(sep - st->p), st->p, LONGVAL_MARK, d->nlong);
			d->nlong++;
			st->p = next;
			return str;
		}
	}
	if (!d->long_err)
		d->long_err = st->lineno;
	st->p = next;
	return str;
}

static int ini_parse_path(ini_data *d, const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	ini_stream st;
	int rc = -1;
	if (!f)
		return -1;
	{
		char buf[8192];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			char *t = realloc(text, len + n + 1);
			if (!t)
				goto done;
			text = t;
			memcpy(text + len, buf, n);
			len += n;
		}
		if (ferror(f))
			goto done;
	}
	st.d = d;
	st.p = text ? text : "";
	st.end = st.p + len;
	st.lineno = 0;
	rc = ini_parse_stream(ini_read_line, &st, ini_cb, d);
	/* ini_cb copied the values it kept */
	for (size_t i = 0; i < d->nlong; i++)
		free(d->longval[i]);
	free(d->longval);
	d->longval = NULL;
	d->nlong = 0;
done:
	{
		int e = errno;
		fclose(f);
		free(text);
		errno = e;
	}
	return rc;
}

static int load_config(cli *c, const char *path, int required)
{
	ini_data *d;
	int line;
	if (access(path, F_OK) != 0) {
		if (!required)
			return 0;
		return cli_error(HF_ECONFIG, "config file '%s' does not exist", path);
	}
	if (!(d = calloc(1, sizeof(*d))))
		return cli_error(HF_ENOMEM, "out of memory");
	c->ini = d;
	d->path = strdup(path);
	line = ini_parse_path(d, path);
	if (line < 0)
		return cli_error(HF_ECONFIG, "unable to read config file '%s': %s", path, strerror(errno));
	if (d->long_err && (!line || d->long_err <= line))
		return cli_error(HF_ECONFIG, "%s:%d: line longer than %d characters (only 'key = value' lines may be)",
				 path, d->long_err, d->long_max);
	if (line > 0)
		return cli_error(HF_ECONFIG, "config file '%s' line %d: malformed", path, line);
	for (size_t i = 0; i < d->n; i++) {
		const char *s = d->v[i].section;
		if (strcmp(s, "repository") && strcmp(s, "s3") && strncmp(s, "tenant ", 7) && strncmp(s, "tier ", 5))
			return cli_error(HF_ECONFIG, "config file '%s': unknown section [%s]", path, s);
		if (!key_known(s, d->v[i].key))
			return cli_error(HF_ECONFIG, "config file '%s': unknown key '%s' in [%s]", path, d->v[i].key, s);
	}
	return 0;
}

/* ---- command line ---- */

static const cli_opt *find_long(const char *name, size_t len)
{
	for (int i = 0; i < O_COUNT; i++)
		if (strlen(cli_options[i].name) == len && !strncmp(cli_options[i].name, name, len))
			return &cli_options[i];
	return NULL;
}

static const cli_opt *find_short(char ch)
{
	for (int i = 0; i < O_COUNT; i++)
		if (cli_options[i].shortc == ch)
			return &cli_options[i];
	return NULL;
}

static int set_opt(cli *c, const cli_opt *o, const char *value)
{
	if (o->multi) {
		const char **v = realloc(c->multi[o->id], (c->nmulti[o->id] + 1) * sizeof(*v));
		if (!v)
			return cli_error(HF_ENOMEM, "out of memory");
		v[c->nmulti[o->id]++] = value;
		c->multi[o->id] = v;
	}
	c->val[o->id] = value ? value : "1";
	c->given[o->id] = 1;
	return 0;
}

int cli_parse(cli *c, int argc, char **argv)
{
	int i, only_args = 0;
	if (!(c->args = calloc((size_t)argc + 1, sizeof(char *))))
		return cli_error(HF_ENOMEM, "out of memory");
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const cli_opt *o;
		const char *value = NULL;
		if (only_args || a[0] != '-' || !a[1]) {
			if (!c->cmd)
				c->cmd = a;
			else if (!c->sub && (!strcmp(c->cmd, "key") || !strcmp(c->cmd, "tenant") || !strcmp(c->cmd, "catalog")))
				c->sub = a;
			else
				c->args[c->nargs++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = 1;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			if (!(o = find_long(a + 2, len)))
				return cli_error(HF_EUSAGE, "unknown option '%.*s'", (int)len + 2, a);
			if (eq)
				value = eq + 1;
		} else {
			if (a[2] || !(o = find_short(a[1])))
				return cli_error(HF_EUSAGE, "unknown option '%s'", a);
		}
		if (o->has_arg && !value) {
			if (i + 1 >= argc)
				return cli_error(HF_EUSAGE, "option '--%s' needs an argument (%s)", o->name, o->arg);
			value = argv[++i];
		} else if (!o->has_arg && value) {
			return cli_error(HF_EUSAGE, "option '--%s' takes no argument", o->name);
		}
		if (set_opt(c, o, value) < 0)
			return HF_ENOMEM;
	}
	c->json = c->given[O_JSON];
	c->quiet = c->given[O_QUIET];
	c->verbose = c->given[O_VERBOSE];
	return 0;
}

int cli_merge(cli *c)
{
	const char *cfg = c->val[O_CONFIG];
	int rc;
	if (!cfg && getenv("HOLDFAST_CONFIG") && *getenv("HOLDFAST_CONFIG"))
		cfg = getenv("HOLDFAST_CONFIG");
	if ((rc = load_config(c, cfg ? cfg : "/etc/holdfast/holdfast.conf", cfg != NULL)) < 0)
		return rc;
	for (int i = 0; i < O_COUNT; i++) {
		const cli_opt *o = &cli_options[i];
		const char *v;
		if (c->given[i])
			continue;
		if (o->env && (v = getenv(o->env)) && *v)
			c->val[i] = v;
		else if (o->section && (v = ini_get(c, o->section, config_key(o))))
			c->val[i] = v;
	}
	/* A key file given explicitly beats a password file from the environment or config, and vice versa. */
	if (c->given[O_KEY_FILE] && !c->given[O_PASSWORD_FILE])
		c->val[O_PASSWORD_FILE] = NULL;
	if (c->given[O_PASSWORD_FILE] && !c->given[O_KEY_FILE])
		c->val[O_KEY_FILE] = NULL;
	return 0;
}

long cli_int(const cli *c, cli_opt_id id, long def)
{
	const char *v = c->val[id];
	char *end;
	long n;
	if (!v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	/* every caller stores the value in an int: one that does not fit is invalid, not truncated */
	if (errno || *end || end == v || n < INT_MIN || n > INT_MAX)
		return -1;
	return n;
}

const char *cli_config_path(const cli *c)
{
	const ini_data *d = c->ini;
	return d ? d->path : NULL;
}

void cli_free(cli *c)
{
	ini_data *d = c->ini;
	for (int i = 0; i < O_COUNT; i++)
		free(c->multi[i]);
	free(c->args);
	if (d) {
		for (size_t i = 0; i < d->n; i++) {
			free(d->v[i].section);
			free(d->v[i].key);
			free(d->v[i].value);
		}
		free(d->v);
		free(d->path);
		free(d);
	}
}
