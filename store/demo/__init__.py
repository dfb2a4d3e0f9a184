"""The demo catalog of the embedded store: listings published through the real pipeline."""
