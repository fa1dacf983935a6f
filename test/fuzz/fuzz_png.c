/* fuzz_png.c - fuzz_image.c with a PNG signature in front of every input. */
#define FUZZ_PNG
#include "fuzz_image.c"
