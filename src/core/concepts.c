/*
 * concepts.c - parse and write the concept names of a model (concepts.h).
 */
#include "concepts.h"
#include "errmsg.h"
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
sc_concepts_free(sc_concepts *c)
{
	if (!c)
		return;
	free(c->first);
	free(c->entry_dim);
	free(c->name_off);
	free(c->activation);
	free(c->by_name);
	free(c->pool);
	free(c->folded);
	free(c);
}

static int
name_ok(const char *s, size_t len, char *why, size_t whylen)
{
	size_t		i;

	if (len == 0)
	{
		snprintf(why, whylen, "an empty name");
		return 0;
	}
	if (len > SC_CONCEPT_NAME_MAX)
	{
		snprintf(why, whylen, "a name longer than %d bytes", SC_CONCEPT_NAME_MAX);
		return 0;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
		{
			snprintf(why, whylen, "a name with a control character");
			return 0;
		}
	return 1;
}

static char
fold(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char) (ch - 'A' + 'a') : ch;
}

typedef struct sort_item
{
	const char *folded;
	uint32_t	rank, dim, entry;
} sort_item;

static int
cmp_item(const void *a, const void *b)
{
	const sort_item *x = a, *y = b;
	int			c = strcmp(x->folded, y->folded);

	if (c)
		return c;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->dim < y->dim ? -1 : x->dim > y->dim;
}

sc_concepts *
sc_concepts_parse(const char *names, size_t names_len, const char *acts, size_t acts_len,
				  int dims, char *err, size_t errlen)
{
	json_value *nv = NULL, *av = NULL;
	sc_concepts *c = NULL;
	sort_item  *items = NULL;
	size_t		n = 0, pool_len = 0, used = 0, e;
	char		jerr[200], why[80];
	int			d;

	if (dims <= 0)
	{
		sc_seterr(err, errlen, "concept names need a sparse model (sparse_dim > 0)");
		return NULL;
	}
	nv = json_parse(names, names_len, jerr, sizeof jerr);
	if (!nv)
	{
		sc_seterr(err, errlen, "sparseclip.concepts: %s", jerr);
		return NULL;
	}
	if (nv->type != JSON_ARRAY || nv->n != (size_t) dims)
	{
		sc_seterr(err, errlen, "sparseclip.concepts: an array of %d items (one per dimension) expected, got %s of %zu",
				  dims, nv->type == JSON_ARRAY ? "an array" : "a non-array", json_len(nv));
		goto bad;
	}
	/* count names and bytes, checking every one */
	for (d = 0; d < dims; d++)
	{
		const json_value *it = nv->items[d];

		if (it->type == JSON_STRING)
		{
			if (!name_ok(it->str, it->str_len, why, sizeof why) || memchr(it->str, 0, it->str_len))
			{
				sc_seterr(err, errlen, "sparseclip.concepts: dimension %d has %s", d + 1, why);
				goto bad;
			}
			n++;
			pool_len += it->str_len + 1;
		}
		else if (it->type == JSON_ARRAY)
		{
			size_t		r;

			for (r = 0; r < it->n; r++)
			{
				const json_value *s = it->items[r];

				if (s->type != JSON_STRING)
				{
					sc_seterr(err, errlen, "sparseclip.concepts: dimension %d: name %zu is not a string", d + 1, r + 1);
					goto bad;
				}
				if (!name_ok(s->str, s->str_len, why, sizeof why))
				{
					sc_seterr(err, errlen, "sparseclip.concepts: dimension %d has %s", d + 1, why);
					goto bad;
				}
				n++;
				pool_len += s->str_len + 1;
			}
		}
		else if (it->type != JSON_NULL)
		{
			sc_seterr(err, errlen, "sparseclip.concepts: dimension %d: a name, an array of names or null expected", d + 1);
			goto bad;
		}
	}
	if (n > UINT32_MAX / 2 || pool_len > UINT32_MAX / 2)
	{
		sc_seterr(err, errlen, "sparseclip.concepts: too many names");
		goto bad;
	}
	if (acts)
	{
		av = json_parse(acts, acts_len, jerr, sizeof jerr);
		if (!av)
		{
			sc_seterr(err, errlen, "sparseclip.concept_activations: %s", jerr);
			goto bad;
		}
		if (av->type != JSON_ARRAY || av->n != (size_t) dims)
		{
			sc_seterr(err, errlen, "sparseclip.concept_activations: an array of %d items expected", dims);
			goto bad;
		}
	}
	c = calloc(1, sizeof *c);
	if (!c)
		goto oom;
	c->dims = dims;
	c->nentries = n;
	c->has_activations = av != NULL;
	c->first = malloc(sizeof(uint32_t) * ((size_t) dims + 1));
	c->entry_dim = malloc(sizeof(uint32_t) * (n ? n : 1));
	c->name_off = malloc(sizeof(uint32_t) * (n ? n : 1));
	c->activation = malloc(sizeof(float) * (n ? n : 1));
	c->by_name = malloc(sizeof(uint32_t) * (n ? n : 1));
	c->pool = malloc(pool_len ? pool_len : 1);
	c->folded = malloc(pool_len ? pool_len : 1);
	items = malloc(sizeof(sort_item) * (n ? n : 1));
	if (!c->first || !c->entry_dim || !c->name_off || !c->activation || !c->by_name ||
		!c->pool || !c->folded || !items)
		goto oom;
	e = 0;
	for (d = 0; d < dims; d++)
	{
		const json_value *it = nv->items[d];
		size_t		cnt = it->type == JSON_STRING ? 1 : it->type == JSON_ARRAY ? it->n : 0;
		const json_value *a = av ? av->items[d] : NULL;
		size_t		r;

		c->first[d] = (uint32_t) e;
		if (a && a->type != JSON_NULL && (a->type != JSON_ARRAY || a->n != cnt))
		{
			sc_seterr(err, errlen, "sparseclip.concept_activations: dimension %d: an array of %zu numbers expected",
					  d + 1, cnt);
			goto bad;
		}
		if (a && a->type == JSON_NULL && cnt > 0)
		{
			sc_seterr(err, errlen, "sparseclip.concept_activations: dimension %d has names but no activations", d + 1);
			goto bad;
		}
		if (cnt > 0)
			c->named_dims++;
		for (r = 0; r < cnt; r++, e++)
		{
			const json_value *s = it->type == JSON_STRING ? it : it->items[r];
			size_t		i;

			c->entry_dim[e] = (uint32_t) d;
			c->name_off[e] = (uint32_t) used;
			memcpy(c->pool + used, s->str, s->str_len + 1);
			for (i = 0; i <= s->str_len; i++)
				c->folded[used + i] = fold(s->str[i]);
			used += s->str_len + 1;
			c->activation[e] = NAN;
			if (a)
			{
				if (a->items[r]->type != JSON_NUMBER)
				{
					sc_seterr(err, errlen, "sparseclip.concept_activations: dimension %d: item %zu is not a number",
							  d + 1, r + 1);
					goto bad;
				}
				c->activation[e] = (float) a->items[r]->number;
			}
			items[e].folded = c->folded + c->name_off[e];
			items[e].rank = (uint32_t) r;
			items[e].dim = (uint32_t) d;
			items[e].entry = (uint32_t) e;
		}
	}
	c->first[dims] = (uint32_t) e;
	qsort(items, n, sizeof(sort_item), cmp_item);
	for (e = 0; e < n; e++)
		c->by_name[e] = items[e].entry;
	free(items);
	json_free(nv);
	json_free(av);
	return c;
oom:
	sc_seterr(err, errlen, "concept names: out of memory");
bad:
	free(items);
	sc_concepts_free(c);
	json_free(nv);
	json_free(av);
	return NULL;
}

/* strcmp of a folded pool name against the folded query q[0..len) */
static int
cmp_query(const char *name, const char *q, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char a = (unsigned char) name[i], b = (unsigned char) fold(q[i]);

		if (a != b)
			return a < b ? -1 : 1;	/* a NUL in name sorts first, as strcmp does */
	}
	return name[len] ? 1 : 0;
}

size_t
sc_concepts_find(const sc_concepts *c, const char *name, size_t len, size_t *lo_out, size_t *hi_out)
{
	size_t		lo = 0, hi = c->nentries, first;

	while (len > 0 && (name[0] == ' ' || name[0] == '\t'))
		name++, len--;
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	/* first entry not below the query */
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (cmp_query(c->folded + c->name_off[c->by_name[mid]], name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	hi = c->nentries;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (cmp_query(c->folded + c->name_off[c->by_name[mid]], name, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*lo_out = first;
	*hi_out = lo;
	return lo - first;
}

/* Append a JSON string literal (names hold no control characters). */
static void
put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int
sc_concepts_json(const char *const *names, const float *acts, int dims, int k,
				 char **names_json, char **acts_json, char *err, size_t errlen)
{
	char	   *nb = NULL, *ab = NULL;
	size_t		nl = 0, al = 0;
	FILE	   *nf = open_memstream(&nb, &nl);
	FILE	   *af = acts_json ? open_memstream(&ab, &al) : NULL;
	char		why[80];
	int			d, r;

	*names_json = NULL;
	if (acts_json)
		*acts_json = NULL;
	if (!nf || (acts_json && !af))
		goto oom;
	fputc('[', nf);
	if (af)
		fputc('[', af);
	for (d = 0; d < dims; d++)
	{
		int			cnt = 0;

		while (cnt < k && names[(size_t) d * k + cnt] && names[(size_t) d * k + cnt][0])
			cnt++;
		if (d)
		{
			fputc(',', nf);
			if (af)
				fputc(',', af);
		}
		if (cnt == 0)
		{
			fputs("null", nf);
			if (af)
				fputs("null", af);
			continue;
		}
		fputc('[', nf);
		if (af)
			fputc('[', af);
		for (r = 0; r < cnt; r++)
		{
			const char *s = names[(size_t) d * k + r];

			if (!name_ok(s, strlen(s), why, sizeof why))
			{
				sc_seterr(err, errlen, "dimension %d: %s", d + 1, why);
				goto fail;
			}
			if (r)
				fputc(',', nf);
			put_string(nf, s);
			if (af)
			{
				float		v = acts ? acts[(size_t) d * k + r] : 0.0f;

				fprintf(af, "%s%.4g", r ? "," : "", isfinite(v) ? v : 0.0);
			}
		}
		fputc(']', nf);
		if (af)
			fputc(']', af);
	}
	fputc(']', nf);
	if (af)
		fputc(']', af);
	if (fclose(nf) != 0 || (af && fclose(af) != 0))
	{
		nf = af = NULL;
		goto oom;
	}
	*names_json = nb;
	if (acts_json)
		*acts_json = ab;
	return 0;
oom:
	sc_seterr(err, errlen, "concept names: out of memory");
fail:
	if (nf)
		fclose(nf);
	if (af)
		fclose(af);
	free(nb);
	free(ab);
	return -1;
}
