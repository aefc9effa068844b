/* Shared helpers of the files source: a string map, entry-name rules, cached owner names and
 * parent-directory synthesis for imports (tar, stdin) so that sinks always see parents first. */
#include "source/files/internal.h"
#include "util/error.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static hf_files_map_slot *find_slot(hf_files_map_slot *slots, size_t cap, const char *key)
{
	size_t i = (size_t)hash_str(key) & (cap - 1);
	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

hf_files_map_slot *hf_files_map_get(const hf_files_map *m, const char *key)
{
	hf_files_map_slot *s;
	if (!m->cap)
		return NULL;
	s = find_slot(m->slots, m->cap, key);
	return s->key ? s : NULL;
}

static int map_grow(hf_files_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	hf_files_map_slot *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*find_slot(ns, ncap, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

int hf_files_map_put(hf_files_map *m, const char *key, const char *val, int64_t num)
{
	hf_files_map_slot *s;
	char *v = NULL;
	int rc;
	if ((m->len + 1) * 10 > m->cap * 7 && (rc = map_grow(m)) < 0)
		return rc;
	if (val && !(v = strdup(val)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	s = find_slot(m->slots, m->cap, key);
	if (!s->key) {
		if (!(s->key = strdup(key))) {
			free(v);
			return hf_error_set(HF_ENOMEM, "out of memory");
		}
		m->len++;
	}
	free(s->val);
	s->val = v;
	s->num = num;
	return 0;
}

void hf_files_map_free(hf_files_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		free(m->slots[i].key);
		free(m->slots[i].val);
	}
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = 0;
}

int hf_files_name_valid(const char *name)
{
	const char *p = name;
	if (!name || !*name || *name == '/')
		return 0;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!e)
			return 1;
		p = e + 1;
	}
}

int hf_files_name_normalize(char *name)
{
	char *w = name;
	const char *r = name;
	while (*r) {
		const char *e = strchr(r, '/');
		size_t n = e ? (size_t)(e - r) : strlen(r);
		if (n == 2 && r[0] == '.' && r[1] == '.')
			return -1;
		if (n > 0 && !(n == 1 && r[0] == '.')) {
			if (w != name)
				*w++ = '/';
			memmove(w, r, n);
			w += n;
		}
		r += n;
		if (*r == '/')
			r++;
	}
	*w = '\0';
	return 0;
}

size_t hf_files_parent_len(const char *name)
{
	const char *s = strrchr(name, '/');
	return s ? (size_t)(s - name) : 0;
}

/* getpwuid_r & co. need a scratch buffer whose size is only a hint. */
static char *lookup_name(int group, uint32_t id)
{
	size_t cap = 1024;
	char *buf = NULL, *out = NULL;
	for (;;) {
		struct passwd pw, *pwr = NULL;
		struct group gr, *grr = NULL;
		char *nb = realloc(buf, cap);
		int e;
		if (!nb)
			break;
		buf = nb;
		e = group ? getgrgid_r((gid_t)id, &gr, buf, cap, &grr)
		          : getpwuid_r((uid_t)id, &pw, buf, cap, &pwr);
		if (e == ERANGE && cap < (1u << 20)) {
			cap *= 4;
			continue;
		}
		if (e == 0 && (group ? grr != NULL : pwr != NULL))
			out = strdup(group ? gr.gr_name : pw.pw_name);
		break;
	}
	free(buf);
	return out;
}

static int64_t lookup_id(int group, const char *name)
{
	size_t cap = 1024;
	char *buf = NULL;
	int64_t out = -1;
	for (;;) {
		struct passwd pw, *pwr = NULL;
		struct group gr, *grr = NULL;
		char *nb = realloc(buf, cap);
		int e;
		if (!nb)
			break;
		buf = nb;
		e = group ? getgrnam_r(name, &gr, buf, cap, &grr) : getpwnam_r(name, &pw, buf, cap, &pwr);
		if (e == ERANGE && cap < (1u << 20)) {
			cap *= 4;
			continue;
		}
		if (e == 0 && group && grr)
			out = gr.gr_gid;
		else if (e == 0 && !group && pwr)
			out = pw.pw_uid;
		break;
	}
	free(buf);
	return out;
}

static const char *cached_name(hf_files_owners *c, int group, uint32_t id)
{
	char key[32];
	hf_files_map_slot *s;
	char *name;
	snprintf(key, sizeof(key), "%c#%" PRIu32, group ? 'g' : 'u', id);
	if ((s = hf_files_map_get(&c->map, key)))
		return s->val;
	name = lookup_name(group, id);
	if (hf_files_map_put(&c->map, key, name, 0) < 0) {
		free(name);
		return NULL;
	}
	free(name);
	s = hf_files_map_get(&c->map, key);
	return s ? s->val : NULL;
}

static uint32_t cached_id(hf_files_owners *c, int group, const char *name, uint32_t fallback)
{
	hf_files_map_slot *s;
	char *key;
	int64_t id;
	size_t n;
	if (!name || !*name)
		return fallback;
	n = strlen(name) + 3;
	if (!(key = malloc(n)))
		return fallback;
	snprintf(key, n, "%c:%s", group ? 'G' : 'U', name);
	if ((s = hf_files_map_get(&c->map, key))) {
		id = s->num;
	} else {
		id = lookup_id(group, name);
		(void)hf_files_map_put(&c->map, key, NULL, id);
	}
	free(key);
	return id < 0 ? fallback : (uint32_t)id;
}

const char *hf_files_user_name(hf_files_owners *c, uint32_t uid)
{
	return cached_name(c, 0, uid);
}
const char *hf_files_group_name(hf_files_owners *c, uint32_t gid)
{
	return cached_name(c, 1, gid);
}

uint32_t hf_files_user_id(hf_files_owners *c, const char *name, uint32_t fallback)
{
	return cached_id(c, 0, name, fallback);
}

uint32_t hf_files_group_id(hf_files_owners *c, const char *name, uint32_t fallback)
{
	return cached_id(c, 1, name, fallback);
}

void hf_files_owners_free(hf_files_owners *c)
{
	if (c)
		hf_files_map_free(&c->map);
}

int hf_files_emit(hf_sink *sink, const hf_entry_meta *m)
{
	int rc = sink->entry_begin(sink, m);
	if (rc < 0)
		return rc;
	return sink->entry_end(sink);
}

int hf_files_tree_add(hf_files_tree *t, hf_sink *sink, const hf_entry_meta *m, const char *origin,
                      hf_files_stats *stats, int *skip)
{
	hf_files_map_slot *s;
	char *path = NULL;
	int rc = 0;

	*skip = 0;
	if ((s = hf_files_map_get(&t->names, m->name))) {
		if (s->num == HF_FILES_TREE_IMPLICIT_DIR && m->type == HF_ENTRY_DIR) {
			/* The directory's own entry after its contents (find -depth | cpio): its
			 * metadata replaces the synthesized one, else a 0700 directory would be
			 * restored 0755 with a child's owner. */
			s->num = HF_ENTRY_DIR;
			*skip = 2;
			return 0;
		}
		if (s->num == HF_ENTRY_DIR && m->type == HF_ENTRY_DIR) {
			*skip = 1;
			return 0;
		}
		return hf_error_set(HF_ECORRUPT, "%s contains '%s' more than once", origin, m->name);
	}
	if (!(path = strdup(m->name)))
		return hf_error_set(HF_ENOMEM, "out of memory");
	for (char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
		hf_entry_meta dm = *m;
		*p = '\0';
		if ((s = hf_files_map_get(&t->names, path))) {
			if (s->num != HF_ENTRY_DIR && s->num != HF_FILES_TREE_IMPLICIT_DIR) {
				rc = hf_error_set(HF_ECORRUPT,
				                  "%s has '%s' below '%s', which is not a directory", origin,
				                  m->name, path);
				goto done;
			}
		} else {
			dm.name = path;
			dm.type = HF_ENTRY_DIR;
			dm.mode = 0755;
			dm.size = 0;
			dm.rdev = 0;
			dm.link_target = NULL;
			if ((rc = hf_files_emit(sink, &dm)) < 0 ||
			    (rc = hf_files_map_put(&t->names, path, NULL, HF_FILES_TREE_IMPLICIT_DIR)) < 0)
				goto done;
			if (stats)
				stats->dirs++;
		}
		*p = '/';
	}
	rc = hf_files_map_put(&t->names, m->name, m->type == HF_ENTRY_HARDLINK ? m->link_target : NULL,
	                      m->type);
done:
	free(path);
	return rc;
}

void hf_files_tree_free(hf_files_tree *t)
{
	if (t)
		hf_files_map_free(&t->names);
}
