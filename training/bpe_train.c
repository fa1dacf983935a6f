/*
 * bpe_train.c - BPE merge learning; see bpe_train.h.
 *
 * Words are kept once with a count.  Pair counts live in a hash table;
 * a lazy max-heap finds the most frequent pair (stale heap entries are
 * skipped when popped); each pair remembers the words it occurs in, so a
 * merge rewrites only those words.
 */
#include "bpe_train.h"
#include "text_clean.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

typedef struct word
{
	char	   *text;			/* the pre-token's bytes */
	int			len;
	long		count;
	int32_t    *sym;			/* current symbols */
	int			nsym;
} word;

typedef struct pairent
{
	uint64_t	key;			/* (a << 32) | b, 0 = empty (symbol ids start at 0, so key+1 stored) */
	long		count;
	int		   *words;			/* word ids, may repeat or be stale */
	int			nwords, capwords;
} pairent;

typedef struct heapent
{
	long		count;
	uint64_t	key;
	long		order;			/* push order: ties go to the earlier pair */
} heapent;

struct bpe_trainer
{
	/* word hash: open addressing over words[] indices */
	word	   *words;
	int			nwords, capwords;
	int		   *whash;
	size_t		whcap;
	/* symbols */
	char	  **symstr;
	int			nsyms, capsyms;
	/* pairs */
	pairent    *pairs;
	size_t		pcap, pn;
	heapent    *heap;
	size_t		hn, hcap;
	long		order;
	/* symbol-string set, to refuse a merge that repeats a token */
	char	  **sset;
	size_t		scap, sn;
};

static uint64_t
hash_str(const char *s, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char) s[i]) * 1099511628211ULL;
	return h;
}

static uint64_t
mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

bpe_trainer *
bpe_trainer_new(void)
{
	bpe_trainer *bt = calloc(1, sizeof(bpe_trainer));

	if (!bt)
		return NULL;
	bt->whcap = 1 << 16;
	bt->whash = malloc(bt->whcap * sizeof(int));
	if (!bt->whash)
	{
		free(bt);
		return NULL;
	}
	memset(bt->whash, -1, bt->whcap * sizeof(int));
	return bt;
}

void
bpe_trainer_free(bpe_trainer *bt)
{
	int			i;
	size_t		j;

	if (!bt)
		return;
	for (i = 0; i < bt->nwords; i++)
	{
		free(bt->words[i].text);
		free(bt->words[i].sym);
	}
	free(bt->words);
	free(bt->whash);
	for (i = 0; i < bt->nsyms; i++)
		free(bt->symstr[i]);
	free(bt->symstr);
	for (j = 0; j < bt->pcap; j++)
		free(bt->pairs ? bt->pairs[j].words : NULL);
	free(bt->pairs);
	free(bt->heap);
	free(bt->sset);
	free(bt);
}

static int
word_add(bpe_trainer *bt, const char *s, size_t n, int weight)
{
	size_t		mask, i;

	if ((size_t) bt->nwords * 2 >= bt->whcap)
	{
		size_t		ncap = bt->whcap * 2;
		int		   *nh = malloc(ncap * sizeof(int));
		int			w;

		if (!nh)
			return -1;
		memset(nh, -1, ncap * sizeof(int));
		for (w = 0; w < bt->nwords; w++)
		{
			i = hash_str(bt->words[w].text, bt->words[w].len) & (ncap - 1);
			while (nh[i] >= 0)
				i = (i + 1) & (ncap - 1);
			nh[i] = w;
		}
		free(bt->whash);
		bt->whash = nh;
		bt->whcap = ncap;
	}
	mask = bt->whcap - 1;
	i = hash_str(s, n) & mask;
	while (bt->whash[i] >= 0)
	{
		word	   *w = &bt->words[bt->whash[i]];

		if ((size_t) w->len == n && memcmp(w->text, s, n) == 0)
		{
			w->count += weight;
			return 0;
		}
		i = (i + 1) & mask;
	}
	if (bt->nwords == bt->capwords)
	{
		int			nc = bt->capwords ? bt->capwords * 2 : 4096;
		word	   *nw = realloc(bt->words, nc * sizeof(word));

		if (!nw)
			return -1;
		bt->words = nw;
		bt->capwords = nc;
	}
	{
		word	   *w = &bt->words[bt->nwords];

		memset(w, 0, sizeof *w);
		w->text = malloc(n);
		if (!w->text)
			return -1;
		memcpy(w->text, s, n);
		w->len = (int) n;
		w->count = weight;
	}
	bt->whash[i] = bt->nwords++;
	return 0;
}

static int
is_letter(int32_t c)
{
	utf8proc_category_t cat = utf8proc_category(c);

	return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

static int
is_number(int32_t c)
{
	utf8proc_category_t cat = utf8proc_category(c);

	return cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}

static size_t
contraction(const char *s, size_t n)
{
	static const char *const forms[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
	size_t		i;

	for (i = 0; i < sizeof forms / sizeof forms[0]; i++)
	{
		size_t		m = strlen(forms[i]);

		if (m <= n && memcmp(s, forms[i], m) == 0)
			return m;
	}
	return 0;
}

int
bpe_trainer_add(bpe_trainer *bt, const char *text, size_t len, int weight, char *err, size_t errlen)
{
	char	   *clean;
	size_t		clen, pos = 0;
	const utf8proc_uint8_t *u;

	if (clip_text_clean(text, len, &clean, &clen, err, errlen) < 0)
		return -1;
	u = (const utf8proc_uint8_t *) clean;
	while (pos < clen)
	{
		int32_t		c;
		utf8proc_ssize_t k = utf8proc_iterate(u + pos, (utf8proc_ssize_t) (clen - pos), &c);
		size_t		end, m;

		if (k <= 0)
			break;
		if (c == '\'' && (m = contraction(clean + pos, clen - pos)) > 0)
			end = pos + m;
		else if (is_number(c))
			end = pos + (size_t) k;
		else if (clip_is_space(c))
		{
			pos += (size_t) k;
			continue;
		}
		else
		{
			int			letters = is_letter(c);

			end = pos + (size_t) k;
			while (end < clen)
			{
				int32_t		d;
				utf8proc_ssize_t kk = utf8proc_iterate(u + end, (utf8proc_ssize_t) (clen - end), &d);

				if (kk <= 0 || clip_is_space(d) || is_number(d) || is_letter(d) != letters)
					break;
				end += (size_t) kk;
			}
		}
		if (word_add(bt, clean + pos, end - pos, weight) < 0)
		{
			free(clean);
			seterr(err, errlen, "BPE training: out of memory");
			return -1;
		}
		pos = end;
	}
	free(clean);
	return 0;
}

/* ---- symbols ---- */

/* CLIP's bytes_to_unicode: printable bytes map to themselves, the rest to 256+ */
static void
byte_unicode(int b, char *out)
{
	int			cp;

	if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
		cp = b;
	else
	{
		int			n = 0, x;

		for (x = 0; x < b; x++)
			if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)))
				n++;
		cp = 256 + n;
	}
	out[utf8proc_encode_char(cp, (utf8proc_uint8_t *) out)] = '\0';
}

static int
sset_has_or_add(bpe_trainer *bt, char *s, int add)
{
	size_t		i;

	if (add && bt->sn * 2 >= bt->scap)
	{
		size_t		nc = bt->scap ? bt->scap * 2 : 1 << 16, j;
		char	  **ns = calloc(nc, sizeof(char *));

		if (!ns)
			return -1;
		for (j = 0; j < bt->scap; j++)
			if (bt->sset[j])
			{
				size_t		h = hash_str(bt->sset[j], strlen(bt->sset[j])) & (nc - 1);

				while (ns[h])
					h = (h + 1) & (nc - 1);
				ns[h] = bt->sset[j];
			}
		free(bt->sset);
		bt->sset = ns;
		bt->scap = nc;
	}
	i = hash_str(s, strlen(s)) & (bt->scap - 1);
	while (bt->sset[i])
	{
		if (strcmp(bt->sset[i], s) == 0)
			return 1;
		i = (i + 1) & (bt->scap - 1);
	}
	if (add)
	{
		bt->sset[i] = s;
		bt->sn++;
	}
	return 0;
}

static int
sym_add(bpe_trainer *bt, char *s)
{
	if (bt->nsyms == bt->capsyms)
	{
		int			nc = bt->capsyms ? bt->capsyms * 2 : 1024;
		char	  **ns = realloc(bt->symstr, nc * sizeof(char *));

		if (!ns)
			return -1;
		bt->symstr = ns;
		bt->capsyms = nc;
	}
	if (sset_has_or_add(bt, s, 1) < 0)
		return -1;
	bt->symstr[bt->nsyms] = s;
	return bt->nsyms++;
}

/* ---- pairs ---- */

static pairent *
pair_get(bpe_trainer *bt, int32_t a, int32_t b, int create)
{
	uint64_t	key = (((uint64_t) (uint32_t) a << 32) | (uint32_t) b) + 1;
	size_t		i;

	if (create && bt->pn * 2 >= bt->pcap)
	{
		size_t		nc = bt->pcap ? bt->pcap * 2 : 1 << 16, j;
		pairent    *np = calloc(nc, sizeof(pairent));

		if (!np)
			return NULL;
		for (j = 0; j < bt->pcap; j++)
			if (bt->pairs[j].key)
			{
				size_t		h = mix(bt->pairs[j].key) & (nc - 1);

				while (np[h].key)
					h = (h + 1) & (nc - 1);
				np[h] = bt->pairs[j];
			}
		free(bt->pairs);
		bt->pairs = np;
		bt->pcap = nc;
	}
	if (!bt->pcap)
		return NULL;
	i = mix(key) & (bt->pcap - 1);
	while (bt->pairs[i].key)
	{
		if (bt->pairs[i].key == key)
			return &bt->pairs[i];
		i = (i + 1) & (bt->pcap - 1);
	}
	if (!create)
		return NULL;
	bt->pairs[i].key = key;
	bt->pn++;
	return &bt->pairs[i];
}

static int
heap_less(const heapent *x, const heapent *y)
{
	/* "less" = lower priority */
	if (x->count != y->count)
		return x->count < y->count;
	return x->order > y->order;
}

static int
heap_push(bpe_trainer *bt, long count, uint64_t key)
{
	size_t		i;

	if (bt->hn == bt->hcap)
	{
		size_t		nc = bt->hcap ? bt->hcap * 2 : 1 << 16;
		heapent    *nh = realloc(bt->heap, nc * sizeof(heapent));

		if (!nh)
			return -1;
		bt->heap = nh;
		bt->hcap = nc;
	}
	i = bt->hn++;
	bt->heap[i].count = count;
	bt->heap[i].key = key;
	bt->heap[i].order = bt->order++;
	while (i > 0 && heap_less(&bt->heap[(i - 1) / 2], &bt->heap[i]))
	{
		heapent		t = bt->heap[i];

		bt->heap[i] = bt->heap[(i - 1) / 2];
		bt->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
	return 0;
}

static heapent
heap_pop(bpe_trainer *bt)
{
	heapent		top = bt->heap[0];
	size_t		i = 0;

	bt->heap[0] = bt->heap[--bt->hn];
	for (;;)
	{
		size_t		l = 2 * i + 1, r = l + 1, m = i;

		if (l < bt->hn && heap_less(&bt->heap[m], &bt->heap[l]))
			m = l;
		if (r < bt->hn && heap_less(&bt->heap[m], &bt->heap[r]))
			m = r;
		if (m == i)
			break;
		{
			heapent		t = bt->heap[i];

			bt->heap[i] = bt->heap[m];
			bt->heap[m] = t;
		}
		i = m;
	}
	return top;
}

/* add delta occurrences of pair (a, b) in word w; dirty pairs are re-pushed later */
static int
pair_bump(bpe_trainer *bt, int32_t a, int32_t b, long delta, int w)
{
	pairent    *p = pair_get(bt, a, b, 1);

	if (!p)
		return -1;
	p->count += delta;
	if (p->count > 0 && heap_push(bt, p->count, p->key) < 0)
		return -1;
	if (delta > 0)
	{
		if (p->nwords == p->capwords)
		{
			int			nc = p->capwords ? p->capwords * 2 : 4;
			int		   *nw = realloc(p->words, nc * sizeof(int));

			if (!nw)
				return -1;
			p->words = nw;
			p->capwords = nc;
		}
		p->words[p->nwords++] = w;
	}
	return 0;
}

static int
word_pairs(bpe_trainer *bt, int w, int sign)
{
	word	   *wd = &bt->words[w];
	int			i;

	for (i = 0; i + 1 < wd->nsym; i++)
		if (pair_bump(bt, wd->sym[i], wd->sym[i + 1], sign * wd->count, w) < 0)
			return -1;
	return 0;
}

char *
bpe_trainer_merges(bpe_trainer *bt, int n_merges, char *err, size_t errlen)
{
	char		buf[8];
	int			b, w, r, *seen = NULL;
	size_t		outcap = 64, outlen;
	char	   *out = NULL;

	/* the 512 base symbols: id b is byte b, id 256 + b is byte b ending a word */
	for (b = 0; b < 512; b++)
	{
		char	   *s = malloc(24);

		if (!s)
			goto oom;
		byte_unicode(b & 255, buf);
		snprintf(s, 24, "%s%s", buf, b >= 256 ? "</w>" : "");
		if (sym_add(bt, s) < 0)
			goto oom;
	}
	for (w = 0; w < bt->nwords; w++)
	{
		word	   *wd = &bt->words[w];
		int			i;

		wd->sym = malloc(wd->len * sizeof(int32_t));
		if (!wd->sym)
			goto oom;
		for (i = 0; i < wd->len; i++)
			wd->sym[i] = (unsigned char) wd->text[i] + (i == wd->len - 1 ? 256 : 0);
		wd->nsym = wd->len;
		if (word_pairs(bt, w, 1) < 0)
			goto oom;
	}
	seen = calloc(bt->nwords > 0 ? bt->nwords : 1, sizeof(int));
	out = malloc(outcap);
	if (!seen || !out)
		goto oom;
	outlen = (size_t) snprintf(out, outcap, "#version: 0.2\n");

	for (r = 0; r < n_merges; r++)
	{
		pairent    *p = NULL;
		int32_t		a = 0, bb = 0, nsym;
		char	   *merged;
		int			k, nw;
		int		   *wl;

		/* the most frequent live pair whose merge is a new token */
		while (bt->hn > 0)
		{
			heapent		e = heap_pop(bt);
			pairent    *q;

			a = (int32_t) ((e.key - 1) >> 32);
			bb = (int32_t) ((e.key - 1) & 0xffffffffu);
			q = pair_get(bt, a, bb, 0);
			if (!q || q->count != e.count || q->count <= 0)
				continue;		/* stale */
			{
				size_t		la = strlen(bt->symstr[a]);
				size_t		lb = strlen(bt->symstr[bb]);

				/* a "</w>" can only end a token */
				if (la >= 4 && strcmp(bt->symstr[a] + la - 4, "</w>") == 0)
				{
					q->count = 0;
					continue;
				}
				merged = malloc(la + lb + 1);
				if (!merged)
					goto oom;
				memcpy(merged, bt->symstr[a], la);
				memcpy(merged + la, bt->symstr[bb], lb + 1);
			}
			if (sset_has_or_add(bt, merged, 0))
			{
				free(merged);
				q->count = 0;	/* would repeat a token: never take it */
				continue;
			}
			p = q;
			break;
		}
		if (!p)
		{
			seterr(err, errlen, "BPE training: the texts give only %d merges, %d wanted "
				   "(use a smaller vocab_size or more text)", r, n_merges);
			goto fail;
		}
		nsym = sym_add(bt, merged);
		if (nsym < 0)
			goto oom;
		while (outlen + strlen(bt->symstr[a]) + strlen(bt->symstr[bb]) + 3 > outcap)
		{
			char	   *no = realloc(out, outcap * 2);

			if (!no)
				goto oom;
			out = no;
			outcap *= 2;
		}
		outlen += (size_t) sprintf(out + outlen, "%s %s\n", bt->symstr[a], bt->symstr[bb]);

		/* rewrite the words holding the pair (each once) */
		wl = p->words;
		nw = p->nwords;
		p->words = NULL;
		p->nwords = p->capwords = 0;
		for (k = 0; k < nw; k++)
		{
			word	   *wd = &bt->words[wl[k]];
			int			i, j, has = 0;

			if (seen[wl[k]] == r + 1)
				continue;
			seen[wl[k]] = r + 1;
			for (i = 0; i + 1 < wd->nsym; i++)
				if (wd->sym[i] == a && wd->sym[i + 1] == bb)
					has = 1;
			if (!has)
				continue;
			if (word_pairs(bt, wl[k], -1) < 0)
				goto oom;
			for (i = 0, j = 0; i < wd->nsym; j++)
			{
				if (i + 1 < wd->nsym && wd->sym[i] == a && wd->sym[i + 1] == bb)
				{
					wd->sym[j] = nsym;
					i += 2;
				}
				else
					wd->sym[j] = wd->sym[i++];
			}
			wd->nsym = j;
			if (word_pairs(bt, wl[k], 1) < 0)
				goto oom;
		}
		free(wl);
	}
	free(seen);
	return out;

oom:
	seterr(err, errlen, "BPE training: out of memory");
fail:
	free(seen);
	free(out);
	return NULL;
}
