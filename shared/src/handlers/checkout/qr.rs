//! QR codes as SVG (one path) or PNG (1-bit grayscale, via the `png`
//! crate), exactly `size` pixels square: every module is the same whole
//! number of pixels (at least `MIN_MODULE_PX`, so scanners can read it),
//! the code is centred, and the quiet zone (4 modules) plus the remainder
//! of the division are light.

use qrcode::{Color, EcLevel, QrCode};
use std::fmt::Write;

/// Light modules around the code, as the QR standard asks.
pub const QUIET_ZONE: usize = 4;
/// Pixels per module at the least: fewer and phone cameras misread.
pub const MIN_MODULE_PX: usize = 3;
/// Largest and default image side (`size=`); data that needs more than
/// the default gets its minimum size by default.
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

    /// The smallest image side with `MIN_MODULE_PX` pixels per module.
    pub fn min_size(&self) -> u32 {
        (self.total() * MIN_MODULE_PX) as u32
    }

    /// Where the modules go in an image `size_px` square, or why that size
    /// is too small.
    pub fn layout(&self, size_px: u32) -> Result<Layout, String> {
        let min = self.min_size();
        if size_px < min {
            return Err(format!(
                "must be at least {min} pixels for this data ({} modules with the quiet zone, {MIN_MODULE_PX} pixels each)",
                self.total()
            ));
        }
        let size = size_px as usize;
        let scale = size / self.total();
        Ok(Layout {
            size,
            scale,
            offset: (size - self.total() * scale) / 2,
        })
    }

    /// Whether the module at (x, y) of the full square (quiet zone included) is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }
}

/// An image of a code: `size` pixels square, `scale` pixels per module,
/// the quiet-zone-included square starting `offset` pixels from the top
/// left (the pixels around it are light too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub size: usize,
    pub scale: usize,
    pub offset: usize,
}

impl Layout {
    /// Whether pixel (x, y) is dark.
    pub fn is_dark(&self, m: &Modules, x: usize, y: usize) -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(self.offset), y.checked_sub(self.offset)) else {
            return false;
        };
        m.is_dark(x / self.scale, y / self.scale)
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

/// An `<svg>` element of `l.size` pixels: one light square and one path
/// of the dark runs of each module row, in pixels. Usable inline in HTML.
pub fn svg_element(m: &Modules, l: Layout) -> String {
    let (total, k, o) = (m.total(), l.scale, l.offset);
    let mut d = String::new();
    for y in 0..total {
        let mut x = 0;
        while x < total {
            if m.is_dark(x, y) {
                let start = x;
                while x < total && m.is_dark(x, y) {
                    x += 1;
                }
                let run = (x - start) * k;
                let _ = write!(d, "M{} {}h{run}v{k}h-{run}z", o + start * k, o + y * k);
            } else {
                x += 1;
            }
        }
    }
    let size = l.size;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{d}\"/></svg>"
    )
}

/// A standalone SVG document (`image/svg+xml`).
pub fn svg_document(m: &Modules, l: Layout) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
        svg_element(m, l)
    )
}

/// A 1-bit grayscale PNG of `l.size` pixels square, encoded (and
/// deflated) by the `png` crate.
pub fn png(m: &Modules, l: Layout) -> Vec<u8> {
    let px = l.size;
    let row_bytes = px.div_ceil(8);
    let mut pixels = Vec::with_capacity(row_bytes * px);
    for y in 0..px {
        // One packed row per pixel row (bit 1 = white).
        let mut line = vec![0u8; row_bytes];
        for x in 0..px {
            if !l.is_dark(m, x, y) {
                line[x / 8] |= 0x80 >> (x % 8);
            }
        }
        pixels.extend_from_slice(&line);
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

    /// Decode a PNG of ours with the `png` crate -> (side, light pixels).
    fn decode(data: &[u8]) -> (usize, Vec<bool>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(data));
        let mut reader = decoder.read_info().expect("valid PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("one frame");
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Grayscale, png::BitDepth::One)
        );
        assert_eq!(info.width, info.height, "square");
        let (w, row) = (info.width as usize, (info.width as usize).div_ceil(8));
        let light = (0..w * w)
            .map(|i| buf[(i / w) * row + (i % w) / 8] & (0x80 >> (i % w % 8)) != 0)
            .collect();
        (w, light)
    }

    /// The module size and quiet zone as seen in the pixels: the top-left
    /// finder pattern's first row is a dark run of 7 modules.
    fn measured(side: usize, light: &[bool]) -> (usize, usize) {
        let first = light.iter().position(|l| !l).expect("a dark pixel");
        let (y, x) = (first / side, first % side);
        let run = light[first..first + side - x]
            .iter()
            .take_while(|l| !**l)
            .count();
        assert_eq!(run % 7, 0, "finder row of 7 modules");
        assert_eq!(x, y, "the code is centred");
        (run / 7, x)
    }

    /// Read the PNG back with an independent QR reader.
    fn scan(side: usize, light: &[bool]) -> String {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
            if light[y * side + x] {
                255
            } else {
                0
            }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one code found");
        grids[0].decode().expect("readable").1
    }

    const URI: &str = "bitcoin:bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk?amount=0.00015385";

    #[test]
    fn png_is_exactly_the_size_asked_and_scans() {
        for data in [URI, "hello", &"x".repeat(1500)] {
            let m = encode(data).unwrap();
            let min = m.min_size();
            for size in [min, min + 1, min + 2, 256.max(min), 301.max(min), MAX_SIZE] {
                let l = m.layout(size).unwrap();
                let (side, light) = decode(&png(&m, l));
                assert_eq!(side, size as usize, "exactly {size} px");
                let (module, margin) = measured(side, &light);
                assert_eq!(module, l.scale);
                assert!(module >= MIN_MODULE_PX, "{module} px per module at {size}");
                assert!(
                    margin >= QUIET_ZONE * module,
                    "quiet zone {margin} px at {size}"
                );
                for y in 0..side {
                    for x in 0..side {
                        assert_eq!(!light[y * side + x], l.is_dark(&m, x, y), "{x},{y}");
                    }
                }
                assert_eq!(scan(side, &light), data, "at {size} px");
            }
        }
    }

    #[test]
    fn sizes_too_small_for_the_data_are_refused_with_the_minimum() {
        let m = encode(URI).unwrap();
        assert_eq!(m.min_size() as usize, m.total() * 3);
        let e = m.layout(m.min_size() - 1).unwrap_err();
        assert!(
            e.contains(&format!("at least {} pixels", m.min_size())),
            "{e}"
        );
        assert!(m.layout(64).is_err(), "64 px would be 1 px per module");
        let big = encode(&"x".repeat(1500)).unwrap();
        assert!(big.min_size() > DEFAULT_SIZE && big.min_size() <= MAX_SIZE);
    }

    #[test]
    fn big_pngs_compress() {
        let m = encode(&"x".repeat(1500)).unwrap();
        let raw_bytes = (MAX_SIZE as usize).div_ceil(8) * MAX_SIZE as usize;
        assert!(
            png(&m, m.layout(MAX_SIZE).unwrap()).len() < raw_bytes / 4,
            "deflate shrinks the repeated rows"
        );
    }

    #[test]
    fn svg_is_one_path_in_pixels() {
        let m = encode("hello").unwrap();
        let l = m.layout(200).unwrap();
        let s = svg_element(&m, l);
        assert!(
            s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"200\""),
            "{s}"
        );
        assert!(s.contains("viewBox=\"0 0 200 200\""));
        let (k, q) = (l.scale, l.offset + QUIET_ZONE * l.scale);
        assert!(k >= MIN_MODULE_PX);
        assert!(
            s.contains(&format!("M{q} {q}h{}v{k}h-{}z", 7 * k, 7 * k)),
            "top-left finder row: {s}"
        );
        assert_eq!(s.matches("<path").count(), 1);
        assert!(svg_document(&m, l).starts_with("<?xml"));
    }

    #[test]
    fn long_data_falls_back_or_fails_clearly() {
        assert!(encode(&"a".repeat(2000)).is_ok());
        let e = encode(&"\u{20ac}".repeat(2000)).err().unwrap();
        assert!(e.contains("QR code"), "{e}");
    }
}
