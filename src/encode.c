/*
 * encode.c - SQL functions that turn text and images (JPEG, PNG, WebP) into
 * svec with the configured model: encode_text(s), encode_image(s), tokenize,
 * model_info.
 *
 * The numerical work is the pure-C core's; this file converts between SQL
 * values and the core's buffers, turns its error messages into ereport, and
 * lets a query cancel interrupt a long forward pass between layers.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "blas_tune.h"
#include "encode.h"
#include "image.h"
#include "model_cache.h"
#include "settings.h"
#include "svec.h"

/* Called by the core between layers and batch chunks: honour query cancel. */
static int
encode_progress(void *arg)
{
	CHECK_FOR_INTERRUPTS();
	return 0;
}

/* An svec holding the non-zero entries of a dense float vector. */
static SVec *
svec_from_dense(const float *x, int dim)
{
	int			nnz = 0;
	SVec	   *v;

	for (int i = 0; i < dim; i++)
		if (x[i] != 0.0f)
			nnz++;
	v = svec_alloc(dim, nnz);
	nnz = 0;
	for (int i = 0; i < dim; i++)
		if (x[i] != 0.0f)
		{
			v->indices[nnz] = i;
			SVEC_VALUES(v)[nnz] = x[i];
			nnz++;
		}
	return v;
}

/*
 * Tokenize one text for the model.  Without truncate, a text longer than
 * the context is an error; with it, the ids are cut as open_clip cuts them.
 */
static void
tokenize_text(CachedModel *cm, text *t, bool truncate, int32 *ids, int *n_ids)
{
	char		err[256];
	int			truncated = 0;
	int			context = cm->model->cfg.context_length;

	if (clip_tokenizer_encode(cm->tokenizer, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
							  context, ids, n_ids, &truncated, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("could not tokenize text: %s", err)));
	if (truncated && !truncate)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("text is longer than the model's context of %d tokens", context),
				 errhint("Shorten the text, or pass truncate => true to cut it as CLIP does.")));
}

/* Run the text tower over n tokenized texts; out receives n embeddings. */
static void
run_texts(CachedModel *cm, int32 **ids, int *lens, int n, float *out)
{
	char		err[256];

	sparseclip_apply_threads();
	if (sc_encode_texts(cm->model, sparseclip_workspace(), (const int32_t *const *) ids, lens, n,
						out, encode_progress, NULL, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("text encoding failed: %s", err)));
}

PG_FUNCTION_INFO_V1(sparseclip_encode_text);
Datum
sparseclip_encode_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	bool		truncate = PG_GETARG_BOOL(1);
	CachedModel *cm = sparseclip_get_model();
	int			dim = sc_model_output_dim(cm->model);
	int32	   *ids = palloc(sizeof(int32) * cm->model->cfg.context_length);
	float	   *out = palloc(sizeof(float) * dim);
	int			n_ids;

	tokenize_text(cm, t, truncate, ids, &n_ids);
	run_texts(cm, &ids, &n_ids, 1, out);
	PG_RETURN_SVEC_P(svec_from_dense(out, dim));
}

/*
 * An svec[] of n elements: NULL where nulls[i], else the embedding in row
 * row_of[i] of out.  The element type comes from the function's result type.
 */
static ArrayType *
svec_array(FunctionCallInfo fcinfo, const float *out, int dim, const bool *nulls,
		   const int *row_of, int n)
{
	Oid			elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (!OidIsValid(elemtype))
		elog(ERROR, "could not determine the svec type");
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	for (int i = 0; i < n; i++)
		elems[i] = nulls[i] ? (Datum) 0 :
			PointerGetDatum(svec_from_dense(out + (size_t) row_of[i] * dim, dim));
	if (n == 0)
		return construct_empty_array(elemtype);
	return construct_md_array(elems, (bool *) nulls, 1, dims, lbs, elemtype, typlen, typbyval,
							  typalign);
}

/* The elements of a one-dimensional array argument (NULLs allowed). */
static void
array_elements(ArrayType *array, Oid elemtype, Datum **elems, bool **nulls, int *n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("expected a one-dimensional array")));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, elems, nulls, n);
}

PG_FUNCTION_INFO_V1(sparseclip_encode_texts);
Datum
sparseclip_encode_texts(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	bool		truncate = PG_GETARG_BOOL(1);
	CachedModel *cm = sparseclip_get_model();
	int			dim = sc_model_output_dim(cm->model);
	int			context = cm->model->cfg.context_length;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				m = 0;
	int32	  **ids;
	int		   *lens;
	int		   *row_of;
	float	   *out;

	array_elements(array, TEXTOID, &elems, &nulls, &n);
	ids = palloc(sizeof(int32 *) * Max(n, 1));
	lens = palloc(sizeof(int) * Max(n, 1));
	row_of = palloc0(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			continue;
		ids[m] = palloc(sizeof(int32) * context);
		tokenize_text(cm, DatumGetTextPP(elems[i]), truncate, ids[m], &lens[m]);
		row_of[i] = m++;
	}
	out = palloc(sizeof(float) * (size_t) Max(m, 1) * dim);
	/* The core batches internally; chunk here only to bound memory. */
	for (int start = 0; start < m; start += sparseclip_batch_size)
	{
		int			count = Min(sparseclip_batch_size, m - start);

		run_texts(cm, ids + start, lens + start, count, out + (size_t) start * dim);
	}
	PG_RETURN_ARRAYTYPE_P(svec_array(fcinfo, out, dim, nulls, row_of, n));
}

PG_FUNCTION_INFO_V1(sparseclip_tokenize);
Datum
sparseclip_tokenize(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	bool		truncate = PG_GETARG_BOOL(1);
	CachedModel *cm = sparseclip_get_model();
	int32	   *ids = palloc(sizeof(int32) * cm->model->cfg.context_length);
	Datum	   *elems;
	int			n_ids;

	tokenize_text(cm, t, truncate, ids, &n_ids);
	elems = palloc(sizeof(Datum) * n_ids);
	for (int i = 0; i < n_ids; i++)
		elems[i] = Int32GetDatum(ids[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n_ids, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/*
 * Polled by the PNG decoder between rows: stop for a query cancel or a
 * termination.  It must return rather than throw (the decoder frees its
 * memory first), so the interrupt itself is serviced after it returns.
 */
static int
image_cancel(void *arg)
{
	return (QueryCancelPending || ProcDiePending) && INTERRUPTS_CAN_BE_PROCESSED();
}

/*
 * Decode and preprocess one image (JPEG, PNG or WebP, by signature) into
 * out [3, S, S], as sparseclip.image_alpha says for transparency.  The
 * header is read first so that an image over sparseclip.max_image_pixels
 * is refused before any pixel is decoded.  The bulk embedder calls this
 * too, so both accept the same formats.
 */
void
sparseclip_preprocess_image(CachedModel *cm, const uint8 *data, size_t len, float *out)
{
	const sc_config *cfg = &cm->model->cfg;
	char		err[256];
	clip_image_info info;
	clip_preprocess_opts o;
	int			rc;

	rc = clip_image_info_read(data, len, &info, err, sizeof(err));
	if (rc == CLIP_IMAGE_ENOMEM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory reading an image: %s", err)));
	if (rc != CLIP_IMAGE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("could not read image: %s", err)));
	if ((int64) info.width * info.height > sparseclip_max_image_pixels)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("image of %d x %d pixels is larger than sparseclip.max_image_pixels (%d)",
						info.width, info.height, sparseclip_max_image_pixels)));

	o.image_size = cfg->image_size;
	o.mean = cfg->image_mean;
	o.std = cfg->image_std;
	o.max_pixels = sparseclip_max_image_pixels;
	o.alpha = sparseclip_image_alpha == SPARSECLIP_ALPHA_MODEL ? sc_model_image_alpha(cm->model)
		: (clip_alpha_mode) sparseclip_image_alpha;
	o.cancel = image_cancel;
	o.cancel_arg = NULL;
	rc = clip_image_preprocess(data, len, &o, out, err, sizeof(err));
	switch (rc)
	{
		case CLIP_IMAGE_OK:
			return;
		case CLIP_IMAGE_ECANCEL:
			CHECK_FOR_INTERRUPTS();
			/* the interrupt could not be serviced here: still stop */
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling image decoding")));
			break;
		case CLIP_IMAGE_ELIMIT:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("could not decode image: %s", err)));
			break;
		case CLIP_IMAGE_ENOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not decode image: %s", err)));
			break;
		case CLIP_IMAGE_EARG:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not preprocess image for this model: %s", err)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("could not decode image: %s", err)));
	}
}

/* The image of a bytea, via sparseclip_preprocess_image. */
static void
preprocess_image(CachedModel *cm, bytea *image, float *out)
{
	sparseclip_preprocess_image(cm, (const uint8 *) VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image), out);
}

static void
run_images(CachedModel *cm, const float *pixels, int n, float *out)
{
	char		err[256];

	sparseclip_apply_threads();
	if (sc_encode_images(cm->model, sparseclip_workspace(), pixels, n, out,
						 encode_progress, NULL, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("image encoding failed: %s", err)));
}

PG_FUNCTION_INFO_V1(sparseclip_encode_image);
Datum
sparseclip_encode_image(PG_FUNCTION_ARGS)
{
	bytea	   *image = PG_GETARG_BYTEA_PP(0);
	CachedModel *cm = sparseclip_get_model();
	int			dim = sc_model_output_dim(cm->model);
	int			size = cm->model->cfg.image_size;
	float	   *pixels = palloc(sizeof(float) * 3 * size * size);
	float	   *out = palloc(sizeof(float) * dim);

	preprocess_image(cm, image, pixels);
	run_images(cm, pixels, 1, out);
	PG_RETURN_SVEC_P(svec_from_dense(out, dim));
}

PG_FUNCTION_INFO_V1(sparseclip_encode_images);
Datum
sparseclip_encode_images(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	CachedModel *cm = sparseclip_get_model();
	int			dim = sc_model_output_dim(cm->model);
	size_t		image_floats = (size_t) 3 * cm->model->cfg.image_size * cm->model->cfg.image_size;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				m = 0;
	int		   *row_of;
	int		   *source;
	float	   *out;
	float	   *pixels;

	array_elements(array, BYTEAOID, &elems, &nulls, &n);
	row_of = palloc0(sizeof(int) * Max(n, 1));
	source = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
		{
			source[m] = i;
			row_of[i] = m++;
		}
	out = palloc(sizeof(float) * (size_t) Max(m, 1) * dim);
	/* Decoded pixels are held one batch at a time. */
	pixels = palloc(sizeof(float) * image_floats * Min(Max(m, 1), sparseclip_batch_size));
	for (int start = 0; start < m; start += sparseclip_batch_size)
	{
		int			count = Min(sparseclip_batch_size, m - start);

		for (int j = 0; j < count; j++)
		{
			CHECK_FOR_INTERRUPTS();
			preprocess_image(cm, DatumGetByteaPP(elems[source[start + j]]), pixels + j * image_floats);
		}
		run_images(cm, pixels, count, out + (size_t) start * dim);
	}
	PG_RETURN_ARRAYTYPE_P(svec_array(fcinfo, out, dim, nulls, row_of, n));
}

/*
 * The dtype of the model's parameters as stored in the file ("F32", "F16",
 * "BF16"), or "mixed".
 */
static const char *
model_dtype(const sc_model *m)
{
	const char *name = NULL;

	if (m->file == NULL)
		return "F32";
	for (size_t i = 0; i < m->file->ntensors; i++)
	{
		const char *d = st_dtype_name(m->file->tensors[i].dtype);

		if (name == NULL)
			name = d;
		else if (strcmp(name, d) != 0)
			return "mixed";
	}
	return name ? name : "F32";
}

/*
 * The model in use as jsonb: where it came from (source: "default" or
 * "sparseclip.model"), its path, the fingerprint embedding jobs record,
 * file size and dtype, its descriptive metadata (sparseclip.model_name
 * etc. without the prefix), its kind, and its config.
 */
PG_FUNCTION_INFO_V1(sparseclip_model_info);
Datum
sparseclip_model_info(PG_FUNCTION_ARGS)
{
	CachedModel *cm = sparseclip_get_model();
	char	   *config = sc_config_to_json(&cm->model->cfg);
	StringInfoData buf;
	bool		first = true;

	if (config == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"source\": ");
	escape_json(&buf, sparseclip_model_source_name(cm->source));
	appendStringInfoString(&buf, ", \"path\": ");
	escape_json(&buf, cm->path);
	appendStringInfo(&buf, ", \"fingerprint\": \"%s\", \"size_bytes\": %lld, \"dtype\": \"%s\", \"metadata\": {",
					 sparseclip_model_fingerprint(cm), (long long) cm->size, model_dtype(cm->model));
	for (int i = 0; cm->model->file && sc_model_descriptive_keys[i]; i++)
	{
		const char *key = sc_model_descriptive_keys[i];
		const char *value = st_metadata(cm->model->file, key);

		if (value == NULL)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		escape_json(&buf, key + strlen("sparseclip."));
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, value);
	}
	appendStringInfo(&buf, "}, \"output_dim\": %d, \"sparse\": %s, \"has_concepts\": %s, \"blas_kernels\": \"%s\", \"config\": %s}",
					 sc_model_output_dim(cm->model),
					 cm->model->cfg.sparse_dim > 0 ? "true" : "false",
					 cm->model->concepts ? "true" : "false",
					 sc_blas_core(),
					 config);
	free(config);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
