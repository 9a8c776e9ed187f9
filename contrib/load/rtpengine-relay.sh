#!/bin/sh
# rtpengine-relay.sh: the peer figure for a bridged call's media cost.
# Starts Debian's rtpengine-daemon as a userspace-only RTP relay on
# loopback (--table=-1: no kernel forwarding, no iptables, no modules),
# drives it with cmd/relayload (SESSIONS calls, 50 PCMU packets a second
# each way, DURATION s of steady state) and prints rtpengine's CPU per
# session-second and per relayed packet and its RSS per session. A fresh
# rtpengine serves each run; each run holds /tmp/ivr-load.lock so that it
# never overlaps another load run on this machine.
#
# Usage: sh contrib/load/rtpengine-relay.sh [SESSIONS [DURATION [RUNS]]]   (default 100 20 3)
# Needs: go, root for apt-get if rtpengine is missing, flock (util-linux).
# Loopback only. See docs/rtpengine-peer.md.
set -eu
sessions=${1:-100}
duration=${2:-20}
runs=${3:-3}
ng_port=27223
port_min=61000
port_max=65499 # 4 ports a session (RTP and RTCP on each side): up to 1,100 sessions
here=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)

case $sessions$duration$runs in *[!0-9]*) echo "usage: $0 [SESSIONS [DURATION [RUNS]]] (integers)" >&2; exit 2 ;; esac
[ "$sessions" -ge 1 ] && [ "$sessions" -le 1100 ] || { echo "SESSIONS: 1..1100 (the port range $port_min-$port_max)" >&2; exit 2; }
[ "$duration" -ge 1 ] && [ "$duration" -le 45 ] || { echo "DURATION: 1..45 s (a run stays under 60 s)" >&2; exit 2; }
[ "$runs" -ge 1 ] && [ "$runs" -le 20 ] || { echo "RUNS: 1..20" >&2; exit 2; }

if ! command -v rtpengine >/dev/null; then
	apt-get install -y rtpengine-daemon || { apt-get update && apt-get install -y rtpengine-daemon; }
fi
command -v flock >/dev/null || { echo "flock not found (util-linux)" >&2; exit 2; }
if command -v ss >/dev/null && ss -Hlun "( sport = :$ng_port or ( sport >= :$port_min and sport <= :$port_max ) )" | grep -q .; then
	echo "UDP port $ng_port or $port_min-$port_max is in use" >&2
	exit 2
fi

work=$(mktemp -d)
rtpe=
stop_rtpengine() {
	[ -n "$rtpe" ] || return 0
	kill -TERM "$rtpe" 2>/dev/null || true
	i=0
	while kill -0 "$rtpe" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$rtpe" 2>/dev/null || true
	wait "$rtpe" 2>/dev/null || true
	rtpe=
}
trap 'stop_rtpengine; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

version=$(rtpengine --version 2>&1 | sed -n 's/^Version: //p')
go build -o "$work/relayload" "$here/cmd/relayload"
echo "rtpengine $version, userspace (--table=-1), $sessions sessions, ${duration} s steady state, $runs runs"

run=1
while [ $run -le "$runs" ]; do
	# --config-file=none: Debian's /etc/rtpengine/rtpengine.conf asks for
	# kernel table 0 and every interface.
	rtpengine --config-file=none --foreground --log-stderr --log-level=4 \
		--table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:$ng_port \
		--port-min=$port_min --port-max=$port_max \
		>"$work/rtpengine.$run.log" 2>&1 &
	rtpe=$!
	i=0
	until ss -Hlun "( sport = :$ng_port )" 2>/dev/null | grep -q . || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(cat /proc/$rtpe/comm 2>/dev/null)" = rtpengine ] || { echo "rtpengine did not start:" >&2; cat "$work/rtpengine.$run.log" >&2; exit 1; }
	rc=0
	flock /tmp/ivr-load.lock timeout 59 \
		"$work/relayload" -ng 127.0.0.1:$ng_port -sessions "$sessions" -ramp 200 \
		-duration "${duration}s" -pid "$rtpe" -strict >"$work/run.$run.txt" 2>&1 || rc=$?
	stop_rtpengine
	echo "--- run $run (exit $rc)"
	cat "$work/run.$run.txt"
	grep '^RESULT ' "$work/run.$run.txt" >>"$work/results" || true
	run=$((run + 1))
done

# ms of rtpengine CPU per session-second: median, min, max over the runs.
echo "--- $sessions sessions, rtpengine $version"
tr ' ' '\n' <"$work/results" | sed -n 's/^ms_per_session_s=//p' | sort -n | awk '
	{ a[NR] = $1 }
	END {
		if (NR == 0) { print "no results"; exit 1 }
		med = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		printf "ms cpu per session-second over %d runs: median %.3f, min %.3f, max %.3f\n", NR, med, a[1], a[NR]
	}'
for k in us_per_packet rss_kib_per_session lost_ab lost_ba missed bad foreign; do
	printf '%s: %s\n' "$k" "$(tr ' ' '\n' <"$work/results" | sed -n "s/^$k=//p" | tr '\n' ' ')"
done
