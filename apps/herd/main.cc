// herd: one executable, many subcommands. All logic lives in libraries.
#include "cli/commands.h"

int main(int argc, char** argv) { return herd::cli::main(argc, argv); }
