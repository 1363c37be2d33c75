#include "metrics/exposition.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

namespace kinesd::metrics {

exposition::exposition(const std::string& version) : registry_(std::make_shared<prometheus::Registry>()) {
    prometheus::BuildGauge().Name("kinesd_up").Help("1 while kinesd serves").Register(*registry_).Add({}).Set(1);
    prometheus::BuildGauge()
        .Name("kinesd_build_info")
        .Help("kinesd's version, as a label; always 1")
        .Register(*registry_)
        .Add({{"version", version}})
        .Set(1);
}

std::string exposition::render() const {
    auto families = registry_->Collect();
    for (const auto& source : sources_) {
        auto more = source->Collect();
        families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace kinesd::metrics
