# Encoding must not leak: over 10,000 calls of each encoder, successful and
# failing alike (JPEG, PNG and WebP, and their decoders' error paths), the backend's private resident memory (RssAnon: a leak is
# anonymous memory; VmRSS also counts pages of the mapped model file and of
# shared buffers, which come and go with the machine's memory pressure)
# grows no more than it does for a trivial call in the same loop (256 kB
# of slack: 26 bytes a call).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fixtures = $ENV{SPARSECLIP_FIXTURES} or plan skip_all => 'SPARSECLIP_FIXTURES is not set';

my $node = PostgreSQL::Test::Cluster->new('encode_memory');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION sparseclip');

# One session: warm up, read RssAnon, run the loop, read RssAnon again.
sub rss_growth_kb
{
	my ($name, $call, $calls, $settings) = @_;
	$settings //= '';
	my $sql = qq{
SET sparseclip.model = '$fixtures/encode/model.safetensors';
$settings
CREATE TEMP TABLE img AS SELECT pg_read_binary_file('$fixtures/encode/wide.jpg') AS jpeg,
	pg_read_binary_file('$fixtures/encode/rgba.png') AS png,
	pg_read_binary_file('$fixtures/encode/alpha_lossless.webp') AS webp;
CREATE FUNCTION pg_temp.rss() RETURNS bigint LANGUAGE sql AS
	\$\$ SELECT substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\\s+(\\d+)')::bigint \$\$;
CREATE FUNCTION pg_temp.run(n int) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
	jpeg bytea := (SELECT i.jpeg FROM img i);
	png bytea := (SELECT i.png FROM img i);
	webp bytea := (SELECT i.webp FROM img i);
BEGIN
	FOR i IN 1..n LOOP
		BEGIN
			$call;
		EXCEPTION WHEN OTHERS THEN
			NULL;
		END;
	END LOOP;
END \$\$;
SELECT pg_temp.run(500);
CREATE TEMP TABLE before AS SELECT pg_temp.rss() AS kb;
SELECT pg_temp.run($calls);
SELECT pg_temp.rss() - (SELECT kb FROM before);
};
	my $out = $node->safe_psql('postgres', $sql);
	my @lines = split /\n/, $out;
	return $lines[-1];
}

# The loop itself (plpgsql, one subtransaction per call) costs a little:
# measure it with a trivial call and judge the encoders against it.
my $baseline = rss_growth_kb('baseline', q{PERFORM length('a photo of a cat number ' || i)}, 10000);
note "baseline (a trivial call): RSS grew by $baseline kB over 10,000 calls";

my @cases = (
	[ 'encode_text', q{PERFORM encode_text('a photo of a cat number ' || i)} ],
	[ 'encode_texts', q{PERFORM encode_texts(ARRAY['two dogs', 'hello world', 'a red car'])} ],
	[ 'encode_image', q{PERFORM encode_image(jpeg)} ],
	[ 'encode_images', q{PERFORM encode_images(ARRAY[jpeg, jpeg])} ],
	[ 'tokenize', q{PERFORM tokenize('photos of cats and dogs')} ],
	[ 'a corrupt image (error path)', q{PERFORM encode_image(substring(jpeg FROM 1 FOR 400))} ],
	[ 'encode_image of a PNG', q{PERFORM encode_image(png)} ],
	[ 'encode_image of a WebP over white', q{PERFORM encode_image(webp)}, 'SET sparseclip.image_alpha = white;' ],
	[ 'encode_images of JPEG, PNG and WebP', q{PERFORM encode_images(ARRAY[jpeg, png, webp])} ],
	# libpng's longjmp path, a libpng error after the rows were allocated, libwebp's error path
	[ 'a truncated PNG (error path)', q{PERFORM encode_image(substring(png FROM 1 FOR 3000))} ],
	[ 'a corrupt PNG (error path)',
		q{PERFORM encode_image(overlay(png PLACING '\\xdeadbeefdeadbeef'::bytea FROM 200))} ],
	[ 'a truncated WebP (error path)', q{PERFORM encode_image(substring(webp FROM 1 FOR 3000))} ],
	[ 'a too long text (error path)', q{PERFORM encode_text(repeat('cat ', 40))} ],
);
for my $case (@cases)
{
	my ($name, $call, $settings) = @$case;
	my $growth = rss_growth_kb($name, $call, 10000, $settings);
	note "$name: RSS grew by $growth kB over 10,000 calls";
	cmp_ok($growth - $baseline, '<', 256,
		"$name: no leak over 10,000 calls ($growth kB, baseline $baseline kB)");
}

$node->stop;
done_testing();
