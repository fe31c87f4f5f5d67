#!/usr/bin/env bash
# Installs every Debian package herd needs to build, test and benchmark.
# QuickJS comes from Debian 13 (trixie) through an apt pin at priority 100, so
# nothing else on the machine is upgraded. Idempotent; needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

stamp=/var/lib/herd-deps.v7
# The WebSocket tests' server (tests/integration/ws_server.py) came after the stamp: install when missing.
[ -d /usr/lib/python3/dist-packages/websockets ] || HERD_FORCE_DEPS=1
# bench/grpc.sh's baseline client (bench/grpc_peer.py) came after it too.
[ -d /usr/lib/python3/dist-packages/grpc ] || HERD_FORCE_DEPS=1
# gRPC's load() parses .proto files in process (libprotoc) and the WebSocket client resolves names
# with c-ares: both came after the stamp too.
{ [ -f /usr/include/google/protobuf/compiler/importer.h ] && [ -f /usr/include/ares.h ]; } || HERD_FORCE_DEPS=1
if [ -f "$stamp" ] && [ "${HERD_FORCE_DEPS:-0}" != 1 ]; then
  # Fast path: verify a few key files are still present.
  if [ -f /usr/lib/x86_64-linux-gnu/quickjs/libquickjs.a ] && command -v wrk >/dev/null &&
     [ -f /usr/include/curl/curl.h ] && [ -d /usr/include/boost/context ] && [ -f /usr/include/archive.h ] && [ -x /usr/bin/etcd ] && [ -f /usr/include/httplib.h ] && [ -f /usr/include/llhttp.h ] && [ -f /usr/include/gumbo.h ] && [ -f /usr/include/brotli/decode.h ] && [ -f /usr/include/zstd.h ] && [ -f /usr/include/zlib.h ] &&
     [ -x /usr/bin/protoc ] && [ -x /usr/bin/grpc_cpp_plugin ] && [ -f /usr/include/grpcpp/grpcpp.h ] && [ -f /usr/include/snappy.h ] && [ -x /usr/bin/prometheus ] && [ -x /usr/bin/influxd ] &&
     [ -f /usr/share/javascript/dygraphs/dygraph.min.js ] && [ -x /usr/bin/chromium ]; then
    exit 0
  fi
fi

if [ ! -f /etc/apt/sources.list.d/herd-trixie.sources ] && ! grep -rqs 'trixie' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  $SUDO tee /etc/apt/sources.list.d/herd-trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
$SUDO tee /etc/apt/preferences.d/herd-trixie >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git ca-certificates \
  clang clang-format clang-tidy libclang-rt-14-dev \
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libarchive-dev \
  libboost-context-dev libcpp-httplib-dev libgtest-dev libgmock-dev googletest libbenchmark-dev \
  libgumbo-dev zlib1g-dev libbrotli-dev libzstd-dev \
  wrk apache2-utils hey python3 procps util-linux bc openssl ccache \
  libjs-dygraphs chromium >/dev/null
# llhttp (the built-in HTTP/1.1 client's response parser) is packaged from Debian 13 on.
$SUDO apt-get install -y -qq --no-install-recommends -t trixie libquickjs libllhttp-dev >/dev/null
# etcd for the test cluster (tests/kube): bookworm's 3.4 is too old for Kubernetes 1.36.
# policy-rc.d keeps the package from starting a system etcd; the tests start their own.
# The same for Prometheus and InfluxDB (issue #13's output tests start their own on loopback).
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
  own_policy=1
fi
$SUDO apt-get install -y -qq --no-install-recommends -t trixie etcd-server >/dev/null
# Remote write (protobuf + snappy) and the servers the output tests write to.
$SUDO apt-get install -y -qq --no-install-recommends \
  libprotobuf-dev libprotoc-dev protobuf-compiler libgrpc++-dev libc-ares-dev protobuf-compiler-grpc libsnappy-dev prometheus influxdb >/dev/null
# A real WebSocket server for the k6/ws and k6/websockets tests.
$SUDO apt-get install -y -qq --no-install-recommends python3-websockets >/dev/null
# bench/grpc.sh's baseline gRPC client (bench/grpc_peer.py).
$SUDO apt-get install -y -qq --no-install-recommends python3-grpcio >/dev/null
if [ "$own_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
$SUDO touch "$stamp"
echo "install-deps: done"
