#!/usr/bin/env bash
# Bridged calls through the real gateway: ivrload registers CALLS agents
# (digest auth, accounts written by "ivrload agents") and places CALLS
# calls; each caller presses 0 two seconds in and is bridged to one agent
# for the rest of the call, both sides sending 50 PCMU packets a second.
# Agents, claims and queues live in a real redis-server, as in production.
# Runs alternate between one port per leg and shared sockets (-rtp-shared).
#
#   contrib/load/bridged-calls.sh [CALLS] [DURATION] [RUNS] [SHARED]
#
# defaults: 500 calls, 20s each, 3 runs per mode, 2 shared sockets. The
# figure to read is the gateway's CPU per call-second in the steady window
# (every call bridged, none ended yet), set beside rtpengine's per
# session-second from contrib/load/rtpengine-relay.sh. Only loopback:
# ports 26061 (SIP), 26081 (HTTP), 26391 (Redis), 40000-46000 (RTP).
# Each run holds /tmp/ivr-load.lock, as every load script here does.
# LOGDIR=dir keeps each run's gateway log there (warnings and errors).
set -euo pipefail
calls=${1:-500} duration=${2:-20s} runs=${3:-3} shared=${4:-2}
case $calls$runs$shared in *[!0-9]*) echo "usage: $0 [CALLS] [DURATION] [RUNS] [SHARED]" >&2; exit 2 ;; esac
((calls >= 1 && calls <= 1500)) || { echo "CALLS: 1..1500 (two RTP ports a call in 40000-46000)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 2; }
command -v flock >/dev/null || { echo "flock not found (util-linux)" >&2; exit 2; }
work=$(mktemp -d)
gw_pid=
cleanup() {
	[[ -n $gw_pid ]] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
	[[ -f $work/redis.pid ]] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/ivrgw" ./cmd/ivrgw && go build -o "$work/ivrload" ./cmd/ivrload)
"$work/ivrload" agents -n "$calls" >"$work/agents.yaml"

redis-server --port 26391 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
	--pidfile "$work/redis.pid" --dir "$work" --logfile "$work/redis.log"
for _ in $(seq 50); do redis-cli -p 26391 ping >/dev/null 2>&1 && break; sleep 0.1; done

# proc_cpu PID: utime+stime in seconds (proc(5), fields 14 and 15).
proc_cpu() { awk '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / 100}' "/proc/$1/stat"; }

run_one() { # mode-name shared-count
	local name=$1 n=$2
	redis-cli -p 26391 flushall >/dev/null
	"$work/ivrgw" -sip 127.0.0.1:26061 -http 127.0.0.1:26081 -rtp-ports 40000-46000 -rtp-shared "$n" \
		-redis redis://127.0.0.1:26391/0 -agents "$work/agents.yaml" -menu "$root/configs/menu.yaml" \
		-log-level warn -sip-limit-invite off -sip-limit-register off -sip-max-pending 0 >"$work/gw.log" 2>&1 &
	gw_pid=$!
	for _ in $(seq 50); do curl -fs 127.0.0.1:26081/healthz >/dev/null 2>&1 && break; sleep 0.1; done
	# A gateway that did not start (a port still taken) must not let the
	# load reach another process on the same ports.
	kill -0 "$gw_pid" 2>/dev/null || { echo "gateway did not start:"; cat "$work/gw.log"; exit 1; }
	local redis_pid r0 r1
	redis_pid=$(cat "$work/redis.pid")
	r0=$(proc_cpu "$redis_pid")
	"$work/ivrload" -target 127.0.0.1:26061 -agents "$calls" -calls "$calls" -ramp 200 -duration "$duration" \
		-key 0 -key-after 2s -pid "$gw_pid" >"$work/out" 2>&1 || true
	r1=$(proc_cpu "$redis_pid")
	cat "$work/out"
	kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true; gw_pid=
	[[ -n ${LOGDIR:-} ]] && cp "$work/gw.log" "$LOGDIR/gateway-$name-$(date +%H%M%S).log"
	local steady person50 person99 lost ans bridged
	steady=$(sed -n 's/^gateway cpu while all .* = \([0-9.]*\) ms per call-second/\1/p' "$work/out")
	person50=$(sed -n 's/^time to a person.*: p50 \([0-9.]*\) ms.*/\1/p' "$work/out")
	person99=$(sed -n 's/^time to a person.* p99 \([0-9.]*\) ms.*/\1/p' "$work/out")
	lost=$(sed -n 's/^rtp: .* lost \([0-9]*\) .*/\1/p' "$work/out")
	ans=$(sed -n 's/^calls: .*answered \([0-9]*\),.*/\1/p' "$work/out")
	bridged=$(sed -n 's/^agents: \([0-9]*\) calls answered.*/\1/p' "$work/out")
	echo "RESULT mode=$name answered=$ans bridged=${bridged:-0} steady_ms_per_call_s=${steady:-none} person_p50_ms=${person50:-} person_p99_ms=${person99:-} lost=$lost redis_cpu_s=$(awk -v a="$r0" -v b="$r1" 'BEGIN{printf "%.2f", b-a}')"
}

exec 9>/tmp/ivr-load.lock
for r in $(seq "$runs"); do
	echo "== run $r"
	for mode in ${MODES:-ports shared}; do
		flock 9
		if [[ $mode == ports ]]; then run_one ports 0; else run_one shared "$shared"; fi
		flock -u 9
	done
done >"$work/all" 2>&1 || { cat "$work/all"; exit 1; }
cat "$work/all"
grep '^RESULT' "$work/all"
