//! The embedded local stack: what only a machine running the whole system needs — the
//! end-to-end demo ([`demo::run_demo`]) over an in-process devnet and synthetic DICOM
//! ([`dicom_gen`]). The service layer it drives is `medimint-platform`, re-exported here as
//! [`platform`] for the CLI.

pub mod demo;
pub mod dicom_gen;

pub use demo::{run_demo, DemoError, DemoOptions, DemoReport, StepTiming, TrailEntry};
pub use medimint_ingest::{RelayerChain, SdkSealer};
pub use medimint_platform as platform;
pub use medimint_platform::deploy::{
    deploy_suite, suite_policy, ContractRef, DeployError, Deployment, SuitePlan,
};
pub use medimint_platform::{Config, Platform, PlatformError};
