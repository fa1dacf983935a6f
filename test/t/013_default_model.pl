# The default model: with sparseclip.model empty the functions use
# $sharedir/sparseclip/default.safetensors.
#  1. The machine's installation holds what `make install` put there: the
#     checkout's models/default.safetensors (converted to the installed
#     dtype, F32 unless DEFAULT_MODEL_DTYPE said otherwise), or nothing; a
#     new cluster with no setting encodes with it (or says none is there).
#  2. An installation without a default (OwnInstall): a clear ERROR with
#     SQLSTATE 55000 that names the missing file, from every function.
#  3. An installation whose default is a small random F16 model (made with
#     make_model and sparseclip-convert --meta): encoding works with no
#     setting and for a non-superuser; model_info() says source "default",
#     path, fingerprint, dtype F16, size and the model's own metadata; the
#     F16 default encodes like its F32 original; a superuser still picks
#     another file and RESET goes back; embedding jobs record the default's
#     fingerprint, in the foreground and in background workers; a replaced
#     default file is picked up with a new fingerprint and the jobs re-embed
#     with it; a corrupt default is a clear error.
use strict;
use warnings;
use File::Compare qw(compare);
use File::Copy qw(copy);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OwnInstall;

my $fixtures = $ENV{SPARSECLIP_FIXTURES} or plan skip_all => 'SPARSECLIP_FIXTURES is not set';
my $tools = $ENV{SPARSECLIP_TOOLS} or plan skip_all => 'SPARSECLIP_TOOLS is not set';
my $tmp = $PostgreSQL::Test::Utils::tmp_check;

# pg_temp.err(query): 'SQLSTATE: message (detail)', or 'no error'
my $err_fn = q{
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE detail text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' (' || nullif(detail, '') || ')', '');
END $$;
};

# ---- 1. what the machine's installation holds ----
{
	my $sharedir = OwnInstall::pg_config('sharedir');
	my $installed = "$sharedir/sparseclip/default.safetensors";
	my $shipped = '../models/default.safetensors';	# run-all.sh copies the checkout's models/
	my $node = PostgreSQL::Test::Cluster->new('installed');
	$node->init;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION sparseclip');
	if (-e $shipped)
	{
		ok(-e $installed, 'the checkout has a default model, and one is installed');
		is($node->safe_psql('postgres', q{SELECT model_info()->>'source' || ' ' || (model_info()->>'path')}),
			"default $installed", 'a new cluster with no setting uses the installed default');
		is($node->safe_psql('postgres', q{SELECT nnz(encode_text('a photo of a cat')) > 0, nnz(encode_text('a photo of a cat')) < dims(encode_text('a photo of a cat'))}),
			't|t', 'and encodes text with it, sparsely');
		is($node->safe_psql('postgres', "SELECT nnz(e) > 0 AND nnz(e) < dims(e) FROM encode_image(pg_read_binary_file('$fixtures/encode/square.jpg')) e"),
			't', 'and an image');
		# make install writes the checkout's model in DEFAULT_MODEL_DTYPE: the same
		# conversion of the checkout's file must give the installed bytes
		my $dtype = lc $node->safe_psql('postgres', q{SELECT model_info()->>'dtype'});
		system("$tools/sparseclip-convert", $shipped, "$tmp/shipped.safetensors", '--dtype', $dtype) == 0
		  or BAIL_OUT('sparseclip-convert failed');
		ok(compare("$tmp/shipped.safetensors", $installed) == 0,
			"the installed default is the checkout's models/default.safetensors (in $dtype)");
	}
	else
	{
		ok(!-e $installed, 'the checkout has no default model, and none is installed');
		like($node->safe_psql('postgres', $err_fn . q{SELECT pg_temp.err('SELECT encode_text(''a cat'')')}),
			qr/^55000: no model is configured \(sparseclip\.model is empty and no default model is installed at "\Q$installed\E"\.\)$/,
			'a new cluster with no setting and no default: the error names the missing file');
	}
	$node->stop;
}

# ---- 2. an installation without a default model ----
{
	my ($inst, $default) = OwnInstall::create('none');
	my $node = PostgreSQL::Test::Cluster->new('no_default', install_path => $inst);
	$node->init;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION sparseclip');
	my $expect = qr/^55000: no model is configured \(sparseclip\.model is empty and no default model is installed at "\Q$default\E"\.\)$/;
	for my $q (q{SELECT encode_text('a cat')}, q{SELECT model_info()}, q{SELECT encode_images(ARRAY[''::bytea])},
		q{SELECT * FROM concepts('{1:1}/64')})
	{
		(my $quoted = $q) =~ s/'/''/g;
		like($node->safe_psql('postgres', $err_fn . "SELECT pg_temp.err('$quoted')"), $expect,
			"no default installed: $q fails with 55000 naming the file");
	}
	my ($ret, $out, $err) = $node->psql('postgres', q{SELECT encode_text('a cat')});
	like($err, qr/ERROR:  no model is configured\nDETAIL:  sparseclip\.model is empty and no default model is installed.*\nHINT:  A superuser sets sparseclip\.model/s,
		'psql shows the message, the detail and the hint');
	$node->safe_psql('postgres', 'CREATE TABLE t (s text)');
	like($node->safe_psql('postgres', $err_fn . q{SELECT pg_temp.err('SELECT embed_column(''t'', ''s'', ''e'')')}),
		qr/^55000: no model is configured/, 'embed_column with no model: the same error, no job');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM embed_jobs'), '0', 'no job was created');
	# a superuser's setting still works in this installation
	$node->safe_psql('postgres', "LOAD 'sparseclip';\nALTER SYSTEM SET sparseclip.model = '$fixtures/encode/model.safetensors'");
	$node->reload;
	is($node->safe_psql('postgres', q{SELECT model_info()->>'source', nnz(encode_text('a cat')) > 0}),
		"sparseclip.model|t", 'with sparseclip.model set, no default is needed');
	$node->stop;
}

# ---- 3. an installation with a small random F16 default ----
my $config = '{"image_size":32,"patch_size":8,"vision_width":64,"vision_layers":2,"vision_heads":2,'
  . '"context_length":16,"vocab_size":1,"text_width":64,"text_layers":2,"text_heads":2,"embed_dim":32,'
  . '"sparse_dim":256,"activation":"gelu","image_mean":[0.48145466,0.4578275,0.40821073],'
  . '"image_std":[0.26862954,0.26130258,0.27577711]}';
my ($f32, $f16, $other) = map { "$tmp/$_.safetensors" } qw(default32 default16 other16);
system("$tools/make_model", $config, "$fixtures/encode/model.safetensors", $f32, 11) == 0
  or BAIL_OUT('make_model failed');
system("$tools/sparseclip-convert", $f32, $f16, '--dtype', 'f16',
	'--meta', 'sparseclip.model_name=sparseclip-test-default', '--meta', 'sparseclip.trained=2026-12-03',
	'--meta', 'sparseclip.card=https://example.org/cards/test "v1"', '--meta', 'sparseclip.license=CC0-1.0',
	'--meta', 'sparseclip.image_alpha=white') == 0
  or BAIL_OUT('sparseclip-convert failed');
system("$tools/make_model", $config, "$fixtures/encode/model.safetensors", "$tmp/other32.safetensors", 12) == 0
  && system("$tools/sparseclip-convert", "$tmp/other32.safetensors", $other, '--dtype', 'f16') == 0
  or BAIL_OUT('second model failed');

my ($inst, $default) = OwnInstall::create('f16', $f16);
my $node = PostgreSQL::Test::Cluster->new('f16_default', install_path => $inst);
$node->init;
$node->append_conf('postgresql.conf', "max_worker_processes = 8\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
CREATE ROLE plain LOGIN;
GRANT CREATE ON SCHEMA public TO plain;
});

is($node->safe_psql('postgres', "LOAD 'sparseclip';\nSHOW sparseclip.model"), '', 'sparseclip.model is empty');
is($node->safe_psql('postgres', q{SELECT nnz(encode_text('a cat')) > 0, dims(encode_text('a cat'))}), 't|256',
	'encode_text works with no setting');
is($node->safe_psql('postgres', q{SET ROLE plain; SELECT nnz(encode_text('a cat')) > 0}), 't',
	'for a non-superuser too');
my $size = -s $f16;
my $info = $node->safe_psql('postgres', q{
SELECT concat_ws('|', i->>'source', i->>'path', i->>'dtype', i->>'size_bytes', i->>'fingerprint' ~ '^[0-9a-f]{16}$',
	i->'metadata'->>'model_name', i->'metadata'->>'trained', i->'metadata'->>'card', i->'metadata'->>'license',
	i->'metadata'->>'image_alpha',
	(SELECT count(*) FROM jsonb_object_keys(i->'metadata')), i->>'output_dim', i->>'sparse')
FROM model_info() i});
is($info, "default|$default|F16|$size|t|sparseclip-test-default|2026-12-03|https://example.org/cards/test \"v1\"|CC0-1.0|white|5|256|true",
	'model_info: source default, path, dtype, size, fingerprint, the metadata set by --meta');
my $fp_default = $node->safe_psql('postgres', q{SELECT model_info()->>'fingerprint'});

# sparseclip.image_alpha = model (the default): this model says white, so a
# PNG with transparency is composited over white, as the setting white does.
my $rgba = "pg_read_binary_file('$fixtures/encode/rgba.png')";
is($node->safe_psql('postgres', qq{
LOAD 'sparseclip';
SELECT current_setting('sparseclip.image_alpha');
CREATE TEMP TABLE a AS SELECT encode_image($rgba) AS by_model;
SET sparseclip.image_alpha = white; ALTER TABLE a ADD white svec; UPDATE a SET white = encode_image($rgba);
SET sparseclip.image_alpha = drop; ALTER TABLE a ADD dropped svec; UPDATE a SET dropped = encode_image($rgba);
SELECT by_model = white, by_model = dropped FROM a}), "model\nt|f",
	"image_alpha 'model': a model that says white composites over white");

# The F16 default against its F32 original, chosen by a superuser.
$node->safe_psql('postgres', q{
CREATE TABLE probes (t text);
INSERT INTO probes VALUES ('a photo of a cat'), ('two dogs playing in the snow'), ('a red car'), ('an apple'), ('music');
CREATE TABLE pics (name text, img bytea);
});
$node->safe_psql('postgres', "INSERT INTO pics SELECT n, pg_read_binary_file('$fixtures/encode/' || n) FROM "
	  . "unnest(ARRAY['square.jpg', 'wide.jpg', 'tall.jpg', 'gray.jpg', 'rgba.png']) n");
$node->safe_psql('postgres', q{
CREATE TABLE by_default AS SELECT t AS k, encode_text(t) AS e FROM probes UNION ALL SELECT name, encode_image(img) FROM pics;
});
my $parity = $node->safe_psql('postgres', qq{
SET sparseclip.model = '$f32';
SET sparseclip.image_alpha = white;	-- the F32 original has no image_alpha key
SELECT model_info()->>'source', model_info()->>'dtype',
	round(min(1 - (d.e <=> x.e))::numeric, 4) >= 0.99, count(*)
FROM by_default d JOIN (SELECT t AS k, encode_text(t) AS e FROM probes
	UNION ALL SELECT name, encode_image(img) FROM pics) x USING (k)});
is($parity, 'sparseclip.model|F32|t|10', 'F16 default and its F32 original: cosine >= 0.99 on 5 texts and 5 images');
note('minimum cosine F16 default / F32 original: ' . $node->safe_psql('postgres', qq{
SET sparseclip.model = '$f32';
SET sparseclip.image_alpha = white;
SELECT min(1 - (d.e <=> x.e)) FROM by_default d JOIN (SELECT t AS k, encode_text(t) AS e FROM probes
	UNION ALL SELECT name, encode_image(img) FROM pics) x USING (k)}));
is($node->safe_psql('postgres', qq{
SET sparseclip.model = '$f32'; SELECT model_info()->>'path';
RESET sparseclip.model; SELECT model_info()->>'source' || ' ' || (model_info()->>'fingerprint')}),
	"$f32\ndefault $fp_default", 'a superuser picks another file; RESET goes back to the default');
is($node->safe_psql('postgres', qq{SET sparseclip.model = '$default'; SELECT model_info()->>'source' || ' ' || (model_info()->>'fingerprint')}),
	"sparseclip.model $fp_default", 'the default file named explicitly: same fingerprint, source sparseclip.model');
my ($ret, $out, $err) = $node->psql('postgres', qq{SET ROLE plain; SELECT model_info() IS NOT NULL; SET sparseclip.model = '$f32'});
like($err, qr/permission denied to set parameter "sparseclip\.model"/, 'a non-superuser cannot pick another file');

# Embedding jobs with the default: foreground and background workers.
$node->safe_psql('postgres', q{
SET ROLE plain;
CREATE TABLE docs (id int PRIMARY KEY, body text);
INSERT INTO docs SELECT i, 'cat ' || i FROM generate_series(1, 40) i;
CREATE TABLE photos (id int PRIMARY KEY, jpeg bytea);
});
$node->safe_psql('postgres', "INSERT INTO photos SELECT i, pg_read_binary_file('$fixtures/encode/square.jpg') FROM generate_series(1, 20) i");
my $fg = $node->safe_psql('postgres', q{SET ROLE plain; SELECT embed_column('docs', 'body', 'emb', workers => 0, batch_size => 8)});
$node->safe_psql('postgres', "SET ROLE plain; CALL embed_run($fg)");
is($node->safe_psql('postgres', "SELECT count(*) FILTER (WHERE emb IS NOT NULL), count(*) FILTER (WHERE 1 - (emb <=> encode_text(body)) > 0.9999) FROM docs"),
	'40|40', 'embed_run with the default model embeds every row as encode_text does');
is($node->safe_psql('postgres', "SELECT j.model_path = '', m.fingerprint, m.path FROM embed_jobs j JOIN embed_models m ON m.id = j.model WHERE j.id = $fg"),
	"t|$fp_default|$default", 'the job records the default (empty setting), its fingerprint and file');
my $bg = $node->safe_psql('postgres', q{SET ROLE plain; SELECT embed_column('photos', 'jpeg', 'emb', workers => 1, batch_size => 4)});
ok($node->poll_query_until('postgres', "SELECT rows_done = 20 AND rows_pending = 0 FROM embed_progress WHERE job = $bg"),
	'a background worker embeds with the default model');
is($node->safe_psql('postgres', "SELECT model_path FROM embed_progress WHERE job = $bg"), $default,
	'embed_progress shows the default file');
is($node->safe_psql('postgres', 'SELECT count(*) FROM photos WHERE 1 - (emb <=> encode_image(jpeg)) > 0.9999'), '20',
	'the worker\'s vectors are the default model\'s');

# Replacing the default file (an upgrade): picked up with a new fingerprint;
# the jobs re-embed their rows with it (the background one by itself).
copy($other, "$default.new") or die;
rename("$default.new", $default) or die;
my $fp_other = $node->safe_psql('postgres', q{SELECT model_info()->>'fingerprint'});
isnt($fp_other, $fp_default, 'a replaced default file gets a new fingerprint in the next call');
$node->safe_psql('postgres', "SET ROLE plain; CALL embed_run($fg)");
is($node->safe_psql('postgres', "SELECT s.rows_done, m.fingerprint FROM embed_status($fg) s, embed_jobs j JOIN embed_models m ON m.id = j.model WHERE j.id = $fg"),
	"40|$fp_other", 'embed_run re-embeds the rows with the new default');
is($node->safe_psql('postgres', "SELECT count(*) FROM docs WHERE 1 - (emb <=> encode_text(body)) > 0.9999"), '40',
	'with its vectors');
ok($node->poll_query_until('postgres', "SELECT s.rows_done = 20 AND m.fingerprint = '$fp_other' FROM embed_status($bg) s, "
	  . "embed_jobs j JOIN embed_models m ON m.id = j.model WHERE j.id = $bg"),
	'the background worker re-embeds with the new default too');
$node->safe_psql('postgres', "SELECT embed_cancel($bg)");

# A corrupt default: a clear error, not a crash.
open(my $fh, '>', $default) or die;
print $fh 'not a model';
close $fh;
like($node->safe_psql('postgres', $err_fn . q{SELECT pg_temp.err('SELECT encode_text(''a cat'')')}),
	qr/^F0000: could not load model file "\Q$default\E" \(safetensors: /, 'a corrupt default: ERROR naming the file');
$node->stop;

done_testing();
