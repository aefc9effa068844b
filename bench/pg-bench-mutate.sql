-- bench/pg-bench: one busy day of one tenant, about :pct % of its rows changed (half updated, half
-- inserted) plus a few scattered edits. Works on the shared database and on the tenant's own copy alike.
-- psql variables: tenant, pct, seed, scattered (on/off). Prints one line: "mutation: ...".
--   * visits: the oldest scheduled visits (pct/2 % of the tenant's visits) are completed, with notes;
--   * invoices: the oldest open invoices (pct/2 %) are paid and their lines re-priced by the payer;
--   * new rows (pct/2 % of each table): appointments, invoices with lines for the completed visits,
--     clinic letters, patients;
--   * scattered (unless scattered=off): 10 patients change address, 5 cancelled visits and 3 documents
--     are deleted.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\o /dev/null
SELECT setseed(:seed);
\o
BEGIN;
CREATE TEMP TABLE m AS SELECT
	(SELECT count(*) FROM patients WHERE tenant_id = :tenant) AS np,
	(SELECT count(*) FROM visits WHERE tenant_id = :tenant) AS nv,
	(SELECT count(*) FROM invoices WHERE tenant_id = :tenant) AS ni,
	(SELECT count(*) FROM invoice_lines WHERE tenant_id = :tenant) AS nl,
	(SELECT count(*) FROM documents WHERE tenant_id = :tenant) AS nd,
	timestamptz '2026-01-02 08:00' AS today, :pct / 200.0 AS f;
CREATE TEMP TABLE chg (tbl text, op text, n bigint);
CREATE TEMP TABLE done (id bigint, patient_id bigint, status text, reason text, clinician text);
CREATE TEMP TABLE paid (id bigint);
CREATE TEMP TABLE newinv (id bigint, issued_at timestamptz);
CREATE TEMP TABLE tp AS SELECT array_agg(id ORDER BY id) AS ids FROM patients WHERE tenant_id = :tenant;
CREATE TEMP TABLE lex AS SELECT
	ARRAY['Symptoms improved since the last visit.', 'No new complaints today.',
	      'Reports mild side effects, tolerable.', 'Condition stable, adherence good.',
	      'New symptom reported: intermittent dizziness on standing.']::text[] AS hx,
	ARRAY['Examination unremarkable.', 'BP slightly raised today, repeat at next visit.',
	      'Wound healing well, sutures removed.', 'Chest clear, no wheeze.']::text[] AS exam,
	ARRAY['persistent cough', 'hypertension review', 'medication review', 'lower back pain',
	      'type 2 diabetes review', 'vaccination: influenza', 'wound check', 'anxiety']::text[] AS reason,
	ARRAY['Dr. A. Visser', 'Dr. F. Weber', 'Dr. K. Nakamura', 'NP R. Jensen', 'PA V. Costa']::text[] AS clin;

-- Yesterday's appointments took place.
WITH s AS (SELECT id FROM visits WHERE tenant_id = :tenant AND status = 'scheduled'
           ORDER BY id LIMIT (SELECT ceil(f * nv)::bigint FROM m)),
u AS (UPDATE visits v SET
	status = CASE WHEN v.id % 8 = 7 THEN 'cancelled' WHEN v.id % 8 = 6 THEN 'no-show' ELSE 'completed' END,
	notes = CASE WHEN v.id % 8 < 6 THEN 'Reason: ' || v.reason || '. ' ||
		l.hx[1 + floor(random() * cardinality(l.hx))::int] || ' ' || l.exam[1 + floor(random() * cardinality(l.exam))::int] ||
		' Vitals: BP ' || (105 + floor(random() * 55))::int || '/' || (60 + floor(random() * 35))::int ||
		' mmHg, HR ' || (52 + floor(random() * 50))::int || ' bpm. Plan: review in ' ||
		(1 + floor(random() * 12))::int || ' weeks.' END,
	diagnosis_code = CASE WHEN v.id % 8 < 6 THEN 'Z09' END,
	updated_at = m.today
	FROM s, m, lex l WHERE v.tenant_id = :tenant AND v.id = s.id
	RETURNING v.id, v.patient_id, v.status, v.reason, v.clinician)
INSERT INTO done SELECT * FROM u;
INSERT INTO chg SELECT 'visits', 'updated', count(*) FROM done;

-- Payments arrived for the oldest open invoices; the payer re-priced their lines.
WITH s AS (SELECT id FROM invoices WHERE tenant_id = :tenant AND status = 'open'
           ORDER BY id LIMIT (SELECT ceil(f * ni)::bigint FROM m)),
u AS (UPDATE invoices i SET status = 'paid', paid_at = m.today - floor(random() * 480) * interval '1 minute'
      FROM s, m WHERE i.tenant_id = :tenant AND i.id = s.id RETURNING i.id)
INSERT INTO paid SELECT id FROM u;
INSERT INTO chg SELECT 'invoices', 'updated', count(*) FROM paid;
WITH u AS (UPDATE invoice_lines SET unit_price = round(unit_price * 0.93, 2)
           WHERE tenant_id = :tenant AND invoice_id IN (SELECT id FROM paid) RETURNING 1)
INSERT INTO chg SELECT 'invoice_lines', 'updated', count(*) FROM u;

-- New appointments, after the tenant's last one.
WITH x AS (SELECT max(visit_at) AS last FROM visits WHERE tenant_id = :tenant),
r AS (SELECT k, 1 + floor(random() * cardinality(l.reason))::int AS ri,
             tp.ids[1 + floor(random() * cardinality(tp.ids))::int] AS pid
      FROM m, lex l, tp, generate_series(1, (SELECT ceil(f * nv)::int FROM m)) k OFFSET 0),
u AS (INSERT INTO visits (tenant_id, patient_id, clinician, visit_at, kind, status, reason, diagnosis_code, notes, updated_at)
      SELECT :tenant, r.pid, l.clin[1 + (r.k % cardinality(l.clin))::int], x.last + r.k * interval '7 minutes',
             'consultation', 'scheduled', l.reason[r.ri], NULL, NULL, m.today
      FROM r, x, m, lex l ORDER BY r.k RETURNING 1)
INSERT INTO chg SELECT 'visits', 'inserted', count(*) FROM u;

-- Invoices for yesterday's completed visits, at most pct/2 % of the invoices.
WITH u AS (INSERT INTO invoices (tenant_id, number, visit_id, patient_id, issued_at, due_at, payer, status, total, currency)
	SELECT :tenant, 'INV-2026-D' || lpad(d.id::text, 9, '0'), d.id, d.patient_id, m.today,
	       (m.today + interval '30 days')::date, 'self-pay', 'open', round((20 + random() * 380)::numeric, 2), 'EUR'
	FROM (SELECT * FROM done WHERE status = 'completed' ORDER BY id LIMIT (SELECT ceil(f * ni)::bigint FROM m)) d, m
	ORDER BY d.id RETURNING id, issued_at)
INSERT INTO newinv SELECT * FROM u;
INSERT INTO chg SELECT 'invoices', 'inserted', count(*) FROM newinv;
WITH u AS (INSERT INTO invoice_lines
	SELECT :tenant, i.id, n, 'consultation', 'consultation (' || to_char(i.issued_at, 'DD Mon YYYY') || ')',
	       1, 65.00, 0.00
	FROM newinv i, generate_series(1, 1 + (i.id % 4)::int) n ORDER BY i.id, n RETURNING 1)
INSERT INTO chg SELECT 'invoice_lines', 'inserted', count(*) FROM u;

-- Clinic letters for some of the completed visits.
WITH u AS (INSERT INTO documents (tenant_id, patient_id, visit_id, kind, title, mime_type, body, created_at)
	SELECT :tenant, d.patient_id, d.id, 'clinic letter', 'Clinic letter: ' || d.reason, 'text/plain',
	       d.clinician || E'\nRe: patient MRN' || lpad(d.patient_id::text, 9, '0') || E'\n\nThe patient was seen today for ' ||
	       d.reason || '. ' || repeat('Findings and plan as documented in the visit notes; no change to the long-term medication. ', 3 + (d.id % 5)::int) ||
	       E'\n\nKind regards,\n' || d.clinician, m.today + interval '3 hours'
	FROM (SELECT * FROM done WHERE status = 'completed' ORDER BY id LIMIT (SELECT ceil(f * nd)::bigint FROM m)) d, m
	ORDER BY d.id RETURNING 1)
INSERT INTO chg SELECT 'documents', 'inserted', count(*) FROM u;

-- New patients.
WITH u AS (INSERT INTO patients (tenant_id, mrn, first_name, last_name, birth_date, sex, address, city, postcode,
                                 phone, email, insurance_no, allergies, created_at, updated_at)
	SELECT :tenant, 'MRN-N' || lpad(k::text, 8, '0'), 'Noor', 'Jansen', date '1990-01-01' + k, 'F',
	       k || ' Harbour View', 'Rotterdam', '3011 AB', '+31 6 ' || lpad((k * 7919 % 100000000)::text, 8, '0'),
	       'noor.jansen' || k || '@mail.example', 'INS-N' || k, 'None known', m.today, m.today
	FROM m, generate_series(1, (SELECT ceil(f * np)::int FROM m)) k ORDER BY k RETURNING 1)
INSERT INTO chg SELECT 'patients', 'inserted', count(*) FROM u;

-- Scattered edits: address changes, mistaken entries deleted.
\if :scattered
WITH u AS (UPDATE patients p SET address = '12 Canal Street', city = 'Utrecht', postcode = '3511 AA', updated_at = m.today
	FROM tp, m, generate_series(1, 10) k
	WHERE p.tenant_id = :tenant AND p.id = tp.ids[1 + (cardinality(tp.ids) - 1) * k / 11] RETURNING 1)
INSERT INTO chg SELECT 'patients', 'updated', count(*) FROM u;
WITH c AS (SELECT id, row_number() OVER (ORDER BY id) AS rn, count(*) OVER () AS n
           FROM visits WHERE tenant_id = :tenant AND status = 'cancelled'),
u AS (DELETE FROM visits v USING c WHERE v.tenant_id = :tenant AND v.id = c.id
      AND c.rn IN (SELECT 1 + (c2.n - 1) * k / 6 FROM (SELECT max(n) AS n FROM c) c2, generate_series(1, 5) k) RETURNING 1)
INSERT INTO chg SELECT 'visits', 'deleted', count(*) FROM u;
WITH c AS (SELECT id, row_number() OVER (ORDER BY id) AS rn, count(*) OVER () AS n FROM documents WHERE tenant_id = :tenant),
u AS (DELETE FROM documents d USING c WHERE d.tenant_id = :tenant AND d.id = c.id
      AND c.rn IN (SELECT 1 + (c2.n - 1) * k / 4 FROM (SELECT max(n) AS n FROM c) c2, generate_series(1, 3) k) RETURNING 1)
INSERT INTO chg SELECT 'documents', 'deleted', count(*) FROM u;
\endif
COMMIT;

\pset format unaligned
\pset tuples_only on
SELECT 'mutation: ' || sum(n) || ' of ' || (SELECT np + nv + ni + nl + nd FROM m) || ' rows (' ||
       round(100.0 * sum(n) / (SELECT np + nv + ni + nl + nd FROM m), 2) || ' %): ' ||
       string_agg(tbl || ' ' || op || ' ' || n, ', ' ORDER BY tbl, op)
FROM chg;
