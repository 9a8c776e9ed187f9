// Package prompts loads the gateway's spoken prompts and hold music: WAV
// decoding (8 kHz mono 16-bit PCM, μ-law or A-law), cutting into 20 ms
// frames for both G.711 laws, and the default prompt sets per language that
// are embedded in the binary. A Set is built once at start-up and shared
// read-only by every call; its clips' frames are never copied.
//
// The audio under audio/ is generated from the texts beside it by
// generate.sh (espeak-ng and sox); see README.md.
//
// This package imports only media and media/g711 from the project. It must
// not import sip, ivr, routing or any network code: it turns files into
// frames and nothing else, and it logs nothing (callers decide what a
// missing prompt is worth).
package prompts

//go:generate sh generate.sh
