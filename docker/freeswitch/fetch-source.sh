#!/bin/sh
# fetch-source.sh URL [SHA256]
#
# Downloads a source tarball and unpacks it into the current directory,
# without its top folder (GitHub names it after the tag or commit). With a
# SHA256 the download must match it; leave it empty to take what the URL
# serves, then pin it: the build prints the sum it got.
set -eu

url=$1
sum=${2:-}
tarball=$(mktemp)

curl -fsSL --retry 3 -o "$tarball" "$url"
got=$(sha256sum "$tarball" | cut -d' ' -f1)
echo "fetch-source: $url sha256 $got"
if [ -n "$sum" ] && [ "$sum" != "$got" ]; then
	echo "fetch-source: $url: expected sha256 $sum" >&2
	exit 1
fi
tar -xzf "$tarball" --strip-components=1
rm -f "$tarball"
