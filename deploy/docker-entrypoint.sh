#!/bin/sh
# Container entry point: `office` (default) migrates the database, then serves; `edge` runs the
# door-device daemon; anything else runs as a command (e.g. `sputnik-office users add ...`).
set -eu
case "${1:-office}" in
  office)
    shift || true
    # Migrations run on every start: idempotent, and an upgrade is just a new image.
    sputnik-office db upgrade
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
