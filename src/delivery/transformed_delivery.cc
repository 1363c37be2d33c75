#include "delivery/transformed_delivery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "delivery/object_key.h"

namespace kinesd::delivery {

namespace {

class transformed_delivery : public delivery {
public:
    transformed_delivery(std::shared_ptr<destination> dest, transform_input input)
        : dest_(std::move(dest)), in_(std::move(input)) {}

    attempt_result attempt(bool error_output) override {
        if (!prepared_) prepare();
        attempt_result total;
        for (auto& part : parts_) {
            if (part.done) continue;
            auto r = part.job->attempt(error_output);
            if (!r.ok()) return r;
            part.done = true;
            total.bytes += r.bytes;
        }
        return total;
    }

private:
    struct part {
        std::unique_ptr<delivery> job;
        bool done = false;
    };

    void prepare() {
        auto result = transform(in_.ctx, in_.settings, in_.sources);
        in_.sources = {};
        if (result.failed)
            spdlog::warn("delivery stream {}: the function {} failed {} of the batch's records",
                         in_.ctx.delivery_stream_arn, in_.settings.lambda_arn, result.failed);

        std::vector<delivery_record> records;
        records.reserve(result.records.size());
        for (auto& t : result.records) {
            delivery_record r;
            r.data = std::move(t.data);
            r.arrival_ms = t.arrival_ms;
            r.lambda_keys = std::move(t.partition_keys);
            records.push_back(std::move(r));
        }
        std::vector<failed_record> failed;
        if (!in_.processing.metadata_query.empty()) {
            // jq programs are compiled per runner; a batch's records share one.
            record_pipeline pipeline;
            pipeline.extract_metadata(in_.processing, records, failed);
        }

        // Partitions in the order their first record came.
        std::vector<sealed_batch> batches;
        std::map<std::string, std::size_t> index;
        const auto& delimiter = in_.processing.record_delimiter;
        for (auto& r : records) {
            std::map<std::string, std::string> keys;
            std::string why;
            auto id = partition_of(in_.processing, r, keys, why);
            if (!id) {
                failed.push_back({std::move(r.data), r.arrival_ms, std::string(partitioning_failed),
                                  "DynamicPartitioning.PartitionKeyNotFound", why});
                continue;
            }
            auto [it, fresh] = index.try_emplace(*id, batches.size());
            if (fresh) {
                sealed_batch b;
                b.uuid = batches.empty() ? in_.uuid : in_.ctx.new_id();
                b.oldest_ms = r.arrival_ms;
                b.partition_keys = std::move(keys);
                batches.push_back(std::move(b));
            }
            auto& b = batches[it->second];
            b.oldest_ms = std::min(b.oldest_ms, r.arrival_ms);
            b.records.push_back({std::uint32_t(b.body.size()), std::uint32_t(r.data.size()), r.arrival_ms});
            b.body += r.data;
            if (delimiter) b.body += *delimiter;
        }
        if (batches.empty()) {
            // Everything dropped or failed: nothing to deliver, the source
            // still to back up.
            sealed_batch b;
            b.uuid = in_.uuid;
            b.oldest_ms = in_.oldest_ms;
            batches.push_back(std::move(b));
        }
        for (std::size_t i = 0; i < batches.size(); ++i)
            batches[i].source = i == 0 ? std::move(in_.source_body) : std::string();
        for (auto& b : batches) parts_.push_back({dest_->start(std::move(b))});

        if (!result.error_documents.empty())
            parts_.push_back({dest_->start_error_output(std::move(result.error_documents),
                                                        error_output_type::processing_failed, in_.ctx.new_id(),
                                                        in_.oldest_ms)});
        if (!failed.empty()) {
            std::string documents;
            for (const auto& f : failed) documents += error_document(f, in_.ctx.now_ms());
            parts_.push_back({dest_->start_error_output(std::move(documents), partitioning_failed, in_.ctx.new_id(),
                                                        in_.oldest_ms)});
        }
        prepared_ = true;
    }

    std::shared_ptr<destination> dest_;
    transform_input in_;
    bool prepared_ = false;
    std::vector<part> parts_;
};

}  // namespace

std::unique_ptr<delivery> make_transformed_delivery(std::shared_ptr<destination> dest, transform_input input) {
    return std::make_unique<transformed_delivery>(std::move(dest), std::move(input));
}

}  // namespace kinesd::delivery
