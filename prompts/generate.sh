#!/bin/sh
# generate.sh turns the prompt texts in audio/<lang>/NAME.txt into
# audio/<lang>/NAME.wav (espeak-ng, then sox) and synthesises the hold music
# audio/music/hold.wav. Run it through `go generate ./prompts`.
#
# Usage: sh generate.sh [-o OUTDIR] [lang/name ...]
#   -o OUTDIR   write the WAVs under OUTDIR/<lang>/ instead of next to the texts
#   lang/name   only build these (e.g. en/goodbye es/main_menu music/hold);
#               with none, everything is rebuilt.
#
# Output: 8000 Hz mono G.711 u-law WAV (format 7), 1 byte a sample, which is
# what package prompts embeds and what RTP PCMU carries (RFC 3551 §4.5.14),
# so the bytes go on the wire as they are.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
src="$here/audio"
out="$src"

while getopts o: opt; do
	case $opt in
	o) out=$OPTARG ;;
	*) echo "usage: sh generate.sh [-o OUTDIR] [lang/name ...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

for tool in espeak-ng sox; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "generate.sh: $tool not found (apt-get install espeak-ng sox)" >&2
		exit 1
	}
done

# -R: repeatable mode, so the pluck synth's noise is seeded the same each
# run and regenerating leaves unchanged prompts byte-identical in git.
sox() { command sox -R "$@"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# voice maps a language directory to an espeak-ng voice. A new language
# whose directory name is already an espeak-ng voice needs no entry here.
voice() {
	case $1 in
	en) echo en-us ;;
	es) echo es-419 ;;
	*) echo "$1" ;;
	esac
}

# speak renders one text file to a u-law WAV.
#  - gain -6 first: headroom, or the filters below clip espeak-ng's peaks.
#  - highpass 100: telephone handsets cut below ~300 Hz anyway; removing the
#    rumble leaves more of the 8-bit range for the voice.
#  - silence ... reverse silence ... reverse: trim espeak-ng's own leading and
#    trailing silence, then pad 100 ms before and 150 ms after, so prompts
#    played back to back ("you are caller number" + "3") have a natural gap.
#  - rate 8000 before gain, because resampling can move the peak.
#  - gain -n -3: normalise to -3 dBFS peak so every prompt has the same level.
#  - -D: no dither, so the pads are true u-law silence (0xFF), not hiss.
speak() { # lang txt wav
	espeak-ng -v "$(voice "$1")" -s 150 -w "$tmp/speech.wav" -f "$2"
	sox -D "$tmp/speech.wav" -r 8000 -c 1 -e u-law -b 8 -t wav "$3" \
		gain -6 highpass 100 \
		silence 1 0.02 0.1% reverse silence 1 0.02 0.1% reverse \
		rate 8000 gain -n -3 pad 0.1 0.15
}

# music synthesises ~20 s of soft plucked arpeggios over a quiet sine bass
# (C, Am, F, G: the G leads back to C, so the loop resolves). The melody is
# rendered twice and the reverb applied to both; keeping only the second
# copy means its start already carries the reverb tail of its own end, so
# the clip loops without a click or a gap.
music() { # wav
	note=0.3125 # 64 notes in 20 s
	n=0
	for chord in "C4 E4 G4 C5 E5 C5 G4 E4" "A3 C4 E4 A4 C5 A4 E4 C4" \
		"F3 A3 C4 F4 A4 F4 C4 A3" "G3 B3 D4 G4 B4 G4 D4 B3"; do
		for rep in 1 2; do
			for p in $chord; do
				n=$((n + 1))
				sox -n -r 8000 -c 1 -b 16 "$tmp/n$(printf %03d $n).wav" \
					synth $note pluck "$p" fade 0.005 $note 0.06 gain -6
			done
		done
	done
	for b in C3 A2 F2 G2; do
		sox -n -r 8000 -c 1 -b 16 "$tmp/b$b.wav" synth 5 sine "$b" fade h 0.4 5 0.6 gain -18
	done
	sox "$tmp"/n*.wav "$tmp/melody.wav"
	sox "$tmp/bC3.wav" "$tmp/bA2.wav" "$tmp/bF2.wav" "$tmp/bG2.wav" "$tmp/bass.wav"
	sox -m "$tmp/melody.wav" "$tmp/bass.wav" "$tmp/once.wav"
	sox "$tmp/once.wav" "$tmp/once.wav" "$tmp/twice.wav"
	sox -D "$tmp/twice.wav" -r 8000 -c 1 -e u-law -b 8 -t wav "$1" \
		reverb 40 50 60 trim 20 gain -n -12
	rm -f "$tmp"/n*.wav "$tmp"/b*.wav
}

build() { # lang/name
	lang=${1%%/*}
	name=${1#*/}
	mkdir -p "$out/$lang"
	if [ "$lang" = music ]; then
		[ "$name" = hold ] || { echo "generate.sh: unknown music $name" >&2; exit 1; }
		music "$out/music/hold.wav"
		return
	fi
	[ -f "$src/$lang/$name.txt" ] || { echo "generate.sh: no $src/$lang/$name.txt" >&2; exit 1; }
	speak "$lang" "$src/$lang/$name.txt" "$out/$lang/$name.wav"
}

if [ $# -gt 0 ]; then
	for p in "$@"; do build "$p"; done
	exit 0
fi

for dir in "$src"/*/; do
	lang=$(basename "$dir")
	[ "$lang" = music ] && continue
	for txt in "$dir"*.txt; do
		[ -f "$txt" ] || continue
		build "$lang/$(basename "$txt" .txt)"
	done
done
build music/hold
