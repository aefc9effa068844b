/* init, key add|list|remove, catalog rebuild. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_init(cli *c)
{
	static const cli_opt_id opts[] = {O_REPO, O_PASSWORD_FILE, O_KEY_FILE, O_CREATE_BUCKET, O_LOCK_MODE,
					  O_LOCK_DAYS, O_PACK_SIZE, O_CHUNK_AVG, O_COMPRESSION, O_KDF_MEMORY, O_KDF_ITERATIONS, O_S3_ENDPOINT,
					  O_S3_REGION, O_CA_FILE, O_INSECURE, O_JSON};
	hf_repo_options o;
	hf_init_options io;
	char id[HF_ID_HEX + 1];
	long pack, avg, days;
	int rc;

	if (c->given[O_HELP]) {
		cli_usage_cmd("init", NULL, "[options]", opts, sizeof(opts) / sizeof(opts[0]),
			      "Create a repository protected by a passphrase (--password-file) or a key file (--key-file;\n"
			      "created when the file does not exist). On S3 the bucket must have Object Lock enabled\n"
			      "(or use --create-bucket).");
		return 0;
	}
	if ((rc = cli_check_options(c, opts, sizeof(opts) / sizeof(opts[0]))) < 0)
		return rc;
	cli_repo_options(c, &o);
	if (!o.cred.password_file && !o.cred.key_file)
		return cli_error(HF_EUSAGE, "init needs --password-file FILE or --key-file FILE");
	memset(&io, 0, sizeof(io));
	io.version = HF_INIT_OPTIONS_VERSION;
	{
		long comp;
		if ((rc = cli_int_range(c, O_COMPRESSION, -1, 0, 19, &comp)) < 0)
			return rc;
		io.compression = (int)comp;
	}
	io.create_bucket = c->given[O_CREATE_BUCKET];
	io.lock_mode = c->val[O_LOCK_MODE];
	pack = cli_int(c, O_PACK_SIZE, 0);
	avg = cli_int(c, O_CHUNK_AVG, 0);
	days = cli_int(c, O_LOCK_DAYS, 0);
	if (pack < 0 || pack > 512 || avg < 0 || avg > 16384 || days < 0 || days > 36500)
		return cli_error(HF_EUSAGE, "invalid --pack-size, --chunk-size or --lock-days value");
	io.pack_size = (uint32_t)pack * 1024 * 1024;
	if (avg) {
		io.chunk_avg = (uint32_t)avg * 1024;
		io.chunk_min = io.chunk_avg / 4;
		io.chunk_max = io.chunk_avg * 4;
	}
	io.lock_days = (int)days;
	{
		long mem = cli_int(c, O_KDF_MEMORY, 64), ops = cli_int(c, O_KDF_ITERATIONS, 3);
		if (mem < (long)(HF_KDF_MEM_MIN >> 20) || mem > (long)(HF_KDF_MEM_MAX >> 20) || ops < 1 || ops > HF_KDF_OPS_MAX)
			return cli_error(HF_EUSAGE, "invalid --kdf-memory (%llu..%llu MiB) or --kdf-iterations (1..%d)",
					 HF_KDF_MEM_MIN >> 20, HF_KDF_MEM_MAX >> 20, HF_KDF_OPS_MAX);
		io.kdf_mem = (size_t)mem * 1024 * 1024;
		io.kdf_ops = (uint64_t)ops;
	}
	if ((rc = hf_repo_init(&o, &io, id)) < 0)
		return cli_fail(rc, NULL);
	if (c->json) {
		const hf_report_field f[] = {{"id", HF_FIELD_STRING, id, 0},
					     {"repository", HF_FIELD_STRING, o.url ? o.url : "(default)", 0}};
		char *doc = NULL;
		return cli_print_json(hf_report_fields_json(&doc, f, sizeof(f) / sizeof(f[0])), &doc);
	}
	if (!c->quiet)
		printf("created holdfast repository %.16s at %s\n", id, o.url ? o.url : "the default location");
	return 0;
}

static int key_add(cli *c, hf_repo *r)
{
	hf_credential nc;
	char id[33];
	int rc;
	memset(&nc, 0, sizeof(nc));
	nc.password_fd = -1;
	nc.password_file = c->val[O_NEW_PASSWORD_FILE];
	nc.key_file = c->val[O_NEW_KEY_FILE];
	if (!!nc.password_file == !!nc.key_file)
		return cli_error(HF_EUSAGE, "key add needs exactly one of --new-password-file FILE or --new-key-file FILE");
	if ((rc = hf_key_add(r, &nc, id)) < 0)
		return cli_fail(rc, NULL);
	if (c->json) {
		const hf_report_field f[] = {{"id", HF_FIELD_STRING, id, 0}};
		char *doc = NULL;
		return cli_print_json(hf_report_fields_json(&doc, f, sizeof(f) / sizeof(f[0])), &doc);
	}
	if (!c->quiet)
		printf("added key slot %s\n", id);
	return 0;
}

static int cmp_keys(const void *a, const void *b)
{
	const hf_key_info *x = a, *y = b;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int key_list(cli *c, hf_repo *r)
{
	hf_key_info *k = NULL;
	size_t n = 0;
	int rc;
	if ((rc = hf_key_list(r, &k, &n)) < 0)
		return cli_fail(rc, NULL);
	if (n > 1)
		qsort(k, n, sizeof(*k), cmp_keys);
	if (c->json) {
		char *doc = NULL;
		rc = cli_print_json(hf_report_keys_json(&doc, k, n), &doc);
		free(k);
		return rc;
	}
	printf("%-34s %-11s %s\n", "ID", "TYPE", "CREATED");
	for (size_t i = 0; i < n; i++) {
		char when[40];
		cli_time(when, sizeof(when), k[i].created * 1000000000LL);
		printf("%s%-33s %-11s %s\n", k[i].current ? "*" : " ", k[i].id, k[i].type, when);
	}
	free(k);
	return 0;
}

int cmd_key(cli *c)
{
	static const cli_opt_id opts[] = {O_NEW_PASSWORD_FILE, O_NEW_KEY_FILE, O_JSON};
	hf_repo *r = NULL;
	int rc;
	if (c->given[O_HELP] || !c->sub) {
		cli_usage_cmd("key", "add|list|remove", "[ID] [options]", opts, sizeof(opts) / sizeof(opts[0]),
			      "Manage the key slots that unlock the repository's master key. 'key add' adds a slot for a\n"
			      "new passphrase or key file; 'key remove ID' removes a slot (never the last one).");
		return c->given[O_HELP] ? 0 : HF_EUSAGE;
	}
	if ((rc = cli_check_options(c, opts, sizeof(opts) / sizeof(opts[0]))) < 0)
		return rc;
	if (strcmp(c->sub, "add") && strcmp(c->sub, "list") && strcmp(c->sub, "remove"))
		return cli_error(HF_EUSAGE, "unknown key command '%s' (add, list, remove)", c->sub);
	if (!strcmp(c->sub, "remove") && c->nargs != 1)
		return cli_error(HF_EUSAGE, "key remove needs the slot ID");
	if ((rc = cli_open_repo(c, &r)) < 0)
		return rc;
	if (!strcmp(c->sub, "add"))
		rc = key_add(c, r);
	else if (!strcmp(c->sub, "list"))
		rc = key_list(c, r);
	else if ((rc = hf_key_remove(r, c->args[0])) < 0)
		rc = cli_fail(rc, NULL);
	else if (!c->quiet)
		printf("removed key slot %s\n", c->args[0]);
	hf_repo_free(r);
	return rc;
}

int cmd_catalog(cli *c)
{
	hf_repo *r = NULL;
	hf_rebuild_result res;
	int rc;
	if (c->given[O_HELP] || !c->sub) {
		cli_usage_cmd("catalog", "rebuild", "[options]", NULL, 0,
			      "Recreate the catalog (tenants, snapshots) from the repository alone.");
		return c->given[O_HELP] ? 0 : HF_EUSAGE;
	}
	if (strcmp(c->sub, "rebuild"))
		return cli_error(HF_EUSAGE, "unknown catalog command '%s' (rebuild)", c->sub);
	if ((rc = cli_check_options(c, NULL, 0)) < 0)
		return rc;
	if ((rc = cli_open_repo(c, &r)) < 0)
		return rc;
	memset(&res, 0, sizeof(res));
	if ((rc = hf_catalog_rebuild(r, &res)) < 0)
		rc = cli_fail(rc, NULL);
	else if (c->json) {
		const hf_report_field f[] = {{"catalog", HF_FIELD_STRING, hf_repo_catalog_path(r), 0},
					     {"tenants", HF_FIELD_UINT, NULL, res.tenants},
					     {"snapshots", HF_FIELD_UINT, NULL, res.snapshots}};
		char *doc = NULL;
		rc = cli_print_json(hf_report_fields_json(&doc, f, sizeof(f) / sizeof(f[0])), &doc);
	}
	else if (!c->quiet)
		printf("rebuilt catalog %s: %llu tenants, %llu snapshots\n", hf_repo_catalog_path(r),
		       (unsigned long long)res.tenants, (unsigned long long)res.snapshots);
	hf_repo_free(r);
	return rc;
}
