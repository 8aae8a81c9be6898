//! `unpause`.

use anyhow::Result;

use super::pause::set_paused;
use super::{Ctx, NamesArgs};

/// `unpause`.
pub async fn unpause(ctx: &Ctx, args: NamesArgs) -> Result<()> {
    set_paused(ctx, args, false).await
}
