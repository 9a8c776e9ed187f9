#!/usr/bin/env bash
# Menu calls through the real gateway, one port per leg against shared RTP
# sockets (-rtp-shared), with the project's ivrload as the callers; runs
# alternate between the modes so a busy moment hits both alike.
#
#   contrib/load/menu-calls.sh [CALLS] [DURATION] [RUNS] [SHARED]
#
# defaults: 1000 calls, 15s held, 3 runs per mode, 2 shared sockets. Each
# caller presses 3 five seconds in (barge-in on the main menu) and times the
# order status prompt that answers it (KEY= empty turns that off). Only
# loopback is used; ports 26060 (SIP), 26080 (HTTP), 40000-44000 (RTP).
# Prints ivrload's report of each run, then one line per run for the table
# in docs/performance.md.
set -euo pipefail
calls=${1:-1000} duration=${2:-15s} runs=${3:-3} shared=${4:-2}
key=${KEY-3}
keyflags=()
[[ -n $key ]] && keyflags=(-key "$key" -key-after 5s -key-reply "$(cd "$(dirname "$0")/../.." && pwd)/prompts/audio/en/order_status.wav")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
gw_pid=
cleanup() {
	[[ -n $gw_pid ]] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/ivrgw" ./cmd/ivrgw && go build -o "$work/ivrload" ./cmd/ivrload)

run_one() { # mode-name shared-count
	local name=$1 n=$2
	"$work/ivrgw" -sip 127.0.0.1:26060 -http 127.0.0.1:26080 -rtp-ports 40000-44000 -rtp-shared "$n" \
		-log-level warn -sip-limit-invite off -sip-max-pending 0 \
		-menu "$root/configs/menu.yaml" -agents "$root/configs/agents.yaml" >"$work/gw.log" 2>&1 &
	gw_pid=$!
	for _ in $(seq 50); do curl -fs 127.0.0.1:26080/healthz >/dev/null 2>&1 && break; sleep 0.1; done
	# A gateway that did not start (a port still taken) must not let the
	# load reach another process on the same ports.
	kill -0 "$gw_pid" 2>/dev/null || { echo "gateway did not start:"; cat "$work/gw.log"; exit 1; }
	"$work/ivrload" -target 127.0.0.1:26060 -calls "$calls" -ramp 200 -duration "$duration" "${keyflags[@]}" -pid "$gw_pid" >"$work/out" 2>&1 || true
	cat "$work/out"
	kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true; gw_pid=
	local cpu wall lost p99 rss
	cpu=$(sed -n 's/^gateway cpu.*: \([0-9.]*\) s over \([0-9.]*\) s wall.*/\1/p' "$work/out")
	lost=$(sed -n 's/^rtp: .* lost \([0-9]*\) .*/\1/p' "$work/out")
	p99=$(sed -n 's/^lateness: .* p99 \([0-9.]*\) ms.*/\1/p' "$work/out")
	rss=$(sed -n 's/.* \([0-9.]*\) KiB more per call.*/\1/p' "$work/out")
	ans=$(sed -n 's/^calls: .*answered \([0-9]*\),.*/\1/p' "$work/out")
	local kp50 kp99 knone
	kp50=$(sed -n 's/^key to prompt.*: p50 \([0-9.]*\) ms.*/\1/p' "$work/out")
	kp99=$(sed -n 's/^key to prompt.* p99 \([0-9.]*\) ms.*/\1/p' "$work/out")
	knone=$(sed -n 's/^keys: .* none \([0-9]*\)/\1/p' "$work/out")
	# CPU per call-second: the whole run's CPU over the calls' held time.
	echo "RESULT mode=$name answered=$ans cpu_s=$cpu ms_per_call_s=$(awk -v c="$cpu" -v n="$calls" -v d="${duration%s}" 'BEGIN{printf "%.3f", c*1000/(n*d)}') lost=$lost send_p99_ms=$p99 rss_kib_per_call=$rss key_p50_ms=${kp50:-} key_p99_ms=${kp99:-} keys_unanswered=${knone:-}"
}

# Load runs on this box never overlap (other scripts take the same lock).
exec 9>/tmp/ivr-load.lock
for r in $(seq "$runs"); do
	echo "== run $r"
	for mode in ports shared; do
		flock 9
		if [[ $mode == ports ]]; then run_one ports 0; else run_one shared "$shared"; fi
		flock -u 9
	done
done >"$work/all" 2>&1 || { cat "$work/all"; exit 1; }
cat "$work/all"
grep '^RESULT' "$work/all"
