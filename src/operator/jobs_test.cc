#include "operator/jobs.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace herd::op {
namespace {

json testrun(json spec) {
  return json{{"apiVersion", "herd.dev/v1alpha1"},
              {"kind", "TestRun"},
              {"metadata", {{"name", "load"}, {"namespace", "perf"}, {"uid", "u-1"}}},
              {"spec", spec}};
}

json base_spec() {
  return json{{"parallelism", 4}, {"script", {{"configMap", {{"name", "s"}, {"file", "t.js"}}}}}};
}

const json& container(const json& job) {
  return job["spec"]["template"]["spec"]["containers"][0];
}

TEST(Jobs, ArgumentsSplitLikeAShell) {
  json spec = {{"arguments", R"(--vus 10 --tag "env=staging area" -e 'A=b c' x\ y)"}, {"args", {"--quiet"}}};
  EXPECT_EQ(user_arguments(spec),
            (std::vector<std::string>{"--vus", "10", "--tag", "env=staging area", "-e", "A=b c", "x y", "--quiet"}));
  EXPECT_THROW(user_arguments(json{{"arguments", "--tag 'open"}}), SpecError);
}

TEST(Jobs, ExactlyOneScriptSource) {
  EXPECT_EQ(script_mount(base_spec()).path, "/test/t.js");
  EXPECT_EQ(script_mount(json{{"script", {{"localFile", "/home/k6/a.js"}}}}).path, "/home/k6/a.js");
  json pvc = script_mount(json{{"script", {{"volumeClaim", {{"name", "c"}}}}}}).volumes[0];
  EXPECT_EQ(pvc["persistentVolumeClaim"]["claimName"], "c");
  try {
    script_mount(json{{"script", {{"localFile", "/a.js"}, {"configMap", {{"name", "s"}}}}}});
    FAIL() << "two sources accepted";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("spec.script"), std::string::npos);
  }
}

TEST(Jobs, RunnerHasItsSegmentPausedAndAnOwner) {
  json spec = base_spec();
  spec["arguments"] = "--vus 8 --duration 10s";
  json job = runner_job(testrun(spec), 2, JobSettings{});
  EXPECT_EQ(job["metadata"]["name"], "load-2");
  EXPECT_EQ(job["metadata"]["namespace"], "perf");
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["uid"], "u-1");
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(job["spec"]["backoffLimit"], 0);
  const json& c = container(job);
  auto args = c["args"].get<std::vector<std::string>>();
  auto has = [&](const std::string& a, const std::string& b) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == a && args[i + 1] == b) return true;
    }
    return false;
  };
  EXPECT_EQ(args[0], "run");
  EXPECT_TRUE(has("--execution-segment", "1/4:1/2"));
  EXPECT_TRUE(has("--address", "$(POD_IP):6565"));
  EXPECT_TRUE(has("--vus", "8"));
  EXPECT_EQ(args.back(), "/test/t.js");
  EXPECT_NE(std::find(args.begin(), args.end(), "--paused"), args.end());
  EXPECT_EQ(c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"]["herd.dev/runner-index"], "2");
  EXPECT_FALSE(job["spec"]["template"]["spec"].contains("affinity"));
}

// Every pod names its TestRun's uid in HERD_RUN_ID (a runner refuses a
// coordinator that names another): ours, whatever spec.runner.env says.
TEST(Jobs, EveryPodNamesItsTestRunsUid) {
  json spec = base_spec();
  spec["runner"]["env"] =
      json::array({json{{"name", "HERD_RUN_ID"}, {"value", "forged"}}, json{{"name", "A"}, {"value", "1"}}});
  auto run_ids = [](const json& job) {
    std::vector<std::string> ids;
    for (const auto& e : container(job)["env"]) {
      if (e["name"] == "HERD_RUN_ID") ids.push_back(e["value"].get<std::string>());
    }
    return ids;
  };
  const std::vector<std::string> want{"u-1"};
  EXPECT_EQ(run_ids(runner_job(testrun(spec), 1, JobSettings{})), want);
  EXPECT_EQ(run_ids(coordinator_job(testrun(spec), {"127.0.1.1:6565"}, JobSettings{})), want);
  EXPECT_EQ(run_ids(initializer_job(testrun(spec), JobSettings{})), want);
  bool kept = false;
  const json runner = runner_job(testrun(spec), 1, JobSettings{});
  for (const auto& e : container(runner)["env"]) kept |= e["name"] == "A";
  EXPECT_TRUE(kept);
}

TEST(Jobs, SeparatePutsRunnersOnDifferentNodes) {
  json spec = base_spec();
  spec["separate"] = true;
  json job = runner_job(testrun(spec), 1, JobSettings{});
  const json& term = job["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
                        ["requiredDuringSchedulingIgnoredDuringExecution"][0];
  EXPECT_EQ(term["topologyKey"], "kubernetes.io/hostname");
  EXPECT_EQ(term["labelSelector"]["matchLabels"]["herd.dev/testrun"], "load");
}

TEST(Jobs, PodSettingsAndLoadZoneAreMerged) {
  json spec = base_spec();
  spec["runner"] = {{"image", "reg/herd:1"},
                    {"nodeSelector", {{"disk", "ssd"}}},
                    {"env", {{{"name", "A"}, {"value", "1"}}}},
                    {"automountServiceAccountToken", "false"},
                    {"metadata", {{"labels", {{"team", "perf"}}}}}};
  json plz = {{"spec",
               {{"nodeSelector", {{"herd.dev/load-zone", "eu"}, {"disk", "hdd"}}},
                {"taint", {{"key", "herd.dev/load-zone"}, {"value", "eu"}, {"effect", "NoSchedule"}}},
                {"resources", {{"limits", {{"memory", "1Gi"}}}}}}}};
  LoadZone zone = load_zone(plz);
  json job = runner_job(testrun(spec), 1, JobSettings{}, &zone);
  const json& pod = job["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["disk"], "ssd");  // the TestRun wins
  EXPECT_EQ(pod["nodeSelector"]["herd.dev/load-zone"], "eu");
  EXPECT_EQ(pod["tolerations"][0]["key"], "herd.dev/load-zone");
  EXPECT_EQ(container(job)["image"], "reg/herd:1");
  EXPECT_EQ(container(job)["resources"]["limits"]["memory"], "1Gi");
  EXPECT_EQ(container(job)["env"][1]["name"], "A");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"]["team"], "perf");
  EXPECT_EQ(pod["automountServiceAccountToken"], false);  // k6-operator's string becomes a boolean
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"]["herd.dev/component"], "runner");
}

TEST(Jobs, K6ImagesBecomeHerds) {
  for (const char* k6 : {"grafana/k6:latest", "docker.io/grafana/k6:0.49.0", "loadimpact/k6", "grafana/k6@sha256:ab"}) {
    json spec = base_spec();
    spec["runner"] = {{"image", k6}};
    EXPECT_EQ(container(runner_job(testrun(spec), 1, JobSettings{"herd:1", "10m"}))["image"], "herd:1") << k6;
  }
  json spec = base_spec();
  spec["runner"] = {{"image", "grafana/k6-extended:1"}};
  EXPECT_EQ(container(runner_job(testrun(spec), 1, JobSettings{}))["image"], "grafana/k6-extended:1");
}

TEST(Jobs, InitializerAndCoordinator) {
  json init = initializer_job(testrun(base_spec()), JobSettings{"img:1", "10m"});
  auto args = container(init)["args"].get<std::vector<std::string>>();
  EXPECT_EQ(args[0], "inspect");
  EXPECT_EQ(args.back(), "/test/t.js");
  EXPECT_EQ(container(init)["image"], "img:1");
  EXPECT_EQ(container(init)["terminationMessagePolicy"], "FallbackToLogsOnError");
  json coord = coordinator_job(testrun(base_spec()), {"127.0.1.1:6565", "127.0.1.2:6565"}, JobSettings{});
  args = container(coord)["args"].get<std::vector<std::string>>();
  EXPECT_EQ(args[0], "coordinator");
  EXPECT_EQ(args[2], "127.0.1.1:6565,127.0.1.2:6565");
  EXPECT_EQ(args.back(), "/test/t.js");
  EXPECT_EQ(coord["metadata"]["name"], "load-coordinator");
  json spec = base_spec();
  spec["starter"] = {{"nodeSelector", {{"pool", "control"}}}};  // k6-operator's starter settings
  coord = coordinator_job(testrun(spec), {"127.0.1.1:6565"}, JobSettings{});
  EXPECT_EQ(coord["spec"]["template"]["spec"]["nodeSelector"]["pool"], "control");
}

TEST(Jobs, AutomountTokenStringsBecomeBooleansAndOthersAreRejected) {
  for (auto [text, want] : {std::pair{"true", true}, {"TRUE", true}, {"False", false}, {"false", false}}) {
    json spec = base_spec();
    spec["runner"] = {{"automountServiceAccountToken", text}};
    EXPECT_EQ(runner_job(testrun(spec), 1, JobSettings{})["spec"]["template"]["spec"]["automountServiceAccountToken"],
              want)
        << text;
  }
  json spec = base_spec();
  spec["starter"] = {{"automountServiceAccountToken", true}};  // a boolean passes as it is
  EXPECT_EQ(coordinator_job(testrun(spec), {"127.0.1.1:6565"},
                            JobSettings{})["spec"]["template"]["spec"]["automountServiceAccountToken"],
            true);
  for (auto [component, bad] : {std::pair{"runner", json("yes")}, {"starter", json("")}, {"initializer", json(1)}}) {
    json s = base_spec();
    s[component] = {{"automountServiceAccountToken", bad}};
    try {
      validate_spec(s);
      ADD_FAILURE() << component << " " << bad;
    } catch (const SpecError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(std::string("spec.") + component + ".automountServiceAccountToken: ", 0),
                0u)
          << e.what();
    }
  }
  spec = base_spec();
  spec["runner"] = {{"automountServiceAccountToken", "no"}};
  EXPECT_THROW(runner_job(testrun(spec), 1, JobSettings{}), SpecError);  // never passed on for the API server
}

TEST(Jobs, TimeoutsMustBeDurations) {
  auto error_of = [](json timeouts) -> std::string {
    json spec = base_spec();
    spec["timeouts"] = timeouts;
    try {
      validate_spec(spec);
    } catch (const SpecError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error_of({{"ready", "2m"}, {"run", "1h30m"}}), "");
  EXPECT_EQ(error_of({{"ready", "abc"}}), R"(spec.timeouts.ready: "abc" is not a duration (e.g. 90s, 5m, 1h30m))");
  EXPECT_EQ(error_of({{"run", 30}}), "spec.timeouts.run: 30 is not a duration (e.g. 90s, 5m, 1h30m)");
  EXPECT_EQ(error_of({{"run", "-5s"}}), R"(spec.timeouts.run: "-5s" must be longer than 0s)");
  EXPECT_EQ(error_of({{"initializer", "abc"}}),
            R"(spec.timeouts.initializer: "abc" is not a duration (e.g. 90s, 5m, 1h30m))");
  EXPECT_EQ(error_of({{"initializer", "5m"}}), "spec.timeouts.initializer: unknown timeout (known: ready, run)");
  EXPECT_EQ(error_of("5m"), R"(spec.timeouts: must be an object (ready, run), got "5m")");
}

}  // namespace

// Issue #13: a k6-operator user's `-o experimental-prometheus-rw` plus K6_PROMETHEUS_RW_*
// in spec.runner.env makes the coordinator export the merged series, and no runner.
TEST(Jobs, PrometheusRemoteWriteMovesToTheCoordinator) {
  json spec = base_spec();
  spec["arguments"] =
      "--vus 8 -o experimental-prometheus-rw --out=json=/tmp/a.json -o=influxdb=http://127.0.0.1:8086/k6 --tag "
      "testid=t1";
  json secret = {{"secretKeyRef", {{"name", "rw"}, {"key", "password"}}}};
  spec["runner"]["env"] = json::array({
      json{{"name", "K6_PROMETHEUS_RW_SERVER_URL"}, {"value", "http://127.0.0.1:9090/api/v1/write"}},
      json{{"name", "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM"}, {"value", "true"}},
      json{{"name", "K6_PROMETHEUS_RW_PASSWORD"}, {"valueFrom", secret}},
      json{{"name", "K6_FEATURES"}, {"value", "native-histograms"}},
      json{{"name", "K6_OUT"}, {"value", "experimental-prometheus-rw,csv=/tmp/a.csv"}},
      json{{"name", "MY_VAR"}, {"value", "1"}},
  });
  spec["coordinator"]["env"] = json::array({json{{"name", "K6_FEATURES"}, {"value", "own"}}});
  json tr = testrun(spec);

  auto env_names = [](const json& c) {
    std::vector<std::string> names;
    for (const auto& e : c["env"]) names.push_back(e["name"].get<std::string>());
    return names;
  };
  auto env_value = [](const json& c, const std::string& name) -> json {
    for (const auto& e : c["env"]) {
      if (e["name"] == name) return e.contains("value") ? e["value"] : e["valueFrom"];
    }
    return nullptr;
  };

  for (int i : {1, 2}) {
    json job = runner_job(tr, i, JobSettings{});
    const json& r = container(job);
    auto args = r["args"].get<std::vector<std::string>>();
    for (const auto& a : args) {
      EXPECT_EQ(a.find("prometheus"), std::string::npos) << a;
      EXPECT_NE(a, "-o");
      EXPECT_NE(a, "--out");
    }
    EXPECT_EQ(env_names(r),
              (std::vector<std::string>{"POD_IP", "K6_OUT", "MY_VAR", "HERD_RUN_ID", "HERD_RESULT_HINT"}));
    EXPECT_EQ(env_value(r, "K6_OUT"), "csv=/tmp/a.csv");  // per-sample outputs stay where they were
  }

  json coord = coordinator_job(tr, {"127.0.1.1:6565", "127.0.1.2:6565"}, JobSettings{});
  const json& c = container(coord);
  auto args = c["args"].get<std::vector<std::string>>();
  int outs = 0;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--out") {
      ++outs;
      EXPECT_EQ(args[i + 1], "experimental-prometheus-rw");
    }
  }
  EXPECT_EQ(outs, 1);  // json and influxdb are per-sample outputs: not the coordinator's
  auto tag = std::find(args.begin(), args.end(), "testid=t1");
  ASSERT_NE(tag, args.end()) << "the testid tag reaches the coordinator";
  EXPECT_EQ(*(tag - 1), "--tag");
  EXPECT_EQ(env_value(c, "K6_PROMETHEUS_RW_SERVER_URL"), "http://127.0.0.1:9090/api/v1/write");
  EXPECT_EQ(env_value(c, "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM"), "true");
  EXPECT_EQ(env_value(c, "K6_PROMETHEUS_RW_PASSWORD")["secretKeyRef"]["name"], "rw");
  EXPECT_EQ(env_value(c, "K6_FEATURES"), "own");  // the coordinator's own setting wins
  EXPECT_EQ(env_value(c, "K6_OUT"), "experimental-prometheus-rw");
  EXPECT_EQ(env_value(c, "MY_VAR"), "1");  // the coordinator loads the script too
}

// The PodMonitor (charts/herd-operator, deploy/components/monitoring) selects app=herd and
// herd.dev/component in {runner, coordinator}, and scrapes the port named "api".
TEST(Jobs, TestPodsCarryWhatThePodMonitorSelects) {
  json tr = testrun(base_spec());
  for (const json& job : {runner_job(tr, 1, JobSettings{}), coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{})}) {
    const json& labels = job["spec"]["template"]["metadata"]["labels"];
    EXPECT_EQ(labels["app"], "herd");
    EXPECT_TRUE(labels[std::string(kLabelComponent)] == "runner" ||
                labels[std::string(kLabelComponent)] == "coordinator");
    const json& port = container(job)["ports"][0];
    EXPECT_EQ(port["name"], "api");
    EXPECT_EQ(port["containerPort"], kControlPort);
  }
}

TEST(Jobs, WithoutRemoteWriteNothingMoves) {
  json spec = base_spec();
  spec["arguments"] = "--out json=/tmp/a.json";
  spec["runner"]["env"] = json::array({json{{"name", "K6_OUT"}, {"value", "influxdb=http://127.0.0.1:8086/k6"}}});
  json tr = testrun(spec);
  json job = runner_job(tr, 1, JobSettings{});
  const json& r = container(job);
  ASSERT_EQ(r["env"].size(), 4u);  // POD_IP, K6_OUT, HERD_RUN_ID, HERD_RESULT_HINT
  EXPECT_EQ(r["env"][1]["value"], "influxdb=http://127.0.0.1:8086/k6");
  json coord = coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{});
  const json& c = container(coord);
  EXPECT_EQ(c["env"].size(), 2u);  // POD_IP and HERD_RUN_ID only
  for (const auto& a : c["args"]) EXPECT_NE(a, "--out");
}

namespace {

json env_named(const json& c, const std::string& name) {
  json found;
  int count = 0;
  for (const auto& e : c["env"]) {
    if (e["name"] == name) {
      found = e;
      ++count;
    }
  }
  EXPECT_LE(count, 1) << name << " twice in " << c["env"].dump();
  return found;
}

std::vector<std::string> names_of(const json& list, const char* key) {
  std::vector<std::string> out;
  for (const auto& e : list) out.push_back(e[key].get<std::string>());
  return out;
}

}  // namespace

// Issue #14: a k6-operator manifest passes the script's settings in spec.runner only;
// the initializer and the coordinator load the script too, so they get them as well.
TEST(Jobs, RunnerScriptSettingsReachEveryPodThatLoadsTheScript) {
  json spec = base_spec();
  spec["runner"] = {{"image", "reg/herd:2"},
                    {"env", {{{"name", "BASE_URL"}, {"value", "http://127.0.0.1:8080"}}}},
                    {"envFrom", {{{"configMapRef", {{"name", "settings"}}}}}},
                    {"volumes", {{{"name", "data"}, {"configMap", {{"name", "data"}}}}}},
                    {"volumeMounts", {{{"name", "data"}, {"mountPath", "/data"}}}},
                    {"nodeSelector", {{"pool", "load"}}}};
  json tr = testrun(spec);
  for (const json& job : {initializer_job(tr, JobSettings{}), runner_job(tr, 1, JobSettings{}),
                          coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{})}) {
    const json& c = container(job);
    const std::string what = job["metadata"]["name"].get<std::string>();
    EXPECT_EQ(c["image"], "reg/herd:2") << what;
    EXPECT_EQ(env_named(c, "BASE_URL")["value"], "http://127.0.0.1:8080") << what;
    EXPECT_EQ(c["envFrom"], spec["runner"]["envFrom"]) << what;
    EXPECT_EQ(names_of(job["spec"]["template"]["spec"]["volumes"], "name"),
              (std::vector<std::string>{"herd-script", "data"}))
        << what;
    EXPECT_EQ(names_of(c["volumeMounts"], "mountPath"), (std::vector<std::string>{"/test", "/data"})) << what;
  }
  // Only what the script reads: the coordinator keeps its own placement.
  json coord = coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{});
  EXPECT_FALSE(coord["spec"]["template"]["spec"].contains("nodeSelector"));
}

TEST(Jobs, ComponentSettingsComeOnTopOfTheRunners) {
  json spec = base_spec();
  spec["runner"] = {{"image", "reg/herd:2"},
                    {"env", {{{"name", "BASE_URL"}, {"value", "runner"}}, {{"name", "A"}, {"value", "a"}}}},
                    {"envFrom", {{{"configMapRef", {{"name", "runner"}}}}}},
                    {"volumes", {{{"name", "data"}, {"configMap", {{"name", "runner"}}}}}},
                    {"volumeMounts", {{{"name", "data"}, {"mountPath", "/data"}}}}};
  spec["initializer"] = {{"image", "reg/herd:3"},
                         {"env", {{{"name", "BASE_URL"}, {"value", "init"}}}},
                         {"envFrom", {{{"secretRef", {{"name", "init"}}}}}},
                         {"volumes", {{{"name", "data"}, {"configMap", {{"name", "init"}}}}}},
                         {"volumeMounts", {{{"name", "other"}, {"mountPath", "/data"}}}}};
  // k6-operator's starter runs curl: its image is not the coordinator's, its env is.
  spec["starter"] = {{"image", "curlimages/curl:8"}, {"env", {{{"name", "A"}, {"value", "starter"}}}}};
  json tr = testrun(spec);

  json init = initializer_job(tr, JobSettings{});
  const json& i = container(init);
  EXPECT_EQ(i["image"], "reg/herd:3");
  EXPECT_EQ(env_named(i, "BASE_URL")["value"], "init");
  EXPECT_EQ(env_named(i, "A")["value"], "a");
  ASSERT_EQ(i["envFrom"].size(), 2u);
  EXPECT_EQ(i["envFrom"][1]["secretRef"]["name"], "init");  // the later source wins a clash
  const json& volumes = init["spec"]["template"]["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), 2u);
  EXPECT_EQ(volumes[1]["configMap"]["name"], "init");
  ASSERT_EQ(i["volumeMounts"].size(), 2u);
  EXPECT_EQ(i["volumeMounts"][1]["name"], "other");

  json coord = coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{});
  const json& c = container(coord);
  EXPECT_EQ(c["image"], "reg/herd:2");
  EXPECT_EQ(env_named(c, "A")["value"], "starter");
  EXPECT_EQ(env_named(c, "BASE_URL")["value"], "runner");
  spec["coordinator"] = {{"image", "reg/herd:4"}};
  EXPECT_EQ(container(coordinator_job(testrun(spec), {"127.0.1.1:6565"}, JobSettings{}))["image"], "reg/herd:4");

  // Without images anywhere: the operator's; grafana/k6 counts as none.
  spec = base_spec();
  spec["runner"] = {{"image", "grafana/k6:latest"}};
  spec["coordinator"] = {{"env", json::array()}};
  tr = testrun(spec);
  EXPECT_EQ(container(initializer_job(tr, JobSettings{"herd:9", "10m"}))["image"], "herd:9");
  EXPECT_EQ(container(coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{"herd:9", "10m"}))["image"], "herd:9");
  EXPECT_FALSE(container(coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{})).contains("envFrom"));
}

// Issue #14: runner logs end with where the merged result is.
TEST(Jobs, RunnersAreToldWhereTheMergedResultIs) {
  json spec = base_spec();
  spec["runner"]["env"] = json::array({json{{"name", "HERD_RESULT_HINT"}, {"value", "mine"}}});
  json tr = testrun(spec);
  const std::string want =
      "runner 3 of 4 of TestRun perf/load ended; the merged result: `kubectl -n perf logs job/load-coordinator`, "
      "`kubectl -n perf get cm load-summary -o yaml`, `kubectl -n perf describe tr load`";
  EXPECT_EQ(result_hint(tr, 3), want);
  EXPECT_EQ(env_named(container(runner_job(tr, 3, JobSettings{})), "HERD_RESULT_HINT")["value"], want);
  // Names match the Jobs and the ConfigMap the operator makes.
  EXPECT_NE(want.find(coordinator_name(tr)), std::string::npos);
  EXPECT_NE(want.find(summary_configmap_name(tr)), std::string::npos);
  for (const json& job : {initializer_job(tr, JobSettings{}), coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{})}) {
    EXPECT_EQ(env_named(container(job), "HERD_RESULT_HINT")["value"], "mine");  // the user's, untouched
  }
  tr["apiVersion"] = "k6.io/v1alpha1";  // `tr` could name herd's TestRuns: be exact
  EXPECT_NE(result_hint(tr, 1).find("`kubectl -n perf describe testruns.k6.io load`"), std::string::npos);
}

// Issue #15: a k6-operator manifest's K6_WEB_DASHBOARD* in spec.runner.env (or
// --out web-dashboard) is the coordinator's: one dashboard and one HTML report of
// the merged data; no runner serves one or writes a report of its part.
TEST(Jobs, TheWebDashboardAndItsReportAreTheCoordinators) {
  json spec = base_spec();
  spec["arguments"] = "--out web-dashboard=period=2s --out csv=/tmp/a.csv";
  spec["runner"]["env"] = json::array({
      json{{"name", "K6_WEB_DASHBOARD"}, {"value", "true"}},
      json{{"name", "K6_WEB_DASHBOARD_EXPORT"}, {"value", "html-report.html"}},
      json{{"name", "K6_OUT"}, {"value", "web-dashboard,csv=/tmp/b.csv"}},
      json{{"name", "MY_VAR"}, {"value", "1"}},
  });
  json tr = testrun(spec);
  const json runner = runner_job(tr, 1, JobSettings{}), init = initializer_job(tr, JobSettings{});
  for (const json* job : {&runner, &init}) {
    const json& c = container(*job);
    for (const auto& e : c["env"]) EXPECT_FALSE(e["name"].get<std::string>().starts_with("K6_WEB_DASHBOARD")) << e;
    EXPECT_EQ(env_named(c, "K6_OUT")["value"], "csv=/tmp/b.csv");
    EXPECT_EQ(env_named(c, "MY_VAR")["value"], "1");
  }
  for (const auto& a : container(runner)["args"])  // the initializer's `herd inspect` gets every argument
    EXPECT_EQ(a.get<std::string>().find("web-dashboard"), std::string::npos) << a;
  const json coordinator = coordinator_job(tr, {"127.0.1.1:6565"}, JobSettings{});
  const json& c = container(coordinator);
  EXPECT_EQ(env_named(c, "K6_WEB_DASHBOARD")["value"], "true");
  EXPECT_EQ(env_named(c, "K6_WEB_DASHBOARD_EXPORT")["value"], "html-report.html");
  EXPECT_EQ(env_named(c, "K6_OUT")["value"], "web-dashboard");
  auto args = c["args"].get<std::vector<std::string>>();
  auto out = std::find(args.begin(), args.end(), "web-dashboard=period=2s");
  ASSERT_NE(out, args.end());
  EXPECT_EQ(*(out - 1), "--out");
  EXPECT_EQ(std::find(args.begin(), args.end(), "csv=/tmp/a.csv"), args.end());
}

}  // namespace herd::op
