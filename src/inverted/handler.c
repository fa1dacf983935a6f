/*
 * handler.c - the `inverted` access method's handler, options, settings and
 * operator class validation.
 */
#include "postgres.h"

#include "access/amapi.h"
#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "inverted.h"

PG_FUNCTION_INFO_V1(inverted_handler);

int			inv_query_terms = 0;
int			inv_pending_limit = 4096;
int			inv_initial_batch = 16;
bool		inv_prune = true;
int			inv_simd = INV_SIMD_AVX512;
int			inv_merge_gate_key = 0;
int			inv_helper_lag = 0;

static const struct config_enum_entry inv_simd_options[] = {
	{"avx512", INV_SIMD_AVX512, false},
	{"avx2", INV_SIMD_AVX2, false},
	{"off", INV_SIMD_NONE, false},
	{"on", INV_SIMD_AVX512, true},
	{NULL, 0, false}
};

/* Called from _PG_init (settings.c), before the "sparseclip" prefix is reserved. */
void
inv_define_gucs(void)
{
	DefineCustomIntVariable("sparseclip.inverted_query_terms",
							"Approximate inverted index scans: use only this many query terms, those that can add most.",
							"0 (the default) uses every term and keeps scans exact.",
							&inv_query_terms, 0, 0, SVEC_MAX_NNZ,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("sparseclip.inverted_pending_limit",
							"Pending-list length at which an insert folds the list into a segment.",
							"0 leaves the folding to VACUUM.",
							&inv_pending_limit, 4096, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("sparseclip.inverted_initial_batch",
							"Rows an inverted index scan ranks in its first batch; later batches double.",
							NULL,
							&inv_initial_batch, 16, 1, 1 << 20,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("sparseclip.inverted_simd",
							 "The widest vector instructions inverted index scans may score with.",
							 "avx512 (the default) uses AVX-512 or AVX2 where the CPU has them; "
							 "avx2 at most AVX2; off the portable loops.  The answers are the same.",
							 &inv_simd, INV_SIMD_AVX512, inv_simd_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("sparseclip.inverted_prune",
							 "Skip the posting ranges that cannot reach the next rows of an inverted index scan.",
							 "Exact either way; off scores every posting of every query term (for comparison).",
							 &inv_prune, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("sparseclip.inverted_scan_threads",
							"Threads an inverted index scan scores with: 2 adds a helper thread.",
							"With 2, a backend's helper thread adds the postings of one block of "
							"ranges while the backend finds those of the next.  The answers are the same.",
							&inv_scan_threads, 1, 1, 2,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("sparseclip.inverted_scan_cache",
							"Memory a backend keeps between inverted index scans for their score arrays.",
							"A scan needs 4 bytes per row of each segment; kept, they need not be "
							"faulted in again by the next query.  0 allocates them for every scan.",
							&inv_scan_cache_kb, 65536, 0, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, inv_scan_cache_assign, NULL);
	DefineCustomIntVariable("sparseclip.inverted_merge_gate",
							"For tests: merges wait before their switch while this advisory lock key is held.",
							"0 (the default) turns the gate off.",
							&inv_merge_gate_key, 0, 0, INT_MAX,
							PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomIntVariable("sparseclip.inverted_helper_lag",
							"For tests: microseconds the scan helper thread sleeps before each block it adds.",
							"0 (the default) turns the lag off.  A lagging helper makes the backend add "
							"blocks of later walks itself, a path timing alone reaches only sometimes.",
							&inv_helper_lag, 0, 0, 100000,
							PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	/* the index option `reorder` (reorder.c) */
	inv_init_reloptions();
}

/* Only ORDER BY operators returning float8 (strategy 1) and the support functions 1 (distance) and 2 (norm, cosine only). */
bool
invvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	CatCList   *oprlist,
			   *proclist;
	int			i;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(classform->opcfamily));
	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(classform->opcfamily));

	for (i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (op->amopstrategy != 1 || op->amoppurpose != AMOP_ORDER ||
			!check_amop_signature(op->amopopr, FLOAT8OID, op->amoplefttype, op->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("inverted operator family contains an invalid operator %u", op->amopopr)));
			result = false;
		}
	}
	for (i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc proc = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (proc->amprocnum < 1 || proc->amprocnum > 2)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("inverted operator family contains support function %d", proc->amprocnum)));
			result = false;
		}
	}
	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(classtup);
	return result;
}

Datum
inverted_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 1;
	amroutine->amsupport = 2;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_NO_PARALLEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = invbuild;
	amroutine->ambuildempty = invbuildempty;
	amroutine->aminsert = invinsert;
	amroutine->ambulkdelete = invbulkdelete;
	amroutine->amvacuumcleanup = invvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = invcostestimate;
	amroutine->amoptions = invoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = invbuildphasename;
	amroutine->amvalidate = invvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = invbeginscan;
	amroutine->amrescan = invrescan;
	amroutine->amgettuple = invgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = invendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
