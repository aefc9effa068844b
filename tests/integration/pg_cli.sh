# PostgreSQL tenants through the holdfast command, against the real server scripts/test starts:
# for each isolation model back up one tenant, change several tenants, restore the one tenant at the
# earlier point into a new target and in place, and prove with queries that its data equals the
# earlier state exactly and that no other tenant changed.
. "$(dirname "$0")/../cli/lib.sh"

for v in HF_TEST_PG_HOST HF_TEST_PG_PORT HF_TEST_PG_USER HF_TEST_PG_PASSFILE; do
	[ -n "${!v:-}" ] || fail "$v is not set: run under scripts/test, which starts PostgreSQL"
done
export PGPASSFILE=$HF_TEST_PG_PASSFILE
DSN="host=$HF_TEST_PG_HOST port=$HF_TEST_PG_PORT user=$HF_TEST_PG_USER"
P=hfcli$$ # unique names per run
sql() { psql -qAtX -v ON_ERROR_STOP=1 "$DSN dbname=$1" -c "$2"; }
# fingerprint DB QUERY: md5 of the ordered rows
fp() { psql -qAtX -v ON_ERROR_STOP=1 "$DSN dbname=$1" -c "SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM ($2) x"; }
# rows_fp DB TENANT: fingerprint of one tenant's rows in both shared tables
rows_fp() { echo "$(fp "$1" "SELECT * FROM patients WHERE tenant='$2'")/$(fp "$1" "SELECT * FROM visits WHERE tenant='$2'")"; }
cleanup_dbs() {
	for d in $(psql -qAtX "$DSN dbname=postgres" -c "SELECT datname FROM pg_database WHERE datname LIKE '${P}%'"); do
		psql -qAtX "$DSN dbname=postgres" -c "DROP DATABASE \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true
	done
}
trap 'cleanup_dbs; cleanup' EXIT

hf_init
ok hf tenant add north --tier standard
ok hf tenant add quoted --tier standard
ok hf tenant add clinic-a --tier regulated
ok hf tenant add clinic-b --tier regulated

say "rows model: shared tables with a tenant column"
sql postgres "CREATE DATABASE ${P}_rows"
sql ${P}_rows "CREATE TABLE patients (tenant text NOT NULL, id int, name text, PRIMARY KEY (tenant, id));
 CREATE TABLE visits (tenant text NOT NULL, id int, patient int, note text, PRIMARY KEY (tenant, id));
 INSERT INTO patients SELECT t, i, 'patient ' || i || ' ' || t FROM unnest(ARRAY['north','south','o''brien-ünï']) t, generate_series(1,300) i;
 INSERT INTO visits SELECT t, i, 1 + i % 300, repeat('note ', 1 + i % 7) FROM unnest(ARRAY['north','south','o''brien-ünï']) t, generate_series(1,1200) i;"
ok hf backup --tenant north --pg "$DSN dbname=${P}_rows" --pg-rows --tenant-column tenant --json
snap_rows=$(jq -r .id "$OUT")
north_then=$(rows_fp ${P}_rows north)
ok hf backup --tenant quoted --pg "$DSN dbname=${P}_rows" --pg-rows --tenant-column tenant --tenant-value "o'brien-ünï"
sleep 1
sql ${P}_rows "UPDATE patients SET name = 'changed' WHERE tenant IN ('north','south') AND id < 50;
 DELETE FROM visits WHERE tenant = 'north' AND id > 600; INSERT INTO visits VALUES ('south', 5000, 1, 'new')"
south_now=$(rows_fp ${P}_rows south)
quoted_now=$(fp ${P}_rows "SELECT * FROM patients WHERE tenant='o''brien-ünï'")
check "north changed" [ "$north_then" != "$(rows_fp ${P}_rows north)" ]

say "rows: restore into another database that has the shared schema"
sql postgres "CREATE DATABASE ${P}_rows_copy"
sql ${P}_rows_copy "CREATE TABLE patients (tenant text NOT NULL, id int, name text, PRIMARY KEY (tenant, id));
 CREATE TABLE visits (tenant text NOT NULL, id int, patient int, note text, PRIMARY KEY (tenant, id));"
ok hf restore --tenant north --snapshot "$snap_rows" --target-pg "$DSN dbname=${P}_rows_copy"
expect_stdout_match "verified"
check "restored copy equals the backed-up state" [ "$north_then" = "$(rows_fp ${P}_rows_copy north)" ]
say "rows: a target that already holds the tenant is refused without --in-place"
expect_status 9 hf restore --tenant north --snapshot "$snap_rows" --target-pg "$DSN dbname=${P}_rows"
expect_one_line_error

say "rows: in place, with a safety copy first"
north_changed=$(rows_fp ${P}_rows north)
ok hf restore --tenant north --snapshot "$snap_rows" --target-pg "$DSN dbname=${P}_rows" --in-place --json
safety=$(jq -r .safety_snapshot "$OUT")
check "a safety snapshot was taken" [ "$safety" != null ]
check "north equals the earlier state" [ "$north_then" = "$(rows_fp ${P}_rows north)" ]
say "rows: latest skips the safety copy; the safety copy restores by id"
ok hf restore --tenant north --snapshot latest --target-pg "$DSN dbname=${P}_rows" --in-place --json
check "latest after an in-place restore is the backup, not the safety copy" \
	[ "$(jq -r .snapshot "$OUT")" = "$snap_rows" ]
check "north still equals the earlier state" [ "$north_then" = "$(rows_fp ${P}_rows north)" ]
ok hf restore --tenant north --snapshot "${safety:0:16}" --target-pg "$DSN dbname=${P}_rows_copy" --in-place
check "the safety copy holds the replaced data" [ "$north_changed" = "$(rows_fp ${P}_rows_copy north)" ]
ok hf snapshots --tenant north --json
check "snapshots --json marks the safety copy" \
	[ "$(jq -r --arg id "$safety" '.[] | select(.id == $id) | .kind' "$OUT")" = safety ]
check "snapshots --json marks the backup" \
	[ "$(jq -r --arg id "$snap_rows" '.[] | select(.id == $id) | .kind' "$OUT")" = backup ]
check "south unchanged" [ "$south_now" = "$(rows_fp ${P}_rows south)" ]
check "quoted tenant unchanged" [ "$quoted_now" = "$(fp ${P}_rows "SELECT * FROM patients WHERE tenant='o''brien-ünï'")" ]

say "rows with a join path: the safety copy holds the child rows the in-place restore replaces"
schema_join="CREATE TABLE invoices (tenant text NOT NULL, id int PRIMARY KEY, total int);
 CREATE TABLE invoice_lines (id int PRIMARY KEY, invoice_id int NOT NULL REFERENCES invoices (id), amount int);"
sql postgres "CREATE DATABASE ${P}_join"
sql ${P}_join "$schema_join
 INSERT INTO invoices SELECT CASE WHEN i % 2 = 0 THEN 'north' ELSE 'south' END, i, i * 10 FROM generate_series(1, 200) i;
 INSERT INTO invoice_lines SELECT i, 1 + i % 200, i FROM generate_series(1, 1000) i;"
# lines_fp DB TENANT: fingerprint of the tenant's rows of the child table, which has no tenant column
lines_fp() { fp "$1" "SELECT l.* FROM invoice_lines l JOIN invoices v ON v.id = l.invoice_id WHERE v.tenant = '$2'"; }
ok hf backup --tenant north --pg "$DSN dbname=${P}_join" --pg-rows --tenant-column tenant \
	--pg-joins "invoice_lines:invoice_id->invoices.id" --json
snap_join=$(jq -r .id "$OUT")
lines_then=$(lines_fp ${P}_join north)
sleep 1
sql ${P}_join "UPDATE invoice_lines SET amount = -1 WHERE id < 300"
lines_changed=$(lines_fp ${P}_join north)
check "north's child rows changed" [ "$lines_then" != "$lines_changed" ]
ok hf restore --tenant north --snapshot "$snap_join" --target-pg "$DSN dbname=${P}_join" --in-place --json
safety=$(jq -r .safety_snapshot "$OUT")
check "north's child rows equal the earlier state" [ "$lines_then" = "$(lines_fp ${P}_join north)" ]
sql postgres "CREATE DATABASE ${P}_join_copy"
sql ${P}_join_copy "$schema_join"
ok hf restore --tenant north --snapshot "${safety:0:16}" --target-pg "$DSN dbname=${P}_join_copy"
check "the safety copy holds the child rows the in-place restore replaced" \
	[ "$lines_changed" = "$(lines_fp ${P}_join_copy north)" ]

say "schema model: one schema per tenant"
sql postgres "CREATE DATABASE ${P}_schemas"
for s in clinic_a clinic_b; do
	sql ${P}_schemas "CREATE SCHEMA $s; CREATE TABLE $s.patients (id serial PRIMARY KEY, name text NOT NULL);
	 CREATE TABLE $s.visits (id serial PRIMARY KEY, patient int REFERENCES $s.patients(id), at timestamptz DEFAULT '2026-01-01');
	 CREATE INDEX ON $s.visits(at); INSERT INTO $s.patients(name) SELECT 'p' || i FROM generate_series(1,200) i;
	 INSERT INTO $s.visits(patient) SELECT 1 + i % 200 FROM generate_series(1,800) i;"
done
ok hf backup --tenant clinic-a --pg "$DSN dbname=${P}_schemas" --pg-schema clinic_a
a_then=$(fp ${P}_schemas "SELECT * FROM clinic_a.patients")/$(fp ${P}_schemas "SELECT id, patient FROM clinic_a.visits")
sleep 1 # the --at time has whole seconds: take it strictly after the first recovery point
t_between=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1
sql ${P}_schemas "DELETE FROM clinic_a.visits WHERE id > 100; INSERT INTO clinic_b.patients(name) VALUES ('new b')"
b_now=$(fp ${P}_schemas "SELECT * FROM clinic_b.patients")/$(fp ${P}_schemas "SELECT id, patient FROM clinic_b.visits")
ok hf backup --tenant clinic-a --pg "$DSN dbname=${P}_schemas" --pg-schema clinic_a
say "schema: restore the earlier point (--at) into a new database, then in place"
sql postgres "CREATE DATABASE ${P}_schemas_new"
ok hf restore --tenant clinic-a --at "$t_between" --target-pg "$DSN dbname=${P}_schemas_new"
check "new database holds the earlier schema state" [ "$a_then" = "$(fp ${P}_schemas_new "SELECT * FROM clinic_a.patients")/$(fp ${P}_schemas_new "SELECT id, patient FROM clinic_a.visits")" ]
check "the index came back" [ "$(sql ${P}_schemas_new "SELECT count(*) FROM pg_indexes WHERE schemaname='clinic_a'")" -ge 3 ]
ok hf restore --tenant clinic-a --at "$t_between" --target-pg "$DSN dbname=${P}_schemas" --in-place
check "clinic_a equals the earlier state" [ "$a_then" = "$(fp ${P}_schemas "SELECT * FROM clinic_a.patients")/$(fp ${P}_schemas "SELECT id, patient FROM clinic_a.visits")" ]
check "clinic_b unchanged" [ "$b_now" = "$(fp ${P}_schemas "SELECT * FROM clinic_b.patients")/$(fp ${P}_schemas "SELECT id, patient FROM clinic_b.visits")" ]

say "database model: one database per tenant, restored into a database that does not exist yet"
sql postgres "CREATE DATABASE ${P}_db_b"
sql ${P}_db_b "CREATE TABLE invoices (id int PRIMARY KEY, amount numeric(10,2), memo text);
 INSERT INTO invoices SELECT i, i * 1.5, 'invoice ' || i FROM generate_series(1,1000) i;"
ok hf backup --tenant clinic-b --pg "$DSN dbname=${P}_db_b" --pg-database ${P}_db_b
db_then=$(fp ${P}_db_b "SELECT * FROM invoices")
sql ${P}_db_b "UPDATE invoices SET amount = 0 WHERE id % 3 = 0"
ok hf restore --tenant clinic-b --target-pg "$DSN dbname=${P}_db_b_restored"
check "restored database equals the backed-up state" [ "$db_then" = "$(fp ${P}_db_b_restored "SELECT * FROM invoices")" ]
ok hf restore --tenant clinic-b --source postgres --snapshot latest --target-pg "$DSN dbname=${P}_db_b" --in-place
check "in-place database equals the backed-up state" [ "$db_then" = "$(fp ${P}_db_b "SELECT * FROM invoices")" ]

say "enrolment from a tier blueprint: discover schemas, then plain 'backup --tenant ID'"
sql postgres "CREATE DATABASE ${P}_fleet"
for t in t001 t002 t003; do
	sql ${P}_fleet "CREATE SCHEMA tenant_$t; CREATE TABLE tenant_$t.notes (id int PRIMARY KEY, body text);
	 INSERT INTO tenant_$t.notes SELECT i, '$t ' || i FROM generate_series(1, 50) i"
done
sql ${P}_fleet "CREATE SCHEMA unrelated"
cat >"$T/fleet.conf" <<CONF
[tier fleet]
pg = $DSN dbname=${P}_fleet
pg-schema = tenant_{tenant}
CONF
ok hf --config "$T/fleet.conf" tenant add --tier fleet --discover --json
check "three tenants enrolled" [ "$(jq -r .added "$OUT")" = 3 ]
ok hf --config "$T/fleet.conf" tenant add --tier fleet --discover --json
check "enrolment is idempotent" [ "$(jq -r .existing "$OUT")" = 3 ] && [ "$(jq -r .added "$OUT")" = 0 ]
ok hf --config "$T/fleet.conf" backup --tenant t002 --json
check "the blueprint selected tenant_t002" [ "$(jq -r .source "$OUT")" = postgres ]
ok hf --config "$T/fleet.conf" snapshots --tenant t002 --json
check "labelled with the tenant's schema" [ "$(jq -r '.[0].label' "$OUT")" = "schema tenant_t002" ]

say "faults: unreachable server, missing schema, wrong password"
expect_status 1 hf backup --tenant clinic-a --pg "host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2" --pg-schema clinic_a
expect_one_line_error
expect_status 5 hf backup --tenant clinic-a --pg "$DSN dbname=${P}_schemas" --pg-schema no_such_schema
expect_stderr_match "no_such_schema"
printf '%s:%s:*:%s:wrong-password-xyz\n' "$HF_TEST_PG_HOST" "$HF_TEST_PG_PORT" "$HF_TEST_PG_USER" >"$T/badpass"
chmod 600 "$T/badpass"
PGPASSFILE=$T/badpass expect_status 4 hf backup --tenant clinic-a --pg "$DSN dbname=${P}_schemas" --pg-schema clinic_a
check "the password is not printed" [ -z "$(grep -F wrong-password-xyz "$ERR" || true)" ]
ok hf check --read-data
say "passed"
