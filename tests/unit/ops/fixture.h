/* The repository fixture of the ops tests: a mem:// repository with small packs and chunks (several
 * of each for a few MiB), a catalog and passphrase in a temporary directory, and a data directory to
 * back up. Header-only, for one test program. */
#ifndef HF_TEST_OPS_FIXTURE_H
#define HF_TEST_OPS_FIXTURE_H

#include "test.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[64], url[256], cat[512], pass[512], data[512];

/* size pseudo-random bytes from seed into data/name */
static inline void write_file(const char *name, size_t size, unsigned seed)
{
	char path[1024];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", data, name);
	f = fopen(path, "wb");
	for (size_t i = 0; i < size; i++) {
		seed = seed * 1103515245u + 12345u;
		fputc((int)(seed >> 16) & 0xff, f);
	}
	fclose(f);
}

static inline void repo_options(hf_repo_options *o)
{
	memset(o, 0, sizeof(*o));
	o->version = HF_REPO_OPTIONS_VERSION;
	o->url = url;
	o->catalog_path = cat;
	o->cred.password_file = pass;
	o->cred.password_fd = -1;
	o->compression = -1;
}

static inline hf_repo *open_repo(void)
{
	hf_repo_options o;
	hf_repo *r = NULL;
	repo_options(&o);
	CHECK_OK(hf_repo_open(&r, &o));
	return r;
}

/* Makes /tmp/hf-test-<name>-XXXXXX with the passphrase and data/, and creates the repository. */
static inline int fixture_init(const char *name)
{
	hf_repo_options o;
	hf_init_options io;
	char id[HF_ID_HEX + 1];
	FILE *f;
	snprintf(dir, sizeof(dir), "/tmp/hf-test-%s-XXXXXX", name);
	CHECK_OK(hf_library_init(0));
	if (!mkdtemp(dir))
		return -1;
	snprintf(url, sizeof(url), "mem://%s", dir + 5);
	snprintf(cat, sizeof(cat), "%s/catalog.db", dir);
	snprintf(pass, sizeof(pass), "%s/pass", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	mkdir(data, 0755);
	if (!(f = fopen(pass, "w")))
		return -1;
	fputs("a passphrase for tests\n", f);
	fclose(f);
	repo_options(&o);
	memset(&io, 0, sizeof(io));
	io.compression = -1;
	io.kdf_ops = 1;
	io.kdf_mem = 8u * 1024 * 1024;
	io.pack_size = 1024 * 1024; /* several packs for a few MiB */
	io.chunk_min = 64 * 1024;
	io.chunk_avg = 256 * 1024;
	io.chunk_max = 1024 * 1024;
	return hf_repo_init(&o, &io, id);
}

#endif
