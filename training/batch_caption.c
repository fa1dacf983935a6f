/*
 * batch_caption.c - the words and captions of a training batch: colour and
 * flip words, left/right swaps, tag shuffles, WordNet synonyms and
 * hypernyms, templates (batch.h lists the options).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch_internal.h"

/* ---------- words ---------- */

const char *const batch_colour_words[] = {
	"red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black",
	"white", "gray", "grey", "gold", "golden", "silver", "colour", "color", "colored", "coloured",
	"beige", "cyan", "magenta", "teal", "turquoise", "navy", "maroon", "tone", "blond", "blonde",
	"ginger", "indigo", "lime", "crimson", "scarlet", "amber", "bronze", "rainbow",
	"flag", "flags",				/* a flag's colours are what it is */
	NULL
};

/* mirrored, these show something else or nothing readable */
const char *const batch_noflip_words[] = {
	"flag", "flags", "letter", "letters", "keycap", "digit", "number", "numbers", "numeral", "text",
	"button", "sign", "alphabet", "abc", "font", "character", "clock", "o", "symbol", "logo", "brand",
	"word", "words", NULL
};

int
batch_has_word(const char *text, const char *const *words)
{
	const char *p = text;

	while (*p)
	{
		const char *s;
		size_t		n;
		int			k;

		while (*p && !isalnum((unsigned char) *p))
			p++;
		s = p;
		while (*p && isalnum((unsigned char) *p))
			p++;
		n = (size_t) (p - s);
		for (k = 0; n > 0 && words[k]; k++)
			if (strlen(words[k]) == n && strncasecmp(s, words[k], n) == 0)
				return 1;
	}
	return 0;
}

static const char *const lr_pairs[][2] = {
	{"left", "right"}, {"right", "left"}, {"leftward", "rightward"}, {"rightward", "leftward"},
	{"leftwards", "rightwards"}, {"rightwards", "leftwards"},
	{"clockwise", "counterclockwise"}, {"counterclockwise", "clockwise"}, {"anticlockwise", "clockwise"},
};

int
batch_swap_left_right(const char *in, char *out, size_t outlen)
{
	size_t		o = 0;
	int			changed = 0;
	const char *p = in;

	if (outlen == 0)
		return 0;
	while (*p && o + 1 < outlen)
	{
		if (isalpha((unsigned char) *p))
		{
			const char *s = p;
			size_t		n, k;
			const char *rep = NULL;

			while (isalpha((unsigned char) *p))
				p++;
			n = (size_t) (p - s);
			for (k = 0; k < sizeof lr_pairs / sizeof lr_pairs[0]; k++)
				if (strlen(lr_pairs[k][0]) == n && strncasecmp(s, lr_pairs[k][0], n) == 0)
					rep = lr_pairs[k][1];
			if (rep)
			{
				size_t		j, rn = strlen(rep);
				int			allcaps = n > 1 && isupper((unsigned char) s[0]) && isupper((unsigned char) s[1]);

				for (j = 0; j < rn && o + 1 < outlen; j++)
				{
					char		ch = rep[j];

					if (allcaps || (j == 0 && isupper((unsigned char) s[0])))
						ch = (char) toupper((unsigned char) ch);
					out[o++] = ch;
				}
				changed = 1;
			}
			else
				for (; s < p && o + 1 < outlen; s++)
					out[o++] = *s;
		}
		else
			out[o++] = *p++;
	}
	out[o] = '\0';
	return changed;
}

/* ---------- captions ---------- */

/* never replaced by a synonym: function words, and the emoji modifiers ("medium skin tone") */
static const char *const stop_words[] = {
	"the", "and", "with", "for", "from", "that", "this", "into", "over", "under", "without",
	"holding", "wearing", "its", "are", "has", "have", "one", "two", "three", "four",
	"skin", "tone", "medium", "light", "dark", "hair", "bald", "curly", "left", "right",
	"facing", "up", "down", "top", "bottom", "off", "small", "large", "big", "emoji", "icon", NULL
};

static int
starts_determined(const char *s)
{
	static const char *const det[] = {"a", "an", "the", "two", "three", "four", "some", "many", "no", "one", NULL};
	int			k;

	if (isdigit((unsigned char) s[0]))
		return 1;
	for (k = 0; det[k]; k++)
	{
		size_t		n = strlen(det[k]);

		if (strncasecmp(s, det[k], n) == 0 && (s[n] == ' ' || s[n] == '\0'))
			return 1;
	}
	return 0;
}

/* "a X" / "an X" / "X" (already determined, or a plural) into out */
static void
with_article(const char *x, char *out, size_t outlen)
{
	size_t		n = strlen(x);
	int			plural = n > 3 && x[n - 1] == 's' && x[n - 2] != 's' && x[n - 2] != 'u' && x[n - 2] != 'i';
	int			vowel = strchr("aeiouAEIOU", x[0]) != NULL && x[0] != '\0';

	if (starts_determined(x) || plural)
		snprintf(out, outlen, "%s", x);
	else
		snprintf(out, outlen, "%s %s", vowel ? "an" : "a", x);
}

static int
count_words(const char *s)
{
	int			n = 0, in = 0;

	for (; *s; s++)
	{
		if (*s == ' ')
			in = 0;
		else if (!in)
		{
			in = 1;
			n++;
		}
	}
	return n;
}

/* "grinning face, grin, smile": shuffle the items, drop each with p 1/4, keep one */
static void
shuffle_tags(char *cap, size_t caplen, uint64_t *r)
{
	char		buf[MAXCAP], *items[32], out[MAXCAP];
	int			n = 0, k, keep = 0;
	char	   *p, *save = NULL;

	if (strchr(cap, ':') || strchr(cap, ';') || !strchr(cap, ','))
		return;
	snprintf(buf, sizeof buf, "%s", cap);
	for (p = strtok_r(buf, ",", &save); p && n < 32; p = strtok_r(NULL, ",", &save))
	{
		while (*p == ' ')
			p++;
		if (*p)
			items[n++] = p;
	}
	if (n < 2)
		return;
	for (k = n - 1; k > 0; k--)
	{
		int			j = (int) (rnext(r) % (uint64_t) (k + 1));
		char	   *t = items[k];

		items[k] = items[j];
		items[j] = t;
	}
	out[0] = '\0';
	for (k = 0; k < n; k++)
	{
		if (runif(r) < 0.25 && !(k == n - 1 && keep == 0))
			continue;
		if (keep++)
			strncat(out, ", ", sizeof out - strlen(out) - 1);
		strncat(out, items[k], sizeof out - strlen(out) - 1);
	}
	snprintf(cap, caplen, "%s", out);
}

/* each word of three letters or more, with probability p: a WordNet synonym */
static void
synonyms(const wn_db *wn, char *cap, size_t caplen, double p, uint64_t *r)
{
	char		out[MAXCAP], word[64], syn[1024];
	size_t		o = 0;
	const char *s = cap;

	while (*s && o + 1 < sizeof out)
	{
		if (isalpha((unsigned char) *s))
		{
			const char *b = s;
			size_t		n;
			int			ns;

			while (isalpha((unsigned char) *s))
				s++;
			n = (size_t) (s - b);
			if (n >= 3 && n < sizeof word && runif(r) < p)
			{
				memcpy(word, b, n);
				word[n] = '\0';
				if (!batch_has_word(word, stop_words) && !batch_has_word(word, batch_colour_words) &&
					islower((unsigned char) word[0]) &&
					(ns = wn_synonyms(wn, word, syn, sizeof syn)) > 0)
				{
					int			pick = (int) (rnext(r) % (uint64_t) ns);
					const char *q = syn;

					while (pick--)
						q += strlen(q) + 1;
					o += (size_t) snprintf(out + o, sizeof out - o, "%s", q);
					if (o >= sizeof out)
						o = sizeof out - 1;
					continue;
				}
			}
			while (b < s && o + 1 < sizeof out)
				out[o++] = *b++;
		}
		else
			out[o++] = *s++;
	}
	out[o] = '\0';
	snprintf(cap, caplen, "%s", out);
}

static const char *const templates[] = {
	"an emoji of %s", "an icon of %s", "a drawing of %s", "a picture of %s", "a small icon of %s",
	"%s icon", "a sketch of %s", "an illustration of %s", "a cartoon of %s", "a symbol of %s",
};

/* a short name-like caption ("grinning face"): no punctuation, at most 6 words */
static int
name_like(const char *cap)
{
	return !strpbrk(cap, ":;,()") && count_words(cap) <= 6 && !starts_determined(cap);
}

static void
template_of(char *cap, size_t caplen, uint64_t *r)
{
	char		x[MAXCAP], art[MAXCAP];
	const char *t = templates[rnext(r) % (sizeof templates / sizeof templates[0])];

	snprintf(x, sizeof x, "%s", cap);
	if (strncmp(t, "%s", 2) == 0)
		snprintf(art, sizeof art, "%s", x);
	else
		with_article(x, art, sizeof art);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(cap, caplen, t, art);
#pragma GCC diagnostic pop
}

/* "X" -> "X, a H" with H the hypernym of X's last word or two ("ice cream") */
static void
hypernym_of(const wn_db *wn, char *cap, size_t caplen, const char *name)
{
	char		last[128], hyp[256], art[300];
	const char *e = name + strlen(name), *b = e;
	int			words;

	for (words = 2; words >= 1; words--)
	{
		int			k = 0;

		b = e;
		while (b > name && k < words)
		{
			b--;
			if (*b == ' ')
				k++;
		}
		if (*b == ' ')
			b++;
		if ((size_t) (e - b) >= sizeof last)
			continue;
		memcpy(last, b, (size_t) (e - b));
		last[e - b] = '\0';
		if (wn_hypernym(wn, last, hyp, sizeof hyp) == 0)
		{
			size_t		n = strlen(cap);

			with_article(hyp, art, sizeof art);
			snprintf(cap + n, caplen - n, ", %s", art);
			return;
		}
	}
}

/* entry's caption from data set caption `cap` (after a swap when flipped) */
void
batch_augment_caption(batch_ctx *c, uint64_t h, char *cap, size_t caplen)
{
	const batch_opts *o = &c->o;
	uint64_t	r;
	char		name[MAXCAP];
	int			is_name = name_like(cap);

	snprintf(name, sizeof name, "%s", cap);
	r = stream(h, 20);
	if (runif(&r) < o->p_tags)
		shuffle_tags(cap, caplen, &r);
	r = stream(h, 21);
	if (o->p_synonym > 0 && c->wn)
		synonyms(c->wn, cap, caplen, o->p_synonym, &r);
	r = stream(h, 22);
	if (is_name && runif(&r) < o->p_template)
		template_of(cap, caplen, &r);
	r = stream(h, 23);
	if (is_name && c->wn && runif(&r) < o->p_hypernym)
		hypernym_of(c->wn, cap, caplen, name);
}
