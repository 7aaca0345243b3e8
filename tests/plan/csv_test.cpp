// The CSV loader: one test per rule of docs/csv.md, then a corpus of nasty inputs.
#include "relicense/plan/csv.hpp"

#include "relicense/plan/hash.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/stat.h>

namespace {

using relicense::plan::load_options;
using relicense::plan::load_result;
using relicense::plan::parse_plan;
using relicense::plan::to_string;

load_result load(std::string_view text, load_options opts = {}) {
  return parse_plan(text, "in.csv", opts);
}

load_options with_org(std::string org) {
  load_options o;
  o.org = std::move(org);
  return o;
}

std::string all_errors(const load_result& r) {
  std::string s;
  for (const auto& d : r.errors) s += to_string(d) + "\n";
  return s;
}

bool has_error(const load_result& r, std::string_view needle) {
  return all_errors(r).find(needle) != std::string::npos;
}

constexpr const char* s1 = "Q2AA-BBBB-CCCC";
constexpr const char* s2 = "Q2AA-BBBB-DDDD";

}  // namespace

// A plain file yields rows in input order with their line numbers, org and upper-case serial.
TEST(PlanCsv, BasicRowsKeepLines) {
  auto r =
      load("licenseId,deviceSerial,organizationId\nL1,q2aa-bbbb-cccc,O1\nL2,Q2AA-BBBB-DDDD,O2\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.plan.rows.size(), 2u);
  EXPECT_EQ(r.plan.rows[0].line, 2u);
  EXPECT_EQ(r.plan.rows[0].license_id, "L1");
  EXPECT_EQ(r.plan.rows[0].serial, s1);
  EXPECT_EQ(r.plan.orgs[r.plan.rows[0].org], "O1");
  EXPECT_EQ(r.plan.rows[1].line, 3u);
  EXPECT_EQ(r.plan.orgs[r.plan.rows[1].org], "O2");
  EXPECT_EQ(r.plan.counts.input_rows, 2u);
  EXPECT_EQ(r.plan.counts.assigns, 2u);
  EXPECT_EQ(r.plan.orgs.size(), 2u);
}

// Header names are case-insensitive and every documented alias is accepted.
TEST(PlanCsv, HeaderAliasesCaseInsensitive) {
  for (const char* header : {"license_id,serial,org", "ID,Device_Serial,Organization_ID",
                             "LICENSEID,DEVICESERIAL,ORGANIZATIONID", " id , serial , org "}) {
    auto r = load(std::string(header) + "\nL1," + s1 + ",O1\n");
    ASSERT_TRUE(r.ok()) << header << "\n" << all_errors(r);
    EXPECT_EQ(r.plan.rows.size(), 1u) << header;
  }
}

// Extra columns are ignored, whatever their position or content.
TEST(PlanCsv, ExtraColumnsIgnored) {
  auto r = load(std::string("note,deviceSerial,x,licenseId,y\n\"a,\"\"b\"\"\",") + s1 +
                    ",zz,L1,\"multi\nline\"\n",
                with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.plan.rows.size(), 1u);
  EXPECT_EQ(r.plan.rows[0].license_id, "L1");
  EXPECT_EQ(r.plan.rows[0].serial, s1);
}

// Without an org column, --org is required...
TEST(PlanCsv, OrgRequiredWithoutColumn) {
  auto r = load(std::string("licenseId,deviceSerial\nL1,") + s1 + "\n");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, "in.csv:1: no organizationId column and no --org")) << all_errors(r);
}

// ...and gives every row its org.
TEST(PlanCsv, OrgOptionFillsRows) {
  auto r = load(std::string("licenseId,deviceSerial\nL1,") + s1 + "\n", with_org("O9"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.plan.orgs.size(), 1u);
  EXPECT_EQ(r.plan.orgs[0], "O9");
}

// With an org column, --org filters to that org (and defaults empty cells to it).
TEST(PlanCsv, OrgOptionFiltersWithColumn) {
  auto r = load(std::string("licenseId,deviceSerial,org\nL1,") + s1 + ",A\nL2," + s1 + ",B\nL3,,\n",
                with_org("B"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.plan.rows.size(), 2u);
  EXPECT_EQ(r.plan.rows[0].license_id, "L2");
  EXPECT_EQ(r.plan.rows[1].license_id, "L3");
  EXPECT_EQ(r.plan.counts.filtered_out, 1u);
  EXPECT_EQ(r.plan.orgs, std::vector<std::string>{"B"});
}

// An empty org cell without --org is an error naming the column.
TEST(PlanCsv, EmptyOrgCellWithoutOption) {
  auto r = load("licenseId,deviceSerial,organizationId\nL1,,\n");
  EXPECT_TRUE(has_error(r, "in.csv:2: column 3 (organizationId): empty")) << all_errors(r);
}

// Quoted fields: "" escapes, separators and line breaks inside quotes; line numbers stay physical.
TEST(PlanCsv, Rfc4180Quoting) {
  auto r = load(std::string("licenseId,deviceSerial,note\n\"L,1\",\"") + s1 +
                    "\",\"a\nb\r\nc\"\nL2,,\"x\"\"y\"\n",
                with_org("O"));
  // "L,1" contains no forbidden character for a URL path except... nothing: ',' is allowed.
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.plan.rows.size(), 2u);
  EXPECT_EQ(r.plan.rows[0].license_id, "L,1");
  EXPECT_EQ(r.plan.rows[1].line, 5u);  // the note of line 2 spans lines 2-4
}

// A UTF-8 byte-order mark before the header is skipped.
TEST(PlanCsv, Utf8Bom) {
  auto r = load(std::string("\xEF\xBB\xBFlicenseId,deviceSerial\nL1,") + s1 + "\n", with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.plan.rows.size(), 1u);
}

// CRLF and LF both end records; CRLF counts as one line.
TEST(PlanCsv, CrlfAndLf) {
  auto r = load(std::string("licenseId,deviceSerial\r\nL1,") + s1 + "\r\nL2," + s2 + "\nL3,\r\n",
                with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.plan.rows.size(), 3u);
  EXPECT_EQ(r.plan.rows[2].line, 4u);
  EXPECT_EQ(r.plan.rows[1].serial, s2);
}

// Blank lines (trailing or in between) are skipped; a last record without a newline counts.
TEST(PlanCsv, BlankLinesAndNoFinalNewline) {
  auto r = load(std::string("\nlicenseId,deviceSerial\n\nL1,") + s1 + "\n  \n\r\nL2," + s2,
                with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.plan.rows.size(), 2u);
  EXPECT_EQ(r.plan.rows[0].line, 4u);
  EXPECT_EQ(r.plan.rows[1].line, 7u);
}

// Whitespace around unquoted fields is trimmed; inside quotes it is kept (and then invalid).
TEST(PlanCsv, WhitespaceTrimmedUnlessQuoted) {
  auto r = load(std::string("licenseId,deviceSerial\n  L1 \t, ") + s1 + " \n", with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.plan.rows[0].license_id, "L1");
  auto q = load("licenseId,deviceSerial\n\" L1\",\n", with_org("O"));
  EXPECT_TRUE(has_error(q, "in.csv:2: column 1 (licenseId): \" L1\" contains a space"))
      << all_errors(q);
}

// An empty serial means unassign.
TEST(PlanCsv, EmptySerialIsUnassign) {
  auto r = load("licenseId,deviceSerial\nL1,\nL2,\"\"\n", with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.plan.counts.unassigns, 2u);
  EXPECT_EQ(r.plan.counts.assigns, 0u);
  EXPECT_TRUE(r.plan.rows[0].serial.empty());
}

// Serials are upper-cased and must have the Meraki shape.
TEST(PlanCsv, SerialShape) {
  auto r = load(
      "licenseId,deviceSerial\nL1,q2aa-bbbb-cccc\nL2,Q2AA-BBBB\nL3,Q2AA_BBBB_CCCC\nL4,Q2AA-BBBB-"
      "CCCCC\n"
      "L5,Q2ÄA-BBBB-CCC\n",
      with_org("O"));
  EXPECT_EQ(r.error_count(), 4u) << all_errors(r);
  EXPECT_TRUE(has_error(r, "in.csv:3: column 2 (deviceSerial): invalid serial \"Q2AA-BBBB\""));
  EXPECT_TRUE(has_error(r, "in.csv:4: column 2 (deviceSerial): invalid serial"));
  EXPECT_TRUE(has_error(r, "in.csv:5: column 2 (deviceSerial)"));
  EXPECT_TRUE(has_error(r, "in.csv:6: column 2 (deviceSerial)"));
  EXPECT_EQ(r.plan.rows.at(0).serial, s1);
}

// License and org ids must be non-empty and free of / ? # space and control characters.
TEST(PlanCsv, IdCharacters) {
  auto r = load(
      "licenseId,deviceSerial,org\n,,O\na/b,,O\na?b,,O\na#b,,O\na b,,O\n\"a\tb\",,O\nok,,O/1\n",
      {});
  EXPECT_EQ(r.error_count(), 7u) << all_errors(r);
  EXPECT_TRUE(has_error(r, "in.csv:2: column 1 (licenseId): license id is empty"));
  EXPECT_TRUE(has_error(r, "in.csv:3: column 1 (licenseId): \"a/b\" contains '/'"));
  EXPECT_TRUE(has_error(r, "in.csv:4: column 1 (licenseId): \"a?b\" contains '?'"));
  EXPECT_TRUE(has_error(r, "in.csv:5: column 1 (licenseId): \"a#b\" contains '#'"));
  EXPECT_TRUE(has_error(r, "in.csv:6: column 1 (licenseId): \"a b\" contains a space"));
  EXPECT_TRUE(
      has_error(r, "in.csv:7: column 1 (licenseId): \"a\\x09b\" contains a control character"));
  EXPECT_TRUE(has_error(r, "in.csv:8: column 3 (org): \"O/1\" contains '/'"));
}

// An invalid --org is reported even though it comes from the command line.
TEST(PlanCsv, InvalidOrgOption) {
  auto r = load("licenseId,deviceSerial\nL1,\n", with_org("a/b"));
  EXPECT_TRUE(has_error(r, "--org \"a/b\" contains '/'")) << all_errors(r);
}

// The same license twice with the same serial is dropped, counted and warned about.
TEST(PlanCsv, DuplicateSameSerialDropped) {
  auto r = load(std::string("licenseId,deviceSerial\nL1,") + s1 + "\nL2,\nL1," + s1 + "\nL2,\n",
                with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.plan.rows.size(), 2u);
  EXPECT_EQ(r.plan.counts.duplicates_dropped, 2u);
  EXPECT_EQ(r.plan.counts.input_rows, 4u);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(to_string(r.warnings[0]),
            "in.csv:4: column 1 (licenseId): license \"L1\" repeated with the same serial (first "
            "on line 2); "
            "the repeat is dropped");
}

// The same license with two serials is an error naming both lines.
TEST(PlanCsv, DuplicateConflictNamesBothLines) {
  auto r = load(std::string("licenseId,deviceSerial\nL1,") + s1 + "\nL2,\nL1," + s2 + "\n",
                with_org("O"));
  EXPECT_EQ(r.error_count(), 1u);
  EXPECT_TRUE(has_error(r,
                        "in.csv:4: column 1 (licenseId): license \"L1\" has conflicting serials: "
                        "\"Q2AA-BBBB-CCCC\" on line 2 and \"Q2AA-BBBB-DDDD\" on line 4"))
      << all_errors(r);
}

// The same license id in two orgs is two different licenses.
TEST(PlanCsv, SameLicenseInTwoOrgsIsNotAConflict) {
  auto r = load(std::string("licenseId,deviceSerial,org\nL1,") + s1 + ",A\nL1," + s2 + ",B\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.plan.rows.size(), 2u);
}

// Several licenses on one serial are legal and counted once per serial.
TEST(PlanCsv, SeveralLicensesOnOneSerialCounted) {
  auto r = load(std::string("licenseId,deviceSerial\nL1,") + s1 + "\nL2," + s1 + "\nL3," + s1 +
                    "\nL4," + s2 + "\nL5," + s2 + "\nL6,Q2AA-BBBB-EEEE\n",
                with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.plan.counts.serials_with_several, 2u);
  EXPECT_EQ(r.plan.counts.assigns, 6u);
}

// All errors are collected, in file order, up to the cap; the rest are counted.
TEST(PlanCsv, ErrorsCollectedAndCapped) {
  std::string text = "licenseId,deviceSerial\n";
  for (int i = 0; i < 50; ++i) text += "L" + std::to_string(i) + ",bad\n";
  load_options o = with_org("O");
  o.max_errors = 5;
  auto r = load(text, o);
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(r.errors_not_shown, 45u);
  EXPECT_EQ(r.error_count(), 50u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_EQ(r.errors[4].line, 6u);
}

// The missing-column error names the header line, the accepted names, and hints at data-as-header.
TEST(PlanCsv, MissingColumn) {
  auto r = load("licenseId,foo\nL1,\n", with_org("O"));
  EXPECT_TRUE(has_error(
      r, "in.csv:1: no deviceSerial column (accepted names: deviceSerial, serial, device_serial)"))
      << all_errors(r);
  auto d = load(std::string("L1,") + s1 + "\n", with_org("O"));
  EXPECT_TRUE(has_error(d, "the first line looks like data")) << all_errors(d);
}

// A record with too few fields says which column is missing.
TEST(PlanCsv, ShortRecord) {
  auto r = load("licenseId,deviceSerial\nL1\n", with_org("O"));
  EXPECT_TRUE(
      has_error(r, "in.csv:2: column 2 (deviceSerial): missing: the record has only 1 field"))
      << all_errors(r);
}

// A column named twice (e.g. licenseId and id) is an error.
TEST(PlanCsv, DuplicateHeaderColumn) {
  auto r = load("licenseId,deviceSerial,id\n", with_org("O"));
  EXPECT_TRUE(
      has_error(r, "in.csv:1: column 3 (id): a second licenseId column (the first is column 1)"))
      << all_errors(r);
}

// --shard keeps exactly the orgs whose FNV-1a hash mod N equals K; the shards partition the plan.
TEST(PlanCsv, ShardFilterPartitions) {
  std::string text = "licenseId,deviceSerial,org\n";
  for (int i = 0; i < 200; ++i)
    text += "L" + std::to_string(i) + ",,org" + std::to_string(i % 37) + "\n";
  std::size_t total = 0, orgs = 0;
  for (std::uint32_t k = 0; k < 3; ++k) {
    load_options o;
    o.shard = relicense::plan::shard_spec{k, 3};
    auto r = load(text, o);
    ASSERT_TRUE(r.ok()) << all_errors(r);
    for (const auto& org : r.plan.orgs) EXPECT_EQ(relicense::plan::fnv1a64_of(org) % 3, k) << org;
    EXPECT_EQ(r.plan.rows.size() + r.plan.counts.filtered_out, 200u);
    total += r.plan.rows.size();
    orgs += r.plan.orgs.size();
  }
  EXPECT_EQ(total, 200u);
  EXPECT_EQ(orgs, 37u);
}

// The fingerprint is stable, and changes with any row's org, license or serial.
TEST(PlanCsv, fingerprint) {
  const std::string base = std::string("licenseId,deviceSerial,org\nL1,") + s1 + ",A\n";
  auto a = load(base), b = load(base + "\n");
  EXPECT_EQ(a.plan.fingerprint.size(), 16u);
  EXPECT_EQ(a.plan.fingerprint, b.plan.fingerprint);
  EXPECT_NE(a.plan.fingerprint,
            load(std::string("licenseId,deviceSerial,org\nL1,") + s2 + ",A\n").plan.fingerprint);
  EXPECT_NE(a.plan.fingerprint,
            load(std::string("licenseId,deviceSerial,org\nL1,") + s1 + ",B\n").plan.fingerprint);
  EXPECT_NE(a.plan.fingerprint,
            load(std::string("licenseId,deviceSerial,org\nL2,") + s1 + ",A\n").plan.fingerprint);
  // FNV-1a 64 of nothing is the offset basis: the empty plan's fingerprint is documented.
  EXPECT_EQ(load("licenseId,deviceSerial,org\n").plan.fingerprint, "cbf29ce484222325");
}

// The same rows on other lines are another plan: --resume matches journal records to rows by
// line, so a blank line inserted before a row must make the journal refuse the edited CSV.
TEST(PlanCsv, FingerprintCoversLineNumbers) {
  const std::string header = "licenseId,deviceSerial,org\n";
  const std::string rows = std::string("L1,") + s1 + ",A\nL2," + s2 + ",A\n";
  EXPECT_NE(load(header + rows).plan.fingerprint, load(header + "\n" + rows).plan.fingerprint);
}

// Feeding the input in chunks of any size (here: every size 1..17) gives the same result.
TEST(PlanCsv, ChunkingDoesNotMatter) {
  const std::string text = std::string("\xEF\xBB\xBF") +
                           "licenseId,deviceSerial,note\r\n\"L1\",\"" + s1 +
                           "\",\"a\r\nb\"\"c\"\r\nL2, " + s2 + " ,x\r\nL1," + s1 +
                           ",\r\nL3,bad,\r\n\"L4\" ,,\"unterminated";
  const auto whole = load(text, with_org("O"));
  for (std::size_t size = 1; size <= 17; ++size) {
    relicense::plan::plan_loader loader("in.csv", with_org("O"));
    for (std::size_t i = 0; i < text.size(); i += size)
      loader.feed(std::string_view(text).substr(i, size));
    auto r = loader.finish();
    EXPECT_EQ(all_errors(r), all_errors(whole)) << size;
    EXPECT_EQ(r.plan.fingerprint, whole.plan.fingerprint) << size;
    EXPECT_EQ(r.plan.rows.size(), whole.plan.rows.size()) << size;
    EXPECT_EQ(r.warnings.size(), whole.warnings.size()) << size;
  }
  EXPECT_EQ(whole.plan.rows.size(), 2u);
  EXPECT_EQ(whole.error_count(), 2u) << all_errors(whole);
}

// load_plan reads a file; a missing file is one error naming it.
TEST(PlanCsv, LoadPlanFileAndMissingFile) {
  relicense::test::temp_dir dir;
  auto file = dir.write("p.csv", std::string("licenseId,deviceSerial\nL1,") + s1 + "\n");
  auto r = relicense::plan::load_plan(file, with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.plan.rows.size(), 1u);
  auto m = relicense::plan::load_plan(dir.path() / "nope.csv", with_org("O"));
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_NE(to_string(m.errors[0]).find("nope.csv: cannot open: No such file or directory"),
            std::string::npos);
  auto d = relicense::plan::load_plan(dir.path(), with_org("O"));
  EXPECT_FALSE(d.ok());
}

// ---- corpus of nasty inputs ------------------------------------------------------------------

// An empty file is an error: a header is required.
TEST(PlanCsvNasty, EmptyFile) {
  auto r = load("", with_org("O"));
  EXPECT_TRUE(has_error(r, "in.csv:1: empty file")) << all_errors(r);
  auto b = load("\xEF\xBB\xBF\r\n\n", with_org("O"));
  EXPECT_TRUE(has_error(b, "empty file")) << all_errors(b);
}

// A header-only file is a valid, empty plan, with a warning.
TEST(PlanCsvNasty, HeaderOnly) {
  auto r = load("licenseId,deviceSerial\r\n", with_org("O"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_TRUE(r.plan.rows.empty());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].message.find("no data rows"), std::string::npos);
}

// An unterminated quote is reported at the line where the quote opened, not at the end of file.
TEST(PlanCsvNasty, UnterminatedQuote) {
  auto r =
      load(std::string("licenseId,deviceSerial\nL1,") + s1 + "\n\"L2,\nL3,\nL4,\n", with_org("O"));
  EXPECT_EQ(r.error_count(), 1u);
  EXPECT_TRUE(has_error(
      r, "in.csv:3: column 1 (licenseId): unterminated quoted field: the quote opened on line 3"))
      << all_errors(r);
}

// NUL bytes are an error (the usual sign of UTF-16 or a binary file), and a UTF-16 BOM is named.
TEST(PlanCsvNasty, NulBytesAndUtf16) {
  const char text[] = "licenseId,deviceSerial\nL\0001,\n";
  auto r = load(std::string(text, sizeof text - 1), with_org("O"));
  EXPECT_TRUE(has_error(r, "in.csv:2: column 1 (licenseId): a NUL byte")) << all_errors(r);
  auto u = load(std::string("\xFF\xFEl\0i\0", 6), with_org("O"));
  EXPECT_TRUE(has_error(u, "UTF-16")) << all_errors(u);
  EXPECT_EQ(u.error_count(), 1u);
}

// Stray quotes: inside an unquoted field, or text after a closing quote.
TEST(PlanCsvNasty, StrayQuotes) {
  auto r = load("licenseId,deviceSerial\nL\"1,\n\"L2\"x,\n", with_org("O"));
  EXPECT_EQ(r.error_count(), 2u) << all_errors(r);
  EXPECT_TRUE(has_error(r, "in.csv:2: column 1 (licenseId): a quote inside an unquoted field"));
  EXPECT_TRUE(
      has_error(r, "in.csv:3: column 1 (licenseId): unexpected text after a closing quote"));
}

// A field over the field cap (but within the record limit) is an error with its length; a big
// ignored column is fine.
TEST(PlanCsvNasty, LongField) {
  std::string text = "licenseId,deviceSerial,note\n";
  text += std::string(5000, '7') + ",,short\n";
  text += "L2,,\"" + std::string(60000, 'n') + "\"\n";
  auto r = load(text, with_org("O"));
  EXPECT_EQ(r.error_count(), 1u) << all_errors(r);
  EXPECT_TRUE(has_error(r, "in.csv:2: column 1 (licenseId): 5000 bytes long (limit 4096)"))
      << all_errors(r);
  EXPECT_EQ(r.plan.rows.size(), 1u);
}

// ---- limits: any input ends quickly, in bounded memory, with one clear error -----------------

std::string only_error(const load_result& r) {
  EXPECT_EQ(r.error_count(), 1u) << all_errors(r);
  return r.errors.empty() ? std::string() : to_string(r.errors.front());
}

// A 10 MB line stops the load at that line: nothing past the 64 KiB record limit is kept or read.
TEST(PlanCsvLimits, TenMegabyteLineStops) {
  std::string text = std::string("licenseId,deviceSerial\nL1,") + s1 + "\n";
  text += std::string(10 << 20, '7') + ",\nL2,\nL3,bad\n";
  auto r = load(text, with_org("O"));
  EXPECT_EQ(only_error(r),
            "in.csv:3: the line is longer than 65536 bytes (the limit for one record); the rest "
            "of the file was not read");
  EXPECT_EQ(r.plan.counts.input_rows, 1u);
}

// The record limit is exact: 65536 bytes before the line break pass (LF or CRLF), 65537 do not.
TEST(PlanCsvLimits, RecordLimitIsExact) {
  const std::string head = std::string("licenseId,deviceSerial,note\n");
  const std::string row = std::string("L1,") + s1 + ",";
  for (const char* eol : {"\n", "\r\n"}) {
    const std::string fits = row + std::string(65536 - row.size(), 'n');
    auto ok = load(head + fits + eol + "L2,\n", with_org("O"));
    EXPECT_TRUE(ok.ok()) << all_errors(ok);
    EXPECT_EQ(ok.plan.rows.size(), 2u);
    auto ok_last = load(head + fits, with_org("O"));  // no final line break
    EXPECT_TRUE(ok_last.ok()) << all_errors(ok_last);
    auto bad = load(head + fits + "n" + eol + "L2,\n", with_org("O"));
    EXPECT_NE(only_error(bad).find("in.csv:2: the line is longer than 65536 bytes"),
              std::string::npos);
  }
  // The header is a record like any other, and the limit is an option.
  load_options o = with_org("O");
  o.max_record_bytes = 30;
  EXPECT_TRUE(load("licenseId,deviceSerial,xxxxxxx\n", o).ok());
  EXPECT_NE(only_error(load("licenseId,deviceSerial,xxxxxxxx\n", o))
                .find("in.csv:1: the line is longer than 30"),
            std::string::npos);
}

// A quote that never closes in a big file stops at the record limit, naming the opening line.
TEST(PlanCsvLimits, UnterminatedQuoteInABigFile) {
  std::string text = std::string("licenseId,deviceSerial\nL1,") + s1 + "\n\"L2,\n";
  for (int i = 0; i < 100000; ++i) text += "L" + std::to_string(i) + ",\n";
  auto r = load(text, with_org("O"));
  EXPECT_EQ(only_error(r),
            "in.csv:3: a quoted field opened on line 3 is still open after 65536 bytes (the limit "
            "for one record): is a closing quote missing?; the rest of the file was not read");
}

// A header of 20 MB of commas is refused at its 257th column, not after reading it all.
TEST(PlanCsvLimits, HeaderOfCommas) {
  auto r = load(std::string(20 << 20, ','), with_org("O"));
  EXPECT_EQ(only_error(r),
            "in.csv:1: the header has more than 256 columns (the limit); the rest of the file "
            "was not read");
  // 256 columns are fine.
  std::string wide = "licenseId,deviceSerial";
  for (int i = 2; i < 256; ++i) wide += ",c" + std::to_string(i);
  EXPECT_TRUE(load(wide + "\nL1,\n", with_org("O")).ok());
  EXPECT_FALSE(load(wide + ",c256\nL1,\n", with_org("O")).ok());
}

// A data row with more than 256 fields is an error for that row only.
TEST(PlanCsvLimits, TooManyFieldsInARow) {
  const std::string text = std::string("licenseId,deviceSerial\nL1,") + s1 + std::string(254, ',') +
                           "\nL2," + s1 + std::string(255, ',') + "\nL3,\n";
  auto r = load(text, with_org("O"));
  EXPECT_EQ(only_error(r), "in.csv:3: column 257: more than 256 fields (the limit)");
  EXPECT_EQ(r.plan.rows.size(), 2u);
}

// A NUL byte stops the load at once: reading /dev/zero ends with one error at line 1.
TEST(PlanCsvLimits, DevZero) {
  auto r = relicense::plan::load_plan("/dev/zero", with_org("O"));
  EXPECT_EQ(only_error(r),
            "/dev/zero:1: column 1: a NUL byte (is the file UTF-16 or binary? save it as UTF-8 "
            "CSV); the rest of the file was not read");
}

// Random bytes stop the load at the first byte that is not UTF-8 (or a NUL), on line 1.
TEST(PlanCsvLimits, DevUrandom) {
  auto r = relicense::plan::load_plan("/dev/urandom", with_org("O"));
  ASSERT_FALSE(r.ok());
  const std::string e = all_errors(r);
  EXPECT_TRUE(e.find("invalid UTF-8 (") != std::string::npos ||
              e.find("a NUL byte") != std::string::npos ||
              e.find("UTF-16") != std::string::npos)  // UTF-16: 1 in 65536 starts with FF FE
      << e;
  EXPECT_NE(e.find("the rest of the file was not read"), std::string::npos) << e;
}

// UTF-8 is checked everywhere, ignored columns included: multi-byte text passes, while overlong
// forms, surrogates, bytes that never occur, stray continuation bytes and a character cut off by
// the end of the file are refused at their line and column.
TEST(PlanCsvLimits, utf8) {
  const std::string head =
      std::string("\xEF\xBB\xBFlicenseId,deviceSerial,note\nL1,") + s1 + ",ok\n";
  auto good = load(head + "L2,,Caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\n",
                   with_org("O"));
  EXPECT_TRUE(good.ok()) << all_errors(good);
  for (const auto& [bad, byte] : std::vector<std::pair<std::string, std::string>>{
           {"Caf\xE9", "bytes 0xE9 0x0A"},                  // Latin-1
           {"Caf\xE9s", "bytes 0xE9 0x73"},                 // Latin-1
           {"\xC0\x80", "byte 0xC0"},                       // overlong NUL
           {"\xE0\x80\x80", "bytes 0xE0 0x80"},             // overlong 3-byte
           {"\xED\xA0\x80", "bytes 0xED 0xA0"},             // surrogate
           {"\xF4\x90\x80\x80", "bytes 0xF4 0x90"},         // past U+10FFFF
           {"\xF0\x9F\x98x", "bytes 0xF0 0x9F 0x98 0x78"},  // cut short
           {"\xF5\x80", "byte 0xF5"},                       // never a lead byte
           {"\x80", "byte 0x80"}}) {                        // stray continuation
    auto r = load(head + "L2,," + bad + "\nL3,\n", with_org("O"));
    EXPECT_EQ(only_error(r),
              "in.csv:3: column 3 (note): invalid UTF-8 (" + byte +
                  "): save the file as UTF-8 CSV; the rest of the file was not read");
  }
  auto cut = load(head + "L2,,\xF0\x9F\x98", with_org("O"));
  EXPECT_NE(only_error(cut).find(
                "in.csv:3: column 3 (note): invalid UTF-8: the file ends inside a multi-byte "
                "character"),
            std::string::npos);
}

// The limits hold whatever the chunking: one byte at a time gives the same errors.
TEST(PlanCsvLimits, ChunkingDoesNotMatter) {
  std::vector<std::string> texts = {
      std::string("licenseId,deviceSerial,note\nL1,") + s1 + ",\xE2\x82\xAC\nL2,," +
          std::string(70000, 'x') + "\n",
      std::string("licenseId,deviceSerial,note\nL1,,\xE2\x82") + "\xAC\n\"L2\nL3,,\xE2\x82",
      std::string(1000, ','),
      std::string("licenseId,deviceSerial\nL1,,") + std::string(300, ',') + "\n",
  };
  for (int i = 0; i < 300; ++i) texts[3] += "L" + std::to_string(i) + ",bad\n";
  for (const auto& text : texts) {
    const auto whole = load(text, with_org("O"));
    relicense::plan::plan_loader loader("in.csv", with_org("O"));
    for (char c : text) loader.feed(std::string_view(&c, 1));
    const auto bytes = loader.finish();
    EXPECT_FALSE(whole.ok());
    EXPECT_EQ(all_errors(bytes), all_errors(whole));
    EXPECT_EQ(bytes.error_count(), whole.error_count());
  }
}

// Reading stops after 100 errors: 20 shown, the rest counted, and a last line saying where and
// that the rest of the file was not checked.
TEST(PlanCsvLimits, StopsAfter100Errors) {
  std::string text = "licenseId,deviceSerial\n";
  for (int i = 0; i < 100000; ++i) text += "L" + std::to_string(i) + ",bad\n";
  auto r = load(text, with_org("O"));
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.error_count(), 100u);
  ASSERT_EQ(r.errors.size(), 21u);
  EXPECT_EQ(r.errors_not_shown, 80u);
  EXPECT_EQ(r.errors[19].line, 21u);
  EXPECT_EQ(to_string(r.errors[20]),
            "in.csv:101: stopped reading after 100 errors; the rest of the file was not checked");
  EXPECT_EQ(r.plan.counts.input_rows, 100u);
  // 99 errors do not stop anything.
  std::string fewer = "licenseId,deviceSerial\n";
  for (int i = 0; i < 99; ++i) fewer += "L" + std::to_string(i) + ",bad\n";
  fewer += std::string("L100,") + s1 + "\n";
  auto f = load(fewer, with_org("O"));
  EXPECT_FALSE(f.stopped_early);
  EXPECT_EQ(f.error_count(), 99u);
  EXPECT_EQ(f.plan.rows.size(), 1u);
}

// A fatal problem that is also the 100th error is reported once, without the "stopped" note.
TEST(PlanCsvLimits, FatalHundredthError) {
  std::string text = "licenseId,deviceSerial\n";
  for (int i = 0; i < 99; ++i) text += "L" + std::to_string(i) + ",bad\n";
  text += std::string("L99,") + '\0' + "\n";
  auto r = load(text, with_org("O"));
  EXPECT_FALSE(r.stopped_early);
  EXPECT_EQ(r.error_count(), 100u);
  EXPECT_EQ(r.errors.size(), 20u);
  EXPECT_EQ(r.errors_not_shown, 80u);
}

// The row and size limits stop an endless stream of valid rows.
TEST(PlanCsvLimits, RowsAndBytes) {
  std::string text = "licenseId,deviceSerial\n";
  for (int i = 0; i < 10; ++i) text += "L" + std::to_string(i) + ",\n";
  load_options o = with_org("O");
  o.max_rows = 9;
  EXPECT_EQ(only_error(load(text, o)),
            "in.csv:11: more than 9 data rows (the limit): split the file; the rest of the file "
            "was not read");
  o.max_rows = 10;
  EXPECT_TRUE(load(text, o).ok());
  o.max_input_bytes = text.size() - 1;
  EXPECT_EQ(only_error(load(text, o)),
            "in.csv:11: the input is larger than " + std::to_string(text.size() - 1) +
                " bytes (the limit): split it into several files; the rest of the file "
                "was not read");
  o.max_input_bytes = text.size();
  EXPECT_TRUE(load(text, o).ok());
}

// A named pipe is read like a file: nothing is sought or sized.
TEST(PlanCsvLimits, NamedPipe) {
  relicense::test::temp_dir dir;
  const auto fifo = dir.path() / "in.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    std::FILE* w = std::fopen(fifo.c_str(), "wb");
    ASSERT_NE(w, nullptr);
    std::fputs("licenseId,deviceSerial\n", w);
    for (int i = 0; i < 50000; ++i) std::fprintf(w, "L%d,\n", i);  // several pipe buffers
    std::fclose(w);
  });
  auto r = relicense::plan::load_plan(fifo, with_org("O"));
  writer.join();
  EXPECT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.plan.rows.size(), 50000u);
}

// Many kinds of damage in one file: every problem is reported, each at its line.
TEST(PlanCsvNasty, MixedDamageAllReported) {
  const std::string text = std::string("licenseId,deviceSerial,organizationId\r\n") + "L1," + s1 +
                           ",O\r\n" +               // 2 ok
                           "L2,NOPE,O\r\n" +        // 3 bad serial
                           "L1," + s2 + ",O\r\n" +  // 4 conflict with 2
                           "L3\r\n" +               // 5 short
                           "L 4,,O\r\n" +           // 6 space
                           "L5,,\r\n";              // 7 empty org
  auto r = load(text);
  EXPECT_EQ(r.error_count(), 6u) << all_errors(r);  // line 5 lacks two columns
  for (const char* where : {"in.csv:3:", "in.csv:4:", "in.csv:5:", "in.csv:6:", "in.csv:7:"})
    EXPECT_TRUE(has_error(r, where)) << where << "\n" << all_errors(r);
}
