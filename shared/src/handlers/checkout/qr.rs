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
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }
}

/// Encode `data` (error correction M, or L when M cannot hold it).
pub fn encode(data: &str) -> Result<Modules, String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L))
        .map_err(|e| format!("cannot be encoded as a QR code ({e}); shorten it"))?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
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
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
        svg_element(m, size_px)
    )
}

/// Pixels per module for a requested size: the largest whole number that
/// keeps the image within `size_px` (at least 1).
pub fn scale_for(m: &Modules, size_px: u32) -> usize {
    (size_px as usize / m.total()).max(1)
}

/// A 1-bit grayscale PNG, `total * scale` pixels square (see `scale_for`),
/// encoded (and deflated) by the `png` crate.
pub fn png(m: &Modules, size_px: u32) -> Vec<u8> {
    let scale = scale_for(m, size_px);
    let px = m.total() * scale;
    let row_bytes = px.div_ceil(8);
    let mut pixels = Vec::with_capacity(row_bytes * px);
    for my in 0..m.total() {
        // One packed row per module row (bit 1 = white), repeated `scale` times.
        let mut line = vec![0u8; row_bytes];
        for x in 0..px {
            if !m.is_dark(x / scale, my) {
                line[x / 8] |= 0x80 >> (x % 8);
            }
        }
        for _ in 0..scale {
            pixels.extend_from_slice(&line);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, px as u32, px as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::Fast);
    let written = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&pixels).and_then(|_| w.finish()));
    written.expect("encoding a PNG into memory cannot fail for valid dimensions");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode a PNG of ours with the `png` crate -> (width, height, packed rows).
    fn decode(data: &[u8]) -> (usize, usize, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(data));
        let mut reader = decoder.read_info().expect("valid PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("one frame");
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Grayscale, png::BitDepth::One)
        );
        buf.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, buf)
    }

    fn assert_pixels(m: &Modules, size: u32) {
        let (w, h, raw) = decode(&png(m, size));
        let scale = scale_for(m, size);
        assert_eq!((w, h), (m.total() * scale, m.total() * scale));
        let row = w.div_ceil(8);
        assert_eq!(raw.len(), row * h);
        for y in 0..h {
            for x in 0..w {
                let white = raw[y * row + x / 8] & (0x80 >> (x % 8)) != 0;
                assert_eq!(!white, m.is_dark(x / scale, y / scale), "pixel {x},{y}");
            }
        }
    }

    #[test]
    fn png_decodes_to_the_modules() {
        let m = encode("bitcoin:bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk?amount=0.00015385")
            .unwrap();
        let (w, _, _) = decode(&png(&m, 256));
        assert!(w <= 256 && w > 256 - m.total(), "{w}");
        assert_pixels(&m, 256);
        // Finder pattern corner is dark, quiet zone light.
        assert!(m.is_dark(QUIET_ZONE, QUIET_ZONE));
        assert!(!m.is_dark(0, 0) && !m.is_dark(QUIET_ZONE - 1, QUIET_ZONE));
        // A size below the code's module count still gives one pixel per module.
        let (w, _, _) = decode(&png(&m, MIN_SIZE));
        assert_eq!(w, m.total());
    }

    #[test]
    fn big_pngs_decode_and_compress() {
        let m = encode(&"x".repeat(1500)).unwrap();
        assert_pixels(&m, MAX_SIZE);
        let raw_bytes = (MAX_SIZE as usize).div_ceil(8) * MAX_SIZE as usize;
        assert!(
            png(&m, MAX_SIZE).len() < raw_bytes / 4,
            "deflate shrinks the blocks of repeated rows"
        );
    }

    #[test]
    fn svg_is_one_path_in_module_units() {
        let m = encode("hello").unwrap();
        let s = svg_element(&m, 200);
        let total = m.total();
        assert!(
            s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"200\""),
            "{s}"
        );
        assert!(s.contains(&format!("viewBox=\"0 0 {total} {total}\"")));
        assert!(
            s.contains(&format!("M{QUIET_ZONE} {QUIET_ZONE}h7v1h-7z")),
            "top-left finder row: {s}"
        );
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
