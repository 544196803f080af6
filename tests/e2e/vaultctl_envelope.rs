//! `vaultctl encrypt` and `vaultctl decrypt` end to end: the real binary as a child process against
//! an in-process server, on real files. Round trips at the frame edges, several keys, every class
//! of tampering (each refused with exit 1 and nothing left behind), wrong key (3), wrong context
//! (4), not a stream (5), service errors (254), and the output file's rules (--force, mode 0600).
//!
//! The helpers are this file's own copy of those in `vaultctl.rs`, with binary stdout and stdin
//! written from a thread (a few MiB go through both pipes at once).

use std::{
    io::Write,
    ops::Range,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use vaultd::crypto::stream::Header;

use crate::common::*;

/// What one vaultctl run left behind.
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn success(self) -> Self {
        assert_eq!(self.code, 0, "vaultctl failed: {}", self.stderr);
        self
    }

    /// A failure reported by vaultctl after a blank line, with `needle` in its message and
    /// nothing on stdout.
    #[track_caller]
    fn assert_error(&self, code: i32, needle: &str) {
        assert_eq!(self.code, code, "{}", self.stderr);
        assert!(self.stderr.starts_with('\n'), "{:?}", self.stderr);
        assert!(
            self.stderr.contains(needle),
            "{needle:?} in {:?}",
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "{} bytes on stdout",
            self.stdout.len()
        );
    }
}

fn key_arn(key_id: &str) -> String {
    format!("arn:aws:kms:us-east-1:000000000000:key/{key_id}")
}

/// A place to run vaultctl from: a temporary HOME (where the test files go too), and the
/// endpoint of a server.
struct Sandbox {
    endpoint: String,
    home: tempfile::TempDir,
}

impl Sandbox {
    fn new(server: &TestServer) -> Self {
        Self::at(server.endpoint())
    }

    fn at(endpoint: String) -> Self {
        Self {
            endpoint,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// The path of `name` as an argument.
    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Writes a file under the temporary HOME; returns its path.
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// Starts vaultctl with `args`, exactly the VAULTD_* variables in `env`, stdin piped when
    /// `piped_stdin` (else none), stdout and stderr piped.
    fn spawn(&self, args: &[&str], env: &[(&str, &str)], piped_stdin: bool) -> Child {
        let mut cmd = vaultctl_command();
        let stdin_mode = if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        cmd.env("HOME", self.home.path())
            .envs(env.iter().copied())
            .args(args)
            .stdin(stdin_mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("vaultctl starts")
    }

    /// Runs vaultctl with `args`, exactly the VAULTD_* variables in `env`, and `stdin` (else
    /// none).
    fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
        let mut child = self.spawn(args, env, stdin.is_some());
        let writer = stdin.map(|bytes| {
            let mut pipe = child.stdin.take().unwrap();
            let bytes = bytes.to_vec();
            // vaultctl may stop reading early (on an error): a broken pipe is not the test's.
            std::thread::spawn(move || drop(pipe.write_all(&bytes)))
        });
        let output = child.wait_with_output().unwrap();
        if let Some(writer) = writer {
            writer.join().unwrap();
        }
        Run {
            code: output.status.code().expect("vaultctl exited, not killed"),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn root_env(&self) -> [(&str, &str); 3] {
        [
            ("VAULTD_ENDPOINT", &self.endpoint),
            ("VAULTD_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
            ("VAULTD_SECRET_ACCESS_KEY", ROOT_SECRET),
        ]
    }

    /// Runs `args` as root.
    fn root(&self, args: &[&str]) -> Run {
        self.run_with(args, &self.root_env(), None)
    }

    /// Runs `args` as root with `stdin`.
    fn root_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_with(args, &self.root_env(), Some(stdin))
    }

    fn create_key(&self) -> String {
        let line = ["kms", "create-key", "--query", "KeyMetadata.KeyId"];
        let run = self.root(&[&line[..], &["--output", "text"]].concat());
        String::from_utf8(run.success().stdout)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// Encrypts `plaintext` (written to `name`) to `name.vlt` with `flags`; returns the
    /// ciphertext.
    #[track_caller]
    fn encrypt_file(&self, name: &str, plaintext: &[u8], flags: &[&str]) -> Vec<u8> {
        let input = self.write(name, plaintext);
        let output = format!("{input}.vlt");
        let args = [&["encrypt", &input, "-o", &output][..], flags].concat();
        self.root(&args).success();
        std::fs::read(&output).unwrap()
    }
}

/// The names in `dir`, sorted: what a failed run may have left behind.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Bytes that are not all alike: every frame differs.
fn data(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Where a stream's header ends and each of its frames lies: after the header, frames of
/// frame_len + 16 bytes, the last one possibly shorter (never empty: an empty plaintext is one
/// frame of its tag alone).
struct Layout {
    header: Header,
    header_len: usize,
    frames: Vec<Range<usize>>,
}

fn layout(stream: &[u8]) -> Layout {
    let (header, raw) = Header::read(&mut &stream[..]).expect("a vaultd stream");
    let full = header.frame_len as usize + 16;
    let mut frames = Vec::new();
    let mut at = raw.len();
    while at < stream.len() {
        let end = (at + full).min(stream.len());
        frames.push(at..end);
        at = end;
    }
    Layout {
        header,
        header_len: raw.len(),
        frames,
    }
}

const FRAME: usize = 64;

#[tokio::test(flavor = "multi_thread")]
async fn round_trips_file_to_file_and_stdin_to_stdout_at_the_frame_edges() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let frame = FRAME.to_string();
    for len in [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME, 5 * FRAME + 7] {
        let plaintext = data(len);
        let flags = ["--key-id", &key_id, "--frame-size", &frame];

        // File to file; the frames are as crypto.md §3 lays them out.
        let name = format!("{len}/plain");
        let ciphertext = sandbox.encrypt_file(&name, &plaintext, &flags);
        let layout = layout(&ciphertext);
        assert_eq!(layout.header.frame_len as usize, FRAME);
        assert_eq!(layout.header.wrapped_keys.len(), 1);
        assert_eq!(layout.header.wrapped_keys[0].key_arn, key_arn(&key_id));
        let frames = len.div_ceil(FRAME).max(1);
        assert_eq!(layout.frames.len(), frames, "{len}");
        assert_eq!(ciphertext.len(), layout.header_len + len + 16 * frames);
        let encrypted = sandbox.arg(&format!("{name}.vlt"));
        let decrypted = sandbox.arg(&format!("{len}/decrypted"));
        let run = sandbox
            .root(&["decrypt", &encrypted, "-o", &decrypted])
            .success();
        assert!(run.stdout.is_empty());
        assert_eq!(
            sandbox.read(&format!("{len}/decrypted")),
            plaintext,
            "{len}"
        );
        for file in [&encrypted, &decrypted] {
            assert_eq!(mode(Path::new(file)), 0o600, "{file}");
        }
        assert_eq!(
            entries(&sandbox.path(&len.to_string())),
            ["decrypted", "plain", "plain.vlt"]
        );

        // stdin to stdout, without INPUT and with -; and across: the piped stream from a file,
        // the file's stream from stdin.
        let run = sandbox.root_stdin(&[&["encrypt"][..], &flags].concat(), &plaintext);
        let piped = run.success().stdout;
        assert_eq!(piped.len(), ciphertext.len());
        assert_ne!(piped, ciphertext, "every message has its own message id");
        let run = sandbox.root_stdin(&["decrypt", "-", "-o", "-"], &piped);
        assert_eq!(run.success().stdout, plaintext, "{len}");
        let run = sandbox.root_stdin(&["decrypt"], &ciphertext);
        assert_eq!(run.success().stdout, plaintext, "{len}");
        let piped_file = sandbox.write(&format!("{len}/piped.vlt"), &piped);
        let run = sandbox.root(&["decrypt", &piped_file]);
        assert_eq!(run.success().stdout, plaintext, "{len}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_special_file_whose_size_says_0_is_encrypted_whole() {
    // /proc's files are regular files of size 0 that hold text: read as a stream, not trusted
    // for their size.
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let expected = std::fs::read("/proc/version").unwrap();
    assert!(!expected.is_empty());
    let sealed = sandbox.arg("version.vlt");
    sandbox
        .root(&[
            "encrypt",
            "--key-id",
            &key_id,
            "/proc/version",
            "-o",
            &sealed,
        ])
        .success();
    let opened = sandbox.arg("version");
    sandbox.root(&["decrypt", &sealed, "-o", &opened]).success();
    assert_eq!(sandbox.read("version"), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_few_mib_round_trip_with_the_default_frame_size() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let plaintext = data((3 << 20) + 12_345);
    let context = ["--context", "app=backup", "--context", "day=2024-05-01"];
    let ciphertext = sandbox.encrypt_file(
        "big",
        &plaintext,
        &[&["--key-id", &key_id][..], &context].concat(),
    );
    let layout = layout(&ciphertext);
    assert_eq!(layout.header.frame_len, 65_536);
    assert_eq!(layout.frames.len(), plaintext.len().div_ceil(65_536));
    assert_eq!(layout.header.context.get("app"), Some("backup"));

    let (input, output) = (sandbox.arg("big.vlt"), sandbox.arg("big.out"));
    sandbox
        .root(&["decrypt", &input, "--outfile", &output])
        .success();
    assert!(sandbox.read("big.out") == plaintext);

    // File to file, batches of 16 frames are read, opened and written by several threads: a
    // frame altered in a later batch, two frames of different batches swapped, or a cut at a
    // batch boundary still fail the whole file.
    let mut flipped = ciphertext.clone();
    flipped[layout.frames[40].start + 7] ^= 0x20;
    assert_refused(&sandbox, "flipped", &flipped, 1, "does not verify");
    let mut swapped = ciphertext.clone();
    let (a, b) = (layout.frames[3].clone(), layout.frames[35].clone());
    swapped[a.clone()].copy_from_slice(&ciphertext[b.clone()]);
    swapped[b].copy_from_slice(&ciphertext[a]);
    assert_refused(&sandbox, "swapped", &swapped, 1, "does not verify");
    let cut = &ciphertext[..layout.frames[32].start];
    assert_refused(&sandbox, "cut", cut, 1, "does not verify");

    let encrypt = [&["encrypt", "--key-id", &key_id][..], &context].concat();
    let run = sandbox.root_stdin(&encrypt, &plaintext);
    let piped = run.success().stdout;
    let run = sandbox.root_stdin(&[&["decrypt"][..], &context].concat(), &piped);
    assert!(run.success().stdout == plaintext);
    assert_eq!(
        entries(sandbox.home.path()),
        ["big", "big.out", "big.vlt", "cut", "flipped", "swapped"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_two_key_ids_either_one_decrypts() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let (first, second) = (sandbox.create_key(), sandbox.create_key());
    let alias = ["kms", "create-alias", "--alias-name", "alias/second"];
    sandbox
        .root(&[&alias[..], &["--target-key-id", &second]].concat())
        .success();
    let plaintext = data(1000);
    let flags = ["--key-id", &first, "--key-id", "alias/second"];
    let ciphertext = sandbox.encrypt_file("two", &plaintext, &flags);
    let header = layout(&ciphertext).header;
    let named: Vec<&str> = header
        .wrapped_keys
        .iter()
        .map(|k| k.key_arn.as_str())
        .collect();
    assert_eq!(named, [key_arn(&first), key_arn(&second)]);

    let input = sandbox.arg("two.vlt");
    for key_id in [
        first.clone(),
        key_arn(&first),
        second.clone(),
        key_arn(&second),
        "alias/second".to_string(),
    ] {
        let run = sandbox.root(&["decrypt", &input, "--key-id", &key_id]);
        assert_eq!(run.success().stdout, plaintext, "{key_id}");
    }
    // Either one alone: the first key disabled, the second still opens it.
    sandbox
        .root(&["kms", "disable-key", "--key-id", &first])
        .success();
    let run = sandbox.root(&["decrypt", &input, "--key-id", &second]);
    assert_eq!(run.success().stdout, plaintext);
    let run = sandbox.root(&["decrypt", &input]);
    assert_eq!(
        run.success().stdout,
        plaintext,
        "the header's keys in order"
    );
}

/// A stream of several frames (4 full, one short) under a context, and its layout.
fn tamper_subject(sandbox: &Sandbox, key_id: &str) -> (Vec<u8>, Layout) {
    let flags = [
        "--key-id",
        key_id,
        "--frame-size",
        "64",
        "--context",
        "app=billing",
    ];
    let ciphertext = sandbox.encrypt_file("subject", &data(4 * FRAME + 10), &flags);
    let layout = layout(&ciphertext);
    assert_eq!(layout.frames.len(), 5);
    (ciphertext, layout)
}

/// Decrypts `stream` from a directory of its own to a file there: exit `code` with `needle`,
/// and nothing left beside the input (no target, no temporary file).
#[track_caller]
fn assert_refused(sandbox: &Sandbox, case: &str, stream: &[u8], code: i32, needle: &str) {
    let input = sandbox.write(&format!("{case}/in.vlt"), stream);
    let output = sandbox.arg(&format!("{case}/out"));
    let run = sandbox.root(&["decrypt", &input, "-o", &output]);
    assert_eq!(run.code, code, "{case}: {}", run.stderr);
    run.assert_error(code, needle);
    assert_eq!(entries(&sandbox.path(case)), ["in.vlt"], "{case}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_tampering_exits_1_and_leaves_no_output() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let (stream, layout) = tamper_subject(&sandbox, &key_id);
    let frames = &layout.frames;
    let header_len = layout.header_len;
    let flipped = |at: usize| {
        let mut s = stream.clone();
        s[at] ^= 0x01;
        s
    };
    let frame = |i: usize| stream[frames[i].clone()].to_vec();
    let joined = |parts: &[&[u8]]| parts.concat();
    let head = &stream[..header_len];
    // Offsets inside the header (crypto.md §3): magic 4, version, suite, message id 32, frame
    // length 4, context (2 + 2+3 "app" + 2+7 "billing"), count 2, then per key: 2 + ARN, 2 + blob.
    let context_value = 4 + 2 + 32 + 4 + 2 + 2 + 3 + 2;
    let arn_len = layout.header.wrapped_keys[0].key_arn.len();
    let blob_at = context_value + 7 + 2 + 2 + arn_len + 2;
    let blob_end = blob_at + layout.header.wrapped_keys[0].blob.len();
    assert_eq!(blob_end + 32, header_len);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("header-message-id", flipped(6 + 10)),
        ("header-frame-length", flipped(4 + 2 + 32 + 3)),
        ("header-context-value", flipped(context_value)),
        ("header-wrapped-blob", flipped(blob_end - 1)),
        ("header-commitment", flipped(header_len - 1)),
        ("frame-body", flipped(frames[1].start + 3)),
        ("frame-tag", flipped(frames[1].start + FRAME + 15)),
        ("last-frame-tag", flipped(stream.len() - 1)),
        ("first-frame-body", flipped(header_len)),
        (
            "dropped-frame",
            joined(&[head, &frame(0), &frame(2), &frame(3), &frame(4)]),
        ),
        (
            "duplicated-frame",
            joined(&[
                head,
                &frame(0),
                &frame(1),
                &frame(1),
                &frame(2),
                &frame(3),
                &frame(4),
            ]),
        ),
        (
            "swapped-frames",
            joined(&[head, &frame(0), &frame(2), &frame(1), &frame(3), &frame(4)]),
        ),
        ("cut-after-header", stream[..header_len].to_vec()),
        ("cut-at-frame-1", stream[..frames[1].start].to_vec()),
        ("cut-at-frame-3", stream[..frames[3].start].to_vec()),
        ("cut-before-last-frame", stream[..frames[4].start].to_vec()),
        ("cut-inside-header-tag", stream[..header_len + 5].to_vec()),
        (
            "cut-inside-frame-2",
            stream[..frames[2].start + 10].to_vec(),
        ),
        ("cut-last-byte", stream[..stream.len() - 1].to_vec()),
        ("extended-by-a-byte", joined(&[&stream, &[0]])),
        ("extended-by-the-last-frame", joined(&[&stream, &frame(4)])),
        ("extended-by-a-frame", joined(&[&stream, &frame(1)])),
    ];
    for (case, tampered) in &cases {
        assert_refused(
            &sandbox,
            case,
            tampered,
            1,
            "vaultctl: error: the encrypted stream does not verify: ",
        );
        let run = sandbox.root(&["decrypt", &sandbox.arg(&format!("{case}/in.vlt"))]);
        assert_eq!(run.code, 1, "{case} to stdout: {}", run.stderr);
    }
    // To stdout: a stream this short is checked in one batch, so nothing went out.
    let run = sandbox.root(&["decrypt", &sandbox.arg("frame-body/in.vlt")]);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("; nothing was written to stdout"),
        "{}",
        run.stderr
    );
    // A changed commitment is refused before any frame: the data key does not match it.
    let run = sandbox.root(&["decrypt", &sandbox.arg("header-commitment/in.vlt")]);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains("does not match its commitment; nothing was written to stdout"),
        "{}",
        run.stderr
    );
    // The untouched stream still decrypts: the failures were the tampering's.
    let run = sandbox.root(&["decrypt", &sandbox.arg("subject.vlt")]);
    assert_eq!(run.success().stdout, data(4 * FRAME + 10));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_stream_decrypted_to_stdout_says_to_discard_what_was_written() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    // 49 frames of the default 64 KiB (the last one of 100 bytes). The library verifies them in
    // batches of 1 MiB (16 frames) and hands each batch out once it verified: the first three
    // batches reach stdout before the tampering in the last frame (the fourth batch) is found.
    const MIB: usize = 1 << 20;
    let plaintext = data(3 * MIB + 100);
    let stream = sandbox.encrypt_file("plain", &plaintext, &["--key-id", &key_id]);
    let layout = layout(&stream);
    assert_eq!(layout.frames.len(), 49);
    let mut tampered = stream.clone();
    tampered[layout.frames[48].start + 7] ^= 0x80;
    let input = sandbox.write("tampered.vlt", &tampered);
    let run = sandbox.root(&["decrypt", &input]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout == plaintext[..3 * MIB], "{}", run.stdout.len());
    assert!(
        run.stderr.starts_with(
            "\nvaultctl: error: the encrypted stream does not verify: it was altered, truncated \
             or extended; discard the 3145728 bytes already written to stdout"
        ),
        "{}",
        run.stderr
    );
    // Cut before the last frame (from stdin): frame 47, the end of the third batch, is then taken
    // for the last one, which it was not sealed as; two batches went out.
    let run = sandbox.root_stdin(&["decrypt"], &stream[..layout.frames[48].start]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout == plaintext[..2 * MIB], "{}", run.stdout.len());
    assert!(
        run.stderr
            .contains("discard the 2097152 bytes already written to stdout"),
        "{}",
        run.stderr
    );
    // To a file, the same stream leaves nothing behind.
    let output = sandbox.arg("out");
    let run = sandbox.root(&["decrypt", &input, "-o", &output]);
    run.assert_error(1, &format!("; nothing was written to {output}"));
    assert_eq!(
        entries(sandbox.home.path()),
        ["plain", "plain.vlt", "tampered.vlt"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrapped_key_from_another_file_under_another_key_exits_1_or_3_with_key_id() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let (ours, theirs) = (sandbox.create_key(), sandbox.create_key());
    let flags = |key| {
        [
            "--key-id",
            key,
            "--frame-size",
            "64",
            "--context",
            "app=billing",
        ]
    };
    let plaintext = data(300);
    let stream = sandbox.encrypt_file("ours", &plaintext, &flags(&ours));
    let other = sandbox.encrypt_file("theirs", &plaintext, &flags(&theirs));
    let (ours_layout, theirs_layout) = (layout(&stream), layout(&other));

    // Our header with its one wrapped key's blob replaced by theirs (still naming our key): the
    // fields before the keys, the count, our ARN, their blob, our commitment, our frames.
    let header = &ours_layout.header;
    let fixed = 4 + 2 + 32 + 4 + header.canonical_context.len();
    let arn = header.wrapped_keys[0].key_arn.as_bytes();
    let blob = &theirs_layout.header.wrapped_keys[0].blob;
    let mut spliced = stream[..fixed].to_vec();
    spliced.extend_from_slice(&1u16.to_be_bytes());
    spliced.extend_from_slice(&(arn.len() as u16).to_be_bytes());
    spliced.extend_from_slice(arn);
    spliced.extend_from_slice(&(blob.len() as u16).to_be_bytes());
    spliced.extend_from_slice(blob);
    spliced.extend_from_slice(&header.commitment);
    spliced.extend_from_slice(&stream[ours_layout.header_len..]);
    assert_eq!(layout(&spliced).header.wrapped_keys[0].blob, *blob);

    // Without --key-id, Decrypt is asked to open their blob under the key the header names
    // (ours): vaultd answers IncorrectKeyException (the blob is another key's). No key the header
    // names wraps a data key for it, so the header does not hold together: it was altered, exit
    // 1. (The blob never opens, so the commitment check is not even reached.)
    assert_refused(
        &sandbox,
        "spliced",
        &spliced,
        1,
        "the encrypted stream does not verify: it was altered, truncated or extended",
    );
    // With --key-id, the caller narrowed the keys: none of them opens a wrapped key of this
    // header, which is exit 3 (wrong key), naming the key the header claims. Ours is tried on
    // their blob (IncorrectKeyException again); theirs is named by no wrapped key, so it is not
    // even tried.
    let input = sandbox.arg("spliced/in.vlt");
    for key_id in [&ours, &theirs] {
        let run = sandbox.root(&["decrypt", &input, "--key-id", key_id]);
        run.assert_error(
            3,
            &format!(
                "none of the given --key-id can decrypt {input}: its header says it was \
                 encrypted under {}",
                key_arn(&ours)
            ),
        );
    }
    assert_eq!(entries(&sandbox.path("spliced")), ["in.vlt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_flipped_bit_in_the_header_decrypts_or_leaves_output() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let (stream, layout) = tamper_subject(&sandbox, &key_id);
    let header_len = layout.header_len;
    let arn = layout.header.wrapped_keys[0].key_arn.len();
    // crypto.md §3 with the context {app: billing}: where the ARN and the blob lie.
    let arn_at = 4 + 2 + 32 + 4 + 2 + (2 + 3) + (2 + 7) + 2 + 2;
    let blob_at = arn_at + arn + 2;
    let output = sandbox.arg("flips/out");
    let mut codes = std::collections::BTreeMap::new();
    for at in 0..header_len {
        let mut flipped = stream.clone();
        flipped[at] ^= 0x01;
        let input = sandbox.write("flips/in.vlt", &flipped);
        let run = sandbox.root(&["decrypt", &input, "-o", &output]);
        // Exit 1 where the checks of the stream catch it; 5 where the header no longer parses
        // (magic, version, suite, a length or count); 254 where the ARN now names no key
        // (vaultd's NotFoundException for the Decrypt call).
        let expected: &[i32] = match at {
            0..6 => &[5],
            6..38 => &[1],
            at if (arn_at..arn_at + arn).contains(&at) => &[254],
            at if at >= blob_at => &[1],
            _ => &[1, 5],
        };
        assert!(expected.contains(&run.code), "byte {at}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert_eq!(entries(&sandbox.path("flips")), ["in.vlt"], "byte {at}");
        *codes.entry(run.code).or_insert(0) += 1;
    }
    assert_eq!(codes[&254], arn, "{codes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_id_that_does_not_wrap_the_data_key_exits_3_and_names_those_that_do() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let (key_id, other) = (sandbox.create_key(), sandbox.create_key());
    sandbox.encrypt_file("plain", b"secret", &["--key-id", &key_id]);
    let input = sandbox.arg("plain.vlt");
    let output = sandbox.arg("out");
    let run = sandbox.root(&["decrypt", &input, "--key-id", &other, "-o", &output]);
    run.assert_error(
        3,
        &format!(
            "vaultctl: error: none of the given --key-id can decrypt {input}: its header says it \
             was encrypted under {}",
            key_arn(&key_id)
        ),
    );
    assert!(!sandbox.path("out").exists());
    let run = sandbox.root(&["decrypt", &input, "--key-id", &key_arn(&other)]);
    run.assert_error(3, &key_arn(&key_id));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_context_the_stream_lacks_exits_4() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let flags = [
        "--key-id",
        &key_id,
        "--context",
        "app=billing",
        "--context",
        "env=prod,eu",
    ];
    sandbox.encrypt_file("plain", b"bound", &flags);
    let input = sandbox.arg("plain.vlt");
    for wrong in ["app=payroll", "tenant=42", "env=prod"] {
        let output = sandbox.arg("out");
        let run = sandbox.root(&["decrypt", &input, "--context", wrong, "-o", &output]);
        run.assert_error(4, "does not match --context");
        assert!(run.stderr.contains("app, env"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("billing"),
            "values are not shown: {}",
            run.stderr
        );
        assert!(!sandbox.path("out").exists());
    }
    for right in [
        &[][..],
        &["--context", "app=billing"],
        &["--context", "env=prod,eu", "--context", "app=billing"],
    ] {
        let run = sandbox.root(&[&["decrypt", &input][..], right].concat());
        assert_eq!(run.success().stdout, b"bound");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_is_not_a_vaultd_stream_or_of_another_version_exits_5_before_any_call() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let stream = sandbox.encrypt_file("plain", &data(100), &["--key-id", &key_id]);
    let mut version = stream.clone();
    version[4] = 2;
    let mut suite = stream.clone();
    suite[5] = 9;
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "text",
            b"just some text\n".to_vec(),
            "is not a vaultd encrypted stream",
        ),
        ("empty", Vec::new(), "is not a vaultd encrypted stream"),
        ("header-only-half", stream[..30].to_vec(), "not a vaultd"),
        ("version", version, "format version 2"),
        ("suite", suite, "unknown algorithm suite"),
    ];
    for (case, bytes, needle) in &cases {
        assert_refused(&sandbox, case, bytes, 5, needle);
        // Found locally: no credentials, no vaultd needed.
        let input = sandbox.arg(&format!("{case}/in.vlt"));
        let offline = Sandbox::at("http://127.0.0.1:1".into());
        let run = offline.run_with(&["decrypt", &input], &[], None);
        run.assert_error(5, needle);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_denied_exits_254_as_the_aws_cli_prints_it() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let policy = allow(&["kms:GenerateDataKey"], "*");
    let writer = app_user(&server, "writer", Some(&policy)).await;
    let env = [
        ("VAULTD_ENDPOINT", sandbox.endpoint.as_str()),
        ("VAULTD_ACCESS_KEY_ID", writer.access_key_id.as_str()),
        (
            "VAULTD_SECRET_ACCESS_KEY",
            writer.secret_access_key.as_str(),
        ),
    ];
    let input = sandbox.write("plain", b"data");
    let output = sandbox.arg("plain.vlt");

    // Allowed GenerateDataKey, but not Encrypt for a second key.
    let args = ["encrypt", &input, "--key-id", &key_id, "--key-id", &key_id];
    sandbox
        .run_with(&args, &env, None)
        .assert_error(252, "given twice");
    let other = sandbox.create_key();
    let args = [&args[..4], &["--key-id", &other, "-o", &output]].concat();
    sandbox.run_with(&args, &env, None).assert_error(
        254,
        "An error occurred (AccessDeniedException) when calling the Encrypt operation: ",
    );
    assert_eq!(entries(sandbox.home.path()), ["plain"]);

    // Encrypts, but may not decrypt.
    let args = ["encrypt", &input, "--key-id", &key_id, "-o", &output];
    sandbox.run_with(&args, &env, None).success();
    let decrypted = sandbox.arg("decrypted");
    let args = ["decrypt", &output, "-o", &decrypted];
    sandbox.run_with(&args, &env, None).assert_error(
        254,
        "An error occurred (AccessDeniedException) when calling the Decrypt operation: ",
    );
    assert_eq!(entries(sandbox.home.path()), ["plain", "plain.vlt"]);

    // No permission at all.
    let nobody = app_user(&server, "nobody", None).await;
    let env = [
        ("VAULTD_ENDPOINT", sandbox.endpoint.as_str()),
        ("VAULTD_ACCESS_KEY_ID", nobody.access_key_id.as_str()),
        (
            "VAULTD_SECRET_ACCESS_KEY",
            nobody.secret_access_key.as_str(),
        ),
    ];
    let args = ["encrypt", "--key-id", &key_id];
    sandbox.run_with(&args, &env, Some(b"data")).assert_error(
        254,
        "An error occurred (AccessDeniedException) when calling the GenerateDataKey operation: ",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_output_is_replaced_only_with_force() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let input = sandbox.write("plain", b"new contents");
    let target = sandbox.write("target", b"precious");
    for command in ["encrypt", "decrypt"] {
        let run = sandbox.root(&[command, &input, "--key-id", &key_id, "-o", &target]);
        run.assert_error(252, "--outfile: ");
        assert!(
            run.stderr.contains("exists; give --force to replace it"),
            "{}",
            run.stderr
        );
        assert_eq!(sandbox.read("target"), b"precious");
    }
    assert_eq!(entries(sandbox.home.path()), ["plain", "target"]);

    let encrypt = [
        "encrypt", &input, "--key-id", &key_id, "-o", &target, "--force",
    ];
    sandbox.root(&encrypt).success();
    assert_eq!(mode(&sandbox.path("target")), 0o600);
    let decrypted = sandbox.write("decrypted", b"old");
    sandbox
        .root(&["decrypt", &target, "-o", &decrypted, "--force"])
        .success();
    assert_eq!(sandbox.read("decrypted"), b"new contents");
    assert_eq!(mode(&sandbox.path("decrypted")), 0o600);

    // In place: INPUT and --outfile the same file, each way.
    let file = sandbox.write("inplace", data(5000));
    sandbox
        .root(&[
            "encrypt", &file, "--key-id", &key_id, "-o", &file, "--force",
        ])
        .success();
    assert_eq!(layout(&sandbox.read("inplace")).frames.len(), 1);
    sandbox
        .root(&["decrypt", &file, "-o", &file, "--force"])
        .success();
    assert_eq!(sandbox.read("inplace"), data(5000));

    // A failed decryption with --force leaves the target as it was.
    let mut tampered = sandbox.encrypt_file("again", b"x", &["--key-id", &key_id]);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let tampered = sandbox.write("again.vlt", tampered);
    let run = sandbox.root(&["decrypt", &tampered, "-o", &decrypted, "--force"]);
    run.assert_error(1, "nothing was written to");
    assert_eq!(sandbox.read("decrypted"), b"new contents");
    assert_eq!(
        entries(sandbox.home.path()),
        [
            "again",
            "again.vlt",
            "decrypted",
            "inplace",
            "plain",
            "target"
        ]
    );
}

#[test]
fn local_problems_are_refused_before_anything_is_sent() {
    // Nothing listens there and there are no credentials: only local checks can answer.
    let sandbox = Sandbox::at("http://127.0.0.1:1".into());
    let input = sandbox.write("plain", b"data");
    let dir = sandbox.arg("");
    let missing = sandbox.arg("missing");
    let existing = sandbox.write("existing", b"");
    let nested = sandbox.arg("no/such/dir/out");
    let many: Vec<String> = (0..17)
        .flat_map(|i| ["--key-id".into(), format!("k{i}")])
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let encrypt = ["encrypt", input.as_str()];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["encrypt", &missing, "--key-id", "k"], "cannot read"),
        (vec!["encrypt", &dir, "--key-id", "k"], "is a directory"),
        ([&encrypt[..], &many].concat(), "at most 16 keys"),
        (
            vec!["encrypt", &input, "--key-id", "k", "--key-id", "k"],
            "given twice",
        ),
        (
            vec!["encrypt", &input, "--key-id", "k", "--context", "novalue"],
            "expected KEY=VALUE",
        ),
        (
            vec!["encrypt", &input, "--key-id", "k", "--context", "=v"],
            "expected KEY=VALUE",
        ),
        (
            vec![
                "encrypt",
                &input,
                "--key-id",
                "k",
                "--context",
                "a=1",
                "--context",
                "a=2",
            ],
            "given twice",
        ),
        (
            vec!["encrypt", &input, "--key-id", "k", "-o", &existing],
            "--force",
        ),
        (
            vec!["encrypt", &input, "--key-id", "k", "-o", &dir, "--force"],
            "not a regular file",
        ),
        (
            vec!["encrypt", &input, "--key-id", "k", "-o", &nested],
            "cannot create a file in",
        ),
        (vec!["decrypt", &missing], "cannot read"),
        (
            vec!["decrypt", &input, "--key-id", ""],
            "--key-id: the value is empty",
        ),
        (
            vec!["decrypt", &input, "--output", "json"],
            "--output and --query do not apply",
        ),
    ];
    for (args, needle) in &cases {
        let run = sandbox.run_with(args, &[], None);
        run.assert_error(252, needle);
    }
    // What clap itself refuses exits 252 as well.
    for (args, needle) in [
        (vec!["encrypt", &input], "--key-id <KEY>"),
        (
            vec!["encrypt", &input, "--key-id", "k", "--frame-size", "8"],
            "--frame-size",
        ),
        (
            vec![
                "encrypt",
                &input,
                "--key-id",
                "k",
                "--frame-size",
                "16777217",
            ],
            "--frame-size",
        ),
    ] {
        let run = sandbox.run_with(&args, &[], None);
        assert_eq!(run.code, 252, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    assert_eq!(entries(sandbox.home.path()), ["existing", "plain"]);
}

#[test]
fn no_credentials_exit_253_and_an_unreachable_vaultd_255_leaving_no_output() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sandbox = Sandbox::at(format!("http://127.0.0.1:{port}"));
    let input = sandbox.write("plain", b"data");
    let output = sandbox.arg("plain.vlt");
    let args = [
        "encrypt",
        &input,
        "--key-id",
        "k",
        "-o",
        &output,
        "--no-retry",
    ];
    // Everything local is fine (the temporary file was made): the credentials are missing.
    let run = sandbox.run_with(&args, &[("VAULTD_ENDPOINT", &sandbox.endpoint)], None);
    run.assert_error(253, "vaultctl: error: ");
    assert_eq!(entries(sandbox.home.path()), ["plain"]);
    let run = sandbox.run_with(&args, &sandbox.root_env(), None);
    run.assert_error(255, "Could not connect to the endpoint URL: ");
    assert_eq!(entries(sandbox.home.path()), ["plain"]);
}

#[test]
fn help_says_what_each_exit_status_means_and_that_stdout_is_untrusted() {
    let sandbox = Sandbox::at(String::new());
    let help = |args: &[&str]| {
        let run = sandbox.run_with(args, &[], None);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{args:?}");
        String::from_utf8(run.stdout).unwrap()
    };
    let top = help(&["--help"]);
    for needle in ["encrypt", "decrypt", " 3 ", " 4 ", " 5 "] {
        assert!(top.contains(needle), "{needle} in {top}");
    }
    let encrypt = help(&["encrypt", "--help"]);
    for needle in [
        "--key-id <KEY>",
        "--context <KEY=VALUE>",
        "--frame-size",
        "--force",
        "252",
    ] {
        assert!(encrypt.contains(needle), "{needle} in {encrypt}");
    }
    let decrypt = help(&["decrypt", "--help"]);
    for needle in [
        "not verified until vaultctl exits 0",
        "discard",
        "1 the stream does not verify",
        "3 none of the given --key-id",
        "4 the encryption context",
        "5 not a vaultd encrypted stream",
        "254",
    ] {
        assert!(decrypt.contains(needle), "{needle} in {decrypt}");
    }
}

/// Runs `shell` under `script`, so that vaultctl's stdout and stderr are a terminal; returns
/// the exit status and what the terminal showed. `None` without util-linux's `script`.
fn on_a_terminal(sandbox: &Sandbox, shell: &str) -> Option<(i32, String)> {
    let output = Command::new("script")
        .args(["-qefc", shell, "/dev/null"])
        .env("HOME", sandbox.home.path())
        .envs(sandbox.root_env())
        .env("VAULTCTL", vaultctl_bin())
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_no_binary_output_but_the_notes_and_the_progress_line() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let input = sandbox.write("plain", b"data");
    let Some((code, shown)) = on_a_terminal(
        &sandbox,
        &format!("\"$VAULTCTL\" encrypt {input} --key-id {key_id}"),
    ) else {
        eprintln!("no `script` here: the terminal checks are skipped");
        return;
    };
    assert_eq!(code, 252, "{shown}");
    assert!(
        shown.contains("refusing to write binary output to a terminal; use --outfile or redirect"),
        "{shown}"
    );

    // Decrypting to stdout: stdout a pipe, stderr the terminal: the note comes first.
    let stream = sandbox.arg("plain.vlt");
    sandbox
        .root(&["encrypt", &input, "--key-id", &key_id, "-o", &stream])
        .success();
    let (code, shown) = on_a_terminal(
        &sandbox,
        &format!("\"$VAULTCTL\" decrypt {stream} | cat >/dev/null"),
    )
    .unwrap();
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains(
            "vaultctl: decrypting to stdout: the output is not verified until vaultctl exits 0"
        ),
        "{shown}"
    );

    // stdin that takes over a second: a progress line, redrawn with \r and cleared at the end.
    let output = sandbox.arg("slow.vlt");
    let shell =
        format!("(sleep 1.5; printf data) | \"$VAULTCTL\" encrypt --key-id {key_id} -o {output}");
    let (code, shown) = on_a_terminal(&sandbox, &shell).unwrap();
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("\rvaultctl: encrypting 0.0 MiB"),
        "{shown:?}"
    );
    assert!(shown.ends_with('\r'), "cleared: {shown:?}");
    // --no-progress: nothing at all.
    let shell = format!(
        "(sleep 1.5; printf data) | \"$VAULTCTL\" encrypt --key-id {key_id} -o {output} --force \
         --no-progress"
    );
    let (code, shown) = on_a_terminal(&sandbox, &shell).unwrap();
    assert_eq!((code, shown.as_str()), (0, ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_leaves_no_temporary_file_behind() {
    let server = TestServer::start().await;
    let sandbox = Sandbox::new(&server);
    let key_id = sandbox.create_key();
    let stream = sandbox.encrypt_file("plain", &data(3 << 20), &["--key-id", &key_id]);
    for (signal, status) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        // Half the stream on a stdin that stays open: vaultctl waits for the rest, its
        // temporary file (mode 0600, named after the target) beside the target.
        let dir = sandbox.path(signal);
        std::fs::create_dir(&dir).unwrap();
        let output = dir.join("plain").display().to_string();
        let mut child = sandbox.spawn(&["decrypt", "-o", &output], &sandbox.root_env(), true);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&stream[..stream.len() / 2]).unwrap();
        let started = Instant::now();
        let temp = loop {
            if let Some(name) = entries(&dir).pop() {
                break name;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no temporary file"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let random = temp
            .strip_prefix(".plain.vaultctl-")
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .unwrap_or_else(|| panic!("{temp}"));
        assert!(
            random.len() == 16 && random.bytes().all(|b| b.is_ascii_hexdigit()),
            "{temp}"
        );
        assert_eq!(mode(&dir.join(&temp)), 0o600);
        // Let it get to the frames (the Decrypt call answered) before the signal.
        std::thread::sleep(Duration::from_millis(300));
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let output = child.wait_with_output().unwrap();
        drop(stdin);
        assert_eq!(output.status.code(), Some(status), "SIG{signal}");
        assert!(entries(&dir).is_empty(), "SIG{signal}: {:?}", entries(&dir));
    }
}
