//! The production sealer: a round trip through it decrypts with the recipient's keypair;
//! another keypair cannot unwrap; a failing input is an error, not a short ciphertext.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use medimint_ingest::SdkSealer;
use medimint_ingest::Sealer;
use medimint_sdk::crypto::{decrypt, open_key};
use medimint_sdk::keys::Keypair;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn encrypt_round_trips_for_the_recipient_only() {
    let seal = SdkSealer.new_study().unwrap();
    // Several stream chunks and a partial last one.
    let plain = plaintext(300_000);
    let mut reader = seal.encrypt(Box::new(io::Cursor::new(plain.clone())));
    let mut ct = Vec::new();
    reader.read_to_end(&mut ct).await.unwrap();
    assert!(ct.len() > plain.len());
    assert_ne!(&ct[ct.len() - 1000..], &plain[plain.len() - 1000..]);

    let patient = Keypair::generate();
    let wrapped = seal.wrap_key(&patient.address()).unwrap();
    let key = open_key(&wrapped, &patient).unwrap();
    let mut back = Vec::new();
    let n = decrypt(&key, &ct[..], &mut back).unwrap();
    assert_eq!(n, plain.len() as u64);
    assert_eq!(back, plain);

    let stranger = Keypair::generate();
    assert!(open_key(&wrapped, &stranger).is_err());
}

#[tokio::test]
async fn metadata_is_sealed_and_addressed_by_its_ciphertext() {
    let seal = SdkSealer.new_study().unwrap();
    let (cid, sealed) = seal.seal_metadata(b"{\"version\":1}").unwrap();
    assert!(cid.starts_with('b'), "{cid}");
    assert!(medimint_sdk::cid::verify(&cid, &sealed).unwrap());
    let viewer = Keypair::generate();
    let key = open_key(&seal.wrap_key(&viewer.address()).unwrap(), &viewer).unwrap();
    let mut back = Vec::new();
    decrypt(&key, &sealed[..], &mut back).unwrap();
    assert_eq!(back, b"{\"version\":1}");
}

#[tokio::test]
async fn each_study_has_its_own_key_and_bad_addresses_are_errors() {
    let (a, b) = (
        SdkSealer.new_study().unwrap(),
        SdkSealer.new_study().unwrap(),
    );
    let who = Keypair::generate();
    let ka = open_key(&a.wrap_key(&who.address()).unwrap(), &who).unwrap();
    let kb = open_key(&b.wrap_key(&who.address()).unwrap(), &who).unwrap();
    assert_ne!(ka.as_bytes(), kb.as_bytes());
    let err = a.wrap_key("not-an-address").unwrap_err().to_string();
    assert!(err.contains("wrapping the study key"), "{err}");
}

/// Yields some bytes, then fails.
struct Failing(usize);

impl AsyncRead for Failing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.0 == 0 {
            return Poll::Ready(Err(io::Error::other("disk gone")));
        }
        let n = self.0.min(buf.remaining()).min(10_000);
        buf.put_slice(&vec![1u8; n]);
        self.0 -= n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failing_input_fails_the_ciphertext_stream() {
    let seal = SdkSealer.new_study().unwrap();
    let mut reader = seal.encrypt(Box::new(Failing(100_000)));
    let mut ct = Vec::new();
    let err = reader.read_to_end(&mut ct).await.unwrap_err();
    assert!(err.to_string().contains("encryption failed"), "{err}");
}

#[test]
fn without_a_runtime_encrypt_returns_a_failing_reader() {
    let seal = SdkSealer.new_study().unwrap();
    let mut reader = seal.encrypt(Box::new(io::Cursor::new(vec![1u8; 10])));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut ct = Vec::new();
    let err = rt.block_on(reader.read_to_end(&mut ct)).unwrap_err();
    assert!(err.to_string().contains("runtime"), "{err}");
    assert!(ct.is_empty());
}
