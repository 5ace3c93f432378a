#include "synthetic.h"

#include <absl/container/flat_hash_set.h>

#include <iterator>
#include <random>
#include <span>

namespace saring::bench {
namespace {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  // In [0, n). Lemire's multiply-shift without the rejection step: its bias (n / 2^64) is
  // irrelevant here, and it keeps the output independent of any library's distribution code.
  std::uint64_t Below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(engine_()) * n) >> 64);
  }
  bool Percent(int p) { return Below(100) < static_cast<std::uint64_t>(p); }

  template <typename T>
  const T& Pick(std::span<const T> items) {
    return items[Below(items.size())];
  }

 private:
  std::mt19937_64 engine_;
};

struct Weighted {
  const char* text;
  int weight;
};

const char* PickWeighted(Rng& rng, std::span<const Weighted> items) {
  int total = 0;
  for (const Weighted& w : items) total += w.weight;
  auto r = static_cast<int>(rng.Below(static_cast<std::uint64_t>(total)));
  for (const Weighted& w : items) {
    if (r < w.weight) return w.text;
    r -= w.weight;
  }
  return items.back().text;
}

// Roughly the TLD mix of Indonesian gambling blocklists: .com first, then cheap gTLDs.
constexpr Weighted kTlds[] = {
    {"com", 250}, {"net", 50},  {"org", 30},    {"xyz", 60},     {"site", 45},  {"online", 45},
    {"top", 40},  {"id", 15},   {"co.id", 8},   {"my.id", 30},   {"web.id", 15}, {"biz", 20},
    {"info", 30}, {"vip", 30},  {"club", 20},   {"live", 25},    {"pro", 20},   {"asia", 15},
    {"me", 15},   {"cc", 20},   {"io", 10},     {"co", 15},      {"shop", 20},  {"store", 15},
    {"fun", 15},  {"space", 15}, {"website", 15}, {"icu", 15},    {"link", 20},  {"click", 10},
    {"win", 15},  {"bet", 15},  {"casino", 5},  {"games", 8},    {"game", 5},   {"life", 10},
    {"today", 8}, {"world", 8}, {"one", 8},     {"tv", 8},       {"ws", 5},     {"in", 8},
    {"us", 8},    {"sbs", 15},  {"cfd", 10},    {"lol", 5},      {"monster", 5}, {"buzz", 8},
    {"cloud", 8}, {"art", 5},   {"mobi", 5},    {"tk", 8},       {"ml", 5},     {"ga", 5},
    {"cf", 5},    {"gq", 5},    {"pw", 8},      {"sh", 5},       {"to", 5},     {"la", 5},
    {"ink", 5},   {"quest", 5},
};

// Free hosting where gambling pages hide under a user subdomain.
constexpr const char* kHosting[] = {
    "weebly.com",    "blogspot.com", "pages.dev",       "netlify.app",       "vercel.app",
    "github.io",     "wixsite.com",  "web.app",         "firebaseapp.com",   "herokuapp.com",
    "wordpress.com", "my.id",        "000webhostapp.com", "mystrikingly.com", "carrd.co",
    "glitch.me",     "simdif.com",   "webflow.io",
};

constexpr const char* kWords[] = {
    "slot",    "gacor",  "maxwin",  "togel",  "toto",    "judi",    "bet",     "casino",
    "poker",   "zeus",   "olympus", "pragmatic", "jp",   "hoki",    "qq",      "domino",
    "bandar",  "sbobet", "mpo",     "rtp",    "situs",   "agen",    "link",    "alternatif",
    "login",   "daftar", "vip",     "king",   "dewa",    "naga",    "royal",   "mega",
    "win",     "bola",   "spin",    "cuan",   "sultan",  "mahjong", "ways",    "scatter",
    "bonanza", "pgsoft", "gates",   "starlight", "hoky", "jackpot", "lotto",   "bandarq",
    "pkv",     "dana",   "pulsa",   "deposit", "wd",     "resmi",   "terpercaya", "online",
};

constexpr const char* kNumbers[] = {"88",  "303", "4d",  "777", "99",  "77", "168", "138",
                                    "365", "69",  "123", "55",  "66",  "888", "234", "288",
                                    "5000", "10k", "1",  "2",   "3",   "7",  "9"};

constexpr const char* kSubdomainPrefixes[] = {"www", "m", "login", "daftar", "link", "rtp",
                                              "amp", "wap", "mobile", "alternatif"};

// Ordinary traffic: popular sites in Indonesia, banks, government and universities.
constexpr const char* kOrdinary[] = {
    "google.com",      "youtube.com",      "facebook.com",     "instagram.com",   "whatsapp.net",
    "whatsapp.com",    "tiktok.com",       "twitter.com",      "x.com",           "googleapis.com",
    "gstatic.com",     "googlevideo.com",  "fbcdn.net",        "cdninstagram.com", "akamaihd.net",
    "cloudflare.com",  "microsoft.com",    "windowsupdate.com", "apple.com",      "icloud.com",
    "detik.com",       "kompas.com",       "tribunnews.com",   "liputan6.com",    "okezone.com",
    "cnnindonesia.com", "kumparan.com",    "tempo.co",         "antaranews.com",  "suara.com",
    "jawapos.com",     "sindonews.com",    "viva.co.id",       "merdeka.com",     "idntimes.com",
    "tokopedia.com",   "shopee.co.id",     "bukalapak.com",    "lazada.co.id",    "blibli.com",
    "gojek.com",       "grab.com",         "traveloka.com",    "tiket.com",       "dana.id",
    "ovo.id",          "bca.co.id",        "klikbca.com",      "bri.co.id",       "bankmandiri.co.id",
    "bni.co.id",       "btn.co.id",        "bsi.co.id",        "cimbniaga.co.id", "telkomsel.com",
    "indihome.co.id",  "xl.co.id",         "pln.co.id",        "pertamina.com",   "kai.id",
    "bpjs-kesehatan.go.id", "kemdikbud.go.id", "pajak.go.id",   "kemenkeu.go.id",  "kominfo.go.id",
    "polri.go.id",     "jakarta.go.id",    "surabaya.go.id",   "bandung.go.id",   "semarangkota.go.id",
    "malangkota.go.id", "sidoarjokab.go.id", "jatimprov.go.id", "ui.ac.id",       "itb.ac.id",
    "ugm.ac.id",       "unair.ac.id",      "its.ac.id",        "undip.ac.id",     "unpad.ac.id",
    "ub.ac.id",        "uny.ac.id",        "upi.edu",          "binus.ac.id",     "telkomuniversity.ac.id",
    "wikipedia.org",   "github.com",       "netflix.com",      "spotify.com",     "zoom.us",
};

constexpr const char* kOrdinarySubdomains[] = {
    "www", "m", "api", "cdn", "static", "img", "mail", "login", "news", "auth", "app",
    "www2", "portal", "sso", "simpeg", "elearning", "siakad", "akademik", "e-office", "lpse",
};

constexpr char kLetters[] = "abcdefghijklmnopqrstuvwxyz";
constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

template <typename T, std::size_t N>
std::span<const T> All(const T (&items)[N]) {
  return std::span<const T>(items, N);
}

void AppendRandom(Rng& rng, std::string_view alphabet, std::size_t n, std::string* out) {
  for (std::size_t i = 0; i < n; ++i) out->push_back(alphabet[rng.Below(alphabet.size())]);
}

void AppendNumber(Rng& rng, std::string* out) {
  if (rng.Percent(50)) {
    *out += rng.Pick(All(kNumbers));
  } else {
    *out += std::to_string(rng.Below(rng.Percent(50) ? 1000 : 100000));
  }
}

// The registrable-looking part: "slotgacor88", "judiqk", "88toto", "situs-slot303".
void AppendGamblingLabel(Rng& rng, std::string* out) {
  std::string_view letters(kLetters, 26);
  switch (rng.Below(20)) {
    case 0: case 1: case 2: case 3:
      *out += rng.Pick(All(kWords));
      AppendNumber(rng, out);
      break;
    case 4: case 5: case 6: case 7: case 8: case 9:
      *out += rng.Pick(All(kWords));
      *out += rng.Pick(All(kWords));
      AppendNumber(rng, out);
      break;
    case 10: case 11:
      *out += rng.Pick(All(kWords));
      *out += rng.Pick(All(kWords));
      break;
    case 12:
      *out += rng.Pick(All(kWords));
      out->push_back('-');
      *out += rng.Pick(All(kWords));
      AppendNumber(rng, out);
      break;
    case 13: case 14:
      *out += rng.Pick(All(kWords));
      AppendRandom(rng, letters, 2 + rng.Below(4), out);
      break;
    case 15: case 16:
      AppendRandom(rng, letters, 4 + rng.Below(5), out);
      AppendNumber(rng, out);
      break;
    case 17:
      AppendNumber(rng, out);
      *out += rng.Pick(All(kWords));
      break;
    default:
      *out += rng.Pick(All(kWords));
      AppendNumber(rng, out);
      AppendRandom(rng, letters, 1 + rng.Below(3), out);
      break;
  }
}

std::string GamblingName(Rng& rng) {
  std::string name;
  if (rng.Percent(10)) {
    name += rng.Pick(All(kSubdomainPrefixes));
    name.push_back('.');
  }
  AppendGamblingLabel(rng, &name);
  name.push_back('.');
  if (rng.Percent(12)) {
    name += rng.Pick(All(kHosting));
  } else {
    name += PickWeighted(rng, All(kTlds));
  }
  return name;
}

std::string OrdinaryName(Rng& rng) {
  std::string name;
  int kind = static_cast<int>(rng.Below(10));
  if (kind >= 3 && kind < 5) {
    name = "www.";
  } else if (kind >= 5 && kind < 9) {
    name = rng.Pick(All(kOrdinarySubdomains));
    name.push_back('.');
  } else if (kind == 9) {
    AppendRandom(rng, std::string_view(kAlnum, 36), 4 + rng.Below(8), &name);
    name.push_back('.');
  }
  name += rng.Pick(All(kOrdinary));
  return name;
}

// One character of the leftmost label replaced, or the last label swapped for another TLD.
std::string NearMiss(Rng& rng, std::string_view listed) {
  std::string name(listed);
  if (rng.Percent(50)) {
    std::size_t first_dot = name.find('.');
    std::size_t pos = rng.Below(first_dot);
    char c;
    do {
      c = kAlnum[rng.Below(36)];
    } while (c == name[pos]);
    name[pos] = c;
  } else {
    name.resize(name.rfind('.') + 1);
    name += PickWeighted(rng, All(kTlds));
  }
  return name;
}

}  // namespace

void GenerateSynthetic(std::size_t domains, std::size_t queries, std::uint64_t seed,
                       std::string* list, std::string* query_text) {
  Rng rng(seed);
  absl::flat_hash_set<std::string> seen;
  seen.reserve(domains);
  std::vector<std::size_t> offsets;  // where each listed name starts in *list
  offsets.reserve(domains + 1);
  list->clear();
  list->reserve(domains * 20);
  while (offsets.size() < domains) {
    std::string name = GamblingName(rng);
    if (!seen.insert(name).second) continue;
    offsets.push_back(list->size());
    *list += name;
    list->push_back('\n');
  }
  offsets.push_back(list->size());
  auto listed = [&](std::size_t i) {
    return std::string_view(*list).substr(offsets[i], offsets[i + 1] - offsets[i] - 1);
  };

  query_text->clear();
  query_text->reserve(queries * 24);
  for (std::size_t q = 0; q < queries; ++q) {
    std::uint64_t kind = rng.Below(100);
    std::string name;
    if (domains > 0 && kind < 25) {
      name = listed(rng.Below(domains));
    } else if (domains > 0 && kind < 40) {
      std::uint64_t sub = rng.Below(3);
      if (sub == 0) {
        name = "www.";
      } else if (sub == 1) {
        name = "m.";
      } else {
        AppendRandom(rng, std::string_view(kAlnum, 36), 3 + rng.Below(6), &name);
        name.push_back('.');
      }
      name += listed(rng.Below(domains));
    } else if (domains > 0 && kind < 60) {
      do {
        name = NearMiss(rng, listed(rng.Below(domains)));
      } while (seen.contains(name));
    } else {
      name = OrdinaryName(rng);
    }
    *query_text += name;
    query_text->push_back('\n');
  }
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

}  // namespace saring::bench
