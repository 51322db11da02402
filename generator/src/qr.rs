//! QR codes of client configs for phones' WireGuard apps: in the terminal,
//! as PNG, or as SVG. Everything stays in memory.

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the config is too long for a QR code ({0} bytes)")]
    TooLong(usize),
    #[error("cannot encode PNG: {0}")]
    Png(String),
}

fn code(text: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).map_err(|_| QrError::TooLong(text.len()))
}

/// Unicode half blocks, dark modules on a light quiet zone.
pub fn terminal(text: &str) -> Result<String, QrError> {
    Ok(code(text)?.render::<unicode::Dense1x2>().dark_color(unicode::Dense1x2::Light).light_color(unicode::Dense1x2::Dark).quiet_zone(true).build() + "\n")
}

pub fn svg(text: &str) -> Result<String, QrError> {
    Ok(code(text)?.render::<svg::Color>().min_dimensions(300, 300).quiet_zone(true).build())
}

/// A grayscale PNG, 8 pixels a module with a 4-module quiet zone.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let c = code(text)?;
    let w = c.width();
    let (scale, quiet) = (8usize, 4usize);
    let side = (w + 2 * quiet) * scale;
    let colors = c.to_colors();
    let mut pixels = vec![255u8; side * side];
    for y in 0..w {
        for x in 0..w {
            if colors[y * w + x] == qrcode::Color::Dark {
                for dy in 0..scale {
                    let row = (y + quiet) * scale + dy;
                    let start = row * side + (x + quiet) * scale;
                    pixels[start..start + scale].fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| QrError::Png(e.to_string()))?;
        wr.write_image_data(&pixels).map_err(|e| QrError::Png(e.to_string()))?;
    }
    Ok(out)
}
