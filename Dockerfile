# Sputnik office server (default) or door-device daemon, on Debian bookworm's Python 3.11.
#
#   docker build -t sputnik-office .
#   docker run --env-file .env -p 8080:8080 sputnik-office                      # the office
#   docker run --device /dev/video0 -v edge:/var/lib/sputnik-edge sputnik-office edge   # a door
#
# Layers are ordered so that a code change rebuilds only the last ones: the locked dependencies
# (requirements/office.lock, exact versions with hashes) install before any source is copied.

FROM debian:bookworm-slim AS build
ARG PIP_CERT=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/sputnik
COPY requirements/office.lock /tmp/office.lock
RUN if [ -n "$PIP_CERT" ]; then export PIP_CERT; else unset PIP_CERT; fi \
 && /opt/sputnik/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/office.lock
COPY pyproject.toml README.md /src/
COPY models /src/models
COPY sputnik_edge /src/sputnik_edge
# The build backend is in the lock too, so nothing unpinned is fetched for our own package.
RUN /opt/sputnik/bin/pip install --no-cache-dir --no-deps --no-build-isolation /src

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/sputnik --create-home sputnik \
 && mkdir -p /var/lib/sputnik-edge && chown sputnik:sputnik /var/lib/sputnik-edge && chmod 0700 /var/lib/sputnik-edge
COPY --from=build /opt/sputnik /opt/sputnik
COPY deploy/docker-entrypoint.sh /usr/local/bin/sputnik-entrypoint
ENV PATH=/opt/sputnik/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8080
USER sputnik
WORKDIR /var/lib/sputnik
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4)"]
ENTRYPOINT ["sputnik-entrypoint"]
CMD ["office"]
