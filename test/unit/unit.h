/*
 * unit.h - a minimal harness for the C unit tests of the pure-C core.
 *
 * Each test/unit/test_*.c is one program with main(); it is linked against
 * every src/core object plus OpenBLAS, libturbojpeg, utf8proc and libm, and
 * run from the repository root.  It ends with unit_done(), which prints
 * "N passed, N failed" and returns the exit status.
 */
#ifndef SPARSECLIP_UNIT_H
#define SPARSECLIP_UNIT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_passed, unit_failed, unit_skipped;

#define CHECK(cond, ...) do { \
	if (cond) unit_passed++; \
	else { unit_failed++; \
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

#define CHECK_NEAR(a, b, tol, what) do { \
	double a_ = (a), b_ = (b); \
	CHECK(fabs(a_ - b_) <= (tol), "%s: %.9g vs %.9g (tol %g)", (what), a_, b_, (double) (tol)); \
} while (0)

/* Where ../shared/data lives; tests that need it skip with a message when absent. */
static inline const char *
unit_shared_data(void)
{
	const char *d = getenv("SPARSECLIP_SHARED_DATA");
	return d ? d : "../shared/data";
}

static inline void
unit_skip(const char *why)
{
	unit_skipped++;
	printf("SKIP: %s\n", why);
}

static inline int
unit_done(const char *name)
{
	printf("%s: %d passed, %d failed, %d skipped\n", name, unit_passed, unit_failed, unit_skipped);
	return unit_failed ? 1 : 0;
}

#endif
