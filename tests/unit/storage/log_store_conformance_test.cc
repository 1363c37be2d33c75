// The contract of storage::log_store (storage/log_store.h), held against
// every backend: each test runs once per entry of backends() below, on a
// fresh backend (a RocksDB directory, or a nats-server of its own).
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

namespace kinesd::storage {
namespace {

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
void PrintTo(const backend& b, std::ostream* os) { *os << b.name; }

fs::path temp_dir(const std::string& tag) {
    std::random_device rd;
    auto dir = fs::temp_directory_path() / ("kinesd-" + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir);
    return dir;
}

// ---- nats-server processes, on free loopback ports, each with a temporary store directory

int free_port() {
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

bool port_open(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

std::string find_program(const char* env, const std::vector<fs::path>& fallbacks) {
    if (const char* set = std::getenv(env); set && *set) return fs::exists(set) ? set : "";
    for (auto& p : fallbacks)
        if (!p.empty() && fs::exists(p)) return p;
    return {};
}

// Debian's nats-server, or the one KINESD_NATS_SERVER names.
std::string debian_nats_server() {
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
std::string current_nats_server() {
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
std::vector<backend> backends() {
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

std::shared_ptr<append_request> append_and_wait(log_store& store, std::vector<input> inputs, status* result = nullptr) {
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

std::vector<record> read_all(log_store& store, shard_log& shard, std::uint64_t from = 1, std::size_t limit = 100000,
                             std::size_t max_bytes = SIZE_MAX) {
    std::vector<record> out;
    store.read(shard, from, limit, max_bytes, [&](const record_view& v) {
        out.push_back({v.counter, v.arrival_ms, std::string(v.partition_key), std::string(v.data), v.encrypted});
        return true;
    });
    return out;
}

std::string shard_name(int index) { return "shard-0000000000000" + std::to_string(100 + index) + "-" + std::to_string(index); }

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

// ---- records

TEST_P(log_store_conformance, batches_to_several_shards_number_each_shard_in_request_order) {
    auto a = store_->open_shard(shard_name(1), true), b = store_->open_shard(shard_name(2), true);
    ASSERT_TRUE(a && b);
    auto req = append_and_wait(*store_, {{a.get(), "k1", "a1"}, {b.get(), "k2", "b1"}, {a.get(), "k3", "a2"},
                                         {a.get(), "k4", "a3"}, {b.get(), "k5", "b2"}});
    const std::vector<std::uint64_t> expected{1, 1, 2, 3, 2};
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(req->entries[i].counter, expected[i]) << i;
    auto more = append_and_wait(*store_, {{a.get(), "k6", "a4"}, {b.get(), "k7", "b3"}});
    EXPECT_EQ(more->entries[0].counter, 4u);
    EXPECT_EQ(more->entries[1].counter, 3u);
    EXPECT_EQ(a->committed.load(), 4u);
    EXPECT_EQ(b->committed.load(), 3u);
    EXPECT_GE(more->entries[0].arrival_ms, req->entries[3].arrival_ms);

    auto records = read_all(*store_, *a);
    ASSERT_EQ(records.size(), 4u);
    for (std::size_t i = 0; i < records.size(); ++i) {
        EXPECT_EQ(records[i].counter, i + 1);
        EXPECT_EQ(records[i].data, "a" + std::to_string(i + 1));
        if (i) {
            EXPECT_GE(records[i].arrival_ms, records[i - 1].arrival_ms);
        }
    }
    // What the put answered is what a read finds.
    EXPECT_EQ(records[0].arrival_ms, req->entries[0].arrival_ms);
    EXPECT_EQ(records[3].arrival_ms, more->entries[0].arrival_ms);
    EXPECT_EQ(read_all(*store_, *b)[2].data, "b3");
}

TEST_P(log_store_conformance, concurrent_appends_get_distinct_counters_in_each_request_order) {
    auto a = store_->open_shard(shard_name(1), true), b = store_->open_shard(shard_name(2), true);
    std::vector<std::thread> threads;
    std::mutex m;
    std::vector<std::shared_ptr<append_request>> done;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int r = 0; r < 10; ++r) {
                std::vector<input> in;
                for (int i = 0; i < 6; ++i)
                    in.push_back({i % 3 == 2 ? b.get() : a.get(), "k", std::to_string(t) + "/" + std::to_string(r)});
                auto req = append_and_wait(*store_, in);
                std::lock_guard lock(m);
                done.push_back(req);
            }
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::uint64_t> seen_a, seen_b;
    for (auto& req : done) {
        std::uint64_t last_a = 0, last_b = 0;
        for (auto& e : req->entries) {
            auto& last = e.shard == a.get() ? last_a : last_b;
            EXPECT_GT(e.counter, last);
            last = e.counter;
            EXPECT_TRUE((e.shard == a.get() ? seen_a : seen_b).insert(e.counter).second);
        }
    }
    EXPECT_EQ(seen_a.size(), 160u);
    EXPECT_EQ(*seen_a.rbegin(), 160u);
    EXPECT_EQ(*seen_b.rbegin(), 80u);
    EXPECT_EQ(read_all(*store_, *a).size(), 160u);
}

TEST_P(log_store_conformance, reads_stop_at_limit_max_bytes_or_when_told) {
    auto s = store_->open_shard(shard_name(1), true);
    std::vector<input> in;
    for (int i = 0; i < 10; ++i) in.push_back({s.get(), "k", std::string(99, char('a' + i))});
    append_and_wait(*store_, in);
    EXPECT_EQ(read_all(*store_, *s, 1, 3).size(), 3u);
    // 100 bytes a record (key and data): the record crossing 250 is still returned.
    auto capped = read_all(*store_, *s, 1, 100, 250);
    ASSERT_EQ(capped.size(), 3u);
    EXPECT_EQ(capped.back().counter, 3u);
    auto middle = read_all(*store_, *s, 5);
    ASSERT_EQ(middle.size(), 6u);
    EXPECT_EQ(middle.front().counter, 5u);
    EXPECT_EQ(middle.front().data, std::string(99, 'e'));
    std::size_t seen = 0;
    EXPECT_EQ(store_->read(*s, 1, 100, SIZE_MAX, [&](const record_view&) { return ++seen < 2; }), 2u);
    EXPECT_TRUE(read_all(*store_, *s, 11).empty());
}

TEST_P(log_store_conformance, trim_removes_everything_below) {
    auto s = store_->open_shard(shard_name(1), true);
    std::vector<input> in;
    for (int i = 1; i <= 6; ++i) in.push_back({s.get(), "k", "r" + std::to_string(i)});
    append_and_wait(*store_, in);
    ASSERT_TRUE(store_->trim(*s, 4).ok());
    EXPECT_GE(s->trimmed_below.load(), 4u);
    auto records = read_all(*store_, *s, 1);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records.front().counter, 4u);
    EXPECT_EQ(records.front().data, "r4");
    record_view v{};
    ASSERT_TRUE(store_->first_at_or_after(*s, 2, &v));
    EXPECT_EQ(v.counter, 4u);
    store_->compact(*s);
    store_->refresh_tip(*s);
    EXPECT_EQ(s->trimmed_below.load(), 4u);
    EXPECT_EQ(s->committed.load(), 6u);
    // Appends go on numbering after the trim.
    auto req = append_and_wait(*store_, {{s.get(), "k", "r7"}});
    EXPECT_EQ(req->entries[0].counter, 7u);
}

TEST_P(log_store_conformance, counter_at_time_finds_the_first_record_at_or_after) {
    auto s = store_->open_shard(shard_name(1), true);
    std::vector<std::shared_ptr<append_request>> batches;
    for (int b = 0; b < 3; ++b) {
        if (b) std::this_thread::sleep_for(15ms);
        batches.push_back(append_and_wait(*store_, {{s.get(), "k", "x"}, {s.get(), "k", "y"}}));
    }
    const auto second = batches[1]->entries[0];
    ASSERT_GT(second.arrival_ms, batches[0]->entries[1].arrival_ms);
    EXPECT_EQ(store_->counter_at_time(*s, second.arrival_ms), second.counter);
    EXPECT_EQ(store_->counter_at_time(*s, 0), 1u);
    EXPECT_EQ(store_->counter_at_time(*s, batches[2]->entries[1].arrival_ms + 1), 7u);
    record_view v{};
    ASSERT_TRUE(store_->first_at_or_after(*s, 3, &v));
    EXPECT_EQ(v.counter, 3u);
    EXPECT_EQ(v.arrival_ms, second.arrival_ms);
    EXPECT_FALSE(store_->first_at_or_after(*s, 7, &v));
}

TEST_P(log_store_conformance, an_empty_shard_has_nothing) {
    auto s = store_->open_shard(shard_name(1), true);
    ASSERT_TRUE(s);
    store_->refresh_tip(*s);
    EXPECT_EQ(s->committed.load(), 0u);
    EXPECT_TRUE(read_all(*store_, *s).empty());
    record_view v{};
    EXPECT_FALSE(store_->first_at_or_after(*s, 1, &v));
    EXPECT_EQ(store_->counter_at_time(*s, clock_.now_ms()), 1u);
    EXPECT_EQ(store_->open_shard(shard_name(1), false), s);
}

TEST_P(log_store_conformance, a_missing_shard_is_not_opened_without_create) {
    EXPECT_EQ(store_->open_shard(shard_name(9), false), nullptr);
}

TEST_P(log_store_conformance, a_dropped_shard_comes_back_empty) {
    auto s = store_->open_shard(shard_name(1), true);
    append_and_wait(*store_, {{s.get(), "k", "old"}});
    store_->drop_shard(s);
    EXPECT_TRUE(s->dropped.load());
    EXPECT_EQ(store_->open_shard(shard_name(1), false), nullptr);
    status st;
    append_and_wait(*store_, {{s.get(), "k", "late"}}, &st);
    EXPECT_TRUE(st.is_not_found()) << st.to_string();
    auto again = store_->open_shard(shard_name(1), true);
    ASSERT_TRUE(again);
    EXPECT_NE(again, s);
    EXPECT_EQ(again->committed.load(), 0u);
    EXPECT_TRUE(read_all(*store_, *again).empty());
}

TEST_P(log_store_conformance, a_closed_shard_refuses_appends_and_keeps_its_records) {
    auto s = store_->open_shard(shard_name(1), true);
    auto other = store_->open_shard(shard_name(2), true);
    append_and_wait(*store_, {{s.get(), "k", "1"}, {s.get(), "k", "2"}});
    store_->close_shard(*s);
    EXPECT_TRUE(s->closed.load());
    status st;
    append_and_wait(*store_, {{s.get(), "k", "3"}}, &st);
    EXPECT_TRUE(st.is_aborted()) << st.to_string();
    append_and_wait(*store_, {{other.get(), "k", "fine"}});
    EXPECT_EQ(read_all(*store_, *s).size(), 2u);
    EXPECT_TRUE(store_->trim(*s, 2).ok());
    EXPECT_EQ(read_all(*store_, *s).size(), 1u);
    if (auto peer = second_front_end()) {
        // Every front end refuses, also one that learned of the shard before.
        auto seen = peer->open_shard(shard_name(1), false);
        ASSERT_TRUE(seen);
        append_and_wait(*peer, {{seen.get(), "k", "4"}}, &st);
        EXPECT_TRUE(st.is_aborted()) << st.to_string();
        EXPECT_EQ(read_all(*peer, *seen).size(), 1u);
    }
}

// A reader that sees a shard closed reads it to its end: close_shard must
// leave this front end knowing every record any front end stored in it.
TEST_P(log_store_conformance, closing_a_shard_learns_its_end_from_every_front_end) {
    auto peer = second_front_end();
    if (!peer) GTEST_SKIP() << "one front end only";
    auto mine = store_->open_shard(shard_name(1), true);
    auto theirs = peer->open_shard(shard_name(1), false);
    ASSERT_TRUE(theirs);
    append_and_wait(*store_, {{mine.get(), "k", "here"}});
    append_and_wait(*peer, {{theirs.get(), "k", "there 1"}, {theirs.get(), "k", "there 2"}});
    store_->close_shard(*mine);
    EXPECT_EQ(mine->committed.load(), 3u);
    auto records = read_all(*store_, *mine);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[2].data, "there 2");
}

TEST_P(log_store_conformance, partition_keys_data_and_encryption_round_trip) {
    auto s = store_->open_shard(shard_name(1), true);
    const std::string binary("\0\x01\xff\n\r\0", 6);
    const std::string long_key(256, 'p');
    append_and_wait(*store_, {{s.get(), "clé ключ 鍵 🔑 : \" \n", "plain"},
                              {s.get(), "k", binary, true},
                              {s.get(), long_key, ""}});
    auto records = read_all(*store_, *s);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].partition_key, "clé ключ 鍵 🔑 : \" \n");
    EXPECT_FALSE(records[0].encrypted);
    EXPECT_EQ(records[1].data, binary);
    EXPECT_TRUE(records[1].encrypted);
    EXPECT_EQ(records[2].partition_key, long_key);
    EXPECT_EQ(records[2].data, "");
}

TEST_P(log_store_conformance, completions_run_through_the_runner_and_fence_waits) {
    // A backend may hand several completions to one runner call (RocksDB
    // posts a group commit's at once); every completion must run inside one.
    static thread_local bool in_runner = false;
    std::atomic<int> ran{0};
    std::atomic<int> outside{0};
    store_->set_completion_runner([&](std::function<void()> fn) {
        ++ran;
        in_runner = true;
        fn();
        in_runner = false;
    });
    auto s = store_->open_shard(shard_name(1), true);
    std::vector<std::shared_ptr<std::promise<status>>> results;
    for (int i = 0; i < 20; ++i) {
        auto req = std::make_shared<append_request>();
        auto data = std::make_shared<std::string>("r" + std::to_string(i));
        req->entries.push_back(append_entry{s.get(), "k", *data});
        req->owner = data;
        auto done = std::make_shared<std::promise<status>>();
        results.push_back(done);
        req->done = [done, &outside](const status& st) {
            if (!in_runner) ++outside;
            done->set_value(st);
        };
        store_->append(req);
    }
    store_->fence();
    for (auto& r : results) {
        auto f = r->get_future();
        ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
        EXPECT_TRUE(f.get().ok());
    }
    EXPECT_GE(ran.load(), 1);
    EXPECT_LE(ran.load(), 20);
    EXPECT_EQ(outside.load(), 0);
    for (int i = 0; i < 100 && store_->appends_pending(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(store_->appends_pending(), 0u);
    EXPECT_EQ(read_all(*store_, *s).size(), 20u);
    store_->set_completion_runner(nullptr);
    EXPECT_TRUE(store_->writable());
    EXPECT_EQ(store_->unwritable_reason(), "");
}

TEST_P(log_store_conformance, appends_elsewhere_wake_watched_shards) {
    auto peer = second_front_end();
    if (!peer) GTEST_SKIP() << "one front end only";
    auto mine = store_->open_shard(shard_name(1), true);
    auto theirs = peer->open_shard(shard_name(1), false);
    ASSERT_TRUE(theirs);
    std::mutex m;
    std::condition_variable cv;
    int woken = 0;
    store_->set_commit_listener([&](shard_log& shard) {
        std::lock_guard lock(m);
        if (&shard == mine.get()) ++woken;
        cv.notify_all();
    });
    mine->watchers = 1;
    append_and_wait(*peer, {{theirs.get(), "k", "from elsewhere"}});
    std::unique_lock lock(m);
    EXPECT_TRUE(cv.wait_for(lock, 3s, [&] { return woken > 0; }));
    EXPECT_EQ(mine->committed.load(), 1u);
    lock.unlock();
    mine->watchers = 0;
    store_->set_commit_listener(nullptr);
    // refresh_tip brings in what others stored, watched or not.
    append_and_wait(*peer, {{theirs.get(), "k", "more"}});
    store_->refresh_tip(*mine);
    EXPECT_EQ(mine->committed.load(), 2u);
}

TEST_P(log_store_conformance, a_restart_finds_everything) {
    auto s = store_->open_shard(shard_name(1), true);
    append_and_wait(*store_, {{s.get(), "k", "1"}, {s.get(), "k", "2"}, {s.get(), "k", "3"}});
    ASSERT_TRUE(store_->trim(*s, 2).ok());
    ASSERT_TRUE(store_->put_meta("stream/one", "{}").ok());
    s.reset();
    reopen();
    auto again = store_->open_shard(shard_name(1), false);
    ASSERT_TRUE(again);
    store_->refresh_tip(*again);
    EXPECT_EQ(again->committed.load(), 3u);
    EXPECT_EQ(again->trimmed_below.load(), 2u);
    auto records = read_all(*store_, *again);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1].data, "3");
    std::string value;
    EXPECT_TRUE(store_->get_meta("stream/one", &value));
    auto req = append_and_wait(*store_, {{again.get(), "k", "4"}});
    EXPECT_EQ(req->entries[0].counter, 4u);
    EXPECT_GE(req->entries[0].arrival_ms, records[1].arrival_ms);
}

// ---- metadata

TEST_P(log_store_conformance, metadata_put_get_scan_delete) {
    ASSERT_TRUE(store_->put_meta("a/1", "one").ok());
    ASSERT_TRUE(store_->put_meta("a/2", std::string("t\0o", 3)).ok());
    ASSERT_TRUE(store_->put_meta("b/1", "other").ok());
    ASSERT_TRUE(store_->put_meta("a/1", "uno").ok());
    std::string value;
    ASSERT_TRUE(store_->get_meta("a/1", &value));
    EXPECT_EQ(value, "uno");
    EXPECT_FALSE(store_->get_meta("a/3", &value));
    std::vector<std::pair<std::string, std::string>> seen;
    store_->scan_meta("a/", [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], std::make_pair(std::string("a/1"), std::string("uno")));
    EXPECT_EQ(seen[1], std::make_pair(std::string("a/2"), std::string("t\0o", 3)));
    ASSERT_TRUE(store_->delete_meta("a/1").ok());
    EXPECT_FALSE(store_->get_meta("a/1", &value));
    seen.clear();
    store_->scan_meta("a/", [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
    EXPECT_EQ(seen.size(), 1u);
}

TEST_P(log_store_conformance, metadata_keys_with_any_characters_round_trip) {
    const std::vector<std::string> keys{"odd/ti~lde", "odd/co:lon", "odd/sp ace", "odd/ünï 日本 🔑",
                                        "odd/dot.s..", "odd/eq=3D", "odd/star*>", "odd/."};
    for (auto& k : keys) ASSERT_TRUE(store_->put_meta(k, "v:" + k).ok()) << k;
    for (auto& k : keys) {
        std::string value;
        EXPECT_TRUE(store_->get_meta(k, &value)) << k;
        EXPECT_EQ(value, "v:" + k);
    }
    std::map<std::string, std::string> seen;
    store_->scan_meta("odd/", [&](std::string_view k, std::string_view v) { seen.emplace(k, v); });
    EXPECT_EQ(seen.size(), keys.size());
    for (auto& k : keys) EXPECT_EQ(seen[k], "v:" + k);
    seen.clear();
    store_->scan_meta("odd/d", [&](std::string_view k, std::string_view v) { seen.emplace(k, v); });
    EXPECT_EQ(seen.size(), 1u);
}

TEST_P(log_store_conformance, compare_and_swap) {
    std::uint64_t first = 0, second = 0, again = 0, revision = 0;
    ASSERT_TRUE(store_->put_meta_if("lease/x", "a", 0, &first).ok());
    EXPECT_NE(first, 0u);
    EXPECT_TRUE(store_->put_meta_if("lease/x", "b", 0, &again).is_conflict());
    std::string value;
    ASSERT_TRUE(store_->get_meta_revision("lease/x", &value, &revision).ok());
    EXPECT_EQ(value, "a");
    EXPECT_EQ(revision, first);
    ASSERT_TRUE(store_->put_meta_if("lease/x", "c", first, &second).ok());
    EXPECT_NE(second, first);
    EXPECT_TRUE(store_->put_meta_if("lease/x", "d", first, &again).is_conflict());
    EXPECT_TRUE(store_->delete_meta_if("lease/x", first).is_conflict());
    ASSERT_TRUE(store_->get_meta("lease/x", &value));
    EXPECT_EQ(value, "c");
    ASSERT_TRUE(store_->delete_meta_if("lease/x", second).ok());
    ASSERT_TRUE(store_->get_meta_revision("lease/x", &value, &revision).ok());
    EXPECT_EQ(revision, 0u);
    // Absent again: exactly one creator wins.
    EXPECT_TRUE(store_->put_meta_if("lease/x", "e", 0, &first).ok());
    EXPECT_TRUE(store_->put_meta_if("lease/x", "f", 0, &again).is_conflict());
    EXPECT_TRUE(store_->put_meta_if("lease/never", "g", 12345, &again).is_conflict());
    if (auto peer = second_front_end()) {
        EXPECT_TRUE(peer->put_meta_if("lease/x", "h", 0, &again).is_conflict());
        EXPECT_TRUE(peer->put_meta_if("lease/x", "h", first, &again).ok());
    }
}

TEST_P(log_store_conformance, watches_see_changes_under_their_prefix) {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::pair<std::string, std::string>> events;  // value "<deleted>" for a delete
    std::vector<std::uint64_t> revisions;
    auto id = store_->watch_meta("w/", [&](std::string_view key, const std::string* value, std::uint64_t revision) {
        std::lock_guard lock(m);
        events.emplace_back(key, value ? *value : "<deleted>");
        revisions.push_back(revision);
        cv.notify_all();
    });
    ASSERT_TRUE(store_->put_meta("w/ü 1", "one").ok());
    ASSERT_TRUE(store_->put_meta("x/1", "elsewhere").ok());
    ASSERT_TRUE(store_->delete_meta("w/ü 1").ok());
    std::uint64_t revision = 0;
    ASSERT_TRUE(store_->put_meta_if("w/2", "two", 0, &revision).ok());
    ASSERT_TRUE(store_->delete_meta_if("w/2", revision).ok());
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return events.size() >= 4; }));
        EXPECT_EQ(events[0], std::make_pair(std::string("w/ü 1"), std::string("one")));
        EXPECT_EQ(events[1], std::make_pair(std::string("w/ü 1"), std::string("<deleted>")));
        EXPECT_EQ(events[2], std::make_pair(std::string("w/2"), std::string("two")));
        EXPECT_EQ(events[3], std::make_pair(std::string("w/2"), std::string("<deleted>")));
        // Each change, deletions included, has a revision above the last;
        // a write's is the one put_meta_if reported.
        for (std::size_t i = 1; i < revisions.size(); ++i) EXPECT_LT(revisions[i - 1], revisions[i]);
        EXPECT_EQ(revisions[2], revision);
    }
    store_->unwatch_meta(id);
    ASSERT_TRUE(store_->put_meta("w/3", "after").ok());
    std::this_thread::sleep_for(200ms);
    std::lock_guard lock(m);
    EXPECT_EQ(events.size(), 4u);
}

// What catching up rests on: a change another front end committed is at or
// below the sync point taken after it, and a watch hands it on by then.
TEST_P(log_store_conformance, a_watch_reaches_the_sync_point_past_changes_made_elsewhere) {
    auto other = second_front_end();
    log_store& writer = other ? *other : *store_;
    std::mutex m;
    std::condition_variable cv;
    std::uint64_t newest = 0;
    std::vector<std::string> keys;
    auto id = store_->watch_meta("", [&](std::string_view key, const std::string*, std::uint64_t revision) {
        std::lock_guard lock(m);
        newest = std::max(newest, revision);
        keys.emplace_back(key);
        cv.notify_all();
    });
    for (int i = 0; i < 20; ++i) {
        const std::string key = "sync/" + std::to_string(i);
        ASSERT_TRUE(writer.put_meta(key, "v").ok());
        const auto point = store_->meta_sync_point();
        std::unique_lock lock(m);
        if (point != 0) {
            ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return newest >= point; })) << "sync point " << point;
        } else {
            // Watchers run as part of the write: already handed on.
            ASSERT_FALSE(other) << "a shared backend must give a sync point";
        }
        EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key << " not seen by the sync point";
    }
    store_->unwatch_meta(id);
}

#ifdef KINESD_WITH_JETSTREAM
// ---- JetStream only

std::string any_nats_server() {
    auto current = current_nats_server();
    return current.empty() ? debian_nats_server() : current;
}

// Three servers in a cluster, every stream and the bucket on all three.
TEST(jetstream_cluster, replicated_appends_reads_and_compare_and_swap) {
    jetstream_env env(any_nats_server(), "cluster", 3);
    if (auto why = env.unavailable(); !why.empty()) GTEST_SKIP() << why;
    kinesd::clock clock;
    auto store = env.open(clock);
    auto peer = env.open(clock);
    auto s = store->open_shard(shard_name(1), true);
    ASSERT_TRUE(s);
    std::vector<input> in;
    for (int i = 1; i <= 50; ++i) in.push_back({s.get(), "k" + std::to_string(i), "r" + std::to_string(i)});
    auto req = append_and_wait(*store, in);
    EXPECT_EQ(req->entries.back().counter, 50u);
    auto theirs = peer->open_shard(shard_name(1), false);
    ASSERT_TRUE(theirs);
    auto records = read_all(*peer, *theirs);
    ASSERT_EQ(records.size(), 50u);
    EXPECT_EQ(records[49].data, "r50");
    std::uint64_t revision = 0, other = 0;
    EXPECT_TRUE(store->put_meta_if("lease/c", "a", 0, &revision).ok());
    EXPECT_TRUE(peer->put_meta_if("lease/c", "b", 0, &other).is_conflict());
    EXPECT_TRUE(peer->put_meta_if("lease/c", "b", revision, &other).ok());
    store->close_shard(*s);
    status st;
    append_and_wait(*peer, {{theirs.get(), "k", "late"}}, &st);
    EXPECT_TRUE(st.is_aborted()) << st.to_string();
}

// While the server is away, appends fail as unavailable (after their
// bounded republishes) and health says so; once it is back, writes resume.
TEST(jetstream_outage, appends_fail_as_unavailable_and_resume) {
    jetstream_tuning tuning;
    tuning.publish_retries = 1;
    jetstream_env env(any_nats_server(), "outage", 1, tuning);
    if (auto why = env.unavailable(); !why.empty()) GTEST_SKIP() << why;
    env.options().publish_timeout = 300ms;
    kinesd::clock clock;
    auto store = env.open(clock);
    auto s = store->open_shard(shard_name(1), true);
    append_and_wait(*store, {{s.get(), "k", "before"}});
    env.server(0).stop();
    status st;
    append_and_wait(*store, {{s.get(), "k", "during"}}, &st);
    EXPECT_TRUE(st.is_unavailable()) << st.to_string();
    EXPECT_FALSE(store->writable());
    EXPECT_NE(store->unwritable_reason(), "");
    env.server(0).start();
    // Health recovers when asked, before any put.
    for (int i = 0; i < 100 && !store->writable(); ++i) {
        store->retry_writes();
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(store->writable()) << store->unwritable_reason();
    bool resumed = false;
    for (int i = 0; i < 50 && !resumed; ++i) {
        append_and_wait(*store, {{s.get(), "k", "after"}}, &st);
        resumed = st.ok();
        if (!resumed) std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(resumed) << st.to_string();
    EXPECT_TRUE(store->writable());
    // The failed append may or may not have been stored; nothing is twice.
    auto records = read_all(*store, *s);
    ASSERT_GE(records.size(), 2u);
    EXPECT_EQ(records.front().data, "before");
    EXPECT_EQ(records.back().data, "after");
    for (std::size_t i = 1; i < records.size(); ++i) EXPECT_EQ(records[i].counter, records[i - 1].counter + 1);
}

// Records per second reading 10,000 records of 1 KiB, pipelined and one
// direct get at a time. A measurement, not a check of speed: it runs only
// when KINESD_STORAGE_READ_BENCH is set, and prints what it found.
TEST(jetstream_read, throughput_pipelined_and_one_at_a_time) {
    if (!std::getenv("KINESD_STORAGE_READ_BENCH")) GTEST_SKIP() << "set KINESD_STORAGE_READ_BENCH to measure";
    jetstream_env env(std::getenv("KINESD_NATS_SERVER") ? debian_nats_server() : any_nats_server(), "bench");
    if (auto why = env.unavailable(); !why.empty()) GTEST_SKIP() << why;
    kinesd::clock clock;
    auto store = env.open(clock);
    auto s = store->open_shard(shard_name(1), true);
    const std::string payload(1024, 'x');
    const auto put_start = std::chrono::steady_clock::now();
    for (int batch = 0; batch < 20; ++batch) {
        std::vector<input> in;
        for (int i = 0; i < 500; ++i) in.push_back({s.get(), "k", payload});
        append_and_wait(*store, in);
    }
    const double put_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - put_start).count();
    std::printf("append: 10000 records of 1 KiB in batches of 500: %.0f records/s\n", 10000 / put_s);
    for (std::size_t depth : {std::size_t(128), std::size_t(1)}) {
        jetstream_tuning tuning;
        tuning.read_pipeline = depth;
        auto reader = env.open_tuned(clock, tuning);
        auto shard = reader->open_shard(shard_name(1), false);
        const auto start = std::chrono::steady_clock::now();
        std::size_t total = 0;
        for (std::uint64_t from = 1; from <= 10000;) {
            // GetRecords-sized reads: up to 10,000 records or 10 MiB each.
            auto got = reader->read(*shard, from, 1000, 10u << 20, [&](const record_view& v) {
                EXPECT_EQ(v.data.size(), 1024u);
                return true;
            });
            if (got == 0) break;
            total += got;
            from += got;
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_EQ(total, 10000u);
        std::printf("read, %zu direct gets in flight: %.0f records/s\n", depth, double(total) / secs);
    }
}
#endif

INSTANTIATE_TEST_SUITE_P(backends, log_store_conformance, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<backend>& info) { return info.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(log_store_conformance);

}  // namespace
}  // namespace kinesd::storage
