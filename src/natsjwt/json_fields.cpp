#include "natsjwt/json_fields.hpp"

namespace natstack::natsjwt::internal {
namespace {

/// The member at `key`, or nullptr when absent or null.
const nlohmann::json* Find(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

tl::unexpected<Error> WrongType(std::string_view where, std::string_view key,
                                std::string_view expected) {
  return Fail(Code::kInvalidArgument,
              std::string(where) + std::string(key) + " must be " + std::string(expected));
}

}  // namespace

Result<std::string> GetString(const nlohmann::json& object, std::string_view key,
                              std::string_view where) {
  const nlohmann::json* value = Find(object, key);
  if (value == nullptr) return std::string();
  if (!value->is_string()) return WrongType(where, key, "a string");
  return value->get_ref<const std::string&>();
}

Result<int64_t> GetInt64(const nlohmann::json& object, std::string_view key,
                         std::string_view where) {
  const nlohmann::json* value = Find(object, key);
  if (value == nullptr) return int64_t{0};
  if (value->is_number_integer() && !value->is_number_unsigned()) return value->get<int64_t>();
  if (value->is_number_unsigned()) {
    const auto v = value->get<uint64_t>();
    if (v <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v);
  }
  return WrongType(where, key, "an integer");
}

Result<uint64_t> GetUint64(const nlohmann::json& object, std::string_view key,
                           std::string_view where) {
  const nlohmann::json* value = Find(object, key);
  if (value == nullptr) return uint64_t{0};
  if (value->is_number_unsigned()) return value->get<uint64_t>();
  return WrongType(where, key, "a non-negative integer");
}

Result<std::vector<std::string>> GetStringList(const nlohmann::json& object, std::string_view key,
                                               std::string_view where) {
  const nlohmann::json* value = Find(object, key);
  std::vector<std::string> out;
  if (value == nullptr) return out;
  if (!value->is_array()) return WrongType(where, key, "an array of strings");
  out.reserve(value->size());
  for (const auto& item : *value) {
    if (!item.is_string()) return WrongType(where, key, "an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<const nlohmann::json*> GetObject(const nlohmann::json& object, std::string_view key,
                                        std::string_view where) {
  const nlohmann::json* value = Find(object, key);
  if (value != nullptr && !value->is_object()) return WrongType(where, key, "an object");
  return value;
}

}  // namespace natstack::natsjwt::internal
