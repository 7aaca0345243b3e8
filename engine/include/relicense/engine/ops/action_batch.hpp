// Operations: POST /organizations/{organizationId}/actionBatches (submit up to 100 license
// updates as one asynchronous batch), GET .../actionBatches/{id} (poll it) and
// GET .../actionBatches?status=pending (the org's batches still running: one poll for several).
// The packing,
// bisection and poll pacing are org_batches' (batch.hpp); these only build requests and judge
// answers.
#pragma once

#include "relicense/engine/batch.hpp"
#include "relicense/engine/call.hpp"
#include "relicense/io/json.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::engine::ops {

request batch_post_request(std::string_view org_id, const std::vector<batch_action_ref>& actions);
request batch_poll_request(std::string_view org_id, std::string_view batch_id);
/// The org's batches still running (any application's), in one answer.
request batch_list_request(std::string_view org_id);

/// What an answer says about a batch, when `what` is done.
enum class batch_news : std::uint8_t {
  status,      ///< `batch` holds the API's view (accepted; running, completed or failed)
  refused,     ///< the API refused the batch's actions as a whole (POST 400/422): `message`
  busy,        ///< the org already runs its maximum of batches (someone else's, maybe): hold off
  unreadable,  ///< a poll's answer said nothing usable about the batch (`message`); poll again
  lost,        ///< the API does not know the batch (poll 404, e.g. expired): submit it again
  failed       ///< the call failed for good; the batch's fate is unknown in this run (`message`)
};

struct batch_verdict : verdict {
  batch_news news = batch_news::failed;
  std::optional<io::action_batch> batch;
  /// A list's answer (news status): the batches it holds.
  std::vector<io::action_batch> listed;
  unsigned status = 0;  ///< HTTP status of the answer (0: none)
};

/// The POST's answer. A 4xx other than 400/422 is the org's batch endpoint saying no: every row
/// would hear the same, so it condemns the org.
batch_verdict judge_batch_post(const answer& a, const judge_context& ctx,
                               io::response_parser& parser);

/// A poll's answer about batch `id`. `ctx.attempt` counts the polls that failed in a row.
batch_verdict judge_batch_poll(std::string_view id, const answer& a, const judge_context& ctx,
                               io::response_parser& parser);

/// The answer to batch_list_request. news is status (with `listed`), unreadable (a body that is
/// not a list of batches: like a poll that failed) or failed (the API does not list batches for
/// this org: a 4xx, 404 included, which a single batch's poll would not have heard).
batch_verdict judge_batch_list(const answer& a, const judge_context& ctx,
                               io::response_parser& parser);

}  // namespace relicense::engine::ops
