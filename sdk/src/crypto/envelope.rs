//! A self-contained encrypted file: the study key sealed to each recipient, then the stream.
//! This is what `medimint crypt seal` writes; services that keep wrapped keys apart from the
//! data (under `keys/<study>/<address>`) use [`super::seal_key`] and [`super::stream`] directly.
//!
//! Layout, version 1 (see `docs/formats.md`): `"MMENV"` · version `0x01` · recipient count
//! (u16 big-endian, 1..=1024) · that many 85-byte sealed keys · a stream.

use std::io::{Read, Write};

use super::seal::SEALED_LEN;
use super::stream::read_full;
use super::{decrypt, encrypt, open_key, seal_key, Error, StudyKey};
use crate::keys::Keypair;

/// Magic bytes of an envelope.
pub const ENVELOPE_MAGIC: [u8; 5] = *b"MMENV";
/// Envelope format version.
pub const ENVELOPE_VERSION: u8 = 1;
/// Most recipients one envelope may name.
pub const MAX_RECIPIENTS: usize = 1024;

/// Encrypts `input` under a fresh study key sealed to every address in `recipients`; returns
/// the plaintext length.
pub fn seal_envelope<R: Read, W: Write>(
    recipients: &[String],
    input: R,
    mut output: W,
) -> Result<u64, Error> {
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        return Err(Error::InvalidRecipient(format!(
            "an envelope needs 1 to {MAX_RECIPIENTS} recipients, got {}",
            recipients.len()
        )));
    }
    let key = StudyKey::generate();
    // Seal to everyone first so that a bad address fails before any output.
    let sealed = recipients
        .iter()
        .map(|r| seal_key(&key, r))
        .collect::<Result<Vec<_>, _>>()?;
    output.write_all(&ENVELOPE_MAGIC)?;
    output.write_all(&[ENVELOPE_VERSION])?;
    output.write_all(&(sealed.len() as u16).to_be_bytes())?;
    for s in &sealed {
        output.write_all(s)?;
    }
    encrypt(&key, input, output)
}

/// Opens an envelope with `recipient`'s key and decrypts its stream into `output`; returns the
/// plaintext length.
pub fn open_envelope<R: Read, W: Write>(
    recipient: &Keypair,
    mut input: R,
    output: W,
) -> Result<u64, Error> {
    let mut head = [0u8; 8];
    let n = read_full(&mut input, &mut head)?;
    if n < 5 || head[..5] != ENVELOPE_MAGIC {
        return Err(Error::BadMagic);
    }
    if n < 6 || head[5] != ENVELOPE_VERSION {
        return Err(Error::UnsupportedVersion {
            found: if n < 6 { 0 } else { head[5] },
            supported: ENVELOPE_VERSION,
        });
    }
    if n < 8 {
        return Err(Error::HeaderTruncated {
            found: n,
            expected: 8,
        });
    }
    let count = u16::from_be_bytes([head[6], head[7]]) as usize;
    if count == 0 || count > MAX_RECIPIENTS {
        return Err(Error::HeaderCorrupt("recipient count out of range"));
    }
    let mut key = None;
    let mut slot = [0u8; SEALED_LEN];
    for _ in 0..count {
        let got = read_full(&mut input, &mut slot)?;
        if got < SEALED_LEN {
            return Err(Error::HeaderTruncated {
                found: 8 + got,
                expected: 8 + count * SEALED_LEN,
            });
        }
        if key.is_none() {
            match open_key(&slot, recipient) {
                Ok(k) => key = Some(k),
                Err(Error::WrongRecipient) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let key = key.ok_or(Error::WrongRecipient)?;
    decrypt(&key, input, output)
}
