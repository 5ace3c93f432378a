// Synthetic data for the matching benchmarks: a national-size list of gambling-like domains
// and a query stream mixing hits, subdomain hits, near misses and ordinary traffic.
//
// Deterministic: the same sizes and seed give byte-identical output with any standard
// library (std::mt19937_64 is fully specified; the distributions here are our own).
#ifndef SARING_BENCH_SYNTHETIC_H_
#define SARING_BENCH_SYNTHETIC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace saring::bench {

inline constexpr std::uint64_t kDefaultSeed = 20240617;

// `*list` gets `domains` distinct normalized names, `*queries` gets `queries` names, each
// newline-terminated. Queries: 25% listed names, 15% subdomains of listed names (www., m.,
// a random label), 20% near misses (one character changed, or another TLD; never a listed
// name itself), 40% ordinary Indonesian traffic (detik.com, bca.co.id, *.go.id, ...).
void GenerateSynthetic(std::size_t domains, std::size_t queries, std::uint64_t seed,
                       std::string* list, std::string* query_text);

// The lines of `text`, without their newlines; empty lines are skipped.
std::vector<std::string_view> SplitLines(std::string_view text);

}  // namespace saring::bench

#endif  // SARING_BENCH_SYNTHETIC_H_
