/*
 * inv_shim.c - the buffer manager, relation, memory-context and hash-table
 * services that the inverted index's readers (src/inverted/page.c,
 * segment.c, pending.c, check.c, scan*.c) call, over an index held in
 * memory, for test/fuzz/fuzz_inverted.c.  Each page is its own malloc'd
 * block of BLCKSZ bytes, so that AddressSanitizer reports any read outside
 * a page.  Buffers are local buffers (negative numbers: -(block + 1)), which
 * is what BufferGetPage's macro reads through LocalBufferBlockPointers; the
 * relation is a temporary one, as a local-buffer index is.  Pins and share
 * locks are counted, and misuse (unlocking what is not locked, releasing
 * what is not pinned) aborts.  Functions only the writers, VACUUM or the
 * heap side of inverted_check call are in inv_stubs.c and abort.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "pg_shim.h"
#include "inv_shim.h"

/* ---- the index ---- */
Block	   *LocalBufferBlockPointers;
int			NLocBuffer;
static BlockNumber inv_nblocks;
static int *inv_pins;
static int *inv_locks;
static int	inv_total_pins;
static FormData_pg_class inv_class;
static RelationData inv_rel;
bool		shim_cosine;

Relation
shim_index_open(const uint8 *pages, BlockNumber nblocks)
{
	BlockNumber b;

	inv_nblocks = nblocks;
	NLocBuffer = (int) nblocks;
	LocalBufferBlockPointers = malloc(sizeof(Block) * Max(nblocks, 1));
	inv_pins = calloc(Max(nblocks, 1), sizeof(int));
	inv_locks = calloc(Max(nblocks, 1), sizeof(int));
	for (b = 0; b < nblocks; b++)
	{
		LocalBufferBlockPointers[b] = malloc(BLCKSZ);
		memcpy(LocalBufferBlockPointers[b], pages + (size_t) b * BLCKSZ, BLCKSZ);
	}
	inv_total_pins = 0;
	strcpy(NameStr(inv_class.relname), "fuzz_idx");
	inv_class.relpersistence = RELPERSISTENCE_TEMP;
	inv_rel.rd_rel = &inv_class;
	return &inv_rel;
}

/* after an input without an ERROR: nothing may stay pinned or locked */
void
shim_index_check_released(void)
{
	if (inv_total_pins != 0)
		abort();
	for (BlockNumber b = 0; b < inv_nblocks; b++)
		if (inv_locks[b] != 0 || inv_pins[b] != 0)
			abort();
}

void
shim_index_close(void)
{
	for (BlockNumber b = 0; b < inv_nblocks; b++)
		free(LocalBufferBlockPointers[b]);
	free(LocalBufferBlockPointers);
	free(inv_pins);
	free(inv_locks);
	LocalBufferBlockPointers = NULL;
	inv_nblocks = 0;
	NLocBuffer = 0;
}

static BlockNumber
inv_buffer_block(Buffer buffer)
{
	BlockNumber b = (BlockNumber) (-buffer - 1);

	if (buffer >= 0 || b >= inv_nblocks || inv_pins[b] <= 0)
		abort();				/* a buffer not pinned: a bug, not corruption */
	return b;
}

BlockNumber
RelationGetNumberOfBlocksInFork(Relation relation, ForkNumber forkNum)
{
	(void) relation;
	(void) forkNum;
	return inv_nblocks;
}

/* PageIsVerifiedExtended's header checks (checksums are off here) */
static bool
shim_page_header_ok(Page page)
{
	PageHeader	p = (PageHeader) page;

	if ((p->pd_flags & ~PD_VALID_FLAG_BITS) == 0 && p->pd_lower <= p->pd_upper &&
		p->pd_upper <= p->pd_special && p->pd_special <= BLCKSZ &&
		p->pd_special == MAXALIGN(p->pd_special))
		return true;
	for (int i = 0; i < BLCKSZ; i++)
		if (((const char *) page)[i] != 0)
			return false;
	return true;				/* a new page */
}

Buffer
ReadBufferExtended(Relation reln, ForkNumber forkNum, BlockNumber blockNum,
				   ReadBufferMode mode, BufferAccessStrategy strategy)
{
	(void) strategy;
	if (forkNum != MAIN_FORKNUM || mode != RBM_NORMAL || blockNum == P_NEW)
		abort();				/* only the writers ask for these */
	/* as mdread does for a block past the end */
	if (blockNum >= inv_nblocks)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not read block %u in file \"%s\": read only 0 of %d bytes",
						blockNum, RelationGetRelationName(reln), BLCKSZ)));
	/* as bufmgr.c does with PageIsVerifiedExtended on a read from disk */
	if (!shim_page_header_ok(LocalBufferBlockPointers[blockNum]))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid page in block %u of relation %s",
						blockNum, RelationGetRelationName(reln))));
	inv_pins[blockNum]++;
	inv_total_pins++;
	return -(Buffer) blockNum - 1;
}

Buffer
ReadBuffer(Relation reln, BlockNumber blockNum)
{
	return ReadBufferExtended(reln, MAIN_FORKNUM, blockNum, RBM_NORMAL, NULL);
}

bool
ReadRecentBuffer(RelFileNode rnode, ForkNumber forkNum, BlockNumber blockNum, Buffer recent_buffer)
{
	(void) rnode;
	(void) forkNum;
	(void) blockNum;
	(void) recent_buffer;
	abort();					/* a temporary index uses none */
}

void
ReleaseBuffer(Buffer buffer)
{
	BlockNumber b = inv_buffer_block(buffer);

	inv_pins[b]--;
	inv_total_pins--;
}

void
LockBuffer(Buffer buffer, int mode)
{
	BlockNumber b = inv_buffer_block(buffer);

	if (mode == BUFFER_LOCK_UNLOCK)
	{
		if (inv_locks[b] <= 0)
			abort();
		inv_locks[b]--;
	}
	else if (mode == BUFFER_LOCK_SHARE)
		inv_locks[b]++;
	else
		abort();				/* readers never lock exclusively */
}

void
UnlockReleaseBuffer(Buffer buffer)
{
	LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
	ReleaseBuffer(buffer);
}

BlockNumber
BufferGetBlockNumber(Buffer buffer)
{
	return inv_buffer_block(buffer);
}

RegProcedure
index_getprocid(Relation irel, AttrNumber attnum, uint16 procnum)
{
	(void) irel;
	(void) attnum;
	/* the cosine operator class is the one with support function 2 */
	return (procnum == 2 && shim_cosine) ? 1 : InvalidOid;
}

IndexScanDesc
RelationGetIndexScan(Relation indexRelation, int nkeys, int norderbys)
{
	IndexScanDesc scan = palloc0(sizeof(IndexScanDescData));

	scan->indexRelation = indexRelation;
	scan->numberOfKeys = nkeys;
	scan->numberOfOrderBys = norderbys;
	scan->keyData = nkeys > 0 ? palloc0(sizeof(ScanKeyData) * nkeys) : NULL;
	scan->orderByData = norderbys > 0 ? palloc0(sizeof(ScanKeyData) * norderbys) : NULL;
	return scan;
}

/* ---- interrupts ---- */
volatile sig_atomic_t InterruptPending = false;

void
ProcessInterrupts(void)
{
	abort();
}

/* ---- memory: everything from pg_shim.c's palloc, freed after each input ---- */
MemoryContext CurrentMemoryContext;
MemoryContext TopMemoryContext;

/*
 * Huge allocations as PostgreSQL checks them; palloc's own limit is
 * lowered by fuzz_inverted.c so that a corrupt count cannot make the
 * harness itself run out of memory (a server would try, or fail with an
 * ERROR).
 */
void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	(void) context;
	if (!AllocHugeSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	return palloc(size);
}

void *
repalloc_huge(void *pointer, Size size)
{
	if (!AllocHugeSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	return repalloc(pointer, size);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	(void) context;
	return palloc(size);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	(void) context;
	return palloc0(size);
}

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name, Size minContextSize,
							  Size initBlockSize, Size maxBlockSize)
{
	(void) parent;
	(void) name;
	(void) minContextSize;
	(void) initBlockSize;
	(void) maxBlockSize;
	return palloc0(sizeof(MemoryContextData));
}

void
MemoryContextReset(MemoryContext context)
{
	(void) context;				/* freed with the input */
}

void
MemoryContextDelete(MemoryContext context)
{
	(void) context;
}

void
MemoryContextRegisterResetCallback(MemoryContext context, MemoryContextCallback *cb)
{
	(void) context;
	(void) cb;					/* the contexts are freed with the input */
}

/* ---- hash tables: an open-addressing table of blob keys, enough for check.c ---- */
struct HTAB
{
	Size		keysize;
	Size		entrysize;		/* MAXALIGN'd: entries are structs */
	uint64		n;
	uint64		cap;
	bool	   *used;
	char	   *slots;			/* cap * entrysize */
};

static uint64
shim_hash(const void *key, Size len)
{
	uint64		h = 1469598103934665603ULL;

	for (Size i = 0; i < len; i++)
		h = (h ^ ((const uint8 *) key)[i]) * 1099511628211ULL;
	return h;
}

HTAB *
hash_create(const char *tabname, long nelem, const HASHCTL *info, int flags)
{
	HTAB	   *t = palloc0(sizeof(HTAB));

	(void) tabname;
	(void) nelem;
	if (!(flags & HASH_BLOBS))
		abort();
	t->keysize = info->keysize;
	t->entrysize = MAXALIGN(info->entrysize);
	t->cap = 64;
	t->used = palloc0(t->cap);
	t->slots = palloc0(t->cap * t->entrysize);
	return t;
}

void *
hash_search(HTAB *t, const void *key, HASHACTION action, bool *foundPtr)
{
	uint64		i;

	if (action == HASH_ENTER && (t->n + 1) * 2 > t->cap)
	{
		char	   *old = t->slots;
		bool	   *oldused = t->used;
		uint64		oldcap = t->cap;

		t->cap *= 2;
		t->used = palloc0(t->cap);
		t->slots = palloc0(t->cap * t->entrysize);
		t->n = 0;
		for (i = 0; i < oldcap; i++)
			if (oldused[i])
				memcpy(hash_search(t, old + i * t->entrysize, HASH_ENTER, NULL),
					   old + i * t->entrysize, t->entrysize);
	}
	for (i = shim_hash(key, t->keysize) & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
	{
		char	   *s = t->slots + i * t->entrysize;

		if (!t->used[i])
		{
			if (foundPtr)
				*foundPtr = false;
			if (action != HASH_ENTER)
				return NULL;
			t->used[i] = true;
			memcpy(s, key, t->keysize);
			t->n++;
			return s;
		}
		if (memcmp(s, key, t->keysize) == 0)
		{
			if (foundPtr)
				*foundPtr = true;
			return s;
		}
	}
}

void
hash_destroy(HTAB *hashp)
{
	(void) hashp;
}

/* ---- error reporting beyond pg_shim.c's ---- */
int
errmsg_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	shim_keep_message(fmt, ap);
	va_end(ap);
	return 0;
}

int
errhint(const char *fmt,...)
{
	(void) fmt;
	return 0;
}

bool
message_level_is_interesting(int elevel)
{
	return elevel >= ERROR;
}

/* ---- as in PostgreSQL ---- */
int32
ItemPointerCompare(ItemPointer arg1, ItemPointer arg2)
{
	BlockNumber b1 = ItemPointerGetBlockNumberNoCheck(arg1);
	BlockNumber b2 = ItemPointerGetBlockNumberNoCheck(arg2);

	if (b1 < b2)
		return -1;
	else if (b1 > b2)
		return 1;
	else if (ItemPointerGetOffsetNumberNoCheck(arg1) < ItemPointerGetOffsetNumberNoCheck(arg2))
		return -1;
	else if (ItemPointerGetOffsetNumberNoCheck(arg1) > ItemPointerGetOffsetNumberNoCheck(arg2))
		return 1;
	return 0;
}

struct varlena *
pg_detoast_datum_copy(struct varlena *datum)
{
	struct varlena *copy = palloc(VARSIZE(datum));

	memcpy(copy, datum, VARSIZE(datum));
	return copy;
}
