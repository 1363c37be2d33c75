#include "codec/cbor_record_body.h"

#include <algorithm>
#include <cstdint>

namespace kinesd::codec {
namespace {

enum : unsigned { major_bytes = 2, major_text = 3, major_array = 4, major_map = 5, major_tag = 6 };
constexpr unsigned char break_byte = 0xFF;

class cbor_reader {
public:
    cbor_reader(std::string_view text, std::deque<std::string>& joined)
        : p_(reinterpret_cast<const unsigned char*>(text.data())), end_(p_ + text.size()), joined_(joined) {}

    bool at_end() const { return p_ == end_; }

    // Reads an item's head, skipping the tags in front of it. `indefinite`
    // is set for additional information 31, which only strings and
    // containers may carry; a break is not a head.
    bool head(unsigned& major, std::uint64_t& argument, bool& indefinite) {
        for (;;) {
            if (p_ == end_ || *p_ == break_byte) return false;
            const unsigned char initial = *p_++;
            major = initial >> 5;
            if (!read_argument(initial & 0x1F, argument, indefinite)) return false;
            if (major != major_tag) return !indefinite || (major >= major_bytes && major <= major_map);
            if (indefinite) return false;
        }
    }

    // Consumes a break when one comes next.
    bool take_break() {
        if (p_ == end_ || *p_ != break_byte) return false;
        ++p_;
        return true;
    }

    // A string of major type `major` (byte or text string); chunked strings
    // are joined. Text must be ASCII, which every reader takes as it is.
    bool string(unsigned major, std::string_view& out) {
        unsigned got;
        std::uint64_t length;
        bool indefinite;
        if (!head(got, length, indefinite) || got != major) return false;
        if (!indefinite) {
            if (length > std::uint64_t(end_ - p_)) return false;
            out = {reinterpret_cast<const char*>(p_), std::size_t(length)};
            p_ += length;
        } else {
            std::string& joined = joined_.emplace_back();
            for (;;) {
                if (take_break()) break;
                // Chunks are definite-length strings of the same type, untagged.
                if (p_ == end_ || (*p_ >> 5) != major) return false;
                const unsigned char initial = *p_++;
                if (!read_argument(initial & 0x1F, length, indefinite) || indefinite) return false;
                if (length > std::uint64_t(end_ - p_)) return false;
                joined.append(reinterpret_cast<const char*>(p_), std::size_t(length));
                p_ += length;
            }
            out = joined;
        }
        if (major == major_text)
            for (const char c : out)
                if (static_cast<unsigned char>(c) >= 0x80) return false;
        return true;
    }

    // Opens a container of major type `major`: `count` items (pairs for a
    // map) or, when indefinite, up to a break.
    bool open(unsigned major, std::uint64_t& count, bool& indefinite) {
        unsigned got;
        return head(got, count, indefinite) && got == major;
    }

    // True while the open container has another item; consumes its break.
    bool more(std::uint64_t& left, bool indefinite) {
        if (indefinite) return !take_break();
        if (left == 0) return false;
        --left;
        return true;
    }

    std::size_t remaining() const { return std::size_t(end_ - p_); }

    // Reads `{ name: value, ... }` where each name is one of `members` (at
    // most once) and value a byte string (blobs) or text.
    template <typename Values>
    bool object(const std::vector<body_member>& members, Values& values) {
        std::uint64_t left;
        bool indefinite;
        if (!open(major_map, left, indefinite)) return false;
        while (more(left, indefinite)) {
            std::string_view key;
            if (!string(major_text, key)) return false;
            std::size_t i = 0;
            while (i < members.size() && members[i].name != key) ++i;
            if (i == members.size() || values[i]) return false;
            std::string_view value;
            if (!string(members[i].blob ? major_bytes : major_text, value)) return false;
            values[i] = value;
        }
        return true;
    }

private:
    bool read_argument(unsigned info, std::uint64_t& argument, bool& indefinite) {
        indefinite = false;
        if (info < 24) {
            argument = info;
            return true;
        }
        if (info == 31) {
            indefinite = true;
            argument = 0;
            return true;
        }
        if (info > 27) return false;
        const std::size_t size = std::size_t{1} << (info - 24);
        if (std::size_t(end_ - p_) < size) return false;
        argument = 0;
        for (std::size_t i = 0; i < size; ++i) argument = (argument << 8) | p_[i];
        p_ += size;
        return true;
    }

    const unsigned char* p_;
    const unsigned char* end_;
    std::deque<std::string>& joined_;
};

bool read(const body_layout& layout, record_body& body, cbor_reader& in) {
    std::uint64_t left;
    bool indefinite;
    if (!in.open(major_map, left, indefinite)) return false;
    while (in.more(left, indefinite)) {
        std::string_view key;
        if (!in.string(major_text, key)) return false;
        if (!layout.records.empty() && key == layout.records) {
            std::uint64_t entries;
            bool entries_indefinite;
            if (body.has_records || !in.open(major_array, entries, entries_indefinite)) return false;
            body.has_records = true;
            // Every entry takes at least one byte: a forged count reserves no more than the body could hold.
            if (!entries_indefinite) body.records.reserve(std::size_t(std::min<std::uint64_t>(entries, in.remaining())));
            while (in.more(entries, entries_indefinite))
                if (!in.object(layout.record_members, body.records.emplace_back())) return false;
            continue;
        }
        if (!layout.record.empty() && key == layout.record) {
            if (body.has_records) return false;
            body.has_records = true;
            if (!in.object(layout.record_members, body.records.emplace_back())) return false;
            continue;
        }
        std::size_t i = 0;
        while (i < layout.members.size() && layout.members[i].name != key) ++i;
        if (i == layout.members.size() || body.members[i]) return false;
        std::string_view value;
        if (!in.string(layout.members[i].blob ? major_bytes : major_text, value)) return false;
        body.members[i] = value;
    }
    return in.at_end();
}

}  // namespace

bool read_cbor_record_body(const body_layout& layout, record_body& body) {
    body.members = {};
    body.has_records = false;
    body.records.clear();
    body.joined.clear();
    if (layout.members.size() > max_body_members || layout.record_members.size() > max_record_members) return false;
    cbor_reader in(body.text, body.joined);
    if (read(layout, body, in)) return true;
    body.members = {};
    body.records.clear();
    body.joined.clear();
    return false;
}

}  // namespace kinesd::codec
