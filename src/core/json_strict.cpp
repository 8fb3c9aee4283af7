#include "core/json_strict.hpp"

#include <unordered_set>
#include <vector>

#include "core/json_depth.hpp"

namespace natstack {
namespace {

/// A key as shown in an error: quoted, printable ASCII, at most 40 bytes.
std::string ShowKey(std::string_view key) {
  std::string out = "\"";
  for (char c : key.substr(0, 40)) out.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
  if (key.size() > 40) out += "...";
  return out + "\"";
}

/// One open object or array while parsing.
struct Frame {
  bool is_object = false;
  std::unordered_set<std::string> keys;  // objects: the keys seen so far
  std::string last_key;                  // objects: the key whose value is being parsed
};

}  // namespace

std::string StrictJsonResult::Describe(size_t max_depth) const {
  switch (failure) {
    case Failure::kNone: return "is valid";
    case Failure::kTooDeep: return "is nested more than " + std::to_string(max_depth) + " levels deep";
    case Failure::kSyntax: return "is not valid JSON";
    case Failure::kDuplicateKey: return "has the key " + duplicate + " twice";
  }
  return "is not valid JSON";
}

StrictJsonResult ParseStrictJson(std::string_view text, size_t max_depth) {
  StrictJsonResult out;
  // The tree operations of nlohmann recurse: hostile nesting is refused before parsing.
  if (JsonNestingDepth(text) > max_depth) {
    out.failure = StrictJsonResult::Failure::kTooDeep;
    return out;
  }
  std::vector<Frame> stack;
  bool duplicate = false;
  using Event = nlohmann::json::parse_event_t;
  auto callback = [&](int /*depth*/, Event event, nlohmann::json& parsed) {
    if (duplicate) return true;  // the first one is reported; the parse runs to its end
    switch (event) {
      case Event::object_start:
        stack.push_back(Frame{true, {}, {}});
        break;
      case Event::array_start:
        stack.push_back(Frame{false, {}, {}});
        break;
      case Event::object_end:
      case Event::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case Event::key: {
        if (stack.empty() || !stack.back().is_object || !parsed.is_string()) break;
        Frame& frame = stack.back();
        frame.last_key = parsed.get<std::string>();
        if (!frame.keys.insert(frame.last_key).second) {
          duplicate = true;
          for (size_t i = 0; i + 1 < stack.size(); ++i) {
            out.duplicate += stack[i].is_object ? ShowKey(stack[i].last_key) : "[]";
            if (stack[i].is_object && !stack[i + 1].is_object) continue;  // "a"[] reads better
            out.duplicate += ".";
          }
          out.duplicate += ShowKey(frame.last_key);
        }
        break;
      }
      case Event::value:
        break;
    }
    return true;
  };
  out.value = nlohmann::json::parse(text, callback, /*allow_exceptions=*/false);
  if (out.value.is_discarded()) {
    out.failure = StrictJsonResult::Failure::kSyntax;
    out.duplicate.clear();
  } else if (duplicate) {
    out.failure = StrictJsonResult::Failure::kDuplicateKey;
    out.value = nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return out;
}

}  // namespace natstack
