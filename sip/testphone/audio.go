package testphone

import (
	"fmt"
	"math"
	"time"
)

// SampleRate is the G.711 clock rate (RFC 3551 §4.5.14).
const SampleRate = 8000

// frameSamples is one 20 ms frame at 8 kHz.
const frameSamples = 160

// toneLevel is -10 dBFS for one sine, full scale being a sine of peak 32767.
// Two DTMF tones at this level sum to a peak of about -4 dBFS: no clipping.
var toneLevel = 32767 * math.Pow(10, -10.0/20)

// dtmfPair maps a digit to its low (row) and high (column) frequency
// (ITU-T Q.23).
func dtmfPair(d byte) (lo, hi float64, ok bool) {
	rows := [4]float64{697, 770, 852, 941}
	cols := [4]float64{1209, 1336, 1477, 1633}
	const keys = "123A456B789C*0#D"
	for i := 0; i < len(keys); i++ {
		if keys[i] == upper(d) {
			return rows[i/4], cols[i%4], true
		}
	}
	return 0, 0, false
}

// eventCode maps a digit to its RFC 4733 §3.2 event code.
func eventCode(d byte) (uint8, bool) {
	switch d = upper(d); {
	case d >= '0' && d <= '9':
		return d - '0', true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return 12 + d - 'A', true
	}
	return 0, false
}

// EventDigit maps an RFC 4733 event code back to its digit, or 0.
func EventDigit(code uint8) byte {
	const digits = "0123456789*#ABCD"
	if int(code) < len(digits) {
		return digits[code]
	}
	return 0
}

func upper(d byte) byte {
	if d >= 'a' && d <= 'z' {
		return d - 'a' + 'A'
	}
	return d
}

// samplesFor converts a duration into a whole number of 8 kHz samples.
func samplesFor(d time.Duration) int {
	return int(d * SampleRate / time.Second)
}

// Sine returns dur of a sine at freqHz with peak amplitude amp.
func Sine(freqHz, amp float64, dur time.Duration) []int16 {
	n := samplesFor(dur)
	out := make([]int16, n)
	w := 2 * math.Pi * freqHz / SampleRate
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(w*float64(i))))
	}
	return out
}

// DTMFTone returns dur of the two tones of digit d, each at -10 dBFS.
func DTMFTone(d byte, dur time.Duration) ([]int16, error) {
	lo, hi, ok := dtmfPair(d)
	if !ok {
		return nil, fmt.Errorf("dtmf tone: digit %q: %w", d, ErrBadDigit)
	}
	n := samplesFor(dur)
	out := make([]int16, n)
	wl := 2 * math.Pi * lo / SampleRate
	wh := 2 * math.Pi * hi / SampleRate
	for i := range out {
		v := toneLevel * (math.Sin(wl*float64(i)) + math.Sin(wh*float64(i)))
		out[i] = int16(math.Round(v))
	}
	return out, nil
}

// DetectTone returns the share of pcm's energy that lies at freqHz, from 0
// to about 1: a pure sine at freqHz gives ≈1, the two tones of a DTMF digit
// ≈0.5 each, silence 0. It runs the Goertzel recurrence with the exact
// (non-integer bin) coefficient, then normalises |X(f)|² by N/2 · Σx², the
// value a pure sine reaches (Parseval).
func DetectTone(pcm []int16, freqHz float64) float64 {
	n := len(pcm)
	if n == 0 {
		return 0
	}
	w := 2 * math.Pi * freqHz / SampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range pcm {
		x := float64(v)
		total += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if total == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return power / (float64(n) / 2 * total)
}

// RMS is the root mean square of pcm in sample units (0 to 32767).
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}
