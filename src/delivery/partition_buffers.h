#pragma once
// The open buffers of one delivery stream: one without dynamic
// partitioning; with it, one per partition (the values of the Prefix's
// partition keys) plus one per error-output-type for records that could not
// be placed. Each is sealed into an object by the stream's buffering hints
// on its own, as Firehose does.
//
// Checkpoints: a buffer remembers, per lane (shard log), the first counter
// it holds. Records of one lane are spread over many buffers that are
// sealed and acknowledged in any order, so a lane's checkpoint may move to
// min(lane's read position, first counter of every buffer or unacknowledged
// object still holding its records), never further: everything below that
// point has been acknowledged by S3 (or was dropped on purpose).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "delivery/destination.h"
#include "delivery/lambda_processor.h"

namespace kinesd::delivery {

struct record_buffer {
    std::string body;
    std::size_t records = 0;
    std::int64_t oldest_ms = 0;
    std::map<std::string, std::uint64_t> firsts;  // lane -> first counter held
    std::map<std::string, std::uint64_t> ends;    // lane -> next after this buffer
    std::map<std::string, std::string> partition_keys;
    std::string error_output_type;  // non-empty: goes to ErrorOutputPrefix
    std::vector<batch_record> spans;      // each record in body
    std::vector<source_record> sources;  // with a Lambda processor: what it transforms

    // Adds bytes of the record at `counter` of `lane`, the last
    // `delimiter` of them its delimiter.
    void add(std::string_view bytes, std::size_t count, std::int64_t arrival_ms, const std::string& lane,
             std::uint64_t counter, std::size_t delimiter = 0) {
        if (!records || arrival_ms < oldest_ms) oldest_ms = arrival_ms;
        spans.push_back({std::uint32_t(body.size()), std::uint32_t(bytes.size() - delimiter), arrival_ms});
        body.append(bytes);
        records += count;
        firsts.try_emplace(lane, counter);
        ends[lane] = counter + 1;
    }
};

class partition_buffers {
public:
    using map = std::map<std::string, record_buffer>;

    record_buffer* find(const std::string& id) {
        auto it = buffers_.find(id);
        return it == buffers_.end() ? nullptr : &it->second;
    }
    record_buffer& open(const std::string& id) { return buffers_[id]; }
    // Removes and returns the buffer `id` (to be sealed).
    record_buffer take(const std::string& id) {
        auto node = buffers_.extract(id);
        return node ? std::move(node.mapped()) : record_buffer{};
    }
    bool empty() const { return buffers_.empty(); }
    std::size_t size() const { return buffers_.size(); }
    const map& all() const { return buffers_; }

    std::optional<std::int64_t> oldest_ms() const {
        std::optional<std::int64_t> oldest;
        for (auto& [id, b] : buffers_)
            if (b.records && (!oldest || b.oldest_ms < *oldest)) oldest = b.oldest_ms;
        return oldest;
    }
    // Lowers `bound` to the first counter of `lane` any buffer holds.
    void bound_checkpoint(const std::string& lane, std::uint64_t& bound) const {
        for (auto& [id, b] : buffers_)
            if (auto it = b.firsts.find(lane); it != b.firsts.end() && it->second < bound) bound = it->second;
    }

private:
    map buffers_;
};

// The buffer id of an error-output-type; partition ids never start with NUL.
inline std::string error_buffer_id(std::string_view error_output_type) {
    return std::string(1, '\0') + std::string(error_output_type);
}

}  // namespace kinesd::delivery
