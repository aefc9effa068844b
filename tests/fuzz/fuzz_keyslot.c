/* libFuzzer target: the parsers that run on repository bytes before any key is known: the plaintext
 * config object and key slot objects (keys/slots/ is a mutable area, so anyone with write access to
 * the storage controls these bytes). */
#include "repo/repo.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hf_repo_config c;
	hf_crypto_init();
	(void)hf_keyslot_usable(data, size);
	memset(&c, 0, sizeof(c));
	(void)hf_repo_config_parse(data, size, "fuzz", &c);
	return 0;
}
