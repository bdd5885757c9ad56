//! Tool calling on a local model, made reliable for tiny models whose chat
//! template knows no tools: grammar-constrained decoding in two stages.
//!
//! 1. **Choice** (`tool_choice` Auto or Required): the conversation plus a
//!    short instruction listing the tools ([`prompt`]), then the assistant
//!    text `Tool:`, and the model picks — greedily, under a grammar — one
//!    tool's name or, under Auto, `no tool`.
//! 2. **Arguments** (a tool was picked, or `tool_choice` named one): the text
//!    `Arguments:`, then the arguments as compact JSON under the grammar of
//!    the tool's schema (`crate::grammar::schema`). The result is the call.
//!
//! Every stage ends with a line break only its grammar's end allows, so the
//! worker stops sampling as soon as it sees one (sampling past a completed
//! grammar crashes some llama.cpp versions). When stage one picks `no tool`,
//! the reply is generated from the plain prompt, without the instruction:
//! nothing of the stages reaches the reply. The instruction is added at the
//! end of the conversation, so the history before it stays the same and the
//! conversation's warm slot is reused.
//!
//! | module | owns |
//! |---|---|
//! | `plan` | [`ToolPlan`]: the stages of one request, their grammars, reading their output |
//! | `prompt` | the instruction, the lead-ins, a call written as text |
//! | `history` | calls and results in history for templates without tools |

pub mod history;
mod plan;
pub mod prompt;

pub use plan::{Choice, Chosen, STAGE_END, ToolPlan};
