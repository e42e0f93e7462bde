//! `medimint keys` and `medimint crypt` run as processes.

use std::path::Path;
use std::process::{Command, Output};

const PHRASE: &str = "illness spike retreat truth genius clock brain pass fit cave bargain toe";

fn medimint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medimint"))
        .args(args)
        .env_remove("MEDIMINT_PASSPHRASE")
        .output()
        .expect("run medimint")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn keys_derive_prints_the_sep0005_account() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.txt");
    std::fs::write(&file, PHRASE).unwrap();
    let out = medimint(&[
        "keys",
        "derive",
        "--mnemonic-file",
        p(&file),
        "--index",
        "4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "GBCUXLFLSL2JE3NWLHAWXQZN6SQC6577YMAU3M3BEMWKYPFWXBSRCWV4 SCPCY3CEHMOP2TADSV2ERNNZBNHBGP4V32VGOORIEV6QJLXD5NMCJUXI\n"
    );
}

#[test]
fn keys_derive_with_passphrase_matches_sep0005_test_4() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.txt");
    std::fs::write(
        &file,
        "cable spray genius state float twenty onion head street palace net private method loan turn phrase state blanket interest dry amazing dress blast tube",
    )
    .unwrap();
    let out = medimint(&[
        "keys",
        "derive",
        "--mnemonic-file",
        p(&file),
        "--passphrase",
        "p4ssphr4se",
        "--index",
        "0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "GDAHPZ2NSYIIHZXM56Y36SBVTV5QKFIZGYMMBHOU53ETUSWTP62B63EQ SAFWTGXVS7ELMNCXELFWCFZOPMHUZ5LXNBGUVRCY3FHLFPXK4QPXYP2X\n"
    );
}

#[test]
fn keys_derive_explains_a_bad_mnemonic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.txt");
    std::fs::write(&file, PHRASE.replace("toe", "bargain")).unwrap();
    let out = medimint(&[
        "keys",
        "derive",
        "--mnemonic-file",
        p(&file),
        "--index",
        "0",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("does not hold a valid mnemonic"), "{err}");
    assert!(err.contains("checksum"), "{err}");
    assert!(!err.contains("illness"), "{err}");
}

#[test]
fn keys_new_writes_an_owner_only_mnemonic_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("new.txt");
    let out = medimint(&["keys", "new", "--out", p(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.split_whitespace().count(), 24);
    assert!(out.stdout.is_empty(), "the mnemonic is not printed");
    // It derives.
    let derived = medimint(&[
        "keys",
        "derive",
        "--mnemonic-file",
        p(&file),
        "--index",
        "0",
    ]);
    assert!(derived.status.success());
    // A second run refuses and leaves the file alone.
    let again = medimint(&["keys", "new", "--out", p(&file)]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

struct Party {
    address: String,
    secret_file: std::path::PathBuf,
}

fn party(dir: &Path, name: &str, index: &str) -> Party {
    let m = dir.join("m.txt");
    if !m.exists() {
        std::fs::write(&m, PHRASE).unwrap();
    }
    let out = medimint(&["keys", "derive", "--mnemonic-file", p(&m), "--index", index]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    let mut parts = line.split_whitespace();
    let address = parts.next().unwrap().to_string();
    let secret_file = dir.join(format!("{name}.secret"));
    std::fs::write(&secret_file, parts.next().unwrap()).unwrap();
    Party {
        address,
        secret_file,
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn crypt_seal_and_open_for_two_recipients() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let alice = party(d, "alice", "0");
    let bob = party(d, "bob", "1");
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(d.join("study.dcm"), &plain).unwrap();
    let out = medimint(&[
        "crypt",
        "seal",
        "--to",
        &alice.address,
        "--to",
        &bob.address,
        p(&d.join("study.dcm")),
        p(&d.join("study.enc")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(std::fs::read(d.join("study.enc")).unwrap()[..], plain[..]);
    for who in [&alice, &bob] {
        let target = d.join("opened.dcm");
        let out = medimint(&[
            "crypt",
            "open",
            "--secret-file",
            p(&who.secret_file),
            p(&d.join("study.enc")),
            p(&target),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(std::fs::read(&target).unwrap(), plain);
        std::fs::remove_file(&target).unwrap();
    }
}

#[test]
fn crypt_open_fails_cleanly_on_the_wrong_key_and_on_damage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let alice = party(d, "alice", "0");
    let mallory = party(d, "mallory", "7");
    let plain = vec![1u8; 300_000];
    std::fs::write(d.join("in"), &plain).unwrap();
    let out = medimint(&[
        "crypt",
        "seal",
        "--to",
        &alice.address,
        p(&d.join("in")),
        p(&d.join("enc")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = files_in(d);

    let wrong = medimint(&[
        "crypt",
        "open",
        "--secret-file",
        p(&mallory.secret_file),
        p(&d.join("enc")),
        p(&d.join("out")),
    ]);
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("wrong recipient"),
        "{}",
        stderr(&wrong)
    );
    assert_eq!(files_in(d), before, "nothing left behind");

    // Damage the third chunk: chunks 0 and 1 authenticate, yet no plaintext may appear.
    let mut enc = std::fs::read(d.join("enc")).unwrap();
    let third_chunk = 8 + 85 + 86 + 2 * (4 + 65536 + 16) + 100;
    enc[third_chunk] ^= 1;
    std::fs::write(d.join("enc"), &enc).unwrap();
    let damaged = medimint(&[
        "crypt",
        "open",
        "--secret-file",
        p(&alice.secret_file),
        p(&d.join("enc")),
        p(&d.join("out")),
    ]);
    assert!(!damaged.status.success());
    assert!(
        stderr(&damaged).contains("chunk 2 is damaged"),
        "{}",
        stderr(&damaged)
    );
    assert_eq!(
        files_in(d),
        before,
        "no partial plaintext at <out> or beside it"
    );

    // Truncated (damage undone first).
    enc[third_chunk] ^= 1;
    std::fs::write(d.join("enc"), &enc[..enc.len() - 70_000]).unwrap();
    let cut = medimint(&[
        "crypt",
        "open",
        "--secret-file",
        p(&alice.secret_file),
        p(&d.join("enc")),
        p(&d.join("out")),
    ]);
    assert!(!cut.status.success());
    assert!(stderr(&cut).contains("truncated"), "{}", stderr(&cut));
    assert!(!d.join("out").exists());
}

#[test]
fn crypt_seal_refuses_a_bad_address() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in"), b"x").unwrap();
    let out = medimint(&[
        "crypt",
        "seal",
        "--to",
        "GABC",
        p(&d.join("in")),
        p(&d.join("enc")),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid recipient address"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("enc").exists());
}
