#!/usr/bin/env python3
"""QR robustness benchmark: o2okit's decoder against zxing-cpp on the same distorted frames.

  python3 -m pip install segno pillow numpy zxing-cpp
  cargo build --release --example scan
  python3 bench/qr_robustness.py target/release/examples/scan [--count 320] [--seed 7 ...] [--empty N]

Generates, per seed, COUNT images of voucher-like scanner texts (Crockford base32, 40–88
characters, level M) with rotation up to 45°, perspective, blur, noise, low contrast, module
sizes down to 2 px, most placed inside 640x480 or 1280x720 camera frames; and with --empty N,
N frames without a code of each kind (a shop scene: shelves, labels, price tags, 1-D
barcodes; and sensor noise) at each size. Then prints, for each decoder and each group of
frames, the share of codes recovered exactly and the decode time per frame: in-process, on a
frame already in memory, the median of --repeat decodes (zxing-cpp's read_barcodes on a numpy
array; o2okit's qr::Decoder, one kept across the frames as a kiosk keeps one, timed inside
the scan example with --time). File loading is excluded for both.
"""
import argparse
import pathlib
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
import segno
import zxingcpp
from PIL import Image, ImageFilter

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def render(text, module_px):
    qr = segno.make(text, error="m", boost_error=False, mode="alphanumeric")
    matrix = np.array([[0 if dark else 255 for dark in row] for row in qr.matrix], dtype=np.uint8)
    matrix = np.pad(matrix, 4, constant_values=255)
    big = np.kron(matrix, np.ones((module_px, module_px), dtype=np.uint8))
    return Image.fromarray(big, mode="L")


def perspective_coeffs(src, dst):
    rows = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.array(rows, dtype=float)
    b = np.array([c for pt in src for c in pt], dtype=float)
    return np.linalg.solve(a, b)


def distort(image, rng):
    params = {}
    w, h = image.size
    if rng.random() < 0.6:
        jitter = w * rng.uniform(0.02, 0.12)
        dst = [(rng.uniform(0, jitter), rng.uniform(0, jitter)),
               (w - rng.uniform(0, jitter), rng.uniform(0, jitter)),
               (w - rng.uniform(0, jitter), h - rng.uniform(0, jitter)),
               (rng.uniform(0, jitter), h - rng.uniform(0, jitter))]
        coeffs = perspective_coeffs([(0, 0), (w, 0), (w, h), (0, h)], dst)
        image = image.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BILINEAR, fillcolor=255)
        params["perspective"] = round(jitter / w, 2)
    angle = rng.uniform(-45, 45)
    image = image.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=255)
    params["rotation"] = round(angle)
    # Low contrast: map black/white to a narrower band.
    dark, light = rng.randint(0, 110), rng.randint(150, 255)
    arr = np.asarray(image, dtype=np.float32) / 255.0
    arr = dark + arr * (light - dark)
    # Place most codes inside a larger camera frame with a gradient background.
    if rng.random() < 0.7:
        fw, fh = rng.choice([(640, 480), (1280, 720)])
        if arr.shape[1] < fw and arr.shape[0] < fh:
            gx = np.linspace(rng.uniform(60, 200), rng.uniform(60, 200), fw, dtype=np.float32)
            frame = np.tile(gx, (fh, 1))
            x0, y0 = rng.randint(0, fw - arr.shape[1]), rng.randint(0, fh - arr.shape[0])
            frame[y0:y0 + arr.shape[0], x0:x0 + arr.shape[1]] = arr
            arr = frame
            params["frame"] = f"{fw}x{fh}"
    image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")
    blur = rng.choice([0, 0, 0.5, 1.0, 1.5])
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
        params["blur"] = blur
    sigma = rng.choice([0, 0, 5, 10, 20])
    if sigma:
        noisy = np.asarray(image, dtype=np.float32) + np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, sigma, (image.size[1], image.size[0]))
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), mode="L")
        params["noise"] = sigma
    return image, params


def shop_scene(size, rng):
    """A camera frame of a shop without a code: shelves of boxes with printed labels, price
    tags, 1-D barcodes, floor tiles, shading, blur and sensor noise."""
    from PIL import ImageDraw
    w, h = size
    top, bottom = rng.uniform(90, 200), rng.uniform(60, 180)
    shade = np.linspace(top, bottom, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    image = Image.fromarray(shade.astype(np.uint8), mode="L")
    draw = ImageDraw.Draw(image)
    floor = int(h * rng.uniform(0.7, 0.85))
    tile = rng.randint(24, 60)
    for y in range(floor, h, tile):
        for x in range(0, w, tile):
            draw.rectangle([x, y, x + tile - 2, y + tile - 2], fill=rng.randint(120, 220))
    shelf_y = rng.randint(10, 40)
    while shelf_y < floor - 40:
        shelf_h = rng.randint(60, 140)
        x = rng.randint(0, 20)
        while x < w:
            bw = rng.randint(25, 110)
            bh = rng.randint(int(shelf_h * 0.5), shelf_h - 6)
            y0 = shelf_y + shelf_h - bh
            draw.rectangle([x, y0, x + bw, shelf_y + shelf_h], fill=rng.randint(0, 255),
                           outline=rng.randint(0, 80))
            for k in range(rng.randint(0, 3)):
                label = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789 ") for _ in range(rng.randint(3, 12)))
                draw.text((x + 3, y0 + 4 + 12 * k), label, fill=rng.randint(0, 255))
            if rng.random() < 0.25 and bw > 40:
                bx, by = x + 4, y0 + bh // 2
                while bx < x + bw - 4:
                    width = rng.choice([1, 1, 2, 3])
                    draw.rectangle([bx, by, bx + width - 1, by + min(24, bh // 3)], fill=0)
                    bx += width + rng.choice([1, 1, 2, 3])
            x += bw + rng.randint(1, 8)
        draw.rectangle([0, shelf_y + shelf_h, w, shelf_y + shelf_h + 8], fill=rng.randint(30, 90))
        for _ in range(rng.randint(2, 6)):
            tx = rng.randint(0, w - 50)
            draw.rectangle([tx, shelf_y + shelf_h + 9, tx + 46, shelf_y + shelf_h + 27], fill=245)
            draw.text((tx + 4, shelf_y + shelf_h + 12), f"{rng.randint(1, 99)}.{rng.randint(0, 99):02d}", fill=0)
        shelf_y += shelf_h + 30
    blur = rng.choice([0, 0.5, 1.0])
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    noisy = np.asarray(image, dtype=np.float32) + np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, rng.uniform(2, 8), (h, w))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), mode="L")


def noise_frame(size, rng):
    """A dark, amplified sensor frame without a code: grey plus heavy Gaussian noise."""
    w, h = size
    arr = np.random.default_rng(rng.randint(0, 1 << 30)).normal(rng.uniform(60, 160), rng.uniform(15, 40), (h, w))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")


def frame_class(params):
    """The frame size a distorted code sits in: a bare code, 640x480 or 1280x720."""
    return params.get("frame", "bare code")


def time_zxing(path, repeat):
    """zxing-cpp's decode time alone, in ms (median of `repeat`), on an already loaded array.

    QR codes only, as a kiosk configures it; its other options at their defaults (rotations,
    downscaling, inverted codes)."""
    array = np.asarray(Image.open(path).convert("L"))
    times, found = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        found = zxingcpp.read_barcodes(array, formats=zxingcpp.BarcodeFormat.QRCode)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return [r.text for r in found], times[len(times) // 2]


def run_o2okit(scan, paths, repeat):
    """o2okit's texts and in-process decode times (file loading excluded) from one process."""
    out = subprocess.run([scan, "--time", "--repeat", str(repeat), *paths],
                         capture_output=True, text=True, check=False).stdout
    decoded, ms = {}, {}
    for line in out.splitlines():
        fields = line.split("\t")
        if fields[0] == "#time":
            ms[fields[1]] = float(fields[2])
        else:
            path, _, text = line.partition("\t")
            decoded.setdefault(path, set()).add(text)
    return decoded, ms


def quantiles(values):
    values = sorted(values)
    if not values:
        return "—"
    return f"{values[len(values) // 2]:.1f} / {values[min(len(values) - 1, int(len(values) * 0.95))]:.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scan", help="path to o2okit's scan example binary")
    parser.add_argument("--count", type=int, default=320, help="distorted frames per seed")
    parser.add_argument("--seed", type=int, action="append",
                        help="a seed; repeat for several corpora (default: 7)")
    parser.add_argument("--empty", type=int, default=0,
                        help="frames without a code per seed and kind (shop scene, noise) and size (480p, 720p)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="decodes per frame for each decoder; the median is its time")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print decode rates by distortion, and keep failing frames in --keep")
    parser.add_argument("--keep", help="directory to copy the frames o2okit missed into")
    args = parser.parse_args()
    seeds = args.seed or [7]
    with tempfile.TemporaryDirectory() as tmp:
        expected, params_of, empty_kind = {}, {}, {}
        for seed in seeds:
            rng = random.Random(seed)
            for i in range(args.count):
                text = "0" + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(40, 88)))
                module_px = rng.choice([2, 2, 3, 3, 4, 5, 6, 8])
                image, params = distort(render(text, module_px), rng)
                params["module_px"] = module_px
                path = str(pathlib.Path(tmp) / f"s{seed}-frame{i:04d}.png")
                image.save(path)
                expected[path] = text
                params_of[path] = params
            for i in range(args.empty):
                for size in [(640, 480), (1280, 720)]:
                    for kind, make in [("shop scene", shop_scene), ("noise", noise_frame)]:
                        path = str(pathlib.Path(tmp) / f"s{seed}-empty-{kind[:4]}-{size[0]}-{i:03d}.png")
                        make(size, rng).save(path)
                        empty_kind[path] = f"no code, {kind} {size[0]}x{size[1]}"

        paths = [*expected, *empty_kind]
        zx_found, zx_ms = {}, {}
        for path in paths:
            zx_found[path], zx_ms[path] = time_zxing(path, args.repeat)
        decoded, o2o_ms = run_o2okit(args.scan, paths, args.repeat)
        zx_hits = {p for p, t in expected.items() if t in zx_found[p]}
        o2o_hits = {p for p, t in expected.items() if t in decoded.get(p, ())}
        zx_false = sum(bool(zx_found[p]) for p in empty_kind)
        o2o_false = sum(bool(decoded.get(p, {"-"}) - {"-"}) for p in empty_kind)

        n = len(expected)
        print(f"{n} distorted frames (seeds {', '.join(map(str, seeds))}), {len(empty_kind)} frames without a code; "
              f"decode time in-process on loaded frames, median of {args.repeat} per frame")
        print(f"zxing-cpp: {100 * len(zx_hits) / max(n, 1):5.1f}% decoded")
        print(f"o2okit:    {100 * len(o2o_hits) / max(n, 1):5.1f}% decoded")
        print(f"gap: {100 * (len(zx_hits) - len(o2o_hits)) / max(n, 1):+.1f} points")
        print()
        print("| frames | n | rate zxing-cpp | rate o2okit | ms median / p95 zxing-cpp | ms median / p95 o2okit |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        def row(name, group, rates=True):
            zx = sum(p in zx_hits for p in group)
            o2o = sum(p in o2o_hits for p in group)
            rate = (lambda k: f"{100 * k / len(group):.1f}%") if rates else (lambda k: "—")
            print(f"| {name} | {len(group)} | {rate(zx)} | {rate(o2o)} | "
                  f"{quantiles([zx_ms[p] for p in group])} | {quantiles([o2o_ms.get(p, float('nan')) for p in group])} |")
        row("all with a code", list(expected))
        for cls in ["bare code", "640x480", "1280x720"]:
            group = [p for p in expected if frame_class(params_of[p]) == cls]
            if group:
                row(f"code in {cls}" if cls != "bare code" else "bare code", group)
        for kind in sorted(set(empty_kind.values())):
            row(kind, [p for p, k in empty_kind.items() if k == kind], rates=False)
        if empty_kind:
            print(f"\nfalse reads on frames without a code: zxing-cpp {zx_false}, o2okit {o2o_false}")
        if args.breakdown:
            breakdown(params_of, zx_hits, o2o_hits)
            if args.keep:
                import shutil
                keep = pathlib.Path(args.keep)
                keep.mkdir(parents=True, exist_ok=True)
                for path in expected:
                    if path not in o2o_hits:
                        tag = "zx" if path in zx_hits else "none"
                        shutil.copy(path, keep / f"{tag}-{pathlib.Path(path).name}")
                        (keep / f"{tag}-{pathlib.Path(path).stem}.txt").write_text(
                            f"{expected[path]}\n{params_of[path]}\n")


def breakdown(params_of, zx_hits, o2o_hits):
    """Decode rates of both decoders by each distortion's value."""
    def bucket(key, params):
        value = params.get(key, 0)
        if key == "rotation":
            value = min(abs(value) // 15 * 15, 45)
        if key == "perspective":
            value = 0 if not value else (0.06 if value < 0.06 else 0.12)
        return value
    for key in ["module_px", "rotation", "perspective", "blur", "noise", "frame"]:
        groups = {}
        for path, params in params_of.items():
            groups.setdefault(bucket(key, params), []).append(path)
        cells = []
        for value in sorted(groups, key=str):
            paths = groups[value]
            zx = sum(p in zx_hits for p in paths)
            o2o = sum(p in o2o_hits for p in paths)
            cells.append(f"{value}: zx {zx}/{len(paths)} o2o {o2o}/{len(paths)}")
        print(f"{key:12} " + " | ".join(cells))


if __name__ == "__main__":
    sys.exit(main())
