# churnwatch worker image. Not built on the development machine (no Docker engine there).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY agents ./agents
COPY rules ./rules
RUN pip install '.[rocksdb]' && useradd --create-home --uid 10001 churnwatch && mkdir -p /data && chown churnwatch /data
USER churnwatch
ENV CHURNWATCH_DATA_DIR=/data CHURNWATCH_WEB_PORT=6066
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:6066/healthz', timeout=2).status == 200 else 1)"
WORKDIR /data
ENTRYPOINT ["churnwatch"]
CMD ["worker", "-l", "info"]
