// tokenize_ids TOKENIZER MAX_LENGTH: TOKENIZER is a tokenizer.json or a
// SentencePiece .model. Reads texts, one JSON string per line of stdin, and
// prints each text's ids on one line (space separated), or "error: <reason>".
// On stderr: the texts, tokens and seconds spent encoding (decoding the JSON
// lines and printing are not counted). Used by tokenizer_diff_test.cjs and
// sentencepiece_diff_test.cjs to compare with Hugging Face tokenizers, and by
// bench/tokenize_bench.cjs.
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nightshift/env.h"
#include "transform/tokenizer.h"

int main(int argc, char** argv) {
  using nightshift::transform::Tokenizer;
  if (argc != 3) {
    std::cerr << "usage: tokenize_ids TOKENIZER(.json or .model) MAX_LENGTH < texts.jsonl\n";
    return 2;
  }
  auto json = nightshift::Env::Default()->ReadFile(argv[1]);
  if (!json.has_value()) {
    std::cerr << json.error().message() << "\n";
    return 2;
  }
  auto tokenizer = Tokenizer::FromFile(*json, argv[1], argv[1]);
  if (!tokenizer.has_value()) {
    std::cerr << tokenizer.error().message() << "\n";
    return 2;
  }
  const int64_t max_length = std::stoll(argv[2]);
  std::vector<std::string> texts;
  for (std::string line; std::getline(std::cin, line);) {
    texts.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  std::vector<std::vector<int64_t>> all(texts.size());
  std::vector<std::string> errors(texts.size());
  int64_t tokens = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < texts.size(); ++i) {
    nightshift::Status s = (*tokenizer)->Encode(texts[i], max_length, &all[i]);
    if (!s.ok()) errors[i] = s.message();
    tokens += static_cast<int64_t>(all[i].size());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string out;
  for (size_t i = 0; i < texts.size(); ++i) {
    out += errors[i].empty() ? fmt::format("{}\n", fmt::join(all[i], " "))
                             : "error: " + errors[i] + "\n";
  }
  std::cout << out;
  std::cerr << fmt::format("texts {} tokens {} seconds {:.6f}\n", texts.size(), tokens, seconds);
  return 0;
}
