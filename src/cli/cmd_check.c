/* check: structure, and optionally the data, of one tenant or the whole repository. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_check(cli *c)
{
	static const cli_opt_id opts[] = {O_TENANT, O_READ_DATA, O_READ_DATA_SUBSET, O_THREADS, O_JSON, O_QUIET};
	hf_repo *r = NULL;
	hf_check_options o;
	hf_check_report *rep = NULL;
	int rc;
	if (c->given[O_HELP]) {
		cli_usage_cmd("check", NULL, "[--tenant ID] [--read-data | --read-data-subset PCT]", opts,
			      sizeof(opts) / sizeof(opts[0]),
			      "Verify that every snapshot's trees and chunks are indexed and their packs exist; with\n"
			      "--read-data also read every pack and authenticate every blob. Damaged objects are named with\n"
			      "the files they affect. Nothing is repaired. Exit status 3 when problems are found.");
		return 0;
	}
	if ((rc = cli_check_options(c, opts, sizeof(opts) / sizeof(opts[0]))) < 0)
		return rc;
	memset(&o, 0, sizeof(o));
	o.version = HF_CHECK_OPTIONS_VERSION;
	o.tenant = c->val[O_TENANT];
	/* alternatives (see the synopsis): taking either silently would read more or less than asked */
	if (c->given[O_READ_DATA] && c->val[O_READ_DATA_SUBSET])
		return cli_error(HF_EUSAGE, "--read-data and --read-data-subset cannot be used together");
	if (c->given[O_READ_DATA])
		o.read_data_pct = 100;
	if (c->val[O_READ_DATA_SUBSET]) {
		char *end;
		double pct = strtod(c->val[O_READ_DATA_SUBSET], &end);
		if ((*end && strcmp(end, "%") != 0) || pct <= 0 || pct > 100)
			return cli_error(HF_EUSAGE, "invalid --read-data-subset '%s' (a percentage, 1-100)",
					 c->val[O_READ_DATA_SUBSET]);
		o.read_data_pct = (int)(pct + 0.5) ? (int)(pct + 0.5) : 1;
	}
	if (c->tty && !c->quiet && !c->json)
		o.progress = cli_progress;
	if ((rc = cli_open_repo(c, &r)) < 0)
		return rc;
	rc = hf_check(r, &o, &rep);
	cli_progress_end(c);
	if (rc < 0) {
		rc = cli_fail(rc, NULL);
		goto done;
	}
	if (c->json) {
		char *doc = NULL;
		if ((rc = cli_print_json(hf_report_check_json(&doc, rep), &doc)) < 0)
			goto done;
	} else {
		for (size_t i = 0; i < rep->nproblems; i++) {
			const hf_check_problem *p = &rep->problems[i];
			fprintf(stderr, "holdfast: damaged: %s: %s\n", p->object, p->message);
			for (size_t k = 0; k < p->nfiles; k++)
				fprintf(stderr, "  affects %s\n", p->files[k]);
		}
		if (!c->quiet) {
			char read[32];
			cli_human_bytes(read, sizeof(read), rep->bytes_read);
			printf("checked %llu tenant(s), %llu snapshot(s), %llu pack(s); read %llu pack(s), %s\n",
			       (unsigned long long)rep->tenants, (unsigned long long)rep->snapshots,
			       (unsigned long long)rep->packs, (unsigned long long)rep->packs_read, read);
			if (rep->unreferenced_packs)
				printf("%llu pack(s) not referenced by any index (left by an interrupted backup, or "
				       "written by one running during the check; harmless)\n",
				       (unsigned long long)rep->unreferenced_packs);
			printf(rep->nproblems ? "%zu problem(s) found\n" : "no problems found\n", rep->nproblems);
		}
	}
	if (rep->nproblems)
		rc = HF_EVERIFY;
done:
	hf_check_report_free(rep);
	hf_repo_free(r);
	return rc;
}
