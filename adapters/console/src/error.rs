//! [`ConsoleError`]: why the console stopped with an error.

/// Why the console stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Reading standard input failed.
    #[error("cannot read standard input: {0}")]
    Input(#[source] std::io::Error),
    /// Writing standard output failed.
    #[error("cannot write standard output: {0}")]
    Output(#[source] std::io::Error),
}
