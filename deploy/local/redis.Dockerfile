# Redis 7 from Debian's packages on the base scripts/build-base-image makes, for machines
# that reach Debian's mirror but no container registry (make deploy-test builds it).
ARG BASE=jeex-base:bookworm
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
