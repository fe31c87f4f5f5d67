// herd: one executable, many subcommands. All logic lives in libraries.
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "operator/controller.h"
#include "operator/kube_run.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "operator") == 0) {
    return herd::op::operator_main(std::vector<std::string>(argv + 2, argv + argc));
  }
  if (argc >= 2 && std::strcmp(argv[1], "kube") == 0) {
    return herd::op::kube_main(std::vector<std::string>(argv + 2, argv + argc));
  }
  return herd::cli::main(argc, argv);
}
