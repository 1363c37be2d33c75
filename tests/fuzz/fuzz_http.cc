// The whole network front end: an in-process server with the real router,
// service and store, fed one TCP connection per input.
//
// The first input byte is a mode, the rest goes on the wire:
//   bit 0  send the HTTP/2 preface and an empty SETTINGS frame first, so
//          that the fuzzer starts right at frame handling;
//   bit 1  keep our write side open and wait for replies (HTTP/2 closes a
//          connection at the client's FIN without answering), instead of
//          half-closing at once.
// The server keeps its state between inputs (streams created by one input
// exist for the next), as a real one would.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "actions/service.h"
#include "common/clock.h"
#include "delivery/firehose_registry.h"
#include "http/router.h"
#include "http/server.h"
#include "storage/rocksdb_store.h"
#include "streams/stream_registry.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
constexpr char empty_settings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0};

// How long to wait for a reply: the server may keep a connection open, and
// a fuzzer that waited for the idle timeout would run a few inputs a minute.
constexpr auto reply_deadline = 200ms;
constexpr auto reply_quiet = 50ms;
// Every so many inputs a plain request must still be answered: a wedged
// I/O thread or worker pool does not crash, it just stops replying.
constexpr unsigned liveness_every = 256;
constexpr auto liveness_deadline = 8s;

struct server_under_test {
    fs::path dir;
    kinesd::clock clock;
    std::unique_ptr<kinesd::storage::rocksdb_store> store;
    std::unique_ptr<kinesd::streams::stream_registry> streams;
    std::unique_ptr<kinesd::delivery::firehose_registry> firehose;
    std::unique_ptr<kinesd::actions::service> service;
    std::unique_ptr<boost::asio::thread_pool> workers;
    std::unique_ptr<kinesd::http::router> router;
    boost::asio::io_context ioc;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
    std::unique_ptr<kinesd::http::server> server;
    std::thread io_thread;
    std::uint16_t port = 0;

    void start() {
        std::string pattern = (fs::temp_directory_path() / "kinesd-fuzz-XXXXXX").string();
        if (!mkdtemp(pattern.data())) {
            std::perror("mkdtemp");
            std::abort();
        }
        dir = pattern;

        kinesd::storage::rocksdb_options so;
        so.path = (dir / "data").string();
        so.mode = kinesd::storage::durability::none;
        so.write_buffer_total_bytes = 4u << 20;
        so.shard_write_buffer_bytes = 256u << 10;
        so.block_cache_bytes = 1u << 20;
        so.max_batch_bytes = 1u << 20;
        so.max_open_files = 64;
        store = std::make_unique<kinesd::storage::rocksdb_store>(so, clock);
        streams = std::make_unique<kinesd::streams::stream_registry>(*store, clock,
                                                                      kinesd::streams::registry_options{});
        auto referenced = streams->load();
        firehose = std::make_unique<kinesd::delivery::firehose_registry>(
            *store, clock, kinesd::delivery::firehose_registry_options{});
        referenced.merge(firehose->load());
        store->drop_unreferenced(referenced);

        kinesd::actions::service_settings settings;
        // Few shards in total, so that streams the fuzzer creates stay cheap.
        settings.shard_limit = 8;
        settings.on_demand_stream_limit = 2;
        settings.on_demand_shard_count = 1;
        service = std::make_unique<kinesd::actions::service>(settings, *store, *streams, clock,
                                                             std::string(32, 'k'));
        service->set_firehose(firehose.get());
        workers = std::make_unique<boost::asio::thread_pool>(4);
        service->set_post([pool = workers.get()](std::function<void()> work) {
            boost::asio::post(*pool, std::move(work));
        });
        router = std::make_unique<kinesd::http::router>(*service, *workers, std::size_t{1} << 20);

        kinesd::http::server_options options;
        options.host = "127.0.0.1";
        options.port = 0;
        options.max_connections = 64;
        options.idle_timeout = 2s;
        options.read_timeout = 2s;
        server = std::make_unique<kinesd::http::server>(ioc, options, *router);
        server->start();
        port = server->local_port();
        guard.emplace(ioc.get_executor());
        io_thread = std::thread([this] { ioc.run(); });
    }

    // In main()'s order: stop accepting, let workers finish, close the store.
    void stop() {
        server->stop();
        guard.reset();
        ioc.stop();
        if (io_thread.joinable()) io_thread.join();
        workers->join();
        server.reset();
        router.reset();
        workers.reset();
        service.reset();
        firehose.reset();
        streams.reset();
        store.reset();
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }
};

server_under_test* sut = nullptr;

void stop_server() {
    if (!sut) return;
    sut->stop();
    delete sut;
    sut = nullptr;
}

int connect_to_server() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        std::perror("socket");
        std::abort();
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(sut->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("connect");
        std::abort();
    }
    return fd;
}

void send_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t sent = ::send(fd, p, n, MSG_NOSIGNAL);
        if (sent <= 0) return;  // the server may close early on a bad request
        p += sent;
        n -= std::size_t(sent);
    }
}

// Reads until EOF, `deadline`, or `quiet` without a byte once something came.
std::string read_reply(int fd, steady::duration deadline, steady::duration quiet) {
    std::string reply;
    const auto end = steady::now() + deadline;
    char buf[16384];
    for (;;) {
        auto now = steady::now();
        if (now >= end) break;
        auto wait = end - now;
        if (!reply.empty() && wait > quiet) wait = quiet;
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, int(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) + 1);
        if (r <= 0) {
            if (!reply.empty() || r < 0) break;
            continue;
        }
        ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        if (got <= 0) break;
        reply.append(buf, std::size_t(got));
    }
    return reply;
}

// Resets instead of a FIN: no TIME_WAIT left behind per input, so a long
// run does not run out of ephemeral ports.
void abort_close(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}

void check_liveness() {
    static const std::string request =
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.1\r\n"
        "X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    int fd = connect_to_server();
    send_all(fd, request.data(), request.size());
    std::string reply = read_reply(fd, liveness_deadline, liveness_deadline);
    abort_close(fd);
    if (reply.rfind("HTTP/1.1 200", 0) != 0) {
        std::fprintf(stderr, "FINDING: the server stopped answering (reply: %.200s)\n", reply.c_str());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Per-request logs at this rate would drown the fuzzer's own output.
    spdlog::set_level(spdlog::level::off);
    sut = new server_under_test;
    sut->start();
    std::atexit(stop_server);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static unsigned inputs = 0;
    if (size == 0) return 0;
    const std::uint8_t mode = data[0];
    const char* body = reinterpret_cast<const char*>(data + 1);
    const std::size_t body_size = size - 1;
    const bool h2_prefix = mode & 1;
    const bool keep_open = mode & 2;

    int fd = connect_to_server();
    if (h2_prefix) {
        std::string prefix(h2_preface);
        prefix.append(empty_settings, sizeof empty_settings);
        send_all(fd, prefix.data(), prefix.size());
    }
    send_all(fd, body, body_size);
    if (!keep_open) ::shutdown(fd, SHUT_WR);
    read_reply(fd, reply_deadline, keep_open ? reply_quiet : reply_deadline);
    abort_close(fd);

    if (++inputs % liveness_every == 0) check_liveness();
    return 0;
}
