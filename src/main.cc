// kinesd: config -> storage -> streams -> actions -> HTTP listener.
// Shutdown runs in reverse: end subscriptions, stop accepting, answer the
// requests in flight and close the connections, flush every Firehose buffer
// to S3, stop the background workers, close the store; all within
// --shutdown-timeout.
//
// Exit status: 0 after a clean shutdown; 1 when kinesd cannot start (the
// data directory is held by another kinesd, say) or fails; 2 for a bad
// setting; 3 when the shutdown timeout passed with work left (undelivered
// Firehose data stays stored and is delivered after the next start);
// 128 + the signal number when a second SIGTERM/SIGINT cut the shutdown short.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>
#include <vector>

#include "actions/service.h"
#include "actions/subscription_hub.h"
#include "auth/audit_log.h"
#include "auth/credentials_file.h"
#include "auth/sigv4_verifier.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/random.h"
#include "config/config.h"
#include "delivery/delivery_manager.h"
#include "functions/function_registry.h"
#include "functions/invoker.h"
#include "delivery/firehose_registry.h"
#include "actions/action.h"
#include "http/io_loop.h"
#include "http/ops_endpoints.h"
#include "http/router.h"
#include "http/server.h"
#include "lambda/esm_metrics.h"
#include "lambda/lambda_api.h"
#include "lambda/mapping_registry.h"
#include "lambda/poller.h"
#include "metrics/collector.h"
#include "metrics/exposition.h"
#include "metrics/request_counters.h"
#include "storage/keys.h"
#include "common/node_id.h"
#include "storage/lease_keeper.h"
#include "storage/meta_follower.h"
#include "server/shared_store.h"
#include "storage/open_store.h"
#include "streams/commit_notifier.h"
#include "streams/expiry_worker.h"
#include "streams/stream_registry.h"
#include "streams/throughput_limiter.h"

extern char** environ;

namespace {

constexpr int exit_shutdown_timeout = 3;

std::vector<std::string> environment() {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    return env;
}

kinesd::storage::durability durability_of(const std::string& s) {
    if (s == "flush") return kinesd::storage::durability::flush;
    if (s == "none") return kinesd::storage::durability::none;
    return kinesd::storage::durability::sync;
}

// Every connection is a descriptor, and RocksDB keeps files open too: the
// soft limit (often 1024) would cap connections long before max-connections.
void raise_open_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const auto before = limit.rlim_cur;
    if (limit.rlim_cur != limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            spdlog::debug("cannot raise the open file limit from {}: {}", before, std::strerror(errno));
            return;
        }
    }
    spdlog::debug("open file limit {} (was {})", limit.rlim_cur, before);
}

// What RocksDB leaves in a directory, even when it stopped before writing
// CURRENT. Anything else means the directory belongs to someone else.
bool is_store_file(const std::string& name) {
    static const char* const prefixes[] = {"LOCK", "LOG", "IDENTITY", "MANIFEST-", "OPTIONS-", "CURRENT"};
    // data_dir_lock's, load_node_id's and the self-signed certificate's: with
    // --storage nats they are all the directory holds.
    if (name == "kinesd.pid" || name == "node-id" || name == "tls") return true;
    for (const char* prefix : prefixes)
        if (name.rfind(prefix, 0) == 0) return true;
    for (const char* suffix : {".log", ".sst", ".blob", ".dbtmp"})
        if (name.size() > std::strlen(suffix) && name.ends_with(suffix)) return true;
    // A file system's own entry at the root of a dedicated volume.
    return name == "lost+found";
}

// Refuses, with one clear sentence, a data directory that cannot be a kinesd
// store, before RocksDB gets to create files in it or report it obscurely.
void check_data_dir(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory)
        throw std::runtime_error("data directory " + path + " is not accessible: " + ec.message());
    if (!fs::exists(status)) return;  // the store creates it
    if (!fs::is_directory(status)) throw std::runtime_error("data directory " + path + " exists and is not a directory");
    if (access(path.c_str(), R_OK | W_OK | X_OK) != 0)
        throw std::runtime_error("data directory " + path + " is not writable: " + std::strerror(errno));
    bool has_current = false;
    std::string foreign;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
        const auto name = entry.path().filename().string();
        if (name == "CURRENT") has_current = true;
        if (foreign.empty() && !is_store_file(name)) foreign = name;
    }
    if (ec) throw std::runtime_error("data directory " + path + " cannot be listed: " + ec.message());
    if (!has_current && !foreign.empty())
        throw std::runtime_error("data directory " + path + " is not empty and holds no kinesd store (found '" +
                                 foreign + "'); give an empty or a kinesd data directory");
}

// One kinesd per data directory. RocksDB's own LOCK refuses a second opener
// too, but its message names neither the directory's holder nor what to do;
// this lock is taken first and says both. It is an flock, so it goes with
// the process however that ends, and the file's PID is only informative.
class data_dir_lock {
public:
    explicit data_dir_lock(const std::string& dir) {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) throw std::runtime_error("cannot create data directory " + dir + ": " + ec.message());
        const auto path = (fs::path(dir) / "kinesd.pid").string();
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const int error = errno;
            std::string holder;
            char buffer[32] = {};
            auto n = ::pread(fd_, buffer, sizeof buffer - 1, 0);
            if (n > 0) holder = std::string(buffer, std::size_t(n));
            while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
            ::close(fd_);
            fd_ = -1;
            if (error == EWOULDBLOCK)
                throw std::runtime_error("data directory " + dir + " is in use by another kinesd (pid " +
                                         (holder.empty() ? std::string("unknown") : holder) +
                                         "); stop it first or give another --data-dir");
            throw std::runtime_error("cannot lock " + path + ": " + std::strerror(error));
        }
        const auto pid = std::to_string(::getpid()) + "\n";
        if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size()))
            spdlog::warn("cannot write the pid to {}: {}", path, std::strerror(errno));
    }
    ~data_dir_lock() {
        if (fd_ < 0) return;
        // Emptied, not removed: removing would let a starting kinesd lock a
        // file no longer in the directory while a third one creates another.
        if (::ftruncate(fd_, 0) != 0) spdlog::debug("cannot empty kinesd.pid: {}", std::strerror(errno));
        ::close(fd_);
    }
    data_dir_lock(const data_dir_lock&) = delete;
    data_dir_lock& operator=(const data_dir_lock&) = delete;

private:
    int fd_ = -1;
};

// SIGTERM and SIGINT are blocked in every thread (main() does it before any
// starts) and taken here with sigtimedwait, so that a second signal is seen
// even once the I/O threads have stopped. The first one starts the shutdown;
// a second one ends the process at once; and if the shutdown is still
// running when its deadline passes, this thread ends the process. Either
// early end is a crash as far as the store is concerned: acknowledged
// records are in its write-ahead log and come back at the next start.
class shutdown_watch {
public:
    using clock = std::chrono::steady_clock;
    static sigset_t signals() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        return set;
    }

    explicit shutdown_watch(std::chrono::milliseconds timeout) : timeout_(timeout) {}
    ~shutdown_watch() {
        done_ = true;
        if (thread_.joinable()) thread_.join();
    }
    shutdown_watch(const shutdown_watch&) = delete;
    shutdown_watch& operator=(const shutdown_watch&) = delete;

    // `begin` runs on this thread when the first signal arrives.
    void start(std::function<void(int)> begin) {
        begin_ = std::move(begin);
        thread_ = std::thread([this] { watch(); });
    }
    // What the shutdown is doing now, named in the log if it times out.
    void stage(const char* what) {
        stage_ = what;
        spdlog::debug("shutdown: {}", what);
    }
    bool started() const { return started_; }
    // When the shutdown must be over.
    clock::time_point deadline() const { return deadline_; }

private:
    void watch() {
        const sigset_t set = signals();
        const timespec tick{0, 50'000'000};
        while (!done_) {
            if (started_ && clock::now() >= deadline_) {
                spdlog::critical("shutdown did not finish within {} ms (still {}); exiting with status {}. "
                                 "Records acknowledged are stored and Firehose data not yet written to S3 is "
                                 "delivered after the next start",
                                 timeout_.count(), stage_.load(), exit_shutdown_timeout);
                spdlog::default_logger()->flush();
                std::_Exit(exit_shutdown_timeout);
            }
            const int sig = sigtimedwait(&set, nullptr, &tick);
            if (sig <= 0) continue;
            if (started_) {
                spdlog::critical("second signal {} during shutdown (still {}): exiting now with status {}", sig,
                                 stage_.load(), 128 + sig);
                spdlog::default_logger()->flush();
                std::_Exit(128 + sig);
            }
            deadline_ = clock::now() + timeout_;
            started_ = true;
            spdlog::info("signal {} received, shutting down (at most {} ms; a second signal exits at once)", sig,
                         timeout_.count());
            begin_(sig);
        }
    }

    std::chrono::milliseconds timeout_;
    std::function<void(int)> begin_;
    std::atomic<bool> done_{false};
    std::atomic<bool> started_{false};
    std::atomic<const char*> stage_{"ending subscriptions"};
    clock::time_point deadline_{};
    std::thread thread_;
};

// "a, b,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto end = std::min(text.find(',', start), text.size());
        auto item = text.substr(start, end - start);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) out.push_back(item);
        start = end + 1;
    }
    return out;
}

int run(const kinesd::config::settings& cfg) {
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    kinesd::clock clock(cfg.clock_offset_ms);

    // Declared first, so that it still watches while the store closes.
    shutdown_watch watch(std::chrono::milliseconds(cfg.shutdown_timeout_ms));
    // Settings that can be wrong are read before anything is opened, so that
    // a mistake stops the start with its file and line.
    std::unique_ptr<kinesd::auth::sigv4_verifier> verifier;
    if (!cfg.credentials_file.empty()) {
        auto keys = kinesd::auth::load_credentials_file(cfg.credentials_file, cfg.account_id);
        spdlog::info("requests must be signed: {} keys from {}", keys.size(), cfg.credentials_file);
        verifier = std::make_unique<kinesd::auth::sigv4_verifier>(std::move(keys));
    }
    std::unique_ptr<kinesd::auth::audit_log> audit;
    if (!cfg.audit_log.empty() && cfg.audit_log != "off") audit = std::make_unique<kinesd::auth::audit_log>(cfg.audit_log);

    raise_open_file_limit();
    check_data_dir(cfg.data_dir);
    data_dir_lock lock(cfg.data_dir);
    kinesd::storage::storage_settings storage_settings;
    storage_settings.backend = cfg.storage;
    auto& store_options = storage_settings.rocksdb;
    store_options.path = cfg.data_dir;
    store_options.mode = durability_of(cfg.durability);
    store_options.write_buffer_total_bytes = cfg.write_buffer_mb << 20;
    store_options.block_cache_bytes = cfg.block_cache_mb << 20;
    store_options.wal.step = cfg.wal_zero_ahead_kb << 10;
    // A thread that polls needs a core to spare: on one core it would only
    // take turns with the thread it waits for.
    if (cores > 1) store_options.spin = std::chrono::microseconds(std::max<std::int64_t>(0, cfg.spin_us));
    auto& nats = storage_settings.jetstream;
    nats.urls = split_list(cfg.nats_url);
    nats.replicas = cfg.nats_replicas;
    nats.prefix = cfg.nats_prefix;
    nats.publish_timeout = std::chrono::milliseconds(cfg.nats_publish_timeout_ms);
    const auto store_ptr = kinesd::storage::open_store(storage_settings, clock);
    kinesd::storage::log_store& store = *store_ptr;
    spdlog::info("storage: {}", store.backend_name());

    kinesd::streams::registry_options registry_options{cfg.create_stream_ms, cfg.delete_stream_ms,
                                                       cfg.update_stream_ms, cfg.metrics};
    kinesd::streams::stream_registry registry(store, clock, registry_options);
    kinesd::delivery::firehose_registry firehose(store, clock, {cfg.create_stream_ms, cfg.delete_stream_ms});
    kinesd::lambda::mapping_registry mappings(store, clock);
    // Other front ends on the same store change what the registries hold;
    // watching starts before loading so that no change falls in between.
    kinesd::storage::meta_follower follower(store);
    std::atomic<kinesd::actions::subscription_hub*> claims_hub{nullptr};
    kinesd::server::follow_shared_store(follower, registry, firehose, mappings, claims_hub);
    follower.start();
    // Column families that nobody references are leftovers of a deletion cut
    // short by a crash.
    std::set<std::string> referenced = registry.load();
    referenced.merge(firehose.load());
    store.drop_unreferenced(referenced);
    mappings.load();
    // Delivery streams and mappings run where their lease is held.
    // Other front ends may share every backend but the embedded one.
    const bool shares_store = cfg.storage != "rocksdb";
    kinesd::storage::lease_keeper leases(store, clock, kinesd::load_node_id(cfg.data_dir));
    spdlog::info("node id {}", leases.owner());

    kinesd::actions::service_settings service_settings;
    service_settings.region = cfg.region;
    service_settings.account_id = cfg.account_id;
    service_settings.shard_limit = cfg.shard_limit;
    service_settings.on_demand_shard_count = cfg.on_demand_shard_count;
    kinesd::actions::service service(service_settings, store, registry, clock, kinesd::server::load_secret(store));
    service.set_firehose(&firehose);
    kinesd::streams::throughput_limiter limiter(clock, {.enabled = cfg.enforce_limits});
    service.set_limiter(&limiter);

    kinesd::streams::expiry_worker expiry(registry, cfg.expiry_interval_ms);
    expiry.start();

    boost::asio::thread_pool workers(cfg.worker_threads > 0 ? cfg.worker_threads : int(cores * 4));
    service.set_post([&workers](std::function<void()> work) { boost::asio::post(workers, std::move(work)); });
    service.set_catch_up([&follower] { follower.catch_up(std::chrono::seconds(1)); });
    // Declared before the io_context: the subscriptions its connections hold
    // leave the hub when they go, and their timers run on the workers.
    kinesd::streams::commit_notifier notifier(store);
    kinesd::actions::subscription_hub subscriptions(
        notifier, workers.get_executor(),
        {.heartbeat_ms = cfg.subscribe_heartbeat_ms, .lifetime_ms = cfg.subscription_lifetime_ms}, cfg.account_id);
    service.set_subscriptions(&subscriptions);
    // With front ends sharing the store, the one-subscription rule holds
    // across them (subscription_claims.h).
    std::optional<kinesd::actions::subscription_claims> claims;
    if (shares_store) {
        claims.emplace(store, leases.owner());
        subscriptions.use_claims(&*claims);
        claims_hub = &subscriptions;
    }
    registry.set_change_listener([&subscriptions](std::uint64_t uid) { subscriptions.stream_changed(uid); });
    kinesd::http::router router(service, workers, cfg.max_body_bytes);
    router.set_verifier(verifier.get());
    router.set_audit_log(audit.get());
    // Lambda's event source mapping API on the same port, and the pollers
    // that run the mappings (started below, once the server is up).
    // One invoker for Firehose and the mappings: it keeps the limit of
    // invocations in flight per function URL (the emulator serves one at a
    // time). Static: an upload abandoned at a shutdown deadline may still be
    // invoking.
    static std::unique_ptr<kinesd::functions::invoker> functions;
    functions = std::make_unique<kinesd::functions::invoker>(
        kinesd::functions::function_registry(cfg.region, cfg.account_id, cfg.functions));
    auto& invoker = *functions;
    kinesd::lambda::api_settings lambda_settings;
    lambda_settings.region = cfg.region;
    lambda_settings.account_id = cfg.account_id;
    lambda_settings.functions = &invoker.registry();
    kinesd::lambda::esm_metrics esm_counters;
    kinesd::lambda::poller_options poller_options;
    poller_options.s3.endpoint = cfg.s3_endpoint;
    poller_options.s3.region = cfg.s3_region.empty() ? cfg.region : cfg.s3_region;
    poller_options.s3.credentials = {cfg.s3_access_key, cfg.s3_secret_key, {}};
    kinesd::lambda::poller esm_poller(mappings, registry, store, clock,
                                      kinesd::lambda::bind_invoker(invoker, std::chrono::seconds(60)), esm_counters,
                                      poller_options, cfg.account_id, &notifier);
    lambda_settings.changed = [&esm_poller] { esm_poller.wake(); };
    kinesd::lambda::lambda_api lambda_api(lambda_settings, mappings, registry, workers);
    lambda_api.set_verifier(verifier.get());
    lambda_api.set_audit_log(audit.get());
    router.add_rest_service(&lambda_api);

    boost::asio::io_context ioc;
    kinesd::http::server_options server_options;
    server_options.host = cfg.host;
    server_options.port = cfg.port;
    server_options.max_connections = cfg.max_connections;
    server_options.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
    server_options.read_timeout = std::chrono::milliseconds(cfg.read_timeout_ms);
    server_options.max_inflight_bytes = cfg.max_inflight_bytes;
    server_options.tls_cert = cfg.tls_cert;
    server_options.tls_key = cfg.tls_key;
    server_options.tls_dir = (std::filesystem::path(cfg.data_dir) / "tls").string();
    server_options.tls_only = cfg.tls_only;
    kinesd::http::server server(ioc, server_options, router);
    // Operators' endpoints: /health always, /metrics and the counters behind
    // it unless turned off.
    kinesd::metrics::request_counters requests(kinesd::actions::action_count());
    std::unique_ptr<kinesd::metrics::exposition> exposition;
    if (cfg.metrics) {
        kinesd::metrics::collector_sources sources{.streams = registry, .clock = clock};
        sources.firehose = &firehose;
        sources.store = &store;
        sources.requests = &requests;
        for (std::size_t i = 0; i < kinesd::actions::action_count(); ++i) {
            const auto target = kinesd::actions::action_at(i).target;
            const auto dot = target.find('.');
            sources.request_rows.emplace_back(target.starts_with("Firehose") ? "firehose" : "kinesis",
                                              std::string(target.substr(dot + 1)));
        }
        sources.request_rows.emplace_back("", "unknown");
        sources.open_connections = [&server] { return server.open_connections(); };
        sources.account_id = cfg.account_id;
        exposition = std::make_unique<kinesd::metrics::exposition>(KINESD_VERSION);
        exposition->add(std::make_shared<kinesd::metrics::collector>(std::move(sources)));
        // Not owned: esm_counters outlives the exposition.
        exposition->add(std::shared_ptr<prometheus::Collectable>(std::shared_ptr<void>(), &esm_counters));
    }
    kinesd::http::ops_endpoints ops(workers, store, exposition.get());
    router.set_operations(&ops, cfg.metrics ? &requests : nullptr);
    store.set_completion_runner([&ioc](std::function<void()> complete) { boost::asio::post(ioc, std::move(complete)); });
    server.start();
    kinesd::delivery::delivery_options delivery_options;
    delivery_options.s3.endpoint = cfg.s3_endpoint;
    delivery_options.s3.region = cfg.s3_region.empty() ? cfg.region : cfg.s3_region;
    delivery_options.s3.credentials = {cfg.s3_access_key, cfg.s3_secret_key, {}};
    delivery_options.upload_threads = int(std::max(2u, cores));
    delivery_options.retry_window_ms = cfg.firehose_retry_window_ms;
    delivery_options.invoker = functions.get();
    delivery_options.region = cfg.region;
    delivery_options.account_id = cfg.account_id;
    delivery_options.max_active_partitions = std::size_t(std::max<std::int64_t>(1, cfg.firehose_max_active_partitions));
    delivery_options.http_timeout_ms = cfg.firehose_http_timeout_ms;
    delivery_options.http_ca_file = cfg.firehose_http_ca_file;
    kinesd::delivery::delivery_manager delivery(firehose, registry, store, clock, delivery_options);
    delivery.use_leases(leases, shares_store);
    esm_poller.use_leases(leases);
    delivery.start();
    esm_poller.start();
    spdlog::info("kinesd listening on {}:{} (data in {}, durability {})", cfg.host, server.local_port(), cfg.data_dir,
                 cfg.durability);

    // Subscriptions end first, each with the last chunk or frame of its
    // stream so that clients see a clean end and resubscribe elsewhere. Then
    // the server stops accepting and drains: every request already begun is
    // answered (HTTP/1.1 with Connection: close, HTTP/2 after a GOAWAY) and
    // each connection closes once it has nothing left in flight; idle ones
    // close at once. The rest go when the drain's slice of the shutdown
    // budget is over: a quarter, at most 5 s, since a request still running
    // by then is stuck or trickling in, and the remainder belongs to the
    // Firehose flush and the store. Timers of subscriptions would also hold
    // the workers' join. The waiting is a timer on the io_context, checked
    // every few milliseconds, so that no thread blocks on it.
    const auto drain_for =
        std::min<std::chrono::milliseconds>(std::chrono::milliseconds(cfg.shutdown_timeout_ms) / 4,
                                            std::chrono::seconds(5));
    boost::asio::steady_timer drain(ioc);
    std::function<void(std::chrono::steady_clock::time_point)> finish_shutdown = [&](auto until) {
        const bool busy = server.open_connections() > 0 || subscriptions.size() > 0 || store.appends_pending() > 0;
        if (busy && std::chrono::steady_clock::now() < until) {
            drain.expires_after(std::chrono::milliseconds(5));
            drain.async_wait([&, until](const boost::system::error_code&) { finish_shutdown(until); });
            return;
        }
        if (server.open_connections() > 0)
            spdlog::warn("shutdown: {} connection(s) still busy after {} ms; closing them", server.open_connections(),
                         drain_for.count());
        server.stop();
        ioc.stop();
    };
    watch.start([&](int) {
        boost::asio::post(ioc, [&] {
            watch.stage("finishing requests in flight");
            subscriptions.stop_all();
            server.drain();
            finish_shutdown(std::chrono::steady_clock::now() + drain_for);
        });
    });

    int io_threads = cfg.io_threads > 0 ? cfg.io_threads : int(cores);
    std::vector<std::thread> threads;
    kinesd::http::io_spin spin;
    spin.limit = store_options.spin;
    // Several puts pending, or commits of several puts, mean several
    // clients: their group commits fill up while the disk syncs, and every
    // core is better spent serving them.
    spin.awaited = [&store] { return store.appends_pending() == 1 && store.lone_client(); };
    for (int i = 1; i < io_threads; ++i) threads.emplace_back([&] { kinesd::http::run_io_thread(ioc, spin); });
    kinesd::http::run_io_thread(ioc, spin);
    for (auto& t : threads) t.join();
    store.set_completion_runner(nullptr);

    workers.join();
    // Puts still queued in the writer hold their sessions, which belong to
    // the io_context: they must be completed and let go before it is
    // destroyed, at the end of this scope and before the store. (Without
    // this, a SIGTERM under load could crash in a session's destructor.)
    store.fence();
    // After the last put was answered: what is buffered goes to S3 now. The
    // flush leaves time to close the store before the deadline.
    watch.stage("flushing Firehose buffers to S3");
    const auto timeout = std::chrono::milliseconds(cfg.shutdown_timeout_ms);
    const auto reserve = std::min<std::chrono::milliseconds>(timeout / 4, std::chrono::seconds(2));
    const auto flush_until =
        watch.started() ? watch.deadline() - reserve : std::chrono::steady_clock::now() + timeout - reserve;
    const auto flushed = delivery.stop(flush_until);
    watch.stage("stopping background work");
    // A lane waiting on a function ends when that invocation does; what it
    // had not checkpointed is delivered again after the next start.
    esm_poller.stop();
    expiry.stop();
    watch.stage("closing the store");
    if (!flushed.complete()) {
        spdlog::error("shutdown timeout: {} of {} delivery streams not fully written to S3 ({} objects, {} records "
                      "sealed and more possibly unread); they are stored and delivered after the next start. "
                      "Exit status {}",
                      flushed.incomplete, flushed.streams, flushed.objects_left, flushed.records_left,
                      exit_shutdown_timeout);
        return exit_shutdown_timeout;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // One malloc arena per thread keeps each worker's largest freed
    // GetRecords answer; two arenas and fixed thresholds give it back.
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    kinesd::config::parse_result parsed;
    try {
        parsed = kinesd::config::load(argc, argv, environment());
        // Refuse a bad function name or URL at start, not at first use.
        kinesd::functions::function_registry(parsed.values.region, parsed.values.account_id, parsed.values.functions);
    } catch (const std::exception& e) {
        std::cerr << "kinesd: " << e.what() << "\n";
        return 2;
    }
    if (parsed.show_help) {
        std::cout << kinesd::config::help_text();
        return 0;
    }
    if (parsed.show_version) {
        std::cout << "kinesd " KINESD_VERSION "\n";
        return 0;
    }
    kinesd::setup_logging(parsed.values.log_level);
    // Before any thread starts, so that every one inherits the mask and
    // only shutdown_watch takes these signals.
    const sigset_t stop_signals = shutdown_watch::signals();
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    int status = 1;
    try {
        status = run(parsed.values);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
    if (status == 0) {
        spdlog::info("kinesd stopped");
        return 0;
    }
    // Uploads abandoned at the deadline may still run on threads of their
    // own; exit without the static destructors they could race with.
    spdlog::info("kinesd stopped (status {})", status);
    spdlog::default_logger()->flush();
    std::_Exit(status);
}
