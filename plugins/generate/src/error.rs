//! Why the generate plugin could not be built from its settings.

/// A problem in the `[plugins.generate]` settings, found at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// A kind's name is not one lowercase word.
    #[error(
        "[plugins.generate.kinds.{0}]: a kind's name must be one lowercase word (a-z, 0-9, _ or -)"
    )]
    InvalidKindName(String),
    /// A new kind has no template.
    #[error("[plugins.generate.kinds.{0}] adds a kind but has no `template`")]
    MissingTemplate(String),
    /// A template does not compile or uses an unknown variable.
    #[error("the template of kind `{kind}` is invalid: {reason}")]
    Template {
        /// The kind.
        kind: String,
        /// What is wrong, from minijinja.
        reason: String,
    },
}
