// Package registrar is the SIP registrar for agents' softphones: it answers
// REGISTER with digest authentication and stores each agent's binding
// (contact, real source address and transport, expiry) through a small
// consumer-owned Bindings interface.
//
// Standards it follows, and where it chooses:
//   - RFC 3261 §10.3 (processing REGISTER): To must be a sip/sips AOR, "*"
//     only alone with Expires: 0 (step 6), 423 with Min-Expires for a too
//     short interval and a silent lowering of a too long one (step 7), 200
//     echoing the Contact with its expires param and a Date (step 8).
//     Call-ID/CSeq ordering (step 7) is not tracked: the store keeps one
//     binding per agent and the newest REGISTER wins. A REGISTER without
//     Contact (a query) gets 400: the store is write-only from here.
//   - RFC 3261 §22.4 and RFC 7616 (digest, qop=auth), RFC 8760 (SHA-256
//     offered before MD5 in two WWW-Authenticate headers). Nonces are
//     stateless HMACs of a timestamp and the source IP; nonce-counts are
//     tracked in a bounded table to refuse replays; a wrong password is
//     re-challenged (401), slowed, and after repeated failures the source
//     is refused (403 + Retry-After). Failures are also counted per account
//     across sources (account.go): the account then refuses guesses for a
//     lockout doubling to a cap, except a correct response from an address
//     that has registered it before. Unknown users are indistinguishable
//     from known ones.
//   - RFC 4475 torture messages: regaut01 (unknown scheme) is challenged,
//     regbadct (unbracketed URI with headers) and unksm2 (non-SIP To) get
//     400, escnull, cparam01/02 and regescrt are parsed and challenged.
//
// Demo agents may register from loopback sources only (403 otherwise).
//
// The registrar lives under sip/ and may import sipgo and icholy/digest; it
// must not import media, ivr, routing or go-redis.
package registrar
