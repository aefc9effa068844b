/* libFuzzer target: sealed-object and pack-directory framing with a fixed key (the parsers that run
 * before and after authentication on bytes read back from storage). */
#include "repo/pack.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[HF_KEY_BYTES] = {1, 2, 3};
	static const uint8_t tid[HF_TID_BYTES] = {4, 5, 6};
	hf_buf out = HF_BUF_INIT;
	hf_index_entry *e = NULL;
	size_t n = 0;
	hf_crypto_init();
	hf_sealed_open(&out, HF_SEALED_INDEX, tid, data, size, key, "fuzz");
	hf_pack_read_dir(data, size, tid, key, &e, &n, "fuzz");
	free(e);
	hf_buf_free(&out);
	return 0;
}
