/*
 * test_concepts.c - the concept-name metadata of a model file
 * (src/core/concepts.c): writing, reading back, lookups by name, every
 * malformed form refused; and st_rewrite, which puts the names into a file
 * without touching its tensors.
 */
#include <unistd.h>

#include "concepts.h"
#include "safetensors.h"
#include "unit.h"

static sc_concepts *
parse_str(const char *names, const char *acts, char *err, size_t errlen)
{
	return sc_concepts_parse(names, strlen(names), acts, acts ? strlen(acts) : 0, 3, err, errlen);
}

static void
test_concepts_format(void)
{
	const char *names[3 * 2] = {"snow", "ice", NULL, NULL, "Dog", "say \"hi\"\\"};
	const float acts[3 * 2] = {0.9f, 0.5f, 0, 0, 0.25f, 0.125f};
	char	   *nj, *aj, err[200];
	sc_concepts *c;
	size_t		lo, hi;

	CHECK(sc_concepts_json(names, acts, 3, 2, &nj, &aj, err, sizeof err) == 0, "write: %s", err);
	CHECK(strcmp(nj, "[[\"snow\",\"ice\"],null,[\"Dog\",\"say \\\"hi\\\"\\\\\"]]") == 0, "names JSON: %s", nj);
	CHECK(strcmp(aj, "[[0.9,0.5],null,[0.25,0.125]]") == 0, "activations JSON: %s", aj);
	c = sc_concepts_parse(nj, strlen(nj), aj, strlen(aj), 3, err, sizeof err);
	CHECK(c != NULL, "read back: %s", err);
	if (c)
	{
		CHECK(sc_concepts_count(c, 0) == 2 && sc_concepts_count(c, 1) == 0 && c->named_dims == 2, "counts");
		CHECK(strcmp(sc_concepts_name(c, 2, 1), "say \"hi\"\\") == 0, "escapes round-trip");
		CHECK(sc_concepts_name(c, 0, 2) == NULL, "past the last name");
		CHECK(fabsf(c->activation[c->first[2] + 1] - 0.125f) < 1e-6, "activations");
		CHECK(sc_concepts_find(c, " dOG ", 5, &lo, &hi) == 1 && c->entry_dim[c->by_name[lo]] == 2, "find folds case");
		CHECK(sc_concepts_find(c, "ic", 2, &lo, &hi) == 0 && sc_concepts_find(c, "ices", 4, &lo, &hi) == 0,
			  "no prefix matches");
		CHECK(sc_concepts_find(c, "ice", 3, &lo, &hi) == 1 && sc_concepts_rank(c, c->by_name[lo]) == 1,
			  "an alternative has rank 1");
		sc_concepts_free(c);
	}
	free(nj);
	free(aj);

	/* malformed values are refused with a reason */
	c = parse_str("[\"a\",\"b\"]", NULL, err, sizeof err);
	CHECK(!c && strstr(err, "3 items"), "wrong count: %s", err);
	c = parse_str("[\"a\",\"\",null]", NULL, err, sizeof err);
	CHECK(!c && strstr(err, "empty"), "empty name: %s", err);
	c = parse_str("[\"a\",[1],null]", NULL, err, sizeof err);
	CHECK(!c && strstr(err, "not a string"), "number as name: %s", err);
	c = parse_str("[\"a\",\"b\\n\",null]", NULL, err, sizeof err);
	CHECK(!c && strstr(err, "control"), "control character: %s", err);
	c = parse_str("[\"a\",\"b\",null]", "[[1],[1,2],null]", err, sizeof err);
	CHECK(!c && strstr(err, "dimension 2"), "activation count: %s", err);
	c = parse_str("[\"a\",\"b\",null", NULL, err, sizeof err);
	CHECK(!c, "not JSON");
	c = parse_str("[\"a\",\"b\",null]", NULL, err, sizeof err);
	CHECK(c && isnan(c->activation[0]) && !c->has_activations, "no activations: NaN");
	sc_concepts_free(c);
	names[0] = "bad\x01";
	CHECK(sc_concepts_json(names, NULL, 3, 2, &nj, NULL, err, sizeof err) < 0, "the writer refuses a control character");
}


static void
test_rewrite(void)
{
	char		path[] = "/tmp/test_concepts.XXXXXX", err[256];
	int			fd = mkstemp(path);
	const float a[6] = {1, 2, 3, 4, 5, 6};
	const float b[2] = {-1.5f, 7};
	st_write_tensor t[2] = {{"b", 1, {2}, b}, {"a", 2, {2, 3}, a}};
	const char *k[2] = {"keep", "sparseclip.concepts"};
	const char *v[2] = {"this stays", "old"};
	const char *nk[3] = {"sparseclip.concepts", "sparseclip.concept_activations", "gone"};
	const char *nv[3] = {"[\"x\"]", "[[0.5]]", NULL};
	st_file    *f, *g;

	CHECK(fd >= 0, "temporary file");
	close(fd);
	CHECK(st_write(path, t, 2, k, v, 2, err, sizeof err) == 0, "write: %s", err);
	f = st_open(path, err, sizeof err);
	CHECK(f != NULL, "open: %s", err);
	if (!f)
		return;
	/* rewrite the file in place while it is mapped */
	CHECK(st_rewrite(f, path, nk, nv, 3, err, sizeof err) == 0, "rewrite: %s", err);
	g = st_open(path, err, sizeof err);
	CHECK(g != NULL, "reopen: %s", err);
	if (g)
	{
		const st_tensor *ta = st_find(g, "a"), *tb = st_find(g, "b");

		CHECK(strcmp(st_metadata(g, "keep"), "this stays") == 0, "other keys kept");
		CHECK(strcmp(st_metadata(g, "sparseclip.concepts"), "[\"x\"]") == 0, "key replaced");
		CHECK(strcmp(st_metadata(g, "sparseclip.concept_activations"), "[[0.5]]") == 0, "key added");
		CHECK(st_metadata(g, "gone") == NULL && g->nmeta == 3, "NULL removes (absent key: nothing)");
		CHECK(ta && ta->dtype == ST_F32 && ta->ndim == 2 && ta->shape[1] == 3 &&
			  memcmp(ta->data, a, sizeof a) == 0, "tensor a unchanged");
		CHECK(tb && memcmp(tb->data, b, sizeof b) == 0, "tensor b unchanged");
		/* the old mapping still reads the old bytes */
		CHECK(memcmp(st_find(f, "a")->data, a, sizeof a) == 0, "old mapping intact");
		st_close(g);
	}
	/* a file that cannot be written: an error, the source untouched */
	CHECK(st_rewrite(f, "/nonexistent/dir/x.safetensors", nk, nv, 2, err, sizeof err) < 0 &&
		  strstr(err, "cannot create"), "unwritable path: %s", err);
	st_close(f);
	unlink(path);
}

int
main(void)
{
	test_concepts_format();
	test_rewrite();
	return unit_done("test_concepts");
}
