#!/usr/bin/env bash
# kill -9 during a large backup: no new snapshot becomes visible, check --read-data passes, the next
# backup succeeds (no stale lock) and reuses the packs that landed, and a restore is byte-identical.
. "$(dirname "$0")/lib.sh"

hf_init
ok hf tenant add acme --tier gold
TID=$(tenant_tid acme)

say "an earlier, small snapshot"
gen_tree "$T/small" small 65536
ok hf backup --tenant acme --path "$T/small" --json
S0=$(json_get .id)

say "generate ~300 MB of incompressible data"
mkdir "$T/big"
"$PY" - "$T/big" <<'EOF'
import os, random, sys
for i in range(30):
    r = random.Random("crash-%d" % i)
    with open(os.path.join(sys.argv[1], "part-%02d.bin" % i), "wb") as f:
        for _ in range(10):
            f.write(r.randbytes(1000000))
EOF
TOTAL=$(find "$T/big" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
[ "$TOTAL" -ge 300000000 ] || fail "generated only $TOTAL bytes"

# complete packs (content-named; temporary files are not)
packs() { find "$REPO/data" -type f -regextype posix-extended -regex '.*/[0-9a-f]{64}' -printf '%P %s\n' 2>/dev/null | sort; }
packs >"$T/packs.before"

say "kill -9 the backup after its first packs land"
"$HOLDFAST" --repo "$REPO" backup --tenant acme --path "$T/big" >"$T/killed.out" 2>"$T/killed.err" &
pid=$!
HF_PIDS+=("$pid")
deadline=$((SECONDS + 120))
while [ "$(packs | wc -l)" -le "$(wc -l <"$T/packs.before")" ]; do
	kill -0 "$pid" 2>/dev/null || { cat "$T/killed.err" >&2; fail "the backup ended before any pack landed"; }
	[ $SECONDS -lt $deadline ] || fail "no pack landed within 120 s"
	sleep 0.01
done
kill -0 "$pid" 2>/dev/null || fail "the backup finished before it could be killed (make the data set larger)"
kill -9 "$pid"
st=0
{ wait "$pid"; } 2>/dev/null || st=$?   # (no "Killed" job message)
HF_PIDS=()   # reaped: its pid may be reused, never kill it again
[ "$st" = 137 ] || fail "the backup was not killed by SIGKILL (status $st)"
packs >"$T/packs.after"
LANDED=$(comm -13 "$T/packs.before" "$T/packs.after" | awk '{s += $2} END {print s + 0}')
say "  $(comm -13 "$T/packs.before" "$T/packs.after" | wc -l) pack(s), $LANDED bytes landed before the kill"
[ "$LANDED" -gt 0 ] || fail "no new pack landed"
[ ! -s "$T/killed.out" ] || { cat "$T/killed.out" >&2; fail "the killed backup reported a snapshot"; }

say "no new snapshot is visible (listing, and the repository itself)"
ok hf snapshots --tenant acme --json
[ "$(jq -r '[.[].id] | join(" ")' "$OUT")" = "$S0" ] || { show_last; fail "a snapshot of the killed backup is visible"; }
[ "$(ls "$REPO/snapshots/$TID" | tr -d '\n')" = "$S0" ] || fail "a snapshot object of the killed backup exists"
ok hf catalog rebuild
ok hf snapshots --tenant acme --json
[ "$(jq -r '[.[].id] | join(" ")' "$OUT")" = "$S0" ] || { show_last; fail "catalog rebuild found a snapshot of the killed backup"; }

say "check --read-data passes (unreferenced packs are harmless)"
ok hf check --read-data
ok hf check --read-data --json
jq -e '.ok == true and (.problems | length) == 0' "$OUT" >/dev/null || { show_last; fail "check reports problems"; }
ok hf restore --tenant acme --snapshot "$S0" --target "$T/r0"
compare_trees "$T/small" "$(restored_root "$T/r0" "$T/small")"

say "the next backup succeeds and reuses what landed"
ok hf backup --tenant acme --path "$T/big" --json
S1=$(json_get .id)
bytes=$(json_get .bytes)
stored=$(json_get .stored_bytes)
say "  $bytes bytes, $stored stored, $LANDED reused from the killed run"
[ "$bytes" = "$TOTAL" ] || fail "backup counted $bytes bytes, expected $TOTAL"
[ "$stored" -lt "$bytes" ] || fail "the backup stored $stored of $bytes bytes: nothing reused"
[ $((stored + LANDED * 9 / 10)) -le $((bytes + 1048576)) ] ||
	fail "the backup stored $stored of $bytes bytes although $LANDED bytes of packs had landed"
ok hf check --read-data --json
jq -e '.ok == true and .unreferenced_packs == 0' "$OUT" >/dev/null ||
	{ show_last; fail "after the next backup, packs are still unreferenced or check fails"; }

say "restore is byte-identical"
ok hf restore --tenant acme --snapshot "$S1" --target "$T/r1"
compare_trees "$T/big" "$(restored_root "$T/r1" "$T/big")"
say "ok"
