//! Stage 4, deliver — the tools one chat turn offers: every plugin's
//! [`crate::Plugin::tools`], asked afresh each turn (a plugin's list may
//! change while natter runs, as an MCP server's does), names checked and made
//! unique, each with the permission settings give it in this channel.

use std::collections::HashSet;

use tracing::warn;

use super::exchange::Exchange;
use crate::backend::estimate_tokens;
use crate::plugin::Registered;
use crate::tool::{Effect, Permission, ToolDefinition, ToolSpec, is_valid_tool_name};

/// One tool on offer: which plugin runs it, and under what rules.
pub(crate) struct Offered<'a> {
    pub(crate) plugin: &'a Registered,
    pub(crate) spec: ToolSpec,
}

impl Offered<'_> {
    pub(crate) fn name(&self) -> &str {
        self.spec.name()
    }

    pub(crate) fn effect(&self) -> Effect {
        self.spec.effect
    }

    pub(crate) fn permission(&self) -> Permission {
        self.spec.permission
    }
}

/// The tools of one turn.
pub(crate) struct Toolbox<'a> {
    tools: Vec<Offered<'a>>,
}

impl<'a> Toolbox<'a> {
    /// What `exchange`'s turn may use: nothing when tools are off, or when
    /// the model answering it takes none.
    pub(crate) fn for_turn(exchange: &'a Exchange<'a>) -> Self {
        let engine = exchange.engine;
        let mut tools = Vec::new();
        if !engine.tools.enabled || !exchange.model.capabilities.tools {
            return Self { tools };
        }
        let mut names = HashSet::new();
        for registered in &engine.plugins {
            for mut spec in registered.plugin.tools() {
                let name = spec.name().to_owned();
                if !is_valid_tool_name(&name) {
                    warn!(plugin = %registered.name, tool = %name, "tool name is not valid for every model (use 1-64 of a-z, A-Z, 0-9, _ and -); not offered");
                    continue;
                }
                if !names.insert(name.clone()) {
                    warn!(plugin = %registered.name, tool = %name, "another plugin offers a tool of this name; not offered twice");
                    continue;
                }
                spec.permission =
                    engine
                        .tools
                        .permission_for(&name, spec.permission, &exchange.message.channel);
                tools.push(Offered {
                    plugin: registered,
                    spec,
                });
            }
        }
        Self { tools }
    }

    /// True when nothing is on offer.
    pub(crate) fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The definitions the model is told about.
    pub(crate) fn definitions(&self) -> Vec<ToolDefinition> {
        self.tools
            .iter()
            .map(|tool| tool.spec.definition.clone())
            .collect()
    }

    /// Tokens the definitions take in a prompt, estimated from their JSON.
    pub(crate) fn definition_tokens(&self) -> usize {
        self.tools
            .iter()
            .map(|tool| {
                let definition = &tool.spec.definition;
                estimate_tokens(&definition.name)
                    + estimate_tokens(&definition.description)
                    + estimate_tokens(&definition.parameters.to_string())
            })
            .sum()
    }

    /// The tool called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Offered<'a>> {
        self.tools.iter().find(|tool| tool.name() == name)
    }
}
