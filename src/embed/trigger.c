/*
 * trigger.c - keep_current: a BEFORE UPDATE OF <input> row trigger that
 * makes a row pending again (target and model column NULL) when its input
 * really changed.  New rows need no trigger: a NULL target is pending.
 *
 * "Really changed" is decided without detoasting where possible: an
 * UPDATE that does not assign the input keeps the very same TOAST pointer,
 * so equal pointers mean equal values; different raw sizes mean different
 * values; only values of equal size are compared byte by byte.
 *
 * Logical replication applies changes on a subscriber with triggers off
 * unless they are ENABLE ALWAYS (see the README).
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/rel.h"

static bool
input_changed(Datum a, bool anull, Datum b, bool bnull)
{
	struct varlena *va,
			   *vb;
	bool		changed;

	if (anull || bnull)
		return anull != bnull;
	va = (struct varlena *) DatumGetPointer(a);
	vb = (struct varlena *) DatumGetPointer(b);
	if (VARATT_IS_EXTERNAL_ONDISK(va) && VARATT_IS_EXTERNAL_ONDISK(vb))
	{
		struct varatt_external ea,
					eb;

		VARATT_EXTERNAL_GET_POINTER(ea, va);
		VARATT_EXTERNAL_GET_POINTER(eb, vb);
		if (ea.va_valueid == eb.va_valueid && ea.va_toastrelid == eb.va_toastrelid)
			return false;
	}
	if (toast_raw_datum_size(a) != toast_raw_datum_size(b))
		return true;
	va = pg_detoast_datum_packed(va);
	vb = pg_detoast_datum_packed(vb);
	changed = VARSIZE_ANY_EXHDR(va) != VARSIZE_ANY_EXHDR(vb) ||
		memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(va)) != 0;
	return changed;
}

static int
column(Relation rel, const char *name)
{
	int			att = SPI_fnumber(RelationGetDescr(rel), name);

	if (att <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("embed_keep_current: column \"%s\" of table %s does not exist",
						name, RelationGetRelationName(rel))));
	return att;
}

PG_FUNCTION_INFO_V1(sparseclip_embed_keep_current);
Datum
sparseclip_embed_keep_current(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	int			in_att,
				cols[2];
	bool		onull,
				nnull;
	Datum		oval,
				nval;
	Datum		repl[2] = {0, 0};
	bool		repl_null[2] = {true, true};

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("embed_keep_current must run as a BEFORE UPDATE row trigger")));
	if (td->tg_trigger->tgnargs != 3)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("embed_keep_current takes the input, target and model column names")));
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	in_att = column(rel, td->tg_trigger->tgargs[0]);
	cols[0] = column(rel, td->tg_trigger->tgargs[1]);
	cols[1] = column(rel, td->tg_trigger->tgargs[2]);
	oval = heap_getattr(td->tg_trigtuple, in_att, desc, &onull);
	nval = heap_getattr(td->tg_newtuple, in_att, desc, &nnull);
	if (!input_changed(oval, onull, nval, nnull))
		return PointerGetDatum(td->tg_newtuple);
	return PointerGetDatum(heap_modify_tuple_by_cols(td->tg_newtuple, desc, 2, cols, repl, repl_null));
}
