//! `covenant serve`: the HTTP API over the embedded SQLite store or PostgreSQL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use covenant_server::telemetry::{self, LogFormat};
use covenant_server::{AppState, Config};
use covenant_store::{SqlStore, Store};

use crate::policy_cmd;

/// The embedded store used when no `--db` is given.
pub const DEFAULT_DB: &str = "sqlite://covenant-data/covenant.db?mode=rwc";

/// How `covenant serve` runs.
pub struct ServeOptions<'a> {
    pub db: &'a str,
    pub listen: SocketAddr,
    /// The policy; default: the configuration's.
    pub policy: Option<&'a Path>,
    /// Application databases requests are carried out in (`covenant.toml`).
    pub config: Option<&'a Path>,
    pub public_url: Option<&'a str>,
    pub secret_file: Option<&'a Path>,
    pub log_format: LogFormat,
    pub timeout: Duration,
    /// Request emails go through this SMTP server…
    pub smtp_url: Option<&'a str>,
    /// …or into this directory, one file each; else to the log.
    pub mailbox: Option<&'a Path>,
    pub mail_from: &'a str,
    /// Verified requests the worker carries out together.
    pub worker_batch: usize,
    /// Jobs (or batches) the worker carries out at the same time.
    pub worker_lanes: usize,
}

/// The mail transport for request emails.
fn mailer(opts: &ServeOptions<'_>) -> Result<covenant_server::mail::Mailer> {
    use covenant_server::mail::{Mailer, Transport};
    let transport = match (opts.smtp_url, opts.mailbox) {
        (Some(url), _) => Mailer::smtp(url).map_err(|e| anyhow::anyhow!("{e}"))?,
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create the mailbox `{}`", dir.display()))?;
            Transport::Mailbox(dir.to_path_buf())
        }
        (None, None) => {
            tracing::warn!(
                "no --smtp-url or --mailbox: request emails, one-time codes included, are printed to the log"
            );
            Transport::Console
        }
    };
    Mailer::new(transport, opts.mail_from).map_err(|e| anyhow::anyhow!("--mail-from: {e}"))
}

/// Creates the folder of a `sqlite://` file URL, so that `?mode=rwc` can create the file.
pub fn prepare_sqlite_dir(url: &str) -> Result<()> {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap_or("");
        if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
    }
    Ok(())
}

/// Opens and migrates the store.
pub async fn open_store(url: &str) -> Result<SqlStore> {
    prepare_sqlite_dir(url)?;
    let store = SqlStore::connect(url).await.with_context(|| format!("cannot open the store at `{}`", redact(url)))?;
    store.migrate().await.context("cannot bring the database schema up to date")?;
    Ok(store)
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The secret unsubscribe links are signed with: `COVENANT_SECRET` (64 hex digits) if set, else
/// the file (64 hex digits), created with a fresh random secret when missing.
pub fn load_secret(file: &Path) -> Result<Vec<u8>> {
    if let Ok(hex) = std::env::var("COVENANT_SECRET") {
        return parse_hex(hex.trim()).context("`COVENANT_SECRET` must be 64 hexadecimal digits");
    }
    match std::fs::read_to_string(file) {
        Ok(text) => {
            parse_hex(text.trim()).with_context(|| format!("`{}` must hold 64 hexadecimal digits", file.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = covenant_server::token::random_secret().context("no randomness for a new secret")?;
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
            }
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            write_private(file, &hex).with_context(|| format!("cannot write `{}`", file.display()))?;
            Ok(secret.to_vec())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", file.display())),
    }
}

#[cfg(unix)]
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(file, text)
}

fn parse_hex(s: &str) -> Result<Vec<u8>> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("expected 64 hexadecimal digits");
    }
    (0..32).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).context("not hexadecimal")).collect()
}

/// Where the secret lives by default: next to an embedded SQLite file, else `covenant-data/`.
pub fn default_secret_file(db: &str) -> PathBuf {
    let dir = db
        .strip_prefix("sqlite://")
        .and_then(|rest| Path::new(rest.split('?').next().unwrap_or("")).parent().map(Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("covenant-data"));
    dir.join("secret.key")
}

/// A multi-threaded runtime for the server.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// The executor of the application databases of `ds`, journaling into the server's store at
/// `db` through a connection of its own.
pub async fn open_datasets(ds: &covenant_dsr::Config, db: &str) -> Result<Arc<covenant_dsr::Executor<SqlStore>>> {
    let journal = Arc::new(open_store(db).await?);
    let exec = covenant_dsr::Executor::open(ds, journal)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot open the application databases of `{}`", ds.path.display()))?;
    Ok(Arc::new(exec))
}

pub fn run(opts: &ServeOptions<'_>) -> Result<ExitCode> {
    telemetry::init(opts.log_format);
    let datasets = match opts.config {
        Some(path) => Some(covenant_dsr::Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let policy = match (opts.policy, &datasets) {
        (Some(path), _) => policy_cmd::load(path)?,
        (None, Some(config)) => config.policy.clone(),
        (None, None) => anyhow::bail!("give the policy with `--policy FILE`, or a configuration with `--config FILE`"),
    };
    let secret_file = opts.secret_file.map(Path::to_path_buf).unwrap_or_else(|| default_secret_file(opts.db));
    let secret = load_secret(&secret_file)?;
    runtime()?.block_on(async {
        let store = open_store(opts.db).await?;
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", opts.listen))?;
        let addr = listener.local_addr().context("no local address")?;
        let public_url = opts.public_url.map(str::to_owned).unwrap_or_else(|| format!("http://{addr}"));
        let config = Config {
            policy,
            secret,
            public_url: public_url.clone(),
            request_timeout: opts.timeout,
            key_ttl: Duration::from_secs(60),
        };
        let mut state = AppState::new(store, config)?.with_mailer(mailer(opts)?);
        if let Some(ds) = &datasets {
            let exec = open_datasets(ds, opts.db).await?;
            tracing::info!(
                config = %ds.path.display(),
                datasets = ds.datasets.len(),
                tenant = %ds.tenant,
                "requests are carried out in the application databases"
            );
            state = state.with_fulfillers(vec![Arc::new(covenant_server::datasets::DatasetFulfiller::new(exec))]);
        }
        let state = Arc::new(state);
        tracing::info!(%addr, url = %public_url, db = %redact(opts.db), "covenant is serving");
        let (stop_worker, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker_opts = covenant_server::worker::WorkerOptions {
            batch: opts.worker_batch,
            lanes: opts.worker_lanes,
            ..Default::default()
        };
        let worker = covenant_server::worker::spawn(state.clone(), worker_opts, async {
            let _ = stopped.await;
        });
        covenant_server::serve(listener, covenant_server::router(state.clone()), covenant_server::shutdown_signal())
            .await
            .context("the server failed")?;
        // The worker finishes the job in hand, then stops.
        let _ = stop_worker.send(());
        worker.await.context("the request worker failed")?;
        state.store.close().await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_out_of_messages() {
        assert_eq!(redact("postgres://app:hunter2@db:5432/covenant"), "postgres://app:***@db:5432/covenant");
        assert_eq!(redact("postgres://app@db/covenant"), "postgres://app@db/covenant");
        assert_eq!(redact(DEFAULT_DB), DEFAULT_DB);
    }

    #[test]
    fn the_secret_sits_next_to_the_database() {
        assert_eq!(default_secret_file(DEFAULT_DB), PathBuf::from("covenant-data/secret.key"));
        assert_eq!(default_secret_file("sqlite:///var/lib/cov/c.db"), PathBuf::from("/var/lib/cov/secret.key"));
        assert_eq!(default_secret_file("postgres://db/c"), PathBuf::from("covenant-data/secret.key"));
    }

    #[test]
    fn a_secret_file_is_created_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("covenant-secret-{}", std::process::id()));
        let file = dir.join("secret.key");
        let _ = std::fs::remove_dir_all(&dir);
        let a = load_secret(&file).unwrap();
        let b = load_secret(&file).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        std::fs::write(&file, "zz").unwrap();
        assert!(load_secret(&file).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
