//! A test that overflows its portal stack: the process dies, but the message on the real
//! stderr (not the capture) names the test and how to raise the stack size.

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth as u8; 512]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(pad[3])
}

mod deep {
    #[portaltest::test]
    fn recursion() {
        println!("captured output of the dying test");
        super::recurse(0);
    }
}

portaltest::main!();
