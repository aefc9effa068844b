#!/usr/bin/env bash
# Archive imports (--tar) of what real writers produce beyond plain tar: newc cpio hard links with the
# data on the last link, sparse files without data blocks, directory entries after their contents.
. "$(dirname "$0")/lib.sh"

hf_init
ok hf tenant add acme --tier gold
ROOT=$([ "$(id -u)" = 0 ] && echo 1 || echo 0)

# mkcpio OUT SPEC...: a newc cpio archive as GNU cpio, rpm and initramfs write it: the data of a
# multiply-linked file is on its LAST link only. SPEC is name:inode:mode(octal):nlink:data:uid:mtime.
mkcpio() {
	"$PY" - "$@" <<'EOF'
import sys
out, specs = sys.argv[1], sys.argv[2:]
def ent(name, ino, mode, nlink, data=b'', uid=0, mtime=1700000000):
    n = name.encode() + b'\0'
    h = b'070701' + b''.join(b'%08X' % v for v in (ino, mode, uid, 0, nlink, mtime, len(data), 0, 0, 0, 0, len(n), 0))
    o = h + n
    o += b'\0' * (-len(o) % 4)
    return o + data + b'\0' * (-len(data) % 4)
a = b''
for s in specs:
    name, ino, mode, nlink, data, uid, mtime = s.split(':')
    a += ent(name, int(ino), int(mode, 8), int(nlink), data.encode(), int(uid), int(mtime))
a += ent('TRAILER!!!', 0, 0, 1)
open(out, 'wb').write(a + b'\0' * (-len(a) % 512))
EOF
}

say "cpio (newc): a hard link group whose data is on its last link keeps the data, as hard links"
mkcpio "$T/links.cpio" \
	dir:1:40755:2::0:1700000000 \
	dir/first:2:100644:3::0:1700000000 \
	dir/middle:2:100644:3::0:1700000000 \
	"dir/second:2:100644:3:patient record 42:0:1700000000" \
	dir/plain:3:100644:1:plain:0:1700000000 \
	dir/empty1:4:100644:2::0:1700000000 \
	dir/empty2:4:100644:2::0:1700000000 \
	dir/zz:5:100644:2::0:1700000000 \
	"dir/aa:5:100644:2:lab 7:0:1700000000"
ok hf backup --tenant acme --tar "$T/links.cpio" --json
[ "$(json_get .files)" = 8 ] || { show_last; fail "cpio import counted $(json_get .files) files, not 8"; }
[ "$(json_get .bytes)" = $((3 * 0 + 17 + 5 + 5)) ] || { show_last; fail "cpio import stored $(json_get .bytes) bytes"; }
[ "$(json_get .warnings)" = 0 ] || { show_last; fail "cpio import warned"; }
ok hf restore --tenant acme --target "$T/r-cpio"
for n in first middle second; do
	[ "$(cat "$T/r-cpio/dir/$n")" = "patient record 42" ] || fail "cpio hard link dir/$n lost its data"
done
[ "$(stat -c %i "$T/r-cpio/dir/first")" = "$(stat -c %i "$T/r-cpio/dir/second")" ] &&
	[ "$(stat -c %i "$T/r-cpio/dir/first")" = "$(stat -c %i "$T/r-cpio/dir/middle")" ] ||
	fail "cpio hard links were not restored as one inode"
[ "$(cat "$T/r-cpio/dir/plain")" = plain ] || fail "cpio plain file"
# the data stays with the group's first name, zz, which a restore creates after aa
[ "$(cat "$T/r-cpio/dir/aa")" = "lab 7" ] && [ "$(stat -c %i "$T/r-cpio/dir/aa")" = "$(stat -c %i "$T/r-cpio/dir/zz")" ] ||
	fail "a cpio hard link group whose first name sorts last was not restored as one inode with its data"
[ ! -s "$T/r-cpio/dir/empty1" ] && [ "$(stat -c %i "$T/r-cpio/dir/empty1")" = "$(stat -c %i "$T/r-cpio/dir/empty2")" ] ||
	fail "an empty multiply-linked cpio file was not restored as empty hard links"

say "tar: a sparse file without any data block keeps its size (gnu and pax sparse formats)"
mkdir -p "$T/sp"
truncate -s 3M "$T/sp/hole"
printf 'head' >"$T/sp/tail-hole"
truncate -s 2M "$T/sp/tail-hole"
echo small >"$T/sp/small"
for fmt in gnu posix; do
	tar --format=$fmt --sparse -cf "$T/sp-$fmt.tar" -C "$T/sp" hole tail-hole small
	ok hf backup --tenant acme --tar "$T/sp-$fmt.tar" --json
	[ "$(json_get .bytes)" = $((3145728 + 2097152 + 6)) ] || { show_last; fail "$fmt sparse import stored $(json_get .bytes) bytes"; }
	[ "$(json_get .warnings)" = 0 ] || { show_last; fail "$fmt sparse import warned"; }
	ok hf restore --tenant acme --target "$T/r-sp-$fmt"
	for f in hole tail-hole small; do
		cmp "$T/sp/$f" "$T/r-sp-$fmt/$f" || fail "$fmt sparse file $f restored differently"
	done
done

say "a directory entry after its contents (find -depth order) gives the directory its metadata"
"$PY" - "$T/late.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    f = tarfile.TarInfo('d/sub/f'); f.size = 3; f.mode = 0o644; f.mtime = 1600000000
    t.addfile(f, io.BytesIO(b'abc'))
    for name, mode, mtime in (('d/sub', 0o750, 1550000000), ('d', 0o700, 1500000000)):
        d = tarfile.TarInfo(name); d.type = tarfile.DIRTYPE; d.mode = mode; d.mtime = mtime
        d.uname = 'nobody'; d.uid = 65534; d.gname = 'nogroup'; d.gid = 65534
        t.addfile(d)
    d = tarfile.TarInfo('d'); d.type = tarfile.DIRTYPE; d.mode = 0o777; d.mtime = 1
    t.addfile(d)  # a second entry of the same directory: the first one wins
EOF
ok hf backup --tenant acme --tar "$T/late.tar" --json
[ "$(json_get .dirs)" = 2 ] && [ "$(json_get .files)" = 1 ] ||
	{ show_last; fail "late directory entries counted $(json_get .dirs) dirs and $(json_get .files) files, not 2 and 1"; }
ok hf restore --tenant acme --target "$T/r-late"
want="700 1500000000"
[ "$(stat -c '%a %Y' "$T/r-late/d")" = "$want" ] || fail "d restored as $(stat -c '%a %Y' "$T/r-late/d"), not $want"
[ "$(stat -c '%a %Y' "$T/r-late/d/sub")" = "750 1550000000" ] || fail "d/sub restored as $(stat -c '%a %Y' "$T/r-late/d/sub")"
if [ "$ROOT" = 1 ]; then
	[ "$(stat -c %u "$T/r-late/d")" = 65534 ] || fail "d restored with owner $(stat -c %u "$T/r-late/d"), not 65534"
fi
[ "$(cat "$T/r-late/d/sub/f")" = abc ] || fail "d/sub/f content"

say "cpio in find -depth order: the same"
mkcpio "$T/late.cpio" "d/f:5:100644:1:abc:0:1600000000" d:6:40700:2::65534:1500000000
ok hf backup --tenant acme --tar "$T/late.cpio"
ok hf restore --tenant acme --target "$T/r-late-cpio"
[ "$(stat -c '%a %Y' "$T/r-late-cpio/d")" = "700 1500000000" ] || fail "cpio d restored as $(stat -c '%a %Y' "$T/r-late-cpio/d")"

say "ok"
