# The main-job demo's SQL path (demo/demo.sh, which demo/run.sh calls) on a
# small table: 200 Twemoji images fetched from npm, a tiny random model with
# concept names (test/fixtures/concepts/named.safetensors), a test node.
# Checks the mechanics only: every step runs, each query prints its top 5
# rows with the concepts that matched, the concepts of a few rows, the
# timings, the page and the contact sheet, and a second run works.  The
# model is random, so nothing here asserts the quality of an answer.
# Skips when npm or the npm registry is not reachable.
use strict;
use warnings;
use Cwd qw(abs_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fixtures = $ENV{SPARSECLIP_FIXTURES} or plan skip_all => 'SPARSECLIP_FIXTURES is not set';
# run-all.sh copies demo/ beside test/ (the TAP tests run in test/).
my $demo = abs_path('../demo');
plan skip_all => 'demo/ is not beside test/ (run from test/run-all.sh)'
  unless $demo && -f "$demo/demo.sh";
plan skip_all => 'node or npm is not installed'
  unless system('command -v node >/dev/null && command -v npm >/dev/null') == 0;

my $tmp = $PostgreSQL::Test::Utils::tmp_check;
# npm writes its cache and logs under HOME: keep them in the test's folder.
$ENV{HOME} = "$tmp/home";
$ENV{npm_config_cache} = "$tmp/npm-cache";
mkdir $ENV{HOME};
plan skip_all => 'the npm registry is not reachable (no network?)'
  unless system('timeout 120 npm view emoji-datasource-twitter@16.0.0 version >/dev/null 2>&1') == 0;

my $node = PostgreSQL::Test::Cluster->new('demo');
$node->init;
$node->start;

my @queries = grep { /\S/ && !/^\s*#/ } split /\n/, slurp_file("$demo/queries.txt");
chomp @queries;
cmp_ok(scalar @queries, '>=', 5, 'the demo has at least five queries');

# demo.sh against the node; returns its exit status and its output.
sub demo
{
	my (%env) = @_;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	local $ENV{DEMO_OUT} = "$tmp/out";
	local $ENV{DEMO_CACHE} = "$tmp/npm";
	local $ENV{DEMO_WORKERS} = 2;
	local @ENV{ keys %env } = values %env;
	delete local $ENV{SPARSECLIP_MODEL} unless defined $env{SPARSECLIP_MODEL};
	my $out = `timeout 600 bash $demo/demo.sh 2>&1`;
	my $status = $? >> 8;
	note $out;
	return ($status, $out);
}

my ($status, $out) = demo(SPARSECLIP_MODEL => "$fixtures/concepts/named.safetensors", DEMO_ROWS => 200);
is($status, 0, 'demo.sh succeeds');
like($out, qr/load\.js: 200 of \d{4} Twemoji images/, 'it loads 200 of the thousands of Twemoji images');
like($out, qr/^\s+embedded\s+\d+ of 200 \(/m, 'it prints embedding progress');
like($out, qr/^\s+embedded\s+200 of 200 \(100\.0 %\)/m, 'its last progress line says every row is embedded');
like($out, qr/done: 200 rows in [0-9.]+ s \([0-9.]+ rows\/s\), 0 failed/, 'it reports the embedding rate');
like($out, qr/Index Scan using emoji_emb_idx on emoji/, 'searches use the inverted index');
like($out, qr/index build: [0-9.]+ ms; query: encode_text [0-9.]+ ms \+ top-5 search [0-9.]+ ms/,
	'it reports index build time and query latency');
like($out, qr/^\s+total: [0-9.]+ s$/m, 'it reports the total time');
like($out, qr/SELECT embed_column\('emoji', 'png', 'emb'/, 'it shows the SQL a user would type');

# Each query's block: its text, a header, then ranks 1 to 5 with a score and
# the names of the concepts that made the match.
for my $q (@queries)
{
	my ($block) = $out =~ /^\s+'\Q$q\E'\n(.*?)(?=^\s+'|^== )/ms;
	ok(defined $block, "query '$q' is printed");
	$block //= '';
	my @ranks = $block =~ /^\s+([1-5]) \|[^|]+\|[^|]+\|\s+0\.\d{4} \|\s+\S.*$/mg;
	is("@ranks", '1 2 3 4 5', "query '$q': top 5 rows with score and concept names");
}

my ($concepts) = $out =~ /The active concepts of a few rows\n(.*?)^== /ms;
my @concept_rows = ($concepts // '') =~ /^\s+[^|]+\|\s+\d+ \|[^|]+\|\s+0\.\d{3} \|\s+0\.\d{3}\s*$/mg;
is(scalar @concept_rows, 15, 'five concepts each of three rows');

is($node->safe_psql('sparseclip_demo', 'SELECT count(*), count(emb), count(DISTINCT file) FROM emoji'),
	'200|200|200', 'the table holds 200 embedded images');
is($node->safe_psql('sparseclip_demo', "SELECT count(*) FROM emoji WHERE png IS NULL OR substr(png, 1, 8) <> '\\x89504e470d0a1a0a'::bytea"),
	'0', 'every image is a PNG');
is($node->safe_psql('sparseclip_demo', "SELECT setting FROM pg_db_role_setting, unnest(setconfig) setting
	WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'sparseclip_demo') AND setting LIKE '%image_alpha%'"),
	'sparseclip.image_alpha=white', 'the demo database composites transparency over white');

my $html = slurp_file("$tmp/out/index.html");
for my $q (@queries)
{
	my $h = $q =~ s/&/&amp;/gr;
	like($html, qr/<h2>\Q$h\E<\/h2>/, "the page shows '$q'");
}
my @imgs = $html =~ /<img src="img\/([^"]+)"/g;
is(scalar @imgs, 5 * @queries, 'the page shows 5 images per query');
ok(!grep({ !-s "$tmp/out/img/$_" } @imgs), 'every image on the page is in the output folder');
my $png = slurp_file("$tmp/out/contact.png");
is(substr($png, 0, 8), "\x89PNG\r\n\x1a\n", 'the contact sheet is a PNG');
my $size = `identify -format '%w %h' $tmp/out/contact.png`;
like($size, qr/^\d+ (\d+)$/, 'identify reads the contact sheet');
my ($h) = $size =~ / (\d+)$/;
cmp_ok($h // 0, '>', 96 * @queries, 'the contact sheet has a row per query');

# Running it twice works: the table is replaced, the data set not fetched again.
($status, $out) = demo(SPARSECLIP_MODEL => "$fixtures/concepts/named.safetensors", DEMO_ROWS => 120);
is($status, 0, 'a second run succeeds');
like($out, qr/already in \Q$tmp\E\/npm/, 'the second run reuses the fetched packages');
is($node->safe_psql('sparseclip_demo', 'SELECT count(*), count(emb) FROM emoji'), '120|120',
	'the second run replaced the table');
is($node->safe_psql('sparseclip_demo', 'SELECT count(*) FROM embed_jobs'), '1',
	'the first run\'s job went with its table');

# The SQL the demo prints for doing the same by hand runs as printed.
like($out, qr/To do the same by hand.*?\n\s+CREATE EXTENSION IF NOT EXISTS sparseclip;/s, 'the by-hand SQL is printed');
mkdir "$tmp/byhand";
is(system("node $demo/load.js $tmp/npm/node_modules 30 > $tmp/byhand/emoji.tsv 2>/dev/null"), 0,
	'load.js writes the by-hand COPY file');
$node->safe_psql('postgres', 'CREATE DATABASE mydb');
$node->safe_psql('postgres', "ALTER DATABASE mydb SET sparseclip.model = '$fixtures/concepts/named.safetensors'");
my $host = $node->host;
my $port = $node->port;
my $byhand = `cd $tmp/byhand && psql -X -v ON_ERROR_STOP=1 -h '$host' -p $port -d mydb -f $demo/by-hand.sql 2>&1`;
is($? >> 8, 0, 'by-hand.sql runs without error');
note $byhand;
like($byhand, qr/\(5 rows\)/, 'its search returns 5 rows');
ok($node->poll_query_until('mydb', 'SELECT count(emb) = 30 FROM emoji'), 'its background workers embed every row');

# A model without concept names cannot explain matches: a clear stop.
($status, $out) = demo(SPARSECLIP_MODEL => "$fixtures/concepts/unnamed.safetensors", DEMO_ROWS => 20);
isnt($status, 0, 'a model without concept names is refused');
like($out, qr/the model is dense or has no concept names/, 'with a message saying why');
unlike($out, qr/Embedding/, 'before embedding anything');

# It never empties an output folder that holds anything but its own output.
mkdir "$tmp/precious";
append_to_file("$tmp/precious/keep.txt", "mine\n");
($status, $out) = demo(SPARSECLIP_MODEL => "$fixtures/concepts/named.safetensors", DEMO_ROWS => 20,
	DEMO_OUT => "$tmp/precious");
isnt($status, 0, 'a foreign output folder is refused');
like($out, qr/DEMO_OUT=\S+ is not empty and holds no earlier demo output/, 'with a message saying why');
ok(-f "$tmp/precious/keep.txt", 'and its files are left alone');

# Without SPARSECLIP_MODEL the demo uses the installed default model, and
# says so clearly when there is none.
my ($ok, $stdout, $stderr) = (0, '', '');
$node->psql('postgres', 'CREATE DATABASE nomodel');
$node->psql('nomodel', 'CREATE EXTENSION sparseclip');
my $rc = $node->psql('nomodel', 'SELECT model_info()', stdout => \$stdout, stderr => \$stderr);
($status, $out) = demo(DEMO_ROWS => 20);
if ($rc != 0)
{
	like($stderr, qr/no model is configured/, 'no default model is installed');
	isnt($status, 0, 'without a default model the demo fails');
	like($out, qr/no default model is installed.*SPARSECLIP_MODEL=/,
		'and says so, naming SPARSECLIP_MODEL');
	unlike($out, qr/Embedding/, 'before embedding anything');
}
else
{
	is($status, 0, 'with the default model installed the demo runs without SPARSECLIP_MODEL');
	unlike($out, qr/from SPARSECLIP_MODEL/, 'on the default model');
}

$node->stop;
done_testing();
