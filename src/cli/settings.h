// Every setting of recsys, declared once: name, type, default, bounds, help (STYLE.md rule 7).
// Modules never read these: the CLI turns them into each module's Options struct.
#pragma once

#include <span>

#include "core/config.h"

namespace recsys {

std::span<const SettingSpec> AllSettings();

}  // namespace recsys
