/* fuzz_webp.c - fuzz_image.c with a RIFF/WEBP header in front of every input. */
#define FUZZ_WEBP
#include "fuzz_image.c"
