//! `covenant audit verify`: checks every tenant's audit chain.

use std::process::ExitCode;

use anyhow::{Context, Result};
use covenant_store::Store;
use indicatif::{ProgressBar, ProgressStyle};

use crate::serve::{open_store, runtime};

/// Verifies each tenant's chain in turn, with a progress bar over all entries. Exits 0 when every
/// chain is intact, 1 naming each broken tenant and its first bad entry.
pub fn verify(db: &str) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open_store(db).await?;
        let tenants = store.list_tenants().await.context("cannot list the tenants")?;
        let mut heads = Vec::with_capacity(tenants.len());
        for t in &tenants {
            heads.push(store.audit_head(&t.id).await.context("cannot read an audit head")?.seq);
        }
        let bar = ProgressBar::new(heads.iter().sum());
        bar.set_style(
            ProgressStyle::with_template("{spinner} verifying {msg} [{bar:30}] {pos}/{len} entries")
                .context("progress bar template")?
                .progress_chars("=> "),
        );
        let mut broken = Vec::new();
        let mut total = 0u64;
        for (t, head) in tenants.iter().zip(&heads) {
            bar.set_message(format!("`{}`", t.id));
            match store.verify_audit(&t.id).await.context("cannot read the audit log")? {
                Ok(n) => total += n,
                Err(e) => broken.push((t.id.clone(), e)),
            }
            bar.inc(*head);
        }
        bar.finish_and_clear();
        store.close().await;
        if broken.is_empty() {
            println!(
                "ok: {} tenant{}, {total} audit entries, every chain intact",
                tenants.len(),
                plural(tenants.len())
            );
            return Ok(ExitCode::SUCCESS);
        }
        for (tenant, e) in &broken {
            eprintln!("error: the audit chain of tenant `{tenant}` is broken at entry {}: {e}", e.seq());
        }
        Ok(ExitCode::from(1))
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
