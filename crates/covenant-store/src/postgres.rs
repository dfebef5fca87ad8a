//! The PostgreSQL backend: a connection pool; each write is one transaction at READ COMMITTED,
//! serialised per tenant by a row lock on the tenant's audit head (`SELECT … FOR UPDATE`), taken
//! as the last step before commit so that it is held briefly.
//!
//! Writes that change state a server caches (a subject's ledger, flags, events and identities;
//! an API key) also send a notice on one channel (`pg_notify`, in the write's transaction, so it
//! is delivered when the write commits and never when it rolls back); [`PgBackend::watch`]
//! follows them on a connection of its own, for servers sharing the database to drop what they
//! cached.

use std::str::FromStr;
use std::time::Duration;

use covenant_core::{SubjectId, TenantId};
use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use crate::StoreError;
use crate::migrations;
use crate::ops::CHANNEL;

/// A change committed to the database, as announced to the stores watching it
/// ([`crate::SqlStore::watch`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The watch is listening (again). `reconnected`: it had lost its connection, so changes
    /// committed meanwhile were missed: drop everything cached.
    Listening { reconnected: bool },
    /// The watch lost its connection (or could not make it): until the next
    /// [`Change::Listening`], changes are missed, so nothing cached may be trusted.
    Lost { reason: String },
    /// A subject's ledger, flags, lifecycle events or identities changed.
    Subject { tenant: TenantId, subject: SubjectId },
    /// An API key changed (it was revoked); `hash` is the SHA-256 of the key.
    Key { hash: [u8; 32] },
}

impl Change {
    /// Reads a notice's payload: `tenant/subject` or `key/<64 hex digits>`. Anything else is
    /// ignored (`None`).
    pub(crate) fn parse(payload: &str) -> Option<Change> {
        let (head, rest) = payload.split_once('/')?;
        if head == "key" && rest.len() == 64 {
            let mut hash = [0u8; 32];
            for (i, b) in hash.iter_mut().enumerate() {
                *b = u8::from_str_radix(rest.get(2 * i..2 * i + 2)?, 16).ok()?;
            }
            return Some(Change::Key { hash });
        }
        let tenant = TenantId::parse(head).ok()?;
        let subject = SubjectId::parse(rest).ok()?;
        Some(Change::Subject { tenant, subject })
    }
}

/// Follows the changes for as long as it lives; dropping it stops the task.
#[derive(Debug)]
pub struct Watch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The first pause before connecting again, doubled after each failure up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Settings of a PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    pub max_connections: u32,
}

impl Default for PostgresOptions {
    fn default() -> PostgresOptions {
        PostgresOptions { max_connections: 16 }
    }
}

pub(crate) struct PgBackend {
    pool: PgPool,
}

impl PgBackend {
    pub(crate) async fn open(url: &str, options: &PostgresOptions) -> Result<PgBackend, StoreError> {
        let connect = PgConnectOptions::from_str(url).map_err(|_| StoreError::Url(url.to_owned()))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect)
            .await
            .map_err(StoreError::backend("connecting to PostgreSQL"))?;
        Ok(PgBackend { pool })
    }

    /// Runs `f` in a transaction: committed if it succeeds, rolled back if it fails.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(StoreError::backend("connecting to PostgreSQL"))?;
        let mut tx = conn.begin().await.map_err(StoreError::backend("starting a transaction"))?;
        match f(&mut tx).await {
            Ok(v) => {
                tx.commit()
                    .await
                    .map_err(|e| StoreError::Commit(std::sync::Arc::new(StoreError::backend("committing")(e))))?;
                Ok(v)
            }
            Err(e) => {
                // Dropping an unfinished transaction also rolls it back; this reports nothing more.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Runs `f` on a pooled connection.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(StoreError::backend("connecting to PostgreSQL"))?;
        f(&mut conn).await
    }

    /// Verifies a tenant's audit chain on a pooled connection (see `verify`).
    pub(crate) async fn verify_audit(
        &self,
        tenant: &covenant_core::TenantId,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<crate::Verified, StoreError> {
        crate::verify::postgres(&self.pool, tenant, crate::verify::parts(), progress).await
    }

    /// Starts a task that listens for change notices on a connection of its own (application
    /// name `covenant-listener`) and calls `on` with each, in order; it reconnects by itself,
    /// telling `on` when it loses and regains its connection. Must run inside a Tokio runtime.
    pub(crate) fn watch(&self, mut on: impl FnMut(Change) + Send + 'static) -> Watch {
        let options = (*self.pool.connect_options()).clone().application_name("covenant-listener");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options);
        let task = tokio::spawn(async move {
            // Whether it ever listened, and whether the loss of the connection was already told.
            let mut listened = false;
            let mut lost = false;
            let mut pause = FIRST_RETRY;
            loop {
                let listener = async {
                    let mut l = PgListener::connect_with(&pool).await?;
                    // Report a lost connection at once rather than reconnecting first.
                    l.eager_reconnect(false);
                    l.listen(CHANNEL).await?;
                    Ok::<_, sqlx::Error>(l)
                }
                .await;
                let mut listener = match listener {
                    Ok(l) => l,
                    Err(e) => {
                        if !lost {
                            lost = true;
                            on(Change::Lost { reason: format!("cannot listen for changes: {e}") });
                        }
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_RETRY);
                        continue;
                    }
                };
                pause = FIRST_RETRY;
                on(Change::Listening { reconnected: listened });
                listened = true;
                let reason = loop {
                    match listener.try_recv().await {
                        Ok(Some(n)) => {
                            if let Some(change) = Change::parse(n.payload()) {
                                on(change);
                            }
                        }
                        Ok(None) => break "the connection was closed".to_owned(),
                        Err(e) => break e.to_string(),
                    }
                };
                drop(listener);
                lost = true;
                on(Change::Lost { reason: format!("lost the connection listening for changes: {reason}") });
            }
        });
        Watch { task }
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        migrations::migrator(migrations::POSTGRES).run(&self.pool).await?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_read_back() {
        let subject = SubjectId::parse("0190f3a2-7b4c-7d2e-8f00-123456789abc").unwrap();
        assert_eq!(
            Change::parse("acme-eu/0190f3a2-7b4c-7d2e-8f00-123456789abc"),
            Some(Change::Subject { tenant: TenantId::parse("acme-eu").unwrap(), subject })
        );
        let hex = "00ff".repeat(16);
        let mut hash = [0u8; 32];
        for (i, b) in hash.iter_mut().enumerate() {
            *b = if i % 2 == 0 { 0 } else { 0xff };
        }
        assert_eq!(Change::parse(&format!("key/{hex}")), Some(Change::Key { hash }));
        // A tenant named `key` still has subjects.
        assert!(matches!(Change::parse("key/0190f3a2-7b4c-7d2e-8f00-123456789abc"), Some(Change::Subject { .. })));
        for bad in ["", "acme", "acme/", "acme/not-a-uuid", "Bad Tenant/0190f3a2-7b4c-7d2e-8f00-123456789abc", "key/zz"]
        {
            assert_eq!(Change::parse(bad), None, "{bad}");
        }
    }
}
