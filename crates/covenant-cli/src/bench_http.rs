//! `covenant bench http`: decisions per second through the whole HTTP stack (routing, the API-key
//! check, JSON in and out, the decision cache), with the server and its clients in one process on
//! the loopback interface.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use covenant_core::audit::AuditDraft;
use covenant_core::ledger::CollectionMethod;
use covenant_core::{Identity, RecordId, SubjectId, TenantId};
use covenant_engine::ledger::{RecordMeta, give};
use covenant_server::{AppState, Config};
use covenant_store::{Durability, NewSubject, Role, SqlStore, SqliteOptions, Store};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use jiff::Timestamp;

use crate::policy_cmd;

/// How `covenant bench http` runs.
pub struct HttpOptions<'a> {
    pub subjects: u64,
    pub connections: usize,
    pub seconds: f64,
    pub policy: &'a Path,
    pub activity: &'a str,
    /// Runtime worker threads, shared by the server and the clients.
    pub threads: usize,
}

/// What one connection measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    allowed: u64,
    failed: u64,
}

/// A small, fast, seedable generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

pub fn http(opts: &HttpOptions<'_>) -> Result<ExitCode> {
    if opts.subjects == 0 || opts.connections == 0 || opts.threads == 0 {
        bail!("`--subjects`, `--connections` and `--threads` must be at least 1");
    }
    if !(opts.seconds.is_finite() && opts.seconds > 0.0 && opts.seconds <= 600.0) {
        bail!("`--seconds` must be more than 0 and at most 600");
    }
    let policy = policy_cmd::load(opts.policy)?;
    let index = covenant_engine::PolicyIndex::compile(&policy);
    let Some(activity) = policy.activity(opts.activity) else {
        bail!("the policy has no activity `{}`", opts.activity);
    };
    let purpose = activity.consent_purpose.clone();
    let dir = std::env::temp_dir().join(format!("covenant-bench-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run(opts, policy, index, purpose, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(
    opts: &HttpOptions<'_>,
    policy: covenant_policy::Policy,
    index: covenant_engine::PolicyIndex,
    purpose: Option<String>,
    dir: &Path,
) -> Result<ExitCode> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let options = SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() };
    let store = Arc::new(SqlStore::open_sqlite(&url, &options).await.context("cannot open the store")?);
    store.migrate().await?;
    let tenant = TenantId::parse("bench")?;
    crate::apikey::ensure_tenant(&store, &tenant).await?;
    let key = crate::apikey::create_key(&store, &tenant, Role::Application, "bench").await?;

    // Seed: every subject registered, every other one with the activity's consent given.
    let started = Instant::now();
    let ids = seed(&store, &tenant, &index, purpose.as_deref(), opts.subjects).await?;
    println!("seeded {} subjects in {:.1} s", ids.len(), started.elapsed().as_secs_f64());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen")?;
    let addr = listener.local_addr()?;
    let server_store = SqlStore::open_sqlite(&url, &options).await?;
    let config = Config {
        policy,
        secret: vec![7; 32],
        public_url: format!("http://{addr}"),
        request_timeout: Duration::from_secs(10),
        key_ttl: Duration::from_secs(3600),
    };
    let state = Arc::new(AppState::new(server_store, config)?);
    // Warm the decision cache, as a running server would be.
    let tc = state.tenant_cache(&tenant);
    for id in &ids {
        state.ensure_loaded(&tc, *id).await?;
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(covenant_server::serve(listener, covenant_server::router(state.clone()), async {
        let _ = stop_rx.await;
    }));

    let ids: Arc<Vec<SubjectId>> = Arc::new(ids);
    let deadline = Instant::now() + Duration::from_secs_f64(opts.seconds);
    let activity: Arc<str> = Arc::from(opts.activity);
    let auth: Arc<str> = Arc::from(format!("Bearer {key}"));
    let began = Instant::now();
    let mut tasks = Vec::with_capacity(opts.connections);
    for c in 0..opts.connections {
        let (ids, activity, auth) = (ids.clone(), activity.clone(), auth.clone());
        tasks.push(tokio::spawn(async move { client(addr, c as u64, &ids, &activity, &auth, deadline).await }));
    }
    let mut all = Tally::default();
    for t in tasks {
        let one = t.await.context("a client task failed")??;
        all.latencies_us.extend(one.latencies_us);
        all.allowed += one.allowed;
        all.failed += one.failed;
    }
    let wall = began.elapsed();
    let _ = stop_tx.send(());
    server.await.context("the server task failed")?.context("the server failed")?;
    state.store.close().await;
    store.close().await;

    let n = all.latencies_us.len() as u64;
    if n == 0 {
        bail!("no request completed");
    }
    all.latencies_us.sort_unstable();
    let pct = |p: f64| {
        let i = ((p / 100.0) * (n as f64 - 1.0)).round() as usize;
        f64::from(all.latencies_us[i.min(all.latencies_us.len() - 1)]) / 1000.0
    };
    println!(
        "{} connections, {} worker threads, {:.1} s: {n} requests ({} failed, {:.0}% allowed)",
        opts.connections,
        opts.threads,
        wall.as_secs_f64(),
        all.failed,
        100.0 * all.allowed as f64 / n as f64
    );
    println!("requests/s: {:.0}", n as f64 / wall.as_secs_f64());
    println!(
        "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(99.9),
        pct(100.0)
    );
    Ok(if all.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Registers `n` subjects, 512 writes at a time (the store commits concurrent writes together),
/// and gives every other one consent to `purpose`.
async fn seed(
    store: &Arc<SqlStore>,
    tenant: &TenantId,
    index: &covenant_engine::PolicyIndex,
    purpose: Option<&str>,
    n: u64,
) -> Result<Vec<SubjectId>> {
    let mut ids = Vec::with_capacity(n as usize);
    let mut next = 0u64;
    while next < n {
        let chunk: Vec<u64> = (next..n.min(next + 512)).collect();
        next += chunk.len() as u64;
        let mut tasks = Vec::with_capacity(chunk.len());
        for i in chunk {
            let store = store.clone();
            let tenant = tenant.clone();
            let record = |subject: SubjectId| {
                let p = purpose?;
                let meta = RecordMeta {
                    id: RecordId::from_uuid(uuid::Uuid::now_v7()),
                    tenant: tenant.clone(),
                    subject,
                    notice_hash: "0".repeat(64),
                    method: CollectionMethod::Import,
                    at: Timestamp::now(),
                    actor: "subject".to_owned(),
                    evidence: None,
                };
                give(index, p, meta).ok()
            };
            let identity = Identity::email(&format!("person{i}@bench.example"))?;
            let new = NewSubject {
                tenant: tenant.clone(),
                kind: "user".to_owned(),
                identities: vec![identity],
                birth_date: None,
                jurisdiction: None,
                created_at: Timestamp::now(),
            };
            let give_too = i % 2 == 0;
            // Built before the task, so the record builder need not cross threads with the index.
            let placeholder = SubjectId::from_uuid(uuid::Uuid::nil());
            let template = if give_too { record(placeholder) } else { None };
            tasks.push(tokio::spawn(async move {
                let w =
                    store.register_subject(new, AuditDraft::new("bench", "subject.register", "subject", "")).await?;
                if let Some(mut r) = template {
                    r.subject = w.value.id;
                    store.append_consent(r, AuditDraft::new("bench", "consent.give", "subject", "")).await?;
                }
                Ok::<_, covenant_store::StoreError>(w.value.id)
            }));
        }
        for t in tasks {
            ids.push(t.await.context("a seeding task failed")?.context("cannot seed the store")?);
        }
    }
    Ok(ids)
}

/// One keep-alive connection asking for decisions about random subjects until the deadline.
async fn client(
    addr: std::net::SocketAddr,
    seed: u64,
    ids: &[SubjectId],
    activity: &str,
    auth: &str,
    deadline: Instant,
) -> Result<Tally> {
    let stream = tokio::net::TcpStream::connect(addr).await.context("cannot connect")?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.context("http handshake")?;
    tokio::spawn(conn);
    let host = addr.to_string();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (seed + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut tally = Tally { latencies_us: Vec::with_capacity(1 << 16), ..Tally::default() };
    while Instant::now() < deadline {
        let id = ids[(rng.next() % ids.len() as u64) as usize];
        let body = format!("{{\"subject\":{{\"id\":\"{id}\"}},\"activity\":\"{activity}\"}}");
        let req = Request::post("/v1/decisions")
            .header(HOST, host.as_str())
            .header(AUTHORIZATION, auth)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .context("building a request")?;
        let t0 = Instant::now();
        sender.ready().await.context("the connection closed")?;
        let res = sender.send_request(req).await.context("sending a request")?;
        let ok = res.status().is_success();
        let bytes = res.into_body().collect().await.context("reading a response")?.to_bytes();
        let elapsed = t0.elapsed();
        tally.latencies_us.push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        if !ok {
            tally.failed += 1;
        } else if bytes.windows(14).any(|w| w == b"\"allowed\":true") {
            tally.allowed += 1;
        }
    }
    Ok(tally)
}
