#include "varsync/variable.hpp"

#include "actors/records.hpp"

namespace varsync {

const std::string& variable::name() const {
  return record_->name;
}

dtype variable::type() const {
  return record_->type;
}

const shape_type& variable::shape() const {
  return record_->shape;
}

const variable_options& variable::options() const {
  return record_->resolved;
}

const variable_options& variable::requested_options() const {
  return record_->requested;
}

const std::string& variable::group_name() const {
  return record_->group->name;
}

std::size_t variable::group_size() const {
  return record_->group->size;
}

std::string variable::description() const {
  if (!record_)
    return "invalid variable handle";
  return record_->name + ": " + to_string(record_->type) +
         to_string(record_->shape) + ", " +
         describe(record_->requested, record_->resolved) + ", " +
         std::to_string(record_->group->size) + " replicas of group " +
         record_->group->name;
}

} // namespace varsync
