//! Study keys sealed to Stellar addresses with HPKE: open, wrong recipient, damage, re-wrap.

use medimint_sdk::crypto::seal::SEALED_LEN;
use medimint_sdk::crypto::{decrypt, encrypt, open_key, rewrap_key, seal_key, Error, StudyKey};
use medimint_sdk::keys::Keypair;

#[test]
fn sealed_key_opens_with_the_recipients_secret() {
    let patient = Keypair::generate();
    let key = StudyKey::generate();
    let sealed = seal_key(&key, &patient.address()).unwrap();
    assert_eq!(sealed.len(), SEALED_LEN);
    assert_eq!(&sealed[..5], b"MMSK\x01");
    assert_eq!(open_key(&sealed, &patient).unwrap(), key);
    // Sealing is randomized: two seals of one key differ.
    assert_ne!(seal_key(&key, &patient.address()).unwrap(), sealed);
}

#[test]
fn the_wrong_recipient_cannot_open() {
    let patient = Keypair::generate();
    let stranger = Keypair::generate();
    let sealed = seal_key(&StudyKey::generate(), &patient.address()).unwrap();
    assert!(matches!(
        open_key(&sealed, &stranger),
        Err(Error::WrongRecipient)
    ));
}

#[test]
fn damaged_sealed_keys_fail_with_a_reason() {
    let patient = Keypair::generate();
    let sealed = seal_key(&StudyKey::generate(), &patient.address()).unwrap();
    for at in [10, 50, 80] {
        let mut bad = sealed.clone();
        bad[at] ^= 1;
        assert!(
            matches!(open_key(&bad, &patient), Err(Error::WrongRecipient)),
            "byte {at}"
        );
    }
    assert!(matches!(
        open_key(&sealed[..40], &patient),
        Err(Error::SealedKeyMalformed(_))
    ));
    assert!(matches!(
        open_key(b"nope", &patient),
        Err(Error::SealedKeyMalformed(_))
    ));
    let mut v9 = sealed.clone();
    v9[4] = 9;
    assert!(matches!(
        open_key(&v9, &patient),
        Err(Error::UnsupportedVersion { found: 9, .. })
    ));
}

#[test]
fn sealing_to_a_non_address_is_refused() {
    let key = StudyKey::generate();
    let secret = Keypair::generate().secret();
    let err = seal_key(&key, &secret).unwrap_err();
    assert!(matches!(err, Error::InvalidRecipient(_)));
    assert!(!err.to_string().contains(secret.as_str()));
    assert!(matches!(
        seal_key(&key, "not an address"),
        Err(Error::InvalidRecipient(_))
    ));
}

#[test]
fn share_rewraps_without_touching_the_data() {
    let patient = Keypair::generate();
    let doctor = Keypair::generate();
    let key = StudyKey::generate();
    let mut data = Vec::new();
    encrypt(&key, &b"CT slice"[..], &mut data).unwrap();
    let for_patient = seal_key(&key, &patient.address()).unwrap();
    let for_doctor = rewrap_key(&for_patient, &patient, &doctor.address()).unwrap();
    let doctors_key = open_key(&for_doctor, &doctor).unwrap();
    let mut out = Vec::new();
    decrypt(&doctors_key, data.as_slice(), &mut out).unwrap();
    assert_eq!(out, b"CT slice");
    // Only the holder can re-wrap.
    assert!(matches!(
        rewrap_key(&for_patient, &doctor, &doctor.address()),
        Err(Error::WrongRecipient)
    ));
}

#[test]
fn envelope_opens_for_every_recipient_and_no_one_else() {
    use medimint_sdk::crypto::{open_envelope, seal_envelope};
    let a = Keypair::generate();
    let b = Keypair::generate();
    let plain = vec![9u8; 70_000];
    let mut env = Vec::new();
    seal_envelope(&[a.address(), b.address()], plain.as_slice(), &mut env).unwrap();
    assert_eq!(&env[..8], b"MMENV\x01\x00\x02");
    for who in [&a, &b] {
        let mut out = Vec::new();
        assert_eq!(
            open_envelope(who, env.as_slice(), &mut out).unwrap(),
            70_000
        );
        assert_eq!(out, plain);
    }
    let mut out = Vec::new();
    assert!(matches!(
        open_envelope(&Keypair::generate(), env.as_slice(), &mut out),
        Err(Error::WrongRecipient)
    ));
    assert!(out.is_empty());
    assert!(matches!(
        seal_envelope(&[], &b""[..], Vec::new()),
        Err(Error::InvalidRecipient(_))
    ));
}
