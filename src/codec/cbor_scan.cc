#include "codec/cbor_scan.h"

#include <cstdint>
#include <vector>

namespace kinesd::codec {
namespace {

constexpr unsigned char break_byte = 0xFF;

struct container {
    std::uint64_t remaining;  // items still expected (definite length only)
    std::uint64_t seen;       // items seen so far (indefinite length only)
    bool indefinite;
    bool map;
};

class scanner {
public:
    scanner(std::string_view body, std::size_t max_depth)
        : p_(reinterpret_cast<const unsigned char*>(body.data())), n_(body.size()), max_depth_(max_depth) {}

    // Walks the body once. With `untagged`, appends every byte to it except
    // tag heads (only worth doing once a first walk has seen a tag).
    bool run(std::string* untagged = nullptr);
    bool saw_tag() const { return saw_tag_; }

private:
    // Reads the argument that follows an initial byte with additional info
    // `info`; false on truncation or the reserved values 28-30. Sets
    // indefinite_ for 31 and leaves its legality to the caller.
    bool read_argument(unsigned info, std::uint64_t& argument);
    bool skip_indefinite_string(unsigned major);
    // Counts one finished item against the open containers, closing those
    // that are complete. False when a top-level item is followed by more bytes.
    bool finish_item();

    const unsigned char* p_;
    std::size_t n_;
    std::size_t pos_ = 0;
    std::size_t max_depth_;
    bool indefinite_ = false;
    bool done_ = false;
    bool saw_tag_ = false;
    std::vector<container> stack_;
};

bool scanner::read_argument(unsigned info, std::uint64_t& argument) {
    indefinite_ = false;
    if (info < 24) {
        argument = info;
        return true;
    }
    if (info == 31) {
        indefinite_ = true;
        argument = 0;
        return true;
    }
    if (info > 27) return false;
    const std::size_t len = std::size_t{1} << (info - 24);
    if (n_ - pos_ < len) return false;
    argument = 0;
    for (std::size_t i = 0; i < len; ++i) argument = (argument << 8) | p_[pos_ + i];
    pos_ += len;
    return true;
}

bool scanner::skip_indefinite_string(unsigned major) {
    // Chunks must be definite-length strings of the same major type.
    for (;;) {
        if (pos_ >= n_) return false;
        const unsigned char b = p_[pos_++];
        if (b == break_byte) return true;
        if (b >> 5 != major) return false;
        std::uint64_t len;
        if (!read_argument(b & 0x1F, len) || indefinite_) return false;
        if (n_ - pos_ < len) return false;
        pos_ += static_cast<std::size_t>(len);
    }
}

bool scanner::finish_item() {
    while (!stack_.empty()) {
        container& c = stack_.back();
        if (c.indefinite) {
            ++c.seen;
            return true;
        }
        if (--c.remaining > 0) return true;
        stack_.pop_back();  // the completed container is itself an item of its parent
    }
    done_ = true;
    return pos_ == n_;
}

bool scanner::run(std::string* untagged) {
    bool after_tag = false;
    // Copies the bytes of the head just read (and of its payload, for strings).
    const auto keep = [&](std::size_t start) {
        if (untagged) untagged->append(reinterpret_cast<const char*>(p_) + start, pos_ - start);
    };
    while (!done_) {
        if (pos_ >= n_) return false;
        const std::size_t start = pos_;
        const unsigned char initial = p_[pos_++];
        if (initial == break_byte) {
            if (after_tag || stack_.empty() || !stack_.back().indefinite) return false;
            if (stack_.back().map && stack_.back().seen % 2 != 0) return false;  // key without value
            keep(start);
            stack_.pop_back();
            if (!finish_item()) return false;
            continue;
        }
        const unsigned major = initial >> 5;
        std::uint64_t argument;
        if (!read_argument(initial & 0x1F, argument)) return false;
        if (indefinite_ && (major < 2 || major > 5)) return false;
        after_tag = false;

        switch (major) {
            case 0:
            case 1:
            case 7:  // simple values and floats: the argument was the whole payload
                break;
            case 2:
            case 3:
                if (indefinite_) {
                    if (!skip_indefinite_string(major)) return false;
                } else {
                    if (n_ - pos_ < argument) return false;
                    pos_ += static_cast<std::size_t>(argument);
                }
                break;
            case 4:
            case 5: {
                const bool map = major == 5;
                // An empty container is a level too, as it is for the JSON check.
                if (stack_.size() >= max_depth_) return false;
                if (indefinite_) {
                    keep(start);
                    stack_.push_back({0, 0, true, map});
                    continue;
                }
                if (argument == 0) break;
                // Every item takes at least one byte; this also keeps 2 * argument from overflowing.
                if (argument > n_ - pos_) return false;
                keep(start);
                stack_.push_back({map ? 2 * argument : argument, 0, false, map});
                continue;
            }
            case 6:
                saw_tag_ = true;
                after_tag = true;
                continue;  // the tagged item follows; its head is not kept
        }
        keep(start);
        if (!finish_item()) return false;
    }
    return true;
}

}  // namespace

cbor_scan_result scan_cbor(std::string_view body, std::size_t max_depth, std::string& untagged) {
    scanner first(body, max_depth);
    if (!first.run()) return cbor_scan_result::malformed;
    if (!first.saw_tag()) return cbor_scan_result::ok;

    // A second walk rather than a list of tag positions from the first: the
    // copy is never larger than the body, whatever the number of tags.
    untagged.clear();
    untagged.reserve(body.size());
    scanner second(body, max_depth);
    second.run(&untagged);
    return cbor_scan_result::tags_removed;
}

}  // namespace kinesd::codec
