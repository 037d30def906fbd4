//! Ephemeral range detection.
