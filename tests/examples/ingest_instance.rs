//! One ingest Lambda instance as a process, for the concurrency test
//! (`tests/ingest_instances.rs`): configured from the environment exactly as the function
//! (`ProductionConfig::from_env`), it handles each SQS batch given as a JSON file argument in
//! turn, as one warm instance handles invocations one after another, and prints one line of
//! JSON per batch: the SQS batch response (`batchItemFailures`).

use medimint_ingest_lambda::{handle_notification, ProductionConfig};

fn main() {
    let batches: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let ingest = match ProductionConfig::from_env() {
            Ok(c) => c.open().await,
            Err(e) => {
                eprintln!("ingest_instance: {e}");
                std::process::exit(2);
            }
        };
        let ingest = ingest.unwrap_or_else(|e| {
            eprintln!("ingest_instance: {e}");
            std::process::exit(2);
        });
        for path in batches {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading the batch {path}: {e}"));
            let batch: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("batch {path}: {e}"));
            match handle_notification(&ingest, batch).await {
                Ok(response) => println!("{response}"),
                Err(e) => {
                    eprintln!("ingest_instance: {e}");
                    std::process::exit(1);
                }
            }
        }
    });
}
