// Connection and calls (grpc/conn.h).
#include "grpc/conn.h"

#include "util/ascii.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_callback.h>

#include <deque>
#include <thread>

#ifdef HERD_TSAN_HANDOVERS
#include <sanitizer/tsan_interface.h>
#endif

namespace herd::rpc {

namespace {

// gRPC runs a callback or a completion-queue tag on its own thread, after the
// thread that started the operation handed it the tag through libgrpc. Debian's
// libgrpc is not built with TSan, so TSan cannot see that edge and reports the
// callback's first look at what the starter wrote (the std::function, the
// request) as a race. Under the tsan preset (HERD_TSAN_HANDOVERS) these two mark
// exactly the edges gRPC guarantees: starting an operation happens before its
// completion runs. Nothing else is ordered by them, so a race between a
// callback and the code that started it (or the VU's loop) is still reported.
inline void handed_over([[maybe_unused]] const void* tag) {
#ifdef HERD_TSAN_HANDOVERS
  __tsan_release(const_cast<void*>(tag));
#endif
}
inline void taken_over([[maybe_unused]] const void* tag) {
#ifdef HERD_TSAN_HANDOVERS
  __tsan_acquire(const_cast<void*>(tag));
#endif
}

/// The process-wide completion queue for connection-state notifications. Its
/// thread runs for the life of the process (never joined: reachable, no leak).
class CqThread {
 public:
  using Tag = std::function<void(bool)>;
  static CqThread& get() {
    static CqThread* t = new CqThread;
    return *t;
  }
  grpc::CompletionQueue* cq() { return &cq_; }

 private:
  CqThread() {
    std::thread([this] {
      void* tag = nullptr;
      bool ok = false;
      while (cq_.Next(&tag, &ok)) {
        taken_over(tag);
        std::unique_ptr<Tag> fn(static_cast<Tag*>(tag));
        (*fn)(ok);
      }
    }).detach();
  }
  grpc::CompletionQueue cq_;
};

/// Set on the threads gRPC runs our callbacks on (the callback API's queue
/// threads, its executor): a connection whose last reference goes there is
/// deleted by the Reaper; anywhere else (a VU's thread, CqThread) inline, as before.
thread_local bool t_callback_thread = false;
inline void on_callback_thread() {
  t_callback_thread = true;
}

/// Deletes connections on a thread of its own. The callback API's completions
/// run on threads of a completion queue that grpc++ shuts down, joining them,
/// when the last grpc::Channel goes (CompletionQueue::ReleaseCallbackAlternativeCQ).
/// A channel released on one of those threads joins itself: gRPC 1.51 ignores
/// the EDEADLK, frees the queue under the running thread, and the process
/// crashes a moment later. A call's completion may hold a connection's last
/// reference (a VU closed the Client while the call was ending): when that
/// thread drops it, the connection, and with it the channel, goes here. Calls free their ClientContext (which holds the
/// channel too) before their reference to the connection. The thread runs for the life of the process (never joined:
/// reachable, no leak).
class Reaper {
 public:
  static Reaper& get() {
    static Reaper* r = new Reaper;
    return *r;
  }
  void add(Connection* c) {
    std::lock_guard<std::mutex> g(mu_);
    queue_.push_back(c);
    cv_.notify_one();
  }

 private:
  Reaper() {
    std::thread([this] {
      std::unique_lock<std::mutex> g(mu_);
      for (;;) {
        cv_.wait(g, [this] { return !queue_.empty(); });
        std::vector<Connection*> batch(queue_.begin(), queue_.end());
        queue_.clear();
        g.unlock();
        for (auto* c : batch) delete c;
        g.lock();
      }
    }).detach();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Connection*> queue_;
};

Metadata copy_metadata(const std::multimap<grpc::string_ref, grpc::string_ref>& m) {
  Metadata out;
  for (const auto& [k, v] : m) out.emplace_back(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  return out;
}

std::string bytes_of(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!b.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer buffer_of(const std::string& s) {
  grpc::Slice slice(s.data(), s.size());
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

std::string metadata_error(const std::string& k, const std::string& v) {
  bool ok = !k.empty();
  for (unsigned char c : k)
    ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '_' || c == '.');
  if (!ok)
    return "invalid metadata key \"" + util::escape_controls(k) + "\" (keys are made of 0-9, a-z, '-', '_' and '.')";
  if (k.size() > 4 && k.compare(k.size() - 4, 4, "-bin") == 0) return "";  // binary: any bytes
  for (unsigned char c : v)
    if (c < 0x20 || c > 0x7E)
      return "invalid value for metadata key \"" + k +
             "\": only printable ASCII is allowed (binary values need a key ending in \"-bin\")";
  return "";
}

std::string metadata_error(const Metadata& md) {
  for (const auto& [k, v] : md)
    if (std::string e = metadata_error(k, v); !e.empty()) return e;
  return "";
}

namespace {

void setup_context(grpc::ClientContext* ctx, const Metadata& md, std::chrono::milliseconds timeout) {
  for (const auto& [k, v] : md)  // callers refuse bad metadata first: never hand gRPC what it aborts on
    if (metadata_error(k, v).empty()) ctx->AddMetadata(k, v);
  if (timeout.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

void watch_state(std::shared_ptr<Connection> conn, std::shared_ptr<grpc::Channel> ch,
                 std::chrono::system_clock::time_point deadline, std::shared_ptr<Connection::Opened> done,
                 std::shared_ptr<std::string> last_error, bool probe_failure);

/// connect()'s error at the deadline: k6's "context deadline exceeded", with the
/// reason of the last failed attempt when there was one.
std::string deadline_error(const Connection& conn, const std::string& last_error) {
  std::string e = "failed to connect to " + conn.address() + ": context deadline exceeded";
  if (!last_error.empty()) e += ": connection error: desc = \"" + last_error + "\"";
  return e;
}

/// A failure that another attempt will not cure: k6 (grpc-go's FailOnNonTempDialError)
/// fails connect at once on a refused dial; a TLS handshake that failed (a wrong CA,
/// a missing client certificate) fails the same way on every attempt.
bool permanent_failure(const std::string& why) {
  for (const char* s : {"Connection refused", "Ssl handshake", "SSL_ERROR", "certificate", "Handshake failed"})
    if (why.find(s) != std::string::npos) return true;
  return false;
}

/// A channel in TRANSIENT_FAILURE fails a call at once with the reason of its
/// last attempt (refused, a TLS handshake error, ...): one probe call (a method
/// no server has; it never reaches one) reads that reason. A permanent one is
/// connect()'s error; any other (a peer that closed the connection, a stray
/// errno from gRPC's TCP connect on loopback) is retried by gRPC's own backoff
/// until the connect timeout, as k6 retries a temporary dial error.
void explain_failure(std::shared_ptr<Connection> conn, std::shared_ptr<grpc::Channel> ch,
                     std::chrono::system_clock::time_point deadline, std::shared_ptr<Connection::Opened> done,
                     std::shared_ptr<std::string> last_error) {
  struct Probe {
    grpc::ClientContext ctx;
    grpc::ByteBuffer request, response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::ByteBuffer>> reader;
  };
  // On the completion queue, not the callback API: the tag runs after gRPC is
  // done with the call, so dropping the probe (its ClientContext) there is safe.
  auto probe = std::make_shared<Probe>();
  probe->ctx.set_deadline(std::min(deadline, std::chrono::system_clock::now() + std::chrono::seconds(2)));
  probe->request = buffer_of("");
  grpc::GenericStub stub(ch);
  probe->reader = stub.PrepareUnaryCall(&probe->ctx, "/herd.connect.Probe/Probe", probe->request, CqThread::get().cq());
  probe->reader->StartCall();
  auto* tag = new CqThread::Tag([probe, conn, ch, deadline, done, last_error](bool) {
    std::string why = "the connection was refused or failed (TRANSIENT_FAILURE)";
    if (probe->status.error_code() == grpc::StatusCode::UNAVAILABLE && !probe->status.error_message().empty())
      why = probe->status.error_message();
    if (permanent_failure(why))
      return (*done)(nullptr, "failed to connect to " + conn->address() + ": connection error: desc = \"" + why + "\"");
    *last_error = why;
    watch_state(conn, ch, deadline, done, last_error, false);
  });
  handed_over(tag);
  probe->reader->Finish(&probe->response, &probe->status, tag);
}

/// Waits for READY until the deadline. probe_failure: read the reason of a
/// TRANSIENT_FAILURE (false right after a probe, until the state changes).
void watch_state(std::shared_ptr<Connection> conn, std::shared_ptr<grpc::Channel> ch,
                 std::chrono::system_clock::time_point deadline, std::shared_ptr<Connection::Opened> done,
                 std::shared_ptr<std::string> last_error, bool probe_failure) {
  grpc_connectivity_state st = ch->GetState(true);
  if (st == GRPC_CHANNEL_READY) return (*done)(conn, "");
  if (st == GRPC_CHANNEL_SHUTDOWN)
    return (*done)(nullptr, "failed to connect to " + conn->address() + ": connection error: the channel is shut down");
  if (st == GRPC_CHANNEL_TRANSIENT_FAILURE && probe_failure)
    return explain_failure(conn, ch, deadline, done, last_error);
  if (std::chrono::system_clock::now() >= deadline) return (*done)(nullptr, deadline_error(*conn, *last_error));
  auto* tag = new CqThread::Tag([conn, ch, deadline, done, last_error](bool ok) {
    if (!ok) return (*done)(nullptr, deadline_error(*conn, *last_error));
    watch_state(conn, ch, deadline, done, last_error, true);
  });
  handed_over(tag);
  ch->NotifyOnStateChange(st, deadline, CqThread::get().cq(), tag);
}

class UnaryCall : public Pending {
 public:
  explicit UnaryCall(std::shared_ptr<Connection> c) : conn(std::move(c)) {}
  std::shared_ptr<Connection> conn;  ///< declared before ctx: released after it (Reaper)
  grpc::ClientContext ctx;
  grpc::ByteBuffer request, response;
  std::function<void(CallResult)> done;  ///< here, not in gRPC's callback: grpc++ copies that one
  void cancel() override { ctx.TryCancel(); }
};

class BidiCall : public StreamCall, public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  BidiCall(std::shared_ptr<Connection> conn, Connection::StreamHandlers h) : conn_(std::move(conn)), h_(std::move(h)) {}

 private:
  std::shared_ptr<Connection> conn_;  ///< declared before ctx: released after it (Reaper)

 public:
  grpc::ClientContext ctx;
  std::shared_ptr<BidiCall> self;  ///< keeps the reactor alive until OnDone

  // write() and writes_done() start operations from the VU's thread, outside gRPC's reactions: a hold
  // keeps the call (and OnDone) from finishing under them. It is released once, when no operation will
  // be started from outside any more: at writes_done(), cancel(), a failed write, or the end of the
  // server's messages. The flag is set under mu_ before the release, and every outside StartWrite
  // happens under mu_ after checking it, so none can follow the release.
  //
  // TSan edges (handed_over/taken_over): every start from outside releases `this`, which every reaction
  // acquires; a read's reaction hands the next read over on &read_buf_; every reaction hands over to OnDone
  // on &self (gRPC runs OnDone after all the others). Writes are ordered by mu_.
  void begin() {
    AddHold();
    handed_over(this);
    handed_over(&read_buf_);
    StartRead(&read_buf_);
    StartCall();
  }
  void write(std::string bytes) override {
    std::lock_guard<std::mutex> g(mu_);
    if (finished_ || half_closed_ || released_) return;
    queue_.push_back(buffer_of(bytes));
    if (!writing_) {
      writing_ = true;
      handed_over(this);
      StartWrite(&queue_.front());
    }
  }
  void writes_done() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (finished_ || half_closed_ || released_) return;
      half_closed_ = true;
      handed_over(this);
      if (!writing_) StartWritesDone();  // else OnWriteDone starts it (a reaction)
    }
    release_hold();
  }
  void cancel() override {
    handed_over(this);
    ctx.TryCancel();
    release_hold();
  }

  void OnWriteDone(bool ok) override {
    on_callback_thread();
    taken_over(this);
    {
      std::lock_guard<std::mutex> g(mu_);
      queue_.pop_front();
      if (!ok) queue_.clear();
      if (!queue_.empty()) {
        StartWrite(&queue_.front());
      } else {
        writing_ = false;
        if (half_closed_ && ok) StartWritesDone();
      }
    }
    handed_over(&self);
    if (!ok) release_hold();  // the stream is broken: nothing more goes out
  }
  void OnReadDone(bool ok) override {
    on_callback_thread();
    taken_over(this);
    taken_over(&read_buf_);
    if (ok && h_.on_message) h_.on_message(bytes_of(read_buf_));
    handed_over(&self);
    if (!ok) return release_hold();  // the server is done sending: the call is ending
    handed_over(&read_buf_);
    StartRead(&read_buf_);
  }
  void OnDone(const grpc::Status& s) override {
    on_callback_thread();
    taken_over(this);
    taken_over(&self);
    auto keep = std::move(self);   // may delete this when `keep` goes, last
    Connection::StreamHandlers h;  // released before `keep`: a handler that owns this call (the
    {                              // reflection client does) no longer makes a cycle with it
      std::lock_guard<std::mutex> g(mu_);
      finished_ = true;
      h = std::move(h_);
    }
    CallResult r;
    r.code = s.error_code();
    r.status_message = s.error_message();
    r.headers = copy_metadata(ctx.GetServerInitialMetadata());
    r.trailers = copy_metadata(ctx.GetServerTrailingMetadata());
    if (h.on_done) h.on_done(std::move(r));
    conn_->remove_live(this);
  }

 private:
  Connection::StreamHandlers h_;
  grpc::ByteBuffer read_buf_;
  std::mutex mu_;
  std::deque<grpc::ByteBuffer> queue_;
  bool writing_ = false, half_closed_ = false, finished_ = false;
  bool released_ = false;  ///< guarded by mu_: the hold of begin() was released

  void release_hold() {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (released_) return;
      released_ = true;
    }
    RemoveHold();  // outside mu_: it may end the call, and OnDone takes mu_
  }
};

}  // namespace

void Connection::open(const std::string& addr, const ConnectOptions& opts, Opened done) {
  std::shared_ptr<Connection> conn(new Connection, [](Connection* c) {
    if (t_callback_thread)
      Reaper::get().add(c);
    else
      delete c;
  });
  conn->addr_ = addr;
  grpc::ChannelArguments args;
  if (opts.max_receive >= 0) args.SetMaxReceiveMessageSize(opts.max_receive);
  if (opts.max_send >= 0) args.SetMaxSendMessageSize(opts.max_send);
  if (!opts.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, opts.authority);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own per Client, as k6
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (opts.plaintext) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (opts.tls) {
      ssl.pem_root_certs = opts.tls->cacerts;
      ssl.pem_private_key = opts.tls->key;
      ssl.pem_cert_chain = opts.tls->cert;
    }
    creds = grpc::SslCredentials(ssl);
  }
  conn->channel_ = grpc::CreateCustomChannel(addr, creds, args);
  auto deadline = std::chrono::system_clock::now() + opts.timeout;
  watch_state(conn, conn->channel_, deadline, std::make_shared<Opened>(std::move(done)),
              std::make_shared<std::string>(), true);
}

Connection::~Connection() = default;

std::shared_ptr<Pending> Connection::unary(const std::string& path, std::string body, const Metadata& md,
                                           std::chrono::milliseconds timeout, std::function<void(CallResult)> done) {
  auto call = std::make_shared<UnaryCall>(shared_from_this());
  setup_context(&call->ctx, md, timeout);
  call->request = buffer_of(body);
  call->done = std::move(done);
  add_live(call);
  grpc::GenericStub stub(channel_);
  handed_over(call.get());
  stub.UnaryCall(&call->ctx, path, grpc::StubOptions(), &call->request, &call->response, [call](grpc::Status s) {
    on_callback_thread();
    taken_over(call.get());
    CallResult r;
    r.code = s.error_code();
    r.status_message = s.error_message();
    if (s.ok()) r.body = bytes_of(call->response);
    r.headers = copy_metadata(call->ctx.GetServerInitialMetadata());
    r.trailers = copy_metadata(call->ctx.GetServerTrailingMetadata());
    auto done = std::move(call->done);  // its captures go with this callback, not the call
    done(std::move(r));
    call->conn->remove_live(call.get());
  });
  return call;
}

std::shared_ptr<StreamCall> Connection::stream(const std::string& path, const Metadata& md,
                                               std::chrono::milliseconds timeout, StreamHandlers handlers) {
  auto call = std::make_shared<BidiCall>(shared_from_this(), std::move(handlers));
  setup_context(&call->ctx, md, timeout);
  call->self = call;
  add_live(call);
  grpc::GenericStub stub(channel_);
  stub.PrepareBidiStreamingCall(&call->ctx, path, grpc::StubOptions(), call.get());
  call->begin();
  return call;
}

void Connection::add_live(const std::shared_ptr<Pending>& p) {
  std::lock_guard<std::mutex> g(mu_);
  live_[p.get()] = p;
}

void Connection::remove_live(Pending* p) {
  std::lock_guard<std::mutex> g(mu_);
  live_.erase(p);
  cv_.notify_all();
}

void Connection::cancel_all_and_wait() {
  std::vector<std::shared_ptr<Pending>> calls;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [raw, weak] : live_)
      if (auto p = weak.lock()) calls.push_back(std::move(p));
  }
  for (auto& p : calls) p->cancel();  // outside the lock: a cancel may complete the call on this thread
  calls.clear();
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait_for(g, std::chrono::seconds(5), [&] { return live_.empty(); });
}

}  // namespace herd::rpc
