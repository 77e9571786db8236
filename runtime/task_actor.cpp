#include "runtime/task_actor.hpp"

#include "actors/caf_error.hpp"
#include "runtime/runtime_core.hpp"

#include <optional>
#include <vector>

namespace varsync::detail {

namespace {

struct task_state {
  std::optional<expected<std::string>> result;
  std::vector<caf::response_promise> waiting;
  static inline const char* name = "varsync.task";
};

using task_actor_type = caf::stateful_actor<task_state>;

caf::result<std::string> answer(const expected<std::string>& result) {
  if (result)
    return *result;
  return to_caf_error(result.error());
}

} // namespace

void register_tasks(caf::actor_system_config& config,
                    const std::map<std::string, task_function>& tasks,
                    std::function<runtime*()> node, thread_starter start_thread,
                    std::function<void(const caf::actor&)> adopt) {
  for (const auto& [name, function] : tasks) {
    auto body = function;
    auto task_name = name;
    config.add_actor_type(
        task_type_name(name), [body, task_name, node, start_thread, adopt](
                                  task_actor_type* self, std::string argument) {
          auto handle = caf::actor_cast<caf::actor>(self);
          adopt(handle);
          start_thread([body, task_name, node, argument, handle] {
            auto* rt = node();
            expected<std::string> result =
                rt == nullptr
                    ? expected<std::string>{error{
                          errc::shutting_down,
                          "task '" + task_name + "': the node is not running"}}
                    : body(*rt, argument);
            if (result)
              caf::anon_send(handle, task_done_atom::value, true, *result,
                             std::uint8_t{0});
            else
              caf::anon_send(handle, task_done_atom::value, false,
                             result.error().message(),
                             static_cast<std::uint8_t>(result.error().code()));
          });
          return caf::behavior{
              [self](task_done_atom, bool ok, std::string& text,
                     std::uint8_t code) {
                if (ok)
                  self->state.result.emplace(std::move(text));
                else
                  self->state.result.emplace(
                      error{static_cast<errc>(code), std::move(text)});
                for (auto& promise : self->state.waiting) {
                  const auto& result = *self->state.result;
                  if (result)
                    promise.deliver(*result);
                  else
                    promise.deliver(to_caf_error(result.error()));
                }
                self->state.waiting.clear();
              },
              [self](wait_atom) -> caf::result<std::string> {
                if (self->state.result)
                  return answer(*self->state.result);
                auto promise = self->make_response_promise();
                self->state.waiting.push_back(promise);
                return promise;
              },
          };
        });
  }
}

} // namespace varsync::detail
