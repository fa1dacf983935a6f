/*
 * cost.c - planner costs for `inverted`.
 *
 * The index only ever helps ORDER BY emb <#>/<=> q: a path without an
 * ORDER BY distance is priced out.  With one, the first rows cost a fraction
 * of the index (the query terms' posting lists), and the
 * total is a full read of it: so with LIMIT the planner sees a cheap start,
 * and without LIMIT the heap fetches for every row make a sort over a
 * sequential scan cheaper.
 */
#include "postgres.h"

#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"

#include "inverted.h"

void
invcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				Cost *indexStartupCost, Cost *indexTotalCost,
				Selectivity *indexSelectivity, double *indexCorrelation,
				double *indexPages)
{
	GenericCosts costs;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	/*
	 * Before the first row: the query terms' posting lists (a few percent of
	 * the pages, read in order) and one pass over the scores.
	 */
	*indexStartupCost = costs.indexStartupCost +
		0.03 * costs.numIndexPages * seq_page_cost +
		0.1 * costs.numIndexTuples * cpu_operator_cost;
	*indexTotalCost = *indexStartupCost + costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}
