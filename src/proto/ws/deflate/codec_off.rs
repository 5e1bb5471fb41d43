//! Built without the `deflate` feature: the same types, which never compress and
//! refuse every compressed message. Nothing can negotiate permessage-deflate in such a
//! build, so a session never gets here; the types keep the session's code one path.

use super::Step;

pub const INFLATER_HEAP: usize = 0;
pub const DEFLATER_HEAP: usize = 0;

#[derive(Default)]
pub struct Inflater;

/// Everything is corrupt to a build that cannot inflate.
const CORRUPT: Step = Step {
    consumed: 0,
    produced: 0,
    ended: false,
    corrupt: true,
};

impl Inflater {
    pub fn reset(&mut self) {}

    pub fn step(&mut self, _input: &[u8], _out: &mut Vec<u8>) -> Step {
        CORRUPT
    }

    pub fn probe(&mut self, _input: &[u8]) -> Step {
        CORRUPT
    }
}

#[derive(Default)]
pub struct Deflater;

impl Deflater {
    pub fn compress(&mut self, _data: &[u8], _window_bits: u8) -> Option<&[u8]> {
        None
    }

    pub fn compress_continuing(&mut self, _data: &[u8]) -> Option<&[u8]> {
        None
    }

    pub fn heap_bytes(&self) -> usize {
        0
    }
}
