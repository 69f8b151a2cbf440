"""Settings and defaults, read by entry points only and passed down as arguments."""
