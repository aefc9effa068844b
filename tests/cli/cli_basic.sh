#!/usr/bin/env bash
# --help of every command and subcommand, unknown commands and options, version.
. "$(dirname "$0")/lib.sh"

# help_mentions "COMMAND [SUB]" OPTION...: --help exits 0 on stdout, names the command and its options.
help_mentions() {
	local cmd=$1 o
	shift
	# shellcheck disable=SC2086
	expect_status 0 "$HOLDFAST" $cmd --help
	[ -s "$OUT" ] || fail "'$cmd --help' printed nothing on stdout"
	[ ! -s "$ERR" ] || { show_last; fail "'$cmd --help' printed on stderr"; }
	grep -q "^usage: holdfast ${cmd%% *}" "$OUT" || { show_last; fail "'$cmd --help' has no usage line"; }
	for o in "$@"; do
		grep -qF -- "$o" "$OUT" || { show_last; fail "'$cmd --help' does not mention '$o'"; }
	done
}

say "--help of every command and subcommand (no repository needed)"
help_mentions "init" --repo --password-file --key-file --kdf-memory --kdf-iterations --pack-size --chunk-size --compression
help_mentions "key" add list remove --new-password-file --new-key-file
help_mentions "key add" --new-password-file --new-key-file
help_mentions "key list" list --json
help_mentions "key remove" remove
help_mentions "tenant" add list show --tier
help_mentions "tenant add" --tier
help_mentions "tenant list" list --json
help_mentions "tenant show" show
help_mentions "backup" --tenant --path --exclude --tar --stdin --stdin-name --label
help_mentions "snapshots" --tenant --json
help_mentions "restore" --tenant --snapshot --at --target --tar --include --overwrite --keep-going
help_mentions "check" --tenant --read-data --read-data-subset --json
help_mentions "catalog" rebuild
help_mentions "catalog rebuild" rebuild
# -h is the same as --help
expect_status 0 "$HOLDFAST" restore -h
expect_stdout_match '^usage: holdfast restore'

say "top-level help lists every command"
expect_status 0 "$HOLDFAST" --help
for c in init "key add|list|remove" "tenant add|list|show" backup snapshots restore check "catalog rebuild" version; do
	grep -qF -- "$c" "$OUT" || { show_last; fail "'holdfast --help' does not list '$c'"; }
done
expect_status 0 "$HOLDFAST" help
expect_stdout_match '^usage: holdfast'

say "no command: usage, status 2"
expect_status 2 "$HOLDFAST"

say "version"
expect_status 0 "$HOLDFAST" version
expect_stdout_match '^holdfast [0-9]+\.[0-9]+\.[0-9]+'
[ "$(wc -l <"$OUT")" = 1 ] || fail "'holdfast version' prints more than one line"
cp "$OUT" "$T/version.out"
for v in --version -V "backup --version"; do
	# shellcheck disable=SC2086
	expect_status 0 "$HOLDFAST" $v
	cmp -s "$OUT" "$T/version.out" || { show_last; fail "'holdfast $v' does not print what 'holdfast version' prints"; }
done

say "unknown command: status 2, one line naming it"
expect_status 2 "$HOLDFAST" frobnicate
expect_one_line_error
expect_stderr_match "unknown command 'frobnicate'"
[ ! -s "$OUT" ] || fail "unknown command printed on stdout"

say "unknown option: status 2, one line naming it (before and after the command, long and short)"
expect_status 2 "$HOLDFAST" --frobnicate snapshots
expect_one_line_error
expect_stderr_match "unknown option '--frobnicate'"
expect_status 2 "$HOLDFAST" --repo "$REPO" backup --tenant acme --frobnicate x
expect_one_line_error
expect_stderr_match "unknown option '--frobnicate'"
expect_status 2 "$HOLDFAST" snapshots -Z
expect_one_line_error
expect_stderr_match "unknown option '-Z'"
expect_status 2 "$HOLDFAST" --json=yes snapshots
expect_one_line_error
expect_stderr_match "json"

say "missing option argument, unknown subcommands: status 2, one line"
expect_status 2 "$HOLDFAST" --repo "$REPO" restore --tenant
expect_one_line_error
expect_stderr_match "'--tenant' needs an argument"
for sub in "key frob" "tenant frob" "catalog frob"; do
	# shellcheck disable=SC2086
	expect_status 2 "$HOLDFAST" --repo "$REPO" $sub
	expect_one_line_error
	expect_stderr_match "unknown ${sub% *} command 'frob'"
done

say "missing required arguments: status 2, one line"
hf_init
expect_status 2 hf backup --path /etc/hostname
expect_one_line_error
expect_stderr_match 'needs --tenant'
expect_status 2 hf restore --target "$T/out"
expect_one_line_error
expect_stderr_match 'needs --tenant'
expect_status 2 hf tenant add acme
expect_one_line_error
expect_stderr_match 'needs --tier'
expect_status 2 hf key remove
expect_one_line_error
expect_status 2 hf check --read-data-subset 250
expect_one_line_error
expect_stderr_match 'read-data-subset'
expect_status 2 hf init --kdf-memory 1
expect_one_line_error
expect_status 2 env -u HOLDFAST_PASSWORD_FILE "$HOLDFAST" --repo "$REPO" snapshots
expect_one_line_error
expect_stderr_match 'no passphrase or key file'

say "listing an empty repository"
expect_status 0 hf snapshots --json
[ "$(jq -c . "$OUT")" = "[]" ] || { show_last; fail "snapshots --json of an empty repository is not []"; }
expect_status 0 hf tenant list --json
[ "$(jq -c . "$OUT")" = "[]" ] || { show_last; fail "tenant list --json of an empty repository is not []"; }

say "ok"
