/* libFuzzer target: a PostgreSQL snapshot's source_info, from which an in-place restore rebuilds the
 * selection its safety copy must capture (hf_pg_selection_from_info: JSON, names joined into lists). */
#include "source/postgres/pg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hf_pg_selection sel;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&sel, 0, sizeof(sel));
	if (hf_pg_selection_from_info(&sel, text) == 0)
		hf_pg_selection_free(&sel);
	free(text);
	return 0;
}
