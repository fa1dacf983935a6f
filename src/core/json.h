/*
 * json.h - a small strict JSON parser (RFC 8259) for the pure-C core.
 *
 * Used for the safetensors header, the model config and test data (jsonl).
 * The parser builds a tree; every node is malloc'd and json_free() releases
 * the whole tree.  Nothing here calls exit() or abort(): errors come back
 * as a message in a caller-supplied buffer.
 *
 * Strictness: exactly one value with optional surrounding whitespace; no
 * trailing commas, comments, single quotes, leading zeros, NaN/Infinity or
 * control characters inside strings; strings must be valid UTF-8 and \u
 * escapes must form valid code points (surrogate pairs are joined, lone
 * surrogates are refused); duplicate keys in one object are refused;
 * nesting is limited to JSON_MAX_DEPTH.  Numbers are parsed with strtod(),
 * which expects the "C" LC_NUMERIC locale (PostgreSQL backends use it).
 *
 * Usage:
 *     char err[256];
 *     json_value *v = json_parse(text, len, err, sizeof err);
 *     if (!v) ... report err ...
 *     const json_value *ids = json_get(v, "ids");      // NULL if absent
 *     for (size_t i = 0; i < json_len(ids); i++) ... json_at(ids, i) ...
 *     json_free(v);
 */
#ifndef SPARSECLIP_JSON_H
#define SPARSECLIP_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 256

typedef enum json_type
{
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
} json_type;

typedef struct json_value json_value;

struct json_value
{
	json_type	type;
	int			boolean;		/* JSON_BOOL: 0 or 1 */
	double		number;			/* JSON_NUMBER */
	char	   *str;			/* JSON_STRING: decoded UTF-8, NUL-terminated */
	size_t		str_len;		/* JSON_STRING: bytes, excluding the NUL (may hold \0) */
	size_t		n;				/* JSON_ARRAY / JSON_OBJECT: number of items */
	json_value **items;			/* JSON_ARRAY / JSON_OBJECT: the values, in order */
	char	  **keys;			/* JSON_OBJECT: the keys (NUL-terminated), in order */
	size_t	   *key_lens;		/* JSON_OBJECT: key lengths in bytes */
};

/*
 * Parse len bytes of text.  Returns the root value, or NULL with a message
 * (including the byte offset) written to err (errlen bytes, may be 0).
 */
extern json_value *json_parse(const char *text, size_t len, char *err, size_t errlen);

/* Free a tree returned by json_parse (NULL is fine). */
extern void json_free(json_value *v);

/* Object member by key, or NULL when v is not an object or has no such key. */
extern const json_value *json_get(const json_value *v, const char *key);

/* Number of items of an array or object; 0 for anything else (and NULL). */
extern size_t json_len(const json_value *v);

/* Item i of an array or object, or NULL when out of range / not a container. */
extern const json_value *json_at(const json_value *v, size_t i);

/*
 * Typed accessors.  Each returns 0 on success and -1 when v is NULL or of
 * the wrong type; json_get_int64 also refuses non-integral numbers and
 * numbers outside [-2^53, 2^53] (beyond that doubles are not exact).
 */
extern int json_get_int64(const json_value *v, int64_t *out);
extern int json_get_number(const json_value *v, double *out);
extern int json_get_string(const json_value *v, const char **out, size_t *len);

/* Name of a type, for error messages. */
extern const char *json_type_name(json_type t);

#endif
