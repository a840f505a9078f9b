// Internal: what the master, rank 0 and ranks 1..N of the MPI interface say.
//
// Rank 0 is a relay. Between master and rank 0 every message is one frame of
// type FrameType::mpi whose payload is encode_values(rank, kind, body): the
// rank it is for (master → rank 0) or from (rank 0 → master). Between rank 0
// and rank k the same body travels as one MPI message whose tag is the kind.
// Rank 0 never decodes a body, so it does no work per task beyond copying.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mw/result.h"
#include "mw/task.h"

namespace mw::detail {

enum class MpiKind : std::uint8_t {
  // master → rank
  task = 1,       // body: encode_task_spec
  cancel = 2,     // body: encode_values(task id)
  init = 3,       // body: encode_values(init id, function, args)   (each_worker)
  stop = 4,       // body: empty; the rank kills its tasks and ends
  // rank → master
  ready = 11,     // body: encode_values(host name, pid)
  done = 12,      // body: encode_values(task id, encode_outcome(outcome))
  init_done = 13, // body: encode_values(init id, ok, message)
  bye = 14,       // body: empty; the rank stopped
};

std::string encode_task_spec(const TaskSpec& task);
// Throws Error(Errc::format) naming `what` for bytes that do not decode.
TaskSpec decode_task_spec(std::string_view bytes, const std::string& what);

std::string encode_mpi_frame(std::uint32_t rank, MpiKind kind, std::string_view body);
void decode_mpi_frame(std::string_view payload, std::uint32_t& rank, MpiKind& kind, std::string& body);

}  // namespace mw::detail
