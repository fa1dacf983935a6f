/*
 * blas_tune.c - switch OpenBLAS's dynamic-arch kernels; see blas_tune.h.
 */
#include "blas_tune.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* OpenBLAS DYNAMIC_ARCH entry points; weak, so other BLAS builds link too. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

const char *
sc_blas_core(void)
{
	return openblas_get_corename();
}

const char *
sc_blas_better_core(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
#endif
	return NULL;
}

/* OpenBLAS's fallbacks for x86-64 CPUs it does not recognise. */
static int
is_generic_core(const char *name)
{
	static const char *const generic[] = {"Prescott", "Core2", "Katmai", "Northwood", "Banias", "Penryn",
	"Dunnington", "Nehalem", "Sandybridge", "Atom", NULL};
	int			i;

	for (i = 0; generic[i]; i++)
		if (strcasecmp(name, generic[i]) == 0)
			return 1;
	return 0;
}

int
sc_blas_tune(char *msg, size_t msglen)
{
	const char *cur = openblas_get_corename();
	const char *want = sc_blas_better_core();
	const char *env = getenv("OPENBLAS_CORETYPE");
	char		prev[32];

	if (env && env[0])
	{
		if (msg)
			snprintf(msg, msglen, "OpenBLAS kernels %s (OPENBLAS_CORETYPE is set)", cur);
		return 0;
	}
	if (!want || !cur || !is_generic_core(cur))
	{
		if (msg)
			snprintf(msg, msglen, "OpenBLAS kernels %s kept", cur ? cur : "(unknown)");
		return 0;
	}
	if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit)
	{
		if (msg)
			snprintf(msg, msglen, "OpenBLAS uses %s kernels on a CPU that runs %s; this OpenBLAS cannot switch: set OPENBLAS_CORETYPE=%s",
					 cur, want, want);
		return -1;
	}
	snprintf(prev, sizeof prev, "%s", cur);
	/* dynamic init reads OPENBLAS_CORETYPE; set it only for the switch */
	setenv("OPENBLAS_CORETYPE", want, 1);
	gotoblas_dynamic_quit();
	gotoblas_dynamic_init();
	unsetenv("OPENBLAS_CORETYPE");
	cur = openblas_get_corename();
	if (strcasecmp(cur, want) != 0)
	{
		if (msg)
			snprintf(msg, msglen, "OpenBLAS did not switch from %s to %s kernels (now %s)", prev, want, cur);
		return -1;
	}
	if (msg)
		snprintf(msg, msglen, "OpenBLAS switched from %s to %s kernels", prev, want);
	return 1;
}
