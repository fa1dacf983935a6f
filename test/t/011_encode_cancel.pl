# Long encoding work answers query cancel quickly: a batch of images and a
# batch of texts on a model of ViT-B/32 layer sizes (random weights, two
# layers a tower), stopped by statement_timeout; the statement must end
# soon after the timeout fires, and the backend must stay usable.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $fixtures = $ENV{SPARSECLIP_FIXTURES} or plan skip_all => 'SPARSECLIP_FIXTURES is not set';
my $tools = $ENV{SPARSECLIP_TOOLS} or plan skip_all => 'SPARSECLIP_TOOLS is not set';

my $model = "${PostgreSQL::Test::Utils::tmp_check}/vitb32_layers.safetensors";
my $config = '{"image_size":224,"patch_size":32,"vision_width":768,"vision_layers":2,'
  . '"vision_heads":12,"context_length":77,"vocab_size":1,"text_width":512,"text_layers":2,'
  . '"text_heads":8,"embed_dim":512,"sparse_dim":4096,"activation":"quick_gelu",'
  . '"image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}';
system("$tools/make_model", $config, "$fixtures/encode/model.safetensors", $model) == 0
  or BAIL_OUT("make_model failed");

my $node = PostgreSQL::Test::Cluster->new('encode_cancel');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION sparseclip');

my $setup = "SET sparseclip.model = '$model';";
my $jpeg = "pg_read_binary_file('$fixtures/encode/square.jpg')";

# Warm up (maps the model) and time the round trip of a trivial statement.
$node->safe_psql('postgres', "$setup SELECT nnz(encode_image($jpeg))");

my @cases = (
	[ 'encode_images', "SELECT encode_images(array_agg($jpeg)) FROM generate_series(1, 2000)" ],
	[ 'encode_texts', "SELECT encode_texts(array_agg('a photo of a cat ' || i)) FROM generate_series(1, 50000) i" ],
);
my $timeout_ms = 1000;
for my $case (@cases)
{
	my ($name, $sql) = @$case;
	my $t0 = time();
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"$setup SET statement_timeout = '${timeout_ms}ms'; $sql");
	my $elapsed_ms = (time() - $t0) * 1000;
	like($stderr, qr/canceling statement due to statement timeout/, "$name: cancelled");
	my $late = $elapsed_ms - $timeout_ms;
	note sprintf("%s: ended %.0f ms after the timeout fired (connection and setup included)", $name, $late);
	# About 100 ms a layer chunk; the bound leaves room for a loaded machine.
	cmp_ok($late, '<', 400, "$name: ends soon after the cancel (" . int($late) . " ms)");
}

is($node->safe_psql('postgres', "$setup SELECT nnz(encode_text('still usable')) > 0"), 't',
	'backend usable after cancels');

$node->stop;
done_testing();
