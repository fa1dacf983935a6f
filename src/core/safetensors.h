/*
 * safetensors.h - read and write the safetensors tensor file format.
 *
 * Format: an 8-byte little-endian unsigned header length H, then H bytes of
 * JSON (an object: tensor name -> {"dtype", "shape", "data_offsets": [begin,
 * end]}, plus an optional "__metadata__" object of string values), then the
 * raw little-endian row-major tensor bytes; offsets are relative to the
 * first byte after the header.
 *
 * The reader maps the file read-only (shared through the page cache) and
 * checks everything against the file before any tensor is used: header
 * length, JSON syntax, dtype, shape, offsets in range, byte length equal to
 * the shape's, no overlaps and no holes between tensors.  Errors come back
 * as a message in err (never exit/abort).  Little-endian hosts only.
 */
#ifndef SPARSECLIP_SAFETENSORS_H
#define SPARSECLIP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
/* A larger header is refused (the safetensors library uses the same bound). */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

typedef enum st_dtype
{
	ST_F64, ST_F32, ST_F16, ST_BF16,
	ST_I64, ST_I32, ST_I16, ST_I8, ST_U64, ST_U32, ST_U16, ST_U8, ST_BOOL
} st_dtype;

typedef struct st_tensor
{
	char	   *name;
	st_dtype	dtype;
	int			ndim;
	int64_t		shape[ST_MAX_DIMS];
	int64_t		numel;			/* product of shape (1 for a scalar) */
	size_t		nbytes;
	const void *data;			/* inside the mapping; alignment not guaranteed */
} st_tensor;

typedef struct st_file
{
	void	   *map;			/* the mapping (or a copy, for st_open_memory) */
	size_t		map_len;
	int			mapped;			/* 1: munmap on close; 0: free on close */
	size_t		ntensors;
	st_tensor  *tensors;		/* in file order of data offsets */
	size_t		nmeta;
	char	  **meta_keys;
	char	  **meta_values;
} st_file;

/* Open and validate a file; NULL with a message in err on failure. */
extern st_file *st_open(const char *path, char *err, size_t errlen);

/* Validate a file image held in memory (copied; the caller keeps buf). */
extern st_file *st_open_memory(const void *buf, size_t len, char *err, size_t errlen);

extern void st_close(st_file *f);

/* Tensor by name, or NULL. */
extern const st_tensor *st_find(const st_file *f, const char *name);

/* __metadata__ value by key, or NULL. */
extern const char *st_metadata(const st_file *f, const char *key);

/* Bytes per element of a dtype, and its safetensors name ("F32", ...). */
extern size_t st_dtype_size(st_dtype t);
extern const char *st_dtype_name(st_dtype t);

/*
 * Copy a tensor's elements to float32 (F32, F16 and BF16 only); returns -1
 * for any other dtype.  out must hold t->numel floats.
 */
extern int st_to_float(const st_tensor *t, float *out);

/* Half-precision conversions, exposed for tests and the trainer. */
extern float st_f16_to_float(uint16_t h);
extern float st_bf16_to_float(uint16_t h);
extern uint16_t st_float_to_f16(float f);	/* round to nearest even */
extern uint16_t st_float_to_bf16(float f);	/* round to nearest even */

/* One F32 tensor to write. */
typedef struct st_write_tensor
{
	const char *name;
	int			ndim;
	int64_t		shape[ST_MAX_DIMS];
	const float *data;
} st_write_tensor;

/*
 * Write F32 tensors and string metadata (nmeta key/value pairs, may be 0)
 * to path, atomically: a temporary file in the same folder is renamed over
 * path once complete.  The header is padded with spaces so that the data
 * starts 8-byte aligned.  Returns 0, or -1 with a message in err.
 */
extern int st_write(const char *path, const st_write_tensor *tensors, size_t ntensors,
					const char *const *meta_keys, const char *const *meta_values, size_t nmeta,
					char *err, size_t errlen);

/*
 * Rewrite an opened file to path (which may be the file src was opened
 * from: the new file replaces it by rename, src's mapping stays valid) with
 * the same tensors, dtypes and bytes, and its metadata changed: each of the
 * nkeys keys is set to its value (in its old place, or appended when new),
 * or removed where the value is NULL; the other keys are kept, in order.
 * Atomic as st_write.  Returns 0, or -1 with a message.
 */
extern int st_rewrite(const st_file *src, const char *path, const char *const *keys,
					  const char *const *values, size_t nkeys, char *err, size_t errlen);

/* to_dtype for st_rewrite_as: keep every tensor's dtype (st_rewrite). */
#define ST_KEEP_DTYPE (-1)

/* What st_rewrite_as did to the values (stats may be NULL). */
typedef struct st_convert_stats
{
	size_t		tensors;		/* float tensors converted */
	uint64_t	values;			/* their elements */
	uint64_t	underflow;		/* non-zero values that became (signed) zero */
	uint64_t	subnormal;		/* values stored as subnormals of to_dtype */
} st_convert_stats;

/*
 * st_rewrite, with every floating-point tensor (F64, F32, F16, BF16)
 * converted to to_dtype (ST_F32, ST_F16 or ST_BF16, rounding to nearest
 * even; F16 keeps subnormals) unless to_dtype is ST_KEEP_DTYPE.  Integer
 * and BOOL tensors are copied byte for byte, names, shapes and order kept.
 * A finite value too large for to_dtype is an error naming the tensor (it
 * would silently become infinity); infinities and NaNs stay what they are.
 * Metadata as st_rewrite: every key kept with its exact value and place,
 * keys[i] set (in place when present, else appended) or removed (NULL).
 */
extern int st_rewrite_as(const st_file *src, const char *path, int to_dtype,
						 const char *const *keys, const char *const *values, size_t nkeys,
						 st_convert_stats *stats, char *err, size_t errlen);

#endif
