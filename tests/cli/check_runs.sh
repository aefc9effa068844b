#!/usr/bin/env bash
# check: conflicting --read-data options are refused (exit 2, one line); every run that opened the
# repository is recorded in the catalog, one that could not run with status 2 and its error.
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

say "ok"
