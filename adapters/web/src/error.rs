//! [`WebError`]: why the web side could not start or stopped.

/// Why the web side could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The `[web]` settings are wrong.
    #[error("invalid [web] settings: {0}")]
    Settings(String),
    /// The address could not be listened on.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the web server failed: {0}")]
    Serve(#[source] std::io::Error),
}
