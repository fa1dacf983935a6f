/*
 * eval_report.h - sparseclip-eval's results: the Markdown table on stdout
 * and, on request, the same figures under stable keys as JSON or TSV for
 * scripts (training/ablate.sh assembles its table from the TSV).
 */
#ifndef SPARSECLIP_TRAINING_EVAL_REPORT_H
#define SPARSECLIP_TRAINING_EVAL_REPORT_H

/* Record one figure under a key such as "heldout.top1" (note may be NULL). */
extern void report_value(const char *key, double value, const char *note);

/* Record a string (model path, judge, cut-offs). */
extern void report_string(const char *key, const char *value);

/*
 * Write everything recorded: JSON, one object {"key": value, ...} (NaN as
 * null, notes under "notes"), or TSV lines key<TAB>value<TAB>note.
 * Returns 0, or -1 when the file cannot be written.
 */
extern int	report_write_json(const char *path);
extern int	report_write_tsv(const char *path);

#endif
