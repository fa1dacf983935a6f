/*
 * scan_buffers.c - the large per-segment arrays of a scan (the score
 * accumulators and, for cosine, the norms), kept by the backend between
 * scans.
 *
 * A scan of a 1M-row segment needs 4 MB of accumulators (until format 7,
 * cosine needed as much again for the norms).
 * Allocated afresh for every query, glibc hands such blocks back to the
 * kernel when they are freed, so every query faulted its pages in again:
 * about a sixth of a 1M-row query's time went to page faults and unmapping.
 * The backend keeps up to sparseclip.inverted_scan_cache of them instead.
 * A buffer is lent to a scan until the scan's memory context is reset or
 * deleted (a reset callback returns it), so an error, a rescan or the end
 * of the scan give it back, and two scans open at once never share one.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "scan.h"

/* sparseclip.inverted_scan_cache, in kB */
int			inv_scan_cache_kb = 65536;

#define INV_SCAN_SLOTS 8

typedef struct InvScanSlot
{
	void	   *buf;
	Size		size;
	bool		lent;
} InvScanSlot;

static InvScanSlot inv_slots[INV_SCAN_SLOTS];

static void
inv_scan_buffer_return(void *arg)
{
	((InvScanSlot *) arg)->lent = false;
}

/* Free the unlent buffers, largest first, until the cache holds at most limit bytes. */
static void
inv_scan_cache_trim(Size limit)
{
	for (;;)
	{
		Size		held = 0;
		InvScanSlot *big = NULL;
		int			i;

		for (i = 0; i < INV_SCAN_SLOTS; i++)
		{
			held += inv_slots[i].size;
			if (inv_slots[i].buf != NULL && !inv_slots[i].lent &&
				(big == NULL || inv_slots[i].size > big->size))
				big = &inv_slots[i];
		}
		if (held <= limit || big == NULL)
			return;
		pfree(big->buf);
		big->buf = NULL;
		big->size = 0;
	}
}

/*
 * An array of at least size bytes, uninitialised, valid until ctx is reset
 * or deleted: from the cache when it has one free or room for one, else
 * from ctx.
 */
void *
inv_scan_buffer(MemoryContext ctx, Size size)
{
	Size		limit = (Size) inv_scan_cache_kb * 1024;
	InvScanSlot *slot = NULL;
	MemoryContextCallback *cb;
	int			i;

	if (size > limit)
	{
		inv_scan_cache_trim(limit);
		return MemoryContextAllocHuge(ctx, size);
	}
	/* the smallest unlent buffer that is large enough */
	for (i = 0; i < INV_SCAN_SLOTS; i++)
		if (inv_slots[i].buf != NULL && !inv_slots[i].lent && inv_slots[i].size >= size &&
			(slot == NULL || inv_slots[i].size < slot->size))
			slot = &inv_slots[i];
	if (slot == NULL)
	{
		/* a new one: make room by freeing unlent ones, then take a free slot */
		inv_scan_cache_trim(limit - size);
		for (i = 0; i < INV_SCAN_SLOTS && slot == NULL; i++)
			if (inv_slots[i].buf == NULL)
				slot = &inv_slots[i];
		if (slot == NULL)
			return MemoryContextAllocHuge(ctx, size);
		{
			Size		held = 0;

			for (i = 0; i < INV_SCAN_SLOTS; i++)
				held += inv_slots[i].size;
			/* the lent ones alone fill the cache */
			if (held + size > limit)
				return MemoryContextAllocHuge(ctx, size);
		}
		slot->buf = MemoryContextAllocHuge(TopMemoryContext, size);
		slot->size = size;
	}
	cb = MemoryContextAlloc(ctx, sizeof(MemoryContextCallback));
	cb->func = inv_scan_buffer_return;
	cb->arg = slot;
	MemoryContextRegisterResetCallback(ctx, cb);
	slot->lent = true;
	return slot->buf;
}

/* sparseclip.inverted_scan_cache was lowered: drop what no longer fits. */
void
inv_scan_cache_assign(int newval, void *extra)
{
	inv_scan_cache_trim((Size) newval * 1024);
}
