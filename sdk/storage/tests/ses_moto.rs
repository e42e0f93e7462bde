//! The SES mailer against moto's server with the real AWS SDK client: a message from a
//! verified identity is sent as SES v2 `SendEmail` and read back from moto's model data
//! (recipient, subject, text); an unverified sender is refused with SES's error code and
//! nothing is sent.

use std::io::{Read, Write};

use medimint_storage::{SesError, SesMailer};
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

/// `GET /moto-api/data.json`: every model moto holds, as JSON.
fn moto_data(moto: &MotoServer) -> serde_json::Value {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", moto.port())).unwrap();
    write!(
        stream,
        "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

/// The messages moto's SES holds (the `ses` service's `Message` models).
fn sent(moto: &MotoServer) -> Vec<serde_json::Value> {
    moto_data(moto)["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn sdk_client(moto: &MotoServer) -> aws_sdk_sesv2::Client {
    let creds = aws_sdk_sesv2::config::Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        None,
        None,
        "test",
    );
    aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::new()
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new(REGION))
            .credentials_provider(creds)
            .endpoint_url(moto.endpoint())
            .build(),
    )
}

#[tokio::test]
async fn a_verified_sender_sends_through_ses_and_an_unverified_one_is_refused() {
    let moto = MotoServer::start().expect("moto server");
    let from = "no-reply@medimint.example";
    let mailer = SesMailer::for_endpoint(
        &moto.endpoint(),
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        from,
    );

    // Not verified yet: SES refuses, naming its code and the sender, not the recipient.
    let err = mailer
        .send_text(
            "jane@example.org",
            "Your MediMint code",
            "Your code is 123456.",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SesError::Send { code, .. } if code == "MessageRejected"),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains(from) && !text.contains("jane@"), "{text}");
    assert!(sent(&moto).is_empty());

    sdk_client(&moto)
        .create_email_identity()
        .email_identity(from)
        .send()
        .await
        .unwrap();
    let id = mailer
        .send_text(
            "jane@example.org",
            "Your MediMint code",
            "Your code is 123456. It expires in 10 minutes.",
        )
        .await
        .unwrap();
    assert!(!id.is_empty());
    let messages = sent(&moto);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m["source"], from);
    assert_eq!(m["subject"], "Your MediMint code");
    assert_eq!(m["body"], "Your code is 123456. It expires in 10 minutes.");
    assert!(m.to_string().contains("jane@example.org"), "{m}");

    // Bad input is refused before SES is called.
    for (to, subject) in [("", "s"), ("jane", "s"), ("jane@example.org", "two\nlines")] {
        let err = mailer.send_text(to, subject, "x").await.unwrap_err();
        assert!(
            matches!(err, SesError::Invalid(_)),
            "{to:?} {subject:?}: {err}"
        );
    }
    assert_eq!(sent(&moto).len(), 1);
}
