//! `--shuffle` / `--shuffle-seed N` (libtest's names) and [`SHUFFLE_SEED_ENV`]: the
//! selected tests start in an order drawn from a seed, the same on every platform and
//! in every version of this crate (a SplitMix64 stream driving a Fisher-Yates shuffle),
//! so that a printed seed repeats a run's order.
//!
//! [`SHUFFLE_SEED_ENV`]: crate::SHUFFLE_SEED_ENV

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and fully specified.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by Lemire's multiply-shift (the bias is below
    /// 2^-40 for any test count a binary can have).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}

/// Puts `items` in the order that `seed` draws.
pub(crate) fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64(seed);
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

/// A seed for `--shuffle` without one: different from run to run.
pub(crate) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_is_the_reference_generator() {
        // The reference implementation's first outputs for seed 0.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn a_seed_always_draws_the_same_permutation() {
        let mut a: Vec<u32> = (0..20).collect();
        shuffle(&mut a, 42);
        // Pinned: a printed seed must repeat the order in later versions too.
        assert_eq!(
            a,
            [9, 16, 7, 15, 1, 12, 19, 8, 11, 2, 6, 4, 10, 18, 13, 0, 17, 5, 3, 14]
        );
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn seeds_differ_and_small_slices_work() {
        let order = |seed| {
            let mut v: Vec<u32> = (0..20).collect();
            shuffle(&mut v, seed);
            v
        };
        assert_ne!(order(1), order(2));
        assert_ne!(order(0), (0..20).collect::<Vec<_>>());
        let mut empty: [u8; 0] = [];
        shuffle(&mut empty, 7);
        let mut one = [9];
        shuffle(&mut one, 7);
        assert_eq!(one, [9]);
    }

    #[test]
    fn every_position_is_reachable() {
        // Each of 3 items lands first for some seed among 64.
        let mut firsts = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let mut v = [0, 1, 2];
            shuffle(&mut v, seed);
            firsts.insert(v[0]);
        }
        assert_eq!(firsts.len(), 3);
    }
}
