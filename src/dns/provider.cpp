#include "dns/provider.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace natstack::dns {
namespace {

/// "Nats.Example.Test" and "nats.example.test." are one name.
std::string CanonicalName(std::string name) {
  while (!name.empty() && name.back() == '.') name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

}  // namespace

const char* RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kA: return "A";
    case RecordType::kTxt: return "TXT";
  }
  return "?";
}

bool SameRecordSet(const RecordSet& a, const RecordSet& b) {
  return CanonicalName(a.name) == CanonicalName(b.name) && a.type == b.type && a.ttl == b.ttl &&
         std::set<std::string>(a.values.begin(), a.values.end()) ==
             std::set<std::string>(b.values.begin(), b.values.end());
}

}  // namespace natstack::dns
