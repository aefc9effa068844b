/* backup: one tenant, from paths, a tar archive, stdin or PostgreSQL; settings may come from the
 * tenant's section in the config file. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split a whitespace-separated config value into the multi list of an option. */
static int config_list(cli *c, cli_opt_id id, const char *value, char **storage)
{
	char *copy, *save = NULL;
	if (!value || c->nmulti[id])
		return 0;
	if (!(copy = strdup(value)))
		return cli_error(HF_ENOMEM, "out of memory");
	*storage = copy;
	for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		const char **v = realloc(c->multi[id], (c->nmulti[id] + 1) * sizeof(*v));
		if (!v)
			return cli_error(HF_ENOMEM, "out of memory");
		c->multi[id] = v;
		v[c->nmulti[id]++] = tok;
	}
	return 0;
}

static const cli_opt_id source_keys[] = {O_PG, O_PG_DATABASE, O_PG_SCHEMA, O_PG_ROWS, O_TENANT_COLUMN,
					 O_TENANT_VALUE, O_PG_TABLES, O_PG_JOINS};

static int explicit_source(const cli *c)
{
	return c->nmulti[O_PATH] || c->given[O_TAR] || c->given[O_STDIN] || c->given[O_PG];
}

/* Fill unset source options from [tenant ID] in the config file. */
static void tenant_defaults(cli *c, const char *tenant)
{
	if (explicit_source(c))
		return;
	for (size_t i = 0; i < sizeof(source_keys) / sizeof(source_keys[0]); i++) {
		const char *v = cli_tenant_setting(c, tenant, cli_options[source_keys[i]].name);
		if (v && !c->val[source_keys[i]])
			c->val[source_keys[i]] = v;
	}
}

/* Still no source: the tenant's tier blueprint ([tier NAME] keys with {tenant} substituted). The
 * substituted strings are kept in `keep` (freed by the caller). */
static int tier_defaults(cli *c, hf_repo *r, const char *tenant, char **keep, size_t cap, char **paths,
			 char **excludes)
{
	hf_tenant_info *t = NULL;
	size_t k = 0;
	int rc;
	if (explicit_source(c) || c->val[O_PG] || cli_tenant_setting(c, tenant, "path"))
		return 0;
	if ((rc = hf_tenant_show(r, tenant, &t)) < 0)
		return cli_fail(rc, NULL);
	for (size_t i = 0; i < sizeof(source_keys) / sizeof(source_keys[0]) && k < cap; i++) {
		char *v = cli_blueprint(c, t->tier, cli_options[source_keys[i]].name, tenant);
		if (v) {
			c->val[source_keys[i]] = keep[k++] = v;
		}
	}
	if (!c->val[O_PG] && k < cap && (keep[k] = cli_blueprint(c, t->tier, "path", tenant))) {
		*paths = keep[k++];
		if (k < cap && !cli_tenant_setting(c, tenant, "exclude") &&
		    (keep[k] = cli_blueprint(c, t->tier, "exclude", tenant)))
			*excludes = keep[k++];
	}
	hf_tenant_info_free(t, 1);
	return 0;
}

static int build_pg(cli *c, hf_pg_source *pg)
{
	/* with --pg-rows, --pg-schema names the schema of the shared tables */
	int rows = c->val[O_PG_ROWS] != NULL;
	int models = (c->val[O_PG_DATABASE] != NULL) + (!rows && c->val[O_PG_SCHEMA] != NULL) + rows;
	memset(pg, 0, sizeof(*pg));
	pg->dsn = c->val[O_PG];
	if (models != 1)
		return cli_error(HF_EUSAGE, "--pg needs exactly one of --pg-database NAME, --pg-schema NAME or --pg-rows");
	if (c->val[O_PG_DATABASE]) {
		pg->model = HF_PG_ISOLATION_DATABASE;
		pg->database = c->val[O_PG_DATABASE];
	} else if (!rows) {
		pg->model = HF_PG_ISOLATION_SCHEMA;
		pg->schema = c->val[O_PG_SCHEMA];
	} else {
		pg->model = HF_PG_ISOLATION_ROWS;
		pg->schema = c->val[O_PG_SCHEMA];
		pg->tenant_column = c->val[O_TENANT_COLUMN];
		pg->tenant_value = c->val[O_TENANT_VALUE];
		pg->tables = c->val[O_PG_TABLES];
		pg->joins = c->val[O_PG_JOINS];
		if (!pg->tenant_column)
			return cli_error(HF_EUSAGE, "--pg-rows needs --tenant-column COL");
	}
	return 0;
}

int cmd_backup(cli *c)
{
	static const cli_opt_id opts[] = {O_TENANT, O_PATH, O_EXCLUDE, O_TAR, O_STDIN, O_STDIN_NAME, O_PG,
					  O_PG_DATABASE, O_PG_SCHEMA, O_PG_ROWS, O_TENANT_COLUMN, O_TENANT_VALUE,
					  O_PG_TABLES, O_PG_JOINS, O_LABEL, O_COMPRESSION, O_THREADS, O_JSON, O_QUIET};
	hf_repo *r = NULL;
	hf_backup_options o;
	hf_backup_result res;
	hf_pg_source pg;
	char *paths_storage = NULL, *excl_storage = NULL, *keep[16] = {NULL}, *tier_paths = NULL, *tier_excludes = NULL;
	const char *tenant = c->val[O_TENANT];
	int rc;

	if (c->given[O_HELP]) {
		cli_usage_cmd("backup", NULL, "--tenant ID (--path P... | --tar FILE | --stdin --stdin-name NAME | --pg DSN ...)",
			      opts, sizeof(opts) / sizeof(opts[0]),
			      "Take one snapshot of one tenant. Without a source option the tenant's [tenant ID] section of\n"
			      "the config file supplies it. The snapshot becomes visible only when everything is stored.");
		return 0;
	}
	if ((rc = cli_check_options(c, opts, sizeof(opts) / sizeof(opts[0]))) < 0)
		return rc;
	if (!tenant)
		return cli_error(HF_EUSAGE, "backup needs --tenant ID");
	for (size_t i = 0; i < c->nargs; i++) { /* "backup --tenant x DIR..." also works */
		const char **v = realloc(c->multi[O_PATH], (c->nmulti[O_PATH] + 1) * sizeof(*v));
		if (!v)
			return cli_error(HF_ENOMEM, "out of memory");
		c->multi[O_PATH] = v;
		v[c->nmulti[O_PATH]++] = c->args[i];
	}
	tenant_defaults(c, tenant);
	if ((rc = cli_open_repo(c, &r)) < 0 || (rc = tier_defaults(c, r, tenant, keep, 15, &tier_paths, &tier_excludes)) < 0)
		goto done;
	if (!c->given[O_TAR] && !c->given[O_STDIN] && !c->val[O_PG] &&
	    ((rc = config_list(c, O_PATH, tier_paths ? tier_paths : cli_tenant_setting(c, tenant, "path"),
			       &paths_storage)) < 0 ||
	     (rc = config_list(c, O_EXCLUDE, tier_excludes ? tier_excludes : cli_tenant_setting(c, tenant, "exclude"),
			       &excl_storage)) < 0))
		goto done;
	memset(&o, 0, sizeof(o));
	o.version = HF_BACKUP_OPTIONS_VERSION;
	o.tenant = tenant;
	o.paths = c->multi[O_PATH];
	o.npaths = c->nmulti[O_PATH];
	o.excludes = c->multi[O_EXCLUDE];
	o.nexcludes = c->nmulti[O_EXCLUDE];
	o.tar_file = c->val[O_TAR];
	o.use_stdin = c->given[O_STDIN];
	o.stdin_name = c->val[O_STDIN_NAME];
	o.label = c->val[O_LABEL];
	if (c->val[O_PG]) {
		if ((rc = build_pg(c, &pg)) < 0)
			goto done;
		o.pg = &pg;
	}
	if (c->tty && !c->quiet && !c->json)
		o.progress = cli_progress;
	memset(&res, 0, sizeof(res));
	rc = hf_backup(r, &o, &res);
	cli_progress_end(c);
	if (rc < 0) {
		rc = cli_fail(rc, NULL);
		goto done;
	}
	if (c->json) {
		char *doc = NULL;
		rc = cli_print_json(hf_report_backup_json(&doc, tenant, &res), &doc);
	} else if (!c->quiet) {
		char total[32], added[32], stored[32];
		cli_human_bytes(total, sizeof(total), res.bytes);
		cli_human_bytes(added, sizeof(added), res.new_bytes);
		cli_human_bytes(stored, sizeof(stored), res.stored_bytes);
		printf("snapshot %.12s saved: tenant %s, %llu files, %llu dirs, %s (%s new, %s stored) in %.1fs\n",
		       res.snapshot_id, tenant, (unsigned long long)res.files, (unsigned long long)res.dirs, total, added,
		       stored, res.seconds);
		if (res.warnings)
			printf("%llu item(s) skipped with warnings\n", (unsigned long long)res.warnings);
	}
done:
	hf_repo_free(r);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		free(keep[i]);
	free(paths_storage);
	free(excl_storage);
	return rc;
}
