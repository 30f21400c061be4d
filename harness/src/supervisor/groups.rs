//! `#[portaltest::test(group = "name")]` across worker processes: a group's tests all
//! go to one worker, which runs them one at a time (see [`crate::worker`]). The
//! supervisor hands tests out with [`take`].

use std::collections::VecDeque;

use crate::fixtures::registry::TestDef;

/// Takes up to `n` tests (at least one) from the front of `queue` for one worker; a
/// taken test of a group brings every queued test of that group along, so that no
/// other worker gets any of them (the group's tests that ran again after a worker died
/// are queued together too, and go along together again).
pub(crate) fn take(
    queue: &mut VecDeque<u32>,
    n: usize,
    tests: &[(String, &'static TestDef)],
) -> Vec<u32> {
    let group_of = |id: u32| tests.get(id as usize).and_then(|(_, def)| def.group);
    let n = n.max(1).min(queue.len());
    let mut ids: Vec<u32> = queue.drain(..n).collect();
    let groups: Vec<&'static str> = {
        let mut g: Vec<&'static str> = ids.iter().filter_map(|id| group_of(*id)).collect();
        g.sort_unstable();
        g.dedup();
        g
    };
    if !groups.is_empty() {
        queue.retain(|id| match group_of(*id) {
            Some(g) if groups.contains(&g) => {
                ids.push(*id);
                false
            }
            _ => true,
        });
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(group: Option<&'static str>) -> &'static TestDef {
        Box::leak(Box::new(TestDef {
            group,
            ..TestDef::sample("t", "t")
        }))
    }

    #[test]
    fn a_group_goes_along_whole() {
        // 0 a, 1 -, 2 b, 3 a, 4 -, 5 b, 6 a
        let tests: Vec<(String, &'static TestDef)> = [
            Some("a"),
            None,
            Some("b"),
            Some("a"),
            None,
            Some("b"),
            Some("a"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, g)| (i.to_string(), def(g)))
        .collect();
        let mut queue: VecDeque<u32> = (0..7).collect();
        assert_eq!(take(&mut queue, 1, &tests), [0, 3, 6]);
        assert_eq!(queue, [1, 2, 4, 5]);
        assert_eq!(take(&mut queue, 1, &tests), [1]);
        assert_eq!(take(&mut queue, 2, &tests), [2, 4, 5]);
        assert!(queue.is_empty());
        assert!(take(&mut queue, 3, &tests).is_empty());
        // Shuffled or requeued: wherever they are, they go together.
        let mut queue: VecDeque<u32> = [6, 1, 3, 0].into();
        assert_eq!(take(&mut queue, 1, &tests), [6, 3, 0]);
        assert_eq!(queue, [1]);
    }
}
