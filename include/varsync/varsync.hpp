#pragma once

/// Everything of varsync's public API except the Asio completion-token
/// forms, which live in <varsync/asio.hpp>.

#include "varsync/cluster_status.hpp"
#include "varsync/error.hpp"
#include "varsync/node_config.hpp"
#include "varsync/policy.hpp"
#include "varsync/remote_task.hpp"
#include "varsync/replica.hpp"
#include "varsync/runtime.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable.hpp"
#include "varsync/variable_options.hpp"
