#!/usr/bin/env bash
# Build xrayd binaries, the .deb/.rpm packages, the .zip archives and the image build context.
#
#   packaging/package.sh binaries   dist/<os>-<arch>/xray[.exe] for every PLATFORMS entry
#   packaging/package.sh packages   binaries + dist/xrayd_<v>_<arch>.deb, .rpm, dist/xrayd-<os>-<arch>-<v>.zip
#   packaging/package.sh context    binaries (linux only) + cfg.yaml + CA bundle in dist/: the image context
#
# Environment: VERSION (default: git describe, else 0.0.0-dev), DIST (default: dist),
# PLATFORMS (default below), LINUX_ARCHES (default "amd64 arm64"), NFPM (default: nfpm on PATH
# or in $(go env GOPATH)/bin), CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

VERSION=${VERSION:-$(git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//' || true)}
VERSION=${VERSION:-0.0.0-dev}
DIST=${DIST:-dist}
LINUX_ARCHES=${LINUX_ARCHES:-amd64 arm64}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)

log() { printf '==> %s\n' "$*" >&2; }

build() { # os arch
  local os=$1 arch=$2 exe=xray
  [ "$os" = windows ] && exe=xray.exe
  log "go build $os/$arch -> $DIST/$os-$arch/$exe (version $VERSION)"
  mkdir -p "$DIST/$os-$arch"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$VERSION" \
    -o "$DIST/$os-$arch/$exe" ./cmd/xray
}

binaries() {
  local p
  for p in $PLATFORMS; do build "${p%/*}" "${p#*/}"; done
}

linux_binaries() {
  local a
  for a in $LINUX_ARCHES; do build linux "$a"; done
}

find_nfpm() {
  if [ -n "${NFPM:-}" ]; then echo "$NFPM"; return; fi
  if command -v nfpm >/dev/null 2>&1; then command -v nfpm; return; fi
  local gobin; gobin=$(go env GOPATH)/bin/nfpm
  if [ -x "$gobin" ]; then echo "$gobin"; return; fi
  echo "nfpm not found: go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2" >&2
  return 1
}

# stage DIR ARCH: the layout packaging/nfpm.yaml expects (relative src paths).
stage() {
  local dir=$1 arch=$2
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$DIST/linux-$arch/xray" "$dir/xray"
  cp "$here/cfg.yaml" "$dir/cfg.yaml"
  cp -r "$here/systemd" "$here/scripts" "$dir/"
}

linux_packages() {
  local nfpm arch st
  nfpm=$(find_nfpm)
  for arch in $LINUX_ARCHES; do
    st="$DIST/.stage-$arch"
    stage "$st" "$arch"
    for fmt in deb rpm; do
      local out
      if [ $fmt = deb ]; then out="$DIST/xrayd_${VERSION}_${arch}.deb"; else out="$DIST/xrayd-${VERSION}.${arch}.rpm"; fi
      log "nfpm $fmt $arch -> $out"
      (cd "$st" && VERSION=$VERSION ARCH=$arch "$nfpm" package -f "$here/nfpm.yaml" -p $fmt -t "$out" >/dev/null)
    done
    rm -rf "$st"
  done
}

zips() {
  local p os arch exe z tmp
  command -v zip >/dev/null 2>&1 || { echo "zip not found: apt-get install -y zip" >&2; return 1; }
  for p in $PLATFORMS; do
    os=${p%/*}; arch=${p#*/}; exe=xray; [ "$os" = windows ] && exe=xray.exe
    z="$DIST/xrayd-$os-$arch-$VERSION.zip"
    tmp=$(mktemp -d)
    cp "$DIST/$os-$arch/$exe" "$tmp/$exe"
    cp "$here/cfg.yaml" "$tmp/cfg.yaml"
    [ -f "$root/LICENSE" ] && cp "$root/LICENSE" "$tmp/LICENSE"
    rm -f "$z"
    log "zip $z"
    (cd "$tmp" && zip -q -X "$z" ./*)
    rm -rf "$tmp"
  done
}

context() {
  cp "$here/cfg.yaml" "$DIST/cfg.yaml"
  cp "$CA_BUNDLE" "$DIST/ca-certificates.crt"
}

case "${1:-packages}" in
  binaries) binaries ;;
  linux-binaries) linux_binaries ;;
  packages) binaries; linux_packages; zips; context ;;
  debs|rpms|linux-packages) linux_binaries; linux_packages ;;
  zips) binaries; zips ;;
  context) linux_binaries; context ;;
  *) echo "usage: $0 binaries|linux-binaries|packages|linux-packages|zips|context" >&2; exit 2 ;;
esac
log "done: $DIST (version $VERSION)"
