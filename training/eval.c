/*
 * eval.c - sparseclip-eval: one table of what a trained model does, and the
 * same figures as JSON or TSV (--json, --tsv) for scripts.
 *
 * usage: sparseclip-eval MODEL [--val val.tsv] [--classes val_classes.tsv]
 *                        [--judge DENSE_MODEL] [--shared DIR] [--fashion DIR]
 *                        [--limit N] [--max-templates N] [--json FILE]
 *                        [--tsv FILE] [--threads N] [--batch N] ...
 *
 *  - zero-shot top-1/top-5: the held-out emoji style (val_classes.tsv:
 *    image<TAB>class name), CIFAR-10 test and the ImageNet sample
 *    (DIR/cifar10-test, DIR/imagenet-sample, templates and class names from
 *    DIR/clip/zeroshot_prompts.json; class embedding = mean of the
 *    normalised template embeddings), Fashion-MNIST test (Debian's
 *    dataset-fashion-mnist, installed on first use when run as root); all
 *    at full size unless --limit; each skipped with a message when absent;
 *  - text-to-image and image-to-text recall@1/5/10 on the validation set;
 *  - over the validation embeddings (eval_metrics.c): image and text L0,
 *    never-active dimensions (image, text, both), clarity under the judge
 *    beside its random-group baseline, modality (image share of each
 *    dimension's activation mass; multimodal dimensions).
 *
 * This file: options and output; the sets in eval_zeroshot.c, the
 * validation set in eval_val.c, the metrics in eval_metrics.c.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas_tune.h"
#include "eval.h"
#include "eval_report.h"

static const char usage[] =
"usage: sparseclip-eval MODEL [options]\n"
"  --val val.tsv          paired validation set: retrieval, L0, never-active\n"
"                         dimensions, modality, clarity\n"
"  --classes FILE.tsv     held-out style for zero-shot (image<TAB>class name)\n"
"  --judge MODEL          dense baseline whose image tower judges clarity\n"
"                         (without it clarity is skipped)\n"
"  --clarity-top K        images per dimension for clarity: the K most\n"
"                         activating (default 16)\n"
"  --modality-cut X       multimodal = image share in [X, 1-X] (default 0.1)\n"
"  --shared DIR           CIFAR-10 test, ImageNet sample, prompts (default ../shared/data)\n"
"  --fashion DIR          Fashion-MNIST IDX files (default " FASHION_DIR ",\n"
"                         installed from Debian on first use when run as root)\n"
"  --no-install           do not install Fashion-MNIST\n"
"  --pre-head             a sparse model's embedding before its sparse head\n"
"                         (the E-wide projection, L2-normalised): a diagnostic\n"
"                         of its towers apart from the ReLU head\n"
"  --limit N              quick run: N images per class of CIFAR-10 and\n"
"                         Fashion-MNIST (default: all 10,000 of each)\n"
"  --max-templates N      the first N prompt templates of CIFAR-10 and ImageNet\n"
"  --skip LIST            comma-separated: cifar10, imagenet, fashion\n"
"  --json FILE, --tsv FILE  the figures under stable keys, for scripts\n"
"  --seed N               random groups of the clarity baseline (default 1)\n"
"  --threads N --batch N  OpenBLAS threads (default 1), encoding batch (256)\n";

/* a whole number in [lo, hi], or exit with a message */
static long
num_arg(const char *opt, const char *v, long lo, long hi)
{
	char	   *end;
	long		x = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || x < lo || x > hi)
	{
		fprintf(stderr, "sparseclip-eval: %s wants a whole number in [%ld, %ld], not \"%s\"\n", opt, lo, hi, v);
		exit(2);
	}
	return x;
}

static int
skipped(const char *list, const char *name)
{
	const char *p = list;
	size_t		n = strlen(name);

	while (p && *p)
	{
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *model = NULL, *val = NULL, *classes = NULL, *shared = "../shared/data";
	const char *fashion = FASHION_DIR, *json_out = NULL, *tsv_out = NULL, *skip = "";
	int			limit = 0, maxt = 0, threads = 1, install = 1, pre_head = 0, i;
	val_opts	vo = {NULL, 16, 0.1, 1};
	ctx			c;
	char		err[1024];
	json_value *prompts = NULL;
	char		pp[1100];
	FILE	   *f;

	memset(&c, 0, sizeof c);
	c.batch = 256;
	for (i = 1; i < argc; i++)
	{
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0)
		{
			fputs(usage, stdout);
			return 0;
		}
		else if (strcmp(o, "--no-install") == 0)
			install = 0;
		else if (strcmp(o, "--pre-head") == 0)
			pre_head = 1;
		else if (o[0] != '-' && !model)
			model = o;
		else if (o[0] != '-')
		{
			fprintf(stderr, "sparseclip-eval: one model only (\"%s\")\n%s", o, usage);
			return 2;
		}
		else if (!v)
		{
			fprintf(stderr, "sparseclip-eval: %s needs a value\n", o);
			return 2;
		}
		else if (strcmp(o, "--val") == 0)
			val = argv[++i];
		else if (strcmp(o, "--classes") == 0)
			classes = argv[++i];
		else if (strcmp(o, "--judge") == 0)
			vo.judge = argv[++i];
		else if (strcmp(o, "--clarity-top") == 0)
			vo.clarity_top = (int) num_arg(o, argv[++i], 2, 100000);
		else if (strcmp(o, "--modality-cut") == 0)
		{
			char	   *end;

			vo.modality_lo = strtod(argv[++i], &end);
			if (*end != '\0' || !(vo.modality_lo >= 0.0 && vo.modality_lo < 0.5))
			{
				fprintf(stderr, "sparseclip-eval: --modality-cut wants a number in [0, 0.5)\n");
				return 2;
			}
		}
		else if (strcmp(o, "--seed") == 0)
			vo.seed = (uint64_t) num_arg(o, argv[++i], 0, 1L << 62);
		else if (strcmp(o, "--shared") == 0)
			shared = argv[++i];
		else if (strcmp(o, "--fashion") == 0)
			fashion = argv[++i];
		else if (strcmp(o, "--limit") == 0)
			limit = (int) num_arg(o, argv[++i], 0, 1 << 30);
		else if (strcmp(o, "--max-templates") == 0)
			maxt = (int) num_arg(o, argv[++i], 0, 1 << 30);
		else if (strcmp(o, "--skip") == 0)
		{
			skip = argv[++i];
			for (const char *p = skip; *p;)
			{
				size_t		n = strcspn(p, ",");

				if (!((n == 7 && strncmp(p, "cifar10", n) == 0) || (n == 8 && strncmp(p, "imagenet", n) == 0) ||
					  (n == 7 && strncmp(p, "fashion", n) == 0)))
				{
					fprintf(stderr, "sparseclip-eval: --skip takes cifar10, imagenet, fashion, not \"%.*s\"\n", (int) n, p);
					return 2;
				}
				p += n + (p[n] == ',');
			}
		}
		else if (strcmp(o, "--json") == 0)
			json_out = argv[++i];
		else if (strcmp(o, "--tsv") == 0)
			tsv_out = argv[++i];
		else if (strcmp(o, "--threads") == 0)
			threads = (int) num_arg(o, argv[++i], 1, 1024);
		else if (strcmp(o, "--batch") == 0)
			c.batch = (int) num_arg(o, argv[++i], 1, 1 << 20);
		else
		{
			fprintf(stderr, "sparseclip-eval: unknown option %s\n%s", o, usage);
			return 2;
		}
	}
	if (!model)
	{
		fprintf(stderr, "sparseclip-eval: no model given\n%s", usage);
		return 2;
	}
	sc_blas_tune(NULL, 0);
	openblas_set_num_threads(threads);
	c.m = sc_model_load(model, 0, err, sizeof err);
	if (!c.m)
		die(model, err);
	if (pre_head && c.m->cfg.sparse_dim > 0)
	{
		/* without the sparse head the encoder normalises y = pooled @ proj, as a dense model's */
		c.m->cfg.sparse_dim = 0;
		c.m->p.sparse_visual = c.m->p.sparse_text = NULL;
	}
	else if (pre_head)
		die(model, "--pre-head wants a sparse model");
	c.D = sc_model_output_dim(c.m);
	c.tok = clip_tokenizer_new(c.m->bpe, strlen(c.m->bpe), c.m->cfg.vocab_size, err, sizeof err);
	if (!c.tok)
		die("tokenizer", err);
	snprintf(pp, sizeof pp, "%s/clip/zeroshot_prompts.json", shared);
	if ((f = fopen(pp, "rb")))
	{
		char	   *txt;
		long		n;

		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		txt = malloc((size_t) n);
		if (fread(txt, 1, (size_t) n, f) == (size_t) n)
			prompts = json_parse(txt, (size_t) n, err, sizeof err);
		free(txt);
		fclose(f);
	}
	report_string("model", model);
	report_value("model.sparse_dim", c.m->cfg.sparse_dim, "0 for a dense model");
	report_value("model.pre_head", pre_head, "1: a sparse model's embedding before its sparse head");
	report_value("model.output_dim", c.D, NULL);
	report_value("model.logit_scale", exp(c.m->p.logit_scale[0]), "exp of the learned logit scale");
	report_value("limit", limit, "images per class of CIFAR-10 and Fashion-MNIST; 0 = all");
	printf("model %s: %s, output dim %d, logit scale %.2f\n\n", model,
		   pre_head ? "sparse, before its sparse head (--pre-head)" : c.m->cfg.sparse_dim ? "sparse" : "dense",
		   c.D, exp(c.m->p.logit_scale[0]));
	printf("| %-28s | %-22s | %8s | %8s | %s\n", "task", "metric", "value", "value", "notes");
	printf("|------------------------------|------------------------|----------|----------|------\n");
	fflush(stdout);
	if (val)
		eval_val(&c, val, &vo);
	else
		printf("| %-28s | skipped: no --val given\n", "validation set");
	if (classes)
		eval_heldout(&c, classes);
	else
		printf("| %-28s | skipped: no --classes given\n", "held-out emoji style");
	fflush(stdout);
	if (!skipped(skip, "cifar10"))
		eval_cifar(&c, shared, prompts, limit, maxt);
	fflush(stdout);
	if (!skipped(skip, "imagenet"))
		eval_imagenet(&c, shared, prompts, maxt);
	fflush(stdout);
	if (!skipped(skip, "fashion"))
	{
		if (install)
			ensure_fashion(fashion);
		eval_fashion(&c, fashion, limit);
	}
	if (json_out && report_write_json(json_out) < 0)
		die(json_out, "cannot write");
	if (tsv_out && report_write_tsv(tsv_out) < 0)
		die(tsv_out, "cannot write");
	json_free(prompts);
	clip_tokenizer_free(c.tok);
	sc_workspace_free(&c.ws);
	sc_model_free(c.m);
	return 0;
}
