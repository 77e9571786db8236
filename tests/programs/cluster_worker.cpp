// A node process for the multi-process tests (tests/cluster/). It starts a
// varsync node from node flags (--port, --join, --connection-timeout ...),
// joins replicas of one group and runs a scenario, reporting on stdout one
// line per event for the test to read:
//
//   listening <port>                     the node serves
//   http <port>                          its HTTP port (with --http-port)
//   result <line>                        policies: a workload result line
//   step <replica> <k> <value> <ns>      steps: step k completed at steady
//                                        clock ns (CLOCK_MONOTONIC, the same
//                                        clock in every process)
//   calling <replica> <k>                steps: about to make step k
//   error <replica> <k> <code> <ns>      steps: step k failed
//   retry <replica> <code> <us>          steps: the call after a failure
//   cross_read <replica> <code> <us>     steps: cross-replica read after it
//   local_read <replica> <value>         steps: local read after a failure
//   membership alive=<list> lost=<list> rejoined=<list>
//                                        steps: the group's membership
//   bad <what> <code>                    bad_update: a malformed update's
//                                        error, then the value after it
//   late <replica> <clock> <v0,v1,...>   late_ssp: read right after clock()
//                                        returned <clock>
//   late_error <replica> <call> <error>  late_ssp: a call failed
//   bulk_frames sent=N received=M        this node's bulk plane counters
//   done                                 the scenario finished
//
// Then it waits for SIGTERM or SIGINT and shuts down (exit status 0).
//
// Scenarios (--scenario):
//   policies    tests/support/cluster_workload.hpp on every policy
//               (--shards K: every variable created with K shards)
//   steps       on_write/mean steps of += (index + 1) on an f64 variable,
//               --steps N, --pace-ms P of simulated work per step; with
//               --stop-after K this process's replicas stop after K steps;
//               with --period K the variable is periodic (synchronized
//               every K-th update) instead of on_write; with
//               --elements N the variable is an f64 vector [N] whose
//               elements all change alike (checked after every step)
//   until_value on_write/sum steps of += 1 on an f64 variable until a read
//               after a step shows at least --until-value V (every replica
//               reads the same value after the same step, so all stop
//               together); --stop-after K stops this process's replicas
//               after K steps; with --hold-at K every replica waits before
//               step K until the process gets SIGUSR1 (a test lets the
//               survivors go on only once a restarted node rejoined);
//               prints "start <replica> <value>" first and
//               "step <replica> <k> <value>" per step. Before each step a
//               replica adds 1 to its copy of on_read/sum variable "c";
//               node-0 prints "count <cross-replica read of c>" at the end.
//               --with-ssp also creates bounded_staleness/sum variable "s"
//               (bound 2): each step a replica adds 1 to it and clocks
//               first; node-0 prints "ssp_total <cross-replica read of s>"
//               at the end (no catch_up: a rejoined replica's clock may
//               end below the others'; with the bulk plane off every push
//               reaches the seed before the step after it)
//   bad_update  sends updates with a wrong dtype, shape and op straight to
//               the variable actor, as a faulty remote replica would
//   late_ssp    every local replica clocks --clocks-before K times, then
//               the process creates bounded_staleness variable "late"
//               (i64 [group size], sum, --bound s); each replica adds
//               10 * c + replica + 1 to its own element at every clock c
//               from its current clock to K + --clocks-with-variable N
//               and reads right after each clock()
//   rehost      f64 variable "v" (sum) of --policy (periodic: every 2nd
//               update; bounded_staleness: bound 2, i64 [group size]
//               where replica q adds 1 to element q, printing "update <q>
//               <clock> 1 <ns>" after it and "read <q> <clock> <staleness>
//               <v0,v1,...> <ns>" before clock()), then on_write variable
//               "b" (the barrier): every replica makes --steps N updates
//               of v += 1, printing "step <replica> <k> <sum of a local
//               read of v> <ns>" (or "error <replica> <k> <code> <ns>" and
//               stops), then one step of
//               b += 1 (all replicas made their N updates once it
//               returns). The node of replica 0 then catches up
//               (bounded_staleness) and prints "final <cross-replica read of v,
//               or its error code>" and "host <node hosting v> <available
//               0|1>". With --hold-at K every replica waits before update K
//               until the process gets SIGUSR1 (a test kills a node while the
//               replicas update and lets them go on only then, however
//               late it sees their progress).
//   idle        joins no group; serves the remote tasks below
//
// Remote tasks every worker registers (node_config::tasks):
//   echo      returns "<node name>:<argument>"
//   sleep_ms  sleeps <argument> milliseconds (simulated work), returns "slept"

#include "actors/cluster_protocol.hpp"
#include "actors/records.hpp"
#include "runtime/cli/program_flags.hpp"
#include "runtime/node_flags.hpp"
#include "runtime/runtime_core.hpp"
#include "tests/support/cluster_workload.hpp"
#include "tests/support/ssp_tensors.hpp"

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <iostream>
#include <mutex>
#include <pthread.h>
#include <sstream>
#include <thread>
#include <varsync/varsync.hpp>

using namespace varsync;

namespace {

std::mutex output_mutex;

/// --hold-at: set once SIGUSR1 arrived (a thread waits for it).
std::mutex release_mutex;
std::condition_variable release_signal;
bool released = false;

void wait_for_release() {
  std::unique_lock lock{release_mutex};
  release_signal.wait(lock, [] { return released; });
}

void say(const std::string& line) {
  std::lock_guard guard{output_mutex};
  std::cout << line << std::endl;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string list(const std::vector<std::size_t>& values) {
  std::string result;
  for (auto value : values)
    result += (result.empty() ? "" : ",") + std::to_string(value);
  return result.empty() ? "-" : result;
}

/// "membership alive=<list> lost=<list> rejoined=<list>" (rejoined: the
/// indices that joined again after a loss).
std::string membership_line(const group_status& members) {
  std::vector<std::size_t> rejoined;
  for (const auto& replica : members.replicas)
    if (replica.rejoins > 0)
      rejoined.push_back(replica.index);
  return "membership alive=" + list(members.alive()) +
         " lost=" + list(members.lost()) + " rejoined=" + list(rejoined);
}

struct scenario_options {
  std::string scenario = "policies";
  std::size_t group_size = 6;
  std::vector<std::size_t> replicas;
  int steps = 100;
  int stop_after = -1;
  int pace_ms = 0;
  std::uint64_t period = 0;
  std::uint64_t clocks_before = 0;
  std::uint64_t clocks_with_variable = 6;
  std::uint64_t bound = 0;
  double until_value = 0;
  bool with_ssp = false;
  synchronization policy = synchronization::on_write;
  /// rehost: replicas wait before this update until SIGUSR1 (-1: never).
  int hold_at = -1;
  /// policies: variable_options::shards of every variable.
  std::uint32_t shards = 1;
  /// steps: the variable is an f64 vector of this many elements, every
  /// element updated alike (0: a scalar).
  std::int64_t elements = 0;
};

/// Adds the scenario flags (see the top of this file) to `app`, parsed
/// into `options` (and `policy`, the text of --policy).
void add_scenario_options(CLI::App& app, scenario_options& options,
                          std::string& policy) {
  app.add_option("--scenario", options.scenario, "what to run (see the source)")
      ->option_text("NAME");
  app.add_option("--group-size", options.group_size, "replicas of group g")
      ->option_text("COUNT");
  app.add_option("--replicas", options.replicas,
                 "the indices of the group this process holds")
      ->option_text("I[,I...]")
      ->delimiter(',');
  app.add_option("--steps", options.steps)->option_text("COUNT");
  app.add_option("--stop-after", options.stop_after)->option_text("COUNT");
  app.add_option("--pace-ms", options.pace_ms)->option_text("MS");
  app.add_option("--period", options.period)->option_text("COUNT");
  app.add_option("--clocks-before", options.clocks_before)
      ->option_text("COUNT");
  app.add_option("--clocks-with-variable", options.clocks_with_variable)
      ->option_text("COUNT");
  app.add_option("--bound", options.bound)->option_text("COUNT");
  app.add_option("--until-value", options.until_value)->option_text("VALUE");
  app.add_option("--with-ssp", options.with_ssp)->option_text("BOOL");
  app.add_option("--elements", options.elements)->option_text("COUNT");
  app.add_option("--shards", options.shards)->option_text("COUNT");
  app.add_option("--hold-at", options.hold_at)->option_text("STEP");
  app.add_option("--policy", policy)->option_text("POLICY");
}

void run_policies(runtime& rt, const replica_group& group,
                  const scenario_options& options) {
  for (const auto& line : test::run_policy_workload(rt, group, options.shards))
    say("result " + line);
}

void run_steps(runtime& rt, const replica_group& group,
               const scenario_options& options) {
  variable_options mean;
  mean.sync = options.period > 0 ? synchronization::periodic
                                 : synchronization::on_write;
  mean.period = options.period;
  mean.aggregation = aggregation::mean;
  // Every element of the variable holds the same value (a scalar, or
  // --elements of them: large enough to travel in parts).
  auto all_of = [&](double value) {
    return options.elements > 0
               ? *tensor::filled(dtype::f64, {options.elements}, value)
               : tensor(value);
  };
  auto w = rt.create_variable(group, "w", all_of(0.0), mean);
  if (!w) {
    say("error - - " + std::string{to_string(w.error().code())} + " 0");
    return;
  }
  std::vector<std::thread> threads;
  for (auto index : group.local_indices()) {
    threads.emplace_back([&, index] {
      auto r = *group.at(index);
      auto limit = options.stop_after >= 0 ? options.stop_after : options.steps;
      for (int k = 0; k < limit; ++k) {
        // Simulated work of a training step (not synchronization).
        std::this_thread::sleep_for(std::chrono::milliseconds{options.pace_ms});
        say("calling " + std::to_string(index) + " " + std::to_string(k));
        auto done = r.assign_add(*w, all_of(static_cast<double>(index + 1)));
        if (!done) {
          say("error " + std::to_string(index) + " " + std::to_string(k) + " " +
              to_string(done.error().code()) + " " +
              std::to_string(steady_ns()));
          auto start = std::chrono::steady_clock::now();
          auto again = r.assign_add(*w, all_of(1.0));
          auto took = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - start);
          say("retry " + std::to_string(index) + " " +
              (again ? std::string{"ok"} : to_string(again.error().code())) +
              " " + std::to_string(took.count()));
          // A cross-replica read goes through the host gateway: it must
          // fail at once too, not at its deadline.
          start = std::chrono::steady_clock::now();
          auto cross = rt.read(*w, std::chrono::seconds{5});
          took = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - start);
          say("cross_read " + std::to_string(index) + " " +
              (cross ? std::string{"ok"} : to_string(cross.error().code())) +
              " " + std::to_string(took.count()));
          auto local = r.read(*w);
          say("local_read " + std::to_string(index) + " " +
              (local ? std::to_string(local->values<double>()[0])
                     : to_string(local.error().code())));
          return;
        }
        auto value = r.read(*w);
        if (value) {
          auto elements = value->values<double>();
          if (std::adjacent_find(elements.begin(), elements.end(),
                                 std::not_equal_to<>{}) != elements.end()) {
            say("error " + std::to_string(index) + " " + std::to_string(k) +
                " uneven_elements " + std::to_string(steady_ns()));
            return;
          }
        }
        say("step " + std::to_string(index) + " " + std::to_string(k) + " " +
            (value ? std::to_string(value->values<double>()[0]) : "?") + " " +
            std::to_string(steady_ns()));
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  if (auto members = rt.membership(group, std::chrono::seconds{5}))
    say(membership_line(*members));
  else
    say("membership error " + std::string{to_string(members.error().code())});
}

void run_until_value(runtime& rt, const replica_group& group,
                     const scenario_options& options) {
  variable_options sum;
  sum.sync = synchronization::on_write;
  sum.aggregation = aggregation::sum;
  auto w = rt.create_variable(group, "w", tensor(0.0), sum);
  variable_options local_sum;
  local_sum.sync = synchronization::on_read;
  local_sum.aggregation = aggregation::sum;
  auto c = rt.create_variable(group, "c", tensor(0.0), local_sum);
  if (!w || !c) {
    say("error - - " + std::string{to_string((w ? c : w).error().code())} +
        " 0");
    return;
  }
  std::optional<variable> s;
  if (options.with_ssp) {
    variable_options ssp;
    ssp.sync = synchronization::bounded_staleness;
    ssp.aggregation = aggregation::sum;
    ssp.staleness_bound = 2;
    auto created = rt.create_variable(group, "s", tensor(0.0), ssp);
    if (!created) {
      say("error - - " + std::string{to_string(created.error().code())} + " 0");
      return;
    }
    s = *created;
  }
  std::vector<std::thread> threads;
  for (auto index : group.local_indices()) {
    threads.emplace_back([&, index] {
      auto r = *group.at(index);
      auto value_of = [&]() -> std::optional<double> {
        auto read = r.read(*w);
        if (!read)
          return std::nullopt;
        return read->values<double>()[0];
      };
      auto start = value_of();
      say("start " + std::to_string(index) + " " +
          (start ? std::to_string(*start) : "?"));
      auto limit = options.stop_after >= 0 ? options.stop_after : 1 << 30;
      for (int k = 0; k < limit; ++k) {
        if (k == options.hold_at)
          wait_for_release();
        // Simulated work of a training step (not synchronization).
        std::this_thread::sleep_for(std::chrono::milliseconds{options.pace_ms});
        auto counted = r.assign_add(*c, tensor(1.0));
        if (counted && s) {
          counted = r.assign_add(*s, tensor(1.0));
          if (counted)
            counted = r.clock();
          // A read after the clock (its staleness shows in the metrics).
          if (counted)
            if (auto read = r.read(*s); !read)
              counted = read.error();
        }
        auto done = counted ? r.assign_add(*w, tensor(1.0)) : counted;
        if (!done) {
          say("error " + std::to_string(index) + " " + std::to_string(k) + " " +
              to_string(done.error().code()) + " " +
              std::to_string(steady_ns()));
          return;
        }
        auto value = value_of();
        say("step " + std::to_string(index) + " " + std::to_string(k) + " " +
            (value ? std::to_string(*value) : "?"));
        if (value && *value >= options.until_value)
          break;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  if (rt.node_name() == "node-0") {
    auto count = rt.read(*c, std::chrono::seconds{5});
    say("count " + (count ? std::to_string(count->values<double>()[0])
                          : to_string(count.error().code())));
    if (s) {
      auto total = rt.read(*s, std::chrono::seconds{5});
      say("ssp_total " + (total ? std::to_string(total->values<double>()[0])
                                : to_string(total.error().code())));
    }
  }
  if (auto members = rt.membership(group, std::chrono::seconds{5}))
    say(membership_line(*members));
  else
    say("membership error " + std::string{to_string(members.error().code())});
}

/// The sum of `x`'s elements (f64 or i64).
double total_of(const tensor& x) {
  double total = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    total += x.to_double(i);
  return total;
}

void run_rehost(runtime& rt, const replica_group& group,
                const scenario_options& options) {
  variable_options how;
  how.sync = options.policy;
  how.aggregation = aggregation::sum;
  const bool ssp = how.sync == synchronization::bounded_staleness;
  if (how.sync == synchronization::periodic)
    how.period = 2;
  if (ssp)
    how.staleness_bound = 2;
  // bounded_staleness: i64 [group size], replica q adds to element q (the
  // history checker's workload, tests/support/ssp_history.hpp).
  // --shards K: v is sharded; a non-SSP v is then [K] and each update adds
  // 1 / K to every element (the same totals as the scalar's + 1).
  const bool sharded = options.shards > 1;
  auto shards = static_cast<std::int64_t>(options.shards);
  how.shards = options.shards;
  auto initial =
      ssp       ? *tensor::filled(dtype::i64,
                                  {static_cast<std::int64_t>(group.size())}, 0.0)
      : sharded ? *tensor::filled(dtype::f64, {shards}, 0.0)
                : tensor(0.0);
  auto one_update =
      sharded ? *tensor::filled(dtype::f64, {shards}, 1.0 / options.shards)
              : tensor(1.0);
  // The variable whose host the test loses: v, or v's first shard.
  auto hosted =
      sharded ? "v/shard-0-of-" + std::to_string(shards) : std::string{"v"};
  auto v = rt.create_variable(group, "v", initial, how);
  variable_options barrier_how;
  barrier_how.sync = synchronization::on_write;
  barrier_how.aggregation = aggregation::sum;
  auto b = rt.create_variable(group, "b", tensor(0.0), barrier_how);
  if (!v || !b) {
    say("error - - " + std::string{to_string((v ? b : v).error().code())} +
        " 0");
    return;
  }
  std::vector<std::thread> threads;
  for (auto index : group.local_indices()) {
    threads.emplace_back([&, index] {
      auto r = *group.at(index);
      auto fail = [&](int k, const error& why) {
        say("error " + std::to_string(index) + " " + std::to_string(k) + " " +
            to_string(why.code()) + " " + std::to_string(steady_ns()));
      };
      for (int k = 0; k < options.steps; ++k) {
        if (k == options.hold_at)
          wait_for_release();
        // Simulated work of a training step (not synchronization).
        std::this_thread::sleep_for(std::chrono::milliseconds{options.pace_ms});
        auto done =
            ssp ? r.assign_add(*v, test::one_hot(group.size(), index, 1))
                : r.assign_add(*v, one_update);
        if (!done)
          return fail(k, done.error());
        if (ssp) {
          say("update " + std::to_string(index) + " " + std::to_string(k) +
              " 1 " + std::to_string(steady_ns()));
          auto read = r.read_stamped(*v);
          if (!read)
            return fail(k, read.error());
          std::string elements;
          for (auto element : test::elements_of(read->value))
            elements += (elements.empty() ? "" : ",") + std::to_string(element);
          say("read " + std::to_string(index) + " " +
              std::to_string(read->clock) + " " +
              std::to_string(read->staleness) + " " + elements + " " +
              std::to_string(steady_ns()));
          if (auto clocked = r.clock(); !clocked)
            return fail(k, clocked.error());
        }
        auto value = r.read(*v);
        say("step " + std::to_string(index) + " " + std::to_string(k) + " " +
            (value ? std::to_string(total_of(*value)) : "?") + " " +
            std::to_string(steady_ns()));
      }
      if (auto passed = r.assign_add(*b, tensor(1.0)); !passed)
        say("error " + std::to_string(index) + " barrier " +
            to_string(passed.error().code()) + " " +
            std::to_string(steady_ns()));
    });
  }
  for (auto& thread : threads)
    thread.join();
  // The node of replica 0 reports the end.
  auto local = group.local_indices();
  if (std::find(local.begin(), local.end(), 0) == local.end())
    return;
  if (ssp)
    if (auto caught_up = group.at(group.local_indices().front())->catch_up();
        !caught_up)
      say("error - catch_up " +
          std::string{to_string(caught_up.error().code())});
  auto total = rt.read(*v, std::chrono::seconds{5});
  say("final " + (total ? std::to_string(total_of(*total))
                        : std::string{to_string(total.error().code())}));
  if (auto status = rt.status(std::chrono::seconds{5}))
    for (const auto& row : status->variables)
      if (row.name == hosted)
        say("host " + row.node + " " + (row.available ? "1" : "0"));
}

/// Sends `message` to the variable actor and reports the error code.
void send_bad(runtime& rt, const variable& var, const std::string& what,
              caf::message message) {
  caf::scoped_actor self{rt.core().system()};
  std::string code = "no_error";
  self->request(var.record()->current_actor(), std::chrono::seconds{5}, message)
      .receive([&](ok_atom) {},
               [&](caf::error& err) {
                 code = to_string(from_caf_error(err, what).code());
               });
  say("bad " + what + " " + code);
}

void run_late_ssp(runtime& rt, const replica_group& group,
                  const scenario_options& options) {
  auto fail = [](std::size_t index, const std::string& call, const error& err) {
    say("late_error " + std::to_string(index) + " " + call + " " +
        err.to_string());
  };
  std::vector<std::thread> threads;
  for (auto index : group.local_indices())
    threads.emplace_back([&, index] {
      auto r = group.at(index);
      for (std::uint64_t c = 0; r && c < options.clocks_before; ++c)
        if (auto done = r->clock(); !done)
          return fail(index, "clock", done.error());
    });
  for (auto& thread : threads)
    thread.join();
  threads.clear();
  variable_options ssp;
  ssp.sync = synchronization::bounded_staleness;
  ssp.aggregation = aggregation::sum;
  ssp.staleness_bound = options.bound;
  std::vector<std::int64_t> zeros(group.size(), 0);
  auto late = rt.create_variable(group, "late", tensor{zeros}, ssp);
  if (!late)
    return fail(0, "create_variable", late.error());
  auto last = options.clocks_before + options.clocks_with_variable;
  for (auto index : group.local_indices())
    threads.emplace_back([&, index] {
      auto r = group.at(index);
      if (!r)
        return fail(index, "at", r.error());
      for (auto c = r->stats().clock; c < last; ++c) {
        std::vector<std::int64_t> delta(group.size(), 0);
        delta[index] = static_cast<std::int64_t>(10 * c + index + 1);
        if (auto done = r->assign_add(*late, tensor{delta}); !done)
          return fail(index, "assign_add", done.error());
        if (auto done = r->clock(); !done)
          return fail(index, "clock", done.error());
        auto read = r->read_stamped(*late);
        if (!read)
          return fail(index, "read", read.error());
        std::string values;
        for (auto x : read->value.values<std::int64_t>())
          values += (values.empty() ? "" : ",") + std::to_string(x);
        say("late " + std::to_string(index) + " " +
            std::to_string(read->clock) + " " + values);
      }
    });
  for (auto& thread : threads)
    thread.join();
}

void run_bad_update(runtime& rt, const replica_group& group) {
  variable_options sum;
  sum.sync = synchronization::on_write;
  sum.aggregation = aggregation::sum;
  auto w = rt.create_variable(group, "w", *tensor::filled(dtype::f64, {3}, 1.0),
                              sum);
  if (!w) {
    say("bad create " + std::string{to_string(w.error().code())});
    return;
  }
  auto index = std::uint64_t{group.local_indices().front()};
  auto contribute = [&](tensor operand, std::uint8_t op) {
    return caf::make_message(contribute_atom::value, index, std::uint64_t{0},
                             op, std::move(operand), std::int64_t{2000});
  };
  send_bad(rt, *w, "dtype",
           contribute(*tensor::filled(dtype::f32, {3}, 1.0), 1));
  send_bad(rt, *w, "shape",
           contribute(*tensor::filled(dtype::f64, {4}, 1.0), 1));
  send_bad(rt, *w, "op", contribute(*tensor::filled(dtype::f64, {3}, 1.0), 9));
  send_bad(rt, *w, "cross_shape",
           caf::make_message(cross_update_atom::value, std::uint8_t{1},
                             *tensor::filled(dtype::f64, {2}, 1.0),
                             std::int64_t{2000}));
  auto value = rt.read(*w);
  say("bad value_after " +
      (value ? std::to_string(value->values<double>()[0]) + "," +
                   std::to_string(value->values<double>()[2])
             : to_string(value.error().code())));
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"A node process for the multi-process tests (see "
               "tests/programs/cluster_worker.cpp)"};
  varsync::cli::add_version_flag(app);
  // Tests append scenario flags to common ones: the last given wins.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  node_config config;
  varsync::detail::add_node_options(app, config);
  scenario_options options;
  std::string policy;
  add_scenario_options(app, options, policy);
  if (auto done = varsync::cli::parse_flags(app, argc, argv, &config))
    return *done;
  if (!policy.empty()) {
    auto parsed = synchronization_from_string(policy);
    if (!parsed) {
      std::cerr << "--policy: " << parsed.error().to_string() << '\n';
      return 2;
    }
    options.policy = *parsed;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t blocked = stop_signals;
  sigaddset(&blocked, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  // SIGUSR1 releases replicas held by --hold-at.
  std::thread{[] {
    sigset_t release;
    sigemptyset(&release);
    sigaddset(&release, SIGUSR1);
    int received = 0;
    sigwait(&release, &received);
    std::lock_guard guard{release_mutex};
    released = true;
    release_signal.notify_all();
  }}.detach();
  config.tasks["echo"] = [](runtime& node,
                            const std::string& arg) -> expected<std::string> {
    return node.node_name() + ":" + arg;
  };
  config.tasks["sleep_ms"] =
      [](runtime&, const std::string& arg) -> expected<std::string> {
    std::this_thread::sleep_for(std::chrono::milliseconds{std::stoi(arg)});
    return std::string{"slept"};
  };
  auto rt = runtime::start(config);
  if (!rt) {
    std::cerr << "start: " << rt.error().to_string() << '\n';
    return 1;
  }
  say("listening " + std::to_string((*rt)->port()));
  if ((*rt)->http_port() != 0)
    say("http " + std::to_string((*rt)->http_port()));
  auto group =
      options.scenario == "idle"
          ? expected<replica_group>{replica_group{}}
          : (*rt)->join_group("g", options.group_size, options.replicas);
  if (!group) {
    say("join_error " + group.error().to_string());
  } else if (options.scenario == "policies") {
    run_policies(**rt, *group, options);
  } else if (options.scenario == "steps") {
    run_steps(**rt, *group, options);
  } else if (options.scenario == "until_value") {
    run_until_value(**rt, *group, options);
  } else if (options.scenario == "rehost") {
    run_rehost(**rt, *group, options);
  } else if (options.scenario == "late_ssp") {
    run_late_ssp(**rt, *group, options);
  } else if (options.scenario == "bad_update") {
    run_bad_update(**rt, *group);
  }
  auto stats = (*rt)->stats();
  say("bulk_frames sent=" + std::to_string(stats.bulk_frames_sent) +
      " received=" + std::to_string(stats.bulk_frames_received));
  say("done");
  int received = 0;
  sigwait(&stop_signals, &received);
  rt->reset();
  return 0;
}
