// Connection and calls (grpc/conn.h).
#include "grpc/conn.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_callback.h>

#include <deque>
#include <thread>

namespace herd::rpc {

namespace {

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
        std::unique_ptr<Tag> fn(static_cast<Tag*>(tag));
        (*fn)(ok);
      }
    }).detach();
  }
  grpc::CompletionQueue cq_;
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

void setup_context(grpc::ClientContext* ctx, const Metadata& md, std::chrono::milliseconds timeout) {
  for (const auto& [k, v] : md) ctx->AddMetadata(k, v);
  if (timeout.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

/// A channel in TRANSIENT_FAILURE fails a call at once with the reason of its
/// last attempt (refused, a TLS handshake error, ...): one probe call (a method
/// no server has; it never reaches one) turns that reason into connect()'s error.
void explain_failure(std::shared_ptr<Connection> conn, std::shared_ptr<grpc::Channel> ch,
                     std::chrono::system_clock::time_point deadline, std::shared_ptr<Connection::Opened> done) {
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
  auto* tag = new CqThread::Tag([probe, conn, done](bool) {
    std::string why = "the connection was refused or failed (TRANSIENT_FAILURE)";
    if (probe->status.error_code() == grpc::StatusCode::UNAVAILABLE && !probe->status.error_message().empty())
      why = probe->status.error_message();
    (*done)(nullptr, "failed to connect to " + conn->address() + ": connection error: desc = \"" + why + "\"");
  });
  probe->reader->Finish(&probe->response, &probe->status, tag);
}

void watch_state(std::shared_ptr<Connection> conn, std::shared_ptr<grpc::Channel> ch,
                 std::chrono::system_clock::time_point deadline, std::shared_ptr<Connection::Opened> done) {
  grpc_connectivity_state st = ch->GetState(true);
  if (st == GRPC_CHANNEL_READY) return (*done)(conn, "");
  if (st == GRPC_CHANNEL_TRANSIENT_FAILURE) return explain_failure(conn, ch, deadline, done);
  if (st == GRPC_CHANNEL_SHUTDOWN)
    return (*done)(nullptr, "failed to connect to " + conn->address() + ": connection error: the channel is shut down");
  if (std::chrono::system_clock::now() >= deadline)
    return (*done)(nullptr, "failed to connect to " + conn->address() + ": context deadline exceeded");
  auto* tag = new CqThread::Tag([conn, ch, deadline, done](bool ok) {
    if (!ok) return (*done)(nullptr, "failed to connect to " + conn->address() + ": context deadline exceeded");
    watch_state(conn, ch, deadline, done);
  });
  ch->NotifyOnStateChange(st, deadline, CqThread::get().cq(), tag);
}

class UnaryCall : public Pending {
 public:
  grpc::ClientContext ctx;
  grpc::ByteBuffer request, response;
  void cancel() override { ctx.TryCancel(); }
};

class BidiCall : public StreamCall, public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  BidiCall(std::shared_ptr<Connection> conn, Connection::StreamHandlers h) : conn_(std::move(conn)), h_(std::move(h)) {}
  grpc::ClientContext ctx;
  std::shared_ptr<BidiCall> self;  ///< keeps the reactor alive until OnDone

  // write() and writes_done() start operations from the VU's thread, outside gRPC's reactions: a hold
  // keeps the call (and OnDone) from finishing under them. It is released once, when no operation will
  // be started from outside any more: at writes_done(), cancel(), a failed write, or the end of the
  // server's messages. The flag is set under mu_ before the release, and every outside StartWrite
  // happens under mu_ after checking it, so none can follow the release.
  void begin() {
    AddHold();
    StartRead(&read_buf_);
    StartCall();
  }
  void write(std::string bytes) override {
    std::lock_guard<std::mutex> g(mu_);
    if (finished_ || half_closed_ || released_) return;
    queue_.push_back(buffer_of(bytes));
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }
  void writes_done() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (finished_ || half_closed_ || released_) return;
      half_closed_ = true;
      if (!writing_) StartWritesDone();  // else OnWriteDone starts it (a reaction)
    }
    release_hold();
  }
  void cancel() override {
    ctx.TryCancel();
    release_hold();
  }

  void OnWriteDone(bool ok) override {
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
    if (!ok) release_hold();  // the stream is broken: nothing more goes out
  }
  void OnReadDone(bool ok) override {
    if (!ok) return release_hold();  // the server is done sending: the call is ending
    if (h_.on_message) h_.on_message(bytes_of(read_buf_));
    StartRead(&read_buf_);
  }
  void OnDone(const grpc::Status& s) override {
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
  std::shared_ptr<Connection> conn_;
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
  std::shared_ptr<Connection> conn(new Connection);
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
  watch_state(conn, conn->channel_, deadline, std::make_shared<Opened>(std::move(done)));
}

Connection::~Connection() = default;

std::shared_ptr<Pending> Connection::unary(const std::string& path, std::string body, const Metadata& md,
                                           std::chrono::milliseconds timeout, std::function<void(CallResult)> done) {
  auto call = std::make_shared<UnaryCall>();
  setup_context(&call->ctx, md, timeout);
  call->request = buffer_of(body);
  add_live(call);
  grpc::GenericStub stub(channel_);
  auto self = shared_from_this();
  stub.UnaryCall(&call->ctx, path, grpc::StubOptions(), &call->request, &call->response,
                 [call, self, done = std::move(done)](grpc::Status s) {
                   CallResult r;
                   r.code = s.error_code();
                   r.status_message = s.error_message();
                   if (s.ok()) r.body = bytes_of(call->response);
                   r.headers = copy_metadata(call->ctx.GetServerInitialMetadata());
                   r.trailers = copy_metadata(call->ctx.GetServerTrailingMetadata());
                   done(std::move(r));
                   self->remove_live(call.get());
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
