//! The embedded local stack: the production adapters of the release pipeline
//! ([`sealer::SdkSealer`], [`chain::StackChain`]), the suite's deployment
//! ([`deploy::deploy_suite`], [`deploy::Deployment`]) and the end-to-end demo
//! ([`demo::run_demo`]) that the `medimint demo` command runs.

pub mod chain;
pub mod demo;
pub mod deploy;
pub mod dicom_gen;
pub mod platform;
pub mod sealer;
mod study;
mod trail;

pub use chain::StackChain;
pub use demo::{run_demo, DemoError, DemoOptions, DemoReport, StepTiming, TrailEntry};
pub use deploy::{deploy_suite, suite_policy, ContractRef, DeployError, Deployment, SuitePlan};
pub use platform::{Config, Platform, PlatformError};
pub use sealer::SdkSealer;
