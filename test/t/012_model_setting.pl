# Setting sparseclip.model as a new user would, each step in a new session
# (a new psql), the way the README says.  PostgreSQL 15 checks the names
# ALTER SYSTEM sets, and sparseclip.* exist only once the library is loaded
# in the session: so LOAD 'sparseclip' first; ALTER DATABASE ... SET works
# without it.  Non-superusers can set the model neither way.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OwnInstall;

my $fixtures = $ENV{SPARSECLIP_FIXTURES} or plan skip_all => 'SPARSECLIP_FIXTURES is not set';
my $model = "$fixtures/encode/model.safetensors";
my $dense = "$fixtures/encode/dense.safetensors";

# An installation of our own without a default model (OwnInstall), so
# that "nothing set" means no model whatever `make install` put in place.
my ($inst) = OwnInstall::create('model_setting');
my $node = PostgreSQL::Test::Cluster->new('model_setting', install_path => $inst);
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
CREATE ROLE alice LOGIN;
CREATE DATABASE alicedb OWNER alice;
});
$node->safe_psql('alicedb', 'CREATE EXTENSION sparseclip');
my $version = $node->safe_psql('postgres', 'SHOW server_version_num');

# A new session: what model does it use, and does encoding work?
sub model_path
{
	my ($db) = @_;
	return $node->safe_psql($db // 'postgres', q{SELECT model_info()->>'path'});
}

my ($ret, $out, $err);

# Before anything is set: the error says how to set it.
($ret, $out, $err) = $node->psql('postgres', q{SELECT encode_text('a cat')});
like($err, qr/no model is configured.*HINT:.*LOAD 'sparseclip'; ALTER SYSTEM SET sparseclip\.model/s,
	'no model: the hint gives the LOAD and ALTER SYSTEM steps');

# PostgreSQL 15 and 16 refuse ALTER SYSTEM for a parameter no library has
# defined yet in the session (17 accepts it).
if ($version < 170000)
{
	($ret, $out, $err) = $node->psql('postgres', "ALTER SYSTEM SET sparseclip.model = '$model'");
	like($err, qr/unrecognized configuration parameter "sparseclip\.model"/,
		'a fresh session cannot ALTER SYSTEM SET sparseclip.model before the library is loaded');
}

# The README's way, in a fresh session.
$node->safe_psql('postgres', qq{
LOAD 'sparseclip';
ALTER SYSTEM SET sparseclip.model = '$model';
SELECT pg_reload_conf();
});
is($node->safe_psql('postgres', 'SHOW sparseclip.model'), $model,
	'a new session sees the model path before anything loads the library');
is(model_path(), $model, 'and encodes with it');
is($node->safe_psql('postgres', q{SELECT nnz(encode_text('a photo of a cat')) > 0}), 't',
	'encode_text works in a new session');
is(model_path('alicedb'), $model, 'in every database');

# Once postgresql.auto.conf names it, every session knows the name: a
# second ALTER SYSTEM needs no LOAD.
$node->safe_psql('postgres', qq{
ALTER SYSTEM SET sparseclip.model = '$dense';
SELECT pg_reload_conf();
});
is(model_path(), $dense, 'a later ALTER SYSTEM works without LOAD');

# ALTER DATABASE ... SET works from a fresh session without LOAD, and wins
# over the server-wide setting in that database.
$node->safe_psql('postgres', "ALTER DATABASE postgres SET sparseclip.model = '$model'");
is(model_path(), $model, 'ALTER DATABASE ... SET from a fresh session: new sessions use it');
is(model_path('alicedb'), $dense, 'other databases keep the server-wide model');
$node->safe_psql('postgres', 'ALTER DATABASE postgres RESET sparseclip.model');
is(model_path(), $dense, 'ALTER DATABASE ... RESET: back to the server-wide model');

# Non-superusers: a SET before the library loads makes a placeholder, which
# loading the library refuses (sparseclip.model is superuser-only).
($ret, $out, $err) = $node->psql('postgres', qq{
SET sparseclip.model = '$model';
SELECT model_info()->>'path';
}, extra_params => [ '-U', 'alice' ]);
is($out, $dense, 'a non-superuser SET before the library loads does not change the model');
like($err, qr/permission denied to set parameter "sparseclip\.model"/, 'and is refused with a warning');
($ret, $out, $err) = $node->psql('alicedb', "ALTER DATABASE alicedb SET sparseclip.model = '$model'",
	extra_params => [ '-U', 'alice' ]);
like($err, qr/permission denied to set parameter "sparseclip\.model"/,
	'a database owner who is not a superuser cannot ALTER DATABASE ... SET sparseclip.model');
# (an svec literal loads the library: LOAD is for superusers)
($ret, $out, $err) = $node->psql('alicedb', qq{SELECT nnz('{1:1}/3'::svec);
SET sparseclip.model = '$model';}, extra_params => [ '-U', 'alice' ]);
is($out, '1', 'a non-superuser session loads the library by using svec');
like($err, qr/ERROR:  permission denied to set parameter "sparseclip\.model"/,
	'and then cannot SET sparseclip.model');
is(model_path('alicedb'), $dense, 'alicedb still uses the server-wide model');

$node->stop;
done_testing();
