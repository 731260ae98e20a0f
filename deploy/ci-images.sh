#!/usr/bin/env bash
# Build the images the container tests need, with podman, on a machine that reaches no registry:
# a debian:bookworm-slim base from Debian's packages (debootstrap), stand-ins for the official
# postgres and nginx images, then our own image from the Dockerfile. See ../shared/CONTAINERS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! podman image exists docker.io/library/debian:bookworm-slim; then
  rootfs=$(mktemp -d)
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
  tar -C "$rootfs" -c . | podman import - docker.io/library/debian:bookworm-slim >/dev/null
  rm -rf "$rootfs"
fi
podman image exists docker.io/library/postgres:15-bookworm \
  || podman build -q -t docker.io/library/postgres:15-bookworm deploy/postgres >/dev/null
podman image exists docker.io/library/nginx:1.25-bookworm \
  || podman build -q -t docker.io/library/nginx:1.25-bookworm deploy/nginx >/dev/null
# Our image, always rebuilt: the layer cache keeps the dependency layers when only code changed.
podman build -q --network host \
  -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg PIP_CERT=/run/host-ca.crt \
  -t sputnik-office:ci . >/dev/null
echo "images ready"
