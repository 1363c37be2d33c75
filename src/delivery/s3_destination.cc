#include "delivery/s3_destination.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/random.h"
#include "delivery/compression.h"
#include "delivery/http_endpoint_destination.h"
#include "delivery/object_key.h"

namespace kinesd::delivery {

namespace {

// kinesd's error-output-type for batches S3 kept refusing for the whole
// retry window, named like the service's other "<destination>-failed" types.
constexpr std::string_view s3_failed = "s3-failed";

std::chrono::system_clock::time_point at_ms(std::int64_t ms) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

class s3_delivery : public delivery {
public:
    s3_delivery(std::shared_ptr<const destination_context> ctx, s3_settings main,
                std::optional<s3_settings> backup, sealed_batch batch)
        : ctx_(std::move(ctx)), main_(std::move(main)), backup_(std::move(backup)), batch_(std::move(batch)) {
        keys_ = make_object_keys(main_, *ctx_, batch_.uuid, batch_.oldest_ms, s3_failed, &batch_.partition_keys);
        if (backup_) backup_key_ = make_object_keys(*backup_, *ctx_, batch_.uuid, batch_.oldest_ms, s3_failed).key;
    }

    attempt_result attempt(bool error_output) override {
        attempt_result r;
        bool retryable = true;
        // No records: a transformation dropped or failed them all, and only
        // the source is left to back up.
        if (!main_done_ && !batch_.records.empty()) {
            const auto& key = error_output ? keys_.error_key : keys_.key;
            auto error = write_object(*ctx_, main_, key, batch_.body, batch_.uuid, batch_.oldest_ms, retryable);
            if (!error.empty()) return failed("Could not write to S3 bucket " + main_.bucket + ": " + error);
            main_done_ = true;
            r.bytes = batch_.body.size();
        }
        // The source records, as read: a transformation changes what the
        // main object holds, never this copy.
        if (backup_ && !backup_done_ && !batch_.backup_body().empty()) {
            auto error = write_object(*ctx_, *backup_, backup_key_, batch_.backup_body(), batch_.uuid,
                                      batch_.oldest_ms, retryable);
            if (!error.empty())
                return failed("Could not write to the backup S3 bucket " + backup_->bucket + ": " + error);
            backup_done_ = true;
        }
        return r;
    }

private:
    // S3 refusals (NoSuchBucket, AccessDenied) are retried for the whole
    // window as AWS does: the bucket may be created meanwhile.
    static attempt_result failed(std::string details) {
        attempt_result r;
        r.result = attempt_result::outcome::retry;
        r.details = std::move(details);
        return r;
    }

    std::shared_ptr<const destination_context> ctx_;
    s3_settings main_;
    std::optional<s3_settings> backup_;
    sealed_batch batch_;
    object_keys keys_;
    std::string backup_key_;
    bool main_done_ = false;
    bool backup_done_ = false;
};

// Error documents: written once, to the error output, whatever the
// attempt's error_output says.
class error_output_delivery : public delivery {
public:
    error_output_delivery(std::shared_ptr<const destination_context> ctx, s3_settings settings,
                          std::string documents, std::string_view error_type, std::string uuid,
                          std::int64_t oldest_ms)
        : ctx_(std::move(ctx)),
          settings_(std::move(settings)),
          documents_(std::move(documents)),
          uuid_(std::move(uuid)),
          oldest_ms_(oldest_ms) {
        key_ = make_object_keys(settings_, *ctx_, uuid_, oldest_ms_, error_type).error_key;
        if (settings_.channel) {
            // Dead-letter lines go to the channel's own bucket, as they are.
            settings_.bucket = settings_.channel->dlq_bucket;
            settings_.compression = compression_format::uncompressed;
        }
    }

    attempt_result attempt(bool) override {
        bool retryable = true;
        auto error = write_object(*ctx_, settings_, key_, documents_, uuid_, oldest_ms_, retryable);
        attempt_result r;
        if (!error.empty()) {
            r.result = attempt_result::outcome::retry;
            r.details = "Could not write error documents to S3 bucket " + settings_.bucket + ": " + error;
        }
        return r;
    }

private:
    std::shared_ptr<const destination_context> ctx_;
    s3_settings settings_;
    std::string documents_;
    std::string uuid_;
    std::int64_t oldest_ms_;
    std::string key_;
};

class s3_destination : public destination {
public:
    s3_destination(const delivery_stream& stream, destination_context ctx)
        : ctx_(std::make_shared<destination_context>(std::move(ctx))),
          main_(stream.s3()),
          backup_(stream.s3_backup()) {}

    std::unique_ptr<delivery> start(sealed_batch batch) override {
        return std::make_unique<s3_delivery>(ctx_, main_, backup_, std::move(batch));
    }
    std::unique_ptr<delivery> start_error_output(std::string documents, std::string_view error_type,
                                                 std::string uuid, std::int64_t oldest_ms) override {
        return make_error_output_delivery(ctx_, main_, std::move(documents), error_type, std::move(uuid), oldest_ms);
    }
    bool retries_over(bool, std::int64_t failing_ms, std::int64_t) const override {
        return failing_ms >= ctx_->s3_retry_window_ms;
    }
    std::int64_t backoff_ms(int attempts, std::int64_t) const override { return s3_backoff_ms(*ctx_, attempts); }
    std::string describe() const override { return "s3://" + main_.bucket; }

private:
    std::shared_ptr<const destination_context> ctx_;
    s3_settings main_;
    std::optional<s3_settings> backup_;
};

}  // namespace

std::unique_ptr<delivery> make_error_output_delivery(std::shared_ptr<const destination_context> ctx,
                                                     const s3_settings& settings, std::string documents,
                                                     std::string_view error_type, std::string uuid,
                                                     std::int64_t oldest_ms) {
    return std::make_unique<error_output_delivery>(std::move(ctx), settings, std::move(documents), error_type,
                                                   std::move(uuid), oldest_ms);
}

object_keys make_object_keys(const s3_settings& settings, const destination_context& ctx, std::string_view uuid,
                             std::int64_t oldest_ms, std::string_view error_type,
                             const std::map<std::string, std::string>* partition_keys) {
    random_source random = random_u64;
    auto when = at_ms(oldest_ms);
    if (settings.channel) {
        // A channel names its objects by its OutputKeyTemplate, and its
        // failed records go to its dead-letter prefix.
        return {channel_object_key(*settings.channel, when, "-" + random_string(random), settings.extension),
                channel_dead_letter_key(*settings.channel, when, "-" + random_string(random))};
    }
    auto name = object_name(ctx.shown_name, ctx.version, when, uuid, settings.extension);
    prefix_values values{when, &random, error_type, partition_keys};
    object_keys keys;
    // Prefixes are checked when set; the fallbacks are a safety net only.
    // Error documents have no partition keys: their key alone is needed.
    try {
        keys.error_key = evaluate_error_output_prefix(settings.error_output_prefix, settings.prefix, values) + name;
    } catch (const std::exception& e) {
        spdlog::error("delivery stream {}: bad error output prefix ({}), using the default", ctx.shown_name,
                      e.what());
        auto plain = values;
        plain.partition_keys = nullptr;
        keys.error_key = std::string(error_type) + "/" + evaluate_prefix("", plain) + name;
    }
    try {
        keys.key = evaluate_prefix(settings.prefix, values) + name;
    } catch (const std::exception& e) {
        if (partition_keys)
            spdlog::error("delivery stream {}: bad prefix ({}), using the default", ctx.shown_name, e.what());
        values.partition_keys = nullptr;
        keys.key = evaluate_prefix("", values) + name;
    }
    return keys;
}

std::string write_object(const destination_context& ctx, const s3_settings& settings, const std::string& key,
                         std::string_view body, std::string_view uuid, std::int64_t oldest_ms, bool& retryable) {
    s3_result r;
    try {
        std::string compressed;
        if (settings.compression != compression_format::uncompressed) {
            compressed = compress(settings.compression, body, zip_entry_options{std::string(uuid), at_ms(oldest_ms)});
            body = compressed;
        }
        r = ctx.s3.put_object(settings.bucket, key, body, "application/octet-stream",
                              content_encoding(settings.compression));
    } catch (const std::exception& e) {
        r.outcome = s3_outcome::retryable;
        r.code = "InternalError";
        r.message = e.what();
    }
    retryable = r.outcome != s3_outcome::permanent;
    if (r.ok()) return std::string();
    return (r.code.empty() ? std::string("Error") : r.code) + (r.message.empty() ? "" : ": " + r.message) +
           (r.http_status ? " (HTTP " + std::to_string(r.http_status) + ")" : std::string());
}

std::int64_t s3_backoff_ms(const destination_context& ctx, int attempts) {
    std::int64_t wait = ctx.s3_initial_backoff_ms;
    for (int i = 1; i < attempts && wait < ctx.s3_max_backoff_ms; ++i) wait *= 2;
    return std::min(wait, ctx.s3_max_backoff_ms);
}

std::shared_ptr<destination> make_s3_destination(const delivery_stream& stream, destination_context ctx) {
    return std::make_shared<s3_destination>(stream, std::move(ctx));
}

std::shared_ptr<destination> make_destination(const delivery_stream& stream, destination_context ctx) {
    if (stream.is_http_endpoint()) return make_http_endpoint_destination(stream, std::move(ctx));
    return make_s3_destination(stream, std::move(ctx));
}

}  // namespace kinesd::delivery
