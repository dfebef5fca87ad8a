//! The conformance suite. `conformance!` turns each case of `cases.rs` into two tests,
//! `sqlite::<case>` (a temporary file) and `postgres::<case>` (a fresh database from
//! `COVENANT_TEST_POSTGRES_URL`; skipped with a note when it is unset, unless
//! `COVENANT_REQUIRE_POSTGRES=1`).

mod cases;
mod harness;
mod journal;

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::harness::Db::sqlite().await;
                    super::harness::run(db, super::cases::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = super::harness::Db::postgres(stringify!($case)).await {
                        super::harness::run(db, super::cases::$case).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    tenants,
    tenant_isolation,
    subjects_round_trip,
    identity_conflict,
    ledger_is_append_only_and_ordered,
    every_write_is_audited_once,
    tampered_detail_is_found_at_its_entry,
    tampered_hash_is_found_at_its_entry,
    removed_entries_are_found,
    long_chains_are_verified_in_ranges,
    concurrent_writers_keep_one_chain,
    failed_writes_among_concurrent_ones_roll_back_alone,
    api_keys,
    migrations_run_twice_are_a_no_op,
    bad_input_is_refused_and_writes_nothing,
    lifecycle_events,
    flags,
    changes_are_announced_when_they_commit,
    audited_reads_are_one_transaction,
    writes_made_with_a_request_commit_together,
);

/// The cases that need no access behind the store's back, on an in-memory SQLite database (whose
/// reads go through the writer).
mod sqlite_memory {
    macro_rules! memory {
        ($($case:ident),* $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::harness::run(super::harness::Db::sqlite_memory().await, super::cases::$case).await;
                }
            )*
        };
    }

    memory!(
        tenants,
        tenant_isolation,
        subjects_round_trip,
        identity_conflict,
        every_write_is_audited_once,
        failed_writes_among_concurrent_ones_roll_back_alone,
        api_keys,
        bad_input_is_refused_and_writes_nothing,
        lifecycle_events,
        flags,
    );
}
mod requests;
