//! `covenant dsr batch`: many data-subject requests from a file (JSON Lines or CSV), validated as
//! a whole before anything runs, then run in chunks through `Executor::run_batches_with`.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, ValueEnum};
use covenant_core::{Identity, IdentityError};
use covenant_dsr::plan::{Action, Plan};
use covenant_dsr::{Config, Correction, Outcome, Progress, Request, RequestKind, Scope};
use covenant_policy::dataset::Dataset;
use indicatif::ProgressBar;
use serde_json::{Value, json};

use crate::dsr_cmd::Format;

/// At most this many requests per file.
pub const MAX_REQUESTS: usize = 100_000;
/// At most this many bytes of input.
const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;
/// At most this many identities per request (as `dsr run`).
const MAX_IDENTITIES: usize = 100;
/// At most this many characters in a request id.
const MAX_ID_CHARS: usize = 200;

/// The fields of a JSON Lines request.
const FIELDS: &str = "`kind`, `identities`, `set`, `old`, `purposes`, `customer`, `id`";
const JSON_EXAMPLE: &str = r#"{"kind": "erasure", "identities": {"email": "ada@example.com"}}"#;

#[derive(Args)]
pub struct BatchArgs {
    /// The configuration file (covenant.toml)
    #[arg(long)]
    pub config: PathBuf,
    /// The requests: a JSON Lines or CSV file, `-` for standard input
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// jsonl or csv; auto: by the file's extension (`.csv`), else by its first character (`{` is JSON Lines)
    #[arg(long, value_enum, default_value = "auto")]
    pub input_format: InputFormat,
    /// Requests per batch: their writes go in one transaction per database
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub chunk: u64,
    /// Parts of a batch looked up at the same time, each part's people together (one statement
    /// per lookup for the whole part), each part on its own connections
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub concurrency: u64,
    /// text (failures and a summary) or json (one JSON object per request, JSON Lines)
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Validate the file and print each request's plan; connect to nothing, write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Auto,
    Jsonl,
    Csv,
}

/// A request as the file gives it, before it is checked against the configuration.
#[derive(Default)]
struct Raw {
    kind: Option<String>,
    /// `(kind, value)` pairs.
    identities: Vec<(String, String)>,
    /// `KIND=VALUE` corrections.
    set: Vec<String>,
    old: Option<String>,
    purposes: Vec<String>,
    customer: Option<String>,
    id: Option<String>,
}

/// A line's request as read, or what is wrong with it, by line number.
type Lines = Vec<(usize, Result<Raw, String>)>;

/// A valid request and where it is in the file.
struct Entry {
    line: usize,
    request: Request,
}

/// What is wrong with a line.
struct Bad {
    line: usize,
    message: String,
}

impl Bad {
    fn new(line: usize, message: impl Into<String>) -> Bad {
        Bad { line, message: message.into() }
    }
}

/// What requests are checked against.
struct Checks<'a> {
    config: &'a Config,
    datasets: Vec<Dataset>,
    /// Plan errors by (kind, identity kinds, scope): a plan's validity depends on nothing else.
    plans: HashMap<(RequestKind, Vec<String>, String), Result<(), String>>,
}

pub fn run(args: &BatchArgs) -> Result<ExitCode> {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return Ok(refuse(&e.to_string())),
    };
    let text = match read_input(&args.input) {
        Ok(t) => t,
        Err(m) => return Ok(refuse(&m)),
    };
    let format = match args.input_format {
        InputFormat::Auto => detect(&args.input, &text),
        f => f,
    };
    let name =
        if args.input == Path::new("-") { "standard input".to_owned() } else { args.input.display().to_string() };
    let (entries, bad) = parse(&text, format, &config);
    if !bad.is_empty() {
        for b in &bad {
            eprintln!("error: {name}: line {}: {}", b.line, b.message);
        }
        eprintln!(
            "{} bad line(s) in {name}; nothing was run: fix them and run the command again (`--dry-run` checks a file without running it)",
            bad.len()
        );
        return Ok(ExitCode::from(2));
    }
    if entries.is_empty() {
        return Ok(refuse(&format!(
            "{name} holds no request; write one request per line, e.g. `{JSON_EXAMPLE}` (see `covenant dsr batch --help`)"
        )));
    }
    if args.dry_run {
        return dry_run(&config, &entries, args.format);
    }
    execute(&config, &entries, args)
}

fn refuse(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn read_input(path: &Path) -> Result<String, String> {
    let mut bytes = Vec::new();
    let shown = if path == Path::new("-") { "standard input".to_owned() } else { format!("`{}`", path.display()) };
    let read = if path == Path::new("-") {
        std::io::stdin().lock().take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(format!(
            "{shown} is larger than {} MiB; split it into smaller files of at most {MAX_REQUESTS} requests",
            MAX_INPUT_BYTES / 1024 / 1024
        ));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        format!("{shown} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8", e.utf8_error().valid_up_to())
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

fn detect(path: &Path, text: &str) -> InputFormat {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => InputFormat::Csv,
        Some("jsonl" | "ndjson" | "json") => InputFormat::Jsonl,
        _ if text.trim_start().starts_with('{') || text.trim().is_empty() => InputFormat::Jsonl,
        _ => InputFormat::Csv,
    }
}

/// Every request of the file, or every line that is wrong.
fn parse(text: &str, format: InputFormat, config: &Config) -> (Vec<Entry>, Vec<Bad>) {
    let raws: Lines = match format {
        InputFormat::Csv => match csv_requests(text) {
            Ok(r) => r,
            Err(b) => return (Vec::new(), vec![b]),
        },
        _ => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, json_request(l)))
            .collect(),
    };
    if raws.len() > MAX_REQUESTS {
        let line = raws.get(MAX_REQUESTS).map_or(0, |r| r.0);
        let bad = Bad::new(
            line,
            format!(
                "the file holds {} requests, more than {MAX_REQUESTS}; split it into files of at most {MAX_REQUESTS} requests",
                raws.len()
            ),
        );
        return (Vec::new(), vec![bad]);
    }
    let mut checks = Checks { config, datasets: config.dataset_list(), plans: HashMap::new() };
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    let mut keys: HashMap<String, usize> = HashMap::new();
    for (line, raw) in raws {
        let request = match raw.and_then(|r| checks.request(r)) {
            Ok(r) => r,
            Err(m) => {
                bad.push(Bad::new(line, m));
                continue;
            }
        };
        let key = request.key();
        if let Some(first) = keys.get(&key) {
            let what = match &request.request_id {
                Some(id) => format!("its `id` `{id}` is the one of line {first}; give each request its own id"),
                None => format!(
                    "it is the same request as line {first} (same kind, identities, customer and values); remove one of them"
                ),
            };
            bad.push(Bad::new(line, what));
            continue;
        }
        keys.insert(key, line);
        entries.push(Entry { line, request });
    }
    (entries, bad)
}

/// The text of a JSON string or number.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_request(line: &str) -> Result<Raw, String> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| format!("not a JSON object ({e}); write one request per line, e.g. `{JSON_EXAMPLE}`"))?;
    let Value::Object(map) = value else {
        return Err(format!("not a JSON object; write one request per line, e.g. `{JSON_EXAMPLE}`"));
    };
    let mut raw = Raw::default();
    for (field, v) in &map {
        match field.as_str() {
            "kind" => {
                raw.kind = Some(
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| "`kind` must be a string, e.g. `\"kind\": \"erasure\"`".to_owned())?,
                );
            }
            "identities" => {
                raw.identities = json_pairs(v, "identities", r#""identities": {"email": "ada@example.com"}"#)?
            }
            "set" => {
                raw.set = json_pairs(v, "set", r#""set": {"email": "ada@example.org"}"#)?
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
            }
            "old" => {
                raw.old = Some(scalar(v).ok_or_else(|| "`old` must be a string: the value to replace".to_owned())?);
            }
            "purposes" => {
                raw.purposes = match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) => {
                        items.iter().map(|i| i.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>().ok_or_else(
                            || "`purposes` must be a list of activity ids, e.g. `[\"newsletter\"]`".to_owned(),
                        )?
                    }
                    _ => return Err("`purposes` must be a list of activity ids, e.g. `[\"newsletter\"]`".to_owned()),
                };
            }
            "customer" => {
                raw.customer =
                    Some(scalar(v).ok_or_else(|| "`customer` must be a string: the customer's id".to_owned())?);
            }
            "id" => {
                raw.id =
                    Some(scalar(v).ok_or_else(|| "`id` must be a string or a number: the request's id".to_owned())?);
            }
            other => return Err(format!("unknown field `{other}`; the fields are {FIELDS}")),
        }
    }
    Ok(raw)
}

/// `{"KIND": "VALUE" or ["VALUE", …]}` or `["KIND=VALUE", …]` as `(KIND, VALUE)` pairs.
fn json_pairs(v: &Value, field: &str, example: &str) -> Result<Vec<(String, String)>, String> {
    let wrong = || format!("`{field}` must be an object or a list of `KIND=VALUE` strings, e.g. `{example}`");
    let mut out = Vec::new();
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::Array(items) => {
                        for i in items {
                            out.push((k.clone(), scalar(i).ok_or_else(wrong)?));
                        }
                    }
                    v => out.push((k.clone(), scalar(v).ok_or_else(wrong)?)),
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                let s = i.as_str().ok_or_else(wrong)?;
                let (k, v) =
                    s.split_once('=').ok_or_else(|| format!("`{field}`: `{s}` is not `KIND=VALUE`; {}", wrong()))?;
                out.push((k.trim().to_owned(), v.to_owned()));
            }
        }
        _ => return Err(wrong()),
    }
    Ok(out)
}

/// A CSV column.
enum Column {
    Kind,
    Identity(String),
    Set(String),
    Old,
    Purposes,
    Customer,
    Id,
}

fn csv_requests(text: &str) -> Result<Lines, Bad> {
    let mut records = csv_records(text)?.into_iter();
    let Some((hline, header)) = records.next() else { return Ok(Vec::new()) };
    let mut columns = Vec::new();
    for h in &header {
        let h = h.trim();
        let c = match h {
            "kind" => Column::Kind,
            "old" => Column::Old,
            "purposes" => Column::Purposes,
            "customer" => Column::Customer,
            "id" => Column::Id,
            _ if h.starts_with("set:") && h.len() > 4 => Column::Set(h["set:".len()..].to_owned()),
            _ => match Identity::parse(h, "x") {
                Err(IdentityError::Kind(_) | IdentityError::Namespace(_)) => {
                    return Err(Bad::new(
                        hline,
                        format!(
                            "unknown column `{h}` in the header; the columns are `kind`, identity kinds (`email`, `phone`, `account_id`, `external:SYSTEM`), `set:KIND`, `old`, `purposes` (separated by `;`), `customer` and `id`"
                        ),
                    ));
                }
                _ => Column::Identity(h.to_owned()),
            },
        };
        columns.push(c);
    }
    if !columns.iter().any(|c| matches!(c, Column::Kind)) {
        return Err(Bad::new(
            hline,
            "the header has no `kind` column; the first line names the columns, e.g. `kind,email,phone`",
        ));
    }
    let mut out = Vec::new();
    for (line, fields) in records {
        if fields.len() != columns.len() {
            out.push((
                line,
                Err(format!(
                    "{} value(s) where the header names {} column(s); write one value per column (empty for none), quoting values that hold a comma",
                    fields.len(),
                    columns.len()
                )),
            ));
            continue;
        }
        let mut raw = Raw::default();
        for (c, v) in columns.iter().zip(fields) {
            if v.trim().is_empty() {
                continue;
            }
            match c {
                Column::Kind => raw.kind = Some(v.trim().to_owned()),
                Column::Identity(k) => raw.identities.push((k.clone(), v)),
                Column::Set(k) => raw.set.push(format!("{k}={v}")),
                Column::Old => raw.old = Some(v),
                Column::Purposes => {
                    raw.purposes = v.split(';').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
                }
                Column::Customer => raw.customer = Some(v),
                Column::Id => raw.id = Some(v.trim().to_owned()),
            }
        }
        out.push((line, Ok(raw)));
    }
    Ok(out)
}

/// The records of a CSV text (RFC 4180: quoted values may hold commas, doubled quotes and line
/// breaks), each with the line it starts on; blank lines are skipped.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, Bad> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut start = 1;
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut closed = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    in_quotes = false;
                    closed = true;
                }
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !closed => {
                in_quotes = true;
                quoted = true;
            }
            '"' => {
                return Err(Bad::new(
                    line,
                    "a quote inside a value; quote the whole value and double the quotes in it, e.g. `\"say \"\"hi\"\"\"`",
                ));
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                closed = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if quoted || fields.len() > 1 || !fields[0].trim().is_empty() {
                    out.push((start, std::mem::take(&mut fields)));
                }
                fields.clear();
                quoted = false;
                closed = false;
                line += 1;
                start = line;
            }
            c if closed && !c.is_whitespace() => {
                return Err(Bad::new(line, "text after a closing quote; quote the whole value"));
            }
            c => {
                if !closed {
                    field.push(c);
                }
            }
        }
    }
    if in_quotes {
        return Err(Bad::new(start, "a quoted value is not closed; end it with `\"`"));
    }
    fields.push(field);
    if quoted || fields.len() > 1 || !fields[0].trim().is_empty() {
        out.push((start, fields));
    }
    Ok(out)
}

impl Checks<'_> {
    /// The request of a line, checked as `covenant dsr run` checks its arguments.
    fn request(&mut self, raw: Raw) -> Result<Request, String> {
        let kind_text = raw.kind.ok_or_else(|| {
            format!(
                "`kind` is missing; add it, e.g. `\"kind\": \"erasure\"` (one of {})",
                RequestKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            )
        })?;
        let kind: RequestKind = kind_text.trim().parse()?;
        if raw.identities.is_empty() {
            return Err(format!("no identity; add the person's identities, e.g. `{JSON_EXAMPLE}`"));
        }
        let mut identities: Vec<Identity> = Vec::new();
        for (k, v) in &raw.identities {
            let id = Identity::parse(k.trim(), v).map_err(|e| format!("identity `{}={v}`: {e}", k.trim()))?;
            if !identities.contains(&id) {
                identities.push(id);
            }
        }
        if identities.len() > MAX_IDENTITIES {
            return Err(format!(
                "{} identities; a request may name at most {MAX_IDENTITIES}: split them",
                identities.len()
            ));
        }
        let mut request = Request::new(kind, identities);
        if let Some(c) = raw.customer {
            if c.trim().is_empty() {
                return Err("`customer` is empty; give the customer's id or remove the field".into());
            }
            request.scope = Scope::Customer(c);
        }
        if kind == RequestKind::Rectification {
            if raw.set.is_empty() {
                return Err(
                    "a rectification needs the corrected value: add `\"set\": {\"email\": \"ada@example.org\"}` (an identity kind or a category)".into(),
                );
            }
            for s in &raw.set {
                let mut c = Correction::parse(s, &self.datasets).map_err(|e| format!("`set`: {e}"))?;
                c.old.clone_from(&raw.old);
                request.corrections.push(c);
            }
        } else if !raw.set.is_empty() || raw.old.is_some() {
            return Err(format!(
                "`set` and `old` are for rectification, not for `{kind}`; remove them or change `kind`"
            ));
        }
        if kind == RequestKind::Objection {
            for p in &raw.purposes {
                if self.config.policy.activity(p).is_none() {
                    let ids: Vec<&str> = self.config.policy.activities.iter().map(|a| a.id.as_str()).collect();
                    return Err(format!(
                        "`purposes`: `{p}` is not an activity of the policy; use one of: {}",
                        ids.join(", ")
                    ));
                }
            }
            request.objections = raw.purposes;
        } else if !raw.purposes.is_empty() {
            return Err(format!("`purposes` is for objection, not for `{kind}`; remove it or change `kind`"));
        }
        if let Some(id) = raw.id {
            let id = id.trim().to_owned();
            if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
                return Err(format!(
                    "`id` must be 1 to {MAX_ID_CHARS} characters without control characters, e.g. `\"id\": \"ticket-4411\"`"
                ));
            }
            request.request_id = Some(id);
        }
        let mut kinds: Vec<String> = request.identities.iter().map(Identity::kind_name).collect();
        kinds.sort();
        kinds.dedup();
        let sig = (kind, kinds, request.scope.key());
        let config = self.config;
        let datasets = &self.datasets;
        let checked = self.plans.entry(sig).or_insert_with(|| {
            covenant_dsr::plan::build(&config.policy, datasets, request.kind, &request.identities, &request.scope)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        checked.clone()?;
        Ok(request)
    }
}

fn identities_text(r: &Request) -> String {
    r.identities.iter().map(Identity::key).collect::<Vec<_>>().join(", ")
}

/// The common fields of a request's JSON line.
fn head(e: &Entry) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("line".into(), json!(e.line));
    m.insert("key".into(), json!(e.request.key()));
    if let Some(id) = &e.request.request_id {
        m.insert("id".into(), json!(id));
    }
    m.insert("kind".into(), json!(e.request.kind.as_str()));
    m.insert("identities".into(), json!(e.request.identities.iter().map(Identity::key).collect::<Vec<_>>()));
    m
}

fn dry_run(config: &Config, entries: &[Entry], format: Format) -> Result<ExitCode> {
    use std::io::Write as _;
    let datasets = config.dataset_list();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut writes = 0;
    // A plan's summary depends on the kinds of the identities, not on their values.
    let mut summaries: HashMap<(RequestKind, Vec<String>, String), String> = HashMap::new();
    for e in entries {
        let r = &e.request;
        if r.kind.writes_databases() {
            writes += 1;
        }
        let build = || covenant_dsr::plan::build(&config.policy, &datasets, r.kind, &r.identities, &r.scope);
        match format {
            Format::Json => {
                let plan = match build() {
                    Ok(p) => p,
                    Err(err) => return Ok(refuse(&format!("line {}: {err}", e.line))),
                };
                let mut m = head(e);
                m.insert("plan".into(), plan.to_json());
                writeln!(out, "{}", serde_json::to_string(&Value::Object(m))?)?;
            }
            Format::Text => {
                let mut kinds: Vec<String> = r.identities.iter().map(Identity::kind_name).collect();
                kinds.sort();
                kinds.dedup();
                let sig = (r.kind, kinds, r.scope.key());
                let summary = match summaries.get(&sig) {
                    Some(s) => s.clone(),
                    None => {
                        let s = match build() {
                            Ok(p) => plan_summary(&p),
                            Err(err) => return Ok(refuse(&format!("line {}: {err}", e.line))),
                        };
                        summaries.insert(sig, s.clone());
                        s
                    }
                };
                writeln!(out, "line {}: {} for {}: {summary}", e.line, r.kind, identities_text(r))?;
            }
        }
    }
    if format == Format::Text {
        writeln!(
            out,
            "{} request(s) planned ({writes} would write to the databases); dry run: nothing was written (`covenant dsr plan` shows one plan in full)",
            entries.len()
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// One line about a plan: where it looks and what it writes.
fn plan_summary(plan: &Plan) -> String {
    let lookups: usize = plan.datasets.iter().map(|d| d.lookups.len()).sum();
    let dbs = plan.datasets.iter().filter(|d| !d.lookups.is_empty()).count();
    let mut parts = vec![format!("{lookups} lookup(s) in {dbs} database(s)")];
    let (mut deletes, mut updates, mut keeps, mut cuts) = (0, 0, 0, 0);
    for a in plan.datasets.iter().flat_map(|d| &d.actions) {
        match a {
            Action::Delete { .. } => deletes += 1,
            Action::Update { .. } => updates += 1,
            Action::Keep { .. } => keeps += 1,
            Action::CutMentions { .. } => cuts += 1,
        }
    }
    match plan.kind {
        RequestKind::Erasure => {
            let mut what = Vec::new();
            for (n, text) in [
                (deletes, "deletes rows of"),
                (updates, "updates rows of"),
                (keeps, "keeps under a legal hold rows of"),
                (cuts, "cuts mentions in"),
            ] {
                if n > 0 {
                    what.push(format!("{text} {n} table(s)"));
                }
            }
            parts.push(if what.is_empty() { "erases nothing in scope".to_owned() } else { what.join(", ") });
        }
        RequestKind::Rectification => {
            parts.push("writes the corrected value where the person's rows hold the old one".into())
        }
        RequestKind::Restriction | RequestKind::Objection => parts.push("flags the person in Covenant's store".into()),
        _ => parts.push("reads only".into()),
    }
    let referred: usize = plan.datasets.iter().map(|d| d.referred.len()).sum();
    if referred > 0 {
        parts.push(format!("{referred} table(s) held for customers referred to them"));
    }
    if let Scope::Customer(c) = &plan.scope {
        parts.push(format!("for customer `{c}` only"));
    }
    parts.join("; ")
}

/// A progress bar over the whole file; `resuming` messages always reach standard error.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn println(&self, msg: &str) {
        match &self.0 {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }
}

impl Progress for Bar {
    fn message(&self, msg: &str) {
        if msg.starts_with("resuming") {
            self.println(msg);
        }
    }
    // The length is the file's, set once; each chunk's end sets the position.
    fn start(&self, _steps: u64) {}
    fn advance(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
}

/// What the batch did.
#[derive(Default)]
struct Totals {
    done: usize,
    failed: usize,
    resumed: usize,
    erasures: usize,
    by_kind: BTreeMap<&'static str, usize>,
    deleted: u64,
    updated: u64,
    mentions_cut: u64,
}

impl Totals {
    fn add(&mut self, o: &Outcome) {
        self.done += 1;
        let kind = match o {
            Outcome::Access(_) => RequestKind::Access,
            Outcome::Export(_) => RequestKind::Export,
            Outcome::Confirm(_) => RequestKind::Confirm,
            Outcome::Erasure(_) => RequestKind::Erasure,
            Outcome::Rectification(_) => RequestKind::Rectification,
            Outcome::Restriction(_) => RequestKind::Restriction,
            Outcome::Objection(_) => RequestKind::Objection,
        };
        *self.by_kind.entry(kind.as_str()).or_default() += 1;
        if let Outcome::Erasure(w) | Outcome::Rectification(w) = o {
            if kind == RequestKind::Erasure {
                self.erasures += 1;
            }
            if w.resumed {
                self.resumed += 1;
            }
            for s in &w.steps {
                self.deleted += s.counts.deleted.values().sum::<u64>();
                self.updated += s.counts.updated.values().sum::<u64>();
                self.mentions_cut += s.counts.mentions_cut.values().sum::<u64>();
            }
        }
    }
}

fn execute(config: &Config, entries: &[Entry], args: &BatchArgs) -> Result<ExitCode> {
    let chunk = usize::try_from(args.chunk).unwrap_or(100).max(1);
    let concurrency = usize::try_from(args.concurrency).unwrap_or(4).max(1);
    let requests: Vec<Request> = entries.iter().map(|e| e.request.clone()).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (totals, elapsed) = rt.block_on(async {
        let (store, exec) = crate::dsr_cmd::open_executor(config).await?;
        let bar = Bar(crate::dsr_cmd::terminal_bar(
            args.format == Format::Text,
            requests.len() as u64,
            "{spinner} [{bar:30}] {pos}/{len} requests, {per_sec}, {eta} left",
        ));
        let started = Instant::now();
        let mut totals = Totals::default();
        let mut outcome: Result<()> = Ok(());
        // Batches are pipelined: while one is written, the next one's people are looked up and
        // the previous one's runs are closed.
        exec.run_batches_with(&requests, chunk, concurrency, &bar, |first, results| {
            if let Some(b) = &bar.0 {
                b.set_position((first + results.len()) as u64);
            }
            let ents = entries.iter().skip(first).take(results.len());
            for (e, r) in ents.zip(results) {
                if let Err(err) = report(e, r, args.format, &bar, &mut totals) {
                    outcome = Err(err);
                    return false;
                }
            }
            true
        })
        .await;
        let elapsed = started.elapsed();
        if let Some(b) = &bar.0 {
            b.finish_and_clear();
        }
        exec.close().await;
        store.close().await;
        outcome.map(|()| (totals, elapsed))
    })?;
    let secs = elapsed.as_secs_f64();
    let kinds: Vec<String> = totals.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let mut summary = format!(
        "{} request(s) done{}, {} failed{}\nrows: {} deleted, {} updated, {} mention(s) cut\n{:.2} s",
        totals.done,
        if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) },
        totals.failed,
        if totals.resumed > 0 { format!(", {} resumed an interrupted run", totals.resumed) } else { String::new() },
        totals.deleted,
        totals.updated,
        totals.mentions_cut,
        secs
    );
    if totals.erasures > 0 && secs > 0.0 {
        summary += &format!(", {:.1} erasures per second", totals.erasures as f64 / secs);
    }
    match args.format {
        Format::Text => println!("{summary}"),
        // Standard output holds only the requests' lines.
        Format::Json => eprintln!("{summary}"),
    }
    Ok(if totals.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Prints one request's result (JSON) or failure (text).
fn report(
    e: &Entry,
    r: Result<Outcome, covenant_dsr::DsrError>,
    format: Format,
    bar: &Bar,
    totals: &mut Totals,
) -> Result<()> {
    match &r {
        Ok(o) => totals.add(o),
        Err(err) => {
            totals.failed += 1;
            if format == Format::Text {
                bar.println(&format!(
                    "failed: line {}: {} for {}: {err}",
                    e.line,
                    e.request.kind,
                    identities_text(&e.request)
                ));
            }
        }
    }
    if format == Format::Json {
        let mut m = head(e);
        match r {
            Ok(o) => {
                m.insert("status".into(), json!("done"));
                m.insert("outcome".into(), serde_json::to_value(&o)?);
            }
            Err(err) => {
                m.insert("status".into(), json!("failed"));
                m.insert("error".into(), json!(err.to_string()));
            }
        }
        println!("{}", serde_json::to_string(&Value::Object(m))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_quotes_commas_and_line_breaks() {
        let text = "kind,email\r\nerasure,ada@example.com\n\n\"access\",\"b,\"\"x\"\"\nc\"\n";
        let r = csv_records(text).unwrap_or_else(|b| panic!("line {}: {}", b.line, b.message));
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], (1, vec!["kind".to_owned(), "email".to_owned()]));
        assert_eq!(r[1], (2, vec!["erasure".to_owned(), "ada@example.com".to_owned()]));
        assert_eq!(r[2], (4, vec!["access".to_owned(), "b,\"x\"\nc".to_owned()]));
    }

    #[test]
    fn csv_records_refuse_stray_and_unclosed_quotes() {
        for (text, line, needle) in [
            ("kind,email\nerasure,a\"b\n", 2, "a quote inside a value"),
            ("kind,email\nerasure,\"ada\n", 2, "not closed"),
            ("kind,email\n\"erasure\"x,a\n", 2, "after a closing quote"),
        ] {
            match csv_records(text) {
                Ok(r) => panic!("{text:?} was read as {r:?}"),
                Err(b) => {
                    assert_eq!(b.line, line, "{text:?}");
                    assert!(b.message.contains(needle), "{text:?}: {}", b.message);
                }
            }
        }
    }

    #[test]
    fn json_requests_take_both_identity_shapes() {
        let a =
            json_request(r#"{"kind": "erasure", "identities": {"email": ["a@x.com", "b@x.com"], "account_id": 42}}"#)
                .unwrap_or_else(|m| panic!("{m}"));
        let b =
            json_request(r#"{"kind": "erasure", "identities": ["email=a@x.com", "email=b@x.com", "account_id=42"]}"#)
                .unwrap_or_else(|m| panic!("{m}"));
        let mut pa = a.identities.clone();
        let mut pb = b.identities.clone();
        pa.sort();
        pb.sort();
        assert_eq!(pa, pb);
        assert_eq!(pa.len(), 3);
    }

    #[test]
    fn json_requests_refuse_what_they_cannot_read() {
        for (line, needle) in [
            ("not json", "not a JSON object"),
            ("[1]", "not a JSON object"),
            (r#"{"kind": "erasure", "identity": "email=a@x.com"}"#, "unknown field `identity`"),
            (r#"{"kind": 3}"#, "`kind` must be a string"),
            (r#"{"identities": "email=a@x.com"}"#, "`identities` must be an object"),
            (r#"{"identities": ["a@x.com"]}"#, "is not `KIND=VALUE`"),
            (r#"{"purposes": {"a": 1}}"#, "`purposes` must be a list"),
        ] {
            match json_request(line) {
                Ok(_) => panic!("{line} was accepted"),
                Err(m) => assert!(m.contains(needle), "{line}: {m}"),
            }
        }
    }

    #[test]
    fn detect_by_extension_then_content() {
        assert!(detect(Path::new("a.csv"), "{") == InputFormat::Csv);
        assert!(detect(Path::new("a.jsonl"), "kind") == InputFormat::Jsonl);
        assert!(detect(Path::new("-"), "  {\"kind\"") == InputFormat::Jsonl);
        assert!(detect(Path::new("-"), "kind,email") == InputFormat::Csv);
    }
}
