/* snapshots and restore. */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_snapshots(cli *c)
{
	static const cli_opt_id opts[] = {O_TENANT, O_JSON};
	hf_repo *r = NULL;
	hf_snapshot_info *s = NULL;
	size_t n = 0, unreadable = 0;
	int rc;
	if (c->given[O_HELP]) {
		cli_usage_cmd("snapshots", NULL, "[--tenant ID] [--json]", opts, sizeof(opts) / sizeof(opts[0]),
			      "List snapshots, oldest first. --json prints an array of objects with id, tenant, source,\n"
			      "time, recovery_time, size and more.");
		return 0;
	}
	if ((rc = cli_check_options(c, opts, sizeof(opts) / sizeof(opts[0]))) < 0)
		return rc;
	if ((rc = cli_open_repo(c, &r)) < 0)
		return rc;
	if ((rc = hf_snapshot_list(r, c->val[O_TENANT], &s, &n, &unreadable)) < 0) {
		rc = cli_fail(rc, NULL);
		goto done;
	}
	if (c->json) {
		char *doc = NULL;
		rc = cli_print_json(hf_report_snapshots_json(&doc, s, n), &doc);
		goto unreadable;
	}
	printf("%-12s %-20s %-9s %-20s %8s %10s  %s\n", "ID", "TENANT", "SOURCE", "TIME", "FILES", "SIZE", "LABEL");
	for (size_t i = 0; i < n; i++) {
		char when[40], size[32];
		cli_time(when, sizeof(when), s[i].time_ns);
		cli_human_bytes(size, sizeof(size), s[i].size);
		printf("%-12.12s %-20s %-9s %-20s %8llu %10s  %s\n", s[i].id, s[i].tenant, s[i].source, when,
		       (unsigned long long)s[i].files, size, s[i].label);
	}
	if (!c->quiet)
		printf("%zu snapshot(s)\n", n);
unreadable:
	/* the listing is still printed, but a snapshot that cannot be read is a failure to report */
	if (rc == 0 && unreadable) {
		fflush(stdout);
		rc = cli_error(HF_ECORRUPT, "%zu snapshot manifest(s) could not be read and are not listed "
				   "('holdfast check' names the damaged objects)", unreadable);
	}
done:
	hf_snapshot_info_free(s, n);
	hf_repo_free(r);
	return rc;
}

/* SIGINT, SIGTERM and SIGHUP during a restore into a directory (Ctrl-C, systemd stop, a closed
 * terminal) only set this flag: the library's writers stop at the next chunk, the files not finished
 * are removed and the run exits with 130, instead of dying with half-written files under their final
 * names. The handler stays installed, so a second signal does not cut that cleanup short. */
static volatile sig_atomic_t restore_cancel;

static void on_stop_signal(int sig)
{
	(void)sig;
	restore_cancel = 1;
}

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSTOP ((int)(sizeof(stop_signals) / sizeof(stop_signals[0])))

static void catch_stop_signals(struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART; /* a write or read the signal lands in finishes; the flag is polled */
	sigfillset(&sa.sa_mask);
	for (int i = 0; i < NSTOP; i++) {
		sigaction(stop_signals[i], NULL, &old[i]);
		/* an ignored signal stays ignored: nohup, or SIGINT of a background job, means "keep going" */
		if (old[i].sa_handler != SIG_IGN || (old[i].sa_flags & SA_SIGINFO))
			sigaction(stop_signals[i], &sa, NULL);
	}
}

static void release_stop_signals(const struct sigaction *old)
{
	for (int i = 0; i < NSTOP; i++)
		sigaction(stop_signals[i], &old[i], NULL);
}

int cmd_restore(cli *c)
{
	struct sigaction old_sig[NSTOP];
	static const cli_opt_id opts[] = {O_TENANT, O_SNAPSHOT, O_AT, O_SOURCE, O_TARGET, O_TAR, O_TARGET_PG,
					  O_IN_PLACE, O_INCLUDE, O_OVERWRITE, O_KEEP_GOING, O_NO_SYNC, O_THREADS, O_JSON, O_QUIET};
	hf_repo *r = NULL;
	hf_restore_options o;
	hf_restore_result res;
	int rc;
	if (c->given[O_HELP]) {
		cli_usage_cmd("restore", NULL,
			      "--tenant ID [--snapshot ID | --at TIME] (--target DIR | --tar FILE|- | --target-pg DSN [--in-place])",
			      opts, sizeof(opts) / sizeof(opts[0]),
			      "Restore one tenant's snapshot: the latest, a given one, or the newest at or before a time.\n"
			      "Never touches other tenants. Existing files are kept unless --overwrite.");
		return 0;
	}
	if ((rc = cli_check_options(c, opts, sizeof(opts) / sizeof(opts[0]))) < 0)
		return rc;
	if (!c->val[O_TENANT])
		return cli_error(HF_EUSAGE, "restore needs --tenant ID");
	memset(&o, 0, sizeof(o));
	o.version = HF_RESTORE_OPTIONS_VERSION;
	o.tenant = c->val[O_TENANT];
	o.snapshot = c->val[O_SNAPSHOT];
	o.at = c->val[O_AT];
	o.source = c->val[O_SOURCE];
	o.target_dir = c->val[O_TARGET];
	o.tar_file = c->val[O_TAR];
	o.target_pg = c->val[O_TARGET_PG];
	o.in_place = c->given[O_IN_PLACE];
	o.include = c->multi[O_INCLUDE];
	o.ninclude = c->nmulti[O_INCLUDE];
	o.overwrite = c->given[O_OVERWRITE];
	o.keep_going = c->given[O_KEEP_GOING];
	o.no_sync = c->given[O_NO_SYNC];
	if ((rc = cli_open_repo(c, &r)) < 0)
		return rc;
	memset(&res, 0, sizeof(res));
	/* PostgreSQL restores do not poll the flag: a signal ends them as before, and the server rolls
	 * the transaction back */
	if (o.target_dir || o.tar_file) {
		o.cancel = &restore_cancel;
		catch_stop_signals(old_sig);
	}
	rc = hf_restore(r, &o, &res);
	if (o.target_dir || o.tar_file)
		release_stop_signals(old_sig);
	if (rc < 0) {
		rc = cli_fail(rc, NULL);
		goto done;
	}
	if (c->json) {
		char *doc = NULL;
		if (!o.tar_file || strcmp(o.tar_file, "-") != 0) /* stdout carries the tar */
			rc = cli_print_json(hf_report_restore_json(&doc, o.tenant, &res), &doc);
	} else if (!c->quiet && !(o.tar_file && !strcmp(o.tar_file, "-"))) {
		char size[32];
		cli_human_bytes(size, sizeof(size), res.bytes);
		if (res.safety_snapshot[0])
			printf("safety copy of the replaced data: snapshot %.12s\n", res.safety_snapshot);
		printf("restored snapshot %.12s of tenant %s: %llu %s, %s in %.1fs%s\n", res.snapshot_id, o.tenant,
		       (unsigned long long)res.files, o.target_pg ? "tables" : "files", size, res.seconds,
		       o.target_pg ? (res.verified ? ", row counts and checksums verified" : "") : "");
	}
done:
	hf_repo_free(r);
	return rc;
}
