#pragma once

#include <torch/serialize/input-archive.h>

#include <string>

namespace octrain::methods {

// One naming scheme for what a method records or saves per stage: "stage<t>.<name>", in step
// statistics (metrics.jsonl) and in checkpoint keys alike.
std::string stage_key(size_t t, const std::string& name);

// The key stage t's tensor `name` has in `archive`: stage_key(t, name), or `legacy` (its key in
// checkpoints written before the scheme) when only that one is there, so old checkpoints load.
std::string stored_stage_key(torch::serialize::InputArchive& archive, size_t t,
                             const std::string& name, const std::string& legacy);

}  // namespace octrain::methods
