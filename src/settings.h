/*
 * settings.h - sparseclip's configuration parameters (GUCs).
 */
#ifndef SPARSECLIP_SETTINGS_H
#define SPARSECLIP_SETTINGS_H

extern char *sparseclip_model_path;		/* sparseclip.model (superuser) */
extern int	sparseclip_threads;			/* sparseclip.threads */
extern int	sparseclip_max_image_pixels;	/* sparseclip.max_image_pixels (superuser) */
extern int	sparseclip_batch_size;		/* sparseclip.batch_size */
extern int	sparseclip_image_alpha;		/* sparseclip.image_alpha: a clip_alpha_mode or: */
#define SPARSECLIP_ALPHA_MODEL (-1)	/* the model's own sparseclip.image_alpha, else drop */

/*
 * Open OpenBLAS if need be (blas_loader.c) and set it to sparseclip.threads
 * for the work about to run: on the backend's main thread, before any BLAS.
 */
extern void sparseclip_apply_threads(void);

/* blas_loader.c: OpenBLAS, opened on first use (ERROR if it cannot be) */
extern void sparseclip_blas_load(void);
extern bool sparseclip_blas_loaded(void);

#endif
