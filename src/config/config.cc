#include "config/config.h"

#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace kinesd::config {

namespace {

// One row per setting: its flag name (also the config-file key with '_' for
// '-', and the env var KINESD_<NAME>), a description, and how to store it.
struct setting_row {
    const char* name;
    const char* description;
    std::function<void(settings&, const std::string&)> assign;
    std::function<std::string(const settings&)> show;
    // A switch may stand alone on the command line (--tls-only = true).
    bool is_switch = false;
    // When set: the environment variable and config-file key, for a flag
    // given once per item (--function) whose whole list has a plural name.
    const char* env = nullptr;
    const char* key = nullptr;
};

// NAME=URL items, from one flag, a comma-separated variable, or the config
// file's object (which arrives as its JSON text). Names given again replace
// the earlier URL; the functions library checks names and URLs.
void add_functions(settings& s, const std::string& text) {
    if (!text.empty() && text.front() == '{') {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (!j.is_object()) throw std::invalid_argument("functions must be an object of NAME: URL");
        for (auto& [name, url] : j.items()) {
            if (!url.is_string() || url.get<std::string>().empty())
                throw std::invalid_argument("functions: the URL of '" + name + "' must be a non-empty string");
            s.functions[name] = url.get<std::string>();
        }
        return;
    }
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
            throw std::invalid_argument("function '" + item + "' is not NAME=URL");
        s.functions[item.substr(0, eq)] = item.substr(eq + 1);
    }
}

std::string show_functions(const settings& s) {
    std::string out;
    for (auto& [name, url] : s.functions) out += (out.empty() ? "" : ",") + name + "=" + url;
    return out;
}

template <typename T>
T parse_number(const std::string& name, const std::string& text) {
    try {
        std::size_t used = 0;
        long long v = std::stoll(text, &used);
        if (used != text.size() || v < 0) throw std::invalid_argument("");
        // Refuse what the setting cannot hold rather than wrap it (port 70000
        // must not quietly become 4464).
        if (static_cast<unsigned long long>(v) > static_cast<unsigned long long>(std::numeric_limits<T>::max()))
            throw std::invalid_argument("");
        return static_cast<T>(v);
    } catch (...) {
        throw std::invalid_argument("invalid value '" + text + "' for " + name);
    }
}

std::string show_duration(std::int64_t ms) {
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

#define KINESD_STRING(flag, member, text)                                         \
    setting_row{flag, text, [](settings& s, const std::string& v) { s.member = v; }, \
                [](const settings& s) { return s.member; }}
#define KINESD_NUMBER(flag, member, text)                                                                 \
    setting_row{flag, text,                                                                               \
                [](settings& s, const std::string& v) {                                                   \
                    s.member = parse_number<decltype(settings::member)>(flag, v);                         \
                },                                                                                        \
                [](const settings& s) { return std::to_string(s.member); }}

#define KINESD_BOOL(flag, member, text)                                                        \
    setting_row{flag, text,                                                                    \
                [](settings& s, const std::string& v) {                                        \
                    if (v != "true" && v != "false" && v != "1" && v != "0")                   \
                        throw std::invalid_argument(std::string(flag) + " must be true or false"); \
                    s.member = v == "true" || v == "1";                                        \
                },                                                                             \
                [](const settings& s) { return std::string(s.member ? "true" : "false"); }, true}

const std::vector<setting_row>& settings_table() {
    static const std::vector<setting_row> rows = {
        KINESD_STRING("host", host, "address to listen on"),
        KINESD_NUMBER("port", port, "port to listen on (HTTP/1.1 and HTTP/2)"),
        KINESD_STRING("data-dir", data_dir, "RocksDB data directory"),
        KINESD_STRING("log-level", log_level, "trace, debug, info, warn, error or off"),
        KINESD_STRING("region", region, "AWS region reported in ARNs"),
        KINESD_STRING("account-id", account_id, "12-digit account id reported in ARNs and errors"),
        KINESD_STRING("credentials-file", credentials_file,
                      "AWS shared-credentials file of the keys allowed in; when set, every request must be SigV4-signed "
                      "(empty: no check)"),
        KINESD_STRING("audit-log", audit_log,
                      "where to write one JSON line per control-plane call: a file path, stdout or off"),
        KINESD_STRING("durability", durability,
                      "sync: acknowledge after the WAL is fsynced; flush: after the OS has it; none: memory only"),
        KINESD_NUMBER("max-connections", max_connections,
                      "connections open at once (beyond: answered 503 and closed)"),
        KINESD_NUMBER("idle-timeout-ms", idle_timeout_ms, "close keep-alive connections idle this long"),
        KINESD_NUMBER("read-timeout-ms", read_timeout_ms,
                      "time a request may take from its first byte to its last, and a response write"),
        KINESD_NUMBER("max-body-bytes", max_body_bytes, "largest request body accepted (larger: HTTP 413)"),
        KINESD_NUMBER("max-inflight-bytes", max_inflight_bytes,
                      "request body bytes received or processed at once (beyond: HTTP 503); >= max-body-bytes"),
        KINESD_STRING("tls-cert", tls_cert,
                      "PEM certificate (chain allowed) for TLS on the same port (empty: a self-signed one made in "
                      "<data-dir>/tls)"),
        KINESD_STRING("tls-key", tls_key, "PEM private key of --tls-cert"),
        KINESD_BOOL("tls-only", tls_only, "refuse plain-text connections: only TLS is answered"),
        KINESD_NUMBER("io-threads", io_threads, "network threads (0 = one per core)"),
        KINESD_NUMBER("worker-threads", worker_threads, "threads running actions (0 = four per core)"),
        KINESD_NUMBER("write-buffer-mb", write_buffer_mb, "RocksDB memtable budget shared by all shards"),
        KINESD_NUMBER("block-cache-mb", block_cache_mb, "RocksDB block cache"),
        KINESD_NUMBER("wal-zero-ahead-kb", wal_zero_ahead_kb,
                      "zeros written ahead of the WAL at a time, so that its syncs change no file metadata (0: off)"),
        KINESD_NUMBER("spin-us", spin_us,
                      "while a lone client puts, the threads between it and the disk poll this long before sleeping "
                      "(lower latency for more CPU; 0: never poll)"),
        KINESD_STRING("storage", storage,
                      "rocksdb: records in --data-dir; nats: in a NATS JetStream cluster that several kinesd share"),
        KINESD_STRING("nats-url", nats_url, "NATS servers of the JetStream cluster, comma-separated (--storage nats)"),
        KINESD_NUMBER("nats-replicas", nats_replicas, "replicas of every stream and bucket in JetStream (1 to 5)"),
        KINESD_STRING("nats-prefix", nats_prefix,
                      "prefix of every JetStream stream, subject and bucket name (clusters sharing one NATS)"),
        KINESD_NUMBER("nats-publish-timeout-ms", nats_publish_timeout_ms,
                      "how long a write waits for JetStream's acknowledgement before failing as unavailable"),
        KINESD_NUMBER("shard-limit", shard_limit, "open shards allowed in the account"),
        KINESD_NUMBER("on-demand-shard-count", on_demand_shard_count, "shards an ON_DEMAND stream starts with"),
        KINESD_NUMBER("create-stream-ms", create_stream_ms, "time a new stream stays CREATING"),
        KINESD_NUMBER("delete-stream-ms", delete_stream_ms, "time a deleted stream stays DELETING"),
        KINESD_NUMBER("update-stream-ms", update_stream_ms, "time a resharded stream stays UPDATING"),
        setting_row{"enforce-limits",
                    "enforce AWS's per-shard limits (writes 1 MiB/s and 1000 records/s, GetRecords 5 calls/s and 2 MiB/s)",
                    [](settings& s, const std::string& v) {
                        if (v != "true" && v != "false" && v != "1" && v != "0")
                            throw std::invalid_argument("enforce-limits must be true or false");
                        s.enforce_limits = v == "true" || v == "1";
                    },
                    [](const settings& s) { return std::string(s.enforce_limits ? "true" : "false"); }},
        setting_row{"metrics",
                    "on: count per stream and serve GET /metrics (Prometheus); off: count nothing, /metrics answers 404",
                    [](settings& s, const std::string& v) {
                        if (v != "on" && v != "off" && v != "true" && v != "false")
                            throw std::invalid_argument("metrics must be on or off");
                        s.metrics = v == "on" || v == "true";
                    },
                    [](const settings& s) { return std::string(s.metrics ? "on" : "off"); }},
        KINESD_NUMBER("subscribe-heartbeat-ms", subscribe_heartbeat_ms,
                      "SubscribeToShard sends an event at least this often while no records arrive"),
        KINESD_NUMBER("subscription-lifetime-ms", subscription_lifetime_ms,
                      "a SubscribeToShard stream ends this long after it started (AWS: 5 minutes)"),
        KINESD_NUMBER("expiry-interval-ms", expiry_interval_ms, "how often expired records are removed"),
        KINESD_NUMBER("clock-offset-ms", clock_offset_ms, "move the server's clock forward (testing retention)"),
        KINESD_NUMBER("firehose-retry-window-ms", firehose_retry_window_ms,
                      "how long failed S3 uploads are retried before going to the ErrorOutputPrefix"),
        KINESD_NUMBER("firehose-max-active-partitions", firehose_max_active_partitions,
                      "dynamic partitioning: active partitions per delivery stream (AWS: 500 by default, up to "
                      "5000 on request); records of further partitions go to the ErrorOutputPrefix"),
        setting_row{"shutdown-timeout",
                    "on SIGTERM/SIGINT, time allowed to finish requests, flush Firehose buffers to S3 and close the "
                    "store (e.g. 30s, 2500ms); past it kinesd exits with status 3",
                    [](settings& s, const std::string& v) {
                        s.shutdown_timeout_ms = parse_duration_ms("shutdown-timeout", v);
                        if (s.shutdown_timeout_ms <= 0)
                            throw std::invalid_argument("shutdown-timeout must be positive");
                    },
                    [](const settings& s) { return show_duration(s.shutdown_timeout_ms); }},
        setting_row{"function",
                    "a function to invoke, NAME=URL of its Lambda Invoke endpoint (e.g. a Runtime Interface "
                    "Emulator's http://127.0.0.1:9000/2015-03-31/functions/function/invocations); repeatable",
                    add_functions, show_functions, false, "KINESD_FUNCTIONS", "functions"},
        setting_row{"firehose-http-timeout",
                    "how long one request to a Firehose HTTP endpoint may take before it is retried (e.g. 180s, "
                    "2500ms)",
                    [](settings& s, const std::string& v) {
                        s.firehose_http_timeout_ms = parse_duration_ms("firehose-http-timeout", v);
                        if (s.firehose_http_timeout_ms <= 0)
                            throw std::invalid_argument("firehose-http-timeout must be positive");
                    },
                    [](const settings& s) { return show_duration(s.firehose_http_timeout_ms); }},
        KINESD_STRING("firehose-http-ca-file", firehose_http_ca_file,
                      "PEM file of CA certificates trusted for https HTTP endpoints besides the system's"),
        KINESD_STRING("s3-endpoint", s3_endpoint, "S3-compatible endpoint URL for delivery (empty: AWS S3)"),
        KINESD_STRING("s3-region", s3_region, "region for S3 signing (empty: --region)"),
        KINESD_STRING("s3-access-key", s3_access_key, "S3 access key id"),
        KINESD_STRING("s3-secret-key", s3_secret_key, "S3 secret access key"),
    };
    return rows;
}

std::string env_name(const std::string& flag) {
    std::string out = "KINESD_";
    for (char c : flag) out.push_back(c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

std::string file_key(const std::string& flag) {
    std::string out = flag;
    for (auto& c : out)
        if (c == '-') c = '_';
    return out;
}

std::string row_env(const setting_row& row) { return row.env ? row.env : env_name(row.name); }
std::string row_key(const setting_row& row) { return row.key ? row.key : file_key(row.name); }

const setting_row* find_row(const std::string& name) {
    for (auto& row : settings_table())
        if (name == row.name) return &row;
    return nullptr;
}

void apply_file(settings& s, const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument("cannot read config file " + path);
    auto j = nlohmann::json::parse(in, nullptr, false, true);
    if (!j.is_object()) throw std::invalid_argument("config file " + path + " is not a JSON object");
    for (auto& [key, value] : j.items()) {
        const setting_row* row = nullptr;
        for (auto& r : settings_table())
            if (row_key(r) == key) row = &r;
        if (!row) throw std::invalid_argument("unknown setting '" + key + "' in " + path);
        row->assign(s, value.is_string() ? value.get<std::string>() : value.dump());
    }
}

}  // namespace

std::int64_t parse_duration_ms(const std::string& name, const std::string& text) {
    std::string digits = text;
    std::int64_t unit = 0;
    if (digits.size() > 2 && digits.ends_with("ms")) {
        digits.resize(digits.size() - 2);
        unit = 1;
    } else if (digits.size() > 1 && digits.ends_with("s")) {
        digits.resize(digits.size() - 1);
        unit = 1000;
    }
    if (unit == 0 || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 12)
        throw std::invalid_argument("invalid value '" + text + "' for " + name +
                                    " (give a unit: e.g. 30s or 2500ms)");
    return std::stoll(digits) * unit;
}

parse_result load(int argc, const char* const* argv, const std::vector<std::string>& environment) {
    parse_result result;
    std::vector<std::pair<const setting_row*, std::string>> flags;
    std::string config_file;
    for (const auto& entry : environment)
        if (entry.rfind("KINESD_CONFIG=", 0) == 0) config_file = entry.substr(14);
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            result.show_help = true;
            continue;
        }
        if (arg == "--version") {
            result.show_version = true;
            continue;
        }
        if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + arg + "'");
        std::string name = arg.substr(2), value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (const auto* row = find_row(name);
                   row && row->is_switch && (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0)) {
            value = "true";
        } else {
            if (i + 1 >= argc) throw std::invalid_argument("missing value for --" + name);
            value = argv[++i];
        }
        if (name == "config") {
            config_file = value;
            continue;
        }
        const setting_row* row = find_row(name);
        if (!row) throw std::invalid_argument("unknown option --" + name + " (see --help)");
        flags.emplace_back(row, value);
    }
    settings& s = result.values;
    if (!config_file.empty()) {
        apply_file(s, config_file);
        s.config_file = config_file;
    }
    for (const auto& entry : environment) {
        auto eq = entry.find('=');
        if (eq == std::string::npos || entry.rfind("KINESD_", 0) != 0) continue;
        std::string key = entry.substr(0, eq);
        for (auto& row : settings_table())
            if (row_env(row) == key) row.assign(s, entry.substr(eq + 1));
    }
    for (auto& [row, value] : flags) row->assign(s, value);
    if (s.durability != "sync" && s.durability != "flush" && s.durability != "none")
        throw std::invalid_argument("durability must be sync, flush or none");
    if (s.storage != "rocksdb" && s.storage != "nats") throw std::invalid_argument("storage must be rocksdb or nats");
    if (s.nats_replicas < 1 || s.nats_replicas > 5) throw std::invalid_argument("nats-replicas must be 1 to 5");
    if (s.nats_publish_timeout_ms <= 0) throw std::invalid_argument("nats-publish-timeout-ms must be positive");
    if (s.storage == "nats" && s.nats_url.find_first_not_of(", ") == std::string::npos)
        throw std::invalid_argument("nats-url must name at least one server");
    // A body the budget could never hold would be refused for ever.
    if (s.max_inflight_bytes < s.max_body_bytes)
        throw std::invalid_argument("max-inflight-bytes must be at least max-body-bytes");
    if (s.tls_cert.empty() != s.tls_key.empty())
        throw std::invalid_argument("tls-cert and tls-key go together: set both or neither");
    if (s.read_timeout_ms == 0) throw std::invalid_argument("read-timeout-ms must be positive");
    if (s.subscribe_heartbeat_ms <= 0) throw std::invalid_argument("subscribe-heartbeat-ms must be positive");
    if (s.subscription_lifetime_ms <= 0) throw std::invalid_argument("subscription-lifetime-ms must be positive");
    if (s.account_id.size() != 12 || s.account_id.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument("account-id must be 12 digits");
    return result;
}

std::string help_text() {
    std::ostringstream out;
    out << "kinesd: a durable server for the Amazon Kinesis Data Streams and Firehose APIs\n\n"
        << "usage: kinesd [--config FILE] [--option VALUE ...]\n\n"
        << "Each option can also be set by environment variable or in the JSON config file:\n\n";
    settings defaults;
    for (auto& row : settings_table()) {
        std::string flag = std::string("--") + row.name;
        out << "  " << flag << std::string(flag.size() < 26 ? 26 - flag.size() : 1, ' ') << row.description << "\n"
            << std::string(28, ' ') << "env " << row_env(row) << ", default '" << row.show(defaults) << "'\n";
    }
    out << "  --config FILE             JSON file of settings (keys as above with '_' for '-'), env KINESD_CONFIG\n"
        << "  --help                    this text\n";
    return out.str();
}

}  // namespace kinesd::config
