#include "auth/sigv4_verifier.h"

#include <cctype>
#include <ctime>

#include <spdlog/spdlog.h>

namespace kinesd::auth {

namespace {

using clock_type = std::chrono::system_clock;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (std::tolower(x) != std::tolower(y)) return false;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

sigv4::query_params parse_query(std::string_view query) {
    sigv4::query_params out;
    std::size_t start = 0;
    while (start < query.size()) {
        std::size_t end = query.find('&', start);
        if (end == std::string_view::npos) end = query.size();
        std::string_view pair = query.substr(start, end - start);
        start = end + 1;
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        if (eq == std::string_view::npos)
            out.emplace_back(percent_decode(pair), std::string());
        else
            out.emplace_back(percent_decode(pair.substr(0, eq)), percent_decode(pair.substr(eq + 1)));
    }
    return out;
}

const std::string* query_value(const sigv4::query_params& query, std::string_view name) {
    for (const auto& [n, v] : query)
        if (n == name) return &v;
    return nullptr;
}

std::vector<std::string> split_signed_headers(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t semi = text.find(';', start);
        if (semi == std::string_view::npos) semi = text.size();
        if (semi > start) out.emplace_back(text.substr(start, semi - start));
        start = semi + 1;
    }
    return out;
}

std::string amz(clock_type::time_point t) { return sigv4::format_amz_date(t); }

// AWS's wording when the request time is more than five minutes off.
std::optional<api_error> skew_error(clock_type::time_point signed_at, clock_type::time_point now) {
    const auto skew = sigv4_verifier::max_skew;
    if (signed_at < now - skew)
        return api_error::invalid_signature("Signature expired: " + amz(signed_at) + " is now earlier than " +
                                            amz(now - skew) + " (" + amz(now) + " - 5 min.)");
    if (signed_at > now + skew)
        return api_error::invalid_signature("Signature not yet current: " + amz(signed_at) + " is still later than " +
                                            amz(now + skew) + " (" + amz(now) + " + 5 min.)");
    return std::nullopt;
}

api_error unrecognized_client() {
    return api_error(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
}

api_error mismatch() {
    return api_error::invalid_signature(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.");
}

int parse_int(std::string_view s) {
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return s.empty() ? -1 : v;
}

}  // namespace

std::optional<clock_type::time_point> parse_request_date(std::string_view text) {
    std::tm parts{};
    if (text.size() == 16 && text[8] == 'T' && text[15] == 'Z') {
        int y = parse_int(text.substr(0, 4)), mo = parse_int(text.substr(4, 2)), d = parse_int(text.substr(6, 2));
        int h = parse_int(text.substr(9, 2)), mi = parse_int(text.substr(11, 2)), s = parse_int(text.substr(13, 2));
        if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
            return std::nullopt;
        parts.tm_year = y - 1900;
        parts.tm_mon = mo - 1;
        parts.tm_mday = d;
        parts.tm_hour = h;
        parts.tm_min = mi;
        parts.tm_sec = s;
    } else {
        std::string copy(text);
        const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
        if (end == nullptr || *end != '\0') return std::nullopt;
    }
    return clock_type::from_time_t(timegm(&parts));
}

sigv4_verifier::sigv4_verifier(std::vector<account_key> keys) : keys_(std::move(keys)) {
    for (const auto& k : keys_) by_access_key_.emplace(k.access_key, &k);
}

verdict sigv4_verifier::verify(const http::request& req, clock_type::time_point now) const {
    const auto q = req.path.find('?');
    sigv4::query_params query;
    if (q != std::string::npos) query = parse_query(std::string_view(req.path).substr(q + 1));
    const bool query_auth = query_value(query, "X-Amz-Algorithm") != nullptr;
    if (query_auth && !req.authorization.empty())
        return {nullptr, api_error::invalid_signature(
                             "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")};
    if (query_auth) return verify_query(req, query, now);
    if (req.authorization.empty()) return {nullptr, api_error::missing_authentication_token()};
    return verify_header(req, query, now);
}

verdict sigv4_verifier::verify_header(const http::request& req, const sigv4::query_params& query,
                                      clock_type::time_point now) const {
    const auto auth = sigv4::parse_authorization(req.authorization);
    if (auto missing = sigv4::incomplete_signature_message(auth, !req.amz_date.empty(), req.authorization);
        !missing.empty())
        return {nullptr, api_error::incomplete_signature(std::move(missing))};
    if (!auth.credential_well_formed)
        return {nullptr, api_error::incomplete_signature(
                             "Credential must have exactly 5 slash-delimited elements, e.g. "
                             "keyid/date/region/service/term, got '" + auth.credential + "'")};
    return check_signature(req, auth.access_key, req.amz_date, auth.scope, auth.signed_headers,
                 query.empty() ? std::string() : sigv4::canonical_query(query),
                 sigv4::sha256_hex(req.body), auth.signature, now);
}

verdict sigv4_verifier::verify_query(const http::request& req, const sigv4::query_params& query,
                                     clock_type::time_point now) const {
    std::string missing;
    for (const char* name : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders",
                             "X-Amz-Date"})
        if (!query_value(query, name)) missing += std::string("AWS query-string parameters must include '") + name + "'. ";
    if (!missing.empty())
        return {nullptr, api_error::incomplete_signature(missing + "Re-examine the query-string parameters.")};

    const std::string& credential = *query_value(query, "X-Amz-Credential");
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
        auto slash = credential.find('/', start);
        parts.push_back(credential.substr(start, slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    if (parts.size() != 5)
        return {nullptr, api_error::incomplete_signature(
                             "Credential must have exactly 5 slash-delimited elements, e.g. "
                             "keyid/date/region/service/term, got '" + credential + "'")};
    // Everything but the signature itself was signed.
    sigv4::query_params signed_query;
    for (const auto& p : query)
        if (p.first != "X-Amz-Signature") signed_query.push_back(p);
    return check_signature(req, parts[0], *query_value(query, "X-Amz-Date"), {parts[1], parts[2], parts[3]},
                 split_signed_headers(*query_value(query, "X-Amz-SignedHeaders")), sigv4::canonical_query(signed_query),
                 sigv4::sha256_hex(req.body), *query_value(query, "X-Amz-Signature"), now);
}

verdict sigv4_verifier::check_signature(const http::request& req, const std::string& access_key, const std::string& amz_date,
                              const sigv4::credential_scope& scope, const std::vector<std::string>& signed_headers,
                              const std::string& canonical_query, const std::string& payload_hash,
                              const std::string& signature, clock_type::time_point now) const {
    auto found = by_access_key_.find(access_key);
    if (found == by_access_key_.end()) return {nullptr, unrecognized_client(), access_key};
    const auto signed_at = parse_request_date(amz_date);
    if (!signed_at) {
        spdlog::debug("request date '{}' of {} does not parse", amz_date, access_key);
        return {nullptr, mismatch(), access_key};
    }
    if (auto skew = skew_error(*signed_at, now)) return {nullptr, std::move(skew), access_key};

    sigv4::request canonical;
    canonical.method = req.method;
    const auto q = req.path.find('?');
    canonical.canonical_uri =
        sigv4::canonical_uri(percent_decode(std::string_view(req.path).substr(0, q)), sigv4::uri_style::other);
    canonical.canonical_query = canonical_query;
    canonical.payload_hash = payload_hash;
    canonical.headers.reserve(signed_headers.size() + 1);
    for (const auto& name : signed_headers) {
        bool seen = false;
        for (const auto& [n, v] : req.headers) {
            if (!iequals(n, name)) continue;
            canonical.headers.push_back({name, v});
            seen = true;
        }
        // HTTP/2 carries the host as :authority, and the JavaScript SDK's
        // HTTP/2 handler signs it under that name.
        if (!seen && (name == "host" || name == ":authority")) {
            canonical.headers.push_back({name, req.host});
            seen = true;
        }
        // A header the client signed but that never arrived cannot match.
        if (!seen) {
            spdlog::debug("signed header {} of {} is not in the request", name, access_key);
            return {nullptr, mismatch(), access_key};
        }
    }
    const std::string text = sigv4::canonical_request(canonical);
    const std::string expected =
        // The string to sign holds the time in the basic ISO 8601 form even
        // when the request carried it in a Date header.
        sigv4::expected_signature(text, amz(*signed_at), scope, found->second->secret_key, &signing_keys_);
    if (!sigv4::signatures_equal(expected, signature)) {
        // What a client author needs to find the difference; never the key.
        spdlog::debug("signature mismatch for {}: canonical request was\n{}", access_key, text);
        return {nullptr, mismatch(), access_key};
    }
    return {found->second, std::nullopt};
}

}  // namespace kinesd::auth
