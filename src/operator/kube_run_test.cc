// `herd kube run`'s exit code from a TestRun's final status (docs/operator.md's table).
#include "operator/kube_run.h"

#include <gtest/gtest.h>

namespace herd::op {
namespace {

nlohmann::json ended_with(const std::string& reason) {
  return {{"stage", "error"},
          {"result", "error"},
          {"conditions",
           {{{"type", "Initialized"}, {"status", "True"}, {"reason", "ScriptValid"}},
            {{"type", "RunnerLost"}, {"status", "True"}, {"reason", "RunnerFailed"}},
            {{"type", "Finished"}, {"status", "False"}, {"reason", reason}}}}};
}

TEST(KubeRunExitCode, TheTestsOwnCodeWins) {
  EXPECT_EQ(exit_code_of({{"stage", "finished"}, {"result", "failed"}, {"exitCode", 99}}), 99);
  EXPECT_EQ(exit_code_of({{"stage", "error"}, {"result", "error"}, {"exitCode", 97}}), 97);
  EXPECT_EQ(exit_code_of({{"stage", "finished"}, {"result", "passed"}}), 0);
}

TEST(KubeRunExitCode, FromTheFinishedConditionsReason) {
  EXPECT_EQ(exit_code_of(ended_with("InvalidParallelism")), 107);  // more runners than VUs: an invalid spec
  EXPECT_EQ(exit_code_of(ended_with("InvalidSpec")), 107);
  EXPECT_EQ(exit_code_of(ended_with("InitializerFailed")), 107);
  EXPECT_EQ(exit_code_of(ended_with("RunnersNotReady")), 97);
  EXPECT_EQ(exit_code_of(ended_with("CoordinatorNotReady")), 97);
  // A RunnerLost condition alone is not the end: the cluster problems stay 1.
  EXPECT_EQ(exit_code_of(ended_with("LoadZoneNotFound")), 1);
  EXPECT_EQ(exit_code_of(ended_with("InitializerTimeout")), 1);
  EXPECT_EQ(exit_code_of(ended_with("CoordinatorLost")), 1);
}

TEST(KubeRunExitCode, UsageErrorsAreFoundBeforeTheCluster) {
  // No kubeconfig is read: these end with 2 first.
  EXPECT_EQ(kube_main({"run", "t.js", "--parallelism", "abc"}), 2);
  EXPECT_EQ(kube_main({"run", "t.js", "--parallelism", "0"}), 2);
  EXPECT_EQ(kube_main({"run", "t.js", "--parallelism", "99999999999"}), 2);
  EXPECT_EQ(kube_main({"run", "t.js", "--timeout", "soon"}), 2);
  EXPECT_EQ(kube_main({"run", "t.js", "--timeout", "0s"}), 2);
}

}  // namespace
}  // namespace herd::op
