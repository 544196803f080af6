//! Secret rotation, as AWS runs it with a Lambda function, through a hook instead: a command run
//! by vaultd (`command:/path/to/hook`) or an HTTP endpoint (`http://host:port/path`) that gets the
//! four steps in turn, each with the event AWS gives its Lambda (JSON:
//! `{"Step": …, "SecretId": <arn>, "ClientRequestToken": <version id>}`; a command also gets them
//! as `VAULTD_ROTATION_STEP`, `VAULTD_SECRET_ID` and `VAULTD_CLIENT_REQUEST_TOKEN`):
//!
//! 1. `createSecret`: the hook puts the new value on the AWSPENDING version (PutSecretValue with
//!    that token and `VersionStages=[AWSPENDING]`), with vaultd's API and its own credentials;
//! 2. `setSecret`: the hook changes the credential in the system it protects;
//! 3. `testSecret`: the hook checks the new value works;
//! 4. `finishSecret`: the hook moves AWSCURRENT to the new version, as a Lambda does; if it
//!    doesn't, vaultd does, so a hook may stop at testing.
//!
//! A step succeeds when the command exits 0 or the endpoint answers 2xx within the time limit. A
//! failed step stops the rotation: AWSCURRENT stays where it was, the reason shows in
//! DescribeSecret, and the next rotation starts over. HTTPS endpoints need TLS, which this build
//! does not have yet: they are refused when configured.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::error::{Error, ErrorKind, Result};

/// How long one step may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// Where a secret's rotation steps go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hook {
    Command(String),
    Http {
        host: String,
        port: u16,
        path: String,
    },
}

impl Hook {
    /// Parses a RotationLambdaARN as vaultd reads it.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidParameter,
                format!(
                    "RotationLambdaARN names vaultd's rotation hook: command:<path> or \
                     http://host:port/path. {why}"
                ),
            )
        };
        if let Some(path) = text.strip_prefix("command:") {
            if path.is_empty() {
                return Err(invalid("The command is empty."));
            }
            return Ok(Hook::Command(path.to_string()));
        }
        if text.starts_with("https://") {
            return Err(invalid(
                "HTTPS hooks need TLS, which this build of vaultd does not have yet; reach the \
                 hook over http:// on a private network, or run a command.",
            ));
        }
        let Some(rest) = text.strip_prefix("http://") else {
            return Err(invalid("This is neither."));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .map_err(|_| invalid("The port is not a number."))?,
            ),
            None => (authority, 80),
        };
        if host.is_empty() || path.contains(['\r', '\n', ' ']) {
            return Err(invalid("The URL is not valid."));
        }
        Ok(Hook::Http {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// Whether vaultd may run this hook. Any caller allowed RotateSecret names the hook, so a
    /// command must be a file in the directory the operator set aside for hooks
    /// (`--rotation-hook-dir`), never an arbitrary program.
    pub fn allowed(&self, hook_dir: Option<&std::path::Path>) -> Result<()> {
        let Hook::Command(path) = self else {
            return Ok(());
        };
        let refused = |why: &str| {
            Error::new(
                ErrorKind::InvalidParameter,
                format!("The rotation command {path:?} can't be used: {why}"),
            )
        };
        let Some(dir) = hook_dir else {
            return Err(refused(
                "vaultd runs commands only from its --rotation-hook-dir, and none is set.",
            ));
        };
        let dir = dir
            .canonicalize()
            .map_err(|_| refused("the hook directory does not exist."))?;
        let file = std::path::Path::new(path)
            .canonicalize()
            .map_err(|_| refused("no such file."))?;
        if file.parent() != Some(dir.as_path()) || !file.is_file() {
            return Err(refused("it is not a file in the rotation hook directory."));
        }
        Ok(())
    }

    /// Runs one step; `Err` carries a sentence for DescribeSecret (never a secret value: the
    /// hook gets none from vaultd).
    pub fn run(
        &self,
        step: &str,
        secret_arn: &str,
        token: &str,
    ) -> std::result::Result<(), String> {
        let event = serde_json::json!({
            "Step": step,
            "SecretId": secret_arn,
            "ClientRequestToken": token,
        })
        .to_string();
        match self {
            Hook::Command(path) => run_command(path, step, secret_arn, token, &event),
            Hook::Http { host, port, path } => post(host, *port, path, &event),
        }
    }
}

fn run_command(
    path: &str,
    step: &str,
    secret_arn: &str,
    token: &str,
    event: &str,
) -> std::result::Result<(), String> {
    let mut child = Command::new(path)
        .env("VAULTD_ROTATION_STEP", step)
        .env("VAULTD_SECRET_ID", secret_arn)
        .env("VAULTD_CLIENT_REQUEST_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{step}: the hook command could not be started: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ignores its stdin may close it early; that is not a failure.
        let _ = stdin.write_all(event.as_bytes());
    }
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{step}: the hook command failed ({status})")),
            Ok(None) if started.elapsed() > STEP_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{step}: the hook command took longer than {} s",
                    STEP_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{step}: waiting for the hook command failed: {e}")),
        }
    }
}

fn post(host: &str, port: u16, path: &str, event: &str) -> std::result::Result<(), String> {
    let step = serde_json::from_str::<serde_json::Value>(event)
        .ok()
        .and_then(|v| v["Step"].as_str().map(str::to_string))
        .unwrap_or_default();
    let fail = |why: String| format!("{step}: the hook at http://{host}:{port}{path} {why}");
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| fail(format!("could not be resolved: {e}")))?
        .next()
        .ok_or_else(|| fail("could not be resolved".into()))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| fail(format!("could not be reached: {e}")))?;
    stream
        .set_read_timeout(Some(STEP_TIMEOUT))
        .map_err(|e| fail(e.to_string()))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{event}",
        event.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| fail(format!("could not be written to: {e}")))?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // The status line is all that matters.
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = stream
            .read(&mut buf)
            .map_err(|e| fail(format!("did not answer: {e}")))?;
        if n == 0 || answer.len() > 8192 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&answer);
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(code) if (200..300).contains(&code) => Ok(()),
        Some(code) => Err(fail(format!("answered HTTP {code}"))),
        None => Err(fail("did not answer HTTP".into())),
    }
}

/// The interval of RotationRules: AutomaticallyAfterDays (1–1,000), or a ScheduleExpression
/// `rate(N days)` / `rate(N hours)` (4 hours at least, as AWS). Cron schedules are not supported.
pub fn interval(days: Option<i64>, schedule: &str) -> Result<Option<Duration>> {
    let invalid = |why: &str| Error::new(ErrorKind::InvalidParameter, why.to_string());
    match (days, schedule.is_empty()) {
        (Some(_), false) => Err(invalid(
            "Specify AutomaticallyAfterDays or ScheduleExpression, not both.",
        )),
        (Some(days), true) => match (1..=1000).contains(&days) {
            true => Ok(Some(crate::clock::DAY * days as u32)),
            false => Err(invalid(
                "AutomaticallyAfterDays must be between 1 and 1000.",
            )),
        },
        (None, true) => Ok(None),
        (None, false) => {
            let inner = schedule
                .strip_prefix("rate(")
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| {
                    invalid("ScheduleExpression must be rate(N days) or rate(N hours); cron schedules are not supported yet.")
                })?;
            let (n, unit) = inner.split_once(' ').ok_or_else(|| {
                invalid("ScheduleExpression must be rate(N days) or rate(N hours).")
            })?;
            let n: u64 = n
                .parse()
                .map_err(|_| invalid("The rate must be a whole number."))?;
            let hours = match unit {
                "day" | "days" if (1..=1000).contains(&n) => n * 24,
                "hour" | "hours" if (4..=24_000).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "ScheduleExpression: rate(1–1000 days) or rate(at least 4 hours).",
                    ));
                }
            };
            Ok(Some(Duration::from_secs(hours * 3600)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_parse_as_documented() {
        assert_eq!(
            Hook::parse("command:/usr/local/bin/rotate").unwrap(),
            Hook::Command("/usr/local/bin/rotate".into())
        );
        assert_eq!(
            Hook::parse("http://rotator:8080/hooks/db").unwrap(),
            Hook::Http {
                host: "rotator".into(),
                port: 8080,
                path: "/hooks/db".into()
            }
        );
        assert_eq!(
            Hook::parse("http://rotator").unwrap(),
            Hook::Http {
                host: "rotator".into(),
                port: 80,
                path: "/".into()
            }
        );
        for bad in [
            "",
            "command:",
            "https://x/",
            "arn:aws:lambda:us-east-1:0:function:f",
            "http://h:x/",
        ] {
            assert!(Hook::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rotation_rules_as_aws() {
        assert_eq!(
            interval(Some(30), "").unwrap(),
            Some(crate::clock::DAY * 30)
        );
        assert_eq!(
            interval(None, "rate(10 days)").unwrap(),
            Some(crate::clock::DAY * 10)
        );
        assert_eq!(
            interval(None, "rate(4 hours)").unwrap(),
            Some(Duration::from_secs(4 * 3600))
        );
        assert_eq!(interval(None, "").unwrap(), None);
        for (days, schedule) in [
            (Some(0), ""),
            (Some(1001), ""),
            (None, "rate(3 hours)"),
            (None, "cron(0 12 * * ? *)"),
            (Some(1), "rate(1 day)"),
        ] {
            assert!(interval(days, schedule).is_err(), "{days:?} {schedule}");
        }
    }

    #[test]
    fn a_command_hook_gets_the_step_and_its_exit_status_counts() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("hook.sh");
        let log = dir.path().join("log");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$VAULTD_ROTATION_STEP $VAULTD_CLIENT_REQUEST_TOKEN\" >> {}\n[ \"$VAULTD_ROTATION_STEP\" != testSecret ]\n",
                log.display()
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&script).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&script, perms).unwrap();
        let hook = Hook::Command(script.display().to_string());
        hook.run("createSecret", "arn", "tok").unwrap();
        let err = hook.run("testSecret", "arn", "tok").unwrap_err();
        assert!(err.starts_with("testSecret"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "createSecret tok\ntestSecret tok\n"
        );
    }

    #[test]
    fn an_http_hook_gets_the_event_and_its_status_counts() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for status in ["200 OK", "500 Internal Server Error"] {
                let (mut conn, _) = listener.accept().unwrap();
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).unwrap();
                bodies.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                conn.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                )
                .unwrap();
            }
            bodies
        });
        let hook = Hook::parse(&format!("http://127.0.0.1:{port}/rotate")).unwrap();
        hook.run("setSecret", "arn:x", "tok").unwrap();
        let err = hook.run("testSecret", "arn:x", "tok").unwrap_err();
        assert!(err.contains("HTTP 500"), "{err}");
        let bodies = server.join().unwrap();
        assert!(bodies[0].starts_with("POST /rotate HTTP/1.1\r\n"));
        assert!(bodies[0].contains(r#""Step":"setSecret""#), "{}", bodies[0]);
    }
}
