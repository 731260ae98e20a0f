#!/bin/sh
set -eu
for t in /etc/nginx/templates/*.template; do
  [ -e "$t" ] || continue
  out="/etc/nginx/conf.d/$(basename "$t" .template)"
  # Only our variables: nginx's own $host, $remote_addr ... stay as they are.
  envsubst '${NGINX_HTTP_PORT} ${NGINX_HTTPS_PORT} ${OFFICE_UPSTREAM}' < "$t" > "$out"
done
exec "$@"
