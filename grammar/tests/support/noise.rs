//! Hostile input for the parser's tests and timings: deterministic pseudo-random bytes.

/// `len` pseudo-random bytes from `seed` (xorshift): the same bytes for the same seed.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
