//! The `covenant` command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

mod bench;
mod demo;
mod policy_cmd;

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
    Demo {
        /// Where to write the rendered documents
        #[arg(long, default_value = "covenant-demo")]
        out: PathBuf,
        /// The folder holding one `NAME/policy.toml` per company (default: the repository's examples/)
        #[arg(long)]
        examples: Option<PathBuf>,
    },
    /// Measure how fast Covenant answers
    #[command(subcommand)]
    Bench(BenchCommand),
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
        Command::Demo { out, examples } => demo::run(&out, examples.as_deref()),
        Command::Bench(BenchCommand::Decisions { subjects, seconds, policy, purposes }) => {
            bench::decisions(&bench::DecisionsOptions { subjects, seconds, policy: policy.as_deref(), purposes })
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
