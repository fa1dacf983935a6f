/*
 * sparseclip-convert - rewrite a model file with its float tensors in
 * another dtype (F16 halves the file; computation stays float32 at load),
 * and optionally set descriptive metadata (doc/model-format.md).
 *
 *   sparseclip-convert IN.safetensors OUT.safetensors --dtype f16|bf16|f32
 *                      [--meta KEY=VALUE]... [--force]
 *
 * Every metadata value of IN is kept byte for byte (concept names, config,
 * tokenizer); --meta sets or adds one.  OUT is written to a temporary file
 * and renamed into place once complete, so a failed run leaves no partial
 * file and OUT may be IN.  The work is st_rewrite_as in src/core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "model.h"
#include "safetensors.h"

static void
usage(FILE *out)
{
	fputs("usage: sparseclip-convert IN.safetensors OUT.safetensors --dtype f16|bf16|f32\n"
		  "                          [--meta KEY=VALUE]... [--force]\n"
		  "\n"
		  "Converts every floating-point tensor (F64, F32, F16, BF16) of a model file to\n"
		  "one dtype, rounding to nearest even; integer tensors are copied unchanged.\n"
		  "All metadata (sparseclip.config, sparseclip.bpe, sparseclip.concepts, ...) is\n"
		  "kept byte for byte.  OUT is written atomically (temporary file, then rename).\n"
		  "\n"
		  "  --dtype D          f16 (IEEE half, 1/2 the F32 size; values above 65504 are\n"
		  "                     an error, tiny ones become subnormals or zero), bf16\n"
		  "                     (F32's range, 8 bits of precision), or f32\n"
		  "  --meta KEY=VALUE   set a metadata key (repeatable; KEY= with an empty value\n"
		  "                     sets an empty string).  Descriptive keys the extension\n"
		  "                     shows in model_info(): sparseclip.model_name,\n"
		  "                     sparseclip.model_version, sparseclip.trained,\n"
		  "                     sparseclip.card, sparseclip.license, sparseclip.description;\n"
		  "                     and sparseclip.image_alpha=white|drop, what encode_image\n"
		  "                     puts behind transparency when sparseclip.image_alpha is\n"
		  "                     'model' (doc/model-format.md).  sparseclip.config, sparseclip.bpe\n"
		  "                     and the concept keys cannot be set here.\n"
		  "  --force            allow a --meta key outside the sparseclip.* names above\n"
		  "  -h, --help         this text\n"
		  "\n"
		  "Prints the input and output sizes, and how many values underflowed to zero.\n", out);
}

/* Keys whose values the loader parses: a converter must never change them. */
static const char *const structural_keys[] = {
	"sparseclip.config", "sparseclip.bpe", "sparseclip.concepts",
	"sparseclip.concept_activations", NULL
};

static int
in_list(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (strcmp(*list, key) == 0)
			return 1;
	return 0;
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long) st.st_size : -1;
}

int
main(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *dtype_arg = NULL;
	const char **keys = calloc((size_t) argc, sizeof(char *));
	const char **values = calloc((size_t) argc, sizeof(char *));
	size_t		nkeys = 0;
	int			force = 0, to, i;
	char		err[512];
	st_file    *f;
	st_convert_stats stats;
	long long	in_size, out_size;

	if (!keys || !values)
	{
		fprintf(stderr, "sparseclip-convert: out of memory\n");
		return 1;
	}
	for (i = 1; i < argc; i++)
	{
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
		{
			usage(stdout);
			return 0;
		}
		else if (strcmp(a, "--dtype") == 0 && i + 1 < argc)
			dtype_arg = argv[++i];
		else if (strcmp(a, "--meta") == 0 && i + 1 < argc)
		{
			const char *kv = argv[++i];
			const char *eq = strchr(kv, '=');
			char	   *key;

			if (!eq || eq == kv)
			{
				fprintf(stderr, "sparseclip-convert: --meta wants KEY=VALUE, got \"%s\"\n", kv);
				return 2;
			}
			key = strndup(kv, (size_t) (eq - kv));
			keys[nkeys] = key;
			values[nkeys++] = eq + 1;
		}
		else if (strcmp(a, "--force") == 0)
			force = 1;
		else if (a[0] == '-' && a[1] != '\0')
		{
			fprintf(stderr, "sparseclip-convert: unknown option or missing value: %s\n", a);
			usage(stderr);
			return 2;
		}
		else if (!in)
			in = a;
		else if (!out)
			out = a;
		else
		{
			fprintf(stderr, "sparseclip-convert: one input and one output file, got a third: %s\n", a);
			return 2;
		}
	}
	if (!in || !out || !dtype_arg)
	{
		usage(stderr);
		return 2;
	}
	if (strcasecmp(dtype_arg, "f16") == 0)
		to = ST_F16;
	else if (strcasecmp(dtype_arg, "bf16") == 0)
		to = ST_BF16;
	else if (strcasecmp(dtype_arg, "f32") == 0)
		to = ST_F32;
	else
	{
		fprintf(stderr, "sparseclip-convert: --dtype must be f16, bf16 or f32, not \"%s\"\n", dtype_arg);
		return 2;
	}
	for (size_t k = 0; k < nkeys; k++)
	{
		if (in_list(structural_keys, keys[k]))
		{
			fprintf(stderr, "sparseclip-convert: --meta cannot set %s (the trainer and sparseclip-concepts write it)\n",
					keys[k]);
			return 2;
		}
		if (!force && !in_list(sc_model_descriptive_keys, keys[k]))
		{
			fprintf(stderr, "sparseclip-convert: unknown metadata key \"%s\" (known: sparseclip.model_name, "
					"sparseclip.model_version, sparseclip.trained, sparseclip.card, sparseclip.license, "
					"sparseclip.description, sparseclip.image_alpha; --force sets any other)\n", keys[k]);
			return 2;
		}
		if (strcmp(keys[k], "sparseclip.image_alpha") == 0 &&
			strcmp(values[k], "white") != 0 && strcmp(values[k], "drop") != 0)
		{
			fprintf(stderr, "sparseclip-convert: sparseclip.image_alpha must be white or drop, not \"%s\"\n",
					values[k]);
			return 2;
		}
	}

	f = st_open(in, err, sizeof err);
	if (!f)
	{
		fprintf(stderr, "sparseclip-convert: %s\n", err);
		return 1;
	}
	in_size = file_size(in);
	if (st_rewrite_as(f, out, to, keys, values, nkeys, &stats, err, sizeof err) < 0)
	{
		fprintf(stderr, "sparseclip-convert: %s\n", err);
		st_close(f);
		return 1;
	}
	st_close(f);
	out_size = file_size(out);
	printf("%s: %lld bytes (%.1f MB)\n", in, in_size, in_size / 1e6);
	printf("%s: %lld bytes (%.1f MB), %.1f%% of the input\n", out, out_size, out_size / 1e6,
		   in_size > 0 ? 100.0 * out_size / in_size : 0.0);
	printf("converted %zu float tensors (%llu values) to %s; %llu non-zero values underflowed to zero, "
		   "%llu are subnormal; %zu metadata keys set\n",
		   stats.tensors, (unsigned long long) stats.values, st_dtype_name((st_dtype) to),
		   (unsigned long long) stats.underflow, (unsigned long long) stats.subnormal, nkeys);
	return 0;
}
