//! Rendering: the module matrix, SVG, PNG and terminal text.

use super::QrError;
use std::fmt::Write as _;

/// QR error-correction level: how much of the code may be damaged and still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcLevel {
    /// About 7% recoverable.
    L,
    /// About 15% recoverable: the usual choice for screens and paper.
    M,
    /// About 25% recoverable.
    Q,
    /// About 30% recoverable.
    H,
}

impl From<EcLevel> for qrcode::EcLevel {
    fn from(level: EcLevel) -> Self {
        match level {
            EcLevel::L => qrcode::EcLevel::L,
            EcLevel::M => qrcode::EcLevel::M,
            EcLevel::Q => qrcode::EcLevel::Q,
            EcLevel::H => qrcode::EcLevel::H,
        }
    }
}

/// A QR code's modules: `size × size`, row by row, `true` for dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    version: u8,
    size: usize,
    dark: Vec<bool>,
}

/// The quiet zone around a code, in modules, as ISO/IEC 18004 requires.
const QUIET_ZONE: usize = 4;

/// Encodes `text` in the smallest QR code version that holds it at `level`.
///
/// # Errors
/// [`QrError::TooLong`] when even version 40 cannot hold it.
pub fn encode(text: &str, level: EcLevel) -> Result<QrMatrix, QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), level.into())
        .map_err(|_| QrError::TooLong(text.len()))?;
    let version = match code.version() {
        qrcode::Version::Normal(v) => v as u8,
        qrcode::Version::Micro(v) => v as u8,
    };
    let size = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Ok(QrMatrix {
        version,
        size,
        dark,
    })
}

impl QrMatrix {
    /// The QR version, 1 to 40.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Modules per side (17 + 4 × version), without the quiet zone.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the module at column `x`, row `y` is dark (`false` outside the code).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }

    /// An SVG document with a 4-module quiet zone, `module_px` pixels a module.
    pub fn to_svg(&self, module_px: u32) -> String {
        let side = self.size + 2 * QUIET_ZONE;
        let px = side as u32 * module_px;
        let mut path = String::new();
        for y in 0..self.size {
            for x in 0..self.size {
                if self.is_dark(x, y) {
                    let _ = write!(path, "M{} {}h1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE);
                }
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{px}\" height=\"{px}\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>\n"
        )
    }

    /// 8-bit grey pixels with a 4-module quiet zone, `scale` pixels a module: (side, pixels).
    pub fn to_luma(&self, scale: usize) -> (usize, Vec<u8>) {
        let scale = scale.max(1);
        let side = (self.size + 2 * QUIET_ZONE) * scale;
        let mut pixels = vec![255u8; side * side];
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = (x / scale, y / scale);
                if mx >= QUIET_ZONE
                    && my >= QUIET_ZONE
                    && self.is_dark(mx - QUIET_ZONE, my - QUIET_ZONE)
                {
                    pixels[y * side + x] = 0;
                }
            }
        }
        (side, pixels)
    }

    /// A PNG image, `scale` pixels a module, with the quiet zone.
    pub fn to_png(&self, scale: usize) -> Vec<u8> {
        let (side, pixels) = self.to_luma(scale);
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        // Writing a well-formed grey buffer to memory cannot fail.
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(&pixels);
        }
        png
    }

    /// Terminal text: two module rows a line with half blocks, dark on a light quiet zone.
    pub fn to_terminal(&self) -> String {
        let side = self.size + 2 * QUIET_ZONE;
        let dark = |x: usize, y: usize| {
            x >= QUIET_ZONE && y >= QUIET_ZONE && self.is_dark(x - QUIET_ZONE, y - QUIET_ZONE)
        };
        let mut out = String::new();
        for y in (0..side).step_by(2) {
            for x in 0..side {
                // Light modules print as the full block, so the code reads on a dark terminal.
                out.push(match (dark(x, y), dark(x, y + 1)) {
                    (false, false) => '█',
                    (false, true) => '▀',
                    (true, false) => '▄',
                    (true, true) => ' ',
                });
            }
            out.push('\n');
        }
        out
    }
}
