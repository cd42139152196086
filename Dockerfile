# durgate in a container: one node on the embedded SQLite store (or a shared PostgreSQL).
#
# Build:  docker build --build-arg COMMIT=$(git rev-parse --short HEAD) -t durgate .
# Run:    docker run --read-only --tmpfs /tmp -p 7070:7070 -p 7071:7071 \
#           -v durgate-data:/var/lib/durgate \
#           -v /srv/durgate/rules:/etc/durgate/rules:ro durgate
#
# The image runs as the unprivileged user `durgate` (uid 10001). Its only writable place is
# the /var/lib/durgate volume (the SQLite store); the rule tables are a read-only volume
# (the image carries the sample tables there; mount your own over them, and reload with
# `docker kill -s HUP` or POST /admin/reload). Readiness: GET /readyz on port 7071.
# For a shared PostgreSQL store, pass `--store postgres://...` after the image name.

FROM rust:1.89-bookworm AS build
ARG COMMIT=unknown
ENV DURGATE_BUILD_COMMIT=${COMMIT}
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
COPY config ./config
RUN cargo build --release --locked --bin durgate

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/durgate --create-home durgate
COPY --from=build /src/target/release/durgate /usr/local/bin/durgate
COPY config/rules/sample /etc/durgate/rules
USER 10001:10001
WORKDIR /var/lib/durgate
VOLUME ["/var/lib/durgate"]
EXPOSE 7070 7071
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/durgate"]
CMD ["serve", "--listen", "0.0.0.0:7070", "--admin", "0.0.0.0:7071", "--store", "sqlite:/var/lib/durgate/claims.db", "--rules", "/etc/durgate/rules"]
