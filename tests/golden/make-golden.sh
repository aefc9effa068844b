#!/usr/bin/env bash
# Creates the golden repository tests/golden/v1 (format version 1) and what restoring it must give,
# tests/golden/v1-expected/. Run ONCE per format version, then commit the output: tests/cli/golden.sh
# checks forever after that every later holdfast still reads it. Never regenerate an existing version;
# a format change adds v2 (copy this script to make v2).
# Usage: HOLDFAST=path/to/holdfast tests/golden/make-golden.sh
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"

V=v1
OUTREPO=$here/$V
EXP=$here/$V-expected
SRC=/tmp/holdfast-golden-$V   # a fixed path: snapshots record absolute source paths
[ ! -e "$OUTREPO" ] && [ ! -e "$EXP" ] || fail "$OUTREPO or $EXP exists: golden files are never regenerated"
[ ! -e "$SRC" ] || fail "$SRC exists; remove it first"
trap 'rm -rf "$SRC"; cleanup' EXIT
[ -s "$here/pass" ] || fail "$here/pass (the golden passphrase) is missing"
export HOLDFAST_PASSWORD_FILE=$here/pass
REPO=$OUTREPO
mkdir -p "$EXP"

# fixed_mtimes DIR: distinct, fixed mtimes with nanoseconds, children before parents.
fixed_mtimes() {
	"$PY" - "$1" "$2" <<'EOF'
import os, sys
root, base = sys.argv[1], int(sys.argv[2])
paths = []
for dp, dns, fns in os.walk(root):
    paths += [os.path.join(dp, n) for n in dns + fns]
paths.sort(key=lambda p: (-p.count("/"), p))
for i, p in enumerate(paths + [root]):
    t = base * 10**9 + i * 60 * 10**9 + 250000000 + i
    os.utime(p, ns=(t, t), follow_symlinks=False)
EOF
}

say "repository: fast KDF, 1 MiB packs, 16 KiB chunks; a passphrase slot and a key-file slot"
HOLDFAST_FAKE_NOW=2026-01-01T00:00:00Z ok hf init --kdf-memory 8 --kdf-iterations 1 --pack-size 1 --chunk-size 16
HOLDFAST_FAKE_NOW=2026-01-01T00:01:00Z ok hf key add --new-key-file "$here/$V.key"
HOLDFAST_FAKE_NOW=2026-01-01T00:02:00Z ok hf tenant add clinic-a --tier gold
HOLDFAST_FAKE_NOW=2026-01-01T00:03:00Z ok hf tenant add clinic-b --tier silver

say "clinic-a: a files snapshot, a change, a second snapshot"
A=$SRC/clinic-a
mkdir -p "$A/etc/conf.d" "$A/var/lib" "$A/bin" "$A/empty-dir" "$A/ünïcødé"
gen_text golden-app 3000 >"$A/etc/app.conf"
gen_text golden-db 700 >"$A/etc/conf.d/10-db.conf"
chmod 0600 "$A/etc/conf.d/10-db.conf"
: >"$A/etc/empty"
ln -s app.conf "$A/etc/link"
ln "$A/etc/app.conf" "$A/var/lib/app.conf.hard"
gen_bytes golden-blob 40000 >"$A/var/lib/blob.bin"
printf 'naïve\n' >"$A/ünïcødé/名前.txt"
printf '#!/bin/sh\necho ok\n' >"$A/bin/run.sh"
chmod 0755 "$A/bin/run.sh"
fixed_mtimes "$A" 1767225600
tree_manifest "$A" >"$EXP/clinic-a-1.manifest"
HOLDFAST_FAKE_NOW=2026-01-02T00:00:00Z ok hf backup --tenant clinic-a --path "$A"
gen_text golden-app-2 3500 >"$A/etc/app.conf"            # the hardlink changes too
gen_text golden-new 400 >"$A/etc/conf.d/20-new.conf"
rm "$A/ünïcødé/名前.txt"
gen_bytes golden-tail 5000 >>"$A/var/lib/blob.bin"
fixed_mtimes "$A" 1767312000
tree_manifest "$A" >"$EXP/clinic-a-2.manifest"
HOLDFAST_FAKE_NOW=2026-01-03T00:00:00Z ok hf backup --tenant clinic-a --path "$A"

say "clinic-b: a stdin snapshot and a tar import"
gen_text golden-dump 10000 >"$SRC/clinic-b.sql"
sha_of "$SRC/clinic-b.sql" >"$EXP/clinic-b-stdin.sha256"
HOLDFAST_FAKE_NOW=2026-01-04T00:00:00Z ok hf backup --tenant clinic-b --stdin --stdin-name dump/clinic-b.sql <"$SRC/clinic-b.sql"
B=$SRC/clinic-b-tar
mkdir -p "$B/config/nested"
gen_text golden-tar-1 1200 >"$B/config/settings.json"
gen_text golden-tar-2 300 >"$B/config/nested/extra.ini"
ln -s settings.json "$B/config/current"
fixed_mtimes "$B" 1767484800
tree_manifest "$B" | grep -v $'^\\.\t' >"$EXP/clinic-b-tar.manifest"   # the archive has no "." entry
(cd "$B" && tar --format=posix --numeric-owner -cf "$SRC/clinic-b.tar" config) || fail "tar -c failed"
HOLDFAST_FAKE_NOW=2026-01-05T00:00:00Z ok hf backup --tenant clinic-b --tar "$SRC/clinic-b.tar"

say "the listing every later version must reproduce"
ok hf snapshots --json
jq '[.[] | {id, tenant, source, "label": .label, time, recovery_time, parent, files, size}]' "$OUT" >"$EXP/snapshots.json"
[ "$(jq length "$EXP/snapshots.json")" = 4 ] || fail "expected 4 snapshots"
ok hf check --read-data
ok hf key list --json
jq '[.[] | {id, type}] | sort_by(.id)' "$OUT" >"$EXP/keys.json"
rm -f "$OUTREPO"/*.lock
du -sh "$here"
say "done: commit tests/golden/$V, tests/golden/$V-expected and tests/golden/$V.key"
