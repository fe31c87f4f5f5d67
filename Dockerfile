# syntax=docker/dockerfile:1
# The herd image: one binary for the load engine, the coordinator, the target server and
# the Kubernetes operator (`herd operator`). Placeholder name: ghcr.io/herd-dev/herd.
#   docker build -t ghcr.io/herd-dev/herd:dev .

# --- build: the release preset (-O2, LTO), binary at build/bin/herd ----------------------
FROM debian:bookworm AS build
WORKDIR /src
# Dependencies first, so this layer is reused until install-deps.sh changes.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake --preset release \
 && cmake --build --preset release --target herd \
 && strip build/bin/herd \
 && build/bin/herd help >/dev/null

# --- runtime: the shared libraries herd links and nothing else -----------------------------
# QuickJS and llhttp are linked statically (cmake/QuickJS.cmake, src/http); nlohmann-json is header-only.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libssl3 libyaml-cpp0.7 libarchive13 libboost-context1.74.0 \
      libgrpc++1.51 libprotobuf32 libprotoc32 libc-ares2 libsnappy1v5 libgumbo1 libbrotli1 libzstd1 libcpp-httplib0.11 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 herd \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/herd --create-home \
      --shell /usr/sbin/nologin herd
COPY --from=build /src/build/bin/herd /usr/local/bin/herd
USER 65532:65532
WORKDIR /home/herd
# 6565: a runner's control API (herd run --address); 8080/8081: the operator's metrics/health.
EXPOSE 6565 8080 8081
ENTRYPOINT ["herd"]
CMD ["help"]
