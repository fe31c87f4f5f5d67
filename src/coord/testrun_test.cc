#include "coord/testrun.h"

#include <gtest/gtest.h>

namespace herd::coord {
namespace {

TEST(TestRunManifest, K6OperatorManifestAfterChangingOnlyApiVersion) {
  for (const char* api : {"herd.dev/v1alpha1", "k6.io/v1alpha1"}) {
    std::string yaml = std::string("apiVersion: ") + api + R"(
kind: TestRun
metadata:
  name: k6-sample
spec:
  parallelism: 4
  script:
    configMap:
      name: my-test
      file: test.js
  arguments: --tag testid=abc -e "GREETING=hello world"
  separate: false
  runner:
    image: grafana/k6:latest
    env:
      - name: BASE_URL
        value: http://127.0.0.1:8080
    nodeSelector:
      kind: load
)";
    LocalTestRun tr = parse_testrun(yaml, "/work/tests");
    EXPECT_EQ(tr.name, "k6-sample");
    EXPECT_EQ(tr.parallelism, 4);
    EXPECT_EQ(tr.script, "/work/tests/test.js");
    EXPECT_EQ(tr.args, (std::vector<std::string>{"--tag", "testid=abc", "-e", "GREETING=hello world"}));
    ASSERT_EQ(tr.env.size(), 1u);
    EXPECT_EQ(tr.env[0].first, "BASE_URL");
    EXPECT_EQ(tr.env[0].second, "http://127.0.0.1:8080");
    EXPECT_EQ(tr.cluster_only,
              (std::vector<std::string>{"spec.runner.image", "spec.runner.nodeSelector", "spec.separate"}));
  }
}

TEST(TestRunManifest, LocalFileAndArgsList) {
  LocalTestRun tr = parse_testrun(R"(apiVersion: herd.dev/v1alpha1
kind: TestRun
spec:
  script:
    localFile: /abs/script.js
  args: ["-u", "3"]
  quiet: "true"
)",
                                  "/ignored");
  EXPECT_EQ(tr.parallelism, 1);
  EXPECT_EQ(tr.script, "/abs/script.js");
  EXPECT_EQ(tr.args, (std::vector<std::string>{"-u", "3"}));
  EXPECT_TRUE(tr.quiet);
}

TEST(TestRunManifest, ErrorsNameTheFieldPath) {
  auto err = [](const std::string& yaml) {
    try {
      parse_testrun(yaml, "");
    } catch (const ManifestError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(err("apiVersion: v1\nkind: TestRun\nspec: {}\n").find("apiVersion"), std::string::npos);
  EXPECT_NE(err("apiVersion: herd.dev/v1alpha1\nkind: Pod\nspec: {}\n").find("kind"), std::string::npos);
  EXPECT_NE(err("apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  parallelism: 0\n  script: {localFile: a.js}\n")
                .find("spec.parallelism"),
            std::string::npos);
  EXPECT_NE(err("apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  parallelism: x\n  script: {localFile: a.js}\n")
                .find("spec.parallelism"),
            std::string::npos);
  EXPECT_NE(err("apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  parallelism: 1\n").find("spec.script"),
            std::string::npos);
  EXPECT_NE(err("apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  script: {localFile: a.js, configMap: {name: "
                "x, file: b.js}}\n")
                .find("exactly one"),
            std::string::npos);
  EXPECT_NE(err("apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  script: {configMap: {name: x}}\n")
                .find("spec.script.configMap.file"),
            std::string::npos);
  EXPECT_NE(
      err("apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  script: {localFile: a.js}\n  runner:\n    env:\n"
          "      - value: x\n")
          .find("spec.runner.env[0].name"),
      std::string::npos);
  EXPECT_NE(err("{ not: [valid").find("YAML"), std::string::npos);
  // herd::launch::split_arguments throws std::invalid_argument: the manifest
  // parser turns it into a ManifestError that names the field.
  EXPECT_EQ(err("apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  script: {localFile: a.js}\n  arguments: \"-e "
                "'A=b\"\n"),
            "spec.arguments: unterminated quote");
}

TEST(TestRunManifest, ArgumentsSplitLikeAShell) {
  LocalTestRun tr = parse_testrun(
      "apiVersion: herd.dev/v1alpha1\nkind: TestRun\nspec:\n  script: {localFile: a.js}\n"
      "  arguments: >-\n    --tag 'a=b c' -e \"K=\\\"v\\\"\" x\\ y\n  args: [\"-u\", \"2\"]\n",
      "");
  EXPECT_EQ(tr.args, (std::vector<std::string>{"--tag", "a=b c", "-e", "K=\"v\"", "x y", "-u", "2"}));
}

TEST(ManifestPath, ByExtension) {
  EXPECT_TRUE(is_manifest_path("x/testrun.yaml"));
  EXPECT_TRUE(is_manifest_path("t.yml"));
  EXPECT_FALSE(is_manifest_path("script.js"));
  EXPECT_FALSE(is_manifest_path("a.tar"));
}

}  // namespace
}  // namespace herd::coord
