//! The embedded local stack: the release pipeline with its production adapters
//! ([`SdkSealer`], [`RelayerChain`], from medimint-ingest), the suite's deployment
//! ([`deploy::deploy_suite`], [`deploy::Deployment`]) and the end-to-end demo
//! ([`demo::run_demo`]) that the `medimint demo` command runs.

pub mod demo;
pub mod deploy;
pub mod dicom_gen;
pub mod platform;
mod study;
mod trail;

pub use demo::{run_demo, DemoError, DemoOptions, DemoReport, StepTiming, TrailEntry};
pub use deploy::{deploy_suite, suite_policy, ContractRef, DeployError, Deployment, SuitePlan};
pub use medimint_ingest::{RelayerChain, SdkSealer};
pub use platform::{Config, Platform, PlatformError};
