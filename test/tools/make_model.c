/*
 * make_model - writes a model file with random weights, for tests and
 * benchmarks that need a model of a given shape but not a trained one.
 *
 *   make_model CONFIG_JSON TOKENIZER_MODEL OUT [SEED]
 *
 * CONFIG_JSON is the sparseclip.config object; its vocab_size is replaced by
 * that of TOKENIZER_MODEL, an existing model file whose BPE merges are
 * copied, so that the new model can tokenize text.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int
main(int argc, char **argv)
{
	char		err[512];
	sc_config	cfg;
	sc_model   *tok, *m;

	if (argc < 4)
	{
		fprintf(stderr, "usage: make_model CONFIG_JSON TOKENIZER_MODEL OUT [SEED]\n");
		return 2;
	}
	if (sc_config_from_json(argv[1], &cfg, err, sizeof err) != 0)
	{
		fprintf(stderr, "make_model: config: %s\n", err);
		return 1;
	}
	tok = sc_model_load(argv[2], 0, err, sizeof err);
	if (!tok)
	{
		fprintf(stderr, "make_model: %s: %s\n", argv[2], err);
		return 1;
	}
	cfg.vocab_size = tok->cfg.vocab_size;
	m = sc_model_random(&cfg, argc > 4 ? strtoull(argv[4], NULL, 10) : 1, err, sizeof err);
	if (!m)
	{
		fprintf(stderr, "make_model: %s\n", err);
		return 1;
	}
	if (sc_model_save(m, argv[3], tok->bpe, NULL, err, sizeof err) != 0)
	{
		fprintf(stderr, "make_model: %s: %s\n", argv[3], err);
		return 1;
	}
	sc_model_free(m);
	sc_model_free(tok);
	return 0;
}
