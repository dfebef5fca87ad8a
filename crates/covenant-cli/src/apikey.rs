//! `covenant apikey create`: a new API key for a tenant, printed once.

use std::process::ExitCode;

use anyhow::{Context, Result};
use covenant_core::TenantId;
use covenant_core::audit::AuditDraft;
use covenant_store::{NewApiKey, NewTenant, Role, SqlStore, Store, StoreError};
use jiff::Timestamp;

use crate::serve::{open_store, runtime};

/// Who is recorded in the audit log for what the command line does.
const ACTOR: &str = "cli";

/// Creates the tenant unless it exists.
pub async fn ensure_tenant(store: &SqlStore, tenant: &TenantId) -> Result<bool> {
    let new = NewTenant { id: tenant.clone(), name: tenant.as_str().to_owned(), created_at: Timestamp::now() };
    let audit = AuditDraft::new(ACTOR, "tenant.create", &format!("tenant:{tenant}"), "");
    match store.create_tenant(new, audit).await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e).context("cannot create the tenant"),
    }
}

/// Creates a key; returns its secret.
pub async fn create_key(store: &SqlStore, tenant: &TenantId, role: Role, label: &str) -> Result<String> {
    let new = NewApiKey { tenant: tenant.clone(), role, label: label.to_owned(), created_at: Timestamp::now() };
    let detail = format!("{{\"role\":\"{role}\"}}");
    let w = store
        .create_api_key(new, AuditDraft::new(ACTOR, "apikey.create", "apikey", detail))
        .await
        .context("cannot create the key")?;
    Ok(w.value.secret)
}

pub fn create(db: &str, tenant: &str, role: &str, label: Option<&str>) -> Result<ExitCode> {
    let tenant = TenantId::parse(tenant)?;
    let role: Role = role.parse()?;
    runtime()?.block_on(async {
        let store = open_store(db).await?;
        let created = ensure_tenant(&store, &tenant).await?;
        let label = label.map_or_else(|| format!("{role} key"), str::to_owned);
        let secret = create_key(&store, &tenant, role, &label).await?;
        store.close().await;
        if created {
            println!("created tenant `{tenant}`");
        }
        println!(
            "created an API key with role `{role}` for tenant `{tenant}`; it is shown only now, so store it safely:"
        );
        println!("{secret}");
        Ok(ExitCode::SUCCESS)
    })
}
