/* inv_shim.h - see inv_shim.c */
#ifndef INV_SHIM_H
#define INV_SHIM_H
#include "utils/relcache.h"

extern bool shim_cosine;
extern Relation shim_index_open(const uint8 *pages, BlockNumber nblocks);
extern void shim_index_check_released(void);
extern void shim_index_close(void);
#endif
