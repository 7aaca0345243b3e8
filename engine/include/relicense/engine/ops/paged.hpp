// What every paged read shares (Link rel=next): the verdict on one page and how it is judged.
// The operations that read a collection (license_list, listing, live_lists) differ only in their
// request and in how a page's body is parsed.
#pragma once

#include "relicense/engine/call.hpp"
#include "relicense/io/link_header.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace relicense::engine::ops {

/// The verdict on one page. When `what` is done: `ok` with the page's items and, if there is one,
/// the next page's URL (checked against the redirect policy); or not `ok` with `message`.
template <class Item>
struct page_of : verdict {
  bool ok = false;
  std::vector<Item> items;
  std::optional<url_target> next_page;
};

/// Judges a page: the HTTP level, the body (`parse(body)` returns an io::json_result of the
/// items; `what` names the list in an error), then the next link. `base` is the run's API origin
/// and `current` the origin that answered: a next page may only go where a redirect could.
template <class Item, class Parse>
page_of<Item> judge_page(const answer& a, const judge_context& ctx, io::response_parser& parser,
                         const io::origin& base, const io::origin& current, const char* what,
                         Parse parse) {
  page_of<Item> v;
  if (!went_through(v, ctx, a, parser)) return v;
  auto page = parse(a.resp.body);
  if (!page.value) {
    v.message = std::string("unreadable ") + what + ": " + page.error;
    return v;
  }
  if (auto next = io::next_link(a.resp.link)) {
    auto r = check_redirect(base, current, *next);
    if (!r.allowed) {
      v.message = "next page: " + r.reason;
      return v;
    }
    v.next_page = std::move(r.target);
  }
  v.ok = true;
  v.items = std::move(*page.value);
  return v;
}

}  // namespace relicense::engine::ops
