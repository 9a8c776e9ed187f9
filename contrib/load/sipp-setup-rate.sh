#!/bin/sh
# sipp-setup-rate.sh: the set-up rate of a gateway it starts itself on
# loopback, measured with SIPp (Debian's sip-tester package) as the caller
# load: CALLS calls at RATE a second, each up for 1 s, from one source.
# Prints the gateway's CPU, SIPp's, the successful and failed calls, and
# INVITE->200 p50/p99/max from SIPp's per-call response times (-trace_rtt).
#
# Usage: sh contrib/load/sipp-setup-rate.sh [CALLS [RATE]]   (default 30000 500)
# Needs: go, sipp (apt-get install sip-tester). Loopback only.
set -eu
calls=${1:-30000}
rate=${2:-500}
here=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
command -v sipp >/dev/null || { echo "sipp not found: apt-get install sip-tester" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill -INT $gw 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/ivrgw" "$here/cmd/ivrgw"
# One source places every call, as a trunk does: the per-source INVITE rate
# limit and the cap on calls awaiting ACK are for callers, not for a trunk.
"$work/ivrgw" -menu "$here/configs/menu.yaml" -agents "$here/configs/agents.yaml" \
	-sip 127.0.0.1:26060 -http 127.0.0.1:26080 -log-level warn \
	-sip-limit-invite off -sip-max-pending 0 2>"$work/gw.log" &
gw=$!
sleep 1
cpu() { awk '{print $14+$15}' "/proc/$gw/stat"; }
c0=$(cpu)
cd "$work"
/usr/bin/time -f "sipp cpu %U s user + %S s sys over %e s" \
	timeout $((calls / rate + 60)) sipp -sn uac -s support 127.0.0.1:26060 -i 127.0.0.1 -p 26070 -mi 127.0.0.1 \
	-r "$rate" -m "$calls" -d 1000 -l 5000 -trace_rtt -rtt_freq 1 -timeout $((calls / rate + 50))s -nostdin \
	>"$work/sipp.txt" 2>"$work/time.txt" || true
c1=$(cpu)
echo "gateway cpu $(((c1 - c0) * 10)) ms (USER_HZ 100)"
tail -1 "$work/time.txt"
grep -E "Successful call|Failed call" "$work/sipp.txt" | tail -2 | tr -s ' '
tail -n +2 "$work"/*_rtt.csv | awk -F';' '{print $2}' | sort -n |
	awk '{a[NR]=$1} END {if (NR) print "INVITE->200 ms (1 ms resolution): n", NR, "p50", a[int(NR*0.5)+0], "p99", a[int(NR*0.99)], "max", a[NR]}'
