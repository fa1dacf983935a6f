/*
 * safetensors.c - validating safetensors reader (mmap), F32 writer, and a
 * rewriter that changes the metadata and, when asked, the float dtype.
 */
#include "errmsg.h"
#include "safetensors.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

static const struct
{
	const char *name;
	size_t		size;
}			dtypes[] = {
	[ST_F64] = {"F64", 8}, [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
	[ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},
	[ST_U64] = {"U64", 8}, [ST_U32] = {"U32", 4}, [ST_U16] = {"U16", 2}, [ST_U8] = {"U8", 1},
	[ST_BOOL] = {"BOOL", 1},
};

size_t
st_dtype_size(st_dtype t)
{
	return dtypes[t].size;
}

const char *
st_dtype_name(st_dtype t)
{
	return dtypes[t].name;
}

static void
free_contents(st_file *f)
{
	size_t		i;

	for (i = 0; i < f->ntensors; i++)
		free(f->tensors[i].name);
	free(f->tensors);
	for (i = 0; i < f->nmeta; i++)
	{
		free(f->meta_keys[i]);
		free(f->meta_values[i]);
	}
	free(f->meta_keys);
	free(f->meta_values);
}

void
st_close(st_file *f)
{
	if (!f)
		return;
	free_contents(f);
	if (f->map)
	{
		if (f->mapped)
			munmap(f->map, f->map_len);
		else
			free(f->map);
	}
	free(f);
}

static int
cmp_offset(const void *a, const void *b)
{
	const st_tensor *x = a, *y = b;
	const unsigned char *px = x->data, *py = y->data;

	if (px != py)
		return px < py ? -1 : 1;
	/* equal starts: the empty tensor first, so that overlaps are seen */
	return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static char *
dupstr(const char *s, size_t n)
{
	char	   *d = malloc(n + 1);

	if (d)
	{
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Parse and check the header of the image at f->map (length f->map_len). */
static int
parse_header(st_file *f, char *err, size_t errlen)
{
	const unsigned char *base = f->map;
	uint64_t	hlen;
	const unsigned char *data;
	size_t		data_len, i, nt = 0;
	json_value *root;
	char		jerr[200];
	const json_value *meta = NULL;

	if (f->map_len < 8)
	{
		sc_seterr(err, errlen, "safetensors: file is %zu bytes, too short for the 8-byte header length", f->map_len);
		return -1;
	}
	memcpy(&hlen, base, 8);
	if (hlen < 2 || hlen > ST_MAX_HEADER || hlen > f->map_len - 8)
	{
		sc_seterr(err, errlen, "safetensors: header length %llu is invalid for a file of %zu bytes",
			   (unsigned long long) hlen, f->map_len);
		return -1;
	}
	data = base + 8 + hlen;
	data_len = f->map_len - 8 - (size_t) hlen;
	root = json_parse((const char *) base + 8, (size_t) hlen, jerr, sizeof jerr);
	if (!root)
	{
		sc_seterr(err, errlen, "safetensors: bad header: %s", jerr);
		return -1;
	}
	if (root->type != JSON_OBJECT)
	{
		sc_seterr(err, errlen, "safetensors: header is a JSON %s, not an object", json_type_name(root->type));
		goto bad;
	}
	f->tensors = calloc(root->n ? root->n : 1, sizeof(st_tensor));
	if (!f->tensors)
		goto oom;
	for (i = 0; i < root->n; i++)
	{
		const char *name = root->keys[i];
		const json_value *e = root->items[i];
		const json_value *dt, *shape, *offs;
		st_tensor  *t;
		int64_t		begin, end;
		size_t		k;
		int			d;

		if (strcmp(name, "__metadata__") == 0)
		{
			meta = e;
			continue;
		}
		if (strlen(name) != root->key_lens[i] || root->key_lens[i] == 0)
		{
			sc_seterr(err, errlen, "safetensors: tensor name is empty or holds a NUL byte");
			goto bad;
		}
		if (e->type != JSON_OBJECT)
		{
			sc_seterr(err, errlen, "safetensors: entry for tensor \"%s\" is not an object", name);
			goto bad;
		}
		dt = json_get(e, "dtype");
		shape = json_get(e, "shape");
		offs = json_get(e, "data_offsets");
		if (!dt || dt->type != JSON_STRING || !shape || shape->type != JSON_ARRAY ||
			!offs || offs->type != JSON_ARRAY)
		{
			sc_seterr(err, errlen, "safetensors: tensor \"%s\" needs a string \"dtype\", an array \"shape\" and an array \"data_offsets\"", name);
			goto bad;
		}
		if (json_len(e) != 3)
		{
			sc_seterr(err, errlen, "safetensors: tensor \"%s\" has unexpected fields", name);
			goto bad;
		}
		t = &f->tensors[nt];
		for (d = 0; d <= ST_BOOL; d++)
			if (strcmp(dt->str, dtypes[d].name) == 0)
				break;
		if (d > ST_BOOL)
		{
			sc_seterr(err, errlen, "safetensors: tensor \"%s\" has unknown dtype \"%s\"", name, dt->str);
			goto bad;
		}
		t->dtype = (st_dtype) d;
		if (shape->n > ST_MAX_DIMS)
		{
			sc_seterr(err, errlen, "safetensors: tensor \"%s\" has %zu dimensions, at most %d are supported",
				   name, shape->n, ST_MAX_DIMS);
			goto bad;
		}
		t->ndim = (int) shape->n;
		t->numel = 1;
		for (k = 0; k < shape->n; k++)
		{
			int64_t		dim;

			if (json_get_int64(shape->items[k], &dim) < 0 || dim < 0)
			{
				sc_seterr(err, errlen, "safetensors: tensor \"%s\" has a shape entry that is not a non-negative integer", name);
				goto bad;
			}
			t->shape[k] = dim;
			/* refuse before the product could overflow: it must fit the data */
			if (dim > 0 && t->numel > (int64_t) (data_len / dtypes[d].size) / dim + 1)
			{
				sc_seterr(err, errlen, "safetensors: tensor \"%s\" shape is larger than the file", name);
				goto bad;
			}
			t->numel *= dim;
		}
		if (offs->n != 2 || json_get_int64(offs->items[0], &begin) < 0 ||
			json_get_int64(offs->items[1], &end) < 0)
		{
			sc_seterr(err, errlen, "safetensors: tensor \"%s\" data_offsets must be two integers", name);
			goto bad;
		}
		if (begin < 0 || end < begin || (uint64_t) end > data_len)
		{
			sc_seterr(err, errlen, "safetensors: tensor \"%s\" data_offsets [%lld, %lld] out of range (data is %zu bytes)",
				   name, (long long) begin, (long long) end, data_len);
			goto bad;
		}
		t->nbytes = (size_t) (end - begin);
		if ((uint64_t) t->numel * dtypes[d].size != (uint64_t) t->nbytes)
		{
			sc_seterr(err, errlen, "safetensors: tensor \"%s\" has %zu bytes but its shape and dtype %s need %llu",
				   name, t->nbytes, dtypes[d].name, (unsigned long long) t->numel * dtypes[d].size);
			goto bad;
		}
		t->data = data + begin;
		t->name = dupstr(name, strlen(name));
		if (!t->name)
			goto oom;
		nt++;
		f->ntensors = nt;
	}
	/* tensors must tile the data area exactly: no overlap, no hole */
	qsort(f->tensors, nt, sizeof(st_tensor), cmp_offset);
	{
		const unsigned char *pos = data;

		for (i = 0; i < nt; i++)
		{
			const unsigned char *p = f->tensors[i].data;

			if (p != pos)
			{
				sc_seterr(err, errlen, "safetensors: tensor \"%s\" %s the previous one (offset %zu, expected %zu)",
					   f->tensors[i].name, p < pos ? "overlaps" : "leaves a hole after",
					   (size_t) (p - data), (size_t) (pos - data));
				goto bad;
			}
			pos = p + f->tensors[i].nbytes;
		}
		if (pos != data + data_len)
		{
			sc_seterr(err, errlen, "safetensors: %zu bytes after the last tensor are not described by the header",
				   (size_t) (data + data_len - pos));
			goto bad;
		}
	}
	if (meta)
	{
		if (meta->type != JSON_OBJECT)
		{
			sc_seterr(err, errlen, "safetensors: __metadata__ is not an object");
			goto bad;
		}
		f->meta_keys = calloc(meta->n ? meta->n : 1, sizeof(char *));
		f->meta_values = calloc(meta->n ? meta->n : 1, sizeof(char *));
		if (!f->meta_keys || !f->meta_values)
			goto oom;
		for (i = 0; i < meta->n; i++)
		{
			if (meta->items[i]->type != JSON_STRING)
			{
				sc_seterr(err, errlen, "safetensors: __metadata__ value for \"%s\" is not a string", meta->keys[i]);
				goto bad;
			}
			f->meta_keys[i] = dupstr(meta->keys[i], meta->key_lens[i]);
			f->meta_values[i] = dupstr(meta->items[i]->str, meta->items[i]->str_len);
			f->nmeta = i + 1;
			if (!f->meta_keys[i] || !f->meta_values[i])
				goto oom;
		}
	}
	json_free(root);
	return 0;
oom:
	sc_seterr(err, errlen, "safetensors: out of memory reading the header");
bad:
	json_free(root);
	return -1;
}

st_file *
st_open(const char *path, char *err, size_t errlen)
{
	int			fd;
	struct stat st;
	st_file    *f;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		sc_seterr(err, errlen, "safetensors: cannot open \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
	{
		sc_seterr(err, errlen, "safetensors: \"%s\" is not a regular file", path);
		close(fd);
		return NULL;
	}
	f = calloc(1, sizeof(st_file));
	if (!f)
	{
		sc_seterr(err, errlen, "safetensors: out of memory");
		close(fd);
		return NULL;
	}
	f->map_len = (size_t) st.st_size;
	if (f->map_len > 0)
	{
		f->map = mmap(NULL, f->map_len, PROT_READ, MAP_SHARED, fd, 0);
		if (f->map == MAP_FAILED)
		{
			sc_seterr(err, errlen, "safetensors: cannot map \"%s\": %s", path, strerror(errno));
			f->map = NULL;
			close(fd);
			st_close(f);
			return NULL;
		}
		f->mapped = 1;
	}
	close(fd);
	if (parse_header(f, err, errlen) < 0)
	{
		st_close(f);
		return NULL;
	}
	return f;
}

st_file *
st_open_memory(const void *buf, size_t len, char *err, size_t errlen)
{
	st_file    *f = calloc(1, sizeof(st_file));

	if (!f || !(f->map = malloc(len ? len : 1)))
	{
		free(f);
		sc_seterr(err, errlen, "safetensors: out of memory");
		return NULL;
	}
	if (len)
		memcpy(f->map, buf, len);
	f->map_len = len;
	if (parse_header(f, err, errlen) < 0)
	{
		st_close(f);
		return NULL;
	}
	return f;
}

const st_tensor *
st_find(const st_file *f, const char *name)
{
	size_t		i;

	for (i = 0; i < f->ntensors; i++)
		if (strcmp(f->tensors[i].name, name) == 0)
			return &f->tensors[i];
	return NULL;
}

const char *
st_metadata(const st_file *f, const char *key)
{
	size_t		i;

	for (i = 0; i < f->nmeta; i++)
		if (strcmp(f->meta_keys[i], key) == 0)
			return f->meta_values[i];
	return NULL;
}

float
st_f16_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1F;
	uint32_t	man = h & 0x3FF;
	uint32_t	bits;
	float		f;

	if (exp == 0x1F)
		bits = sign | 0x7F800000u | (man << 13);	/* inf / nan */
	else if (exp == 0)
	{
		/* zero or subnormal: value = man * 2^-24, exact in float */
		f = (float) man * (1.0f / 16777216.0f);
		return sign ? -f : f;
	}
	else
		bits = sign | ((exp + 112) << 23) | (man << 13);
	memcpy(&f, &bits, 4);
	return f;
}

float
st_bf16_to_float(uint16_t h)
{
	uint32_t	bits = (uint32_t) h << 16;
	float		f;

	memcpy(&f, &bits, 4);
	return f;
}

uint16_t
st_float_to_bf16(float f)
{
	uint32_t	bits;

	memcpy(&bits, &f, 4);
	if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
		return (uint16_t) ((bits >> 16) | 0x40);	/* quiet nan */
	bits += 0x7FFF + ((bits >> 16) & 1);
	return (uint16_t) (bits >> 16);
}

uint16_t
st_float_to_f16(float f)
{
	uint32_t	bits, sign, man;
	int			exp;

	memcpy(&bits, &f, 4);
	sign = (bits >> 16) & 0x8000;
	exp = (int) ((bits >> 23) & 0xFF);
	man = bits & 0x7FFFFF;
	if (exp == 0xFF)
		return (uint16_t) (sign | 0x7C00 | (man ? 0x200 : 0));
	exp = exp - 127 + 15;
	if (exp >= 0x1F)
		return (uint16_t) (sign | 0x7C00);
	if (exp <= 0)
	{
		/* subnormal half: shift the mantissa (with its implicit 1) into place */
		uint32_t	m, shift, r, half;

		if (exp < -10)
			return (uint16_t) sign;
		m = man | 0x800000;
		shift = (uint32_t) (14 - exp);
		r = m >> shift;
		half = 1u << (shift - 1);
		if ((m & ((half << 1) - 1)) > half || ((m & ((half << 1) - 1)) == half && (r & 1)))
			r++;
		return (uint16_t) (sign | r);
	}
	{
		uint32_t	r = ((uint32_t) exp << 10) | (man >> 13);
		uint32_t	rest = man & 0x1FFF;

		/* a carry out of the mantissa correctly bumps the exponent */
		if (rest > 0x1000 || (rest == 0x1000 && (r & 1)))
			r++;
		return (uint16_t) (sign | r);
	}
}

int
st_to_float(const st_tensor *t, float *out)
{
	const unsigned char *p = t->data;
	int64_t		i;
	uint16_t	h;

	switch (t->dtype)
	{
		case ST_F32:
			memcpy(out, p, t->nbytes);
			return 0;
		case ST_F16:
			for (i = 0; i < t->numel; i++)
			{
				memcpy(&h, p + 2 * i, 2);
				out[i] = st_f16_to_float(h);
			}
			return 0;
		case ST_BF16:
			for (i = 0; i < t->numel; i++)
			{
				memcpy(&h, p + 2 * i, 2);
				out[i] = st_bf16_to_float(h);
			}
			return 0;
		default:
			return -1;
	}
}

/* Append s to the header as a JSON string literal. */
static int
put_json_string(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	if (fputc('"', fp) == EOF)
		return -1;
	for (; *p; p++)
	{
		int			rc;

		if (*p == '"' || *p == '\\')
			rc = fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			rc = fputs("\\n", fp);
		else if (*p < 0x20)
			rc = fprintf(fp, "\\u%04x", *p);
		else
			rc = fputc(*p, fp);
		if (rc < 0)
			return -1;
	}
	return fputc('"', fp) == EOF ? -1 : 0;
}

/* One tensor for the writer: any dtype, its bytes as they go to the file. */
typedef struct write_item
{
	const char *name;
	st_dtype	dtype;
	int			ndim;
	const int64_t *shape;
	const void *data;
	size_t		nbytes;
} write_item;

/*
 * Write a safetensors file atomically: a temporary file in the same folder,
 * renamed over path once complete and synced.
 */
static int
write_items(const char *path, const write_item *items, size_t ntensors,
			const char *const *meta_keys, const char *const *meta_values, size_t nmeta,
			char *err, size_t errlen)
{
	char	   *hdr = NULL;
	size_t		hdr_len = 0;
	FILE	   *hf, *fp = NULL;
	char	   *tmp = NULL;
	uint64_t	off = 0, hlen64;
	size_t		i, j;
	int			ok = 1;

	/* build the header in memory to learn its length */
	hf = open_memstream(&hdr, &hdr_len);
	if (!hf)
	{
		sc_seterr(err, errlen, "safetensors: out of memory");
		return -1;
	}
	fputc('{', hf);
	if (nmeta > 0)
	{
		fputs("\"__metadata__\":{", hf);
		for (i = 0; i < nmeta; i++)
		{
			if (i)
				fputc(',', hf);
			ok &= put_json_string(hf, meta_keys[i]) == 0;
			fputc(':', hf);
			ok &= put_json_string(hf, meta_values[i]) == 0;
		}
		fputc('}', hf);
	}
	for (i = 0; i < ntensors; i++)
	{
		const write_item *t = &items[i];

		if (t->ndim < 0 || t->ndim > ST_MAX_DIMS || !t->name || !t->name[0] ||
			strcmp(t->name, "__metadata__") == 0)
		{
			fclose(hf);
			free(hdr);
			sc_seterr(err, errlen, "safetensors: cannot write tensor %zu (bad name or rank)", i);
			return -1;
		}
		if (i || nmeta)
			fputc(',', hf);
		ok &= put_json_string(hf, t->name) == 0;
		fprintf(hf, ":{\"dtype\":\"%s\",\"shape\":[", dtypes[t->dtype].name);
		for (j = 0; j < (size_t) t->ndim; j++)
			fprintf(hf, "%s%lld", j ? "," : "", (long long) t->shape[j]);
		fprintf(hf, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long) off,
				(unsigned long long) (off + t->nbytes));
		off += t->nbytes;
	}
	fputc('}', hf);
	/* pad with spaces so that the data starts 8-byte aligned */
	while (ftell(hf) % 8 != 0)
		fputc(' ', hf);
	if (fclose(hf) != 0 || !ok)
	{
		free(hdr);
		sc_seterr(err, errlen, "safetensors: out of memory building the header");
		return -1;
	}
	tmp = malloc(strlen(path) + 16);
	if (!tmp)
	{
		free(hdr);
		sc_seterr(err, errlen, "safetensors: out of memory");
		return -1;
	}
	sprintf(tmp, "%s.tmp%d", path, (int) getpid());
	fp = fopen(tmp, "wb");
	if (!fp)
	{
		sc_seterr(err, errlen, "safetensors: cannot create \"%s\": %s", tmp, strerror(errno));
		goto fail;
	}
	hlen64 = hdr_len;
	ok = fwrite(&hlen64, 8, 1, fp) == 1 && fwrite(hdr, 1, hdr_len, fp) == hdr_len;
	for (i = 0; ok && i < ntensors; i++)
		if (items[i].nbytes && fwrite(items[i].data, 1, items[i].nbytes, fp) != items[i].nbytes)
			ok = 0;
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		ok = 0;
	if (fclose(fp) != 0)
		ok = 0;
	fp = NULL;
	if (!ok)
	{
		sc_seterr(err, errlen, "safetensors: cannot write \"%s\": %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) != 0)
	{
		sc_seterr(err, errlen, "safetensors: cannot rename \"%s\" to \"%s\": %s", tmp, path, strerror(errno));
		goto fail;
	}
	free(tmp);
	free(hdr);
	return 0;
fail:
	if (fp)
		fclose(fp);
	unlink(tmp);
	free(tmp);
	free(hdr);
	return -1;
}

int
st_write(const char *path, const st_write_tensor *tensors, size_t ntensors,
		 const char *const *meta_keys, const char *const *meta_values, size_t nmeta,
		 char *err, size_t errlen)
{
	write_item *items = calloc(ntensors ? ntensors : 1, sizeof(write_item));
	size_t		i, j;
	int			rc;

	if (!items)
	{
		sc_seterr(err, errlen, "safetensors: out of memory");
		return -1;
	}
	for (i = 0; i < ntensors; i++)
	{
		size_t		numel = 1;

		for (j = 0; j < (size_t) tensors[i].ndim && j < ST_MAX_DIMS; j++)
			numel *= (size_t) tensors[i].shape[j];
		items[i].name = tensors[i].name;
		items[i].dtype = ST_F32;
		items[i].ndim = tensors[i].ndim;
		items[i].shape = tensors[i].shape;
		items[i].data = tensors[i].data;
		items[i].nbytes = numel * 4;
	}
	rc = write_items(path, items, ntensors, meta_keys, meta_values, nmeta, err, errlen);
	free(items);
	return rc;
}

static int
is_float_dtype(st_dtype t)
{
	return t == ST_F64 || t == ST_F32 || t == ST_F16 || t == ST_BF16;
}

/* Element i of a float tensor as a double. */
static double
float_at(const st_tensor *t, int64_t i)
{
	const unsigned char *p = t->data;
	uint16_t	h;
	float		f;
	double		d;

	switch (t->dtype)
	{
		case ST_F64:
			memcpy(&d, p + 8 * i, 8);
			return d;
		case ST_F32:
			memcpy(&f, p + 4 * i, 4);
			return f;
		case ST_F16:
			memcpy(&h, p + 2 * i, 2);
			return st_f16_to_float(h);
		default:
			memcpy(&h, p + 2 * i, 2);
			return st_bf16_to_float(h);
	}
}

/*
 * Convert one float tensor into out (t->numel elements of to).  -1 with a
 * message when a finite value overflows to infinity.
 */
static int
convert_tensor(const st_tensor *t, st_dtype to, unsigned char *out, st_convert_stats *stats,
			   char *err, size_t errlen)
{
	int64_t		i;

	for (i = 0; i < t->numel; i++)
	{
		double		d = float_at(t, i);
		float		f = (float) d;
		int			inf_out, zero_out, sub_out;

		if (to == ST_F32)
		{
			memcpy(out + 4 * i, &f, 4);
			inf_out = isinf(f);
			zero_out = f == 0.0f;
			sub_out = f != 0.0f && fabsf(f) < 1.17549435e-38f;
		}
		else
		{
			uint16_t	h = to == ST_F16 ? st_float_to_f16(f) : st_float_to_bf16(f);
			uint16_t	mag = h & 0x7FFF;

			memcpy(out + 2 * i, &h, 2);
			inf_out = to == ST_F16 ? mag == 0x7C00 : mag == 0x7F80;
			zero_out = mag == 0;
			sub_out = mag != 0 && (to == ST_F16 ? mag < 0x0400 : mag < 0x0080);
		}
		if (inf_out && isfinite(d))
		{
			sc_seterr(err, errlen, "safetensors: tensor \"%s\" element %lld (%g) is too large for %s",
					  t->name, (long long) i, d, dtypes[to].name);
			return -1;
		}
		if (stats)
		{
			stats->underflow += zero_out && d != 0.0;
			stats->subnormal += sub_out;
		}
	}
	if (stats)
	{
		stats->tensors++;
		stats->values += (uint64_t) t->numel;
	}
	return 0;
}

int
st_rewrite_as(const st_file *src, const char *path, int to_dtype,
			  const char *const *keys, const char *const *values, size_t nkeys,
			  st_convert_stats *stats, char *err, size_t errlen)
{
	write_item *items = calloc(src->ntensors ? src->ntensors : 1, sizeof(write_item));
	void	  **bufs = calloc(src->ntensors ? src->ntensors : 1, sizeof(void *));
	const char **mk = malloc(sizeof(char *) * (src->nmeta + nkeys + 1));
	const char **mv = malloc(sizeof(char *) * (src->nmeta + nkeys + 1));
	size_t		i, j, nmeta = 0;
	int			rc = -1;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!items || !bufs || !mk || !mv)
	{
		sc_seterr(err, errlen, "safetensors: out of memory");
		goto done;
	}
	if (to_dtype != ST_KEEP_DTYPE && to_dtype != ST_F32 && to_dtype != ST_F16 && to_dtype != ST_BF16)
	{
		sc_seterr(err, errlen, "safetensors: can only convert to F32, F16 or BF16");
		goto done;
	}
	/* names, shapes and order kept; float tensors converted when asked */
	for (i = 0; i < src->ntensors; i++)
	{
		const st_tensor *t = &src->tensors[i];

		items[i].name = t->name;
		items[i].dtype = t->dtype;
		items[i].ndim = t->ndim;
		items[i].shape = t->shape;
		items[i].data = t->data;
		items[i].nbytes = t->nbytes;
		if (to_dtype != ST_KEEP_DTYPE && is_float_dtype(t->dtype))
		{
			size_t		nbytes = (size_t) t->numel * dtypes[to_dtype].size;

			bufs[i] = malloc(nbytes ? nbytes : 1);
			if (!bufs[i])
			{
				sc_seterr(err, errlen, "safetensors: out of memory converting tensor \"%s\"", t->name);
				goto done;
			}
			if (convert_tensor(t, (st_dtype) to_dtype, bufs[i], stats, err, errlen) < 0)
				goto done;
			items[i].dtype = (st_dtype) to_dtype;
			items[i].data = bufs[i];
			items[i].nbytes = nbytes;
		}
	}
	/* the old metadata in its order, a replaced key in its old place */
	for (i = 0; i < src->nmeta; i++)
	{
		/* the last of a key given twice wins */
		for (j = nkeys; j > 0; j--)
			if (strcmp(src->meta_keys[i], keys[j - 1]) == 0)
				break;
		if (j-- == 0)
		{
			mk[nmeta] = src->meta_keys[i];
			mv[nmeta++] = src->meta_values[i];
		}
		else if (values[j])
		{
			mk[nmeta] = keys[j];
			mv[nmeta++] = values[j];
		}
	}
	/* new keys at the end (a key given twice: the last value wins) */
	for (j = 0; j < nkeys; j++)
	{
		size_t		k;

		if (!values[j] || st_metadata(src, keys[j]))
			continue;
		for (k = 0; k < nmeta; k++)
			if (strcmp(mk[k], keys[j]) == 0)
				break;
		mk[k] = keys[j];
		mv[k] = values[j];
		if (k == nmeta)
			nmeta++;
	}
	rc = write_items(path, items, src->ntensors, mk, mv, nmeta, err, errlen);
done:
	if (bufs)
		for (i = 0; i < src->ntensors; i++)
			free(bufs[i]);
	free(bufs);
	free(items);
	free(mk);
	free(mv);
	return rc;
}

int
st_rewrite(const st_file *src, const char *path, const char *const *keys,
		   const char *const *values, size_t nkeys, char *err, size_t errlen)
{
	return st_rewrite_as(src, path, ST_KEEP_DTYPE, keys, values, nkeys, NULL, err, errlen);
}
