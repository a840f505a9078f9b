// The master's journal: outcome encoding, resume across reopen, durability
// against SIGKILL, and refusal of journals it must not touch.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <thread>

#include "master/journal.h"
#include "support/test_support.h"

namespace mw::detail {
namespace {

using mw::test::error_of;
using mw::test::ScratchDir;
using State = Journal::State;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Outcome full_outcome() {
  Outcome o;
  o.status = ResultStatus::nonzero_exit;
  o.reason = "exited with code 3";
  o.value = std::string("\x01\x00\xff binary\n", 10);
  o.outputs = {{"a.txt", "alpha"}, {"empty", ""}, {"b.bin", std::string("\0\x01\x02", 3)}};
  o.stdout_text = "hello\n";
  o.stderr_tail = "trouble: \xe2\x9c\x97\n";
  o.exit_code = -3;
  o.signal = 9;
  o.cpu_seconds = 1.25;
  o.wall_seconds = 1e-9;
  o.worker = "host-7/slot-2";
  return o;
}

Outcome outcome_for(std::uint64_t id) {
  Outcome o;
  o.value = "value of " + std::to_string(id);
  o.exit_code = 0;
  o.wall_seconds = static_cast<double>(id) / 8;
  o.worker = "w" + std::to_string(id % 3);
  return o;
}

std::string fingerprint_of(std::uint64_t id) { return "fp-" + std::to_string(id); }

void expect_same(const Outcome& a, const Outcome& b) {
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.outputs, b.outputs);
  EXPECT_EQ(a.stdout_text, b.stdout_text);
  EXPECT_EQ(a.stderr_tail, b.stderr_tail);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.signal, b.signal);
  EXPECT_EQ(a.cpu_seconds, b.cpu_seconds);
  EXPECT_EQ(a.wall_seconds, b.wall_seconds);
  EXPECT_EQ(a.worker, b.worker);
}

// What a crash does: no destructors, no flushing, nothing after this call.
[[noreturn]] void die_now() {
  raise(SIGKILL);
  _exit(5);
}

// Runs `body` in a forked child, which must end by calling die_now() while its
// journal is still open (returning would let ~Journal commit, hiding what a
// crash loses); returns once the child is dead.
void run_child_until_killed(const std::function<void()>& body) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      body();
    } catch (...) {
      _exit(3);
    }
    _exit(4);  // body returned instead of dying
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with status " << WEXITSTATUS(status)
                                   << " (3: it threw, 4: it did not kill itself)";
  ASSERT_EQ(WTERMSIG(status), SIGKILL);
}

// --- encode_outcome / decode_outcome ------------------------------------------

TEST(OutcomeCodec, RoundTripsEveryField) {
  const Outcome o = full_outcome();
  expect_same(decode_outcome(encode_outcome(o), "test"), o);
}

TEST(OutcomeCodec, RoundTripsDefaultsAndAbsentOptionals) {
  const Outcome o;
  const Outcome back = decode_outcome(encode_outcome(o), "test");
  expect_same(back, o);
  EXPECT_FALSE(back.exit_code.has_value());
  EXPECT_FALSE(back.signal.has_value());
}

TEST(OutcomeCodec, RoundTripsEveryStatus) {
  for (int s = 0; s <= static_cast<int>(ResultStatus::rejected); ++s) {
    Outcome o;
    o.status = static_cast<ResultStatus>(s);
    EXPECT_EQ(decode_outcome(encode_outcome(o), "test").status, o.status) << s;
  }
}

TEST(OutcomeCodec, StoresTheStatusByName) {
  Outcome o;
  o.status = ResultStatus::wall_time_exceeded;
  EXPECT_TRUE(has(encode_outcome(o), "wall_time_exceeded"));
}

TEST(OutcomeCodec, EveryTruncationIsAFormatError) {
  const std::string bytes = encode_outcome(full_outcome());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const auto msg = error_of([&] { decode_outcome(bytes.substr(0, n), "outcome X"); }, Errc::format);
    EXPECT_TRUE(has(msg, "outcome X")) << n << ": " << msg;
  }
}

TEST(OutcomeCodec, TrailingBytesAndWrongVersionAreFormatErrors) {
  const std::string bytes = encode_outcome(full_outcome());
  EXPECT_TRUE(has(error_of([&] { decode_outcome(bytes + "x", "o"); }, Errc::format), "left over"));
  std::string other = bytes;
  other[0] = 9;
  EXPECT_TRUE(has(error_of([&] { decode_outcome(other, "o"); }, Errc::format), "version 9"));
}

TEST(OutcomeCodec, HugeLengthIsAFormatErrorNotAnAllocation) {
  std::string bytes = encode_outcome(full_outcome());
  // Byte 0 is our version, byte 1 cereal's endianness flag, then the status's
  // little-endian u64 size tag: claim 1 TiB, which would be allocated if trusted.
  ASSERT_EQ(bytes[1], 1);
  bytes.replace(2, 8, std::string("\0\0\0\0\0\x01\0\0", 8));
  const auto msg = error_of([&] { decode_outcome(bytes, "o"); }, Errc::format);
  EXPECT_TRUE(has(msg, "status")) << msg;
}

TEST(OutcomeCodec, UnknownStatusIsAFormatError) {
  Outcome o;
  o.status = ResultStatus::signaled;  // "signaled" -> "signalex": same length, unknown name
  std::string bytes = encode_outcome(o);
  bytes[bytes.find("signaled") + 7] = 'x';
  EXPECT_TRUE(has(error_of([&] { decode_outcome(bytes, "o"); }, Errc::format), "signalex"));
}

TEST(OutcomeCodec, FlippedBytesNeverEscapeAsAnythingButFormatErrors) {
  const std::string bytes = encode_outcome(full_outcome());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char v : {0x00, 0x01, 0x80, 0xff}) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(v);
      try {
        decode_outcome(damaged, "o");
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::format) << i << ": " << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "byte " << i << " = " << int(v) << ": " << e.what();
      }
    }
  }
}

// --- Journal --------------------------------------------------------------------

TEST(Journal, CreatesAPrivateWorkDirectory) {
  ScratchDir dir;
  const std::string work = dir / "a/b/work";
  Journal j(work);
  EXPECT_EQ(j.path(), work + "/journal.sqlite");
  struct stat st {};
  ASSERT_EQ(::stat(work.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(exists(j.path()));
}

TEST(Journal, SubmitOfANewTaskReturnsNothing) {
  ScratchDir dir;
  Journal j(dir.path());
  EXPECT_FALSE(j.submit(1, "fp-1").has_value());
  EXPECT_FALSE(j.submit(2, "fp-2").has_value());
  EXPECT_EQ(j.count(State::submitted), 2u);
  EXPECT_EQ(j.count(State::finished), 0u);
}

TEST(Journal, ReopenedJournalReturnsTheRecordedStates) {
  ScratchDir dir;
  {
    Journal j(dir.path());
    for (std::uint64_t id = 1; id <= 4; ++id) j.submit(id, fingerprint_of(id));
    j.finished(2, full_outcome());
    j.finished(3, outcome_for(3));
    j.delivered(3);
    j.cancelled(4);
  }
  Journal j(dir.path());
  EXPECT_EQ(j.count(State::submitted), 1u);
  EXPECT_EQ(j.count(State::finished), 1u);
  EXPECT_EQ(j.count(State::delivered), 1u);
  EXPECT_EQ(j.count(State::cancelled), 1u);

  auto r1 = j.submit(1, fingerprint_of(1));
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(r1->state, State::submitted);
  EXPECT_FALSE(r1->outcome.has_value());

  auto r2 = j.submit(2, fingerprint_of(2));
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->state, State::finished);
  ASSERT_TRUE(r2->outcome.has_value());
  expect_same(*r2->outcome, full_outcome());

  auto r3 = j.submit(3, fingerprint_of(3));
  ASSERT_TRUE(r3.has_value());
  EXPECT_EQ(r3->state, State::delivered);
  ASSERT_TRUE(r3->outcome.has_value());
  expect_same(*r3->outcome, outcome_for(3));

  auto r4 = j.submit(4, fingerprint_of(4));
  ASSERT_TRUE(r4.has_value());
  EXPECT_EQ(r4->state, State::cancelled);

  EXPECT_FALSE(j.submit(5, fingerprint_of(5)).has_value());
}

TEST(Journal, BinaryFingerprintsCompareByteForByte) {
  ScratchDir dir;
  const std::string fp("\0\x01\xfe\xff", 4);
  { Journal(dir.path()).submit(1, fp); }
  Journal j(dir.path());
  EXPECT_TRUE(j.submit(1, fp).has_value());
  error_of([&] { j.submit(1, std::string("\0\x01\xfe", 3)); }, Errc::journal);
}

TEST(Journal, DifferentFingerprintIsRefusedNamingTheTask) {
  ScratchDir dir;
  {
    Journal j(dir.path());
    for (std::uint64_t id = 1; id <= 20; ++id) j.submit(id, fingerprint_of(id));
  }
  Journal j(dir.path());
  EXPECT_TRUE(j.submit(1, fingerprint_of(1)).has_value());
  const auto msg = error_of([&] { j.submit(17, "something else"); }, Errc::journal);
  EXPECT_TRUE(has(msg, j.path())) << msg;
  EXPECT_TRUE(has(msg, "task 17 differs")) << msg;
  EXPECT_TRUE(has(msg, "same order")) << msg;
}

TEST(Journal, StateChangesOfUnknownTasksAreErrors) {
  ScratchDir dir;
  Journal j(dir.path());
  j.submit(1, "fp");
  auto msg = error_of([&] { j.delivered(42); }, Errc::journal);
  EXPECT_TRUE(has(msg, "task 42")) << msg;
  EXPECT_TRUE(has(msg, j.path())) << msg;
  error_of([&] { j.finished(43, Outcome{}); }, Errc::journal);
  error_of([&] { j.cancelled(44); }, Errc::journal);
  // The failed calls left the journal usable and the submission intact.
  j.finished(1, outcome_for(1));
  EXPECT_EQ(j.count(State::finished), 1u);
}

TEST(Journal, SurvivesSigkillWithEveryFinishedAndDeliveredRecord) {
  ScratchDir dir;
  run_child_until_killed([&] {
    Journal j(dir.path());
    for (std::uint64_t id = 1; id <= 100; ++id) j.submit(id, fingerprint_of(id));
    for (std::uint64_t id = 1; id <= 50; ++id) j.finished(id, outcome_for(id));
    for (std::uint64_t id = 1; id <= 20; ++id) j.delivered(id);
    die_now();
  });

  Journal j(dir.path());
  EXPECT_EQ(j.count(State::delivered), 20u);
  EXPECT_EQ(j.count(State::finished), 30u);
  for (std::uint64_t id = 1; id <= 100; ++id) {
    auto r = j.submit(id, fingerprint_of(id));
    if (id > 50) {
      // Uncommitted submissions may be lost; the program simply submits them again.
      if (r) {
        EXPECT_EQ(r->state, State::submitted) << id;
      }
      continue;
    }
    ASSERT_TRUE(r.has_value()) << id;
    EXPECT_EQ(r->state, id <= 20 ? State::delivered : State::finished) << id;
    ASSERT_TRUE(r->outcome.has_value()) << id;
    expect_same(*r->outcome, outcome_for(id));
  }
}

TEST(Journal, LongRunsOfSubmissionsAreCommittedInBatches) {
  ScratchDir dir;
  run_child_until_killed([&] {
    Journal j(dir.path());
    for (std::uint64_t id = 1; id <= 5000; ++id) j.submit(id, fingerprint_of(id));
    die_now();
  });
  Journal j(dir.path());
  // The first 4096 were committed as a batch; only the unfinished second batch may be lost.
  EXPECT_GE(j.count(State::submitted), 4096u);
  EXPECT_LE(j.count(State::submitted), 5000u);
}

TEST(Journal, GarbageFileIsRefusedNamingIt) {
  ScratchDir dir;
  std::string garbage;
  while (garbage.size() < 8192) garbage += "this is not an SQLite database at all. ";
  mw::test::write_text(dir / "journal.sqlite", garbage);
  const auto msg = error_of([&] { Journal j(dir.path()); }, Errc::journal);
  EXPECT_TRUE(has(msg, dir / "journal.sqlite")) << msg;
  EXPECT_TRUE(has(msg, "not a database")) << msg;  // SQLite's own diagnosis
}

TEST(Journal, NewerFormatVersionIsRefused) {
  ScratchDir dir;
  const std::string file = dir / "journal.sqlite";
  { Journal(dir.path()).submit(1, "fp"); }
  // Closing the last connection checkpoints the WAL into the main file, so the
  // header can be edited directly: user_version is the big-endian u32 at 60.
  ASSERT_FALSE(exists(file + "-wal"));
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(60);
    f.write("\0\0\0\x02", 4);
    ASSERT_TRUE(f.good());
  }
  const auto msg = error_of([&] { Journal j(dir.path()); }, Errc::journal);
  EXPECT_TRUE(has(msg, file)) << msg;
  EXPECT_TRUE(has(msg, "version 2")) << msg;
  EXPECT_TRUE(has(msg, "newer")) << msg;
}

TEST(Journal, ConcurrentCallersAreSerialized) {
  ScratchDir dir;
  Journal j(dir.path());
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&j, t] {
      for (std::uint64_t k = 0; k < 250; ++k) {
        const std::uint64_t id = 1 + t * 250 + k;
        j.submit(id, fingerprint_of(id));
        if (k % 2 == 0) j.finished(id, outcome_for(id));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(j.count(State::submitted), 500u);
  EXPECT_EQ(j.count(State::finished), 500u);
}

}  // namespace
}  // namespace mw::detail
