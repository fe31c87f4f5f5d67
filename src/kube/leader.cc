#include "kube/leader.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace herd::kube {
namespace {

using nlohmann::json;
using std::chrono::steady_clock;

bool sleep_for(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

// Tolerant readers: a field of the wrong type reads as absent.
std::string field(const json& lease, const char* pointer) {
  json::json_pointer p(pointer);
  return lease.contains(p) && lease.at(p).is_string() ? lease.at(p).get<std::string>() : "";
}

long long number(const json& spec, const char* key, long long fallback) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_number_integer() ? it->get<long long>() : fallback;
}

}  // namespace

std::string micro_time(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(us % 1'000'000));
  return out;
}

LeaderElector::LeaderElector(const Client& client, LeaderElectionConfig config)
    : client_(client),
      config_(std::move(config)),
      path_(path_for("coordination.k8s.io", "v1", "leases", config_.lease_namespace, config_.lease_name)) {
  if (config_.lease_namespace.empty() || config_.lease_name.empty() || config_.identity.empty()) {
    throw std::invalid_argument("leader election: lease_namespace, lease_name and identity are required");
  }
  if (config_.renew_deadline >= config_.lease_duration || config_.retry_period >= config_.renew_deadline) {
    throw std::invalid_argument("leader election: need retry_period < renew_deadline < lease_duration");
  }
}

LeaderElector::~LeaderElector() {
  stop();
}

void LeaderElector::start() {
  if (!thread_.joinable()) thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void LeaderElector::stop() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  if (leading_) {
    release();
    leading_ = false;
    if (config_.on_stopped_leading) config_.on_stopped_leading();
  }
}

std::string LeaderElector::leader() const {
  std::lock_guard lock(mu_);
  return observed_holder_;
}

void LeaderElector::observe(const json& lease) {
  std::lock_guard lock(mu_);
  std::string holder = field(lease, "/spec/holderIdentity"), renew = field(lease, "/spec/renewTime");
  std::string rv = field(lease, "/metadata/resourceVersion");
  if (holder != observed_holder_ || renew != observed_renew_ || rv != observed_rv_ ||
      observed_at_ == steady_clock::time_point{}) {
    observed_holder_ = std::move(holder);
    observed_renew_ = std::move(renew);
    observed_rv_ = std::move(rv);
    observed_at_ = steady_clock::now();
  }
}

bool LeaderElector::try_acquire_or_renew() {
  const std::string now = micro_time(std::chrono::system_clock::now());
  const auto duration_s = std::max<long long>(1, (config_.lease_duration.count() + 999) / 1000);
  json lease;
  try {
    lease = client_.get(path_);
  } catch (const ApiError& e) {
    if (!e.is_not_found()) return false;
    json fresh = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
                  {"spec",
                   {{"holderIdentity", config_.identity},
                    {"leaseDurationSeconds", duration_s},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    try {
      observe(client_.create(path_for("coordination.k8s.io", "v1", "leases", config_.lease_namespace), fresh));
      return true;
    } catch (const Error&) {
      return false;
    }
  } catch (const Error&) {
    return false;
  }
  observe(lease);
  json& spec = lease["spec"];
  if (!spec.is_object()) spec = json::object();
  const std::string holder = field(lease, "/spec/holderIdentity");
  if (!holder.empty() && holder != config_.identity) {
    std::lock_guard lock(mu_);
    auto held_for = std::chrono::seconds(number(spec, "leaseDurationSeconds", duration_s));
    if (steady_clock::now() < observed_at_ + held_for) return false;  // someone else holds a live lease
  }
  if (holder != config_.identity) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = number(spec, "leaseTransitions", 0) + 1;
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = duration_s;
  spec["renewTime"] = now;
  try {
    observe(client_.replace(path_, lease));  // metadata.resourceVersion makes this a compare-and-swap
    return true;
  } catch (const Error&) {
    return false;
  }
}

void LeaderElector::run(std::stop_token stop) {
  auto last_renew = steady_clock::now();
  do {
    bool held = try_acquire_or_renew();
    if (held) {
      last_renew = steady_clock::now();
      if (!leading_.exchange(true) && config_.on_started_leading) config_.on_started_leading();
    } else if (leading_ &&
               (leader() != config_.identity || steady_clock::now() - last_renew > config_.renew_deadline)) {
      leading_ = false;
      if (config_.on_stopped_leading) config_.on_stopped_leading();
    }
  } while (sleep_for(stop, config_.retry_period));
}

void LeaderElector::release() {
  try {
    json lease = client_.get(path_);
    if (field(lease, "/spec/holderIdentity") != config_.identity) return;
    json& spec = lease["spec"];
    spec["holderIdentity"] = "";
    spec["leaseDurationSeconds"] = 1;
    spec["renewTime"] = micro_time(std::chrono::system_clock::now());
    observe(client_.replace(path_, lease));
  } catch (const Error&) {  // best effort: the lease expires anyway
  }
}

}  // namespace herd::kube
