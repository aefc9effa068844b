/* S3-specific helpers beyond the storage interface, for integration tests: object versions and plain
 * buckets. The driver itself is opened with hf_storage_s3_open() (storage/storage.h). */
#ifndef HF_STORAGE_S3_H
#define HF_STORAGE_S3_H

#include "storage/storage.h"

#include <stddef.h>

/* The current version id of key (HEAD). */
int hf_s3_version_id(hf_storage *s, const char *key, char *out, size_t cap);
/* DELETE one version of key: with Object Lock in force the server refuses (HF_EAUTH). */
int hf_s3_delete_version(hf_storage *s, const char *key, const char *version_id);
/* Create the storage's bucket, with or without Object Lock (prepare always enables it). */
int hf_s3_create_bucket(hf_storage *s, int object_lock);

#endif
