/*
 * encode.h - what encode.c shares with other SQL entry points (the bulk
 * embedder): one image decoding path for every caller.
 */
#ifndef SPARSECLIP_ENCODE_H
#define SPARSECLIP_ENCODE_H

#include "model_cache.h"

/*
 * Decode one image (JPEG, PNG or WebP) of len bytes and preprocess it for
 * the model into out [3, image_size, image_size].  Raises ERROR: 22P03 for
 * unknown, corrupt or truncated data, 54000 over sparseclip.max_image_pixels,
 * 53200 out of memory, 57014 when cancelled.
 */
extern void sparseclip_preprocess_image(CachedModel *cm, const uint8 *data, size_t len, float *out);

#endif
