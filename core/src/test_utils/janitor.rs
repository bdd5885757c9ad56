//! [`Janitor`]: a plugin with one tool, `wipe`, that must be confirmed
//! before it runs — for testing confirmations on every platform.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::plugin::{Plugin, PluginContext, PluginError};
use crate::tool::{Permission, ToolInvocation, ToolSpec};

/// Arguments of `wipe`.
#[derive(Deserialize, JsonSchema)]
struct Wipe {
    /// What to wipe.
    #[allow(dead_code)]
    what: String,
}

/// A plugin whose one tool, `wipe {"what": …}`, has a side effect and must
/// be confirmed; it answers "wiped" and counts its runs.
#[derive(Debug, Default)]
pub struct Janitor {
    wiped: AtomicUsize,
}

impl Janitor {
    /// How many times `wipe` ran.
    pub fn wiped(&self) -> usize {
        self.wiped.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Plugin for Janitor {
    fn name(&self) -> &str {
        "janitor"
    }

    fn tools(&self) -> Vec<ToolSpec> {
        vec![
            ToolSpec::new::<Wipe>("wipe", "Wipe something for good")
                .side_effect()
                .permission(Permission::Confirm),
        ]
    }

    async fn call_tool(
        &self,
        _cx: &mut PluginContext<'_>,
        call: ToolInvocation,
    ) -> Result<String, PluginError> {
        let _: Wipe = call.args()?;
        self.wiped.fetch_add(1, Ordering::SeqCst);
        Ok("wiped".into())
    }
}
