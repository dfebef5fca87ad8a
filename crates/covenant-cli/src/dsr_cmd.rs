//! `covenant dsr plan|run|runs`: data-subject requests against the application databases of a
//! configuration file (`covenant.toml`), run directly (without the request workflow).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use covenant_core::Identity;
use covenant_dsr::{Config, Correction, Executor, Outcome, Progress, Request, RequestKind, Scope};
use covenant_store::{JournalStore, SqlStore, Store};
use indicatif::{ProgressBar, ProgressStyle};

/// Data-subject requests
#[derive(Subcommand)]
pub enum DsrCommand {
    /// Print the plan of a request: what is looked up where, and for an erasure what is
    /// written, kept (under which legal hold) or referred to a customer, in order
    ///
    /// Example: covenant dsr plan --config covenant.toml --kind erasure --identity email=ada@example.com
    Plan {
        #[command(flatten)]
        request: RequestArgs,
        /// text or json
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run a request directly against the databases
    ///
    /// Erasures and rectifications are journaled in Covenant's store: running the same command
    /// again after an interruption resumes the unfinished run (`resuming run <id>`) and applies
    /// only what is missing. Exits 2, changing nothing, on bad arguments.
    ///
    /// Example: covenant dsr run --config covenant.toml --kind access --identity email=ada@example.com --format json
    Run {
        #[command(flatten)]
        request: RequestArgs,
        /// Rectification: the corrected value, `KIND=VALUE` (an identity kind or a category),
        /// e.g. `email=ada@example.org`; repeatable
        #[arg(long = "set", value_name = "KIND=VALUE")]
        set: Vec<String>,
        /// Rectification: the value to replace (default: the request's identity of that kind)
        #[arg(long, value_name = "VALUE")]
        old: Option<String>,
        /// Objection: an activity objected to; repeatable (default: every direct-marketing activity)
        #[arg(long = "purpose", value_name = "ACTIVITY")]
        purposes: Vec<String>,
        /// The request's id in a workflow: runs with the same id resume each other
        #[arg(long)]
        request_id: Option<String>,
        /// text or json
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Access and export: write export.json, export-csv.zip and report.html into this folder
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Run many requests from a file (JSON Lines or CSV), in batches
    ///
    /// The whole file is checked first: every bad line is reported with its line number and
    /// nothing runs (exit 2). Then the requests run in chunks of --chunk: the erasures and
    /// rectifications of a chunk are looked up together, in --concurrency parts at the same
    /// time, and written in one transaction per database; other kinds run one by one. A failed
    /// request fails alone.
    /// Prints a line per failed request and a summary (text), or one JSON object per request on
    /// standard output (json). Exits 0 when every request is done, 1 when some failed (the
    /// others are done), 2 when the input or the configuration is wrong (nothing ran).
    ///
    /// JSON Lines: one request per line (blank lines are skipped):
    ///
    ///   {"kind": "erasure", "identities": {"email": "ada@example.com", "phone": "+358401234567"}}
    ///   {"kind": "access", "identities": ["email=bob@example.com", "account_id=u_123"]}
    ///   {"kind": "rectification", "identities": {"email": "ada@example.com"},
    ///    "set": {"email": "ada@example.org"}}                       (one line in the file)
    ///   {"kind": "objection", "identities": {"email": "eve@example.com"},
    ///    "purposes": ["newsletter"], "id": "ticket-4411"}           (one line in the file)
    ///   {"kind": "erasure", "identities": {"email": "joe@example.com"}, "customer": "acme"}
    ///
    /// Fields, as the arguments of `covenant dsr run`:
    ///   kind        access, export, erasure, rectification, restriction, objection or confirm
    ///   identities  {"KIND": "VALUE" or ["VALUE", ...]} or ["KIND=VALUE", ...] (--identity);
    ///               KIND is email, phone, account_id or external:SYSTEM
    ///   set, old    rectification: {"KIND": "NEW"} or ["KIND=NEW"] (--set), the old value (--old)
    ///   purposes    objection: ["ACTIVITY", ...] (--purpose)
    ///   customer    act for this customer, on its rows only (--customer)
    ///   id          the request's id (--request-id): runs with the same id resume each other
    ///
    /// CSV: a header naming the columns, then one request per line; the columns are `kind`,
    /// identity kinds (`email`, `phone`, `account_id`, `external:SYSTEM`; empty cells are
    /// skipped), `set:KIND`, `old`, `purposes` (separated by `;`), `customer` and `id`:
    ///
    ///   kind,email,phone,set:email,id
    ///   erasure,ada@example.com,+358401234567,,
    ///   rectification,bob@example.com,,bob@example.org,ticket-7
    ///
    /// At most 100,000 requests (64 MiB) per file: split larger ones. Rerunning the same file
    /// after an interruption is safe: each erasure and rectification is journaled under its
    /// request's key (its `id`, else its kind, identities, customer and values), so a run left
    /// open is resumed ("resuming run ...") and a finished one finds nothing more to change.
    ///
    /// Worked example, on the demo application (`covenant demo-data --out demo-app`):
    ///
    ///   $ cat requests.jsonl
    ///   {"kind": "erasure", "identities": {"email": "grace@example.org"}}
    ///   {"kind": "erasure", "identities": {"email": "ada@example.com"}, "id": "ticket-4411"}
    ///   {"kind": "access", "identities": {"email": "bob@example.com"}}
    ///   $ covenant dsr batch --config demo-app/covenant.toml --input requests.jsonl --dry-run
    ///   line 1: erasure for email:grace@example.org: 11 lookup(s) in 2 database(s); ...
    ///   ...
    ///   $ covenant dsr batch --config demo-app/covenant.toml --input requests.jsonl
    ///   3 request(s) done (access 1, erasure 2), 0 failed
    ///   rows: 25 deleted, 4 updated, 11 mention(s) cut
    ///   0.08 s, 37.4 erasures per second
    ///
    /// Example: covenant dsr batch --config covenant.toml --input requests.csv --chunk 500
    ///
    /// Example: covenant dsr batch --config covenant.toml --input - --format json < requests.jsonl
    #[command(verbatim_doc_comment)]
    Batch(crate::dsr_batch::BatchArgs),
    /// List the journaled runs (erasures, rectifications, restrictions, objections), newest first
    Runs {
        /// The configuration file
        #[arg(long)]
        config: PathBuf,
        /// How many runs
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// text or json
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Args)]
pub struct RequestArgs {
    /// The configuration file (covenant.toml)
    #[arg(long)]
    pub config: PathBuf,
    /// access, export, erasure, rectification, restriction, objection or confirm
    #[arg(long, value_parser = parse_kind)]
    pub kind: RequestKind,
    /// An identity of the person, `KIND=VALUE`: email=…, phone=…, account_id=…, external:SYSTEM=…; repeatable
    #[arg(long = "identity", value_name = "KIND=VALUE", required = true)]
    pub identities: Vec<String>,
    /// Act on the instruction of this customer (the value of the tables' controller column),
    /// on that customer's rows only
    #[arg(long)]
    pub customer: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn parse_kind(s: &str) -> Result<RequestKind, String> {
    s.parse()
}

/// A request refused before anything happened: exit 2.
struct Refused(String);

fn identities(raw: &[String]) -> Result<Vec<Identity>, Refused> {
    let mut out: Vec<Identity> = Vec::new();
    for r in raw {
        let (kind, value) = r.rsplit_once('=').ok_or_else(|| {
            Refused(format!("`--identity {r}` is not `KIND=VALUE`; write e.g. `--identity email=ada@example.com`"))
        })?;
        let id = Identity::parse(kind.trim(), value).map_err(|e| Refused(format!("`--identity {r}`: {e}")))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn load(path: &std::path::Path) -> Result<Config, Refused> {
    Config::load(path).map_err(|e| Refused(e.to_string()))
}

fn refuse(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn request_of(args: &RequestArgs) -> Result<Request, Refused> {
    let mut r = Request::new(args.kind, identities(&args.identities)?);
    if let Some(c) = &args.customer {
        if c.trim().is_empty() {
            return Err(Refused("`--customer` is empty; give the customer's id".into()));
        }
        r.scope = Scope::Customer(c.clone());
    }
    Ok(r)
}

pub fn plan(request: &RequestArgs, format: Format) -> Result<ExitCode> {
    let (config, req) = match load(&request.config).and_then(|c| Ok((c, request_of(request)?))) {
        Ok(x) => x,
        Err(Refused(m)) => return Ok(refuse(&m)),
    };
    let plan = match covenant_dsr::plan::build(
        &config.policy,
        &config.dataset_list(),
        req.kind,
        &req.identities,
        &req.scope,
    ) {
        Ok(p) => p,
        Err(e) => return Ok(refuse(&e.to_string())),
    };
    match format {
        Format::Text => print!("{}", plan.render()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&plan.to_json())?),
    }
    Ok(ExitCode::SUCCESS)
}

/// Covenant's store (migrated) and an executor on it, acting as `cli`.
pub(crate) async fn open_executor(config: &Config) -> Result<(Arc<SqlStore>, Executor<SqlStore>)> {
    let store = SqlStore::connect(&config.store_url)
        .await
        .with_context(|| format!("cannot open the store `{}`", covenant_connectors::redact(&config.store_url)))?;
    store.migrate().await?;
    let store = Arc::new(store);
    let exec = Executor::open(config, store.clone()).await?.with_actor("cli");
    Ok((store, exec))
}

/// A progress bar of `len` drawn with `template` on standard error when `wanted` and standard
/// error is a terminal; `None` elsewhere.
pub(crate) fn terminal_bar(wanted: bool, len: u64, template: &str) -> Option<ProgressBar> {
    if !(wanted && std::io::stderr().is_terminal()) {
        return None;
    }
    let b = ProgressBar::new(len);
    b.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    Some(b)
}

/// A progress bar on a terminal, silence elsewhere; messages always go to standard error.
struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn message(&self, msg: &str) {
        match &self.0 {
            Some(b) if !msg.starts_with("resuming") => b.set_message(msg.to_owned()),
            Some(b) => b.println(msg),
            None if msg.starts_with("resuming") => eprintln!("{msg}"),
            None => {}
        }
    }
    fn start(&self, steps: u64) {
        if let Some(b) = &self.0 {
            b.set_length(steps);
        }
    }
    fn advance(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
}

pub struct RunArgs<'a> {
    pub request: &'a RequestArgs,
    pub set: &'a [String],
    pub old: Option<&'a str>,
    pub purposes: &'a [String],
    pub request_id: Option<&'a str>,
    pub format: Format,
    pub out: Option<&'a std::path::Path>,
}

pub fn run(args: &RunArgs<'_>) -> Result<ExitCode> {
    let config = match load(&args.request.config) {
        Ok(c) => c,
        Err(Refused(m)) => return Ok(refuse(&m)),
    };
    let mut req = match request_of(args.request) {
        Ok(r) => r,
        Err(Refused(m)) => return Ok(refuse(&m)),
    };
    let datasets = config.dataset_list();
    for s in args.set {
        match Correction::parse(s, &datasets) {
            Ok(mut c) => {
                c.old = args.old.map(str::to_owned);
                req.corrections.push(c);
            }
            Err(e) => return Ok(refuse(&e.to_string())),
        }
    }
    req.objections = args.purposes.to_vec();
    for p in &req.objections {
        if config.policy.activity(p).is_none() {
            return Ok(refuse(&format!("`--purpose {p}` is not an activity of the policy")));
        }
    }
    req.request_id = args.request_id.map(str::to_owned);
    if args.out.is_some() && !matches!(req.kind, RequestKind::Access | RequestKind::Export) {
        return Ok(refuse("`--out` writes export files; use it with `--kind export` or `--kind access`"));
    }
    // Checked before anything connects: the plan can be made.
    if let Err(e) = covenant_dsr::plan::build(&config.policy, &datasets, req.kind, &req.identities, &req.scope) {
        return Ok(refuse(&e.to_string()));
    }

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let (store, exec) = open_executor(&config).await?;
        let bar = Bar(terminal_bar(req.kind.writes_databases(), 0, "{spinner} {msg} [{bar:30}] {pos}/{len} steps"));
        let result = exec.run(&req, &bar).await;
        if let Some(b) = &bar.0 {
            b.finish_and_clear();
        }
        exec.close().await;
        store.close().await;
        let outcome = match result {
            Ok(o) => o,
            Err(e) if e.is_invalid_request() => return Ok(refuse(&e.to_string())),
            Err(e) => return Err(anyhow::Error::new(e)),
        };
        if let (Some(dir), Outcome::Access(r) | Outcome::Export(r)) = (args.out, &outcome) {
            for p in covenant_dsr::export::write_all(r, dir)? {
                eprintln!("wrote {}", p.display());
            }
        }
        match args.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
            Format::Text => print!("{}", text(&outcome)),
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn text(o: &Outcome) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    match o {
        Outcome::Access(r) | Outcome::Export(r) => {
            let _ = writeln!(
                s,
                "{} item(s) in {} table(s) about {}",
                r.item_count(),
                r.tables.len(),
                r.identities.join(", ")
            );
            for t in &r.tables {
                let _ = writeln!(s, "\n{}.{} ({} row(s))", t.dataset, t.table, t.rows.len());
                for c in &t.columns {
                    let held = t.rows.iter().filter(|row| row.values.contains_key(&c.column)).count();
                    if held == 0 {
                        continue;
                    }
                    let why: Vec<&str> = c.purposes.iter().map(|p| p.name.as_str()).collect();
                    let _ = writeln!(
                        s,
                        "  {}: {} value(s); {}{}",
                        c.column,
                        held,
                        c.category_name.as_deref().or(c.category.as_deref()).unwrap_or("identifier"),
                        if why.is_empty() { String::new() } else { format!("; why: {}", why.join(", ")) }
                    );
                    if let Some(h) = &c.legal_hold {
                        let _ = writeln!(s, "    kept under legal hold `{}`: {}", h.id, h.basis);
                    }
                }
            }
            for m in &r.mentions {
                let _ = writeln!(
                    s,
                    "\nmentioned in {}.{} ({}): {} row(s)",
                    m.dataset,
                    m.table,
                    m.columns.join(", "),
                    m.rows.len()
                );
            }
            for x in &r.referred {
                let _ = writeln!(
                    s,
                    "\nheld for customer(s) {} in {}.{}: referred to them (promise T7)",
                    x.customers.keys().cloned().collect::<Vec<_>>().join(", "),
                    x.dataset,
                    x.table
                );
            }
        }
        Outcome::Confirm(c) => {
            if c.holds_data {
                let _ = writeln!(s, "yes: {} in {}", c.categories.join(", "), c.systems.join(", "));
                for x in &c.referred {
                    let _ = writeln!(
                        s,
                        "also held for customer(s) {} (ask them)",
                        x.customers.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
            } else {
                let _ = writeln!(s, "no: we hold no data about this person");
            }
        }
        Outcome::Erasure(w) | Outcome::Rectification(w) => {
            let _ = writeln!(s, "run {}{}", w.run, if w.resumed { " (resumed)" } else { "" });
            for st in &w.steps {
                for (t, n) in &st.counts.deleted {
                    let _ = writeln!(s, "  {}.{t}: {n} row(s) deleted", st.dataset);
                }
                for (t, n) in &st.counts.updated {
                    let _ = writeln!(s, "  {}.{t}: {n} row(s) updated", st.dataset);
                }
                for (t, n) in &st.counts.mentions_cut {
                    let _ = writeln!(s, "  {}.{t}: {n} mention(s) cut", st.dataset);
                }
            }
            for k in &w.kept {
                let what = if k.columns.is_empty() { "rows".to_owned() } else { k.columns.join(", ") };
                let _ = writeln!(
                    s,
                    "  kept {}.{} {what} ({} row(s)) under legal hold `{}`: {}; {}",
                    k.dataset, k.table, k.rows, k.hold.id, k.hold.basis, k.hold.period
                );
            }
            let _ = writeln!(s, "{}", w.summary);
        }
        Outcome::Restriction(f) | Outcome::Objection(f) => {
            let _ = writeln!(
                s,
                "run {}: subject {}{}: {}",
                f.run,
                f.subject,
                if f.registered { " (registered)" } else { "" },
                f.flags.join(", ")
            );
            let _ = writeln!(s, "{}", f.summary);
        }
    }
    s
}

pub fn runs(config: &std::path::Path, limit: u32, format: Format) -> Result<ExitCode> {
    let config = match load(config) {
        Ok(c) => c,
        Err(Refused(m)) => return Ok(refuse(&m)),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let store = SqlStore::connect(&config.store_url).await?;
        store.migrate().await?;
        let runs = match store.list_runs(&config.tenant, limit).await {
            Ok(r) => r,
            Err(covenant_store::StoreError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        store.close().await;
        match format {
            Format::Json => {
                let list: Vec<serde_json::Value> = runs
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id.to_string(), "kind": r.kind, "state": r.state.as_str(),
                            "identities": r.identities, "scope": r.scope, "created_at": r.created_at.to_string(),
                            "finished_at": r.finished_at.map(|t| t.to_string()), "steps": r.steps, "applied": r.applied,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            }
            Format::Text => {
                if runs.is_empty() {
                    println!("no runs");
                }
                for r in &runs {
                    println!(
                        "{}  {:<13} {:<6} {}/{} steps  {}  {}",
                        r.id,
                        r.kind,
                        r.state.as_str(),
                        r.applied,
                        r.steps,
                        r.created_at,
                        r.identities.join(", ")
                    );
                }
            }
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}
