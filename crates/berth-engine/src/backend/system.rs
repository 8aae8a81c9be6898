//! `/version`, `/info`, `/system/df` (moby's system router backend).

use async_trait::async_trait;
use bollard_stubs::models::SystemInfo;
use serde_json::Value;

use super::Area;
use crate::disk_usage::DfSections;
use crate::error::Result;

#[async_trait]
pub trait SystemBackend: Send + Sync {
    /// The API versions are the wire's, so the caller passes them in.
    fn version(&self, api_version: &str, min_api_version: &str) -> Value;
    async fn info(&self) -> Result<SystemInfo>;
    async fn df(&self, want: DfSections) -> Result<Value>;
}

#[async_trait]
impl SystemBackend for Area {
    fn version(&self, api_version: &str, min_api_version: &str) -> Value {
        crate::system::version(&self.0, api_version, min_api_version)
    }

    async fn info(&self) -> Result<SystemInfo> {
        let engine = self.0.clone();
        // It reads /proc and the image store: blocking work.
        Ok(tokio::task::spawn_blocking(move || crate::system::info(&engine)).await?)
    }

    async fn df(&self, want: DfSections) -> Result<Value> {
        self.0.system_df(want).await
    }
}
