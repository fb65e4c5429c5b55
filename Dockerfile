# aiusage: a slim, non-root image running `aiusage serve`. Build: docker build -t aiusage .
ARG PYTHON_VERSION=3.11

# Build stage: install the package and its dependencies into a virtualenv.
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/aiusage
ENV PATH=/opt/aiusage/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md manifest.yml ./
COPY bot ./bot
COPY storage ./storage
COPY jobs ./jobs
RUN pip install .

# Run stage: the virtualenv only, no compilers or sources, as an unprivileged user.
FROM python:${PYTHON_VERSION}-slim
RUN useradd --system --uid 10001 --create-home --home-dir /home/aiusage aiusage \
    && mkdir /data && chown aiusage /data
COPY --from=build /opt/aiusage /opt/aiusage
ENV PATH=/opt/aiusage/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AIUSAGE_HOST=0.0.0.0 \
    AIUSAGE_PORT=3000 \
    AIUSAGE_DATABASE_URL=sqlite:////data/aiusage.db \
    AIUSAGE_LOG_FORMAT=json
WORKDIR /data
USER aiusage
EXPOSE 3000
# Ready means: the database answers, migrations are current, and not draining.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('AIUSAGE_PORT', '3000'), timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["aiusage"]
CMD ["serve"]
