#!/usr/bin/env bash
# Starts or stops a real OCI registry (Debian's docker-registry, Distribution
# v2) with htpasswd basic auth for the registry integration test.
#
#   .ci/registry.sh start    idempotent: fine when it already runs
#   .ci/registry.sh stop     kills the one this script started
#   .ci/registry.sh status
#
# Address and test-only credentials: .ci/registry/credentials.env (the
# environment may override them). State: $MODEL_RELEASE_REGISTRY_STATE
# (default ${TMPDIR:-/tmp}/model-release-registry).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# Environment beats the file, so a run can pick another port.
env_addr="${MODEL_RELEASE_TEST_REGISTRY:-}"
env_user="${MODEL_RELEASE_TEST_REGISTRY_USER:-}"
env_pass="${MODEL_RELEASE_TEST_REGISTRY_PASSWORD:-}"
# shellcheck source=registry/credentials.env
. "$here/registry/credentials.env"
addr="${env_addr:-$MODEL_RELEASE_TEST_REGISTRY}"
user="${env_user:-$MODEL_RELEASE_TEST_REGISTRY_USER}"
pass="${env_pass:-$MODEL_RELEASE_TEST_REGISTRY_PASSWORD}"
host="${addr%:*}"
port="${addr##*:}"
state="${MODEL_RELEASE_REGISTRY_STATE:-${TMPDIR:-/tmp}/model-release-registry}"

# probe succeeds when a registry demanding auth answers on addr (HTTP 401
# on /v2/). Plain bash, so a clean machine needs no curl.
probe() {
  (
    exec 3<>"/dev/tcp/$host/$port" || exit 1
    printf 'GET /v2/ HTTP/1.0\r\nHost: %s\r\n\r\n' "$addr" >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ "$line" == *" 401"* ]]
  ) 2>/dev/null
}

port_busy() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

start() {
  if probe; then
    echo "registry: already running on $addr"
    return 0
  fi
  if port_busy; then
    echo "registry: $addr is taken by something that is not a registry with auth; set MODEL_RELEASE_TEST_REGISTRY to another host:port" >&2
    return 1
  fi
  command -v docker-registry >/dev/null || { echo "registry: docker-registry is not installed (apt-get install docker-registry)" >&2; return 1; }
  command -v htpasswd >/dev/null || { echo "registry: htpasswd is not installed (apt-get install apache2-utils)" >&2; return 1; }
  mkdir -p "$state/storage"
  htpasswd -Bbn "$user" "$pass" >"$state/htpasswd"
  REGISTRY_HTTP_ADDR="$addr" \
  REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$state/storage" \
  REGISTRY_AUTH_HTPASSWD_PATH="$state/htpasswd" \
    nohup docker-registry serve "$here/registry/config.yml" >"$state/log" 2>&1 </dev/null &
  echo $! >"$state/pid"
  for _ in $(seq 1 100); do
    if probe; then
      echo "registry: running on $addr (pid $(cat "$state/pid"), log $state/log)"
      return 0
    fi
    if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "registry: did not answer on $addr; log:" >&2
  tail -n 20 "$state/log" >&2 || true
  stop
  return 1
}

stop() {
  if [ -f "$state/pid" ]; then
    pid="$(cat "$state/pid")"
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
    rm -f "$state/pid"
    echo "registry: stopped"
  fi
  rm -rf "$state/storage"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if probe; then echo "registry: running on $addr"; else echo "registry: not running on $addr"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
