/*
 * text_clean.c - CLIP's caption cleaning (open_clip basic_clean,
 * whitespace_clean, lower) in C.
 *
 * Text is handled as an array of code points; each step reads one array and
 * writes the next, as the Python code does with immutable strings.  The
 * order of the ftfy steps is ftfy 6.3's fix_and_explain(), repeated until
 * nothing changes, line by line as fix_text() does.
 */
#include "errmsg.h"
#include "text_clean.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "html_entities.h"

/* ftfy's fix_text() cuts lines longer than this into pieces. */
#define FTFY_MAX_DECODE_LENGTH 1000000
/* fix_and_explain() loops to a fixed point; real text settles in 2 rounds. */
#define FTFY_MAX_ROUNDS 16

typedef struct
{
	int32_t    *v;
	size_t		n;
	size_t		cap;
	int			oom;
} CpBuf;

static void
cp_push(CpBuf *b, int32_t c)
{
	if (b->oom)
		return;
	if (b->n == b->cap)
	{
		size_t		ncap = b->cap ? b->cap * 2 : 64;
		int32_t    *nv = realloc(b->v, ncap * sizeof(*nv));

		if (!nv)
		{
			b->oom = 1;
			return;
		}
		b->v = nv;
		b->cap = ncap;
	}
	b->v[b->n++] = c;
}

static void
cp_push_all(CpBuf *b, const int32_t *s, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		cp_push(b, s[i]);
}

/* Push a short, valid UTF-8 string from the generated tables. */
static void
cp_push_utf8(CpBuf *b, const char *s)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *) s;
	utf8proc_ssize_t len = (utf8proc_ssize_t) strlen(s);

	while (len > 0)
	{
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(p, len, &c);

		if (k <= 0)
			return;
		cp_push(b, c);
		p += k;
		len -= k;
	}
}

int
clip_is_space(int32_t c)
{
	const utf8proc_property_t *p;

	if (c < 0 || c > 0x10FFFF)
		return 0;
	p = utf8proc_get_property(c);
	/* CPython: bidirectional class WS, B or S, or category Zs. */
	return p->category == UTF8PROC_CATEGORY_ZS ||
		p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
		p->bidi_class == UTF8PROC_BIDI_CLASS_B ||
		p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

/* ---- HTML entities ---- */

static const char *
entity_find(const char *name, size_t len)
{
	size_t		lo = 0,
				hi = sizeof(html_entities) / sizeof(html_entities[0]);

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;
		const char *key = html_entities[mid].name;
		size_t		klen = strlen(key);
		int			r = memcmp(name, key, len < klen ? len : klen);

		if (r == 0)
			r = len < klen ? -1 : (len > klen ? 1 : 0);
		if (r == 0)
			return html_entities[mid].utf8;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Look a code point slice up as an entity name; names are ASCII. */
static const char *
entity_find_cp(const int32_t *s, size_t n)
{
	char		buf[40];
	size_t		i;

	if (n >= sizeof(buf))
		return NULL;
	for (i = 0; i < n; i++)
	{
		if (s[i] <= 0 || s[i] >= 128)
			return NULL;
		buf[i] = (char) s[i];
	}
	return entity_find(buf, n);
}

static int
charref_fix(uint64_t num, int32_t *cp)
{
	size_t		i;

	for (i = 0; i < sizeof(html_charref_fixes) / sizeof(html_charref_fixes[0]); i++)
		if (html_charref_fixes[i].num == num)
		{
			*cp = (int32_t) html_charref_fixes[i].cp;
			return 1;
		}
	return 0;
}

/* What Python's html.unescape makes of &#num;: 0 or 1 code point. */
static int
charref_value(uint64_t num, int32_t *cp)
{
	size_t		i;

	if (charref_fix(num, cp))
		return 1;
	if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
	{
		*cp = 0xFFFD;
		return 1;
	}
	for (i = 0; i < sizeof(html_dropped_codepoints) / sizeof(html_dropped_codepoints[0]); i++)
		if (html_dropped_codepoints[i] == num)
			return 0;
	*cp = (int32_t) num;
	return 1;
}

static int
is_ascii_digit(int32_t c)
{
	return c >= '0' && c <= '9';
}

static int
hex_value(int32_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
is_ascii_alnum(int32_t c)
{
	return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Parse the digits of a numeric reference starting at s[k]; saturates above
 * U+10FFFF, which Python maps to U+FFFD like any other out-of-range number.
 * Returns the index after the digits.
 */
static size_t
parse_charref_number(const int32_t *s, size_t n, size_t k, int hex, uint64_t *num)
{
	uint64_t	v = 0;

	for (; k < n; k++)
	{
		int			d = hex ? hex_value(s[k]) : (is_ascii_digit(s[k]) ? s[k] - '0' : -1);

		if (d < 0)
			break;
		v = v * (hex ? 16 : 10) + (uint64_t) d;
		if (v > 0x110000)
			v = 0x110000;
	}
	*num = v;
	return k;
}

static int
python_entity_char_ok(int32_t c)
{
	return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' &&
		c != '&' && c != '#' && c != ';';
}

/*
 * Python's html.unescape(): the regex
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * with a named reference resolved whole, else by its longest known prefix.
 */
static void
python_html_unescape(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i = 0;

	while (i < n)
	{
		size_t		j = i + 1,
					k;

		if (s[i] != '&')
		{
			cp_push(out, s[i++]);
			continue;
		}
		if (j < n && s[j] == '#')
		{
			uint64_t	num;
			int32_t		cp;
			int			hex;

			if (j + 1 < n && is_ascii_digit(s[j + 1]))
				hex = 0;
			else if (j + 2 < n && (s[j + 1] == 'x' || s[j + 1] == 'X') && hex_value(s[j + 2]) >= 0)
				hex = 1;
			else
			{
				cp_push(out, s[i++]);
				continue;
			}
			k = parse_charref_number(s, n, j + 1 + hex, hex, &num);
			if (k < n && s[k] == ';')
				k++;
			if (charref_value(num, &cp))
				cp_push(out, cp);
			i = k;
			continue;
		}
		for (k = j; k < n && k - j < 32 && python_entity_char_ok(s[k]); k++)
			;
		if (k == j)
		{
			cp_push(out, s[i++]);
			continue;
		}
		if (k < n && s[k] == ';')
			k++;
		{
			size_t		len = k - j,
						x;
			const char *val = entity_find_cp(s + j, len);

			if (val)
				cp_push_utf8(out, val);
			else
			{
				for (x = len - 1; x >= 2; x--)
					if ((val = entity_find_cp(s + j, x)) != NULL)
						break;
				if (val)
				{
					cp_push_utf8(out, val);
					cp_push_all(out, s + j + x, len - x);
				}
				else
					cp_push_all(out, s + i, k - i);
			}
		}
		i = k;
	}
}

/*
 * ftfy's unescape_html(): only &name; and &#...; of up to 24 ASCII
 * alphanumerics, names with the semicolon, plus upper-cased names that
 * Python's html.unescape leaves alone (upper-casing the character).
 */
static void
ftfy_unescape_html(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i = 0;

	while (i < n)
	{
		size_t		j,
					k,
					m;
		int			hash;

		if (s[i] != '&')
		{
			cp_push(out, s[i++]);
			continue;
		}
		j = i + 1;
		hash = j < n && s[j] == '#';
		if (hash)
			j++;
		for (k = j; k < n && k - j < 25 && is_ascii_alnum(s[k]); k++)
			;
		m = k - j;
		if (m < 1 || m > 24 || k >= n || s[k] != ';')
		{
			cp_push(out, s[i++]);
			continue;
		}
		/* s[i..k] is "&" "#"? name ";" */
		if (hash)
		{
			int			hex = (s[j] == 'x' || s[j] == 'X') && m >= 2 && hex_value(s[j + 1]) >= 0;
			uint64_t	num;
			int32_t		cp;
			size_t		end;

			if (!hex && !is_ascii_digit(s[j]))
				end = j;
			else
				end = parse_charref_number(s, n, j + hex, hex, &num);
			/* Taken only when html.unescape consumes it whole to a non-';'. */
			if (end == k)
			{
				int			got = charref_value(num, &cp);

				if (!got || cp != ';')
				{
					if (got)
						cp_push(out, cp);
					i = k + 1;
					continue;
				}
			}
			cp_push_all(out, s + i, k + 1 - i);
			i = k + 1;
			continue;
		}
		{
			const char *val = entity_find_cp(s + j, m + 1);
			char		lower[32];
			size_t		x;
			int			upper_only = 1;

			if (val)
			{
				cp_push_utf8(out, val);
				i = k + 1;
				continue;
			}
			for (x = 0; x < m; x++)
			{
				int32_t		c = s[j + x];

				if (c >= 'a' && c <= 'z')
					upper_only = 0;
				lower[x] = (char) ((c >= 'A' && c <= 'Z') ? c + 32 : c);
			}
			lower[m] = ';';
			if (upper_only && (val = entity_find(lower, m + 1)) != NULL)
			{
				/* ftfy only adds the upper-case name when no prefix of it decodes. */
				for (x = m; x >= 2; x--)
					if (entity_find_cp(s + j, x))
						break;
				if (x < 2)
				{
					CpBuf		tmp = {0};
					size_t		t;

					cp_push_utf8(&tmp, val);
					for (t = 0; t < tmp.n; t++)
						cp_push(out, utf8proc_toupper(tmp.v[t]));
					free(tmp.v);
					i = k + 1;
					continue;
				}
			}
			cp_push_all(out, s + i, k + 1 - i);
			i = k + 1;
		}
	}
}

/* ---- the other ftfy fixers ---- */

/* Byte of a code point in ftfy's "sloppy" Windows-1252, or -1. */
static int
sloppy_1252_byte(int32_t c)
{
	size_t		i;

	if (c < 0x80 || (c >= 0xA0 && c <= 0xFF))
		return c;
	for (i = 0; i < sizeof(html_charref_fixes) / sizeof(html_charref_fixes[0]); i++)
		if (html_charref_fixes[i].num >= 0x80 && html_charref_fixes[i].num <= 0x9F &&
			(int32_t) html_charref_fixes[i].cp == c)
			return (int) html_charref_fixes[i].num;
	return -1;
}

/*
 * The common case of ftfy's fix_encoding: UTF-8 that was read as Latin-1 or
 * Windows-1252 ("cafÃ©", "donâ€™t").  If the text encodes in Latin-1, else
 * in sloppy Windows-1252, and those bytes are valid UTF-8 with at least one
 * multi-byte sequence, they are decoded as UTF-8.  ftfy first asks its
 * "badness" heuristic whether to try at all, and knows more encodings; text
 * that is meant as typed rarely encodes to valid multi-byte UTF-8.
 */
static void
ftfy_fix_encoding_lite(const int32_t *s, size_t n, CpBuf *out)
{
	unsigned char *bytes;
	size_t		i;
	int			latin1 = 1,
				high = 0;
	utf8proc_ssize_t pos = 0;
	CpBuf		dec = {0};

	for (i = 0; i < n; i++)
	{
		if (s[i] > 0xFF)
			latin1 = 0;
		if (s[i] >= 0x80)
			high = 1;
	}
	if (!high || !(bytes = malloc(n ? n : 1)))
	{
		cp_push_all(out, s, n);
		return;
	}
	for (i = 0; i < n; i++)
	{
		int			b = latin1 ? s[i] : sloppy_1252_byte(s[i]);

		if (b < 0)
			break;
		bytes[i] = (unsigned char) b;
	}
	/* ftfy decodes bytes with 0xED or 0xC0 as "utf-8-variants": left alone here */
	if (i == n && !memchr(bytes, 0xED, n) && !memchr(bytes, 0xC0, n))
	{
		while ((size_t) pos < n)
		{
			utf8proc_int32_t c;
			utf8proc_ssize_t k = utf8proc_iterate(bytes + pos, (utf8proc_ssize_t) n - pos, &c);

			if (k <= 0)
				break;
			cp_push(&dec, c);
			pos += k;
		}
	}
	if (i == n && (size_t) pos == n && !dec.oom && dec.n < n)
		cp_push_all(out, dec.v, dec.n);
	else
		cp_push_all(out, s, n);
	if (dec.oom)
		out->oom = 1;
	free(dec.v);
	free(bytes);
}

/* fix_c1_controls: U+0080..U+009F read as (sloppy) Windows-1252. */
static void
ftfy_fix_c1_controls(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		int32_t		cp = s[i];

		if (s[i] >= 0x80 && s[i] <= 0x9F)
			charref_fix((uint64_t) s[i], &cp);
		cp_push(out, cp);
	}
}

/* fix_latin_ligatures: ftfy's fixed list (Dutch, Serbo-Croatian, typographic). */
static void
ftfy_fix_latin_ligatures(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		const char *rep = NULL;

		switch (s[i])
		{
			case 0x132: rep = "IJ"; break;
			case 0x133: rep = "ij"; break;
			case 0x149: rep = "\xca\xbcn"; break;	/* U+02BC n */
			case 0x1F1: rep = "DZ"; break;
			case 0x1F2: rep = "Dz"; break;
			case 0x1F3: rep = "dz"; break;
			case 0x1C4: rep = "D\xc5\xbd"; break;	/* D U+017D */
			case 0x1C5: rep = "D\xc5\xbe"; break;	/* D U+017E */
			case 0x1C6: rep = "d\xc5\xbe"; break;
			case 0x1C7: rep = "LJ"; break;
			case 0x1C8: rep = "Lj"; break;
			case 0x1C9: rep = "lj"; break;
			case 0x1CA: rep = "NJ"; break;
			case 0x1CB: rep = "Nj"; break;
			case 0x1CC: rep = "nj"; break;
			case 0xFB00: rep = "ff"; break;
			case 0xFB01: rep = "fi"; break;
			case 0xFB02: rep = "fl"; break;
			case 0xFB03: rep = "ffi"; break;
			case 0xFB04: rep = "ffl"; break;
			case 0xFB05: rep = "\xc5\xbft"; break;	/* U+017F t */
			case 0xFB06: rep = "st"; break;
			default: break;
		}
		if (rep)
			cp_push_utf8(out, rep);
		else
			cp_push(out, s[i]);
	}
}

/* NFKC of one code point, through utf8proc. */
static void
push_nfkc(CpBuf *out, int32_t c)
{
	utf8proc_uint8_t src[4];
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t len = utf8proc_encode_char(c, src);
	utf8proc_ssize_t got = utf8proc_map(src, len, &dst,
										UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);

	if (got < 0 || !dst)
		cp_push(out, c);
	else
		cp_push_utf8(out, (const char *) dst);
	free(dst);
}

/* fix_character_width: full/half-width forms U+FF01..U+FFEF by NFKC, U+3000 to space. */
static void
ftfy_fix_character_width(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (s[i] == 0x3000)
			cp_push(out, ' ');
		else if (s[i] >= 0xFF01 && s[i] < 0xFFF0)
			push_nfkc(out, s[i]);
		else
			cp_push(out, s[i]);
	}
}

static void
ftfy_uncurl_quotes(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		int32_t		c = s[i];

		if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B))
			c = '\'';
		else if (c >= 0x201C && c <= 0x201F)
			c = '"';
		cp_push(out, c);
	}
}

static void
ftfy_fix_line_breaks(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		int32_t		c = s[i];

		if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
			i++;
		if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85)
			c = '\n';
		cp_push(out, c);
	}
}

/* remove_terminal_escapes: \033\[((?:\d|;)*)([a-zA-Z]) */
static void
ftfy_remove_terminal_escapes(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (s[i] == 0x1B && i + 1 < n && s[i + 1] == '[')
		{
			size_t		k = i + 2;

			while (k < n && (s[k] == ';' || utf8proc_category(s[k]) == UTF8PROC_CATEGORY_ND))
				k++;
			if (k < n && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))
			{
				i = k;
				continue;
			}
		}
		cp_push(out, s[i]);
	}
}

/* remove_control_chars: ftfy's list of controls nobody means to type. */
static void
ftfy_remove_control_chars(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		int32_t		c = s[i];

		if ((c >= 0 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) ||
			c == 0x7F || (c >= 0x206A && c <= 0x206F) || c == 0xFEFF ||
			(c >= 0xFFF9 && c <= 0xFFFC))
			continue;
		cp_push(out, c);
	}
}

static void
push_utf8_bytes(const utf8proc_uint8_t *p, utf8proc_ssize_t len, CpBuf *out)
{
	while (len > 0)
	{
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(p, len, &c);

		if (k <= 0)
			return;
		cp_push(out, c);
		p += k;
		len -= k;
	}
}

/* Code points to UTF-8; returns a malloc'd NUL-terminated buffer or NULL. */
static char *
cp_to_utf8(const int32_t *s, size_t n, size_t *out_len)
{
	char	   *buf = malloc(n * 4 + 1);
	size_t		o = 0,
				i;

	if (!buf)
		return NULL;
	for (i = 0; i < n; i++)
		o += (size_t) utf8proc_encode_char(s[i], (utf8proc_uint8_t *) buf + o);
	buf[o] = '\0';
	*out_len = o;
	return buf;
}

static void
nfc(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		len;
	char	   *u = cp_to_utf8(s, n, &len);
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t got;

	if (!u)
	{
		out->oom = 1;
		return;
	}
	if (len == 0)
	{
		free(u);
		return;
	}
	got = utf8proc_map((const utf8proc_uint8_t *) u, (utf8proc_ssize_t) len, &dst,
					   UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	if (got < 0)
	{
		/* only out of memory can fail here: the input is valid */
		out->oom = 1;
		free(u);
		return;
	}
	push_utf8_bytes(dst, got, out);
	free(dst);
	free(u);
}

typedef void (*FixStep) (const int32_t *s, size_t n, CpBuf *out);

/* One ftfy fix_and_explain() on one line; appends to out. Returns -1 on OOM. */
static int
ftfy_fix_segment(const int32_t *s, size_t n, int unescape, CpBuf *out)
{
	static const FixStep steps[] = {
		ftfy_unescape_html,
		ftfy_fix_encoding_lite,
		ftfy_fix_c1_controls,
		ftfy_fix_latin_ligatures,
		ftfy_fix_character_width,
		ftfy_uncurl_quotes,
		ftfy_fix_line_breaks,
		ftfy_remove_terminal_escapes,
		ftfy_remove_control_chars,
		nfc,
	};
	CpBuf		cur = {0},
				next = {0};
	int			round;
	size_t		st;

	cp_push_all(&cur, s, n);
	for (round = 0; round < FTFY_MAX_ROUNDS && !cur.oom; round++)
	{
		CpBuf		orig = {0};

		cp_push_all(&orig, cur.v, cur.n);
		for (st = unescape ? 0 : 1; st < sizeof(steps) / sizeof(steps[0]); st++)
		{
			CpBuf		tmp;

			next.n = 0;
			steps[st] (cur.v, cur.n, &next);
			tmp = cur;
			cur = next;
			next = tmp;
			if (cur.oom || next.oom)
				break;
		}
		if (orig.oom || cur.oom || next.oom)
		{
			cur.oom = 1;
			free(orig.v);
			break;
		}
		if (orig.n == cur.n && (cur.n == 0 || memcmp(orig.v, cur.v, cur.n * sizeof(int32_t)) == 0))
		{
			free(orig.v);
			break;
		}
		free(orig.v);
	}
	if (!cur.oom)
		cp_push_all(out, cur.v, cur.n);
	else
		out->oom = 1;
	free(cur.v);
	free(next.v);
	return out->oom ? -1 : 0;
}

/* ftfy.fix_text(): line by line; HTML unescaping stops for good at the first '<'. */
static int
ftfy_fix_text(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		pos = 0;
	int			unescape = 1;

	while (pos < n)
	{
		size_t		end = pos,
					i;

		while (end < n && s[end] != '\n')
			end++;
		end = end < n ? end + 1 : n;
		if (end - pos > FTFY_MAX_DECODE_LENGTH)
			end = pos + FTFY_MAX_DECODE_LENGTH;
		for (i = pos; i < end && unescape; i++)
			if (s[i] == '<')
				unescape = 0;
		if (ftfy_fix_segment(s + pos, end - pos, unescape, out) < 0)
			return -1;
		pos = end;
	}
	return 0;
}

/* ---- lower-casing as Python's str.lower() ---- */

static int
is_cased(int32_t c)
{
	return utf8proc_islower(c) || utf8proc_isupper(c) ||
		utf8proc_category(c) == UTF8PROC_CATEGORY_LT;
}

static int
is_case_ignorable(int32_t c)
{
	switch (utf8proc_category(c))
	{
		case UTF8PROC_CATEGORY_MN:
		case UTF8PROC_CATEGORY_ME:
		case UTF8PROC_CATEGORY_CF:
		case UTF8PROC_CATEGORY_LM:
		case UTF8PROC_CATEGORY_SK:
			return 1;
		default:
			break;
	}
	/* Word_Break MidLetter, MidNumLet, Single_Quote */
	switch (c)
	{
		case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F:
		case 0x5F4: case 0x2018: case 0x2019: case 0x2024: case 0x2027:
		case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
			return 1;
		default:
			return 0;
	}
}

/* Capital sigma becomes final sigma after a cased letter and not before one. */
static int32_t
lower_sigma(const int32_t *s, size_t n, size_t i)
{
	size_t		j;
	int			final = 0;

	for (j = i; j > 0; j--)
		if (!is_case_ignorable(s[j - 1]))
			break;
	final = j > 0 && is_cased(s[j - 1]);
	if (final)
	{
		for (j = i + 1; j < n; j++)
			if (!is_case_ignorable(s[j]))
				break;
		final = j == n || !is_cased(s[j]);
	}
	return final ? 0x3C2 : 0x3C3;
}

static void
python_lower(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (s[i] == 0x130)
		{
			/* the one unconditional multi-code-point lower-case mapping */
			cp_push(out, 'i');
			cp_push(out, 0x307);
		}
		else if (s[i] == 0x3A3)
			cp_push(out, lower_sigma(s, n, i));
		else
			cp_push(out, utf8proc_tolower(s[i]));
	}
}

/* Collapse runs of whitespace into one space and strip both ends. */
static void
whitespace_clean(const int32_t *s, size_t n, CpBuf *out)
{
	size_t		i;
	int			pending = 0;

	for (i = 0; i < n; i++)
	{
		if (clip_is_space(s[i]))
		{
			pending = out->n > 0;
			continue;
		}
		if (pending)
			cp_push(out, ' ');
		pending = 0;
		cp_push(out, s[i]);
	}
}

/*
 * Printable ASCII (with tab, newline, form feed) and no '&': every ftfy step
 * and html.unescape leave such text as it is.
 */
static int
plain_ascii(const int32_t *s, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (s[i] >= 0x7F || s[i] == '&' ||
			(s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\f'))
			return 0;
	return 1;
}

int
clip_text_clean(const char *text, size_t len, char **out, size_t *out_len,
				char *err, size_t errlen)
{
	CpBuf		a = {0},
				b = {0};
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *) text;
	size_t		pos = 0;
	int			rc = -1;

	*out = NULL;
	*out_len = 0;
	while (pos < len)
	{
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(p + pos, (utf8proc_ssize_t) (len - pos), &c);

		if (k <= 0)
		{
			sc_seterr(err, errlen, "invalid UTF-8 in text at byte %zu", pos);
			goto done;
		}
		cp_push(&a, c);
		pos += (size_t) k;
	}
	if (a.oom)
		goto oom;
	if (plain_ascii(a.v, a.n))
	{
		/* nothing for ftfy or html.unescape to change: skip to whitespace */
		CpBuf		t = a;

		a = b;
		b = t;
	}
	else
	{
		if (ftfy_fix_text(a.v, a.n, &b) < 0)
			goto oom;
		a.n = 0;
		python_html_unescape(b.v, b.n, &a);
		b.n = 0;
		python_html_unescape(a.v, a.n, &b);
	}
	a.n = 0;
	whitespace_clean(b.v, b.n, &a);
	b.n = 0;
	python_lower(a.v, a.n, &b);
	if (a.oom || b.oom)
		goto oom;
	*out = cp_to_utf8(b.v, b.n, out_len);
	if (!*out)
		goto oom;
	rc = 0;
	goto done;
oom:
	sc_seterr(err, errlen, "out of memory while cleaning text");
done:
	free(a.v);
	free(b.v);
	return rc;
}
