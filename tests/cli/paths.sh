#!/usr/bin/env bash
# Backup paths that defeat name-based handling: a tree deeper than PATH_MAX.
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

say "ok"
