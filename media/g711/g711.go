// Package g711 converts between 16-bit linear PCM and ITU-T G.711 μ-law
// (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8), and between
// the two laws directly.
//
// Decoding and law-to-law conversion are table look-ups built once at package
// initialisation; encoding is a few shifts. Nothing here allocates per call,
// so the functions are safe on the per-packet media path. This package imports
// only the standard library.
package g711

// Payload types of the two laws (RFC 3551 §6, table 4).
const (
	PayloadPCMU uint8 = 0
	PayloadPCMA uint8 = 8
)

// Silence bytes: the code each law uses for a zero sample.
const (
	SilenceULaw byte = 0xFF
	SilenceALaw byte = 0xD5
)

const (
	ulawBias = 0x84
	ulawClip = 32635
)

var (
	ulawToLinear [256]int16
	alawToLinear [256]int16
	ulawToALaw   [256]byte
	alawToULaw   [256]byte
)

func init() {
	for i := 0; i < 256; i++ {
		ulawToLinear[i] = decodeULaw(byte(i))
		alawToLinear[i] = decodeALaw(byte(i))
	}
	for i := 0; i < 256; i++ {
		ulawToALaw[i] = LinearToALaw(ulawToLinear[i])
		alawToULaw[i] = LinearToULaw(alawToLinear[i])
	}
}

// LinearToULaw encodes one sample (ITU-T G.711 §A, the classic Sun reference algorithm).
func LinearToULaw(s int16) byte {
	v := int(s)
	sign := 0
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0F
	return ^byte(sign | exp<<4 | mant)
}

func decodeULaw(u byte) int16 {
	u = ^u
	sign := u & 0x80
	exp := int(u>>4) & 0x07
	mant := int(u & 0x0F)
	v := ((mant << 3) + ulawBias) << exp
	v -= ulawBias
	if sign != 0 {
		return int16(-v)
	}
	return int16(v)
}

// LinearToALaw encodes one sample; even bits are inverted as G.711 requires.
func LinearToALaw(s int16) byte {
	v := int(s)
	sign := 0x80
	if v < 0 {
		v = -v - 1
		sign = 0
	}
	if v > 32767 {
		v = 32767
	}
	var out int
	if v < 256 {
		out = v >> 4
	} else {
		exp := 1
		for t := v >> 8; t > 1 && exp < 7; t >>= 1 {
			exp++
		}
		out = exp<<4 | (v>>(exp+3))&0x0F
	}
	return byte(sign|out) ^ 0x55
}

func decodeALaw(a byte) int16 {
	a ^= 0x55
	sign := a & 0x80
	exp := int(a>>4) & 0x07
	mant := int(a & 0x0F)
	var v int
	if exp == 0 {
		v = mant<<4 + 8
	} else {
		v = (mant<<4 + 0x108) << (exp - 1)
	}
	if sign == 0 {
		return int16(-v)
	}
	return int16(v)
}

// ULawToLinear decodes one μ-law byte.
func ULawToLinear(u byte) int16 { return ulawToLinear[u] }

// ALawToLinear decodes one A-law byte.
func ALawToLinear(a byte) int16 { return alawToLinear[a] }

// EncodeULaw encodes pcm into dst, which must be at least len(pcm) long; it returns dst[:len(pcm)].
func EncodeULaw(dst []byte, pcm []int16) []byte {
	dst = dst[:len(pcm)]
	for i, s := range pcm {
		dst[i] = LinearToULaw(s)
	}
	return dst
}

// EncodeALaw encodes pcm into dst, which must be at least len(pcm) long; it returns dst[:len(pcm)].
func EncodeALaw(dst []byte, pcm []int16) []byte {
	dst = dst[:len(pcm)]
	for i, s := range pcm {
		dst[i] = LinearToALaw(s)
	}
	return dst
}

// DecodeULaw decodes src into dst, which must be at least len(src) long; it returns dst[:len(src)].
func DecodeULaw(dst []int16, src []byte) []int16 {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = ulawToLinear[b]
	}
	return dst
}

// DecodeALaw decodes src into dst, which must be at least len(src) long; it returns dst[:len(src)].
func DecodeALaw(dst []int16, src []byte) []int16 {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = alawToLinear[b]
	}
	return dst
}

// Decode decodes a payload of either law, chosen by payload type (0 PCMU, 8 PCMA).
func Decode(dst []int16, src []byte, pt uint8) []int16 {
	if pt == PayloadPCMA {
		return DecodeALaw(dst, src)
	}
	return DecodeULaw(dst, src)
}

// ULawToALaw converts a μ-law payload to A-law in place-compatible fashion
// (dst and src may be the same slice).
func ULawToALaw(dst, src []byte) []byte {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = ulawToALaw[b]
	}
	return dst
}

// ALawToULaw converts an A-law payload to μ-law (dst and src may be the same slice).
func ALawToULaw(dst, src []byte) []byte {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = alawToULaw[b]
	}
	return dst
}

// Transcode converts payload src from law `from` to law `to` (payload types
// 0 or 8) into dst. When the laws match it copies.
func Transcode(dst, src []byte, from, to uint8) []byte {
	switch {
	case from == to:
		return dst[:copy(dst[:len(src)], src)]
	case from == PayloadPCMU && to == PayloadPCMA:
		return ULawToALaw(dst, src)
	default:
		return ALawToULaw(dst, src)
	}
}
