#include "delivery/http_endpoint_destination.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "common/base64.h"
#include "common/random.h"
#include "delivery/compression.h"
#include "delivery/http_post.h"
#include "delivery/object_key.h"
#include "delivery/s3_destination.h"

namespace kinesd::delivery {

namespace {

// Back-off between attempts: 1 s doubling to 2 minutes, each wait moved by
// up to 15 % either way so that many streams failing together spread out.
constexpr std::int64_t first_backoff_ms = 1000;
constexpr std::int64_t max_backoff_ms = 120'000;
constexpr double jitter = 0.15;
constexpr std::size_t max_details = 1024;
constexpr std::size_t shown_response_bytes = 256;

// errorCode values of the failed-record documents and the log.
constexpr std::string_view destination_exception = "HttpEndpoint.DestinationException";
constexpr std::string_view invalid_response = "HttpEndpoint.InvalidResponseFromDestination";
constexpr std::string_view request_timeout = "HttpEndpoint.RequestTimeout";
constexpr std::string_view connection_failed = "HttpEndpoint.ConnectionFailed";

struct endpoint_settings {
    http_settings http;
    http_url url;
    bool url_ok = false;
    std::string common_attributes_header;  // "" when none are set
};

struct request_part {
    std::size_t first = 0, count = 0;  // records of the batch
    std::string request_id;            // kept across every retry of this request
    bool done = false;
    int attempts = 0;
    std::string error_code, error_message;
};

class http_delivery : public delivery {
public:
    http_delivery(std::shared_ptr<const destination_context> ctx, std::shared_ptr<const endpoint_settings> ep,
                  sealed_batch batch)
        : ctx_(std::move(ctx)), ep_(std::move(ep)), batch_(std::move(batch)) {
        random_source random = random_u64;
        std::size_t bytes = 0;
        for (std::size_t i = 0; i < batch_.records.size(); ++i) {
            std::size_t size = base64::encoded_size(batch_.records[i].size) + 12;
            if (parts_.empty() || parts_.back().count == http_max_records_per_request ||
                (parts_.back().count && bytes + size > http_max_request_bytes - 128)) {
                parts_.push_back(request_part{i, 0, random_uuid(random)});
                bytes = 0;
            }
            ++parts_.back().count;
            bytes += size;
        }
    }

    attempt_result attempt(bool error_output) override {
        attempt_result r;
        for (auto& part : parts_) {
            if (part.done) continue;
            if (error_output) {
                if (auto failed = back_up_failed(part); !failed.ok()) return failed;
            } else if (auto sent = send(part); !sent.ok()) {
                return sent;
            }
            r.bytes += part_bytes(part);
        }
        // AllData: every record also goes to the backup bucket, as read.
        if (ep_->http.backup_all && !all_backed_up_ && !batch_.backup_body().empty()) {
            bool retryable = true;
            auto key = make_object_keys(ep_->http.backup, *ctx_, batch_.uuid, batch_.oldest_ms,
                                        error_output_type::http_endpoint_failed)
                           .key;
            auto error = write_object(*ctx_, ep_->http.backup, key, batch_.backup_body(), batch_.uuid,
                                      batch_.oldest_ms, retryable);
            if (!error.empty()) return retry("Could not write to the backup S3 bucket " + ep_->http.backup.bucket +
                                             ": " + error);
            all_backed_up_ = true;
        }
        return r;
    }

private:
    static attempt_result retry(std::string details, bool permanent = false) {
        attempt_result r;
        r.result = permanent ? attempt_result::outcome::permanent : attempt_result::outcome::retry;
        if (details.size() > max_details) details.resize(max_details);
        r.details = std::move(details);
        return r;
    }

    std::size_t part_bytes(const request_part& part) const {
        std::size_t n = 0;
        for (std::size_t i = part.first; i < part.first + part.count; ++i) n += batch_.records[i].size;
        return n;
    }

    std::string_view data(std::size_t i) const {
        const auto& rec = batch_.records[i];
        return std::string_view(batch_.body).substr(rec.offset, rec.size);
    }

    std::string request_body(const request_part& part) const {
        std::string body;
        body.reserve(part_bytes(part) * 4 / 3 + part.count * 12 + 128);
        body += R"({"requestId":")";
        body += part.request_id;
        body += R"(","timestamp":)";
        body += std::to_string(ctx_->clock.now_ms());
        body += R"(,"records":[)";
        for (std::size_t i = part.first; i < part.first + part.count; ++i) {
            if (i != part.first) body += ',';
            body += R"({"data":")";
            auto d = data(i);
            base64::encode_to(body, d.data(), d.size());
            body += "\"}";
        }
        body += "]}";
        return body;
    }

    attempt_result send(request_part& part) {
        ++part.attempts;
        if (!ep_->url_ok) {
            part.error_code = connection_failed;
            part.error_message = "The endpoint URL " + ep_->http.url + " cannot be used.";
            return retry(part.error_message);
        }
        std::vector<std::pair<std::string, std::string>> headers = {
            {"Content-Type", "application/json"},
            {"X-Amz-Firehose-Protocol-Version", "1.0"},
            {"X-Amz-Firehose-Request-Id", part.request_id},
            {"X-Amz-Firehose-Source-Arn", ctx_->stream_arn},
        };
        if (!ep_->http.access_key.empty()) headers.emplace_back("X-Amz-Firehose-Access-Key", ep_->http.access_key);
        if (!ep_->common_attributes_header.empty())
            headers.emplace_back("X-Amz-Firehose-Common-Attributes", ep_->common_attributes_header);
        std::string body = request_body(part);
        if (ep_->http.gzip) {
            body = compress(compression_format::gzip, body);
            headers.emplace_back("Content-Encoding", "gzip");
        }
        http_post_options options;
        options.timeout = ctx_->http_timeout;
        options.ca_file = ctx_->http_ca_file;
        auto res = http_post(ep_->url, headers, body, options);

        std::string shown = res.body.substr(0, shown_response_bytes);
        if (res.status == 0) {
            part.error_code = res.timed_out ? request_timeout : connection_failed;
            part.error_message = res.timed_out ? "The endpoint did not answer within the request timeout."
                                               : "Could not reach the endpoint: " + res.error;
            return retry("Delivery to the HTTP endpoint " + ep_->http.url + " failed: " + part.error_message);
        }
        if (res.status != 200) {
            part.error_code = destination_exception;
            part.error_message = "The endpoint answered " + std::to_string(res.status) + ": " + shown;
            // 413: the same body will always be too large; its records go to
            // the backup bucket without waiting for the retry window.
            return retry("Delivery to the HTTP endpoint " + ep_->http.url + " failed. " + part.error_message,
                         res.status == 413);
        }
        std::string why;
        if (!res.content_type.starts_with("application/json")) why = "its Content-Type is not application/json";
        else if (!res.has_content_length) why = "it has no Content-Length";
        else {
            auto j = nlohmann::json::parse(res.body, nullptr, false);
            if (!j.is_object() || !j.contains("requestId") || !j["requestId"].is_string())
                why = "its body is not a JSON object with a requestId";
            else if (j["requestId"].get<std::string>() != part.request_id)
                why = "its requestId " + j["requestId"].get<std::string>() + " is not the request's " +
                      part.request_id;
        }
        if (!why.empty()) {
            // A malformed success counts as a 500: retried.
            part.error_code = invalid_response;
            part.error_message = "The endpoint answered 200 but " + why + ".";
            return retry("Delivery to the HTTP endpoint " + ep_->http.url + " failed. " + part.error_message);
        }
        part.done = true;
        return attempt_result{};
    }

    // One JSON document per line for each record the endpoint did not take.
    attempt_result back_up_failed(request_part& part) {
        auto now = ctx_->clock.now_ms();
        std::string lines;
        for (std::size_t i = part.first; i < part.first + part.count; ++i) {
            nlohmann::ordered_json doc;
            doc["attemptsMade"] = part.attempts;
            doc["arrivalTimestamp"] = batch_.records[i].arrival_ms;
            doc["errorCode"] = part.error_code;
            doc["errorMessage"] = part.error_message;
            doc["attemptEndingTimestamp"] = now;
            doc["rawData"] = base64::encode(data(i));
            doc["EndpointUrl"] = ep_->http.url;
            doc["requestId"] = part.request_id;
            lines += doc.dump();
            lines += '\n';
        }
        std::int64_t oldest = batch_.records[part.first].arrival_ms;
        for (std::size_t i = part.first; i < part.first + part.count; ++i)
            oldest = std::min(oldest, batch_.records[i].arrival_ms);
        auto key = make_object_keys(ep_->http.backup, *ctx_, part.request_id, oldest,
                                    error_output_type::http_endpoint_failed)
                       .error_key;
        bool retryable = true;
        auto error = write_object(*ctx_, ep_->http.backup, key, lines, part.request_id, oldest, retryable);
        if (!error.empty())
            return retry("Could not write failed records to the backup S3 bucket " + ep_->http.backup.bucket + ": " +
                         error);
        spdlog::warn("delivery stream {}: {} records the HTTP endpoint did not take went to s3://{}/{}",
                     ctx_->shown_name, part.count, ep_->http.backup.bucket, key);
        part.done = true;
        return attempt_result{};
    }

    std::shared_ptr<const destination_context> ctx_;
    std::shared_ptr<const endpoint_settings> ep_;
    sealed_batch batch_;
    std::vector<request_part> parts_;
    bool all_backed_up_ = false;
};

class endpoint_destination : public destination {
public:
    endpoint_destination(const delivery_stream& stream, destination_context ctx)
        : ctx_(std::make_shared<destination_context>(std::move(ctx))) {
        auto ep = std::make_shared<endpoint_settings>();
        ep->http = stream.http();
        ep->url_ok = parse_http_url(ep->http.url, ep->url);
        if (!ep->http.common_attributes.empty()) {
            nlohmann::json attributes = nlohmann::json::object();
            for (auto& [k, v] : ep->http.common_attributes) attributes[k] = v;
            ep->common_attributes_header = nlohmann::json{{"commonAttributes", attributes}}.dump();
        }
        ep_ = std::move(ep);
    }

    std::unique_ptr<delivery> start(sealed_batch batch) override {
        return std::make_unique<http_delivery>(ctx_, ep_, std::move(batch));
    }
    std::unique_ptr<delivery> start_error_output(std::string documents, std::string_view error_type,
                                                 std::string uuid, std::int64_t oldest_ms) override {
        return make_error_output_delivery(ctx_, ep_->http.backup, std::move(documents), error_type, std::move(uuid),
                                          oldest_ms);
    }
    // RetryOptions.DurationInSeconds is time spent on retries, not waiting
    // for answers: only the back-off waits count against it. The backup
    // bucket is then retried like any S3 write.
    bool retries_over(bool error_output, std::int64_t failing_ms, std::int64_t waited_ms) const override {
        if (error_output) return failing_ms >= ctx_->s3_retry_window_ms;
        return waited_ms >= ep_->http.retry_duration_ms;
    }
    std::int64_t backoff_ms(int attempts, std::int64_t waited_ms) const override {
        double wait = double(first_backoff_ms);
        for (int i = 1; i < attempts && wait < max_backoff_ms; ++i) wait *= 2;
        wait = std::min(wait, double(max_backoff_ms));
        double factor = 1.0 - jitter + 2 * jitter * double(random_u64() % 10001) / 10000.0;
        // The last wait ends where the retry duration does.
        auto left = std::max<std::int64_t>(0, ep_->http.retry_duration_ms - waited_ms);
        return std::min(std::int64_t(wait * factor), left);
    }
    std::string describe() const override { return ep_->http.url; }

private:
    std::shared_ptr<const destination_context> ctx_;
    std::shared_ptr<const endpoint_settings> ep_;
};

}  // namespace

std::shared_ptr<destination> make_http_endpoint_destination(const delivery_stream& stream, destination_context ctx) {
    return std::make_shared<endpoint_destination>(stream, std::move(ctx));
}

}  // namespace kinesd::delivery
