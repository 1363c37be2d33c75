// kinesd: config -> storage -> streams -> actions -> HTTP listener.
// Shutdown runs in reverse: stop accepting, let in-flight work finish, stop
// the background workers, close the store.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>
#include <vector>

#include "actions/service.h"
#include "actions/subscription_hub.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/random.h"
#include "config/config.h"
#include "delivery/delivery_manager.h"
#include "delivery/firehose_registry.h"
#include "http/io_loop.h"
#include "http/router.h"
#include "http/server.h"
#include "storage/keys.h"
#include "storage/store.h"
#include "streams/commit_notifier.h"
#include "streams/expiry_worker.h"
#include "streams/stream_registry.h"
#include "streams/throughput_limiter.h"

extern char** environ;

namespace {

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

// The HMAC key of shard iterators and paging tokens, created once per data
// directory so that iterators survive restarts.
std::string load_secret(kinesd::storage::store& store) {
    std::string secret;
    if (store.get_meta(kinesd::storage::keys::iterator_secret_key, &secret) && secret.size() == 32) return secret;
    secret = kinesd::random_bytes(32);
    auto s = store.put_meta(kinesd::storage::keys::iterator_secret_key, secret);
    if (!s.ok()) throw std::runtime_error("cannot write to the data directory: " + s.ToString());
    return secret;
}

int run(const kinesd::config::settings& cfg) {
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    kinesd::clock clock(cfg.clock_offset_ms);

    raise_open_file_limit();
    check_data_dir(cfg.data_dir);
    kinesd::storage::store_options store_options;
    store_options.path = cfg.data_dir;
    store_options.mode = durability_of(cfg.durability);
    store_options.write_buffer_total_bytes = cfg.write_buffer_mb << 20;
    store_options.block_cache_bytes = cfg.block_cache_mb << 20;
    store_options.wal.step = cfg.wal_zero_ahead_kb << 10;
    // A thread that polls needs a core to spare: on one core it would only
    // take turns with the thread it waits for.
    if (cores > 1) store_options.spin = std::chrono::microseconds(std::max<std::int64_t>(0, cfg.spin_us));
    kinesd::storage::store store(store_options, clock);

    kinesd::streams::registry_options registry_options{cfg.create_stream_ms, cfg.delete_stream_ms,
                                                       cfg.update_stream_ms};
    kinesd::streams::stream_registry registry(store, clock, registry_options);
    // Column families that nobody references are leftovers of a deletion cut
    // short by a crash.
    std::set<std::string> referenced = registry.load();
    kinesd::delivery::firehose_registry firehose(store, clock, {cfg.create_stream_ms, cfg.delete_stream_ms});
    referenced.merge(firehose.load());
    store.drop_unreferenced(referenced);

    kinesd::actions::service_settings service_settings;
    service_settings.region = cfg.region;
    service_settings.account_id = cfg.account_id;
    service_settings.shard_limit = cfg.shard_limit;
    service_settings.on_demand_shard_count = cfg.on_demand_shard_count;
    kinesd::actions::service service(service_settings, store, registry, clock, load_secret(store));
    service.set_firehose(&firehose);
    kinesd::streams::throughput_limiter limiter(clock, {.enabled = cfg.enforce_limits});
    service.set_limiter(&limiter);

    kinesd::streams::expiry_worker expiry(registry, cfg.expiry_interval_ms);
    expiry.start();

    boost::asio::thread_pool workers(cfg.worker_threads > 0 ? cfg.worker_threads : int(cores * 4));
    service.set_post([&workers](std::function<void()> work) { boost::asio::post(workers, std::move(work)); });
    // Declared before the io_context: the subscriptions its connections hold
    // leave the hub when they go, and their timers run on the workers.
    kinesd::streams::commit_notifier notifier(store);
    kinesd::actions::subscription_hub subscriptions(
        notifier, workers.get_executor(),
        {.heartbeat_ms = cfg.subscribe_heartbeat_ms, .lifetime_ms = cfg.subscription_lifetime_ms}, cfg.account_id);
    service.set_subscriptions(&subscriptions);
    registry.set_change_listener([&subscriptions](std::uint64_t uid) { subscriptions.stream_changed(uid); });
    kinesd::http::router router(service, workers, cfg.max_body_bytes);

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
    store.set_completion_runner([&ioc](std::function<void()> complete) { boost::asio::post(ioc, std::move(complete)); });
    server.start();
    kinesd::delivery::delivery_options delivery_options;
    delivery_options.s3.endpoint = cfg.s3_endpoint;
    delivery_options.s3.region = cfg.s3_region.empty() ? cfg.region : cfg.s3_region;
    delivery_options.s3.credentials = {cfg.s3_access_key, cfg.s3_secret_key, {}};
    delivery_options.upload_threads = int(std::max(2u, cores));
    delivery_options.retry_window_ms = cfg.firehose_retry_window_ms;
    kinesd::delivery::delivery_manager delivery(firehose, registry, store, clock, delivery_options);
    delivery.start();
    spdlog::info("kinesd listening on {}:{} (data in {}, durability {})", cfg.host, server.local_port(), cfg.data_dir,
                 cfg.durability);

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    // Subscriptions end first, each with the last chunk or frame of its
    // stream so that clients see a clean end and resubscribe elsewhere; the
    // connections go once they have (or after a second). Their timers would
    // also hold the workers' join.
    boost::asio::steady_timer drain(ioc);
    std::function<void(int)> finish_shutdown = [&](int waited_ms) {
        if (subscriptions.size() > 0 && waited_ms < 1000) {
            drain.expires_after(std::chrono::milliseconds(10));
            drain.async_wait([&, waited_ms](const boost::system::error_code&) { finish_shutdown(waited_ms + 10); });
            return;
        }
        server.stop();
        ioc.stop();
    };
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        spdlog::info("signal {} received, shutting down", sig);
        subscriptions.stop_all();
        finish_shutdown(0);
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
    // After the last put was answered: what is buffered goes to S3 now.
    delivery.stop();
    expiry.stop();
    spdlog::info("kinesd stopped");
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
    } catch (const std::exception& e) {
        std::cerr << "kinesd: " << e.what() << "\n";
        return 2;
    }
    if (parsed.show_help) {
        std::cout << kinesd::config::help_text();
        return 0;
    }
    if (parsed.show_version) {
        std::cout << "kinesd 0.1.0\n";
        return 0;
    }
    kinesd::setup_logging(parsed.values.log_level);
    try {
        return run(parsed.values);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}
