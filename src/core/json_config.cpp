#include "core/json_config.hpp"

#include "core/json_strict.hpp"

namespace natstack {
namespace {
constexpr size_t kMaxConfigDepth = 32;
}  // namespace

Result<nlohmann::json> ParseJsonDocument(std::string_view text, std::string_view source) {
  StrictJsonResult parsed = ParseStrictJson(text, kMaxConfigDepth);
  if (parsed.failure == StrictJsonResult::Failure::kTooDeep)
    return Fail(Code::kInvalidArgument, std::string(source) + ": nested more than " +
                                            std::to_string(kMaxConfigDepth) + " levels deep");
  // A repeated key is an edit gone wrong: which copy was meant is not for us to guess.
  if (parsed.failure == StrictJsonResult::Failure::kDuplicateKey)
    return Fail(Code::kInvalidArgument,
                std::string(source) + ": the key " + parsed.duplicate + " appears twice");
  nlohmann::json doc = std::move(parsed.value);
  if (doc.is_discarded()) {
    // Re-parse with exceptions only to learn where it failed (the error path is cold).
    size_t byte = 0;
    std::string what = "invalid JSON";
    try {
      const auto ignored = nlohmann::json::parse(text);
      (void)ignored;
    } catch (const nlohmann::json::parse_error& e) {
      byte = e.byte;
      what = e.what();
      const auto pos = what.find("syntax error");
      if (pos != std::string::npos) what = what.substr(pos);
    } catch (...) {
    }
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Fail(Code::kInvalidArgument, std::string(source) + ":" + std::to_string(line) + ":" +
                                            std::to_string(col) + ": " + what);
  }
  if (!doc.is_object())
    return Fail(Code::kInvalidArgument, std::string(source) + ": expected a JSON object");
  return doc;
}

Error ConfigReader::InvalidError(const std::string& key, const std::string& why) const {
  const std::string where = path_ + key;
  std::string line;
  if (lines_ != nullptr) {
    // The key itself, else the nearest enclosing one ("a.b[2].c" -> "a.b[2]" -> "a.b" -> "a").
    for (std::string p = where; !p.empty();) {
      if (auto it = lines_->find(p); it != lines_->end()) {
        line = ":" + std::to_string(it->second);
        break;
      }
      const size_t cut = p.find_last_of(".[");
      p = cut == std::string::npos ? std::string() : p.substr(0, cut);
    }
  }
  return Error{Code::kInvalidArgument, source_ + line + ": " + where + ": " + why};
}

const nlohmann::json* ConfigReader::Find(const std::string& key, Required required,
                                         Status* status) {
  known_.insert(key);
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) {
    if (required == Required::kYes) *status = Invalid(key, "is required");
    return nullptr;
  }
  return &*it;
}

Status ConfigReader::String(const std::string& key, std::string& out, Required required) {
  Status st;
  const auto* v = Find(key, required, &st);
  if (v == nullptr) return st;
  if (!v->is_string()) return Invalid(key, "expected a string");
  out = v->get<std::string>();
  if (required == Required::kYes && out.empty()) return Invalid(key, "must not be empty");
  return Ok();
}

Status ConfigReader::StringList(const std::string& key, std::vector<std::string>& out,
                                Required required) {
  Status st;
  const auto* v = Find(key, required, &st);
  if (v == nullptr) return st;
  if (!v->is_array()) return Invalid(key, "expected a list of strings");
  std::vector<std::string> list;
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string())
      return Invalid(key + "[" + std::to_string(i) + "]", "expected a string");
    list.push_back((*v)[i].get<std::string>());
  }
  out = std::move(list);
  return Ok();
}

Status ConfigReader::Int(const std::string& key, int64_t& out, int64_t min, int64_t max,
                         Required required) {
  Status st;
  const auto* v = Find(key, required, &st);
  if (v == nullptr) return st;
  const std::string range = "between " + std::to_string(min) + " and " + std::to_string(max);
  // 1e30 or 2.5: a number, but not an integer in range (not "not an integer" alone).
  if (v->is_number_float()) return Invalid(key, "expected an integer " + range);
  if (!v->is_number_integer()) return Invalid(key, "expected an integer");
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return Invalid(key, "must be " + range);
  const int64_t n = v->get<int64_t>();
  if (n < min || n > max)
    return Invalid(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  out = n;
  return Ok();
}

Status ConfigReader::Number(const std::string& key, double& out, double min, double max,
                            Required required) {
  Status st;
  const auto* v = Find(key, required, &st);
  if (v == nullptr) return st;
  if (!v->is_number()) return Invalid(key, "expected a number");
  const double n = v->get<double>();
  if (!(n >= min && n <= max)) {
    auto fmt = [](double d) {
      std::string t = std::to_string(d);
      while (t.size() > 1 && t.back() == '0') t.pop_back();
      if (!t.empty() && t.back() == '.') t.pop_back();
      return t;
    };
    return Invalid(key, "must be between " + fmt(min) + " and " + fmt(max));
  }
  out = n;
  return Ok();
}

Status ConfigReader::ObjectMap(
    const std::string& key, Required required,
    const std::function<Status(const std::string& name, ConfigReader&)>& parse) {
  Status st;
  const auto* v = Find(key, required, &st);
  if (v == nullptr) return st;
  if (!v->is_object()) return Invalid(key, "expected an object");
  for (const auto& [name, value] : v->items()) {
    if (!value.is_object()) return Invalid(key + "." + name, "expected an object");
    ConfigReader sub(value, source_, path_ + key + "." + name + ".", lines_);
    NATSTACK_TRY(parse(name, sub));
  }
  return Ok();
}

Status ConfigReader::Bool(const std::string& key, bool& out, Required required) {
  Status st;
  const auto* v = Find(key, required, &st);
  if (v == nullptr) return st;
  if (!v->is_boolean()) return Invalid(key, "expected true or false");
  out = v->get<bool>();
  return Ok();
}

Status ConfigReader::Object(const std::string& key, Required required,
                            const std::function<Status(ConfigReader&)>& parse) {
  Status st;
  const auto* v = Find(key, required, &st);
  if (v == nullptr) return st;
  if (!v->is_object()) return Invalid(key, "expected an object");
  ConfigReader sub(*v, source_, path_ + key + ".", lines_);
  return parse(sub);
}

Status ConfigReader::ObjectList(const std::string& key, Required required,
                                const std::function<Status(ConfigReader&, size_t)>& parse) {
  Status st;
  const auto* v = Find(key, required, &st);
  if (v == nullptr) return st;
  if (!v->is_array()) return Invalid(key, "expected a list of objects");
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string item = key + "[" + std::to_string(i) + "]";
    if (!(*v)[i].is_object()) return Invalid(item, "expected an object");
    ConfigReader sub((*v)[i], source_, path_ + item + ".", lines_);
    NATSTACK_TRY(parse(sub, i));
  }
  return Ok();
}

const nlohmann::json* ConfigReader::Raw(const std::string& key) {
  Status ignored;
  return Find(key, Required::kNo, &ignored);
}

Status ConfigReader::Finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (known_.count(it.key()) == 0) return Invalid(it.key(), "unknown key");
  }
  return Ok();
}

}  // namespace natstack
