# Helpers sourced by the CLI and fault tests in tests/cli/*.sh: a private temp dir, the `hf` wrapper,
# status and output assertions, a deterministic data generator and a tree comparison.
# Environment (set by CTest): HOLDFAST (the binary), HF_SOURCE_DIR, HF_BUILD_DIR.
set -Eeuo pipefail
trap 'echo "FAIL: ${TEST_NAME:-$0}: line $LINENO: unexpected failure of: $BASH_COMMAND" >&2' ERR

if [ -z "${HOLDFAST:-}" ] || [ ! -x "$HOLDFAST" ]; then
	echo "FAIL: set HOLDFAST to the holdfast binary (got '${HOLDFAST:-}')" >&2
	exit 1
fi
HF_SOURCE_DIR=${HF_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
command -v python3 >/dev/null || { echo "FAIL: python3 is needed by the CLI tests" >&2; exit 1; }
PY=$(python3 -c 'import sys; print(sys.executable)')  # the interpreter itself: shims cost 0.2 s a call
command -v jq >/dev/null || { echo "FAIL: jq is needed by the CLI tests" >&2; exit 1; }

TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/hf-$TEST_NAME.XXXXXX")
chmod 755 "$T"
HF_MOUNTS=()    # tmpfs mounts to undo on exit
HF_PIDS=()      # background processes started by the test and not yet reaped, killed on exit

cleanup() {
	local p m
	for p in "${HF_PIDS[@]+"${HF_PIDS[@]}"}"; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for m in "${HF_MOUNTS[@]+"${HF_MOUNTS[@]}"}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	if [ "${HF_KEEP_TMP:-0}" = 1 ]; then
		echo "(kept $T)" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# A hermetic environment: nothing from the caller's setup or /etc/holdfast leaks in.
unset HOLDFAST_REPOSITORY HOLDFAST_KEY_FILE HOLDFAST_CATALOG HOLDFAST_S3_ENDPOINT
export XDG_STATE_HOME=$T/state
export HOME=$T/home
mkdir -p "$HOME" "$XDG_STATE_HOME"
: >"$T/empty.conf"
export HOLDFAST_CONFIG=$T/empty.conf
PASS_TEXT='correct horse battery staple 4711'
printf '%s\n' "$PASS_TEXT" >"$T/pass"
export HOLDFAST_PASSWORD_FILE=$T/pass
REPO=$T/repo
OUT=$T/last.out   # stdout of the last run/expect_status
ERR=$T/last.err   # stderr of the last run/expect_status

say() { printf '== %s: %s\n' "$TEST_NAME" "$*"; }

fail() {
	printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

show_last() {
	echo "--- stdout:" >&2
	head -c 4000 "$OUT" >&2 || true
	echo "--- stderr:" >&2
	head -c 4000 "$ERR" >&2 || true
	echo "---" >&2
}

# The sanitizers report on stderr; a report is always a failure, whatever the exit status.
check_sanitizers() {
	if grep -qE 'runtime error:|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer' "$ERR"; then
		show_last
		fail "sanitizer report while running: $*"
	fi
}

# traced STRACE-ARGS...: run a command under strace(1) (LeakSanitizer cannot work under ptrace, so it
# is off for that command in the sanitizer build; the other sanitizers still report).
traced() {
	command -v strace >/dev/null || fail "strace is needed (scripts/deps --test installs it)"
	env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace "$@"
}

# hf ARGS...: holdfast on the test repository (pass --repo again to override).
hf() { "$HOLDFAST" --repo "$REPO" "$@"; }

# hf_init [REPO]: a repository with a fast KDF.
hf_init() {
	local repo=${1:-$REPO}
	expect_status 0 "$HOLDFAST" --repo "$repo" init --kdf-memory 8 --kdf-iterations 1
}

# run CMD...: run, keeping stdout in $OUT and stderr in $ERR; sets STATUS. Never fails by itself.
run() {
	STATUS=0
	"$@" >"$OUT" 2>"$ERR" || STATUS=$?
	check_sanitizers "$@"
	cat "$OUT" "$ERR" >>"$T/transcript"   # everything printed, for "no secret in any output" checks
}

# expect_status N CMD...: CMD must exit with status N.
expect_status() {
	local want=$1
	shift
	run "$@"
	if [ "$STATUS" != "$want" ]; then
		show_last
		fail "expected status $want, got $STATUS: $*"
	fi
}

# ok CMD...: shorthand for expect_status 0.
ok() { expect_status 0 "$@"; }

# expect_stderr_match REGEX: the last command's stderr matches the extended REGEX.
expect_stderr_match() {
	if ! grep -qE -- "$1" "$ERR"; then
		show_last
		fail "stderr does not match /$1/"
	fi
}

expect_stdout_match() {
	if ! grep -qE -- "$1" "$OUT"; then
		show_last
		fail "stdout does not match /$1/"
	fi
}

# expect_one_line_error: the last command printed exactly one error line and nothing else on stderr
# (a HINT: line may follow it).
expect_one_line_error() {
	local n
	n=$(grep -vc '^HINT: ' "$ERR" || true)
	if [ "$n" != 1 ] || ! grep -q '^holdfast: error: ' "$ERR"; then
		show_last
		fail "expected one 'holdfast: error:' line on stderr, got $n line(s)"
	fi
}

# assert COND-CMD... MESSAGE is clumsy in bash; use: check "message" test-expression-args...
check() {
	local msg=$1
	shift
	"$@" || fail "$msg"
}

# gen_bytes SEED SIZE: SIZE deterministic pseudo-random (incompressible) bytes on stdout.
gen_bytes() {
	"$PY" - "$1" "$2" <<'EOF'
import random, sys
r = random.Random(sys.argv[1]); n = int(sys.argv[2]); o = sys.stdout.buffer
while n > 0:
    k = min(n, 1 << 20); o.write(r.randbytes(k)); n -= k
EOF
}

# gen_text SEED SIZE: SIZE bytes of deterministic, compressible CSV-like text on stdout.
gen_text() {
	"$PY" - "$1" "$2" <<'EOF'
import random, sys
r = random.Random(sys.argv[1]); n = int(sys.argv[2]); o = sys.stdout.buffer
words = [b"patient", b"encounter", b"observation", b"allergy", b"medication", b"practitioner", b"clinic"]
buf = bytearray()
i = 0
while len(buf) < n:
    buf += b"%d,%s,%s,%d,%0.3f\n" % (i, r.choice(words), r.choice(words), r.randrange(10**6), r.random())
    i += 1
o.write(bytes(buf[:n]))
EOF
}

# gen_tree DIR SEED [BIG_BYTES]: a tenant's configuration-state tree: nested directories, text and
# binary files, an empty file, a symlink, a dangling symlink, a hardlink, unicode names and names with
# spaces, odd modes and fixed, distinct mtimes with nanoseconds (so a restore that drops them is caught).
gen_tree() {
	"$PY" - "$1" "$2" "${3:-3145728}" <<'EOF'
import os, random, sys
d, seed, big = sys.argv[1], sys.argv[2], int(sys.argv[3])
words = [b"patient", b"encounter", b"observation", b"allergy", b"medication", b"practitioner", b"clinic"]
def text(tag, n):
    r, buf, i = random.Random(seed + "-" + tag), bytearray(), 0
    while len(buf) < n:
        buf += b"%d,%s,%s,%d,%0.3f\n" % (i, r.choice(words), r.choice(words), r.randrange(10**6), r.random())
        i += 1
    return bytes(buf[:n])
def binary(tag, n):
    return random.Random(seed + "-" + tag).randbytes(n)
def put(rel, data, mode=0o644):
    p = os.path.join(d, rel)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, mode)
for sub in ("etc/app/conf.d", "etc/app/empty-dir", "var/lib/state/deep/er/still", "ünïcødé/日本語"):
    os.makedirs(os.path.join(d, sub), exist_ok=True)
put("etc/app/app.conf", text("a", 20000))
put("etc/app/conf.d/10-db.conf", text("b", 3000), 0o600)
put("etc/app/conf.d/20 with space.conf", text("c", 700))
put("var/lib/state/blob.bin", binary("big", big))
put("var/lib/state/deep/er/still/small.bin", binary("small", 4097))
put("ünïcødé/日本語/ファイル.txt", text("u", 1234))
put("ünïcødé/résumé.txt", "naïve café\n".encode())
put("etc/app/empty", b"")
put("etc/app/run.sh", b"#!/bin/sh\necho hello\n", 0o750)
os.symlink("conf.d/10-db.conf", os.path.join(d, "etc/app/db.conf"))
os.symlink("../../nowhere", os.path.join(d, "etc/app/dangling"))
os.link(os.path.join(d, "etc/app/app.conf"), os.path.join(d, "var/lib/state/app.conf.hardlink"))
os.chmod(os.path.join(d, "var/lib/state/deep"), 0o700)
paths = []
for dp, dns, fns in os.walk(d):
    paths += [os.path.join(dp, n) for n in dns + fns]
paths.sort(key=lambda p: (-p.count("/"), p))  # children first, so directory mtimes stick
for i, p in enumerate(paths + [d]):
    t = 1600000000 * 10**9 + i * 1000003 * 10**3 + 123456789
    os.utime(p, ns=(t, t), follow_symlinks=False)
EOF
}

# tree_manifest DIR: one line per entry (relative path, type, mode, uid, gid, mtime in ns, size, sha256
# or link target, hardlink group), sorted; the root directory itself is included as '.'.
tree_manifest() {
	"$PY" - "$1" <<'EOF'
import hashlib, os, stat, sys
root = sys.argv[1]
entries, inodes = [], {}
def visit(rel):
    p = os.path.join(root, rel) if rel != "." else root
    st = os.lstat(p)
    m = st.st_mode
    if stat.S_ISLNK(m):
        kind, what = "l", os.readlink(p)
    elif stat.S_ISDIR(m):
        kind, what = "d", "-"
    elif stat.S_ISREG(m):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
        kind, what = "f", h.hexdigest()
        if st.st_nlink > 1:
            inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
    else:
        kind, what = "?", "-"
    size = st.st_size if kind == "f" else 0
    entries.append([rel, kind, "%04o" % stat.S_IMODE(m), st.st_uid, st.st_gid, st.st_mtime_ns, size, what])
    if kind == "d":
        for n in sorted(os.listdir(p)):
            visit(n if rel == "." else rel + "/" + n)
visit(".")
group = {}
for names in inodes.values():
    names.sort()
    for n in names:
        group[n] = names[0] if len(names) > 1 else "-"
for e in sorted(entries):
    e.append(group.get(e[0], "-"))
    sys.stdout.write("\t".join(str(x) for x in e) + "\n")
EOF
}

# compare_trees EXPECTED ACTUAL: same entries, content, modes, owners, symlinks, hardlinks and mtimes.
compare_trees() {
	tree_manifest "$1" >"$T/manifest.expected" || fail "unable to list $1"
	tree_manifest "$2" >"$T/manifest.actual" || fail "unable to list $2"
	if ! diff -u "$T/manifest.expected" "$T/manifest.actual" >"$T/manifest.diff"; then
		head -60 "$T/manifest.diff" >&2
		fail "tree $2 differs from $1"
	fi
}

# restored_root TARGET SOURCE: where a restore into TARGET put the backed-up directory SOURCE
# (snapshots keep absolute paths, like restic and tar -P without the slash).
restored_root() {
	local abs
	abs=$(cd "$2" && pwd -P)
	printf '%s%s\n' "$1" "$abs"
}

# sha_of FILE
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# flip_byte FILE OFFSET: xor one byte at OFFSET (negative: from the end) with 0x01.
flip_byte() {
	"$PY" - "$1" "$2" <<'EOF'
import os, sys
p, off = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(p)
if off < 0:
    off += size
os.chmod(p, 0o644)  # objects may be written read-only
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 1]))
EOF
}

# json_get EXPR: jq -r EXPR on the last stdout.
json_get() { jq -er "$1" "$OUT"; }

# one_file DIR: the only regular file under DIR (fails otherwise).
one_file() {
	local files
	mapfile -t files < <(find "$1" -type f | sort)
	[ ${#files[@]} = 1 ] || fail "expected one file under $1, found ${#files[@]}"
	printf '%s\n' "${files[0]}"
}

# tenant_tid TENANT: the tenant's repository handle (the directory name under data/, index/, snapshots/).
tenant_tid() {
	ok hf tenant show "$1" --json
	json_get .handle
}

say "using $HOLDFAST in $T"

