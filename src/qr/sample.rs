//! Sampling a located code: the perspective transform from module coordinates to the frame,
//! and rqrr's decoder run on the sampled module grid.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// A plane-to-plane perspective transform (a 3×3 homography with its last entry fixed at 1).
#[derive(Debug, Clone, Copy)]
pub(super) struct Homography([f64; 8]);

impl Homography {
    /// The transform taking each of the four `from` points to the matching `to` point, or
    /// `None` when three of them are collinear.
    pub(super) fn mapping(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> Option<Self> {
        // x' = (a x + b y + c) / (g x + h y + 1), y' = (d x + e y + f) / (g x + h y + 1):
        // two linear equations in a..h per point pair.
        let mut m = [[0.0f64; 9]; 8];
        for (i, (&(x, y), &(u, v))) in from.iter().zip(&to).enumerate() {
            m[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            m[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        solve(&mut m).map(Homography)
    }

    /// Where `(x, y)` goes.
    pub(super) fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f, g, h] = self.0;
        let w = g * x + h * y + 1.0;
        ((a * x + b * y + c) / w, (d * x + e * y + f) / w)
    }
}

/// Solves the 8×8 system in `m` (augmented with its right-hand side) by Gaussian elimination
/// with partial pivoting.
fn solve(m: &mut [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col];
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (value, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *value -= factor * p;
                }
            }
        }
    }
    let mut x = [0.0; 8];
    for (i, value) in x.iter_mut().enumerate() {
        *value = m[i][8] / m[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Decodes a `side`×`side` module grid whose module (x, y) is dark when `dark(x, y)`; rqrr
/// corrects errors and reads the data (mirrored codes included). Panics inside rqrr count as
/// a failed decode.
pub(super) fn decode_grid(side: usize, dark: impl Fn(usize, usize) -> bool) -> Option<String> {
    let grid = rqrr::SimpleGrid::from_func(side, dark);
    catch_unwind(AssertUnwindSafe(|| rqrr::Grid::new(grid).decode().ok()))
        .ok()
        .flatten()
        .map(|(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_homography_maps_its_four_points_and_keeps_lines_straight() {
        let from = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)];
        let to = [(5.0, 7.0), (52.0, 11.0), (3.0, 60.0), (58.0, 66.0)];
        let h = Homography::mapping(from, to).unwrap();
        for (f, t) in from.iter().zip(&to) {
            let (x, y) = h.apply(f.0, f.1);
            assert!((x - t.0).abs() < 1e-9 && (y - t.1).abs() < 1e-9);
        }
        // The midpoint of an edge lands on the image of that edge.
        let (mx, my) = h.apply(5.0, 0.0);
        let cross = (52.0 - 5.0) * (my - 7.0) - (11.0 - 7.0) * (mx - 5.0);
        assert!(cross.abs() < 1e-6);
        let collinear = [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0)];
        assert!(Homography::mapping(collinear, to).is_none());
    }
}
