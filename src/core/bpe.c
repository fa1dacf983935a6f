/*
 * bpe.c - CLIP's byte-level BPE tokenizer, as open_clip's SimpleTokenizer.
 *
 * Symbols are vocabulary ids; a symbol's identity is its string in CLIP's
 * byte-to-unicode alphabet, as in Python, so two merges that spell the same
 * string give the same id (the later one, as Python's dict(zip()) keeps).
 *
 * Merging follows SimpleTokenizer.bpe(): repeatedly take the best-ranked
 * adjacent pair and merge all its non-overlapping occurrences left to right.
 * A heap of candidate pairs keyed by (rank, position) makes that O(n log n)
 * instead of quadratic; all entries of one rank are taken out before any
 * merge of that rank so a merge never runs ahead of Python's round order.
 */
#include "errmsg.h"
#include "bpe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_clean.h"

#define SOT_TEXT "<start_of_text>"
#define EOT_TEXT "<end_of_text>"
#define EOW_TEXT "</w>"
#define N_BYTE_SYMBOLS 256
/* the byte-to-unicode alphabet uses U+0021..U+00FF and U+0100..U+0143 */
#define ALPHABET_CPS 0x144

typedef struct
{
	uint64_t	key;			/* left id << 32 | right id; 0 marks empty */
	int32_t		rank;
	int32_t		merged;
} PairSlot;

struct ClipTokenizer
{
	int			vocab_size;
	int			n_merges;
	int32_t		sot_id;
	int32_t		eot_id;
	int32_t		byte_id[N_BYTE_SYMBOLS];	/* id of byte b; +256 ends a word */
	int16_t		cp_byte[ALPHABET_CPS];	/* alphabet code point -> byte, or -1 */

	char	   *arena;			/* all vocabulary strings, UTF-8 */
	uint32_t   *str_off;
	uint32_t   *str_len;

	uint32_t	str_mask;		/* string -> id, open addressing */
	int32_t    *str_slots;
	uint32_t	pair_mask;		/* (id, id) -> rank, merged id */
	PairSlot   *pair_slots;
};

static uint32_t
hash_bytes(const char *s, size_t n)
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char) s[i]) * 16777619u;
	return h;
}

static uint32_t
hash_pair(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (uint32_t) key;
}

static uint32_t
pow2_at_least(uint64_t n)
{
	uint32_t	c = 16;

	while (c < n)
		c <<= 1;
	return c;
}

/* CLIP's bytes_to_unicode(): printable Latin-1 bytes stand for themselves. */
static int
byte_is_printable(int b)
{
	return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

static int32_t
str_find(const ClipTokenizer *tok, const char *s, size_t n)
{
	uint32_t	h = hash_bytes(s, n) & tok->str_mask;

	for (;; h = (h + 1) & tok->str_mask)
	{
		int32_t		id = tok->str_slots[h];

		if (id < 0)
			return -1;
		if (tok->str_len[id] == n && memcmp(tok->arena + tok->str_off[id], s, n) == 0)
			return id;
	}
}

/* Insert id under its string; a later id with the same string wins. */
static void
str_insert(ClipTokenizer *tok, int32_t id)
{
	const char *s = tok->arena + tok->str_off[id];
	size_t		n = tok->str_len[id];
	uint32_t	h = hash_bytes(s, n) & tok->str_mask;

	for (;; h = (h + 1) & tok->str_mask)
	{
		int32_t		old = tok->str_slots[h];

		if (old < 0 || (tok->str_len[old] == n &&
						memcmp(tok->arena + tok->str_off[old], s, n) == 0))
		{
			tok->str_slots[h] = id;
			return;
		}
	}
}

static const PairSlot *
pair_find(const ClipTokenizer *tok, int32_t a, int32_t b)
{
	uint64_t	key = ((uint64_t) (uint32_t) a << 32) | (uint32_t) b;
	uint32_t	h;

	key += 1;					/* keep 0 free as the empty marker */
	for (h = hash_pair(key) & tok->pair_mask;; h = (h + 1) & tok->pair_mask)
	{
		const PairSlot *p = &tok->pair_slots[h];

		if (p->key == 0)
			return NULL;
		if (p->key == key)
			return p;
	}
}

static void
pair_insert(ClipTokenizer *tok, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
	uint64_t	key = (((uint64_t) (uint32_t) a << 32) | (uint32_t) b) + 1;
	uint32_t	h;

	for (h = hash_pair(key) & tok->pair_mask;; h = (h + 1) & tok->pair_mask)
	{
		PairSlot   *p = &tok->pair_slots[h];

		if (p->key == 0 || p->key == key)
		{
			p->key = key;
			p->rank = rank;
			p->merged = merged;
			return;
		}
	}
}

void
clip_tokenizer_free(ClipTokenizer *tok)
{
	if (!tok)
		return;
	free(tok->arena);
	free(tok->str_off);
	free(tok->str_len);
	free(tok->str_slots);
	free(tok->pair_slots);
	free(tok);
}

static int
is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Check that a vocabulary string only uses the byte alphabet. */
static int
in_alphabet(const ClipTokenizer *tok, const char *s, size_t n, int32_t *bad)
{
	utf8proc_ssize_t pos = 0;

	while ((size_t) pos < n)
	{
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *) s + pos,
											  (utf8proc_ssize_t) n - pos, &c);

		if (k <= 0)
		{
			*bad = -1;
			return 0;
		}
		if (c >= ALPHABET_CPS || tok->cp_byte[c] < 0)
		{
			*bad = c;
			return 0;
		}
		pos += k;
	}
	return 1;
}

ClipTokenizer *
clip_tokenizer_new(const char *merges_text, size_t merges_len, int vocab_size,
				   char *err, size_t errlen)
{
	ClipTokenizer *tok;
	size_t		pos,
				arena_cap,
				arena_n = 0;
	int			b,
				r;
	int32_t		id_cp[N_BYTE_SYMBOLS];
	const char **line_start = NULL;
	size_t	   *line_len = NULL;

	if (vocab_size < 2 * N_BYTE_SYMBOLS + 2 || vocab_size > (1 << 24))
	{
		sc_seterr(err, errlen, "vocab_size %d out of range (needs 514 .. 16777216)", vocab_size);
		return NULL;
	}
	if (!merges_text)
	{
		sc_seterr(err, errlen, "no merges text");
		return NULL;
	}
	for (pos = 0; pos < merges_len;)
	{
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *) merges_text + pos,
											  (utf8proc_ssize_t) (merges_len - pos), &c);

		if (k <= 0)
		{
			sc_seterr(err, errlen, "merges text is not valid UTF-8 (byte %zu)", pos);
			return NULL;
		}
		pos += (size_t) k;
	}

	tok = calloc(1, sizeof(*tok));
	if (!tok)
		goto oom;
	tok->vocab_size = vocab_size;
	tok->n_merges = vocab_size - 2 * N_BYTE_SYMBOLS - 2;
	tok->sot_id = vocab_size - 2;
	tok->eot_id = vocab_size - 1;

	/* Find the merge lines: line 0 is the version comment. */
	line_start = malloc(sizeof(*line_start) * (size_t) tok->n_merges + 1);
	line_len = malloc(sizeof(*line_len) * (size_t) tok->n_merges + 1);
	if (!line_start || !line_len)
		goto oom;
	{
		const char *p = merges_text,
				   *end = merges_text + merges_len;
		const char *nl = memchr(p, '\n', merges_len);

		p = nl ? nl + 1 : end;
		for (r = 0; r < tok->n_merges; r++)
		{
			const char *e;

			if (p >= end)
			{
				sc_seterr(err, errlen, "merges text has %d merge lines, vocab_size %d needs %d",
						r, vocab_size, tok->n_merges);
				goto fail;
			}
			e = memchr(p, '\n', (size_t) (end - p));
			if (!e)
				e = end;
			line_start[r] = p;
			line_len[r] = (size_t) (e - p);
			p = e < end ? e + 1 : end;
		}
	}

	/* bytes_to_unicode(): printable bytes first, in order, then the rest as U+0100.. */
	for (b = 0; b < ALPHABET_CPS; b++)
		tok->cp_byte[b] = -1;
	{
		int			next_id = 0,
					n_other = 0;

		for (b = 0; b < N_BYTE_SYMBOLS; b++)
			if (byte_is_printable(b))
			{
				id_cp[next_id] = b;
				tok->byte_id[b] = next_id++;
				tok->cp_byte[b] = (int16_t) b;
			}
		for (b = 0; b < N_BYTE_SYMBOLS; b++)
			if (!byte_is_printable(b))
			{
				id_cp[next_id] = N_BYTE_SYMBOLS + n_other;
				tok->byte_id[b] = next_id++;
				tok->cp_byte[N_BYTE_SYMBOLS + n_other++] = (int16_t) b;
			}
	}

	tok->str_off = malloc(sizeof(uint32_t) * (size_t) vocab_size);
	tok->str_len = malloc(sizeof(uint32_t) * (size_t) vocab_size);
	arena_cap = 2 * N_BYTE_SYMBOLS * 8 + sizeof(SOT_TEXT) + sizeof(EOT_TEXT);
	for (r = 0; r < tok->n_merges; r++)
		arena_cap += line_len[r];
	tok->arena = malloc(arena_cap);
	if (!tok->str_off || !tok->str_len || !tok->arena)
		goto oom;

	/* 256 byte symbols, then the same ending a word */
	for (b = 0; b < 2 * N_BYTE_SYMBOLS; b++)
	{
		tok->str_off[b] = (uint32_t) arena_n;
		arena_n += (size_t) utf8proc_encode_char(id_cp[b % N_BYTE_SYMBOLS],
												(utf8proc_uint8_t *) tok->arena + arena_n);
		if (b >= N_BYTE_SYMBOLS)
		{
			memcpy(tok->arena + arena_n, EOW_TEXT, 4);
			arena_n += 4;
		}
		tok->str_len[b] = (uint32_t) (arena_n - tok->str_off[b]);
	}
	/* one symbol per merge: its two halves joined */
	for (r = 0; r < tok->n_merges; r++)
	{
		int32_t		id = 2 * N_BYTE_SYMBOLS + r,
					bad;
		size_t		i;

		tok->str_off[id] = (uint32_t) arena_n;
		for (i = 0; i < line_len[r]; i++)
			if (!is_sep(line_start[r][i]))
				tok->arena[arena_n++] = line_start[r][i];
		tok->str_len[id] = (uint32_t) (arena_n - tok->str_off[id]);
		if (tok->str_len[id] == 0)
		{
			sc_seterr(err, errlen, "merges text line %d is empty", r + 2);
			goto fail;
		}
		if (!in_alphabet(tok, tok->arena + tok->str_off[id], tok->str_len[id], &bad))
		{
			sc_seterr(err, errlen, "merges text line %d: U+%04X is not in CLIP's byte alphabet",
					r + 2, (unsigned) bad);
			goto fail;
		}
	}
	tok->str_off[tok->sot_id] = (uint32_t) arena_n;
	memcpy(tok->arena + arena_n, SOT_TEXT, sizeof(SOT_TEXT) - 1);
	arena_n += sizeof(SOT_TEXT) - 1;
	tok->str_len[tok->sot_id] = sizeof(SOT_TEXT) - 1;
	tok->str_off[tok->eot_id] = (uint32_t) arena_n;
	memcpy(tok->arena + arena_n, EOT_TEXT, sizeof(EOT_TEXT) - 1);
	tok->str_len[tok->eot_id] = sizeof(EOT_TEXT) - 1;

	tok->str_mask = pow2_at_least(2 * (uint64_t) vocab_size) - 1;
	tok->str_slots = malloc(sizeof(int32_t) * ((size_t) tok->str_mask + 1));
	tok->pair_mask = pow2_at_least(2 * (uint64_t) tok->n_merges + 2) - 1;
	tok->pair_slots = calloc((size_t) tok->pair_mask + 1, sizeof(PairSlot));
	if (!tok->str_slots || !tok->pair_slots)
		goto oom;
	memset(tok->str_slots, 0xff, sizeof(int32_t) * ((size_t) tok->str_mask + 1));
	for (r = 0; r < vocab_size; r++)
		str_insert(tok, r);

	/* ranks: a merge whose halves are not both symbols can never apply */
	for (r = 0; r < tok->n_merges; r++)
	{
		const char *s = line_start[r],
				   *e = s + line_len[r];
		const char *a0,
				   *a1,
				   *b0,
				   *b1;
		int32_t		ia,
					ib,
					im;

		for (a0 = s; a0 < e && is_sep(*a0); a0++)
			;
		for (a1 = a0; a1 < e && !is_sep(*a1); a1++)
			;
		for (b0 = a1; b0 < e && is_sep(*b0); b0++)
			;
		for (b1 = b0; b1 < e && !is_sep(*b1); b1++)
			;
		for (s = b1; s < e && is_sep(*s); s++)
			;
		if (a1 == a0 || b1 == b0 || s != e)
			continue;
		ia = str_find(tok, a0, (size_t) (a1 - a0));
		ib = str_find(tok, b0, (size_t) (b1 - b0));
		im = str_find(tok, tok->arena + tok->str_off[2 * N_BYTE_SYMBOLS + r],
					  tok->str_len[2 * N_BYTE_SYMBOLS + r]);
		if (ia < 0 || ib < 0)
			continue;
		pair_insert(tok, ia, ib, r, im);
	}
	free(line_start);
	free(line_len);
	return tok;

oom:
	sc_seterr(err, errlen, "out of memory building the tokenizer");
fail:
	free(line_start);
	free(line_len);
	clip_tokenizer_free(tok);
	return NULL;
}

int
clip_tokenizer_vocab_size(const ClipTokenizer *tok)
{
	return tok->vocab_size;
}

int32_t
clip_tokenizer_sot_id(const ClipTokenizer *tok)
{
	return tok->sot_id;
}

int32_t
clip_tokenizer_eot_id(const ClipTokenizer *tok)
{
	return tok->eot_id;
}

/* ---- merging one pre-token ---- */

typedef struct
{
	int32_t		rank;
	int32_t		pos;
	int32_t		left;
	int32_t		right;
	int32_t		merged;
} HeapEntry;

typedef struct
{
	int32_t    *sym;
	int32_t    *next;
	int32_t    *prev;
	HeapEntry  *heap;
	HeapEntry  *batch;
	size_t		cap;			/* symbols */
	size_t		heap_n;
} Scratch;

static void
scratch_free(Scratch *sc)
{
	free(sc->sym);
	free(sc->next);
	free(sc->prev);
	free(sc->heap);
	free(sc->batch);
}

static int
scratch_reserve(Scratch *sc, size_t n)
{
	size_t		cap = sc->cap ? sc->cap : 64;
	int32_t    *sym,
			   *next,
			   *prev;
	HeapEntry  *heap,
			   *batch;

	if (n <= sc->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	/* each merge adds at most two candidates to the n - 1 initial ones */
	sym = realloc(sc->sym, cap * sizeof(int32_t));
	if (sym)
		sc->sym = sym;
	next = realloc(sc->next, cap * sizeof(int32_t));
	if (next)
		sc->next = next;
	prev = realloc(sc->prev, cap * sizeof(int32_t));
	if (prev)
		sc->prev = prev;
	heap = realloc(sc->heap, 3 * cap * sizeof(HeapEntry));
	if (heap)
		sc->heap = heap;
	batch = realloc(sc->batch, 3 * cap * sizeof(HeapEntry));
	if (batch)
		sc->batch = batch;
	if (!sym || !next || !prev || !heap || !batch)
		return -1;
	sc->cap = cap;
	return 0;
}

static int
entry_less(const HeapEntry *a, const HeapEntry *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void
heap_push(Scratch *sc, HeapEntry e)
{
	size_t		i = sc->heap_n++;

	while (i > 0)
	{
		size_t		parent = (i - 1) / 2;

		if (!entry_less(&e, &sc->heap[parent]))
			break;
		sc->heap[i] = sc->heap[parent];
		i = parent;
	}
	sc->heap[i] = e;
}

static HeapEntry
heap_pop(Scratch *sc)
{
	HeapEntry	top = sc->heap[0],
				last = sc->heap[--sc->heap_n];
	size_t		i = 0,
				n = sc->heap_n;

	for (;;)
	{
		size_t		c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && entry_less(&sc->heap[c + 1], &sc->heap[c]))
			c++;
		if (!entry_less(&sc->heap[c], &last))
			break;
		sc->heap[i] = sc->heap[c];
		i = c;
	}
	if (n > 0)
		sc->heap[i] = last;
	return top;
}

static void
push_candidate(const ClipTokenizer *tok, Scratch *sc, int32_t pos)
{
	int32_t		nx;
	const PairSlot *p;
	HeapEntry	e;

	if (pos < 0 || (nx = sc->next[pos]) < 0)
		return;
	p = pair_find(tok, sc->sym[pos], sc->sym[nx]);
	if (!p || p->merged < 0)
		return;
	e.rank = p->rank;
	e.pos = pos;
	e.left = sc->sym[pos];
	e.right = sc->sym[nx];
	e.merged = p->merged;
	heap_push(sc, e);
}

/*
 * BPE of one pre-token's bytes; the ids are left in sc->sym along the
 * sc->next chain starting at 0.
 */
static void
bpe_word(const ClipTokenizer *tok, Scratch *sc, const unsigned char *s, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		sc->sym[i] = tok->byte_id[s[i]] + (i + 1 == n ? N_BYTE_SYMBOLS : 0);
		sc->next[i] = i + 1 < n ? (int32_t) i + 1 : -1;
		sc->prev[i] = (int32_t) i - 1;
	}
	sc->heap_n = 0;
	for (i = 0; i + 1 < n; i++)
		push_candidate(tok, sc, (int32_t) i);
	while (sc->heap_n > 0)
	{
		int32_t		rank = sc->heap[0].rank;
		size_t		nb = 0,
					k;

		while (sc->heap_n > 0 && sc->heap[0].rank == rank)
			sc->batch[nb++] = heap_pop(sc);
		for (k = 0; k < nb; k++)
		{
			const HeapEntry *e = &sc->batch[k];
			int32_t		pos = e->pos,
						nx = sc->next[pos];

			/* stale if either side changed since it was queued */
			if (sc->prev[pos] == -2 || sc->sym[pos] != e->left || nx < 0 ||
				sc->sym[nx] != e->right)
				continue;
			sc->sym[pos] = e->merged;
			sc->next[pos] = sc->next[nx];
			if (sc->next[nx] >= 0)
				sc->prev[sc->next[nx]] = pos;
			sc->prev[nx] = -2;	/* dead */
			push_candidate(tok, sc, sc->prev[pos]);
			push_candidate(tok, sc, pos);
		}
	}
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

static int
ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/*
 * Length in bytes of a match of lit (lower-case ASCII) at s under the
 * pattern's IGNORECASE, or 0.  Case-insensitively 's' also matches U+017F
 * LATIN SMALL LETTER LONG S, the one non-ASCII character that folds onto a
 * letter of these literals, which is how "'\u017f" still reads as 's.
 */
static size_t
match_ci(const char *s, size_t n, const char *lit)
{
	size_t		i = 0;

	for (; *lit; lit++)
	{
		if (i < n && ascii_lower((unsigned char) s[i]) == *lit)
			i++;
		else if (*lit == 's' && i + 1 < n && (unsigned char) s[i] == 0xC5 &&
				 (unsigned char) s[i + 1] == 0xBF)
			i += 2;
		else
			return 0;
	}
	return i;
}

/* Length of a contraction ('s 't 're 've 'm 'll 'd) at s, or 0. */
static size_t
contraction_len(const char *s, size_t n)
{
	static const char *const forms[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
	size_t		i,
				m;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if ((m = match_ci(s, n, forms[i])) > 0)
			return m;
	return 0;
}

/*
 * [^\s\p{L}\p{N}] under IGNORECASE: a character is kept out of the
 * punctuation class also when one of its case variants is a letter or a
 * number (U+0345 COMBINING YPOGEGRAMMENI, upper-case Iota), while [\p{L}]
 * itself does not take it: such a character belongs to no pre-token.
 */
static int
is_other(int32_t c)
{
	int32_t		v[3];
	int			i;

	if (is_letter(c) || is_number(c) || clip_is_space(c))
		return 0;
	v[0] = utf8proc_tolower(c);
	v[1] = utf8proc_toupper(c);
	v[2] = utf8proc_totitle(c);
	for (i = 0; i < 3; i++)
		if (v[i] != c && (is_letter(v[i]) || is_number(v[i])))
			return 0;
	return 1;
}

int
clip_tokenizer_encode_clean(const ClipTokenizer *tok, const char *clean, size_t len,
							int32_t *ids, int max_ids, int *n_ids, int *more,
							char *err, size_t errlen)
{
	Scratch		sc = {0};
	size_t		pos = 0;
	int			count = 0,
				more_ = 0,
				rc = 0;
	const utf8proc_uint8_t *u = (const utf8proc_uint8_t *) clean;

	while (pos < len)
	{
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(u + pos, (utf8proc_ssize_t) (len - pos), &c);
		size_t		start = pos,
					end,
					m;
		int32_t		special = -1;

		if (k <= 0)
		{
			sc_seterr(err, errlen, "invalid UTF-8 in text at byte %zu", pos);
			rc = -1;
			break;
		}
		/*
		 * CLIP's pattern, alternatives in order, leftmost first.  A special
		 * token is its id only when spelled exactly (open_clip's cache);
		 * otherwise the matched text goes through BPE like any word.
		 */
		if ((m = match_ci(clean + pos, len - pos, SOT_TEXT)) > 0 ||
			(m = match_ci(clean + pos, len - pos, EOT_TEXT)) > 0)
		{
			end = pos + m;
			if (m == sizeof(SOT_TEXT) - 1 && memcmp(clean + pos, SOT_TEXT, m) == 0)
				special = tok->sot_id;
			else if (m == sizeof(EOT_TEXT) - 1 && memcmp(clean + pos, EOT_TEXT, m) == 0)
				special = tok->eot_id;
		}
		else if (c == '\'' && (m = contraction_len(clean + pos, len - pos)) > 0)
			end = pos + m;
		else if (is_number(c))
			end = pos + (size_t) k;
		else if (is_letter(c) || is_other(c))
		{
			int			letters = is_letter(c);

			end = pos + (size_t) k;
			while (end < len)
			{
				k = utf8proc_iterate(u + end, (utf8proc_ssize_t) (len - end), &c);
				if (k <= 0)
					break;		/* reported on the next pre-token */
				if (letters ? !is_letter(c) : !is_other(c))
					break;
				end += (size_t) k;
			}
		}
		else
		{
			/* whitespace, or a character no alternative takes */
			pos += (size_t) k;
			continue;
		}
		pos = end;
		if (count == max_ids)
		{
			more_ = 1;
			break;
		}
		if (special >= 0)
		{
			ids[count++] = special;
			continue;
		}
		if (scratch_reserve(&sc, end - start) < 0)
		{
			sc_seterr(err, errlen, "out of memory in BPE");
			rc = -1;
			break;
		}
		bpe_word(tok, &sc, (const unsigned char *) clean + start, end - start);
		{
			int32_t		p;

			for (p = 0; p >= 0; p = sc.next[p])
			{
				if (count == max_ids)
				{
					more_ = 1;
					break;
				}
				ids[count++] = sc.sym[p];
			}
		}
		if (more_)
			break;
	}
	scratch_free(&sc);
	*n_ids = count;
	if (more)
		*more = more_;
	return rc;
}

int
clip_tokenizer_encode(const ClipTokenizer *tok, const char *text, size_t len,
					  int context_length, int32_t *ids, int *n_ids,
					  int *truncated, char *err, size_t errlen)
{
	char	   *clean;
	size_t		clean_len;
	int			n_text = 0,
				more = 0,
				i;

	*n_ids = 0;
	if (truncated)
		*truncated = 0;
	if (context_length < 2)
	{
		sc_seterr(err, errlen, "context_length %d is too small (at least 2)", context_length);
		return -1;
	}
	if (clip_text_clean(text, len, &clean, &clean_len, err, errlen) < 0)
		return -1;
	if (clip_tokenizer_encode_clean(tok, clean, clean_len, ids + 1, context_length - 2,
									&n_text, &more, err, errlen) < 0)
	{
		free(clean);
		return -1;
	}
	free(clean);
	ids[0] = tok->sot_id;
	ids[n_text + 1] = tok->eot_id;
	for (i = n_text + 2; i < context_length; i++)
		ids[i] = 0;
	*n_ids = n_text + 2;
	if (truncated)
		*truncated = more;
	return 0;
}

/* Append bytes decoded as UTF-8, each maximal invalid part becoming U+FFFD as CPython does. */
static size_t
utf8_replace(const unsigned char *s, size_t n, char *out)
{
	size_t		i = 0,
				o = 0;

	while (i < n)
	{
		unsigned char c = s[i];
		size_t		need,
					j;
		unsigned char lo = 0x80,
					hi = 0xBF;

		if (c < 0x80)
		{
			out[o++] = (char) c;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			need = 2;
			if (c == 0xE0)
				lo = 0xA0;
			if (c == 0xED)
				hi = 0x9F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			need = 3;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		}
		else
			need = 0;
		for (j = 1; need > 0 && j <= need && i + j < n; j++)
		{
			unsigned char d = s[i + j];

			if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF))
				break;
		}
		if (need > 0 && j == need + 1)
		{
			memcpy(out + o, s + i, need + 1);
			o += need + 1;
			i += need + 1;
		}
		else
		{
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += need > 0 ? j : 1;
		}
	}
	return o;
}

int
clip_tokenizer_decode(const ClipTokenizer *tok, const int32_t *ids, int n_ids,
					  int skip_special, char **out, size_t *out_len,
					  char *err, size_t errlen)
{
	size_t		cap = 1,
				n = 0,
				i;
	unsigned char *raw;
	char	   *res;

	*out = NULL;
	*out_len = 0;
	for (i = 0; i < (size_t) (n_ids > 0 ? n_ids : 0); i++)
	{
		if (ids[i] < 0 || ids[i] >= tok->vocab_size)
		{
			sc_seterr(err, errlen, "token id %d out of range (vocabulary of %d)",
					(int) ids[i], tok->vocab_size);
			return -1;
		}
		cap += tok->str_len[ids[i]];
	}
	raw = malloc(cap);
	res = malloc(3 * cap + 1);
	if (!raw || !res)
	{
		free(raw);
		free(res);
		sc_seterr(err, errlen, "out of memory decoding tokens");
		return -1;
	}
	for (i = 0; i < (size_t) (n_ids > 0 ? n_ids : 0); i++)
	{
		int32_t		id = ids[i];
		const char *s = tok->arena + tok->str_off[id];
		size_t		len = tok->str_len[id],
					p = 0;

		if (id == tok->sot_id || id == tok->eot_id)
		{
			if (!skip_special)
			{
				memcpy(raw + n, s, len);
				n += len;
			}
			continue;
		}
		while (p < len)
		{
			utf8proc_int32_t c;
			utf8proc_ssize_t k;

			k = utf8proc_iterate((const utf8proc_uint8_t *) s + p, (utf8proc_ssize_t) (len - p), &c);
			/* vocabulary strings were checked against the alphabet when built */
			raw[n++] = (unsigned char) tok->cp_byte[c];
			p += (size_t) k;
		}
	}
	n = utf8_replace(raw, n, res);
	/* then "</w>" reads as a space, wherever it came from */
	{
		size_t		r = 0,
					w = 0;

		while (r < n)
		{
			if (n - r >= 4 && memcmp(res + r, EOW_TEXT, 4) == 0)
			{
				res[w++] = ' ';
				r += 4;
			}
			else
				res[w++] = res[r++];
		}
		n = w;
	}
	res[n] = '\0';
	*out_len = n;
	*out = res;
	free(raw);
	return 0;
}
