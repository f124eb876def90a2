// What this binary is: version and the git commit it was configured from (for checkpoint provenance).
#pragma once

namespace emogene {

const char* version_string();  // "0.1.0"
const char* git_commit();      // short hash, "unknown" outside a git checkout

}  // namespace emogene
