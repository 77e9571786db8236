#include "varsync/variable_options.hpp"

namespace varsync {

namespace {

error invalid(const std::string& variable_name, const std::string& what) {
  return error{errc::invalid_policy,
               "variable '" + variable_name + "': " + what};
}

} // namespace

expected<variable_options> resolve(const variable_options& options, dtype type,
                                   const std::string& variable_name) {
  auto result = options;
  if (result.sync == synchronization::automatic)
    result.sync = synchronization::on_write;
  if (result.sync == synchronization::on_read &&
      options.trainable.value_or(false))
    return invalid(variable_name,
                   "synchronization on_read cannot be combined with "
                   "trainable = true (on_read variables are not trained; "
                   "use on_write or leave trainable unset)");
  if (!result.trainable)
    result.trainable = result.sync != synchronization::on_read;
  if (result.aggregation == aggregation::mean && is_integer(type))
    return invalid(variable_name,
                   std::string{"aggregation mean cannot be used with dtype "} +
                       to_string(type) +
                       " (integer division would truncate; use sum or a "
                       "floating-point dtype)");
  if (result.sync == synchronization::bounded_staleness &&
      result.aggregation != aggregation::sum &&
      result.aggregation != aggregation::mean)
    return invalid(variable_name,
                   std::string{"synchronization bounded_staleness needs "
                               "aggregation sum or mean, got "} +
                       to_string(result.aggregation));
  if (result.sync == synchronization::periodic &&
      (result.aggregation == aggregation::min ||
       result.aggregation == aggregation::max))
    return invalid(variable_name,
                   std::string{"synchronization periodic adds up the "
                               "replicas' changes and cannot aggregate them "
                               "with "} +
                       to_string(result.aggregation) +
                       " (a minimum or maximum of changes is not a change of "
                       "the minimum or maximum); use on_write or on_read for "
                       "min and max, or sum, mean or only_first_replica");
  if (result.sync != synchronization::bounded_staleness &&
      result.staleness_bound != 0)
    return invalid(variable_name,
                   std::string{"staleness_bound is set but synchronization "
                               "is "} +
                       to_string(result.sync) +
                       "; only bounded_staleness has a staleness bound");
  if (result.sync == synchronization::periodic && result.period == 0)
    return invalid(variable_name,
                   "synchronization periodic needs a period k >= 1 "
                   "(variable_options::period: synchronize every k-th "
                   "update; k = 1 behaves as on_write)");
  if (result.sync != synchronization::periodic && result.period != 0)
    return invalid(variable_name,
                   std::string{"period is set but synchronization is "} +
                       to_string(result.sync) + "; only periodic has a period");
  return result;
}

std::string describe(const variable_options& requested,
                     const variable_options& resolved) {
  std::string result = to_string(resolved.sync);
  if (requested.sync == synchronization::automatic)
    result += " (resolved from automatic)";
  if (resolved.sync == synchronization::bounded_staleness) {
    result += " with staleness bound ";
    result += resolved.staleness_bound == unbounded_staleness
                  ? std::string{"unbounded"}
                  : std::to_string(resolved.staleness_bound);
  }
  if (resolved.sync == synchronization::periodic)
    result += " every " + std::to_string(resolved.period) + " updates";
  result += ", aggregation ";
  result += to_string(resolved.aggregation);
  result +=
      resolved.trainable.value_or(false) ? ", trainable" : ", not trainable";
  if (resolved.shards > 1) {
    result += ", " + std::to_string(resolved.shards) + " shards";
    if (requested.shards == 0)
      result += " (automatic)";
  }
  return result;
}

} // namespace varsync
