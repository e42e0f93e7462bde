//! The demo flow end to end on an in-process devnet, asserting the report.

use std::sync::{Arc, Mutex};

use medimint_stack::{run_demo, DemoOptions, DemoReport};

fn run(opts: DemoOptions) -> DemoReport {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(run_demo(opts));
    drop(rt);
    report.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn demo_runs_end_to_end_and_reports_what_the_chain_says() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let report = run(DemoOptions {
        data_dir: Some(dir.path().to_path_buf()),
        progress: Some(Arc::new(move |s| {
            seen2.lock().unwrap().push(s.name.clone())
        })),
        ..DemoOptions::default()
    });
    // Shown with `-- --nocapture`.
    println!("{report}");
    assert_eq!(report.status_after_release, "pending");
    assert_eq!(report.token_status, "active");
    assert_eq!(report.doctor_role, "Viewer");
    assert_eq!(report.file_count, 4);
    assert_eq!(report.series_count, 2);
    assert_eq!(report.files_verified, 4);
    assert!(report.bytes_verified > 4 * 256);
    assert!(report.refused_after_revoke);
    assert!(report.refusal.contains("NoAccess"), "{}", report.refusal);
    assert!(report.doctor_expires_at > 1_700_000_000);
    assert_eq!(
        report.token_event_kinds(),
        [
            "release_proposed",
            "release_approved",
            "role_granted",
            "access_recorded",
            "role_revoked",
        ]
    );
    // The suite's constructors announce their configuration first; then the issuer.
    assert_eq!(
        report.trail.first().map(|e| e.kind.as_str()),
        Some("configured")
    );
    assert!(report.trail.iter().any(|e| e.kind == "issuer_added"));
    let names: Vec<String> = report.steps.iter().map(|s| s.name.clone()).collect();
    assert_eq!(*seen.lock().unwrap(), names);
    assert_eq!(names.len(), 12);
    // The deployment file was written and reads back as reported.
    let d = medimint_stack::Deployment::read(&dir.path().join("deployment.json")).unwrap();
    assert_eq!(d, report.deployment);
    // The report prints and serializes without PHI.
    let text = report.to_string();
    assert!(text.contains("role_revoked") && text.contains(&report.patient));
    let json = serde_json::to_string(&report).unwrap();
    for phi in ["DEMO^PATIENT", "example.org", "19700101"] {
        assert!(!text.contains(phi) && !json.contains(phi), "{phi} leaked");
    }
    assert!(report.total_millis > 0);
}

#[test]
fn bad_options_are_refused_before_anything_starts() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(run_demo(DemoOptions {
            series: 0,
            ..DemoOptions::default()
        }))
        .unwrap_err();
    assert_eq!(err.step, "options");
}
