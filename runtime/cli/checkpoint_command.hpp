#pragma once

// `varsync checkpoint inspect DIR`: what whole-job checkpoints hold
// (runtime/job_checkpoint.hpp).

#include <string>
#include <vector>

/// Runs `varsync checkpoint ARGS...`; returns the exit status (0, 1 when a
/// checkpoint is damaged or none is found, 2 on a usage error). Blocking.
int run_checkpoint(const std::vector<std::string>& args);
