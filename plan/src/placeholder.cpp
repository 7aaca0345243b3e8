// Replaced by the planner (issue 3).
