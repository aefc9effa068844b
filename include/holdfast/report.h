/* JSON renderings of the library's result structs: what `holdfast <command> --json` prints. Each
 * function sets *out to one indented, NUL-terminated document with its keys in a fixed order, which the
 * caller frees with free(), and returns 0, or HF_ENOMEM. Times are ISO 8601 UTC ("...T...Z"). */
#ifndef HOLDFAST_REPORT_H
#define HOLDFAST_REPORT_H

#include "holdfast/holdfast.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One member of a small acknowledgement object (init, key add, tenant add, catalog rebuild, ...). */
typedef enum { HF_FIELD_STRING, HF_FIELD_UINT, HF_FIELD_BOOL } hf_field_type;
typedef struct hf_report_field {
	const char *name;
	hf_field_type type;
	const char *s; /* STRING; NULL is written as null */
	uint64_t u;    /* UINT; BOOL: 0 is false */
} hf_report_field;

int hf_report_fields_json(char **out, const hf_report_field *fields, size_t n);
int hf_report_backup_json(char **out, const char *tenant, const hf_backup_result *res);
int hf_report_restore_json(char **out, const char *tenant, const hf_restore_result *res);
int hf_report_check_json(char **out, const hf_check_report *rep);
int hf_report_snapshots_json(char **out, const hf_snapshot_info *s, size_t n);
int hf_report_tenant_json(char **out, const hf_tenant_info *t);
int hf_report_tenants_json(char **out, const hf_tenant_info *t, size_t n);
int hf_report_keys_json(char **out, const hf_key_info *k, size_t n);

#ifdef __cplusplus
}
#endif
#endif
