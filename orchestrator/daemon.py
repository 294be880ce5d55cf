"""Process edge: signals, pid/lock file, building the HTTP client. Only module with signals."""
