//! The deterministic offline provider (filled in by the sim-provider work).
