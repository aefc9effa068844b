#!/usr/bin/env bash
# Golden repository files (tests/golden/vN, made once by tests/golden/make-golden.sh): every version
# of holdfast must list, restore and check them exactly, and must reject corrupt variants of each
# object type.
. "$(dirname "$0")/lib.sh"

G=$HF_SOURCE_DIR/tests/golden
export HOLDFAST_PASSWORD_FILE=$G/pass

# manifest_matches EXPECTED DIR [--no-root]: DIR's tree manifest equals EXPECTED (owners compared as root only).
manifest_matches() {
	local exp=$1 dir=$2 root=${3:-}
	drop_root() { if [ "$root" = --no-root ]; then grep -v $'^\\.\t' || true; else cat; fi; }
	tree_manifest "$dir" | drop_root >"$T/golden.actual" || fail "unable to list $dir"
	drop_root <"$exp" >"$T/golden.expected"
	if [ "$(id -u)" != 0 ]; then  # a non-root restore cannot give files away
		cut -f1-3,6- "$T/golden.expected" >"$T/x" && mv "$T/x" "$T/golden.expected"
		cut -f1-3,6- "$T/golden.actual" >"$T/x" && mv "$T/x" "$T/golden.actual"
	fi
	if ! diff -u "$T/golden.expected" "$T/golden.actual" >&2; then
		fail "restore of the golden repository differs from $exp"
	fi
}

# fresh_copy NAME: a private, writable copy of the golden repository as $REPO.
fresh_copy() {
	REPO=$T/$1
	cp -r "$GOLDEN" "$REPO"
	chmod -R u+w "$REPO"
}

for GOLDEN in "$G"/v[0-9]*; do
	[[ $(basename "$GOLDEN") =~ ^v[0-9]+$ ]] && [ -d "$GOLDEN" ] || continue   # not vN-expected, vN.key
	V=$(basename "$GOLDEN")
	EXP=$G/$V-expected
	[ -d "$EXP" ] || fail "$EXP is missing"
	SRC=/tmp/holdfast-golden-$V
	ORIG_STATE=$(cd "$GOLDEN" && find . -type f -exec sha256sum {} + | sort -k2)
	fresh_copy "$V"

	say "$V: snapshots and key slots are listed as recorded"
	ok hf snapshots --json
	jq '[.[] | {id, tenant, source, "label": .label, time, recovery_time, parent, files, size}]' "$OUT" >"$T/snapshots.json"
	diff -u "$EXP/snapshots.json" "$T/snapshots.json" >&2 || fail "$V: the snapshot listing differs"
	ok hf key list --json
	jq '[.[] | {id, type}] | sort_by(.id)' "$OUT" >"$T/keys.json"
	diff -u "$EXP/keys.json" "$T/keys.json" >&2 || fail "$V: the key slots differ"
	ok hf --key-file "$G/$V.key" key list --json   # the key-file slot unlocks too
	[ "$(jq -r '.[] | select(.current) | .type' "$OUT")" = keyfile ] || fail "$V: the key file did not unlock its slot"

	say "$V: every snapshot restores exactly"
	ids() { jq -r --arg t "$1" '[.[] | select(.tenant == $t) | .id] | .[]' "$EXP/snapshots.json"; }
	mapfile -t A < <(ids clinic-a)
	mapfile -t B < <(ids clinic-b)
	[ ${#A[@]} = 2 ] && [ ${#B[@]} = 2 ] || fail "$V: unexpected snapshot set"
	ok hf restore --tenant clinic-a --snapshot "${A[0]}" --target "$T/$V-a1"
	manifest_matches "$EXP/clinic-a-1.manifest" "$T/$V-a1$SRC/clinic-a"
	ok hf --key-file "$G/$V.key" restore --tenant clinic-a --snapshot "${A[1]}" --target "$T/$V-a2"
	manifest_matches "$EXP/clinic-a-2.manifest" "$T/$V-a2$SRC/clinic-a"
	ok hf restore --tenant clinic-b --snapshot "${B[0]}" --target "$T/$V-b1"
	[ "$(sha_of "$T/$V-b1/dump/clinic-b.sql")" = "$(cat "$EXP/clinic-b-stdin.sha256")" ] || fail "$V: stdin snapshot differs"
	ok hf restore --tenant clinic-b --snapshot "${B[1]}" --target "$T/$V-b2"
	manifest_matches "$EXP/clinic-b-tar.manifest" "$T/$V-b2" --no-root
	ok hf restore --tenant clinic-a --snapshot "${A[0]}" --tar "$T/$V-a1.tar"
	mkdir "$T/$V-a1-tar"
	tar -C "$T/$V-a1-tar" -xf "$T/$V-a1.tar" || fail "$V: the tar export does not extract"
	manifest_matches "$EXP/clinic-a-1.manifest" "$T/$V-a1-tar$SRC/clinic-a"

	say "$V: check --read-data passes; catalog rebuild reproduces the listing"
	ok hf check --read-data --json
	jq -e '.ok == true and .snapshots == 4 and .tenants == 2 and .unreferenced_packs == 0' "$OUT" >/dev/null ||
		{ show_last; fail "$V: check --read-data"; }
	ok hf catalog rebuild --json
	[ "$(json_get .snapshots)" = 4 ] || { show_last; fail "$V: catalog rebuild"; }
	[ "$(cd "$GOLDEN" && find . -type f -exec sha256sum {} + | sort -k2)" = "$ORIG_STATE" ] ||
		fail "$V: the committed golden repository was modified"

	# --- corrupt variants: one per object type, each in a fresh copy ---
	TA=$(cd "$REPO/snapshots" && dirname */"${A[0]}")
	[ -n "$TA" ] || fail "$V: clinic-a's handle not found"
	pack=$(cd "$GOLDEN" && find "data/$TA" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
	index=$(cd "$GOLDEN" && find "index/$TA" -type f | sort | head -1)
	slot_pass=$(cd "$GOLDEN" && grep -l '"passphrase"' keys/slots/*)

	say "$V: a flipped byte in a pack is rejected"
	fresh_copy "$V-pack"
	flip_byte "$REPO/$pack" $(($(stat -c %s "$REPO/$pack") / 2))
	expect_status 3 hf check --read-data
	expect_stderr_match "damaged: $pack"
	expect_stderr_match "affects "
	run hf restore --tenant clinic-a --snapshot "${A[1]}" --target "$T/$V-x-pack"
	[ "$STATUS" != 0 ] || fail "$V: restore from a corrupt pack succeeded"
	say "$V: a truncated pack is rejected"
	fresh_copy "$V-pack-trunc"
	truncate -s -1 "$REPO/$pack"
	expect_status 3 hf check --read-data
	expect_stderr_match "damaged: $pack"

	say "$V: a flipped byte in an index object is rejected"
	fresh_copy "$V-index"
	flip_byte "$REPO/$index" $(($(stat -c %s "$REPO/$index") / 2))
	expect_status 3 hf check
	expect_stderr_match "damaged: $index"

	say "$V: a flipped byte in a snapshot manifest is rejected"
	fresh_copy "$V-manifest"
	flip_byte "$REPO/snapshots/$TA/${A[0]}" 30
	expect_status 3 hf check
	expect_stderr_match "damaged: snapshots/$TA/${A[0]}"
	run hf restore --tenant clinic-a --snapshot "${A[0]}" --target "$T/$V-x-manifest"
	[ "$STATUS" != 0 ] || fail "$V: restore of a corrupt manifest succeeded"
	expect_stderr_match "snapshots/$TA/${A[0]}"

	say "$V: a flipped byte in a tenant record is rejected"
	fresh_copy "$V-tenant"
	flip_byte "$REPO/keys/tenants/$TA" 40
	run hf snapshots --tenant clinic-a
	[ "$STATUS" != 0 ] || { show_last; fail "$V: a corrupt tenant record was accepted"; }
	expect_stderr_match "keys/tenants/$TA"
	run hf restore --tenant clinic-a --target "$T/$V-x-tenant"
	[ "$STATUS" != 0 ] || fail "$V: restore with a corrupt tenant record succeeded"
	run hf check
	[ "$STATUS" != 0 ] || { show_last; fail "$V: check accepted a corrupt tenant record"; }
	expect_stderr_match "keys/tenants/$TA"
	ok hf restore --tenant clinic-b --snapshot "${B[0]}" --target "$T/$V-b-still"   # the other tenant is unaffected

	say "$V: a flipped byte in a key slot is rejected"
	fresh_copy "$V-slot"
	off=$(grep -bo '"data": "' "$REPO/$slot_pass" | cut -d: -f1)
	flip_byte "$REPO/$slot_pass" $((off + 20))
	expect_status 4 hf snapshots
	expect_one_line_error
	ok hf --key-file "$G/$V.key" snapshots   # the other slot still works

	say "$V: a damaged or unknown-version config is rejected"
	fresh_copy "$V-config"
	sed -i 's/"version": 1/"version": 99/' "$REPO/config"
	grep -q '"version": 99' "$REPO/config" || fail "$V: could not edit the config version"
	run hf snapshots
	[ "$STATUS" != 0 ] || { show_last; fail "$V: a config of an unknown version was accepted"; }
	expect_one_line_error
	fresh_copy "$V-config2"
	flip_byte "$REPO/config" 0   # '{' -> 'z': not JSON any more
	run hf snapshots
	[ "$STATUS" != 0 ] || { show_last; fail "$V: a malformed config was accepted"; }
	expect_one_line_error
	expect_stderr_match "config"
	say "$V: a well-formed but altered config (weaker lock settings) is rejected"
	fresh_copy "$V-config3"
	sed -i 's/"days": [0-9]*/"days": 1/; s/"mode": "[a-z]*"/"mode": "none"/' "$REPO/config"
	cmp -s "$REPO/config" "$G/$V/config" && fail "$V: could not edit the config"
	expect_status 3 hf snapshots
	expect_one_line_error
	expect_stderr_match "does not match its key slots"
done
[ -n "${V:-}" ] || fail "no golden repository under $G"
say "ok"
