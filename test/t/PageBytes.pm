# Reading and writing 32-bit fields of a relation file while its server is
# stopped, for the tests that corrupt or age an index on disk (033, 038).
package PageBytes;
use strict;
use warnings;

# PageBytes::poke(FILE, OFFSET, VALUE): write VALUE as a native uint32.
sub poke
{
	my ($file, $off, $value) = @_;
	open(my $fh, '+<', $file) or die "open $file: $!";
	binmode $fh;
	seek($fh, $off, 0) or die;
	print $fh pack('L', $value);
	close $fh;
}

# PageBytes::peek(FILE, OFFSET): the native uint32 at OFFSET.
sub peek
{
	my ($file, $off) = @_;
	open(my $fh, '<', $file) or die "open $file: $!";
	binmode $fh;
	seek($fh, $off, 0) or die;
	my $buf;
	read($fh, $buf, 4) == 4 or die;
	close $fh;
	return unpack('L', $buf);
}

1;
