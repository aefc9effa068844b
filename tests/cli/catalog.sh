#!/usr/bin/env bash
# The catalog is a cache of the repository: delete it and 'catalog rebuild' recreates the same listing,
# on this machine and on "another machine" with a fresh catalog path.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is needed (scripts/deps --test installs it)"
hf_init
ok hf tenant add acme --tier gold
ok hf tenant add beta --tier silver
ok hf tenant add empty-tenant --tier bronze
gen_tree "$T/src" cat 200000
HOLDFAST_FAKE_NOW=2026-02-01T01:00:00Z ok hf backup --tenant acme --path "$T/src" --label "first"
gen_text more 5000 >"$T/src/etc/app/more.conf"
HOLDFAST_FAKE_NOW=2026-02-02T01:00:00Z ok hf backup --tenant acme --path "$T/src"
HOLDFAST_FAKE_NOW=2026-02-02T02:00:00Z ok hf backup --tenant beta --stdin --stdin-name dump.sql <"$T/src/etc/app/app.conf"
(cd "$T/src" && tar -cf "$T/src.tar" etc)
HOLDFAST_FAKE_NOW=2026-02-03T01:00:00Z ok hf backup --tenant beta --tar "$T/src.tar"

# listings: snapshots of all tenants and of each, and the tenant list
listings() {
	local out=$1 tn
	shift
	ok hf "$@" snapshots --json
	cp "$OUT" "$out.snapshots"
	for tn in acme beta empty-tenant; do
		ok hf "$@" snapshots --tenant "$tn" --json
		cp "$OUT" "$out.snapshots.$tn"
	done
	ok hf "$@" tenant list --json
	cp "$OUT" "$out.tenants"
}
same_listings() {
	local f
	for f in "$1".*; do
		if ! diff -u "$f" "$2${f#"$1"}" >&2; then
			fail "listing ${f#"$1".} differs after the catalog was rebuilt"
		fi
	done
}

listings "$T/before"
[ "$(jq length "$T/before.snapshots")" = 4 ] || fail "expected 4 snapshots"
[ "$(jq length "$T/before.snapshots.empty-tenant")" = 0 ] || fail "expected no snapshots of empty-tenant"
CATALOG=$(ls "$XDG_STATE_HOME"/holdfast/catalog-*.db)
[ -f "$CATALOG" ] || fail "no default catalog under \$XDG_STATE_HOME/holdfast"
[ "$(sqlite3 "$CATALOG" 'select count(*) from snapshot')" = 4 ] || fail "the catalog does not hold 4 snapshots"
# it names tenants and holds the audit trail: owner only, and so are its WAL files
for f in "$CATALOG" "$CATALOG-wal" "$CATALOG-shm"; do
	[ ! -e "$f" ] || [ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), not 600"
done

say "delete the catalog; 'catalog rebuild' recreates it from the repository"
rm -f "$CATALOG" "$CATALOG-wal" "$CATALOG-shm"
ok hf catalog rebuild --json
[ "$(json_get .snapshots)" = 4 ] && [ "$(json_get .tenants)" = 3 ] || { show_last; fail "catalog rebuild counted wrongly"; }
[ -f "$CATALOG" ] || fail "catalog rebuild did not recreate $CATALOG"
[ "$(stat -c %a "$CATALOG")" = 600 ] || fail "the rebuilt catalog has mode $(stat -c %a "$CATALOG"), not 600"
[ "$(sqlite3 "$CATALOG" 'select count(*) from snapshot')" = 4 ] || fail "the rebuilt catalog does not hold 4 snapshots"
[ "$(sqlite3 "$CATALOG" 'select count(*) from tenant')" = 3 ] || fail "the rebuilt catalog does not hold 3 tenants"
listings "$T/rebuilt"
same_listings "$T/before" "$T/rebuilt"

say "rebuild over an existing catalog changes nothing"
ok hf catalog rebuild
listings "$T/rebuilt2"
same_listings "$T/before" "$T/rebuilt2"

say "a catalog that lost rows is completed by rebuild"
sqlite3 "$CATALOG" "delete from snapshot where tenant = 'acme'" || fail "sqlite3 delete failed"
ok hf catalog rebuild
listings "$T/rebuilt3"
same_listings "$T/before" "$T/rebuilt3"

say "another machine: a fresh --catalog path"
mkdir "$T/machine2"
ok hf --catalog "$T/machine2/catalog.db" catalog rebuild
[ -f "$T/machine2/catalog.db" ] || fail "--catalog path not created"
listings "$T/machine2" --catalog "$T/machine2/catalog.db"
same_listings "$T/before" "$T/machine2"
say "  and with a fresh state directory and no catalog at all (listing straight from the repository)"
XDG_STATE_HOME=$T/machine3 listings "$T/machine3"
same_listings "$T/before" "$T/machine3"

say "a snapshot taken on machine 2 is seen on machine 1 (without and with a rebuild)"
HOLDFAST_FAKE_NOW=2026-02-04T01:00:00Z ok hf --catalog "$T/machine2/catalog.db" backup --tenant acme --path "$T/src" --json
S_M2=$(json_get .id)
ok hf snapshots --tenant acme --json
jq -e --arg id "$S_M2" 'length == 3 and .[-1].id == $id' "$OUT" >/dev/null ||
	{ show_last; fail "machine 1 does not list machine 2's snapshot"; }
ok hf catalog rebuild
ok hf snapshots --tenant acme --json
jq -e --arg id "$S_M2" 'length == 3 and .[-1].id == $id' "$OUT" >/dev/null ||
	{ show_last; fail "machine 1 does not list machine 2's snapshot after a rebuild"; }
ok hf restore --tenant acme --snapshot latest --target "$T/r-latest"
compare_trees "$T/src" "$(restored_root "$T/r-latest" "$T/src")"
say "ok"
