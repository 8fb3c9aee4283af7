#pragma once
/// Strict reading of JSON configuration: every error names the file and the key, unknown keys
/// are errors, and parse errors give line and column.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace natstack {

enum class Required { kNo, kYes };

/// Parses JSON text; a syntax error becomes kInvalidArgument "SOURCE:LINE:COL: <what>".
/// The document must be an object.
Result<nlohmann::json> ParseJsonDocument(std::string_view text, std::string_view source);

/// Reads keys of one JSON object. Each getter leaves the output untouched when the key is
/// absent (so struct defaults stay) and records the key as known; Finish() reports the first
/// key nobody asked for.
/// Where each key of a document stands: "nodes[1].cluster_port" -> line 12 (1-based). Paths
/// are spelled as ConfigReader spells them in errors.
using KeyLines = std::map<std::string, int>;

class ConfigReader {
 public:
  /// With `lines`, every error also names the line of the key (or of the nearest enclosing key
  /// that has one): "spec.toml:12: nodes[1].cluster_port: must be between 1 and 65535".
  /// `lines` must outlive the reader and the readers it makes.
  ConfigReader(const nlohmann::json& object, std::string source, std::string path,
               const KeyLines* lines = nullptr)
      : object_(object), source_(std::move(source)), path_(std::move(path)), lines_(lines) {}

  Status String(const std::string& key, std::string& out, Required required = Required::kNo);
  Status StringList(const std::string& key, std::vector<std::string>& out,
                    Required required = Required::kNo);
  Status Int(const std::string& key, int64_t& out, int64_t min, int64_t max,
             Required required = Required::kNo);
  /// Any JSON number (integer or not) within [min, max].
  Status Number(const std::string& key, double& out, double min, double max,
                Required required = Required::kNo);
  Status Bool(const std::string& key, bool& out, Required required = Required::kNo);
  Status Object(const std::string& key, Required required,
                const std::function<Status(ConfigReader&)>& parse);
  /// A list of objects; `parse` gets a reader for each (errors name `key[i].sub`) and its index.
  Status ObjectList(const std::string& key, Required required,
                    const std::function<Status(ConfigReader&, size_t index)>& parse);
  /// An object used as a map: `parse` gets each member's name and a reader for its value,
  /// which must be an object (errors name `key.name.sub`). Members are visited in name order.
  Status ObjectMap(const std::string& key, Required required,
                   const std::function<Status(const std::string& name, ConfigReader&)>& parse);
  /// The raw value of `key` (nullptr when absent), marked as known: for shapes the typed
  /// getters do not cover, such as lists of objects.
  const nlohmann::json* Raw(const std::string& key);
  Status Finish() const;

  /// "SOURCE: path.key: why" (or "SOURCE:LINE: path.key: why") as an Error / a failed Status.
  Error InvalidError(const std::string& key, const std::string& why) const;
  tl::unexpected<Error> Invalid(const std::string& key, const std::string& why) const {
    return tl::unexpected<Error>(InvalidError(key, why));
  }

 private:
  const nlohmann::json* Find(const std::string& key, Required required, Status* status);

  const nlohmann::json& object_;
  std::string source_;
  std::string path_;
  const KeyLines* lines_;
  std::set<std::string> known_;
};

}  // namespace natstack
