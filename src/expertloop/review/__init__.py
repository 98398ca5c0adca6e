"""Review: reviewers' comments on steps and spans, and what changed since a return."""
