#!/usr/bin/env bash
# Tenant isolation: the same content in two tenants shares no object, and one tenant's snapshot or
# index placed under another tenant cannot be read with that tenant's key (authentication fails).
. "$(dirname "$0")/lib.sh"

hf_init
ok hf tenant add alpha --tier gold
ok hf tenant add bravo --tier gold
gen_tree "$T/src" same 2097152
ok hf backup --tenant alpha --path "$T/src" --json
SA=$(json_get .id)
ok hf backup --tenant bravo --path "$T/src" --json
SB=$(json_get .id)
TA=$(tenant_tid alpha)
TB=$(tenant_tid bravo)

say "the two tenants have different handles and separate object trees"
[ "$TA" != "$TB" ] || fail "both tenants have handle $TA"
for kind in data index snapshots; do
	[ -d "$REPO/$kind/$TA" ] && [ -d "$REPO/$kind/$TB" ] || fail "missing $kind/ directory of a tenant"
done
[ "$SA" != "$SB" ] || fail "the same content got the same snapshot id in both tenants"

say "the same content yields disjoint objects: no shared pack, index or blob"
(cd "$REPO" && find data/"$TA" index/"$TA" snapshots/"$TA" -type f -printf '%f\n' | sort) >"$T/objs.a"
(cd "$REPO" && find data/"$TB" index/"$TB" snapshots/"$TB" -type f -printf '%f\n' | sort) >"$T/objs.b"
[ -s "$T/objs.a" ] && [ -s "$T/objs.b" ] || fail "no objects listed"
if [ -n "$(comm -12 "$T/objs.a" "$T/objs.b")" ]; then
	comm -12 "$T/objs.a" "$T/objs.b" >&2
	fail "object names shared between tenants"
fi
# No 64-byte block of one tenant's packs appears in the other's (shared ciphertext would mean a shared blob).
"$PY" - "$REPO/data/$TA" "$REPO/data/$TB" <<'EOF' || fail "the two tenants' packs share data"
import os, sys
def blocks(root, step):
    out = set()
    for dp, _, fns in os.walk(root):
        for n in fns:
            b = open(os.path.join(dp, n), "rb").read()
            for i in range(0, len(b) - 64, step):
                out.add(b[i:i + 64])
    return out
a = blocks(sys.argv[1], 64)             # aligned blocks of A
b = blocks(sys.argv[2], 1)              # every offset of B
shared = len(a & b)
print("shared 64-byte blocks:", shared)
sys.exit(1 if shared else 0)
EOF
ok hf restore --tenant alpha --target "$T/ra"
compare_trees "$T/src" "$(restored_root "$T/ra" "$T/src")"
ok hf restore --tenant bravo --target "$T/rb"
compare_trees "$T/src" "$(restored_root "$T/rb" "$T/src")"

say "bravo's snapshot under alpha's name: alpha's key cannot read it"
cp "$REPO/snapshots/$TB/$SB" "$REPO/snapshots/$TA/$SB"
expect_status 5 hf restore --tenant alpha --snapshot "$SB" --target "$T/x"
expect_stderr_match "snapshots/$TA/$SB.*(failed authentication|authentic)"
expect_stderr_match "error: .*$SB"
[ ! -e "$T/x" ] || [ -z "$(ls -A "$T/x")" ] || fail "restore of a foreign snapshot wrote files"
run hf restore --tenant alpha --snapshot "${SB:0:12}" --target "$T/x2"
[ "$STATUS" != 0 ] || { show_last; fail "restore by prefix of a foreign snapshot succeeded"; }
expect_stderr_match "failed authentication"
# the listing is printed without it, and the unreadable manifest makes it fail (exit 3)
expect_status 3 hf snapshots --tenant alpha --json
jq -e --arg id "$SB" 'all(.[]; .id != $id)' "$OUT" >/dev/null || { show_last; fail "alpha lists bravo's snapshot"; }
jq -e --arg id "$SA" 'any(.[]; .id == $id)' "$OUT" >/dev/null || { show_last; fail "alpha's own snapshot is not listed"; }
expect_stderr_match "snapshots/$TA/$SB.*failed authentication"
run hf catalog rebuild
expect_stderr_match "snapshots/$TA/$SB.*failed authentication"
expect_status 3 hf snapshots --tenant alpha --json
jq -e --arg id "$SB" 'all(.[]; .id != $id)' "$OUT" >/dev/null || { show_last; fail "catalog rebuild took bravo's snapshot into alpha"; }
say "check reports the foreign snapshot (exit 3, named)"
expect_status 3 hf check --tenant alpha
expect_stderr_match "damaged: snapshots/$TA/$SB"
expect_status 3 hf check --read-data --json
jq -e --arg o "snapshots/$TA/$SB" 'any(.problems[]; .object == $o)' "$OUT" >/dev/null ||
	{ show_last; fail "check --json does not name the foreign snapshot"; }
say "alpha's own snapshot still restores; bravo is unaffected"
ok hf restore --tenant alpha --snapshot "$SA" --target "$T/ra2"
compare_trees "$T/src" "$(restored_root "$T/ra2" "$T/src")"
ok hf check --tenant bravo --read-data
rm "$REPO/snapshots/$TA/$SB"
ok hf check --read-data

say "bravo's index under alpha's name: check reports it"
idx=$(cd "$REPO/index/$TB" && ls | head -1)
cp "$REPO/index/$TB/$idx" "$REPO/index/$TA/$idx"
expect_status 3 hf check --tenant alpha
expect_stderr_match "damaged: index/$TA/$idx"
ok hf restore --tenant alpha --snapshot "$SA" --target "$T/ra3" --keep-going
compare_trees "$T/src" "$(restored_root "$T/ra3" "$T/src")"
rm "$REPO/index/$TA/$idx"

say "bravo's pack under alpha's name is never taken for alpha's data"
pk=$(cd "$REPO/data/$TB" && find . -type f | head -1)
mkdir -p "$(dirname "$REPO/data/$TA/$pk")"
cp "$REPO/data/$TB/$pk" "$REPO/data/$TA/$pk"
run hf check --tenant alpha --read-data
[ "$STATUS" = 0 ] || [ "$STATUS" = 3 ] || { show_last; fail "check could not run with a foreign pack"; }
ok hf restore --tenant alpha --snapshot "$SA" --target "$T/ra4"
compare_trees "$T/src" "$(restored_root "$T/ra4" "$T/src")"
say "ok"
