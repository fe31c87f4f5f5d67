#pragma once
// Subcommand dispatch for the herd executable.

namespace herd::cli {

/// Entry point of `herd`: dispatches to run, inspect, archive, target, version, help.
/// Returns the process exit code (k6's codes; see docs/exit-codes.md).
int main(int argc, char** argv);

}  // namespace herd::cli
