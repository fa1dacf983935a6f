/*
 * model_cache.h - the model a backend encodes with.
 */
#ifndef SPARSECLIP_MODEL_CACHE_H
#define SPARSECLIP_MODEL_CACHE_H

#include "bpe.h"
#include "model.h"

/* Where the model in use was named. */
typedef enum ModelSource
{
	MODEL_SOURCE_SETTING,		/* sparseclip.model */
	MODEL_SOURCE_DEFAULT		/* sparseclip.model empty: the installed default */
} ModelSource;

typedef struct CachedModel
{
	sc_model   *model;
	ClipTokenizer *tokenizer;
	char	   *path;			/* malloc'd copy of the path loaded */
	ModelSource source;			/* of the latest sparseclip_get_model() */
	char		fingerprint[17];	/* of the file's bytes, "" until computed */
	/* identity of the file when loaded, to notice replacement or change */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
} CachedModel;

/*
 * The model named by sparseclip.model, or when that is empty the default
 * model installed in the share directory (sparseclip_default_model_path),
 * loaded on first use and reloaded when the setting or the file changes.
 * Raises ERROR when it cannot be loaded, or when the setting is empty and
 * no default is installed.
 */
extern CachedModel *sparseclip_get_model(void);

/* $sharedir/sparseclip/default.safetensors of this server. */
extern const char *sparseclip_default_model_path(void);

/* "default" or "sparseclip.model", as model_info() shows it. */
extern const char *sparseclip_model_source_name(ModelSource source);

/*
 * A fingerprint of the model file's bytes (16 hex digits), computed once
 * per loaded file: what embedding jobs record per row and model_info()
 * shows.  Reads the whole mapping; honours query cancel.
 */
extern const char *sparseclip_model_fingerprint(CachedModel *cm);

/* Scratch memory for encoding, kept for the life of the backend. */
extern sc_workspace *sparseclip_workspace(void);

#endif
