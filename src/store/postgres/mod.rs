//! The PostgreSQL store, for several vaultd processes (replicas) sharing one database: the same
//! tables and the same behaviour as the SQLite store, method for method, through the synchronous
//! `postgres` client (store methods run on blocking threads, never in async code).
//!
//! What sharing adds: writes that read before they write run at `SERIALIZABLE` and are retried
//! when they collide with another process's (`tx.rs`); writes to what the domain caches notify
//! the other processes through `LISTEN`/`NOTIFY` (`feed.rs`); and one process at a time holds the
//! fleet's lead through a session advisory lock (`lead.rs`).
//!
//! No TLS yet: a connection string that requires it is refused at open, never downgraded. The
//! password in the connection string appears in no error, log line or `Debug` output.

mod audit;
mod copy;
mod feed;
mod lead;
mod migrations;
mod parameters;
mod pool;
mod rows;
mod secrets;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod tx;
mod writes;

use std::{str::FromStr, time::Duration, time::SystemTime};

use postgres::{Config, NoTls, config::SslMode};
use uuid::Uuid;

use self::rows::*;
use super::{ChangeSink, Engine, Error, Result, Store, Value};
use crate::{clock::to_millis, model::*};

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long data sent on a pool connection may go unacknowledged before it is given up.
const USER_TIMEOUT: Duration = Duration::from_secs(30);

/// What `application_name` the store's connections show in `pg_stat_activity`.
const APPLICATION_NAME: &str = "vaultd";

/// The PostgreSQL store: a pool of connections, plus one dedicated connection each for the change
/// feed and the fleet's lead, opened when first needed.
pub struct PostgresStore {
    pool: pool::Pool,
    /// The audit writer's own connection: requests holding every pooled one must not hold up
    /// the audit trail (requests are refused when it falls behind).
    audit_pool: pool::Pool,
    /// This store's random id in change notifications (which store wrote a change).
    origin: String,
    feed: feed::Feed,
    lead: lead::Lead,
    writes: writes::WriteLocks,
}

impl std::fmt::Debug for PostgresStore {
    /// Redacted: the settings hold the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore { .. }")
    }
}

/// The error for a failed connection attempt. The client's text names the cause (refused,
/// timed out, authentication failed for a user), never the connection string.
fn connect_error(err: &postgres::Error) -> Error {
    let text = match err.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => err.to_string(),
    };
    Error::Unavailable(format!("cannot connect to PostgreSQL: {text}"))
}

/// The settings of every connection: `url`'s, with a connect timeout (unless it sets one), TCP
/// keepalives and our application name.
fn config_from(url: &str) -> Result<Config> {
    let tls_refused = || {
        Error::Unavailable(
            "TLS to PostgreSQL is not supported yet; use sslmode=disable or prefer on a trusted \
             network"
                .into(),
        )
    };
    let mut config = match Config::from_str(url) {
        Ok(config) => config,
        // The client parses only disable, prefer and require; verify-ca and verify-full ask for
        // TLS too.
        Err(_) if url.to_ascii_lowercase().contains("sslmode=verify") => return Err(tls_refused()),
        // The parser's message names the option at fault, never its value.
        Err(err) => {
            return Err(Error::Unavailable(format!(
                "the PostgreSQL connection string does not parse: {err}"
            )));
        }
    };
    if !matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer) {
        return Err(tls_refused());
    }
    // `prefer` without a TLS implementation connects in plain text, as documented for it.
    config.ssl_mode(SslMode::Disable);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // A request sent on a connection that went dark (no reset: a failed-over address, a cut
    // link) fails after this long instead of TCP's quarter of an hour of retransmissions. It
    // counts unacknowledged data only, so a long query is not cut short.
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(USER_TIMEOUT);
    }
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(15))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3)
        .application_name(APPLICATION_NAME);
    Ok(config)
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?...`, or
    /// libpq's `key=value` form), applies pending migrations, and keeps up to `pool_size`
    /// connections for calls (at least one). A URL that asks for TLS (`sslmode=require` or
    /// `verify-*`) is refused: TLS is not supported yet.
    pub fn open(url: &str, pool_size: usize) -> Result<Self> {
        Self::open_config(config_from(url)?, pool_size)
    }

    fn open_config(config: Config, pool_size: usize) -> Result<Self> {
        let mut client = config.connect(NoTls).map_err(|e| connect_error(&e))?;
        migrations::migrate(&mut client)?;
        drop(client);
        let mut origin = [0u8; 8];
        getrandom::fill(&mut origin).map_err(|e| Error::Unavailable(format!("random: {e}")))?;
        Ok(Self {
            pool: pool::Pool::new(config.clone(), pool_size),
            audit_pool: pool::Pool::new(
                {
                    let mut audit = config.clone();
                    audit.application_name("vaultd-audit");
                    audit
                },
                1,
            ),
            feed: feed::Feed::new(config.clone()),
            writes: writes::WriteLocks::new(config.clone()),
            lead: lead::Lead::new(config),
            origin: hex::encode(origin),
        })
    }

    /// The schema version the code knows.
    pub fn schema_version() -> usize {
        migrations::MIGRATIONS.len()
    }

    fn tags_in(&self, table: TagTable, owner: &str) -> Result<Vec<Tag>> {
        self.query(
            &format!(
                "SELECT tag_key, tag_value FROM {} WHERE {} = $1 ORDER BY tag_key",
                table.name, table.owner
            ),
            &[&owner],
            tag_row,
        )
    }

    fn put_tags_in(&self, table: TagTable, owner: &str, tags: &[Tag]) -> Result<()> {
        self.write(|tx| upsert_tags(tx, table, owner, tags))
    }

    fn remove_tags_in(&self, table: TagTable, owner: &str, keys: &[String]) -> Result<()> {
        let sql = format!(
            "DELETE FROM {} WHERE {} = $1 AND tag_key = $2",
            table.name, table.owner
        );
        self.write(|tx| {
            for key in keys {
                tx.execute(&sql, &[&owner, key])?;
            }
            Ok(())
        })
    }

    fn keys_where(&self, condition: &str, now: SystemTime) -> Result<Vec<Uuid>> {
        self.query(
            &format!("SELECT id FROM keys WHERE {condition}"),
            &[&to_millis(now)],
            |r| uuid_col(r, 0),
        )
    }
}

/// Closes connections on a thread of their own: each `postgres::Client` owns a small tokio
/// runtime, which must not be dropped on a thread that drives async tasks, and a store may be
/// dropped anywhere (with the last request that held its vault).
pub(super) fn close_elsewhere<T: Send + 'static>(connections: T) {
    let spawned = std::thread::Builder::new()
        .name("vaultd-pg-close".into())
        .spawn(move || drop(connections));
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start a thread to close PostgreSQL connections");
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.feed.stop();
    }
}

impl Store for PostgresStore {
    fn database_id(&self) -> Result<Vec<u8>> {
        self.query_opt(
            "SELECT value FROM meta WHERE name = 'database_id'",
            &[],
            |r| col(r, 0),
        )?
        .ok_or_else(|| Error::Corrupt("the database has no id".into()))
    }

    fn sealed_keyring(&self) -> Result<Option<Vec<u8>>> {
        self.query_opt("SELECT value FROM meta WHERE name = 'keyring'", &[], |r| {
            col(r, 0)
        })
    }

    fn init_keyring(&self, sealed: &[u8]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('keyring', $1)",
                &[&sealed],
            )?;
            Ok(())
        })
    }

    fn replace_keyring(&self, sealed: &[u8]) -> Result<()> {
        self.write(|tx| {
            match tx.execute(
                "UPDATE meta SET value = $1 WHERE name = 'keyring'",
                &[&sealed],
            )? {
                1 => Ok(()),
                _ => Err(not_updated("keyring")),
            }
        })
    }

    fn snapshot_to(&self, _path: &std::path::Path) -> Result<()> {
        Err(Error::Unavailable(
            "backups of a PostgreSQL store are taken with pg_dump (or your provider's snapshots), \
             not CreateBackup"
                .into(),
        ))
    }

    fn insert_key(
        &self,
        key: &KeyRecord,
        material: Option<&MaterialVersion>,
        tags: &[Tag],
    ) -> Result<()> {
        let id = key.id.to_string();
        self.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13, $14, $15)"
                ),
                &[
                    &id,
                    &to_millis(key.created_at),
                    &key.description,
                    &key.key_spec.as_str(),
                    &key.key_usage.as_str(),
                    &key.origin.as_str(),
                    &key.key_manager.as_str(),
                    &key.state.as_str(),
                    &opt_millis(key.deletion_date),
                    &key.pending_window_days.map(i64::from),
                    &key.rotation.map(|r| i64::from(r.period_days)),
                    &key.rotation.map(|r| to_millis(r.next_rotation)),
                    &i64::from(key.current_version),
                    &key.expiration_model.map(ExpirationModel::as_str),
                    &opt_millis(key.valid_to),
                ],
            )?;
            if let Some(material) = material {
                insert_material(tx, material)?;
            }
            upsert_tags(tx, KEY_TAGS, &id, tags)?;
            tx.notify('k', &id)?;
            Ok(())
        })
    }

    fn key(&self, id: Uuid) -> Result<Option<KeyRecord>> {
        self.query_opt(
            &format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = $1"),
            &[&id.to_string()],
            key_row,
        )
    }

    fn list_keys(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<KeyRecord>> {
        let after = after.map(|u| u.to_string()).unwrap_or_default();
        self.query(
            &format!("SELECT {KEY_COLUMNS} FROM keys WHERE id > $1 ORDER BY id LIMIT $2"),
            &[&after, &int(limit)],
            key_row,
        )
    }

    fn update_key(&self, key: &KeyRecord) -> Result<()> {
        self.write(|tx| match write_key_metadata(tx, key)? {
            1 => Ok(tx.notify('k', &key.id.to_string())?),
            _ => Err(not_updated("key")),
        })
    }

    fn add_material(&self, key: &KeyRecord, material: &MaterialVersion) -> Result<()> {
        self.write(|tx| {
            insert_material(tx, material)?;
            match write_key_metadata(tx, key)? {
                1 => Ok(tx.notify('k', &key.id.to_string())?),
                _ => Err(not_updated("key")),
            }
        })
    }

    fn import_material(&self, key: &KeyRecord, material: &MaterialVersion) -> Result<()> {
        self.write(|tx| {
            if upsert_imported_material(tx, material)? != 1 {
                return Err(not_updated("key material"));
            }
            match write_key_metadata(tx, key)? {
                1 => Ok(tx.notify('k', &key.id.to_string())?),
                _ => Err(not_updated("key")),
            }
        })
    }

    /// As SQLite's: the rows stay (with their fingerprints), the sealed material is set to NULL.
    /// Unlike SQLite's (secure_delete and a WAL checkpoint), PostgreSQL cannot be made to
    /// overwrite the old row versions at once: they stay in the table's pages until VACUUM
    /// reclaims them, and in the WAL and any backups for as long as those are kept. The material
    /// is sealed under the barrier, so what lingers is ciphertext.
    fn delete_materials(&self, key: &KeyRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE key_materials SET sealed = NULL WHERE key_id = $1",
                &[&key.id.to_string()],
            )?;
            match write_key_metadata(tx, key)? {
                1 => Ok(tx.notify('k', &key.id.to_string())?),
                _ => Err(not_updated("key")),
            }
        })
    }

    fn keys_due_for_material_expiry(&self, now: SystemTime) -> Result<Vec<Uuid>> {
        self.keys_where("valid_to IS NOT NULL AND valid_to <= $1", now)
    }

    fn materials(&self, key_id: Uuid) -> Result<Vec<MaterialVersion>> {
        self.query(
            &format!(
                "SELECT {MATERIAL_COLUMNS} FROM key_materials WHERE key_id = $1 ORDER BY version"
            ),
            &[&key_id.to_string()],
            material_row,
        )
    }

    fn delete_key(&self, id: Uuid) -> Result<()> {
        let id = id.to_string();
        self.write(|tx| {
            // The aliases go with the key (ON DELETE CASCADE): say so for each.
            let aliases = tx.query("SELECT name FROM aliases WHERE key_id = $1", &[&id])?;
            let deleted = tx.execute("DELETE FROM keys WHERE id = $1", &[&id])?;
            if deleted > 0 {
                tx.notify('k', &id)?;
                for alias in &aliases {
                    tx.notify('a', &col::<String>(alias, 0)?)?;
                }
            }
            Ok(())
        })
    }

    fn keys_due_for_deletion(&self, now: SystemTime) -> Result<Vec<Uuid>> {
        self.keys_where(
            "deletion_date IS NOT NULL AND deletion_date <= $1 AND state = 'PendingDeletion'",
            now,
        )
    }

    fn count_keys_by_state(&self) -> Result<Vec<(KeyState, u64)>> {
        self.query(
            "SELECT state, COUNT(*) FROM keys GROUP BY state ORDER BY state",
            &[],
            |row| {
                let state: String = col(row, 0)?;
                let count: i64 = col(row, 1)?;
                KeyState::parse(&state)
                    .map(|s| (s, count.max(0) as u64))
                    .ok_or_else(|| Error::Corrupt(format!("unknown key state {state:?}")))
            },
        )
    }

    fn keys_due_for_rotation(&self, now: SystemTime) -> Result<Vec<Uuid>> {
        self.keys_where(
            "next_rotation_at IS NOT NULL AND next_rotation_at <= $1 AND state = 'Enabled'",
            now,
        )
    }

    fn tags(&self, key_id: Uuid) -> Result<Vec<Tag>> {
        self.tags_in(KEY_TAGS, &key_id.to_string())
    }

    fn put_tags(&self, key_id: Uuid, tags: &[Tag]) -> Result<()> {
        self.put_tags_in(KEY_TAGS, &key_id.to_string(), tags)
    }

    fn remove_tags(&self, key_id: Uuid, tag_keys: &[String]) -> Result<()> {
        self.remove_tags_in(KEY_TAGS, &key_id.to_string(), tag_keys)
    }

    fn alias(&self, name: &str) -> Result<Option<AliasRecord>> {
        self.query_opt(
            &format!("SELECT {ALIAS_COLUMNS} FROM aliases WHERE name = $1"),
            &[&name],
            alias_row,
        )
    }

    fn insert_alias(&self, alias: &AliasRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO aliases ({ALIAS_COLUMNS}) VALUES ($1, $2, $3, $4)"),
                &[
                    &alias.name,
                    &alias.key_id.to_string(),
                    &to_millis(alias.created_at),
                    &to_millis(alias.updated_at),
                ],
            )?;
            Ok(tx.notify('a', &alias.name)?)
        })
    }

    fn update_alias(&self, alias: &AliasRecord) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE aliases SET key_id = $2, updated_at = $3 WHERE name = $1",
                &[
                    &alias.name,
                    &alias.key_id.to_string(),
                    &to_millis(alias.updated_at),
                ],
            )?;
            if n == 1 {
                Ok(tx.notify('a', &alias.name)?)
            } else {
                Err(not_updated("alias"))
            }
        })
    }

    fn delete_alias(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            let deleted = tx.execute("DELETE FROM aliases WHERE name = $1", &[&name])? == 1;
            if deleted {
                tx.notify('a', name)?;
            }
            Ok(deleted)
        })
    }

    fn list_aliases(
        &self,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AliasRecord>> {
        self.query(
            &format!(
                "SELECT {ALIAS_COLUMNS} FROM aliases \
                 WHERE ($1::text IS NULL OR key_id = $1) AND name > $2 ORDER BY name LIMIT $3"
            ),
            &[
                &key_id.map(|k| k.to_string()),
                &after.unwrap_or(""),
                &int(limit),
            ],
            alias_row,
        )
    }

    /// `lower()` under the "C" collation folds ASCII letters only, on both sides, as SQLite's
    /// NOCASE does (and the unique index is on the same expression).
    fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        self.query_opt(
            &format!(
                "SELECT {USER_COLUMNS} FROM users WHERE lower(name) = lower($1 COLLATE \"C\")"
            ),
            &[&name],
            user_row,
        )
    }

    fn user(&self, id: &str) -> Result<Option<UserRecord>> {
        self.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[&id],
            user_row,
        )
    }

    fn insert_user(&self, user: &UserRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4)"),
                &[
                    &user.id,
                    &user.name,
                    &to_millis(user.created_at),
                    &opt_millis(user.sessions_valid_after),
                ],
            )?;
            Ok(tx.notify('u', &user.id)?)
        })
    }

    fn list_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<UserRecord>> {
        self.query(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE name > $1 ORDER BY name LIMIT $2"),
            &[&after.unwrap_or(""), &int(limit)],
            user_row,
        )
    }

    fn delete_user(&self, id: &str) -> Result<bool> {
        self.write(|tx| {
            let attached: i64 = col(
                &tx.query_one(
                    "SELECT (SELECT count(*) FROM access_keys WHERE user_id = $1) \
                          + (SELECT count(*) FROM user_policies WHERE user_id = $1)",
                    &[&id],
                )?,
                0,
            )?;
            if attached > 0 {
                return Err(
                    Error::Conflict("the user still has access keys or policies".into()).into(),
                );
            }
            let deleted = tx.execute("DELETE FROM users WHERE id = $1", &[&id])? == 1;
            if deleted {
                tx.notify('u', id)?;
            }
            Ok(deleted)
        })
    }

    fn set_sessions_valid_after(&self, user_id: &str, at: SystemTime) -> Result<bool> {
        self.write(|tx| {
            let updated = tx.execute(
                "UPDATE users SET sessions_valid_after = $2 WHERE id = $1",
                &[&user_id, &to_millis(at)],
            )? == 1;
            if updated {
                tx.notify('u', user_id)?;
            }
            Ok(updated)
        })
    }

    fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>> {
        self.query_opt(
            &format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE id = $1"),
            &[&id],
            access_key_row,
        )
    }

    fn access_keys_of(&self, user_id: &str) -> Result<Vec<AccessKeyRecord>> {
        self.query(
            &format!(
                "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE user_id = $1 \
                 ORDER BY created_at, id"
            ),
            &[&user_id],
            access_key_row,
        )
    }

    fn insert_access_key(&self, key: &AccessKeyRecord, max_per_user: usize) -> Result<bool> {
        self.write(|tx| {
            let count: i64 = col(
                &tx.query_one(
                    "SELECT count(*) FROM access_keys WHERE user_id = $1",
                    &[&key.user_id],
                )?,
                0,
            )?;
            if count as usize >= max_per_user {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ),
                &[
                    &key.id,
                    &key.user_id,
                    &key.status.as_str(),
                    &to_millis(key.created_at),
                    &key.sealed_secret,
                    &opt_millis(key.sessions_valid_after),
                ],
            )?;
            tx.notify('x', &key.id)?;
            Ok(true)
        })
    }

    fn update_access_key(&self, key: &AccessKeyRecord) -> Result<bool> {
        self.write(|tx| {
            let updated = tx.execute(
                "UPDATE access_keys SET status = $2, sessions_valid_after = $3 WHERE id = $1",
                &[
                    &key.id,
                    &key.status.as_str(),
                    &opt_millis(key.sessions_valid_after),
                ],
            )? == 1;
            if updated {
                tx.notify('x', &key.id)?;
            }
            Ok(updated)
        })
    }

    fn delete_access_key(&self, id: &str) -> Result<bool> {
        self.write(|tx| {
            let deleted = tx.execute("DELETE FROM access_keys WHERE id = $1", &[&id])? == 1;
            if deleted {
                tx.notify('x', id)?;
            }
            Ok(deleted)
        })
    }

    fn user_policies(&self, user_id: &str) -> Result<Vec<UserPolicyRecord>> {
        self.query(
            "SELECT user_id, name, document FROM user_policies WHERE user_id = $1 ORDER BY name",
            &[&user_id],
            |r| {
                Ok(UserPolicyRecord {
                    user_id: col(r, 0)?,
                    name: col(r, 1)?,
                    document: col(r, 2)?,
                })
            },
        )
    }

    fn put_user_policy(&self, policy: &UserPolicyRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO user_policies (user_id, name, document) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, name) DO UPDATE SET document = excluded.document",
                &[&policy.user_id, &policy.name, &policy.document],
            )?;
            Ok(tx.notify('u', &policy.user_id)?)
        })
    }

    fn delete_user_policy(&self, user_id: &str, name: &str) -> Result<bool> {
        self.write(|tx| {
            let deleted = tx.execute(
                "DELETE FROM user_policies WHERE user_id = $1 AND name = $2",
                &[&user_id, &name],
            )? == 1;
            if deleted {
                tx.notify('u', user_id)?;
            }
            Ok(deleted)
        })
    }

    fn parameter_latest_version(&self, name: &str) -> Result<Option<u64>> {
        parameters::latest_version(self, name)
    }

    fn add_parameter_version(
        &self,
        version: &ParameterVersionRecord,
        tags: &[Tag],
        prune: Option<u64>,
    ) -> Result<()> {
        parameters::add_version(self, version, tags, prune)
    }

    fn parameter_version(
        &self,
        name: &str,
        version: Option<u64>,
    ) -> Result<Option<ParameterVersionRecord>> {
        parameters::version(self, name, version)
    }

    fn parameter_label(&self, name: &str, label: &str) -> Result<Option<u64>> {
        parameters::label(self, name, label)
    }

    fn parameter_versions(&self, name: &str) -> Result<Vec<ParameterVersionRecord>> {
        parameters::versions(self, name)
    }

    fn parameters_with_prefix(
        &self,
        prefix: &str,
        one_level: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ParameterVersionRecord>> {
        parameters::with_prefix(self, prefix, one_level, after, limit)
    }

    fn delete_parameter(&self, name: &str) -> Result<bool> {
        parameters::delete(self, name)
    }

    fn label_parameter_version(&self, name: &str, version: u64, labels: &[String]) -> Result<()> {
        parameters::add_labels(self, name, version, labels)
    }

    fn unlabel_parameter_version(
        &self,
        name: &str,
        version: u64,
        labels: &[String],
    ) -> Result<Vec<String>> {
        parameters::remove_labels(self, name, version, labels)
    }

    fn parameter_tags(&self, name: &str) -> Result<Vec<Tag>> {
        self.tags_in(PARAMETER_TAGS, name)
    }

    fn put_parameter_tags(&self, name: &str, tags: &[Tag]) -> Result<()> {
        self.put_tags_in(PARAMETER_TAGS, name, tags)
    }

    fn remove_parameter_tags(&self, name: &str, keys: &[String]) -> Result<()> {
        self.remove_tags_in(PARAMETER_TAGS, name, keys)
    }

    fn secret(&self, arn: &str) -> Result<Option<SecretRecord>> {
        secrets::secret(self, arn)
    }

    fn secret_by_name(&self, name: &str) -> Result<Option<SecretRecord>> {
        secrets::secret_by_name(self, name)
    }

    fn list_secrets(&self) -> Result<Vec<SecretRecord>> {
        secrets::list(self)
    }

    fn secrets_due_for_deletion(&self, now: SystemTime) -> Result<Vec<String>> {
        secrets::due_for_deletion(self, to_millis(now))
    }

    fn secrets_due_for_rotation(&self, now: SystemTime) -> Result<Vec<String>> {
        secrets::due_for_rotation(self, to_millis(now))
    }

    fn write_secret(
        &self,
        secret: &SecretRecord,
        version: Option<&SecretVersionRecord>,
        stages: &[(String, Option<String>)],
        prune: &[String],
        tags: &[Tag],
    ) -> Result<()> {
        secrets::write(self, secret, version, stages, prune, tags)
    }

    fn secret_versions(&self, arn: &str) -> Result<Vec<SecretVersionRecord>> {
        secrets::versions(self, arn)
    }

    fn delete_secret(&self, arn: &str) -> Result<bool> {
        secrets::delete(self, arn)
    }

    fn secret_tags(&self, arn: &str) -> Result<Vec<Tag>> {
        self.tags_in(SECRET_TAGS, arn)
    }

    fn put_secret_tags(&self, arn: &str, tags: &[Tag]) -> Result<()> {
        self.put_tags_in(SECRET_TAGS, arn, tags)
    }

    fn remove_secret_tags(&self, arn: &str, keys: &[String]) -> Result<()> {
        self.remove_tags_in(SECRET_TAGS, arn, keys)
    }

    fn append_audit_events(&self, events: &[AuditRecord]) -> Result<()> {
        audit::append(self, events)
    }

    fn last_audit_event(&self) -> Result<Option<AuditRecord>> {
        audit::last(self)
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        audit::query(self, query)
    }

    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn watch_changes(&self, sink: ChangeSink) -> Result<()> {
        self.feed.watch(sink)
    }

    fn hold_lead(&self) -> Result<bool> {
        self.lead.hold()
    }

    fn serialize_writes(&self, scope: &'static str) -> Result<super::WriteGuard> {
        self.writes.lock(scope)
    }

    fn dump_table(
        &self,
        table: &str,
        columns: &mut dyn FnMut(&[String]) -> Result<()>,
        row: &mut dyn FnMut(Vec<Value>) -> Result<()>,
    ) -> Result<()> {
        copy::dump(self, table, columns, row)
    }

    fn load_rows(&self, table: &str, columns: &[String], rows: &[Vec<Value>]) -> Result<()> {
        copy::load(self, table, columns, rows)
    }
}
