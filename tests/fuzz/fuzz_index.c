/* libFuzzer target: the index object parser (plaintext after AEAD), as read back from storage. */
#include "repo/index.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_cb(const uint8_t pack_id[HF_ID_BYTES], const hf_index_entry *e, size_t n, void *payload)
{
	size_t *total = payload;
	(void)pack_id;
	for (size_t i = 0; i < n; i++)
		*total += e[i].length;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t total = 0;
	hf_index_parse(data, size, count_cb, &total, "fuzz");
	return 0;
}
