//! Stage 2, screen: every plugin's input filter sees the message, commands
//! included, before anything else does; each may rewrite its text (what the
//! later stages and history see) or refuse it.

use tracing::debug;

use super::exchange::Exchange;
use crate::plugin::{Flow, Hook};

/// What the input filters made of a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Screened {
    /// Go on (with the text as the filters left it).
    Pass,
    /// A filter refused it (and told the user), or failed; stop here.
    Refused,
}

/// Runs every plugin's [`crate::Plugin::filter_input`] in order on
/// `exchange`'s message, leaving the rewritten text in it.
pub(crate) async fn filter_input(exchange: &mut Exchange<'_>) -> Screened {
    let mut text = exchange.message.text.clone();
    for registered in &exchange.engine.plugins {
        let mut cx = exchange.plugin(registered);
        let outcome = registered.plugin.filter_input(&mut cx, &mut text).await;
        let told = cx.user_told();
        match outcome {
            Ok(Flow::Continue) => {}
            Ok(Flow::Handled) => {
                debug!(plugin = %registered.name, "input refused by a filter");
                return Screened::Refused;
            }
            Err(error) => {
                exchange
                    .fail(registered, Hook::FilterInput, error, told)
                    .await;
                return Screened::Refused;
            }
        }
    }
    exchange.message.text = text;
    Screened::Pass
}
