/*
 * model_cache.c - one model per backend, mapped read-only, reloaded when
 * sparseclip.model or the file it names changes.  An empty sparseclip.model
 * means the default model that `make install` puts in the server's share
 * directory (sparseclip/default.safetensors).
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

const char *
sparseclip_default_model_path(void)
{
	static char path[MAXPGPATH];

	if (path[0] == '\0')
	{
		char		share[MAXPGPATH];

		/* the share directory of this installation, relocated as PostgreSQL's own */
		get_share_path(my_exec_path, share);
		snprintf(path, sizeof(path), "%s/sparseclip/default.safetensors", share);
	}
	return path;
}

const char *
sparseclip_model_source_name(ModelSource source)
{
	return source == MODEL_SOURCE_DEFAULT ? "default" : "sparseclip.model";
}

CachedModel *
sparseclip_get_model(void)
{
	const char *setting = sparseclip_model_path;
	ModelSource source = MODEL_SOURCE_SETTING;
	const char *path = setting;
	struct stat st;
	char		err[512];
	sc_model   *model;
	ClipTokenizer *tokenizer;
	char	   *path_copy;

	if (setting == NULL || setting[0] == '\0')
	{
		source = MODEL_SOURCE_DEFAULT;
		path = sparseclip_default_model_path();
		if (stat(path, &st) != 0 && errno == ENOENT)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("no model is configured"),
					 errdetail("sparseclip.model is empty and no default model is installed at \"%s\".", path),
					 errhint("A superuser sets sparseclip.model to the path of a model file: LOAD 'sparseclip'; ALTER SYSTEM SET sparseclip.model = '/path/model.safetensors'; SELECT pg_reload_conf(); or ALTER DATABASE ... SET sparseclip.model = '/path/model.safetensors'.")));
	}
	if (stat(path, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open %smodel file \"%s\": %m",
						source == MODEL_SOURCE_DEFAULT ? "the default " : "", path)));
	if (cache_is_current(path, &st))
	{
		cache.source = source;
		return &cache;
	}

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
	cache.source = source;
	cache.fingerprint[0] = '\0';
	cache.dev = st.st_dev;
	cache.ino = st.st_ino;
	cache.size = st.st_size;
	cache.mtime = st.st_mtim;
	return &cache;
}

/*
 * Four interleaved multiply-xor lanes over the mapping (reading it costs
 * about what one forward pass does), so that a file replaced by another
 * gets a new identity whatever its name, size or time stamps.  The cache
 * is reset whenever another file (or a changed one) is loaded.
 */
const char *
sparseclip_model_fingerprint(CachedModel *cm)
{
	const unsigned char *p;
	size_t		len,
				i = 0;
	uint64		h[4] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
	0x165667b19e3779f9ULL, 0x27d4eb2f165667c5ULL};
	uint64		r;

	if (cm->fingerprint[0] != '\0')
		return cm->fingerprint;
	if (cm->model->file == NULL)
		elog(ERROR, "the model is not mapped from a file");
	p = cm->model->file->map;
	len = cm->model->file->map_len;
	for (; i + 32 <= len; i += 32)
	{
		for (int k = 0; k < 4; k++)
		{
			uint64		w;

			memcpy(&w, p + i + 8 * k, 8);
			h[k] = (h[k] ^ w) * 0x100000001b3ULL;
			h[k] ^= h[k] >> 29;
		}
		if ((i & ((1 << 24) - 1)) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	r = len;
	for (; i < len; i++)
		r = (r ^ p[i]) * 0x100000001b3ULL;
	for (int k = 0; k < 4; k++)
	{
		r ^= h[k] + 0x9e3779b97f4a7c15ULL + (r << 6) + (r >> 2);
		r *= 0xff51afd7ed558ccdULL;
		r ^= r >> 33;
	}
	snprintf(cm->fingerprint, sizeof(cm->fingerprint), "%016llx", (unsigned long long) r);
	return cm->fingerprint;
}
