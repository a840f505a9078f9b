// Encodings of the MPI interface's messages (see mpi_protocol.h).
#include "interfaces/mpi_protocol.h"

#include <tuple>
#include <vector>

#include "mw/values.h"

namespace mw::detail {
namespace {

using InputTuple = std::tuple<std::string, std::string, std::string>;
using OutputTuple = std::tuple<std::string, std::uint64_t, bool>;
using LimitsTuple = std::tuple<std::optional<double>, std::optional<double>, std::optional<std::uint64_t>,
                               std::optional<std::uint64_t>>;
using EstimatesTuple = std::tuple<std::optional<double>, std::optional<double>, std::optional<std::uint64_t>,
                                  std::optional<std::uint64_t>>;
using SpecTuple = std::tuple<std::uint64_t, std::string, std::uint8_t, std::string, std::string, std::string,
                             std::vector<std::string>, std::vector<InputTuple>, std::vector<OutputTuple>, bool,
                             LimitsTuple, EstimatesTuple, std::vector<std::string>>;

}  // namespace

std::string encode_task_spec(const TaskSpec& t) {
  std::vector<InputTuple> inputs;
  for (const auto& in : t.inputs) inputs.emplace_back(in.name, in.path, in.bytes);
  std::vector<OutputTuple> outputs;
  for (const auto& out : t.outputs) outputs.emplace_back(out.name, out.max_bytes, out.optional);
  const LimitsTuple limits{t.limits.wall_seconds, t.limits.cpu_seconds, t.limits.memory_bytes,
                           t.limits.disk_bytes};
  const EstimatesTuple estimates{t.estimates.cpu_seconds, t.estimates.fpops, t.estimates.memory_bytes,
                                 t.estimates.disk_bytes};
  std::vector<std::string> env;  // NAME=VALUE
  for (const auto& var : t.env) env.push_back(var.name + "=" + var.value);
  return encode_values(SpecTuple{t.id, t.name, static_cast<std::uint8_t>(t.kind == TaskSpec::Kind::exec),
                                 t.function, t.args, t.program, t.arguments, inputs, outputs, t.ship_program,
                                 limits, estimates, env});
}

TaskSpec decode_task_spec(std::string_view bytes, const std::string& what) {
  auto [id, name, kind, function, args, program, arguments, inputs, outputs, ship, limits, estimates, env] =
      decode_value<SpecTuple>(bytes, what);
  if (kind > 1) throw Error(Errc::format, what + ": unknown task kind " + std::to_string(kind));
  TaskSpec t;
  t.id = id;
  t.name = std::move(name);
  t.kind = kind ? TaskSpec::Kind::exec : TaskSpec::Kind::function;
  t.function = std::move(function);
  t.args = std::move(args);
  t.program = std::move(program);
  t.arguments = std::move(arguments);
  for (auto& [n, p, b] : inputs) t.inputs.push_back({std::move(n), std::move(p), std::move(b)});
  for (auto& [n, max, optional] : outputs) t.outputs.push_back({std::move(n), max, optional});
  t.ship_program = ship;
  for (const auto& entry : env) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos) throw Error(Errc::format, what + ": bad environment entry");
    t.env.push_back({entry.substr(0, eq), entry.substr(eq + 1)});
  }
  std::tie(t.limits.wall_seconds, t.limits.cpu_seconds, t.limits.memory_bytes, t.limits.disk_bytes) = limits;
  std::tie(t.estimates.cpu_seconds, t.estimates.fpops, t.estimates.memory_bytes, t.estimates.disk_bytes) =
      estimates;
  return t;
}

std::string encode_mpi_frame(std::uint32_t rank, MpiKind kind, std::string_view body) {
  return encode_values(rank, static_cast<std::uint8_t>(kind), std::string(body));
}

void decode_mpi_frame(std::string_view payload, std::uint32_t& rank, MpiKind& kind, std::string& body) {
  std::uint8_t k = 0;
  std::tie(rank, k, body) =
      decode_values<std::tuple<std::uint32_t, std::uint8_t, std::string>>(payload, "MPI relay frame");
  kind = static_cast<MpiKind>(k);
}

}  // namespace mw::detail
