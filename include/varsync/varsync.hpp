#pragma once

/// Everything of varsync's public API except the Asio completion-token
/// forms, which live in <varsync/asio.hpp>.

#include "varsync/error.hpp"
#include "varsync/policy.hpp"
#include "varsync/replica.hpp"
#include "varsync/runtime.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable.hpp"
#include "varsync/variable_options.hpp"
