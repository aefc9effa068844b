/* A tiny, bounded reader for the flat XML that S3 answers with (find an element, decode its text) and an
 * escaper for the XML we send. Never reads outside [p, end); no recursion, no allocation. */
#include "storage/s3/s3_internal.h"

#include "util/error.h"

#include <string.h>

static const char *find_bytes(const char *p, const char *end, const char *needle, size_t n)
{
	while ((size_t)(end - p) >= n) {
		const char *hit = memchr(p, needle[0], (size_t)(end - p) - n + 1);
		if (!hit)
			return NULL;
		if (memcmp(hit, needle, n) == 0)
			return hit;
		p = hit + 1;
	}
	return NULL;
}

int hf_s3_xml_find(const char **p, const char *end, const char *tag, const char **val, size_t *len)
{
	size_t tlen = strlen(tag);
	const char *at = *p, *open, *gt, *close;

	for (;;) {
		if (!(open = find_bytes(at, end, "<", 1)))
			return HF_ENOTFOUND;
		at = open + 1;
		if ((size_t)(end - at) < tlen + 1 || memcmp(at, tag, tlen) != 0)
			continue;
		/* "<Tag>", "<Tag attr=...>" or "<Tag/>", but not "<TagLonger>". */
		if (at[tlen] != '>' && at[tlen] != ' ' && at[tlen] != '\t' && at[tlen] != '\r' && at[tlen] != '\n' &&
		    at[tlen] != '/')
			continue;
		if (!(gt = find_bytes(at + tlen, end, ">", 1)))
			return hf_error_set(HF_ECORRUPT, "malformed xml: unterminated <%s>", tag);
		if (gt[-1] == '/') { /* empty element */
			*val = gt + 1;
			*len = 0;
			*p = gt + 1;
			return 0;
		}
		break;
	}
	for (close = gt + 1;; close++) {
		if (!(close = find_bytes(close, end, "</", 2)))
			return hf_error_set(HF_ECORRUPT, "malformed xml: no </%s>", tag);
		if ((size_t)(end - close) >= tlen + 3 && memcmp(close + 2, tag, tlen) == 0 && close[2 + tlen] == '>')
			break;
	}
	*val = gt + 1;
	*len = (size_t)(close - *val);
	*p = close + tlen + 3;
	return 0;
}

static int put_utf8(char *out, size_t cap, size_t *o, unsigned long c)
{
	unsigned char b[4];
	size_t n;
	if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xC0 | (c >> 6));
		b[1] = (unsigned char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (c >> 12));
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (c >> 18));
		b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (c & 0x3F));
		n = 4;
	}
	if (*o + n >= cap)
		return -1;
	memcpy(out + *o, b, n);
	*o += n;
	return 0;
}

static int entity(const char *s, size_t n, char *out, size_t cap, size_t *o)
{
	static const struct { const char *name; char c; } named[] = {
		{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
	unsigned long c = 0;

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strlen(named[i].name) == n && memcmp(s, named[i].name, n) == 0)
			return put_utf8(out, cap, o, (unsigned char)named[i].c);
	if (n < 2 || s[0] != '#' || n > 10)
		return -1;
	if (s[1] == 'x' || s[1] == 'X') {
		if (n < 3)
			return -1;
		for (size_t i = 2; i < n; i++) {
			char h = s[i];
			int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
				: h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
			if (d < 0)
				return -1;
			c = c * 16 + (unsigned long)d;
		}
	} else {
		for (size_t i = 1; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			c = c * 10 + (unsigned long)(s[i] - '0');
		}
	}
	return put_utf8(out, cap, o, c);
}

int hf_s3_xml_text(char *out, size_t cap, const char *val, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		if (val[i] == '&') {
			const char *semi = memchr(val + i, ';', len - i);
			if (!semi || entity(val + i + 1, (size_t)(semi - val - i - 1), out, cap, &o) < 0)
				return hf_error_set(HF_ECORRUPT, "malformed xml text (bad entity)");
			i = (size_t)(semi - val) + 1;
			continue;
		}
		if (val[i] == '<')
			return hf_error_set(HF_ECORRUPT, "malformed xml text (nested element)");
		if (o + 1 >= cap)
			return hf_error_set(HF_ECORRUPT, "xml text longer than %zu bytes", cap - 1);
		out[o++] = val[i++];
	}
	if (cap == 0)
		return hf_error_set(HF_ECORRUPT, "xml text buffer too small");
	out[o] = '\0';
	return 0;
}

int hf_s3_xml_get(char *out, size_t cap, const hf_buf *buf, const char *tag)
{
	const char *p = (const char *)buf->data, *val;
	size_t len;
	int rc;
	if (!p)
		return HF_ENOTFOUND;
	if ((rc = hf_s3_xml_find(&p, p + buf->len, tag, &val, &len)) < 0)
		return rc;
	return hf_s3_xml_text(out, cap, val, len);
}

int hf_s3_xml_escape(hf_buf *out, const char *s)
{
	int rc = 0;
	for (; *s && rc == 0; s++) {
		switch (*s) {
		case '&': rc = hf_buf_printf(out, "&amp;"); break;
		case '<': rc = hf_buf_printf(out, "&lt;"); break;
		case '>': rc = hf_buf_printf(out, "&gt;"); break;
		case '"': rc = hf_buf_printf(out, "&quot;"); break;
		case '\'': rc = hf_buf_printf(out, "&apos;"); break;
		default: rc = hf_buf_append_u8(out, (uint8_t)*s);
		}
	}
	return rc;
}
