//! Our own QR locator, for the frames rqrr's detector misses (small modules, blur, rotation):
//! find the three finder patterns by their 1:1:3:1:1 run lengths, fit the code's grid through
//! them (and its alignment pattern, when one is found) with a perspective transform, sample
//! every module, and hand the module grid to rqrr for error correction and decoding.
//!
//! Finder patterns are found as ZXing and the QR specification (ISO/IEC 18004 §12) describe:
//! a dark-light-dark-light-dark run of widths 1:1:3:1:1 across a row, confirmed down its
//! column and again across its row, repeated on neighbouring rows.

use super::sample::{Homography, decode_grid};

/// Four points: a code's finder centres (top-left, top-right, bottom-left) and its alignment
/// pattern's centre, in the frame or in module coordinates.
type Quad = [(f64, f64); 4];

/// A binary frame: `dark[y * width + x]`.
pub(super) struct BitFrame<'a> {
    pub(super) width: usize,
    pub(super) height: usize,
    /// 0 for dark, anything else for light (the binarisers' output).
    pub(super) pixels: &'a [u8],
}

impl BitFrame<'_> {
    fn dark(&self, x: usize, y: usize) -> bool {
        self.pixels[y * self.width + x] == 0
    }

    fn dark_at(&self, x: f64, y: f64) -> Option<bool> {
        // Written so that NaN is outside too.
        if !(x >= 0.0 && y >= 0.0) {
            return None;
        }
        let (xi, yi) = (x as usize, y as usize);
        (xi < self.width && yi < self.height).then(|| self.dark(xi, yi))
    }
}

/// A finder pattern's centre, module size and how many rows confirmed it.
#[derive(Debug, Clone, Copy)]
struct Finder {
    x: f64,
    y: f64,
    module: f64,
    seen: u32,
}

/// Whether five runs (dark, light, dark, light, dark) are in the ratio 1:1:3:1:1, with a
/// tolerance of half a module (at least one pixel, for codes of two-pixel modules).
fn finder_ratio(runs: &[usize; 5]) -> bool {
    let total: usize = runs.iter().sum();
    if total < 7 {
        return false;
    }
    let module = total as f64 / 7.0;
    let near = |run: usize, modules: f64| {
        (run as f64 - module * modules).abs() <= (module / 2.0 * modules).max(1.0)
    };
    near(runs[0], 1.0)
        && near(runs[1], 1.0)
        && near(runs[2], 3.0)
        && near(runs[3], 1.0)
        && near(runs[4], 1.0)
}

/// Counts the runs of a finder pattern through (`x`, `y`) along the step (`dx`, `dy`): the
/// dark centre both ways, then light and dark on each side, each run at most `limit` pixels.
/// Returns the five runs and the centre's position along the line (relative to the start).
fn runs_through(
    frame: &BitFrame<'_>,
    x: usize,
    y: usize,
    (dx, dy): (isize, isize),
    limit: usize,
) -> Option<([usize; 5], f64)> {
    if !frame.dark(x, y) {
        return None;
    }
    let at = |k: isize| -> Option<bool> {
        let px = x as isize + dx * k;
        let py = y as isize + dy * k;
        (px >= 0 && py >= 0 && (px as usize) < frame.width && (py as usize) < frame.height)
            .then(|| frame.dark(px as usize, py as usize))
    };
    // Walks from `from` in direction `sign` while the pixel is `dark`, up to `limit` steps.
    let walk = |from: isize, sign: isize, dark: bool| -> (usize, isize) {
        let mut k = from;
        let mut n = 0;
        while n <= limit && at(k) == Some(dark) {
            k += sign;
            n += 1;
        }
        (n, k)
    };
    let (up_centre, k) = walk(0, -1, true);
    let (up_light, k) = walk(k, -1, false);
    let (up_dark, _) = walk(k, -1, true);
    let (down_centre, k) = walk(1, 1, true);
    let (down_light, k) = walk(k, 1, false);
    let (down_dark, _) = walk(k, 1, true);
    let runs = [
        up_dark,
        up_light,
        up_centre + down_centre,
        down_light,
        down_dark,
    ];
    if runs.iter().any(|&r| r == 0 || r > limit) {
        return None;
    }
    // The centre run spans −(up_centre − 1) ..= down_centre along the line.
    let centre = (down_centre as f64 - up_centre as f64 + 1.0) / 2.0;
    finder_ratio(&runs).then_some((runs, centre))
}

/// Confirms a row candidate at (`x`, `y`) with `row_total` pixels across: down the column,
/// then across the row again through the column's centre. Returns the refined centre and
/// module size.
fn confirm(frame: &BitFrame<'_>, x: usize, y: usize, row_total: usize) -> Option<Finder> {
    let limit = row_total;
    let (vertical, dy) = runs_through(frame, x, y, (0, 1), limit)?;
    let v_total: usize = vertical.iter().sum();
    if 5 * v_total.abs_diff(row_total) >= 2 * row_total {
        return None;
    }
    let cy = y as f64 + dy;
    let yi = cy.round().clamp(0.0, (frame.height - 1) as f64) as usize;
    let (horizontal, dx) = runs_through(frame, x, yi, (1, 0), limit)?;
    let h_total: usize = horizontal.iter().sum();
    if 5 * h_total.abs_diff(v_total) >= 2 * v_total {
        return None;
    }
    // A diagonal look rejects a plain cross of lines that mimics the row and column runs.
    let xi = (x as f64 + dx).round().clamp(0.0, (frame.width - 1) as f64) as usize;
    runs_through(frame, xi, yi, (1, 1), limit * 2)?;
    Some(Finder {
        x: x as f64 + dx + 0.5,
        y: cy + 0.5,
        module: (h_total + v_total) as f64 / 14.0,
        seen: 1,
    })
}

/// The most finder candidates kept per frame: a real frame has a few per code; a frame made of
/// finder-like patterns must not make merging (linear per candidate) quadratic.
const MAX_FINDERS: usize = 256;

/// Adds a confirmed finder, merging it with a known one at the same place.
fn remember(finders: &mut Vec<Finder>, found: Finder) {
    for f in finders.iter_mut() {
        let close = (f.x - found.x).abs() <= f.module.max(found.module)
            && (f.y - found.y).abs() <= f.module.max(found.module)
            && (f.module - found.module).abs() <= f.module.max(1.0);
        if close {
            let n = f64::from(f.seen);
            f.x = (f.x * n + found.x) / (n + 1.0);
            f.y = (f.y * n + found.y) / (n + 1.0);
            f.module = (f.module * n + found.module) / (n + 1.0);
            f.seen += 1;
            return;
        }
    }
    if finders.len() < MAX_FINDERS {
        finders.push(found);
    }
}

/// Every finder pattern in the frame, most confirmed first.
fn finders(frame: &BitFrame<'_>) -> Vec<Finder> {
    let mut found: Vec<Finder> = Vec::new();
    let mut runs: Vec<(bool, usize)> = Vec::with_capacity(frame.width);
    for y in 0..frame.height {
        runs.clear();
        let row = &frame.pixels[y * frame.width..(y + 1) * frame.width];
        for &p in row {
            let dark = p == 0;
            match runs.last_mut() {
                Some((d, n)) if *d == dark => *n += 1,
                _ => runs.push((dark, 1)),
            }
        }
        let mut start = 0;
        for i in 0..runs.len() {
            if i + 5 <= runs.len() && runs[i].0 {
                let five = [
                    runs[i].1,
                    runs[i + 1].1,
                    runs[i + 2].1,
                    runs[i + 3].1,
                    runs[i + 4].1,
                ];
                if finder_ratio(&five) {
                    let centre = start + five[0] + five[1] + five[2] / 2;
                    let total = five.iter().sum();
                    if let Some(f) = confirm(frame, centre, y, total) {
                        remember(&mut found, f);
                    }
                }
            }
            start += runs[i].1;
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.seen));
    found
}

/// Three finders that may be one code's: (top-left, top-right, bottom-left) and how far the
/// triangle is from right-angled and isosceles (0 is perfect).
fn code_triangles(finders: &[Finder]) -> Vec<([usize; 3], f64)> {
    let n = finders.len().min(12);
    let mut triangles = Vec::new();
    let dist2 = |a: &Finder, b: &Finder| (a.x - b.x).powi(2) + (a.y - b.y).powi(2);
    for i in 0..n {
        for j in i + 1..n {
            for k in j + 1..n {
                let idx = [i, j, k];
                let f = idx.map(|i| finders[i]);
                let (lo, hi) = f.iter().fold((f64::MAX, 0.0f64), |(lo, hi), f| {
                    (lo.min(f.module), hi.max(f.module))
                });
                if hi > lo * 1.6 {
                    continue;
                }
                // The corner is the finder opposite the longest side.
                let sides = [
                    (dist2(&f[1], &f[2]), 0),
                    (dist2(&f[0], &f[2]), 1),
                    (dist2(&f[0], &f[1]), 2),
                ];
                let &(c2, corner) = sides
                    .iter()
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .expect("three sides");
                let others: Vec<usize> = (0..3).filter(|&i| i != corner).collect();
                let (a2, b2) = (sides[others[0]].0, sides[others[1]].0);
                let (a, b) = (a2.sqrt(), b2.sqrt());
                let module = (f[0].module + f[1].module + f[2].module) / 3.0;
                if a.min(b) < 12.0 * module || a.max(b) > 180.0 * module {
                    continue;
                }
                let isosceles = a.max(b) / a.min(b) - 1.0;
                let right = (c2 / (a2 + b2) - 1.0).abs();
                if isosceles > 0.5 || right > 0.5 {
                    continue;
                }
                // Top-right and bottom-left: clockwise from the corner in image coordinates.
                let (p, q) = (others[0], others[1]);
                let (tl, tr, bl) = (f[corner], f[p], f[q]);
                let cross = (tr.x - tl.x) * (bl.y - tl.y) - (tr.y - tl.y) * (bl.x - tl.x);
                let (tr_i, bl_i) = if cross > 0.0 { (p, q) } else { (q, p) };
                triangles.push(([idx[corner], idx[tr_i], idx[bl_i]], isosceles + right));
            }
        }
    }
    triangles.sort_by(|a, b| a.1.total_cmp(&b.1));
    triangles
}

/// The centre of the alignment pattern nearest `(x, y)` within `radius` pixels: a dark module
/// ringed by light, one module wide each, across and down.
fn alignment_near(
    frame: &BitFrame<'_>,
    x: f64,
    y: f64,
    module: f64,
    radius: f64,
) -> Option<(f64, f64)> {
    let x0 = (x - radius).max(0.0) as usize;
    let x1 = ((x + radius) as usize).min(frame.width.saturating_sub(1));
    let y0 = (y - radius).max(0.0) as usize;
    let y1 = ((y + radius) as usize).min(frame.height.saturating_sub(1));
    let fits = |run: usize| (run as f64 - module).abs() <= (module / 2.0).max(1.0);
    // No run that fits is longer than this, so no scan goes further.
    let cap = (module * 1.5) as usize + 2;
    // Pixels of one colour from a start, along a line of pixel positions, at most `cap`.
    let run_of = |dark: bool, line: &mut dyn Iterator<Item = (usize, usize)>| {
        line.take(cap)
            .take_while(|&(c, r)| frame.dark(c, r) == dark)
            .count()
    };
    let mut best: Option<(f64, f64, f64)> = None;
    for row in y0..=y1 {
        let mut col = x0;
        while col <= x1 {
            if !frame.dark(col, row) {
                col += 1;
                continue;
            }
            let start = col;
            while col <= x1 && frame.dark(col, row) {
                col += 1;
            }
            if !fits(col - start) {
                continue;
            }
            let left = run_of(false, &mut (0..start).rev().map(|c| (c, row)));
            let right = run_of(false, &mut (col..frame.width).map(|c| (c, row)));
            if !fits(left) || !fits(right) {
                continue;
            }
            let cx = (start + col) as f64 / 2.0;
            let ci = cx as usize;
            let up = run_of(true, &mut (0..=row).rev().map(|r| (ci, r)));
            let down = run_of(true, &mut (row + 1..frame.height).map(|r| (ci, r)));
            if !fits(up + down) {
                continue;
            }
            let top = row + 1 - up;
            let above = run_of(false, &mut (0..top).rev().map(|r| (ci, r)));
            let below = run_of(false, &mut (row + 1 + down..frame.height).map(|r| (ci, r)));
            if !fits(above) || !fits(below) {
                continue;
            }
            let cy = top as f64 + (up + down) as f64 / 2.0;
            let d = (cx - x).powi(2) + (cy - y).powi(2);
            if best.is_none_or(|b| d < b.2) {
                best = Some((cx, cy, d));
            }
        }
    }
    best.map(|(cx, cy, _)| (cx, cy))
}

/// The two best positions, by template match, for the alignment pattern of a `side`-module
/// code on finders `tl`, `tr`, `bl`: shifts of up to 3 modules, in half modules, from the
/// `estimate`, each scored by how many of the pattern's 25 modules it samples right (at least
/// 21). Returned as quads for [`Homography::mapping`] from `grid_points`.
fn alignment_by_template(
    frame: &BitFrame<'_>,
    [tl, tr, bl]: [Finder; 3],
    side: usize,
    estimate: (f64, f64),
    grid_points: Quad,
) -> Vec<Quad> {
    let span = side as f64 - 7.0;
    let (ux, uy) = ((tr.x - tl.x) / span, (tr.y - tl.y) / span);
    let (vx, vy) = ((bl.x - tl.x) / span, (bl.y - tl.y) / span);
    let centre = side - 7;
    let mut scored: Vec<(usize, f64, Quad)> = Vec::new();
    for i in -6..=6 {
        for j in -6..=6 {
            let (du, dv) = (f64::from(i) / 2.0, f64::from(j) / 2.0);
            let corner = (
                estimate.0 + du * ux + dv * vx,
                estimate.1 + du * uy + dv * vy,
            );
            let quad = [(tl.x, tl.y), (tr.x, tr.y), (bl.x, bl.y), corner];
            let Some(to_image) = Homography::mapping(grid_points, quad) else {
                continue;
            };
            let mut right = 0;
            for dy in -2i32..=2 {
                for dx in -2i32..=2 {
                    let dark_expected = dx.abs().max(dy.abs()) != 1;
                    let (mx, my) = (centre as f64 + f64::from(dx), centre as f64 + f64::from(dy));
                    let (x, y) = to_image.apply(mx + 0.5, my + 0.5);
                    right += usize::from(frame.dark_at(x, y) == Some(dark_expected));
                }
            }
            if right >= 21 {
                scored.push((right, du.hypot(dv), quad));
            }
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)));
    scored
        .into_iter()
        .take(2)
        .map(|(_, _, quad)| quad)
        .collect()
}

/// Side lengths (in modules) worth trying for a code whose finders are `modules` apart.
fn sizes(modules: f64) -> Vec<usize> {
    let estimate = modules.round() as i64 + 7;
    let nearest = match estimate.rem_euclid(4) {
        0 => estimate + 1,
        2 => estimate - 1,
        3 => estimate + 2,
        _ => estimate,
    };
    [nearest, nearest - 4, nearest + 4]
        .into_iter()
        .filter(|s| (21..=177).contains(s))
        .map(|s| s as usize)
        .collect()
}

/// Decodes every code whose finders the locator sees in `frame`.
pub(super) fn locate_and_decode(frame: &BitFrame<'_>) -> Vec<String> {
    let finders = finders(frame);
    let mut used = vec![false; finders.len()];
    let mut texts = Vec::new();
    for (idx, _) in code_triangles(&finders).into_iter().take(24) {
        if idx.iter().any(|&i| used[i]) {
            continue;
        }
        let [tl, tr, bl] = idx.map(|i| finders[i]);
        let module = (tl.module + tr.module + bl.module) / 3.0;
        let across = ((tr.x - tl.x).hypot(tr.y - tl.y) + (bl.x - tl.x).hypot(bl.y - tl.y)) / 2.0;
        if let Some(text) = decode_triangle(frame, [tl, tr, bl], module, across / module) {
            idx.iter().for_each(|&i| used[i] = true);
            texts.push(text);
        }
    }
    texts
}

/// The share of timing-pattern modules a sampled grid must get right to be decoded.
const MIN_TIMING_AGREEMENT: f64 = 0.7;

/// The share of the two timing patterns' modules (row 6 and column 6, from module 8 to
/// `side − 9`: dark at even positions) that `dark` samples correctly.
fn timing_agreement(side: usize, dark: &impl Fn(usize, usize) -> bool) -> f64 {
    let span = 8..side - 8;
    let right = span.clone().filter(|&i| dark(i, 6) == (i % 2 == 0)).count()
        + span.clone().filter(|&i| dark(6, i) == (i % 2 == 0)).count();
    right as f64 / (2 * span.len()) as f64
}

/// Tries the plausible sizes of the code on finders `tl`, `tr`, `bl`, with the alignment
/// pattern where found and without.
fn decode_triangle(
    frame: &BitFrame<'_>,
    [tl, tr, bl]: [Finder; 3],
    module: f64,
    modules: f64,
) -> Option<String> {
    for side in sizes(modules) {
        let s = side as f64;
        // Finder centres sit 3.5 modules in from the corners.
        let near = 3.5;
        let far = s - 3.5;
        let mut quads: Vec<Quad> = Vec::new();
        if side > 21 {
            // The bottom-right alignment pattern sits 6.5 modules in; find it near where the
            // parallelogram through the finders puts it.
            let k = (s - 6.5 - near) / (far - near);
            let ex = tl.x + k * (tr.x - tl.x) + k * (bl.x - tl.x);
            let ey = tl.y + k * (tr.y - tl.y) + k * (bl.y - tl.y);
            for allowance in [4.0, 8.0, 15.0] {
                if let Some((ax, ay)) = alignment_near(frame, ex, ey, module, allowance * module) {
                    quads.push([(tl.x, tl.y), (tr.x, tr.y), (bl.x, bl.y), (ax, ay)]);
                    break;
                }
            }
        }
        // The parallelogram's fourth corner, right without perspective.
        let k = (s - 6.5 - near) / (far - near);
        let estimate = (
            tl.x + k * (tr.x - tl.x) + k * (bl.x - tl.x),
            tl.y + k * (tr.y - tl.y) + k * (bl.y - tl.y),
        );
        let grid_points = [(near, near), (far, near), (near, far), (s - 6.5, s - 6.5)];
        if side > 21 {
            // Perspective moves the alignment pattern off the parallelogram, and blur can hide
            // it from the run-length search: match its 5×5 template around the estimate.
            quads.extend(alignment_by_template(
                frame,
                [tl, tr, bl],
                side,
                estimate,
                grid_points,
            ));
        }
        quads.push([(tl.x, tl.y), (tr.x, tr.y), (bl.x, bl.y), estimate]);
        for quad in quads {
            let Some(to_image) = Homography::mapping(grid_points, quad) else {
                continue;
            };
            let sample = |mx: usize, my: usize| {
                let (x, y) = to_image.apply(mx as f64 + 0.5, my as f64 + 0.5);
                frame.dark_at(x, y).unwrap_or(false)
            };
            // The timing patterns (row and column 6 between the finders alternate dark and
            // light) reject a wrong size or a false triangle before the costly full decode.
            if timing_agreement(side, &sample) < MIN_TIMING_AGREEMENT {
                continue;
            }
            if let Some(text) = decode_grid(side, sample) {
                return Some(text);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finder_ratios_accept_1_1_3_1_1_and_refuse_others() {
        assert!(finder_ratio(&[2, 2, 6, 2, 2]));
        assert!(finder_ratio(&[1, 3, 6, 2, 2])); // a two-pixel module, blurred
        assert!(finder_ratio(&[10, 9, 31, 11, 10]));
        assert!(!finder_ratio(&[2, 2, 2, 2, 2]));
        assert!(!finder_ratio(&[10, 10, 10, 30, 10]));
        assert!(!finder_ratio(&[1, 1, 1, 1, 1]));
    }

    #[test]
    fn the_locator_alone_reads_a_code() {
        let text = "0123456789ABCDEFGHJKMNPQRSTVWXYZ0123456789ABCDEFGHJKMNPQRST";
        let (side, pixels) = crate::qr::encode(text, crate::qr::EcLevel::M)
            .unwrap()
            .to_luma(3);
        // Off-centre in a larger light frame.
        let (w, h) = (side + 90, side + 50);
        let mut binary = vec![255u8; w * h];
        for y in 0..side {
            binary[(y + 30) * w + 60..(y + 30) * w + 60 + side]
                .copy_from_slice(&pixels[y * side..(y + 1) * side]);
        }
        let frame = BitFrame {
            width: w,
            height: h,
            pixels: &binary,
        };
        assert_eq!(finders(&frame).len(), 3);
        assert_eq!(locate_and_decode(&frame), [text]);
    }

    #[test]
    fn a_frame_tiled_with_finder_patterns_stays_bounded() {
        // Every 9×9 cell holds a finder pattern: thousands of candidates, none a code.
        let (w, h) = (639, 477);
        let mut binary = vec![255u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (cx, cy) = ((x % 9) as i32 - 4, (y % 9) as i32 - 4);
                let ring = cx.abs().max(cy.abs());
                if ring == 3 || ring <= 1 {
                    binary[y * w + x] = 0;
                }
            }
        }
        let frame = BitFrame {
            width: w,
            height: h,
            pixels: &binary,
        };
        assert_eq!(finders(&frame).len(), MAX_FINDERS);
        assert_eq!(locate_and_decode(&frame), Vec::<String>::new());
    }

    #[test]
    fn sizes_snap_to_qr_sides() {
        assert_eq!(sizes(14.2), [21, 25]);
        assert_eq!(sizes(22.6), [29, 25, 33]);
        assert_eq!(sizes(18.0), [25, 21, 29]);
    }
}
