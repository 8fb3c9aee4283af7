#pragma once
/// Internal to natsjwt: typed, non-throwing reads of untrusted JSON fields, with Go's decoding
/// leniency where it is harmless (a missing or null field is the zero value) and none where it
/// is not (a field of the wrong type is kInvalidArgument naming the field).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace natstack::natsjwt::internal {

/// `object[key]` as a string; "" when absent or null. `where` prefixes the field name in errors.
Result<std::string> GetString(const nlohmann::json& object, std::string_view key,
                              std::string_view where);
/// An integer that fits int64 (no fractions, no exponents); 0 when absent or null.
Result<int64_t> GetInt64(const nlohmann::json& object, std::string_view key,
                         std::string_view where);
/// A non-negative integer that fits uint64; 0 when absent or null.
Result<uint64_t> GetUint64(const nlohmann::json& object, std::string_view key,
                           std::string_view where);
/// An array of strings; empty when absent or null.
Result<std::vector<std::string>> GetStringList(const nlohmann::json& object, std::string_view key,
                                               std::string_view where);
/// The object at `key`; nullptr when absent or null; kInvalidArgument when not an object.
Result<const nlohmann::json*> GetObject(const nlohmann::json& object, std::string_view key,
                                        std::string_view where);

}  // namespace natstack::natsjwt::internal
