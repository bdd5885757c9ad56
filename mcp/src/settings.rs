//! The `[mcp]` settings section: the MCP servers to run, each a command
//! (a child process speaking MCP on stdio) or a URL (streamable HTTP).
//!
//! ```toml
//! [mcp.servers.files]
//! command = ["python3", "fs_server.py", "--root", "/srv/docs"]
//! env = { API_KEY = "…" }        # added to a small inherited environment
//! tools = ["read_file", "search"] # optional allow-list, the server's own names
//! permission = "confirm"          # everyone (default) | admins | confirm
//! timeout_secs = 30               # per call, and for start-up
//!
//! [mcp.servers.web]
//! url = "http://127.0.0.1:9000/mcp"
//! bearer_token = "…"              # sent as Authorization: Bearer …
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use natter_core::Permission;
use natter_core::secret::REDACTED;
use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

/// The `[mcp]` section.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// `[mcp.servers.NAME]`: the servers, by the name their tools are
    /// prefixed with.
    pub servers: BTreeMap<String, ServerSettings>,
}

/// One `[mcp.servers.NAME]` section.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// The program and its arguments, run as a child process speaking MCP on
    /// its stdin and stdout. Either this or `url`.
    pub command: Option<Vec<String>>,
    /// Environment variables for the command, over the few it inherits
    /// (see [`INHERITED_VARIABLES`]). Written redacted.
    #[serde(serialize_with = "redact_values")]
    pub env: BTreeMap<String, SecretString>,
    /// A streamable HTTP endpoint, e.g. `http://127.0.0.1:9000/mcp`.
    /// Either this or `command`.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer …` to a `url`. Written redacted.
    #[serde(
        serialize_with = "natter_core::secret::serialize_redacted",
        deserialize_with = "natter_core::secret::deserialize_non_empty"
    )]
    pub bearer_token: Option<SecretString>,
    /// Offer only these of the server's tools (by the server's own names);
    /// all of them when unset.
    pub tools: Option<Vec<String>>,
    /// Who may have this server's tools run, unless `[tools.permissions]`
    /// says otherwise for a tool. `confirm` is wise for servers that write.
    pub permission: Permission,
    /// Longest a call may take, and the start (handshake and tool list).
    pub timeout_secs: u64,
    /// First wait before restarting a server that failed or stopped; each
    /// failure in a row doubles it (with jitter), up to `restart_max_delay_ms`.
    pub restart_delay_ms: u64,
    /// Longest wait between restarts.
    pub restart_max_delay_ms: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            command: None,
            env: BTreeMap::new(),
            url: None,
            bearer_token: None,
            tools: None,
            permission: Permission::Everyone,
            timeout_secs: 30,
            restart_delay_ms: 1_000,
            restart_max_delay_ms: 60_000,
        }
    }
}

/// The variables a command inherits from natter's environment; nothing else
/// of it reaches the server (natter's own tokens stay with natter).
pub const INHERITED_VARIABLES: [&str; 20] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "XDG_RUNTIME_DIR",
    "SYSTEMROOT",
    "USERPROFILE",
    "APPDATA",
    "TEMP",
    "PATHEXT",
];

/// How natter reaches a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// Run `program` with `args`; MCP on its stdin and stdout.
    Command {
        /// The program.
        program: &'a str,
        /// Its arguments.
        args: &'a [String],
    },
    /// Streamable HTTP at this URL.
    Url(&'a str),
}

/// An `[mcp]` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {key}: {reason}")]
pub struct McpSettingsError {
    /// The full key, e.g. `mcp.servers.files.command`.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl McpSettings {
    /// True when no server is configured.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Checks every server; the error names the key.
    pub fn validate(&self) -> Result<(), McpSettingsError> {
        for (name, server) in &self.servers {
            server.validate(name)?;
        }
        Ok(())
    }
}

impl ServerSettings {
    /// How to reach the server, or why the settings do not say.
    pub fn endpoint(&self) -> Result<Endpoint<'_>, &'static str> {
        match (&self.command, &self.url) {
            (Some(_), Some(_)) => Err("set either command or url, not both"),
            (None, None) => Err(
                "set command (a program to run, speaking MCP on stdio) or url (a streamable HTTP endpoint)",
            ),
            (Some(command), None) => match command.split_first() {
                Some((program, args)) if !program.trim().is_empty() => {
                    Ok(Endpoint::Command { program, args })
                }
                _ => Err("must name a program: [\"program\", \"argument\", …]"),
            },
            (None, Some(url)) => Ok(Endpoint::Url(url)),
        }
    }

    /// Checks this server's section, `[mcp.servers.NAME]`.
    pub fn validate(&self, name: &str) -> Result<(), McpSettingsError> {
        let section = format!("mcp.servers.{}", key_segment(name));
        let invalid = |key: &str, reason: &str| McpSettingsError {
            key: if key.is_empty() {
                section.clone()
            } else {
                format!("{section}.{key}")
            },
            reason: reason.to_owned(),
        };
        if name.trim().is_empty() {
            return Err(invalid("", "a server needs a name"));
        }
        match self.endpoint() {
            Err(reason) if self.command.is_some() && self.url.is_none() => {
                return Err(invalid("command", reason));
            }
            Err(reason) => return Err(invalid("", reason)),
            Ok(Endpoint::Url(url)) => {
                let parsed = url::Url::parse(url)
                    .map_err(|e| invalid("url", &format!("`{url}` is not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(invalid("url", "must be an http:// or https:// URL"));
                }
                if !self.env.is_empty() {
                    return Err(invalid("env", "is for a command; a url server has its own"));
                }
            }
            Ok(Endpoint::Command { .. }) => {
                if self.bearer_token.is_some() {
                    return Err(invalid("bearer_token", "is for a url"));
                }
                if let Some(bad) = self
                    .env
                    .keys()
                    .find(|k| k.is_empty() || k.contains(['=', '\0']))
                {
                    return Err(invalid(
                        &format!("env.{}", key_segment(bad)),
                        "is not a variable name",
                    ));
                }
            }
        }
        if let Some(tools) = &self.tools
            && tools.iter().any(|t| t.trim().is_empty())
        {
            return Err(invalid("tools", "names a tool with an empty name"));
        }
        if self.timeout_secs == 0 {
            return Err(invalid("timeout_secs", "must be at least 1"));
        }
        if self.restart_delay_ms == 0 {
            return Err(invalid("restart_delay_ms", "must be at least 1"));
        }
        if self.restart_max_delay_ms < self.restart_delay_ms {
            return Err(invalid(
                "restart_max_delay_ms",
                "must be at least restart_delay_ms",
            ));
        }
        Ok(())
    }

    /// [`ServerSettings::timeout_secs`] as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// [`ServerSettings::restart_delay_ms`] as a duration.
    pub fn restart_delay(&self) -> Duration {
        Duration::from_millis(self.restart_delay_ms)
    }

    /// [`ServerSettings::restart_max_delay_ms`] as a duration.
    pub fn restart_max_delay(&self) -> Duration {
        Duration::from_millis(self.restart_max_delay_ms)
    }

    /// True when `tool` (the server's own name) passes the allow-list.
    pub fn allows(&self, tool: &str) -> bool {
        self.tools
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|a| a == tool))
    }
}

/// A settings key segment as TOML writes it: bare when it can be, else quoted.
fn key_segment(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

/// Writes every value of a map of secrets as `"[redacted]"`, keeping the keys.
fn redact_values<S: Serializer>(
    map: &BTreeMap<String, SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(map.keys().map(|key| (key, REDACTED)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use secrecy::ExposeSecret;

    use super::*;

    fn parse(json: serde_json::Value) -> McpSettings {
        serde_json::from_value(json).unwrap()
    }

    fn error(json: serde_json::Value) -> String {
        parse(json).validate().unwrap_err().to_string()
    }

    #[test]
    fn a_command_or_a_url() {
        let settings = parse(serde_json::json!({"servers": {
            "files": {"command": ["python3", "fs.py"], "env": {"API_KEY": "k"}, "tools": ["read"]},
            "web": {"url": "http://127.0.0.1:9000/mcp", "permission": "confirm"},
        }}));
        settings.validate().unwrap();
        let files = &settings.servers["files"];
        assert_eq!(
            files.endpoint(),
            Ok(Endpoint::Command {
                program: "python3",
                args: &["fs.py".to_owned()]
            })
        );
        assert_eq!(files.env["API_KEY"].expose_secret(), "k");
        assert!(files.allows("read") && !files.allows("write"));
        assert_eq!(files.permission, Permission::Everyone);
        assert_eq!(files.timeout(), Duration::from_secs(30));
        let web = &settings.servers["web"];
        assert_eq!(
            web.endpoint(),
            Ok(Endpoint::Url("http://127.0.0.1:9000/mcp"))
        );
        assert!(web.allows("anything"));
        assert_eq!(web.permission, Permission::Confirm);
    }

    #[test]
    fn bad_values_name_their_key() {
        let both =
            serde_json::json!({"servers": {"files": {"command": ["x"], "url": "http://h/"}}});
        assert_eq!(
            error(both),
            "invalid setting mcp.servers.files: set either command or url, not both"
        );
        let neither = error(serde_json::json!({"servers": {"files": {}}}));
        assert!(
            neither.starts_with("invalid setting mcp.servers.files: set command"),
            "{neither}"
        );
        for command in [serde_json::json!([]), serde_json::json!([" "])] {
            let e = error(serde_json::json!({"servers": {"files": {"command": command}}}));
            assert!(
                e.starts_with("invalid setting mcp.servers.files.command: must name a program"),
                "{e}"
            );
        }
        let e = error(serde_json::json!({"servers": {"web": {"url": "ftp://h/"}}}));
        assert_eq!(
            e,
            "invalid setting mcp.servers.web.url: must be an http:// or https:// URL"
        );
        let e = error(serde_json::json!({"servers": {"web": {"url": "not a url"}}}));
        assert!(
            e.starts_with("invalid setting mcp.servers.web.url: `not a url` is not a URL"),
            "{e}"
        );
        let e = error(
            serde_json::json!({"servers": {"my files": {"command": ["x"], "timeout_secs": 0}}}),
        );
        assert_eq!(
            e,
            "invalid setting mcp.servers.\"my files\".timeout_secs: must be at least 1"
        );
        let e =
            error(serde_json::json!({"servers": {"f": {"command": ["x"], "env": {"A=B": "1"}}}}));
        assert_eq!(
            e,
            "invalid setting mcp.servers.f.env.\"A=B\": is not a variable name"
        );
        let e =
            error(serde_json::json!({"servers": {"f": {"command": ["x"], "bearer_token": "t"}}}));
        assert_eq!(
            e,
            "invalid setting mcp.servers.f.bearer_token: is for a url"
        );
        let e = error(
            serde_json::json!({"servers": {"f": {"command": ["x"], "restart_delay_ms": 500, "restart_max_delay_ms": 100}}}),
        );
        assert_eq!(
            e,
            "invalid setting mcp.servers.f.restart_max_delay_ms: must be at least restart_delay_ms"
        );
        assert!(
            serde_json::from_value::<McpSettings>(
                serde_json::json!({"servers": {"f": {"comand": ["x"]}}})
            )
            .is_err(),
            "a typo is an error"
        );
        assert!(
            serde_json::from_value::<McpSettings>(
                serde_json::json!({"servers": {"f": {"permission": "root"}}})
            )
            .is_err()
        );
    }

    #[test]
    fn secrets_are_written_redacted() {
        let settings = parse(serde_json::json!({"servers": {
            "files": {"command": ["x"], "env": {"API_KEY": "s3cret", "MODE": "fast"}},
            "web": {"url": "http://h/mcp", "bearer_token": "t0ken"},
        }}));
        let written = serde_json::to_string(&settings).unwrap();
        assert!(
            !written.contains("s3cret") && !written.contains("t0ken") && !written.contains("fast"),
            "{written}"
        );
        assert!(
            written.contains(r#""env":{"API_KEY":"[redacted]","MODE":"[redacted]"}"#),
            "{written}"
        );
        assert!(
            written.contains(r#""bearer_token":"[redacted]""#),
            "{written}"
        );
    }
}
