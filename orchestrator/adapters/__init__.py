"""I/O adapters: Cursor client, release-file loading, status store, logging."""
