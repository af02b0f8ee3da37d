#!/usr/bin/env bash
# Runs two httpkit processes behind HAProxy on this machine, and restarts
# them one at a time without losing a request. See README.md.
#
#   examples/fleet/start.sh start    start app1, app2 and haproxy (background)
#   examples/fleet/start.sh roll     rolling restart: app1, then app2
#   examples/fleet/start.sh status   server states as HAProxy sees them
#   examples/fleet/start.sh stop     stop everything (apps drain first)
#
# Environment (defaults in brackets): FLEET_BIND [127.0.0.1:8080],
# FLEET_STATS [127.0.0.1:8404], APP1_PORT [9001], APP2_PORT [9002],
# FLEET_RUN (pid and log files) [/tmp/httpkit-fleet], DENO [deno],
# HAPROXY [haproxy].
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
RUN=${FLEET_RUN:-/tmp/httpkit-fleet}
DENO=${DENO:-deno}
HAPROXY=${HAPROXY:-haproxy}
export FLEET_BIND=${FLEET_BIND:-127.0.0.1:8080}
export FLEET_STATS=${FLEET_STATS:-127.0.0.1:8404}
PORTS=("${APP1_PORT:-9001}" "${APP2_PORT:-9002}")
export APP1=127.0.0.1:${PORTS[0]}
export APP2=127.0.0.1:${PORTS[1]}

# HAProxy's view of one server: UP, DOWN, "UP 1/2" (going down)...
# (field 18 of the stats CSV is the status).
state() {
  curl -s "http://$FLEET_STATS/stats;csv" |
    awk -F, -v s="$1" '$1 == "app" && $2 == s { print $18 }'
}

wait_for() { # name wanted-state seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    [[ "$(state "$1")" == "$2" ]] && return 0
    sleep 0.1
  done
  echo "$1 is not $2 after $3 s (it is $(state "$1"))" >&2
  return 1
}

start_app() { # index
  local name=app$(($1 + 1)) port=${PORTS[$1]} i
  "$DENO" run --allow-net "$HERE/server.ts" "$port" "$name" \
    >>"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  # Listening? The app wants a PROXY header even here: curl sends one.
  for ((i = 0; i < 200; i++)); do
    curl -sf --haproxy-protocol "http://127.0.0.1:$port/health" >/dev/null &&
      return 0
    sleep 0.1
  done
  echo "$name did not start; see $RUN/$name.log" >&2
  return 1
}

stop_pid() { # pid-file seconds
  local pid i
  [[ -f "$1" ]] || return 0
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

case "${1:-start}" in
start)
  mkdir -p "$RUN"
  start_app 0
  start_app 1
  "$HAPROXY" -db -f "$HERE/haproxy.cfg" >>"$RUN/haproxy.log" 2>&1 &
  echo $! >"$RUN/haproxy.pid"
  wait_for app1 UP 20
  wait_for app2 UP 20
  echo "fleet up: http://$FLEET_BIND/ (stats http://$FLEET_STATS/stats)"
  ;;
roll)
  for i in 0 1; do
    name=app$((i + 1))
    # Graceful stop: the app closes its listener (HAProxy retries the
    # refused connects on the other app), drains requests in flight and
    # closes idle keep-alive connections, then exits.
    stop_pid "$RUN/$name.pid" 15
    start_app "$i"
    # Give HAProxy's health check time to see it UP before stopping the
    # next one, so one app is always in rotation.
    wait_for "$name" UP 20
    echo "$name restarted (pid $(cat "$RUN/$name.pid"))"
  done
  ;;
status)
  echo "app1: $(state app1)"
  echo "app2: $(state app2)"
  ;;
stop)
  stop_pid "$RUN/haproxy.pid" 5
  stop_pid "$RUN/app1.pid" 15
  stop_pid "$RUN/app2.pid" 15
  echo "fleet stopped"
  ;;
*)
  echo "usage: $0 [start|roll|status|stop]" >&2
  exit 2
  ;;
esac
