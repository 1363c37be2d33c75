#pragma once
// For drain_client.cc: what a drain learns from one GetRecords answer, and
// how it reads a CBOR one: a strict walk of the whole answer (definite and
// indefinite lengths, chunked strings, tags) that counts the records and
// their Data bytes, and requires tag 1 before every arrival time and
// sequence numbers that keep increasing.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace drain {

using namespace std::string_view_literals;

struct page_scan {
    std::optional<std::string> next_iterator;
    std::uint64_t behind = 0;
    bool empty = false;
};

// Sequence numbers are decimal strings of growing integers: compare by length, then text.
inline bool sequence_less(std::string_view a, std::string_view b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
}

struct page_count {
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;
    std::string last_sequence;
};

class cbor_walk {
public:
    explicit cbor_walk(std::string_view s)
        : p_(reinterpret_cast<const unsigned char*>(s.data())), end_(p_ + s.size()) {}

    bool at_end() const { return p_ == end_; }
    bool at_break() const { return p_ < end_ && *p_ == 0xFF; }
    // Whether the array that starts here is empty, when its head says so
    // plainly (0x80, or 0x9f then a break); nullopt when unsure.
    std::optional<bool> array_empty() const {
        if (p_ >= end_ || (*p_ >> 5) != 4) return std::nullopt;
        if (*p_ == 0x80) return true;
        if (*p_ == 0x9F) return p_ + 1 < end_ ? std::optional<bool>(p_[1] == 0xFF) : std::nullopt;
        return (*p_ & 0x1F) < 24 ? std::optional<bool>(false) : std::nullopt;
    }
    void take_break() {
        if (!at_break()) fail("expected a break");
        ++p_;
    }

    // The next head: major type and argument (indefinite: argument npos).
    std::pair<unsigned, std::uint64_t> head() {
        if (p_ >= end_) fail("truncated");
        const unsigned char initial = *p_++;
        const unsigned info = initial & 0x1F;
        std::uint64_t arg = info;
        if (info == 31) {
            arg = indefinite;
        } else if (info >= 24) {
            if (info > 27) fail("reserved additional information");
            const std::size_t n = std::size_t{1} << (info - 24);
            if (std::size_t(end_ - p_) < n) fail("truncated");
            arg = 0;
            for (std::size_t i = 0; i < n; ++i) arg = arg << 8 | *p_++;
        }
        return {initial >> 5, arg};
    }

    // A byte (2) or text (3) string; chunks are joined into `scratch`.
    std::string_view string(unsigned major, std::string& scratch) {
        auto [m, len] = head();
        if (m != major) fail("expected a string");
        if (len != indefinite) return take(len);
        scratch.clear();
        while (!at_break()) {
            auto [cm, clen] = head();
            if (cm != major || clen == indefinite) fail("bad string chunk");
            scratch.append(take(clen));
        }
        take_break();
        return scratch;
    }

    std::uint64_t unsigned_int() {
        auto [m, v] = head();
        if (m != 0 || v == indefinite) fail("expected an unsigned integer");
        return v;
    }

    // Calls item() for each element (arrays) or each key (maps; the value follows).
    template <typename F>
    void container(unsigned major, F item) {
        auto [m, n] = head();
        if (m != major) fail(major == 5 ? "expected a map" : "expected an array");
        for (std::uint64_t i = 0; n == indefinite ? !at_break() : i < n; ++i) item();
        if (n == indefinite) take_break();
    }

    void skip() {
        auto [m, arg] = head();
        switch (m) {
            case 0: case 1: return;
            case 2: case 3: {
                if (arg != indefinite) return void(take(arg));
                while (!at_break()) skip();
                return take_break();
            }
            case 4: case 5:
                for (std::uint64_t i = 0; arg == indefinite ? !at_break() : i < arg * (m == 5 ? 2 : 1); ++i) skip();
                if (arg == indefinite) take_break();
                return;
            case 6: return skip();
            default:
                if (arg == indefinite) fail("stray break");
                return;  // simple values and floats: the argument was the payload
        }
    }

    [[noreturn]] static void fail(const char* what) {
        throw std::runtime_error(std::string("GetRecords CBOR answer: ") + what);
    }

private:
    static constexpr std::uint64_t indefinite = ~std::uint64_t{0};

    std::string_view take(std::uint64_t n) {
        if (std::uint64_t(end_ - p_) < n) fail("truncated");
        std::string_view out(reinterpret_cast<const char*>(p_), std::size_t(n));
        p_ += n;
        return out;
    }

    const unsigned char* p_;
    const unsigned char* end_;
};

inline bool decimal(std::string_view s) {
    for (const char c : s)
        if (c < '0' || c > '9') return false;
    return !s.empty();
}

// Scan and count of a CBOR answer in one walk. `scanned` gets the scan as
// soon as it is known: before the records are walked when the members it
// needs come first (kinesd writes Records last), so the next call can be
// sent while this answer is counted; else at the end.
template <typename F>
std::pair<page_scan, page_count> cbor_page(std::string_view s, std::string_view after, F scanned) {
    page_scan scan;
    page_count count;
    std::string previous(after), key_scratch, value_scratch;
    bool has_records = false, has_behind = false, closed = false, told = false;
    cbor_walk in(s);
    in.container(5, [&] {
        const std::string_view key = in.string(3, key_scratch);
        if (key == "NextShardIterator") {
            scan.next_iterator = std::string(in.string(3, value_scratch));
        } else if (key == "MillisBehindLatest") {
            scan.behind = in.unsigned_int();
            has_behind = true;
        } else if (key == "ChildShards") {
            closed = true;
            in.skip();
        } else if (key == "Records") {
            has_records = true;
            if (auto empty = in.array_empty(); empty && has_behind && (scan.next_iterator || closed)) {
                scan.empty = *empty;
                scanned(scan);
                told = true;
            }
            in.container(4, [&] {
                bool data = false, sequence = false, arrival = false, partition_key = false;
                in.container(5, [&] {
                    const std::string_view member = in.string(3, key_scratch);
                    if (member == "Data"sv) {
                        count.bytes += in.string(2, value_scratch).size();
                        data = true;
                    } else if (member == "SequenceNumber"sv) {
                        const std::string_view number = in.string(3, value_scratch);
                        if (!decimal(number))
                            throw std::runtime_error("SequenceNumber is not a decimal number: " + std::string(number));
                        if (!previous.empty() && !sequence_less(previous, number))
                            throw std::runtime_error("sequence numbers do not increase: " + std::string(number) + " after " +
                                              previous);
                        previous.assign(number);
                        sequence = true;
                    } else if (member == "ApproximateArrivalTimestamp"sv) {
                        auto [m, tag] = in.head();
                        if (m != 6 || tag != 1) cbor_walk::fail("arrival time without tag 1");
                        in.unsigned_int();
                        arrival = true;
                    } else if (member == "PartitionKey"sv) {
                        in.string(3, value_scratch);
                        partition_key = true;
                    } else {
                        in.skip();
                    }
                });
                if (!(data && sequence && arrival && partition_key))
                    throw std::runtime_error("record without Data, SequenceNumber, ApproximateArrivalTimestamp or PartitionKey");
                count.records += 1;
            });
        } else {
            in.skip();
        }
    });
    if (!in.at_end()) cbor_walk::fail("trailing bytes");
    if (!has_records || !has_behind) throw std::runtime_error("GetRecords answer without Records or MillisBehindLatest");
    if (told && scan.empty != (count.records == 0)) throw std::runtime_error("GetRecords answer: Records head disagrees with its records");
    scan.empty = count.records == 0;
    if (!told) scanned(scan);
    count.last_sequence = count.records ? previous : std::string();
    return {std::move(scan), std::move(count)};
}

}  // namespace drain
