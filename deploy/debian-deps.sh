#!/usr/bin/env bash
# Installs the Debian 12 packages ringgate builds, tests and benchmarks with.
# Safe to run again: apt-get install is a no-op for what is already there.
# Needs root; without it, says which packages are missing and fails.
set -euo pipefail

BUILD_PKGS=(
	build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
	liburing-dev libwolfssl-dev libprotobuf-c-dev protobuf-c-compiler
	protobuf-compiler libprotobuf-dev libjemalloc-dev libhiredis-dev libyaml-dev
)
TEST_PKGS=(
	python3 python3-pytest python3-grpcio python3-protobuf redis-server
	curl wrk nginx-light procps openssl ca-certificates
)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" != "--build-only" ]; then
	want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "ringgate: missing Debian packages (run as root to install): ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light's post-install may start a system nginx; the benchmark runs its
# own instance on its own port, so the system one is left as the package set it.
