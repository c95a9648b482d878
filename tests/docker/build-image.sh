#!/bin/bash
# Builds the local test image (there is no registry here; PID 1 is a shell that exits on SIGTERM,
# so a restart does not wait for the stop timeout): a root filesystem made of Debian's
# busybox-static, with an HTTP server on :8080 answering /cgi-bin/readyz with JSON like a current
# OpenClaw gateway, and `openclaw-bench`, a stand-in for a user's own benchmark command.
#   tests/docker/build-image.sh [IMAGE]      (default clawcron-test:1; does nothing if it exists)
set -euo pipefail
image=${1:-clawcron-test:2}
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image already built"
  exit 0
fi
if ! dpkg -s busybox-static >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
bb=/bin/busybox
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/www/cgi-bin" "$root/www/readyz" "$root/tmp" "$root/etc"
cp "$bb" "$root/bin/busybox"
for applet in sh ash httpd wget sleep kill cat echo ps yes dd head seq date true false grep pkill pgrep; do
  ln -s busybox "$root/bin/$applet"
done
cat > "$root/www/cgi-bin/readyz" <<'CGI'
#!/bin/sh
echo "Content-Type: application/json; charset=utf-8"
echo ""
echo '{"ready":true,"failing":[],"uptimeMs":1000}'
CGI
# /readyz like a current gateway: a directory without index.html makes busybox httpd run
# /cgi-bin/index.cgi for it.
cp "$root/www/cgi-bin/readyz" "$root/www/cgi-bin/index.cgi"
cat > "$root/bin/openclaw-bench" <<'BENCH'
#!/bin/sh
# Stands in for a user's own benchmark command run with docker.exec.
echo "warming up"
echo "benchmark: requests=100 p50_ms=12.5 p95_ms=31.0 throughput_rps=80.2"
BENCH
chmod 755 "$root/www/cgi-bin/readyz" "$root/www/cgi-bin/index.cgi" "$root/bin/openclaw-bench"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
tar -C "$root" -c . | docker import --change 'CMD ["/bin/sh","-c","trap \"exit 0\" TERM; httpd -f -p 8080 -h /www & wait"]' - "$image" >/dev/null
echo "built $image"
