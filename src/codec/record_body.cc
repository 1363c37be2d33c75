#include "codec/record_body.h"

#include <cstring>

#include "common/base64.h"

namespace kinesd::codec {
namespace {

// Bytes that may stand unescaped in a string this reader accepts: printable
// ASCII except '"' and '\\'. Every JSON parser reads such a string as itself.
constexpr std::array<bool, 256> make_plain() {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
    t['"'] = false;
    t['\\'] = false;
    return t;
}
constexpr auto plain = make_plain();

class reader {
public:
    explicit reader(std::string& text) : p_(text.data()), end_(p_ + text.size()) {}

    void skip_space() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }

    bool take(char c) {
        skip_space();
        if (p_ == end_ || *p_ != c) return false;
        ++p_;
        return true;
    }

    bool peek(char c) {
        skip_space();
        return p_ != end_ && *p_ == c;
    }

    bool at_end() {
        skip_space();
        return p_ == end_;
    }

    bool string(std::string_view& out) {
        if (!take('"')) return false;
        const char* start = p_;
        while (p_ < end_ && plain[static_cast<unsigned char>(*p_)]) ++p_;
        if (p_ == end_ || *p_ != '"') return false;
        out = {start, static_cast<std::size_t>(p_ - start)};
        ++p_;
        return true;
    }

    // The base64 alphabet and '=' are all plain bytes, so a successful
    // decode also proves the string needed no unescaping.
    bool blob(std::string_view& out) {
        if (!take('"')) return false;
        char* start = p_;
        void* quote = std::memchr(p_, '"', static_cast<std::size_t>(end_ - p_));
        if (!quote) return false;
        p_ = static_cast<char*>(quote);
        const std::size_t size = base64::decode_in_place(start, static_cast<std::size_t>(p_ - start));
        if (size == base64::npos) return false;
        out = {start, size};
        ++p_;
        return true;
    }

    // Reads `{ "name": value, ... }` where each name is one of `members`
    // (at most once) and value a string or blob.
    template <typename Values>
    bool object(const std::vector<body_member>& members, Values& values) {
        if (!take('{')) return false;
        if (take('}')) return true;
        do {
            std::string_view key;
            if (!string(key) || !take(':')) return false;
            std::size_t i = 0;
            while (i < members.size() && members[i].name != key) ++i;
            if (i == members.size() || values[i]) return false;
            std::string_view value;
            if (!(members[i].blob ? blob(value) : string(value))) return false;
            values[i] = value;
        } while (take(','));
        return take('}');
    }

private:
    char* p_;
    char* end_;
};

bool read(const body_layout& layout, record_body& body, reader& in) {
    if (!in.take('{')) return false;
    if (in.take('}')) return in.at_end();
    do {
        std::string_view key;
        if (!in.string(key) || !in.take(':')) return false;
        if (!layout.records.empty() && key == layout.records) {
            if (body.has_records || !in.take('[')) return false;
            body.has_records = true;
            if (!in.take(']')) {
                do {
                    if (!in.peek('{')) return false;
                    if (!in.object(layout.record_members, body.records.emplace_back())) return false;
                } while (in.take(','));
                if (!in.take(']')) return false;
            }
            continue;
        }
        if (!layout.record.empty() && key == layout.record) {
            if (body.has_records || !in.peek('{')) return false;
            body.has_records = true;
            if (!in.object(layout.record_members, body.records.emplace_back())) return false;
            continue;
        }
        std::size_t i = 0;
        while (i < layout.members.size() && layout.members[i].name != key) ++i;
        if (i == layout.members.size() || body.members[i]) return false;
        std::string_view value;
        if (!(layout.members[i].blob ? in.blob(value) : in.string(value))) return false;
        body.members[i] = value;
    } while (in.take(','));
    return in.take('}') && in.at_end();
}

}  // namespace

bool read_record_body(const body_layout& layout, record_body& body) {
    if (layout.members.size() > max_body_members || layout.record_members.size() > max_record_members) return false;
    body.members = {};
    body.has_records = false;
    body.records.clear();
    reader in(body.text);
    if (read(layout, body, in)) return true;
    // Blobs decoded before the reader gave up are in the values read so far.
    restore_text(layout, body);
    return false;
}

void restore_text(const body_layout& layout, record_body& body) {
    // A decoded blob starts where its base64 did.
    auto restore = [](const std::optional<std::string_view>& v) {
        if (v) base64::encode_in_place(const_cast<char*>(v->data()), v->size());
    };
    for (std::size_t i = 0; i < layout.members.size(); ++i)
        if (layout.members[i].blob) restore(body.members[i]);
    for (auto& r : body.records)
        for (std::size_t i = 0; i < layout.record_members.size(); ++i)
            if (layout.record_members[i].blob) restore(r[i]);
    body.members = {};
    body.records.clear();
}

}  // namespace kinesd::codec
