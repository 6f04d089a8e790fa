# churnwatch worker image. Not built on the development machine (no Docker engine there); linted by
# hadolint and checked by tests/deploy/test_compose_and_dockerfile.py (non-root, pinned base, healthcheck).
# The base is pinned to Python's minor version and Debian's release (a digest cannot be resolved here).
FROM python:3.11-slim-trixie
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY agents ./agents
COPY rules ./rules
# DL3013 (pin pip versions): this installs the project itself; its dependencies are bounded in pyproject.toml
# hadolint ignore=DL3013
RUN pip install '.[rocksdb]' && useradd --create-home --uid 10001 churnwatch && mkdir -p /data && chown 10001 /data
USER 10001
ENV CHURNWATCH_DATA_DIR=/data CHURNWATCH_WEB_PORT=6066
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=3s CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('CHURNWATCH_WEB_PORT', '6066'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status == 200 else 1)"]
WORKDIR /data
ENTRYPOINT ["churnwatch"]
CMD ["worker", "-l", "info"]
