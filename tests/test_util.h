// Helpers shared by the tests. Every test gets its own directory (STYLE.md §7),
// so tests run in parallel under `ctest -j`.
#ifndef CASELEDGER_TESTS_TEST_UTIL_H_
#define CASELEDGER_TESTS_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace caseledger::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "caseledger-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace caseledger::testing

#endif  // CASELEDGER_TESTS_TEST_UTIL_H_
