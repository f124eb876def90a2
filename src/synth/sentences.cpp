// Sentences for the synthetic corpus, generated from a small grammar and word lists written for
// this project. Deterministic in the seed.
#include <array>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "synth/sentences.h"

namespace emogene::synth {

namespace {

const std::vector<std::string> kAdj = {
    "big", "small", "old", "young", "bright", "quiet", "busy", "happy", "purple", "warm", "cold", "broken",
    "gentle", "proud", "tiny", "heavy", "hidden", "open", "round", "wooden", "golden", "simple", "modern",
    "famous", "lazy", "brave", "careful", "curious", "empty", "fresh"};
const std::vector<std::string> kNoun = {
    "boat", "map", "baby", "window", "farmer", "pilot", "bottle", "market", "bridge", "mountain", "mirror",
    "puppy", "teacher", "bicycle", "piano", "pocket", "village", "museum", "orange", "pumpkin", "wombat",
    "umbrella", "engine", "balloon", "blanket", "doctor", "robot", "morning", "picture", "problem", "monkey",
    "basket", "feather", "window", "office", "vampire", "tomato", "butter", "captain", "forest"};
const std::vector<std::string> kVerb = {
    "moves", "follows", "paints", "opens", "watches", "pushes", "builds", "finds", "borrows", "measures",
    "carries", "remembers", "breaks", "visits", "improves", "buys", "shows", "loves", "misses", "cleans"};
const std::vector<std::string> kPlace = {
    "by the bay", "behind the barn", "beneath the bridge", "over the moon", "in the museum", "at the market",
    "before breakfast", "by Monday", "with a smile", "without a map", "through the window", "near the pool",
    "under my umbrella", "above the boat", "beside the book"};
const std::vector<std::string> kName = {
    "Bob", "Mary", "Paul", "Emma", "Peter", "Maya", "Ben", "Olivia", "Tom", "Amber", "Martin", "Phoebe",
    "Sam", "Lewis", "Ruth", "Oscar"};

const std::string& pick(const std::vector<std::string>& v, std::mt19937_64& rng) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

std::string make_one(std::mt19937_64& rng) {
  switch (std::uniform_int_distribution<int>(0, 5)(rng)) {
    case 0: return "The " + pick(kAdj, rng) + " " + pick(kNoun, rng) + " " + pick(kVerb, rng) + " the " + pick(kNoun, rng) + " " + pick(kPlace, rng) + ".";
    case 1: return pick(kName, rng) + " " + pick(kVerb, rng) + " a " + pick(kAdj, rng) + " " + pick(kNoun, rng) + ", and the " + pick(kNoun, rng) + " is " + pick(kAdj, rng) + ".";
    case 2: return "Maybe " + pick(kName, rng) + " " + pick(kVerb, rng) + " the " + pick(kNoun, rng) + " " + pick(kPlace, rng) + ".";
    case 3: return "Why does the " + pick(kNoun, rng) + " look so " + pick(kAdj, rng) + " " + pick(kPlace, rng) + "?";
    case 4: return "My " + pick(kAdj, rng) + " " + pick(kNoun, rng) + " " + pick(kVerb, rng) + " every " + pick(kNoun, rng) + ".";
    default: return pick(kName, rng) + " and " + pick(kName, rng) + " " + pick(kVerb, rng) + " the " + pick(kAdj, rng) + " " + pick(kNoun, rng) + " " + pick(kPlace, rng) + ".";
  }
}

}  // namespace

std::vector<std::string> make_sentences(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (std::size_t tries = 0; out.size() < count && tries < count * 50; ++tries) {
    std::string s = make_one(rng);
    if (seen.insert(s).second) out.push_back(s);
  }
  return out;
}

}  // namespace emogene::synth
