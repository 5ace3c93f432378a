#include "saring/reference.h"

#include <iterator>

namespace saring {

namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::string_view kPrefix = "SRG";
constexpr int kHeadDigits = 3;
constexpr int kMinSerialDigits = 4;
constexpr int kMaxSerialDigits = 13;  // 65 bits >= 64

// Multiplication by x in GF(32) = GF(2)[x] / (x^5 + x^2 + 1), x primitive.
unsigned MulX(unsigned v) {
  v <<= 1;
  if (v & 0x20) v ^= 0x25;
  return v;
}

// The check digit of `digits` (values 0..31): sum of d_j * x^(n-j), j = 0..n-1.
// Weights are distinct non-zero powers of x (n < 31), so a single changed
// digit or two swapped different digits always change the sum.
unsigned CheckDigit(const unsigned* digits, int n) {
  unsigned acc = 0;
  for (int i = 0; i < n; ++i) acc = MulX(acc ^ digits[i]);
  return acc;
}

int DigitValue(char c) {
  switch (c) {
    case 'O': case 'o': return 0;
    case 'I': case 'i': case 'L': case 'l': return 1;
    default: break;
  }
  char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  std::size_t pos = kAlphabet.find(u);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

std::size_t EncodeReference(std::uint64_t serial, std::uint16_t class_id, RuleKind kind,
                            std::array<char, kMaxReferenceLength>* out) {
  unsigned digits[kHeadDigits + kMaxSerialDigits + 1];
  unsigned head = (static_cast<unsigned>(kind) & 3u) << 12 | (class_id & 0x0FFFu);
  digits[0] = (head >> 10) & 31;
  digits[1] = (head >> 5) & 31;
  digits[2] = head & 31;
  int serial_digits = kMinSerialDigits;
  while (serial_digits < kMaxSerialDigits && (serial >> (5 * serial_digits)) != 0) ++serial_digits;
  for (int i = 0; i < serial_digits; ++i) {
    digits[kHeadDigits + i] = static_cast<unsigned>((serial >> (5 * (serial_digits - 1 - i))) & 31);
  }
  int n = kHeadDigits + serial_digits;
  digits[n] = CheckDigit(digits, n);
  ++n;

  std::size_t size = 0;
  for (char c : kPrefix) (*out)[size++] = c;
  for (int i = 0; i < n; ++i) {
    if (i % 4 == 0) (*out)[size++] = '-';
    (*out)[size++] = kAlphabet[digits[i]];
  }
  return size;
}

std::string EncodeReference(std::uint64_t serial, std::uint16_t class_id, RuleKind kind) {
  std::array<char, kMaxReferenceLength> text;
  return std::string(text.data(), EncodeReference(serial, class_id, kind, &text));
}

bool DecodeReference(std::string_view code, std::uint64_t* serial, std::uint16_t* class_id, RuleKind* kind) {
  constexpr int kMaxDigits = kHeadDigits + kMaxSerialDigits + 1;
  unsigned digits[kMaxDigits + kPrefix.size()];
  int n = 0;
  bool prefix = false;
  for (char c : code) {
    if (c == '-' || c == ' ' || c == '\t') continue;
    if (n == 0 && !prefix) {
      // A code's first digit is < 16 (the reserved bit and the kind); a letter
      // from G on starts the "SRG" prefix, which must then be exact.
      int v = DigitValue(c);
      if (v >= 16) {
        prefix = true;
        digits[n++] = static_cast<unsigned>(v);
        continue;
      }
    }
    int v = DigitValue(c);
    if (v < 0 || n == static_cast<int>(std::size(digits))) return false;
    digits[n++] = static_cast<unsigned>(v);
  }
  unsigned* body = digits;
  if (prefix) {
    if (n < 3 || kAlphabet[digits[0]] != 'S' || kAlphabet[digits[1]] != 'R' || kAlphabet[digits[2]] != 'G') {
      return false;
    }
    // Raw prefix letters must have been S, R, G (not aliases): the alphabet
    // has no alias for them, so the values are exact.
    body += 3;
    n -= 3;
  }
  if (n < kHeadDigits + kMinSerialDigits + 1 || n > kMaxDigits) return false;
  if (CheckDigit(body, n - 1) != body[n - 1]) return false;
  unsigned head = body[0] << 10 | body[1] << 5 | body[2];
  if (head >> 14) return false;  // reserved bit
  unsigned k = (head >> 12) & 3;
  if (k > static_cast<unsigned>(RuleKind::kUrl)) return false;
  int serial_digits = n - 1 - kHeadDigits;
  const unsigned* s = body + kHeadDigits;
  if (serial_digits > kMinSerialDigits && s[0] == 0) return false;     // not canonical
  if (serial_digits == kMaxSerialDigits && s[0] > 15) return false;    // over 64 bits
  std::uint64_t value = 0;
  for (int i = 0; i < serial_digits; ++i) value = value << 5 | s[i];
  *serial = value;
  *class_id = static_cast<std::uint16_t>(head & 0x0FFF);
  *kind = static_cast<RuleKind>(k);
  return true;
}

}  // namespace saring
