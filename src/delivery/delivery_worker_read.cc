// delivery_worker's read side: lanes into processors into open buffers.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "delivery/delivery_worker.h"

namespace kinesd::delivery {

bool delivery_worker::room_for_batch(bool flushing) const {
    std::size_t limit = processing_.dynamic_partitioning
                            ? std::max(ctx_.options.max_in_flight, ctx_.options.max_in_flight_partitioned)
                            : ctx_.options.max_in_flight;
    return flushing || in_flight_.size() < limit;
}

std::uint64_t delivery_worker::stored_checkpoint(const lane& l) const {
    // No checkpoint: start at the oldest record (TRIM_HORIZON).
    return ctx_.registry.checkpoint(*stream_, l.cf).value_or(0);
}

void delivery_worker::claim_lanes() {
    if (!claims_) return;
    // Lanes done are left out: their leases are given up and they count
    // for no front end's share.
    std::vector<lane*> open;
    std::vector<std::string> ids;
    for (auto& l : lanes_) {
        if (l.done) {
            l.held = false;
            continue;
        }
        open.push_back(&l);
        ids.push_back(l.id);
    }
    auto granted = claims_->claim(ids);
    for (std::size_t i = 0; i < open.size() && i < granted.size(); ++i) {
        auto& l = *open[i];
        if (granted[i] == l.held) continue;
        l.held = granted[i];
        if (l.held) {
            // Taken over (or back): go on from the last acknowledged record;
            // what another front end read past it comes again (at least once).
            l.next = l.saved = stored_checkpoint(l);
            spdlog::info("delivery stream {}: reading {} from {}", stream_->name, l.cf, l.next);
        } else {
            // Its records already buffered still go out; it is read no more.
            spdlog::info("delivery stream {}: {} is read by another front end now", stream_->name, l.cf);
        }
    }
}

void delivery_worker::read_lanes(bool flushing) {
    auto now = ctx_.clock.now_ms();
    for (bool progress = true; progress;) {
        progress = false;
        for (auto& l : lanes_) {
            if (!l.held || !lane_eligible(l, now)) continue;
            bool blocked = false;
            ctx_.store.read(*l.log, l.next, 1000, SIZE_MAX, [&](const storage::record_view& r) {
                check_version(r.arrival_ms);
                if (s3_.channel && r.arrival_ms < stream_->created_ms) {
                    // Channels do not backfill: what the stream held before is skipped.
                    l.next = r.counter + 1;
                    progress = true;
                    return true;
                }
                std::size_t size = 0;
                if (!place(l, r, flushing, size)) {
                    blocked = true;
                    return false;
                }
                l.next = r.counter + 1;
                progress = true;
                if (flushing) {
                    flushed_bytes_ += size;
                    ++flushed_records_;
                }
                return !(flushing && flushed_bytes_ > ctx_.options.stop_flush_bytes);
            });
            if (blocked || (flushing && flushed_bytes_ > ctx_.options.stop_flush_bytes)) return;
        }
    }
}

bool delivery_worker::place(lane& l, const storage::record_view& r, bool flushing, std::size_t& placed_bytes) {
    pipeline_.run(processing_, r.data, r.arrival_ms, r.partition_key, processed_, failed_);

    // Where each piece goes, and its bytes, decided before anything is
    // added: a stored record is checkpointed whole, so it is placed whole
    // or not at all (when a full buffer cannot be sealed yet).
    struct piece {
        std::string id;
        std::string bytes;
        std::size_t delimiter = 0;
        std::string partition_key;  // with a Lambda processor: the (KPL user) record's
        std::map<std::string, std::string> keys;
        std::string_view error_type;
    };
    std::vector<piece> pieces;
    pieces.reserve(processed_.size() + failed_.size());
    const auto now = ctx_.clock.now_ms();
    std::size_t new_partitions = 0;
    // The active partitions, gathered only when some record needs them.
    std::optional<std::set<std::string>> active;
    std::map<std::string, std::size_t> added;
    for (auto& rec : processed_) {
        piece p;
        if (s3_.channel && !accepts(s3_.channel->format, rec.data)) {
            // A channel's record that is not of its format: a dead-letter line.
            p.id = error_buffer_id(channel_dead_letter);
            p.bytes = dead_letter_line(*s3_.channel, rec.data, rec.arrival_ms);
            p.error_type = channel_dead_letter;
            added[p.id] += p.bytes.size();
            pieces.push_back(std::move(p));
            continue;
        }
        if (processing_.lambda) {
            // Transformed and partitioned once sealed (record_processing.h):
            // the buffer holds the source records.
            p.bytes = std::move(rec.data);
            if (processing_.record_delimiter) p.bytes += *processing_.record_delimiter;
            p.delimiter = processing_.record_delimiter ? processing_.record_delimiter->size() : 0;
            p.partition_key = std::move(rec.partition_key);
            added[p.id] += p.bytes.size();
            pieces.push_back(std::move(p));
            continue;
        }
        std::string why;
        std::string code = "DynamicPartitioning.PartitionKeyNotFound";
        auto id = partition_of(processing_, rec, p.keys, why);
        if (id && processing_.dynamic_partitioning && !open_.find(*id) && !added.contains(*id)) {
            if (!active) active = active_partitions();
            if (!active->contains(*id)) {
                if (active->size() + new_partitions >= ctx_.options.max_active_partitions) {
                    id.reset();
                    code = "DynamicPartitioning.ActivePartitionsLimitExceeded";
                    why = "The number of active partitions reached its limit of " +
                          std::to_string(ctx_.options.max_active_partitions) + ".";
                } else {
                    ++new_partitions;
                }
            }
        }
        if (!id) {
            failed_.push_back(
                {std::move(rec.data), rec.arrival_ms, std::string(partitioning_failed), std::move(code), why});
            continue;
        }
        p.id = std::move(*id);
        p.bytes = std::move(rec.data);
        if (processing_.record_delimiter) p.bytes += *processing_.record_delimiter;
        p.delimiter = processing_.record_delimiter ? processing_.record_delimiter->size() : 0;
        added[p.id] += p.bytes.size();
        pieces.push_back(std::move(p));
    }
    for (auto& f : failed_) {
        piece p;
        p.id = error_buffer_id(f.error_output_type);
        p.bytes = error_document(f, now);
        p.error_type = f.error_output_type;
        added[p.id] += p.bytes.size();
        pieces.push_back(std::move(p));
    }
    for (const auto& [id, size] : added) {
        auto* open = open_.find(id);
        if (open && open->records && open->body.size() + size > s3_.size_bytes) {
            if (!room_for_batch(flushing)) return false;
            seal(id);
        }
    }
    placed_bytes = 0;
    std::vector<std::string_view> source(1);
    std::uint32_t subsequence = 0;
    for (auto& p : pieces) {
        auto& b = open_.open(p.id);
        if (!b.records) {
            b.partition_keys = std::move(p.keys);
            b.error_output_type = std::string(p.error_type);
        }
        b.add(p.bytes, 1, r.arrival_ms, l.cf, r.counter, p.delimiter);
        if (processing_.lambda && p.error_type.empty()) {
            source[0] = std::string_view(p.bytes).substr(0, p.bytes.size() - p.delimiter);
            collect_sources(b.sources, stream_->is_kinesis_source(), l.index, l.created_s, r.counter, r.arrival_ms,
                            p.partition_key, source, subsequence++);
        }
        placed_bytes += p.bytes.size();
    }
    return true;
}

}  // namespace kinesd::delivery
