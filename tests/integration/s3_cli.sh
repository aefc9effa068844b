# S3 repositories with Object Lock through the holdfast command, against the real Ceph RGW that
# scripts/test starts: init on a lock-enabled bucket, byte-identical round trip, the retention of every
# object (HEAD), a refused delete of a locked pack version, lock extension of old packs referenced by
# a new snapshot, a COMPLIANCE tier in its own bucket, faults through the fault proxy, full-read check.
. "$(dirname "$0")/../cli/lib.sh"

for v in HF_TEST_S3_ENDPOINT HF_TEST_S3_ACCESS_KEY HF_TEST_S3_SECRET_KEY; do
	[ -n "${!v:-}" ] || fail "$v is not set: run under scripts/test, which starts Ceph RGW"
done
export AWS_ACCESS_KEY_ID=$HF_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$HF_TEST_S3_SECRET_KEY
export AWS_REGION=${HF_TEST_S3_REGION:-us-east-1}
EP=$HF_TEST_S3_ENDPOINT
B=hfcli-$$-$RANDOM
REPO=s3://$B/repo
export HOLDFAST_S3_ENDPOINT=$EP

# s3req METHOD PATH [curl args...]: a SigV4-signed request with curl; headers+body on stdout
s3req() {
	local m=$1 path=$2
	shift 2
	curl -sS -X "$m" --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$EP/$path"
}
head_obj() { s3req HEAD "$1" -I; }
list_keys() { s3req GET "$1?list-type=2&prefix=${2//\//%2F}" | grep -o '<Key>[^<]*</Key>' | sed 's/<Key>\(.*\)<\/Key>/\1/'; }
retain_epoch() { head_obj "$1" | tr -d '\r' | sed -n 's/^x-amz-object-lock-retain-until-date: //Ip' | xargs -I{} date -d {} +%s; }

gen_tree "$T/src" seven

say "init on a new lock-enabled bucket (GOVERNANCE, 1 day)"
ok "$HOLDFAST" --repo "$REPO" init --create-bucket --lock-mode governance --lock-days 1 --pack-size 1 \
	--kdf-memory 8 --kdf-iterations 1
ok hf tenant add acme --tier standard
t0=$(date +%s)
ok hf backup --tenant acme --path "$T/src" --json
first=$(jq -r .id "$OUT")
ok hf restore --tenant acme --target "$T/out"
compare_trees "$T/src" "$T/out$T/src"

say "every write-once object carries GOVERNANCE retention of about a day; keys/ carry none"
n=0
for k in $(list_keys "$B" "repo/data/") $(list_keys "$B" "repo/index/") $(list_keys "$B" "repo/snapshots/"); do
	h=$(head_obj "$B/$k" | tr -d '\r')
	echo "$h" | grep -qi '^x-amz-object-lock-mode: GOVERNANCE' || fail "no GOVERNANCE lock on $k"
	until=$(retain_epoch "$B/$k")
	[ "$until" -ge $((t0 + 86400 - 120)) ] && [ "$until" -le $((t0 + 86400 + 600)) ] || fail "retain-until of $k is $until"
	n=$((n + 1))
done
check "objects were checked" [ "$n" -ge 3 ]
head_obj "$B/repo/config" | grep -qi '^x-amz-object-lock-mode: GOVERNANCE' || fail "the repository config is not locked"
for k in $(list_keys "$B" "repo/keys/"); do
	head_obj "$B/$k" | grep -qi 'x-amz-object-lock-mode' && fail "key object $k must stay deletable (crypto-shredding)"
done

say "deleting a locked pack version with the backup credential is refused by the server"
pack=$(list_keys "$B" "repo/data/" | head -1)
vid=$(head_obj "$B/$pack" | tr -d '\r' | sed -n 's/^x-amz-version-id: //Ip')
code=$(s3req DELETE "$B/$pack?versionId=$vid" -o /dev/null -w '%{http_code}')
check "DELETE of a locked version answered 403 (got $code)" [ "$code" = 403 ]
check "the pack is still there" head_obj "$B/$pack" -o /dev/null -f

say "lock extension: a snapshot three days later that reuses the old packs extends their locks"
old_until=$(retain_epoch "$B/$pack")
later=$(date -u -d "@$((t0 + 3 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
HOLDFAST_FAKE_NOW=$later ok hf backup --tenant acme --path "$T/src" --json
check "the second snapshot stored (almost) nothing new" [ "$(jq -r .new_bytes "$OUT")" -lt 100000 ]
new_until=$(retain_epoch "$B/$pack")
check "old pack lock extended past the new snapshot's retain-until ($old_until -> $new_until)" \
	[ "$new_until" -ge $((t0 + 4 * 86400 - 120)) ]
HOLDFAST_FAKE_NOW=$later ok hf backup --tenant acme --path "$T/src" --json
check "a third snapshot needs no further extension (catalog knows the dates)" [ "$(retain_epoch "$B/$pack")" = "$new_until" ]
check "the repository config was extended with the packs" [ "$(retain_epoch "$B/repo/config")" -ge $((t0 + 4 * 86400 - 120)) ]
# a catalog may serve several repositories: the config's date is kept under the repository's id
CATALOG=$(ls "$XDG_STATE_HOME"/holdfast/catalog-*.db | head -1)
REPO_ID=$(sqlite3 "$CATALOG" "select pack from pack_lock where pack like 'config@%'" | sed 's/^config@//')
check "the config's lock date is recorded under config@<repository id> (got '$REPO_ID')" [ "${#REPO_ID}" = 64 ]
check "no lock date is recorded under the bare name 'config'" \
	[ "$(sqlite3 "$CATALOG" "select count(*) from pack_lock where pack = 'config'")" = 0 ]

say "a COMPLIANCE tier with its own bucket"
B2=$B-regulated
cat >"$T/tiers.conf" <<CONF
[tier regulated]
repository = s3://$B2/r
lock-mode = compliance
lock-days = 2
[tenant clinic]
tier = regulated
CONF
ok "$HOLDFAST" --config "$T/tiers.conf" --repo "s3://$B2/r" init --create-bucket --lock-mode compliance --lock-days 2 \
	--kdf-memory 8 --kdf-iterations 1
ok "$HOLDFAST" --config "$T/tiers.conf" tenant add clinic --tier regulated
ok "$HOLDFAST" --config "$T/tiers.conf" backup --tenant clinic --path "$T/src"
k2=$(list_keys "$B2" "r/data/" | head -1)
head_obj "$B2/$k2" | grep -qi '^x-amz-object-lock-mode: COMPLIANCE' || fail "no COMPLIANCE lock on $k2"
vid=$(head_obj "$B2/$k2" | tr -d '\r' | sed -n 's/^x-amz-version-id: //Ip')
code=$(s3req DELETE "$B2/$k2?versionId=$vid" -H "x-amz-bypass-governance-retention: true" -o /dev/null -w '%{http_code}')
check "COMPLIANCE refuses even a bypass delete (got $code)" [ "$code" = 403 ]
check "the shared bucket holds only tenant acme" [ "$(list_keys "$B" "repo/keys/tenants/" | wc -l)" = 1 ]

say "faults through the proxy: 500s and resets are retried; a hung server fails cleanly"
"$PY" "$HF_SOURCE_DIR/tests/s3/faultproxy.py" --upstream "$EP" --control "$T/rule" --stats "$T/stats" \
	--port-file "$T/port" --pid-file "$T/proxy.pid" >/dev/null 2>&1 &
HF_PIDS+=($!)
for i in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PROXY=http://127.0.0.1:$(cat "$T/port")
echo "mode=fail status=500 first=4" >"$T/rule"
mkdir -p "$T/src2" && head -c 2500000 /dev/urandom >"$T/src2/a" && head -c 2500000 /dev/urandom >"$T/src2/b"
ok hf --s3-endpoint "$PROXY" backup --tenant acme --path "$T/src2"
grep -q 'faults=4' "$T/stats" || fail "the proxy did not inject the 500s: $(cat "$T/stats")"
echo "mode=reset every=3" >"$T/rule"
head -c 2500000 /dev/urandom >"$T/src2/c"
ok hf --s3-endpoint "$PROXY" backup --tenant acme --path "$T/src2"
before=$(hf snapshots --tenant acme --json | jq length)
head -c 6000000 /dev/urandom >"$T/src2/d"
packs_before=$(list_keys "$B" "repo/data/" | wc -l)
start=$(date +%s)
# let the first packs (1 MiB each) land, then hang the server in the middle of the backup
(
	st=0
	hf --s3-endpoint "$PROXY" --s3-timeout 2 --s3-retries 1 backup --tenant acme --path "$T/src2" >"$OUT" 2>"$ERR" || st=$?
	echo $st >"$T/status"
) &
bg=$!
for i in $(seq 300); do
	[ "$(list_keys "$B" "repo/data/" | wc -l)" -gt $((packs_before + 1)) ] && break
	sleep 0.1
done
echo "mode=stall stall=30" >"$T/rule"
wait $bg || true
check_sanitizers backup through a hung server
check "a hung server makes the backup fail with status 7 (got $(cat "$T/status"))" [ "$(cat "$T/status")" = 7 ]
expect_one_line_error
check "the hung server was detected in bounded time" [ $(($(date +%s) - start)) -lt 150 ]
echo "mode=pass" >"$T/rule"
check "no snapshot became visible" [ "$(hf snapshots --tenant acme --json | jq length)" = "$before" ]
landed=$(($(list_keys "$B" "repo/data/" | wc -l) - packs_before))
check "packs of the failed run landed ($landed)" [ "$landed" -ge 1 ]
echo "mode=pass" >"$T/rule"
ok hf --s3-endpoint "$PROXY" backup --tenant acme --path "$T/src2" --json
last=$(jq -r .id "$OUT")
# every landed pack holds at least ~1 MB of d's (incompressible) chunks that the next run must not store again
new=$(jq -r .new_bytes "$OUT")
check "the run after the failure reused the $landed pack(s) that landed (new_bytes $new)" \
	[ "$new" -le $((6000000 - landed * 1000000)) ]

say "TLS: certificates are verified by default; --ca-file trusts a private CA; --insecure only on request"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
	-keyout "$T/tls.key" -out "$T/tls.crt" >/dev/null 2>&1 || fail "openssl could not make a test certificate"
"$PY" "$HF_SOURCE_DIR/tests/s3/faultproxy.py" --upstream "$EP" --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" \
	--port-file "$T/tlsport" >/dev/null 2>&1 &
HF_PIDS+=($!)
for i in $(seq 50); do [ -s "$T/tlsport" ] && break; sleep 0.1; done
TLSEP=https://127.0.0.1:$(cat "$T/tlsport")
run hf --s3-endpoint "$TLSEP" --s3-retries 0 snapshots --tenant acme
check "an untrusted certificate is refused (status $STATUS)" [ "$STATUS" != 0 ]
expect_one_line_error
expect_stderr_match "certificate|SSL|TLS"
ok hf --s3-endpoint "$TLSEP" --ca-file "$T/tls.crt" snapshots --tenant acme --json
check "with the CA file the listing works" [ "$(jq length "$OUT")" -ge 1 ]
ok hf --s3-endpoint "$TLSEP" --insecure snapshots --tenant acme

say "check --read-data over S3"
ok hf check --read-data
ok hf restore --tenant acme --snapshot "$last" --target "$T/out2"
compare_trees "$T/src2" "$T/out2$T/src2"
say "passed"
