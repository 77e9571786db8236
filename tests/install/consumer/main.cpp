// Install smoke test: built against an installed varsync via
// find_package(varsync). Creates an embedded runtime, a group of two replicas
// and an on_write/sum variable, then reads the variable back.
// Prints "varsync consumer OK" and returns 0 on success.

#include <iostream>
#include <varsync/varsync.hpp>

int main() {
  varsync::runtime rt;
  auto group = rt.create_group("workers", 2);
  if (!group) {
    std::cerr << "create_group failed: " << group.error().message() << '\n';
    return 1;
  }
  varsync::variable_options opts;
  opts.sync = varsync::synchronization::on_write;
  opts.aggregation = varsync::aggregation::sum;
  auto w = rt.create_variable(*group, "w", varsync::tensor(1.0f), opts);
  if (!w) {
    std::cerr << "create_variable failed: " << w.error().message() << '\n';
    return 1;
  }
  auto value = rt.read(*w);
  if (!value) {
    std::cerr << "read failed: " << value.error().message() << '\n';
    return 1;
  }
  if (value->values<float>()[0] != 1.0f) {
    std::cerr << "read returned " << value->values<float>()[0]
              << ", expected 1\n";
    return 1;
  }
  std::cout << "varsync consumer OK\n";
  return 0;
}
