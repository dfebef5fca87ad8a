//! The `covenant` command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

mod apikey;
mod audit;
mod bench;
mod bench_dsr;
mod bench_http;
mod bench_worker;
mod dataset_cmd;
mod demo;
mod demo_data;
mod dsr_batch;
mod dsr_cmd;
mod policy_cmd;
mod serve;

/// Covenant keeps a privacy policy's promises: it reads the policy as code, renders the public
/// notice and the record of processing from it, and checks that what the policy says is
/// consistent before anyone publishes it.
#[derive(Parser)]
#[command(name = "covenant", version, about, long_about = None, propagate_version = true)]
#[command(after_help = "Start with `covenant demo`, then `covenant policy --help`.\n\
Every policy in examples/ is a worked example: `covenant policy check examples/*/policy.toml`.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with policy files: check, render, diff, schema
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Check the five example policies and render their notices and records into a folder
    ///
    /// Writes, for each example company, the privacy notice (HTML and Markdown) and the record of
    /// processing activities (HTML, CSV, JSON), then prints the path of an index page to open in
    /// a browser.
    ///
    /// Generates the demo application into OUT too (a call-center CRM: OUT/crm.db, OUT/events.db,
    /// their annotations and OUT/covenant.toml; kept when already there).
    ///
    /// Then starts the API server on an embedded SQLite store (OUT/covenant.db) enforcing one
    /// example's policy, with a `demo` tenant, and prints its address and a new admin key.
    Demo {
        /// Where to write the rendered documents (and the demo server's database)
        #[arg(long, default_value = "covenant-demo")]
        out: PathBuf,
        /// The folder holding one `NAME/policy.toml` per company (default: the repository's examples/)
        #[arg(long)]
        examples: Option<PathBuf>,
        /// The example whose policy the server enforces
        #[arg(long, default_value = "okitoki")]
        serve: String,
        /// Where the server listens
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Only render the documents; do not start the server
        #[arg(long)]
        no_serve: bool,
    },
    /// Serve the HTTP API: subjects, consents, decisions, the audit log
    ///
    /// Tenants and keys come from the store (`covenant apikey create`); every tenant is held to
    /// the one policy given. OpenAPI at /openapi.json, Swagger UI at /docs. Stops on SIGINT or
    /// SIGTERM after finishing the requests in flight.
    ///
    /// Several servers may share one PostgreSQL database: each hears the changes the others
    /// commit (consents, flags, events, identities, revoked keys) and drops what it cached, so
    /// the next decision anywhere sees them, typically within milliseconds.
    ///
    /// Example: covenant serve --policy examples/okitoki/policy.toml
    Serve {
        /// The store: `sqlite://PATH?mode=rwc` or `postgres://USER:PASSWORD@HOST/DATABASE`
        #[arg(long, default_value = serve::DEFAULT_DB)]
        db: String,
        /// The address to listen on
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The policy file every tenant is held to (default: the policy of `--config`)
        #[arg(long, required_unless_present = "config")]
        policy: Option<PathBuf>,
        /// A configuration (`covenant.toml`, as `covenant demo-data` writes) whose annotated
        /// application databases verified requests are carried out in: access and export read
        /// them, erasure and rectification write them through the journal. Without it, requests
        /// act on Covenant's own records only.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The address people reach the server at, for unsubscribe links (default: http://LISTEN)
        #[arg(long)]
        public_url: Option<String>,
        /// The file holding the secret unsubscribe links are signed with (64 hex digits; created
        /// when missing; `COVENANT_SECRET` overrides it). Default: next to the SQLite file, or
        /// covenant-data/secret.key. The keys that hash one-time codes and encrypt proofs of
        /// identity are derived from it too.
        #[arg(long, visible_alias = "secret-key-file")]
        secret_file: Option<PathBuf>,
        /// Send request emails (codes, acknowledgements, answers) through this SMTP server:
        /// `smtp://USER:PASSWORD@HOST:587` (STARTTLS) or `smtps://…` (TLS)
        #[arg(long, conflicts_with = "mailbox")]
        smtp_url: Option<String>,
        /// Write request emails as files into this directory instead of sending them (development)
        #[arg(long)]
        mailbox: Option<PathBuf>,
        /// The address request emails come from
        #[arg(long, default_value = "privacy@localhost")]
        mail_from: String,
        /// Log lines as text or as one JSON object each
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormatArg,
        /// Seconds a request may take before it is answered with 503
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// How many verified requests the worker carries out together when several are due:
        /// their people are looked up together and their writes share one transaction per
        /// application database; each is still journaled, answered and retried as its own.
        /// 1 carries them out one at a time.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
        worker_batch: u16,
        /// How many jobs (or batches of requests) the worker carries out at the same time: while
        /// one batch's requests are started and answered in Covenant's store, another's are
        /// carried out in the application databases. 1 takes one job after the other.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=16))]
        worker_lanes: u8,
    },
    /// Manage API keys
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Check the audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Measure how fast Covenant answers
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Data-subject requests against the application databases: plan, run, runs
    #[command(subcommand)]
    Dsr(dsr_cmd::DsrCommand),
    /// Work with dataset annotations: check, schema, generate
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Generate the demo application's databases, with its policy, annotations and covenant.toml
    ///
    /// The demo application is a call-center CRM under Oki-Toki's policy: two databases, `crm`
    /// (accounts, users, contacts, client cards, comments, tickets, payments, AI messages,
    /// invitations, marketing preferences) and `events` (email and login events). The data is
    /// realistic and deterministic: the same arguments give the same rows. Ada Lovelace
    /// (ada@example.com) is always there, with rows in eleven tables.
    ///
    /// Writes OUT/crm.db and OUT/events.db (or, with --postgres, loads both sets of tables side by
    /// side into that database), copies policy.toml, crm.dataset.toml and events.dataset.toml
    /// into OUT and writes OUT/covenant.toml, whose path is printed on the last line.
    ///
    /// Example: covenant demo-data --contacts 10000 --out demo-app
    DemoData {
        /// About how many contacts (over contacts/100 accounts, with one user per 20 contacts)
        #[arg(long, default_value_t = 10_000)]
        contacts: u64,
        /// The folder to write into
        #[arg(long)]
        out: PathBuf,
        /// The seed of the generator
        #[arg(long, default_value_t = covenant_demo_app::DEFAULT_SEED)]
        seed: u64,
        /// The day generated time ends (YYYY-MM-DD; it spreads over the three years before)
        #[arg(long, default_value = covenant_demo_app::DEFAULT_UNTIL)]
        until: String,
        /// Load into this PostgreSQL database (postgres://USER:PASSWORD@HOST/DATABASE) instead
        #[arg(long)]
        postgres: Option<String>,
        /// Overwrite existing demo databases (or drop and recreate the tables on PostgreSQL)
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Check dataset annotation files against the policy (and, with --db, the live database)
    ///
    /// Prints every problem with file:line:col, then the policy's categories no file holds.
    /// With --db, every table and column the annotations name must exist in the database.
    /// Exits 0 when no file has errors (warnings are allowed unless --deny-warnings), 1 otherwise.
    ///
    /// Example: covenant dataset check --policy examples/okitoki/policy.toml examples/crm/*.dataset.toml
    Check {
        /// The policy the annotations serve
        #[arg(long)]
        policy: PathBuf,
        /// Annotation files (.toml, or .yaml/.yml)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The database the annotations describe (sqlite://PATH or postgres://…): once for all
        /// files, or once per file in the same order
        #[arg(long)]
        db: Vec<String>,
        /// Treat warnings as errors
        #[arg(long)]
        deny_warnings: bool,
        /// Print only problems, not the per-file summary
        #[arg(long, short)]
        quiet: bool,
    },
    /// Print the JSON Schema of the dataset annotation format
    Schema,
    /// Draft annotations from a live database's schema
    ///
    /// Reads the tables, columns, keys and foreign keys of an SQLite file or of a PostgreSQL
    /// database's current schema, and writes annotations guessing categories, identities,
    /// timestamps and links from names and types. Every guess is marked `# guessed:` for review.
    /// With --policy, categories are the policy's closest ones and the draft is checked.
    ///
    /// Example: covenant dataset generate --db sqlite://demo-app/crm.db --policy demo-app/policy.toml
    Generate {
        /// The database: sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE
        #[arg(long)]
        db: String,
        /// Pick categories, subject types and legal holds from this policy
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The dataset id (default: the file or database name)
        #[arg(long)]
        id: Option<String>,
        /// Write to this file instead of standard output
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create a key for a tenant (creating the tenant if it does not exist)
    ///
    /// The key is printed once, alone on the last line; only its SHA-256 is stored.
    ///
    /// Example: covenant apikey create --tenant acme --role application
    Create {
        /// The store
        #[arg(long, default_value = serve::DEFAULT_DB)]
        db: String,
        /// The tenant: 1 to 63 lowercase letters, digits and `-`
        #[arg(long)]
        tenant: String,
        /// admin, operator, auditor or application
        #[arg(long)]
        role: String,
        /// Who or what uses the key, for the audit log
        #[arg(long)]
        label: Option<String>,
    },
    /// List a tenant's keys: prefix, role, when created and when revoked
    ///
    /// Example: covenant apikey list --tenant acme
    List {
        /// The store
        #[arg(long, default_value = serve::DEFAULT_DB)]
        db: String,
        /// The tenant
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key, named by its prefix (`cvk_` and 8 hex digits, shown when it was created
    /// and by `covenant apikey list`)
    ///
    /// The revocation is recorded in the tenant's audit log. Servers cache keys they have seen:
    /// on PostgreSQL every server sharing the database drops the key at once (the revocation is
    /// announced to them when it commits), so its next request is refused; on SQLite a running
    /// server refuses it within its key cache time, 60 seconds.
    ///
    /// Example: covenant apikey revoke --tenant acme cvk_3f9a1c2b
    Revoke {
        /// The store
        #[arg(long, default_value = serve::DEFAULT_DB)]
        db: String,
        /// The tenant the key belongs to
        #[arg(long)]
        tenant: String,
        /// The key's prefix (or the whole key)
        prefix: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify every tenant's audit chain
    ///
    /// Exits 0 when every chain is intact; 1, naming each broken tenant and its first bad
    /// entry, otherwise.
    Verify {
        /// The store
        #[arg(long, default_value = serve::DEFAULT_DB)]
        db: String,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Decisions per second on one thread, through the in-memory decision cache
    ///
    /// Builds SUBJECTS people in memory from ledger records (consents given, withdrawn and
    /// refused, GPC signals, objections), then asks random questions ("may this activity use
    /// these categories, and send them to this recipient?") about random people, looked up by
    /// identity key as the server does, for SECONDS seconds. Build with --release to measure.
    ///
    /// Example: cargo run --release -p covenant-cli -- bench decisions
    Decisions {
        /// How many people to build
        #[arg(long, default_value_t = 1_000_000)]
        subjects: u64,
        /// How long to ask questions, per measurement
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// A policy file to use instead of the generated one
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Consent purposes (and activities) in the generated policy
        #[arg(long, default_value_t = 10)]
        purposes: usize,
    },
    /// Decisions per second through the HTTP API, server and clients in one process
    ///
    /// Seeds SUBJECTS people (half with consent to the activity's purpose) in a temporary SQLite
    /// store, starts the server on 127.0.0.1:0, warms its decision cache, then drives
    /// `POST /v1/decisions` about random people over CONNECTIONS keep-alive connections for
    /// SECONDS seconds, and prints requests per second and latency percentiles. Build with
    /// --release to measure.
    ///
    /// Example: cargo run --release -p covenant-cli -- bench http
    Http {
        /// How many people to seed
        #[arg(long, default_value_t = 10_000)]
        subjects: u64,
        /// Concurrent keep-alive connections
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// How long to send requests
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// The policy (default: the Oki-Toki example)
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The activity to ask about
        #[arg(long, default_value = "newsletter")]
        activity: String,
        /// Worker threads shared by the server and the clients (default: one per core)
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Data-subject requests on the demo application, against hand-written SQL
    ///
    /// Generates the demo application (`covenant demo-data`) with CONTACTS contacts, or uses
    /// the demo folder of --config, then measures access and erasure requests of single persons
    /// through the executor and the same reads and writes as hand-written SQL, side by side
    /// (medians), and batches of --batch erasures (per second), of users and then of contacts
    /// on their customers' instructions: `covenant dsr batch` does the same, in transactions of
    /// --chunk requests, each chunk's people looked up together in --concurrency parts; and each
    /// batch hand-written, run the same way; --rounds whole batches of each side, in turn. For users it also measures the floor: erasing other
    /// users by their writes alone, set-based (one statement per table for each chunk, no
    /// reads, no journal), the most erasures per second the database allows on this machine.
    /// Build with --release.
    ///
    /// Example: cargo run --release -p covenant-cli -- bench dsr --contacts 1000000
    Dsr {
        #[command(flatten)]
        demo: DemoArgs,
        /// Persons per measurement
        #[arg(long, default_value_t = 100)]
        samples: usize,
        /// Erasures in each batch (of users, of contacts), and as many more by hand
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Parts of a chunk looked up at the same time (each part's people together)
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Erasures of the batch written in one transaction per database
        #[arg(long, default_value_t = 100)]
        chunk: usize,
        /// Whole batches of each kind run by each side, in turn (the rate is over all of them)
        #[arg(long, default_value_t = 2)]
        rounds: usize,
    },
    /// Verified erasure requests through the server's worker, in batches against one at a time
    ///
    /// Generates the demo application (`covenant demo-data`) with CONTACTS contacts, or uses
    /// the demo folder of --config, queues --requests erasure requests of its users as
    /// verification does, and lets the worker of `covenant serve` carry them out, in four
    /// rounds: the first and last claim up to --batch fulfilments at a time (`serve
    /// --worker-batch`), the middle two one at a time. Prints both rates (requests per second,
    /// everything the worker does for a request included) and their ratio. Build with --release.
    ///
    /// Example: cargo run --release -p covenant-cli -- bench worker --contacts 1000000
    Worker {
        #[command(flatten)]
        demo: DemoArgs,
        /// Erasure requests in all (a quarter per round)
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Fulfilments the worker claims and carries out together in the batched rounds
        #[arg(long, default_value_t = 50)]
        batch: usize,
        /// Batches the worker carries out at the same time in the batched rounds (`serve
        /// --worker-lanes`); the other rounds take one job after the other
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=16))]
        lanes: u8,
    },
}

/// The demo application a benchmark runs on.
#[derive(clap::Args)]
struct DemoArgs {
    /// About how many contacts to generate (one user per 20 contacts)
    #[arg(long, default_value_t = 100_000)]
    contacts: u64,
    /// Generate into this PostgreSQL database instead of SQLite files
    #[arg(long)]
    postgres: Option<String>,
    /// Use the demo application of this covenant.toml instead of generating one
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to generate (default: a folder in the temporary directory)
    #[arg(long)]
    out: Option<PathBuf>,
}

impl DemoArgs {
    fn source(&self) -> bench_dsr::DemoSource<'_> {
        bench_dsr::DemoSource {
            contacts: self.contacts,
            postgres: self.postgres.as_deref(),
            config: self.config.as_deref(),
            out: self.out.as_deref(),
        }
    }
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check policy files: syntax, unknown keys, references and semantic lints
    ///
    /// Prints every problem with file:line:col, the offending line and a hint. Exits 0 when no
    /// file has errors (warnings are allowed unless --deny-warnings), 1 otherwise.
    ///
    /// Example: covenant policy check examples/*/policy.toml
    Check {
        /// Policy files (.toml, or .yaml/.yml)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Treat warnings as errors
        #[arg(long)]
        deny_warnings: bool,
        /// Print only problems, not the per-file summary
        #[arg(long, short)]
        quiet: bool,
    },
    /// Render the privacy notice or the record of processing activities
    ///
    /// notice-md and notice-html are the public notice (GDPR Art. 13/14); ropa-csv, ropa-json
    /// and ropa-html are the record of processing activities (GDPR Art. 30(1) and 30(2)).
    /// A policy with errors is not rendered.
    ///
    /// Example: covenant policy render examples/okki/policy.toml --format ropa-json
    Render {
        /// The policy file
        file: PathBuf,
        /// What to render
        #[arg(long, short, value_enum)]
        format: RenderFormat,
        /// Write to this file instead of standard output
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// List the changes between two versions, and which are material
    ///
    /// A material change affects people's rights (a new purpose, a new recipient, longer
    /// retention, a new transfer, …) and needs the notice period the new policy promises before
    /// it takes effect. Exits 0 whether or not anything changed.
    ///
    /// Example: covenant policy diff old/policy.toml new/policy.toml
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
        /// The day the change is announced (YYYY-MM-DD), to print the earliest effective date
        #[arg(long)]
        announced: Option<jiff::civil::Date>,
    },
    /// Print the JSON Schema of the policy file format
    Schema,
    /// List every lint with its severity and what it checks
    Lints,
}

#[derive(Clone, Copy, ValueEnum)]
enum RenderFormat {
    NoticeMd,
    NoticeHtml,
    RopaCsv,
    RopaJson,
    RopaHtml,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Policy(cmd) => match cmd {
            PolicyCommand::Check { files, deny_warnings, quiet } => policy_cmd::check(&files, deny_warnings, quiet),
            PolicyCommand::Render { file, format, out } => {
                let policy = policy_cmd::load(&file)?;
                let text = match format {
                    RenderFormat::NoticeMd => covenant_policy::notice::markdown(&policy),
                    RenderFormat::NoticeHtml => covenant_policy::notice::html(&policy)?,
                    RenderFormat::RopaCsv => covenant_policy::ropa::csv(&policy),
                    RenderFormat::RopaJson => covenant_policy::ropa::json(&policy),
                    RenderFormat::RopaHtml => covenant_policy::ropa::html(&policy)?,
                };
                write_output(out.as_deref(), &text)?;
                Ok(ExitCode::SUCCESS)
            }
            PolicyCommand::Diff { old, new, json, announced } => policy_cmd::diff(&old, &new, json, announced),
            PolicyCommand::Schema => {
                println!("{}", covenant_policy::schema::json_schema());
                Ok(ExitCode::SUCCESS)
            }
            PolicyCommand::Lints => {
                policy_cmd::lints();
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Demo { out, examples, serve, listen, no_serve } => {
            demo::run(&demo::DemoOptions { out: &out, examples: examples.as_deref(), serve: &serve, listen, no_serve })
        }
        Command::Serve {
            db,
            listen,
            policy,
            config,
            public_url,
            secret_file,
            smtp_url,
            mailbox,
            mail_from,
            log_format,
            timeout,
            worker_batch,
            worker_lanes,
        } => serve::run(&serve::ServeOptions {
            worker_batch: usize::from(worker_batch),
            worker_lanes: usize::from(worker_lanes),
            smtp_url: smtp_url.as_deref(),
            mailbox: mailbox.as_deref(),
            mail_from: &mail_from,
            db: &db,
            listen,
            policy: policy.as_deref(),
            config: config.as_deref(),
            public_url: public_url.as_deref(),
            secret_file: secret_file.as_deref(),
            log_format: match log_format {
                LogFormatArg::Text => covenant_server::telemetry::LogFormat::Text,
                LogFormatArg::Json => covenant_server::telemetry::LogFormat::Json,
            },
            timeout: std::time::Duration::from_secs(timeout.max(1)),
        }),
        Command::Dataset(cmd) => match cmd {
            DatasetCommand::Check { policy, files, db, deny_warnings, quiet } => {
                dataset_cmd::check(&policy, &files, &db, deny_warnings, quiet)
            }
            DatasetCommand::Schema => Ok(dataset_cmd::schema()),
            DatasetCommand::Generate { db, policy, id, out } => {
                dataset_cmd::generate(&db, policy.as_deref(), id.as_deref(), out.as_deref())
            }
        },
        Command::DemoData { contacts, out, seed, until, postgres, replace } => {
            demo_data::run(&demo_data::DemoDataOptions {
                contacts,
                out: &out,
                seed,
                until: Some(&until),
                postgres: postgres.as_deref(),
                replace,
            })
        }
        Command::Apikey(ApikeyCommand::Create { db, tenant, role, label }) => {
            apikey::create(&db, &tenant, &role, label.as_deref())
        }
        Command::Apikey(ApikeyCommand::List { db, tenant }) => apikey::list(&db, &tenant),
        Command::Apikey(ApikeyCommand::Revoke { db, tenant, prefix }) => apikey::revoke(&db, &tenant, &prefix),
        Command::Audit(AuditCommand::Verify { db }) => audit::verify(&db),
        Command::Dsr(cmd) => match cmd {
            dsr_cmd::DsrCommand::Plan { request, format } => dsr_cmd::plan(&request, format),
            dsr_cmd::DsrCommand::Run { request, set, old, purposes, request_id, format, out } => {
                dsr_cmd::run(&dsr_cmd::RunArgs {
                    request: &request,
                    set: &set,
                    old: old.as_deref(),
                    purposes: &purposes,
                    request_id: request_id.as_deref(),
                    format,
                    out: out.as_deref(),
                })
            }
            dsr_cmd::DsrCommand::Runs { config, limit, format } => dsr_cmd::runs(&config, limit, format),
            dsr_cmd::DsrCommand::Batch(args) => dsr_batch::run(&args),
        },
        Command::Bench(BenchCommand::Dsr { demo, samples, batch, concurrency, chunk, rounds }) => {
            bench_dsr::run(&bench_dsr::DsrBenchOptions {
                demo: demo.source(),
                samples,
                batch,
                concurrency,
                chunk,
                rounds,
            })
        }
        Command::Bench(BenchCommand::Worker { demo, requests, batch, lanes }) => {
            let lanes = usize::from(lanes);
            bench_worker::run(&bench_worker::WorkerBenchOptions { demo: demo.source(), requests, batch, lanes })
        }
        Command::Bench(BenchCommand::Decisions { subjects, seconds, policy, purposes }) => {
            bench::decisions(&bench::DecisionsOptions { subjects, seconds, policy: policy.as_deref(), purposes })
        }
        Command::Bench(BenchCommand::Http { subjects, connections, seconds, policy, activity, threads }) => {
            let policy = policy
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/okitoki/policy.toml"));
            let threads =
                threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get));
            bench_http::http(&bench_http::HttpOptions {
                subjects,
                connections,
                seconds,
                policy: &policy,
                activity: &activity,
                threads,
            })
        }
    }
}

fn write_output(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display())),
        None => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_batches_as_the_worker_does_by_default() {
        let cli = Cli::try_parse_from(["covenant", "serve", "--policy", "p.toml"]).unwrap();
        let Command::Serve { worker_batch, worker_lanes, .. } = cli.command else { panic!("not serve") };
        assert_eq!(usize::from(worker_batch), covenant_server::worker::DEFAULT_BATCH);
        assert_eq!(usize::from(worker_lanes), covenant_server::worker::DEFAULT_LANES);
        for bad in ["0", "1001", "many"] {
            assert!(Cli::try_parse_from(["covenant", "serve", "--policy", "p.toml", "--worker-batch", bad]).is_err());
        }
        for bad in ["0", "17", "-1"] {
            assert!(Cli::try_parse_from(["covenant", "serve", "--policy", "p.toml", "--worker-lanes", bad]).is_err());
        }
    }
}
