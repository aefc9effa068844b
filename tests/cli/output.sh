# Exact expected output (zstd style): listings of the golden repository compared byte for byte with
# tests/cli/expected/*.out. A deliberate change of the output format updates those files.
. "$(dirname "$0")/lib.sh"

G=$HF_SOURCE_DIR/tests/golden
E=$HF_SOURCE_DIR/tests/cli/expected
cp -a "$G/v1" "$T/v1"
REPO=$T/v1
export HOLDFAST_PASSWORD_FILE=$G/pass

# expect_output NAME CMD...: CMD succeeds and prints exactly expected/NAME.out
expect_output() {
	local name=$1
	shift
	ok "$@"
	if ! diff -u "$E/$name.out" "$OUT" >"$T/$name.diff"; then
		cat "$T/$name.diff" >&2
		fail "output of '$*' differs from tests/cli/expected/$name.out"
	fi
}

say "text listings"
expect_output snapshots hf snapshots
expect_output tenant-list hf tenant list
expect_output tenant-show hf tenant show clinic-a
expect_output check hf check --read-data
say "JSON listings"
expect_output snapshots-json hf snapshots --json
expect_output tenant-list-json hf tenant list --json
say "usage errors are one exact line"
expect_status 2 hf snapshots --target x
diff -u <(echo "holdfast: error: option '--target' does not apply to 'snapshots'") "$ERR" || fail "usage error text changed"
expect_status 5 hf snapshots --tenant nobody
head -1 "$ERR" | diff -u <(echo "holdfast: error: unknown tenant 'nobody' in repository 'file://$REPO'") - ||
	fail "unknown-tenant error text changed"
say "ok"
