#pragma once
// The functions kinesd can invoke: a function NAME mapped to the URL that
// answers Lambda's Invoke for it (a Runtime Interface Emulator's
// `http://host:port/2015-03-31/functions/function/invocations`, or any
// server speaking the same request and answer).
//
// Callers name a function the ways Lambda's FunctionName accepts:
//   my-function                                             name
//   my-function:v1                                          name and qualifier
//   123456789012:function:my-function                       partial ARN
//   arn:aws:lambda:us-east-1:123456789012:function:my-function[:qualifier]
// A qualifier ($LATEST, a version number or an alias) is kept in the answer
// but selects the same URL: one URL serves every version of a function.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kinesd::functions {

struct function_ref {
    std::string name;
    std::string qualifier;  // empty: unqualified
    std::string region;     // empty: the caller gave none (name or partial ARN)
    std::string account;    // empty: the caller gave none
};

// Splits a FunctionName the way Lambda parses it. nullopt when it is none of
// the accepted forms (Lambda: ValidationException).
std::optional<function_ref> parse_function_name(std::string_view text);

// A function name Lambda accepts: 1-64 of [A-Za-z0-9_-].
bool valid_function_name(std::string_view name);

struct resolved_function {
    std::string name;
    std::string qualifier;
    std::string arn;  // unqualified function ARN in this server's region/account
    std::string url;
};

class function_registry {
public:
    function_registry() = default;
    function_registry(std::string region, std::string account_id, const std::map<std::string, std::string>& urls);

    // Adds or replaces one mapping. Throws std::invalid_argument for a name
    // Lambda would refuse or a URL that is not http://host:port/path.
    void add(const std::string& name, const std::string& url);

    // nullopt when the text is malformed, names another region or account,
    // or names a function that is not mapped (Lambda: ResourceNotFoundException).
    std::optional<resolved_function> resolve(std::string_view name_or_arn) const;

    std::string function_arn(const std::string& name) const;
    const std::map<std::string, std::string>& urls() const { return urls_; }
    bool empty() const { return urls_.empty(); }

private:
    std::string region_ = "us-east-1";
    std::string account_id_ = "000000000000";
    std::map<std::string, std::string> urls_;
};

// "NAME=URL,NAME=URL" (the KINESD_FUNCTIONS form) and "NAME=URL" (one
// --function flag) into the map. Throws std::invalid_argument.
std::map<std::string, std::string> parse_function_list(std::string_view text);

}  // namespace kinesd::functions
