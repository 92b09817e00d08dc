#pragma once

namespace octrain {
// Facts fixed when the build was configured.
const char* version();
const char* git_revision();
// Where scripts/setup.sh installs data; OCTRAIN_DATA_DIR overrides it at run time.
const char* default_data_dir();
}  // namespace octrain
