//! Verifying a tenant's audit chain quickly, with the same answer as checking it entry by entry
//! with [`covenant_core::audit::ChainVerifier`] (see [`crate::store::verify_paged`]).
//!
//! Every row stores its previous hash, so an entry's hash can be recomputed without the entry
//! before it; only the *links* (an entry's previous hash equals the stored hash of the entry
//! before it) tie entries together. So the chain is cut into consecutive ranges of sequence
//! numbers, one per core, each read and checked by its own thread on its own connection: in
//! seq order, order, link and content ([`AuditEntry::expected_hash`], the core's canonical bytes,
//! over one reused entry whose strings keep their capacity: no allocation per entry). Each range
//! reports its first row (sequence number and previous hash), its last good row, and its first
//! bad entry; [`combine`] then walks the ranges in order, checking each range's first row
//! against the end of the one before, exactly as the sequential check would have met it. So the
//! answer is the first bad entry of the whole chain, of the same kind, whatever the ranges.
//!
//! The ranges are cut by sequence number and the last one reads up to as many rows as the head
//! says remain (not up to the head's number), so the rows read are the rows the sequential
//! check reads: with entries missing, a later row is met and reported as a gap just the same.

use covenant_core::TenantId;
use covenant_core::audit::{AuditEntry, ChainError, GENESIS};
use futures_util::TryStreamExt;
use jiff::Timestamp;
use sqlx::Row as _;
use sqlx::postgres::PgPool;

use crate::model::AuditHead;
use crate::store::Verified;
use crate::{AuditError, StoreError};

/// The fewest entries worth a thread of their own.
pub(crate) const MIN_RANGE: u64 = 1024;
/// Progress is reported every this many entries.
const REPORT_EVERY: u64 = 8192;

/// How progress is reported: called with the number of entries checked since the last call.
pub(crate) type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// The columns of one row, borrowed from the driver's buffers.
pub(crate) struct Row<'a> {
    pub seq: i64,
    pub at: i64,
    pub actor: &'a [u8],
    pub action: &'a [u8],
    pub target: &'a [u8],
    pub detail: &'a [u8],
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

/// A range of sequence numbers: `seq > after`, and either `seq <= until` or, for the last range,
/// at most `rows` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    pub after: u64,
    pub until: Option<u64>,
    pub rows: u64,
}

/// Cuts a chain of `head` entries into up to `parts` ranges of at least `min` entries.
pub(crate) fn plan(head: u64, parts: usize, min: u64) -> Vec<Range> {
    let parts = (parts.max(1) as u64).min((head / min.max(1)).max(1));
    let size = head / parts;
    (0..parts)
        .map(|i| {
            let after = i * size;
            if i + 1 == parts {
                Range { after, until: None, rows: head - after }
            } else {
                Range { after, until: Some(after + size), rows: size }
            }
        })
        .collect()
}

/// How many ranges to cut a chain into: one per core, at most four.
pub(crate) fn parts() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(4)
}

/// What one range turned out to hold.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// The first row's sequence number and previous hash; its place and link are checked by
    /// [`combine`] against the range before.
    first: Option<(u64, [u8; 32])>,
    /// The last row found good: sequence number and stored hash.
    last: Option<(u64, [u8; 32])>,
    /// The first bad entry after the first row's place and link (its content included).
    bad: Option<ChainError>,
}

fn hash32(col: &'static str, v: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(v).map_err(|_| StoreError::corrupt(col, format!("{} bytes, not 32", v.len())))
}

fn set_text(s: &mut String, col: &'static str, bytes: &[u8]) -> Result<(), StoreError> {
    let t = std::str::from_utf8(bytes).map_err(|e| StoreError::corrupt(col, e))?;
    s.clear();
    s.push_str(t);
    Ok(())
}

/// Checks the rows of one range in seq order.
pub(crate) struct Walker<'p> {
    entry: AuditEntry,
    found: Found,
    progress: Progress<'p>,
    unreported: u64,
}

impl<'p> Walker<'p> {
    pub(crate) fn new(tenant: TenantId, progress: Progress<'p>) -> Walker<'p> {
        let entry = AuditEntry {
            tenant,
            seq: 0,
            at: Timestamp::UNIX_EPOCH,
            actor: String::new(),
            action: String::new(),
            target: String::new(),
            detail: String::new(),
            prev_hash: GENESIS,
            hash: GENESIS,
        };
        Walker { entry, found: Found::default(), progress, unreported: 0 }
    }

    /// Checks the next row. `Ok(false)` when the range is broken here: stop reading it.
    pub(crate) fn push(&mut self, r: &Row<'_>) -> Result<bool, StoreError> {
        let seq = u64::try_from(r.seq)
            .map_err(|_| StoreError::corrupt("seq", format!("negative sequence number {}", r.seq)))?;
        let prev_hash = hash32("prev_hash", r.prev_hash)?;
        let hash = hash32("hash", r.hash)?;
        let tenant = |w: &Walker<'_>| w.entry.tenant.as_str().to_owned();
        match self.found.last {
            None if self.found.first.is_none() => self.found.first = Some((seq, prev_hash)),
            // Only reached when the first row was bad: `bad` is set and reading has stopped.
            None => return Ok(false),
            Some((last_seq, last_hash)) => {
                if seq != last_seq + 1 {
                    self.found.bad = Some(ChainError::Gap { tenant: tenant(self), seq: last_seq + 1, found: seq });
                    return Ok(false);
                }
                if prev_hash != last_hash {
                    self.found.bad = Some(ChainError::Link { tenant: tenant(self), seq });
                    return Ok(false);
                }
            }
        }
        let e = &mut self.entry;
        set_text(&mut e.actor, "actor", r.actor)?;
        set_text(&mut e.action, "action", r.action)?;
        set_text(&mut e.target, "target", r.target)?;
        set_text(&mut e.detail, "detail", r.detail)?;
        e.seq = seq;
        e.at = Timestamp::from_microsecond(r.at).map_err(|err| StoreError::corrupt("at", err))?;
        e.prev_hash = prev_hash;
        if e.expected_hash() != hash {
            self.found.bad = Some(ChainError::Altered { tenant: tenant(self), seq });
            return Ok(false);
        }
        self.found.last = Some((seq, hash));
        self.unreported += 1;
        if self.unreported == REPORT_EVERY {
            (self.progress)(std::mem::take(&mut self.unreported));
        }
        Ok(true)
    }

    pub(crate) fn finish(self) -> Found {
        (self.progress)(self.unreported);
        self.found
    }
}

/// The verdict on a chain from what its ranges (in order) hold: the first bad entry, met as
/// the sequential check meets it, then the comparison with the head.
pub(crate) fn combine(tenant: &TenantId, head: AuditHead, ranges: Vec<Found>) -> Verified {
    let name = || tenant.as_str().to_owned();
    let (mut last, mut last_hash) = (0u64, GENESIS);
    for found in ranges {
        // An empty range: the next range's first row is the next row of the chain.
        let Some((seq, prev_hash)) = found.first else { continue };
        if seq != last + 1 {
            return Err(ChainError::Gap { tenant: name(), seq: last + 1, found: seq }.into());
        }
        if prev_hash != last_hash {
            return Err(ChainError::Link { tenant: name(), seq }.into());
        }
        if let Some(bad) = found.bad {
            return Err(bad.into());
        }
        // The first row is good and nothing after it is bad, so there is a last good row.
        let Some((seq, hash)) = found.last else { continue };
        (last, last_hash) = (seq, hash);
    }
    if last < head.seq {
        return Err(AuditError::Truncated { tenant: name(), last, head: head.seq });
    }
    if last_hash != head.hash {
        return Err(AuditError::Head { tenant: name(), seq: head.seq });
    }
    Ok(last)
}

fn head_of(seq: i64, hash: &[u8]) -> Result<AuditHead, StoreError> {
    let seq = u64::try_from(seq).map_err(|_| StoreError::corrupt("seq", format!("negative sequence number {seq}")))?;
    Ok(AuditHead { seq, hash: hash32("hash", hash)? })
}

fn int64(col: &'static str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::corrupt(col, format!("{v} is out of range")))
}

const HEAD_SQL: &str = "SELECT seq, hash FROM audit_heads WHERE tenant = $1";
const COLUMNS: &str = "seq, at, actor, action, target, detail, prev_hash, hash";
const BOUNDED_SQL: &str = "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_entries \
                           WHERE tenant = $1 AND seq > $2 AND seq <= $3 ORDER BY seq";
const LAST_SQL: &str = "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_entries \
                        WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// The statement and its bounds for a range.
fn query_of(r: Range) -> Result<(&'static str, i64, i64), StoreError> {
    debug_assert!(BOUNDED_SQL.contains(COLUMNS) && LAST_SQL.contains(COLUMNS));
    Ok(match r.until {
        Some(until) => (BOUNDED_SQL, int64("seq", r.after)?, int64("seq", until)?),
        None => (LAST_SQL, int64("seq", r.after)?, int64("seq", r.rows)?),
    })
}

// ---------------------------------------------------------------------------------------------
// SQLite

fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { context, source }
}

fn int(col: &'static str, v: rusqlite::types::ValueRef<'_>) -> Result<i64, StoreError> {
    v.as_i64().map_err(|e| StoreError::corrupt(col, e))
}

fn bytes<'a>(col: &'static str, v: rusqlite::types::ValueRef<'a>) -> Result<&'a [u8], StoreError> {
    match v {
        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => Ok(b),
        other => {
            Err(StoreError::corrupt(col, format!("a {} value where text or bytes were expected", other.data_type())))
        }
    }
}

/// A read-only connection of the verifier's own, in a read transaction.
fn open_reader(path: &str, busy_timeout: std::time::Duration) -> Result<rusqlite::Connection, StoreError> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(sqlite("opening the database to verify"))?;
    conn.busy_timeout(busy_timeout).map_err(sqlite("setting the busy timeout"))?;
    // Pages are read in place from the mapped file rather than copied by `read` calls.
    conn.execute_batch("PRAGMA mmap_size = 1073741824; BEGIN").map_err(sqlite("starting a read transaction"))?;
    Ok(conn)
}

fn sqlite_range(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    range: Range,
    progress: Progress<'_>,
) -> Result<Found, StoreError> {
    let context = "reading audit entries";
    let (sql, a, b) = query_of(range)?;
    let mut st = conn.prepare(sql).map_err(sqlite(context))?;
    let mut rows = st.query(rusqlite::params![tenant.as_str(), a, b]).map_err(sqlite(context))?;
    let mut walker = Walker::new(tenant.clone(), progress);
    while let Some(r) = rows.next().map_err(sqlite(context))? {
        let g = |i| r.get_ref(i).map_err(sqlite(context));
        let row = Row {
            seq: int("seq", g(0)?)?,
            at: int("at", g(1)?)?,
            actor: bytes("actor", g(2)?)?,
            action: bytes("action", g(3)?)?,
            target: bytes("target", g(4)?)?,
            detail: bytes("detail", g(5)?)?,
            prev_hash: bytes("prev_hash", g(6)?)?,
            hash: bytes("hash", g(7)?)?,
        };
        if !walker.push(&row)? {
            break;
        }
    }
    Ok(walker.finish())
}

/// Verifies a tenant's chain in a SQLite file, on read-only connections of its own (one per
/// range, one thread each). Blocks: run it off the async runtime.
pub(crate) fn sqlite_file(
    path: &str,
    busy_timeout: std::time::Duration,
    tenant: &TenantId,
    parts: usize,
    progress: Progress<'_>,
) -> Result<Verified, StoreError> {
    let first = open_reader(path, busy_timeout)?;
    let head = {
        let context = "reading the audit head";
        let mut st = first.prepare(HEAD_SQL).map_err(sqlite(context))?;
        let mut rows = st.query([tenant.as_str()]).map_err(sqlite(context))?;
        match rows.next().map_err(sqlite(context))? {
            Some(r) => head_of(
                int("seq", r.get_ref(0).map_err(sqlite(context))?)?,
                bytes("hash", r.get_ref(1).map_err(sqlite(context))?)?,
            )?,
            None => return Err(StoreError::not_found("tenant", tenant)),
        }
    };
    let ranges = plan(head.seq, parts, MIN_RANGE);
    let found = std::thread::scope(|s| {
        // Every range but the first on a thread and a connection of its own; the first here, on
        // the connection that read the head.
        let others: Vec<_> = ranges[1..]
            .iter()
            .map(|&range| {
                std::thread::Builder::new().name("covenant-audit-verify".into()).spawn_scoped(s, move || {
                    let conn = open_reader(path, busy_timeout)?;
                    sqlite_range(&conn, tenant, range, progress)
                })
            })
            .collect();
        let mut found = vec![sqlite_range(&first, tenant, ranges[0], progress)];
        for t in others {
            found.push(match t {
                Ok(handle) => handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                Err(source) => Err(StoreError::Io { context: "starting a verification thread", source }),
            });
        }
        found.into_iter().collect::<Result<Vec<Found>, StoreError>>()
    })?;
    Ok(combine(tenant, head, found))
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

fn pg(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    StoreError::backend(context)
}

async fn pg_range(pool: &PgPool, tenant: &TenantId, range: Range, progress: Progress<'_>) -> Result<Found, StoreError> {
    let context = "reading audit entries";
    let mut conn = pool.acquire().await.map_err(pg("connecting to PostgreSQL"))?;
    let (sql, a, b) = query_of(range)?;
    let mut rows = sqlx::query(sql).bind(tenant.as_str()).bind(a).bind(b).fetch(&mut *conn);
    let mut walker = Walker::new(tenant.clone(), progress);
    let mut n = 0u32;
    while let Some(r) = rows.try_next().await.map_err(pg(context))? {
        let row = Row {
            seq: r.try_get(0).map_err(pg(context))?,
            at: r.try_get(1).map_err(pg(context))?,
            actor: r.try_get::<&str, _>(2).map_err(pg(context))?.as_bytes(),
            action: r.try_get::<&str, _>(3).map_err(pg(context))?.as_bytes(),
            target: r.try_get::<&str, _>(4).map_err(pg(context))?.as_bytes(),
            detail: r.try_get::<&str, _>(5).map_err(pg(context))?.as_bytes(),
            prev_hash: r.try_get(6).map_err(pg(context))?,
            hash: r.try_get(7).map_err(pg(context))?,
        };
        if !walker.push(&row)? {
            break;
        }
        // Rows already received are decoded without waiting: let other tasks run now and then.
        n = n.wrapping_add(1);
        if n.is_multiple_of(4096) {
            tokio::task::yield_now().await;
        }
    }
    Ok(walker.finish())
}

/// Verifies a tenant's chain on PostgreSQL: the ranges are streamed at once on pooled
/// connections, one query each (rows decoded in place, without copies), and checked as they
/// arrive.
pub(crate) async fn postgres(
    pool: &PgPool,
    tenant: &TenantId,
    parts: usize,
    progress: Progress<'_>,
) -> Result<Verified, StoreError> {
    let head_row = sqlx::query(HEAD_SQL)
        .bind(tenant.as_str())
        .fetch_optional(pool)
        .await
        .map_err(pg("reading the audit head"))?
        .ok_or_else(|| StoreError::not_found("tenant", tenant))?;
    let head = head_of(
        head_row.try_get::<i64, _>(0).map_err(pg("reading the audit head"))?,
        head_row.try_get::<&[u8], _>(1).map_err(pg("reading the audit head"))?,
    )?;
    let ranges = plan(head.seq, parts, MIN_RANGE);
    let found =
        futures_util::future::try_join_all(ranges.into_iter().map(|r| pg_range(pool, tenant, r, progress))).await?;
    Ok(combine(tenant, head, found))
}

#[cfg(test)]
mod tests {
    use covenant_core::audit::AuditDraft;

    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut prev = GENESIS;
        (0..n)
            .map(|i| {
                let at = Timestamp::from_second(1_700_000_000 + i as i64).unwrap();
                let draft = AuditDraft::new("api", "subject.read", &format!("subject:{i}"), format!("read {i}"));
                let e = AuditEntry::seal(tenant(), i as u64 + 1, at, draft, prev);
                prev = e.hash;
                e
            })
            .collect()
    }

    /// What the queries of `range` return from `entries` (ordered by seq, as the store keeps them).
    fn select(entries: &[AuditEntry], range: Range) -> Vec<&AuditEntry> {
        let mut sorted: Vec<&AuditEntry> = entries.iter().collect();
        sorted.sort_by_key(|e| e.seq);
        let after = sorted.into_iter().filter(|e| e.seq > range.after);
        match range.until {
            Some(until) => after.filter(|e| e.seq <= until).collect(),
            None => after.take(usize::try_from(range.rows).unwrap()).collect(),
        }
    }

    /// Verifies entries as the store does, cut into `parts` ranges of at least `min` entries.
    fn run(entries: &[AuditEntry], head: AuditHead, parts: usize, min: u64) -> Verified {
        let noop = |_| {};
        let found = plan(head.seq, parts, min)
            .into_iter()
            .map(|range| {
                let mut w = Walker::new(tenant(), &noop);
                for e in select(entries, range) {
                    let row = Row {
                        seq: i64::try_from(e.seq).unwrap(),
                        at: e.at.as_microsecond(),
                        actor: e.actor.as_bytes(),
                        action: e.action.as_bytes(),
                        target: e.target.as_bytes(),
                        detail: e.detail.as_bytes(),
                        prev_hash: &e.prev_hash,
                        hash: &e.hash,
                    };
                    if !w.push(&row).unwrap() {
                        break;
                    }
                }
                w.finish()
            })
            .collect();
        combine(&tenant(), head, found)
    }

    /// The verdict of checking entry by entry, in the order the store returns them, up to the
    /// head: what the store has always answered.
    fn sequential(entries: &[AuditEntry], head: AuditHead) -> Verified {
        let all = Range { after: 0, until: None, rows: head.seq };
        let mut v = covenant_core::audit::ChainVerifier::new(tenant());
        let mut last = GENESIS;
        for e in select(entries, all) {
            v.push(e)?;
            last = e.hash;
        }
        let tenant = "acme".to_owned();
        if v.verified() < head.seq {
            return Err(AuditError::Truncated { tenant, last: v.verified(), head: head.seq });
        }
        if last != head.hash {
            return Err(AuditError::Head { tenant, seq: head.seq });
        }
        Ok(head.seq)
    }

    fn head_of_chain(c: &[AuditEntry]) -> AuditHead {
        c.last().map_or(AuditHead { seq: 0, hash: GENESIS }, |e| AuditHead { seq: e.seq, hash: e.hash })
    }

    #[test]
    fn ranges_cover_the_chain_once() {
        assert_eq!(plan(0, 2, 1024), vec![Range { after: 0, until: None, rows: 0 }]);
        assert_eq!(plan(5000, 1, 1024), vec![Range { after: 0, until: None, rows: 5000 }]);
        assert_eq!(plan(1500, 2, 1024), vec![Range { after: 0, until: None, rows: 1500 }]);
        assert_eq!(
            plan(2049, 2, 1024),
            vec![Range { after: 0, until: Some(1024), rows: 1024 }, Range { after: 1024, until: None, rows: 1025 }]
        );
        for (head, parts) in [(1_000_000, 2), (1_000_001, 3), (7, 4), (4096, 4)] {
            let ranges = plan(head, parts, 1);
            assert_eq!(ranges.iter().map(|r| r.rows).sum::<u64>(), head);
            for w in ranges.windows(2) {
                assert_eq!(w[0].until, Some(w[1].after));
            }
        }
    }

    #[test]
    fn an_intact_chain_verifies_whatever_the_ranges() {
        for n in [0, 1, 2, 7, 20] {
            let c = chain(n);
            for parts in 1..=4 {
                assert_eq!(run(&c, head_of_chain(&c), parts, 1), Ok(n as u64), "n={n} parts={parts}");
            }
        }
    }

    /// Every single change, removal or swap, at every position, with range boundaries before,
    /// at and after it, gives exactly the sequential verdict: the same error, at the same entry.
    #[test]
    fn tampering_is_reported_exactly_as_entry_by_entry() {
        let n = 10;
        let good = chain(n);
        let head = head_of_chain(&good);
        for i in 0..n {
            for what in 0..10 {
                let mut c = good.clone();
                match what {
                    0 => c[i].detail.push('x'),
                    1 => c[i].actor.clear(),
                    2 => c[i].at = Timestamp::from_second(c[i].at.as_second() + 1).unwrap(),
                    3 => c[i].hash[3] ^= 1,
                    4 => c[i].prev_hash[0] ^= 1,
                    5 => c[i].seq += 20,
                    6 => {
                        c.remove(i);
                    }
                    7 if i + 1 < n => {
                        let (a, b) = (c[i].seq, c[i + 1].seq);
                        c[i].seq = b;
                        c[i + 1].seq = a;
                    }
                    8 => c.truncate(i),
                    9 => {
                        // Entries past the head, reached only through a gap.
                        c.remove(i);
                        c.push(AuditEntry { seq: 11, ..good[n - 1].clone() });
                    }
                    _ => continue,
                }
                let want = sequential(&c, head);
                assert!(want.is_err(), "change {what} at {i}");
                for parts in 1..=4 {
                    assert_eq!(run(&c, head, parts, 1), want, "change {what} at {i}, {parts} ranges");
                }
            }
        }
        let moved = AuditHead { seq: head.seq, hash: [7; 32] };
        for parts in 1..=4 {
            assert_eq!(run(&good, moved, parts, 1), sequential(&good, moved));
        }
        assert!(matches!(run(&good, moved, 2, 1), Err(AuditError::Head { seq: 10, .. })));
    }

    #[test]
    fn the_first_of_several_bad_entries_is_the_one_reported() {
        let mut c = chain(12);
        c[8].prev_hash[0] ^= 1;
        c[2].detail.push('x');
        c[5].hash[0] ^= 1;
        let head = head_of_chain(&c);
        for parts in 1..=4 {
            let e = run(&c, head, parts, 1).unwrap_err();
            assert_eq!(e.to_string(), "tenant `acme`: entry 3 was altered (its content no longer matches its hash)");
        }
    }
}
