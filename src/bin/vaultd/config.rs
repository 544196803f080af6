//! The configuration file: a TOML file (`--config FILE` / `VAULTD_CONFIG`) whose settings are the
//! flags' names in snake_case (`listen`, `data_dir`, `log_format`, …). Precedence, lowest first:
//! the file, then `VAULTD_*` variables, then flags. Every value goes through the same checks as
//! the flag's, at start, and an error names the file and the setting.
//!
//! The file takes the settings only; secrets stay out of it (the root key comes from
//! `root_key_file` or `VAULTD_ROOT_KEY`, fixed root credentials from the environment).

use std::{ffi::OsString, path::PathBuf};

use clap::{Arg, Command};

/// Settings a file may not hold: the file itself, and what only makes sense per invocation.
const NOT_IN_FILE: &[&str] = &["config", "help", "version"];

/// Where the configuration file is, if any: `--config FILE` (or `--config=FILE`) among the
/// arguments before a subcommand, else `VAULTD_CONFIG`.
pub fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            break;
        }
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("VAULTD_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Reads the file at `path` and makes each of its settings the default of the matching argument
/// of `command`, so that the environment and flags still win. Returns the command to parse with.
pub fn apply_file(mut command: Command, path: &std::path::Path) -> Result<Command, String> {
    let fail = |what: String| format!("config file {}: {what}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        // The parser's message quotes the line; keep the position and the reason only.
        fail(first_line(&e.to_string()))
    })?;
    let settings: Vec<String> = command
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !NOT_IN_FILE.contains(&a.get_id().as_str()))
        .map(|a| a.get_id().to_string())
        .collect();
    for (name, value) in table {
        if name == "storage" {
            // A database URL holds a password, and a setting from the file becomes a default
            // that `--help` shows.
            return Err(fail(
                "storage: a database URL holds a password: set VAULTD_DATABASE_URL in the \
                 environment instead"
                    .into(),
            ));
        }
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == name.as_str() && settings.contains(&name))
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "unknown setting {name:?}; the settings are {}",
                    settings.join(", ")
                ))
            })?;
        let text = value_text(&arg, &value).map_err(|e| fail(format!("{name}: {e}")))?;
        check(&arg, &text).map_err(|e| fail(format!("{name}: {e}")))?;
        command = command.mut_arg(arg.get_id().clone(), |a| match a.get_value_delimiter() {
            Some(delimiter) => {
                let values: Vec<String> = text.split(delimiter).map(str::to_string).collect();
                a.default_values(values)
            }
            None => a.default_value(text),
        });
    }
    Ok(command)
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("not valid TOML")
        .trim()
        .to_string()
}

/// A TOML value as the text the flag would take: strings as they are, numbers and booleans
/// written out, and (for settings that take several values) arrays joined by the flag's
/// delimiter.
fn value_text(arg: &Arg, value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Array(items) => {
            let Some(delimiter) = arg.get_value_delimiter() else {
                return Err("takes one value, not a list".into());
            };
            items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) if !s.contains(delimiter) => Ok(s.clone()),
                    _ => Err(format!("a list of strings without {delimiter:?}")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|items| items.join(&delimiter.to_string()))
        }
        _ => Err("must be a string, a number, a boolean or a list of strings".into()),
    }
}

/// Runs the flag's own value parser on `text` (in a command holding that flag alone, so that
/// nothing else of the environment takes part): a bad file value fails as the flag would.
fn check(arg: &Arg, text: &str) -> Result<(), String> {
    let long = arg.get_long().unwrap_or_default();
    Command::new("vaultd")
        .arg(arg.clone().env(None).num_args(1).required(false))
        .try_get_matches_from(["vaultd".to_string(), format!("--{long}={text}")])
        .map(|_| ())
        .map_err(|e| {
            // clap's message names the flag; keep its reason.
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid value");
            first.trim_start_matches("error: ").to_string()
        })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_example_configuration_file_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/vaultd.toml.example");
        let command = apply_file(crate::Args::command(), &path).unwrap();
        let matches = command.try_get_matches_from(["vaultd"]).unwrap();
        assert_eq!(
            matches
                .get_one::<std::net::SocketAddr>("listen")
                .unwrap()
                .to_string(),
            "0.0.0.0:7730"
        );
    }
}
