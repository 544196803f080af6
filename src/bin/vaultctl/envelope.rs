//! `vaultctl encrypt` and `vaultctl decrypt`: envelope encryption of files and streams of any size
//! (crypto.md §3) through [`vaultd::client::envelope`], in constant memory.
//!
//! `encrypt` gets one data key (GenerateDataKey under the first `--key-id`, Encrypt under each
//! other one), writes the header and seals the input frame by frame; `decrypt` reads the header,
//! opens the data key with one Decrypt and checks frame after frame. Both read and write through
//! 1 MiB buffers, whatever the size of the input.
//!
//! An `--outfile` is written to a temporary file created with mode 0600 beside it
//! (`.NAME.vaultctl-<random>.tmp`), synced, and renamed over the target only once the whole
//! stream was written (encrypt) or verified (decrypt); on any failure (an interrupting signal
//! included) the temporary file is removed, so the target never holds partial or unverified
//! output. Plaintext decrypted to stdout goes out as the frames verify (the library checks them
//! in batches of about 1 MiB), before the end of the stream is known: it is untrusted until
//! vaultctl exits 0, and a failure says how many bytes to discard.
//!
//! Everything local is checked by [`EncryptArgs::job`] and [`DecryptArgs::job`] before anything is
//! sent: the flags, INPUT (opened; for decrypt its header read and parsed), the output (not a
//! terminal; not an existing file without `--force`; the temporary file created).

use std::{
    cell::Cell,
    fs::File,
    io::{self, BufReader, BufWriter, IsTerminal, Read, Write},
    path::PathBuf,
    rc::Rc,
};

use clap::Args;
use vaultd::{
    client::envelope::{DecryptRequest, EncryptRequest, Envelope, EnvelopeError},
    crypto::{
        context::EncryptionContext,
        stream::{self, Header, StreamError},
    },
};

use crate::{
    CliError, Context,
    outfile::{self, TempFile},
    progress::Progress,
};

/// The size of the read and write buffers.
const BUFFER_LEN: usize = 1 << 20;

pub const ENCRYPT_AFTER_HELP: &str = "\
Examples:
  vaultctl encrypt --key-id alias/backup --context app=billing -o dump.sql.vlt dump.sql
  pg_dump billing | vaultctl encrypt --key-id alias/backup --key-id alias/backup-dr > dump.vlt

Exit status: 0 success; 252 bad command line or input (unreadable INPUT, --outfile exists \
without --force, binary output to a terminal); 253 bad configuration (credentials, profile, \
endpoint); 254 the service answered with an error (AccessDeniedException, NotFoundException for a \
--key-id...); 255 vaultd unreachable or too slow, or reading INPUT or writing the output failed. \
On failure --outfile is left as it was.";

pub const DECRYPT_AFTER_HELP: &str = "\
Examples:
  vaultctl decrypt -o dump.sql dump.sql.vlt
  vaultctl decrypt --key-id alias/backup --context app=billing dump.vlt | psql billing

Untrusted output on stdout: plaintext written to stdout goes out as the frames verify, before \
the end of the stream is reached. A stream that was truncated, reordered or altered further on is \
only detected later, so the output is not verified until vaultctl exits 0: on any other exit \
status, discard what was written. With --outfile there is no such caveat: the file appears only \
once the whole stream verified.

Exit status: 0 success, the whole stream verified; 1 the stream does not verify (altered, \
truncated, reordered or extended; its header altered); 3 none of the given --key-id wraps the data \
key (the keys it was encrypted under are named); 4 the encryption context lacks a --context pair; \
5 not a vaultd encrypted stream, or an unknown format version or suite; 252 bad command line or \
input (unreadable INPUT, --outfile exists without --force, binary output to a terminal); 253 bad \
configuration; 254 the service answered with an error (AccessDeniedException...); 255 vaultd \
unreachable or too slow, or reading INPUT or writing the output failed. On failure --outfile is \
left as it was.";

#[derive(Args)]
pub struct EncryptArgs {
    /// The file to encrypt; - or absent for stdin.
    #[arg(value_name = "INPUT")]
    input: Option<PathBuf>,
    /// Write the encrypted stream to this file instead of stdout (- for stdout). It is written to
    /// a temporary file beside it (mode 0600) and renamed into place only once complete; it may
    /// be INPUT itself (with --force).
    #[arg(short = 'o', long, value_name = "PATH")]
    outfile: Option<PathBuf>,
    /// A KMS key to encrypt under: its id, key ARN, alias name (alias/NAME) or alias ARN.
    /// Repeatable, up to 16: each one wraps the same data key, and any one of them decrypts.
    #[arg(long = "key-id", value_name = "KEY", required = true)]
    key_ids: Vec<String>,
    /// A pair of the encryption context, KEY=VALUE (repeatable). Stored in the header in clear
    /// and bound to the data key and every frame; `decrypt --context` can insist on it. Not for
    /// secrets.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Bytes of plaintext per frame (16 to 16777216). Memory use grows with it.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = stream::DEFAULT_FRAME_LEN,
        value_parser = clap::value_parser!(u32).range(
            i64::from(*stream::FRAME_LEN.start())..=i64::from(*stream::FRAME_LEN.end())
        )
    )]
    frame_size: u32,
    /// Replace --outfile if it exists.
    #[arg(long)]
    force: bool,
    /// Do not show progress on stderr (shown on a terminal for inputs over 64 MiB, or stdin
    /// that takes over a second).
    #[arg(long)]
    no_progress: bool,
}

#[derive(Args)]
pub struct DecryptArgs {
    /// The file to decrypt, as `vaultctl encrypt` wrote it; - or absent for stdin.
    #[arg(value_name = "INPUT")]
    input: Option<PathBuf>,
    /// Write the plaintext to this file instead of stdout (- for stdout). It is written to a
    /// temporary file beside it (mode 0600) and renamed into place only once the whole stream
    /// verified; it may be INPUT itself (with --force). Without it, see "Untrusted output on
    /// stdout" below.
    #[arg(short = 'o', long, value_name = "PATH")]
    outfile: Option<PathBuf>,
    /// Accept only this KMS key (its id, key ARN, alias name or alias ARN) to open the data key;
    /// repeatable, any one will do. Without it, the keys the header names are tried in order.
    #[arg(long = "key-id", value_name = "KEY")]
    key_ids: Vec<String>,
    /// A pair the stream's encryption context must contain, KEY=VALUE (repeatable); the
    /// context may hold more pairs.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Replace --outfile if it exists.
    #[arg(long)]
    force: bool,
    /// Do not show progress on stderr (shown on a terminal for inputs over 64 MiB, or stdin
    /// that takes over a second).
    #[arg(long)]
    no_progress: bool,
}

/// An encrypt or decrypt command ready to run: its input open, its output checked (and its
/// temporary file created).
pub struct EnvelopeJob {
    operation: Operation,
    input: Input,
    output: Output,
    no_progress: bool,
}

enum Operation {
    Encrypt(EncryptRequest),
    /// The header was read from the input already (and checked to be one vaultctl reads); it is
    /// given back to the library in front of the rest of the input.
    Decrypt {
        request: DecryptRequest,
        header: Header,
        raw_header: Vec<u8>,
    },
}

impl EncryptArgs {
    /// Checks the flags, opens INPUT and prepares the output; sends nothing.
    pub fn job(self) -> Result<EnvelopeJob, CliError> {
        let key_ids = key_ids(self.key_ids)?;
        if key_ids.len() > stream::MAX_WRAPPED_KEYS {
            return Err(usage(format!(
                "--key-id: at most {} keys, {} given",
                stream::MAX_WRAPPED_KEYS,
                key_ids.len()
            )));
        }
        let context = context(&self.context)?;
        let input = Input::open(self.input)?;
        let target = Target::check(self.outfile, self.force)?;
        let request = EncryptRequest {
            key_ids,
            context,
            plaintext_len: input.len,
            frame_len: Some(self.frame_size),
        };
        Ok(EnvelopeJob {
            operation: Operation::Encrypt(request),
            input,
            output: target.open()?,
            no_progress: self.no_progress,
        })
    }
}

impl DecryptArgs {
    /// Checks the flags, opens INPUT and reads its header, prepares the output; sends nothing.
    pub fn job(self) -> Result<EnvelopeJob, CliError> {
        let key_ids = key_ids(self.key_ids)?;
        let required_context = context(&self.context)?;
        let mut input = Input::open(self.input)?;
        let target = Target::check(self.outfile, self.force)?;
        let (header, raw_header) = Header::read(&mut input.reader).map_err(|e| match e {
            StreamError::Io(message) => usage(format!("cannot read {}: {message}", input.name)),
            other => not_a_stream(&input.name, &other),
        })?;
        Ok(EnvelopeJob {
            operation: Operation::Decrypt {
                request: DecryptRequest {
                    key_ids,
                    required_context,
                },
                header,
                raw_header,
            },
            input,
            output: target.open()?,
            no_progress: self.no_progress,
        })
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// The `--key-id` values: none empty, none repeated.
fn key_ids(values: Vec<String>) -> Result<Vec<String>, CliError> {
    for (i, key_id) in values.iter().enumerate() {
        if key_id.trim().is_empty() {
            return Err(usage("--key-id: the value is empty"));
        }
        if values[..i].contains(key_id) {
            return Err(usage(format!("--key-id: {key_id:?} is given twice")));
        }
    }
    Ok(values)
}

/// The `--context` values, one `KEY=VALUE` each (the value may be empty and may hold `=` and
/// commas); a key given twice is refused, and the whole must encode within 8 KiB.
fn context(values: &[String]) -> Result<EncryptionContext, CliError> {
    crate::input::context_pairs("--context", values).map_err(usage)
}

/// What a stream's header says it is not, as exit status 5.
fn not_a_stream(name: &str, error: &StreamError) -> CliError {
    CliError::NotEncrypted(match error {
        StreamError::UnknownVersion(version) => format!(
            "{name} is a vaultd encrypted stream of format version {version}, which this vaultctl \
             does not read (it reads version {})",
            stream::VERSION
        ),
        StreamError::Invalid(why) => {
            format!("{name} is not a vaultd encrypted stream this vaultctl reads: {why}")
        }
        _ => format!(
            "{name} is not a vaultd encrypted stream (the output of vaultctl encrypt); \
             it is not even a complete header"
        ),
    })
}

/// The input: a file or stdin, behind a 1 MiB buffer.
struct Input {
    reader: BufReader<Box<dyn Read>>,
    /// For messages: the path, or "stdin".
    name: String,
    /// The size, when the input is a regular file that says it is not empty.
    len: Option<u64>,
    /// A regular file's own handle, read at offsets when the output is a file too.
    file: Option<File>,
}

impl Input {
    /// Absent, stdin must not be a terminal (a forgotten INPUT would wait for typing); an
    /// explicit `-` reads stdin even from a terminal (ending with ^D).
    fn open(path: Option<PathBuf>) -> Result<Self, CliError> {
        let path = match path {
            Some(path) if path.as_os_str() == "-" => return Ok(Self::stdin()),
            Some(path) => path,
            None if io::stdin().is_terminal() => {
                return Err(usage(
                    "no INPUT: give a file, or pipe the data on stdin (- reads stdin even from a \
                     terminal)",
                ));
            }
            None => return Ok(Self::stdin()),
        };
        let name = path.display().to_string();
        let file = File::open(&path).map_err(|e| usage(format!("cannot read {name}: {e}")))?;
        let metadata = file
            .metadata()
            .map_err(|e| usage(format!("cannot read {name}: {e}")))?;
        if metadata.is_dir() {
            return Err(usage(format!("cannot read {name}: it is a directory")));
        }
        // A regular file of size 0 is read as a stream: special files such as those of /proc
        // say 0 whatever they hold (an empty file is one empty frame either way).
        let sized = metadata.is_file() && metadata.len() > 0;
        let regular = match sized {
            true => Some(
                file.try_clone()
                    .map_err(|e| usage(format!("cannot read {name}: {e}")))?,
            ),
            false => None,
        };
        Ok(Self {
            reader: BufReader::with_capacity(BUFFER_LEN, Box::new(file)),
            name,
            len: sized.then_some(metadata.len()),
            file: regular,
        })
    }

    fn stdin() -> Self {
        Self {
            reader: BufReader::with_capacity(BUFFER_LEN, Box::new(io::stdin().lock())),
            name: "stdin".to_string(),
            len: None,
            file: None,
        }
    }
}

/// Where the output goes, checked but not yet created.
enum Target {
    Stdout,
    File { path: PathBuf, force: bool },
}

impl Target {
    /// `-` or absent is stdout, which must not be a terminal. A file must not exist unless
    /// `force`, and then must be a regular file.
    fn check(outfile: Option<PathBuf>, force: bool) -> Result<Self, CliError> {
        let Some(path) = outfile.filter(|p| p.as_os_str() != "-") else {
            if io::stdout().is_terminal() {
                return Err(usage(
                    "refusing to write binary output to a terminal; use --outfile or redirect",
                ));
            }
            return Ok(Self::Stdout);
        };
        outfile::check(&path, force).map_err(usage)?;
        Ok(Self::File { path, force })
    }

    /// Creates the temporary file of a file target.
    fn open(self) -> Result<Output, CliError> {
        match self {
            Self::Stdout => Ok(Output::Stdout),
            Self::File { path, force } => {
                let (temp, file) = TempFile::create(path, force).map_err(usage)?;
                Ok(Output::File { temp, file })
            }
        }
    }
}

/// The output, ready to be written.
enum Output {
    Stdout,
    File { temp: TempFile, file: File },
}

impl Output {
    /// For messages: the target path, or "stdout".
    fn name(&self) -> String {
        match self {
            Self::Stdout => "stdout".to_string(),
            Self::File { temp, .. } => temp.target().display().to_string(),
        }
    }

    fn split(self) -> (Sink, Option<TempFile>) {
        match self {
            Self::Stdout => (Sink::Stdout(io::stdout()), None),
            Self::File { temp, file } => (Sink::File(file), Some(temp)),
        }
    }
}

/// What the bytes are written to.
enum Sink {
    Stdout(io::Stdout),
    File(File),
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Self::Stdout(out) => out.write(data),
            Self::File(file) => file.write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Stdout(out) => out.flush(),
            Self::File(file) => file.flush(),
        }
    }
}

impl Sink {
    /// Makes the output final: flushes stdout, or syncs the temporary file and renames it over
    /// the target.
    fn finish(self, temp: Option<TempFile>) -> io::Result<()> {
        match (self, temp) {
            (Self::File(file), Some(temp)) => temp.commit(file),
            (mut sink, _) => sink.flush(),
        }
    }
}

/// The input as the encryptor reads it: its errors told apart from the output's, and progress
/// drawn as it goes.
struct Source<'a, R> {
    inner: &'a mut R,
    progress: &'a mut Progress,
    done: u64,
    error: Option<String>,
}

impl<R: Read> Read for Source<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.done += n as u64;
                self.progress.update(self.done);
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.error = Some(e.to_string());
                }
                Err(e)
            }
        }
    }
}

/// Where verified plaintext goes: counts it (for a failure's "discard" message), flushes it to
/// stdout at once, draws progress, and keeps its own errors apart from the stream's.
struct Drain<'a> {
    sink: Sink,
    flush: bool,
    written: u64,
    error: Option<String>,
    progress: &'a mut Progress,
    read: Rc<Cell<u64>>,
}

impl Write for Drain<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let result = self.sink.write_all(data).and_then(|()| {
            if self.flush {
                self.sink.flush()
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            self.error = Some(e.to_string());
            return Err(e);
        }
        self.written += data.len() as u64;
        self.progress.update(self.read.get());
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// Counts the bytes read through it, for the progress line.
struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl EnvelopeJob {
    /// Encrypts or decrypts the input to the output.
    pub async fn run(self, context: &Context) -> Result<(), CliError> {
        let envelope = Envelope::new(context.client.clone());
        match self.operation {
            Operation::Encrypt(request) => {
                encrypt(
                    &envelope,
                    &request,
                    self.input,
                    self.output,
                    self.no_progress,
                )
                .await
            }
            Operation::Decrypt {
                request,
                header,
                raw_header,
            } => {
                let input = Opened {
                    header,
                    raw_header,
                    input: self.input,
                };
                decrypt(&envelope, &request, input, self.output, self.no_progress).await
            }
        }
    }
}

async fn encrypt(
    envelope: &Envelope,
    request: &EncryptRequest,
    mut input: Input,
    output: Output,
    no_progress: bool,
) -> Result<(), CliError> {
    let out_name = output.name();
    let output = match (input.file.take(), input.len, output) {
        (Some(input_file), Some(len), Output::File { temp, file }) => {
            let files = FilePair {
                input: input_file,
                len,
                output: file,
                temp,
            };
            return encrypt_file(envelope, request, &input.name, files, no_progress).await;
        }
        (_, _, output) => output,
    };
    // Once the header is out, a failure leaves a stream on stdout that does not decrypt.
    let incomplete = match output {
        Output::Stdout => "; the encrypted stream written to stdout is incomplete",
        Output::File { .. } => "",
    };
    let write_error =
        |e: io::Error| CliError::Other(format!("cannot write {out_name}: {e}{incomplete}"));
    let (sink, temp) = output.split();
    let writer = BufWriter::with_capacity(BUFFER_LEN, sink);
    let mut encryptor = envelope
        .encryptor(writer, request)
        .await
        .map_err(|e| encrypt_error(e, &out_name))?;
    let mut progress = Progress::new("encrypting", input.len, no_progress);
    let mut source = Source {
        inner: &mut input.reader,
        progress: &mut progress,
        done: 0,
        error: None,
    };
    // Read straight into the encryptor's frames (no copy through a buffer of ours).
    if let Err(e) = encryptor.write_from(&mut source) {
        return Err(match source.error.take() {
            Some(read_error) => CliError::Other(format!(
                "cannot read {}: {read_error}{incomplete}",
                input.name
            )),
            None => write_error(e),
        });
    }
    let writer = encryptor.finish().map_err(write_error)?;
    let sink = writer
        .into_inner()
        .map_err(|e| write_error(e.into_error()))?;
    sink.finish(temp).map_err(write_error)?;
    progress.clear();
    Ok(())
}

/// A regular file to encrypt into a file: its handle, the output's and its temporary file.
struct FilePair {
    input: File,
    /// The length INPUT had when it was opened (the stream checks that it keeps it).
    len: u64,
    output: File,
    temp: TempFile,
}

/// `encrypt` from a regular file to a file: at offsets, on every core.
async fn encrypt_file(
    envelope: &Envelope,
    request: &EncryptRequest,
    in_name: &str,
    files: FilePair,
    no_progress: bool,
) -> Result<(), CliError> {
    let out_name = files.temp.target().display().to_string();
    let len = files.len;
    let encryptor = envelope
        .file_encryptor(len, request)
        .await
        .map_err(|e| encrypt_error(e, &out_name))?;
    let mut progress = Progress::new("encrypting", Some(len), no_progress);
    encryptor
        .encrypt_file(&files.input, &files.output, &mut |done| {
            progress.update(done)
        })
        .map_err(|e| match e {
            StreamError::Write(message) => {
                CliError::Other(format!("cannot write {out_name}: {message}"))
            }
            StreamError::Invalid(message) => CliError::Usage(message.into()),
            StreamError::Read(message) | StreamError::Io(message) => {
                CliError::Other(format!("cannot read {in_name}: {message}"))
            }
            other => CliError::Other(format!("cannot encrypt {in_name}: {other}")),
        })?;
    Sink::File(files.output)
        .finish(Some(files.temp))
        .map_err(|e| CliError::Other(format!("cannot write {out_name}: {e}")))?;
    progress.clear();
    Ok(())
}

/// How a failure to start encrypting is reported.
fn encrypt_error(error: EnvelopeError, out_name: &str) -> CliError {
    match error {
        EnvelopeError::Service { operation, error } => CliError::Service { operation, error },
        EnvelopeError::Invalid(message) => CliError::Usage(message),
        EnvelopeError::Stream(StreamError::Invalid(message)) => CliError::Usage(message.into()),
        EnvelopeError::Stream(StreamError::Io(message)) => {
            CliError::Other(format!("cannot write {out_name}: {message}"))
        }
        other => CliError::Other(other.to_string()),
    }
}

/// A decrypt input whose header was read.
struct Opened {
    header: Header,
    raw_header: Vec<u8>,
    input: Input,
}

async fn decrypt(
    envelope: &Envelope,
    request: &DecryptRequest,
    opened: Opened,
    output: Output,
    no_progress: bool,
) -> Result<(), CliError> {
    let Opened {
        header,
        raw_header,
        input,
    } = opened;
    let in_name = input.name.clone();
    let out_name = output.name();
    let to_stdout = matches!(output, Output::Stdout);
    let count = Rc::new(Cell::new(raw_header.len() as u64));
    let reader = io::Cursor::new(raw_header).chain(Counted {
        inner: input.reader,
        count: count.clone(),
    });
    let (_, mut decryptor) = envelope
        .decryptor(reader, request)
        .await
        .map_err(|e| decrypt_error(e, &header, &in_name, &out_name))?;
    if to_stdout && io::stderr().is_terminal() {
        eprintln!(
            "vaultctl: decrypting to stdout: the output is not verified until vaultctl exits 0"
        );
    }
    let (sink, temp) = output.split();
    let mut progress = Progress::new("decrypting", input.len, no_progress);
    if let (Some(file), Sink::File(out)) = (&input.file, &sink) {
        // A file to a file: at offsets, on every core; the target appears only once all of it
        // verified.
        let header_len = count.get();
        decryptor
            .decrypt_file(file, out, &mut |done| progress.update(header_len + done))
            .map_err(|e| match e {
                StreamError::Write(message) => {
                    CliError::Other(format!("cannot write {out_name}: {message}"))
                }
                StreamError::Read(message) | StreamError::Io(message) => CliError::Other(format!(
                    "cannot read {in_name}: {message}; nothing was written to {out_name}"
                )),
                other => unverified(&other, &format!("; nothing was written to {out_name}")),
            })?;
        sink.finish(temp)
            .map_err(|e| CliError::Other(format!("cannot write {out_name}: {e}")))?;
        progress.clear();
        return Ok(());
    }
    // Each batch goes out as soon as it verified (to stdout, flushed at once).
    let mut out = Drain {
        sink,
        flush: to_stdout,
        written: 0,
        error: None,
        progress: &mut progress,
        read: count,
    };
    if let Err(e) = decryptor.write_to(&mut out) {
        return Err(match out.error.take() {
            Some(write_error) => CliError::Other(format!(
                "cannot write {out_name}: {write_error}{}",
                discard(to_stdout, out.written)
            )),
            None => frame_error(&e, &in_name, &out_name, to_stdout, out.written),
        });
    }
    let sink = out.sink;
    sink.finish(temp)
        .map_err(|e| CliError::Other(format!("cannot write {out_name}: {e}")))?;
    progress.clear();
    Ok(())
}

/// The end of a failure message of a decryption to stdout: what to throw away.
fn discard(to_stdout: bool, written: u64) -> String {
    match (to_stdout, written) {
        (false, _) => String::new(),
        (true, 0) => "; nothing was written to stdout".to_string(),
        (true, n) => format!("; discard the {n} bytes already written to stdout"),
    }
}

/// What the caller is told when the output was not completed: nothing reached a file; some
/// bytes may have reached stdout.
fn nothing_or_discard(out_name: &str, to_stdout: bool, written: u64) -> String {
    if to_stdout {
        discard(true, written)
    } else {
        format!("; nothing was written to {out_name}")
    }
}

/// How a failure while reading frames is reported: the stream does not verify (exit 1), or the
/// input could not be read (255).
fn frame_error(
    error: &io::Error,
    in_name: &str,
    out_name: &str,
    to_stdout: bool,
    written: u64,
) -> CliError {
    let stream_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<StreamError>());
    let tail = nothing_or_discard(out_name, to_stdout, written);
    match stream_error {
        Some(StreamError::Io(message)) => {
            CliError::Other(format!("cannot read {in_name}: {message}{tail}"))
        }
        Some(other) => unverified(other, &tail),
        None => CliError::Other(format!("cannot read {in_name}: {error}{tail}")),
    }
}

/// How frames that do not verify are reported (exit 1); `tail` says what became of the output.
fn unverified(error: &StreamError, tail: &str) -> CliError {
    match error {
        StreamError::Invalid(why) => {
            CliError::Unverified(format!("the encrypted stream does not verify: {why}{tail}"))
        }
        _ => CliError::Unverified(format!(
            "the encrypted stream does not verify: it was altered, truncated or extended{tail}"
        )),
    }
}

/// How a failure to open the stream is reported (nothing was written yet).
fn decrypt_error(error: EnvelopeError, header: &Header, in_name: &str, out_name: &str) -> CliError {
    let nothing = format!("nothing was written to {out_name}");
    match error {
        EnvelopeError::Service { operation, error } => CliError::Service { operation, error },
        EnvelopeError::Stream(StreamError::WrongKey) => CliError::Unverified(format!(
            "the encrypted stream does not verify: its header was altered or its data key does \
             not match its commitment; {nothing}"
        )),
        EnvelopeError::Stream(StreamError::Tampered) => CliError::Unverified(format!(
            "the encrypted stream does not verify: it was altered, truncated or extended; \
             {nothing}"
        )),
        EnvelopeError::Stream(StreamError::Io(message)) => {
            CliError::Other(format!("cannot read {in_name}: {message}"))
        }
        EnvelopeError::Stream(other) => not_a_stream(in_name, &other),
        EnvelopeError::WrongKey(_) => {
            let arns: Vec<&str> = header
                .wrapped_keys
                .iter()
                .map(|key| key.key_arn.as_str())
                .collect();
            CliError::WrongKey(format!(
                "none of the given --key-id can decrypt {in_name}: its header says it was \
                 encrypted under {}; give one of those keys (or an alias of one) as --key-id, or \
                 leave --key-id out",
                arns.join(", ")
            ))
        }
        EnvelopeError::ContextMismatch(message) => {
            // The keys only, as the library words it: values may be worth keeping out of logs.
            let keys: Vec<&str> = header.context.iter().map(|(key, _)| key).collect();
            let actual = if keys.is_empty() {
                "it has no encryption context".to_string()
            } else {
                format!("its encryption context has the keys {}", keys.join(", "))
            };
            CliError::WrongContext(format!(
                "the encryption context of {in_name} does not match --context ({message}): \
                 {actual}"
            ))
        }
        EnvelopeError::Invalid(message) => CliError::Usage(message),
    }
}
