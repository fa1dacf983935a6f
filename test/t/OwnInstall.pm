# A private view of the PostgreSQL installation, for tests that need their
# own share directory: the extension looks for its default model in
# $sharedir/sparseclip/default.safetensors, and the machine-wide one holds
# whatever `make install` put there (the checkout's model, or nothing).
#
# PostgreSQL finds its share and library directories relative to the
# executable (get_share_path), so a tree that mirrors the installation's
# layout, with real copies of postgres, pg_ctl and initdb (symlinks would be
# resolved back to the real installation) and symlinks for everything else,
# is a relocated installation whose share/sparseclip is our own.  The
# extension's files (share/extension, the library) are the installed ones.
package OwnInstall;
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use PostgreSQL::Test::Utils;

sub pg_config
{
	my ($opt) = @_;
	my $v = `pg_config --$opt`;
	die "pg_config --$opt failed" if $? != 0;
	chomp $v;
	return $v;
}

sub common_prefix
{
	my @p = map { [ split m{/}, $_ ] } @_;
	my @common;
	for (my $i = 0;; $i++)
	{
		my $c = $p[0][$i];
		last if !defined $c || grep { !defined $_->[$i] || $_->[$i] ne $c } @p;
		push @common, $c;
	}
	return join('/', @common);
}

sub link_entries
{
	my ($from, $to, %except) = @_;
	make_path($to);
	opendir(my $dh, $from) or die "cannot read $from: $!";
	for my $e (readdir $dh)
	{
		next if $e eq '.' || $e eq '..' || $except{$e};
		symlink("$from/$e", "$to/$e") or die "symlink $to/$e: $!";
	}
	closedir $dh;
}

# OwnInstall::create(NAME, DEFAULT_MODEL): the install path to give
# PostgreSQL::Test::Cluster->new(..., install_path => ...), and the path of
# the default model in it (which exists only when DEFAULT_MODEL, a file to
# copy there, is given).
sub create
{
	my ($name, $default_model) = @_;
	my ($bindir, $sharedir, $pkglibdir) = map { pg_config($_) } qw(bindir sharedir pkglibdir);
	my $prefix = common_prefix($bindir, $sharedir, $pkglibdir);
	my $root = "${PostgreSQL::Test::Utils::tmp_check}/install_$name";
	my $mirror = sub { my $p = shift; $p =~ s/^\Q$prefix\E//; return "$root$p"; };
	my ($ownbin, $ownshare, $ownlib) = map { $mirror->($_) } ($bindir, $sharedir, $pkglibdir);

	# PostgreSQL::Test::Cluster wants bin/ and lib/ under the install path
	die "unexpected layout: $bindir and $pkglibdir are not siblings"
	  unless dirname($bindir) eq dirname($pkglibdir);
	my %real = map { $_ => 1 } qw(postgres pg_ctl initdb);
	link_entries($bindir, $ownbin, %real);
	for my $exe (keys %real)
	{
		copy("$bindir/$exe", "$ownbin/$exe") or die "copy $exe: $!";
		chmod 0755, "$ownbin/$exe";
	}
	make_path(dirname($ownlib));
	symlink($pkglibdir, $ownlib) or die "symlink $ownlib: $!";
	link_entries($sharedir, $ownshare, sparseclip => 1);
	make_path("$ownshare/sparseclip");
	my $default = "$ownshare/sparseclip/default.safetensors";
	if (defined $default_model)
	{
		copy($default_model, $default) or die "copy $default_model: $!";
	}
	return (dirname($ownbin), $default);
}

1;
