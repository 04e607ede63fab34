# Quire: one image for `quire serve`, `quire worker` and `quire db init`.
#   docker build -t quire .
#   docker run -e QUIRE_DATABASE_URL=postgresql://... quire            # serve
#   docker run -e QUIRE_DATABASE_URL=postgresql://... quire worker
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY workspace ./workspace
COPY projections ./projections
COPY release ./release
COPY api ./api
RUN python -m venv /opt/quire \
    && /opt/quire/bin/pip install --upgrade pip \
    && /opt/quire/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/quire/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QUIRE_SIGNING_KEY_PATH=/var/lib/quire/signing-key.pem
# A non-root user owns only its data directory (the signing key lives there).
RUN groupadd --system --gid 10001 quire \
    && useradd --system --uid 10001 --gid quire --home-dir /var/lib/quire \
       --shell /usr/sbin/nologin quire \
    && mkdir -p /var/lib/quire && chown quire:quire /var/lib/quire && chmod 700 /var/lib/quire
COPY --from=build /opt/quire /opt/quire
USER 10001:10001
WORKDIR /var/lib/quire
EXPOSE 8000
# Liveness of `quire serve` (the worker and `db init` override or disable it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["quire"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
