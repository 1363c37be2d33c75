#pragma once
// The /metrics answer: every collectable's families in the Prometheus text
// format (version 0.0.4), through prometheus-cpp's TextSerializer. kinesd
// serves it on its own port; prometheus-cpp's civetweb exposer is not used.
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/registry.h>

namespace kinesd::metrics {

inline constexpr const char* exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";

class exposition {
public:
    // Registers kinesd_up and kinesd_build_info{version}.
    explicit exposition(const std::string& version);

    // Collected at every render(), after the fixed families; must outlive this.
    void add(std::shared_ptr<prometheus::Collectable> source) { sources_.push_back(std::move(source)); }
    std::string render() const;

private:
    std::shared_ptr<prometheus::Registry> registry_;
    std::vector<std::shared_ptr<prometheus::Collectable>> sources_;
};

}  // namespace kinesd::metrics
