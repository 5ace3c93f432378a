// gen_domains: writes the synthetic domain list and query stream that match_bench reads
// (see synthetic.h), so runs on different machines measure the same data.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "synthetic.h"

namespace {

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "gen_domains: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes a deterministic synthetic gambling-domain list and query stream."};
  std::size_t domains = 5'000'000;
  std::size_t queries = 1'000'000;
  std::uint64_t seed = saring::bench::kDefaultSeed;
  std::string out_list;
  std::string out_queries;
  app.add_option("--domains", domains, "distinct names in the list")->capture_default_str();
  app.add_option("--queries", queries, "names in the query stream")->capture_default_str();
  app.add_option("--seed", seed, "generator seed")->capture_default_str();
  app.add_option("--out-list", out_list, "list file, one name a line")->required();
  app.add_option("--out-queries", out_queries, "query file, one name a line")->required();
  CLI11_PARSE(app, argc, argv);

  std::string list;
  std::string query_text;
  saring::bench::GenerateSynthetic(domains, queries, seed, &list, &query_text);
  if (!WriteFile(out_list, list) || !WriteFile(out_queries, query_text)) return 1;
  std::printf("%zu names (%zu bytes) -> %s\n%zu queries (%zu bytes) -> %s\n", domains,
              list.size(), out_list.c_str(), queries, query_text.size(), out_queries.c_str());
  return 0;
}
