/*
 * settings.c - module load and sparseclip's configuration parameters.
 *
 * Nothing here needs shared_preload_libraries: the parameters are defined
 * when the library is first loaded in a backend.  Each part of the
 * extension that has settings registers them from _PG_init below.
 */
#include "postgres.h"

#include <limits.h>

#include <cblas.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "blas_tune.h"
#include "image.h"
#include "settings.h"
#include "inverted/inverted.h"

char	   *sparseclip_model_path = NULL;
int			sparseclip_threads = 1;
int			sparseclip_max_image_pixels = 25000000;
int			sparseclip_batch_size = 32;
int			sparseclip_image_alpha = SPARSECLIP_ALPHA_MODEL;

static const struct config_enum_entry image_alpha_options[] = {
	{"model", SPARSECLIP_ALPHA_MODEL, false},
	{"drop", CLIP_ALPHA_DROP, false},
	{"white", CLIP_ALPHA_WHITE, false},
	{NULL, 0, false}
};

void		_PG_init(void);

void
sparseclip_apply_threads(void)
{
	if (!sparseclip_blas_loaded())
	{
		char		msg[256];

		sparseclip_blas_load();
		/* before any BLAS call: on VMs OpenBLAS may pick generic kernels */
		if (sc_blas_tune(msg, sizeof(msg)) < 0)
			elog(DEBUG1, "sparseclip: %s", msg);
	}
	if (openblas_get_num_threads() != sparseclip_threads)
		openblas_set_num_threads(sparseclip_threads);
}

void
_PG_init(void)
{
	/* "" rather than NULL: embedding jobs record the setting as text */
	DefineCustomStringVariable("sparseclip.model",
							   "Path of the model file (safetensors) that encode_text and encode_image use.",
							   "Empty: the default model installed in the share directory (sparseclip/default.safetensors). "
							   "The file is mapped read-only once per backend and reloaded when it changes.",
							   &sparseclip_model_path,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("sparseclip.threads",
							"Number of OpenBLAS threads a backend uses for encoding.",
							NULL,
							&sparseclip_threads,
							1, 1, 64,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sparseclip.max_image_pixels",
							"Largest image (width times height) that encode_image decodes.",
							"Larger images are refused from their header alone, before decoding.",
							&sparseclip_max_image_pixels,
							25000000, 1, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sparseclip.batch_size",
							"Number of images or texts the batch encoders run through the model at once.",
							NULL,
							&sparseclip_batch_size,
							32, 1, 4096,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("sparseclip.image_alpha",
							 "What encode_image does with transparency: model (what the model was trained on), drop (as open_clip with Pillow) or white.",
							 "drop keeps the colour under transparent pixels, as Pillow's convert('RGB'); "
							 "white composites over white first, for drawings and icons; "
							 "model takes the model file's sparseclip.image_alpha, else drop.",
							 &sparseclip_image_alpha,
							 SPARSECLIP_ALPHA_MODEL,
							 image_alpha_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	inv_define_gucs();

	MarkGUCPrefixReserved("sparseclip");
	/* OpenBLAS is opened by the first encoding, not here (blas_loader.c) */
}
