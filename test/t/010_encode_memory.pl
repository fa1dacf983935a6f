# Encoding must not leak: over 10,000 calls of each encoder, successful and
# failing alike, the backend's resident memory grows no more than it does
# for a trivial call in the same loop (256 kB of slack: 26 bytes a call).
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

# One session: warm up, read VmRSS, run the loop, read VmRSS again.
sub rss_growth_kb
{
	my ($name, $call, $calls) = @_;
	my $sql = qq{
SET sparseclip.model = '$fixtures/encode/model.safetensors';
CREATE TEMP TABLE img AS SELECT pg_read_binary_file('$fixtures/encode/wide.jpg') AS jpeg;
CREATE FUNCTION pg_temp.rss() RETURNS bigint LANGUAGE sql AS
	\$\$ SELECT substring(pg_read_file('/proc/self/status') FROM 'VmRSS:\\s+(\\d+)')::bigint \$\$;
CREATE FUNCTION pg_temp.run(n int) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE jpeg bytea := (SELECT i.jpeg FROM img i);
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
	[ 'a too long text (error path)', q{PERFORM encode_text(repeat('cat ', 40))} ],
);
for my $case (@cases)
{
	my ($name, $call) = @$case;
	my $growth = rss_growth_kb($name, $call, 10000);
	note "$name: RSS grew by $growth kB over 10,000 calls";
	cmp_ok($growth - $baseline, '<', 256,
		"$name: no leak over 10,000 calls ($growth kB, baseline $baseline kB)");
}

$node->stop;
done_testing();
