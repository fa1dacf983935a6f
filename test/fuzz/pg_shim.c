/*
 * pg_shim.c - the few PostgreSQL backend services that src/svec.c calls,
 * for running its parsers under libFuzzer outside a server: memory comes
 * from malloc and is freed after each input; ereport(ERROR) longjmps back
 * to the fuzzer (an ERROR is a correct answer to bad input); the message
 * readers check lengths the way PostgreSQL's do.
 */
#include "postgres.h"

#include <setjmp.h>

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/memutils.h"

#include "pg_shim.h"

jmp_buf		shim_error_jmp;
int			shim_errors;
static int	shim_elevel;

/* every allocation of one input, freed by shim_reset */
typedef struct ShimChunk
{
	struct ShimChunk *next;
	size_t		size;
	max_align_t data[];
} ShimChunk;
static ShimChunk *shim_chunks;

static ShimChunk *
shim_chunk(void *p)
{
	return (ShimChunk *) ((char *) p - offsetof(ShimChunk, data));
}

/* requests palloc refuses, as PostgreSQL's does (a harness may lower it) */
Size		shim_alloc_limit = MaxAllocSize;

void *
palloc(Size size)
{
	ShimChunk  *c;

	if (size > shim_alloc_limit)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("invalid memory alloc request size %zu", size)));
	c = malloc(offsetof(ShimChunk, data) + size);

	if (c == NULL)
		abort();
	c->size = size;
	c->next = shim_chunks;
	shim_chunks = c;
	return c->data;
}

void *
palloc0(Size size)
{
	void	   *p = palloc(size);

	memset(p, 0, size);
	return p;
}

void *
repalloc(void *pointer, Size size)
{
	void	   *p = palloc(size);
	size_t		old = shim_chunk(pointer)->size;

	memcpy(p, pointer, Min(old, size));
	return p;					/* the old chunk is freed with the rest */
}

void
pfree(void *pointer)
{
	(void) pointer;				/* freed by shim_reset */
}

char *
pstrdup(const char *in)
{
	size_t		n = strlen(in) + 1;
	char	   *p = palloc(n);

	memcpy(p, in, n);
	return p;
}

char *
psprintf(const char *fmt,...)
{
	va_list		ap;
	char	   *p = palloc(1024);

	va_start(ap, fmt);
	vsnprintf(p, 1024, fmt, ap);
	va_end(ap);
	return p;
}

void
shim_reset(void)
{
	while (shim_chunks)
	{
		ShimChunk  *next = shim_chunks->next;

		free(shim_chunks);
		shim_chunks = next;
	}
}

bool
errstart_cold(int elevel, const char *domain)
{
	(void) domain;
	shim_elevel = elevel;
	return true;
}

bool
errstart(int elevel, const char *domain)
{
	return errstart_cold(elevel, domain);
}

int
errcode(int sqlerrcode)
{
	(void) sqlerrcode;
	return 0;
}

/* the last message, kept only when a harness asks (it costs a vsnprintf) */
bool		shim_keep_messages;
char		shim_message[256];

void
shim_keep_message(const char *fmt, va_list ap)
{
	if (shim_keep_messages)
		vsnprintf(shim_message, sizeof(shim_message), fmt, ap);
}

int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	shim_keep_message(fmt, ap);
	va_end(ap);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	(void) fmt;
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	(void) filename;
	(void) lineno;
	(void) funcname;
	if (shim_elevel >= ERROR)
	{
		shim_errors++;
		longjmp(shim_error_jmp, 1);
	}
}

bool
scanner_isspace(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	return datum;				/* inputs here are never toasted */
}

int32 *
ArrayGetIntegerTypmods(ArrayType *arr, int *n)
{
	(void) arr;
	(void) n;
	abort();					/* the typmod input is not fuzzed */
}

int
pg_ultoa_n(uint32 value, char *a)
{
	char		tmp[16];
	int			n = snprintf(tmp, sizeof(tmp), "%u", value);

	memcpy(a, tmp, n);
	return n;
}

/* ---- message buffers, checked as in src/backend/libpq/pqformat.c ---- */

static void
shim_msg_error(void)
{
	ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
}

unsigned int
pq_getmsgint(StringInfo msg, int b)
{
	uint32		n32;

	if (b != 4 || msg->cursor < 0 || b > (msg->len - msg->cursor))
		shim_msg_error();
	memcpy(&n32, &msg->data[msg->cursor], 4);
	msg->cursor += 4;
	return pg_ntoh32(n32);
}

float4
pq_getmsgfloat4(StringInfo msg)
{
	union
	{
		float4		f;
		uint32		i;
	}			swap;

	swap.i = pq_getmsgint(msg, 4);
	return swap.f;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	int			newlen = str->maxlen;
	char	   *p;

	if (needed < 0 || (Size) needed >= (MaxAllocSize - (Size) str->len))
		abort();
	needed += str->len + 1;
	if (needed <= str->maxlen)
		return;
	while (needed > newlen)
		newlen = 2 * newlen;
	p = palloc(newlen);
	memcpy(p, str->data, str->len + 1);
	str->data = p;
	str->maxlen = newlen;
}

void
pq_begintypsend(StringInfo buf)
{
	buf->data = palloc(1024);
	buf->maxlen = 1024;
	buf->len = 0;
	buf->data[0] = '\0';
	buf->cursor = 0;
	/* room for the varlena header */
	buf->len = VARHDRSZ;
}

bytea *
pq_endtypsend(StringInfo buf)
{
	bytea	   *result = (bytea *) buf->data;

	SET_VARSIZE(result, buf->len);
	return result;
}

void
pq_sendfloat4(StringInfo buf, float4 f)
{
	union
	{
		float4		f;
		uint32		i;
	}			swap;

	swap.f = f;
	pq_sendint32(buf, swap.i);
}

struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	return datum;
}
