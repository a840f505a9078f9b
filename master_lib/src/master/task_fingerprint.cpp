// See master/task_fingerprint.h.
#include "master/task_fingerprint.h"

#include <vector>

#include "mw/hash.h"
#include "mw/values.h"

namespace mw::detail {

std::string task_fingerprint(const TaskSpec& s) {
  std::vector<std::string> inputs;
  for (const auto& in : s.inputs)
    inputs.push_back(in.name + "\n" + in.path + "\n" + (in.path.empty() ? sha256_hex(in.bytes) : ""));
  std::vector<std::string> outputs;
  for (const auto& out : s.outputs)
    outputs.push_back(out.name + "\n" + std::to_string(out.max_bytes) + (out.optional ? "?" : ""));
  if (s.env.empty())  // as before declared environments existed: journals stay valid
    return sha256_hex(encode_values(static_cast<int>(s.kind), s.name, s.function, s.args,
                                    s.program, s.arguments, inputs, outputs));
  std::vector<std::string> env;
  for (const auto& var : s.env) env.push_back(var.name + "=" + var.value);
  return sha256_hex(encode_values(static_cast<int>(s.kind), s.name, s.function, s.args, s.program,
                                  s.arguments, inputs, outputs, env));
}

}  // namespace mw::detail
