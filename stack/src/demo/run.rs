//! Running steps: timing, the progress callback, and errors that name the step.

use std::future::Future;
use std::time::Instant;

use super::{DemoError, Progress, StepTiming};

/// The steps done so far.
pub(super) struct Run {
    progress: Option<Progress>,
    pub(super) steps: Vec<StepTiming>,
}

impl Run {
    pub(super) fn new(progress: Option<Progress>) -> Self {
        Self {
            progress,
            steps: Vec::new(),
        }
    }

    /// Runs one step: `work` yields its value and a one-line detail, or why it failed.
    pub(super) async fn step<T>(
        &mut self,
        name: &str,
        work: impl Future<Output = Result<(T, String), String>>,
    ) -> Result<T, DemoError> {
        let started = Instant::now();
        let (value, detail) = work.await.map_err(|message| DemoError {
            step: name.to_owned(),
            message,
        })?;
        let timing = StepTiming {
            name: name.to_owned(),
            detail,
            millis: started.elapsed().as_millis() as u64,
        };
        if let Some(p) = &self.progress {
            p(&timing);
        }
        self.steps.push(timing);
        Ok(value)
    }
}

/// Maps an error to a [`DemoError`] of `step`.
pub(super) fn at<E: std::fmt::Display>(step: &'static str) -> impl Fn(E) -> DemoError {
    move |e| DemoError {
        step: step.to_owned(),
        message: e.to_string(),
    }
}
