// Reference codes ("SRG-0050-16J0"): the short code a block page and a
// blocked DNS answer show, naming the snapshot serial, the deciding rule's
// class id and its kind, so an admin can find what blocked something without
// anyone keeping a per-request record (saringctl reference, GET
// /v1/reference/CODE).
//
// Pure functions; any thread.
#ifndef SARING_REFERENCE_H_
#define SARING_REFERENCE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "saring/rule.h"

namespace saring {

// Layout (Crockford base32 digits, most significant first):
//   3 digits: 0 (1 bit, reserved) | kind (2 bits) | class id (12 bits)
//   4..13 digits: the serial (as few as fit, at least 4)
//   1 check digit: a GF(32) weighted sum over the digits above, so every
//     single-digit error and every swap of two different digits (adjacent or
//     not) is detected.
// Printed as "SRG-" then the digits in groups of 4 joined by '-':
// EncodeReference(1234, 5, kDomain) == "SRG-0050-16J0". 8 digits while the
// serial is below 2^20, then one more per 5 bits, at most 17 (serial 2000000:
// "SRG-BZY1-X140-9"). Only the low 12 bits of class_id are kept (the store's
// ids stop at kMaxClassId, 0x0FFE).
// Crockford's own mod-37 check symbols (*~$=U) are not used: they are awkward
// to type and read aloud.
std::string EncodeReference(std::uint64_t serial, std::uint16_t class_id, RuleKind kind);

// The longest code: "SRG", 17 digits and 5 dashes.
inline constexpr std::size_t kMaxReferenceLength = 25;
// The same code written into `out` without allocating (for a DNS answer);
// returns its length.
std::size_t EncodeReference(std::uint64_t serial, std::uint16_t class_id, RuleKind kind,
                            std::array<char, kMaxReferenceLength>* out);

// Accepts what a person types: any case, with or without the "SRG" prefix
// (exact when present: a code's first digit is always 0-9/A-F, so a leading
// G-Z letter means a prefix), with or without dashes or spaces, Crockford's aliases (O→0, I/L→1). False for a malformed code or a
// failed check; the outputs are then untouched.
bool DecodeReference(std::string_view code, std::uint64_t* serial, std::uint16_t* class_id,
                     RuleKind* kind);

}  // namespace saring

#endif  // SARING_REFERENCE_H_
