/* tenant add|list|show. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tenant_discover(cli *c, hf_repo *r, const char *tier);

static int tenant_add(cli *c, hf_repo *r)
{
	const char *id = c->nargs ? c->args[0] : c->val[O_TENANT];
	const char *tier = c->val[O_TIER];
	int any = 0, rc;
	if (c->given[O_DISCOVER]) {
		if (!tier || id)
			return cli_error(HF_EUSAGE, "tenant add --discover needs --tier NAME and no tenant ID");
		return tenant_discover(c, r, tier);
	}
	if (!id || c->nargs > 1)
		return cli_error(HF_EUSAGE, "tenant add needs one tenant ID");
	if (!tier)
		tier = cli_tenant_setting(c, id, "tier");
	if (!tier)
		return cli_error(HF_EUSAGE, "tenant add needs --tier NAME");
	if (!cli_tier_defined(c, tier, &any) && any)
		return cli_error(HF_EUSAGE, "tier '%s' is not defined in the config file", tier);
	if ((rc = hf_tenant_add(r, id, tier)) < 0)
		return cli_fail(rc, NULL);
	if (c->json) {
		const hf_report_field f[] = {{"id", HF_FIELD_STRING, id, 0}, {"tier", HF_FIELD_STRING, tier, 0}};
		char *doc = NULL;
		return cli_print_json(hf_report_fields_json(&doc, f, sizeof(f) / sizeof(f[0])), &doc);
	}
	if (!c->quiet)
		printf("added tenant %s (tier %s)\n", id, tier);
	return 0;
}

/* "pre{tenant}post" -> LIKE pattern "pre%post" (LIKE metacharacters escaped), prefix, suffix. */
static int template_pattern(const char *tpl, char *pattern, size_t cap, char *pre, char *post, size_t pcap)
{
	const char *at = strstr(tpl, "{tenant}");
	size_t w = 0;
	if (!at || strlen(tpl) >= pcap)
		return -1;
	snprintf(pre, pcap, "%.*s", (int)(at - tpl), tpl);
	snprintf(post, pcap, "%s", at + 8);
	for (const char *p = tpl; *p && w + 3 < cap; p++) {
		if (p == at) {
			pattern[w++] = '%';
			p += 7;
			continue;
		}
		if (*p == '%' || *p == '_' || *p == '\\')
			pattern[w++] = '\\';
		pattern[w++] = *p;
	}
	pattern[w] = '\0';
	return 0;
}

/* tenant add --tier T --discover: enrol every tenant the tier's PostgreSQL blueprint finds. */
static int tenant_discover(cli *c, hf_repo *r, const char *tier)
{
	const char *dsn = c->val[O_PG] ? c->val[O_PG] : cli_tier_setting(c, tier, "pg");
	const char *tpl = NULL, *column = cli_tier_setting(c, tier, "tenant-column");
	const char *schema = cli_tier_setting(c, tier, "pg-schema");
	hf_pg_isolation model;
	char pattern[512], pre[256], post[256], **values = NULL;
	size_t n = 0, added = 0, existing = 0, skipped = 0;
	int rc;
	if (!dsn)
		return cli_error(HF_EUSAGE, "--discover needs 'pg' in [tier %s] of the config file (or --pg DSN)", tier);
	if ((tpl = cli_tier_setting(c, tier, "pg-database"))) {
		model = HF_PG_ISOLATION_DATABASE;
	} else if (cli_tier_setting(c, tier, "pg-rows")) {
		model = HF_PG_ISOLATION_ROWS;
		tpl = cli_tier_setting(c, tier, "tenant-value");
		if (!column)
			return cli_error(HF_EUSAGE, "[tier %s] has pg-rows but no tenant-column", tier);
	} else if ((tpl = schema)) {
		model = HF_PG_ISOLATION_SCHEMA;
		schema = NULL;
	} else {
		return cli_error(HF_EUSAGE, "[tier %s] has no pg-database, pg-schema or pg-rows blueprint", tier);
	}
	if (!tpl)
		tpl = "{tenant}";
	if (template_pattern(tpl, pattern, sizeof(pattern), pre, post, sizeof(pre)) < 0)
		return cli_error(HF_EUSAGE, "the blueprint '%s' of tier '%s' must contain {tenant}", tpl, tier);
	if ((rc = hf_pg_discover_values(dsn, model, model == HF_PG_ISOLATION_ROWS ? column : pattern, schema,
					&values, &n)) < 0)
		return cli_fail(rc, NULL);
	for (size_t i = 0; i < n; i++) {
		size_t vl = strlen(values[i]), pl = strlen(pre), sl = strlen(post);
		char id[128];
		if (vl < pl + sl || strncmp(values[i], pre, pl) || strcmp(values[i] + vl - sl, post)) {
			skipped++;
			continue;
		}
		snprintf(id, sizeof(id), "%.*s", (int)(vl - pl - sl), values[i] + pl);
		rc = hf_tenant_add(r, id, tier);
		if (rc == HF_EEXISTS) {
			existing++;
		} else if (rc == HF_EUSAGE) {
			fprintf(stderr, "holdfast: warning: skipping '%s': not a valid tenant id\n", values[i]);
			skipped++;
		} else if (rc < 0) {
			hf_strv_free(values, n);
			return cli_fail(rc, NULL);
		} else {
			added++;
			if (!c->quiet && !c->json)
				printf("added tenant %s (tier %s)\n", id, tier);
		}
	}
	hf_strv_free(values, n);
	if (c->json) {
		const hf_report_field f[] = {{"tier", HF_FIELD_STRING, tier, 0},
					     {"added", HF_FIELD_UINT, NULL, added},
					     {"existing", HF_FIELD_UINT, NULL, existing},
					     {"skipped", HF_FIELD_UINT, NULL, skipped}};
		char *doc = NULL;
		return cli_print_json(hf_report_fields_json(&doc, f, sizeof(f) / sizeof(f[0])), &doc);
	}
	if (!c->quiet)
		printf("discovered %zu: %zu added, %zu already enrolled, %zu skipped\n", n, added, existing, skipped);
	return 0;
}

static int tenant_list(cli *c, hf_repo *r)
{
	hf_tenant_info *t = NULL;
	size_t n = 0;
	int rc;
	if ((rc = hf_tenant_list(r, &t, &n)) < 0)
		return cli_fail(rc, NULL);
	if (c->json) {
		char *doc = NULL;
		rc = cli_print_json(hf_report_tenants_json(&doc, t, n), &doc);
		hf_tenant_info_free(t, n);
		return rc;
	}
	printf("%-24s %-12s %9s  %-20s %10s\n", "TENANT", "TIER", "SNAPSHOTS", "LAST BACKUP", "SIZE");
	for (size_t i = 0; i < n; i++) {
		char when[40] = "-", size[32];
		if (t[i].last_backup)
			cli_time(when, sizeof(when), t[i].last_backup);
		cli_human_bytes(size, sizeof(size), t[i].size);
		printf("%-24s %-12s %9llu  %-20s %10s\n", t[i].id, t[i].tier, (unsigned long long)t[i].snapshots, when,
		       size);
	}
	hf_tenant_info_free(t, n);
	return 0;
}

static int tenant_show(cli *c, hf_repo *r)
{
	hf_tenant_info *t = NULL;
	char when[40] = "never", created[40], size[32], stored[32];
	const char *id = c->nargs ? c->args[0] : c->val[O_TENANT];
	int rc;
	if (!id)
		return cli_error(HF_EUSAGE, "tenant show needs a tenant ID");
	if ((rc = hf_tenant_show(r, id, &t)) < 0)
		return cli_fail(rc, NULL);
	if (c->json) {
		char *doc = NULL;
		rc = cli_print_json(hf_report_tenant_json(&doc, t), &doc);
		hf_tenant_info_free(t, 1);
		return rc;
	}
	if (t->last_backup)
		cli_time(when, sizeof(when), t->last_backup);
	cli_time(created, sizeof(created), t->created * 1000000000LL);
	cli_human_bytes(size, sizeof(size), t->size);
	cli_human_bytes(stored, sizeof(stored), t->stored);
	printf("tenant:      %s\ntier:        %s\nhandle:      %s\ncreated:     %s\nsnapshots:   %llu\n"
	       "last backup: %s\nsize:        %s (newest snapshot)\nstored:      %s (all snapshots, after dedup)\n",
	       t->id, t->tier, t->tid, created, (unsigned long long)t->snapshots, when, size, stored);
	hf_tenant_info_free(t, 1);
	return 0;
}

int cmd_tenant(cli *c)
{
	static const cli_opt_id opts[] = {O_TENANT, O_TIER, O_DISCOVER, O_PG, O_JSON};
	hf_repo *r = NULL;
	int rc;
	if (c->given[O_HELP] || !c->sub) {
		cli_usage_cmd("tenant", "add|list|show", "[ID] [options]", opts, sizeof(opts) / sizeof(opts[0]),
			      "'tenant add ID --tier NAME' creates a tenant with its own keys; 'tenant add --tier NAME\n"
			      "--discover' enrols every tenant the tier's PostgreSQL blueprint finds (schemas or databases\n"
			      "matching its {tenant} template, or the values of its tenant column); 'tenant list' lists\n"
			      "tenants; 'tenant show ID' shows one.");
		return c->given[O_HELP] ? 0 : HF_EUSAGE;
	}
	if ((rc = cli_check_options(c, opts, sizeof(opts) / sizeof(opts[0]))) < 0)
		return rc;
	if (strcmp(c->sub, "add") && strcmp(c->sub, "list") && strcmp(c->sub, "show"))
		return cli_error(HF_EUSAGE, "unknown tenant command '%s' (add, list, show)", c->sub);
	if ((rc = cli_open_repo(c, &r)) < 0)
		return rc;
	if (!strcmp(c->sub, "add"))
		rc = tenant_add(c, r);
	else if (!strcmp(c->sub, "list"))
		rc = tenant_list(c, r);
	else
		rc = tenant_show(c, r);
	hf_repo_free(r);
	return rc;
}
