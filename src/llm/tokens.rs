//! Token counting (placeholder module; the sim-provider work fills it in).
