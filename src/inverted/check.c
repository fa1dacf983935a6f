/*
 * check.c - inverted_check(regclass): verify an `inverted` index's structure
 * and that it holds every visible row of its table with the same vector.
 *
 * Structure: metapage, segment headers, sorted directory, descriptors inside
 * their segment, range bounds that really bound every weight, posting
 * offsets in range, and a pending list that parses.  Contents: each
 * document's postings are folded into a fingerprint (count, norm, sum of a
 * hash of every (dim, weight)); every row visible to the current snapshot
 * must find an index entry with its TID (HOT chains by their root) and the
 * same fingerprint.  Entries of dead rows not yet vacuumed are allowed.
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "inverted.h"

PG_FUNCTION_INFO_V1(inverted_check);

typedef struct CheckEntry
{
	ItemPointerData tid;		/* hash key */
	uint16		flags;
	bool		seen;
	int32		nnz;
	int32		dim;
	uint64		fp;
	double		norm2;
	bool		stored16;		/* in a segment: weights as bfloat16 */
} CheckEntry;

static inline uint64
check_hash(int32 dim, float4 w)
{
	uint32		wb;
	uint64		x;

	memcpy(&wb, &w, sizeof(wb));
	x = ((uint64) (uint32) dim << 32) | wb;
	x ^= x >> 33;
	x *= UINT64CONST(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64CONST(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

#define CORRUPT(...) \
	ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED), \
					errmsg("inverted index \"%s\": %s", RelationGetRelationName(index), psprintf(__VA_ARGS__))))

static CheckEntry *
check_add(HTAB *tab, Relation index, ItemPointer tid)
{
	bool		found;
	CheckEntry *e = hash_search(tab, tid, HASH_ENTER, &found);

	if (found)
		CORRUPT("TID (%u,%u) is indexed twice",
				ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid));
	e->seen = false;
	e->dim = INV_DIM_NONE;
	e->nnz = 0;
	e->fp = 0;
	e->stored16 = false;
	return e;
}

/* Blocks nobody else holds: each page belongs to at most one owner. */
static void
check_claim(Relation index, uint8 *used, BlockNumber nblocks, BlockNumber start,
			BlockNumber npages, const char *what)
{
	BlockNumber b;

	if (start >= nblocks || npages > nblocks - start)
		CORRUPT("%s at block %u (%u pages) lies outside the index", what, start, npages);
	for (b = start; b < start + npages; b++)
	{
		if (used[b])
			CORRUPT("block %u of %s is also used elsewhere", b, what);
		used[b] = 1;
	}
}

static void
check_segment(Relation index, const InvSegRef *ref, uint32 flags, HTAB *tab, uint64 *nentries,
			  uint8 *used, BlockNumber nblocks)
{
	InvReader	r;
	InvSegHeader hdr;
	CheckEntry **docs;
	uint32		d;
	uint32		k;
	uint64		pdata;
	uint64		ndesc = 0;
	uint64		npost = 0;
	int32		prevdim = -1;
	uint32		ndead = 0;
	int32		alldim = INV_DIM_NONE;
	int32		livedim = INV_DIM_NONE;

	inv_reader_init(&r, index, ref->start, ref->npages);
	inv_segment_read_header(&r, &hdr);
	for (d = 0; d < r.map->n; d++)
		check_claim(index, used, nblocks, r.map->start[d], r.map->base[d + 1] - r.map->base[d], "a segment");
	if (hdr.ndocs != ref->ndocs)
		CORRUPT("segment at block %u has %u documents, metapage says %u",
				ref->start, hdr.ndocs, ref->ndocs);
	if ((hdr.flags & INV_FLAG_COSINE) != (flags & INV_FLAG_COSINE))
		CORRUPT("segment at block %u has the wrong operator class", ref->start);
	if (hdr.doc_off != INV_PAGE_PAYLOAD ||
		hdr.norm_off != hdr.doc_off + (uint64) hdr.ndocs * sizeof(InvDoc) ||
		hdr.dims_off != (hdr.dim == INV_DIM_MIXED ? hdr.norm_off + (uint64) hdr.ndocs * sizeof(float4) : 0) ||
		hdr.dead_off != hdr.norm_off + (uint64) hdr.ndocs * sizeof(float4) +
		(hdr.dim == INV_DIM_MIXED ? (uint64) hdr.ndocs * sizeof(int32) : 0) ||
		hdr.dir_off != hdr.dead_off + INV_DEAD_BYTES(hdr.ndocs) ||
		hdr.desc_off != hdr.dir_off + (uint64) hdr.ndims * sizeof(InvDimEntry) ||
		hdr.data_off != hdr.desc_off + hdr.ndesc * sizeof(InvRangeDesc) ||
		hdr.total_bytes < hdr.data_off + hdr.npostings * sizeof(uint16))
		CORRUPT("segment at block %u has an inconsistent layout", ref->start);

	docs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(CheckEntry *) * Max(hdr.ndocs, 1));
	for (d = 0; d < hdr.ndocs; d++)
	{
		InvDoc		doc;

		int32		ddim;

		inv_read(&r, hdr.doc_off + (uint64) d * sizeof(InvDoc), &doc, sizeof(doc));
		if (doc.flags & ~(INV_DOC_DEAD | INV_DOC_NULL))
			CORRUPT("document %u of segment at block %u has bad flags", d, ref->start);
		ddim = inv_segment_doc_dim(&r, &hdr, d, doc.flags);
		alldim = inv_combine_dim(alldim, ddim);
		{
			uint8		bits;

			inv_read(&r, hdr.dead_off + d / 8, &bits, 1);
			if (((bits >> (d % 8)) & 1) != ((doc.flags & INV_DOC_DEAD) != 0))
				CORRUPT("document %u of segment at block %u: its dead bit disagrees with its flags",
						d, ref->start);
		}
		if (doc.flags & INV_DOC_DEAD)
		{
			docs[d] = NULL;
			ndead++;
			continue;
		}
		if (!ItemPointerIsValid(&doc.tid))
			CORRUPT("document %u of segment at block %u has an invalid TID", d, ref->start);
		{
			float4		nrm;

			inv_read(&r, hdr.norm_off + (uint64) d * sizeof(float4), &nrm, sizeof(nrm));
			if ((double) nrm < sqrt(doc.norm2) || (double) nrm > hdr.maxnorm)
				CORRUPT("norm of document %u of segment at block %u is wrong", d, ref->start);
		}
		livedim = inv_combine_dim(livedim, ddim);
		docs[d] = check_add(tab, index, &doc.tid);
		docs[d]->dim = ddim;
		docs[d]->flags = doc.flags;
		docs[d]->stored16 = true;
		docs[d]->norm2 = doc.norm2;
		(*nentries)++;
	}
	if (alldim != hdr.dim)
		CORRUPT("segment at block %u says dimension %d, its documents %d", ref->start, hdr.dim, alldim);
	if (inv_combine_dim(ref->dim, livedim) != ref->dim ||
		(hdr.dim == INV_DIM_MIXED && ref->dim != livedim))
		CORRUPT("segment at block %u: metapage says dimension %d, its live documents %d",
				ref->start, ref->dim, livedim);
	if (ndead != ref->ndead)
		CORRUPT("segment at block %u has %u dead documents, metapage says %u",
				ref->start, ndead, ref->ndead);

	pdata = hdr.data_off;
	for (k = 0; k < hdr.ndims; k++)
	{
		InvDimEntry e;
		uint32		x;
		int64		prevrange = -1;

		CHECK_FOR_INTERRUPTS();
		inv_read(&r, hdr.dir_off + (uint64) k * sizeof(InvDimEntry), &e, sizeof(e));
		if (e.dim <= prevdim)
			CORRUPT("directory of segment at block %u is not sorted", ref->start);
		prevdim = e.dim;
		if (e.first_desc != ndesc || e.data_off != pdata - hdr.data_off)
			CORRUPT("directory entry for dim %d points to the wrong place", e.dim);
		for (x = 0; x < e.ndesc; x++)
		{
			InvRangeDesc desc;
			InvOffset	offs[INV_RANGE_DOCS];
			float4		ws[INV_RANGE_DOCS];
			uint32		nbytes;
			int			i;

			if (ndesc >= hdr.ndesc)
				CORRUPT("more range descriptors than the header says");
			inv_read(&r, hdr.desc_off + ndesc * sizeof(InvRangeDesc), &desc, sizeof(desc));
			ndesc++;
			if ((int64) desc.range <= prevrange || desc.range >= hdr.nranges ||
				desc.count == 0 || desc.count > INV_RANGE_DOCS ||
				desc.format != inv_piece_format(desc.count))
				CORRUPT("bad range descriptor for dim %d", e.dim);
			prevrange = desc.range;
			nbytes = inv_piece_bytes(desc.format, desc.count);
			if (pdata + nbytes > hdr.total_bytes)
				CORRUPT("postings of dim %d run past the segment", e.dim);
			if (!inv_piece_read(&r, pdata, &desc, offs, ws))
				CORRUPT("bad postings (bitmap or offsets) for dim %d", e.dim);
			pdata += nbytes;
			npost += desc.count;
			for (i = 0; i < desc.count; i++)
			{
				uint32		docno = (desc.range << INV_RANGE_SHIFT) | offs[i];
				double		bw;
				InvDoc		doc;

				if ((i > 0 && offs[i] <= offs[i - 1]) || docno >= hdr.ndocs)
					CORRUPT("bad posting offsets for dim %d", e.dim);
				if (ws[i] == 0 || isnan(ws[i]))
					CORRUPT("zero or NaN weight for dim %d", e.dim);
				inv_read(&r, hdr.doc_off + (uint64) docno * sizeof(InvDoc), &doc, sizeof(doc));
				if (doc.flags & INV_DOC_NULL)
					CORRUPT("NULL document %u has postings", docno);
				bw = ws[i];
				if (bw > (double) desc.maxpos || -bw > (double) desc.maxneg ||
					bw > (double) e.maxpos || -bw > (double) e.maxneg)
					CORRUPT("range bound of dim %d does not cover weight %g", e.dim, ws[i]);
				if (docs[docno])
				{
					docs[docno]->nnz++;
					docs[docno]->fp += check_hash(e.dim, ws[i]);
				}
			}
		}
	}
	if (ndesc != hdr.ndesc || npost != hdr.npostings || pdata != hdr.total_bytes)
		CORRUPT("segment at block %u: descriptor or posting count mismatch", ref->start);
	inv_reader_end(&r);
	pfree(docs);
}

/* the fingerprint of a vector as a segment of an index of these flags stores it, or exactly */
static void
check_fingerprint(const SVec *v, bool stored16, uint32 flags, double norm2, int32 *nnz, uint64 *fp)
{
	const float4 *vals = SVEC_VALUES(v);
	int32		i;

	*nnz = v->nnz;
	*fp = 0;
	for (i = 0; i < v->nnz; i++)
		*fp += check_hash(v->indices[i],
						  stored16 ? inv_bf16_decode(inv_bf16_encode(inv_stored_weight(flags, vals[i], norm2)))
						  : vals[i]);
}

/*
 * The structural part of inverted_check, given the metapage's contents:
 * every page claimed by one owner at most, every segment and the pending
 * list parsed and checked.  Returns a hash table of their documents, by
 * TID (*nentries counts them).  test/fuzz/fuzz_inverted.c runs it on
 * corrupt indexes.
 */
HTAB *
inv_check_structure(Relation index, const InvMetaPageData *meta, uint64 *nentries)
{
	HASHCTL		ctl;
	HTAB	   *tab;
	BlockNumber nblocks;
	uint8	   *used;
	uint32		i;
	InvPendReader pr;
	InvPendRecord rec;
	int32	   *ind;
	float4	   *val;

	inv_check_meta(index, meta);
	if ((meta->flags & INV_FLAG_COSINE) != inv_index_flags(index))
		CORRUPT("metapage has the wrong operator class");
	if (meta->nsegments > INV_MAX_SEGMENTS)
		CORRUPT("too many segments");

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(ItemPointerData);
	ctl.entrysize = sizeof(CheckEntry);
	ctl.hcxt = CurrentMemoryContext;
	tab = hash_create("inverted_check", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	if (meta->nfree > INV_MAX_FREE)
		CORRUPT("too many free runs");
	nblocks = RelationGetNumberOfBlocks(index);
	used = palloc0(Max(nblocks, 1));
	used[INV_METAPAGE_BLKNO] = 1;
	for (i = 0; i < meta->nfree; i++)
		check_claim(index, used, nblocks, meta->free[i].start, meta->free[i].npages, "a free run");
	{
		/* the pending chain, with pages a crashed append left behind its tail */
		BlockNumber b = meta->pend_head;

		while (b != InvalidBlockNumber)
		{
			Buffer		buf;

			CHECK_FOR_INTERRUPTS();
			check_claim(index, used, nblocks, b, 1, "the pending list");
			buf = ReadBuffer(index, b);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			if (InvPageGetOpaque(BufferGetPage(buf))->type != INV_PAGE_PENDING)
				CORRUPT("block %u of the pending list is not a pending page", b);
			b = InvPageGetOpaque(BufferGetPage(buf))->next;
			UnlockReleaseBuffer(buf);
		}
	}
	for (i = 0; i < meta->nsegments; i++)
	{
		if (meta->segs[i].start == INV_METAPAGE_BLKNO ||
			meta->segs[i].start >= nblocks)
			CORRUPT("segment %u lies outside the index", i);
		check_segment(index, &meta->segs[i], meta->flags, tab, nentries, used, nblocks);
		if (inv_combine_dim(meta->dim, meta->segs[i].dim) != meta->dim)
			CORRUPT("metapage dimension %d does not cover segment %u's %d", meta->dim, i, meta->segs[i].dim);
	}

	inv_pend_reader_init(&pr, index, meta);
	while (inv_pend_next(&pr, &rec, &ind, &val))
	{
		CheckEntry *e = check_add(tab, index, &rec.tid);
		int32		j;

		CHECK_FOR_INTERRUPTS();
		e->flags = rec.flags;
		e->norm2 = rec.norm2;
		e->nnz = rec.nnz;
		e->dim = (rec.flags & INV_DOC_NULL) ? INV_DIM_NONE : rec.dim;
		if (inv_combine_dim(meta->dim, e->dim) != meta->dim)
			CORRUPT("metapage dimension %d does not cover a pending document's %d", meta->dim, e->dim);
		for (j = 0; j < rec.nnz; j++)
		{
			if ((j > 0 && ind[j] <= ind[j - 1]) || ind[j] < 0)
				CORRUPT("pending record with unsorted dims");
			e->fp += check_hash(ind[j], val[j]);
		}
		(*nentries)++;
		if (ind)
			pfree(ind);
		if (val)
			pfree(val);
	}
	return tab;
}

Datum
inverted_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	Oid			heapoid;
	Relation	heap;
	Relation	index;
	Buffer		metabuf;
	InvMetaPageData meta;
	HTAB	   *tab;
	uint64		nentries = 0;
	int64		nrows = 0;
	IndexInfo  *indexInfo;
	Snapshot	snapshot;
	TableScanDesc tscan;
	TupleTableSlot *slot;
	EState	   *estate;
	ExprContext *econtext;
	ExprState  *predicate;
	BlockNumber rootblk = InvalidBlockNumber;
	OffsetNumber roots[MaxHeapTuplesPerPage];

	heapoid = IndexGetRelation(indexoid, true);
	if (!OidIsValid(heapoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
	if (!pg_class_ownercheck(indexoid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_INDEX, get_rel_name(indexoid));

	heap = table_open(heapoid, AccessShareLock);
	index = index_open(indexoid, AccessShareLock);
	if (index->rd_indam == NULL || index->rd_indam->ambuild != invbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an inverted index", RelationGetRelationName(index))));
	if (!index->rd_index->indisvalid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index \"%s\" is not valid", RelationGetRelationName(index))));

	/*
	 * The snapshot comes first: a row it sees was indexed before its
	 * insert committed, so before the metapage is copied below.  The pin
	 * keeps VACUUM from marking documents dead while we read (it waits for
	 * a cleanup lock); a merge may switch segments meanwhile, but the pages
	 * of the copied ones are recycled only behind the transaction horizon,
	 * which this snapshot holds back.
	 */
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	metabuf = ReadBuffer(index, INV_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_SHARE);
	memcpy(&meta, InvPageGetMeta(BufferGetPage(metabuf)), sizeof(meta));
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
	tab = inv_check_structure(index, &meta, &nentries);

	/* every visible row must be there */
	indexInfo = BuildIndexInfo(index);
	estate = CreateExecutorState();
	econtext = GetPerTupleExprContext(estate);
	slot = table_slot_create(heap, NULL);
	econtext->ecxt_scantuple = slot;
	predicate = ExecPrepareQual(indexInfo->ii_Predicate, estate);
	tscan = table_beginscan(heap, snapshot, 0, NULL);
	while (table_scan_getnextslot(tscan, ForwardScanDirection, slot))
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		ItemPointerData tid = slot->tts_tid;
		CheckEntry *e;
		bool		heaponly = false;

		CHECK_FOR_INTERRUPTS();
		ResetExprContext(econtext);
		if (predicate && !ExecQual(predicate, econtext))
			continue;
		FormIndexDatum(indexInfo, slot, estate, values, isnull);

		/* a heap-only tuple is indexed under the root of its HOT chain */
		{
			bool		shouldfree;
			HeapTuple	htup = ExecFetchSlotHeapTuple(slot, false, &shouldfree);

			heaponly = HeapTupleIsHeapOnly(htup);
			if (shouldfree)
				heap_freetuple(htup);
		}
		if (heaponly)
		{
			HeapScanDesc hscan = (HeapScanDesc) tscan;
			BlockNumber blk = ItemPointerGetBlockNumber(&tid);

			if (rootblk != blk)
			{
				LockBuffer(hscan->rs_cbuf, BUFFER_LOCK_SHARE);
				heap_get_root_tuples(BufferGetPage(hscan->rs_cbuf), roots);
				LockBuffer(hscan->rs_cbuf, BUFFER_LOCK_UNLOCK);
				rootblk = blk;
			}
			ItemPointerSetOffsetNumber(&tid, roots[ItemPointerGetOffsetNumber(&tid) - 1]);
		}
		else
			rootblk = InvalidBlockNumber;

		e = hash_search(tab, &tid, HASH_FIND, NULL);
		if (e == NULL)
			CORRUPT("row (%u,%u) is missing from the index",
					ItemPointerGetBlockNumber(&slot->tts_tid), ItemPointerGetOffsetNumber(&slot->tts_tid));
		if (isnull[0])
		{
			if (!(e->flags & INV_DOC_NULL))
				CORRUPT("row (%u,%u) is NULL but indexed with a vector",
						ItemPointerGetBlockNumber(&tid), ItemPointerGetOffsetNumber(&tid));
		}
		else
		{
			SVec	   *v = DatumGetSVec(values[0]);
			double		norm2 = svec_norm2(v);
			int32		nnz;
			uint64		fp;

			check_fingerprint(v, e->stored16, meta.flags, norm2, &nnz, &fp);
			if ((e->flags & INV_DOC_NULL) || nnz != e->nnz || fp != e->fp || v->dim != e->dim ||
				norm2 != e->norm2)
				CORRUPT("row (%u,%u) is indexed with a different vector",
						ItemPointerGetBlockNumber(&tid), ItemPointerGetOffsetNumber(&tid));
		}
		e->seen = true;
		nrows++;
	}
	table_endscan(tscan);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);

	ReleaseBuffer(metabuf);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	hash_destroy(tab);
	PG_RETURN_INT64(nrows);
}
