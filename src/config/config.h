#pragma once
// kinesd's settings. Every setting has a default, a key in the JSON config
// file, an environment variable and a flag; later sources win:
//   defaults < config file (--config / KINESD_CONFIG) < KINESD_* env < flags.
// `kinesd --help` prints the table (see settings_table in config.cc).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kinesd::config {

struct settings {
    // network
    std::string host = "0.0.0.0";
    std::uint16_t port = 4567;
    std::size_t max_connections = 10240;
    std::int64_t idle_timeout_ms = 60000;
    std::int64_t read_timeout_ms = 30000;
    std::size_t max_body_bytes = 16u << 20;
    std::size_t max_inflight_bytes = 256u << 20;
    int io_threads = 0;      // 0 = one per core
    int worker_threads = 0;  // 0 = 4 per core
    // TLS on the same port (empty: a self-signed pair in <data-dir>/tls)
    std::string tls_cert;
    std::string tls_key;
    bool tls_only = false;
    // storage
    std::string data_dir = "./data";
    std::string durability = "sync";  // sync | flush | none
    std::size_t write_buffer_mb = 32;
    std::size_t wal_zero_ahead_kb = 2048;
    std::size_t block_cache_mb = 48;
    std::int64_t spin_us = 1000;  // 0: threads waiting on a lone put sleep
    // storage backend: rocksdb (in data_dir) or nats (a JetStream cluster)
    std::string storage = "rocksdb";
    std::string nats_url = "nats://127.0.0.1:4222";  // comma-separated
    int nats_replicas = 3;
    std::string nats_prefix = "kinesd";
    std::int64_t nats_publish_timeout_ms = 3000;
    // identity and limits
    std::string region = "us-east-1";
    std::string account_id = "000000000000";
    std::uint32_t shard_limit = 500;
    std::uint32_t on_demand_shard_count = 4;
    std::int64_t create_stream_ms = 0;
    std::int64_t delete_stream_ms = 0;
    std::int64_t update_stream_ms = 0;
    // authentication: an AWS shared-credentials file of the accepted keys
    // (empty: requests are not checked) and where control-plane calls are
    // recorded (off, stdout or a file path)
    std::string credentials_file;
    std::string audit_log = "off";
    // AWS's per-shard throughput limits (off: no throttling)
    bool enforce_limits = false;
    // enhanced fan-out (SubscribeToShard)
    std::int64_t subscribe_heartbeat_ms = 5000;
    std::int64_t subscription_lifetime_ms = 300000;
    // background work
    std::int64_t expiry_interval_ms = 60000;
    // test support: shifts the server's clock (retention, iterator expiry)
    std::int64_t clock_offset_ms = 0;
    // logging
    std::string log_level = "info";
    // GET /metrics and the counters behind it ("on" | "off")
    bool metrics = true;
    // delivery (Firehose) to S3
    std::string s3_endpoint;
    std::string s3_region;
    std::string s3_access_key;
    std::string s3_secret_key;
    // how long a failing S3 upload is retried before the batch goes to the
    // ErrorOutputPrefix (AWS: 24 hours)
    std::int64_t firehose_retry_window_ms = 24LL * 3600 * 1000;
    std::int64_t firehose_max_active_partitions = 500;
    // HTTP endpoint delivery: how long one request may take (AWS: 3 minutes)
    // and a PEM file of CAs trusted besides the system's (private or test CAs)
    std::int64_t firehose_http_timeout_ms = 180'000;
    std::string firehose_http_ca_file;
    // lifecycle: how long a SIGTERM/SIGINT shutdown may take, Firehose flush
    // included; past it kinesd exits with exit_shutdown_timeout
    std::int64_t shutdown_timeout_ms = 30000;
    // functions kinesd may invoke (Firehose transformation, event source
    // mappings): name -> invoke URL. Each source adds to or replaces the
    // names it gives: --function NAME=URL (repeatable), KINESD_FUNCTIONS as
    // NAME=URL,NAME=URL, config key "functions" as an object.
    std::map<std::string, std::string> functions;
    std::string config_file;
};

struct parse_result {
    settings values;
    bool show_help = false;
    bool show_version = false;
};

// A duration with its unit, "30s" or "2500ms", in milliseconds. Throws
// std::invalid_argument naming `name` for anything else (a bare number
// would be ambiguous).
std::int64_t parse_duration_ms(const std::string& name, const std::string& text);

// Throws std::invalid_argument with a message naming the bad setting.
parse_result load(int argc, const char* const* argv, const std::vector<std::string>& environment);
std::string help_text();

}  // namespace kinesd::config
