// libFuzzer target for the CSV loader. Beyond "no crash, no sanitizer report", it checks
// properties a parser bug would break:
//   - feeding the same bytes in small chunks gives exactly the same result as in one piece;
//   - every planned row is valid (URL-safe ids, Meraki-shaped or empty serial, a known org),
//     rows keep increasing line numbers, and the counts add up.
// The first input byte selects the options (bit 0: --org O, bit 1: --shard K/3 with K from bits
// 4-5, bit 2: a 16-byte field cap, bit 3: an error cap of 3, bit 6: serial maps accepted); its
// value also picks the chunk size.
// The rest is the CSV.
#include "relicense/plan/csv.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

using namespace relicense::plan;

std::string digest(const load_result& r) {
  std::string s = r.plan.fingerprint + "|" + std::to_string(r.plan.rows.size()) + "|" +
                  std::to_string(r.plan.counts.input_rows) + "|" +
                  std::to_string(r.plan.counts.duplicates_dropped) + "|" +
                  std::to_string(r.plan.counts.serials_with_several) + "|" +
                  std::to_string(r.plan.counts.filtered_out) + "|" +
                  std::to_string(r.errors_not_shown) + "|" + std::to_string(r.warnings_not_shown) +
                  "\n";
  for (const auto& d : r.errors) s += to_string(d) + "\n";
  for (const auto& d : r.warnings) s += to_string(d) + "\n";
  for (const auto& row : r.plan.rows) s += std::to_string(row.line) + ":" + row.license_id + "\n";
  if (r.map)
    for (const auto& m : r.map->rows)
      s += std::to_string(m.line) + ":" + m.old_serial + ">" + m.new_serial + "\n";
  return s;
}

void check(bool ok) {
  if (!ok) std::abort();  // a property failed: libFuzzer saves the input
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t sel = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  load_options o;
  if (sel & 1) o.org = "O";
  if (sel & 2) o.shard = shard_spec{static_cast<std::uint32_t>((sel >> 4) % 3), 3};
  if (sel & 4) o.max_field_bytes = 16;
  if (sel & 8) o.max_errors = o.max_warnings = 3;
  if (sel & 64) o.accept_serial_map = true;

  const load_result whole = parse_plan(text, "fuzz.csv", o);

  const std::size_t chunk = 1 + sel % 7;
  plan_loader loader("fuzz.csv", o);
  for (std::size_t i = 0; i < text.size(); i += chunk) loader.feed(text.substr(i, chunk));
  const load_result chunked = loader.finish();
  check(digest(whole) == digest(chunked));

  const plan& p = whole.plan;
  check(p.fingerprint.size() == 16);
  // The note that reading stopped after too many errors is kept beyond the cap.
  check(whole.errors.size() <= o.max_errors + (whole.stopped_early ? 1 : 0) &&
        whole.warnings.size() <= o.max_warnings);
  if (whole.ok()) {
    check(p.counts.assigns + p.counts.unassigns == p.rows.size());
    check(p.counts.input_rows >=
          p.rows.size() + p.counts.duplicates_dropped + p.counts.filtered_out);
  }
  std::uint32_t last_line = 0;
  for (const row& r : p.rows) {
    check(r.line > last_line);
    last_line = r.line;
    check(r.org < p.orgs.size());
    check(rules::id_problem(r.license_id).empty());
    check(rules::id_problem(p.orgs[r.org]).empty());
    check(r.serial.empty() || rules::is_serial(r.serial));
  }
  // A serial map: no rows, and each serial valid and in one mapping only.
  check(!whole.map || (o.accept_serial_map && p.rows.empty()));
  if (whole.map) {
    last_line = 0;
    std::string seen = "|";
    for (const serial_mapping& m : whole.map->rows) {
      check(m.line > last_line);
      last_line = m.line;
      check(m.org < whole.map->orgs.size());
      check(rules::is_serial(m.old_serial) && rules::is_serial(m.new_serial) &&
            m.old_serial != m.new_serial);
      for (const std::string& serial : {m.old_serial, m.new_serial}) {
        check(seen.find("|" + serial + "|") == std::string::npos);
        seen += serial + "|";
      }
    }
  }
  return 0;
}
