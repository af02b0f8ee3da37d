#!/usr/bin/env bash
# The chat room as a fleet: redis-server, two chat processes sharing the
# room through it, and HAProxy in front (round robin).
#
#   examples/chat/start.sh start    start redis, app1, app2 and haproxy
#   examples/chat/start.sh stop     stop everything
#
# then open http://127.0.0.1:8080/?transport=ws in two browsers (or ws, poll
# and sse side by side): the page says which process each one is on.
#
# Environment (defaults in brackets): CHAT_BIND [127.0.0.1:8080],
# APP1_PORT [9001], APP2_PORT [9002], CHAT_RUN (pid, log and socket files)
# [/tmp/httpkit-chat], DENO [deno], HAPROXY [haproxy], REDIS [redis-server].
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
RUN=${CHAT_RUN:-/tmp/httpkit-chat}
DENO=${DENO:-deno}
HAPROXY=${HAPROXY:-haproxy}
REDIS=${REDIS:-redis-server}
export CHAT_BIND=${CHAT_BIND:-127.0.0.1:8080}
PORTS=("${APP1_PORT:-9001}" "${APP2_PORT:-9002}")
export APP1=127.0.0.1:${PORTS[0]}
export APP2=127.0.0.1:${PORTS[1]}
SOCK=$RUN/redis.sock

wait_http() { # url name
  local i
  for ((i = 0; i < 200; i++)); do
    curl -sf "$1" >/dev/null && return 0
    sleep 0.1
  done
  echo "$2 did not start; see $RUN/$2.log" >&2
  return 1
}

stop_pid() { # pid-file
  local pid i
  [[ -f "$1" ]] || return 0
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

case "${1:-start}" in
start)
  mkdir -p "$RUN"
  "$REDIS" --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --save "" \
    --appendonly no --dir "$RUN" >>"$RUN/redis.log" 2>&1 &
  echo $! >"$RUN/redis.pid"
  for ((i = 0; i < 100; i++)); do [[ -S "$SOCK" ]] && break; sleep 0.1; done
  for i in 0 1; do
    name=app$((i + 1))
    "$DENO" run -A "$HERE/server.ts" "${PORTS[$i]}" --name="$name" \
      --redis="$SOCK" >>"$RUN/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
    wait_http "http://127.0.0.1:${PORTS[$i]}/health" "$name"
  done
  "$HAPROXY" -db -f "$HERE/haproxy.cfg" >>"$RUN/haproxy.log" 2>&1 &
  echo $! >"$RUN/haproxy.pid"
  wait_http "http://$CHAT_BIND/health" haproxy
  echo "chat up: http://$CHAT_BIND/?transport=ws (or poll, or sse)"
  ;;
stop)
  stop_pid "$RUN/haproxy.pid"
  stop_pid "$RUN/app1.pid"
  stop_pid "$RUN/app2.pid"
  stop_pid "$RUN/redis.pid"
  echo "chat stopped"
  ;;
*)
  echo "usage: $0 [start|stop]" >&2
  exit 2
  ;;
esac
