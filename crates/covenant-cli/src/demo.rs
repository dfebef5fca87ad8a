//! `covenant demo`: the example policies, checked and rendered into a folder with an index page,
//! the demo application (a call-center CRM's databases, annotated, with a `covenant.toml`) in the
//! same folder, then the API server on an embedded SQLite store with one example's policy, a
//! `demo` tenant and an admin key.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

/// How many contacts the demo application gets (`covenant demo-data` makes bigger ones).
const DEMO_CONTACTS: u64 = 2_000;

/// The examples shipped in the repository, found next to the workspace the binary was built from.
fn default_examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

struct Rendered {
    dir: String,
    company: String,
    title: String,
    version: String,
    warnings: usize,
    activities: usize,
    categories: usize,
}

/// How `covenant demo` runs.
pub struct DemoOptions<'a> {
    pub out: &'a Path,
    pub examples: Option<&'a Path>,
    /// The example whose policy the server enforces.
    pub serve: &'a str,
    pub listen: std::net::SocketAddr,
    /// Render only; do not start the server.
    pub no_serve: bool,
}

pub fn run(opts: &DemoOptions<'_>) -> Result<ExitCode> {
    let examples = opts.examples.map(Path::to_path_buf).unwrap_or_else(default_examples);
    render(opts.out, &examples)?;
    let app_config = crate::demo_data::ensure(opts.out, DEMO_CONTACTS)?;
    if opts.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    serve(opts, &examples, &app_config)
}

/// The server on `OUT/covenant.db`, with a `demo` tenant and a fresh admin key.
fn serve(opts: &DemoOptions<'_>, examples: &Path, app_config: &Path) -> Result<ExitCode> {
    use std::sync::Arc;
    use std::time::Duration;

    let policy_file = examples.join(opts.serve).join("policy.toml");
    let policy = crate::policy_cmd::load(&policy_file)?;
    let db_file = opts.out.join("covenant.db");
    let db = format!("sqlite://{}?mode=rwc", db_file.display());
    let secret = crate::serve::load_secret(&opts.out.join("secret.key"))?;
    covenant_server::telemetry::init(covenant_server::telemetry::LogFormat::Text);
    crate::serve::runtime()?.block_on(async {
        let store = crate::serve::open_store(&db).await?;
        let tenant = covenant_core::TenantId::parse("demo")?;
        crate::apikey::ensure_tenant(&store, &tenant).await?;
        let key = crate::apikey::create_key(&store, &tenant, covenant_store::Role::Admin, "demo admin").await?;
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`; pass --listen ADDR", opts.listen))?;
        let addr = listener.local_addr().context("no local address")?;
        let url = format!("http://{addr}");
        let name = policy.controller_name().to_owned();
        let config = covenant_server::Config {
            policy,
            secret,
            public_url: url.clone(),
            request_timeout: Duration::from_secs(10),
            key_ttl: Duration::from_secs(60),
        };
        // Request emails (one-time codes, answers) land as files in OUT/mailbox.
        let mailbox = opts.out.join("mailbox");
        std::fs::create_dir_all(&mailbox).with_context(|| format!("cannot create `{}`", mailbox.display()))?;
        let mailer = covenant_server::mail::Mailer::new(
            covenant_server::mail::Transport::Mailbox(mailbox.clone()),
            "privacy@localhost",
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut state = covenant_server::AppState::new(store, config)?.with_mailer(mailer);
        // The demo application's databases are annotated against Oki-Toki's policy: requests
        // are carried out in them when that is the policy served.
        let with_app = opts.serve == "okitoki";
        if with_app {
            let app = covenant_dsr::Config::load(app_config).map_err(|e| anyhow::anyhow!("{e}"))?;
            let exec = crate::serve::open_datasets(&app, &db).await?;
            state = state.with_fulfillers(vec![Arc::new(covenant_server::datasets::DatasetFulfiller::new(exec))]);
        }
        let state = Arc::new(state);
        let (stop_worker, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = covenant_server::worker::spawn(state.clone(), Default::default(), async {
            let _ = stopped.await;
        });
        println!("\nserving {name}'s policy ({}) for tenant `demo`", policy_file.display());
        println!("  store:   {}", db_file.display());
        println!("  api:     {url}/v1   (Authorization: Bearer <key>)");
        println!("  docs:    {url}/docs");
        println!("  notice:  {url}/v1/policy/notice");
        println!("  try:     curl -s -H \"Authorization: Bearer $KEY\" -H 'content-type: application/json' \\");
        println!("             -d '{{\"type\":\"user\",\"identities\":[{{\"kind\":\"email\",\"value\":\"ada@example.com\"}}]}}' {url}/v1/subjects");
        println!("  mailbox: {}   (one-time codes and answers to requests)", mailbox.display());
        if with_app {
            println!("  app:     {}   (requests are carried out in these databases)", app_config.display());
            println!("  request: curl -s -H \"Authorization: Bearer $KEY\" -H 'content-type: application/json' \\");
            println!("             -d '{{\"kind\":\"access\",\"identity\":{{\"kind\":\"email\",\"value\":\"ada@example.com\"}}}}' {url}/v1/requests");
        }
        println!("press Ctrl-C to stop; the admin key of tenant `demo` (shown once):");
        println!("{key}");
        covenant_server::serve(listener, covenant_server::router(state.clone()), covenant_server::shutdown_signal())
            .await
            .context("the server failed")?;
        let _ = stop_worker.send(());
        worker.await.context("the request worker failed")?;
        state.store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Checks every example and renders its documents into `out`, with an index page.
fn render(out: &Path, examples: &Path) -> Result<()> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples)
        .with_context(|| format!("cannot read the examples folder `{}`", examples.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("policy.toml").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        bail!("no `*/policy.toml` under `{}`; pass --examples DIR", examples.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let mut rendered = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let file = dir.join("policy.toml");
        let checked = covenant_policy::check_file(&file)?;
        if checked.has_errors() {
            eprintln!("{}", checked.render());
            bail!("`{}` has errors; fix them first", file.display());
        }
        let Some(policy) = checked.policy.as_ref() else { bail!("`{}` did not parse", file.display()) };
        let target = out.join(&name);
        std::fs::create_dir_all(&target).with_context(|| format!("cannot create `{}`", target.display()))?;
        let outputs = [
            ("notice.html", covenant_policy::notice::html(policy)?),
            ("notice.md", covenant_policy::notice::markdown(policy)),
            ("ropa.html", covenant_policy::ropa::html(policy)?),
            ("ropa.csv", covenant_policy::ropa::csv(policy)),
            ("ropa.json", covenant_policy::ropa::json(policy)),
        ];
        for (file_name, text) in outputs {
            let path = target.join(file_name);
            std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        let warnings = checked.warnings().count();
        println!("{name:<12} checked: 0 errors, {warnings} warning{}; rendered notice and record", plural(warnings));
        rendered.push(Rendered {
            dir: name,
            company: policy.controller_name().to_owned(),
            title: policy.policy.title.clone(),
            version: policy.policy.version.clone(),
            warnings,
            activities: policy.activities.len(),
            categories: policy.categories.len(),
        });
    }
    let index = out.join("index.html");
    std::fs::write(&index, index_page(&rendered)).with_context(|| format!("cannot write `{}`", index.display()))?;
    let abs = std::fs::canonicalize(&index).unwrap_or(index);
    println!("\nopen file://{}", abs.display());
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn index_page(items: &[Rendered]) -> String {
    let mut rows = String::new();
    for r in items {
        let d = esc(&r.dir);
        let _ = writeln!(
            rows,
            "<tr><td><strong>{}</strong><br><span class=muted>{}, version {}</span></td><td>{}</td><td>{}</td><td>{}</td>\
             <td><a href=\"{d}/notice.html\">notice</a> · <a href=\"{d}/notice.md\">md</a></td>\
             <td><a href=\"{d}/ropa.html\">record</a> · <a href=\"{d}/ropa.csv\">csv</a> · <a href=\"{d}/ropa.json\">json</a></td></tr>",
            esc(&r.company),
            esc(&r.title),
            esc(&r.version),
            r.categories,
            r.activities,
            r.warnings,
        );
    }
    format!(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Covenant demo</title>\n<style>\
body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}}\
table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.5rem;border-bottom:1px solid #dde}}\
.muted{{color:#667;font-size:.9em}}a{{color:#1a56db}}</style></head><body>\n\
<h1>Covenant demo</h1>\n<p>Five privacy policies written as code, checked, and rendered into the public notice \
(GDPR Art. 13/14) and the record of processing activities (GDPR Art. 30). Every page below was generated from \
<code>examples/*/policy.toml</code>; edit a policy and run <code>covenant demo</code> again.</p>\n\
<table><thead><tr><th>Company</th><th>Data categories</th><th>Activities</th><th>Warnings</th><th>Privacy notice</th>\
<th>Record of processing</th></tr></thead><tbody>\n{rows}</tbody></table>\n</body></html>\n"
    )
}
