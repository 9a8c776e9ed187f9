package prompts

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// baseNames lists the names in dir with extension ext.
func baseNames(t *testing.T, dir, ext string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(%s) error = %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ext) {
			names = append(names, strings.TrimSuffix(e.Name(), ext))
		}
	}
	return names
}

// languageDirs lists the language directories under audio/.
func languageDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("audio")
	if err != nil {
		t.Fatalf("ReadDir(audio) error = %v", err)
	}
	var langs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != musicDir {
			langs = append(langs, e.Name())
		}
	}
	return langs
}

func TestAudioTreeComplete(t *testing.T) {
	en := baseNames(t, "audio/en", ".txt")
	if len(en) == 0 {
		t.Fatalf("no texts in audio/en")
	}
	langs := languageDirs(t)
	if !slices.Contains(langs, "es") {
		t.Errorf("languages %v, want es among them", langs)
	}
	for _, lang := range langs {
		dir := filepath.Join("audio", lang)
		txt, wav := baseNames(t, dir, ".txt"), baseNames(t, dir, ".wav")
		if !slices.Equal(txt, wav) {
			t.Errorf("%s: texts %v and WAVs %v differ: run go generate ./prompts", dir, txt, wav)
		}
		if !slices.Equal(txt, en) {
			t.Errorf("%s: names %v, want exactly the en names %v", dir, txt, en)
		}
	}
	s, err := Default()
	if err != nil {
		t.Fatalf("Default() error = %v", err)
	}
	if got := s.Languages(); !slices.Equal(got, langs) {
		t.Errorf("Default().Languages() = %v, want %v", got, langs)
	}
	for _, lang := range langs {
		if got := s.Names(lang); !slices.Equal(got, en) {
			t.Errorf("Default().Names(%s) = %v, want %v", lang, got, en)
		}
	}
	// The language option names the other language (en offers Spanish, es English).
	for _, c := range []struct{ lang, want string }{{"en", "For Spanish, press 9"}, {"es", "Para inglés, oprima 9"}} {
		b, err := os.ReadFile(filepath.Join("audio", c.lang, "main_menu.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) {
			t.Errorf("%s/main_menu.txt = %q, want it to contain %q", c.lang, b, c.want)
		}
	}
}

// Thresholds of the speech check. Measured on the espeak-ng prompts (the
// lowest of 86: energy CV 0.40, zero-crossing CV 0.16, RMS -25.6 dBFS) and
// on the synthetic signals in TestSpeechCheckRejects (all near 0 CV).
const (
	minSeconds  = 0.3
	maxSeconds  = 20
	minRMSdB    = -35
	minEnergyCV = 0.25
	minZCRCV    = 0.08
)

// speechProblem says why pcm does not look like a spoken prompt, or "".
func speechProblem(pcm []int16) string {
	st := analyse(pcm)
	switch {
	case st.Seconds < minSeconds || st.Seconds > maxSeconds:
		return "duration out of range"
	case st.RMSdB < minRMSdB:
		return "too quiet"
	case st.EnergyCV < minEnergyCV:
		return "steady energy (tone or noise, not syllables)"
	case st.ZCRCV < minZCRCV:
		return "steady zero-crossing rate (a single tone)"
	}
	return ""
}

func TestPromptsAreSpeech(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatalf("Default() error = %v", err)
	}
	for _, lang := range s.Languages() {
		for _, name := range s.Names(lang) {
			c, _ := s.Clip(lang, name)
			pcm := clipPCM(c)
			if p := speechProblem(pcm); p != "" {
				t.Errorf("%s/%s: %s: %+v", lang, name, p, analyse(pcm))
			}
			// gain -n -3 in generate.sh; μ-law quantisation moves it a little.
			if st := analyse(pcm); st.PeakdB < -6 || st.PeakdB > -1 {
				t.Errorf("%s/%s: peak %.1f dBFS, want about -3", lang, name, st.PeakdB)
			}
		}
	}
}

// TestSpeechCheckRejects proves the speech check can fail.
func TestSpeechCheckRejects(t *testing.T) {
	const n = 2 * SampleRate
	pad := func(pcm []int16) []int16 { // like a prompt: 100 ms before, 150 ms after
		return slices.Concat(make([]int16, 800), pcm, make([]int16, 1200))
	}
	tone := make([]int16, n)
	beeps := make([]int16, n)
	noise := make([]int16, n)
	wobble := make([]int16, n) // one pitch, loudness swinging 3 times a second
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		v := 16000 * math.Sin(2*math.Pi*440*float64(i)/SampleRate)
		tone[i] = int16(v)
		if (i/1600)%2 == 0 { // 200 ms on, 200 ms off
			beeps[i] = int16(v)
		}
		noise[i] = int16(rng.NormFloat64() * 5000)
		wobble[i] = int16(v * (0.6 + 0.4*math.Sin(2*math.Pi*3*float64(i)/SampleRate)))
	}
	tests := []struct {
		name string
		pcm  []int16
		want string
	}{
		{"silence", make([]int16, n), "too quiet"},
		{"steady tone", pad(tone), "steady energy (tone or noise, not syllables)"},
		{"white noise", pad(noise), "steady energy (tone or noise, not syllables)"},
		{"gated tone", pad(beeps), "steady energy (tone or noise, not syllables)"},
		{"amplitude-modulated tone", pad(wobble), "steady zero-crossing rate (a single tone)"},
		{"too short", pad(tone[:200]), "duration out of range"},
		{"too long", make([]int16, 21*SampleRate), "duration out of range"},
	}
	for _, tt := range tests {
		if got := speechProblem(tt.pcm); got != tt.want {
			t.Errorf("speechProblem(%s) = %q, want %q (%+v)", tt.name, got, tt.want, analyse(tt.pcm))
		}
	}
}

func TestHoldMusic(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatalf("Default() error = %v", err)
	}
	c, ok := s.Music("hold")
	if !ok {
		t.Fatalf("Music(hold) ok = false, want true")
	}
	pcm := clipPCM(c)
	st := analyse(pcm)
	if st.Seconds < 18 || st.Seconds > 22 {
		t.Errorf("hold music lasts %.1f s, want about 20", st.Seconds)
	}
	if st.PeakdB < -15 || st.PeakdB > -9 {
		t.Errorf("hold music peak %.1f dBFS, want about -12", st.PeakdB)
	}
	if st.RMSdB < -40 {
		t.Errorf("hold music RMS %.1f dBFS, want audible", st.RMSdB)
	}
	// Loopable: the reverb tail at the start matches the end, so the level
	// either side of the seam is similar (no gap of silence, no jump).
	rms := func(p []int16) float64 { return math.Pow(10, analyse(p).RMSdB/20) }
	const w = 800 // 100 ms
	head, tail := rms(pcm[:w]), rms(pcm[len(pcm)-w:])
	if r := 20 * math.Log10(head/tail); math.Abs(r) > 10 || math.IsNaN(r) {
		t.Errorf("hold music level first/last 100 ms differ by %.1f dB, want within 10 dB", r)
	}
}
