/* pg_shim.h - see pg_shim.c */
#ifndef PG_SHIM_H
#define PG_SHIM_H
#include <setjmp.h>
#include <stdarg.h>

extern jmp_buf shim_error_jmp;
extern int	shim_errors;
extern void shim_reset(void);
/* errmsg and its kin: keep the message when shim_keep_messages is set */
extern void shim_keep_message(const char *fmt, va_list ap);
extern bool shim_keep_messages;
extern Size shim_alloc_limit;
extern char shim_message[256];
#endif
