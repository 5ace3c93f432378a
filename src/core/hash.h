// Fast 64-bit hashing of short byte strings (names, labels), shared by the
// domain index and the DNS answer cache. The constants, the 64x64->128 "mum"
// mix and the read pattern follow wyhash (public domain), which passes
// SMHasher. Internal; HOT PATH: no allocation, no branches on the data beyond
// its length, no byte outside [p, p+n) is read.
//
// The domain index saves hashes to disk: changing anything here changes every
// hash, so bump DomainIndex's file version with it.
#ifndef SARING_CORE_HASH_H_
#define SARING_CORE_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace saring::hash {

inline constexpr std::uint64_t kSecret0 = 0xa0761d6478bd642fULL;
inline constexpr std::uint64_t kSecret1 = 0xe7037ed1a0b428dbULL;
inline constexpr std::uint64_t kSecret2 = 0x8ebc6af09c88c6e3ULL;
inline constexpr std::uint64_t kSecret3 = 0x589965cc75374cc3ULL;

inline std::uint64_t Mum(std::uint64_t a, std::uint64_t b) {
  unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

inline std::uint64_t Read8(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline std::uint64_t Read4(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Hashes n bytes at p under `seed`. Strings of up to 16 bytes (nearly every
// DNS label, most names) cost one multiply; the reads overlap instead of
// padding.
inline std::uint64_t HashBytes(const char* p, std::size_t n, std::uint64_t seed) {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (n <= 16) {
    if (n >= 4) {
      std::size_t step = (n >> 3) << 2;
      a = (Read4(p) << 32) | Read4(p + step);
      b = (Read4(p + n - 4) << 32) | Read4(p + n - 4 - step);
    } else if (n > 0) {
      const auto* u = reinterpret_cast<const unsigned char*>(p);
      a = (std::uint64_t{u[0]} << 16) | (std::uint64_t{u[n >> 1]} << 8) | u[n - 1];
    }
  } else {
    std::size_t i = n;
    const char* q = p;
    while (i > 16) {
      seed = Mum(Read8(q) ^ kSecret1, Read8(q + 8) ^ seed);
      q += 16;
      i -= 16;
    }
    a = Read8(q + i - 16);
    b = Read8(q + i - 8);
  }
  return Mum(a ^ kSecret1, b ^ seed);
}

}  // namespace saring::hash

#endif  // SARING_CORE_HASH_H_
