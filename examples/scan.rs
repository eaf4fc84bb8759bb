//! `cargo run --release --example scan -- [--time [--repeat N]] FILE...`: prints
//! `FILE<TAB>TEXT` for every QR code found in each PNG or JPEG file, or `FILE<TAB>-` when none
//! is found. An unreadable file is reported on standard error and the exit status is 1.
//!
//! With `--time`, each file is loaded first and then decoded from memory by one `qr::Decoder`
//! kept across all the files (as a kiosk's camera loop keeps one), and a line
//! `#time<TAB>FILE<TAB>MS` gives the decode time alone in milliseconds: the median of
//! `--repeat` decodes (default 1), file reading excluded. This is the figure to put beside
//! another decoder's in-process time on an already loaded frame.

use o2okit::qr::{DecodeLimits, Decoder, read_image_file};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let time = take_flag(&mut args, "--time");
    let repeat = match take_value(&mut args, "--repeat").map(|n| n.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("--repeat takes a positive count");
            return ExitCode::FAILURE;
        }
    };
    if args.is_empty() {
        eprintln!("usage: scan [--time [--repeat N]] FILE...");
        return ExitCode::FAILURE;
    }
    let mut status = ExitCode::SUCCESS;
    let mut decoder = Decoder::new();
    for file in args {
        let decoded = if time {
            decode_timed(&mut decoder, &file, repeat)
        } else {
            o2okit::qr::decode_image_file(&file)
        };
        match decoded {
            Ok(texts) if texts.is_empty() => println!("{file}\t-"),
            Ok(texts) => texts.iter().for_each(|text| println!("{file}\t{text}")),
            Err(error) => {
                eprintln!("{file}: {error}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}

/// Loads `file`, decodes it `repeat` times from memory and prints the median decode time.
fn decode_timed(
    decoder: &mut Decoder,
    file: &str,
    repeat: usize,
) -> Result<Vec<String>, o2okit::qr::QrError> {
    let image = read_image_file(file, &DecodeLimits::default())?;
    let mut times = Vec::with_capacity(repeat);
    let mut texts = Vec::new();
    for _ in 0..repeat {
        let start = Instant::now();
        texts = decoder
            .decode(image.width, image.height, image.width, &image.pixels)?
            .to_vec();
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!("#time\t{file}\t{:.4}", times[times.len() / 2]);
    Ok(texts)
}

fn take_flag(args: &mut Vec<String>, flag: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != flag);
    args.len() != before
}

fn take_value(args: &mut Vec<String>, flag: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    args.remove(i);
    // A flag without its value reads as an empty one, which no parser accepts.
    Some(if i < args.len() {
        args.remove(i)
    } else {
        String::new()
    })
}
