//! The PostgreSQL backend: a connection pool; each write is one transaction at READ COMMITTED,
//! serialised per tenant by a row lock on the tenant's audit head (`SELECT … FOR UPDATE`), taken
//! as the last step before commit so that it is held briefly.

use std::str::FromStr;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use crate::StoreError;
use crate::migrations;

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

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        migrations::migrator(migrations::POSTGRES).run(&self.pool).await?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}
