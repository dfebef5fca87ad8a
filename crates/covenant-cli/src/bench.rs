//! `covenant bench …`: measurements to quote in docs/benchmarks.md.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use covenant_core::TenantId;
use covenant_engine::synthetic::{self, Population, Rng};
use covenant_engine::{DecisionCache, PolicyIndex, decide};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;

use crate::policy_cmd;

/// Time this thread has spent on a CPU, from Linux's scheduler statistics; `None` elsewhere.
/// On a shared machine, other processes take the core away now and then; decisions per second
/// of CPU time is then what one core does, whatever the neighbours do.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// A measurement's line: wall-clock time, the share of it spent on a CPU, and the rate per
/// second of CPU time (per wall-clock second when CPU time is unknown).
fn report(what: &str, done: u64, allowed: u64, wall: Duration, cpu: Option<Duration>) {
    let wall_s = wall.as_secs_f64();
    let (share, seconds) = match cpu {
        Some(c) if c > Duration::ZERO => {
            (format!(", on a CPU {:.0}% of it", 100.0 * c.as_secs_f64() / wall_s), c.as_secs_f64())
        }
        _ => (String::new(), wall_s),
    };
    println!(
        "one thread, {wall_s:.1} s{share}, {what}: {done} decisions ({:.0}% allowed), {:.0} per wall-clock second, decisions/s: {:.0}",
        100.0 * allowed as f64 / done.max(1) as f64,
        done as f64 / wall_s,
        done as f64 / seconds
    );
}

/// How `covenant bench decisions` runs.
pub struct DecisionsOptions<'a> {
    pub subjects: u64,
    pub seconds: f64,
    pub policy: Option<&'a Path>,
    pub purposes: usize,
}

/// Builds `subjects` people in memory (each from ledger records, as a load from the store
/// would), then answers random questions about random people on one thread for a few seconds:
/// once through the decision cache by identity key, as the server does, and once with the
/// person's state in hand, to show what the lookup costs.
pub fn decisions(opts: &DecisionsOptions<'_>) -> Result<ExitCode> {
    if opts.subjects == 0 {
        bail!("`--subjects` must be at least 1");
    }
    if !(opts.seconds.is_finite() && opts.seconds > 0.0) {
        bail!("`--seconds` must be a positive number of seconds; got `{}`", opts.seconds);
    }
    let (policy, source) = match opts.policy {
        Some(path) => (policy_cmd::load(path)?, format!("`{}`", path.display())),
        None => (
            synthetic::policy(opts.purposes).context("cannot build the generated policy")?,
            format!("generated, {} consent purposes", opts.purposes),
        ),
    };
    let index = Arc::new(PolicyIndex::compile(&policy));
    let queries = synthetic::queries(&policy, &index);
    if queries.is_empty() {
        bail!("the policy has no activities to ask about");
    }
    println!(
        "policy: {source}; {} activities, {} consent purposes, {} distinct questions",
        policy.activities.len(),
        index.purpose_count(),
        queries.len()
    );

    let tenant = TenantId::parse("bench").context("tenant name")?;
    let cache = DecisionCache::new();
    let t = cache.set_policy(tenant, index.clone());
    let bar = ProgressBar::new(opts.subjects).with_style(
        ProgressStyle::with_template("building subjects {bar:40} {human_pos}/{human_len} ({per_sec}, {eta} left)")
            .context("progress bar template")?,
    );
    let started = Instant::now();
    let mut population = Population::new(&index, 1);
    for i in 0..opts.subjects {
        let key = synthetic::identity_key(i);
        let subject = synthetic::subject_id(i);
        t.link(&key, subject);
        t.insert(subject, population.state(&index, i));
        if i % 8192 == 0 {
            bar.set_position(i);
        }
    }
    bar.finish_and_clear();
    println!("built {} subjects from ledger records in {:.1} s", opts.subjects, started.elapsed().as_secs_f64());

    let duration = Duration::from_secs_f64(opts.seconds);
    let n = opts.subjects;
    let q = queries.len() as u64;

    // Through the cache, by identity key, reading the clock for every decision. The key is
    // written into a reused buffer, as a server has it in the request it just read.
    let mut key = String::with_capacity(64);
    let mut rng = Rng::new(42);
    let (mut done, mut allowed, mut missed) = (0u64, 0u64, 0u64);
    let cpu_start = thread_cpu();
    let start = Instant::now();
    while start.elapsed() < duration {
        for _ in 0..1024 {
            synthetic::write_identity_key(&mut key, rng.below(n));
            let query = &queries[rng.below(q) as usize];
            match t.decide(&key, query, Timestamp::now()) {
                Ok(d) => allowed += u64::from(d.is_allowed()),
                Err(_) => missed += 1,
            }
        }
        done += 1024;
    }
    let wall = start.elapsed();
    let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
    if missed > 0 {
        bail!("{missed} lookups missed the cache; every generated person should be there");
    }
    report("random person looked up by identity key", done, allowed, wall, cpu);

    // The engine alone: the state in hand, one clock read per 1024 decisions.
    let states: Vec<_> =
        (0..n.min(100_000)).filter_map(|i| t.with_state(synthetic::subject_id(i), Clone::clone)).collect();
    let mut rng = Rng::new(43);
    let (mut done, mut allowed) = (0u64, 0u64);
    let cpu_start = thread_cpu();
    let start = Instant::now();
    while start.elapsed() < duration {
        let now = Timestamp::now();
        for _ in 0..1024 {
            let state = &states[rng.below(states.len() as u64) as usize];
            let query = &queries[rng.below(q) as usize];
            allowed += u64::from(decide(&index, state, query, now).is_allowed());
        }
        done += 1024;
    }
    let wall = start.elapsed();
    let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
    report(&format!("state in hand, {} people", states.len()), done, allowed, wall, cpu);
    Ok(ExitCode::SUCCESS)
}
