#!/usr/bin/env bash
# A restore that fails or is stopped loses nothing: a failed --overwrite restore into an existing tree
# leaves every file and directory that was there exactly as it was (content, mode, mtime); SIGTERM
# leaves no half-written file under its final name and exits 130; a stored name longer than PATH_MAX
# does not break a later restore into the same target.
. "$(dirname "$0")/lib.sh"

hf_init
ok hf tenant add acme --tier gold
TID=$(tenant_tid acme)

say "a failed --overwrite restore leaves the existing tree exactly as it was"
gen_tree "$T/src" safety
ok hf backup --tenant acme --path "$T/src" --json
S1=$(json_get .id)
ok hf restore --tenant acme --snapshot "$S1" --target "$T/r"
R=$(restored_root "$T/r" "$T/src")
compare_trees "$T/src" "$R"
# The target has moved on since: changed content, odd directory modes (a sticky world-writable one and
# a read-only one holding a file the restore replaces), a file where the snapshot has a directory and
# a symlink where it has a file.
printf 'edited after the backup\n' >"$R/etc/app/app.conf"
printf 'local change\n' >"$R/var/lib/state/blob.bin"
rmdir "$R/etc/app/empty-dir"
printf 'a file where the snapshot has a directory\n' >"$R/etc/app/empty-dir"
rm "$R/etc/app/run.sh"
ln -s elsewhere "$R/etc/app/run.sh"
chmod 1777 "$R/etc/app"
chmod 0555 "$R/var/lib/state"
touch -d '2001-02-03 04:05:06' "$R/etc/app" "$R/var/lib/state" "$R/etc" "$T/r"
tree_manifest "$T/r" >"$T/before"
cp -a "$T/r" "$T/r-old"
# Damage the pack holding the 3 MiB blob: its content cannot be verified, so the restore fails.
BIGPACK=$(cd "$REPO" && find "data/$TID" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
flip_byte "$REPO/$BIGPACK" $(($(stat -c %s "$REPO/$BIGPACK") / 2))
expect_status 3 hf restore --tenant acme --snapshot "$S1" --target "$T/r" --overwrite
expect_one_line_error
tree_manifest "$T/r" >"$T/after"
if ! diff -u "$T/before" "$T/after" >&2; then
	fail "a failed --overwrite restore changed the existing tree"
fi
say "  --keep-going --overwrite: the damaged files keep their old content, the others are replaced"
# Which files the flipped byte damages depends on where the chunker put them: ask check.
expect_status 3 hf check --tenant acme --read-data --json
DAMAGED=$(jq -r --arg s "${S1:0:12}:" '.problems[].affected[]? | select(startswith($s)) | ltrimstr($s)' "$OUT" | sort -u)
[ -n "$DAMAGED" ] || { show_last; fail "check names no damaged file"; }
expect_status 3 hf restore --tenant acme --snapshot "$S1" --target "$T/r" --overwrite --keep-going
while IFS= read -r p; do
	if [ -e "$T/r-old/$p" ] || [ -L "$T/r-old/$p" ]; then
		cmp -s "$T/r-old/$p" "$T/r/$p" || fail "the damaged file $p lost its old content"
	else
		[ ! -e "$T/r/$p" ] || fail "the damaged file $p was restored although its data is damaged"
	fi
done <<<"$DAMAGED"
damaged() { grep -qxF "${R#"$T/r/"}/$1" <<<"$DAMAGED"; }
damaged etc/app/app.conf || cmp -s "$T/src/etc/app/app.conf" "$R/etc/app/app.conf" || fail "app.conf was not replaced"
damaged etc/app/run.sh || [ ! -L "$R/etc/app/run.sh" ] || fail "the symlink where the snapshot has a file was not replaced"
[ -d "$R/etc/app/empty-dir" ] || fail "the file where the snapshot has a directory was not replaced"
[ -z "$(find "$T/r" -name '.holdfast-*')" ] || fail "hidden names left in the target"
say "  tar export: a failed --overwrite keeps the old archive; nothing is left under a temporary name"
mkdir -p "$T/out" && printf 'an earlier archive\n' >"$T/out/old.tar"
expect_status 3 hf restore --tenant acme --snapshot "$S1" --tar "$T/out/old.tar" --overwrite
expect_one_line_error
[ "$(cat "$T/out/old.tar")" = "an earlier archive" ] || fail "a failed tar export replaced the old archive"
expect_status 3 hf restore --tenant acme --snapshot "$S1" --tar "$T/out/new.tar"
[ ! -e "$T/out/new.tar" ] && [ "$(ls -A "$T/out")" = old.tar ] || fail "a failed tar export left files: $(ls -A "$T/out")"
say "  and once the data is intact, --overwrite replaces everything (no hidden names left)"
flip_byte "$REPO/$BIGPACK" $(($(stat -c %s "$REPO/$BIGPACK") / 2))   # flipped back
ok hf restore --tenant acme --snapshot "$S1" --target "$T/r" --overwrite
compare_trees "$T/src" "$R"
[ -z "$(find "$T/r" -name '.holdfast-*')" ] || fail "hidden names left in the target"
ok hf restore --tenant acme --snapshot "$S1" --tar "$T/out/old.tar" --overwrite
[ "$(ls -A "$T/out")" = old.tar ] && tar -tf "$T/out/old.tar" >/dev/null || fail "tar export --overwrite did not replace the archive"
expect_status 9 hf restore --tenant acme --snapshot "$S1" --tar "$T/out/old.tar"

say "a restore makes what it wrote durable before it reports success; --no-sync skips that"
ok traced -f -qq -e trace=syncfs -o "$T/sync.trace" "$HOLDFAST" --repo "$REPO" restore --tenant acme --target "$T/r-sync"
[ "$(grep -c 'syncfs(' "$T/sync.trace")" -ge 1 ] || fail "the restore did not syncfs its target"
ok traced -f -qq -e trace=syncfs -o "$T/nosync.trace" "$HOLDFAST" --repo "$REPO" restore --tenant acme \
	--target "$T/r-nosync" --no-sync
[ "$(grep -c 'syncfs(' "$T/nosync.trace")" = 0 ] || fail "restore --no-sync called syncfs"
compare_trees "$T/src" "$(restored_root "$T/r-nosync" "$T/src")"

say "SIGTERM during a restore: exit 130, every file left is complete"
mkdir -p "$T/big"
for i in 1 2 3 4 5 6; do gen_bytes "big$i" $((24 << 20)) >"$T/big/f$i.bin"; done
ok hf backup --tenant acme --path "$T/big" --json
S2=$(json_get .id)
# term_mid_run READY RESET CMD...: run CMD in the background and send it SIGTERM as soon as the shell
# test READY holds; a run that finishes first is retried (after RESET), up to 5 times. Sets $status;
# the run's stderr is in $T/sig.err.
term_mid_run() {
	local ready=$1 reset=$2 attempt pid
	shift 2
	for attempt in 1 2 3 4 5; do
		eval "$reset"
		"$@" >"$T/sig.out" 2>"$T/sig.err" &
		pid=$!
		HF_PIDS+=("$pid")
		for _ in $(seq 3000); do
			eval "$ready" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.002
		done
		kill -TERM "$pid" 2>/dev/null || true
		status=0
		wait "$pid" || status=$?
		HF_PIDS=()
		[ "$status" = 0 ] || break
		say "  attempt $attempt: it finished before the signal; again"
	done
	[ "$status" != 0 ] || fail "never caught the run while it was writing: $*"
	! grep -qE 'runtime error:|AddressSanitizer|LeakSanitizer' "$T/sig.err" || { cat "$T/sig.err" >&2; fail "sanitizer report"; }
}
# a file being written: created (mode 0600 until its metadata is applied), content started
term_mid_run '[ -n "$(find "$T/rs" -type f -perm 600 -size +0 2>/dev/null | head -1)" ]' 'rm -rf "$T/rs"' \
	"$HOLDFAST" --repo "$REPO" restore --tenant acme --snapshot "$S2" --target "$T/rs" --threads 2
[ "$status" = 130 ] || { cat "$T/sig.err" >&2; fail "an interrupted restore exited with $status, not 130"; }
grep -q 'interrupted' "$T/sig.err" || { cat "$T/sig.err" >&2; fail "no 'interrupted' in the message"; }
RS=$(restored_root "$T/rs" "$T/big")
n=0
while IFS= read -r -d '' f; do
	cmp -s "$f" "$T/big/$(basename "$f")" || fail "$f was left half written ($(stat -c %s "$f") bytes)"
	[ "$(stat -c %a "$f")" = "$(stat -c %a "$T/big/$(basename "$f")")" ] || fail "$f has not its metadata"
	n=$((n + 1))
done < <(find "$T/rs" -type f -print0)
say "  $n of 6 files complete, the others absent"
[ "$n" -lt 6 ] || fail "all files complete: the signal came too late to test anything"
# a new run finishes the job
ok hf restore --tenant acme --snapshot "$S2" --target "$T/rs" --overwrite
compare_trees "$T/big" "$RS"

say "SIGTERM during a tar export: exit 130, no archive and no temporary file left"
mkdir -p "$T/tx"
term_mid_run '[ -n "$(find "$T/tx" -type f -size +1M 2>/dev/null | head -1)" ]' 'rm -f "$T/tx/out.tar"' \
	"$HOLDFAST" --repo "$REPO" restore --tenant acme --snapshot "$S2" --tar "$T/tx/out.tar"
[ "$status" = 130 ] || { cat "$T/sig.err" >&2; fail "an interrupted tar export exited with $status, not 130"; }
[ -z "$(ls -A "$T/tx")" ] || fail "an interrupted tar export left: $(ls -A "$T/tx")"

say "a stored name longer than PATH_MAX does not break a later restore into the same target"
"$PY" - "$T/long.tar" <<'EOF'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
p = ""
for i in range(25):
    p += "d" * 200 + str(i) + "/"
    ti = tarfile.TarInfo(p.rstrip("/")); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
ti = tarfile.TarInfo(p + "deepfile"); ti.size = 4; ti.mode = 0o644; t.addfile(ti, io.BytesIO(b"deep"))
ti = tarfile.TarInfo("top"); ti.size = 1; ti.mode = 0o644; t.addfile(ti, io.BytesIO(b"x"))
t.close()
EOF
ok hf backup --tenant acme --tar "$T/long.tar" --json
S3=$(json_get .id)
ok hf restore --tenant acme --snapshot "$S3" --target "$T/rl"
rm "$T/rl/top"
expect_status 9 hf restore --tenant acme --snapshot "$S3" --target "$T/rl"
expect_one_line_error
[ ! -e "$T/rl/top" ] || fail "a refused restore wrote 'top'"
ok hf restore --tenant acme --snapshot "$S3" --target "$T/rl" --overwrite
[ "$(cat "$T/rl/top")" = x ] || fail "top was not put back"
"$PY" - "$T/rl" <<'EOF' || fail "deepfile is not intact"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(25):
    nfd = os.open("d" * 200 + str(i), os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
assert os.listdir(fd) == ["deepfile"], os.listdir(fd)
f = os.open("deepfile", os.O_RDONLY, dir_fd=fd)
assert os.read(f, 100) == b"deep"
EOF
chmod -R u+w "$T" 2>/dev/null || true
say "ok"
