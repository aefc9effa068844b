#!/usr/bin/env bash
# Two tenants' configuration-state files: backup, list, change, backup, restore an earlier snapshot
# (by id, prefix, latest, --at), tar export and import, stdin, dedup of unchanged data, --include.
. "$(dirname "$0")/lib.sh"

hf_init
ok hf tenant add acme --tier gold
ok hf tenant add beta --tier silver
gen_tree "$T/src/acme" acme
gen_tree "$T/src/beta" beta 1048576
ACME=$T/src/acme
BETA=$T/src/beta

say "first backups (snapshot times from HOLDFAST_FAKE_NOW)"
HOLDFAST_FAKE_NOW=2026-01-10T10:00:00Z ok hf backup --tenant acme --path "$ACME" --json
S1=$(json_get .id)
S1_BYTES=$(json_get .bytes)
[[ $S1 =~ ^[0-9a-f]{64}$ ]] || fail "backup --json id '$S1' is not 64 hex digits"
[ "$(json_get .tenant)" = acme ] || fail "backup --json tenant"
[ "$(json_get .files)" -ge 12 ] || fail "backup --json counts fewer than 12 files"
HOLDFAST_FAKE_NOW=2026-01-10T10:30:00Z ok hf backup --tenant beta --path "$BETA" --json
B1=$(json_get .id)
cp -a "$ACME" "$T/acme-v1"   # the earlier state, for comparisons (cp -a keeps modes, mtimes, hardlinks)

say "snapshots --json: an array with id, tenant, source, time, size"
ok hf snapshots --json
jq -e 'type == "array" and length == 2' "$OUT" >/dev/null || { show_last; fail "expected an array of 2 snapshots"; }
jq -e 'all(.[]; (.id|type)=="string" and (.tenant|type)=="string" and (.source|type)=="string"
	and (.time|type)=="string" and (.size|type)=="number")' "$OUT" >/dev/null ||
	{ show_last; fail "a snapshot lacks id, tenant, source, time or size"; }
[ "$(jq -r --arg id "$S1" '.[] | select(.id == $id) | "\(.tenant) \(.source) \(.time) \(.size)"' "$OUT")" = \
	"acme files 2026-01-10T10:00:00Z $S1_BYTES" ] || { show_last; fail "snapshot $S1 listed wrongly"; }
ok hf snapshots --tenant beta --json
[ "$(jq -r '[.[].id] | join(" ")' "$OUT")" = "$B1" ] || { show_last; fail "snapshots --tenant beta lists others"; }
ok hf snapshots
expect_stdout_match "^${S1:0:12} +acme +files"

say "change acme's files and back up again"
gen_text acme-changed 25000 >"$ACME/etc/app/app.conf"     # also changes its hardlink
touch -d '2025-06-01 12:00:00' "$ACME/etc/app/app.conf"
rm "$ACME/etc/app/conf.d/20 with space.conf"
printf 'new\n' >"$ACME/etc/app/conf.d/30-new.conf"
ln -sfn run.sh "$ACME/etc/app/db.conf"
chmod 0640 "$ACME/ünïcødé/résumé.txt"
gen_bytes acme-tail 100 >>"$ACME/var/lib/state/blob.bin"
HOLDFAST_FAKE_NOW=2026-01-11T10:00:00Z ok hf --verbose backup --tenant acme --path "$ACME" --json
S2=$(json_get .id)
# --verbose names the phases: the second backup found its parent
expect_stderr_match "info: backup of tenant 'acme': index of [0-9]+ blobs"
expect_stderr_match "info: parent snapshot ${S1:0:12}: files unchanged since are not read"
expect_stderr_match "info: snapshot ${S2:0:12} committed"
[ "$S2" != "$S1" ] || fail "the changed tree got the same snapshot id"
cp -a "$ACME" "$T/acme-v2"

say "restore the earlier snapshot by id"
ok hf restore --tenant acme --snapshot "$S1" --target "$T/r-id"
[ ! -s "$ERR" ] || { show_last; fail "restore without --verbose printed on stderr"; }
compare_trees "$T/acme-v1" "$(restored_root "$T/r-id" "$ACME")"
say "restore the earlier snapshot by prefix"
ok hf restore --tenant acme --snapshot "${S1:0:10}" --target "$T/r-prefix"
compare_trees "$T/acme-v1" "$(restored_root "$T/r-prefix" "$ACME")"
say "restore the earlier snapshot with --at (newest at or before)"
ok hf restore --tenant acme --at 2026-01-10T23:59:59Z --target "$T/r-at"
compare_trees "$T/acme-v1" "$(restored_root "$T/r-at" "$ACME")"
ok hf restore --tenant acme --at 2026-01-11T11:00:00+01:00 --target "$T/r-at2"   # = 10:00Z: S2
compare_trees "$T/acme-v2" "$(restored_root "$T/r-at2" "$ACME")"
expect_status 5 hf restore --tenant acme --at 2026-01-09 --target "$T/r-none"
expect_one_line_error
expect_stderr_match "acme"
[ ! -e "$T/r-none" ] || [ -z "$(ls -A "$T/r-none")" ] || fail "a failed restore left files in the target"
say "restore latest (explicit and default) is the changed state"
ok hf restore --tenant acme --snapshot latest --target "$T/r-latest"
compare_trees "$T/acme-v2" "$(restored_root "$T/r-latest" "$ACME")"
ok hf restore --tenant acme --target "$T/r-default"
compare_trees "$T/acme-v2" "$(restored_root "$T/r-default" "$ACME")"
say "tenant beta is untouched; acme's snapshot is not beta's"
ok hf restore --tenant beta --target "$T/r-beta"
compare_trees "$BETA" "$(restored_root "$T/r-beta" "$BETA")"
expect_status 5 hf restore --tenant beta --snapshot "$S1" --target "$T/r-cross"
expect_one_line_error
expect_status 5 hf restore --tenant acme --snapshot 0000000000 --target "$T/r-cross"
expect_one_line_error
expect_stderr_match "0000000000"

say "restoring over existing files is refused without --overwrite"
expect_status 9 hf restore --tenant acme --snapshot "$S1" --target "$T/r-id"
expect_one_line_error
compare_trees "$T/acme-v1" "$(restored_root "$T/r-id" "$ACME")"
r_id=$(restored_root "$T/r-id" "$ACME")
printf 'tampered\n' >"$r_id/etc/app/conf.d/10-db.conf"
rm "$r_id/etc/app/db.conf"
ok hf restore --tenant acme --snapshot "$S1" --target "$T/r-id" --overwrite
compare_trees "$T/acme-v1" "$r_id"

say "tar export of the earlier snapshot to a file and to stdout"
ok hf restore --tenant acme --snapshot "$S1" --tar "$T/s1.tar"
mkdir "$T/x-file" "$T/x-stdout"
tar -C "$T/x-file" -xf "$T/s1.tar" || fail "GNU tar cannot extract the exported archive"
compare_trees "$T/acme-v1" "$(restored_root "$T/x-file" "$ACME")"
"$HOLDFAST" --repo "$REPO" restore --tenant acme --snapshot "${S1:0:16}" --tar - 2>"$ERR" |
	tar -C "$T/x-stdout" -xf - || { show_last; fail "restore --tar - | tar -x failed"; }
check_sanitizers "restore --tar -"
compare_trees "$T/acme-v1" "$(restored_root "$T/x-stdout" "$ACME")"
expect_status 9 hf restore --tenant acme --snapshot "$S1" --tar "$T/s1.tar"
expect_one_line_error

say "tar import: a snapshot of an archive restores to the archive's tree"
(cd "$T/acme-v2" && tar --format=posix -cf "$T/import.tar" .) || fail "tar -c failed"
HOLDFAST_FAKE_NOW=2026-01-12T10:00:00Z ok hf backup --tenant acme --tar "$T/import.tar" --json
S_TAR=$(json_get .id)
[ "$(json_get .files)" -ge 12 ] || { show_last; fail "tar import counted fewer than 12 files"; }
ok hf restore --tenant acme --snapshot "$S_TAR" --target "$T/r-tar"
# The archive's own "." entry carries no data; compare everything below it.
for d in etc var ünïcødé; do
	compare_trees "$T/acme-v2/$d" "$T/r-tar/$d"
done
[ "$(ls -A "$T/r-tar" | sort | tr '\n' ' ')" = "etc var ünïcødé " ] || fail "tar import restored extra top-level entries"
say "tar import from stdin (--tar -)"
ok hf backup --tenant beta --tar - <"$T/import.tar"
ok hf restore --tenant beta --target "$T/r-tar-stdin"
compare_trees "$T/acme-v2/etc" "$T/r-tar-stdin/etc"
say "tar import: hard links named before their file in walk order still restore as one inode"
# The archive holds zz (the data), then m/x and aa linking to it; a restore creates names in sorted
# depth-first order (aa, m/x, zz), so the snapshot must make aa the file and link the others to it.
mkdir -p "$T/hl/m" && echo 'lab result 42' >"$T/hl/zz"
ln "$T/hl/zz" "$T/hl/m/x" && ln "$T/hl/zz" "$T/hl/aa"
tar -C "$T/hl" -cf "$T/hl.tar" zz m/x aa
ok hf backup --tenant beta --tar "$T/hl.tar" --json
S_HL=$(json_get .id)
ok hf check --tenant beta --read-data
ok hf restore --tenant beta --snapshot "$S_HL" --target "$T/r-hl"
for f in aa m/x zz; do
	[ "$(cat "$T/r-hl/$f")" = 'lab result 42' ] || fail "hard link $f restored with the wrong content"
done
[ "$(stat -c %i "$T/r-hl/aa")" = "$(stat -c %i "$T/r-hl/zz")" ] &&
	[ "$(stat -c %i "$T/r-hl/m/x")" = "$(stat -c %i "$T/r-hl/zz")" ] && [ "$(stat -c %h "$T/r-hl/zz")" = 3 ] ||
	fail "the three names of the archive's hard link are not one inode after restore"
ok hf restore --tenant beta --snapshot "$S_HL" --tar "$T/hl-out.tar"
mkdir "$T/x-hl" && tar -C "$T/x-hl" -xf "$T/hl-out.tar" || fail "the exported archive does not extract"
[ "$(stat -c %h "$T/x-hl/zz")" = 3 ] && [ "$(cat "$T/x-hl/m/x")" = 'lab result 42' ] ||
	fail "tar export of the hard-link group differs"

say "a sparse file keeps its holes, also those that share a chunk with data"
# 512 bytes of data every 2 MiB in 16 MiB: every chunk holds data and megabytes of zeros
mkdir -p "$T/sparse" && truncate -s 16M "$T/sparse/db"
for i in 0 1 2 3 4 5 6 7; do
	printf '%0512d' "$i" | dd of="$T/sparse/db" bs=512 seek=$((i * 4096)) conv=notrunc status=none
done
ok hf backup --tenant beta --path "$T/sparse"
ok hf restore --tenant beta --snapshot latest --target "$T/r-sparse" --no-sync
cmp "$T/sparse/db" "$(restored_root "$T/r-sparse" "$T/sparse")/db" || fail "the sparse file restored differently"
used=$(du -k "$(restored_root "$T/r-sparse" "$T/sparse")/db" | cut -f1)
[ "$used" -le 1024 ] || fail "the restored sparse file uses $used KiB of its 16384 (holes inside chunks were written)"

say "a broken tar archive is refused, no snapshot is added"
head -c 30000 "$T/import.tar" >"$T/broken.tar"
ok hf snapshots --tenant acme --json
n_before=$(jq length "$OUT")
run hf backup --tenant acme --tar "$T/broken.tar"
[ "$STATUS" != 0 ] || { show_last; fail "a truncated tar archive was accepted"; }
expect_one_line_error
ok hf snapshots --tenant acme --json
[ "$(jq length "$OUT")" = "$n_before" ] || fail "a failed tar import left a snapshot"

say "--stdin --stdin-name"
gen_bytes dump 2500000 >"$T/dump.sql"
ok hf backup --tenant beta --stdin --stdin-name nightly/dump.sql --json <"$T/dump.sql"
S_STDIN=$(json_get .id)
[ "$(json_get .bytes)" = 2500000 ] || { show_last; fail "stdin backup counted the wrong size"; }
ok hf restore --tenant beta --snapshot "$S_STDIN" --target "$T/r-stdin"
cmp "$T/dump.sql" "$T/r-stdin/nightly/dump.sql" || fail "stdin data restored differently"
ok hf restore --tenant beta --snapshot "$S_STDIN" --tar - 
tar -xOf "$OUT" nightly/dump.sql | cmp - "$T/dump.sql" || fail "stdin data exported to tar differently"

say "a second backup of unchanged data stores almost nothing new"
HOLDFAST_FAKE_NOW=2026-01-13T10:00:00Z ok hf backup --tenant acme --path "$ACME" --json
total=$(json_get .bytes)
new=$(json_get .new_bytes)
stored=$(json_get .stored_bytes)
[ "$total" -gt 3000000 ] || { show_last; fail "unexpected total size $total"; }
[ $((new * 100)) -lt "$total" ] || { show_last; fail "unchanged data: $new new bytes of $total (>= 1%)"; }
[ "$stored" -lt 65536 ] || { show_last; fail "unchanged data: $stored bytes stored (>= 64 KiB)"; }
ok hf restore --tenant acme --target "$T/r-unchanged"
compare_trees "$T/acme-v2" "$(restored_root "$T/r-unchanged" "$ACME")"

say "--include restores a subset"
abs=$(cd "$ACME" && pwd -P)
ok hf restore --tenant acme --snapshot "$S1" --include "$abs/etc/app/conf.d" --include "$abs/ünïcødé/日本語" \
	--target "$T/r-inc"
root=$(restored_root "$T/r-inc" "$ACME")
compare_trees "$T/acme-v1/etc/app/conf.d" "$root/etc/app/conf.d"
compare_trees "$T/acme-v1/ünïcødé/日本語" "$root/ünïcødé/日本語"
n=$(find "$T/r-inc" -type f | wc -l)
[ "$n" = 3 ] || { find "$T/r-inc" >&2; fail "--include restored $n files, expected 3"; }
[ ! -e "$root/var" ] && [ ! -e "$root/etc/app/app.conf" ] || fail "--include restored files outside the subset"
expect_status 5 hf restore --tenant acme --snapshot "$S1" --include "$abs/no/such/dir" --target "$T/r-inc2"
expect_one_line_error
expect_stderr_match "no/such/dir"

say "a directory larger than one lstat batch (1024 entries)"
mkdir -p "$T/many/sub"
for i in $(seq -w 0 1299); do printf 'file %s\n' "$i" >"$T/many/f$i"; done
ln -s f0001 "$T/many/zz-link"
printf 'deep\n' >"$T/many/sub/deep"
ok hf backup --tenant beta --path "$T/many" --json
many=$(json_get .id)
ok hf restore --tenant beta --snapshot "$many" --target "$T/r-many"
compare_trees "$T/many" "$(restored_root "$T/r-many" "$T/many")"

say "check --read-data of everything written here"
ok hf check --read-data
say "ok"
