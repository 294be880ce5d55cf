"""`orchd dashboard`: a read-only web page, JSON API and Prometheus `/metrics` over the
release status files under a repo."""
