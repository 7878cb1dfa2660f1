#!/bin/sh
# Installs, from Debian's packages, what the engine tests and benchmarks
# drive: podman, conmon (uidmap and slirp4netns for rootless podman),
# containerd, runc, docker.io (dockerd: TestDocker starts its own; the
# package starts none where policy-rc.d says no, as on these machines),
# busybox-static, clang with wasi-libc for the C guests, rustc with its
# wasm32 standard library for the Rust guest; for the
# network tests and benchmark, iproute2 (ip netns, veth pairs), the CNI
# plugins (podman's and the CRI pod's bridge), iptables (their port
# mappings), curl, and wrk (the HTTP load generator of `make bench`); and
# libseccomp-dev with pkg-config, which runw's own build needs (the
# Makefile's deps-build installs them first); libsqlite3-dev, which the
# CRI-O that integration/crio.sh builds links. Only missing packages are
# installed; it needs root and apt-get and does nothing otherwise.
set -e
pkgs="podman conmon catatonit containerd runc docker.io busybox-static clang lld wasi-libc libclang-rt-14-dev-wasm32 rustc libstd-rust-dev-wasm32 uidmap slirp4netns libseccomp-dev pkg-config libsqlite3-dev iproute2 containernetworking-plugins iptables curl wrk"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	echo "deps: missing$missing; not root or no apt-get, the tests that need them will skip"
	exit 0
fi
echo "deps: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
