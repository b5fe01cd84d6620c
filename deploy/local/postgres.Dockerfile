# PostgreSQL 15 from Debian's packages, on the base scripts/build-base-image makes: for
# machines that reach Debian's mirror but no container registry (make deploy-test builds it).
# It honours what deploy/compose.yaml asks of the official image: POSTGRES_DB,
# POSTGRES_PASSWORD_FILE, data in /var/lib/postgresql/data, pg_isready.
ARG BASE=jeex-base:bookworm
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
