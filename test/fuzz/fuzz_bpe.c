/*
 * fuzz_bpe.c - libFuzzer target for the CLIP tokenizer.
 *
 * First byte even: the rest is text, encoded (context 77) by a tokenizer
 * over CLIP's merges when SPARSECLIP_SHARED_DATA (or ../shared/data) has
 * them, else over a small built-in merges text; the ids must be in range,
 * start and end with the special tokens, and decode back.  First byte odd:
 * the rest is a merges text to build a tokenizer from.  Build and run with
 * test/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char small_merges[] =
	"#version: 0.2\nh e\nl l\nl o</w>\nhe ll\nhell o</w>\nt h\nth e</w>\na n\nan d</w>\n";

static ClipTokenizer *
load_tokenizer(void)
{
	char		cmd[1024],
				err[256];
	const char *dir = getenv("SPARSECLIP_SHARED_DATA");
	FILE	   *p;
	size_t		cap = 1 << 22,
				n = 0,
				k;
	char	   *buf = malloc(cap);
	ClipTokenizer *tok = NULL;

	snprintf(cmd, sizeof cmd, "gzip -dc '%s/clip/bpe_simple_vocab_16e6.txt.gz' 2>/dev/null",
			 dir ? dir : "../shared/data");
	p = popen(cmd, "r");
	if (p && buf)
	{
		while ((k = fread(buf + n, 1, cap - n, p)) > 0)
		{
			n += k;
			if (n == cap)
			{
				char	   *nb = realloc(buf, cap * 2);

				if (!nb)
					break;
				buf = nb;
				cap *= 2;
			}
		}
	}
	if (p)
		pclose(p);
	if (n > 0)
		tok = clip_tokenizer_new(buf, n, 49408, err, sizeof err);
	free(buf);
	if (!tok)
		tok = clip_tokenizer_new(small_merges, strlen(small_merges), 514 + 9, err, sizeof err);
	fprintf(stderr, "fuzz_bpe: vocabulary of %d\n", tok ? clip_tokenizer_vocab_size(tok) : -1);
	return tok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ClipTokenizer *tok;
	char		err[256];
	int32_t		ids[77];
	int			n,
				tr,
				i;

	if (!tok && !(tok = load_tokenizer()))
		abort();
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
	{
		err[0] = '\0';
		if (clip_tokenizer_encode(tok, (const char *) data + 1, size - 1, 77, ids, &n, &tr,
								  err, sizeof err) == 0)
		{
			char	   *text;
			size_t		len;

			if (n < 2 || n > 77 || ids[0] != clip_tokenizer_sot_id(tok) ||
				ids[n - 1] != clip_tokenizer_eot_id(tok))
				abort();
			for (i = 0; i < n; i++)
				if (ids[i] < 0 || ids[i] >= clip_tokenizer_vocab_size(tok))
					abort();
			if (clip_tokenizer_decode(tok, ids, n, 1, &text, &len, err, sizeof err) != 0)
				abort();
			free(text);
		}
		else if (err[0] == '\0')
			abort();
	}
	else
	{
		/* as many merges as the text has lines after the first */
		int			lines = 0;
		size_t		j;
		ClipTokenizer *t;

		for (j = 1; j < size; j++)
			lines += data[j] == '\n';
		t = clip_tokenizer_new((const char *) data + 1, size - 1, 514 + (lines > 0 ? lines - 1 : 0),
							   err, sizeof err);
		if (t)
		{
			if (clip_tokenizer_encode(t, "hello world's 42 <end_of_text>", 30, 77, ids, &n, &tr,
									  err, sizeof err) != 0)
				abort();
			clip_tokenizer_free(t);
		}
	}
	return 0;
}
