#include "runtime/node_secret.hpp"

#include <cstdlib>

namespace varsync::detail {

expected<node_secret> resolve_secret(const std::string& configured,
                                     bool may_generate) {
  node_secret result;
  result.path = configured;
  if (result.path.empty())
    if (const char* from_environment = std::getenv(secret_file_variable);
        from_environment != nullptr)
      result.path = from_environment; // empty: as if unset
  if (result.path.empty()) {
    if (!may_generate)
      return error{
          errc::unauthenticated,
          "no cluster secret: pass --secret-file FILE (node_config::"
          "secret_file) or set VARSYNC_SECRET_FILE to the file the seed "
          "uses (a seed started without one prints where it generated "
          "one)"};
    auto generated = auth::generate_secret_file();
    if (!generated)
      return generated.error();
    result.path = std::move(*generated);
    result.generated = true;
  }
  auto loaded = auth::load_secret(result.path);
  if (!loaded)
    return loaded.error();
  result.secret =
      std::make_shared<const auth::cluster_secret>(std::move(*loaded));
  return result;
}

} // namespace varsync::detail
