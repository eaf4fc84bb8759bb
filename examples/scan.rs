//! `cargo run --release --example scan -- FILE...`: prints `FILE<TAB>TEXT` for every QR code
//! found in each PNG or JPEG file, or `FILE<TAB>-` when none is found. An unreadable file is
//! reported on standard error and the exit status is 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: scan FILE...");
        return ExitCode::FAILURE;
    }
    let mut status = ExitCode::SUCCESS;
    for file in files {
        match o2okit::qr::decode_image_file(&file) {
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
