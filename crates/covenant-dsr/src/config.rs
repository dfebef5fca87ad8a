//! The configuration file `covenant.toml`: the policy, the tenant, Covenant's store, and each
//! application database with its annotations. Paths are relative to the file.
//!
//! ```toml
//! policy = "policy.toml"
//! tenant = "demo"
//!
//! [store]
//! url = "sqlite://covenant.db?mode=rwc"
//!
//! [[datasets]]
//! annotations = "crm.dataset.toml"
//! url = "sqlite://crm.db"
//! max_connections = 4            # optional
//!
//! [secrets]                      # optional; needed by `hash` and `pseudonym` strategies
//! pseudonym_key_file = "pseudonym.key"
//! ```

use std::path::{Path, PathBuf};

use covenant_core::TenantId;
use covenant_policy::dataset::{Dataset, load_dataset_file};
use covenant_policy::model::Policy;
use serde::Deserialize;

use crate::error::DsrError;

/// The most connections a dataset's pool may be given.
pub const MAX_CONNECTIONS: u32 = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    policy: String,
    tenant: String,
    store: RawStore,
    #[serde(default)]
    datasets: Vec<RawDataset>,
    #[serde(default)]
    secrets: Option<RawSecrets>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    annotations: String,
    url: String,
    #[serde(default)]
    max_connections: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    pseudonym_key_file: String,
}

/// One application database: its annotations and where it is.
#[derive(Clone, Debug)]
pub struct DatasetConfig {
    pub dataset: Dataset,
    pub annotations: PathBuf,
    /// The database URL, with relative SQLite paths resolved against the configuration file.
    pub url: String,
    pub max_connections: u32,
}

/// A loaded configuration: the policy and every annotation file loaded and checked.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub policy: Policy,
    pub policy_path: PathBuf,
    pub tenant: TenantId,
    pub store_url: String,
    pub datasets: Vec<DatasetConfig>,
    pub pseudonym_key_file: Option<PathBuf>,
}

fn config_err(path: &Path, msg: impl std::fmt::Display) -> DsrError {
    DsrError::Config(format!("configuration `{}`: {msg}", path.display()))
}

/// `sqlite://REL` becomes `sqlite://DIR/REL`; absolute paths, in-memory databases and other
/// schemes are left alone.
pub fn resolve_url(url: &str, dir: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite://") else { return url.to_owned() };
    if rest.starts_with('/') || rest.starts_with(':') || rest.is_empty() {
        return url.to_owned();
    }
    format!("sqlite://{}", dir.join(rest).display())
}

impl Config {
    /// Reads `covenant.toml`, then the policy and every annotation file it names. Every problem
    /// names the file and the key (or file:line:col for the policy and the annotations).
    pub fn load(path: &Path) -> Result<Config, DsrError> {
        let text = std::fs::read_to_string(path).map_err(|e| config_err(path, format!("cannot read it: {e}")))?;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| config_err(path, e.to_string().trim_end()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };

        let tenant = TenantId::parse(&raw.tenant).map_err(|e| config_err(path, format!("key `tenant`: {e}")))?;
        let policy_path = dir.join(&raw.policy);
        let policy =
            covenant_policy::load_file(&policy_path).map_err(|e| config_err(path, format!("key `policy`: {e}")))?;
        if raw.store.url.trim().is_empty() {
            return Err(config_err(
                path,
                "key `store.url` is empty; use `sqlite://covenant.db?mode=rwc` or `postgres://…`",
            ));
        }
        if raw.datasets.is_empty() {
            return Err(config_err(
                path,
                "no `[[datasets]]`; add one per application database (`annotations` and `url`)",
            ));
        }
        let mut datasets: Vec<DatasetConfig> = Vec::new();
        for (i, d) in raw.datasets.iter().enumerate() {
            let annotations = dir.join(&d.annotations);
            let dataset = load_dataset_file(&annotations, &policy)
                .map_err(|e| config_err(path, format!("key `datasets[{i}].annotations`: {e}")))?;
            if let Some(first) = datasets.iter().find(|x| x.dataset.id == dataset.id) {
                return Err(config_err(
                    path,
                    format!(
                        "key `datasets[{i}].annotations`: dataset id `{}` is also the id of `{}`; give each database its own id",
                        dataset.id,
                        first.annotations.display()
                    ),
                ));
            }
            let max_connections = d.max_connections.unwrap_or(4);
            if !(1..=MAX_CONNECTIONS).contains(&max_connections) {
                return Err(config_err(
                    path,
                    format!(
                        "key `datasets[{i}].max_connections`: {max_connections} is not between 1 and {MAX_CONNECTIONS}"
                    ),
                ));
            }
            if !(d.url.starts_with("sqlite:") || d.url.starts_with("postgres://") || d.url.starts_with("postgresql://"))
            {
                return Err(config_err(
                    path,
                    format!(
                        "key `datasets[{i}].url`: `{}` is not a database address; use `sqlite://PATH` or `postgres://…`",
                        covenant_connectors::redact(&d.url)
                    ),
                ));
            }
            datasets.push(DatasetConfig { dataset, annotations, url: resolve_url(&d.url, &dir), max_connections });
        }
        Ok(Config {
            path: path.to_path_buf(),
            policy,
            policy_path,
            tenant,
            store_url: resolve_url(&raw.store.url, &dir),
            datasets,
            pseudonym_key_file: raw.secrets.map(|s| dir.join(s.pseudonym_key_file)),
        })
    }

    /// The datasets' annotations, in the configuration's order.
    pub fn dataset_list(&self) -> Vec<Dataset> {
        self.datasets.iter().map(|d| d.dataset.clone()).collect()
    }
}

/// Reads the 32-byte pseudonym key (64 hex digits), creating it with a fresh random key and
/// owner-only permissions (0600) when the file is missing.
pub fn load_or_create_key(file: &Path) -> Result<[u8; 32], DsrError> {
    let bad = |why: String| DsrError::Config(format!("pseudonym key `{}`: {why}", file.display()));
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let bytes = covenant_connectors::value::unhex(text.trim())
                .filter(|b| b.len() == 32)
                .ok_or_else(|| bad("must hold 64 hexadecimal digits (a 32-byte key)".into()))?;
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| bad(format!("no randomness for a new key: {e}")))?;
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create its folder: {e}")))?;
            }
            write_private(file, &covenant_connectors::value::hex(&key))
                .map_err(|e| bad(format!("cannot write it: {e}")))?;
            Ok(key)
        }
        Err(e) => Err(bad(format!("cannot read it: {e}"))),
    }
}

#[cfg(unix)]
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(file, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_relative_to_the_file() {
        let dir = Path::new("/etc/cov");
        assert_eq!(resolve_url("sqlite://crm.db", dir), "sqlite:///etc/cov/crm.db");
        assert_eq!(resolve_url("sqlite://covenant.db?mode=rwc", dir), "sqlite:///etc/cov/covenant.db?mode=rwc");
        assert_eq!(resolve_url("sqlite:///abs.db", dir), "sqlite:///abs.db");
        assert_eq!(resolve_url("sqlite::memory:", dir), "sqlite::memory:");
        assert_eq!(resolve_url("postgres://u@h/db", dir), "postgres://u@h/db");
    }

    #[test]
    fn keys_are_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/pseudonym.key");
        let a = load_or_create_key(&file).unwrap();
        let b = load_or_create_key(&file).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&file, "xyz").unwrap();
        assert!(load_or_create_key(&file).unwrap_err().to_string().contains("64 hexadecimal digits"));
    }
}
