#pragma once

// The live dashboard a node serves at `/` of its HTTP port: one HTML page
// with its CSS and script inline (no CDN), fed by the node's `/events`
// stream (runtime/http/node_http.hpp describes the samples).

#include <string_view>

namespace varsync::http {

/// The page. Never blocks; the text lives as long as the program.
std::string_view dashboard_page();

} // namespace varsync::http
