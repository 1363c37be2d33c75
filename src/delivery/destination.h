#pragma once
// Where a delivery stream's sealed batches go. The worker reads, buffers and
// seals; a destination turns one sealed batch into a `delivery`, and the
// worker calls its attempt() on an upload pool thread until it succeeds or
// the destination's retry window is over. Checkpoints move only after a
// delivery succeeded, so each destination only has to make one batch durable
// somewhere (its target, or its backup bucket) before saying ok.
//
// A delivery may have several steps (the HTTP requests a batch splits into,
// the copy to a backup bucket); it remembers which are done so that a retry
// does not repeat them.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "delivery/delivery_stream.h"
#include "delivery/s3_client.h"

namespace kinesd::delivery {

// One record inside a sealed batch's body.
struct batch_record {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;  // without the delimiter AppendDelimiterToRecord adds
    std::int64_t arrival_ms = 0;
};

struct sealed_batch {
    std::string uuid;  // names the objects; never reused
    std::int64_t oldest_ms = 0;
    // The records to deliver, each followed by its delimiter when the stream
    // appends one.
    std::string body;
    std::vector<batch_record> records;
    // Dynamic partitioning: the values of the Prefix's partition keys
    // (!{partitionKeyFromQuery:..}, !{partitionKeyFromLambda:..}).
    std::map<std::string, std::string> partition_keys;
    // What backups hold: the source records, before any transformation,
    // from the same read as `body`. nullopt: `body` is the source. With a
    // Lambda processor one read may become several batches (one per
    // partition); the first carries the source and the others none (""),
    // and a batch may have no records and only the source to back up.
    std::optional<std::string> source;
    std::string_view backup_body() const { return source ? std::string_view(*source) : std::string_view(body); }
};

struct attempt_result {
    enum class outcome {
        ok,
        retry,      // try again after a back-off, while the retry window lasts
        permanent,  // retrying cannot help: go to the error output at once
    };
    outcome result = outcome::ok;
    std::string details;       // for FailureDescription and the log
    std::size_t bytes = 0;     // what the destination acknowledged
    bool ok() const { return result == outcome::ok; }
};

class delivery {
public:
    virtual ~delivery() = default;
    // `error_output`: the retry window is over (or a permanent failure
    // happened); write the batch where failed data goes instead.
    virtual attempt_result attempt(bool error_output) = 0;
};

// What destinations share: the S3 client (target, backups, error output).
struct destination_context {
    s3_client& s3;
    const kinesd::clock& clock;
    std::string stream_arn;
    std::string shown_name;
    std::string version;
    // HTTP endpoint requests: whole-exchange timeout and extra trusted CAs.
    std::chrono::milliseconds http_timeout{180'000};
    std::string http_ca_file;
    // How long a batch that cannot reach S3 is retried (AWS: 24 hours).
    std::int64_t s3_retry_window_ms = 24LL * 3600 * 1000;
    std::int64_t s3_initial_backoff_ms = 1000;
    std::int64_t s3_max_backoff_ms = 30000;
};

class destination {
public:
    virtual ~destination() = default;
    virtual std::unique_ptr<delivery> start(sealed_batch batch) = 0;
    // Documents of records that could not be processed or partitioned (one
    // JSON per line) for where failed data goes: the S3 destination's
    // ErrorOutputPrefix, or the backup bucket's, with
    // !{firehose:error-output-type} = error_type.
    virtual std::unique_ptr<delivery> start_error_output(std::string documents, std::string_view error_type,
                                                         std::string uuid, std::int64_t oldest_ms) = 0;
    // Whether retrying is over for a batch: it then goes to the error output
    // (error_output false) or is dropped (true). `failing_ms` is the time
    // since the first failure, `waited_ms` the back-off waits within it
    // (without the time attempts themselves took).
    virtual bool retries_over(bool error_output, std::int64_t failing_ms, std::int64_t waited_ms) const = 0;
    // Wait before attempt `attempts + 1` (attempts >= 1), `waited_ms` into
    // the retry window.
    virtual std::int64_t backoff_ms(int attempts, std::int64_t waited_ms) const = 0;
    // Names the target in logs: "s3://bucket", the endpoint URL.
    virtual std::string describe() const = 0;
};

// The destination a stream version delivers to.
std::shared_ptr<destination> make_destination(const delivery_stream& stream, destination_context ctx);

}  // namespace kinesd::delivery
