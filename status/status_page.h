// status_page.h — mw-status's page: plain HTML, CSS and JavaScript that fetch
// status.json (same origin, the page's own ?token= passed on) and render it
// with textContent only. Generated from page.html into the binary.
#pragma once

namespace mw::status {

const char* project_status_page();

}  // namespace mw::status
