/*
 * image.h - JPEG decoding and CLIP's eval preprocessing, in C.
 *
 * Matches open_clip's eval transform on a PIL image:
 *   Resize(image_size, BICUBIC) of the shorter side, CenterCrop(image_size),
 *   convert('RGB'), ToTensor(), Normalize(mean, std)
 * with PIL's fixed-point resampling, so the 8-bit pixels before ToTensor are
 * the same as PIL's, and with PIL's reading of 4-channel JPEGs (Adobe
 * inverted CMYK, converted to RGB after the resize as PIL does).
 * EXIF orientation is ignored, as PIL's Image.open() does.
 *
 * Errors (not a JPEG, corrupt, truncated, zero size, too many pixels, out of
 * memory) come back as messages; nothing here exits, aborts or longjmps out.
 */
#ifndef SPARSECLIP_IMAGE_H
#define SPARSECLIP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read only the JPEG header: width, height and number of components (1 gray,
 * 3 colour, 4 CMYK/YCCK).  Lets a caller refuse an image over a pixel limit
 * before decoding it.  Returns 0, or -1 with a message in err.
 */
int			clip_jpeg_info(const uint8_t *data, size_t len, int *width, int *height,
						   int *components, char *err, size_t errlen);

/*
 * Decode a JPEG and preprocess it into out: float32, channel-major
 * [3][image_size][image_size], ((pixel / 255) - mean[c]) / std[c].
 * max_pixels > 0 refuses images with more pixels than that before decoding.
 * Returns 0, or -1 with a message in err.
 */
int			clip_image_preprocess_jpeg(const uint8_t *data, size_t len, int image_size,
									   const float mean[3], const float std[3],
									   int64_t max_pixels, float *out,
									   char *err, size_t errlen);

/*
 * The same preprocessing from decoded 8-bit pixels, row-major and
 * interleaved: channels 1 (gray, PIL "L"), 3 (RGB) or 4 (CMYK as PIL holds
 * it, 0 = no ink).  Returns 0, or -1 with a message in err.
 */
int			clip_image_preprocess_pixels(const uint8_t *pixels, int width, int height,
										 int channels, int image_size,
										 const float mean[3], const float std[3],
										 float *out, char *err, size_t errlen);

/* The shorter side to image_size, the other int(image_size * long / short). */
void		clip_image_resized_size(int width, int height, int image_size,
									int *new_width, int *new_height);

#endif
