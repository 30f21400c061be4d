//! CI sharding as cargo-nextest does it (`--partition hash:M/N | count:M/N`, or
//! [`PARTITION_ENV`](crate::PARTITION_ENV)), with nextest's exact semantics so that a
//! shard selects the same tests under `cargo test` as under `cargo nextest run`:
//!
//! * `hash:M/N` keeps a test iff `xxh64(name, seed 0) % N == M - 1`: the test's name
//!   only (nextest fixes this hash for its whole 0.9 series);
//! * `count:M/N` keeps every N-th test, round robin, over the tests in name order that
//!   pass the other filters; ignored and non-ignored tests are counted separately (as
//!   nextest's `apply_partition_to_test` does).

use xxhash_rust::xxh64::xxh64;

/// The accepted syntax, for error messages.
pub(crate) const SYNTAX: &str = "count:M/N or hash:M/N (1 <= M <= N)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Count,
    Hash,
}

/// A parsed `--partition` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Partition {
    pub kind: Kind,
    /// The shard, counting from 1.
    pub shard: u64,
    pub total: u64,
}

impl Partition {
    /// Parses `count:M/N` or `hash:M/N`; the error says what is wrong (without the
    /// value's origin, which the caller adds).
    pub(crate) fn parse(text: &str) -> Result<Partition, String> {
        let text = text.trim();
        let (kind, rest) = if let Some(rest) = text.strip_prefix("hash:") {
            (Kind::Hash, rest)
        } else if let Some(rest) = text.strip_prefix("count:") {
            (Kind::Count, rest)
        } else {
            return Err(format!(
                "must begin with `hash:` or `count:`; expected {SYNTAX}"
            ));
        };
        let Some((m, n)) = rest.split_once('/') else {
            return Err(format!("expected {SYNTAX}"));
        };
        let (Ok(shard), Ok(total)) = (m.parse::<u64>(), n.parse::<u64>()) else {
            return Err(format!("M and N must be whole numbers; expected {SYNTAX}"));
        };
        if !(1..=total).contains(&shard) {
            return Err(format!(
                "shard {shard} must be a number between 1 and total shards {total}, inclusive; \
                 expected {SYNTAX}"
            ));
        }
        Ok(Partition { kind, shard, total })
    }

    /// A partitioner for one run: feed it the tests that pass the other filters, in
    /// name order.
    pub(crate) fn partitioner(self) -> Partitioner {
        Partitioner {
            partition: self,
            counters: [0, 0],
        }
    }
}

/// nextest's hash of a test name: xxh64 of its bytes, seed 0.
pub(crate) fn name_hash(name: &str) -> u64 {
    xxh64(name.as_bytes(), 0)
}

/// Decides test by test (in name order) whether it is in the shard.
#[derive(Debug)]
pub(crate) struct Partitioner {
    partition: Partition,
    /// Round-robin counters of `count:`, for non-ignored and ignored tests.
    counters: [u64; 2],
}

impl Partitioner {
    /// Whether the test (`ignored`: it has `#[ignore]`) is in the shard.
    pub(crate) fn keeps(&mut self, name: &str, ignored: bool) -> bool {
        let Partition { kind, shard, total } = self.partition;
        match kind {
            Kind::Hash => name_hash(name) % total == shard - 1,
            Kind::Count => {
                let counter = &mut self.counters[usize::from(ignored)];
                let keep = *counter % total == shard - 1;
                *counter += 1;
                keep
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nextest_syntax() {
        assert_eq!(
            Partition::parse("hash:1/2"),
            Ok(Partition {
                kind: Kind::Hash,
                shard: 1,
                total: 2
            })
        );
        assert_eq!(
            Partition::parse("count:99/200"),
            Ok(Partition {
                kind: Kind::Count,
                shard: 99,
                total: 200
            })
        );
        assert!(Partition::parse("hash:1/1").is_ok());
        // nextest's own list of inputs it rejects.
        for bad in [
            "foo",
            "hash",
            "hash:",
            "hash:1",
            "hash:1/",
            "hash:0/2",
            "hash:3/2",
            "hash:m/2",
            "hash:1/n",
            "hash:1/2/3",
            "count:0/0",
            "slice:1/2",
        ] {
            let err = Partition::parse(bad).expect_err(bad);
            assert!(err.contains(SYNTAX), "{bad}: {err}");
        }
        assert!(Partition::parse("count:3/2")
            .unwrap_err()
            .contains("shard 3 must be a number between 1 and total shards 2"));
    }

    #[test]
    fn hash_is_xxh64_with_seed_zero() {
        // The reference values of the xxHash specification (XXH64, seed 0).
        assert_eq!(name_hash(""), 0xef46_db37_51d8_e999);
        assert_eq!(name_hash("a"), 0xd24e_c4f1_a98c_6e5b);
        assert_eq!(name_hash("abc"), 0x44bc_2cf5_ad77_0999);
    }

    fn names() -> Vec<(String, bool)> {
        let mut names: Vec<(String, bool)> = (0..50)
            .map(|i| (format!("mod_{}::test_{i}", i % 7), i % 5 == 0))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn shards_cover_every_test_exactly_once() {
        for kind in ["hash", "count"] {
            for total in 1..=5 {
                let mut seen = vec![0; names().len()];
                for shard in 1..=total {
                    let mut p = Partition::parse(&format!("{kind}:{shard}/{total}"))
                        .unwrap()
                        .partitioner();
                    for (i, (name, ignored)) in names().iter().enumerate() {
                        if p.keeps(name, *ignored) {
                            seen[i] += 1;
                        }
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "{kind} /{total}: {seen:?}");
            }
        }
    }

    #[test]
    fn count_is_round_robin_per_kind() {
        let tests = [
            ("a", false),
            ("b", true),
            ("c", false),
            ("d", true),
            ("e", false),
            ("f", false),
        ];
        let shard = |m: u64| {
            let mut p = Partition::parse(&format!("count:{m}/2"))
                .unwrap()
                .partitioner();
            tests
                .iter()
                .filter(|(name, ignored)| p.keeps(name, *ignored))
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
        };
        // Non-ignored a c e f: a, e to shard 1; c, f to 2. Ignored b d: b to 1, d to 2.
        assert_eq!(shard(1), ["a", "b", "e"]);
        assert_eq!(shard(2), ["c", "d", "f"]);
    }

    #[test]
    fn hash_depends_on_the_name_only() {
        let mut p = Partition::parse("hash:2/3").unwrap().partitioner();
        let first: Vec<bool> = names().iter().map(|(n, i)| p.keeps(n, *i)).collect();
        let mut p = Partition::parse("hash:2/3").unwrap().partitioner();
        let reversed: Vec<bool> = names()
            .iter()
            .rev()
            .map(|(n, _)| p.keeps(n, false))
            .collect();
        assert_eq!(first, reversed.into_iter().rev().collect::<Vec<_>>());
    }
}
