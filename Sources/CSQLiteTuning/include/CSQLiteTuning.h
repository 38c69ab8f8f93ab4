#ifndef CSQLITETUNING_H
#define CSQLITETUNING_H

/// Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS) for this process.
/// With statistics on, every allocation and free inside SQLite takes a global mutex; perf put
/// the lock and unlock at about 5 % of the hub's apply. Nothing here reads the statistics.
/// Takes effect only before SQLite is initialised (before the first connection opens);
/// returns SQLite's result code (SQLITE_MISUSE when it was too late, which is harmless).
int posnode_sqlite_disable_memstatus(void);

#endif
