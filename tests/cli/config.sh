#!/usr/bin/env bash
# The configuration file: [repository] and [tenant ID] sections make "holdfast backup --tenant ID"
# enough for cron; HOLDFAST_REPOSITORY; precedence argv > environment > config file.
. "$(dirname "$0")/lib.sh"

unset HOLDFAST_PASSWORD_FILE
gen_tree "$T/dir1" cfg1 100000
mkdir -p "$T/dir2/sub"
gen_text cfg2 4000 >"$T/dir2/sub/settings.ini"

REPO_CFG=$T/repo-cfg
REPO_ENV=$T/repo-env
REPO_ARG=$T/repo-arg
cat >"$T/holdfast.conf" <<EOF
# holdfast test configuration
[repository]
url = $REPO_CFG
password-file = $T/pass
catalog = $T/catalog-cfg.db

[tier gold]
rpo = 24h

[tenant acme]
tier = gold
path = $T/dir1 $T/dir2
exclude = *.tmp
EOF
export HOLDFAST_CONFIG=$T/holdfast.conf

say "init, tenant add and backup with nothing but the config file"
ok "$HOLDFAST" init --kdf-memory 8 --kdf-iterations 1
[ -f "$REPO_CFG/config" ] || fail "init did not create the repository named in the config file"
ok "$HOLDFAST" tenant add acme          # the tier comes from [tenant acme]
ok "$HOLDFAST" tenant show acme --json
[ "$(json_get .tier)" = gold ] || { show_last; fail "tier from [tenant acme] not used"; }
expect_status 2 "$HOLDFAST" tenant add other --tier platinum
expect_one_line_error
expect_stderr_match "tier 'platinum'"
printf 'scratch\n' >"$T/dir2/sub/junk.tmp"
touch -d '2025-01-01 00:00:00' "$T/dir2/sub"   # and again after junk.tmp is gone, for the comparison
ok "$HOLDFAST" backup --tenant acme --json
S1=$(json_get .id)
[ -f "$T/catalog-cfg.db" ] || fail "the catalog named in the config file was not used"
ok "$HOLDFAST" restore --tenant acme --snapshot "$S1" --target "$T/r1"
compare_trees "$T/dir1" "$(restored_root "$T/r1" "$T/dir1")"
[ ! -e "$(restored_root "$T/r1" "$T/dir2")/sub/junk.tmp" ] || fail "exclude from [tenant acme] not applied"
rm "$T/dir2/sub/junk.tmp"
touch -d '2025-01-01 00:00:00' "$T/dir2/sub"
compare_trees "$T/dir2" "$(restored_root "$T/r1" "$T/dir2")"
say "  the command line replaces the configured paths"
ok "$HOLDFAST" backup --tenant acme --path "$T/dir2" --json
[ "$(json_get .files)" = 1 ] || { show_last; fail "--path did not replace the configured paths"; }
say "  a tenant without a section needs a source"
ok "$HOLDFAST" tenant add beta --tier gold
expect_status 2 "$HOLDFAST" backup --tenant beta
expect_one_line_error

say "HOLDFAST_REPOSITORY and HOLDFAST_PASSWORD_FILE"
printf 'environment passphrase\n' >"$T/pass-env"
printf 'argv passphrase\n' >"$T/pass-arg"
ok env HOLDFAST_CONFIG="$T/empty.conf" "$HOLDFAST" --repo "$REPO_ENV" --password-file "$T/pass-env" init --kdf-memory 8 --kdf-iterations 1
ok env HOLDFAST_CONFIG="$T/empty.conf" "$HOLDFAST" --repo "$REPO_ENV" --password-file "$T/pass-env" tenant add env-tenant --tier x
ok env HOLDFAST_CONFIG="$T/empty.conf" "$HOLDFAST" --repo "$REPO_ARG" --password-file "$T/pass-arg" init --kdf-memory 8 --kdf-iterations 1
ok env HOLDFAST_CONFIG="$T/empty.conf" "$HOLDFAST" --repo "$REPO_ARG" --password-file "$T/pass-arg" tenant add arg-tenant --tier x
ok env HOLDFAST_CONFIG="$T/empty.conf" HOLDFAST_REPOSITORY="$REPO_ENV" HOLDFAST_PASSWORD_FILE="$T/pass-env" \
	"$HOLDFAST" tenant list --json
[ "$(jq -r '[.[].id] | join(" ")' "$OUT")" = env-tenant ] || { show_last; fail "HOLDFAST_REPOSITORY not used"; }

# tenants_of: the tenant ids the last command listed
tenants_of() { jq -r '[.[].id] | sort | join(" ")' "$OUT"; }

say "precedence: config file < environment < command line"
ok "$HOLDFAST" tenant list --json
[ "$(tenants_of)" = "acme beta" ] || { show_last; fail "config file repository not used"; }
ok env HOLDFAST_REPOSITORY="$REPO_ENV" HOLDFAST_PASSWORD_FILE="$T/pass-env" "$HOLDFAST" tenant list --json
[ "$(tenants_of)" = env-tenant ] || { show_last; fail "the environment does not beat the config file"; }
ok env HOLDFAST_REPOSITORY="$REPO_ENV" HOLDFAST_PASSWORD_FILE="$T/pass-env" \
	"$HOLDFAST" --repo "$REPO_ARG" --password-file "$T/pass-arg" tenant list --json
[ "$(tenants_of)" = arg-tenant ] || { show_last; fail "the command line does not beat the environment"; }
ok "$HOLDFAST" --repo "$REPO_ARG" --password-file "$T/pass-arg" tenant list --json
[ "$(tenants_of)" = arg-tenant ] || { show_last; fail "the command line does not beat the config file"; }
say "  the password file follows the same order"
expect_status 4 env HOLDFAST_PASSWORD_FILE="$T/pass-env" "$HOLDFAST" tenant list     # env beats config: wrong for repo-cfg
expect_stderr_match 'wrong passphrase'
ok env HOLDFAST_PASSWORD_FILE="$T/pass-env" "$HOLDFAST" --password-file "$T/pass" tenant list
say "  an empty environment variable is ignored"
ok env HOLDFAST_REPOSITORY= HOLDFAST_PASSWORD_FILE= "$HOLDFAST" tenant list --json
[ "$(tenants_of)" = "acme beta" ] || { show_last; fail "an empty HOLDFAST_REPOSITORY was not ignored"; }
say "  --config beats HOLDFAST_CONFIG"
printf '[repository]\nurl = %s\npassword-file = %s\n' "$REPO_ARG" "$T/pass-arg" >"$T/arg.conf"
ok "$HOLDFAST" --config "$T/arg.conf" tenant list --json
[ "$(tenants_of)" = arg-tenant ] || { show_last; fail "--config does not beat HOLDFAST_CONFIG"; }
say "  a key file on the command line beats a configured password file"
ok "$HOLDFAST" key add --new-key-file "$T/acme.key"
ok "$HOLDFAST" --key-file "$T/acme.key" key list --json
[ "$(jq -r '.[] | select(.current) | .type' "$OUT")" = keyfile ] || { show_last; fail "--key-file not used"; }

say "a tier blueprint: path and exclude with {tenant}, used by a plain 'backup --tenant ID'"
mkdir -p "$T/fleet/t-one/etc" "$T/fleet/t-one/logs"
echo conf >"$T/fleet/t-one/etc/app.conf"
echo noise >"$T/fleet/t-one/logs/app.log"
printf '[repository]\nurl = %s\npassword-file = %s\n[tier fleet]\npath = %s/fleet/{tenant}\nexclude = *.log\n' \
	"$T/fleetrepo" "$T/pass" "$T" >"$T/fleet.conf"
ok "$HOLDFAST" --config "$T/fleet.conf" init --kdf-memory 8 --kdf-iterations 1
ok "$HOLDFAST" --config "$T/fleet.conf" tenant add t-one --tier fleet
ok "$HOLDFAST" --config "$T/fleet.conf" backup --tenant t-one --json
[ "$(jq -r .files "$OUT")" = 1 ] || { show_last; fail "the blueprint's path/exclude were not applied"; }
ok "$HOLDFAST" --config "$T/fleet.conf" restore --tenant t-one --target "$T/fleet-out"
[ -f "$T/fleet-out$T/fleet/t-one/etc/app.conf" ] && [ ! -e "$T/fleet-out$T/fleet/t-one/logs/app.log" ] ||
	fail "restored blueprint snapshot has the wrong content"

say "lines longer than libinih's 200-byte buffer: a long path list, with a long comment and an inline comment"
LONGPATHS=
for i in $(seq 1 12); do
	d="$T/long/a-rather-long-directory-name-for-a-clinic-department-number-$i"
	mkdir -p "$d"
	echo "file $i" >"$d/f.txt"
	LONGPATHS="$LONGPATHS $d"
done
{
	printf '[repository]\nurl = %s\npassword-file = %s\n' "$T/longrepo" "$T/pass"
	printf '# %s\n' "$(printf 'x%.0s' $(seq 1 400))"
	printf '[tier std]\n[tenant wide]\ntier = std\npath =%s   ; every department\n' "$LONGPATHS"
} >"$T/long.conf"
[ "$(awk 'length > 600' "$T/long.conf" | wc -l)" = 1 ] || fail "the test config has no long line"
ok "$HOLDFAST" --config "$T/long.conf" init --kdf-memory 8 --kdf-iterations 1
ok "$HOLDFAST" --config "$T/long.conf" tenant add wide
ok "$HOLDFAST" --config "$T/long.conf" backup --tenant wide --json
[ "$(jq -r .files "$OUT")" = 12 ] || { show_last; fail "the long path line was not read whole"; }
say "  a long section header: status 2, names the file and the line"
printf '[repository]\nurl = %s\n[tenant %s]\npath = /tmp\n' "$T/longrepo" "$(printf 'y%.0s' $(seq 1 300))" \
	>"$T/longsec.conf"
expect_status 2 "$HOLDFAST" --config "$T/longsec.conf" snapshots
expect_one_line_error
expect_stderr_match "$T/longsec.conf:3: line longer than"

say "numbers that do not fit an int are refused, not truncated: status 2, one line naming the key and the file"
base=$(printf '[repository]\nurl = %s\npassword-file = %s\n' "$T/longrepo" "$T/pass")
printf '%s\n[tier std]\nlock-days = 4294967326\n' "$base" >"$T/days.conf"   # 2^32 + 30
expect_status 2 "$HOLDFAST" --config "$T/days.conf" snapshots
expect_one_line_error
expect_stderr_match "$T/days.conf.*\\[tier std\\] lock-days"
printf '%s\n[tier std]\nlock-days = 36501\n' "$base" >"$T/days.conf"
expect_status 2 "$HOLDFAST" --config "$T/days.conf" snapshots
expect_stderr_match "lock-days"
printf '%s\nthreads = 4294967297\n' "$base" >"$T/threads.conf"                # 2^32 + 1
expect_status 2 "$HOLDFAST" --config "$T/threads.conf" snapshots
expect_one_line_error
expect_stderr_match "$T/threads.conf.*\\[repository\\] threads"
printf '%s\n[s3]\nparallel = 4294967304\n' "$base" >"$T/parallel.conf"
expect_status 2 "$HOLDFAST" --config "$T/parallel.conf" snapshots
expect_stderr_match "\\[s3\\] parallel"
expect_status 2 "$HOLDFAST" --config "$T/long.conf" --threads 4294967297 snapshots
expect_one_line_error
expect_stderr_match "invalid --threads"
expect_status 2 "$HOLDFAST" --config "$T/long.conf" --compression 4294967299 backup --tenant wide
expect_stderr_match "invalid --compression"
printf '%s\n[tier std]\nlock-days = 36500\n' "$base" >"$T/days.conf"
ok "$HOLDFAST" --config "$T/days.conf" --threads 2 snapshots

say "tenant add ID, the id as an argument: its [tenant ID] tier's repository is used (holdfast.conf(5))"
ok "$HOLDFAST" --repo "$T/tierrepo" --password-file "$T/pass" init --kdf-memory 8 --kdf-iterations 1
printf '%s\n[tier regulated]\nrepository = %s\n[tenant nw]\ntier = regulated\n' "$base" "$T/tierrepo" \
	>"$T/tierrepo.conf"
ok "$HOLDFAST" --config "$T/tierrepo.conf" tenant add nw
ok "$HOLDFAST" --config "$T/tierrepo.conf" --repo "$T/tierrepo" tenant show nw
expect_status 5 "$HOLDFAST" --config "$T/tierrepo.conf" --repo "$T/longrepo" tenant show nw
ok "$HOLDFAST" --config "$T/tierrepo.conf" tenant show nw   # the argument selects it for show too

say "no passphrase anywhere: status 2"
expect_status 2 env HOLDFAST_CONFIG="$T/empty.conf" "$HOLDFAST" --repo "$REPO_CFG" snapshots
expect_one_line_error
say "ok"
