#!/bin/sh
# The image's entrypoint: checks the settings FreeSWITCH cannot run safely
# without, then runs the command (by default FreeSWITCH in the foreground).
set -eu

if [ "${1:-}" = freeswitch ]; then
	# switchyard_vars.xml reads the event socket password from here. Unset,
	# mod_event_socket would fall back to its well-known default, ClueCon.
	case "${SWITCHYARD_ESL_PASSWORD:-}" in
	'' | ClueCon | CHANGE_ME)
		echo "switchyard-freeswitch: set SWITCHYARD_ESL_PASSWORD to a long random secret (hex: it goes into XML)." >&2
		echo "switchyard-freeswitch: Switchyard's SWITCHYARD_FS_PASSWORD must hold the same value." >&2
		exit 64
		;;
	esac
	# switchyard_vars.xml takes these from the environment when they are
	# set: an empty one would empty its setting, so it keeps its default.
	for var in SWITCHYARD_ESL_IP SWITCHYARD_ESL_PORT SWITCHYARD_ESL_CIDR SWITCHYARD_SOCKETS \
		SWITCHYARD_MANAGED_NUMBERS SWITCHYARD_UNAVAILABLE_PROMPT EXTERNAL_RTP_IP EXTERNAL_SIP_IP; do
		eval "[ -n \"\${$var:-}\" ] || unset $var"
	done
	# The vanilla directory's users must not keep the well-known 1234.
	if [ -z "${DEFAULT_PASSWORD:-}" ] || [ "$DEFAULT_PASSWORD" = 1234 ]; then
		DEFAULT_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
		export DEFAULT_PASSWORD
	fi
	# Recordings are written group-writable, so that Switchyard, in the
	# freeswitch group (gid 10000 by default), can archive and remove them.
	umask 0002
fi

exec "$@"
