/* libFuzzer target for hf_zstd_decompress: bytes 0-3 (little-endian) give the expected size, capped
 * at 1 MiB, the rest is the frame. Build (or cmake -DHF_FUZZ=ON with CC=clang):
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
 *       -Isrc -Iinclude tests/fuzz/fuzz_zstd.c src/compress/zst.c src/util/error.c \
 *       $(pkg-config --cflags --libs libzstd) -o /tmp/fuzz_zstd && /tmp/fuzz_zstd -max_total_time=30 */
#include "compress/compress.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAP (1024u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static hf_zctx *z;
	static uint8_t *dst;
	uint32_t want;
	size_t probe = 0;
	int rc;

	if (!z && (hf_zctx_new(&z, 3) < 0 || !(dst = malloc(CAP))))
		abort();
	if (size < 4)
		return 0;
	want = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
	if (want > CAP)
		want = CAP;
	/* Decode into the tail of the buffer so ASan sees any write past dstcap. */
	rc = hf_zstd_decompress(z, dst + CAP - want, want, data + 4, size - 4);
	if (rc != 0 && rc != HF_ECORRUPT)
		abort();
	/* Whatever decoded must say so in its header. */
	if (rc == 0 && (hf_zstd_frame_size(data + 4, size - 4, &probe) != 0 || probe != want))
		abort();
	return 0;
}
