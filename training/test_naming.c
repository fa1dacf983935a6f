/*
 * test_naming.c - unit tests of the naming tool's decisions (naming.c)
 * on tiny designed cases (the name format it writes is tested in
 * test/unit/test_concepts.c).  make -C training test-naming
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "naming.h"

static int failures, checks;

#define CHECK(cond, ...) do { \
	checks++; \
	if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
} while (0)

static void
test_topk(void)
{
	topk	   *t = topk_new(3, 3);
	int			ids[3];
	float		vals[3];
	int			n;
	/* 5 items x 3 dimensions */
	static const float emb[5 * 3] = {
		0.1f, 0.0f, 0.9f,
		0.5f, 0.0f, 0.0f,
		0.3f, 0.0f, 0.9f,
		0.5f, 0.0f, 0.2f,
		0.7f, -1.0f, 0.4f,
	};

	topk_add_rows(t, emb, 2, 0);	/* streamed in two batches */
	topk_add_rows(t, emb + 6, 3, 2);
	n = topk_sorted(t, 0, ids, vals);
	CHECK(n == 3 && ids[0] == 4 && ids[1] == 1 && ids[2] == 3,
		  "dim 0: the 3 best, ties to the lower id: got %d items %d %d %d", n, ids[0], ids[1], ids[2]);
	CHECK(vals[0] == 0.7f && vals[1] == 0.5f && vals[2] == 0.5f, "dim 0 values");
	n = topk_sorted(t, 1, ids, vals);
	CHECK(n == 0, "dim 1: negative and zero activations are not kept (%d)", n);
	n = topk_sorted(t, 2, ids, vals);
	CHECK(n == 3 && ids[0] == 0 && ids[1] == 2 && ids[2] == 4, "dim 2: equal best values keep id order: %d %d %d",
		  ids[0], ids[1], ids[2]);
	topk_free(t);

	/* a heap of 1 over many items keeps the best; k larger than the items keeps all */
	t = topk_new(1, 1);
	for (n = 0; n < 1000; n++)
		topk_push(t, 0, (float) ((n * 37) % 1000), n);
	topk_sorted(t, 0, ids, vals);
	CHECK(vals[0] == 999.0f && (ids[0] * 37) % 1000 == 999, "k = 1 keeps the maximum");
	topk_free(t);
}

/*
 * Word 0 is active on 2 of 8 dimensions (large normalised values), word 1
 * on 7 (small ones, dimension 1 well above the rest).  By activation word
 * 0 names dimension 1 (0.707 > 0.65); by the specific score word 1 does
 * (2.06 against 1.73 standard deviations above the word's mean).
 */
static void
test_specific(void)
{
	float		emb[2 * 8] = {
		0.707f, 0.707f, 0, 0, 0, 0, 0, 0,
		0, 0.65f, 0.31f, 0.31f, 0.31f, 0.31f, 0.31f, 0.31f,
	};
	float		mu[2], sd[2], v[2];
	int			ids[2];
	topk	   *raw = topk_new(8, 2), *spec = topk_new(8, 2);

	topk_add_rows(raw, emb, 2, 0);
	naming_specific(emb, 2, 8, mu, sd);
	topk_add_rows(spec, emb, 2, 0);
	topk_sorted(raw, 1, ids, v);
	CHECK(ids[0] == 0, "by activation, dimension 1 goes to the word with few dimensions");
	topk_sorted(spec, 1, ids, v);
	CHECK(ids[0] == 1, "by the specific score, to the word for which it stands out");
	CHECK(fabsf(v[0] * sd[1] + mu[1] - 0.65f) < 1e-5, "activation recovered from the score (%g)", v[0] * sd[1] + mu[1]);
	CHECK(emb[2] == 0.0f && emb[8] == 0.0f, "zeros stay zero");
	topk_free(raw);
	topk_free(spec);
}

static void
test_normalise(void)
{
	char		b[64];

	naming_normalise("  Ice_Cream\t cone \n", b, sizeof b);
	CHECK(strcmp(b, "ice cream cone") == 0, "normalise: got '%s'", b);
	naming_normalise("ABCDEFGHIJ", b, 5);
	CHECK(strcmp(b, "abcd") == 0, "normalise cuts to the buffer: '%s'", b);
}

static void
test_strset(void)
{
	strset		s;
	int			i;
	char		w[16];

	strset_init(&s);
	CHECK(!strset_has(&s, "x"), "empty set");
	for (i = 0; i < 500; i++)
	{
		snprintf(w, sizeof w, "w%d", i);
		CHECK(strset_add(&s, w) == 1, "add %s", w);
	}
	CHECK(strset_add(&s, "w7") == 0 && s.n == 500, "no duplicates");
	CHECK(strset_has(&s, "w499") && !strset_has(&s, "w500"), "membership after growth");
	strset_free(&s);
}

/* A two-synset WordNet in a temporary folder. */
static wordnet *
tiny_wordnet(char *dir)
{
	char		p[256], err[200];
	FILE	   *f;
	wordnet    *wn;

	strcpy(dir, "/tmp/test_naming.XXXXXX");
	if (!mkdtemp(dir))
		return NULL;
	snprintf(p, sizeof p, "%s/data.noun", dir);
	f = fopen(p, "w");
	fputs("  1 This software and database is licence text\n", f);
	fputs("02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 000 | a member of the genus Canis\n", f);
	fputs("07805254 13 n 02 face 0 human_face 0 000 | the front of the human head\n", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/data.adj", dir);
	f = fopen(p, "w");
	fputs("01386234 00 a 02 big(a) 0 large 0 000 | above average in size\n", f);
	fclose(f);
	wn = wordnet_load(dir, err, sizeof err);
	CHECK(wn != NULL, "wordnet loads: %s", err);
	return wn;
}

static void
cleanup_dir(const char *dir)
{
	char		p[256];

	snprintf(p, sizeof p, "%s/data.noun", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/data.adj", dir);
	unlink(p);
	rmdir(dir);
}

static void
test_wordnet_and_targets(void)
{
	char		dir[64], err[200];
	wordnet    *wn = tiny_wordnet(dir);
	strset		s, strict, words;

	if (!wn)
		return;
	strset_init(&s);
	wordnet_add_synonyms(wn, "dog", &s);
	CHECK(s.n == 3 && strset_has(&s, "domestic dog") && strset_has(&s, "canis familiaris"),
		  "dog's synonyms, normalised (%zu)", s.n);
	strset_free(&s);
	strset_init(&s);
	wordnet_add_synonyms(wn, "large", &s);
	CHECK(strset_has(&s, "big") && !strset_has(&s, "big(a)"), "adjective markers dropped");
	strset_free(&s);
	strset_init(&s);
	wordnet_add_synonyms(wn, "zebra", &s);
	CHECK(s.n == 1 && strset_has(&s, "zebra"), "a word WordNet lacks is its own target");
	strset_free(&s);

	strset_init(&strict);
	strset_init(&words);
	naming_targets(wn, "Grinning Face with Big Eyes", &strict, &words);
	CHECK(strset_has(&strict, "grinning face with big eyes") && strict.n == 1, "strict: the class name only");
	CHECK(strset_has(&words, "face") && strset_has(&words, "human face") && strset_has(&words, "large") &&
		  strset_has(&words, "eye") && strset_has(&words, "grinning"), "words: content words, singulars, synonyms");
	CHECK(!strset_has(&words, "with") && !strset_has(&words, "eyes ") , "no stop words");
	strset_free(&strict);
	strset_free(&words);
	strset_init(&strict);
	naming_targets(wn, "Dog", &strict, NULL);
	CHECK(strset_has(&strict, "domestic dog"), "strict synonyms of a one-word class");
	strset_free(&strict);
	wordnet_free(wn);
	cleanup_dir(dir);
	CHECK(wordnet_load("/nonexistent", err, sizeof err) == NULL && strstr(err, "no WordNet"), "missing WordNet: %s", err);
}

static void
test_hits_and_top_dims(void)
{
	/* 4 dimensions, 2 names each */
	const char *names[4 * 2] = {"dog", "puppy", "cat", NULL, NULL, NULL, "snow", "ice"};
	strset		t;
	int			dims[2], perm[4] = {2, 3, 0, 1};
	float		x[6] = {0.1f, 0.0f, 0.5f, 0.5f, -0.2f, 0.3f};
	int			top[5], n;

	strset_init(&t);
	strset_add(&t, "ice");
	dims[0] = 0;
	dims[1] = 3;
	CHECK(!naming_hit(names, 2, 1, NULL, dims, 2, &t), "'ice' is no dimension's name");
	CHECK(naming_hit(names, 2, 2, NULL, dims, 2, &t), "'ice' is an alternative of dimension 3");
	CHECK(!naming_hit(names, 2, 2, NULL, dims, 1, &t), "only the first n dimensions count");
	dims[0] = 1;
	CHECK(naming_hit(names, 2, 2, perm, dims, 1, &t), "perm: dimension 1 carries dimension 3's names");
	dims[0] = 2;
	CHECK(!naming_hit(names, 2, 2, NULL, dims, 1, &t), "an unnamed dimension never hits");
	strset_free(&t);

	n = naming_top_dims(x, 6, 3, top);
	CHECK(n == 3 && top[0] == 2 && top[1] == 3 && top[2] == 5, "top dims: ties to the lower, then next (%d %d %d)",
		  top[0], top[1], top[2]);
	n = naming_top_dims(x, 6, 5, top);
	CHECK(n == 4 && top[3] == 0, "only positive entries (%d)", n);
}

static void
test_permutation(void)
{
	int			p[100], seen[100] = {0}, i, moved = 0, q[100];

	naming_permutation(p, 100, 7);
	for (i = 0; i < 100; i++)
	{
		seen[p[i]]++;
		moved += p[i] != i;
	}
	for (i = 0; i < 100; i++)
		CHECK(seen[i] == 1, "permutation: %d appears once", i);
	CHECK(moved > 80, "a shuffle moves most items (%d)", moved);
	naming_permutation(q, 100, 7);
	CHECK(memcmp(p, q, sizeof p) == 0, "deterministic in the seed");
	naming_permutation(q, 100, 8);
	CHECK(memcmp(p, q, sizeof p) != 0, "another seed, another order");
}

int
main(void)
{
	test_topk();
	test_specific();
	test_normalise();
	test_strset();
	test_wordnet_and_targets();
	test_hits_and_top_dims();
	test_permutation();
	printf("test_naming: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
