#!/usr/bin/env bash
# Damaged repositories: a flipped byte in a pack, an index object and a snapshot manifest, a truncated
# pack, a missing pack. check names the object and the affected files (exit 3), restore --keep-going
# restores everything else byte-identical (non-zero exit), and nothing is repaired or rewritten.
. "$(dirname "$0")/lib.sh"

say "a pristine repository: small packs, two snapshots"
expect_status 0 "$HOLDFAST" --repo "$T/pristine" init --kdf-memory 8 --kdf-iterations 1 --pack-size 1 --chunk-size 256
REPO=$T/pristine
ok hf tenant add acme --tier gold
TID=$(tenant_tid acme)
mkdir -p "$T/d1/sub" "$T/d2"
for i in 1 2 3 4; do gen_bytes "f$i" 1500000 >"$T/d1/big$i.bin"; done
for i in 1 2 3 4 5 6; do gen_text "t$i" 3000 >"$T/d1/sub/t$i.txt"; done
for i in 5 6; do gen_bytes "f$i" 1500000 >"$T/d2/big$i.bin"; done
gen_text t7 5000 >"$T/d2/t7.txt"
ok hf backup --tenant acme --path "$T/d1" --json
S1=$(json_get .id)
IDX1=$(cd "$REPO/index/$TID" && ls)
[ "$(echo "$IDX1" | wc -l)" = 1 ] || fail "expected one index object after the first backup"
ok hf backup --tenant acme --path "$T/d1" --path "$T/d2" --json
S2=$(json_get .id)
IDX2=$(cd "$REPO/index/$TID" && find . -type f ! -name "$IDX1" -printf '%f\n')
[ "$(echo "$IDX2" | wc -l)" = 1 ] || fail "expected one new index object after the second backup"
npacks=$(find "$REPO/data/$TID" -type f | wc -l)
[ "$npacks" -ge 6 ] || fail "expected at least 6 packs with --pack-size 1, got $npacks"
ok hf check --read-data
# The largest pack holds file data only (tree blobs are tiny).
BIGPACK=$(cd "$REPO" && find "data/$TID" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)

# repo_state DIR: every file with its size and hash, to prove nothing was rewritten or repaired.
repo_state() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }

# use_case NAME: a fresh copy of the pristine repository as $REPO.
use_case() {
	say "case: $1"
	REPO=$T/case-$1
	cp -a "$T/pristine" "$REPO"
}

# affected_of OBJECT SNAPSHOT: the files check --json reported for OBJECT in SNAPSHOT (paths, one a line).
affected_of() {
	jq -r --arg o "$1" --arg s "${2:0:12}:" \
		'.problems[] | select(.object == $o) | .affected[] | select(startswith($s)) | ltrimstr($s)' "$T/check.json"
}

# expect_check_names OBJECT [--plain]: check (with --read-data unless --plain) exits 3, names OBJECT on
# stderr and in --json, and changes nothing in the repository.
expect_check_names() {
	local obj=$1 mode=--read-data
	[ "${2:-}" = --plain ] && mode=
	repo_state "$REPO" >"$T/state.before"
	# shellcheck disable=SC2086
	expect_status 3 hf check $mode --json
	cp "$OUT" "$T/check.json"
	jq -e --arg o "$obj" '.ok == false and any(.problems[]; .object == $o)' "$T/check.json" >/dev/null ||
		{ show_last; fail "check --json does not name $obj"; }
	# shellcheck disable=SC2086
	expect_status 3 hf check $mode   # last, so that its stderr can be inspected by the caller
	expect_stderr_match "damaged: $obj"
	expect_stdout_match 'problem\(s\) found'
	repo_state "$REPO" >"$T/state.after"
	diff -q "$T/state.before" "$T/state.after" >/dev/null || fail "check changed the repository"
}

# expect_partial_restore SNAPSHOT AFFECTED_LIST DIR...: restore --keep-going exits non-zero naming the
# damage; every file of DIR... is either restored byte-identical or listed as affected (and then absent);
# at least one file is restored and at least one is not.
expect_partial_restore() {
	local snap=$1 affected=$2 target=$T/restore-$RANDOM f rel restored=0 missing=0
	shift 2
	repo_state "$REPO" >"$T/state.before"
	run hf restore --tenant acme --snapshot "$snap" --keep-going --target "$target"
	[ "$STATUS" != 0 ] || { show_last; fail "restore --keep-going of a damaged snapshot exited 0"; }
	[ "$STATUS" = 3 ] || { show_last; fail "restore --keep-going of a damaged snapshot: status $STATUS, expected 3"; }
	expect_stderr_match 'could not be restored'
	for d in "$@"; do
		while IFS= read -r -d '' f; do
			rel=${f#/}
			if [ -e "$target/$rel" ]; then
				cmp -s "$f" "$target/$rel" || fail "restored $rel differs from the original"
				restored=$((restored + 1))
			else
				grep -qxF "$rel" "$affected" || fail "$rel was not restored but check did not report it"
				missing=$((missing + 1))
			fi
		done < <(find "$d" -type f -print0)
	done
	while IFS= read -r rel; do
		[ ! -e "$target/$rel" ] || fail "damaged file $rel was restored"
	done <"$affected"
	[ "$restored" -ge 1 ] && [ "$missing" -ge 1 ] || fail "restored $restored, missing $missing: expected some of each"
	say "  restore --keep-going: $restored file(s) intact, $missing damaged file(s) left out"
	repo_state "$REPO" >"$T/state.after"
	diff -q "$T/state.before" "$T/state.after" >/dev/null || fail "restore changed the repository"
}

# --- a flipped byte in a pack ---
use_case pack-flip
size=$(stat -c %s "$REPO/$BIGPACK")
flip_byte "$REPO/$BIGPACK" $((size / 2))
sum=$(sha_of "$REPO/$BIGPACK")
expect_check_names "$BIGPACK"
expect_stderr_match "affects ${S2:0:12}:"
affected_of "$BIGPACK" "$S2" >"$T/affected"
[ -s "$T/affected" ] || fail "check lists no affected files of snapshot $S2"
expect_partial_restore "$S2" "$T/affected" "$T/d1" "$T/d2"
expect_stderr_match "$BIGPACK"
affected_of "$BIGPACK" "$S1" >"$T/affected1"
if [ -s "$T/affected1" ]; then
	expect_partial_restore "$S1" "$T/affected1" "$T/d1"
else   # the pack holds only the second snapshot's data: the first one is whole
	ok hf restore --tenant acme --snapshot "$S1" --keep-going --target "$T/r-s1"
	compare_trees "$T/d1" "$(restored_root "$T/r-s1" "$T/d1")"
fi
[ "$(sha_of "$REPO/$BIGPACK")" = "$sum" ] || fail "the damaged pack was modified"
ok hf check   # structure only: the pack exists and is indexed

# --- several damaged packs, read on several threads ---
use_case packs-flipped
for p in $(cd "$REPO" && find "data/$TID" -type f -size +100k | sort | head -3); do
	flip_byte "$REPO/$p" 100
	echo "$p"
done >"$T/flipped"
[ "$(wc -l <"$T/flipped")" = 3 ] || fail "expected 3 packs to damage"
for n in 1 4; do
	expect_status 3 hf check --read-data --threads $n --json
	jq -r '.problems[].object' "$OUT" >"$T/named.$n"
	jq -S '.problems' "$OUT" >"$T/problems.$n"
done
diff -u "$T/flipped" "$T/named.4" || fail "check --threads 4 did not name exactly the damaged packs in key order"
diff -u "$T/problems.1" "$T/problems.4" || fail "check on 4 threads reports differently from 1 thread"

# --- a truncated pack ---
use_case pack-truncated
truncate -s $(($(stat -c %s "$REPO/$BIGPACK") / 2)) "$REPO/$BIGPACK"
sum=$(sha_of "$REPO/$BIGPACK")
expect_check_names "$BIGPACK" --plain   # the index says how long the pack must be
expect_check_names "$BIGPACK"
affected_of "$BIGPACK" "$S2" >"$T/affected"
[ -s "$T/affected" ] || fail "check lists no affected files for the truncated pack"
expect_partial_restore "$S2" "$T/affected" "$T/d1" "$T/d2"
[ "$(sha_of "$REPO/$BIGPACK")" = "$sum" ] || fail "the truncated pack was modified"

# --- a missing pack ---
use_case pack-missing
rm "$REPO/$BIGPACK"
expect_check_names "$BIGPACK" --plain   # found without reading data
expect_stderr_match "affects ${S2:0:12}:"
expect_check_names "$BIGPACK"
affected_of "$BIGPACK" "$S2" >"$T/affected"
[ -s "$T/affected" ] || fail "check lists no affected files for the missing pack"
expect_partial_restore "$S2" "$T/affected" "$T/d1" "$T/d2"
[ ! -e "$REPO/$BIGPACK" ] || fail "the missing pack reappeared"

# --- a flipped byte in an index object ---
use_case index-flip
flip_byte "$REPO/index/$TID/$IDX2" $(($(stat -c %s "$REPO/index/$TID/$IDX2") / 2))
sum=$(sha_of "$REPO/index/$TID/$IDX2")
expect_check_names "index/$TID/$IDX2" --plain
expect_check_names "index/$TID/$IDX2"
# The first snapshot's blobs are all in the first index: it restores completely.
run hf restore --tenant acme --snapshot "$S1" --keep-going --target "$T/r-idx1"
[ "$STATUS" = 0 ] || { show_last; fail "snapshot $S1 does not need the damaged index but did not restore"; }
expect_stderr_match "index/$TID/$IDX2"   # a warning names the skipped index
compare_trees "$T/d1" "$(restored_root "$T/r-idx1" "$T/d1")"
# The second snapshot's new blobs (and trees) are only in the damaged index; the packs themselves are
# intact and self-describing, so restore indexes them from their sealed directories (and says so).
run hf restore --tenant acme --snapshot "$S2" --target "$T/r-idx2"
[ "$STATUS" = 0 ] || { show_last; fail "restore with a damaged index did not recover from the packs"; }
expect_stderr_match "index/$TID/$IDX2"
compare_trees "$T/d1" "$(restored_root "$T/r-idx2" "$T/d1")"
compare_trees "$T/d2" "$(restored_root "$T/r-idx2" "$T/d2")"
[ "$(sha_of "$REPO/index/$TID/$IDX2")" = "$sum" ] || fail "the damaged index was modified"

# --- a flipped byte in a snapshot manifest ---
use_case manifest-flip
flip_byte "$REPO/snapshots/$TID/$S1" 40
sum=$(sha_of "$REPO/snapshots/$TID/$S1")
expect_check_names "snapshots/$TID/$S1" --plain
expect_check_names "snapshots/$TID/$S1"
# the listing (from a new catalog, which must read every manifest) shows the intact snapshot, names
# the damaged manifest and fails (exit 3)
run hf --catalog "$T/manifest-flip.db" snapshots --tenant acme
[ "$STATUS" = 3 ] || { show_last; fail "snapshots with a damaged manifest exited $STATUS, not 3"; }
expect_stderr_match "snapshots/$TID/$S1"
expect_stderr_match "1 snapshot manifest\\(s\\) could not be read"
grep -q "^${S2:0:12} " "$OUT" || { show_last; fail "snapshots did not list the intact snapshot"; }
if grep -q "^${S1:0:12} " "$OUT"; then show_last; fail "snapshots listed the damaged snapshot"; fi
run hf restore --tenant acme --snapshot "$S1" --keep-going --target "$T/r-man1"
[ "$STATUS" != 0 ] || { show_last; fail "restore of a damaged snapshot manifest exited 0"; }
expect_stderr_match "snapshots/$TID/$S1"
[ ! -e "$T/r-man1" ] || [ -z "$(find "$T/r-man1" -type f)" ] || fail "restore of a damaged manifest wrote files"
ok hf restore --tenant acme --snapshot "$S2" --target "$T/r-man2"
compare_trees "$T/d1" "$(restored_root "$T/r-man2" "$T/d1")"
compare_trees "$T/d2" "$(restored_root "$T/r-man2" "$T/d2")"
[ "$(sha_of "$REPO/snapshots/$TID/$S1")" = "$sum" ] || fail "the damaged manifest was modified"

# --- the pristine repository was never touched ---
REPO=$T/pristine
ok hf check --read-data
say "ok"
