//! The schema migrations, embedded in the binary: `migrations/sqlite/NNNN_name.sql` and
//! `migrations/postgres/NNNN_name.sql`, applied in order by sqlx's migrator, which records them in
//! `_sqlx_migrations` (so running them again is a no-op, and an edited, already-applied file is
//! refused by checksum).
//!
//! The files are listed here by hand (not with `sqlx::migrate!`), so that builds do not compile
//! sqlx's procedural macros and both database drivers a second time; a test checks that this
//! list and the directories agree.

use std::borrow::Cow;

use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQL) of each SQLite migration.
pub(crate) const SQLITE: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, "requests", include_str!("../migrations/sqlite/0002_requests.sql")),
    (3, "journal", include_str!("../migrations/sqlite/0003_journal.sql")),
    (4, "answers", include_str!("../migrations/sqlite/0004_answers.sql")),
];

/// (version, description, SQL) of each PostgreSQL migration.
pub(crate) const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/postgres/0001_initial.sql")),
    (2, "requests", include_str!("../migrations/postgres/0002_requests.sql")),
    (3, "journal", include_str!("../migrations/postgres/0003_journal.sql")),
    (4, "answers", include_str!("../migrations/postgres/0004_answers.sql")),
];

/// A migrator for one backend's list.
pub(crate) fn migrator(list: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(dir: &str, list: &[(i64, &str, &str)]) {
        let path = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
        )
        .join("migrations")
        .join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = list.iter().map(|(v, d, _)| format!("{v:04}_{d}.sql")).collect();
        assert_eq!(files, listed, "migrations/{dir} and the embedded list differ");
        for (name, (_, _, sql)) in files.iter().zip(list) {
            assert_eq!(&std::fs::read_to_string(path.join(name)).unwrap(), sql, "{name}");
        }
    }

    #[test]
    fn the_embedded_lists_match_the_directories() {
        check("sqlite", SQLITE);
        check("postgres", POSTGRES);
    }

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |l: &[(i64, &str, &str)]| l.iter().map(|(v, d, _)| (*v, d.to_string())).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
