/*
 * naming.c - per-dimension top k, WordNet synonyms and the naming-quality
 * measure of sparseclip-concepts (naming.h).
 */
#include "naming.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- top k ---- */

topk *
topk_new(int dims, int k)
{
	topk	   *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->dims = dims;
	t->k = k;
	t->count = calloc((size_t) dims, sizeof(int));
	t->val = malloc(sizeof(float) * (size_t) dims * k);
	t->id = malloc(sizeof(int) * (size_t) dims * k);
	if (!t->count || !t->val || !t->id)
	{
		topk_free(t);
		return NULL;
	}
	return t;
}

void
topk_free(topk *t)
{
	if (!t)
		return;
	free(t->count);
	free(t->val);
	free(t->id);
	free(t);
}

/* a is worse than b: lower value, or equal value and a later id */
static inline int
worse(float va, int ia, float vb, int ib)
{
	return va < vb || (va == vb && ia > ib);
}

static void
sift_down(float *v, int *id, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && worse(v[l], id[l], v[m], id[m]))
			m = l;
		if (r < n && worse(v[r], id[r], v[m], id[m]))
			m = r;
		if (m == i)
			return;
		{
			float		tv = v[i];
			int			ti = id[i];

			v[i] = v[m];
			id[i] = id[m];
			v[m] = tv;
			id[m] = ti;
		}
		i = m;
	}
}

void
topk_push(topk *t, int d, float v, int item)
{
	float	   *hv = t->val + (size_t) d * t->k;
	int		   *hi = t->id + (size_t) d * t->k;
	int			n = t->count[d];

	if (!(v > 0.0f))
		return;
	if (n < t->k)
	{
		/* sift up */
		int			i = n;

		hv[i] = v;
		hi[i] = item;
		while (i > 0 && worse(hv[i], hi[i], hv[(i - 1) / 2], hi[(i - 1) / 2]))
		{
			int			p = (i - 1) / 2;
			float		tv = hv[i];
			int			ti = hi[i];

			hv[i] = hv[p];
			hi[i] = hi[p];
			hv[p] = tv;
			hi[p] = ti;
			i = p;
		}
		t->count[d] = n + 1;
		return;
	}
	if (!worse(hv[0], hi[0], v, item))
		return;					/* no better than the worst kept */
	hv[0] = v;
	hi[0] = item;
	sift_down(hv, hi, n, 0);
}

void
topk_add_rows(topk *t, const float *emb, int n, int id0)
{
	int			i, d;

	for (i = 0; i < n; i++)
	{
		const float *row = emb + (size_t) i * t->dims;

		for (d = 0; d < t->dims; d++)
			if (row[d] > 0.0f)
				topk_push(t, d, row[d], id0 + i);
	}
}

int
topk_sorted(const topk *t, int d, int *ids, float *vals)
{
	int			n = t->count[d], i, j;

	memcpy(vals, t->val + (size_t) d * t->k, sizeof(float) * n);
	memcpy(ids, t->id + (size_t) d * t->k, sizeof(int) * n);
	/* insertion sort, best first: k is small */
	for (i = 1; i < n; i++)
	{
		float		v = vals[i];
		int			id = ids[i];

		for (j = i; j > 0 && worse(vals[j - 1], ids[j - 1], v, id); j--)
		{
			vals[j] = vals[j - 1];
			ids[j] = ids[j - 1];
		}
		vals[j] = v;
		ids[j] = id;
	}
	return n;
}

void
naming_specific(float *emb, int n, int dims, float *mu, float *sd)
{
	int			i, d;

	for (i = 0; i < n; i++)
	{
		float	   *row = emb + (size_t) i * dims;
		double		s = 0.0, ss = 0.0, m, v;

		for (d = 0; d < dims; d++)
		{
			s += row[d];
			ss += (double) row[d] * row[d];
		}
		m = s / dims;
		v = ss / dims - m * m;
		mu[i] = (float) m;
		sd[i] = v > 0.0 ? (float) sqrt(v) : 0.0f;
		for (d = 0; d < dims; d++)
			row[d] = row[d] > 0.0f && sd[i] > 0.0f ? (float) ((row[d] - m) / sd[i]) : 0.0f;
	}
}

/* ---- words ---- */

size_t
naming_normalise(const char *in, char *out, size_t outlen)
{
	size_t		n = 0;
	int			space = 0;

	if (outlen == 0)
		return 0;
	for (; *in; in++)
	{
		unsigned char ch = (unsigned char) *in;

		if (ch == '_' || isspace(ch))
		{
			space = n > 0;
			continue;
		}
		if (space && n + 1 < outlen)
			out[n++] = ' ';
		space = 0;
		if (n + 1 < outlen)
			out[n++] = (char) tolower(ch);
	}
	out[n] = '\0';
	return n;
}

static uint64_t
hash_str(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

void
strset_init(strset *s)
{
	memset(s, 0, sizeof *s);
}

void
strset_free(strset *s)
{
	size_t		i;

	for (i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof *s);
}

static size_t
strset_find(const strset *s, const char *str)
{
	size_t		i = (size_t) hash_str(str) & (s->cap - 1);

	while (s->slot[i] && strcmp(s->slot[i], str) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

int
strset_has(const strset *s, const char *str)
{
	return s->cap > 0 && s->slot[strset_find(s, str)] != NULL;
}

int
strset_add(strset *s, const char *str)
{
	size_t		i;

	if (2 * (s->n + 1) > s->cap)
	{
		strset		g;
		size_t		j;

		g.cap = s->cap ? s->cap * 2 : 16;
		g.n = s->n;
		g.slot = calloc(g.cap, sizeof(char *));
		if (!g.slot)
			return -1;
		for (j = 0; j < s->cap; j++)
			if (s->slot[j])
				g.slot[strset_find(&g, s->slot[j])] = s->slot[j];
		free(s->slot);
		*s = g;
	}
	i = strset_find(s, str);
	if (s->slot[i])
		return 0;
	s->slot[i] = strdup(str);
	if (!s->slot[i])
		return -1;
	s->n++;
	return 1;
}

/*
 * WordNet: lemma -> synsets.  Lemmas live in one string set (for their
 * addresses); the index is a hash map from lemma to a list of synset ids,
 * and each synset lists its lemmas.
 */
struct wordnet
{
	size_t		nsyn, syncap;
	int		   *syn_first;		/* [nsyn + 1] into syn_lemma */
	char	  **syn_lemma;		/* normalised lemmas, grouped by synset */
	size_t		nlem, lemcap;
	/* lemma -> synsets: open addressing on (lemma, synset) pairs */
	size_t		cap;
	char	  **key;
	int		   *syn;
};

void
wordnet_free(wordnet *wn)
{
	size_t		i;

	if (!wn)
		return;
	for (i = 0; i < wn->nlem; i++)
		free(wn->syn_lemma[i]);
	free(wn->syn_lemma);
	free(wn->syn_first);
	free(wn->key);
	free(wn->syn);
	free(wn);
}

static int
wn_index(wordnet *wn)
{
	size_t		s, j;

	wn->cap = 16;
	while (wn->cap < 2 * wn->nlem + 16)
		wn->cap *= 2;
	wn->key = calloc(wn->cap, sizeof(char *));
	wn->syn = malloc(sizeof(int) * wn->cap);
	if (!wn->key || !wn->syn)
		return -1;
	for (s = 0; s < wn->nsyn; s++)
		for (j = (size_t) wn->syn_first[s]; j < (size_t) wn->syn_first[s + 1]; j++)
		{
			size_t		i = (size_t) hash_str(wn->syn_lemma[j]) & (wn->cap - 1);

			while (wn->key[i])
				i = (i + 1) & (wn->cap - 1);
			wn->key[i] = wn->syn_lemma[j];
			wn->syn[i] = (int) s;
		}
	return 0;
}

wordnet *
wordnet_load(const char *dir, char *err, size_t errlen)
{
	static const char *parts[] = {"noun", "verb", "adj", "adv"};
	wordnet    *wn = calloc(1, sizeof *wn);
	char		path[1024], line[16384];
	int			p, files = 0;

	if (!wn)
		return NULL;
	for (p = 0; p < 4; p++)
	{
		FILE	   *f;

		snprintf(path, sizeof path, "%s/data.%s", dir, parts[p]);
		if (!(f = fopen(path, "r")))
			continue;
		files++;
		while (fgets(line, sizeof line, f))
		{
			char	   *tok, *save = NULL;
			int			w, nw;

			if (line[0] == ' ')
				continue;		/* licence header */
			/* offset lex_filenum ss_type w_cnt (word lex_id){w_cnt} ... */
			if (!strtok_r(line, " ", &save) || !strtok_r(NULL, " ", &save) ||
				!strtok_r(NULL, " ", &save) || !(tok = strtok_r(NULL, " ", &save)))
				continue;
			nw = (int) strtol(tok, NULL, 16);
			if (wn->nsyn + 2 > wn->syncap)
			{
				wn->syncap = wn->syncap ? wn->syncap * 2 : 65536;
				wn->syn_first = realloc(wn->syn_first, sizeof(int) * wn->syncap);
			}
			wn->syn_first[wn->nsyn] = (int) wn->nlem;
			for (w = 0; w < nw; w++)
			{
				char		norm[256], *paren;

				if (!(tok = strtok_r(NULL, " ", &save)) || !strtok_r(NULL, " ", &save))
					break;
				/* adjective markers: big(a), ready_to_hand(p) */
				if ((paren = strchr(tok, '(')))
					*paren = '\0';
				naming_normalise(tok, norm, sizeof norm);
				if (wn->nlem + 1 > wn->lemcap)
				{
					wn->lemcap = wn->lemcap ? wn->lemcap * 2 : 262144;
					wn->syn_lemma = realloc(wn->syn_lemma, sizeof(char *) * wn->lemcap);
				}
				wn->syn_lemma[wn->nlem++] = strdup(norm);
			}
			wn->nsyn++;
			wn->syn_first[wn->nsyn] = (int) wn->nlem;
		}
		fclose(f);
	}
	if (files == 0 || wn->nsyn == 0)
	{
		snprintf(err, errlen, "no WordNet data files (data.noun ...) in %s", dir);
		wordnet_free(wn);
		return NULL;
	}
	if (wn_index(wn) < 0)
	{
		snprintf(err, errlen, "WordNet: out of memory");
		wordnet_free(wn);
		return NULL;
	}
	return wn;
}

void
wordnet_add_synonyms(const wordnet *wn, const char *word, strset *out)
{
	size_t		i;

	strset_add(out, word);
	if (!wn)
		return;
	for (i = (size_t) hash_str(word) & (wn->cap - 1); wn->key[i]; i = (i + 1) & (wn->cap - 1))
		if (strcmp(wn->key[i], word) == 0)
		{
			int			s = wn->syn[i], j;

			for (j = wn->syn_first[s]; j < wn->syn_first[s + 1]; j++)
				strset_add(out, wn->syn_lemma[j]);
		}
}

static int
stop_word(const char *w)
{
	static const char *stop[] = {"a", "an", "the", "of", "with", "and", "or", "in", "on", "at",
	"to", "for", "from", "by", "without", "over", "under", "into", "up", "down", "out", NULL};
	int			i;

	for (i = 0; stop[i]; i++)
		if (strcmp(w, stop[i]) == 0)
			return 1;
	return strlen(w) < 2;
}

void
naming_targets(const wordnet *wn, const char *class_name, strset *strict, strset *words)
{
	char		norm[512], w[128];
	const char *p;

	naming_normalise(class_name, norm, sizeof norm);
	wordnet_add_synonyms(wn, norm, strict);
	if (!words)
		return;
	wordnet_add_synonyms(wn, norm, words);
	/* content words: letters, digits, apostrophes; anything else splits */
	for (p = norm; *p;)
	{
		size_t		n = 0;

		while (*p && !(isalnum((unsigned char) *p) || *p == '\''))
			p++;
		while (*p && (isalnum((unsigned char) *p) || *p == '\''))
		{
			if (n + 1 < sizeof w)
				w[n++] = *p;
			p++;
		}
		w[n] = '\0';
		if (n == 0 || stop_word(w))
			continue;
		wordnet_add_synonyms(wn, w, words);
		if (n > 3 && w[n - 1] == 's')
		{
			w[n - 1] = '\0';
			wordnet_add_synonyms(wn, w, words);
			if (n > 4 && w[n - 2] == 'e')
			{
				w[n - 2] = '\0';
				wordnet_add_synonyms(wn, w, words);
			}
		}
	}
}

int
naming_hit(const char *const *names, int k, int use_names, const int *perm, const int *dims,
		   int n, const strset *targets)
{
	int			i, r;

	for (i = 0; i < n; i++)
	{
		int			d = perm ? perm[dims[i]] : dims[i];

		for (r = 0; r < use_names && r < k; r++)
		{
			const char *s = names[(size_t) d * k + r];

			if (!s)
				break;
			if (strset_has(targets, s))
				return 1;
		}
	}
	return 0;
}

int
naming_top_dims(const float *x, int dims, int n, int *out)
{
	int			got = 0, d, j;

	for (d = 0; d < dims; d++)
	{
		if (!(x[d] > 0.0f))
			continue;
		if (got == n && x[d] <= x[out[n - 1]])
			continue;
		/* insert in descending order; a tie keeps the earlier (lower) dimension first */
		j = got < n ? got++ : n - 1;
		while (j > 0 && x[out[j - 1]] < x[d])
		{
			out[j] = out[j - 1];
			j--;
		}
		out[j] = d;
	}
	return got;
}

void
naming_permutation(int *perm, int n, uint64_t seed)
{
	uint64_t	s = seed * 0x9E3779B97F4A7C15ULL + 1;
	int			i;

	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0; i--)
	{
		uint64_t	z;
		int			j, t;

		s += 0x9E3779B97F4A7C15ULL;
		z = s;
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		z ^= z >> 31;
		j = (int) (z % (uint64_t) (i + 1));
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}
