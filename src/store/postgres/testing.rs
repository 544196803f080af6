//! Test databases: each test gets a fresh database on the server `VAULTD_TEST_DATABASE_URL`
//! names (created through it, dropped when the guard goes), so tests run in parallel. Without
//! the variable, PostgreSQL tests are skipped (and say so).

use std::str::FromStr;

use postgres::{Client, Config, NoTls};

use super::PostgresStore;

/// The variable naming an administrator's connection string (one that may create databases).
pub(crate) const URL_VARIABLE: &str = "VAULTD_TEST_DATABASE_URL";

/// A database of its own for one test, dropped (with any connection still open to it) when this
/// goes.
pub(crate) struct TestDb {
    admin: String,
    pub(crate) name: String,
}

impl TestDb {
    /// A new empty database, or `None` (with a notice) when no server is configured.
    pub(crate) fn create() -> Option<Self> {
        let Ok(admin) = std::env::var(URL_VARIABLE) else {
            eprintln!("skipped: set {URL_VARIABLE} to run the PostgreSQL tests");
            return None;
        };
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).unwrap();
        let name = format!("vaultd_t_{}", hex::encode(suffix));
        let mut client = Client::connect(&admin, NoTls).expect("connect to the test server");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Some(Self { admin, name })
    }

    /// The settings of a connection to this database.
    pub(crate) fn config(&self) -> Config {
        let mut config = Config::from_str(&self.admin).unwrap();
        config.dbname(&self.name);
        config
    }

    /// A store on this database (migrated at open).
    pub(crate) fn open(&self) -> PostgresStore {
        self.open_pool(4)
    }

    pub(crate) fn open_pool(&self, pool_size: usize) -> PostgresStore {
        let mut config = super::config_from(&self.admin).unwrap();
        config.dbname(&self.name);
        PostgresStore::open_config(config, pool_size).unwrap()
    }

    /// An administrator's connection to this database (to look at it, or terminate sessions).
    pub(crate) fn admin(&self) -> Client {
        self.config().connect(NoTls).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&self.admin, NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
