//! `covenant bench worker`: verified erasure requests carried out by the server's worker, in
//! batches against one at a time, in the same run.
//!
//! Generates the demo application (or uses --config's), then queues REQUESTS erasure requests of
//! the demo's users in Covenant's store as the API does once a request is verified (one
//! `request.fulfil` job each), in four rounds. The worker of `covenant serve` carries out each
//! round until its queue is empty: rounds 1 and 4 claim up to --batch fulfilments at a time
//! (their people looked up together, their writes in one transaction per application
//! database), --lanes batches at the same time, rounds 2 and 3 one job after the other
//! (`--worker-batch 1 --worker-lanes 1`). Everything a request goes
//! through in the worker counts: its start and completion in the store, the journal, the
//! answer, the audit entries. Prints both rates and their ratio; every request is checked to
//! have completed.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use covenant_connectors::{Connector, ConnectorOptions};
use covenant_core::audit::AuditDraft;
use covenant_core::{Identity, RequestEvent, RequestId, RequestKind, RequestState, TenantId};
use covenant_server::worker::{self, FULFIL, FulfilJob, WorkerOptions};
use covenant_server::{AppState, Config};
use covenant_store::{NewRequest, NewTenant, RequestSource, RequestStore as _, RequestUpdate, SqlStore, Store as _};
use jiff::{SignedDuration, Timestamp};

use crate::bench_dsr::{DemoSource, User, demo_config, users};

pub struct WorkerBenchOptions<'a> {
    pub demo: DemoSource<'a>,
    pub requests: usize,
    pub batch: usize,
    pub lanes: usize,
}

/// Queues an erasure request of each user, as verification does: received, code sent,
/// verified, queued with its fulfilment job.
async fn queue(store: &SqlStore, tenant: &TenantId, users: &[User]) -> Result<Vec<RequestId>> {
    let mut ids = Vec::with_capacity(users.len());
    for u in users {
        let now = Timestamp::now();
        let identity = Identity::email(&u.email).with_context(|| format!("user {}", u.id))?;
        let new = NewRequest {
            tenant: tenant.clone(),
            kind: RequestKind::Erasure,
            source: RequestSource::Requester,
            identity,
            contact: None,
            subject: None,
            jurisdiction: None,
            customer: None,
            received_at: now,
            due_at: now.checked_add(SignedDuration::from_hours(24 * 30))?,
            acknowledge_by: None,
            details: "{}".to_owned(),
            actor: "bench".to_owned(),
        };
        let draft = || AuditDraft::new("bench", "request.create", "request", "{}");
        let req = store.create_request(new, Vec::new(), draft()).await?.value;
        let job = worker::job(tenant, FULFIL, &FulfilJob { request: req.id.to_string() });
        let updates = vec![
            RequestUpdate::event(RequestEvent::SendCode, "bench", now, "{}"),
            RequestUpdate::event(RequestEvent::Verify, "bench", now, "{}"),
            RequestUpdate::event(RequestEvent::Queue, "bench", now, "{}").enqueue(job),
        ];
        store.update_request(tenant, req.id, updates, draft()).await?;
        ids.push(req.id);
    }
    Ok(ids)
}

pub fn run(opts: &WorkerBenchOptions<'_>) -> Result<ExitCode> {
    if opts.requests < 4 || opts.batch == 0 {
        bail!("`--requests` must be at least 4 (four rounds) and `--batch` at least 1");
    }
    let config_path = demo_config(&opts.demo)?;
    let config = covenant_dsr::Config::load(&config_path).map_err(anyhow::Error::new)?;
    let rt = crate::serve::runtime()?;
    rt.block_on(async {
        let store = crate::serve::open_store(&config.store_url).await?;
        let tenant = config.tenant.clone();
        if store.get_tenant(&tenant).await.is_err() {
            let new = NewTenant { id: tenant.clone(), name: tenant.to_string(), created_at: Timestamp::now() };
            store.create_tenant(new, AuditDraft::new("bench", "tenant.create", "tenant", "{}")).await?;
        }
        let exec = crate::serve::open_datasets(&config, &config.store_url).await?;
        // The requests have no contact address: nothing is mailed, but a mailbox catches any mail.
        let mailbox = config_path.parent().unwrap_or(Path::new(".")).join("bench-mailbox");
        let mailer =
            covenant_server::mail::Mailer::new(covenant_server::mail::Transport::Mailbox(mailbox), "privacy@localhost")
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let server_config = Config {
            policy: config.policy.clone(),
            secret: vec![7; 32],
            public_url: "http://127.0.0.1".to_owned(),
            request_timeout: Duration::from_secs(10),
            key_ttl: Duration::from_secs(60),
        };
        let state = Arc::new(
            AppState::new(store, server_config)?
                .with_mailer(mailer)
                .with_fulfillers(vec![Arc::new(covenant_server::datasets::DatasetFulfiller::new(exec.clone()))]),
        );

        let crm_url = &config.datasets.first().context("the demo application has no dataset")?.url;
        let crm = Connector::connect(crm_url, &ConnectorOptions::default()).await?;
        let all = users(&crm, opts.requests).await?;
        crm.close().await;
        if all.len() < opts.requests {
            bail!(
                "the demo database has {} users left, {} wanted; generate more contacts (one user per 20)",
                all.len(),
                opts.requests
            );
        }
        let quarter = opts.requests.div_ceil(4);
        let mut took = [Duration::ZERO; 2];
        let mut done = [0usize; 2];
        for (round, part) in all.chunks(quarter).enumerate() {
            // Batches in rounds 1 and 4, one at a time in 2 and 3: a drifting load weighs on both.
            let batched = round == 0 || round == 3;
            let ids = queue(&state.store, &tenant, part).await?;
            let wopts = WorkerOptions {
                name: format!("bench-{round}"),
                batch: if batched { opts.batch } else { 1 },
                lanes: if batched { opts.lanes } else { 1 },
                ..WorkerOptions::default()
            };
            let s = Instant::now();
            worker::drain(&state, &wopts).await?;
            let mode = usize::from(!batched);
            took[mode] += s.elapsed();
            for id in ids {
                let req = state.store.get_request(&tenant, id).await?;
                if req.state != RequestState::Completed {
                    bail!("request {id} ended {}, not completed", req.state.as_str());
                }
                done[mode] += 1;
            }
        }
        let rate = |i: usize| done[i] as f64 / took[i].as_secs_f64().max(1e-9);
        println!("demo application: {}, {} erasure requests through the worker", config_path.display(), opts.requests);
        println!(
            "in batches of up to {}, {} at a time: {} requests in {:.1} s, requests/s: {:.0}",
            opts.batch,
            opts.lanes,
            done[0],
            took[0].as_secs_f64(),
            rate(0)
        );
        println!("one at a time: {} requests in {:.1} s, requests/s: {:.0}", done[1], took[1].as_secs_f64(), rate(1));
        println!("batches over one at a time: {:.2}", rate(0) / rate(1).max(1e-9));
        exec.close().await;
        state.store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
