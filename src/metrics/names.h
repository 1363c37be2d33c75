#pragma once
// CloudWatch's metric names turned into Prometheus names by one rule, so a
// reader who knows the CloudWatch name finds the Prometheus one:
//   prefix + "_" + the name in snake_case ('.' and CamelCase humps become
//   '_'; a digit stays with what it follows: DeliveryToS3 -> delivery_to_s3),
//   then "_total" for counters, "_milliseconds" for latency histograms and
//   "_seconds" for gauges measured in seconds.
#include <string>
#include <string_view>

namespace kinesd::metrics {

enum class kind { counter, gauge, gauge_seconds, histogram_ms };

std::string snake_case(std::string_view cloudwatch_name);
std::string prometheus_name(std::string_view prefix, std::string_view cloudwatch_name, kind k);

}  // namespace kinesd::metrics
