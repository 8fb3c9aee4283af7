#include "core/toml_config.hpp"

#include <sstream>
#include <string>

#include <toml++/toml.h>

#include "core/json_depth.hpp"

namespace natstack {
namespace {

constexpr size_t kMaxDepth = 32;

void Note(KeyLines& lines, const std::string& path, const toml::source_region& where) {
  if (where.begin.line > 0) lines.emplace(path, static_cast<int>(where.begin.line));
}

/// `path` is the ConfigReader spelling of `node`'s place ("" for the root).
nlohmann::json Convert(const toml::node& node, const std::string& path, KeyLines& lines) {
  if (const toml::table* t = node.as_table()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto&& [key, value] : *t) {
      const std::string name(key.str());
      const std::string child = path.empty() ? name : path + "." + name;
      Note(lines, child, key.source());
      out[name] = Convert(value, child, lines);
    }
    return out;
  }
  if (const toml::array* a = node.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string child = path + "[" + std::to_string(i) + "]";
      Note(lines, child, (*a)[i].source());
      out.push_back(Convert((*a)[i], child, lines));
    }
    return out;
  }
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return i->get();
  if (const auto* f = node.as_floating_point()) return f->get();
  if (const auto* b = node.as_boolean()) return b->get();
  std::ostringstream text;  // date, time, date-time
  if (const auto* d = node.as_date()) text << d->get();
  if (const auto* t = node.as_time()) text << t->get();
  if (const auto* dt = node.as_date_time()) text << dt->get();
  return text.str();
}

}  // namespace

Result<ConfigDocument> ParseTomlDocument(std::string_view text, std::string_view source) {
  ConfigDocument doc;
  try {
    const toml::table table = toml::parse(text, source);
    doc.root = Convert(table, "", doc.lines);
  } catch (const toml::parse_error& e) {
    return Fail(Code::kInvalidArgument,
                std::string(source) + ":" + std::to_string(e.source().begin.line) + ":" +
                    std::to_string(e.source().begin.column) + ": " +
                    std::string(e.description()));
  } catch (const std::exception& e) {
    return Fail(Code::kInvalidArgument, std::string(source) + ": " + e.what());
  }
  // toml++ bounds its own nesting (256); configuration has no use for more than a few levels.
  if (JsonNestingDepth(doc.root.dump()) > kMaxDepth)
    return Fail(Code::kInvalidArgument, std::string(source) + ": nested more than " +
                                            std::to_string(kMaxDepth) + " levels deep");
  return doc;
}

}  // namespace natstack
