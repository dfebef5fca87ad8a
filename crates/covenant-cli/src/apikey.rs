//! `covenant apikey create|list|revoke`: a new API key for a tenant (printed once), a tenant's
//! keys, and revoking one.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use covenant_core::TenantId;
use covenant_core::audit::AuditDraft;
use covenant_store::{
    ApiKey, Backend, NewApiKey, NewTenant, Role, SECRET_PREFIX, SqlStore, Store, StoreError, display_prefix,
    hash_secret,
};
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

fn when(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Prints a tenant's keys, revoked ones included, oldest first: prefix, role, created, revoked
/// and label.
pub fn list(db: &str, tenant: &str) -> Result<ExitCode> {
    let tenant = TenantId::parse(tenant)?;
    runtime()?.block_on(async {
        let store = open_store(db).await?;
        let keys = store.list_api_keys(&tenant).await;
        store.close().await;
        let keys = match keys {
            Ok(keys) => keys,
            Err(StoreError::NotFound { .. }) => bail!("there is no tenant `{tenant}` in this store"),
            Err(e) => return Err(e).context("cannot list the keys"),
        };
        let rows: Vec<[String; 5]> = keys
            .iter()
            .map(|k| {
                [
                    k.prefix.clone(),
                    k.role.to_string(),
                    when(k.created_at),
                    k.revoked_at.map_or_else(|| "-".to_owned(), when),
                    k.label.clone(),
                ]
            })
            .collect();
        let header = ["PREFIX", "ROLE", "CREATED", "REVOKED", "LABEL"].map(str::to_owned);
        let mut widths = header.clone().map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            println!("{}", line.join("  ").trim_end());
        }
        if rows.is_empty() {
            println!("(tenant `{tenant}` has no keys; create one with `covenant apikey create --tenant {tenant}`)");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Revokes one of a tenant's keys, named by the display prefix shown when it was created and by
/// `covenant apikey list` (or by the whole key).
pub fn revoke(db: &str, tenant: &str, prefix: &str) -> Result<ExitCode> {
    let tenant = TenantId::parse(tenant)?;
    let prefix = prefix.trim();
    runtime()?.block_on(async {
        let store = open_store(db).await?;
        let result = revoke_on(&store, &tenant, prefix).await;
        store.close().await;
        let key = result?;
        println!("revoked API key `{}` (role `{}`) of tenant `{tenant}`", key.prefix, key.role);
        if store.backend() == Backend::Sqlite {
            println!("a running server stops accepting it within its key cache time (60 seconds)");
        } else {
            println!("every server on this database stops accepting it at once");
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn revoke_on(store: &SqlStore, tenant: &TenantId, given: &str) -> Result<ApiKey> {
    let keys = match store.list_api_keys(tenant).await {
        Ok(keys) => keys,
        Err(StoreError::NotFound { .. }) => bail!("there is no tenant `{tenant}` in this store"),
        Err(e) => return Err(e).context("cannot list the keys"),
    };
    // The whole key names itself exactly; a prefix names the keys that share it.
    let whole = given.starts_with(SECRET_PREFIX) && given.len() > display_prefix(given).len();
    let matching: Vec<&ApiKey> = if whole {
        let hash = hash_secret(given);
        keys.iter().filter(|k| k.hash == hash).collect()
    } else {
        keys.iter().filter(|k| k.prefix == given).collect()
    };
    let key = match matching.as_slice() {
        [] => bail!(
            "tenant `{tenant}` has no key `{given}`; `covenant apikey list --tenant {tenant}` shows its keys' prefixes"
        ),
        [key] => *key,
        several => {
            bail!("{} keys of tenant `{tenant}` share the prefix `{given}`; give the whole key instead", several.len())
        }
    };
    if key.revoked_at.is_some() {
        bail!("key `{}` of tenant `{tenant}` is already revoked", key.prefix);
    }
    let audit = AuditDraft::new(
        ACTOR,
        "apikey.revoke",
        &format!("apikey:{}", key.prefix),
        format!("{{\"role\":\"{}\"}}", key.role),
    );
    let w = store.revoke_api_key(tenant, key.id, Timestamp::now(), audit).await.context("cannot revoke the key")?;
    Ok(w.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh SQLite store in a temporary folder of its own.
    async fn store(name: &str) -> (SqlStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("covenant-apikey-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = open_store(&format!("sqlite://{}/c.db?mode=rwc", dir.display())).await.unwrap();
        (store, dir)
    }

    #[test]
    fn keys_are_revoked_by_prefix_or_whole_key_once() {
        runtime().unwrap().block_on(async {
            let (store, dir) = store("revoke").await;
            let acme = TenantId::parse("acme").unwrap();
            assert!(ensure_tenant(&store, &acme).await.unwrap());
            let a = create_key(&store, &acme, Role::Admin, "a").await.unwrap();
            let b = create_key(&store, &acme, Role::Application, "b").await.unwrap();

            let revoked = revoke_on(&store, &acme, display_prefix(&a)).await.unwrap();
            assert_eq!(revoked.prefix, display_prefix(&a));
            assert!(revoked.revoked_at.is_some());
            assert_eq!(store.find_api_key_by_hash(&hash_secret(&a)).await.unwrap(), None, "the key no longer works");
            assert!(store.find_api_key_by_hash(&hash_secret(&b)).await.unwrap().is_some(), "the other one does");

            let again = revoke_on(&store, &acme, display_prefix(&a)).await.unwrap_err().to_string();
            assert!(again.contains("is already revoked"), "{again}");
            let unknown = revoke_on(&store, &acme, "cvk_00000000").await.unwrap_err().to_string();
            assert!(unknown.contains("has no key `cvk_00000000`"), "{unknown}");
            let globex = TenantId::parse("globex").unwrap();
            let tenant = revoke_on(&store, &globex, display_prefix(&b)).await.unwrap_err().to_string();
            assert_eq!(tenant, "there is no tenant `globex` in this store");
            // Another tenant's key is not found under this tenant.
            ensure_tenant(&store, &globex).await.unwrap();
            assert!(revoke_on(&store, &globex, display_prefix(&b)).await.is_err());

            assert_eq!(revoke_on(&store, &acme, &b).await.unwrap().role, Role::Application);
            let keys = store.list_api_keys(&acme).await.unwrap();
            assert!(keys.iter().all(|k| k.revoked_at.is_some()));
            // Every revocation is in the audit log, and the chain holds.
            let entries = store.audit_entries(&acme, 0, 100).await.unwrap();
            assert_eq!(entries.iter().filter(|e| e.action == "apikey.revoke").count(), 2);
            assert_eq!(store.verify_audit(&acme).await.unwrap(), Ok(entries.len() as u64));
            store.close().await;
            std::fs::remove_dir_all(dir).unwrap();
        });
    }
}
