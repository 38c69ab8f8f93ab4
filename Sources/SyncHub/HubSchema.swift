import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// The hub's schema, every migration in one place: the tables node and hub share (`Schema`),
/// the reconciler's (renames, moves), the hub's own (nodes, outcomes, the feed log and
/// tombstones), the columns the hub adds to every replicated table (merge clocks, feed
/// position and echo, see `ReplicatedTable`), and the tables of declared record kinds.
/// Migrations that ran once keep their text: a store made by an older version runs the rest.
enum HubSchema {
    /// The tables the first migrations were written for (later kinds get theirs in
    /// `addHubColumns`).
    static let standardTables: [ReplicatedTable] = [.partner, .address, .document]

    static func migrator(kinds: RecordKinds) -> DatabaseMigrator {
        var m = DatabaseMigrator()
        Schema.registerShared(&m)
        registerReconcile(&m)
        m.registerMigration("v1-hub") { db in
            try db.execute(sql: """
                CREATE TABLE hub_node (
                    node_id TEXT PRIMARY KEY NOT NULL,
                    site TEXT NOT NULL,
                    series TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    last_seq INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL,
                    last_push_at TEXT,
                    last_pull_at TEXT
                );
                -- One row per replicated record: the global sequence of its latest change.
                -- A change re-sequenced the record (REPLACE). Since v5-hub-feed-log the feed
                -- is a log and each record's row is found by its position.
                CREATE TABLE hub_feed (
                    gseq INTEGER PRIMARY KEY AUTOINCREMENT,
                    hlc INTEGER NOT NULL,
                    node TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    key TEXT NOT NULL,
                    UNIQUE (entity, key) ON CONFLICT REPLACE
                );
                CREATE TABLE hub_outcome (
                    node TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    outcome TEXT NOT NULL,
                    reason TEXT,
                    old_code TEXT,
                    new_code TEXT,
                    rename_id INTEGER,
                    PRIMARY KEY (node, seq)
                ) WITHOUT ROWID;
                CREATE TABLE hub_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                """)
        }
        // The node's own journal sequence when a feed row is exactly the image that node sent
        // (a new row stored as sent): that node's pulls skip the row (see `feed`).
        m.registerMigration("v2-hub-feed-echo") { db in
            try db.execute(sql: "ALTER TABLE hub_feed ADD COLUMN echo_seq INTEGER")
        }
        // Replication regions: a record belongs to the region of the node whose change created
        // it at the hub and keeps it; a node pulls, bootstraps and hashes its region only. The
        // index serves regional pulls; the default region ('') reads the feed in order as before,
        // so a chain without regions writes no extra index entry per change.
        m.registerMigration("v3-hub-region") { db in
            try db.execute(sql: """
                ALTER TABLE hub_node ADD COLUMN region TEXT NOT NULL DEFAULT '';
                ALTER TABLE hub_feed ADD COLUMN region TEXT NOT NULL DEFAULT '';
                CREATE INDEX hub_feed_region ON hub_feed(region, gseq) WHERE region <> '';
                """)
        }
        registerRowClocks(&m)
        // The feed becomes a log: a change appends a row and sets its record's position
        // (`feed_gseq` in the replicated row, or `hub_tombstone` for a removed row) instead of
        // deleting the record's earlier feed row and its index entry, pages all over the file
        // that every push of edits wrote again (see `FeedEmitter`). A log row that is not its
        // record's position has been superseded: pulls skip it, `sweepFeed` removes it.
        m.registerMigration("v5-hub-feed-log") { db in
            try db.execute(sql: "CREATE TABLE hub_tombstone (entity TEXT NOT NULL, key TEXT NOT NULL, gseq INTEGER NOT NULL, PRIMARY KEY (entity, key)) WITHOUT ROWID")
            for table in standardTables {
                let e = table.entity.rawValue, column = HubTable.feedColumn
                try db.execute(sql: """
                    ALTER TABLE \(table.name) ADD COLUMN \(column) INTEGER;
                    UPDATE \(table.name) SET \(column) = (SELECT f.gseq FROM hub_feed f WHERE f.entity = '\(e)' AND f.key = \(table.keySQL));
                    INSERT INTO hub_tombstone (entity, key, gseq)
                        SELECT entity, key, gseq FROM hub_feed WHERE entity = '\(e)'
                        AND gseq NOT IN (SELECT \(column) FROM \(table.name) WHERE \(column) IS NOT NULL);
                    """)
            }
            let sequence = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'hub_feed'") ?? 0
            try db.execute(sql: """
                CREATE TABLE hub_feed_log (
                    gseq INTEGER PRIMARY KEY AUTOINCREMENT,
                    hlc INTEGER NOT NULL,
                    node TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    key TEXT NOT NULL,
                    echo_seq INTEGER,
                    region TEXT NOT NULL DEFAULT ''
                );
                INSERT INTO hub_feed_log (gseq, hlc, node, entity, key, echo_seq, region)
                    SELECT gseq, hlc, node, entity, key, echo_seq, region FROM hub_feed ORDER BY gseq;
                DROP TABLE hub_feed;
                ALTER TABLE hub_feed_log RENAME TO hub_feed;
                CREATE INDEX hub_feed_region ON hub_feed(region, gseq) WHERE region <> '';
                """)
            try HubStore.raiseFeedSequence(db, to: sequence)
        }
        // A removed row leaves its position in its tombstone at once: the feed row of the
        // removal then finds the record's region and echo from the row's last feed row (read
        // after the change, the row is gone). Removals are rare (addresses a move or a node
        // takes away), so a trigger costs nothing on the catch-up's path.
        m.registerMigration("v6-hub-tombstone-on-delete") { db in
            for table in standardTables { try db.execute(sql: tombstoneTriggerSQL(table)) }
        }
        Schema.registerSharedUpgrades(&m)
        // Whether a record's feed row is a node's echo, kept in the record's row too
        // (`HubTable.feedEchoColumn`): a node's edit of its own row then learns it from
        // the row its merge reads, not from a second read of the feed row (about 4 % of the
        // writer's time in the catch-up). Filled from the feed for a hub made before.
        m.registerMigration("v7-hub-feed-echo-in-row") { db in
            for table in standardTables {
                let feed = HubTable.feedColumn, echo = HubTable.feedEchoColumn
                try db.execute(sql: """
                    ALTER TABLE \(table.name) ADD COLUMN \(echo) TEXT;
                    UPDATE \(table.name) SET \(echo) = (SELECT f.node FROM hub_feed f WHERE f.gseq = \(table.name).\(feed) AND f.echo_seq IS NOT NULL)
                        WHERE \(feed) IS NOT NULL;
                    """)
            }
        }
        // The store asks the hub whether a Polish VAT ID is used already (`partnerCheck`), and
        // the hub reports a duplicate registered offline: the same index as the node's.
        m.registerMigration("v8-hub-nip-index") { db in try Schema.createNIPIndex(db) }
        // Operators: who writes the central master data through the API (`poshub operator add`).
        m.registerMigration("v9-hub-operator") { db in
            try db.execute(sql: """
                CREATE TABLE hub_operator (
                    name TEXT PRIMARY KEY NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL
                )
                """)
        }
        // The store-prefix rule renames institutions too: which kind a rename is of.
        m.registerMigration("v10-hub-alias-entity") { db in
            try db.execute(sql: """
                ALTER TABLE hub_alias ADD COLUMN entity TEXT NOT NULL DEFAULT 'partner';
                ALTER TABLE hub_outcome ADD COLUMN renamed_entity TEXT;
                """)
        }
        // Declared record kinds: each table as node and hub share it, then the hub's columns.
        Schema.registerDeclaredTables(&m, kinds: kinds)
        for kind in kinds.stored where kind.tableSource == .declared {
            let table = ReplicatedTable.of(kind)!
            m.registerMigration("v1-hub-kind-\(table.name)") { db in try addHubColumns(db, table) }
        }
        // Data-subject requests (docs/privacy.md): the cases, the stores' extracts, and the
        // indexes that find a person and the older values of their records without a scan.
        m.registerMigration("v11-hub-access-requests") { db in
            try db.execute(sql: """
                CREATE TABLE hub_access_request (
                    id TEXT PRIMARY KEY NOT NULL,
                    received TEXT NOT NULL,
                    due TEXT NOT NULL,
                    extended_months INTEGER NOT NULL DEFAULT 0,
                    extension_reason TEXT,
                    identifier_kind TEXT NOT NULL,
                    identifier TEXT NOT NULL,
                    partners TEXT NOT NULL,
                    note TEXT,
                    status TEXT NOT NULL,
                    closed_at TEXT,
                    answer TEXT,
                    erased_at TEXT
                );
                CREATE TABLE hub_access_extract (
                    case_id TEXT NOT NULL, node TEXT NOT NULL, at TEXT NOT NULL, extract TEXT NOT NULL,
                    PRIMARY KEY (case_id, node)
                ) WITHOUT ROWID;
                CREATE INDEX hub_partner_email ON partner(email COLLATE NOCASE) WHERE email IS NOT NULL;
                CREATE INDEX hub_partner_national_id ON partner(national_id) WHERE national_id IS NOT NULL;
                CREATE INDEX hub_partner_vat_id ON partner(vat_id) WHERE vat_id IS NOT NULL;
                CREATE INDEX hub_audit_key ON audit(key);
                CREATE INDEX hub_alias_old ON hub_alias(old_code);
                CREATE INDEX hub_alias_new ON hub_alias(new_code);
                CREATE INDEX move_alias_old ON move_alias(old_code);
                CREATE INDEX move_alias_new ON move_alias(new_code);
                """)
        }
        // The back-office customer transfer (docs/backoffice.md): external systems with their
        // tokens and code series, and each transferred address's POS customer.
        m.registerMigration("v12-hub-external-systems") { db in
            try db.execute(sql: """
                CREATE TABLE hub_system (
                    name TEXT PRIMARY KEY NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    series TEXT NOT NULL UNIQUE,
                    next_number INTEGER NOT NULL,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE hub_external_mapping (
                    system TEXT NOT NULL,
                    external_address_id TEXT NOT NULL,
                    external_customer_id TEXT NOT NULL,
                    code TEXT NOT NULL,
                    debtor_number TEXT,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (system, external_address_id)
                ) WITHOUT ROWID;
                CREATE INDEX hub_external_mapping_code ON hub_external_mapping(code);
                """)
        }
        // An erasure keeps a mapping without its external ids in clear (a keyed hash, so a
        // later transfer of the address is recognised) and without the debtor number.
        m.registerMigration("v13-hub-mapping-erasure") { db in
            try db.execute(sql: "ALTER TABLE hub_external_mapping ADD COLUMN erased_at TEXT")
        }
        // Delivery notes offered to the back offices: each note once, in the order the hub
        // first offered it (`seq`, the cursor), and how far each system has acknowledged.
        m.registerMigration("v14-hub-delivery-notes") { db in
            try db.execute(sql: """
                CREATE TABLE hub_delivery_note (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    document_id TEXT NOT NULL UNIQUE,
                    offered_at TEXT NOT NULL
                );
                ALTER TABLE hub_system ADD COLUMN delivery_acked INTEGER NOT NULL DEFAULT 0;
                """)
        }
        // What each node's applied entries were: their clocks by push, so a push that reuses
        // sequences with other content (a store restored from a backup) is told from a repeat.
        m.registerMigration("v15-hub-push-digest") { db in
            try db.execute(sql: """
                CREATE TABLE hub_push_digest (
                    node TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, hlcs BLOB NOT NULL,
                    PRIMARY KEY (node, first_seq)
                ) WITHOUT ROWID
                """)
        }
        // Access requests find a person's records by reading every partner and comparing the
        // identifier as the checks normalise it (`PersonRecords.matching`): these indexes were
        // never read, and each cost an index entry in every customer's insert (an e-mail in
        // almost all) and in every edit of those fields.
        m.registerMigration("v16-hub-drop-unread-identity-indexes") { db in
            try db.execute(sql: """
                DROP INDEX IF EXISTS hub_partner_email;
                DROP INDEX IF EXISTS hub_partner_national_id;
                DROP INDEX IF EXISTS hub_partner_vat_id;
                """)
        }
        // The hub's epochs (`HubStore+Epoch.swift`): one per start of `poshub serve`, with the
        // feed's head at that start, so a hub restored to an earlier point tells the nodes
        // that hold more than it has.
        m.registerMigration("v17-hub-epoch") { db in
            try db.execute(sql: """
                CREATE TABLE hub_epoch (
                    id INTEGER PRIMARY KEY,
                    epoch TEXT NOT NULL UNIQUE,
                    started_at TEXT NOT NULL,
                    feed_head INTEGER NOT NULL
                )
                """)
            try HubStore.recordEpoch(db)
        }
        // A refused entry's machine code (`RefusalCode`), answered again with a duplicate.
        m.registerMigration("v18-hub-outcome-code") { db in
            try db.execute(sql: "ALTER TABLE hub_outcome ADD COLUMN code TEXT")
        }
        // Feed positions come from one counter row (`HubStore.nextFeedPosition`), moved as the
        // feed rows of a transaction are written, instead of SQLite's AUTOINCREMENT counter
        // (`sqlite_sequence`): the form a database server takes too (docs/design.md, "Feed
        // positions become visible in order"). It starts where AUTOINCREMENT's counter was.
        m.registerMigration("v19-hub-feed-counter") { db in
            try db.execute(sql: """
                CREATE TABLE hub_feed_counter (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
                INSERT INTO hub_feed_counter (id, last)
                    VALUES (1, MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'hub_feed'), 0),
                                   COALESCE((SELECT MAX(gseq) FROM hub_feed), 0)));
                """)
        }
        Schema.registerInvoicing(&m)
        HubStore.registerAccounting(&m)
        // The operator console: operators' roles and password hashes, sessions, failed logins,
        // what each store's syncing looks like (`NodeActivity`), a store asked to re-baseline.
        m.registerMigration("v21-hub-console") { db in
            try db.execute(sql: """
                ALTER TABLE hub_operator ADD COLUMN role TEXT NOT NULL DEFAULT 'operator';
                ALTER TABLE hub_operator ADD COLUMN password_hash TEXT;
                CREATE TABLE hub_console_login (
                    id_hash TEXT PRIMARY KEY, operator TEXT NOT NULL, csrf TEXT NOT NULL,
                    created_at REAL NOT NULL, expires_at REAL NOT NULL
                );
                CREATE TABLE hub_login_failure (name TEXT NOT NULL, address TEXT NOT NULL, at REAL NOT NULL);
                CREATE INDEX hub_login_failure_at ON hub_login_failure (at);
                CREATE TABLE hub_node_activity (
                    node TEXT PRIMARY KEY, pending_entries INTEGER, cursor INTEGER, clock_offset_ms INTEGER,
                    refused_total INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_error_at TEXT,
                    rebaseline INTEGER NOT NULL DEFAULT 0, last_seen REAL
                );
                CREATE TABLE hub_sync_round (node TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL, seconds REAL NOT NULL, backlog INTEGER NOT NULL);
                CREATE INDEX hub_sync_round_node ON hub_sync_round (node, at);
                """)
        }
        // Every hub table has a primary key that names a row for good (a rowid alone may change
        // when the file is rebuilt), so a PostgreSQL store can hold the same rows (`PostgresMirror`).
        m.registerMigration("v22-hub-row-keys") { db in
            try db.execute(sql: """
                CREATE TABLE hub_login_failure_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, at REAL NOT NULL);
                INSERT INTO hub_login_failure_new (name, address, at) SELECT name, address, at FROM hub_login_failure ORDER BY rowid;
                DROP TABLE hub_login_failure;
                ALTER TABLE hub_login_failure_new RENAME TO hub_login_failure;
                CREATE INDEX hub_login_failure_at ON hub_login_failure (at);
                CREATE TABLE hub_sync_round_new (id INTEGER PRIMARY KEY, node TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL,
                                                 seconds REAL NOT NULL, backlog INTEGER NOT NULL);
                INSERT INTO hub_sync_round_new (node, at, kind, seconds, backlog) SELECT node, at, kind, seconds, backlog FROM hub_sync_round ORDER BY rowid;
                DROP TABLE hub_sync_round;
                ALTER TABLE hub_sync_round_new RENAME TO hub_sync_round;
                CREATE INDEX hub_sync_round_node ON hub_sync_round (node, at);
                """)
        }
        return m
    }

    /// The reconciler's tables: the hub's renames by node (`hub_alias`), customer moves carried
    /// out (`move_alias`); the merge clocks kept here first moved into the rows (`registerRowClocks`).
    static func registerReconcile(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v1-reconcile") { db in
            try db.execute(sql: """
                CREATE TABLE field_clock (
                    entity TEXT NOT NULL, key TEXT NOT NULL, field TEXT NOT NULL,
                    hlc INTEGER NOT NULL, node TEXT NOT NULL,
                    PRIMARY KEY (entity, key, field)
                ) WITHOUT ROWID;
                CREATE TABLE hub_alias (
                    rename_id INTEGER PRIMARY KEY AUTOINCREMENT,
                    node TEXT NOT NULL, old_code TEXT NOT NULL, new_code TEXT NOT NULL, at TEXT NOT NULL
                );
                CREATE INDEX hub_alias_node ON hub_alias(node, rename_id);
                -- The stamp of a row's creation: the stamp of every field without its own entry in field_clock.
                -- Customer moves carried out: (site, code, seq) now means (new code, new seq) there.
                CREATE TABLE move_alias (
                    site TEXT NOT NULL, old_code TEXT NOT NULL, old_seq INTEGER NOT NULL,
                    new_code TEXT NOT NULL, new_seq INTEGER NOT NULL,
                    PRIMARY KEY (site, old_code, old_seq)
                ) WITHOUT ROWID;
                CREATE TABLE row_clock (
                    entity TEXT NOT NULL, key TEXT NOT NULL, hlc INTEGER NOT NULL, node TEXT NOT NULL,
                    PRIMARY KEY (entity, key)
                ) WITHOUT ROWID;
                """)
        }
    }

    /// The merge clocks move into the replicated rows (`HubTable.clockColumns`): a new
    /// row carries its creation stamp, an edit its field stamps, in the row it writes anyway,
    /// instead of a row in `row_clock` per record and one in `field_clock` per edited field.
    /// Registered by the hub after its own migrations; clocks of an existing hub move along.
    static func registerRowClocks(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-hub-row-clocks") { db in
            for table in standardTables {
                let e = table.entity.rawValue, key = table.keySQL
                try db.execute(sql: """
                    ALTER TABLE \(table.name) ADD COLUMN clock_hlc INTEGER;
                    ALTER TABLE \(table.name) ADD COLUMN clock_node TEXT;
                    ALTER TABLE \(table.name) ADD COLUMN clock_fields TEXT;
                    UPDATE \(table.name) SET
                        clock_hlc = (SELECT r.hlc FROM row_clock r WHERE r.entity = '\(e)' AND r.key = \(key)),
                        clock_node = (SELECT r.node FROM row_clock r WHERE r.entity = '\(e)' AND r.key = \(key)),
                        clock_fields = (SELECT group_concat(f.field || ':' || f.hlc || ':' || f.node, ';')
                                        FROM field_clock f WHERE f.entity = '\(e)' AND f.key = \(key));
                    """)
            }
            try db.execute(sql: "DROP TABLE row_clock; DROP TABLE field_clock;")
        }
    }

    /// The hub's columns of a declared kind's table, as the migrations above gave the standard
    /// tables: merge clocks, feed position and echo, and the trigger that keeps a removed row's
    /// feed position in its tombstone.
    static func addHubColumns(_ db: Database, _ table: ReplicatedTable) throws {
        try db.execute(sql: """
            ALTER TABLE \(table.name) ADD COLUMN clock_hlc INTEGER;
            ALTER TABLE \(table.name) ADD COLUMN clock_node TEXT;
            ALTER TABLE \(table.name) ADD COLUMN clock_fields TEXT;
            ALTER TABLE \(table.name) ADD COLUMN \(HubTable.feedColumn) INTEGER;
            ALTER TABLE \(table.name) ADD COLUMN \(HubTable.feedEchoColumn) TEXT;
            """)
        try db.execute(sql: tombstoneTriggerSQL(table))
    }

    /// The trigger that keeps a removed row's feed position in its tombstone (see
    /// "v6-hub-tombstone-on-delete").
    static func tombstoneTriggerSQL(_ table: ReplicatedTable) -> String {
        let key = table.keyColumns.map { "OLD.\($0)" }.joined(separator: " || '|' || ")
        return """
            CREATE TRIGGER \(table.name)_tombstone AFTER DELETE ON \(table.name)
            WHEN OLD.\(HubTable.feedColumn) IS NOT NULL
            BEGIN
                INSERT OR REPLACE INTO hub_tombstone (entity, key, gseq)
                VALUES ('\(table.entity.rawValue)', \(key), OLD.\(HubTable.feedColumn));
            END
            """
    }
}
