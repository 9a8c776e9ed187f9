package dtmf

import "math"

// In-band detection parameters. The classic checks (ITU-T Q.24 receivers,
// as in Asterisk and spandsp) on a Goertzel filter bank at the eight DTMF
// frequencies, tuned for 8 kHz G.711 audio arriving in 20 ms frames.
const (
	sampleRate = 8000
	// window is the analysis length: 160 samples give 50 Hz resolution,
	// enough to tell 697 from 770 Hz (the closest pair, 73 Hz apart).
	window = 160
	// hop: windows overlap by half, so whatever the phase of a 40 ms tone,
	// at least two whole windows and two three-quarter windows see it.
	hop = 80
	// stableWindows consecutive windows agreeing span 160+2*80 samples = 40 ms,
	// the minimum tone a receiver must accept.
	stableWindows = 3
	// releaseWindows windows without a digit (>= 20 ms of gap) re-arm the
	// same digit; a shorter drop-out inside one press is not a new press.
	releaseWindows = 2

	// energyFloor is the least tone energy per window: a tone of amplitude
	// about 300 (-40 dBFS, about -37 dBm0) over a whole window, 2|X|²/N.
	energyFloor = 300 * 300 * window / 2
	// Twist: the column (high) tone may be up to 8 dB weaker than the row
	// tone (normal twist) and up to 4 dB stronger (reverse twist).
	normalTwist  = 6.31 // 8 dB
	reverseTwist = 2.51 // 4 dB
	// relativePeak: the other rows (columns) must be 8 dB below the best one.
	relativePeak = 6.31
	// dominance: the two tones must hold this share of the window's energy,
	// which rejects speech and music that merely contain the frequencies.
	dominance = 0.6
	// harmonicRatio: energy at twice the column frequency must be 10 dB
	// under the column tone; voices and instruments have strong harmonics.
	harmonicRatio = 0.1
)

var (
	rowFreqs = [4]float64{697, 770, 852, 941}
	colFreqs = [4]float64{1209, 1336, 1477, 1633}
	keypad   = [4][4]byte{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
	// Goertzel coefficients 2cos(2πf/fs), computed once; read-only after init.
	rowCoef, colCoef, harmCoef = coefs()
)

func coefs() (row, col, harm [4]float64) {
	c := func(f float64) float64 { return 2 * math.Cos(2*math.Pi*f/sampleRate) }
	for i := range 4 {
		row[i] = c(rowFreqs[i])
		col[i] = c(colFreqs[i])
		harm[i] = c(2 * colFreqs[i])
	}
	return row, col, harm
}

// InbandDetector is a DTMF tone detector for 8 kHz 16-bit linear PCM. It keeps its
// window in the struct, so Process allocates nothing. Not safe for
// concurrent use: one per call leg.
type InbandDetector struct {
	buf      [window]float64
	n        int  // samples in buf
	last     byte // digit of the previous window, 0 for none
	count    int  // consecutive windows with last
	quiet    int  // consecutive windows without a digit
	reported byte // digit reported for the current press, 0 when re-armed
}

// NewInband returns a detector ready for the first frame.
func NewInband() *InbandDetector { return &InbandDetector{} }

// Reset forgets any tone in progress.
func (d *InbandDetector) Reset() { *d = InbandDetector{} }

// Process takes the next samples of the stream, normally one 160-sample
// frame, and returns a digit once per key press, as soon as it has been
// stable for 40 ms. Frames of any length are accepted; if one call covers
// more than one new press only the first is returned, so feed at most a
// frame at a time.
func (d *InbandDetector) Process(samples []int16) (digit byte, ok bool) {
	for len(samples) > 0 {
		k := min(len(samples), window-d.n)
		for i, s := range samples[:k] {
			d.buf[d.n+i] = float64(s)
		}
		d.n += k
		samples = samples[k:]
		if d.n < window {
			break
		}
		if got, hit := d.step(d.analyze()); hit && !ok {
			digit, ok = got, true
		}
		copy(d.buf[:window-hop], d.buf[hop:])
		d.n = window - hop
	}
	return digit, ok
}

// step runs the per-window state machine: stability, once per press, release.
func (d *InbandDetector) step(digit byte) (byte, bool) {
	if digit == 0 {
		d.last, d.count = 0, 0
		d.quiet++
		if d.quiet >= releaseWindows {
			d.reported = 0
		}
		return 0, false
	}
	d.quiet = 0
	if digit == d.last {
		d.count++
	} else {
		d.last, d.count = digit, 1
	}
	if d.count >= stableWindows && d.reported != digit {
		d.reported = digit
		return digit, true
	}
	return 0, false
}

// goertzel returns the energy of buf at the frequency with coefficient coef,
// scaled (2|X|²/N) so that a pure tone filling the window scores its energy.
func goertzel(buf *[window]float64, coef float64) float64 {
	var s1, s2 float64
	for _, x := range buf {
		s1, s2 = x+coef*s1-s2, s1
	}
	return goertzelPower(s1, s2, coef)
}

// goertzelPower is the filter's output energy from its final state.
func goertzelPower(s1, s2, coef float64) float64 {
	return (s1*s1 + s2*s2 - coef*s1*s2) * 2 / window
}

// analyze returns the digit present in the current window, or 0.
func (d *InbandDetector) analyze() byte {
	var total float64
	for _, x := range d.buf {
		total += x * x
	}
	if total < 2*energyFloor {
		return 0 // silence: skip the filters
	}
	// All eight filters in one pass: eight independent recurrences keep
	// the CPU busy where one filter at a time waits on its own chain.
	var r1, r2, c1, c2 [4]float64
	for _, x := range d.buf {
		r1[0], r2[0] = x+rowCoef[0]*r1[0]-r2[0], r1[0]
		r1[1], r2[1] = x+rowCoef[1]*r1[1]-r2[1], r1[1]
		r1[2], r2[2] = x+rowCoef[2]*r1[2]-r2[2], r1[2]
		r1[3], r2[3] = x+rowCoef[3]*r1[3]-r2[3], r1[3]
		c1[0], c2[0] = x+colCoef[0]*c1[0]-c2[0], c1[0]
		c1[1], c2[1] = x+colCoef[1]*c1[1]-c2[1], c1[1]
		c1[2], c2[2] = x+colCoef[2]*c1[2]-c2[2], c1[2]
		c1[3], c2[3] = x+colCoef[3]*c1[3]-c2[3], c1[3]
	}
	var rows, cols [4]float64
	r, c := 0, 0
	for i := range 4 {
		rows[i] = goertzelPower(r1[i], r2[i], rowCoef[i])
		cols[i] = goertzelPower(c1[i], c2[i], colCoef[i])
		if rows[i] > rows[r] {
			r = i
		}
		if cols[i] > cols[c] {
			c = i
		}
	}
	pr, pc := rows[r], cols[c]
	switch {
	case pr < energyFloor || pc < energyFloor:
		return 0
	case pc < pr && pr > pc*normalTwist, pr < pc && pc > pr*reverseTwist:
		return 0
	case pr+pc < dominance*total:
		return 0
	}
	for i := range 4 {
		if (i != r && rows[i]*relativePeak > pr) || (i != c && cols[i]*relativePeak > pc) {
			return 0
		}
	}
	if goertzel(&d.buf, harmCoef[c]) > harmonicRatio*pc {
		return 0
	}
	return keypad[r][c]
}
