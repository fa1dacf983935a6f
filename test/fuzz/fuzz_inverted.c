/*
 * fuzz_inverted.c - libFuzzer target: the `inverted` index's page and
 * segment decoders (src/inverted/page.c, segment.c, pending.c, check.c,
 * scan*.c, compiled unchanged), over an index held in memory
 * (inv_shim.c), outside a server.
 *
 * Input: FUZZ_CTL control bytes, then the index, 8 KB pages from block 0
 * (the metapage); a partial last page is ignored.  Each input runs
 *  1. inverted_check's structural part (inv_check_structure): metapage,
 *     free runs, pending chain, every segment's header, extents, doc table,
 *     norms, dimensions, directory, range descriptors and pieces
 *     (inv_piece_read), and the pending records;
 *  2. what a merge or VACUUM reads (as inv_merge_pending and inv_compact
 *     do, without writing): every segment's live documents and postings
 *     into an InvAccum (inv_accum_add_segment), its live dimension, its
 *     extents handed to a free list, and the pending chain's pages;
 *  3. an ORDER BY scan (invbeginscan/invrescan/invgettuple) with a small
 *     query built from the control bytes, through the segment preparation,
 *     the term walk, the bitmap kernels (plain, AVX2 or AVX-512 as the
 *     control bytes pick, where the CPU has them), pruning and batches.
 * Corrupt input must end in an ERROR (caught here, as ereport's longjmp),
 * never a crash, a hang, or a read outside a page (each page is its own
 * malloc'd block).  After a run without an ERROR, no buffer may be left
 * pinned or locked.
 *
 * Control bytes: [0] bit 0 cosine operator class, bits 1-2 the kernels
 * (sparseclip.inverted_simd), bit 3 pruning off, bits 4-7 the initial batch
 * size - 1; [1] sparseclip.inverted_query_terms (0: all); [2] the query's
 * terms (0-6); [3] results to fetch (0: all); [4..15] (index, value) byte
 * pairs of the query.
 *
 * FUZZ_INVERTED_VERBOSE=1 in the environment prints what each input gave
 * (to see that the seeds pass whole, or which ERROR stopped one).
 */
#include "postgres.h"

#include <setjmp.h>

#include "access/relscan.h"
#include "access/skey.h"
#include "utils/hsearch.h"

#include "inverted.h"
#include "svec.h"
#include "pg_shim.h"
#include "inv_shim.h"

#define FUZZ_CTL	16

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the GUCs of src/inverted/handler.c, which is not linked */
int			inv_query_terms = 0;
int			inv_pending_limit = 4096;
int			inv_initial_batch = 16;
bool		inv_prune = true;
int			inv_simd = INV_SIMD_AVX512;

static SVec *
fuzz_query(const uint8_t *ctl, int32 dim)
{
	int32		idx[6];
	float4		val[6];
	int			n = 0;
	int			want = ctl[2] % 7;
	SVec	   *q;

	for (int j = 0; j < want; j++)
	{
		int32		ix = ctl[4 + 2 * j] % dim;
		int			pos = n;

		/* sorted, without duplicates */
		while (pos > 0 && idx[pos - 1] > ix)
			pos--;
		if (pos > 0 && idx[pos - 1] == ix)
			continue;
		memmove(idx + pos + 1, idx + pos, sizeof(int32) * (n - pos));
		memmove(val + pos + 1, val + pos, sizeof(float4) * (n - pos));
		idx[pos] = ix;
		val[pos] = ((int8) ctl[5 + 2 * j] | 1) / 16.0f;
		n++;
	}
	q = svec_alloc(dim, n);
	memcpy(q->indices, idx, sizeof(int32) * n);
	memcpy(SVEC_VALUES(q), val, sizeof(float4) * n);
	return q;
}

static int
fuzz_scan(Relation index, const uint8_t *ctl)
{
	IndexScanDesc scan;
	ScanKeyData key;
	InvMetaPageData *meta;
	int32		dim;
	int			limit = ctl[3];
	int			got = 0;

	/* the query has the index's dimension, as the operator requires */
	meta = InvPageGetMeta(LocalBufferBlockPointers[0]);
	dim = meta->dim > 0 && meta->dim <= SVEC_MAX_DIM ? meta->dim : 256;
	memset(&key, 0, sizeof(key));
	key.sk_argument = PointerGetDatum(fuzz_query(ctl, dim));
	key.sk_attno = 1;
	scan = invbeginscan(index, 0, 1);
	invrescan(scan, NULL, 0, &key, 1);
	while (invgettuple(scan, ForwardScanDirection))
	{
		if (++got == limit)
			break;
	}
	invendscan(scan);
	return got;
}

/* the readers of inv_merge_pending and inv_compact; returns the postings read */
static uint64
fuzz_merge_reads(Relation index)
{
	InvMetaPageData meta;
	InvAccum	acc;
	FullTransactionId xid = FullTransactionIdFromEpochAndXid(0, FirstNormalTransactionId);

	memcpy(&meta, InvPageGetMeta(LocalBufferBlockPointers[0]), sizeof(meta));
	inv_check_meta(index, &meta);
	inv_accum_init(&acc, meta.flags & INV_FLAG_COSINE);
	for (uint32 i = 0; i < meta.nsegments; i++)
	{
		InvReader	r;
		InvSegHeader hdr;

		inv_accum_add_segment(&acc, index, &meta.segs[i], NULL, NULL, NULL);
		inv_reader_init(&r, index, meta.segs[i].start, meta.segs[i].npages);
		inv_segment_read_header(&r, &hdr);
		(void) inv_segment_live_dim(&r, &hdr);
		inv_reader_end(&r);
		inv_free_segment(index, &meta, &meta.segs[i], xid);
	}
	inv_pending_free_pages(index, &meta, meta.pend_head, xid);
	return acc.npost;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ctl = data;
	BlockNumber nblocks;
	Relation	index;

	static int	verbose = -1;
	volatile bool ok = false;

	if (verbose < 0)
		verbose = getenv("FUZZ_INVERTED_VERBOSE") != NULL;
	shim_keep_messages = verbose;
	/* out of memory, for the harness: a corrupt count may ask for gigabytes */
	shim_alloc_limit = (Size) 256 * 1024 * 1024;
	if (size < FUZZ_CTL + BLCKSZ)
		return 0;
	nblocks = (BlockNumber) ((size - FUZZ_CTL) / BLCKSZ);
	index = shim_index_open(data + FUZZ_CTL, nblocks);
	shim_cosine = (ctl[0] & 1) != 0;
	inv_simd = (ctl[0] >> 1) & 3;
	if (inv_simd > INV_SIMD_AVX512)
		inv_simd = INV_SIMD_AVX512;
	inv_prune = (ctl[0] & 8) == 0;
	/* the shim frees every allocation after an input: no arrays kept across inputs */
	inv_scan_cache_kb = 0;
	inv_initial_batch = 1 + (ctl[0] >> 4);
	inv_query_terms = ctl[1] % 8;

	if (setjmp(shim_error_jmp) == 0)
	{
		InvMetaPageData meta;
		uint64		nentries = 0;

		memcpy(&meta, InvPageGetMeta(LocalBufferBlockPointers[0]), sizeof(meta));
		(void) inv_check_structure(index, &meta, &nentries);
		shim_index_check_released();
		ok = true;
		if (verbose)
			fprintf(stderr, "check: %llu documents\n", (unsigned long long) nentries);
	}
	if (!ok && verbose)
		fprintf(stderr, "check: ERROR %s\n", shim_message);
	shim_index_close();
	shim_reset();

	index = shim_index_open(data + FUZZ_CTL, nblocks);
	ok = false;
	if (setjmp(shim_error_jmp) == 0)
	{
		uint64		n = fuzz_merge_reads(index);

		shim_index_check_released();
		ok = true;
		if (verbose)
			fprintf(stderr, "merge: %llu postings\n", (unsigned long long) n);
	}
	if (!ok && verbose)
		fprintf(stderr, "merge: ERROR %s\n", shim_message);
	shim_index_close();
	shim_reset();

	/* the scan, on a fresh copy: pins an ERROR left behind do not count */
	index = shim_index_open(data + FUZZ_CTL, nblocks);
	if (setjmp(shim_error_jmp) == 0)
	{
		int			got = fuzz_scan(index, ctl);

		shim_index_check_released();
		if (verbose)
			fprintf(stderr, "scan: %d results\n", got);
	}
	else if (verbose)
		fprintf(stderr, "scan: ERROR %s\n", shim_message);
	shim_index_close();
	shim_reset();
	return 0;
}
