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
    time::{Duration, Instant, SystemTime},
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
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'));
        let path_ok = path.bytes().all(|c| c.is_ascii_graphic());
        if !host_ok || !path_ok {
            return Err(invalid("The URL is not valid."));
        }
        Ok(Hook::Http {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// Checks the hook against the operator's policy and returns what to run. Any caller
    /// allowed RotateSecret names the hook, so vaultd runs only what the operator set aside: a
    /// command must be a regular file (not a symlink) directly in `--rotation-hook-dir`, named by
    /// its file name or its path there, with neither it nor the directory writable by group or
    /// others; an HTTP hook's `host:port` must be one of `--rotation-hook-host`. Checked when the
    /// hook is configured and again before every step.
    pub fn resolve(&self, policy: &HookPolicy) -> Result<Runnable> {
        match self {
            Hook::Command(path) => policy.command(path).map(Runnable::Command),
            Hook::Http { host, port, path } => {
                let authority = format!("{host}:{port}");
                if !policy.hosts.contains(&authority) {
                    return Err(Error::new(
                        ErrorKind::InvalidParameter,
                        format!(
                            "The rotation hook host {authority} is not one vaultd may call: the \
                             operator lists them with --rotation-hook-host."
                        ),
                    ));
                }
                Ok(Runnable::Http {
                    host: host.clone(),
                    port: *port,
                    path: path.clone(),
                })
            }
        }
    }

    /// Runs one step (after [`Hook::resolve`] against `policy`); `Err` carries a sentence for
    /// DescribeSecret (never a secret value: the hook gets none from vaultd).
    pub fn run(
        &self,
        policy: &HookPolicy,
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
        match self
            .resolve(policy)
            .map_err(|e| format!("{step}: {}", e.message))?
        {
            Runnable::Command(path) => run_command(&path, step, secret_arn, token, &event),
            Runnable::Http { host, port, path } => post(&host, port, &path, &event),
        }
    }
}

/// What the operator lets rotation hooks be.
#[derive(Clone, Debug, Default)]
pub struct HookPolicy {
    /// `--rotation-hook-dir`: where command hooks live.
    pub dir: Option<std::path::PathBuf>,
    /// `--rotation-hook-host`: the `host:port` HTTP hooks may be on.
    pub hosts: Vec<String>,
}

/// A hook as checked, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runnable {
    Command(std::path::PathBuf),
    Http {
        host: String,
        port: u16,
        path: String,
    },
}

impl HookPolicy {
    fn command(&self, given: &str) -> Result<std::path::PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let refused = |why: &str| {
            Error::new(
                ErrorKind::InvalidParameter,
                format!("The rotation command {given:?} can't be used: {why}"),
            )
        };
        let Some(dir) = &self.dir else {
            return Err(refused(
                "vaultd runs commands only from its --rotation-hook-dir, and none is set.",
            ));
        };
        let given_path = std::path::Path::new(given);
        let name = match given.contains('/') {
            false => given,
            true => {
                if given_path.parent() != Some(dir.as_path()) {
                    return Err(refused(
                        "it is not directly in the rotation hook directory.",
                    ));
                }
                given_path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
            }
        };
        let name_ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(refused(
                "a hook's file name is letters, digits, '.', '_' and '-'.",
            ));
        }
        let writable_by_others = |meta: &std::fs::Metadata| meta.permissions().mode() & 0o022 != 0;
        let dir_meta =
            std::fs::metadata(dir).map_err(|_| refused("the hook directory does not exist."))?;
        if !dir_meta.is_dir() || writable_by_others(&dir_meta) {
            return Err(refused(
                "the hook directory must be a directory that only its owner can write.",
            ));
        }
        let path = dir.join(name);
        let meta = std::fs::symlink_metadata(&path).map_err(|_| refused("no such file."))?;
        if !meta.file_type().is_file() || writable_by_others(&meta) {
            return Err(refused(
                "a hook must be a regular file (not a symlink) that only its owner can write.",
            ));
        }
        Ok(path)
    }
}

fn run_command(
    path: &std::path::Path,
    step: &str,
    secret_arn: &str,
    token: &str,
    event: &str,
) -> std::result::Result<(), String> {
    // Only what a hook needs: never vaultd's own environment (it may hold root credentials).
    let mut command = Command::new(path);
    command.env_clear();
    for name in ["PATH", "HOME", "LANG", "TZ"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let mut child = command
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

/// When a secret next rotates after `now`, by its RotationRules: AutomaticallyAfterDays
/// (1–1,000), or a ScheduleExpression `rate(N days)` / `rate(N hours)` (4 hours at least, as AWS)
/// or `cron(minutes hours day-of-month month day-of-week year)` in UTC (numbers, `*`, `?`, lists,
/// ranges, `/` steps, month and weekday names; not `L`, `W` or `#`). `None` without rules.
pub fn next_rotation(
    days: Option<i64>,
    schedule: &str,
    now: SystemTime,
) -> Result<Option<SystemTime>> {
    let invalid = |why: &str| Error::new(ErrorKind::InvalidParameter, why.to_string());
    match (days, schedule.is_empty()) {
        (Some(_), false) => Err(invalid(
            "Specify AutomaticallyAfterDays or ScheduleExpression, not both.",
        )),
        (Some(days), true) => match (1..=1000).contains(&days) {
            true => Ok(Some(now + crate::clock::DAY * days as u32)),
            false => Err(invalid(
                "AutomaticallyAfterDays must be between 1 and 1000.",
            )),
        },
        (None, true) => Ok(None),
        (None, false) => {
            if let Some(inner) = schedule
                .strip_prefix("cron(")
                .and_then(|s| s.strip_suffix(')'))
            {
                return Cron::parse(inner)?
                    .next_after(now)
                    .map(Some)
                    .ok_or_else(|| {
                        invalid("The cron schedule never fires in the next five years.")
                    });
            }
            let inner = schedule
                .strip_prefix("rate(")
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| {
                    invalid("ScheduleExpression must be rate(N days), rate(N hours) or cron(...).")
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
            Ok(Some(now + Duration::from_secs(hours * 3600)))
        }
    }
}

/// An AWS cron expression (six fields, UTC): the allowed values of each field.
#[derive(Debug, PartialEq, Eq)]
struct Cron {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days: Option<Vec<u32>>,
    months: Vec<u32>,
    weekdays: Option<Vec<u32>>,
    years: Option<Vec<u32>>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    fn parse(text: &str) -> Result<Self> {
        let invalid = |why: String| {
            Error::new(
                ErrorKind::InvalidParameter,
                format!("The cron expression is not valid: {why}"),
            )
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minutes, hours, days, months, weekdays, years] = fields.as_slice() else {
            return Err(invalid(
                "it needs six fields: minutes hours day-of-month month day-of-week year.".into(),
            ));
        };
        let field = |text: &str,
                     lo: u32,
                     hi: u32,
                     names: &[&str],
                     name: &str|
         -> Result<Option<Vec<u32>>> {
            if text == "?" {
                return Ok(None);
            }
            let value = |v: &str| -> Result<u32> {
                if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
                    return Ok(lo + i as u32);
                }
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| invalid(format!("{v:?} is not a {name} ({lo}–{hi}).")))
            };
            let mut out = Vec::new();
            for part in text.split(',') {
                let (range, step) = match part.split_once('/') {
                    Some((range, step)) => (
                        range,
                        step.parse::<u32>()
                            .ok()
                            .filter(|s| *s > 0)
                            .ok_or_else(|| invalid(format!("{step:?} is not a step.")))?,
                    ),
                    None => (part, 1),
                };
                let (start, end) = match range {
                    "*" => (lo, hi),
                    r => match r.split_once('-') {
                        Some((a, b)) => (value(a)?, value(b)?),
                        None if part.contains('/') => (value(r)?, hi),
                        None => (value(r)?, value(r)?),
                    },
                };
                if start > end {
                    return Err(invalid(format!("{part:?} is an empty range.")));
                }
                out.extend((start..=end).step_by(step as usize));
            }
            out.sort_unstable();
            out.dedup();
            Ok(Some(out))
        };
        let required = |v: Option<Vec<u32>>, name: &str| {
            v.ok_or_else(|| {
                invalid(format!(
                    "'?' is allowed only for day-of-month or day-of-week, not {name}."
                ))
            })
        };
        let days = field(days, 1, 31, &[], "day of the month")?;
        let weekdays = field(weekdays, 1, 7, &WEEKDAYS, "day of the week")?;
        if days.is_some() == weekdays.is_some() {
            return Err(invalid(
                "one of day-of-month and day-of-week must be '?' (as AWS requires).".into(),
            ));
        }
        Ok(Cron {
            minutes: required(field(minutes, 0, 59, &[], "minute")?, "minutes")?,
            hours: required(field(hours, 0, 23, &[], "hour")?, "hours")?,
            days,
            months: required(field(months, 1, 12, &MONTHS, "month")?, "months")?,
            weekdays,
            years: field(years, 1970, 2199, &[], "year")?,
        })
    }

    /// The first matching minute after `now`, within five years.
    fn next_after(&self, now: SystemTime) -> Option<SystemTime> {
        let secs = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
        let start_day = (secs / 86_400) as i64;
        let minute_of_day = ((secs % 86_400) / 60) as u32;
        for day in start_day..start_day + 5 * 366 {
            let (year, month, dom) = crate::clock::civil_from_days(day);
            let (month, dom) = (month as u32, dom as u32);
            // 1970-01-01 was a Thursday; AWS numbers Sunday 1 … Saturday 7.
            let weekday = ((day.rem_euclid(7) + 4) % 7) as u32 + 1;
            let day_ok = self.months.contains(&month)
                && self
                    .years
                    .as_ref()
                    .is_none_or(|y| y.contains(&(year as u32)))
                && self.days.as_ref().is_none_or(|d| d.contains(&dom))
                && self.weekdays.as_ref().is_none_or(|w| w.contains(&weekday));
            if !day_ok {
                continue;
            }
            for &hour in &self.hours {
                for &minute in &self.minutes {
                    let at = hour * 60 + minute;
                    if day > start_day || at > minute_of_day {
                        return Some(
                            SystemTime::UNIX_EPOCH
                                + Duration::from_secs(day as u64 * 86_400 + at as u64 * 60),
                        );
                    }
                }
            }
        }
        None
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

    /// 2026-11-26T09:30:00Z, a Thursday.
    fn thursday() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_685_400)
    }

    fn at(text: &str) -> SystemTime {
        // YYYY-MM-DDTHH:MM
        let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
        let (y, m, d) = (n(0..4), n(5..7), n(8..10));
        let days = (0..)
            .find(|&k| crate::clock::civil_from_days(k) == (y, m, d))
            .unwrap();
        SystemTime::UNIX_EPOCH
            + Duration::from_secs((days * 86_400 + n(11..13) * 3600 + n(14..16) * 60) as u64)
    }

    #[test]
    fn rotation_rules_as_aws() {
        let now = thursday();
        assert_eq!(crate::clock::civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(at("2026-11-26T09:30"), now);
        let day = crate::clock::DAY;
        assert_eq!(
            next_rotation(Some(30), "", now).unwrap(),
            Some(now + day * 30)
        );
        assert_eq!(
            next_rotation(None, "rate(10 days)", now).unwrap(),
            Some(now + day * 10)
        );
        assert_eq!(
            next_rotation(None, "rate(4 hours)", now).unwrap(),
            Some(now + Duration::from_secs(4 * 3600))
        );
        assert_eq!(next_rotation(None, "", now).unwrap(), None);
        // Cron, in UTC.
        let cron = |e: &str| {
            next_rotation(None, &format!("cron({e})"), now)
                .unwrap()
                .unwrap()
        };
        assert_eq!(cron("0 12 * * ? *"), at("2026-11-26T12:00"));
        assert_eq!(cron("0 8 * * ? *"), at("2026-11-27T08:00"));
        assert_eq!(cron("0 16 1,15 * ? *"), at("2026-12-01T16:00"));
        assert_eq!(cron("0 0 ? * MON *"), at("2026-11-30T00:00"));
        assert_eq!(cron("0 0 ? * 2-6 *"), at("2026-11-27T00:00"));
        assert_eq!(cron("30 9 26 NOV ? *"), at("2027-11-26T09:30"));
        assert_eq!(cron("0/15 * * * ? *"), at("2026-11-26T09:45"));
        assert_eq!(cron("0 0 29 FEB ? *"), at("2028-02-29T00:00"));
        for (days, schedule) in [
            (Some(0), ""),
            (Some(1001), ""),
            (None, "rate(3 hours)"),
            (Some(1), "rate(1 day)"),
            (None, "cron(0 12 * * * *)"),
            (None, "cron(0 12 ? * ? *)"),
            (None, "cron(0 25 * * ? *)"),
            (None, "cron(0 12 L * ? *)"),
            (None, "cron(0 12 * *)"),
            (None, "cron(0 0 30 FEB ? *)"),
        ] {
            assert!(
                next_rotation(days, schedule, now).is_err(),
                "{days:?} {schedule}"
            );
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
        let policy = HookPolicy {
            dir: Some(dir.path().to_path_buf()),
            hosts: vec![],
        };
        let hook = Hook::Command(script.display().to_string());
        hook.run(&policy, "createSecret", "arn", "tok").unwrap();
        let err = hook.run(&policy, "testSecret", "arn", "tok").unwrap_err();
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
        // Only the hosts the operator lists.
        let closed = HookPolicy::default();
        assert!(hook.resolve(&closed).is_err());
        let policy = HookPolicy {
            dir: None,
            hosts: vec![format!("127.0.0.1:{port}")],
        };
        hook.run(&policy, "setSecret", "arn:x", "tok").unwrap();
        let err = hook.run(&policy, "testSecret", "arn:x", "tok").unwrap_err();
        assert!(err.contains("HTTP 500"), "{err}");
        let bodies = server.join().unwrap();
        assert!(bodies[0].starts_with("POST /rotate HTTP/1.1\r\n"));
        assert!(bodies[0].contains(r#""Step":"setSecret""#), "{}", bodies[0]);
    }

    #[test]
    fn only_plain_private_files_in_the_hook_directory_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let hooks = dir.path().join("hooks");
        std::fs::create_dir(&hooks).unwrap();
        std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o755)).unwrap();
        let write = |path: &std::path::Path, mode: u32| {
            std::fs::write(path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write(&hooks.join("ok.sh"), 0o755);
        write(&hooks.join("shared.sh"), 0o777);
        write(&dir.path().join("outside.sh"), 0o755);
        std::os::unix::fs::symlink(dir.path().join("outside.sh"), hooks.join("link.sh")).unwrap();
        let policy = HookPolicy {
            dir: Some(hooks.clone()),
            hosts: vec![],
        };
        let resolve = |text: &str| Hook::Command(text.into()).resolve(&policy);
        assert_eq!(
            resolve("ok.sh").unwrap(),
            Runnable::Command(hooks.join("ok.sh"))
        );
        assert_eq!(
            resolve(&hooks.join("ok.sh").display().to_string()).unwrap(),
            Runnable::Command(hooks.join("ok.sh"))
        );
        for bad in [
            "link.sh".to_string(),
            "shared.sh".into(),
            "missing.sh".into(),
            dir.path().join("outside.sh").display().to_string(),
            format!("{}/../outside.sh", hooks.display()),
            "../outside.sh".into(),
            ".hidden".into(),
        ] {
            assert!(resolve(&bad).is_err(), "{bad}");
        }
        // A directory others can write is refused altogether.
        std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(resolve("ok.sh").is_err());
        assert!(
            Hook::Command("ok.sh".into())
                .resolve(&HookPolicy::default())
                .is_err()
        );
    }
}
