//! [`ToolPlan`]: what the stages of one request are — the instruction, the
//! forced assistant text, stage one's choice grammar (unless the request
//! names its tool) and each tool's arguments grammar — and how stage
//! outputs read back.

use natter_core::{ChatMessage, Role, ToolChoice, ToolDefinition};

use super::prompt::{self, ANSWER_OPTION, ARGUMENTS_LEAD_IN, Ask, CHOICE_LEAD_IN, REQUEST_LABEL};
use crate::grammar::schema::{SchemaError, values_of};
use crate::grammar::{Expr, Grammar, Primitive};

/// A request's tools cannot be offered to the local model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `tool_choice` names a tool the request does not offer.
    #[error("tool_choice names {0:?}, which is not among the tools offered")]
    UnknownTool(String),
    /// A tool that must be callable has arguments a grammar cannot enforce.
    #[error("the arguments of tool {tool} cannot be enforced on the local model: {source}")]
    Schema {
        /// The tool.
        tool: String,
        /// What in its schema.
        source: SchemaError,
    },
}

/// One tool the model may call, with the grammar of its arguments.
#[derive(Clone, Debug)]
pub struct CallableTool {
    /// How the model was told about it.
    pub definition: ToolDefinition,
    /// GBNF: a space, the arguments as compact JSON, a line break.
    pub arguments_grammar: String,
}

/// How the tool is picked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Stage one: the model picks under this grammar (a space, a tool's
    /// name or, when `may_answer`, [`ANSWER_OPTION`], a line break).
    Model {
        /// GBNF of the choice.
        grammar: String,
        /// Whether answering in words is an option.
        may_answer: bool,
    },
    /// The request names the tool (an index into [`ToolPlan::tools`]).
    Named(usize),
}

/// What stage one decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chosen {
    /// Answer in words.
    Answer,
    /// Call the tool at this index of [`ToolPlan::tools`].
    Tool(usize),
}

/// The tool stages of one request.
#[derive(Clone, Debug)]
pub struct ToolPlan {
    /// The tools the model may call.
    pub tools: Vec<CallableTool>,
    /// How the tool is picked.
    pub choice: Choice,
    /// Appended to the conversation for the stages only.
    pub instruction: String,
    /// Assistant text the stage prompt ends with: the lead-in of the
    /// choice, or for a named tool everything up to its arguments.
    pub lead_in: String,
}

impl ToolPlan {
    /// The plan for `tools` under `choice`; `None` when the model is to
    /// answer in words (no tools, `ToolChoice::None`, or, under `Auto`,
    /// no tool whose arguments a grammar can enforce — those are left out
    /// with a warning).
    pub fn new(tools: &[ToolDefinition], choice: &ToolChoice) -> Result<Option<Self>, PlanError> {
        if tools.is_empty() {
            return Ok(None);
        }
        let (tools, choice, ask) = match choice {
            ToolChoice::None => return Ok(None),
            ToolChoice::Named(name) => {
                let tool = tools
                    .iter()
                    .find(|t| t.name == *name)
                    .ok_or_else(|| PlanError::UnknownTool(name.clone()))?;
                (vec![callable(tool)?], Choice::Named(0), Ask::MustCall)
            }
            ToolChoice::Auto | ToolChoice::Required => {
                let must = *choice == ToolChoice::Required;
                let mut callable_tools = Vec::with_capacity(tools.len());
                let mut first_error = None;
                for tool in tools {
                    match callable(tool) {
                        Ok(tool) => callable_tools.push(tool),
                        Err(error) => {
                            tracing::warn!(%error, "a tool is left out for the local model");
                            first_error.get_or_insert(error);
                        }
                    }
                }
                if callable_tools.is_empty() {
                    return match first_error {
                        Some(error) if must => Err(error),
                        _ => Ok(None),
                    };
                }
                let names: Vec<&str> = callable_tools
                    .iter()
                    .map(|t| t.definition.name.as_str())
                    .collect();
                let choice = Choice::Model {
                    grammar: choice_grammar(&names, !must),
                    may_answer: !must,
                };
                let ask = if must { Ask::MustCall } else { Ask::MayCall };
                (callable_tools, choice, ask)
            }
        };
        let definitions: Vec<&ToolDefinition> = tools.iter().map(|t| &t.definition).collect();
        let instruction = prompt::instruction(&definitions, ask);
        let lead_in = match &choice {
            Choice::Named(i) => format!(
                "{CHOICE_LEAD_IN} {}\n{ARGUMENTS_LEAD_IN}",
                definitions[*i].name
            ),
            Choice::Model { .. } => CHOICE_LEAD_IN.to_owned(),
        };
        Ok(Some(Self {
            tools,
            choice,
            instruction,
            lead_in,
        }))
    }

    /// The definitions of the callable tools, for templates that show them.
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        self.tools.iter().map(|t| t.definition.clone()).collect()
    }

    /// `messages` with the instruction added to the last message: before
    /// the user's request (a tiny model then fills arguments from the words
    /// it read last — measured: it copied the request, where after the
    /// instruction it wrote "," and "morning"), after a tool result, or as
    /// a user message of its own after anything else.
    pub fn stage_messages(&self, messages: &[ChatMessage]) -> Vec<ChatMessage> {
        let mut staged = messages.to_vec();
        match staged.last_mut() {
            Some(last) if last.role == Role::User => {
                // A speaker's name stays with their words.
                let request = match last.name.take() {
                    Some(name) => format!("{name}: {}", last.content),
                    None => std::mem::take(&mut last.content),
                };
                last.content = format!("{}\n\n{REQUEST_LABEL} {request}", self.instruction);
            }
            Some(last) if last.role == Role::Tool => {
                last.content.push_str("\n\n");
                last.content.push_str(&self.instruction);
            }
            _ => staged.push(ChatMessage::user(self.instruction.clone())),
        }
        staged
    }

    /// What stage one's output (as the choice grammar allows it) decided.
    pub fn chosen(&self, output: &str) -> Option<Chosen> {
        let picked = output.trim();
        if matches!(
            self.choice,
            Choice::Model {
                may_answer: true,
                ..
            }
        ) && picked == ANSWER_OPTION
        {
            return Some(Chosen::Answer);
        }
        self.tools
            .iter()
            .position(|t| t.definition.name == picked)
            .map(Chosen::Tool)
    }
}

fn callable(tool: &ToolDefinition) -> Result<CallableTool, PlanError> {
    let values = values_of(&tool.parameters).map_err(|source| PlanError::Schema {
        tool: tool.name.clone(),
        source,
    })?;
    Ok(CallableTool {
        definition: tool.clone(),
        arguments_grammar: framed(values.expr, values.primitives),
    })
}

/// GBNF of stage one: a space, one of the names, a line break.
fn choice_grammar(names: &[&str], may_answer: bool) -> String {
    let mut options: Vec<Expr> = names.iter().map(|n| Expr::literal(*n)).collect();
    if may_answer {
        options.push(Expr::literal(ANSWER_OPTION));
    }
    framed(Expr::alt(options), [])
}

/// A grammar for `expr` between the space that follows a lead-in and the
/// line break that ends the stage. The line break is the only one the
/// grammar allows (JSON strings escape theirs), so seeing it means the
/// grammar is complete and sampling stops there.
fn framed(expr: Expr, primitives: impl IntoIterator<Item = Primitive>) -> String {
    Grammar::new(
        Expr::seq(vec![Expr::literal(" "), expr, Expr::literal(STAGE_END)]),
        primitives,
    )
    .to_gbnf()
}

/// The text that ends every stage.
pub const STAGE_END: &str = "\n";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::json;

    use super::*;

    fn tool(name: &str, parameters: serde_json::Value) -> ToolDefinition {
        ToolDefinition {
            name: name.into(),
            description: format!("The {name} tool."),
            parameters,
        }
    }

    fn tools() -> Vec<ToolDefinition> {
        vec![
            tool(
                "remind_set",
                json!({"type": "object", "properties": {"when": {"type": "string"}}, "required": ["when"]}),
            ),
            tool("clock", json!({"type": "object", "properties": {}})),
        ]
    }

    #[test]
    fn no_tools_or_choice_none_is_plain_generation() {
        assert!(ToolPlan::new(&[], &ToolChoice::Required).unwrap().is_none());
        assert!(
            ToolPlan::new(&tools(), &ToolChoice::None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn auto_chooses_between_the_tools_and_an_answer() {
        let plan = ToolPlan::new(&tools(), &ToolChoice::Auto).unwrap().unwrap();
        assert_eq!(
            plan.choice,
            Choice::Model {
                grammar: "root ::= \" \" (\"remind_set\" | \"clock\" | \"no tool\") \"\\n\"\n"
                    .into(),
                may_answer: true
            }
        );
        assert_eq!(plan.lead_in, "Tool:");
        assert_eq!(plan.chosen(" no tool\n"), Some(Chosen::Answer));
        assert_eq!(plan.chosen(" clock\n"), Some(Chosen::Tool(1)));
        assert_eq!(plan.chosen(" nothing\n"), None);
        assert_eq!(
            plan.tools[0].arguments_grammar,
            "root ::= \" \" \"{\" \"\\\"when\\\":\" string \"}\" \"\\n\"\n\
             string ::= \"\\\"\" char* \"\\\"\"\n\
             char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])\n"
        );
        assert_eq!(
            plan.tools[1].arguments_grammar,
            "root ::= \" \" \"{}\" \"\\n\"\n"
        );
    }

    #[test]
    fn required_leaves_out_the_answer() {
        let plan = ToolPlan::new(&tools(), &ToolChoice::Required)
            .unwrap()
            .unwrap();
        let Choice::Model {
            grammar,
            may_answer,
        } = &plan.choice
        else {
            panic!("{:?}", plan.choice)
        };
        assert!(!may_answer);
        assert!(!grammar.contains(ANSWER_OPTION), "{grammar}");
        assert_eq!(plan.chosen(" no tool\n"), None);
        assert!(plan.instruction.ends_with("with the tool to use."));
    }

    #[test]
    fn a_named_tool_skips_stage_one() {
        let plan = ToolPlan::new(&tools(), &ToolChoice::Named("clock".into()))
            .unwrap()
            .unwrap();
        assert_eq!(plan.choice, Choice::Named(0));
        assert_eq!(plan.tools.len(), 1);
        assert_eq!(plan.lead_in, "Tool: clock\nArguments:");
        assert!(!plan.instruction.contains("remind_set"));
        assert_eq!(
            ToolPlan::new(&tools(), &ToolChoice::Named("nope".into())).unwrap_err(),
            PlanError::UnknownTool("nope".into())
        );
    }

    #[test]
    fn tools_a_grammar_cannot_enforce_are_left_out_unless_needed() {
        let mut offered = tools();
        offered.push(tool("files", json!({"$ref": "#/$defs/Files"})));
        let plan = ToolPlan::new(&offered, &ToolChoice::Auto).unwrap().unwrap();
        assert_eq!(plan.tools.len(), 2);
        assert!(!plan.instruction.contains("files"));

        let only_bad = vec![offered[2].clone()];
        assert!(
            ToolPlan::new(&only_bad, &ToolChoice::Auto)
                .unwrap()
                .is_none()
        );
        let error = ToolPlan::new(&only_bad, &ToolChoice::Required).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the arguments of tool files cannot be enforced on the local model: \
             #: `$ref` cannot be enforced by a grammar"
        );
        assert!(matches!(
            ToolPlan::new(&offered, &ToolChoice::Named("files".into())),
            Err(PlanError::Schema { .. })
        ));
    }

    #[test]
    fn the_instruction_goes_before_the_request_or_after_a_result() {
        let plan = ToolPlan::new(&tools(), &ToolChoice::Auto).unwrap().unwrap();
        let staged = plan.stage_messages(&[ChatMessage::system("s"), ChatMessage::user("hi")]);
        assert_eq!(staged.len(), 2);
        assert_eq!(
            staged[1].content,
            format!("{}\n\nRequest: hi", plan.instruction)
        );
        let staged = plan.stage_messages(&[ChatMessage::user("hi").with_name("Ana")]);
        assert_eq!(
            staged[0].content,
            format!("{}\n\nRequest: Ana: hi", plan.instruction)
        );
        assert_eq!(staged[0].name, None);
        let staged = plan.stage_messages(&[ChatMessage::tool_result("c", "ok")]);
        assert_eq!(staged[0].content, format!("ok\n\n{}", plan.instruction));
        let staged = plan.stage_messages(&[ChatMessage::system("s")]);
        assert_eq!(staged.len(), 2);
        assert_eq!(staged[1].role, Role::User);
        assert_eq!(staged[1].content, plan.instruction);
    }
}
