// What every compile check shares: a registered function, as a user's master has.
#pragma once

#include <cstdint>
#include <string>

#include "mw/master.h"
#include "mw/worker.h"

inline std::uint64_t count_hits(std::uint64_t seed, std::uint64_t samples) { return seed + samples; }
MW_TASK(count_hits);

inline std::uint64_t not_registered(std::uint64_t seed) { return seed; }
