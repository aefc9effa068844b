/* The repository's plaintext "config" object: format version, id, chunker and pack parameters. */
#include "repo/repo.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/hex.h"

#include <jansson.h>
#include <string.h>

static const char *lock_name(hf_lock_mode m)
{
	return m == HF_LOCK_COMPLIANCE ? "compliance" : m == HF_LOCK_GOVERNANCE ? "governance" : "none";
}

int hf_repo_config_encode(hf_repo_config *c, char **out)
{
	json_t *j = json_pack("{s:s, s:i, s:s, s:I, s:{s:i, s:i, s:i}, s:i, s:i, s:{s:s, s:i}}",
			      "format", "holdfast-repository", "version", c->version, "id", c->id,
			      "created", (json_int_t)c->created, "chunker", "min", (int)c->chunker.min_size,
			      "avg", (int)c->chunker.avg_size, "max", (int)c->chunker.max_size, "pack_size",
			      (int)c->pack_size, "compression", c->compression, "lock", "mode",
			      lock_name(c->lock_mode), "days", c->lock_days);
	static const uint8_t zero[HF_KEY_BYTES];
	char *text;
	if (!j)
		return hf_error_set(HF_ENOMEM, "unable to build repository config");
	text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!text)
		return hf_error_set(HF_ENOMEM, "unable to build repository config");
	hf_mac(c->digest, text, strlen(text), zero);
	*out = text;
	return 0;
}

int hf_repo_config_read(hf_storage *s, hf_repo_config *out)
{
	hf_buf b = HF_BUF_INIT;
	int rc;
	if ((rc = hf_storage_get(s, "config", &b)) < 0) {
		if (rc == HF_ENOTFOUND) {
			rc = hf_error_set(HF_ENOTFOUND, "no holdfast repository at '%s'", s->url);
			hf_error_set_hint("create one with 'holdfast init', or check --repo");
		}
	} else {
		rc = hf_repo_config_parse(b.data, b.len, s->url, out);
	}
	hf_buf_free(&b);
	return rc;
}

int hf_repo_config_parse(const uint8_t *data, size_t len, const char *url, hf_repo_config *out)
{
	json_t *j = NULL;
	json_error_t err;
	hf_repo_config c;
	const char *fmt = NULL, *id = NULL, *mode = "none";
	json_int_t created = 0;
	int rc = 0, mn = 0, avg = 0, mx = 0, pack = 0, comp = 0, days = 0;

	memset(&c, 0, sizeof(c));
	j = json_loadb((const char *)data, len, 0, &err);
	if (!j || json_unpack(j, "{s:s, s:i, s:s, s?I, s:{s:i, s:i, s:i}, s:i, s:i, s?{s?s, s?i}}", "format",
			      &fmt, "version", &c.version, "id", &id, "created", &created, "chunker", "min", &mn,
			      "avg", &avg, "max", &mx, "pack_size", &pack, "compression", &comp, "lock", "mode",
			      &mode, "days", &days) < 0 ||
	    strcmp(fmt, "holdfast-repository") != 0 || !hf_hex_valid(id, HF_ID_HEX)) {
		rc = hf_error_set(HF_ECORRUPT, "repository config in '%s' is malformed", url);
		goto done;
	}
	if (c.version != HF_FORMAT_VERSION) {
		rc = hf_error_set(HF_EUNSUPPORTED, "repository '%s' has format version %d; this holdfast reads %d",
				  url, c.version, HF_FORMAT_VERSION);
		goto done;
	}
	memcpy(c.id, id, HF_ID_HEX + 1);
	{
		static const uint8_t zero[HF_KEY_BYTES];
		hf_mac(c.digest, data, len, zero);
	}
	c.created = created;
	c.chunker.min_size = (uint32_t)mn;
	c.chunker.avg_size = (uint32_t)avg;
	c.chunker.max_size = (uint32_t)mx;
	c.pack_size = (uint32_t)pack;
	c.compression = comp;
	c.lock_days = days;
	c.lock_mode = !strcmp(mode, "compliance") ? HF_LOCK_COMPLIANCE
		      : !strcmp(mode, "governance") ? HF_LOCK_GOVERNANCE : HF_LOCK_NONE;
	if (hf_chunker_params_check(&c.chunker) < 0 || pack < 1024 * 1024 || pack > 512 * 1024 * 1024 || comp < 0 ||
	    comp > 19) {
		rc = hf_error_set(HF_ECORRUPT, "repository config in '%s' has invalid parameters", url);
		goto done;
	}
	*out = c;
done:
	json_decref(j);
	return rc;
}
