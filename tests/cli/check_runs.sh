#!/usr/bin/env bash
# check: conflicting --read-data options are refused; one damaged tenant record is reported as damage
# (exit 3, named) while the other tenants are checked, and does not lock them out of restore, tenant
# list, catalog rebuild or tenant add once the catalog is gone, while a wrong passphrase still fails as
# one; every run that opened the repository is recorded in the catalog, a failed one with status 2.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 is needed (scripts/deps --test installs it)"

hf_init
ok hf tenant add acme --tier gold
ok hf tenant add beta --tier gold
ATID=$(tenant_tid acme)
BTID=$(tenant_tid beta)
mkdir -p "$T/d"
gen_bytes a1 300000 >"$T/d/a.bin"
gen_text a2 5000 >"$T/d/a.txt"
ok hf backup --tenant acme --path "$T/d"
ok hf backup --tenant beta --path "$T/d"
CATALOG=$(ls "$XDG_STATE_HOME"/holdfast/catalog-*.db)
# last_check: "status|errors|tenant" of the newest recorded check
last_check() { sqlite3 "$CATALOG" "select status, errors, ifnull(tenant, '') from check_result order by id desc limit 1"; }
nchecks() { sqlite3 "$CATALOG" 'select count(*) from check_result'; }

say "--read-data and --read-data-subset are alternatives: usage error, nothing recorded"
before=$(nchecks)
expect_status 2 hf check --read-data --read-data-subset 5
expect_one_line_error
expect_stderr_match 'read-data.*read-data-subset|read-data-subset.*read-data'
expect_status 2 hf check --read-data-subset 50 --read-data
expect_one_line_error
[ "$(nchecks)" = "$before" ] || fail "a refused command line was recorded as a check"

say "each run is recorded: a clean one with status 0"
ok hf check --read-data
[ "$(last_check)" = "0|0|" ] || fail "clean check recorded as '$(last_check)', want 0|0|"

say "a run that cannot run is recorded with status 2, and still fails with its own message"
before=$(nchecks)
expect_status 5 hf check --tenant nosuch
expect_one_line_error
expect_stderr_match "unknown tenant 'nosuch'"
[ "$(nchecks)" = $((before + 1)) ] || fail "the failed check was not recorded"
[ "$(last_check)" = "2|0|nosuch" ] || fail "failed check recorded as '$(last_check)', want 2|0|nosuch"
sqlite3 "$CATALOG" 'select detail from check_result order by id desc limit 1' | grep -q "unknown tenant 'nosuch'" ||
	fail "the failed check's record does not say why it failed"

say "a damaged tenant record: check names it (exit 3) and checks the other tenant"
cp -a "$REPO" "$T/pristine"
flip_byte "$REPO/keys/tenants/$BTID" 40
expect_status 3 hf check --json
jq -e --arg o "keys/tenants/$BTID" '.ok == false and .tenants == 1 and .snapshots == 1 and
	([.problems[].object] == [$o])' "$OUT" >/dev/null || { show_last; fail "check --json does not name only the record"; }
[ "$(last_check)" = "1|1|" ] || fail "check with a damaged record recorded as '$(last_check)', want 1|1|"
expect_status 3 hf check
expect_stderr_match "damaged: keys/tenants/$BTID: tenant record failed authentication"
grep -q 'wrong key' "$ERR" && { show_last; fail "a damaged record is blamed on the key, which was verified"; }
say "check --tenant of the damaged tenant names its record too"
expect_status 3 hf check --tenant beta --json
jq -e --arg o "keys/tenants/$BTID" '[.problems[].object] == [$o]' "$OUT" >/dev/null ||
	{ show_last; fail "check --tenant beta does not name its record"; }
ok hf check --tenant acme --read-data

say "a wrong passphrase is still a wrong passphrase (exit 4), not damage"
printf 'not the passphrase at all\n' >"$T/wrong"
expect_status 4 hf --password-file "$T/wrong" check
expect_one_line_error

say "without the catalog (new host): the other tenant is found, restored, listed, rebuilt; tenant add works"
rm -f "$XDG_STATE_HOME"/holdfast/catalog-*
ok hf check --tenant acme
expect_stderr_match "warning: skipping tenant record 'keys/tenants/$BTID'"
ok hf restore --tenant acme --target "$T/out"
compare_trees "$T/d" "$(restored_root "$T/out" "$T/d")"
ok hf tenant list --json
jq -e '[.[].id] == ["acme"]' "$OUT" >/dev/null || { show_last; fail "tenant list does not show acme alone"; }
expect_stderr_match "keys/tenants/$BTID"
ok hf catalog rebuild
ok hf tenant add gamma --tier gold
say "and the damaged tenant's own lookup says its record may be the damaged one"
expect_status 5 hf check --tenant beta
expect_stderr_match "could not be opened"

say "the record put back: everything is healthy again"
cp -a "$T/pristine/keys/tenants/$BTID" "$REPO/keys/tenants/$BTID"
ok hf check --read-data
ok hf tenant list --json
jq -e '[.[].id] == ["acme", "beta", "gamma"]' "$OUT" >/dev/null || { show_last; fail "tenant list after repair"; }

say "ok"
