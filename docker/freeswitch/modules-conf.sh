#!/bin/sh
# modules-conf.sh MODULES_CONF_XML SRC_MOD_DIR
#
# Prints the build-time modules.conf of FreeSWITCH (one "category/mod_name"
# per line) for exactly the modules that MODULES_CONF_XML loads at run time,
# so that freeswitch-conf/autoload_configs/modules.conf.xml stays the one
# list of modules a Switchyard node has. <load module="..."/> lines inside
# XML comments (the optional codecs) are not built. SRC_MOD_DIR is the
# source tree's src/mod, where each module lives in a category folder
# (endpoints/mod_sofia, asr_tts/mod_flite, ...).
#
# Fails when the file loads nothing or names a module the source lacks.
set -eu

xml=$1
src=$2

# perl is part of every Debian system (perl-base is essential); it strips
# the comments, which may span lines, before the load lines are read.
mods=$(perl -0777 -ne 's/<!--.*?-->//gs; print "$1\n" while /<load\s+module="(mod_[A-Za-z0-9_]+)"/g' "$xml")
if [ -z "$mods" ]; then
	echo "modules-conf: $xml loads no module" >&2
	exit 1
fi

for mod in $mods; do
	dir=$(cd "$src" && for d in */"$mod"; do if [ -d "$d" ]; then echo "$d"; fi; done)
	if [ -z "$dir" ]; then
		echo "modules-conf: $mod is not in $src/*/" >&2
		exit 1
	fi
	echo "$dir"
done
