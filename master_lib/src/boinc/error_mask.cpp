#include "mw/boinc/error_mask.h"

#include <utility>

namespace mw::boinc {

std::string describe_error_mask(std::int64_t mask) {
  if (mask == 0) return "none";
  static const std::pair<std::int64_t, const char*> bits[] = {
      {1, "could not send"},   {2, "too many errors"},         {4, "too many success results"},
      {8, "too many results"}, {16, "cancelled"},              {32, "no canonical result"}};
  std::string out;
  std::int64_t rest = mask;
  for (auto& [bit, text] : bits) {
    if (!(mask & bit)) continue;
    out += (out.empty() ? "" : ", ") + std::string(text);
    rest &= ~bit;
  }
  if (rest) out += (out.empty() ? "" : ", ") + std::string("unknown bits ") + std::to_string(rest);
  return out;
}

}  // namespace mw::boinc
