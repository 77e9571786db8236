#include "tests/support/cluster_workload.hpp"

#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

namespace varsync::test {

namespace {

/// Collects result lines from the replica threads.
class result_lines {
public:
  void add(std::string line) {
    std::lock_guard guard{mutex_};
    lines_.push_back(std::move(line));
  }

  std::vector<std::string> take() {
    std::lock_guard guard{mutex_};
    return std::move(lines_);
  }

private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

std::string render(const tensor& value) {
  if (value.type() == dtype::i64)
    return std::to_string(value.values<std::int64_t>()[0]);
  char text[64];
  std::snprintf(text, sizeof text, "%.17g",
                value.type() == dtype::f64
                    ? value.values<double>()[0]
                    : static_cast<double>(value.values<float>()[0]));
  return text;
}

/// A [rows, columns] f64 table as one number that any change of any
/// element changes: the sum of (k + 1) x_k over its elements (exact for
/// the small integer-valued tables of the row cases).
std::string render_table(const expected<tensor>& table) {
  if (!table)
    return std::string{"error:"} + to_string(table.error().code());
  double sum = 0;
  auto values = table->values<double>();
  for (std::size_t k = 0; k < values.size(); ++k)
    sum += static_cast<double>(k + 1) * values[k];
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", sum);
  return text;
}

template <class T> std::string render(const expected<T>& result) {
  if (!result)
    return std::string{"error:"} + to_string(result.error().code());
  if constexpr (std::is_same_v<T, tensor>)
    return render(*result);
  else
    return "ok";
}

variable_options options_of(synchronization sync, aggregation how,
                            std::uint64_t bound = 0) {
  variable_options options;
  options.sync = sync;
  options.aggregation = how;
  if (bound != 0)
    options.staleness_bound = bound;
  return options;
}

/// Runs `body(replica)` on a thread per local replica of `group`.
void on_local_replicas(const replica_group& group,
                       const std::function<void(replica&)>& body) {
  std::vector<std::thread> threads;
  for (auto index : group.local_indices())
    threads.emplace_back([&group, &body, index] {
      auto handle = group.at(index);
      if (handle)
        body(*handle);
    });
  for (auto& thread : threads)
    thread.join();
}

std::string at(const replica& r) {
  return " replica=" + std::to_string(r.index()) + " ";
}

} // namespace

std::vector<std::string> run_policy_workload(runtime& rt,
                                             const replica_group& group,
                                             std::uint32_t shards) {
  result_lines out;
  auto fail = [&](const std::string& what, const error& err) {
    out.add(what + " error:" + to_string(err.code()));
  };
  auto make = [&](const std::string& name, tensor initial,
                  variable_options options) -> std::optional<variable> {
    options.shards = shards;
    auto var = rt.create_variable(group, name, initial, options);
    if (!var) {
      fail(name + " create", var.error());
      return std::nullopt;
    }
    return *var;
  };
  auto ow_sum = make("ow_sum_assign", tensor(0.0),
                     options_of(synchronization::on_write, aggregation::sum));
  auto ow_mean = make("ow_mean_add", tensor(5.0),
                      options_of(synchronization::on_write, aggregation::mean));
  auto ow_first = make(
      "ow_first", tensor(0.0),
      options_of(synchronization::on_write, aggregation::only_first_replica));
  auto ow_steps = make("ow_sum_steps", tensor(std::int64_t{0}),
                       options_of(synchronization::on_write, aggregation::sum));
  auto or_sum = make("or_sum", tensor(0.0),
                     options_of(synchronization::on_read, aggregation::sum));
  auto or_mean = make("or_mean", tensor(0.0),
                      options_of(synchronization::on_read, aggregation::mean));
  auto or_first = make(
      "or_first", tensor(0.0),
      options_of(synchronization::on_read, aggregation::only_first_replica));
  auto ssp =
      make("ssp", tensor(std::int64_t{0}),
           options_of(synchronization::bounded_staleness, aggregation::sum, 1));
  auto none = make("none", tensor(std::int64_t{0}),
                   options_of(synchronization::none, aggregation::none));
  // Row updates: [20, 3] tables, three steps of rows chosen by replica
  // index and step (a repeated row in each); on_write sends row deltas.
  const auto table = *tensor::filled(dtype::f64, {20, 3}, 0);
  auto ow_rows_sum =
      make("ow_rows_sum", table,
           options_of(synchronization::on_write, aggregation::sum));
  auto ow_rows_mean =
      make("ow_rows_mean", table,
           options_of(synchronization::on_write, aggregation::mean));
  auto or_rows = make("or_rows", table,
                      options_of(synchronization::on_read, aggregation::sum));
  // bounded_staleness pushes each clock's rows as rows.
  auto ssp_rows = make(
      "ssp_rows", table,
      options_of(synchronization::bounded_staleness, aggregation::mean, 1));
  // assign_rows (TF's scatter_update) on on_write: row steps that set.
  auto ow_rows_set = make(
      "ow_rows_set", table,
      options_of(synchronization::on_write, aggregation::only_first_replica));
  // A collective step of this variable completes only when every replica
  // of every process made it: a barrier across processes.
  auto barrier = make("barrier", tensor(std::int64_t{0}),
                      options_of(synchronization::on_write, aggregation::sum));
  if (!ow_sum || !ow_mean || !ow_first || !ow_steps || !or_sum || !or_mean ||
      !or_first || !ssp || !none || !barrier || !ow_rows_sum || !ow_rows_mean ||
      !or_rows || !ssp_rows || !ow_rows_set)
    return out.take();
  const auto one = tensor(std::int64_t{1});
  on_local_replicas(group, [&](replica& r) {
    auto index = static_cast<double>(r.index());
    auto index_i = static_cast<std::int64_t>(r.index());
    // on_write: per-replica assign 2.0 with sum, +1.0 with mean, index
    // with only_first_replica, three steps of += index + 1 with sum.
    out.add("ow_sum_assign" + at(r) + render(r.assign(*ow_sum, tensor(2.0))));
    out.add("ow_sum_assign" + at(r) + render(r.read(*ow_sum)));
    out.add("ow_mean_add" + at(r) +
            render(r.assign_add(*ow_mean, tensor(1.0))));
    out.add("ow_mean_add" + at(r) + render(r.read(*ow_mean)));
    out.add("ow_first" + at(r) + render(r.assign(*ow_first, tensor(index))));
    out.add("ow_first" + at(r) + render(r.read(*ow_first)));
    for (int step = 0; step < 3; ++step)
      if (auto done = r.assign_add(*ow_steps, tensor(index_i + 1)); !done)
        fail("ow_sum_steps" + at(r), done.error());
    out.add("ow_sum_steps" + at(r) + render(r.read(*ow_steps)));
    // on_read: local copies hold the index; cross reads come below.
    for (auto* var : {&*or_sum, &*or_mean, &*or_first}) {
      if (auto done = r.assign(*var, tensor(index)); !done)
        fail(var->name() + at(r), done.error());
      out.add(var->name() + at(r) + render(r.read(*var)));
    }
    // bounded_staleness s = 1: 20 clocks of += index + 1, then catch up.
    for (int clock = 0; clock < 20; ++clock) {
      if (auto added = r.assign_add(*ssp, tensor(index_i + 1)); !added)
        fail("ssp add" + at(r), added.error());
      if (auto ticked = r.clock(); !ticked)
        fail("ssp clock" + at(r), ticked.error());
    }
    if (auto caught = r.catch_up(); !caught)
      fail("ssp catch_up" + at(r), caught.error());
    out.add("ssp" + at(r) + render(r.read(*ssp)));
    out.add("ssp_staleness_within_bound" + at(r) +
            (r.stats().max_staleness <= 1 ? "yes" : "no"));
    // none: local only.
    out.add("none" + at(r) + render(r.assign(*none, tensor(index_i))));
    out.add("none" + at(r) + render(r.read(*none)));
    // Row updates on every row policy, then the whole table and a few
    // rows read back.
    for (auto* var : {&*ow_rows_sum, &*ow_rows_mean, &*or_rows, &*ssp_rows,
                      &*ow_rows_set}) {
      bool stale = var == &*ssp_rows;
      bool sets = var == &*ow_rows_set;
      for (std::int64_t step = 0; step < 3; ++step) {
        std::vector<std::int64_t> rows{index_i % 20, (index_i * 7 + step) % 20,
                                       index_i % 20};
        std::vector<double> values;
        for (std::size_t i = 0; i < rows.size() * 3; ++i)
          values.push_back(static_cast<double>(index_i + step + i % 4));
        auto update = *tensor::from_values<double>(values, shape_type{3, 3});
        if (auto done = sets ? r.assign_rows(*var, rows, update)
                             : r.assign_add_rows(*var, rows, update);
            !done)
          fail(var->name() + at(r), done.error());
        if (stale)
          if (auto ticked = r.clock(); !ticked)
            fail(var->name() + " clock" + at(r), ticked.error());
      }
      // SSP: every replica's rows are in once all clocked.
      if (stale)
        if (auto caught = r.catch_up(); !caught)
          fail(var->name() + " catch_up" + at(r), caught.error());
      out.add(var->name() + at(r) + render_table(r.read(*var)));
      std::vector<std::int64_t> some{19, 0, 7};
      out.add(var->name() + " rows" + at(r) +
              render_table(r.read_rows(*var, some)));
    }
    // Every process's replicas finished their local writes.
    if (auto passed = r.assign_add(*barrier, one); !passed)
      fail("barrier" + at(r), passed.error());
  });
  for (auto* var : {&*ow_sum, &*ow_mean, &*ow_first, &*ow_steps, &*or_sum,
                    &*or_mean, &*or_first, &*ssp, &*none})
    out.add(var->name() + " cross " + render(rt.read(*var)));
  for (auto* var :
       {&*ow_rows_sum, &*ow_rows_mean, &*or_rows, &*ssp_rows, &*ow_rows_set})
    out.add(var->name() + " cross " + render_table(rt.read(*var)));
  // Cross-replica rows (on_write: only the rows travel, from the variable
  // actor, wherever it runs).
  for (auto* var : {&*ow_rows_sum, &*ow_rows_mean, &*ow_rows_set}) {
    std::vector<std::int64_t> some{19, 0, 7, 0};
    out.add(var->name() + " cross rows " +
            render_table(rt.read_rows(*var, some)));
  }
  // Nobody leaves before every process made its cross-replica reads.
  on_local_replicas(group, [&](replica& r) {
    if (auto passed = r.assign_add(*barrier, one); !passed)
      fail("final barrier" + at(r), passed.error());
  });
  return out.take();
}

std::set<std::string> reference_lines(std::size_t replicas) {
  runtime rt;
  auto group = rt.create_group("g", replicas);
  if (!group)
    return {"reference: " + group.error().to_string()};
  auto lines = run_policy_workload(rt, *group);
  return {lines.begin(), lines.end()};
}

std::set<std::string> printed_results(std::vector<child_process>& nodes) {
  std::set<std::string> lines;
  for (auto& node : nodes) {
    auto output = node.output();
    std::size_t start = 0;
    for (auto end = output.find('\n'); end != std::string::npos;
         start = end + 1, end = output.find('\n', start)) {
      auto line = output.substr(start, end - start);
      if (line.rfind("result ", 0) == 0)
        lines.insert(line.substr(7));
    }
  }
  return lines;
}

} // namespace varsync::test
