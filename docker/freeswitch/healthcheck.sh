#!/bin/sh
# The image's HEALTHCHECK: healthy when the event socket answers
# "fs_cli -x status" with UP. It connects where switchyard_vars.xml makes
# the socket listen (SWITCHYARD_ESL_IP/PORT); the switchyard_esl ACL always
# admits loopback.
host=${SWITCHYARD_ESL_IP:-127.0.0.1}
case $host in
'' | 0.0.0.0) host=127.0.0.1 ;;
esac
status=$(fs_cli -H "$host" -P "${SWITCHYARD_ESL_PORT:-8021}" -p "${SWITCHYARD_ESL_PASSWORD:-}" \
	-T 2000 -t 3000 -x status) || exit 1
if printf '%s\n' "$status" | grep -q '^UP'; then
	exit 0
fi
printf '%s\n' "$status" | head -n 3
exit 1
