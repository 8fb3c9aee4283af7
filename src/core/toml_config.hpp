#pragma once
/// TOML configuration files (the cluster spec): parsed into the same JSON tree the JSON configs
/// use, so one ConfigReader checks both, plus the line of every key for its errors.
///
/// TOML itself refuses a key defined twice and a table opened twice (a parse error with line
/// and column). Values map as: string, integer (int64), float, boolean; arrays and tables as
/// arrays and objects; dates and times as their RFC 3339 text.

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/json_config.hpp"

namespace natstack {

struct ConfigDocument {
  nlohmann::json root;  ///< always an object
  KeyLines lines;       ///< "nodes[1].cluster_port" -> 12
};

/// Parses TOML text; a syntax error is kInvalidArgument "SOURCE:LINE:COL: <what>". Nesting
/// deeper than 32 levels is refused.
Result<ConfigDocument> ParseTomlDocument(std::string_view text, std::string_view source);

}  // namespace natstack
