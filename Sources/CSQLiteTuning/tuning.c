#include <sqlite3.h>
#include "CSQLiteTuning.h"

// sqlite3_config and sqlite3_db_config are variadic, which Swift cannot call: these wrappers are
// the only C in the package besides the zlib shim.
int posnode_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int posnode_sqlite_enable_triggers(struct sqlite3 *db, int on) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, on, (int *)0);
}
