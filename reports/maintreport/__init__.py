"""Report building and rendering for maintctl."""
