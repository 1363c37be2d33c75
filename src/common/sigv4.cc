#include "common/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>

namespace kinesd::sigv4 {

digest sha256(std::string_view data) {
    digest out{};
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr) != 1 ||
        size != out.size()) {
        throw std::runtime_error("SHA-256 failed");
    }
    return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

digest hmac_sha256(std::string_view key, std::string_view data) {
    digest out{};
    unsigned int size = 0;
    const unsigned char* result =
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &size);
    if (result == nullptr || size != out.size()) throw std::runtime_error("HMAC-SHA256 failed");
    return out;
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(size * 2, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    return out;
}

namespace {

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

std::string_view as_view(const digest& d) {
    return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// Removes "." and ".." segments and empty segments ("//"), keeping a
// trailing slash: the normalisation every service but S3 applies.
std::string normalize_path(std::string_view path) {
    std::vector<std::string_view> segments;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        std::string_view segment = path.substr(start, end - start);
        if (segment == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (!segment.empty() && segment != ".") {
            segments.push_back(segment);
        }
        start = end + 1;
    }
    std::string out = "/";
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (i > 0) out += '/';
        out += segments[i];
    }
    if (!segments.empty() && path.size() > 1 && path.back() == '/') out += '/';
    return out;
}

std::string trim_and_collapse(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    bool pending_space = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out += ' ';
        pending_space = false;
        out += c;
    }
    return out;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    });
    return out;
}

std::string format_utc(std::chrono::system_clock::time_point when, const char* format) {
    std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char buffer[32];
    std::size_t n = std::strftime(buffer, sizeof buffer, format, &parts);
    return std::string(buffer, n);
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 0x0f];
        }
    }
    return out;
}

std::string canonical_uri(std::string_view path, uri_style style) {
    if (path.empty()) return "/";
    if (style == uri_style::s3) return uri_encode(path, true);
    return uri_encode(uri_encode(normalize_path(path), true), true);
}

std::string canonical_query(const query_params& params) {
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(params.size());
    for (const auto& [name, value] : params) {
        encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
    }
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [name, value] : encoded) {
        if (!out.empty()) out += '&';
        out += name;
        out += '=';
        out += value;
    }
    return out;
}

canonical_headers canonicalize_headers(const std::vector<header>& headers) {
    std::vector<std::pair<std::string, std::string>> entries;
    entries.reserve(headers.size());
    for (const auto& h : headers) entries.emplace_back(lower(h.name), trim_and_collapse(h.value));
    // Stable so that repeated headers keep the order they were given in.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    canonical_headers out;
    for (std::size_t i = 0; i < entries.size();) {
        const std::string& name = entries[i].first;
        std::string value = entries[i].second;
        std::size_t j = i + 1;
        for (; j < entries.size() && entries[j].first == name; ++j) {
            value += ',';
            value += entries[j].second;
        }
        out.block += name;
        out.block += ':';
        out.block += value;
        out.block += '\n';
        if (!out.signed_headers.empty()) out.signed_headers += ';';
        out.signed_headers += name;
        i = j;
    }
    return out;
}

std::string canonical_request(const request& req, std::string* signed_headers) {
    canonical_headers headers = canonicalize_headers(req.headers);
    std::string out;
    out.reserve(req.method.size() + req.canonical_uri.size() + req.canonical_query.size() +
                headers.block.size() + headers.signed_headers.size() + req.payload_hash.size() + 8);
    out += req.method;
    out += '\n';
    out += req.canonical_uri;
    out += '\n';
    out += req.canonical_query;
    out += '\n';
    out += headers.block;
    out += '\n';
    out += headers.signed_headers;
    out += '\n';
    out += req.payload_hash;
    if (signed_headers != nullptr) *signed_headers = std::move(headers.signed_headers);
    return out;
}

std::string credential_scope::str() const {
    return date + '/' + region + '/' + service + "/aws4_request";
}

std::string string_to_sign(std::string_view amz_date, const credential_scope& scope,
                           std::string_view canonical_request_text) {
    std::string out(algorithm);
    out += '\n';
    out += amz_date;
    out += '\n';
    out += scope.str();
    out += '\n';
    out += sha256_hex(canonical_request_text);
    return out;
}

digest derive_signing_key(std::string_view secret_key, const credential_scope& scope) {
    std::string seed = "AWS4";
    seed += secret_key;
    digest k_date = hmac_sha256(seed, scope.date);
    digest k_region = hmac_sha256(as_view(k_date), scope.region);
    digest k_service = hmac_sha256(as_view(k_region), scope.service);
    return hmac_sha256(as_view(k_service), "aws4_request");
}

std::string signature(const digest& signing_key, std::string_view string_to_sign_text) {
    return to_hex(hmac_sha256(as_view(signing_key), string_to_sign_text));
}

std::string format_amz_date(std::chrono::system_clock::time_point when) {
    return format_utc(when, "%Y%m%dT%H%M%SZ");
}

std::string format_date_stamp(std::chrono::system_clock::time_point when) {
    return format_utc(when, "%Y%m%d");
}

digest signing_key_cache::get(std::string_view secret_key, const credential_scope& scope) {
    // The secret is part of the key because one process may sign with
    // several credentials; '\n' cannot appear in any of the parts.
    std::string key(secret_key);
    key += '\n';
    key += scope.str();
    {
        std::lock_guard lock(mutex_);
        auto it = keys_.find(key);
        if (it != keys_.end()) return it->second;
    }
    digest derived = derive_signing_key(secret_key, scope);
    std::lock_guard lock(mutex_);
    if (keys_.size() >= max_entries) keys_.clear();
    keys_.emplace(std::move(key), derived);
    return derived;
}

signed_request sign(request& req, const credentials& creds, std::string_view region,
                    std::string_view service, std::chrono::system_clock::time_point when,
                    signing_key_cache* cache) {
    signed_request out;
    out.amz_date = format_amz_date(when);
    credential_scope scope{format_date_stamp(when), std::string(region), std::string(service)};
    req.headers.push_back({"x-amz-date", out.amz_date});
    if (!creds.session_token.empty()) req.headers.push_back({"x-amz-security-token", creds.session_token});

    std::string signed_headers;
    out.canonical_request = canonical_request(req, &signed_headers);
    out.string_to_sign = string_to_sign(out.amz_date, scope, out.canonical_request);
    digest key = cache != nullptr ? cache->get(creds.secret_key, scope)
                                  : derive_signing_key(creds.secret_key, scope);
    out.signature = signature(key, out.string_to_sign);

    out.authorization = std::string(algorithm);
    out.authorization += " Credential=";
    out.authorization += creds.access_key;
    out.authorization += '/';
    out.authorization += scope.str();
    out.authorization += ", SignedHeaders=";
    out.authorization += signed_headers;
    out.authorization += ", Signature=";
    out.authorization += out.signature;
    return out;
}

std::string expected_signature(std::string_view canonical_request_text, std::string_view amz_date,
                               const credential_scope& scope, std::string_view secret_key,
                               signing_key_cache* cache) {
    digest key =
        cache != nullptr ? cache->get(secret_key, scope) : derive_signing_key(secret_key, scope);
    return signature(key, string_to_sign(amz_date, scope, canonical_request_text));
}

bool signatures_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    }
    return diff == 0;
}

authorization parse_authorization(std::string_view header_value) {
    authorization out;
    std::size_t first = header_value.find_first_not_of(' ');
    if (first == std::string_view::npos) return out;
    header_value.remove_prefix(first);
    std::size_t space = header_value.find(' ');
    out.algorithm = std::string(header_value.substr(0, space));
    if (space == std::string_view::npos) return out;

    // Parameters are separated by ',' and/or spaces, as every SDK writes
    // them and as kinesalite (recorded against AWS) reads them.
    std::string_view rest = header_value.substr(space + 1);
    std::size_t pos = 0;
    while (pos < rest.size()) {
        std::size_t end = rest.find_first_of(", ", pos);
        if (end == std::string_view::npos) end = rest.size();
        std::string_view token = rest.substr(pos, end - pos);
        pos = end + 1;
        std::size_t eq = token.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view name = token.substr(0, eq);
        std::string_view value = token.substr(eq + 1);
        if (value.empty()) continue;
        if (name == "Credential") {
            out.has_credential = true;
            out.credential = std::string(value);
        } else if (name == "SignedHeaders") {
            out.has_signed_headers = true;
            out.signed_headers_text = std::string(value);
        } else if (name == "Signature") {
            out.has_signature = true;
            out.signature = std::string(value);
        }
    }

    if (out.has_credential) {
        std::vector<std::string> parts;
        std::size_t start = 0;
        while (true) {
            std::size_t slash = out.credential.find('/', start);
            parts.push_back(out.credential.substr(start, slash - start));
            if (slash == std::string::npos) break;
            start = slash + 1;
        }
        if (!parts.empty()) out.access_key = parts[0];
        if (parts.size() == 5) {
            out.credential_well_formed = true;
            out.scope = {parts[1], parts[2], parts[3]};
            out.terminator = parts[4];
        }
    }
    if (out.has_signed_headers) {
        std::size_t start = 0;
        const std::string& text = out.signed_headers_text;
        while (start <= text.size()) {
            std::size_t semi = text.find(';', start);
            if (semi == std::string::npos) semi = text.size();
            if (semi > start) out.signed_headers.push_back(text.substr(start, semi - start));
            start = semi + 1;
        }
    }
    return out;
}

std::string incomplete_signature_message(const authorization& auth, bool has_date,
                                         std::string_view header_value) {
    std::string message;
    if (!auth.has_credential) message += "Authorization header requires 'Credential' parameter. ";
    if (!auth.has_signature) message += "Authorization header requires 'Signature' parameter. ";
    if (!auth.has_signed_headers) message += "Authorization header requires 'SignedHeaders' parameter. ";
    if (!has_date) {
        message +=
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
    }
    if (message.empty()) return message;
    message += "Authorization=";
    message += header_value;
    return message;
}

}  // namespace kinesd::sigv4
