#!/usr/bin/env bash
# The helpers of lib.sh themselves: deterministic generators, and comparisons and assertions that do
# fail when they should (a tree comparison that cannot fail would make every restore check pass).
. "$(dirname "$0")/lib.sh"

# must_fail DESCRIPTION CMD...: CMD (run in a subshell) must fail.
must_fail() {
	local what=$1
	shift
	if ("$@") >/dev/null 2>&1; then
		fail "helper self-test: $what was not detected"
	fi
}
say "self-test: the data generators are deterministic"
[ "$(gen_bytes seed 100000 | sha256sum)" = "$(gen_bytes seed 100000 | sha256sum)" ] || fail "gen_bytes is not deterministic"
[ "$(gen_bytes seed 1000 | sha256sum)" != "$(gen_bytes other 1000 | sha256sum)" ] || fail "gen_bytes ignores its seed"
[ "$(gen_bytes seed 12345 | wc -c)" = 12345 ] || fail "gen_bytes size"
[ "$(gen_text seed 5000 | wc -c)" = 5000 ] || fail "gen_text size"
gen_tree "$T/a" self 10000
gen_tree "$T/a2" self 10000
[ "$(tree_manifest "$T/a" | cut -f1,2,3,6,7,8,9)" = "$(tree_manifest "$T/a2" | cut -f1,2,3,6,7,8,9)" ] ||
	fail "gen_tree is not deterministic"
say "self-test: compare_trees accepts a faithful copy and catches every kind of difference"
cp -a "$T/a" "$T/b"
compare_trees "$T/a" "$T/b"
mutate() { rm -rf "$T/m"; cp -a "$T/a" "$T/m"; (cd "$T/m" && eval "$1"); compare_trees "$T/a" "$T/m"; }
must_fail "changed content" mutate 'printf x | dd of=etc/app/app.conf bs=1 seek=10 conv=notrunc status=none; touch -r ../a/etc/app/app.conf etc/app/app.conf'
must_fail "changed mode" mutate 'chmod 0640 etc/app/run.sh'
must_fail "changed file mtime" mutate 'touch -h -d "@1600000000.5" etc/app/empty'
must_fail "changed directory mtime" mutate 'touch -d "@1600000000" etc/app/empty-dir'
must_fail "changed symlink target" mutate 'ln -sfn other etc/app/db.conf; touch -h -r ../a/etc/app/db.conf etc/app/db.conf; touch -r ../a/etc/app etc/app'
must_fail "changed symlink mtime" mutate 'touch -h -d "@1600000000" etc/app/db.conf'
must_fail "a broken hardlink" mutate 'cp -p var/lib/state/app.conf.hardlink x && mv x var/lib/state/app.conf.hardlink; touch -r ../a/var/lib/state var/lib/state'
must_fail "changed owner" mutate 'chown -h 1:1 etc/app/empty'
must_fail "an extra file" mutate ': >etc/extra'
must_fail "a missing file" mutate 'rm var/lib/state/deep/er/still/small.bin'
must_fail "a file turned into a symlink" mutate 'rm etc/app/empty && ln -s app.conf etc/app/empty'
say "self-test: expect_status, expect_stderr_match and the sanitizer check fail when they should"
must_fail "a wrong exit status" expect_status 0 false
must_fail "a wrong exit status" expect_status 3 true
must_fail "a missing stderr match" eval 'run sh -c "echo hello >&2"; expect_stderr_match bye'
must_fail "a sanitizer report" run sh -c 'echo "x.c:1:2: runtime error: overflow" >&2'
must_fail "two error lines" eval 'run sh -c "echo holdfast: error: a >&2; echo holdfast: error: b >&2"; expect_one_line_error'
expect_status 3 sh -c 'echo "holdfast: error: x" >&2; exit 3'
expect_one_line_error
expect_stderr_match '^holdfast: error: x$'
say "ok"
