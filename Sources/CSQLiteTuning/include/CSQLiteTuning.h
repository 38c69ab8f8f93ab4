#ifndef CSQLITETUNING_H
#define CSQLITETUNING_H

/// Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS) for this process.
/// With statistics on, every allocation and free inside SQLite takes a global mutex; perf put
/// the lock and unlock at about 5 % of the hub's apply. Nothing here reads the statistics.
/// Takes effect only before SQLite is initialised (before the first connection opens);
/// returns SQLite's result code (SQLITE_MISUSE when it was too late, which is harmless).
int posnode_sqlite_disable_memstatus(void);

struct sqlite3;

/// Turns the triggers of connection `db` off (0) or on (1) (SQLITE_DBCONFIG_ENABLE_TRIGGER,
/// temporary triggers too), as the hub's replica of a PostgreSQL store does while it copies
/// rows another hub process wrote: their triggers ran where they were written. Returns
/// SQLite's result code.
int posnode_sqlite_enable_triggers(struct sqlite3 *db, int on);

#endif
