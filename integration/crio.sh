#!/bin/sh
# Builds what TestCRIO drives and Debian 12 does not package: CRI-O's crio
# and pinns, and crictl, from their sources as the Go module proxy serves
# them (docs/crio.md), into build/crio/bin. Nothing is built when the
# three are already there. A build that fails says why and exits 0: the
# test then skips, saying so, and the rest of `make test` runs.
#
# Usage: sh integration/crio.sh   (TestCRIO looks in build/crio/bin)
set -u
CRIO_VERSION=v1.36.3
CRICTL_VERSION=v1.37.0
# CRI-O's tags for a build without gpgme, btrfs and devicemapper headers,
# linking Debian's SQLite (libsqlite3-dev, from deps.sh) instead of
# compiling the copy its SQLite driver carries.
CRIO_TAGS="containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper seccomp libsqlite3"

out=$(cd "$(dirname "$0")/.." && pwd)/build/crio
bin=$out/bin
if [ -x "$bin/crio" ] && [ -x "$bin/pinns" ] && [ -x "$bin/crictl" ]; then
	exit 0
fi
log=$out/build.log
skip() {
	echo "crio: not built ($*); TestCRIO will skip"
	[ -s "$log" ] && tail -n 5 "$log" | sed 's/^/crio:   /'
	exit 0
}
for tool in go gcc make pkg-config; do
	command -v "$tool" >/dev/null || skip "no $tool"
done
pkg-config --exists sqlite3 libseccomp || skip "no libsqlite3-dev or libseccomp-dev"

mkdir -p "$bin" || skip "cannot make $bin"
: >"$log"
echo "crio: building CRI-O $CRIO_VERSION (crio, pinns) and crictl $CRICTL_VERSION into $bin (a few minutes, once; log: $log)"
# The module cache's copy is read-only, and pinns builds in its tree.
dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/cri-o/cri-o@$CRIO_VERSION" 2>>"$log" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || skip "the module proxy did not give github.com/cri-o/cri-o@$CRIO_VERSION"
# Outside the repository: gofmt in `make lint` walks every directory
# there, a failed build's included.
tmp=$(mktemp -d) || skip "no temporary directory"
trap 'rm -rf "$tmp"' EXIT
src=$tmp/cri-o
cp -r "$dir" "$src" && chmod -R u+w "$src" || skip "cannot copy the source to $src"
(cd "$src" && go build -mod=mod -trimpath -tags "$CRIO_TAGS" -o "$bin/crio.new" ./cmd/crio) >>"$log" 2>&1 ||
	skip "go build of crio failed"
make -s -C "$src/pinns" >>"$log" 2>&1 || skip "make of pinns failed"
cp "$src/bin/pinns" "$bin/pinns.new" || skip "no pinns after its make"
GOBIN="$tmp/gobin" GOFLAGS=-mod=mod go install "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" >>"$log" 2>&1 ||
	skip "go install of crictl failed"
# Put in place last, so that a build cut short never leaves a set the
# first check above would take for whole.
mv "$tmp/gobin/crictl" "$bin/crictl" && mv "$bin/pinns.new" "$bin/pinns" && mv "$bin/crio.new" "$bin/crio" ||
	skip "cannot put the binaries in $bin"
echo "crio: built $bin/crio, $bin/pinns and $bin/crictl"
