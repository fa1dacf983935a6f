/*
 * model_cache.c - one model per backend, mapped read-only, reloaded when
 * sparseclip.model or the file it names changes.
 *
 * The core allocates with malloc: the model outlives any memory context.
 * Loading happens before anything is replaced, so a failed reload leaves
 * the backend without a model rather than with a half-built one.
 */
#include "postgres.h"

#include <sys/stat.h>

#include "miscadmin.h"

#include "model_cache.h"
#include "settings.h"

static CachedModel cache;
static sc_workspace workspace;

sc_workspace *
sparseclip_workspace(void)
{
	return &workspace;
}

static void
cache_release(void)
{
	if (cache.tokenizer)
		clip_tokenizer_free(cache.tokenizer);
	if (cache.model)
		sc_model_free(cache.model);
	free(cache.path);
	memset(&cache, 0, sizeof(cache));
}

static bool
cache_is_current(const char *path, const struct stat *st)
{
	return cache.model != NULL &&
		strcmp(cache.path, path) == 0 &&
		cache.dev == st->st_dev &&
		cache.ino == st->st_ino &&
		cache.size == st->st_size &&
		cache.mtime.tv_sec == st->st_mtim.tv_sec &&
		cache.mtime.tv_nsec == st->st_mtim.tv_nsec;
}

CachedModel *
sparseclip_get_model(void)
{
	const char *path = sparseclip_model_path;
	struct stat st;
	char		err[512];
	sc_model   *model;
	ClipTokenizer *tokenizer;
	char	   *path_copy;

	if (path == NULL || path[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no model is configured"),
				 errhint("A superuser sets sparseclip.model to the path of a model file: LOAD 'sparseclip'; ALTER SYSTEM SET sparseclip.model = '/path/model.safetensors'; SELECT pg_reload_conf(); or ALTER DATABASE ... SET sparseclip.model = '/path/model.safetensors'.")));
	if (stat(path, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open model file \"%s\": %m", path)));
	if (cache_is_current(path, &st))
		return &cache;

	/* Drop the old model first: both may not fit in memory at once. */
	cache_release();

	model = sc_model_load(path, 0, err, sizeof(err));
	if (model == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not load model file \"%s\"", path),
				 errdetail("%s", err)));
	if (model->bpe == NULL)
	{
		sc_model_free(model);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not load model file \"%s\"", path),
				 errdetail("The file has no sparseclip.bpe tokenizer merges.")));
	}
	tokenizer = clip_tokenizer_new(model->bpe, strlen(model->bpe), model->cfg.vocab_size,
								   err, sizeof(err));
	if (tokenizer == NULL)
	{
		sc_model_free(model);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not load the tokenizer of model file \"%s\"", path),
				 errdetail("%s", err)));
	}
	path_copy = strdup(path);
	if (path_copy == NULL)
	{
		clip_tokenizer_free(tokenizer);
		sc_model_free(model);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}

	cache.model = model;
	cache.tokenizer = tokenizer;
	cache.path = path_copy;
	cache.dev = st.st_dev;
	cache.ino = st.st_ino;
	cache.size = st.st_size;
	cache.mtime = st.st_mtim;
	return &cache;
}
