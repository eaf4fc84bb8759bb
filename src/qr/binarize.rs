//! Binarisation: turning a grey frame into dark and light pixels, for rqrr and for the
//! finder-pattern locator. Output frames hold 0 (dark) or 255 (light).

/// Black below Otsu's threshold (the split that best separates the histogram's two modes),
/// into `out` (its capacity reused).
pub(super) fn global_threshold(data: &[u8], out: &mut Vec<u8>) {
    let mut histogram = [0u64; 256];
    for &p in data {
        histogram[usize::from(p)] += 1;
    }
    let total = data.len() as f64;
    let sum_all: f64 = histogram
        .iter()
        .enumerate()
        .map(|(i, &n)| i as f64 * n as f64)
        .sum();
    let (mut weight_below, mut sum_below, mut best, mut threshold) = (0.0, 0.0, 0.0, 128u8);
    for (level, &count) in histogram.iter().enumerate() {
        weight_below += count as f64;
        if weight_below == 0.0 || weight_below == total {
            continue;
        }
        sum_below += level as f64 * count as f64;
        let mean_below = sum_below / weight_below;
        let mean_above = (sum_all - sum_below) / (total - weight_below);
        let between = weight_below * (total - weight_below) * (mean_below - mean_above).powi(2);
        if between > best {
            best = between;
            threshold = level as u8;
        }
    }
    out.clear();
    out.extend(data.iter().map(|&p| if p <= threshold { 0 } else { 255 }));
}

/// Black where a pixel is darker than the mean of its neighbourhood (about 1/8 of the shorter
/// side) less a small margin, white elsewhere: evens out shadows and low contrast. Into `out`,
/// with the integral image in `sums` (both buffers' capacity reused).
pub(super) fn adaptive_threshold(
    width: usize,
    height: usize,
    data: &[u8],
    divisor: usize,
    sums: &mut Vec<u64>,
    out: &mut Vec<u8>,
) {
    let radius = (width.min(height) / divisor).max(4);
    // Integral image with a zero row and column in front.
    let stride = width + 1;
    sums.clear();
    sums.resize(stride * (height + 1), 0);
    let sum = sums;
    for y in 0..height {
        let mut row = 0u64;
        for x in 0..width {
            row += u64::from(data[y * width + x]);
            sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + row;
        }
    }
    out.clear();
    out.resize(width * height, 255);
    for y in 0..height {
        let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(height));
        for x in 0..width {
            let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(width));
            let total = sum[y1 * stride + x1] + sum[y0 * stride + x0]
                - sum[y0 * stride + x1]
                - sum[y1 * stride + x0];
            let count = ((y1 - y0) * (x1 - x0)) as u64;
            let mean = total / count;
            if u64::from(data[y * width + x]) * 100 < mean * 92 {
                out[y * width + x] = 0;
            }
        }
    }
}
