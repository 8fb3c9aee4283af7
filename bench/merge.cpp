// bench_merge --out latest.json A.json B.json ...: one JSON object from the benchmarks' own
// (each `{"NAME": {...}}`), so a run's results are one file with one top-level key per
// benchmark. In C++ because neither python3 nor jq is among the packages scripts/setup.sh
// installs; nlohmann-json is.
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/support.hpp"
#include "core/file.hpp"

namespace natstack::bench {
namespace {

Result<nlohmann::json> Merge(const std::vector<std::string>& inputs) {
  nlohmann::json merged = nlohmann::json::object();
  for (const std::string& path : inputs) {
    auto text = ReadConfigFile(path);
    if (!text) return Fail(text.error().Wrap(path));
    auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object())
      return Fail(Code::kInvalidArgument, path + ": expected one JSON object");
    for (auto& [key, value] : doc.items()) {
      // Two benchmarks writing one key would silently lose one's results.
      if (merged.contains(key))
        return Fail(Code::kAlreadyExists, path + ": key \"" + key + "\" also written by another");
      merged[key] = value;
    }
  }
  return merged;
}

}  // namespace
}  // namespace natstack::bench

int main(int argc, char** argv) {
  using namespace natstack::bench;
  CLI::App app{"Merges the benchmarks' JSON objects into one (docs/bench.md)."};
  std::string out;
  std::vector<std::string> inputs;
  app.add_option("--out", out, "The merged file")->required();
  app.add_option("inputs", inputs, "One JSON object per benchmark")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto merged = Merge(inputs);
  if (!merged) return ReportFailure("bench_merge", merged.error());
  if (auto written = WriteJson(out, *merged); !written)
    return ReportFailure("bench_merge", written.error());
  return 0;
}
