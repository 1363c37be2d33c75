// GetRecords drain client: reads every record of a stream back and reports the
// rate, the way a consumer with one reader per shard would.
//
// ListShards (DescribeStream on servers without it), then for each shard a
// TRIM_HORIZON iterator and GetRecords until an empty batch with
// MillisBehindLatest 0 or a closed shard. Shards are read concurrently, one
// thread and one keep-alive connection each (--parallel). Answers are counted
// by scanning the text, not by parsing it: the number of records, the decoded
// data size from the base64 lengths, and sequence numbers that must keep
// increasing. The first answer of each shard is also parsed in full as JSON and
// must agree with the scan, so a scan that goes wrong fails the run.
//
// --format cbor asks GetRecords in CBOR 1.1, as the Java SDKs do, and walks
// every answer in full (any length form, tags): records, Data byte lengths,
// tag 1 arrival times and increasing sequence numbers. The other calls stay
// JSON.
//
// Prints `RESULT kind=drain ...` on stdout and a summary on stderr. Exit
// status: 0 when every shard was read to its end (and --expect was met), 1 on
// an error answer, a failed check, a throttle that does not clear or too few
// records, 2 when --timeout stopped the drain.
//
// Build: g++ -std=c++20 -O2 -pthread drain_client.cc -o drain_client
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "drain_cbor.h"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;
using drain::cbor_page;
using drain::page_count;
using drain::page_scan;
using drain::sequence_less;

struct options {
    std::string host = "127.0.0.1";
    std::string port;
    std::string stream;
    int limit = 10000;
    double timeout_s = 300;
    std::optional<std::uint64_t> expect;
    int parallel = 0;  // 0: one reader per shard
    int max_throttles = 100;
    bool cbor = false;  // GetRecords in CBOR
};

struct call_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// An error answer, kept apart so throttling can be retried.
struct api_failure : call_failed {
    api_failure(unsigned status, std::string type, const std::string& message)
        : call_failed("HTTP " + std::to_string(status) + " " + type + ": " + message), type_(std::move(type)) {}
    std::string type_;
};

bool is_throttle(const std::string& type) {
    return type == "ProvisionedThroughputExceededException" || type == "LimitExceededException";
}

api_failure error_of(unsigned status, const std::string& body, bool cbor = false) {
    std::string type = "?", message = body.substr(0, 200);
    auto parsed = cbor ? json::from_cbor(body, true, false) : json::parse(body, nullptr, false);
    if (parsed.is_object()) {
        if (auto t = parsed.find("__type"); t != parsed.end() && t->is_string()) {
            type = t->get<std::string>();
            if (auto hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
        }
        for (const char* key : {"message", "Message"})
            if (auto m = parsed.find(key); m != parsed.end() && m->is_string()) message = m->get<std::string>();
    }
    return api_failure(status, type, message);
}

// A well-formed but unsigned SigV4 header, as SDKs send one: some servers
// refuse requests without it, none of them here checks the signature.
std::string auth_headers() {
    char date[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    std::string out = "X-Amz-Date: ";
    out.append(date).append("\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/");
    out.append(date, 8).append("/us-east-1/kinesis/aws4_request, ");
    out.append("SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=");
    out.append(64, '0').append("\r\n");
    return out;
}

// One keep-alive HTTP/1.1 connection. send() and receive() are split so a
// caller can have the server working on the next call while it counts the
// previous answer.
class connection {
public:
    connection(const options& opt) : opt_(opt), socket_(io_) {}

    void send(std::string_view action, const std::string& body, bool cbor = false) {
        request_.clear();
        request_.append("POST / HTTP/1.1\r\nHost: ").append(opt_.host).append(":").append(opt_.port);
        request_.append(cbor ? "\r\nContent-Type: application/x-amz-cbor-1.1" : "\r\nContent-Type: application/x-amz-json-1.1");
        request_.append("\r\nX-Amz-Target: Kinesis_20131202.");
        request_.append(action).append("\r\n").append(auth_headers());
        request_.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
        request_.append(body);
        boost::system::error_code ec;
        if (socket_.is_open()) asio::write(socket_, asio::buffer(request_), ec);
        // A failed write on a reused connection is retried by receive().
        if (!socket_.is_open() || ec) close();
    }

    // Reads the answer to the last send(): (status, body).
    std::pair<unsigned, std::string> receive() {
        for (int attempt = 1;; ++attempt) {
            boost::system::error_code ec;
            if (!socket_.is_open()) {
                open();
                asio::write(socket_, asio::buffer(request_), ec);
            }
            http::response_parser<http::string_body> parser;
            // GetRecords answers reach 10 MiB of data, a third more as base64.
            parser.body_limit(64u << 20);
            if (!ec) http::read(socket_, buffer_, parser, ec);
            if (!ec) {
                auto& res = parser.get();
                if (!res.keep_alive()) close();
                return {res.result_int(), std::move(res.body())};
            }
            close();
            // One retry on a fresh connection covers a server that closed an
            // idle keep-alive connection, without hiding a dead server.
            if (attempt == 2) throw call_failed("HTTP exchange failed: " + ec.message());
        }
    }

    json call(std::string_view action, const json& body) {
        send(action, body.dump());
        auto [status, text] = receive();
        if (status != 200) throw error_of(status, text);
        return json::parse(text);
    }

private:
    void open() {
        tcp::resolver resolver(io_);
        asio::connect(socket_, resolver.resolve(opt_.host, opt_.port));
        socket_.set_option(tcp::no_delay(true));
        buffer_.clear();
        // Beast reads no more than the buffer's free space (at least 512
        // bytes): a roomy buffer turns thousands of reads per answer into dozens.
        buffer_.reserve(1u << 20);
    }
    void close() {
        boost::system::error_code ignored;
        socket_.close(ignored);
        buffer_.clear();
    }

    const options& opt_;
    asio::io_context io_;
    tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
    std::string request_;
};

// ---------------------------------------------------------------------------
// Scanning an answer without parsing it. Quoted member names cannot occur
// unescaped inside a JSON string value, so each search only ever matches the
// member it names.

std::size_t skip_space(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    return i;
}

// Position just after `"key"` and its colon, or npos.
std::size_t value_of(std::string_view s, std::string_view quoted_key, std::size_t from = 0) {
    std::size_t k = s.find(quoted_key, from);
    if (k == std::string_view::npos) return k;
    std::size_t i = skip_space(s, k + quoted_key.size());
    if (i >= s.size() || s[i] != ':') return std::string_view::npos;
    return skip_space(s, i + 1);
}

// The JSON string starting at s[i] (its opening quote), unescaped.
std::optional<std::string> string_at(std::string_view s, std::size_t i) {
    if (i >= s.size() || s[i] != '"') return std::nullopt;
    std::size_t j = i + 1;
    bool escaped = false;
    while (j < s.size() && s[j] != '"') {
        if (s[j] == '\\') {
            escaped = true;
            ++j;
        }
        ++j;
    }
    if (j >= s.size()) return std::nullopt;
    if (!escaped) return std::string(s.substr(i + 1, j - i - 1));
    return json::parse(s.substr(i, j - i + 1)).get<std::string>();
}


page_scan quick_scan(std::string_view s) {
    page_scan out;
    if (auto i = value_of(s, "\"NextShardIterator\""); i != std::string_view::npos) out.next_iterator = string_at(s, i);
    if (auto i = value_of(s, "\"MillisBehindLatest\""); i != std::string_view::npos)
        out.behind = std::strtoull(s.data() + i, nullptr, 10);
    auto r = value_of(s, "\"Records\"");
    out.empty = r != std::string_view::npos && s[r] == '[' && skip_space(s, r + 1) < s.size() &&
                s[skip_space(s, r + 1)] == ']';
    return out;
}

std::uint64_t decoded_length(std::string_view b64) {
    std::size_t n = b64.size();
    std::size_t pad = n >= 1 && b64[n - 1] == '=' ? (n >= 2 && b64[n - 2] == '=' ? 2 : 1) : 0;
    return n / 4 * 3 - pad;
}



// Counts the records of one answer by their Data and SequenceNumber members
// (written without spaces, as every server here does), checking that the two
// counts agree and that sequence numbers increase from `after`. Returns
// nullopt when the layout is not the expected one; the caller then parses.
std::optional<page_count> fast_count(std::string_view s, std::string_view after) {
    static constexpr std::string_view data_key = "\"Data\":\"";
    static constexpr std::string_view seq_key = "\"SequenceNumber\":\"";
    page_count out;
    std::string_view previous = after;
    std::size_t data_pos = s.find(data_key), seq_pos = s.find(seq_key);
    while (data_pos != std::string_view::npos || seq_pos != std::string_view::npos) {
        if (data_pos == std::string_view::npos || seq_pos == std::string_view::npos) return std::nullopt;
        std::size_t d = data_pos + data_key.size();
        std::size_t d_end = s.find('"', d);
        std::size_t q = seq_pos + seq_key.size();
        std::size_t q_end = s.find('"', q);
        if (d_end == std::string_view::npos || q_end == std::string_view::npos) return std::nullopt;
        if ((d_end - d) % 4 != 0) return std::nullopt;
        std::string_view sequence = s.substr(q, q_end - q);
        if (!previous.empty() && !sequence_less(previous, sequence))
            throw call_failed("sequence numbers do not increase: " + std::string(sequence) + " after " +
                              std::string(previous));
        previous = sequence;
        out.records += 1;
        out.bytes += decoded_length(s.substr(d, d_end - d));
        // The next record's members lie past both of this one's.
        std::size_t past = std::max(d_end, q_end) + 1;
        data_pos = s.find(data_key, past);
        seq_pos = s.find(seq_key, past);
    }
    out.last_sequence = previous;
    return out;
}

bool valid_base64(std::string_view b) {
    if (b.size() % 4 != 0) return false;
    std::size_t pad = b.size() >= 1 && b.back() == '=' ? (b.size() >= 2 && b[b.size() - 2] == '=' ? 2 : 1) : 0;
    for (std::size_t i = 0; i + pad < b.size(); ++i) {
        char c = b[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return false;
    }
    return true;
}

// The whole answer parsed as JSON: what the scans must agree with.
page_count full_count(const json& page, std::string_view after) {
    if (!page.is_object() || !page.contains("Records") || !page["Records"].is_array())
        throw call_failed("GetRecords answer has no Records array");
    if (!page.contains("MillisBehindLatest") || !page["MillisBehindLatest"].is_number_unsigned())
        throw call_failed("GetRecords answer has no MillisBehindLatest");
    page_count out;
    std::string previous(after);
    for (const auto& r : page["Records"]) {
        for (const char* key : {"Data", "PartitionKey", "SequenceNumber"})
            if (!r.contains(key) || !r[key].is_string())
                throw call_failed(std::string("record without a string ") + key);
        if (!r.contains("ApproximateArrivalTimestamp") || !r["ApproximateArrivalTimestamp"].is_number())
            throw call_failed("record without ApproximateArrivalTimestamp");
        const auto& data = r["Data"].get_ref<const std::string&>();
        if (!valid_base64(data)) throw call_failed("record Data is not base64");
        const auto& sequence = r["SequenceNumber"].get_ref<const std::string&>();
        if (sequence.empty() || sequence.find_first_not_of("0123456789") != std::string::npos)
            throw call_failed("SequenceNumber is not a decimal number: " + sequence);
        if (!previous.empty() && !sequence_less(previous, sequence))
            throw call_failed("sequence numbers do not increase: " + sequence + " after " + previous);
        previous = sequence;
        out.records += 1;
        out.bytes += decoded_length(data);
    }
    out.last_sequence = previous;
    return out;
}

// ---------------------------------------------------------------------------

struct totals {
    std::atomic<std::uint64_t> records{0}, bytes{0}, calls{0}, empty_calls{0}, throttled{0};
};

std::vector<std::string> list_shards(connection& conn, const std::string& stream) {
    std::vector<std::string> ids;
    try {
        json body = {{"StreamName", stream}, {"MaxResults", 1000}};
        for (;;) {
            json out = conn.call("ListShards", body);
            for (const auto& s : out.value("Shards", json::array())) ids.push_back(s.at("ShardId"));
            if (!out.contains("NextToken") || !out["NextToken"].is_string()) return ids;
            body = {{"NextToken", out["NextToken"]}, {"MaxResults", 1000}};
        }
    } catch (const api_failure& e) {
        if (e.type_ != "UnknownOperationException" && e.type_ != "InvalidAction") throw;
    }
    // Servers without ListShards: page through DescribeStream instead.
    json body = {{"StreamName", stream}};
    for (;;) {
        json desc = conn.call("DescribeStream", body).at("StreamDescription");
        for (const auto& s : desc.at("Shards")) ids.push_back(s.at("ShardId"));
        if (!desc.value("HasMoreShards", false) || desc.at("Shards").empty()) return ids;
        body = {{"StreamName", stream}, {"ExclusiveStartShardId", ids.back()}};
    }
}

std::string get_records_body(const std::string& iterator, int limit, bool cbor) {
    json body = {{"ShardIterator", iterator}, {"Limit", limit}};
    if (!cbor) return body.dump();
    const auto bytes = json::to_cbor(body);
    return std::string(bytes.begin(), bytes.end());
}

// Reads one shard to its end; returns false when the deadline stopped it.
bool drain_shard(connection& conn, const options& opt, const std::string& shard, clock_type::time_point deadline,
                 totals& sum) {
    std::string iterator =
        conn.call("GetShardIterator",
                  {{"StreamName", opt.stream}, {"ShardId", shard}, {"ShardIteratorType", "TRIM_HORIZON"}})
            .at("ShardIterator");
    conn.send("GetRecords", get_records_body(iterator, opt.limit, opt.cbor), opt.cbor);
    bool first = true;
    int throttles = 0;
    std::string last_sequence;
    for (;;) {
        auto [status, text] = conn.receive();
        if (status != 200) {
            auto err = error_of(status, text, opt.cbor);
            if (!is_throttle(err.type_)) throw err;
            sum.throttled += 1;
            if (++throttles > opt.max_throttles || clock_type::now() > deadline)
                throw call_failed(shard + ": still throttled after " + std::to_string(throttles) + " tries: " +
                                  err.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            conn.send("GetRecords", get_records_body(iterator, opt.limit, opt.cbor), opt.cbor);
            continue;
        }
        throttles = 0;
        sum.calls += 1;
        if (opt.cbor) {
            bool done = false, timed_out = false;
            auto [scan, counted] = cbor_page(text, last_sequence, [&](const page_scan& scan) {
                done = !scan.next_iterator || (scan.empty && scan.behind == 0);
                timed_out = !done && clock_type::now() > deadline;
                if (!done && !timed_out) {
                    iterator = *scan.next_iterator;
                    conn.send("GetRecords", get_records_body(iterator, opt.limit, true), true);
                }
            });
            sum.records += counted.records;
            sum.bytes += counted.bytes;
            if (!counted.last_sequence.empty()) last_sequence = std::move(counted.last_sequence);
            if (scan.empty) sum.empty_calls += 1;
            if (done) return true;
            if (timed_out) return false;
            continue;
        }
        page_scan scan = quick_scan(text);
        bool done = !scan.next_iterator || (scan.empty && scan.behind == 0);
        bool timed_out = !done && clock_type::now() > deadline;
        if (!done && !timed_out) {
            iterator = *scan.next_iterator;
            conn.send("GetRecords", get_records_body(iterator, opt.limit, false));
        }
        // The server now works on the next call while this answer is counted.
        auto counted = fast_count(text, last_sequence);
        if (!counted || first) {
            json page = json::parse(text);
            page_count parsed = full_count(page, last_sequence);
            auto next = page.find("NextShardIterator");
            bool agrees = (next == page.end() || next->is_null()
                               ? !scan.next_iterator
                               : scan.next_iterator && next->is_string() && *next == *scan.next_iterator) &&
                          page["Records"].empty() == scan.empty &&
                          page["MillisBehindLatest"].get<std::uint64_t>() == scan.behind &&
                          (!counted || (counted->records == parsed.records && counted->bytes == parsed.bytes &&
                                        counted->last_sequence == parsed.last_sequence));
            if (!agrees) throw call_failed(shard + ": GetRecords answer scan disagrees with its JSON parse");
            counted = std::move(parsed);
            first = false;
        }
        if (scan.empty != (counted->records == 0))
            throw call_failed(shard + ": empty Records but records were counted");
        sum.records += counted->records;
        sum.bytes += counted->bytes;
        if (!counted->last_sequence.empty()) last_sequence = std::move(counted->last_sequence);
        if (scan.empty) sum.empty_calls += 1;
        if (done) return true;
        if (timed_out) return false;
    }
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void usage(int code) {
    std::fprintf(code ? stderr : stdout,
                 "usage: drain_client --port PORT --stream NAME [--host HOST] [--limit N] [--timeout SECS]\n"
                 "                    [--expect N] [--parallel N] [--max-throttles N] [--format json|cbor]\n"
                 "Reads every record of a stream with GetRecords, one reader per shard (or N).\n");
    std::exit(code);
}

options parse_args(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "-h" || a == "--help") usage(0);
        if (i + 1 >= argc) usage(2);
        std::string v = argv[++i];
        try {
            if (a == "--host") opt.host = v;
            else if (a == "--port") opt.port = v;
            else if (a == "--stream") opt.stream = v;
            else if (a == "--limit") opt.limit = std::stoi(v);
            else if (a == "--timeout") opt.timeout_s = std::stod(v);
            else if (a == "--expect") opt.expect = std::stoull(v);
            else if (a == "--parallel") opt.parallel = std::stoi(v);
            else if (a == "--max-throttles") opt.max_throttles = std::stoi(v);
            else if (a == "--format" && (v == "json" || v == "cbor")) opt.cbor = v == "cbor";
            else usage(2);
        } catch (const std::exception&) {
            std::fprintf(stderr, "drain_client: bad value for %s: %s\n", argv[i - 1], v.c_str());
            std::exit(2);
        }
    }
    if (opt.port.empty() || opt.stream.empty() || opt.limit < 1 || opt.parallel < 0) usage(2);
    return opt;
}

int run(const options& opt) {
    auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                            std::chrono::duration<double>(opt.timeout_s));
    double cpu0 = cpu_seconds();
    auto t0 = clock_type::now();
    std::vector<std::string> shards;
    {
        connection conn(opt);
        shards = list_shards(conn, opt.stream);
    }
    int readers = opt.parallel > 0 ? opt.parallel : static_cast<int>(shards.size());
    readers = std::max(1, std::min<int>(readers, static_cast<int>(shards.size())));

    totals sum;
    std::atomic<std::size_t> next_shard{0};
    std::atomic<bool> timed_out{false}, failed{false};
    std::mutex error_mutex;
    std::string first_error;
    auto reader = [&] {
        connection conn(opt);
        try {
            for (;;) {
                std::size_t i = next_shard++;
                if (i >= shards.size() || failed || timed_out) return;
                if (!drain_shard(conn, opt, shards[i], deadline, sum)) timed_out = true;
            }
        } catch (const std::exception& e) {
            std::lock_guard lock(error_mutex);
            if (!failed.exchange(true)) first_error = e.what();
        }
    };
    std::vector<std::thread> threads;
    for (int i = 1; i < readers; ++i) threads.emplace_back(reader);
    reader();
    for (auto& t : threads) t.join();

    double elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
    double cpu = cpu_seconds() - cpu0;
    if (failed) {
        std::fprintf(stderr, "drain failed: %s\n", first_error.c_str());
        return 1;
    }
    double rate = elapsed > 0 ? sum.records / elapsed : 0;
    double mbps = elapsed > 0 ? sum.bytes / elapsed / 1e6 : 0;
    std::printf("RESULT kind=drain format=%s shards=%zu records=%llu bytes=%llu duration_s=%.3f records_per_s=%.1f "
                "mb_per_s=%.3f calls=%llu empty_calls=%llu throttled=%llu client_cpu_s=%.3f timed_out=%d "
                "readers=%d\n",
                opt.cbor ? "cbor" : "json", shards.size(), static_cast<unsigned long long>(sum.records.load()),
                static_cast<unsigned long long>(sum.bytes.load()), elapsed, rate, mbps,
                static_cast<unsigned long long>(sum.calls.load()),
                static_cast<unsigned long long>(sum.empty_calls.load()),
                static_cast<unsigned long long>(sum.throttled.load()), cpu, timed_out ? 1 : 0, readers);
    std::fflush(stdout);
    std::fprintf(stderr,
                 "drained %llu records (%.1f MB) from %zu shards with %d reader(s) in %.2f s: %.0f records/s; "
                 "client CPU %.2f s (%.0f%% of one core)\n",
                 static_cast<unsigned long long>(sum.records.load()), sum.bytes / 1e6, shards.size(), readers,
                 elapsed, rate, cpu, elapsed > 0 ? 100 * cpu / elapsed : 0.0);
    if (opt.expect && sum.records < *opt.expect) {
        std::fprintf(stderr, "drain: expected at least %llu records, got %llu\n",
                     static_cast<unsigned long long>(*opt.expect),
                     static_cast<unsigned long long>(sum.records.load()));
        return 1;
    }
    return timed_out ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    options opt = parse_args(argc, argv);
    try {
        return run(opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "drain failed: %s\n", e.what());
        return 1;
    }
}
