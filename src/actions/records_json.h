#pragma once
// Records as JSON text, written straight from storage: the Records members
// of GetRecords answers and of SubscribeToShard events. Members are in the
// order the general encoder writes them, so both paths give the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "storage/log_store.h"
#include "streams/encoding.h"
#include "streams/stream_state.h"

namespace kinesd::actions {

// What a record adds to an answer: its data in base64, its key, and the
// members around them (a 56-digit sequence number, the arrival time, the
// names). Counted instead of the data alone because a 100-byte record
// takes about 330 bytes of text: 64 readers of small records held three
// times the budget.
std::size_t answer_cost(const storage::record_view& r);

// True when write_json_string would copy the key unchanged between quotes.
bool plain_json_text(std::string_view s);

// Writes the Records elements, members in the order the general encoder
// writes them. Each record's size is known before it is written, so it goes
// into room made once with plain copies instead of a dozen appends that each
// check capacity; sequence numbers and timestamp texts are carried over from
// the record before when they can be.
class records_writer {
public:
    // limit: records at most; max_cost: answer_cost() at most (the call's
    // share of the read budget), which bounds the answer more tightly when
    // many readers share the budget.
    records_writer(std::string& out, const streams::shard_state& shard, std::size_t limit, std::size_t max_cost)
        : out_(out), sequence_(shard.created_s, shard.index), limit_(limit), max_cost_(max_cost) {}

    void add(const storage::record_view& r);

    std::size_t count() const { return count_; }

    // Drops the room made but not written.
    void finish() { out_.resize(used_); }

private:
    static char* put(char* p, std::string_view s) {
        std::memcpy(p, s.data(), s.size());
        return p + s.size();
    }

    char* room(std::size_t n) {
        if (used_ + n > out_.size()) grow(n);
        char* p = out_.data() + used_;
        used_ += n;
        return p;
    }

    void grow(std::size_t n) {
        // Records of one shard tend to be alike: the first one sizes the
        // buffer for the whole batch, so it is allocated once, not doubled
        // and copied (pages are only touched as they fill). A quarter more
        // covers keys and timestamps of varying length; the head room lets
        // the members put in front of Records move the text in place.
        if (count_ == 0) out_.reserve(used_ + std::min(n * limit_ / 4 * 5, max_estimate) + head_room);
        constexpr std::size_t step = 256u << 10;
        out_.resize(std::max(used_ + n, std::min(out_.capacity(), used_ + std::max(n, step))));
    }

    // About a full 10 MiB answer of small records as text.
    static constexpr std::size_t max_estimate = 16u << 20;
    static constexpr std::size_t head_room = 4096;

    std::string& out_;
    std::size_t used_ = 0;
    std::size_t count_ = 0;
    encoding::sequence_stepper sequence_;
    std::size_t limit_;  // then the records the first one suggests will fit
    std::size_t max_cost_;
    std::int64_t timestamp_ms_ = 0;
    std::string timestamp_;
    std::string escaped_key_;
};

}  // namespace kinesd::actions
