// Domain-name normalization: the one gate every name passes before it becomes
// a rule or is looked up.
//
// A normalized name is lower case ASCII, has no trailing dot, has IDN labels as
// punycode A-labels ("xn--..."), has labels of 1..63 octets made of letters,
// digits, '-' (not first or last) and '_', and is at most 253 octets long.
// Invalid input is rejected with a reason; it is never guessed at.
// Free functions, no state: callable from any thread.
#ifndef SARING_NAME_H_
#define SARING_NAME_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "saring/status.h"

namespace saring {

// RFC 1035 limits, text form without the trailing dot.
inline constexpr std::size_t kMaxNameLength = 253;
inline constexpr std::size_t kMaxLabelLength = 63;

// Normalizes `input` (as typed by an admin or found in a feed: any case, an
// optional trailing dot, possibly Unicode in UTF-8) into `*out`. Leading and
// trailing ASCII white space is ignored. `*out` keeps its capacity, so a caller
// that reuses one string does not allocate for ASCII names.
Status NormalizeDomain(std::string_view input, std::string* out);

// True if `name` is already in normalized form (cheap check, no allocation).
bool IsNormalizedDomain(std::string_view name);

// True if `text` is an IPv4 or IPv6 address literal (feeds mix them in).
bool LooksLikeIpAddress(std::string_view text);

// True if `name` equals `parent` or is a subdomain of it (both normalized).
bool IsSameOrSubdomain(std::string_view name, std::string_view parent);

}  // namespace saring

#endif  // SARING_NAME_H_
