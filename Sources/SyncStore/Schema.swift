import CSQLiteTuning
import Foundation
import GRDB
import SyncModel

/// Schema migrations. The replicated tables and the audit log are the same on node and hub;
/// each side registers its own tables after these.
public enum Schema {
    public static func registerShared(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v1-replicated") { db in
            try db.execute(sql: """
                CREATE TABLE partner (
                    code TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('consumer', 'business')),
                    salutation TEXT, first_name TEXT, last_name TEXT, name TEXT, birth_date TEXT,
                    vat_id TEXT, issued_by TEXT, phone TEXT, email TEXT,
                    attributes TEXT, consents TEXT,
                    reverse_charge INTEGER NOT NULL DEFAULT 0,
                    country TEXT, national_id TEXT, trade_register TEXT, id_document TEXT,
                    currency TEXT NOT NULL DEFAULT 'PLN',
                    corporate_customer TEXT,
                    lowest_price INTEGER NOT NULL DEFAULT 0,
                    deleted INTEGER NOT NULL DEFAULT 0,
                    origin_node TEXT
                );
                CREATE INDEX partner_vat_id ON partner(vat_id);
                CREATE INDEX partner_national_id ON partner(national_id);
                CREATE TABLE address (
                    partner_code TEXT NOT NULL,
                    site TEXT NOT NULL,
                    seq INTEGER NOT NULL CHECK (seq >= 0),
                    label TEXT, street TEXT, city TEXT, postal_code TEXT, country TEXT,
                    PRIMARY KEY (partner_code, site, seq)
                );
                CREATE TABLE document (
                    id TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('receipt', 'invoice', 'order', 'receivable')),
                    partner_code TEXT NOT NULL,
                    address_seq INTEGER NOT NULL DEFAULT 0,
                    site TEXT NOT NULL,
                    amount_minor INTEGER NOT NULL,
                    currency TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'open',
                    issued_at TEXT NOT NULL,
                    node TEXT NOT NULL
                );
                CREATE INDEX document_partner ON document(partner_code, address_seq);
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at TEXT NOT NULL,
                    node TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    key TEXT NOT NULL,
                    field TEXT,
                    old_value TEXT,
                    new_value TEXT,
                    reason TEXT NOT NULL
                );
                CREATE TABLE customer_balance (
                    partner_code TEXT PRIMARY KEY NOT NULL,
                    currency TEXT NOT NULL,
                    posted_minor INTEGER NOT NULL,
                    order_minor INTEGER NOT NULL,
                    recalculated_at TEXT NOT NULL
                );
                """)
        }
    }

    /// `PartnerValidator.normalizedNIP(vat_id)` in SQL (upper case, "PL" prefix, dashes and
    /// spaces removed), for an index on it. NIPs are ASCII, where the two agree.
    static let normalizedNIPSQL = """
        replace(replace(CASE WHEN substr(upper(vat_id), 1, 2) = 'PL' THEN substr(upper(vat_id), 3) ELSE upper(vat_id) END, '-', ''), ' ', '')
        """

    /// Changes to the shared tables made after each side's own first tables: registered last
    /// by node and hub (and the benchmark's references), so they run after what is there.
    public static func registerSharedUpgrades(_ migrator: inout DatabaseMigrator) {
        // SQLite (3.40, the system library) checks `kind IN (four values)` by building a
        // temporary index of the list on every insert: that took almost half of a document
        // insert on node and hub. The same rule as comparisons needs none. Only the CHECK's
        // text changes, which every stored row already satisfies, so the table's definition is
        // rewritten in place (SQLite's documented way for such changes, "ALTER TABLE", section
        // 7) instead of copying every document into a new table.
        migrator.registerMigration("v3-document-kind-check") { db in
            try rewriteDocumentTable(db, "CHECK (kind IN ('receipt', 'invoice', 'order', 'receivable'))",
                                     "CHECK (kind = 'receipt' OR kind = 'invoice' OR kind = 'order' OR kind = 'receivable')")
        }
        // No query reads a partner by its raw VAT ID or national ID (the NIP check uses the
        // normalized index `partner_nip`; the duplicates listing reads every partner), yet
        // both indexes took a page write in every partner insert, nulls included: two of the
        // four pages a plain partner insert wrote.
        migrator.registerMigration("v4-drop-unused-partner-indexes") { db in
            try db.execute(sql: "DROP INDEX IF EXISTS partner_vat_id; DROP INDEX IF EXISTS partner_national_id")
        }
        // The customer module: a customer's category, an address at an institution, and a
        // document's lines with what priced them. Appended columns keep every older column's
        // position (the hub's field clocks are kept by position).
        migrator.registerMigration("v5-customer-module-columns") { db in
            try db.execute(sql: """
                ALTER TABLE partner ADD COLUMN category TEXT;
                ALTER TABLE address ADD COLUMN institution TEXT;
                ALTER TABLE document ADD COLUMN customer_category TEXT;
                ALTER TABLE document ADD COLUMN institution TEXT;
                ALTER TABLE document ADD COLUMN price_version INTEGER;
                ALTER TABLE document ADD COLUMN lines TEXT;
                CREATE INDEX document_institution ON document(institution) WHERE institution IS NOT NULL;
                """)
        }
        // The delivery note joins the document kinds: the CHECK's text gains one comparison,
        // which every stored row satisfies already (rewritten in place as above).
        migrator.registerMigration("v5-document-kind-delivery-note") { db in
            try rewriteDocumentTable(db, "OR kind = 'receivable')", "OR kind = 'receivable' OR kind = 'delivery-note')")
        }
    }

    /// The invoicing fields of documents (docs/rules.md, "Invoicing"), appended after every
    /// other column (the hub's field clocks are kept by position). Registered by node and hub
    /// after their own migrations.
    public static func registerInvoicing(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6-document-invoicing") { db in
            try db.execute(sql: """
                ALTER TABLE document ADD COLUMN invoice_status TEXT;
                ALTER TABLE document ADD COLUMN payment_method TEXT;
                ALTER TABLE document ADD COLUMN payment_terms TEXT;
                ALTER TABLE document ADD COLUMN installments INTEGER;
                ALTER TABLE document ADD COLUMN salesperson TEXT;
                ALTER TABLE document ADD COLUMN bill_to_seq INTEGER;
                ALTER TABLE document ADD COLUMN payment_status TEXT;
                ALTER TABLE document ADD COLUMN reference_numbers TEXT;
                ALTER TABLE document ADD COLUMN booking TEXT;
                CREATE INDEX document_invoice_status ON document(invoice_status) WHERE invoice_status IS NOT NULL;
                """)
        }
    }

    /// Rewrites text of the document table's definition in place (a CHECK that every stored
    /// row satisfies either way), without copying its rows: SQLite's documented way ("ALTER
    /// TABLE", section 7). Nothing happens when the definition does not hold `old`.
    static func rewriteDocumentTable(_ db: Database, _ old: String, _ new: String) throws {
        guard let table = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'document'"),
              table.contains(old) else { return }
        let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        // (A store opened with SQLite's defensive mode would refuse this; GRDB does not set it.)
        try db.execute(sql: "PRAGMA writable_schema = ON")
        defer { try? db.execute(sql: "PRAGMA writable_schema = OFF") }
        try db.execute(sql: "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'document'",
                       arguments: [table.replacingOccurrences(of: old, with: new)])
        try db.execute(sql: "PRAGMA schema_version = \(version + 1)")
    }

    /// The tables of declared record kinds (`RecordKind.tableSource == .declared`), one
    /// migration each, registered last by node and hub: a kind declared later is created when a
    /// store first opens with it. Text is TEXT, whole numbers and flags INTEGER; a flag is
    /// never null (0 when not given); the key columns are the primary key.
    public static func registerDeclaredTables(_ migrator: inout DatabaseMigrator, kinds: RecordKinds) {
        for kind in kinds.stored where kind.tableSource == .declared {
            migrator.registerMigration("v1-kind-\(kind.table!)") { db in try db.execute(sql: createTableSQL(kind)) }
        }
        // Discounts with decimals (12.5 %): hundredths of a percent beside the whole percents
        // stores wrote before. A store or hub created with the column has it already.
        if kinds.table(.institution) != nil {
            migrator.registerMigration("v3-institution-discount-hundredths") { db in
                if try !db.columns(in: "institution").contains(where: { $0.name == "discount_hundredths" }) {
                    try db.execute(sql: "ALTER TABLE institution ADD COLUMN discount_hundredths INTEGER")
                }
            }
        }
        // Every sale reads the price table's version, the highest of any cell's or offer's
        // (`Database.priceTableVersion`): by index, not by a scan of a table of 100,000 cells.
        if kinds.table(.price) != nil, kinds.table(.offer) != nil {
            migrator.registerMigration("v2-price-version-index") { db in
                try db.execute(sql: "CREATE INDEX price_version ON price(price_version); CREATE INDEX offer_price_version ON offer(price_version)")
            }
        }
    }

    /// The `CREATE TABLE` statement of a declared kind.
    public static func createTableSQL(_ kind: RecordKind) -> String {
        let columns = kind.columns.map { c -> String in
            switch c.spec {
            case .text: return "\(c.name) TEXT" + (c.required || kind.key.contains(c.name) ? " NOT NULL" : "")
            case .int: return "\(c.name) INTEGER" + (c.required || kind.key.contains(c.name) ? " NOT NULL" : "")
            case .bool: return "\(c.name) INTEGER NOT NULL DEFAULT 0"
            }
        }
        return "CREATE TABLE \(kind.table!) (\((columns + ["PRIMARY KEY (\(kind.key.joined(separator: ", ")))"]).joined(separator: ", ")))"
    }

    /// The index of live partners by normalized NIP that `partnerWithSameNIP` reads (node and
    /// hub). Partial: partners without a VAT ID (most consumers) write nothing to it.
    public static func createNIPIndex(_ db: Database) throws {
        try db.execute(sql: "CREATE INDEX partner_nip ON partner(\(normalizedNIPSQL)) WHERE vat_id IS NOT NULL AND deleted = 0")
    }

    public static func registerNode(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v1-node") { db in
            try db.execute(sql: """
                CREATE TABLE node_config (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    node_id TEXT NOT NULL,
                    site TEXT NOT NULL,
                    series TEXT NOT NULL,
                    hub_url TEXT,
                    token TEXT,
                    lowest_price_business INTEGER NOT NULL DEFAULT 0,
                    lowest_price_consumer INTEGER NOT NULL DEFAULT 0,
                    last_hlc INTEGER NOT NULL DEFAULT 0,
                    cursor INTEGER NOT NULL DEFAULT 0,
                    renames_applied INTEGER NOT NULL DEFAULT 0,
                    acked_through INTEGER NOT NULL DEFAULT 0,
                    bootstrapped INTEGER NOT NULL DEFAULT 0,
                    next_document INTEGER NOT NULL DEFAULT 1,
                    last_sync_at TEXT,
                    last_sync_error TEXT
                );
                CREATE TABLE journal (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    hlc INTEGER NOT NULL,
                    node TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    key TEXT NOT NULL,
                    op TEXT NOT NULL,
                    fields TEXT NOT NULL,
                    acked INTEGER NOT NULL DEFAULT 0,
                    outcome TEXT,
                    reason TEXT
                );
                -- Entries are acknowledged in sequence order, so node_config.acked_through marks where the
                -- pending ones start and a primary-key range finds them: no extra index to write per change.
                """)
        }
        // The NIP uniqueness check (a warning on partner add/update) looks partners up by the
        // normalized NIP instead of reading every partner with a VAT ID.
        migrator.registerMigration("v2-node-nip-index") { db in try createNIPIndex(db) }
        // The node's default country, a center parameter like the lowest-price defaults: a
        // partner registered without a country gets it, so the national checks run for it.
        migrator.registerMigration("v3-node-default-country") { db in
            try db.execute(sql: "ALTER TABLE node_config ADD COLUMN default_country TEXT")
        }
        // A push reply's move entries, for the store's own audit of moves carried out or
        // refused. Partial: the entries of every other kind write nothing to it.
        migrator.registerMigration("v4-node-journal-moves") { db in
            try db.execute(sql: "CREATE INDEX journal_move ON journal(seq) WHERE entity = 'move'")
        }
        // How far this node's wall clock was from the hub's at the last push (node minus hub).
        migrator.registerMigration("v5-node-clock-offset") { db in
            try db.execute(sql: "ALTER TABLE node_config ADD COLUMN clock_offset_ms INTEGER")
        }
        // The chain's own CA for an https:// hub (a PEM file's path; none: the system's trust store).
        migrator.registerMigration("v6-node-hub-ca-file") { db in
            try db.execute(sql: "ALTER TABLE node_config ADD COLUMN hub_ca_file TEXT")
        }
        // An erasure was applied and the file not rebuilt yet (a reader kept old pages): the
        // next sync round rebuilds it (docs/privacy.md).
        migrator.registerMigration("v7-node-compaction-pending") { db in
            try db.execute(sql: "ALTER TABLE node_config ADD COLUMN compaction_pending INTEGER NOT NULL DEFAULT 0")
        }
        // A document's number is read from the journal's newest numbered entry, so a sale no
        // longer writes a page of node_config; `next_document` becomes the mark as of
        // `numbered_through` (`NodeTransaction.nextDocumentNumber`). Today's counter is exact.
        migrator.registerMigration("v8-node-document-number-mark") { db in
            try db.execute(sql: """
                ALTER TABLE node_config ADD COLUMN numbered_through INTEGER NOT NULL DEFAULT 0;
                UPDATE node_config SET numbered_through = (SELECT COALESCE(MAX(seq), 0) FROM journal);
                """)
        }
        // The codes this store's records had before a store-prefix rename, with how far the
        // journal and the audit reached then: entries under an old code up to there are the
        // renamed record's history; later ones are the record that holds the code now
        // (docs/privacy.md). Renames from before this table keep their audit bound and no
        // journal bound (their journal entries are not taken for the renamed record's).
        migrator.registerMigration("v9-node-code-history") { db in
            try db.execute(sql: """
                CREATE TABLE code_history (
                    entity TEXT NOT NULL, old_code TEXT NOT NULL, new_code TEXT NOT NULL,
                    journal_through INTEGER NOT NULL, audit_through INTEGER NOT NULL, at TEXT NOT NULL
                );
                CREATE INDEX code_history_new ON code_history(new_code);
                CREATE INDEX code_history_old ON code_history(old_code);
                INSERT INTO code_history (entity, old_code, new_code, journal_through, audit_through, at)
                    SELECT entity, old_value, new_value, 0, id - 1, at FROM audit WHERE kind = 'rename' AND old_value IS NOT NULL AND new_value IS NOT NULL ORDER BY id;
                """)
        }
        // A store restored from a backup pulls back its own changes the hub has and it lost:
        // the feed leaves out a node's echoes up to this sequence only, until a pull is complete.
        migrator.registerMigration("v10-node-restore") { db in
            try db.execute(sql: "ALTER TABLE node_config ADD COLUMN restore_own_through INTEGER")
        }
        // A plain http:// hub on another machine is used only when the operator allowed it.
        migrator.registerMigration("v11-node-insecure-plaintext") { db in
            try db.execute(sql: "ALTER TABLE node_config ADD COLUMN insecure_plaintext INTEGER NOT NULL DEFAULT 0")
        }
        // The hub's epoch this node last synced in (`NodeStore.adoptHubEpoch`).
        migrator.registerMigration("v12-node-hub-epoch") { db in
            try db.execute(sql: "ALTER TABLE node_config ADD COLUMN hub_epoch TEXT")
        }
    }
}

/// SQLite's `synchronous` setting: how much a commit waits for the disk.
public enum SynchronousMode: String, Sendable, CaseIterable {
    /// Every commit is on disk before it returns (the default: a power cut loses nothing committed).
    case full = "FULL"
    /// The write-ahead log is synced at checkpoints only: a power cut may lose the last commits.
    case normal = "NORMAL"
    /// FULL, and the log's directory is synced too.
    case extra = "EXTRA"
    /// No syncing (tests and benchmarks only).
    case off = "OFF"

    /// A mode by name, in any case (`full`, `FULL`).
    public init?(name: String) { self.init(rawValue: name.uppercased()) }
}

/// How a store is opened.
public struct StoreOptions: Sendable {
    /// SQLite `synchronous`: FULL (default), NORMAL, EXTRA or OFF.
    public var synchronous: SynchronousMode
    /// How long to wait for another process's write lock.
    public var busyTimeout: TimeInterval
    /// Page cache of the writing connection in MiB; nil keeps SQLite's default (2 MiB).
    /// A store that applies large batches (the hub) re-reads and re-writes fewer pages with more.
    public var writerCacheMiB: Int?
    /// Write-ahead log pages after which a commit copies the log into the database
    /// (`wal_autocheckpoint`); nil keeps SQLite's default (1,000 pages, 4 MiB).
    public var walCheckpointPages: Int?

    /// Copy the log into the database on a background connection after each write
    /// (`BackgroundCheckpointer`); `walCheckpointPages` then bounds the log.
    public var backgroundCheckpoint: Bool

    public init(synchronous: SynchronousMode = .full, busyTimeout: TimeInterval = 10, writerCacheMiB: Int? = nil, walCheckpointPages: Int? = nil,
                backgroundCheckpoint: Bool = false) {
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
        self.writerCacheMiB = writerCacheMiB
        self.walCheckpointPages = walCheckpointPages
        self.backgroundCheckpoint = backgroundCheckpoint
    }

    /// The hub's default writer cache: a 2,000-change push touches more pages than SQLite's
    /// default cache holds (profile of the 100,000-change catch-up: a fifth of the hub's apply
    /// time in pread/pwrite). While every edit deleted its record's earlier feed row, a
    /// 5,000-change push overflowed 16 MiB and SQLite wrote dirty pages to the log in the middle
    /// of the transaction; with the feed as a log (v5) 16 MiB holds such a push again (A/B: 16,
    /// 24 and 32 MiB within noise; hub peak 71 MB at a 1,000,000-change backlog against 89-90 MB
    /// at 32 MiB). Stays inside the hub's 100 MB memory budget.
    public static let hubWriterCacheMiB = 16

    /// The most write-ahead log pages the hub keeps before a commit copies the log into the
    /// database itself: 32,768 (128 MiB). The hub copies the log in the background after every
    /// push (`BackgroundCheckpointer`), so the commit that reaches this bound finds it mostly
    /// copied, and the log then starts again from its beginning. With SQLite's 1,000 a few
    /// pushes filled the log and every checkpoint copied the same hot pages again (push phase
    /// 8.7–9.1 s against 7.2–7.6 s at 8,192); at 8,192 without background
    /// copying every fourth push of the catch-up took half as long again, in its commit.
    public static let hubWALCheckpointPages = 32768

    /// The hub's defaults.
    public static let hub = StoreOptions(writerCacheMiB: hubWriterCacheMiB, walCheckpointPages: hubWALCheckpointPages, backgroundCheckpoint: true)

    public static let `default` = StoreOptions()

    /// SQLite's per-process settings, made once before the first connection opens (see
    /// `posnode_sqlite_disable_memstatus`).
    static let processSettings: Void = { _ = posnode_sqlite_disable_memstatus() }()

    /// Opens (creating if needed) a WAL database at `path` with these options.
    public func openPool(path: String) throws -> DatabasePool {
        Self.processSettings
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        let sync = synchronous.rawValue
        if let mib = writerCacheMiB, !(1...4096).contains(mib) {
            throw StoreError.invalid(FieldError(field: "cache-mib", reason: "the writer's page cache must be 1 to 4096 MiB, got \(mib)"))
        }
        if let pages = walCheckpointPages, !(1...1_000_000).contains(pages) {
            throw StoreError.invalid(FieldError(field: "wal-checkpoint-pages", reason: "must be 1 to 1000000 pages, got \(pages)"))
        }
        let writerCache = writerCacheMiB, checkpointPages = walCheckpointPages
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            // The writing connection only (readers are opened read-only); negative means KiB.
            guard !db.configuration.readonly else { return }
            if let mib = writerCache { try db.execute(sql: "PRAGMA cache_size = -\(mib * 1024)") }
            if let pages = checkpointPages { try db.execute(sql: "PRAGMA wal_autocheckpoint = \(pages)") }
        }
        // A new store is readable by its owner only (its write-ahead log and shared-memory
        // files take the same mode from it): it holds customers' data and the hub token.
        if !FileManager.default.fileExists(atPath: path) {
            let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
            if fd >= 0 { close(fd) }
        }
        return try DatabasePool(path: path, configuration: config)
    }
}
