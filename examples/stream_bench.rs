//! Throughput of envelope stream encryption (crypto.md §3) on a large file, next to the AEAD
//! crate's own single-core in-process throughput measured in the same run, so the format's and the
//! I/O's overhead show as a ratio. Rows:
//!
//! - `aead`: `aes-gcm` sealing (and opening) 64 KiB buffers in memory on one thread: the ceiling
//!   (and the unit of every ratio, in both builds). Built with `--features aws-lc`, where the
//!   stream rows seal and open with AWS-LC, also `aead-aws-lc`: AWS-LC's AES-256-GCM the same way
//!   (out of place, as the stream calls it), with its ratio to `aes-gcm`.
//! - `copy`: the same file copied with no crypto: the I/O floor.
//! - `memory`: `vaultd::crypto::stream` memory to memory (`Encryptor`, `Decryptor`).
//! - `file`: the same, file → file through `Encryptor::write_from` and `Decryptor::write_to`
//!   (the streaming path, as for pipes).
//! - `offsets`: file → file at offsets on every core (`FileEncryptor`, `Decryptor::decrypt_file`).
//! - `vaultctl`: `vaultctl encrypt` / `vaultctl decrypt` file → file (which take the offsets path),
//!   as child processes against an in-process vaultd on 127.0.0.1:0 (one GenerateDataKey, one
//!   Decrypt), with the child's peak resident memory (VmHWM, polled from /proc); a 64 MiB file
//!   once, then the input for as many rounds as the others.
//!
//! The input is `--size-mib` MiB of pseudo-random bytes written to a temporary directory
//! (`--dir`, default the system's), hashed as it is written; every decryption is hashed and
//! compared. Files are deleted as soon as they are no longer needed (peak disk use: twice the
//! size).
//!
//! ```text
//! cargo build --release --bins && cargo run --release --example stream_bench -- --size-mib 1024
//! ```

mod common;

use std::{
    fs::File,
    io::{BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{AeadInOut, KeyInit, Tag},
};
use clap::Parser;
use sha2::{Digest, Sha256};
use vaultd::{
    client::{Client, ClientConfig, StaticCredentials},
    crypto::{
        context::EncryptionContext,
        stream::{self, Decryptor, Encryptor, Header, WrappedKey},
    },
    pb,
};

use common::{ID, SECRET};

#[derive(Parser)]
struct Args {
    /// The size of the input file, in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Where the files go (needs twice the size free).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The rows to run, comma separated: library, vaultctl (aead always runs).
    #[arg(long, value_delimiter = ',', default_value = "library,vaultctl")]
    only: Vec<String>,
    /// Rounds of the aead, copy, memory and file rows.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
}

const BUF: usize = 1 << 20;

fn main() {
    let args = Args::parse();
    let size = args.size_mib << 20;
    let dir = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let wants = |row: &str| args.only.iter().any(|r| r == row);
    let mib =
        |bytes: u64, elapsed: Duration| bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64();

    let input = dir.path().join("input");
    let digest = write_input(&input, size);
    println!(
        "input {} MiB; each row's ratio is to the AEAD measured just before it (the machine's speed \
         drifts); {} rounds, medians at the end",
        args.size_mib, args.rounds
    );
    // Every measurement below is (MiB/s, ratio to the AEAD just before it).
    let mut ratios: Vec<(&'static str, Vec<f64>)> = Vec::new();
    let mut record =
        |row: &'static str, ratio: f64| match ratios.iter_mut().find(|(r, _)| *r == row) {
            Some((_, values)) => values.push(ratio),
            None => ratios.push((row, vec![ratio])),
        };
    let key = [7u8; 32];
    for round in 1..=args.rounds {
        let aead = aead_rate(256 << 20);
        println!(
            "round {round}: aead seal {:>5.0} MiB/s, open {:>5.0} MiB/s (aes-gcm, one thread, a 64 KiB buffer in cache)",
            aead.0, aead.1
        );
        #[cfg(feature = "aws-lc")]
        {
            let aws_lc = aws_lc_aead_rate(256 << 20);
            println!(
                "  aead-aws-lc seal {:>5.0} MiB/s ({:.2})   open {:>5.0} MiB/s ({:.2})   (AWS-LC, one thread, 64 KiB buffers in cache, out of place)",
                aws_lc.0,
                aws_lc.0 / aead.0,
                aws_lc.1,
                aws_lc.1 / aead.1
            );
        }
        let streamed = aead_streaming_rate(size.min(1 << 30));
        println!(
            "  aead-mem   seal {:>5.0} MiB/s ({:.2})   open {:>5.0} MiB/s ({:.2})   (one thread, 64 KiB frames of a buffer the input's size)",
            streamed.0,
            streamed.0 / aead.0,
            streamed.1,
            streamed.1 / aead.1
        );
        if !wants("library") {
            continue;
        }
        // The I/O alone: the same file copied through a 1 MiB buffer, no crypto.
        let aead = aead_rate(256 << 20);
        let copied = dir.path().join("copy");
        let started = Instant::now();
        std::io::copy(
            &mut BufReader::with_capacity(BUF, File::open(&input).unwrap()),
            &mut BufWriter::with_capacity(BUF, File::create(&copied).unwrap()),
        )
        .unwrap();
        let copy = mib(size, started.elapsed());
        std::fs::remove_file(&copied).unwrap();
        record("copy (no crypto)", copy / aead.0);
        println!(
            "  copy       {copy:>5.0} MiB/s ({:.2})   (file to file, no crypto: the I/O floor)",
            copy / aead.0
        );

        // The format without files: memory to memory, output memory touched beforehand so the
        // kernel's page zeroing is not counted.
        {
            let plaintext = std::fs::read(&input).unwrap();
            let wrapped = vec![WrappedKey {
                key_arn: "arn:aws:kms:us-east-1:000000000000:key/bench".into(),
                blob: vec![0; 100],
            }];
            let mut out = vec![1u8; plaintext.len() + plaintext.len() / 4096 + (1 << 20)];
            out.clear();
            let mut opened = vec![1u8; plaintext.len()];
            opened.clear();
            let aead = aead_rate(256 << 20);
            let started = Instant::now();
            let mut encryptor = Encryptor::new(
                out,
                &key,
                &EncryptionContext::new(),
                wrapped,
                stream::DEFAULT_FRAME_LEN,
            )
            .unwrap();
            encryptor.write_from(&mut plaintext.as_slice()).unwrap();
            let sealed = encryptor.finish().unwrap();
            let enc = mib(size, started.elapsed());
            let started = Instant::now();
            let mut reader = sealed.as_slice();
            let (header, raw) = Header::read(&mut reader).unwrap();
            let mut decryptor = Decryptor::new(reader, &header, &raw, &key).unwrap();
            decryptor.write_to(&mut opened).unwrap();
            let dec = mib(size, started.elapsed());
            assert!(opened == plaintext, "in-memory round trip");
            record("memory encrypt", enc / aead.0);
            record("memory decrypt", dec / aead.1);
            println!(
                "  memory     encrypt {enc:>5.0} MiB/s ({:.2})   decrypt {dec:>5.0} MiB/s ({:.2})   (memory to memory)",
                enc / aead.0,
                dec / aead.1
            );
        }

        let sealed = dir.path().join("library.vlte");
        let opened = dir.path().join("library.out");
        let aead = aead_rate(256 << 20);
        let started = Instant::now();
        library_encrypt(&input, &sealed, &key);
        let enc = mib(size, started.elapsed());
        let started = Instant::now();
        library_decrypt(&sealed, &opened, &key);
        let dec = mib(size, started.elapsed());
        assert_eq!(hash_file(&opened), digest, "library round trip");
        std::fs::remove_file(&sealed).unwrap();
        std::fs::remove_file(&opened).unwrap();
        record("file encrypt", enc / aead.0);
        record("file decrypt", dec / aead.1);
        println!(
            "  file       encrypt {enc:>5.0} MiB/s ({:.2})   decrypt {dec:>5.0} MiB/s ({:.2})   (file to file, library, streamed)",
            enc / aead.0,
            dec / aead.1
        );

        let aead = aead_rate(256 << 20);
        let started = Instant::now();
        offsets_encrypt(&input, &sealed, &key);
        let enc = mib(size, started.elapsed());
        let started = Instant::now();
        offsets_decrypt(&sealed, &opened, &key);
        let dec = mib(size, started.elapsed());
        assert_eq!(hash_file(&opened), digest, "library round trip at offsets");
        std::fs::remove_file(&sealed).unwrap();
        std::fs::remove_file(&opened).unwrap();
        record("offsets encrypt", enc / aead.0);
        record("offsets decrypt", dec / aead.1);
        println!(
            "  offsets    encrypt {enc:>5.0} MiB/s ({:.2})   decrypt {dec:>5.0} MiB/s ({:.2})   (file to file, library, at offsets on every core)",
            enc / aead.0,
            dec / aead.1
        );
    }
    if !ratios.is_empty() {
        println!("medians of the ratios to the AEAD:");
        for (row, mut values) in ratios {
            values.sort_by(f64::total_cmp);
            println!("  {row:<18} {:.2}", values[values.len() / 2]);
        }
    }

    if wants("vaultctl") {
        vaultctl_rows(dir.path(), &input, size, &digest, args.rounds);
    }
}

/// `vaultctl encrypt` and `decrypt` file → file against an in-process vaultd, on a 64 MiB file once
/// and on the full input for `rounds` rounds (the AEAD measured before each command), with the
/// child's peak resident memory.
fn vaultctl_rows(dir: &Path, input: &Path, size: u64, digest: &[u8; 32], rounds: u32) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_vault, endpoint, _) = runtime.block_on(common::start_server(&dir.join("data")));
    let key_id = runtime.block_on(async {
        let root = Client::connect(ClientConfig::new(
            endpoint.clone(),
            StaticCredentials::new(ID, SECRET, None),
        ))
        .unwrap();
        root.create_key(pb::CreateKeyRequest::default())
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id
    });
    let vaultctl = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("vaultctl");
    assert!(
        vaultctl.exists(),
        "build it first: cargo build --release --bins"
    );
    let run = |args: &[&str]| -> (Duration, u64) {
        let started = Instant::now();
        let mut child = std::process::Command::new(&vaultctl)
            .args(args)
            .env("VAULTD_ENDPOINT", &endpoint)
            .env("VAULTD_ACCESS_KEY_ID", ID)
            .env("VAULTD_SECRET_ACCESS_KEY", SECRET)
            .spawn()
            .unwrap();
        let status = format!("/proc/{}/status", child.id());
        let mut peak_kib = 0;
        loop {
            if let Some(hwm) = std::fs::read_to_string(&status).ok().and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            }) {
                peak_kib = peak_kib.max(hwm);
            }
            if let Some(exit) = child.try_wait().unwrap() {
                assert!(exit.success(), "vaultctl {args:?} failed");
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (started.elapsed(), peak_kib)
    };
    let small = dir.join("small");
    {
        let mut from = File::open(input).unwrap().take(64 << 20);
        std::io::copy(&mut from, &mut File::create(&small).unwrap()).unwrap();
    }
    let mut ratios = (Vec::new(), Vec::new());
    let rows = std::iter::once(("64 MiB", small.as_path(), 64u64 << 20))
        .chain((0..rounds).map(|_| ("input", input, size)));
    for (label, path, bytes) in rows {
        let sealed = dir.join("vaultctl.vlte");
        let opened = dir.join("vaultctl.out");
        let aead_seal = aead_rate(256 << 20).0;
        let (enc, enc_kib) = run(&[
            "encrypt",
            "--key-id",
            &key_id,
            path.to_str().unwrap(),
            "-o",
            sealed.to_str().unwrap(),
        ]);
        let aead_open = aead_rate(256 << 20).1;
        let (dec, dec_kib) = run(&[
            "decrypt",
            sealed.to_str().unwrap(),
            "-o",
            opened.to_str().unwrap(),
        ]);
        if bytes == size {
            assert_eq!(&hash_file(&opened), digest, "vaultctl round trip");
        }
        std::fs::remove_file(&sealed).unwrap();
        std::fs::remove_file(&opened).unwrap();
        let rate = |d: Duration| bytes as f64 / (1 << 20) as f64 / d.as_secs_f64();
        if label == "input" {
            ratios.0.push(rate(enc) / aead_seal);
            ratios.1.push(rate(dec) / aead_open);
        }
        println!(
            "vaultctl  {label:>7}: encrypt {:>7.0} MiB/s ({:.2} of aead seal), peak RSS {:>3} MiB   \
             decrypt {:>7.0} MiB/s ({:.2} of aead open), peak RSS {:>3} MiB",
            rate(enc),
            rate(enc) / aead_seal,
            enc_kib / 1024,
            rate(dec),
            rate(dec) / aead_open,
            dec_kib / 1024
        );
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "vaultctl medians of the ratios to the AEAD (input): encrypt {:.2}, decrypt {:.2}",
        median(&mut ratios.0),
        median(&mut ratios.1)
    );
    std::fs::remove_file(&small).unwrap();
}

fn hash_file(path: &Path) -> [u8; 32] {
    let mut reader = BufReader::with_capacity(BUF, File::open(path).unwrap());
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break hash.finalize().into();
        }
        hash.update(&buf[..n]);
    }
}

/// (seal, open) MiB/s of aes-gcm over 64 KiB buffers, `total` bytes each.
fn aead_rate(total: u64) -> (f64, f64) {
    let cipher = Aes256Gcm::new(&[9u8; 32].into());
    let mut buf = vec![0x5au8; 65_536];
    let frames = total / buf.len() as u64;
    let mut tags: Vec<Tag<Aes256Gcm>> = Vec::with_capacity(frames as usize);
    let started = Instant::now();
    for i in 0..frames {
        let nonce = nonce(i as u32);
        tags.push(
            cipher
                .encrypt_inout_detached(&nonce, b"aad", buf.as_mut_slice().into())
                .unwrap(),
        );
    }
    let seal = started.elapsed();
    let started = Instant::now();
    for i in (0..frames).rev() {
        let nonce = nonce(i as u32);
        cipher
            .decrypt_inout_detached(&nonce, b"aad", buf.as_mut_slice().into(), &tags[i as usize])
            .unwrap();
    }
    let open = started.elapsed();
    let rate = |d: Duration| total as f64 / (1 << 20) as f64 / d.as_secs_f64();
    (rate(seal), rate(open))
}

/// (seal, open) MiB/s of AWS-LC's AES-256-GCM over `total` bytes in 64 KiB frames, from one
/// in-cache buffer into another and back (the calls the stream makes under the `aws-lc` feature).
#[cfg(feature = "aws-lc")]
fn aws_lc_aead_rate(total: u64) -> (f64, f64) {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[9u8; 32]).unwrap());
    let plaintext = vec![0x5au8; 65_536];
    let mut sealed = vec![0u8; 65_536];
    let frames = total / plaintext.len() as u64;
    let mut tags = vec![[0u8; 16]; frames as usize];
    let nonce_of = |i: u64| Nonce::assume_unique_for_key(nonce(i as u32).into());
    let started = Instant::now();
    for (i, tag) in tags.iter_mut().enumerate() {
        key.seal_out_of_place_scatter(
            nonce_of(i as u64),
            Aad::from(b"aad"),
            &plaintext,
            &mut sealed,
            &[],
            tag,
        )
        .unwrap();
    }
    let seal = started.elapsed();
    // Only the last frame's ciphertext is in `sealed`: open that one `frames` times.
    let last = frames - 1;
    let mut opened = vec![0u8; 65_536];
    let started = Instant::now();
    for _ in 0..frames {
        key.open_separate_gather(
            nonce_of(last),
            Aad::from(b"aad"),
            &sealed,
            &tags[last as usize],
            &mut opened,
        )
        .unwrap();
    }
    let open = started.elapsed();
    assert!(opened == plaintext);
    let rate = |d: Duration| total as f64 / (1 << 20) as f64 / d.as_secs_f64();
    (rate(seal), rate(open))
}

/// (seal, open) MiB/s of aes-gcm over one `total`-byte buffer in 64 KiB frames, in place: the
/// in-process work of the format without files, memory traffic included.
fn aead_streaming_rate(total: u64) -> (f64, f64) {
    let cipher = Aes256Gcm::new(&[9u8; 32].into());
    let mut data = vec![0x5au8; total as usize];
    let mut tags: Vec<Tag<Aes256Gcm>> = Vec::with_capacity(data.len() / 65_536 + 1);
    let started = Instant::now();
    for (i, frame) in data.chunks_mut(65_536).enumerate() {
        tags.push(
            cipher
                .encrypt_inout_detached(&nonce(i as u32), b"aad", frame.into())
                .unwrap(),
        );
    }
    let seal = started.elapsed();
    let started = Instant::now();
    for (i, frame) in data.chunks_mut(65_536).enumerate() {
        cipher
            .decrypt_inout_detached(&nonce(i as u32), b"aad", frame.into(), &tags[i])
            .unwrap();
    }
    let open = started.elapsed();
    let rate = |d: Duration| total as f64 / (1 << 20) as f64 / d.as_secs_f64();
    (rate(seal), rate(open))
}

fn nonce(i: u32) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = [0u8; 12];
    n[7..11].copy_from_slice(&i.to_be_bytes());
    n.into()
}

/// Writes `size` pseudo-random bytes (xorshift) to `path`; returns their SHA-256.
fn write_input(path: &Path, size: u64) -> [u8; 32] {
    let mut out = BufWriter::with_capacity(BUF, File::create(path).unwrap());
    let mut hash = Sha256::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut block = vec![0u8; BUF];
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(BUF as u64) as usize;
        hash.update(&block[..n]);
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
    hash.finalize().into()
}

fn library_encrypt(input: &Path, output: &Path, key: &[u8; 32]) {
    let mut reader = BufReader::with_capacity(BUF, File::open(input).unwrap());
    let writer = BufWriter::with_capacity(BUF, File::create(output).unwrap());
    let wrapped = vec![WrappedKey {
        key_arn: "arn:aws:kms:us-east-1:000000000000:key/bench".into(),
        blob: vec![0; 100],
    }];
    let mut encryptor = Encryptor::new(
        writer,
        key,
        &EncryptionContext::new(),
        wrapped,
        stream::DEFAULT_FRAME_LEN,
    )
    .unwrap();
    encryptor.write_from(&mut reader).unwrap();
    encryptor.finish().unwrap().flush().unwrap();
}

fn library_decrypt(input: &Path, output: &Path, key: &[u8; 32]) {
    let mut reader = BufReader::with_capacity(BUF, File::open(input).unwrap());
    let (header, raw) = Header::read(&mut reader).unwrap();
    let mut decryptor = Decryptor::new(reader, &header, &raw, key).unwrap();
    let mut writer = BufWriter::with_capacity(BUF, File::create(output).unwrap());
    decryptor.write_to(&mut writer).unwrap();
    writer.flush().unwrap();
}

fn offsets_encrypt(input: &Path, output: &Path, key: &[u8; 32]) {
    let wrapped = vec![WrappedKey {
        key_arn: "arn:aws:kms:us-east-1:000000000000:key/bench".into(),
        blob: vec![0; 100],
    }];
    stream::FileEncryptor::new(
        key,
        &EncryptionContext::new(),
        wrapped,
        stream::DEFAULT_FRAME_LEN,
    )
    .unwrap()
    .encrypt_file(
        &File::open(input).unwrap(),
        &File::create(output).unwrap(),
        &mut |_| {},
    )
    .unwrap();
}

fn offsets_decrypt(input: &Path, output: &Path, key: &[u8; 32]) {
    let file = File::open(input).unwrap();
    let (header, raw) = Header::read(&mut &file).unwrap();
    let decryptor = Decryptor::new(std::io::empty(), &header, &raw, key).unwrap();
    decryptor
        .decrypt_file(&file, &File::create(output).unwrap(), &mut |_| {})
        .unwrap();
}
