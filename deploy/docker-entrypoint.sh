#!/bin/sh
# Container entry point: `office` (default) migrates the database, then serves; `edge` runs the
# door-device daemon; anything else runs as a command (e.g. `sputnik-office users add ...`).
set -eu
case "${1:-office}" in
  office)
    shift || true
    # Migrations run on every start: idempotent, and an upgrade is just a new image. The database
    # may still be starting (an engine without health-gated depends_on): retry for a minute.
    tries=0
    until sputnik-office db upgrade; do
      tries=$((tries + 1))
      [ "$tries" -lt 30 ] || exit 1
      sleep 2
    done
    exec sputnik-office serve "$@"
    ;;
  edge)
    shift
    exec sputnik-edge run "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
