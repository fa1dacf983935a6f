/*
 * model_cache.h - the model a backend encodes with.
 */
#ifndef SPARSECLIP_MODEL_CACHE_H
#define SPARSECLIP_MODEL_CACHE_H

#include "bpe.h"
#include "model.h"

typedef struct CachedModel
{
	sc_model   *model;
	ClipTokenizer *tokenizer;
	char	   *path;			/* malloc'd copy of sparseclip.model when loaded */
	/* identity of the file when loaded, to notice replacement or change */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
} CachedModel;

/*
 * The model named by sparseclip.model, loaded on first use and reloaded when
 * the setting or the file changes.  Raises ERROR when it cannot be loaded.
 */
extern CachedModel *sparseclip_get_model(void);

/* Scratch memory for encoding, kept for the life of the backend. */
extern sc_workspace *sparseclip_workspace(void);

#endif
