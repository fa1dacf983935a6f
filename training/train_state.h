/*
 * train_state.h - sparseclip-train's state file: parameters, AdamW moments,
 * step, tokenizer, settings and controller state in one safetensors file,
 * written atomically, so that a run resumes bit for bit.
 */
#ifndef SC_TRAIN_STATE_H
#define SC_TRAIN_STATE_H

#include <stddef.h>

#include "model.h"
#include "train_args.h"
#include "train_flops.h"
#include "train_optim.h"

/* the run's settings as a flat JSON object (malloc'd; NULL when out of memory) */
char	   *train_args_json(const args *a, long total);
/* On resume: say which stored settings the command line changed. */
void		train_print_overrides(const char *stored, const char *now);
/* Write the state file (atomically): 0, or -1 with err. */
int			train_save_state(const char *path, sc_model *m, sc_trainer *t, const char *bpe, const args *a,
							 long total, const long reinit[2], const flops_ctl *fc, char *err, size_t errlen);
/*
 * Load a state file: model, moments, step, tokenizer and settings; NULL with
 * err.  *fire_out (sparse models): 4 x sparse_dim floats, the image and text
 * firing counts, then AuxK's image and text dead sets (zeros when absent).
 */
sc_model   *train_load_state(const char *path, args *a, long *total, long *step, char **bpe, float **am_out,
							 float **av_out, float **fire_out, long reinit[2], flops_ctl *fc, char *err, size_t errlen);

#endif
