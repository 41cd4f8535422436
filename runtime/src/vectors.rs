//! Test vectors (to be written).
