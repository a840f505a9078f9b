#include "tool_common.h"

#include <iostream>

#include "mw/error.h"

namespace mw::tools {

int run_tool(const char* tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const mw::Error& e) {
    std::cerr << tool << ": " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << tool << ": " << e.what() << "\n";
  }
  return kExitUsage;
}

std::string display_quote(const std::string& arg) {
  bool plain = !arg.empty();
  for (char c : arg) {
    bool safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '/' || c == '=' || c == ':' || c == ',';
    if (!safe) plain = false;
  }
  if (plain) return arg;
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

}  // namespace mw::tools
