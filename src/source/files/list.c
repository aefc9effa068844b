/* The entry list behind restore and tar export: a validated copy of a snapshot's entries, filtered
 * by include names, with hardlinks whose first name was filtered out turned back into files. */
#include "source/files/internal.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct load_ctx {
	hf_files_list *l;
	int rc;
} load_ctx;

static void entry_free(hf_files_entry *e)
{
	if (e->data_name != e->m.name)
		free((char *)e->data_name);
	free((char *)e->m.name);
	free((char *)e->m.user);
	free((char *)e->m.group);
	free((char *)e->m.link_target);
}

void hf_files_list_free(hf_files_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->len; i++)
		entry_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->len = l->cap = 0;
}

static int dup_opt(const char *s, const char **out)
{
	*out = NULL;
	if (s && !(*out = strdup(s)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	return 0;
}

static int copy_entry(const hf_entry_meta *m, void *payload)
{
	load_ctx *c = payload;
	hf_files_list *l = c->l;
	hf_files_entry *e, *nv;

	if (!hf_files_name_valid(m->name))
		return c->rc = hf_error_set(HF_ECORRUPT, "snapshot entry '%s' has an unsafe name",
		                            m->name ? m->name : "");
	if (m->type < HF_ENTRY_FILE || m->type > HF_ENTRY_BLK)
		return c->rc = hf_error_set(HF_ECORRUPT, "snapshot entry '%s' has an unknown type %d",
		                            m->name, (int)m->type);
	if ((m->type == HF_ENTRY_SYMLINK && (!m->link_target || !*m->link_target)) ||
	    (m->type == HF_ENTRY_HARDLINK && !hf_files_name_valid(m->link_target)))
		return c->rc = hf_error_set(HF_ECORRUPT, "snapshot entry '%s' has an invalid link target",
		                            m->name);
	if (!(nv = hf_array_grow(l->v, &l->cap, l->len, sizeof(*nv), 256)))
		return c->rc = hf_error_set(HF_ENOMEM, "out of memory");
	l->v = nv;
	e = &l->v[l->len];
	memset(e, 0, sizeof(*e));
	e->m = *m;
	e->m.mode &= 07777;
	e->m.name = e->m.user = e->m.group = e->m.link_target = NULL;
	if ((c->rc = dup_opt(m->name, &e->m.name)) < 0 || (c->rc = dup_opt(m->user, &e->m.user)) < 0 ||
	    (c->rc = dup_opt(m->group, &e->m.group)) < 0 ||
	    (c->rc = dup_opt(m->link_target, &e->m.link_target)) < 0) {
		entry_free(e);
		return c->rc;
	}
	e->data_name = e->m.name;
	e->uid = m->uid;
	e->gid = m->gid;
	l->len++;
	return 0;
}

/* Parents must be directories; names unique; hardlinks point to earlier files. */
static int check_tree(const hf_files_list *l, hf_files_map *names)
{
	int rc;
	for (size_t i = 0; i < l->len; i++) {
		const hf_entry_meta *m = &l->v[i].m;
		size_t plen = hf_files_parent_len(m->name);
		if (hf_files_map_get(names, m->name))
			return hf_error_set(HF_ECORRUPT, "snapshot has more than one entry '%s'", m->name);
		if (plen) {
			char *parent = strndup(m->name, plen);
			hf_files_map_slot *s;
			if (!parent)
				return hf_error_set(HF_ENOMEM, "out of memory");
			s = hf_files_map_get(names, parent);
			if (s && l->v[s->num].m.type != HF_ENTRY_DIR) {
				rc = hf_error_set(
				    HF_ECORRUPT,
				    "snapshot entry '%s' is below '%s', which is not a directory", m->name,
				    parent);
				free(parent);
				return rc;
			}
			free(parent);
		}
		if (m->type == HF_ENTRY_HARDLINK) {
			hf_files_map_slot *s = hf_files_map_get(names, m->link_target);
			if (!s || l->v[s->num].m.type != HF_ENTRY_FILE)
				return hf_error_set(
				    HF_ECORRUPT, "hardlink '%s' points to '%s', which is not an earlier file",
				    m->name, m->link_target);
		}
		if ((rc = hf_files_map_put(names, m->name, NULL, (int64_t)i)) < 0)
			return rc;
	}
	return 0;
}

/* 2: name is at or below inc (a match); 1: name is a parent of inc; 0: unrelated. */
static int include_match(const char *name, const char *inc)
{
	size_t ni = strlen(inc), nn = strlen(name);
	if (ni == 0)
		return 2;
	if (nn >= ni && memcmp(name, inc, ni) == 0 && (name[ni] == '\0' || name[ni] == '/'))
		return 2;
	if (ni > nn && memcmp(inc, name, nn) == 0 && inc[nn] == '/')
		return 1;
	return 0;
}

/* Marks keep[i]; fails with HF_ENOTFOUND naming the first include that matched nothing. */
static int apply_include(const hf_files_list *l, const char *const *include, size_t ninclude,
                         unsigned char *keep)
{
	char **incs = NULL;
	unsigned char *hit = NULL;
	int rc = 0;

	if (!ninclude) {
		memset(keep, 1, l->len);
		return 0;
	}
	if (!(incs = calloc(ninclude, sizeof(*incs))) || !(hit = calloc(ninclude, 1))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t k = 0; k < ninclude; k++) {
		if (!(incs[k] = strdup(include[k] ? include[k] : ""))) {
			rc = hf_error_set(HF_ENOMEM, "out of memory");
			goto done;
		}
		if (hf_files_name_normalize(incs[k]) < 0) {
			rc = hf_error_set(HF_EUSAGE, "invalid include '%s': '..' is not allowed", include[k]);
			goto done;
		}
	}
	for (size_t i = 0; i < l->len; i++) {
		keep[i] = 0;
		for (size_t k = 0; k < ninclude; k++) {
			int mt = include_match(l->v[i].m.name, incs[k]);
			if (mt)
				keep[i] = 1;
			if (mt == 2)
				hit[k] = 1;
		}
	}
	for (size_t k = 0; k < ninclude; k++)
		if (!hit[k]) {
			rc = hf_error_set(HF_ENOTFOUND, "'%s' is not in the snapshot", include[k]);
			goto done;
		}
done:
	for (size_t k = 0; incs && k < ninclude; k++)
		free(incs[k]);
	free(incs);
	free(hit);
	return rc;
}

/* A kept hardlink whose target was filtered out becomes a FILE reading the target's content;
 * later hardlinks to the same target then link to it. */
static int relink(hf_files_list *l, const unsigned char *keep, const hf_files_map *names)
{
	hf_files_map alias = HF_FILES_MAP_INIT;
	int rc = 0;
	for (size_t i = 0; i < l->len; i++) {
		hf_files_entry *e = &l->v[i];
		const hf_files_entry *t;
		hf_files_map_slot *s;
		char *target;
		if (!keep[i] || e->m.type != HF_ENTRY_HARDLINK)
			continue;
		t = &l->v[hf_files_map_get(names, e->m.link_target)->num];
		if (keep[t - l->v])
			continue;
		if ((s = hf_files_map_get(&alias, t->m.name))) {
			if (!(target = strdup(s->val))) {
				rc = hf_error_set(HF_ENOMEM, "out of memory");
				break;
			}
			free((char *)e->m.link_target);
			e->m.link_target = target;
			continue;
		}
		if ((rc = hf_files_map_put(&alias, t->m.name, e->m.name, 0)) < 0)
			break;
		e->data_name = e->m.link_target; /* owned now by data_name */
		e->m.link_target = NULL;
		e->m.type = HF_ENTRY_FILE;
		e->m.size = t->m.size;
	}
	hf_files_map_free(&alias);
	return rc;
}

int hf_files_list_load(hf_files_list *out, hf_snapshot_reader *r, const char *const *include, size_t ninclude)
{
	hf_files_list l = HF_FILES_LIST_INIT;
	hf_files_map names = HF_FILES_MAP_INIT;
	unsigned char *keep = NULL;
	load_ctx c = {&l, 0};
	size_t n = 0;
	int rc;

	rc = r->walk(r, copy_entry, &c);
	if (c.rc < 0)
		rc = c.rc;
	if (rc < 0)
		goto done;
	if ((rc = check_tree(&l, &names)) < 0)
		goto done;
	if (!(keep = malloc(l.len ? l.len : 1))) {
		rc = hf_error_set(HF_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = apply_include(&l, include, ninclude, keep)) < 0 || (rc = relink(&l, keep, &names)) < 0)
		goto done;
	for (size_t i = 0; i < l.len; i++) {
		if (keep[i])
			l.v[n++] = l.v[i];
		else
			entry_free(&l.v[i]);
	}
	l.len = n;
	*out = l;
	l.v = NULL;
	l.len = 0;
done:
	free(keep);
	hf_files_map_free(&names);
	hf_files_list_free(&l);
	return rc;
}
