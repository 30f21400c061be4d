//! Benchmarks of stackportal and portaltest; see `benches/`.
