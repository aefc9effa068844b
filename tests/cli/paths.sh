#!/usr/bin/env bash
# Backup paths that defeat name-based handling: a tree deeper than PATH_MAX, and path arguments
# below a symlink given as another argument.
. "$(dirname "$0")/lib.sh"

hf_init
ok hf tenant add acme --tier gold

say "a directory whose absolute path is longer than PATH_MAX is backed up, not a failure"
D=$T/long
mkdir -p "$D"
echo ok >"$D/normal"
"$PY" - "$D" <<'EOF'
import os, sys
os.chdir(sys.argv[1])
for i in range(18):  # 18 x 251 bytes: beyond PATH_MAX (4096)
    os.mkdir('x' * 250); os.chdir('x' * 250)
open('leaf', 'w').write('deep\n')
os.symlink('leaf', 'link')
EOF
ok hf backup --tenant acme --path "$D" --json
[ "$(json_get .files)" = 3 ] || { show_last; fail "long-path backup counted $(json_get .files) files, not 3"; }
[ "$(json_get .warnings)" = 0 ] || { show_last; fail "long-path backup warned"; }
ok hf restore --tenant acme --target "$T/r-long"
"$PY" - "$(restored_root "$T/r-long" "$D")" <<'EOF' || fail "the deep file was not restored"
import os, sys
os.chdir(sys.argv[1])
for i in range(18):
    os.chdir('x' * 250)
assert open('leaf').read() == 'deep\n'
assert os.readlink('link') == 'leaf'
EOF

say "--path LINK --path LINK/sub (LINK a symlink to a directory): sub is backed up at its real place"
S=$T/sl
mkdir -p "$S/real/sub" "$S/real/other"
echo important >"$S/real/sub/f"
echo elsewhere >"$S/real/other/g"
ln -s real "$S/link"
ok hf backup --tenant acme --path "$S/link" --path "$S/link/sub" --json
[ "$(json_get .files)" = 2 ] || { show_last; fail "counted $(json_get .files) files, not 2 (the symlink and sub/f)"; }
ok hf restore --tenant acme --target "$T/r-sl"
R=$(restored_root "$T/r-sl" "$S")
[ "$(readlink "$R/link")" = real ] || fail "the symlink argument was not recorded as a symlink"
[ "$(cat "$R/real/sub/f")" = important ] || fail "the path below the symlink argument was not backed up"
[ ! -e "$R/real/other" ] || fail "more than the given paths was backed up"

say "--path DIR --path DIR/link/sub: covered by DIR's walk at its real place, once"
ok hf backup --tenant acme --path "$S/link/sub" --path "$S" --json
[ "$(json_get .files)" = 3 ] || { show_last; fail "counted $(json_get .files) files, not 3"; }
ok hf restore --tenant acme --target "$T/r-sl2"
R=$(restored_root "$T/r-sl2" "$S")
[ "$(cat "$R/real/sub/f")" = important ] && [ "$(cat "$R/real/other/g")" = elsewhere ] &&
	[ "$(readlink "$R/link")" = real ] || fail "DIR and DIR/link/sub restored wrongly"

say "a path below a real directory argument is still covered by it"
ok hf backup --tenant acme --path "$S/real" --path "$S/real/sub" --json
[ "$(json_get .files)" = 2 ] || { show_last; fail "counted $(json_get .files) files, not 2"; }

say "ok"
