// Replaced by the twin (issue 4).
