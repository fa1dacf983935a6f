/*
 * inv_stubs.c - backend functions that src/inverted's writers, VACUUM and
 * the heap side of inverted_check call, which test/fuzz/fuzz_inverted.c
 * never reaches: each aborts, so that reaching one shows up as a crash.
 * Declared without their PostgreSQL prototypes (only the linker sees them).
 */
#include <stdlib.h>

char	   *BufferBlocks;		/* buffers here are local ones */
unsigned int CheckXidAlive;
int			bsysscan;
int			wal_level;

#define STUB(name) void name(void); void name(void) { abort(); }
STUB(BuildIndexInfo)
STUB(CreateExecutorState)
STUB(ExecDropSingleTupleTableSlot)
STUB(ExecFetchSlotHeapTuple)
STUB(ExecPrepareQual)
STUB(FormIndexDatum)
STUB(FreeExecutorState)
STUB(GenericXLogAbort)
STUB(GenericXLogFinish)
STUB(GenericXLogRegisterBuffer)
STUB(GenericXLogStart)
STUB(GetTransactionSnapshot)
STUB(GetUserId)
STUB(GlobalVisCheckRemovableFullXid)
STUB(IndexGetRelation)
STUB(LockRelationForExtension)
STUB(MakePerTupleExprContext)
STUB(PageInit)
STUB(RegisterSnapshot)
STUB(UnlockRelationForExtension)
STUB(UnregisterSnapshot)
STUB(XLogBeginInsert)
STUB(XLogInsert)
STUB(XLogRegisterData)
STUB(aclcheck_error)
STUB(get_rel_name)
STUB(heap_freetuple)
STUB(heap_get_root_tuples)
STUB(index_close)
STUB(index_open)
STUB(inv_reorder)
STUB(inv_reorder_enabled)
STUB(invbuild)
STUB(pg_class_ownercheck)
STUB(table_close)
STUB(table_open)
STUB(table_slot_create)
STUB(smgrextend)
STUB(smgropen)
STUB(smgrsetowner)

/*
 * The scan's helper thread (scan_helper.c) is never available here, so the
 * walk stays on one thread and never enters its PG_TRY.
 */
int			inv_helper_lag;
void	   *PG_exception_stack;
void	   *error_context_stack;
_Bool		inv_helper_available(void);
_Bool
inv_helper_available(void)
{
	return 0;
}
STUB(inv_helper_pending)
STUB(inv_helper_posted_count)
STUB(inv_helper_run)
STUB(inv_helper_wait)
STUB(pg_re_throw)
