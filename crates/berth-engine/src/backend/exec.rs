//! `/containers/{id}/exec` and `/exec/*` (moby's exec backend).

use async_trait::async_trait;
use bollard_stubs::models::ExecInspectResponse;

use super::Area;
use crate::container::{ExecSession, ExecSpec};
use crate::error::Result;

#[async_trait]
pub trait ExecBackend: Send + Sync {
    /// The new exec's id.
    fn create_exec(&self, container: &str, spec: ExecSpec) -> Result<String>;
    fn inspect_exec(&self, id: &str) -> Result<ExecInspectResponse>;
    fn resize_exec(&self, id: &str, height: i64, width: i64) -> Result<()>;
    /// What the exec was created with, or not found.
    fn exec_spec(&self, id: &str) -> Result<ExecSpec>;
    /// Returns once the process has started; dropping the session detaches.
    async fn start_exec(&self, id: &str, console_size: Option<(u16, u16)>) -> Result<ExecSession>;
}

#[async_trait]
impl ExecBackend for Area {
    fn create_exec(&self, container: &str, spec: ExecSpec) -> Result<String> {
        self.0.containers.create_exec(container, spec)
    }

    fn inspect_exec(&self, id: &str) -> Result<ExecInspectResponse> {
        self.0.containers.inspect_exec(id)
    }

    fn resize_exec(&self, id: &str, height: i64, width: i64) -> Result<()> {
        self.0.containers.resize_exec(id, height, width)
    }

    fn exec_spec(&self, id: &str) -> Result<ExecSpec> {
        Ok(self.0.containers.get_exec(id)?.spec.clone())
    }

    async fn start_exec(&self, id: &str, console_size: Option<(u16, u16)>) -> Result<ExecSession> {
        self.0.containers.start_exec(id, console_size).await
    }
}
