#!/usr/bin/env bash
# Builds logfan-test/busybox: Debian's busybox-static in an otherwise empty image, made with
# `docker import` because no image registry is reachable from these machines.
set -euo pipefail
IMAGE=${1:-logfan-test/busybox:latest}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then exit 0; fi
BUSYBOX=$(command -v busybox || true)
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
if [ -z "$BUSYBOX" ] || ! "$BUSYBOX" --list >/dev/null 2>&1; then
  echo "make-test-image: busybox not found (apt-get install busybox-static)" >&2
  exit 1
fi
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "make-test-image: $BUSYBOX is dynamically linked; install busybox-static" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/tmp" "$dir/data"
cp "$BUSYBOX" "$dir/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
tar -C "$dir" -c . | docker import -c 'ENV PATH=/bin' - "$IMAGE" >/dev/null
echo "make-test-image: built $IMAGE"
