/*
 * test_bpe.c - CLIP tokenizer: small hand-checked cases, then the golden
 * vectors made with open_clip (skipped when ../shared/data is absent).
 */
#include "unit.h"

#include <stdint.h>
#include <unistd.h>

#include "bpe.h"
#include "json.h"
#include "text_clean.h"

/*
 * A tiny merges text.  Byte ids: printable bytes 0x21.. first, so 'a' is
 * 0x61 - 0x21 = 64, 'h' 71, 'x' 87; merges get ids 512.. in rank order.
 */
static const char tiny_merges[] =
	"#version: 0.2\n"
	"h e\n"						/* 512 */
	"l l\n"						/* 513 */
	"l o</w>\n"					/* 514 */
	"he ll\n"					/* 515 */
	"hell o</w>\n"				/* 516 */
	"q q\n"						/* 517 */
	"ab a\n"					/* 518: better than "a b", made only by it */
	"a b\n";					/* 519 */
#define TINY_VOCAB (514 + 8)
#define TINY_SOT (TINY_VOCAB - 2)
#define TINY_EOT (TINY_VOCAB - 1)

static int
same_ids(const int32_t *got, int n_got, const int32_t *want, int n_want)
{
	return n_got == n_want && memcmp(got, want, sizeof(int32_t) * (size_t) n_want) == 0;
}

static void
check_clean(const char *in, const char *want)
{
	char	   *out;
	size_t		len;
	char		err[256];

	if (clip_text_clean(in, strlen(in), &out, &len, err, sizeof err) != 0)
	{
		CHECK(0, "clean(%s) failed: %s", in, err);
		return;
	}
	CHECK(len == strlen(want) && strcmp(out, want) == 0, "clean(\"%s\") = \"%s\", want \"%s\"",
		  in, out, want);
	free(out);
}

static void
test_tiny(void)
{
	char		err[256];
	ClipTokenizer *tok = clip_tokenizer_new(tiny_merges, strlen(tiny_merges), TINY_VOCAB,
											err, sizeof err);
	int32_t		ids[16];
	int			n,
				tr,
				i;
	char	   *text;
	size_t		len;

	CHECK(tok != NULL, "build: %s", err);
	if (!tok)
		return;
	CHECK(clip_tokenizer_sot_id(tok) == TINY_SOT && clip_tokenizer_eot_id(tok) == TINY_EOT,
		  "special ids %d %d", clip_tokenizer_sot_id(tok), clip_tokenizer_eot_id(tok));

	{
		/* he, ll, then hell, then hello</w> */
		int32_t		want[] = {TINY_SOT, 516, TINY_EOT};

		CHECK(clip_tokenizer_encode(tok, "Hello", 5, 16, ids, &n, &tr, err, sizeof err) == 0,
			  "%s", err);
		CHECK(same_ids(ids, n, want, 3) && !tr, "Hello -> n=%d %d %d %d", n, ids[0], ids[1], ids[2]);
		for (i = n; i < 16; i++)
			CHECK(ids[i] == 0, "padding at %d is %d", i, ids[i]);
	}
	{
		/*
		 * "ababx": Python merges every "a b" in one round (ab ab x</w>); a
		 * merger that took the better "ab a" as soon as it appeared would
		 * give aba b x</w>.
		 */
		int32_t		want[] = {TINY_SOT, 519, 519, 87 + 256, TINY_EOT};

		CHECK(clip_tokenizer_encode(tok, "ababx", 5, 16, ids, &n, &tr, err, sizeof err) == 0,
			  "%s", err);
		CHECK(same_ids(ids, n, want, 5), "ababx -> n=%d %d %d %d", n, ids[1], ids[2], ids[3]);
	}
	{
		/* pre-tokens: letters, single digits, punctuation runs, 's */
		int32_t		want[] = {TINY_SOT, 516, 0x27 - 0x21, 's' - 0x21 + 256,
		'1' - 0x21 + 256, '2' - 0x21 + 256, '!' - 0x21, '?' - 0x21 + 256, TINY_EOT};

		CHECK(clip_tokenizer_encode(tok, "hello's 12!?", 12, 16, ids, &n, &tr, err, sizeof err) == 0,
			  "%s", err);
		CHECK(same_ids(ids, n, want, 9), "hello's 12!? -> n=%d", n);
	}
	{
		/* special tokens in the text are their own ids */
		int32_t		want[] = {TINY_SOT, TINY_EOT, 516, TINY_EOT};
		const char *t = "<END_OF_TEXT>hello";

		CHECK(clip_tokenizer_encode(tok, t, strlen(t), 16, ids, &n, &tr, err, sizeof err) == 0,
			  "%s", err);
		CHECK(same_ids(ids, n, want, 4), "special -> n=%d %d %d", n, ids[1], ids[2]);
	}
	{
		/* truncation keeps the start and forces the end token */
		const char *t = "hello hello hello";
		int32_t		want4[] = {TINY_SOT, 516, 516, TINY_EOT};
		int32_t		want5[] = {TINY_SOT, 516, 516, 516, TINY_EOT};

		CHECK(clip_tokenizer_encode(tok, t, strlen(t), 4, ids, &n, &tr, err, sizeof err) == 0,
			  "%s", err);
		CHECK(same_ids(ids, n, want4, 4) && tr == 1, "truncated to 4: n=%d tr=%d", n, tr);
		CHECK(clip_tokenizer_encode(tok, t, strlen(t), 5, ids, &n, &tr, err, sizeof err) == 0,
			  "%s", err);
		CHECK(same_ids(ids, n, want5, 5) && tr == 0, "exactly 5: n=%d tr=%d", n, tr);
		CHECK(clip_tokenizer_encode(tok, t, strlen(t), 2, ids, &n, &tr, err, sizeof err) == 0,
			  "%s", err);
		CHECK(n == 2 && ids[0] == TINY_SOT && ids[1] == TINY_EOT && tr == 1, "context 2: n=%d", n);
	}
	{
		int32_t		want[] = {TINY_SOT, TINY_EOT};

		CHECK(clip_tokenizer_encode(tok, "", 0, 8, ids, &n, &tr, err, sizeof err) == 0, "%s", err);
		CHECK(same_ids(ids, n, want, 2), "empty -> n=%d", n);
		CHECK(clip_tokenizer_encode(tok, " \t\n ", 4, 8, ids, &n, &tr, err, sizeof err) == 0, "%s", err);
		CHECK(same_ids(ids, n, want, 2), "blank -> n=%d", n);
	}
	/* errors come back as messages */
	err[0] = '\0';
	CHECK(clip_tokenizer_encode(tok, "a\xff" "b", 3, 8, ids, &n, &tr, err, sizeof err) == -1 &&
		  strstr(err, "UTF-8") != NULL, "invalid UTF-8: %s", err);
	CHECK(clip_tokenizer_encode(tok, "a\xc3", 2, 8, ids, &n, &tr, err, sizeof err) == -1,
		  "truncated UTF-8 accepted");
	CHECK(clip_tokenizer_encode(tok, "\xed\xa0\x80", 3, 8, ids, &n, &tr, err, sizeof err) == -1,
		  "surrogate accepted");
	CHECK(clip_tokenizer_encode(tok, "hi", 2, 1, ids, &n, &tr, err, sizeof err) == -1,
		  "context_length 1 accepted");

	/* decode */
	{
		int32_t		in[] = {TINY_SOT, 516, 516, 519, TINY_EOT};

		CHECK(clip_tokenizer_decode(tok, in, 5, 1, &text, &len, err, sizeof err) == 0, "%s", err);
		CHECK(text && strcmp(text, "hello hello ab") == 0, "decode: \"%s\"", text ? text : "");
		free(text);
		CHECK(clip_tokenizer_decode(tok, in, 5, 0, &text, &len, err, sizeof err) == 0, "%s", err);
		CHECK(text && strcmp(text, "<start_of_text>hello hello ab<end_of_text>") == 0,
			  "decode with specials: \"%s\"", text ? text : "");
		free(text);
	}
	{
		/* bytes of "é" split over tokens, and a lone continuation byte */
		/*
		 * Byte 0xC3 comes after 94 + 12 + 21 printable bytes (0x21-0x7E,
		 * 0xA1-0xAC, 0xAE-0xC2): id 127; 0xA9 after 94 + 8: id 102.
		 */
		int32_t		in[] = {127, 102 + 256, 102 + 256};

		CHECK(clip_tokenizer_decode(tok, in, 3, 1, &text, &len, err, sizeof err) == 0, "%s", err);
		CHECK(text && strcmp(text, "\xc3\xa9 \xef\xbf\xbd ") == 0, "decode bytes: \"%s\"",
			  text ? text : "");
		free(text);
	}
	{
		int32_t		in[] = {5, TINY_VOCAB};

		CHECK(clip_tokenizer_decode(tok, in, 2, 0, &text, &len, err, sizeof err) == -1 &&
			  strstr(err, "out of range") != NULL, "bad id: %s", err);
	}
	clip_tokenizer_free(tok);

	/* bad tokenizer inputs */
	CHECK(clip_tokenizer_new(tiny_merges, strlen(tiny_merges), TINY_VOCAB + 1, err, sizeof err) == NULL &&
		  strstr(err, "merge lines") != NULL, "too few merges: %s", err);
	CHECK(clip_tokenizer_new(tiny_merges, strlen(tiny_merges), 100, err, sizeof err) == NULL,
		  "vocab_size 100 accepted");
	CHECK(clip_tokenizer_new("#v\n\xff\xfe x\n", 10, 515, err, sizeof err) == NULL,
		  "invalid UTF-8 merges accepted");
	CHECK(clip_tokenizer_new("#v\n\xe4\xb8\x80 x\n", 10, 515, err, sizeof err) == NULL &&
		  strstr(err, "alphabet") != NULL, "non-alphabet merges: %s", err);
}

static void
test_clean(void)
{
	check_clean("  A photo\tof\n\n a  CAT. ", "a photo of a cat.");
	check_clean("caf&eacute; &amp;amp; AT&amp;T", "caf\xc3\xa9 & at&t");
	check_clean("&EACUTE;cole", "\xc3\xa9" "cole");
	check_clean("&#x1F436;&#0;&#128;x&#11;y", "\xf0\x9f\x90\xb6\xef\xbf\xbd\xe2\x82\xac" "xy");
	check_clean("&ampfoo &notit; &#65", "&foo \xc2\xacit; a");
	check_clean("it\xe2\x80\x99s \xe2\x80\x9cok\xe2\x80\x9d", "it's \"ok\"");
	check_clean("\xef\xac\x81sh \xef\xbc\xa1\xef\xbc\xa2", "fish ab");
	check_clean("e\xcc\x81", "\xc3\xa9");	/* NFC */
	check_clean("\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\xa3\xce\x91", "\xce\xbf\xce\xb4\xce\xbf\xcf\x82 \xcf\x83\xce\xb1");
	check_clean("\xc4\xb0", "i\xcc\x87");
	check_clean("a\x1b[31mred\x1b[0m\x07", "ared");
	/* a '<' turns off ftfy's own unescaping; html.unescape still runs, after the quote fix */
	check_clean("<b>&rsquo;</b>", "<b>\xe2\x80\x99</b>");
	check_clean("&rsquo;", "'");
	/* UTF-8 read as Latin-1 / Windows-1252 is repaired; typed Latin-1 is not touched */
	check_clean("caf\xc3\x83\xc2\xa9", "caf\xc3\xa9");
	check_clean("don\xc3\xa2\xe2\x82\xac\xe2\x84\xa2t", "don't");
	check_clean("na\xc3\xafve caf\xc3\xa9 \xc2\xa3" "5", "na\xc3\xafve caf\xc3\xa9 \xc2\xa3" "5");
}

static char *
read_all(FILE *f, size_t *len)
{
	size_t		cap = 1 << 16,
				n = 0,
				k;
	char	   *buf = malloc(cap + 1);

	while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0)
	{
		n += k;
		if (n == cap)
		{
			char	   *nb = realloc(buf, 2 * cap + 1);

			if (!nb)
			{
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static char *
read_path(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *s;

	if (!f)
		return NULL;
	s = read_all(f, len);
	fclose(f);
	return s;
}

static void
test_golden(void)
{
	char		path[1024],
				err[256];
	char	   *merges = NULL,
			   *golden = NULL,
			   *meta = NULL;
	size_t		merges_len = 0,
				golden_len,
				meta_len;
	ClipTokenizer *tok = NULL;
	const char *g,
			   *m;
	int			total = 0,
				ok = 0,
				plain = 0,
				plain_ok = 0,
				line = 0;
	FILE	   *p;

	snprintf(path, sizeof path, "%s/clip/clip_tokenizer_golden.jsonl", unit_shared_data());
	golden = read_path(path, &golden_len);
	snprintf(path, sizeof path, "%s/clip/clip_tokenizer_golden_meta.jsonl", unit_shared_data());
	meta = read_path(path, &meta_len);
	snprintf(path, sizeof path, "%s/clip/bpe_simple_vocab_16e6.txt.gz", unit_shared_data());
	if (!golden || !meta || access(path, R_OK) != 0)
	{
		unit_skip("CLIP golden tokenizer data not found under shared data (clip/)");
		goto done;
	}
	{
		char		cmd[1100];

		snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
		p = popen(cmd, "r");
		if (p)
		{
			merges = read_all(p, &merges_len);
			if (pclose(p) != 0)
				merges_len = 0;
		}
	}
	CHECK(merges && merges_len > 1000000, "could not gunzip %s", path);
	if (!merges || merges_len <= 1000000)
		goto done;
	tok = clip_tokenizer_new(merges, merges_len, 49408, err, sizeof err);
	CHECK(tok != NULL, "CLIP tokenizer: %s", err);
	if (!tok)
		goto done;

	for (g = golden, m = meta; *g && *m; line++)
	{
		const char *ge = strchr(g, '\n'),
				   *me = strchr(m, '\n');
		json_value *gv,
				   *mv;
		const json_value *text,
				   *want,
				   *changed;
		int32_t		ids[77];
		int			n,
					tr,
					match,
					i;

		if (!ge)
			ge = g + strlen(g);
		if (!me)
			me = m + strlen(m);
		gv = json_parse(g, (size_t) (ge - g), err, sizeof err);
		mv = json_parse(m, (size_t) (me - m), err, sizeof err);
		CHECK(gv && mv, "golden line %d: %s", line + 1, err);
		if (!gv || !mv)
		{
			json_free(gv);
			json_free(mv);
			break;
		}
		text = json_get(gv, "text");
		want = json_get(gv, "ids");
		changed = json_get(mv, "ftfy_changed");
		match = text && want && changed && text->type == JSON_STRING && changed->type == JSON_BOOL &&
			clip_tokenizer_encode(tok, text->str, text->str_len, 77, ids, &n, &tr, err, sizeof err) == 0 &&
			(size_t) n == json_len(want);
		for (i = 0; match && i < n; i++)
		{
			int64_t		w;

			match = json_get_int64(json_at(want, (size_t) i), &w) == 0 && w == ids[i];
		}
		total++;
		ok += match;
		if (changed && changed->type == JSON_BOOL && !changed->boolean)
		{
			plain++;
			plain_ok += match;
			if (!match)
				fprintf(stderr, "golden line %d differs: %s\n", line + 1, text ? text->str : "?");
		}
		json_free(gv);
		json_free(mv);
		g = *ge ? ge + 1 : ge;
		m = *me ? me + 1 : me;
	}
	printf("golden: %d of %d texts match (%.2f%%); %d of %d that ftfy leaves unchanged\n",
		   ok, total, total ? 100.0 * ok / total : 0.0, plain_ok, plain);
	CHECK(total == 2927, "golden has %d texts, expected 2927", total);
	CHECK(plain > 0 && plain_ok == plain, "%d of %d ftfy-unchanged texts differ", plain - plain_ok, plain);
	CHECK(ok * 100 >= total * 98, "only %d of %d golden texts match", ok, total);

done:
	clip_tokenizer_free(tok);
	free(merges);
	free(golden);
	free(meta);
}

int
main(void)
{
	test_tiny();
	test_clean();
	test_golden();
	return unit_done("test_bpe");
}
