/*
 * eval_report.c - the machine-readable side of sparseclip-eval's results.
 */
#include "eval_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry
{
	char	   *key;
	char	   *str;			/* a string entry, or NULL for a number */
	double		value;
	char	   *note;
} entry;

static entry *entries;
static int	nentries, cap;

static entry *
add(const char *key)
{
	if (nentries == cap)
	{
		cap = cap ? 2 * cap : 64;
		entries = realloc(entries, sizeof(entry) * cap);
		if (!entries)
		{
			fprintf(stderr, "sparseclip-eval: out of memory\n");
			exit(1);
		}
	}
	memset(&entries[nentries], 0, sizeof(entry));
	entries[nentries].key = strdup(key);
	return &entries[nentries++];
}

void
report_value(const char *key, double value, const char *note)
{
	entry	   *e = add(key);

	e->value = value;
	e->note = note && *note ? strdup(note) : NULL;
}

void
report_string(const char *key, const char *value)
{
	add(key)->str = strdup(value ? value : "");
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int
report_write_json(const char *path)
{
	FILE	   *f = fopen(path, "w");
	int			i, first = 1;

	if (!f)
		return -1;
	fputs("{\n", f);
	for (i = 0; i < nentries; i++)
	{
		fputs(i ? ",\n  " : "  ", f);
		json_str(f, entries[i].key);
		fputs(": ", f);
		if (entries[i].str)
			json_str(f, entries[i].str);
		else if (isfinite(entries[i].value))
			fprintf(f, "%.10g", entries[i].value);
		else
			fputs("null", f);
	}
	fputs(nentries ? ",\n  \"notes\": {" : "  \"notes\": {", f);
	for (i = 0; i < nentries; i++)
		if (entries[i].note)
		{
			fputs(first ? "\n    " : ",\n    ", f);
			json_str(f, entries[i].key);
			fputs(": ", f);
			json_str(f, entries[i].note);
			first = 0;
		}
	fputs(first ? "}\n}\n" : "\n  }\n}\n", f);
	return fclose(f) == 0 ? 0 : -1;
}

/* TSV fields must not hold tabs or newlines */
static void
tsv_field(FILE *f, const char *s)
{
	for (; s && *s; s++)
		fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

int
report_write_tsv(const char *path)
{
	FILE	   *f = fopen(path, "w");
	int			i;

	if (!f)
		return -1;
	fputs("key\tvalue\tnote\n", f);
	for (i = 0; i < nentries; i++)
	{
		tsv_field(f, entries[i].key);
		fputc('\t', f);
		if (entries[i].str)
			tsv_field(f, entries[i].str);
		else if (isfinite(entries[i].value))
			fprintf(f, "%.10g", entries[i].value);
		else
			fputs("nan", f);
		fputc('\t', f);
		tsv_field(f, entries[i].note);
		fputc('\n', f);
	}
	return fclose(f) == 0 ? 0 : -1;
}
