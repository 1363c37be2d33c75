#pragma once
// The one error type of kinesd. It carries what an AWS client needs to see:
// the HTTP status, the bare `__type` name and the message. It becomes a
// response body in exactly one place (codec::encode_error); what() is for logs.
//
// Call sites use the named factories so that no handler spells a type string.
#include <exception>
#include <string>

namespace kinesd {

class api_error : public std::exception {
public:
    api_error(int status, std::string type, std::string message)
        : status_(status), type_(std::move(type)), message_(std::move(message)) {}

    int status() const noexcept { return status_; }
    const std::string& type() const noexcept { return type_; }
    const std::string& message() const noexcept { return message_; }
    // SerializationException for a member type mismatch spells its key
    // "Message"; clients read either spelling.
    bool capital_message_key() const noexcept { return capital_message_key_; }
    // Some AWS errors have no message member at all (bare SerializationException).
    bool has_message() const noexcept { return !message_.empty(); }
    const char* what() const noexcept override { return message_.c_str(); }

    static api_error serialization(std::string message = {}, bool capital_key = false) {
        api_error e(400, "SerializationException", std::move(message));
        e.capital_message_key_ = capital_key;
        return e;
    }
    static api_error unknown_operation() { return {400, "UnknownOperationException", {}}; }
    static api_error validation(std::string m) { return {400, "ValidationException", std::move(m)}; }
    static api_error invalid_argument(std::string m) { return {400, "InvalidArgumentException", std::move(m)}; }
    static api_error resource_not_found(std::string m) { return {400, "ResourceNotFoundException", std::move(m)}; }
    static api_error resource_in_use(std::string m) { return {400, "ResourceInUseException", std::move(m)}; }
    static api_error limit_exceeded(std::string m) { return {400, "LimitExceededException", std::move(m)}; }
    static api_error expired_iterator(std::string m) { return {400, "ExpiredIteratorException", std::move(m)}; }
    static api_error expired_next_token(std::string m) { return {400, "ExpiredNextTokenException", std::move(m)}; }
    static api_error throughput_exceeded(std::string m) {
        return {400, "ProvisionedThroughputExceededException", std::move(m)};
    }
    static api_error concurrent_modification(std::string m) {
        return {400, "ConcurrentModificationException", std::move(m)};
    }
    static api_error access_denied(std::string m) { return {400, "AccessDeniedException", std::move(m)}; }
    static api_error invalid_source(std::string m) { return {400, "InvalidSourceException", std::move(m)}; }
    static api_error missing_authentication_token() {
        return {400, "MissingAuthenticationTokenException", "Missing Authentication Token"};
    }
    static api_error incomplete_signature(std::string m) {
        return {400, "IncompleteSignatureException", std::move(m)};
    }
    static api_error invalid_signature(std::string m) { return {400, "InvalidSignatureException", std::move(m)}; }
    static api_error request_too_large(std::string m) { return {413, "SerializationException", std::move(m)}; }
    static api_error service_unavailable(std::string m) {
        return {503, "ServiceUnavailableException", std::move(m)};
    }
    // Kinesis' modelled fault. kinesalite answers `{"__type":"InternalFailure"}`.
    static api_error internal(std::string m = "Internal Service Failure") {
        return {500, "InternalFailure", std::move(m)};
    }

private:
    int status_;
    std::string type_;
    std::string message_;
    bool capital_message_key_ = false;
};

}  // namespace kinesd
