/* Backup with a snapshot kind (the public hf_backup takes regular backups). */
#ifndef HF_OPS_BACKUP_H
#define HF_OPS_BACKUP_H

#include "holdfast/holdfast.h"

/* hf_backup, recording `kind` (NULL for a regular backup, HF_KIND_SAFETY) in the manifest. */
int hf_ops_backup(hf_repo *r, const hf_backup_options *o, const char *kind, hf_backup_result *out);

#endif
