//! Benchmark (not a test): what the upload trigger's probe costs on a 1 GB MP4 in Blob Storage (Azurite), with the
//! metadata at the front (fast start) and at the end. Run through `bench/video_probe.sh`, which starts Azurite.
//!
//! The two files are made from the committed `landscape-faststart.mp4` fixture by growing its `mdat` box with zero
//! bytes to 1 GB (chunk offsets still point at the real samples, so both files stay valid), uploaded once, then
//! probed `RUNS` times each. For each probe it prints the bytes read, the range requests, and the wall time of the
//! properties call plus the probe (what `VideoUploaded` does), and the median.

use std::{path::Path, sync::Arc, time::Instant};

use shared::{
    blob::{AzureBlobStore, BlobStore, BlobVersion, ConnectionString},
    video::probe::{ProbeLimits, probe},
};

const SIZE: u64 = 1 << 30;
const RUNS: usize = 7;

/// Top-level boxes: `(type, offset, size)`.
fn boxes(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut found = Vec::new();
    let mut offset = 0;
    while offset + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = bytes[offset + 4..offset + 8].try_into().expect("4 bytes");
        found.push((kind, offset, size));
        offset += size;
    }
    found
}

/// The fixture with its mdat grown to make the file `SIZE` bytes, and its moov first or last. Sample offsets are
/// absolute, so everything before the mdat keeps its place: when the moov moves to the end, a `free` box of the same
/// size takes its place.
fn padded(fixture: &[u8], moov_first: bool) -> Vec<u8> {
    let layout = boxes(fixture);
    let find = |kind: &[u8; 4]| layout.iter().find(|(k, _, _)| k == kind).map(|(_, o, s)| (*o, *s)).expect("box");
    let ((moov_offset, moov_size), (mdat_offset, mdat_size)) = (find(b"moov"), find(b"mdat"));
    assert!(moov_offset < mdat_offset && mdat_offset + mdat_size == fixture.len(), "a fast-start fixture");
    let moov = &fixture[moov_offset..moov_offset + moov_size];
    let tail = if moov_first { 0 } else { moov_size };
    let new_mdat_size = SIZE as usize - mdat_offset - tail;
    let mut out = Vec::with_capacity(SIZE as usize);
    out.extend_from_slice(&fixture[..mdat_offset]);
    if !moov_first {
        out[moov_offset..moov_offset + 4].copy_from_slice(&(moov_size as u32).to_be_bytes());
        out[moov_offset + 4..moov_offset + 8].copy_from_slice(b"free");
        out[moov_offset + 8..moov_offset + moov_size].fill(0);
    }
    out.extend_from_slice(&(new_mdat_size as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend_from_slice(&fixture[mdat_offset + 8..]);
    out.resize(mdat_offset + new_mdat_size, 0);
    if !moov_first {
        out.extend_from_slice(moov);
    }
    assert_eq!(out.len() as u64, SIZE);
    out
}

#[tokio::main]
async fn main() {
    let url = std::env::var("AZURITE_BLOB_URL").expect("AZURITE_BLOB_URL (bench/video_probe.sh sets it)");
    let fixture =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/videos/landscape-faststart.mp4"))
            .expect("fixture");
    let connection = ConnectionString::azurite(&url).expect("connection");
    let store = BlobStore::Azure(Arc::new(AzureBlobStore::from_connection_string(connection).expect("store")));
    let container = "bench";
    store.create_container(container).await.expect("container");

    println!("| file | size | bytes read | requests | median time (properties + probe) | min | max |");
    println!("|---|---|---|---|---|---|---|");
    for (name, moov_first) in [("fast-start-1g.mp4", true), ("moov-at-end-1g.mp4", false)] {
        let exists = store.properties(container, name).await.map(|p| p.length == SIZE).unwrap_or(false);
        if !exists {
            let started = Instant::now();
            store.write(container, name, padded(&fixture, moov_first), "video/mp4").await.expect("upload");
            eprintln!("uploaded {name} in {:.1} s", started.elapsed().as_secs_f64());
        }
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..RUNS {
            let started = Instant::now();
            let properties = store.properties(container, name).await.expect("properties");
            let source = BlobVersion { store: &store, container, name, etag: &properties.etag };
            let report = probe(&source, properties.length, ProbeLimits::default()).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            let found = report.result.as_ref().expect("probes");
            assert_eq!(found.fast_start, moov_first);
            last = Some((report.bytes_read, report.requests));
        }
        times.sort_by(f64::total_cmp);
        let (bytes, requests) = last.expect("runs");
        println!(
            "| {name} | {} MiB | {bytes} B ({:.1} KiB) | {requests} (+1 properties) | {:.1} ms | {:.1} ms | {:.1} ms |",
            SIZE >> 20,
            bytes as f64 / 1024.0,
            times[RUNS / 2],
            times[0],
            times[RUNS - 1]
        );
    }
}
