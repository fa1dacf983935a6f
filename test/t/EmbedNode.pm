# Shared set-up of the embedding TAP tests: a model slow enough (a few ms an
# image) that background workers overlap, written by test/tools/make_model
# from the encode fixture, and a started node configured to use it.
package EmbedNode;
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $config = '{"image_size":64,"patch_size":8,"vision_width":128,"vision_layers":4,'
  . '"vision_heads":4,"context_length":16,"vocab_size":1,"text_width":32,"text_layers":1,'
  . '"text_heads":2,"embed_dim":64,"sparse_dim":256,"activation":"quick_gelu",'
  . '"image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}';

# EmbedNode::start(NAME, EXTRA_CONF): the started node and the model's path.
sub start
{
	my ($name, $extra) = @_;
	my $fixtures = $ENV{SPARSECLIP_FIXTURES} or plan skip_all => 'SPARSECLIP_FIXTURES is not set';
	my $tools = $ENV{SPARSECLIP_TOOLS} or plan skip_all => 'SPARSECLIP_TOOLS is not set';
	my $model = "${PostgreSQL::Test::Utils::tmp_check}/$name.safetensors";
	system("$tools/make_model", $config, "$fixtures/encode/model.safetensors", $model) == 0
	  or BAIL_OUT("make_model failed");
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "sparseclip.model = '$model'\n" . ($extra // ''));
	$node->start;
	return ($node, $model);
}

1;
