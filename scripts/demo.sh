#!/usr/bin/env bash
# Shows a container's logs flowing through logfan: runs a busybox container with
# --log-driver=logfan and prints the json-file logfan wrote for it.
set -euo pipefail
cd "$(dirname "$0")/.."
DRIVER=${LOGFAN_DRIVER:-logfan}
DATA_ROOT=${LOGFAN_DATA_ROOT:-/var/lib/logfan}
bash scripts/make-test-image.sh >/dev/null
id=$(docker run -d --network none --log-driver "$DRIVER" --log-opt tag='{{.Name}}' logfan-test/busybox \
  sh -c 'echo "hello from $(hostname)"; printf "tab\there <html> & \"quotes\"\n"; echo oops >&2')
docker wait "$id" >/dev/null
file="$DATA_ROOT/containers/$id/$id-json.log"
for _ in $(seq 1 50); do [ -s "$file" ] && [ "$(wc -l < "$file")" -ge 3 ] && break; sleep 0.1; done
echo "container $id logged through $DRIVER into $file:"
cat "$file"
echo
echo "docker logs $id (served by logfan):"
docker logs "$id"
docker rm "$id" >/dev/null
