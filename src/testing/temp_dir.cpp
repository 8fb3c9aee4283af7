#include "testing/temp_dir.hpp"

#include <cstdlib>
#include <filesystem>

namespace natstack::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "natstack-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();  // a test cannot go on without it
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace natstack::testing
