//! QR codes as SVG (one path in module units, crisp at any size) or PNG
//! (1-bit grayscale). The PNG writer is here because the `image` crate is
//! built without codecs: a PNG of a QR code needs only IHDR/IDAT/IEND, a
//! zlib stream of stored (uncompressed) deflate blocks, CRC-32 and Adler-32.

use qrcode::{Color, EcLevel, QrCode};
use std::fmt::Write;

/// Light modules around the code, as the QR standard asks.
pub const QUIET_ZONE: usize = 4;
/// Pixel size bounds and default (`size=`).
pub const MIN_SIZE: u32 = 64;
pub const MAX_SIZE: u32 = 1024;
pub const DEFAULT_SIZE: u32 = 256;

/// The modules of a code, dark = true, without the quiet zone.
pub struct Modules {
    width: usize,
    dark: Vec<bool>,
}

impl Modules {
    /// Side length with the quiet zone, in modules.
    pub fn total(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    /// Whether the module at (x, y) of the full square (quiet zone included) is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else { return false };
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }
}

/// Encode `data` (error correction M, or L when M cannot hold it).
pub fn encode(data: &str) -> Result<Modules, String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L))
        .map_err(|e| format!("cannot be encoded as a QR code ({e}); shorten it"))?;
    let width = code.width();
    let dark = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
    Ok(Modules { width, dark })
}

/// An `<svg>` element `size_px` wide: one white square and one path of the
/// dark runs of each row. Usable inline in HTML.
pub fn svg_element(m: &Modules, size_px: u32) -> String {
    let total = m.total();
    let mut d = String::new();
    for y in 0..total {
        let mut x = 0;
        while x < total {
            if m.is_dark(x, y) {
                let start = x;
                while x < total && m.is_dark(x, y) {
                    x += 1;
                }
                let run = x - start;
                let _ = write!(d, "M{start} {y}h{run}v1h-{run}z");
            } else {
                x += 1;
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size_px}\" height=\"{size_px}\" viewBox=\"0 0 {total} {total}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{total}\" height=\"{total}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{d}\"/></svg>"
    )
}

/// A standalone SVG document (`image/svg+xml`).
pub fn svg_document(m: &Modules, size_px: u32) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n", svg_element(m, size_px))
}

/// Pixels per module for a requested size: the largest whole number that
/// keeps the image within `size_px` (at least 1).
pub fn scale_for(m: &Modules, size_px: u32) -> usize {
    (size_px as usize / m.total()).max(1)
}

/// A 1-bit grayscale PNG, `total * scale` pixels square (see `scale_for`).
pub fn png(m: &Modules, size_px: u32) -> Vec<u8> {
    let scale = scale_for(m, size_px);
    let px = m.total() * scale;
    let row_bytes = px.div_ceil(8);
    let mut raw = Vec::with_capacity((row_bytes + 1) * px);
    for my in 0..m.total() {
        // One scanline per module row (filter type 0, bit 1 = white), repeated.
        let mut line = vec![0u8; row_bytes + 1];
        for x in 0..px {
            if !m.is_dark(x / scale, my) {
                line[1 + x / 8] |= 0x80 >> (x % 8);
            }
        }
        for _ in 0..scale {
            raw.extend_from_slice(&line);
        }
    }
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(px as u32).to_be_bytes());
    ihdr.extend_from_slice(&(px as u32).to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // bit depth 1, grayscale, deflate, filter 0, no interlace
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 65535 * 5 + 64);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream holding `data` in stored deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 16);
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(65535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none())); // BFINAL, BTYPE=00
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

pub(crate) fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(&[]), 1);
    }

    /// Read a PNG of ours back: chunks and CRCs, IHDR, the stored blocks
    /// and Adler-32 -> (width, height, raw scanlines, IDAT blocks).
    fn decode(png: &[u8]) -> (usize, usize, Vec<u8>, usize) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut at = 8;
        let mut chunks = Vec::new();
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let body = &png[at + 4..at + 8 + len];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc32(body), crc, "chunk CRC");
            chunks.push((body[..4].to_vec(), body[4..].to_vec()));
            at += 12 + len;
        }
        let kinds: Vec<&[u8]> = chunks.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(kinds, [b"IHDR".as_slice(), b"IDAT", b"IEND"]);
        let ihdr = &chunks[0].1;
        let w = u32::from_be_bytes(ihdr[0..4].try_into().unwrap()) as usize;
        let h = u32::from_be_bytes(ihdr[4..8].try_into().unwrap()) as usize;
        assert_eq!(&ihdr[8..], &[1, 0, 0, 0, 0], "1-bit grayscale");
        let z = &chunks[1].1;
        assert_eq!(&z[..2], &[0x78, 0x01]);
        assert_eq!(u16::from_be_bytes([z[0], z[1]]) % 31, 0, "zlib header check bits");
        let mut raw = Vec::new();
        let mut i = 2;
        let mut blocks = 0;
        loop {
            let last = z[i] & 1 == 1;
            assert_eq!(z[i] >> 1, 0, "stored block");
            let len = u16::from_le_bytes([z[i + 1], z[i + 2]]) as usize;
            let nlen = u16::from_le_bytes([z[i + 3], z[i + 4]]);
            assert_eq!(nlen, !(len as u16));
            raw.extend_from_slice(&z[i + 5..i + 5 + len]);
            i += 5 + len;
            blocks += 1;
            if last {
                break;
            }
        }
        assert_eq!(u32::from_be_bytes(z[i..i + 4].try_into().unwrap()), adler32(&raw));
        assert_eq!(i + 4, z.len());
        (w, h, raw, blocks)
    }

    fn assert_pixels(m: &Modules, size: u32) -> usize {
        let (w, h, raw, blocks) = decode(&png(m, size));
        let scale = scale_for(m, size);
        assert_eq!((w, h), (m.total() * scale, m.total() * scale));
        let row = w.div_ceil(8) + 1;
        assert_eq!(raw.len(), row * h);
        for y in 0..h {
            assert_eq!(raw[y * row], 0, "filter none");
            for x in 0..w {
                let white = raw[y * row + 1 + x / 8] & (0x80 >> (x % 8)) != 0;
                assert_eq!(!white, m.is_dark(x / scale, y / scale), "pixel {x},{y}");
            }
        }
        blocks
    }

    #[test]
    fn png_decodes_to_the_modules() {
        let m = encode("bitcoin:bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk?amount=0.00015385").unwrap();
        let (w, _, _, _) = decode(&png(&m, 256));
        assert!(w <= 256 && w > 256 - m.total(), "{w}");
        assert_eq!(assert_pixels(&m, 256), 1);
        // Finder pattern corner is dark, quiet zone light.
        assert!(m.is_dark(QUIET_ZONE, QUIET_ZONE));
        assert!(!m.is_dark(0, 0) && !m.is_dark(QUIET_ZONE - 1, QUIET_ZONE));
        // A size below the code's module count still gives one pixel per module.
        let (w, _, _, _) = decode(&png(&m, MIN_SIZE));
        assert_eq!(w, m.total());
    }

    #[test]
    fn big_pngs_span_several_stored_blocks() {
        let m = encode(&"x".repeat(1500)).unwrap();
        assert!(assert_pixels(&m, MAX_SIZE) > 1);
    }

    #[test]
    fn svg_is_one_path_in_module_units() {
        let m = encode("hello").unwrap();
        let s = svg_element(&m, 200);
        let total = m.total();
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"200\""), "{s}");
        assert!(s.contains(&format!("viewBox=\"0 0 {total} {total}\"")));
        assert!(s.contains(&format!("M{QUIET_ZONE} {QUIET_ZONE}h7v1h-7z")), "top-left finder row: {s}");
        assert_eq!(s.matches("<path").count(), 1);
        assert!(svg_document(&m, 200).starts_with("<?xml"));
    }

    #[test]
    fn long_data_falls_back_or_fails_clearly() {
        assert!(encode(&"a".repeat(2000)).is_ok());
        let e = encode(&"\u{20ac}".repeat(2000)).err().unwrap();
        assert!(e.contains("QR code"), "{e}");
    }
}
