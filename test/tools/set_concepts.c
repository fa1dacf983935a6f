/*
 * set_concepts - rewrites a model file with its concept-name metadata
 * replaced, for test fixtures (the names are not checked, so that broken
 * ones can be made too).
 *
 *   set_concepts IN OUT NAMES_FILE|- [ACTIVATIONS_FILE|-]
 *
 * NAMES_FILE holds the sparseclip.concepts value verbatim, ACTIVATIONS_FILE
 * the sparseclip.concept_activations value; "-" (or leaving the second
 * out) removes the key.  Tensors are copied byte for byte (st_rewrite).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

static char *
slurp(const char *path)
{
	FILE	   *f;
	long		n;
	char	   *buf;

	if (strcmp(path, "-") == 0)
		return NULL;
	if (!(f = fopen(path, "rb")))
	{
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (!buf || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		fprintf(stderr, "set_concepts: cannot read %s\n", path);
		exit(1);
	}
	buf[n] = '\0';
	/* a trailing newline is not part of the value */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	char		err[512];
	const char *keys[2] = {"sparseclip.concepts", "sparseclip.concept_activations"};
	const char *vals[2];
	st_file    *f;

	if (argc < 4 || argc > 5)
	{
		fprintf(stderr, "usage: set_concepts IN OUT NAMES_FILE|- [ACTIVATIONS_FILE|-]\n");
		return 2;
	}
	vals[0] = slurp(argv[3]);
	vals[1] = argc > 4 ? slurp(argv[4]) : NULL;
	if (!(f = st_open(argv[1], err, sizeof err)))
	{
		fprintf(stderr, "set_concepts: %s: %s\n", argv[1], err);
		return 1;
	}
	if (st_rewrite(f, argv[2], keys, vals, 2, err, sizeof err) < 0)
	{
		fprintf(stderr, "set_concepts: %s: %s\n", argv[2], err);
		return 1;
	}
	st_close(f);
	return 0;
}
