// A driver for libFuzzer targets where libFuzzer is not available (g++, or
// clang < 19: see README.md): runs LLVMFuzzerTestOneInput on every file
// given, then on `NS_FUZZ_RUNS` (default 2000) random mutations of them
// (bytes flipped, cut, repeated, spliced), seeded by `NS_FUZZ_SEED`. Built
// with -fsanitize=address,undefined it is a cheap, deterministic regression
// and smoke test; it has no coverage feedback, so it is no substitute for a
// libFuzzer run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<uint8_t> Mutate(std::vector<uint8_t> v, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits && !v.empty(); ++e) {
    const size_t at = rng() % v.size();
    switch (rng() % 5) {
      case 0: v[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;  // flip a bit
      case 1: v[at] = static_cast<uint8_t>(rng()); break;               // random byte
      case 2: v.resize(at); break;                                      // truncate
      case 3:
        v.insert(v.begin() + at, v.begin(), v.begin() + (rng() % (v.size() - at + 1)) % 64);
        break;                                            // repeat a run
      default: v[at] = (rng() & 1) ? 0xff : 0x00; break;  // marker-ish bytes
    }
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::vector<uint8_t>> seeds;
  for (int i = 1; i < argc; ++i) {
    std::ifstream f(argv[i], std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(seeds.back().data(), seeds.back().size());
  }
  const char* runs_env = std::getenv("NS_FUZZ_RUNS");
  const char* seed_env = std::getenv("NS_FUZZ_SEED");
  const long runs = runs_env ? std::atol(runs_env) : 2000;
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 1);
  for (long r = 0; r < runs && !seeds.empty(); ++r) {
    const std::vector<uint8_t> input = Mutate(seeds[rng() % seeds.size()], rng);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("%zu seeds, %ld mutations: no crash\n", seeds.size(), runs);
  return 0;
}
