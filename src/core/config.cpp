#include "emogene/core/config.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"

namespace emogene {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json parse_file(const std::string& path) {
  auto bytes = read_file(path);
  if (bytes.empty()) throw bad_input(path, "empty config file");
  try {
    return json::parse(bytes.begin(), bytes.end());
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string w = e.what();
    auto p = w.find("] ");
    throw bad_input(path, "invalid JSON: " + (p == std::string::npos ? w : w.substr(p + 2)));
  }
}

json load_with_parents(const std::string& path, std::set<std::string>& seen) {
  std::string canon = fs::weakly_canonical(path).string();
  if (!seen.insert(canon).second) throw bad_input(path, "config \"parent\" chain loops back to this file");
  json cfg = parse_file(path);
  if (!cfg.is_object()) throw bad_input(path, "a config must be a JSON object");
  if (!cfg.contains("parent")) return cfg;
  if (!cfg["parent"].is_string()) throw bad_input(path, "\"parent\" must be a file name");
  fs::path parent = cfg["parent"].get<std::string>();
  if (parent.is_relative()) parent = fs::path(path).parent_path() / parent;
  cfg.erase("parent");
  json base = load_with_parents(parent.string(), seen);
  base.merge_patch(cfg);
  return base;
}

}  // namespace

json load_config(const std::string& path) {
  std::set<std::string> seen;
  return load_with_parents(path, seen);
}

void apply_override(json& cfg, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw bad_input("--set " + assignment, "expected KEY=VALUE, e.g. optim.lr=0.001");
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception&) {
    value = text;  // not JSON: a plain string
  }
  json* node = &cfg;
  std::size_t start = 0;
  for (;;) {
    auto dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw bad_input("--set " + assignment, "empty key component");
    if (!node->is_object()) throw bad_input("--set " + assignment, "'" + key.substr(0, start ? start - 1 : 0) + "' is not an object");
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    node = &(*node)[part];
    if (node->is_null()) *node = json::object();
    start = dot + 1;
  }
}

void apply_overrides(json& cfg, const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) apply_override(cfg, a);
}

const json& config_at(const json& cfg, const std::string& dotted, const std::string& where) {
  const json* node = &cfg;
  std::size_t start = 0;
  for (;;) {
    auto dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(part))
      throw bad_input(where, "config key '" + dotted + "' is missing");
    node = &(*node)[part];
    if (dot == std::string::npos) return *node;
    start = dot + 1;
  }
}

}  // namespace emogene
