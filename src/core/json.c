/*
 * json.c - a small strict JSON parser; see json.h for the rules it enforces.
 */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser
{
	const char *p;
	const char *end;
	const char *start;
	char	   *err;
	size_t		errlen;
	int			failed;
} parser;

static void fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(parser *ps, const char *fmt, ...)
{
	va_list		ap;
	size_t		used;

	if (ps->failed)
		return;
	ps->failed = 1;
	if (ps->errlen == 0)
		return;
	snprintf(ps->err, ps->errlen, "JSON error at byte %zu: ", (size_t) (ps->p - ps->start));
	used = strlen(ps->err);
	va_start(ap, fmt);
	vsnprintf(ps->err + used, ps->errlen - used, fmt, ap);
	va_end(ap);
}

static void
skip_ws(parser *ps)
{
	while (ps->p < ps->end &&
		   (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static json_value *
new_value(parser *ps, json_type t)
{
	json_value *v = calloc(1, sizeof(json_value));

	if (!v)
		fail(ps, "out of memory");
	else
		v->type = t;
	return v;
}

/* A growable byte buffer for decoded strings. */
typedef struct buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} buf;

static int
buf_put(buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 32;
		char	   *d;

		while (b->len + n + 1 > cap)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int
hex4(const char *s, unsigned *out)
{
	unsigned	v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned) (c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned) (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned) (c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is
 * invalid: overlong forms, surrogates and code points above U+10FFFF are refused.
 */
static size_t
utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned	c = s[0];
	size_t		len, i;
	unsigned	cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
	{
		len = 2;
		cp = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		cp = c & 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		cp = c & 0x07;
	}
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		(cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return len;
}

/* Parse a string starting at the opening quote; returns 0 and fills out/len. */
static int
parse_string_raw(parser *ps, char **out, size_t *outlen)
{
	buf			b = {NULL, 0, 0};

	ps->p++;					/* opening quote */
	if (buf_put(&b, "", 0) < 0)
		goto oom;
	for (;;)
	{
		const char *run = ps->p;

		/* copy plain bytes in runs */
		while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
			   (unsigned char) *ps->p >= 0x20)
		{
			size_t		l = utf8_valid_len((const unsigned char *) ps->p,
										   (size_t) (ps->end - ps->p));

			if (l == 0)
			{
				fail(ps, "invalid UTF-8 in string");
				goto bad;
			}
			ps->p += l;
		}
		if (ps->p > run && buf_put(&b, run, (size_t) (ps->p - run)) < 0)
			goto oom;
		if (ps->p >= ps->end)
		{
			fail(ps, "unterminated string");
			goto bad;
		}
		if (*ps->p == '"')
		{
			ps->p++;
			break;
		}
		if ((unsigned char) *ps->p < 0x20)
		{
			fail(ps, "control character in string");
			goto bad;
		}
		/* backslash escape */
		if (ps->end - ps->p < 2)
		{
			fail(ps, "unterminated escape");
			goto bad;
		}
		{
			char		c = ps->p[1];
			char		enc[4];
			size_t		n = 1;

			ps->p += 2;
			switch (c)
			{
				case '"': enc[0] = '"'; break;
				case '\\': enc[0] = '\\'; break;
				case '/': enc[0] = '/'; break;
				case 'b': enc[0] = '\b'; break;
				case 'f': enc[0] = '\f'; break;
				case 'n': enc[0] = '\n'; break;
				case 'r': enc[0] = '\r'; break;
				case 't': enc[0] = '\t'; break;
				case 'u':
					{
						unsigned	cp, lo;

						if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
						{
							fail(ps, "bad \\u escape");
							goto bad;
						}
						ps->p += 4;
						if (cp >= 0xDC00 && cp <= 0xDFFF)
						{
							fail(ps, "lone low surrogate in \\u escape");
							goto bad;
						}
						if (cp >= 0xD800 && cp <= 0xDBFF)
						{
							if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
								hex4(ps->p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
							{
								fail(ps, "high surrogate not followed by a low surrogate");
								goto bad;
							}
							ps->p += 6;
							cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						}
						n = utf8_encode(cp, enc);
						break;
					}
				default:
					ps->p--;
					fail(ps, "unknown escape \\%c", c);
					goto bad;
			}
			if (buf_put(&b, enc, n) < 0)
				goto oom;
		}
	}
	*out = b.data;
	*outlen = b.len;
	return 0;
oom:
	fail(ps, "out of memory");
bad:
	free(b.data);
	return -1;
}

static json_value *parse_value(parser *ps, int depth);

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static json_value *
parse_number(parser *ps)
{
	const char *s = ps->p;
	const char *q = s;
	char		tmp[64];
	char	   *heap = NULL;
	char	   *numtext;
	size_t		n;
	json_value *v;

	if (q < ps->end && *q == '-')
		q++;
	if (q >= ps->end || !is_digit(*q))
	{
		fail(ps, "bad number");
		return NULL;
	}
	if (*q == '0')
	{
		q++;
		if (q < ps->end && is_digit(*q))
		{
			fail(ps, "leading zero in number");
			return NULL;
		}
	}
	else
		while (q < ps->end && is_digit(*q))
			q++;
	if (q < ps->end && *q == '.')
	{
		q++;
		if (q >= ps->end || !is_digit(*q))
		{
			ps->p = q;
			fail(ps, "digit expected after decimal point");
			return NULL;
		}
		while (q < ps->end && is_digit(*q))
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E'))
	{
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || !is_digit(*q))
		{
			ps->p = q;
			fail(ps, "digit expected in exponent");
			return NULL;
		}
		while (q < ps->end && is_digit(*q))
			q++;
	}
	/* the input need not be NUL-terminated, so strtod works on a copy */
	n = (size_t) (q - s);
	if (n < sizeof tmp)
		numtext = tmp;
	else
	{
		heap = malloc(n + 1);
		if (!heap)
		{
			fail(ps, "out of memory");
			return NULL;
		}
		numtext = heap;
	}
	memcpy(numtext, s, n);
	numtext[n] = '\0';
	v = new_value(ps, JSON_NUMBER);
	if (v)
	{
		v->number = strtod(numtext, NULL);
		if (!isfinite(v->number))
		{
			fail(ps, "number out of range");
			free(v);
			v = NULL;
		}
	}
	free(heap);
	ps->p = q;
	return v;
}

static int
expect_word(parser *ps, const char *w)
{
	size_t		n = strlen(w);

	if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
	{
		fail(ps, "unexpected character '%c'", *ps->p);
		return -1;
	}
	ps->p += n;
	return 0;
}

/* Append item (and key) to a container, growing the arrays geometrically. */
static int
push_item(parser *ps, json_value *c, size_t *cap, json_value *item, char *key, size_t keylen)
{
	if (c->n == *cap)
	{
		size_t		ncap = *cap ? *cap * 2 : 8;
		json_value **items = realloc(c->items, ncap * sizeof(json_value *));

		if (!items)
			goto oom;
		c->items = items;
		if (c->type == JSON_OBJECT)
		{
			char	  **keys = realloc(c->keys, ncap * sizeof(char *));
			size_t	   *lens;

			if (!keys)
				goto oom;
			c->keys = keys;
			lens = realloc(c->key_lens, ncap * sizeof(size_t));
			if (!lens)
				goto oom;
			c->key_lens = lens;
		}
		*cap = ncap;
	}
	c->items[c->n] = item;
	if (c->type == JSON_OBJECT)
	{
		c->keys[c->n] = key;
		c->key_lens[c->n] = keylen;
	}
	c->n++;
	return 0;
oom:
	fail(ps, "out of memory");
	return -1;
}

static json_value *
parse_array(parser *ps, int depth)
{
	json_value *a = new_value(ps, JSON_ARRAY);
	size_t		cap = 0;

	if (!a)
		return NULL;
	ps->p++;					/* '[' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']')
	{
		ps->p++;
		return a;
	}
	for (;;)
	{
		json_value *item;

		skip_ws(ps);
		item = parse_value(ps, depth + 1);
		if (!item)
			goto bad;
		if (push_item(ps, a, &cap, item, NULL, 0) < 0)
		{
			json_free(item);
			goto bad;
		}
		skip_ws(ps);
		if (ps->p >= ps->end)
		{
			fail(ps, "unterminated array");
			goto bad;
		}
		if (*ps->p == ',')
		{
			ps->p++;
			continue;
		}
		if (*ps->p == ']')
		{
			ps->p++;
			return a;
		}
		fail(ps, "',' or ']' expected in array");
		goto bad;
	}
bad:
	json_free(a);
	return NULL;
}

static json_value *
parse_object(parser *ps, int depth)
{
	json_value *o = new_value(ps, JSON_OBJECT);
	size_t		cap = 0;

	if (!o)
		return NULL;
	ps->p++;					/* '{' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
	{
		ps->p++;
		return o;
	}
	for (;;)
	{
		char	   *key;
		size_t		keylen, i;
		const char *keypos;
		json_value *item;

		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"')
		{
			fail(ps, "string key expected in object");
			goto bad;
		}
		keypos = ps->p;
		if (parse_string_raw(ps, &key, &keylen) < 0)
			goto bad;
		for (i = 0; i < o->n; i++)
			if (o->key_lens[i] == keylen && memcmp(o->keys[i], key, keylen) == 0)
			{
				ps->p = keypos;
				fail(ps, "duplicate key \"%s\"", key);
				free(key);
				goto bad;
			}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
		{
			fail(ps, "':' expected after object key");
			free(key);
			goto bad;
		}
		ps->p++;
		skip_ws(ps);
		item = parse_value(ps, depth + 1);
		if (!item)
		{
			free(key);
			goto bad;
		}
		if (push_item(ps, o, &cap, item, key, keylen) < 0)
		{
			free(key);
			json_free(item);
			goto bad;
		}
		skip_ws(ps);
		if (ps->p >= ps->end)
		{
			fail(ps, "unterminated object");
			goto bad;
		}
		if (*ps->p == ',')
		{
			ps->p++;
			continue;
		}
		if (*ps->p == '}')
		{
			ps->p++;
			return o;
		}
		fail(ps, "',' or '}' expected in object");
		goto bad;
	}
bad:
	json_free(o);
	return NULL;
}

static json_value *
parse_value(parser *ps, int depth)
{
	json_value *v;

	if (depth > JSON_MAX_DEPTH)
	{
		fail(ps, "nesting deeper than %d", JSON_MAX_DEPTH);
		return NULL;
	}
	if (ps->p >= ps->end)
	{
		fail(ps, "unexpected end of input");
		return NULL;
	}
	switch (*ps->p)
	{
		case '{':
			return parse_object(ps, depth);
		case '[':
			return parse_array(ps, depth);
		case '"':
			v = new_value(ps, JSON_STRING);
			if (v && parse_string_raw(ps, &v->str, &v->str_len) < 0)
			{
				free(v);
				v = NULL;
			}
			return v;
		case 't':
			if (expect_word(ps, "true") < 0)
				return NULL;
			v = new_value(ps, JSON_BOOL);
			if (v)
				v->boolean = 1;
			return v;
		case 'f':
			if (expect_word(ps, "false") < 0)
				return NULL;
			return new_value(ps, JSON_BOOL);
		case 'n':
			if (expect_word(ps, "null") < 0)
				return NULL;
			return new_value(ps, JSON_NULL);
		default:
			if (*ps->p == '-' || is_digit(*ps->p))
				return parse_number(ps);
			if ((unsigned char) *ps->p >= 0x20 && (unsigned char) *ps->p < 0x7F)
				fail(ps, "unexpected character '%c'", *ps->p);
			else
				fail(ps, "unexpected byte 0x%02x", (unsigned char) *ps->p);
			return NULL;
	}
}

json_value *
json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	parser		ps;
	json_value *v;

	ps.p = ps.start = text;
	ps.end = text + len;
	ps.err = err;
	ps.errlen = errlen;
	ps.failed = 0;
	if (errlen)
		err[0] = '\0';
	if (!text)
	{
		fail(&ps, "no input");
		return NULL;
	}
	skip_ws(&ps);
	v = parse_value(&ps, 0);
	if (!v)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end)
	{
		fail(&ps, "trailing characters after the value");
		json_free(v);
		return NULL;
	}
	return v;
}

void
json_free(json_value *v)
{
	size_t		i;

	if (!v)
		return;
	for (i = 0; i < v->n; i++)
	{
		json_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->key_lens);
	free(v->str);
	free(v);
}

const json_value *
json_get(const json_value *v, const char *key)
{
	size_t		i, klen;

	if (!v || v->type != JSON_OBJECT || !key)
		return NULL;
	klen = strlen(key);
	for (i = 0; i < v->n; i++)
		if (v->key_lens[i] == klen && memcmp(v->keys[i], key, klen) == 0)
			return v->items[i];
	return NULL;
}

size_t
json_len(const json_value *v)
{
	if (!v || (v->type != JSON_ARRAY && v->type != JSON_OBJECT))
		return 0;
	return v->n;
}

const json_value *
json_at(const json_value *v, size_t i)
{
	if (!v || (v->type != JSON_ARRAY && v->type != JSON_OBJECT) || i >= v->n)
		return NULL;
	return v->items[i];
}

int
json_get_int64(const json_value *v, int64_t *out)
{
	const double lim = 9007199254740992.0;	/* 2^53 */

	if (!v || v->type != JSON_NUMBER)
		return -1;
	if (v->number != floor(v->number) || v->number < -lim || v->number > lim)
		return -1;
	*out = (int64_t) v->number;
	return 0;
}

int
json_get_number(const json_value *v, double *out)
{
	if (!v || v->type != JSON_NUMBER)
		return -1;
	*out = v->number;
	return 0;
}

int
json_get_string(const json_value *v, const char **out, size_t *len)
{
	if (!v || v->type != JSON_STRING)
		return -1;
	*out = v->str;
	if (len)
		*len = v->str_len;
	return 0;
}

const char *
json_type_name(json_type t)
{
	switch (t)
	{
		case JSON_NULL: return "null";
		case JSON_BOOL: return "boolean";
		case JSON_NUMBER: return "number";
		case JSON_STRING: return "string";
		case JSON_ARRAY: return "array";
		case JSON_OBJECT: return "object";
	}
	return "unknown";
}
