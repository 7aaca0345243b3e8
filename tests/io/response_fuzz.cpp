// Fuzz target for everything relicense reads from a server: the JSON bodies (license, errors,
// license page, full license records, device page, organizations, action batch), the Link header,
// Location resolution and redaction. Built as a libFuzzer target with clang, and replayed over
// corpus/ by fuzz_replay_main.cpp in every build.
#include "relicense/io/json.hpp"
#include "relicense/io/link_header.hpp"
#include "relicense/io/redact.hpp"
#include "relicense/io/url.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // One parser across inputs, as a worker reuses it: state must not leak between documents.
  static relicense::io::response_parser parser;
  (void)parser.parse_license(input);
  (void)parser.parse_errors(input);
  (void)parser.parse_license_page(input);
  (void)parser.parse_action_batch(input);
  (void)parser.parse_license_records(input);
  (void)parser.parse_device_page(input);
  (void)parser.parse_organizations(input);
  (void)parser.parse_organization(input, true);
  // Raw text kept for `--json` is one whole object of the input.
  if (auto raw = parser.parse_license_records(input, true); raw.value) {
    for (const auto& l : *raw.value) {
      if (l.raw_json.size() < 2 || l.raw_json.front() != '{' || l.raw_json.back() != '}' ||
          input.find(l.raw_json) == std::string_view::npos) {
        std::abort();
      }
    }
  }
  (void)parser.describe_error(500, input);
  (void)relicense::io::is_json_content_type(input);

  (void)relicense::io::parse_link_header(input);
  if (auto next = relicense::io::next_link(input)) {
    (void)relicense::io::parse_absolute_url(*next);
  }
  static const relicense::io::location current{{true, "api.meraki.com", 443},
                                               "/api/v1/organizations/1/licenses/2"};
  if (auto loc = relicense::io::resolve_location(current, input); loc.value) {
    (void)relicense::io::redirect_allowed("api.meraki.com", loc.value->where);
  }
  (void)relicense::io::parse_base_url(input);
  (void)relicense::io::redact(input, input.substr(0, input.size() / 2));
  return 0;
}
