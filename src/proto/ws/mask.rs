//! Payload masking (RFC 6455 §5.3): the XOR with the 4-byte masking key that every
//! client-to-server payload carries.
//!
//! Apart from the frame header because it is the one loop over every payload byte on
//! the echo path (with UTF-8 validation), so it is tuned on its own: 8 bytes per XOR,
//! and resumable at any offset, since a payload may arrive over several reads.
//!
//! On x86-64 a long payload is unmasked with 32-byte AVX2 XORs when the processor has
//! them (checked once at run time; the portable build only assumes SSE2): the same
//! loop, compiled twice. For a 16 KiB echo this pass is most of the server's own
//! time, the rest being the kernel's copies.

/// XOR `data` with the masking key (§5.3). `offset` is the position of `data[0]` within
/// the payload, so a payload that arrives in pieces can be unmasked piece by piece.
/// Masking and unmasking are the same operation.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if data.len() >= wide::MIN_LEN && wide::available() {
        return wide::apply_mask(data, key, offset);
    }
    xor_with_key(data, key, offset);
}

/// The loop itself, inlined into each build of it.
#[inline(always)]
fn xor_with_key(data: &mut [u8], key: [u8; 4], offset: usize) {
    // The key as a little-endian number, turned so that its first byte is the one for
    // data[0], then repeated to 8 bytes: one XOR covers 8 payload bytes. Loading and
    // storing the payload little-endian too keeps byte i against key byte i on every
    // machine (and costs nothing on little-endian ones).
    let shift = 8 * (offset % 4) as u32;
    let k = u32::from_le_bytes(key).rotate_right(shift);
    let wide = u64::from(k) | (u64::from(k) << 32);
    // 32 bytes per round, four independent words: the compiler turns this into
    // vector XORs; then single words; then the last few bytes.
    let mut blocks = data.chunks_exact_mut(32);
    for block in &mut blocks {
        for word in block.chunks_exact_mut(8) {
            if let Some(w) = word.first_chunk_mut::<8>() {
                *w = (u64::from_le_bytes(*w) ^ wide).to_le_bytes();
            }
        }
    }
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for word in &mut words {
        if let Some(w) = word.first_chunk_mut::<8>() {
            *w = (u64::from_le_bytes(*w) ^ wide).to_le_bytes();
        }
    }
    // The tail is shorter than 8 bytes and starts at a multiple of 8, so its key
    // phase is that of data[0].
    for (b, k) in words
        .into_remainder()
        .iter_mut()
        .zip(k.to_le_bytes().iter().cycle())
    {
        *b ^= k;
    }
}

/// The AVX2 build of the loop, for processors that have it.
#[cfg(target_arch = "x86_64")]
mod wide {
    /// Below this the check and the wider loop's set-up cost more than they save.
    pub const MIN_LEN: usize = 256;

    /// Whether this processor has AVX2 (std caches the answer after the first call).
    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    /// [`super::apply_mask`] with 32-byte XORs; only called once [`available`] said
    /// yes.
    #[allow(unsafe_code)]
    pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
        debug_assert!(available());
        // SAFETY: the caller checked that this processor has AVX2, the one thing
        // `with_avx2` needs beyond what every x86-64 processor has.
        unsafe { with_avx2(data, key, offset) }
    }

    #[target_feature(enable = "avx2")]
    fn with_avx2(data: &mut [u8], key: [u8; 4], offset: usize) {
        super::xor_with_key(data, key, offset);
    }
}

/// [`apply_mask`] from the payload's first byte, telling whether every unmasked byte
/// is ASCII: the one pass over a short text message that both unmasks it and, nearly
/// always, proves it UTF-8 (only text with other characters needs the validator).
pub fn unmask_is_ascii(data: &mut [u8], key: [u8; 4]) -> bool {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let k = u32::from_le_bytes(key);
    let wide = u64::from(k) | (u64::from(k) << 32);
    let mut seen = 0u64;
    let mut unmask = |w: &mut [u8; 8]| {
        let plain = u64::from_le_bytes(*w) ^ wide;
        *w = plain.to_le_bytes();
        seen |= plain;
    };
    // As in apply_mask: 32 bytes a round (vector XORs and ORs), then words.
    let (blocks, rest) = data.as_chunks_mut::<32>();
    for block in blocks {
        block
            .as_chunks_mut::<8>()
            .0
            .iter_mut()
            .for_each(&mut unmask);
    }
    let (words, tail) = rest.as_chunks_mut::<8>();
    words.iter_mut().for_each(&mut unmask);
    // The tail starts at a multiple of 8, so its key phase is that of data[0].
    let mut high = 0u8;
    for (b, k) in tail.iter_mut().zip(k.to_le_bytes().iter().cycle()) {
        *b ^= k;
        high |= *b;
    }
    seen & HIGH_BITS == 0 && high < 0x80
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn mask_across_pieces() {
        let mut data = *b"Hello, masked world!";
        let mut whole = data;
        apply_mask(&mut whole, KEY, 0);
        let (a, b) = data.split_at_mut(7);
        apply_mask(a, KEY, 0);
        apply_mask(b, KEY, 7);
        assert_eq!(data, whole);
    }

    proptest! {
        #[test]
        // Up to 600 bytes: past wide::MIN_LEN, so both builds of the loop are tried.
        fn mask_is_involution_and_matches_naive(
            data in prop::collection::vec(any::<u8>(), 0..600),
            key in any::<[u8; 4]>(),
            offset in 0usize..1000,
        ) {
            let mut fast = data.clone();
            apply_mask(&mut fast, key, offset);
            let naive: Vec<u8> =
                data.iter().enumerate().map(|(i, b)| b ^ key[(offset + i) % 4]).collect();
            prop_assert_eq!(&fast, &naive);
            apply_mask(&mut fast, key, offset);
            prop_assert_eq!(&fast, &data);
            // From offset 0, unmask_is_ascii unmasks the same and tells ASCII right.
            let mut checked = data.clone();
            let ascii = unmask_is_ascii(&mut checked, key);
            let mut want = data.clone();
            apply_mask(&mut want, key, 0);
            prop_assert_eq!(ascii, want.is_ascii());
            prop_assert_eq!(checked, want);
        }

        #[test]
        fn unmask_is_ascii_on_masked_text(
            text in "[ -~]{0,80}",
            bad in any::<prop::sample::Index>(),
            key in any::<[u8; 4]>(),
        ) {
            let mut data = text.into_bytes();
            let mut masked = data.clone();
            apply_mask(&mut masked, key, 0);
            prop_assert!(unmask_is_ascii(&mut masked, key));
            prop_assert_eq!(&masked, &data);
            if !data.is_empty() {
                let at = bad.index(data.len());
                data[at] = 0xc3;
                apply_mask(&mut data, key, 0);
                prop_assert!(!unmask_is_ascii(&mut data, key));
            }
        }
    }
}
