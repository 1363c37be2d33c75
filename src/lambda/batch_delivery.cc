#include "lambda/batch_delivery.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace kinesd::lambda {

std::int64_t batch_delivery::backoff_ms(int retries) const {
    std::int64_t ms = ctx_.options.initial_backoff_ms;
    for (int i = 1; i < retries && ms < ctx_.options.max_backoff_ms; ++i) ms *= 2;
    return std::min(ms, ctx_.options.max_backoff_ms);
}

std::string batch_delivery::payload(const std::vector<source_record>& records, const window_call* window) const {
    auto event = kinesis_event(ev_, records);
    if (window) {
        for (const auto& [k, v] : window->fields.items()) event[k] = v;
        if (window->state) event["state"] = *window->state;
    }
    return event.dump();
}

long batch_delivery::failed_from(const std::vector<source_record>& records, const invoke_outcome& out) const {
    auto answer = nlohmann::json::parse(out.body, nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) return long(records.size());
    auto failures = answer.find("batchItemFailures");
    if (failures == answer.end() || failures->is_null()) return long(records.size());
    if (!failures->is_array()) return -1;
    long lowest = long(records.size());
    for (const auto& f : *failures) {
        auto id = f.is_object() ? f.find("itemIdentifier") : f.end();
        if (!f.is_object() || id == f.end() || !id->is_string() || id->get<std::string>().empty()) return -1;
        const auto& seq = id->get_ref<const std::string&>();
        auto it = std::find_if(records.begin(), records.end(),
                               [&](const source_record& r) { return r.sequence_number == seq; });
        if (it == records.end()) return -1;
        lowest = std::min(lowest, long(it - records.begin()));
    }
    return lowest;
}

bool batch_delivery::deliver(std::vector<source_record> records, int retries, const window_call* window) {
    int invokes = 0;
    int unreached = 0;  // invocations in a row that did not reach the function
    invoke_outcome last;
    while (!records.empty() || (window && invokes == 0)) {
        const auto now = ctx_.clock.now_ms();
        if (m_.max_record_age_s >= 0 && !records.empty()) {
            // Oldest first within a shard: the expired ones are a prefix.
            auto fresh = std::find_if(records.begin(), records.end(), [&](const source_record& r) {
                return now - r.arrival_ms <= std::int64_t(m_.max_record_age_s) * 1000;
            });
            if (fresh != records.begin()) {
                std::vector<source_record> expired(records.begin(), fresh);
                if (!give_up(expired, "RecordAgeExceeded", invokes, last)) return false;
                records.erase(records.begin(), fresh);
                if (records.empty() && !window) return true;
            }
        }
        if (!records.empty())
            counters_.iterator_age_ms.store(now - records.back().arrival_ms, std::memory_order_relaxed);
        last = ctx_.invoke(m_.function_name, payload(records, window));
        ++invokes;
        counters_.invocations.fetch_add(1, std::memory_order_relaxed);
        long resume = long(records.size());
        ctx_.registry.set_result(m_.uuid, last.ok() ? "OK" : "PROBLEM: Function call failed");
        if (last.ok()) {
            if (m_.report_batch_item_failures) resume = failed_from(records, last);
            if (resume == long(records.size())) {
                if (window && window->state) {
                    auto answer = nlohmann::json::parse(last.body, nullptr, false);
                    if (!answer.is_discarded() && answer.is_object() && answer.contains("state"))
                        *window->state = answer["state"];
                }
                counters_.delivered.fetch_add(records.size(), std::memory_order_relaxed);
                return true;
            }
            if (resume > 0) {
                // The records before the lowest failure were taken.
                counters_.delivered.fetch_add(std::size_t(resume), std::memory_order_relaxed);
                records.erase(records.begin(), records.begin() + resume);
            }
        } else {
            counters_.errors.fetch_add(1, std::memory_order_relaxed);
            if ((!last.delivered && !last.timed_out) || last.status == 429) {
                // The function was not reached (or throttled): as on AWS this
                // is retried until the records expire, and uses no retries.
                spdlog::warn("mapping {}: invoking {} failed: {}", m_.uuid, m_.function_name, last.error);
                if (!sleep_(backoff_ms(++unreached))) return false;
                continue;
            }
            unreached = 0;
            if (m_.bisect_on_error && records.size() > 1) {
                std::vector<source_record> second(records.begin() + long(records.size() / 2), records.end());
                records.resize(records.size() / 2);
                return deliver(std::move(records), retries, window) && deliver(std::move(second), retries, window);
            }
        }
        if (m_.max_retry_attempts >= 0 && retries >= m_.max_retry_attempts)
            return give_up(records, "RetryAttemptsExhausted", invokes, last);
        ++retries;
        if (!sleep_(backoff_ms(retries))) return false;
    }
    return true;
}

bool batch_delivery::give_up(const std::vector<source_record>& records, const char* condition, int invokes,
                             const invoke_outcome& last) {
    counters_.failed.fetch_add(records.size(), std::memory_order_relaxed);
    if (m_.on_failure_destination.empty()) {
        spdlog::warn("mapping {}: {} records of {} from {} to {} dropped ({}), no on-failure destination", m_.uuid,
                     records.size(), ev_.shard_id, records.front().sequence_number, records.back().sequence_number,
                     condition);
        return true;
    }
    failure_info info{m_.function_arn, condition, invokes, last.status, last.function_error, ctx_.clock.now_ms()};
    const auto doc = failure_document(ev_, records, info, payload(records, nullptr)).dump();
    const auto bucket = m_.on_failure_destination.substr(std::string_view("arn:aws:s3:::").size());
    // The records are checkpointed past only once their failure is written:
    // a destination that refuses holds the shard back rather than lose them.
    for (int attempt = 1;; ++attempt) {
        if (!ctx_.s3) {
            spdlog::error("mapping {}: no S3 endpoint for on-failure destination {}", m_.uuid, bucket);
        } else {
            const auto key = failure_object_key(m_.uuid, ev_.shard_id, ctx_.clock.now_ms());
            auto result = ctx_.s3->put_object(bucket, key, doc, "application/json");
            if (result.ok()) {
                spdlog::info("mapping {}: {} records given up on ({}) written to s3://{}/{}", m_.uuid, records.size(),
                             condition, bucket, key);
                return true;
            }
            spdlog::warn("mapping {}: writing the failure record to s3://{} failed: {} {}", m_.uuid, bucket,
                         result.code, result.message);
        }
        if (!sleep_(backoff_ms(attempt))) return false;
    }
}

}  // namespace kinesd::lambda
