//! What every connection to the embedded database is opened with, the writer's and each
//! reader's alike.

use std::time::Duration;

use rusqlite::Connection;

/// How long a connection waits for another process's lock before the store reports busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings every connection needs, writer or reader.
///
/// The query planner stability guarantee (QPSG) keeps the plan a statement was prepared with.
/// Without it, SQLite marks a statement to be re-planned whenever a parameter the planner
/// looked at (`owner = ?1` of the list) is rebound, and rusqlite's statement cache clears the
/// bindings each time a statement goes back to the cache: the cached list statement was
/// compiled again on every request (20 % of the server's CPU on the JWT list; see
/// docs/performance.md). Every hot statement here is an equality or range seek on a primary
/// key, whose best plan does not depend on the values bound, so nothing is lost by keeping it.
pub(super) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}
