#pragma once

// Node flags on a CLI11 app (CLI11: Debian's libcli11-dev, header-only):
// `--config FILE` and one option per `node_config` key, such as
// `--heartbeat-interval DURATION`. CLI11 finds the flags and their values;
// `node_config::set` stays the one place that checks a value, and
// `detail::apply_config_file` the one that reads a config file, so a flag,
// a config-file line and a call in code accept the same text and fail with
// the same words. Internal: the public header node_config.hpp does not
// expose CLI11 (`parse_node_flags` is built on this); programs of this
// repository include it to add node flags next to their own.

#include "varsync/node_config.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>
#include <string_view>

namespace varsync::detail {

/// Applies the `key = value` lines of config file `file` to `config`
/// without validating the combination (flags applied afterwards may still
/// fix it). Errors name the file, the line and the key; `config` is
/// unchanged then. Blocks while reading the file.
expected<void> apply_config_file(const std::filesystem::path& file,
                                 node_config& config);

/// What `--help` shows for a key's value, e.g. "DURATION" for
/// "heartbeat-interval".
std::string value_placeholder(std::string_view key);

/// Whether a key is a boolean, so that a bare `--key` means true.
bool is_boolean_key(std::string_view key);

/// Stands for "no value given" (CLI11 hands an option given without one
/// its default string); no value a user types.
inline constexpr std::string_view missing_value = "\x01(missing)";

/// Adds `--KEY` for the `node_config` key `key` (with `help` and under
/// `group` in `--help`) to `app`, applied to `config` through
/// `node_config::set` when `app` parses (the last of a repeated flag wins;
/// a boolean key given bare is true). A bad value or a missing one throws
/// `CLI::ValidationError` naming the flag, e.g. "--port: 'x' is not a port
/// (expected an integer 0-65535)". `config` must outlive every parse of
/// `app`. Not thread-safe.
inline CLI::Option* add_node_option(CLI::App& app, node_config& config,
                                    const std::string& key,
                                    const std::string& help,
                                    const std::string& group) {
  auto boolean = is_boolean_key(key);
  return app
      .add_option(
          "--" + key,
          [&config, key, boolean](const CLI::results_t& values) {
            auto value = values.back();
            if (value == missing_value)
              throw CLI::ValidationError{"--" + key +
                                         ": missing value (expected --" + key +
                                         " " + value_placeholder(key) + ")"};
            if (auto applied = config.set(key, value); !applied)
              throw CLI::ValidationError{"--" + applied.error().message()};
            return true;
          },
          help)
      ->option_text(boolean ? "[" + value_placeholder(key) + "]"
                            : value_placeholder(key))
      ->expected(0, 1)
      ->default_str(boolean ? "true" : std::string{missing_value})
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->group(group);
}

/// Adds `--config FILE` and one option per key of `node_config::keys()` to
/// `app` (`add_node_option`), under "Node options" in its `--help`. When
/// `app` parses, the config files are applied to `config` first (in order,
/// wherever they appear), then each flag through `node_config::set`. The
/// caller checks the combination with `config.validate()` after parsing.
/// `config` must outlive every parse of `app`. Not thread-safe.
inline void add_node_options(CLI::App& app, node_config& config) {
  const std::string group = "Node options (also `key = value` lines in "
                            "--config FILE)";
  app.add_option(
         "--config",
         [&config](const CLI::results_t& files) {
           for (const auto& file : files) {
             if (file == missing_value)
               throw CLI::ValidationError{
                   "--config: missing value (expected --config FILE)"};
             if (auto applied = apply_config_file(file, config); !applied)
               throw CLI::ValidationError{applied.error().message()};
           }
           return true;
         },
         "a file of `key = value` lines with the keys below, applied before "
         "the flags wherever it appears")
      ->option_text("FILE")
      ->expected(0, 1)
      ->default_str(std::string{missing_value})
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group(group);
  for (const auto& [key, help] : node_config::keys())
    add_node_option(app, config, key, help, group);
}

} // namespace varsync::detail
