#include "delivery/transformed_delivery.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kinesd::delivery {
namespace {

// Records what a transformed batch hands to its destination; each delivery
// fails as many times as `failures` says, then succeeds.
struct recording_destination : destination {
    struct started {
        sealed_batch batch;
        std::string error_type;  // set for error output
        std::string documents;
    };
    std::vector<started> seen;
    int failures = 0;
    int attempts = 0;

    struct job : delivery {
        recording_destination* owner;
        explicit job(recording_destination* o) : owner(o) {}
        attempt_result attempt(bool) override {
            ++owner->attempts;
            attempt_result r;
            if (owner->failures > 0) {
                --owner->failures;
                r.result = attempt_result::outcome::retry;
                r.details = "refused";
            }
            return r;
        }
    };

    std::unique_ptr<delivery> start(sealed_batch batch) override {
        seen.push_back({std::move(batch), "", ""});
        return std::make_unique<job>(this);
    }
    std::unique_ptr<delivery> start_error_output(std::string documents, std::string_view error_type, std::string,
                                                 std::int64_t) override {
        seen.push_back({{}, std::string(error_type), std::move(documents)});
        return std::make_unique<job>(this);
    }
    bool retries_over(bool, std::int64_t, std::int64_t) const override { return false; }
    std::int64_t backoff_ms(int, std::int64_t) const override { return 0; }
    std::string describe() const override { return "recording"; }
};

transform_input input(int& ids, std::vector<std::string> records) {
    transform_input in;
    in.settings.lambda_arn = "arn:aws:lambda:us-east-1:000000000000:function:absent";
    in.settings.retries = 0;
    in.ctx.delivery_stream_arn = "arn:aws:firehose:us-east-1:000000000000:deliverystream/s";
    in.ctx.region = "us-east-1";
    in.ctx.now_ms = [] { return std::int64_t(1700000000000); };
    in.ctx.new_id = [&ids] { return "id-" + std::to_string(ids++); };
    in.processing.lambda = true;
    in.processing.record_delimiter = "\n";
    for (auto& r : records) {
        source_record s;
        s.data = r;
        s.arrival_ms = 1700000000000;
        in.sources.push_back(s);
        in.source_body += r + "\n";
    }
    in.uuid = "batch-uuid";
    in.oldest_ms = 1700000000000;
    return in;
}

TEST(TransformedDelivery, FailedInvocationFailsRecordsAndStillBacksUpTheSource) {
    // No function can be invoked: every record becomes a processing-failed
    // document, nothing is delivered, the source is still backed up.
    auto dest = std::make_shared<recording_destination>();
    int ids = 0;
    auto job = make_transformed_delivery(dest, input(ids, {"a", "b", "c"}));
    EXPECT_TRUE(job->attempt(false).ok());
    ASSERT_EQ(dest->seen.size(), 2u);
    EXPECT_TRUE(dest->seen[0].error_type.empty());
    EXPECT_TRUE(dest->seen[0].batch.records.empty());
    EXPECT_EQ(dest->seen[0].batch.backup_body(), "a\nb\nc\n");
    EXPECT_EQ(dest->seen[0].batch.uuid, "batch-uuid");
    EXPECT_EQ(dest->seen[1].error_type, "processing-failed");
    std::size_t lines = 0;
    for (std::size_t at = 0; (at = dest->seen[1].documents.find('\n', at)) != std::string::npos; ++at) ++lines;
    EXPECT_EQ(lines, 3u);
    auto first = nlohmann::json::parse(dest->seen[1].documents.substr(0, dest->seen[1].documents.find('\n')));
    EXPECT_EQ(first["errorCode"], "Lambda.ResourceNotFound");
}

TEST(TransformedDelivery, RetriesRepeatOnlyWhatFailedAndNeverTransformAgain) {
    auto dest = std::make_shared<recording_destination>();
    dest->failures = 1;
    int ids = 0;
    auto job = make_transformed_delivery(dest, input(ids, {"x"}));
    EXPECT_FALSE(job->attempt(false).ok());  // the backup-only batch fails once
    const int ids_after_transform = ids;
    const std::size_t started = dest->seen.size();
    EXPECT_TRUE(job->attempt(false).ok());
    EXPECT_EQ(ids, ids_after_transform);       // no new invocation
    EXPECT_EQ(dest->seen.size(), started);     // no new deliveries
    EXPECT_EQ(dest->attempts, 1 + 2);          // the failed part again, then the error documents
}

}  // namespace
}  // namespace kinesd::delivery
