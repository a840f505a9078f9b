// mw::boinc::TaskSubmitter reads its source ahead and builds and signs the
// next tasks on several threads (issue 23): each workunit must still carry
// its own task, and a task that fails anywhere in the read-ahead must stop
// the submission with its name and leave nothing behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "mw/boinc/inline_task.h"
#include "mw/boinc/task_submitter.h"
#include "mw/bundle.h"
#include "mw/error.h"
#include "mw/signing.h"
#include "support/boinc_project.h"
#include "support/test_support.h"

namespace mw::boinc {
namespace {

using ::testing::HasSubstr;

// More tasks than one read-ahead of the most threads the submitter uses
// (8 × 64), so every task crosses the threads and several refills.
constexpr int kTasks = 700;

std::string marker(int i) { return "<<payload " + std::to_string(i) + ">>"; }

std::shared_ptr<const TaskBuilder> task(int i) {
  auto b = std::make_shared<TaskBuilder>("task_" + std::to_string(i));
  b->host_program("/bin/cat").arg("in.dat").file_bytes("in.dat", marker(i));
  return b;
}

std::string command_line_of(const std::string& xml_doc) {
  const std::string open = "<command_line>", close = "</command_line>";
  const auto from = xml_doc.find(open);
  const auto to = xml_doc.find(close);
  if (from == std::string::npos || to == std::string::npos) return "";
  std::string line = xml_doc.substr(from + open.size(), to - from - open.size());
  // BOINC writes the element's text on a line of its own.
  const auto first = line.find_first_not_of(" \n");
  const auto last = line.find_last_not_of(" \n");
  return first == std::string::npos ? "" : line.substr(first, last - first + 1);
}

// A test project with a submitter signing with a fresh key, and a batch.
struct Submission {
  explicit Submission(const std::string& db_name)
      : project(db_name),
        db(project.database()),
        submitter(project.config(), *db, "mw", std::make_shared<const PrivateKey>(PrivateKey::generate())),
        batch(submitter.creator().create_batch(db_name)) {}
  test::BoincTestProject project;
  std::unique_ptr<Database> db;
  TaskSubmitter submitter;
  std::int64_t batch;
};

TEST(TaskSubmitterReadAhead, EveryWorkunitCarriesItsOwnTask) {
  Submission s("t_submitter_order");
  int i = 0;
  EXPECT_EQ(s.submitter.submit(s.batch, WorkunitSettings{}, [&](PendingTask& pending) {
              if (i == kTasks) return false;
              pending.wu_name = "wu_" + std::to_string(i);
              pending.builder = task(i++);
              return true;
            }),
            static_cast<std::size_t>(kTasks));
  auto rows = s.project.rows("SELECT name, xml_doc FROM workunit WHERE batch = " + std::to_string(s.batch));
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kTasks));
  for (const auto& row : rows) {
    const int n = std::stoi(row.at("name").substr(3));
    const std::string line = command_line_of(row.at("xml_doc"));
    const std::string option = std::string(kInlineTaskOption) + " ";
    ASSERT_EQ(line.compare(0, option.size(), option), 0) << row.at("name") << ": " << line;
    const std::string bundle = decode_inline_task(line.substr(option.size()));
    // Small members are stored, so the input is in the bundle as it was given.
    EXPECT_THAT(bundle, HasSubstr(marker(n))) << row.at("name") << " carries another task";
    EXPECT_THAT(bundle, HasSubstr("task_" + std::to_string(n)));
  }
}

TEST(TaskSubmitterReadAhead, AFailingTaskDeepInTheReadAheadIsNamedAndNothingIsSubmitted) {
  Submission s("t_submitter_fail");
  test::ScratchDir scratch;
  const std::string missing = scratch / "no_such_bundle.zip";
  int i = 0;
  const std::string error = test::error_of(
      [&] {
        s.submitter.submit(s.batch, WorkunitSettings{}, [&](PendingTask& pending) {
          if (i == kTasks) return false;
          pending.wu_name = "wu_" + std::to_string(i);
          if (i == 600) {
            pending.bundle_path = missing;  // a bundle file that is not there
            ++i;
          } else {
            pending.builder = task(i++);
          }
          return true;
        });
      },
      Errc::io);
  EXPECT_THAT(error, HasSubstr(missing));
  EXPECT_EQ(s.project.rows("SELECT id FROM workunit").size(), 0u);
}

}  // namespace
}  // namespace mw::boinc
