// JSON configs (DESIGN §3): a file may name a "parent" (resolved relative to itself) whose keys it
// overrides by JSON merge patch (RFC 7386); `--set a.b=V` overrides one key, V parsed as JSON or
// else taken as a string.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace emogene {

// Loads a config with its parents merged in (the "parent" key removed). Throws bad_input naming
// the file for a missing file, a JSON syntax error (with line and column), a parent cycle.
nlohmann::json load_config(const std::string& path);

// Applies "a.b.c=V" to cfg, creating objects on the way. Throws bad_input naming the assignment
// when it has no '=' or an empty key, or walks through a non-object value.
void apply_override(nlohmann::json& cfg, const std::string& assignment);
void apply_overrides(nlohmann::json& cfg, const std::vector<std::string>& assignments);

// Value at a dotted path, or throws bad_input "<where>: config key 'a.b' is missing".
const nlohmann::json& config_at(const nlohmann::json& cfg, const std::string& dotted, const std::string& where);

}  // namespace emogene
