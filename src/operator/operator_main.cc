// `herd operator`: the TestRun controller process (docs/operator.md).
#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>

#include "kube/config.h"
#include "kube/leader.h"
#include "operator/controller.h"
#include "operator/k6io.h"
#include "util/signals.h"

namespace herd::op {
namespace {

constexpr const char* kUsage =
    "usage: herd operator [flags]\n"
    "  --kubeconfig FILE            default: $KUBECONFIG, in-cluster, ~/.kube/config\n"
    "  --namespaces NS,...          watch only these (default: $WATCH_NAMESPACES or $WATCH_NAMESPACE; empty = all)\n"
    "  --leader-elect               compete for the Lease herd-operator-lock before working\n"
    "  --leader-election-namespace NS   default: $POD_NAMESPACE or herd-system\n"
    "  --metrics-address HOST:PORT  Prometheus /metrics (default :8080; \"0\" = off)\n"
    "  --health-address HOST:PORT   /healthz and /readyz (default :8081; \"0\" = off)\n"
    "  --image IMAGE                herd image for children (default: $HERD_RUNNER_IMAGE or "
    "ghcr.io/herd-dev/herd:latest)\n"
    "  --workers N                  concurrent reconciles (default 2)\n"
    "  --k6-io                      also run k6.io/v1alpha1 TestRuns and PrivateLoadZones (needs herd's k6.io\n"
    "                               CRDs: Helm k6io.enabled, kustomize deploy/components/k6-io)\n";

std::atomic<int> g_signal{0};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

/// Serves `routes` on "host:port" (":8080" = every address) in a thread.
class HttpEndpoint {
 public:
  HttpEndpoint(const std::string& address, const std::function<void(httplib::Server&)>& routes) {
    if (address.empty() || address == "0") return;
    auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    if (host.empty()) host = "0.0.0.0";
    int port = std::stoi(address.substr(colon + 1));
    routes(server_);
    if (!server_.bind_to_port(host, port)) {
      throw std::runtime_error("cannot listen on " + address);
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op before the loop runs: wait for it, so the destructor never hangs.
    for (int i = 0; i < 500 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~HttpEndpoint() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

 private:
  httplib::Server server_;
  std::thread thread_;
};

}  // namespace

int operator_main(const std::vector<std::string>& args) {
  std::string kubeconfig, metrics_address = ":8080", health_address = ":8081";
  std::string namespaces = env_or("WATCH_NAMESPACES", env_or("WATCH_NAMESPACE", ""));
  std::string lease_ns = env_or("POD_NAMESPACE", "herd-system");
  bool leader_elect = false;
  ControllerOptions opts;
  opts.reconcile.jobs.image = env_or("HERD_RUNNER_IMAGE", env_or("HERD_IMAGE", opts.reconcile.jobs.image));
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], value;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a != "--leader-elect" && a != "--k6-io" && a != "-h" && a != "--help") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "herd: error: %s needs a value\n%s", a.c_str(), kUsage);
        return 2;
      }
      value = args[++i];
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--kubeconfig") {
      kubeconfig = value;
    } else if (a == "--namespaces" || a == "--namespace") {
      namespaces = value;
    } else if (a == "--leader-elect") {
      leader_elect = value.empty() || value == "true";
    } else if (a == "--leader-election-namespace") {
      lease_ns = value;
    } else if (a == "--metrics-address" || a == "--metrics-bind-address") {
      metrics_address = value;
    } else if (a == "--health-address" || a == "--health-probe-bind-address") {
      health_address = value;
    } else if (a == "--image") {
      opts.reconcile.jobs.image = value;
    } else if (a == "--k6-io") {
      opts.k6io = value.empty() || value == "true";
    } else if (a == "--workers") {
      opts.workers = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "herd: error: unknown flag %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  opts.namespaces = split_list(namespaces);

  std::unique_ptr<kube::Client> client;
  try {
    client = std::make_unique<kube::Client>(kube::load_default(kubeconfig));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herd: error: kubernetes configuration: %s\n", e.what());
    return 104;
  }

  // k6.io objects are only reconciled under herd's own k6.io CRDs: next to
  // k6-operator's, both controllers would run every TestRun.
  if (opts.k6io) {
    if (std::string why = check_k6io_crds(*client); !why.empty()) {
      std::fprintf(stderr, "herd: error: --k6-io: %s\n", why.c_str());
      return 1;
    }
    std::fprintf(stderr, "herd operator: --k6-io: also reconciling k6.io/v1alpha1 TestRuns and PrivateLoadZones\n");
  }

  // SIGINT/SIGTERM (any of them) shut the operator down; blocked before the
  // controller, the endpoints and the elector start their threads.
  util::block_stop_signals();
  util::SignalWatcher signals([](int, int signo) { g_signal = signo; });

  Controller controller(*client, opts);
  std::atomic<bool> leading{!leader_elect};
  std::atomic<bool> lost{false};
  try {
    HttpEndpoint health(health_address, [&](httplib::Server& s) {
      s.Get("/healthz", [](const httplib::Request&, httplib::Response& r) { r.set_content("ok\n", "text/plain"); });
      s.Get("/readyz", [&](const httplib::Request&, httplib::Response& r) {
        // A standby replica is ready (it can take over); a leader once its caches are synced.
        Readiness ready = leading ? controller.readiness() : Readiness{true, ""};
        r.status = ready.ready ? 200 : 503;
        r.set_content(ready.ready ? "ok\n" : "not ready: " + ready.reason + "\n", "text/plain");
      });
    });
    HttpEndpoint metrics(metrics_address, [&](httplib::Server& s) {
      s.Get("/metrics", [&](const httplib::Request&, httplib::Response& r) {
        r.set_content(controller.metrics_text(leading), "text/plain; version=0.0.4");
      });
    });

    std::unique_ptr<kube::LeaderElector> elector;
    if (leader_elect) {
      kube::LeaderElectionConfig lc;
      lc.lease_namespace = lease_ns;
      lc.lease_name = "herd-operator-lock";
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      lc.identity = env_or("POD_NAME", env_or("HOSTNAME", host)) + "_" + std::to_string(std::random_device{}());
      lc.on_started_leading = [&, identity = lc.identity] {
        std::fprintf(stderr, "herd operator: became the leader (%s)\n", identity.c_str());
        leading = true;
        controller.start();
      };
      lc.on_stopped_leading = [&] {
        if (leading.exchange(false)) lost = true;  // a leader that lost its Lease stops (and is restarted)
      };
      elector = std::make_unique<kube::LeaderElector>(*client, lc);
      elector->start();
    } else {
      controller.start();
    }
    std::fprintf(stderr, "herd operator: watching %s\n", namespaces.empty() ? "every namespace" : namespaces.c_str());
    while (!g_signal && !lost) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::fprintf(stderr, "herd operator: %s, shutting down\n", lost ? "lost the leader lease" : "signal received");
    controller.stop();
    if (elector) elector->stop();  // releases the Lease so a standby takes over at once
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herd: error: %s\n", e.what());
    return 1;
  }
  return lost ? 1 : 0;
}

}  // namespace herd::op
