#pragma once
// The backends the storage conformance suites run on, and the fixture they
// share (log_store_conformance_test.cc for records,
// log_store_meta_conformance_test.cc for metadata): each test runs once per
// entry of backends(), on a fresh backend (a RocksDB directory, or a
// nats-server of its own).
#include "storage/log_store.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <ostream>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "storage/rocksdb_store.h"
#ifdef KINESD_WITH_JETSTREAM
#include "storage/jetstream/jetstream_store.h"
#endif

namespace kinesd::storage::conformance {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// What one backend needs for a test: its data (a directory, a server) lives
// as long as the environment, and open() makes a store over it: again after
// the previous one was destroyed (a restart), or beside it when `shared`
// (several front ends at once).
class backend_env {
public:
    virtual ~backend_env() = default;
    // Non-empty: the backend cannot run here (the test is skipped, saying why).
    virtual std::string unavailable() const { return {}; }
    virtual std::unique_ptr<log_store> open(const kinesd::clock& clock) = 0;
    virtual bool shared() const = 0;
};

struct backend {
    std::string name;
    std::function<std::unique_ptr<backend_env>(const std::string& test_name)> make;
};

// Test names and failures name the backend, not the bytes of the struct.
inline void PrintTo(const backend& b, std::ostream* os) { *os << b.name; }

inline fs::path temp_dir(const std::string& tag) {
    std::random_device rd;
    auto dir = fs::temp_directory_path() / ("kinesd-" + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir);
    return dir;
}

// ---- nats-server processes, on free loopback ports, each with a temporary store directory

inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("no free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

inline bool port_open(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

inline std::string find_program(const char* env, const std::vector<fs::path>& fallbacks) {
    if (const char* set = std::getenv(env); set && *set) return fs::exists(set) ? set : "";
    for (auto& p : fallbacks)
        if (!p.empty() && fs::exists(p)) return p;
    return {};
}

// Debian's nats-server, or the one KINESD_NATS_SERVER names.
inline std::string debian_nats_server() {
    std::vector<fs::path> candidates;
    if (const char* path = std::getenv("PATH")) {
        std::string all = path;
        for (std::size_t start = 0, end; start <= all.size(); start = end + 1) {
            end = all.find(':', start);
            if (end == std::string::npos) end = all.size();
            candidates.push_back(fs::path(all.substr(start, end - start)) / "nats-server");
        }
    }
    candidates.push_back("/usr/sbin/nats-server");
    candidates.push_back("/usr/bin/nats-server");
    return find_program("KINESD_NATS_SERVER", candidates);
}

// The current release that scripts/deps/nats.sh builds, or KINESD_NATS_SERVER_CURRENT.
inline std::string current_nats_server() {
    fs::path cache;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) cache = xdg;
    else if (const char* home = std::getenv("HOME")) cache = fs::path(home) / ".cache";
    return find_program("KINESD_NATS_SERVER_CURRENT",
                        {cache.empty() ? fs::path() : cache / "kinesd/nats-server-2.15.3/nats-server"});
}

class nats_server {
public:
    nats_server(const std::string& binary, const fs::path& dir, const std::string& name, int port,
                const std::vector<std::string>& cluster_args)
        : port_(port), log_((dir / (name + ".log")).string()) {
        // Messages large enough for every Kinesis record (kinesd refuses the
        // 1 MiB default).
        const auto config = dir / "nats.conf";
        std::ofstream(config) << "max_payload: 12MB\n";
        args_ = {binary, "-c", config.string(), "-js", "-a", "127.0.0.1", "-p", std::to_string(port), "-sd",
                 (dir / "store").string(), "-n", name};
        args_.insert(args_.end(), cluster_args.begin(), cluster_args.end());
        start();
    }
    ~nats_server() { stop(); }
    // Starts it again after stop(), on the same port and store directory.
    void start() {
        std::vector<char*> argv;
        for (auto& a : args_) argv.push_back(a.data());
        argv.push_back(nullptr);
        // A child of its own that dies with the test, even when the test crashes.
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execv(args_[0].c_str(), argv.data());
            ::_exit(127);
        }
        if (pid_ < 0) throw std::runtime_error("cannot start " + args_[0]);
        for (int i = 0; i < 500 && !port_open(port_); ++i) std::this_thread::sleep_for(20ms);
        if (!port_open(port_)) throw std::runtime_error("nats-server did not listen on " + std::to_string(port_));
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
    }
    std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

private:
    pid_t pid_ = -1;
    int port_;
    std::string log_;
    std::vector<std::string> args_;
};

#ifdef KINESD_WITH_JETSTREAM
class jetstream_env : public backend_env {
public:
    // nodes 1: a single server; 3: a cluster of three, streams replicated 3 times.
    jetstream_env(std::string binary, const std::string& test_name, int nodes = 1, jetstream_tuning tuning = {})
        : binary_(std::move(binary)), tuning_(tuning) {
        if (binary_.empty()) return;
        dir_ = temp_dir("nats");
        options_.replicas = nodes;
        options_.publish_timeout = 5s;
        std::random_device rd;
        options_.prefix = "t" + std::to_string(rd() % 100000);
        for (char c : test_name) options_.prefix += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        std::vector<int> ports, routes;
        for (int i = 0; i < nodes; ++i) ports.push_back(free_port()), routes.push_back(free_port());
        for (int i = 0; i < nodes; ++i) {
            std::vector<std::string> cluster;
            if (nodes > 1) {
                std::string all;
                for (int r : routes) all += (all.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(r);
                cluster = {"--cluster_name", "kinesd-test", "--cluster", "nats://127.0.0.1:" + std::to_string(routes[i]),
                           "--routes", all};
            }
            fs::create_directories(dir_ / ("n" + std::to_string(i)));
            servers_.push_back(std::make_unique<nats_server>(binary_, dir_ / ("n" + std::to_string(i)),
                                                             "n" + std::to_string(i), ports[i], cluster));
            options_.urls = {};
        }
        for (auto& s : servers_) options_.urls.push_back(s->url());
    }
    ~jetstream_env() override {
        servers_.clear();
        if (!dir_.empty()) fs::remove_all(dir_);
    }
    std::string unavailable() const override {
        return binary_.empty() ? "nats-server not found (scripts/install-deps.sh --test installs it)" : "";
    }
    bool shared() const override { return true; }
    nats_server& server(std::size_t i) { return *servers_[i]; }
    jetstream_options& options() { return options_; }
    std::unique_ptr<log_store> open(const kinesd::clock& clock) override { return open_tuned(clock, tuning_); }
    std::unique_ptr<log_store> open_tuned(const kinesd::clock& clock, const jetstream_tuning& tuning) {
        // JetStream (and a cluster's meta leader) may take a moment after
        // the ports open.
        for (int attempt = 0;; ++attempt) {
            try {
                return open_jetstream_store(options_, clock, tuning);
            } catch (const std::exception& e) {
                if (attempt >= 100) throw;
                std::this_thread::sleep_for(100ms);
            }
        }
    }

private:
    std::string binary_;
    jetstream_tuning tuning_;
    fs::path dir_;
    jetstream_options options_;
    std::vector<std::unique_ptr<nats_server>> servers_;
};
#endif

class rocksdb_env : public backend_env {
public:
    rocksdb_env() : dir_(temp_dir("rocksdb")) {}
    ~rocksdb_env() override { fs::remove_all(dir_); }
    std::unique_ptr<log_store> open(const kinesd::clock& clock) override {
        rocksdb_options o;
        o.path = dir_.string();
        return std::make_unique<rocksdb_store>(o, clock);
    }
    bool shared() const override { return false; }

private:
    fs::path dir_;
};

// Every backend the suite runs against.
inline std::vector<backend> backends() {
    std::vector<backend> all;
    all.push_back({"rocksdb", [](const std::string&) { return std::make_unique<rocksdb_env>(); }});
#ifdef KINESD_WITH_JETSTREAM
    all.push_back({"nats", [](const std::string& t) { return std::make_unique<jetstream_env>(debian_nats_server(), t); }});
    all.push_back({"nats_current",
                   [](const std::string& t) { return std::make_unique<jetstream_env>(current_nats_server(), t); }});
#endif
    return all;
}

// ---- helpers

struct input {
    shard_log* shard;
    std::string partition_key;
    std::string data;
    bool encrypted = false;
};

inline std::shared_ptr<append_request> append_and_wait(log_store& store, std::vector<input> inputs,
                                                      status* result = nullptr) {
    auto owned = std::make_shared<std::vector<input>>(std::move(inputs));
    auto req = std::make_shared<append_request>();
    for (auto& in : *owned) {
        append_entry e{in.shard, in.partition_key, in.data};
        e.encrypted = in.encrypted;
        req->entries.push_back(e);
    }
    req->owner = owned;
    auto done = std::make_shared<std::promise<status>>();
    auto future = done->get_future();
    req->done = [done](const status& s) { done->set_value(s); };
    store.append(req);
    if (future.wait_for(30s) != std::future_status::ready) throw std::runtime_error("append never completed");
    const status s = future.get();
    if (result) *result = s;
    else EXPECT_TRUE(s.ok()) << s.to_string();
    return req;
}

struct record {
    std::uint64_t counter;
    std::int64_t arrival_ms;
    std::string partition_key, data;
    bool encrypted;
};

inline std::vector<record> read_all(log_store& store, shard_log& shard, std::uint64_t from = 1,
                                   std::size_t limit = 100000,
                                   std::size_t max_bytes = SIZE_MAX) {
    std::vector<record> out;
    store.read(shard, from, limit, max_bytes, [&](const record_view& v) {
        out.push_back({v.counter, v.arrival_ms, std::string(v.partition_key), std::string(v.data), v.encrypted});
        return true;
    });
    return out;
}

inline std::string shard_name(int index) {
    return "shard-0000000000000" + std::to_string(100 + index) + "-" + std::to_string(index);
}

class log_store_conformance : public ::testing::TestWithParam<backend> {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        env_ = GetParam().make(info->name());
        if (auto why = env_->unavailable(); !why.empty()) GTEST_SKIP() << why;
        store_ = env_->open(clock_);
    }
    void TearDown() override {
        store_.reset();
        env_.reset();
    }
    // Another front end beside store_ (skips where the backend is not shared).
    std::unique_ptr<log_store> second_front_end() {
        if (!env_->shared()) return nullptr;
        return env_->open(clock_);
    }
    // The store as a restart finds it.
    void reopen() {
        store_.reset();
        store_ = env_->open(clock_);
    }

    kinesd::clock clock_;
    std::unique_ptr<backend_env> env_;
    std::unique_ptr<log_store> store_;
};

}  // namespace kinesd::storage::conformance
