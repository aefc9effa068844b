/* libFuzzer target: the tree blob decoder (JSON after AEAD and zstd), as read back from storage. */
#include "repo/tree.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hf_node *dir = hf_node_new("", HF_ENTRY_DIR);
	hf_buf enc = HF_BUF_INIT;
	if (!dir)
		return 0;
	/* Whatever decodes must encode again (round trip of accepted input). */
	if (hf_tree_decode(dir, data, size, "fuzz") == 0)
		hf_tree_encode(dir, &enc);
	hf_buf_free(&enc);
	hf_node_free(dir);
	return 0;
}
