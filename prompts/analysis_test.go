package prompts

import (
	"math"

	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/media/g711"
)

// clipPCM decodes a clip's μ-law frames back to linear samples.
func clipPCM(c *media.Clip) []int16 {
	pcm := make([]int16, 0, len(c.ULaw)*media.FrameSamples)
	for _, f := range c.ULaw {
		pcm = append(pcm, g711.DecodeULaw(make([]int16, len(f)), f)...)
	}
	return pcm
}

// audioStats describes a signal the way the speech check needs it.
type audioStats struct {
	Seconds  float64
	RMSdB    float64 // RMS of the whole signal, dBFS
	PeakdB   float64 // peak, dBFS
	Active   int     // 20 ms frames within 30 dB of the loudest frame
	EnergyCV float64 // coefficient of variation of active frames' RMS
	ZCRCV    float64 // coefficient of variation of active frames' zero-crossing rate
}

func dBFS(v float64) float64 {
	if v <= 0 {
		return math.Inf(-1)
	}
	return 20 * math.Log10(v/32768)
}

// analyse measures short-time energy and zero-crossing rate over 20 ms
// frames. Speech alternates syllables and pauses (energy varies) and voiced
// and unvoiced sounds (zero crossings vary); a steady tone does neither.
func analyse(pcm []int16) audioStats {
	const n = media.FrameSamples
	st := audioStats{Seconds: float64(len(pcm)) / SampleRate}
	var sum float64
	var peak float64
	for _, s := range pcm {
		v := float64(s)
		sum += v * v
		peak = math.Max(peak, math.Abs(v))
	}
	if len(pcm) > 0 {
		st.RMSdB = dBFS(math.Sqrt(sum / float64(len(pcm))))
	} else {
		st.RMSdB = math.Inf(-1)
	}
	st.PeakdB = dBFS(peak)

	var rms, zcr []float64
	var loudest float64
	for lo := 0; lo+n <= len(pcm); lo += n {
		f := pcm[lo : lo+n]
		var e float64
		z := 0
		for i, s := range f {
			e += float64(s) * float64(s)
			if i > 0 && (s >= 0) != (f[i-1] >= 0) {
				z++
			}
		}
		r := math.Sqrt(e / n)
		rms = append(rms, r)
		zcr = append(zcr, float64(z))
		loudest = math.Max(loudest, r)
	}
	var ar, az []float64
	for i, r := range rms {
		if loudest > 0 && r >= loudest/31.6 { // within 30 dB
			ar = append(ar, r)
			az = append(az, zcr[i])
		}
	}
	st.Active = len(ar)
	st.EnergyCV = cv(ar)
	st.ZCRCV = cv(az)
	return st
}

func cv(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	if m == 0 {
		return 0
	}
	var d float64
	for _, v := range x {
		d += (v - m) * (v - m)
	}
	return math.Sqrt(d/float64(len(x))) / m
}
