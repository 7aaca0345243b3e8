# The relicense image of the README's Kubernetes example:
#   docker build -t registry.example/relicense:latest .
#   docker run --rm -e MERAKI_DASHBOARD_API_KEY -v "$PWD:/data" registry.example/relicense:latest plan /data/moves.csv
# Build stage: Debian 12 with the packages dev.sh installs (tests and benchmarks are not built).
FROM debian:12 AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build libboost1.81-dev libssl-dev libsimdjson-dev \
      libgtest-dev libcli11-dev openssl ca-certificates help2man \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DRELICENSE_BUILD_TESTS=OFF -DRELICENSE_BUILD_BENCH=OFF \
 && cmake --build /build \
 && cmake --install /build --prefix /usr/local --strip

# Runtime stage: the shared libraries the binary links (libc, libstdc++ and libgcc are in the
# base image), the CA store TLS verification uses, and an unprivileged user.
FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libssl3 libsimdjson14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --no-create-home relicense
COPY --from=build /usr/local/bin/relicense /usr/local/bin/relicense
USER 10001:10001
WORKDIR /data
ENTRYPOINT ["relicense"]
CMD ["--help"]
