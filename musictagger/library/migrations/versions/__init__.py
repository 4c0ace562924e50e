"""One file per revision, oldest first. Append, never edit: released indexes depend on every step."""
