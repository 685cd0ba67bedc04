#include "services/log.h"

#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace caseledger::services {

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) { return absl::StrFormat("%.6g", v); }

void Log(absl::string_view level, absl::string_view msg, const std::vector<LogField>& fields) {
  std::string line = absl::StrCat("{\"ts\":", JsonString(absl::FormatTime(absl::RFC3339_full, absl::Now(),
                                                                            absl::UTCTimeZone())),
                                  ",\"level\":", JsonString(level), ",\"msg\":", JsonString(msg));
  for (const auto& [key, value] : fields) absl::StrAppend(&line, ",", JsonString(key), ":", value);
  line += "}\n";
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace caseledger::services
