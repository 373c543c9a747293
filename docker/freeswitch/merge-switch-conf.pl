#!/usr/bin/perl
# merge-switch-conf.pl FRAGMENT SWITCH_CONF_XML
#
# Does step 4 of freeswitch-conf/README.md's install for the image: every
# <param> of freeswitch-conf/autoload_configs/switch.conf.xml.fragment that
# is not inside a comment replaces the line of the same name in the vanilla
# switch.conf.xml, commented out or not (the vanilla file ships
# event-heartbeat-interval commented out), or is added at the top of
# <settings> when the vanilla file has no such line. The file is rewritten
# in place; what was merged is printed.
use strict;
use warnings;

my ($fragment, $target) = @ARGV;
die "usage: $0 FRAGMENT SWITCH_CONF_XML\n" unless defined $target;

sub slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or die "$path: $!\n";
	local $/;
	my $text = <$fh>;
	close($fh);
	return $text;
}

my $frag = slurp($fragment);
$frag =~ s/<!--.*?-->//gs;
my @params;
while ($frag =~ /<param\s+name="([^"]+)"\s+value="([^"]*)"\s*\/>/g) {
	push @params, [$1, $2];
}
die "$fragment: no <param> outside comments\n" unless @params;

my $conf = slurp($target);
for my $p (@params) {
	my ($name, $value) = @$p;
	my $line = qq(<param name="$name" value="$value"/>);
	# The whole line holding the parameter, with an optional comment around it.
	my $re = qr/^([ \t]*)(?:<!--\s*)?<param\s+name="\Q$name\E"\s+value="[^"]*"\s*\/>(?:\s*-->)?[ \t]*$/m;
	if ($conf =~ $re) {
		$conf =~ s/$re/$1$line/;
	} elsif ($conf =~ /<settings>/) {
		$conf =~ s/<settings>/<settings>\n    $line/;
	} else {
		die "$target: no <settings> to add $name to\n";
	}
	print "switch.conf.xml: $line\n";
}

open(my $out, '>', $target) or die "$target: $!\n";
print $out $conf;
close($out) or die "$target: $!\n";
