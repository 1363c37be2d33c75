// delivery_worker's sealing side: an open buffer becomes a batch with a
// delivery of the stream's destination, which the upload pool attempts.
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <cstring>

#include "common/random.h"
#include "delivery/delivery_worker.h"
#include "delivery/object_key.h"
#include "delivery/transformed_delivery.h"

namespace kinesd::delivery {

namespace {

std::string new_uuid() {
    random_source random = random_u64;
    return random_uuid(random);
}

std::string stream_arn(const delivery_stream& s, const delivery_options& o) {
    auto slash = s.name.find('/');
    auto account = slash == std::string::npos ? o.account_id : s.name.substr(0, slash);
    return "arn:aws:firehose:" + o.region + ":" + account + ":deliverystream/" + s.shown_name();
}

}  // namespace

std::shared_ptr<destination> delivery_worker::make_destination_for(const delivery_stream& s) const {
    const auto& o = ctx_.options;
    destination_context dc{.s3 = ctx_.s3,
                           .clock = ctx_.clock,
                           .stream_arn = stream_arn(s, o),
                           .shown_name = s.shown_name(),
                           .version = std::to_string(s.version),
                           .http_timeout = std::chrono::milliseconds(o.http_timeout_ms),
                           .http_ca_file = o.http_ca_file,
                           .s3_retry_window_ms = o.retry_window_ms,
                           .s3_initial_backoff_ms = o.initial_backoff_ms,
                           .s3_max_backoff_ms = o.max_backoff_ms};
    return make_destination(s, std::move(dc));
}

void delivery_worker::seal() {
    std::vector<std::string> ids;
    for (const auto& [id, b] : open_.all()) ids.push_back(id);
    for (const auto& id : ids) seal(id);
}

void delivery_worker::seal(const std::string& id) {
    record_buffer open = open_.take(id);
    if (!open.records) return;
    auto b = std::make_shared<batch>();
    auto uuid = new_uuid();
    if (!open.error_output_type.empty()) {
        // Records the processors could not place: error documents for the
        // error output from the start.
        b->job = destination_->start_error_output(std::move(open.body), open.error_output_type, uuid,
                                                  open.oldest_ms);
    } else if (processing_.lambda && s3_.lambda) {
        transform_input in{.settings = *s3_.lambda,
                           .ctx = {ctx_.options.invoker, stream_arn(*stream_, ctx_.options),
                                   stream_->source_stream_arn, ctx_.options.region, ctx_.options.invoke_timeout_ms,
                                   [&clock = ctx_.clock] { return clock.now_ms(); }, new_uuid},
                           .processing = processing_,
                           .sources = std::move(open.sources),
                           .source_body = std::move(open.body),
                           .uuid = uuid,
                           .oldest_ms = open.oldest_ms};
        b->job = make_transformed_delivery(destination_, std::move(in));
    } else {
        sealed_batch sealed{.uuid = uuid,
                            .oldest_ms = open.oldest_ms,
                            .body = std::move(open.body),
                            .records = std::move(open.spans),
                            .partition_keys = std::move(open.partition_keys)};
        b->job = destination_->start(std::move(sealed));
    }
    b->dest = destination_;
    b->records = open.records;
    b->oldest_ms = open.oldest_ms;
    b->firsts = std::move(open.firsts);
    b->ends = std::move(open.ends);
    b->partition = id;
    b->sealed_ms = ctx_.clock.now_ms();
    b->metrics = stream_->metrics;
    b->http = stream_->is_http_endpoint();
    in_flight_.push_back(b);
    post(b);
}

void delivery_worker::post(const std::shared_ptr<batch>& b) {
    {
        std::lock_guard lock(mutex_);
        b->st = batch::state::running;
    }
    // HTTP endpoint requests (and the transformation before them) wait on
    // remote answers: a pool of their own keeps them from holding up S3.
    auto& pool = b->http && !b->to_error_prefix ? ctx_.http_pool : ctx_.pool;
    boost::asio::post(pool, [self = shared_from_this(), b] { self->attempt(b); });
}

void delivery_worker::attempt(const std::shared_ptr<batch>& b) {
    attempt_result r;
    try {
        r = b->job->attempt(b->to_error_prefix);
    } catch (const std::exception& e) {
        r.result = attempt_result::outcome::retry;
        r.details = e.what();
    }
    // Error-output writes go to S3 whatever the destination.
    auto& m = *b->metrics;
    const bool http = b->http && !b->to_error_prefix;
    if (r.ok()) {
        (http ? m.http_success : m.delivery_success).add();
        (http ? m.http_records : m.delivered_records).add(b->records);
        (http ? m.http_bytes : m.delivered_bytes).add(r.bytes);
    } else {
        (http ? m.http_failures : m.delivery_failures).add();
    }
    {
        std::lock_guard lock(mutex_);
        b->result = std::move(r);
        b->st = b->result.ok() ? batch::state::done : batch::state::failed;
        wake_ = true;
    }
    cv_.notify_all();
}

}  // namespace kinesd::delivery
