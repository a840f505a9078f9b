// embedded_templates.h — the files of the top-level templates/ folder, built
// into mw-project-setup so an installed binary needs no data directory.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mw::setup {

// (file name, text) for mw_in.xml, mw_in_program.xml, mw_in_inline.xml,
// mw_in_inline_program.xml and mw_out.xml.
const std::vector<std::pair<std::string, std::string>>& embedded_templates();

}  // namespace mw::setup
