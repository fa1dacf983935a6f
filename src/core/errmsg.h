/*
 * errmsg.h - how the core reports errors: a message written into a
 * caller's buffer (the caller may be a PostgreSQL backend that turns it
 * into ereport, so nothing here exits, aborts or allocates).
 */
#ifndef SPARSECLIP_ERRMSG_H
#define SPARSECLIP_ERRMSG_H

#include <stddef.h>

/* printf into err[errlen]; does nothing when err is NULL or errlen is 0. */
extern void sc_seterr(char *err, size_t errlen, const char *fmt,...) __attribute__((format(printf, 3, 4)));

#endif
