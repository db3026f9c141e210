#!/bin/sh
# Same contract as the official image's entrypoint: arguments that start with "-" are haproxy's,
# and a plain `haproxy …` runs in master-worker mode (-W) in the foreground (-db), so that
# SIGUSR2 to PID 1 reloads the configuration without dropping the listening sockets.
set -e
case "$1" in
  -*) set -- haproxy "$@" ;;
esac
if [ "$1" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
