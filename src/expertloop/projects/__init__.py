"""Client projects, staffing and guidelines."""
