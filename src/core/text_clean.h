/*
 * text_clean.h - CLIP's text normalisation before byte-level BPE.
 *
 * open_clip cleans a caption as
 *     whitespace_clean(basic_clean(text)).lower()
 * with basic_clean = ftfy.fix_text, html.unescape twice, strip.  This file
 * does the same in C with utf8proc for the Unicode data.  ftfy is reproduced
 * step by step except its mojibake repair (fix_encoding); doc/tokenizer.md
 * lists what that leaves different.
 */
#ifndef SPARSECLIP_TEXT_CLEAN_H
#define SPARSECLIP_TEXT_CLEAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Clean UTF-8 text (len bytes, need not be NUL-terminated).  On success
 * returns 0 and sets *out to a malloc'd NUL-terminated UTF-8 string (free()
 * it) of *out_len bytes.  On failure (invalid UTF-8, out of memory) returns
 * -1 and writes a message into err (errlen bytes).
 */
int clip_text_clean(const char *text, size_t len, char **out, size_t *out_len,
					char *err, size_t errlen);

/* Python's str.isspace(): what CLIP's whitespace_clean collapses. */
int clip_is_space(int32_t cp);

#endif
