//! `covenant audit verify`: checks every tenant's audit chain.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use covenant_store::Store;
use indicatif::{ProgressBar, ProgressStyle};

use crate::serve::{open_store, runtime};

/// Verifies each tenant's chain in turn, with a progress bar over all entries (on a terminal),
/// then prints how many entries were checked a second. Exits 0 when every chain is intact, 1
/// naming each broken tenant and its first bad entry.
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
            ProgressStyle::with_template(
                "{spinner} verifying {msg} [{bar:30}] {human_pos}/{human_len} entries ({eta} left)",
            )
            .context("progress bar template")?
            .progress_chars("=> "),
        );
        let mut broken = Vec::new();
        let (mut total, mut checked) = (0u64, 0u64);
        let start = Instant::now();
        for (t, head) in tenants.iter().zip(&heads) {
            bar.set_message(format!("`{}`", t.id));
            let before = bar.position();
            let progress = bar.clone();
            let result = store
                .verify_audit_progress(&t.id, Arc::new(move |n| progress.inc(n)))
                .await
                .context("cannot read the audit log")?;
            match result {
                Ok(n) => total += n,
                Err(e) => broken.push((t.id.clone(), e)),
            }
            checked += bar.position() - before;
            // A broken chain stops early: count the rest of its entries as done.
            bar.set_position(before + head);
        }
        let elapsed = start.elapsed();
        bar.finish_and_clear();
        store.close().await;
        let rate = if elapsed.as_secs_f64() > 0.0 { checked as f64 / elapsed.as_secs_f64() } else { 0.0 };
        let timing = format!("{checked} entries checked in {:.3} s: {rate:.0} entries/s", elapsed.as_secs_f64());
        if broken.is_empty() {
            println!(
                "ok: {} tenant{}, {total} audit entries, every chain intact ({timing})",
                tenants.len(),
                plural(tenants.len())
            );
            return Ok(ExitCode::SUCCESS);
        }
        for (tenant, e) in &broken {
            eprintln!("error: the audit chain of tenant `{tenant}` is broken at entry {}: {e}", e.seq());
        }
        eprintln!("{timing}");
        Ok(ExitCode::from(1))
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
