//! Framing: the TCP byte stream ↔ whole D.0 transmissions.
//!
//! Tier 2, first step of the flow: `server::connection` feeds socket bytes to a [`FrameCodec`]
//! (a tokio-util `Decoder`/`Encoder`) and hands each complete payload to `ncpdp`. Two framings:
//!
//! - [`Framing::StxEtx`] (default): `STX (0x02) <transmission> ETX (0x03)`. Bytes outside
//!   STX..ETX are skipped and counted; a run of more than `garbage_bytes_max` of them is a
//!   [`FrameError::Garbage`]. A second STX before the ETX abandons the unfinished frame (data
//!   bytes are printable ASCII, so an STX can only start a frame) and its bytes count as garbage.
//! - [`Framing::Len4`]: a 4-byte big-endian payload length, then the payload.
//!
//! "Need more bytes" is `Ok(None)`. A frame over `frame_bytes_max` is refused as soon as that is
//! known — from the length prefix, or once more than the limit is buffered without an ETX — so
//! the codec never buffers more than the limit plus one read.
//!
//! Must never: interpret the payload, allocate beyond the frame limit, or panic on any input.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::limits;

/// Start of a frame.
pub const STX: u8 = 0x02;
/// End of a frame.
pub const ETX: u8 = 0x03;
/// Width of the length prefix of [`Framing::Len4`].
const LEN4_PREFIX_BYTES: usize = 4;

pub use crate::config::Framing;

/// Why a connection's byte stream cannot be framed any further. Each closes that connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame larger than {limit_bytes} bytes")]
    Oversize { limit_bytes: usize },
    #[error("{skipped_bytes} bytes outside any frame")]
    Garbage { skipped_bytes: usize },
    #[error("connection closed inside a frame")]
    Truncated,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl FrameError {
    /// A fixed label for counting refusals (never carries data).
    pub fn reason(&self) -> &'static str {
        match self {
            FrameError::Oversize { .. } => "oversize",
            FrameError::Garbage { .. } => "garbage",
            FrameError::Truncated => "truncated",
            FrameError::Io(_) => "io",
        }
    }
}

/// Frame decoder and encoder for one connection.
#[derive(Debug)]
pub struct FrameCodec {
    framing: Framing,
    frame_bytes_max: usize,
    garbage_bytes_max: usize,
    /// Bytes after the STX already searched for an ETX (so a slow frame is scanned once).
    scanned_bytes: usize,
    /// Garbage bytes in the current run (reset by every complete frame).
    garbage_run_bytes: usize,
    /// Garbage bytes skipped over the codec's life.
    garbage_total_bytes: u64,
}

impl FrameCodec {
    /// `frame_bytes_max` is clamped to `limits::FRAME_BYTES_MIN..=limits::FRAME_BYTES_MAX`.
    pub fn new(framing: Framing, frame_bytes_max: usize, garbage_bytes_max: usize) -> FrameCodec {
        let frame_bytes_max =
            frame_bytes_max.clamp(limits::FRAME_BYTES_MIN, limits::FRAME_BYTES_MAX);
        let garbage_bytes_max = garbage_bytes_max.min(limits::FRAME_GARBAGE_BYTES_MAX);
        FrameCodec {
            framing,
            frame_bytes_max,
            garbage_bytes_max,
            scanned_bytes: 0,
            garbage_run_bytes: 0,
            garbage_total_bytes: 0,
        }
    }

    /// Bytes skipped outside frames so far.
    pub fn garbage_total_bytes(&self) -> u64 {
        self.garbage_total_bytes
    }

    /// Whether `buffer` holds the start of a frame that is not complete yet (the read deadline
    /// applies), as opposed to nothing at all (the idle deadline applies).
    pub fn is_mid_frame(&self, buffer: &BytesMut) -> bool {
        match self.framing {
            Framing::StxEtx => buffer.first() == Some(&STX),
            Framing::Len4 => !buffer.is_empty(),
        }
    }

    fn skip_garbage(&mut self, buffer: &mut BytesMut, bytes: usize) -> Result<(), FrameError> {
        buffer.advance(bytes);
        self.garbage_run_bytes += bytes;
        self.garbage_total_bytes += bytes as u64;
        if self.garbage_run_bytes > self.garbage_bytes_max {
            return Err(FrameError::Garbage {
                skipped_bytes: self.garbage_run_bytes,
            });
        }
        Ok(())
    }

    fn take_frame(
        &mut self,
        buffer: &mut BytesMut,
        start: usize,
        len: usize,
        end: usize,
    ) -> BytesMut {
        buffer.advance(start);
        let payload = buffer.split_to(len);
        buffer.advance(end - start - len);
        self.scanned_bytes = 0;
        self.garbage_run_bytes = 0;
        payload
    }

    fn decode_stx(&mut self, buffer: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        // Bounded: every pass either returns or removes at least one byte from the buffer.
        loop {
            let Some(stx_at) = memchr::memchr(STX, buffer) else {
                let all = buffer.len();
                self.skip_garbage(buffer, all)?;
                return Ok(None);
            };
            if stx_at > 0 {
                self.skip_garbage(buffer, stx_at)?;
                self.scanned_bytes = 0;
            }
            let body = &buffer[1 + self.scanned_bytes..];
            match memchr::memchr2(STX, ETX, body) {
                Some(at) if body[at] == ETX => {
                    let len = self.scanned_bytes + at;
                    if len > self.frame_bytes_max {
                        return Err(FrameError::Oversize {
                            limit_bytes: self.frame_bytes_max,
                        });
                    }
                    return Ok(Some(self.take_frame(buffer, 1, len, len + 2)));
                }
                Some(at) => {
                    // A new STX: the unfinished frame before it is abandoned as garbage.
                    let abandoned = 1 + self.scanned_bytes + at;
                    self.scanned_bytes = 0;
                    self.skip_garbage(buffer, abandoned)?;
                }
                None => {
                    self.scanned_bytes += body.len();
                    if self.scanned_bytes > self.frame_bytes_max {
                        return Err(FrameError::Oversize {
                            limit_bytes: self.frame_bytes_max,
                        });
                    }
                    buffer.reserve(
                        (self.frame_bytes_max + 2)
                            .saturating_sub(buffer.len())
                            .min(4096),
                    );
                    return Ok(None);
                }
            }
        }
    }

    fn decode_len4(&mut self, buffer: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let Some(prefix) = buffer.get(..LEN4_PREFIX_BYTES) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len > self.frame_bytes_max {
            return Err(FrameError::Oversize {
                limit_bytes: self.frame_bytes_max,
            });
        }
        let total = LEN4_PREFIX_BYTES + len;
        if buffer.len() < total {
            buffer.reserve(total - buffer.len());
            return Ok(None);
        }
        Ok(Some(self.take_frame(buffer, LEN4_PREFIX_BYTES, len, total)))
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match self.framing {
            Framing::StxEtx => self.decode_stx(buffer),
            Framing::Len4 => self.decode_len4(buffer),
        }
    }

    fn decode_eof(&mut self, buffer: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match self.decode(buffer)? {
            Some(frame) => Ok(Some(frame)),
            None if self.is_mid_frame(buffer) => Err(FrameError::Truncated),
            None => Ok(None),
        }
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<(), FrameError> {
        encode_frame(self.framing, payload, out);
        Ok(())
    }
}

/// Appends one framed payload to `out` (also used by clients: `send`, tests, the load generator).
pub fn encode_frame(framing: Framing, payload: &[u8], out: &mut BytesMut) {
    match framing {
        Framing::StxEtx => {
            out.reserve(payload.len() + 2);
            out.put_u8(STX);
            out.put_slice(payload);
            out.put_u8(ETX);
        }
        Framing::Len4 => {
            out.reserve(payload.len() + LEN4_PREFIX_BYTES);
            out.put_u32(payload.len() as u32);
            out.put_slice(payload);
        }
    }
}

/// Why a file of frames cannot be split.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameFileError {
    #[error("a frame has no ETX")]
    NoEtx,
    #[error("bytes outside any STX…ETX frame")]
    OutsideFrames,
}

/// The transmissions in a file (for `decode`, `send` and corpus replay): the STX…ETX frame
/// payloads when the file starts with STX (ASCII whitespace between frames is skipped), else
/// the whole file as one bare transmission without a final line break or trailing ETX.
pub fn split_file_frames(bytes: &[u8]) -> Result<Vec<&[u8]>, FrameFileError> {
    let start = skip_whitespace(bytes);
    if bytes.get(start) != Some(&STX) {
        let bare = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        return Ok(vec![bare.strip_suffix(&[ETX]).unwrap_or(bare)]);
    }
    let mut frames = Vec::new();
    let mut rest = &bytes[start..];
    // Bounded by the input: every pass consumes at least the STX.
    while let Some(after_stx) = rest.strip_prefix(&[STX]) {
        let end = memchr::memchr(ETX, after_stx).ok_or(FrameFileError::NoEtx)?;
        frames.push(&after_stx[..end]);
        let after = &after_stx[end + 1..];
        rest = &after[skip_whitespace(after)..];
    }
    if rest.is_empty() {
        Ok(frames)
    } else {
        Err(FrameFileError::OutsideFrames)
    }
}

fn skip_whitespace(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codec(framing: Framing) -> FrameCodec {
        FrameCodec::new(framing, 512, 64)
    }

    fn decode_all(codec: &mut FrameCodec, chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut buffer = BytesMut::new();
        let mut frames = Vec::new();
        for chunk in chunks {
            buffer.extend_from_slice(chunk);
            while let Some(frame) = codec.decode(&mut buffer)? {
                frames.push(frame.to_vec());
            }
        }
        Ok(frames)
    }

    #[test]
    fn stx_frames_are_split_and_garbage_is_counted() {
        let mut codec = codec(Framing::StxEtx);
        let frames = decode_all(&mut codec, &[b"\r\n\x02AB\x03xx\x02C", b"D\x03"]).unwrap();
        assert_eq!(frames, vec![b"AB".to_vec(), b"CD".to_vec()]);
        assert_eq!(codec.garbage_total_bytes(), 4);
    }

    #[test]
    fn need_more_bytes_is_none() {
        let mut codec = codec(Framing::StxEtx);
        let mut buffer = BytesMut::from(&b"\x02ABC"[..]);
        assert!(codec.decode(&mut buffer).unwrap().is_none());
        assert!(codec.is_mid_frame(&buffer));
        assert!(matches!(
            codec.decode_eof(&mut buffer),
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn oversize_stx_frame_is_refused_before_its_end_arrives() {
        let mut codec = codec(Framing::StxEtx);
        let mut buffer = BytesMut::from(&[STX][..]);
        buffer.extend_from_slice(&[b'A'; 513]);
        assert!(matches!(
            codec.decode(&mut buffer),
            Err(FrameError::Oversize { limit_bytes: 512 })
        ));
    }

    #[test]
    fn frame_exactly_at_the_limit_is_accepted() {
        let mut codec = codec(Framing::StxEtx);
        let mut payload = vec![STX];
        payload.extend_from_slice(&[b'A'; 512]);
        payload.push(ETX);
        assert_eq!(decode_all(&mut codec, &[&payload]).unwrap()[0].len(), 512);
    }

    #[test]
    fn oversize_len4_frame_is_refused_from_its_prefix() {
        let mut codec = codec(Framing::Len4);
        let mut buffer = BytesMut::from(&513u32.to_be_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut buffer),
            Err(FrameError::Oversize { .. })
        ));
    }

    #[test]
    fn a_second_stx_abandons_the_unfinished_frame() {
        let mut codec = codec(Framing::StxEtx);
        let frames = decode_all(&mut codec, &[b"\x02AB\x02CD\x03"]).unwrap();
        assert_eq!(frames, vec![b"CD".to_vec()]);
        assert_eq!(codec.garbage_total_bytes(), 3);
    }

    #[test]
    fn too_much_garbage_is_an_error() {
        let mut codec = codec(Framing::StxEtx);
        assert!(matches!(
            decode_all(&mut codec, &[&[b'x'; 65]]),
            Err(FrameError::Garbage { .. })
        ));
    }

    #[test]
    fn file_frames_split_bare_and_framed_input() {
        assert_eq!(split_file_frames(b"ABC\x03\n"), Ok(vec![&b"ABC"[..]]));
        assert_eq!(split_file_frames(b"ABC\r\n"), Ok(vec![&b"ABC"[..]]));
        assert_eq!(
            split_file_frames(b"\x02A\x03\n\x02B\x03\r\n"),
            Ok(vec![&b"A"[..], &b"B"[..]])
        );
    }

    #[test]
    fn broken_file_framing_is_an_error() {
        assert_eq!(split_file_frames(b"\x02ONE"), Err(FrameFileError::NoEtx));
        assert_eq!(
            split_file_frames(b"\x02ONE\x03junk"),
            Err(FrameFileError::OutsideFrames)
        );
    }

    fn framed(framing: Framing, payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut out = BytesMut::new();
        for payload in payloads {
            encode_frame(framing, payload, &mut out);
        }
        out.to_vec()
    }

    fn chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        points.extend([0, bytes.len()]);
        points.sort_unstable();
        points
            .windows(2)
            .map(|pair| bytes[pair[0]..pair[1]].to_vec())
            .collect()
    }

    proptest! {
        #[test]
        fn any_chunking_yields_the_same_frames(
            payloads in prop::collection::vec(prop::collection::vec(0x04u8..0x7f, 0..200), 1..8),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
            len4 in any::<bool>(),
        ) {
            let framing = if len4 { Framing::Len4 } else { Framing::StxEtx };
            let stream = framed(framing, &payloads);
            let pieces = chunked(&stream, &cuts);
            let slices: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            let frames = decode_all(&mut codec(framing), &slices).unwrap();
            prop_assert_eq!(frames, payloads);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), len4 in any::<bool>()) {
            let framing = if len4 { Framing::Len4 } else { Framing::StxEtx };
            let mut codec = codec(framing);
            let mut buffer = BytesMut::from(&bytes[..]);
            for _ in 0..bytes.len() + 1 {
                match codec.decode(&mut buffer) {
                    Ok(Some(frame)) => prop_assert!(frame.len() <= 512),
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
