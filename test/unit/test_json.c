/*
 * test_json.c - the strict JSON parser: valid documents decode exactly,
 * every malformed one is refused with a message and no crash.
 */
#include "unit.h"
#include "json.h"

static json_value *
parse(const char *s, char *err, size_t errlen)
{
	return json_parse(s, strlen(s), err, errlen);
}

static void
check_bad(const char *s, const char *expect_in_msg)
{
	char		err[256];
	json_value *v = parse(s, err, sizeof err);

	CHECK(v == NULL, "accepted bad JSON: %s", s);
	CHECK(strstr(err, expect_in_msg) != NULL, "input %s: message \"%s\" lacks \"%s\"", s, err, expect_in_msg);
	json_free(v);
}

int
main(void)
{
	char		err[256];
	json_value *v;
	const json_value *x;
	int64_t		i64;
	double		d;
	const char *s;
	size_t		len;

	v = parse(" {\"a\": [1, -2.5e3, 0, true, false, null], \"b\": {\"c\": \"d\"}, \"e\": 9007199254740992} ", err, sizeof err);
	CHECK(v != NULL, "parse failed: %s", err);
	CHECK(v && v->type == JSON_OBJECT && json_len(v) == 3, "object of 3");
	x = json_get(v, "a");
	CHECK(x && x->type == JSON_ARRAY && json_len(x) == 6, "array of 6");
	CHECK(json_get_int64(json_at(x, 0), &i64) == 0 && i64 == 1, "1");
	CHECK(json_get_number(json_at(x, 1), &d) == 0 && d == -2500.0, "-2.5e3");
	CHECK(json_get_int64(json_at(x, 1), &i64) == 0 && i64 == -2500, "-2500 integral");
	CHECK(json_at(x, 3)->type == JSON_BOOL && json_at(x, 3)->boolean == 1, "true");
	CHECK(json_at(x, 4)->type == JSON_BOOL && json_at(x, 4)->boolean == 0, "false");
	CHECK(json_at(x, 5)->type == JSON_NULL, "null");
	CHECK(json_at(x, 6) == NULL, "out of range");
	CHECK(json_get_string(json_get(json_get(v, "b"), "c"), &s, &len) == 0 && len == 1 && strcmp(s, "d") == 0, "nested");
	CHECK(json_get(v, "zz") == NULL, "missing key");
	CHECK(json_get_int64(json_get(v, "e"), &i64) == 0 && i64 == 9007199254740992LL, "2^53");
	CHECK(json_get_string(json_get(v, "a"), &s, &len) == -1, "wrong type");
	json_free(v);

	/* fractional numbers are not integers; huge ones are not exact */
	v = parse("[1.5, 1e300, 18014398509481984]", err, sizeof err);
	CHECK(v && json_get_int64(json_at(v, 0), &i64) == -1, "1.5 not int");
	CHECK(v && json_get_int64(json_at(v, 1), &i64) == -1, "1e300 not int64");
	CHECK(v && json_get_int64(json_at(v, 2), &i64) == -1, "2^54 refused");
	json_free(v);

	/* escapes, surrogate pairs, embedded NUL, raw UTF-8 */
	v = parse("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\\u0000z\xc3\xa9\"", err, sizeof err);
	CHECK(v != NULL, "escapes: %s", err);
	if (v)
	{
		const char	expect[] = "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z\xc3\xa9";

		CHECK(v->str_len == sizeof expect - 1 && memcmp(v->str, expect, sizeof expect - 1) == 0,
			  "decoded string (len %zu)", v->str_len);
	}
	json_free(v);

	/* top-level scalars and empty containers */
	v = parse("[]", err, sizeof err);
	CHECK(v && v->type == JSON_ARRAY && json_len(v) == 0, "[]");
	json_free(v);
	v = parse("{}", err, sizeof err);
	CHECK(v && v->type == JSON_OBJECT && json_len(v) == 0, "{}");
	json_free(v);
	v = parse("-0.0e-0", err, sizeof err);
	CHECK(v && v->type == JSON_NUMBER && v->number == 0.0, "-0.0e-0");
	json_free(v);

	/* input need not be NUL-terminated: parse a prefix only */
	v = json_parse("123456", 3, err, sizeof err);
	CHECK(v && v->number == 123.0, "length respected");
	json_free(v);

	check_bad("", "unexpected end");
	check_bad("   ", "unexpected end");
	check_bad("[1,]", "unexpected character ']'");
	check_bad("{\"a\":1,}", "string key expected");
	check_bad("{\"a\" 1}", "':' expected");
	check_bad("{a:1}", "string key expected");
	check_bad("[1 2]", "',' or ']'");
	check_bad("[1", "unterminated array");
	check_bad("{\"a\":1", "unterminated object");
	check_bad("\"abc", "unterminated string");
	check_bad("01", "leading zero");
	check_bad("1.", "decimal point");
	check_bad("1e", "exponent");
	check_bad("-", "bad number");
	check_bad("+1", "unexpected character '+'");
	check_bad("NaN", "unexpected character 'N'");
	check_bad("1e999", "out of range");
	check_bad("tru", "unexpected character 't'");
	check_bad("nul", "unexpected character");
	check_bad("1 2", "trailing characters");
	check_bad("{} x", "trailing characters");
	check_bad("\"a\tb\"", "control character");
	check_bad("\"\\x\"", "unknown escape");
	check_bad("\"\\u12g4\"", "bad \\u escape");
	check_bad("\"\\ud83d\"", "high surrogate");
	check_bad("\"\\ud83dx\"", "high surrogate");
	check_bad("\"\\ude00\"", "lone low surrogate");
	check_bad("\"\xff\"", "invalid UTF-8");
	check_bad("\"\xc0\xaf\"", "invalid UTF-8");
	check_bad("\"\xed\xa0\x80\"", "invalid UTF-8");
	check_bad("\"\xe2\x82\"", "invalid UTF-8");
	check_bad("{\"a\":1,\"a\":2}", "duplicate key");
	check_bad("/* c */ 1", "unexpected character '/'");
	check_bad("'a'", "unexpected character");
	check_bad("\x01", "unexpected byte 0x01");

	/* nesting: at the limit is fine, one deeper is refused */
	{
		char	   *deep = malloc(2 * (JSON_MAX_DEPTH + 2) + 1);
		int			k, n;

		n = JSON_MAX_DEPTH + 1;
		for (k = 0; k < n; k++)
			deep[k] = '[';
		for (k = 0; k < n; k++)
			deep[n + k] = ']';
		deep[2 * n] = '\0';
		v = parse(deep, err, sizeof err);
		CHECK(v != NULL, "depth %d accepted: %s", n, err);
		json_free(v);
		n = JSON_MAX_DEPTH + 2;
		for (k = 0; k < n; k++)
			deep[k] = '[';
		for (k = 0; k < n; k++)
			deep[n + k] = ']';
		deep[2 * n] = '\0';
		check_bad(deep, "nesting deeper");
		free(deep);
	}

	/* a zero-size error buffer is allowed */
	v = json_parse("[", 1, NULL, 0);
	CHECK(v == NULL, "error with no buffer");

	/* the error names the byte offset */
	v = parse("[1,\n 2, x]", err, sizeof err);
	CHECK(v == NULL && strstr(err, "byte 8") != NULL, "offset in message: %s", err);

	return unit_done("test_json");
}
