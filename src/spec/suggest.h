// Closest-match suggestions for misspelt keys and values ("did you mean ...?").
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nightshift::spec {

// Optimal-string-alignment distance between `a` and `b`, compared
// case-insensitively: insertions, deletions, substitutions and transpositions
// of adjacent characters each cost 1.
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, when it is close enough to be a plausible
// typo: distance at most min(3, max(1, |word| / 2)). Ties go to the earliest
// candidate. nullopt when nothing is close.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        std::span<const std::string_view> candidates);

}  // namespace nightshift::spec
