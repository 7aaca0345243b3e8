// Replaced by the engine (issue 5).
