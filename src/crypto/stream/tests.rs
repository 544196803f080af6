use std::{fs::File, io::Write};

use super::{file::NOT_ITS_SIZE, *};

const ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const PLAINTEXT: &[u8] = b"The quick brown fox jumps over the lazy dog.";

fn key() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn encrypt(plaintext: &[u8], frame_len: u32, message_id: [u8; 32]) -> Vec<u8> {
    let context: EncryptionContext = [("tenant", "42")].into_iter().collect();
    let wrapped = vec![WrappedKey {
        key_arn: ARN.into(),
        blob: vec![0xb0; 10],
    }];
    let message =
        FileEncryptor::with_message_id(&key(), &context, wrapped, frame_len, message_id).unwrap();
    let mut encryptor = Encryptor::start(Vec::new(), message).unwrap();
    // Odd-sized writes: framing must not depend on how the input arrives.
    for chunk in plaintext.chunks(7) {
        encryptor.write_all(chunk).unwrap();
    }
    encryptor.finish().unwrap()
}

fn decrypt(stream: &[u8], data_key: &[u8; 32]) -> Result<Vec<u8>, StreamError> {
    let mut input = stream;
    let (header, raw) = Header::read(&mut input)?;
    let mut decryptor = Decryptor::new(input, &header, &raw, data_key)?;
    let mut out = Vec::new();
    decryptor.read_to_end(&mut out).map_err(|e| {
        match e
            .into_inner()
            .and_then(|e| e.downcast::<StreamError>().ok())
        {
            Some(e) => *e,
            None => StreamError::Tampered,
        }
    })?;
    Ok(out)
}

fn message_id() -> [u8; 32] {
    std::array::from_fn(|i| 0x40 + i as u8)
}

/// From Python `cryptography` (HKDF-SHA512, AESGCM), written independently from crypto.md §3.
const VECTOR: &str = "564c54450101404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f000000100001000674656e616e74000234320001004b61726e3a6177733a6b6d733a75732d656173742d313a3030303030303030303030303a6b65792f30663165326433632d346235612d363937382d383739362d613562346333643265316630000ab0b0b0b0b0b0b0b0b0b00dc955d92f2c1e7e2167f9992e62ee28653e403375b3aba355559a5dd1fd49bad304a8c2530366854404e4e7462a115f293317635117c93cdfb3174c56ed179f0dd1792b7e4703cfa9ce9a7fb8bd05a6e3d676e09196038bbff91b328b4b260ed642f507e640ccc8d26920fb924a25cee67ac2a6587726522543e4e3";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn matches_the_fixed_vector_and_decrypts() {
    let stream = encrypt(PLAINTEXT, 16, message_id());
    assert_eq!(hex(&stream), VECTOR);
    assert_eq!(decrypt(&stream, &key()).unwrap(), PLAINTEXT);
    let (header, _) = Header::read(&mut stream.as_slice()).unwrap();
    assert_eq!(header.wrapped_keys[0].key_arn, ARN);
    assert_eq!(header.frame_len, 16);
}

#[test]
fn every_length_round_trips_including_empty_and_exact_multiples() {
    for len in [0, 1, 15, 16, 17, 32, 33, 100] {
        let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let stream = encrypt(&plaintext, 16, message_id());
        assert_eq!(decrypt(&stream, &key()).unwrap(), plaintext, "{len}");
    }
}

#[test]
fn truncation_reordering_extension_and_tampering_are_detected() {
    let stream = encrypt(PLAINTEXT, 16, message_id());
    let header_len = stream.len() - (16 + 16) * 2 - (12 + 16);
    let frame = |i: usize| header_len + i * 32;
    // Dropping the last frame: the one before is not marked last.
    assert_eq!(
        decrypt(&stream[..frame(2)], &key()),
        Err(StreamError::Tampered)
    );
    // Cutting into a frame.
    assert_eq!(
        decrypt(&stream[..stream.len() - 1], &key()),
        Err(StreamError::Tampered)
    );
    // Swapping the first two frames.
    let mut swapped = stream.clone();
    swapped[frame(0)..frame(2)]
        .copy_from_slice(&[&stream[frame(1)..frame(2)], &stream[frame(0)..frame(1)]].concat());
    assert_eq!(decrypt(&swapped, &key()), Err(StreamError::Tampered));
    // Appending data.
    let mut longer = stream.clone();
    longer.extend_from_slice(&[0; 20]);
    assert_eq!(decrypt(&longer, &key()), Err(StreamError::Tampered));
    // A flipped bit in a frame, or in the header (the AAD covers it).
    let mut flipped = stream.clone();
    flipped[frame(1) + 3] ^= 1;
    assert_eq!(decrypt(&flipped, &key()), Err(StreamError::Tampered));
    let mut header = stream.clone();
    let at = header_len - 40; // inside the wrapped blob
    header[at] ^= 1;
    assert_eq!(decrypt(&header, &key()), Err(StreamError::Tampered));
    // Another data key fails on the commitment, before any frame.
    let mut other = key();
    other[0] ^= 1;
    assert_eq!(decrypt(&stream, &other), Err(StreamError::WrongKey));
}

#[test]
fn headers_that_vaultd_did_not_write_are_refused() {
    let stream = encrypt(PLAINTEXT, 16, message_id());
    assert_eq!(
        Header::read(&mut &b"nope"[..]).unwrap_err(),
        StreamError::NotAStream
    );
    let mut version = stream.clone();
    version[4] = 2;
    assert_eq!(
        Header::read(&mut version.as_slice()).unwrap_err(),
        StreamError::UnknownVersion(2)
    );
    assert_eq!(
        Header::read(&mut &stream[..30]).unwrap_err(),
        StreamError::NotAStream
    );
    let mut frame_len = stream.clone();
    frame_len[41] = 1; // 16 → a length below the minimum after the change
    frame_len[38..42].copy_from_slice(&1u32.to_be_bytes());
    assert!(matches!(
        Header::read(&mut frame_len.as_slice()),
        Err(StreamError::Invalid(_))
    ));
}

#[test]
fn long_streams_go_through_the_workers_and_still_detect_tampering() {
    // Several batches beyond the inline ones, with an odd tail; frames of 4 KiB.
    let plaintext: Vec<u8> = (0..(5 << 20) + 12_345)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let stream = encrypt(&plaintext, 4096, message_id());
    assert_eq!(decrypt(&stream, &key()).unwrap(), plaintext);
    let header_len = Header::read(&mut stream.as_slice()).unwrap().1.len();
    let sealed = 4096 + 16;
    // A flipped bit in a frame that a worker opens.
    let mut flipped = stream.clone();
    flipped[header_len + 1000 * sealed + 5] ^= 0x80;
    assert_eq!(decrypt(&flipped, &key()), Err(StreamError::Tampered));
    // Truncated exactly at a frame boundary inside the worker range, and at a batch boundary.
    for frames in [1000, 4 * 256] {
        let cut = &stream[..header_len + frames * sealed];
        assert_eq!(decrypt(cut, &key()), Err(StreamError::Tampered), "{frames}");
    }
    // An extra full frame's worth appended.
    let mut longer = stream.clone();
    longer.extend_from_slice(&stream[header_len..header_len + sealed]);
    assert_eq!(decrypt(&longer, &key()), Err(StreamError::Tampered));
}

#[test]
fn a_failed_stream_stays_failed() {
    let plaintext = vec![1u8; 100];
    let stream = encrypt(&plaintext, 16, message_id());
    let mut input = &stream[..stream.len() - 1];
    let (header, raw) = Header::read(&mut input).unwrap();
    let mut decryptor = Decryptor::new(input, &header, &raw, &key()).unwrap();
    let mut out = Vec::new();
    assert!(decryptor.read_to_end(&mut out).is_err());
    assert!(decryptor.read(&mut [0u8; 16]).is_err());
}

/// A writer that fails once `budget` bytes have gone through.
struct Failing {
    budget: usize,
}

impl Write for Failing {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.len() > self.budget {
            return Err(io::Error::other("disk full"));
        }
        self.budget -= data.len();
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn encryptor<W: Write>(inner: W) -> Encryptor<W> {
    let wrapped = vec![WrappedKey {
        key_arn: ARN.into(),
        blob: vec![0xb0; 10],
    }];
    Encryptor::new(inner, &key(), &EncryptionContext::new(), wrapped, 4096).unwrap()
}

#[test]
fn an_encryptor_that_lost_a_batch_never_finishes() {
    // The header and the first inline batch fit; the second batch's write fails.
    let mut encryptor = encryptor(Failing {
        budget: (1 << 20) + 100_000,
    });
    let chunk = vec![5u8; 1 << 20];
    let mut failed = false;
    for _ in 0..4 {
        failed |= encryptor.write_all(&chunk).is_err();
    }
    assert!(failed, "the write error is reported");
    assert!(encryptor.write_all(b"more").is_err(), "and stays");
    assert!(
        encryptor.finish().is_err(),
        "finish never seals a stream with a gap"
    );
}

#[test]
fn a_declared_plaintext_length_must_hold() {
    let mut exact = encryptor(Vec::new());
    exact.declare_plaintext_len(10);
    exact.write_all(&[1; 10]).unwrap();
    assert!(exact.finish().is_ok());

    let mut longer = encryptor(Vec::new());
    longer.declare_plaintext_len(10);
    longer.write_all(&[1; 6]).unwrap();
    assert!(longer.write_all(&[1; 6]).is_err());
    assert!(longer.finish().is_err());

    let mut shorter = encryptor(Vec::new());
    shorter.declare_plaintext_len(10);
    shorter.write_all(&[1; 6]).unwrap();
    assert!(shorter.finish().is_err());
}

#[test]
fn a_header_with_a_huge_context_is_refused_without_reading_it_all() {
    let mut header = Vec::new();
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&[VERSION, SUITE]);
    header.extend_from_slice(&[0u8; 32]);
    header.extend_from_slice(&4096u32.to_be_bytes());
    header.extend_from_slice(&u16::MAX.to_be_bytes());
    // Pairs of 64 KiB strings, as many as the count says: gigabytes if read in full.
    let pair = [&u16::MAX.to_be_bytes()[..], &[b'k'; 65_535][..]].concat();
    for _ in 0..4 {
        header.extend_from_slice(&pair);
    }
    assert_eq!(
        Header::read(&mut header.as_slice()).unwrap_err(),
        StreamError::Invalid("the encryption context is too large")
    );
}

#[test]
fn write_from_and_write_to_make_and_read_the_same_bytes() {
    for len in [
        0,
        1,
        4096,
        1 << 20,
        (1 << 20) + 1,
        (2 << 20) + 5,
        (5 << 20) + 3,
    ] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let expected = encrypt_with(&plaintext, 4096, |encryptor, data| {
            encryptor.write_all(data).unwrap();
        });
        // Reads of odd sizes, as a pipe gives them.
        let sealed = encrypt_with(&plaintext, 4096, |encryptor, data| {
            let mut reader = Chunked { data, at: 0 };
            assert_eq!(
                encryptor.write_from(&mut reader).unwrap(),
                data.len() as u64
            );
        });
        assert!(sealed == expected, "{len}");
        let mut input = sealed.as_slice();
        let (header, raw) = Header::read(&mut input).unwrap();
        let mut decryptor = Decryptor::new(input, &header, &raw, &key()).unwrap();
        let mut out = Vec::new();
        assert_eq!(decryptor.write_to(&mut out).unwrap(), len as u64);
        assert!(out == plaintext, "{len}");
    }
}

/// A reader that hands out at most 100,000 bytes per read.
struct Chunked<'a> {
    data: &'a [u8],
    at: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(100_000).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn encrypt_with(
    plaintext: &[u8],
    frame_len: u32,
    feed: impl FnOnce(&mut Encryptor<Vec<u8>>, &[u8]),
) -> Vec<u8> {
    let wrapped = vec![WrappedKey {
        key_arn: ARN.into(),
        blob: vec![1],
    }];
    let message = FileEncryptor::with_message_id(
        &key(),
        &EncryptionContext::new(),
        wrapped,
        frame_len,
        message_id(),
    )
    .unwrap();
    let mut encryptor = Encryptor::start(Vec::new(), message).unwrap();
    feed(&mut encryptor, plaintext);
    encryptor.finish().unwrap()
}

/// A file holding `bytes`, read back from the start.
fn file_with(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> File {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    File::open(path).unwrap()
}

/// Encrypts `plaintext` file to file with [`FileEncryptor`] (the fixed message id).
fn encrypt_file(plaintext: &[u8], frame_len: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = file_with(&dir, "plain", plaintext);
    let context: EncryptionContext = [("tenant", "42")].into_iter().collect();
    let wrapped = vec![WrappedKey {
        key_arn: ARN.into(),
        blob: vec![0xb0; 10],
    }];
    let out_path = dir.path().join("sealed");
    let encryptor =
        FileEncryptor::with_message_id(&key(), &context, wrapped, frame_len, message_id()).unwrap();
    let mut seen = 0;
    let len = encryptor
        .encrypt_file(&input, &File::create(&out_path).unwrap(), &mut |done| {
            assert!(done >= seen, "progress never goes back");
            seen = done;
        })
        .unwrap();
    assert_eq!(len, plaintext.len() as u64);
    assert_eq!(seen, len, "progress ends at the input's length");
    std::fs::read(out_path).unwrap()
}

/// Decrypts `stream` file to file with [`Decryptor::decrypt_file`].
fn decrypt_file(stream: &[u8], data_key: &[u8; 32]) -> Result<Vec<u8>, StreamError> {
    let dir = tempfile::tempdir().unwrap();
    let input = file_with(&dir, "sealed", stream);
    let (header, raw) = Header::read(&mut &input)?;
    let decryptor = Decryptor::new(io::empty(), &header, &raw, data_key)?;
    let out_path = dir.path().join("plain");
    let written = decryptor.decrypt_file(&input, &File::create(&out_path).unwrap(), &mut |_| {})?;
    let plaintext = std::fs::read(out_path).unwrap();
    assert_eq!(written, plaintext.len() as u64);
    Ok(plaintext)
}

#[test]
fn files_at_offsets_are_the_streams_byte_for_byte() {
    // Across frame and batch boundaries (a batch is 1 MiB of plaintext), with frames of 16
    // bytes (the fixed vector's), of 4 KiB, and of several MiB (one frame per batch).
    let cases: &[(u32, &[usize])] = &[
        (16, &[0, 1, 15, 16, 17, 44, 100]),
        (
            4096,
            &[4095, 4096, 4097, (1 << 20) - 1, 1 << 20, (1 << 20) + 1],
        ),
        (4096, &[(3 << 20) + 12_345]),
        // Frames that do not divide a batch: batches of 1,048 and of 15 frames.
        (1000, &[(2 << 20) + 7]),
        (65_537, &[(2 << 20) + 65_537]),
        (3 << 20, &[(3 << 20) + 1, 7 << 20]),
        // The largest frames: one per batch, one thread.
        (16 << 20, &[(16 << 20) + 5]),
    ];
    for &(frame_len, lengths) in cases {
        for &len in lengths {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let by_stream = encrypt(&plaintext, frame_len, message_id());
            let by_file = encrypt_file(&plaintext, frame_len);
            assert!(by_file == by_stream, "{frame_len}/{len}: same bytes");
            let opened = decrypt_file(&by_stream, &key()).unwrap();
            assert!(opened == plaintext, "{frame_len}/{len}: round trip");
        }
    }
    assert_eq!(hex(&encrypt_file(PLAINTEXT, 16)), VECTOR);
}

#[test]
fn files_at_offsets_detect_every_kind_of_tampering() {
    let plaintext: Vec<u8> = (0..(3 << 20) + 12_345)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let stream = encrypt(&plaintext, 4096, message_id());
    let header_len = Header::read(&mut stream.as_slice()).unwrap().1.len();
    let sealed = 4096 + 16;
    let frame = |i: usize| header_len + i * sealed;
    let frames = (stream.len() - header_len).div_ceil(sealed);
    let tampered = |bytes: &[u8], what: &str| {
        assert_eq!(
            decrypt_file(bytes, &key()),
            Err(StreamError::Tampered),
            "{what}"
        );
    };
    for at in [
        frame(0) + 3,
        frame(300) - 1,
        frame(700) + 9,
        stream.len() - 1,
    ] {
        let mut flipped = stream.clone();
        flipped[at] ^= 0x01;
        tampered(&flipped, &format!("a bit flipped at {at}"));
    }
    // Truncated at frame boundaries (in the first batch, at a batch boundary, before the
    // last frame), inside a frame, and into the tag of the last frame.
    for cut in [frame(1), frame(256), frame(512), frame(frames - 1)] {
        tampered(&stream[..cut], &format!("cut at {cut}"));
    }
    // A stub shorter than a tag right after a batch boundary, too.
    for cut in [
        frame(3) + 100,
        frame(256) + 5,
        stream.len() - 1,
        frame(frames - 1) + 15,
    ] {
        tampered(&stream[..cut], &format!("cut at {cut}"));
    }
    tampered(&stream[..header_len], "no frame at all");
    // Two frames of different batches swapped; a frame repeated; a frame appended.
    let mut swapped = stream.clone();
    swapped[frame(10)..frame(11)].copy_from_slice(&stream[frame(300)..frame(301)]);
    swapped[frame(300)..frame(301)].copy_from_slice(&stream[frame(10)..frame(11)]);
    tampered(&swapped, "frames swapped");
    let mut repeated = stream[..frame(5)].to_vec();
    repeated.extend_from_slice(&stream[frame(4)..]);
    tampered(&repeated, "a frame repeated");
    let mut longer = stream.clone();
    longer.extend_from_slice(&stream[frame(0)..frame(1)]);
    tampered(&longer, "a frame appended");
    // A header altered where the commitment does not cover it (a wrapped blob): its hash is
    // every frame's AAD.
    let mut header_altered = stream.clone();
    header_altered[header_len - 33] ^= 0x01;
    tampered(&header_altered, "the header altered");
    // A wrong data key fails at the commitment, before any frame.
    let mut other = key();
    other[0] ^= 1;
    assert_eq!(decrypt_file(&stream, &other), Err(StreamError::WrongKey));
}

#[test]
fn a_file_must_be_as_long_as_declared_and_a_decryptor_unread() {
    let dir = tempfile::tempdir().unwrap();
    let input = file_with(&dir, "plain", &[5u8; 1000]);
    let out = File::create(dir.path().join("out")).unwrap();
    for declared in [999, 1001] {
        let wrapped = vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![1],
        }];
        let mut encryptor =
            FileEncryptor::new(&key(), &EncryptionContext::new(), wrapped, 4096).unwrap();
        encryptor.declare_plaintext_len(declared);
        assert_eq!(
            encryptor.encrypt_file(&input, &out, &mut |_| {}),
            Err(StreamError::Read(format!(
                "it is 1000 bytes long, not the {declared} declared"
            )))
        );
    }
    // A decryptor that already handed out plaintext does not start over from a file.
    let stream = encrypt(&[5u8; 10_000], 4096, message_id());
    let mut reader = stream.as_slice();
    let (header, raw) = Header::read(&mut reader).unwrap();
    let mut decryptor = Decryptor::new(reader, &header, &raw, &key()).unwrap();
    decryptor.read_exact(&mut [0u8; 10]).unwrap();
    let sealed = file_with(&dir, "sealed", &stream);
    assert!(matches!(
        decryptor.decrypt_file(&sealed, &out, &mut |_| {}),
        Err(StreamError::Invalid(_))
    ));
}

#[test]
fn an_input_file_that_changes_size_while_it_is_read_fails() {
    // The caller's thread reports progress after each batch it did: the file is changed
    // from there, in the middle of the run.
    let plaintext = vec![9u8; (4 << 20) + 100];
    // The length the file is given: one byte more, or a quarter.
    for (what, new_len) in [("grown", plaintext.len() + 1), ("shrunk", 1 << 20)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain");
        std::fs::write(&path, &plaintext).unwrap();
        let input = File::open(&path).unwrap();
        let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let out = File::create(dir.path().join("out")).unwrap();
        let wrapped = vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![1],
        }];
        let encryptor =
            FileEncryptor::new(&key(), &EncryptionContext::new(), wrapped, 4096).unwrap();
        let mut changed = false;
        let result = encryptor.encrypt_file(&input, &out, &mut |_| {
            if !changed {
                writer.set_len(new_len as u64).unwrap();
                changed = true;
            }
        });
        assert_eq!(
            result,
            Err(StreamError::Read(NOT_ITS_SIZE.into())),
            "{what}"
        );
    }
}

#[test]
fn more_frames_than_a_stream_may_have_are_refused_before_anything_is_read() {
    // Sparse files: 2^32 frames of 16 bytes, one more than the u32 frame count allows (the
    // streaming path refuses them too).
    let dir = tempfile::tempdir().unwrap();
    let plain = File::create(dir.path().join("plain")).unwrap();
    plain.set_len((1 << 32) * 16).unwrap();
    let out = File::create(dir.path().join("out")).unwrap();
    let wrapped = vec![WrappedKey {
        key_arn: ARN.into(),
        blob: vec![1],
    }];
    let encryptor = FileEncryptor::new(&key(), &EncryptionContext::new(), wrapped, 16).unwrap();
    assert_eq!(
        encryptor.encrypt_file(
            &File::open(dir.path().join("plain")).unwrap(),
            &out,
            &mut |_| {}
        ),
        Err(StreamError::Invalid("the stream has too many frames"))
    );
    let stream = encrypt(b"", 16, message_id());
    let sealed_path = dir.path().join("sealed");
    std::fs::write(&sealed_path, &stream).unwrap();
    let sealed = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&sealed_path)
        .unwrap();
    let (header, raw) = Header::read(&mut &sealed).unwrap();
    sealed.set_len(raw.len() as u64 + (1 << 32) * 32).unwrap();
    let decryptor = Decryptor::new(io::empty(), &header, &raw, &key()).unwrap();
    assert_eq!(
        decryptor.decrypt_file(&sealed, &out, &mut |_| {}),
        Err(StreamError::Tampered)
    );
}

#[test]
fn a_file_whose_size_is_not_its_length_is_refused() {
    // /proc's files say 0 bytes whatever they hold.
    let dir = tempfile::tempdir().unwrap();
    let out = File::create(dir.path().join("out")).unwrap();
    let wrapped = vec![WrappedKey {
        key_arn: ARN.into(),
        blob: vec![1],
    }];
    let encryptor = FileEncryptor::new(&key(), &EncryptionContext::new(), wrapped, 4096).unwrap();
    let proc_file = File::open("/proc/self/status").unwrap();
    assert_eq!(proc_file.metadata().unwrap().len(), 0);
    assert_eq!(
        encryptor.encrypt_file(&proc_file, &out, &mut |_| {}),
        Err(StreamError::Read(NOT_ITS_SIZE.into()))
    );
    // A stream that grows while it is decrypted.
    let stream = encrypt(&vec![3u8; 3 << 20], 4096, message_id());
    let sealed_path = dir.path().join("sealed");
    std::fs::write(&sealed_path, &stream).unwrap();
    let sealed = File::open(&sealed_path).unwrap();
    let appender = std::fs::OpenOptions::new()
        .append(true)
        .open(&sealed_path)
        .unwrap();
    let (header, raw) = Header::read(&mut &sealed).unwrap();
    let decryptor = Decryptor::new(io::empty(), &header, &raw, &key()).unwrap();
    let mut grown = false;
    let result = decryptor.decrypt_file(&sealed, &out, &mut |_| {
        if !grown {
            (&appender).write_all(b"more").unwrap();
            grown = true;
        }
    });
    assert_eq!(result, Err(StreamError::Read(NOT_ITS_SIZE.into())));
}

#[test]
fn an_output_file_that_was_longer_ends_where_the_message_does() {
    let dir = tempfile::tempdir().unwrap();
    let plaintext = vec![4u8; 100_000];
    let input = file_with(&dir, "plain", &plaintext);
    let out_path = dir.path().join("out");
    std::fs::write(&out_path, vec![0xee; 1 << 20]).unwrap();
    let out = std::fs::OpenOptions::new()
        .write(true)
        .open(&out_path)
        .unwrap();
    let message = FileEncryptor::with_message_id(
        &key(),
        &EncryptionContext::new(),
        vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![1],
        }],
        4096,
        message_id(),
    )
    .unwrap();
    message.encrypt_file(&input, &out, &mut |_| {}).unwrap();
    let sealed = std::fs::read(&out_path).unwrap();
    assert_eq!(decrypt(&sealed, &key()).unwrap(), plaintext);

    std::fs::write(&out_path, vec![0xee; 1 << 20]).unwrap();
    let sealed_file = file_with(&dir, "sealed", &sealed);
    let (header, raw) = Header::read(&mut &sealed_file).unwrap();
    let decryptor = Decryptor::new(io::empty(), &header, &raw, &key()).unwrap();
    decryptor
        .decrypt_file(&sealed_file, &out, &mut |_| {})
        .unwrap();
    assert!(std::fs::read(&out_path).unwrap() == plaintext);
}

/// SHA-256 of the stream `long_plaintext()` seals to under [`key`] and [`message_id`], frames of
/// 64 KiB: made once by the pure-Rust path (the `aes-gcm` crate), so that a build with the
/// `aws-lc` feature must seal a stream of many frames, batches and worker threads to the same bytes.
const LONG_STREAM_SHA256: &str = "ebad4b909478bb8511a731e9d423e602de3fedec04e557711105ec385fe896e1";

/// 5 MiB and a tail: more batches than are sealed inline, so workers seal most of them.
fn long_plaintext() -> Vec<u8> {
    (0..(5 << 20) + 4_321)
        .map(|i| (i * 13 % 253) as u8)
        .collect()
}

#[test]
fn a_long_stream_is_the_same_bytes_in_every_build_streamed_or_at_offsets() {
    let plaintext = long_plaintext();
    let stream = encrypt(&plaintext, 65_536, message_id());
    assert_eq!(hex(&Sha256::digest(&stream)), LONG_STREAM_SHA256);
    assert_eq!(encrypt_file(&plaintext, 65_536), stream);
    assert_eq!(decrypt(&stream, &key()).unwrap(), plaintext);
    assert_eq!(decrypt_file(&stream, &key()).unwrap(), plaintext);
}

/// Under the `aws-lc` feature: AWS-LC's AES-256-GCM and the `aes-gcm` crate's seal frames to the
/// same bytes and open each other's, and both refuse a tampered frame.
#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_and_aes_gcm_frames_are_the_same_bytes_and_open_each_other() {
    let (k_data, _) = derive(&key(), &message_id());
    let aws_lc = FrameCipher::new(&k_data, b"a header", 4096);
    assert!(matches!(aws_lc.key, FrameKey::AwsLc(_)));
    let aes_gcm = FrameCipher {
        key: FrameKey::RustCrypto(Aes256Gcm::new((&*k_data).into())),
        ..FrameCipher::new(&k_data, b"a header", 4096)
    };
    for len in [0, 1, 15, 16, 4095, 4096, 4097, 3 * 4096 + 100] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
        let mut sealed = Vec::new();
        for cipher in [&aws_lc, &aes_gcm] {
            let mut batch = Batch {
                input: Zeroizing::new(plaintext.clone()),
                first_index: 7,
                ends_stream: true,
                ..Batch::default()
            };
            cipher.run(Direction::Seal, &mut batch).unwrap();
            sealed.push(batch.output.to_vec());
        }
        assert_eq!(sealed[0], sealed[1], "{len} bytes");
        // What AWS-LC sealed opens with `aes-gcm`, and the reverse.
        for (sealed, opener) in [(&sealed[0], &aes_gcm), (&sealed[1], &aws_lc)] {
            let mut batch = Batch {
                input: Zeroizing::new(sealed.clone()),
                first_index: 7,
                ends_stream: true,
                ..Batch::default()
            };
            opener.run(Direction::Open, &mut batch).unwrap();
            assert_eq!(batch.output.as_slice(), plaintext.as_slice(), "{len} bytes");
            // Another index, another last flag or a flipped bit: refused by both.
            for (first_index, ends_stream, flip) in
                [(8, true, false), (7, false, false), (7, true, true)]
            {
                let mut input = sealed.clone();
                if flip {
                    input[len / 2] ^= 0x01;
                }
                let mut batch = Batch {
                    input: Zeroizing::new(input),
                    first_index,
                    ends_stream,
                    ..Batch::default()
                };
                assert_eq!(
                    opener.run(Direction::Open, &mut batch),
                    Err(StreamError::Tampered),
                    "{len} bytes"
                );
            }
        }
    }
}
