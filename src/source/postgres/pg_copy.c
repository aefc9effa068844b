/* COPY (SELECT ...) TO STDOUT of one table of a capture: streams the rows in bounded batches,
 * counting rows and hashing the exact bytes (BLAKE2b-256, all-zero key) for later verification. */
#include "crypto/crypto.h"
#include "source/postgres/pg_int.h"
#include "util/hex.h"

#include <string.h>

#define BATCH_BYTES (128u * 1024)

static int flush(hf_buf *batch, pg_write_fn write, void *payload)
{
	int rc = 0;
	if (batch->len && write)
		rc = write(batch->data, batch->len, payload);
	hf_buf_clear(batch);
	return rc;
}

int pg_copy_out(PGconn *conn, const pg_capture *c, size_t i, pg_write_fn write, void *payload, uint64_t *rows,
                uint64_t *bytes, char checksum[65])
{
	static const uint8_t zero_key[HF_KEY_BYTES];
	const pg_table *t = &c->tables[i];
	hf_buf sql = HF_BUF_INIT, batch = HF_BUF_INIT;
	hf_hash_state st;
	uint8_t digest[HF_ID_BYTES];
	PGresult *res = NULL;
	uint64_t nrows = 0, nbytes = 0;
	char *row = NULL;
	int rc, n;

	hf_hash_init(&st, zero_key);
	if ((rc = hf_buf_printf(&sql, "COPY (")) < 0 || (rc = pg_model_select_sql(&sql, conn, c, i)) < 0 ||
	    (rc = hf_buf_printf(&sql, ") TO STDOUT")) < 0 || (rc = hf_buf_cstr(&sql)) < 0)
		goto done;
	if ((rc = pg_exec(&res, conn, PGRES_COPY_OUT, (const char *)sql.data, "unable to start COPY")) < 0)
		goto done;
	PQclear(res);
	res = NULL;
	/* libpq hands out one row per call; rows are batched so the sink sees large writes, and the
	 * batch is bounded, never the table. */
	while ((n = PQgetCopyData(conn, &row, 0)) > 0) {
		hf_hash_update(&st, row, (size_t)n);
		nrows++;
		nbytes += (uint64_t)n;
		rc = write ? hf_buf_append(&batch, row, (size_t)n) : 0;
		PQfreemem(row);
		row = NULL;
		if (rc == 0 && batch.len >= BATCH_BYTES)
			rc = flush(&batch, write, payload);
		if (rc < 0)
			goto done; /* the caller drops the connection, which ends the COPY */
	}
	if (n == -2) {
		rc = pg_fail(conn, NULL, "COPY failed");
		goto done;
	}
	res = PQgetResult(conn);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = pg_fail(conn, res, "COPY failed");
		goto done;
	}
	if ((rc = flush(&batch, write, payload)) < 0)
		goto done;
	hf_hash_final(&st, digest);
	hf_hex_encode(checksum, digest, sizeof(digest));
	*rows = nrows;
	*bytes = nbytes;
done:
	if (rc < 0)
		rc = hf_error_wrap(rc, "table '%s.%s'", t->schema, t->name);
	PQfreemem(row);
	PQclear(res);
	/* Drain any further results so the connection is usable (or cleanly broken). */
	while (rc == 0 && (res = PQgetResult(conn)) != NULL)
		PQclear(res);
	hf_buf_free(&batch);
	hf_buf_free(&sql);
	return rc;
}
