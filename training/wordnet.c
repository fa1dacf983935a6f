/*
 * wordnet.c - noun synonyms and hypernyms from WordNet's database files;
 * see wordnet.h and wndb(5WN) for the file format.
 */
#include "data.h"
#include "wordnet.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wn_db
{
	char	   *data;			/* data.noun, whole; synsets addressed by byte offset */
	size_t		data_len;
	char	   *index;			/* index.noun, whole; keys point into it */
	char	  **keys;			/* open-addressing table: lemma -> first synset offset */
	long	   *offs;
	size_t		cap;
};

static uint64_t
hash(const char *s, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;

	while (n--)
		h = (h ^ (unsigned char) *s++) * 1099511628211ULL;
	return h;
}

static long
lookup(const wn_db *db, const char *w, size_t n)
{
	size_t		h = hash(w, n) & (db->cap - 1);

	while (db->keys[h])
	{
		if (strncmp(db->keys[h], w, n) == 0 && db->keys[h][n] == '\0')
			return db->offs[h];
		h = (h + 1) & (db->cap - 1);
	}
	return -1;
}

wn_db *
wn_open(const char *dir, char *err, size_t errlen)
{
	wn_db	   *db = calloc(1, sizeof *db);
	char		path[1024];
	size_t		ilen, nlines = 0, i;
	char	   *p;

	if (!db)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(path, sizeof path, "%s/data.noun", dir);
	db->data = data_slurp(path, &db->data_len);
	snprintf(path, sizeof path, "%s/index.noun", dir);
	db->index = db->data ? data_slurp(path, &ilen) : NULL;
	if (!db->data || !db->index)
	{
		snprintf(err, errlen, "cannot read WordNet's %s (Debian package wordnet-base)", path);
		wn_close(db);
		return NULL;
	}
	for (i = 0; i < ilen; i++)
		nlines += db->index[i] == '\n';
	db->cap = 1;
	while (db->cap < 2 * (nlines + 1))
		db->cap <<= 1;
	db->keys = calloc(db->cap, sizeof(char *));
	db->offs = calloc(db->cap, sizeof(long));
	if (!db->keys || !db->offs)
	{
		snprintf(err, errlen, "out of memory");
		wn_close(db);
		return NULL;
	}
	/* "lemma pos synset_cnt p_cnt [ptr]... sense_cnt tagsense_cnt offset..." */
	for (p = db->index; *p;)
	{
		char	   *e = strchr(p, '\n'), *f[8], *q;
		int			nf = 0, ptrs;
		size_t		h;

		if (!e)
			break;
		*e = '\0';
		if (*p != ' ')
		{
			for (q = p; nf < 4 && q; nf++)
			{
				f[nf] = q;
				q = strchr(q, ' ');
				if (q)
					*q++ = '\0';
			}
			if (nf == 4 && q)
			{
				ptrs = atoi(f[3]);
				while (ptrs-- > -2 && q)	/* the pointers, then the two counts */
				{
					q = strchr(q, ' ');
					if (q)
						q++;
				}
				if (q && isdigit((unsigned char) *q))
				{
					h = hash(p, strlen(p)) & (db->cap - 1);
					while (db->keys[h])
						h = (h + 1) & (db->cap - 1);
					db->keys[h] = p;
					db->offs[h] = strtol(q, NULL, 10);
				}
			}
		}
		p = e + 1;
	}
	return db;
}

void
wn_close(wn_db *db)
{
	if (!db)
		return;
	free(db->data);
	free(db->index);
	free(db->keys);
	free(db->offs);
	free(db);
}

/* The word as an index key (lower case, '_' for ' '), then reduced plurals. */
static long
first_sense(const wn_db *db, const char *word, char *key, size_t keylen)
{
	static const char *const rules[][2] = {
		{"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"},
		{"men", "man"}, {"ies", "y"}, {"s", ""}
	};
	size_t		n = strlen(word), i;
	long		off;

	if (n == 0 || n + 4 >= keylen)
		return -1;
	for (i = 0; i < n; i++)
		key[i] = word[i] == ' ' ? '_' : (char) tolower((unsigned char) word[i]);
	key[n] = '\0';
	if ((off = lookup(db, key, n)) >= 0)
		return off;
	for (i = 0; i < sizeof rules / sizeof rules[0]; i++)
	{
		size_t		sl = strlen(rules[i][0]);

		if (n > sl + 1 && strcmp(key + n - sl, rules[i][0]) == 0)
		{
			char		b[256];

			if (n - sl + strlen(rules[i][1]) + 1 > sizeof b)
				continue;
			memcpy(b, key, n - sl);
			strcpy(b + n - sl, rules[i][1]);
			if ((off = lookup(db, b, strlen(b))) >= 0)
			{
				snprintf(key, keylen, "%s", b);
				return off;
			}
		}
	}
	return -1;
}

/* The synset line at OFF: "offset lexfile ss_type w_cnt(hex) word lex_id ... p_cnt ptr... | gloss" */
static const char *
synset_at(const wn_db *db, long off)
{
	if (off < 0 || (size_t) off >= db->data_len)
		return NULL;
	return db->data + off;
}

/* Words of a synset: calls back with each lemma (not NUL-terminated) */
static const char *
synset_words(const char *s, int *nwords)
{
	int			i;

	/* skip offset, lexfile, ss_type */
	for (i = 0; i < 3 && s; i++)
	{
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (!s)
		return NULL;
	*nwords = (int) strtol(s, NULL, 16);
	s = strchr(s, ' ');
	return s ? s + 1 : NULL;
}

static size_t
put_lemma(const char *w, size_t n, char *out, size_t outlen)
{
	size_t		i, k = 0;

	/* "bush(p)" style markers end the lemma */
	for (i = 0; i < n && w[i] != '(' && k + 1 < outlen; i++)
		out[k++] = w[i] == '_' ? ' ' : w[i];
	out[k] = '\0';
	return k;
}

static int
has_upper(const char *s)
{
	for (; *s; s++)
		if (isupper((unsigned char) *s))
			return 1;
	return 0;
}

int
wn_synonyms(const wn_db *db, const char *word, char *buf, size_t buflen)
{
	char		key[256], lem[256];
	long		off = first_sense(db, word, key, sizeof key);
	const char *s = synset_at(db, off);
	int			nw, i, count = 0;
	size_t		used = 0;

	if (!s || !(s = synset_words(s, &nw)))
		return 0;
	for (i = 0; i < nw && s; i++)
	{
		const char *e = strchr(s, ' ');
		size_t		n;

		if (!e)
			break;
		n = put_lemma(s, (size_t) (e - s), lem, sizeof lem);
		/* capitals: names and Latin binomials ("Canis familiaris"), no synonyms for a caption */
		if (n > 0 && strcasecmp(lem, word) != 0 && !has_upper(lem))
		{
			char		k2[256];
			size_t		j;

			for (j = 0; j <= n && j < sizeof k2; j++)
				k2[j] = lem[j] == ' ' ? '_' : (char) tolower((unsigned char) lem[j]);
			if (strcmp(k2, key) != 0 && used + n + 1 <= buflen)
			{
				memcpy(buf + used, lem, n + 1);
				used += n + 1;
				count++;
			}
		}
		/* skip the lemma and its lex_id */
		s = strchr(e + 1, ' ');
		if (s)
			s++;
	}
	return count;
}

int
wn_hypernym(const wn_db *db, const char *word, char *buf, size_t buflen)
{
	char		key[256];
	long		off = first_sense(db, word, key, sizeof key);
	const char *s = synset_at(db, off);
	int			nw, i, np;

	if (!s || !(s = synset_words(s, &nw)))
		return -1;
	for (i = 0; i < 2 * nw && s; i++)
	{
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (!s)
		return -1;
	np = atoi(s);
	s = strchr(s, ' ');
	/* pointers: "symbol offset pos source/target" */
	for (i = 0; i < np && s; i++)
	{
		const char *sym = s + 1;
		long		hoff;
		const char *h;
		int			hn;

		if (sym[0] == '@' && (sym[1] == ' ' || (sym[1] == 'i' && sym[2] == ' ')))
		{
			hoff = strtol(strchr(sym, ' ') + 1, NULL, 10);
			h = synset_at(db, hoff);
			if (h && (h = synset_words(h, &hn)) && hn > 0)
			{
				const char *e = strchr(h, ' ');

				if (!e)
					return -1;
				put_lemma(h, (size_t) (e - h), buf, buflen);
				return buf[0] ? 0 : -1;
			}
			return -1;
		}
		/* next pointer: skip 4 fields */
		{
			int			k;

			for (k = 0; k < 4 && s; k++)
				s = strchr(s + 1, ' ');
		}
	}
	return -1;
}
