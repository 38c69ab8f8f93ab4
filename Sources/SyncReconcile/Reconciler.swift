import Foundation
import GRDB
import SyncModel
import SyncStore

/// A replicated row changed by applying a change; the hub emits its new image to the feed.
public struct TouchedRow: Sendable, Hashable {
    public var entity: Entity
    public var key: String
    /// The row is now exactly the image the sending node wrote itself: a new row stored as
    /// sent, or that node's edit applied as sent to a row that was its own image (the row's
    /// `ReplicatedTable.feedEchoColumn`). That node already holds it, so its pulls may skip it.
    public var echo: Bool

    public init(_ entity: Entity, _ key: String, echo: Bool = false) {
        self.entity = entity
        self.key = key
        self.echo = echo
    }
}

/// Who sent a change and what the hub knows of that node while applying one push.
public struct ApplyContext: Sendable {
    public var node: String
    public var series: String
    public var site: String
    public var prefixRule: PrefixRule
    /// Renames of this node's partners the node has not applied yet (oldest first):
    /// codes in its entries are mapped through them.
    public var pendingRenames: [(old: String, new: String)]
    /// The hub's clock when the change is applied. Decisions the hub makes (customer moves)
    /// are stamped with it, so they beat every value the hub had already seen.
    public var hubHLC: HLC = .zero
    /// The hub's replication regions; nil when it has none (every node in the default region).
    public var regions: RegionScope?
    /// Feed positions for the rows the push writes (nil: the feed sets them afterwards).
    public var positions: FeedPositions?
    /// Whether the hub may have carried out a customer move (`move_alias` has rows), so a new
    /// document must be looked up there. The hub reads it once per push; true is always safe.
    public var movesRecorded = true

    public init(node: String, series: String, site: String, prefixRule: PrefixRule = .init(),
                pendingRenames: [(old: String, new: String)] = [], regions: RegionScope? = nil) {
        self.node = node; self.series = series; self.site = site
        self.prefixRule = prefixRule; self.pendingRenames = pendingRenames; self.regions = regions
    }
}

/// Feed positions handed out while the hub applies one push or one customer move (see
/// `HubStore.FeedEmitter`). The row a change inserts or changes is written with its position
/// (`ReplicatedTable.feedColumn`), so adding its feed row costs no second write of it; the
/// feed gives the other rows it feeds theirs from the same counter.
public struct FeedPositions: Sendable {
    /// A written row's position before this write: it was a new row (a removed record's
    /// tombstone, if any, holds its last feed row), or the position read with the row.
    public enum Prior: Sendable, Equatable {
        case newRow
        case position(Int64?)
    }
    public struct Written: Sendable, Equatable {
        public var position: Int64
        public var prior: Prior
        /// Whether the row was written as the sending node's echo (`feedEchoColumn` set).
        public var echo: Bool
    }

    /// The next position to hand out.
    public private(set) var next: Int64
    /// Rows written with a position by the change being applied (usually one, so a list).
    public private(set) var written: [(row: TouchedRow, written: Written)] = []

    public init(next: Int64) { self.next = next }

    /// A position never handed out before (one left unused is a gap in the feed).
    public mutating func take() -> Int64 {
        defer { next += 1 }
        return next
    }

    /// Notes that the change wrote the row of `entity`/`key` with `position`, and as the
    /// sending node's echo or not.
    public mutating func wrote(_ entity: Entity, _ key: String, at position: Int64, prior: Prior, echo: Bool) {
        let row = TouchedRow(entity, key), w = Written(position: position, prior: prior, echo: echo)
        if let i = written.firstIndex(where: { $0.row == row }) { written[i].written = w } else { written.append((row, w)) }
    }

    /// Hands the rows the change wrote with positions to `buffer` (its old contents dropped);
    /// the next change starts with none. The two swap storage: no allocation per change.
    public mutating func endChange(into buffer: inout [(row: TouchedRow, written: Written)]) {
        buffer.removeAll(keepingCapacity: true)
        swap(&buffer, &written)
    }
}

/// What the hub knows of replication regions while it applies a node's push: a node may only
/// change records of its own region (it never receives others), and a customer move needs
/// both sites in one region (condition 8).
public struct RegionScope: Sendable {
    /// The pushing node's region.
    public var region: String
    /// The region of a site's nodes (nil: no node registered there).
    public var siteRegion: SiteRegion
    /// The region of a record at the hub (nil: no such record).
    public var recordRegion: @Sendable (Database, Entity, String) throws -> String?

    public init(region: String, siteRegion: @escaping SiteRegion,
                recordRegion: @escaping @Sendable (Database, Entity, String) throws -> String?) {
        self.region = region; self.siteRegion = siteRegion; self.recordRegion = recordRegion
    }

    /// Why `node` may not change a record of `entity`/`key` (nil: it may, or no such record).
    func refusal(_ db: Database, _ entity: Entity, _ key: String, node: String, what: String) throws -> String? {
        guard let other = try recordRegion(db, entity, key), other != region else { return nil }
        return "\(what): \(entity.rawValue) \(key) belongs to region '\(other)', node \(node) replicates region '\(region)'"
    }
}

/// What applying a new partner or document needs that the change alone decides, without the
/// hub's rows: the row parsed and validated, its stored values, and whether they are the
/// values as sent. `HubServer` works it out while it decodes a batch, beside the push it is
/// applying, so the hub's single writer does not; `Reconciler.apply` works it out itself
/// for a change that comes without it or that a rename changed. One function
/// (`Reconciler.prepare`) decides it either way.
public struct PreparedChange: Sendable {
    enum Content: Sendable {
        /// Nothing to prepare (edits, removals, addresses, moves).
        case none
        /// The change is refused with this reason.
        case invalid(String)
        /// A new partner: its code, the values `ReplicatedTable.storedValues` gives its row,
        /// and whether those are exactly the values of the image as sent.
        case partner(code: String, stored: [DatabaseValue], sentAsStored: Bool)
        /// A new document, likewise. Boxed: a push holds one prepared change per entry, and
        /// a document inline made every one of them as large as a document.
        indirect case document(Document, stored: [DatabaseValue], sentAsStored: Bool)
    }
    let content: Content

    /// Nothing prepared: what an edit, a removal, an address or a move is prepared as (and what
    /// the hub leaves in place of an entry's preparation once the entry is applied).
    public static let nothing = PreparedChange(content: .none)

    /// A prepared change handed to `apply` with another entry than its own (a caller's bug:
    /// the push is not applied).
    struct Mismatch: Error, CustomStringConvertible {
        var seq: Int64
        var description: String { "entry \(seq) came with what was prepared for another entry" }
    }
}

/// The hub's reconciler: applies one journal entry from a node to the canonical store with the
/// store-prefix rule, field-level last-writer-wins merge and the customer move. The simulator
/// runs the same code through the hub.
public enum Reconciler {
    public static func registerSchema(_ migrator: inout DatabaseMigrator) {
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

    /// The merge clocks move into the replicated rows (`ReplicatedTable.clockColumns`): a new
    /// row carries its creation stamp, an edit its field stamps, in the row it writes anyway,
    /// instead of a row in `row_clock` per record and one in `field_clock` per edited field.
    /// Registered by the hub after its own migrations; clocks of an existing hub move along.
    public static func registerRowClocks(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-hub-row-clocks") { db in
            for table in ReplicatedTable.all {
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

    /// Applies `change` and returns the verdict and the rows it changed. Refusals are
    /// verdicts (`rejected`), not errors; a thrown error aborts the whole push.
    public static func apply(_ db: Database, change incoming: Change, prepared: PreparedChange? = nil,
                             context: inout ApplyContext) throws -> (EntryResult, [TouchedRow]) {
        var change = incoming
        (change.key, change.fields) = PartnerRename.rewrite(change, renames: context.pendingRenames)
        // The entry exactly as the node sent it (no rename mapped into it)?
        let asSent = context.pendingRenames.isEmpty || (change.key == incoming.key && change.fields == incoming.fields)
        // Prepared for the entry as sent; worked out here for a renamed one.
        let ready = asSent ? prepared ?? prepare(incoming, node: context.node) : prepare(change, node: context.node)
        let stamp = MergeStamp(hlc: change.hlc, node: context.node)
        if case .invalid(let reason) = ready.content {
            return (EntryResult(seq: change.seq, outcome: .rejected, reason: reason), [])
        }
        func reject(_ reason: String, resend row: TouchedRow? = nil) -> (EntryResult, [TouchedRow]) {
            (EntryResult(seq: change.seq, outcome: .rejected, reason: reason), row.map { [$0] } ?? [])
        }
        // The sender already changed its own copy of an existing row. When the hub refuses that
        // edit, or keeps a newer value for any of its fields, the row is fed again (not as the
        // sender's echo), so the sender gets the hub's image back instead of keeping its own.
        func refused(_ entity: Entity, _ key: String, _ reason: String) -> (EntryResult, [TouchedRow]) {
            reject(reason, resend: TouchedRow(entity, key))
        }
        /// Merges the sender's edit into an existing row, fed again when it changed or (as
        /// above) when the hub kept a newer value for any field. `extendsEcho`: the edit came
        /// as the sender wrote it, so if every field was taken and the row was the sender's
        /// own image, it still is.
        func mergeEdit(_ table: ReplicatedTable, _ key: String, _ fields: Fields, current: StoredRow? = nil,
                       extendsEcho: Bool = false) throws -> (EntryResult, [TouchedRow]) {
            let position = context.positions?.take()
            let merged = try merge(db, table: table, key: key, fields: fields, stamp: stamp, current: current, position: position,
                                   echoOf: extendsEcho ? context.node : nil)
            if let position, merged.changed {
                context.positions?.wrote(table.entity, key, at: position, prior: .position(merged.priorPosition), echo: merged.echo)
            }
            let fed = merged.changed || !merged.complete
            return (EntryResult(seq: change.seq, outcome: .applied),
                    fed ? [TouchedRow(table.entity, key, echo: merged.changed && merged.echo)] : [])
        }
        /// Why the node may not touch that record: it is in another region.
        func outside(_ entity: Entity, _ key: String, _ what: String) throws -> String? {
            try context.regions?.refusal(db, entity, key, node: context.node, what: what)
        }

        switch (change.entity, change.op) {
        case (.move, _):
            do {
                var request = try MoveRequest(fields: change.fields)
                request.site = context.site
                let touched = try CustomerMove.execute(db, request, stamp: MergeStamp(hlc: context.hubHLC, node: context.node),
                                                       siteRegion: context.regions.map { scope in { try scope.siteRegion(db, $0) } })
                context.movesRecorded = true
                return (EntryResult(seq: change.seq, outcome: .applied), Array(touched))
            } catch let refused as MoveRefused {
                try db.appendAudit(AuditRecord(node: context.node, kind: .moveRefused, entity: "move", key: change.key,
                                               reason: refused.description))
                return reject(refused.description)
            } catch let e as FieldError {
                return reject(e.description)
            }

        case (.partner, .insert):
            guard case .partner(let original, var stored, let sentAsStored) = ready.content else {
                throw PreparedChange.Mismatch(seq: change.seq)
            }
            // Stored under its own code unless that is taken (one statement for the usual case);
            // otherwise under the code the store-prefix rule gives.
            var code = original
            let position = context.positions?.take()
            var echo = asSent && sentAsStored
            if try !insertRow(db, table: .partner, stored: stored, stamp: stamp, replacing: false, position: position,
                              echoNode: echo ? context.node : nil) {
                code = try context.prefixRule.resolve(code: original, series: context.series) {
                    try $0 == original || ReplicatedTable.partner.exists(db, key: $0)
                }
                stored[Self.partnerCodeColumn] = code.databaseValue
                echo = false  // renamed: not the row the node holds
                try insertRow(db, table: .partner, stored: stored, stamp: stamp, position: position)  // a code no row has
            }
            if let position { context.positions?.wrote(.partner, code, at: position, prior: .newRow, echo: echo) }
            let touched = [TouchedRow(.partner, code, echo: echo)]
            // A Polish VAT ID another partner has: the store asks the cashier while it reaches the
            // hub; a partner registered offline is stored anyway (nobody could be asked) and reported.
            let warning = try duplicateVATWarning(db, stored: stored, code: code, node: context.node)
            guard code != original else { return (EntryResult(seq: change.seq, outcome: .applied, warning: warning), touched) }
            try db.execute(sql: "INSERT INTO hub_alias (node, old_code, new_code, at) VALUES (?, ?, ?, ?)",
                           arguments: [context.node, original, code, AuditRecord.now()])
            let renameID = db.lastInsertedRowID
            context.pendingRenames.append((original, code))
            let reason = context.prefixRule.explanation(original: original, stored: code, series: context.series)
            try db.appendAudit(AuditRecord(node: context.node, kind: .rename, entity: "partner", key: code, field: "code",
                                           oldValue: original, newValue: code,
                                           reason: "store-prefix rule: \(reason) when node \(context.node) reconnected"))
            return (EntryResult(seq: change.seq, outcome: .renamed, reason: reason,
                                oldCode: original, newCode: code, renameID: renameID, warning: warning), touched)

        case (.partner, .update), (.partner, .delete):
            var fields = change.fields
            if change.op == .delete { fields = ["deleted": .bool(true)] }
            // The whole row is read when the edit touches a column a validation rule reads;
            // otherwise (a new phone number, a deletion) only the columns the merge compares.
            let validates = change.op == .update && fields.keys.contains { PartnerValidator.checkedColumns.contains($0) }
            let table = ReplicatedTable.partner
            guard let stored = try table.fetchWithClocks(db, key: change.key, only: validates ? nil : fields.keys.compactMap { table.columnIndex[$0] }) else {
                return reject("partner \(change.key) does not exist at the hub")
            }
            let current = stored.values
            if let refusal = try outside(.partner, change.key, "partner \(change.key)") { return reject(refusal) }
            for name in fields.keys where !(Partner.editableColumns.contains(name) || name == "deleted") {
                return refused(.partner, change.key, "partner \(change.key): field \(name) cannot be changed by an update")
            }
            if validates {
                var merged = current
                for (k, v) in fields { merged[table.columnIndex[k]!] = v }  // editable: a column
                do { try PartnerValidator.validate(try Partner(columnValues: merged)) } catch {
                    // A FieldError or InvalidFields: every problem on one line.
                    return refused(.partner, change.key, "partner \(change.key): \((error as? InvalidFields)?.oneLine ?? String(describing: error))")
                }
            }
            // The node made the same edit on its own copy; if nothing else had changed the row,
            // the hub's image is now exactly the node's.
            return try mergeEdit(.partner, change.key, fields, current: stored, extendsEcho: change.op == .update && asSent)

        case (.address, .insert), (.address, .update):
            let address: Address
            do { address = try Address(fields: change.fields) } catch let e as FieldError {
                return reject("address \(change.key): \(e.description)")
            }
            guard try ReplicatedTable.partner.exists(db, key: address.partnerCode) else {
                return reject("address \(change.key): partner \(address.partnerCode) does not exist at the hub")
            }
            if let refusal = try outside(.partner, address.partnerCode, "address \(change.key)") { return reject(refusal) }
            // A new address is stored as sent; one the hub has already takes the sent fields as an edit.
            let position = context.positions?.take()
            let stored = ReplicatedTable.address.storedValues(address.fields)
            let echo = stored == ReplicatedTable.address.storedValues(incoming.fields)
            guard try insertRow(db, table: .address, stored: stored, stamp: stamp, replacing: false, position: position,
                                echoNode: echo ? context.node : nil) else {
                return try mergeEdit(.address, address.key, address.fields)
            }
            if let position { context.positions?.wrote(.address, address.key, at: position, prior: .newRow, echo: echo) }
            return (EntryResult(seq: change.seq, outcome: .applied), [TouchedRow(.address, address.key, echo: echo)])

        case (.address, .delete):
            if let refusal = try outside(.address, change.key, "address \(change.key)") { return reject(refusal) }
            // The row's clocks go with it.
            let removed = try ReplicatedTable.address.delete(db, key: change.key)
            return (EntryResult(seq: change.seq, outcome: .applied), removed ? [TouchedRow(.address, change.key)] : [])

        case (.document, .insert):
            guard case .document(var doc, var stored, var sentAsStored) = ready.content else {
                throw PreparedChange.Mismatch(seq: change.seq)
            }
            guard doc.node == context.node else {
                return reject("document \(doc.id) belongs to node \(doc.node), not \(context.node)")
            }
            // A document written (offline) for a customer that a move has since re-designated
            // follows the move, like the documents that existed when the move ran.
            if context.movesRecorded, let moved = try CustomerMove.movedTo(db, site: doc.site, code: doc.partnerCode, seq: doc.addressSeq) {
                doc.partnerCode = moved.code
                doc.addressSeq = moved.seq
                stored = ReplicatedTable.document.storedValues(columnValues: doc.columnValues)
                sentAsStored = stored == ReplicatedTable.document.storedValues(change.fields)
            }
            let position = context.positions?.take()
            let echo = asSent && sentAsStored, echoNode = echo ? context.node : nil
            // Without regions one statement covers the usual case: the document is stored when
            // its partner exists and it does not; otherwise the checks below tell which it was.
            var inserted = try context.regions == nil
                && insertRow(db, table: .document, stored: stored, stamp: stamp, replacing: false, position: position, echoNode: echoNode,
                             ifPartner: doc.partnerCode)
            if !inserted {
                guard try ReplicatedTable.partner.exists(db, key: doc.partnerCode) else {
                    return reject("document \(doc.id): partner \(doc.partnerCode) does not exist at the hub")
                }
                if let refusal = try outside(.partner, doc.partnerCode, "document \(doc.id)") { return reject(refusal) }
                // Without regions the insert above found the document there already.
                inserted = try context.regions != nil
                    && insertRow(db, table: .document, stored: stored, stamp: stamp, replacing: false, position: position, echoNode: echoNode)
                guard inserted else { return try mergeEdit(.document, doc.id, doc.fields) }
            }
            if let position { context.positions?.wrote(.document, doc.id, at: position, prior: .newRow, echo: echo) }
            return (EntryResult(seq: change.seq, outcome: .applied), [TouchedRow(.document, doc.id, echo: echo)])

        case (.document, .update):
            guard let existing = try ReplicatedTable.document.fetchWithClocks(db, key: change.key) else {
                return reject("document \(change.key) does not exist at the hub")
            }
            let owner = existing.values[ReplicatedTable.document.columnIndex["node"]!].text
            guard owner == context.node else {
                return reject("document \(change.key) belongs to node \(owner ?? "?"), not \(context.node)")
            }
            return try mergeEdit(.document, change.key, change.fields, current: existing)

        case (.document, .delete):
            return reject("document \(change.key): documents are never deleted")
        }
    }

    /// Works out what `apply` needs for `change` from `node` that the change alone decides
    /// (see `PreparedChange`): a new partner or document parsed and validated, with the values
    /// its row is stored with. Pure: no database, so the hub runs it beside its writer.
    public static func prepare(_ change: Change, node: String) -> PreparedChange {
        // Types and sizes of every field, as a store checks its own writes (`ColumnRules`).
        let problems = ColumnRules.problems(change.entity, change.fields)
        if !problems.isEmpty {
            return PreparedChange(content: .invalid("\(change.entity.rawValue) \(change.key): \(InvalidFields(problems).oneLine)"))
        }
        switch (change.entity, change.op) {
        case (.partner, .insert):
            do {
                // The image by column, read once: the partner and the values as sent come from it.
                let table = ReplicatedTable.partner, sent = table.presentColumns(change.fields)
                var partner = try Partner(columnValues: sent.map { $0 ?? .null })
                try PartnerValidator.validate(partner, newCode: true)
                partner.originNode = node
                let stored = table.storedValues(columnValues: partner.columnValues)
                return PreparedChange(content: .partner(code: partner.code, stored: stored, sentAsStored: stored == table.storedValues(present: sent)))
            } catch {
                // A `FieldError` or `InvalidFields` (the only errors here), on one line.
                return PreparedChange(content: .invalid("partner \(change.key): \((error as? InvalidFields)?.oneLine ?? String(describing: error))"))
            }
        case (.document, .insert):
            do {
                let table = ReplicatedTable.document, sent = table.presentColumns(change.fields)
                let doc = try Document(columnValues: sent)
                let stored = table.storedValues(columnValues: doc.columnValues)
                return PreparedChange(content: .document(doc, stored: stored, sentAsStored: stored == table.storedValues(present: sent)))
            } catch {
                // A `FieldError` (the only error here) reads as its `description`.
                return PreparedChange(content: .invalid("document \(change.key): \(error)"))
            }
        default:
            return .nothing
        }
    }

    /// The warning for a new partner whose Polish VAT ID another live partner has (also in the
    /// hub's audit, kind `duplicate-vat`), or nil.
    static func duplicateVATWarning(_ db: Database, stored: [DatabaseValue], code: String, node: String) throws -> String? {
        let table = ReplicatedTable.partner
        let vat = String.fromDatabaseValue(stored[table.columnIndex["vat_id"]!])
        guard vat != nil, let other = try db.partnerWithSameNIP(vatID: vat, country: String.fromDatabaseValue(stored[table.columnIndex["country"]!]),
                                                                excluding: code) else { return nil }
        let warning = "VAT ID \(vat!) of partner \(code) is already used by partner \(other); the partner was registered offline and saved, check it (posnode duplicates)"
        try db.appendAudit(AuditRecord(node: node, kind: .duplicateVat, entity: "partner", key: code, field: "vat_id",
                                       newValue: vat, reason: warning))
        return warning
    }

    /// The position of `code` in the partner table's stored values.
    static let partnerCodeColumn = ReplicatedTable.partner.columnIndex["code"]!

    /// Inserts a new row; all its fields carry `stamp` (the row's creation stamp, no field
    /// stamps). `replacing`: a row that exists is overwritten and starts with fresh clocks
    /// (a customer move re-adding an address); otherwise it is left alone and false returned.
    /// `stored`: the row's values as `ReplicatedTable.storedValues` gives them.
    /// `position`: the row's feed position (see `FeedPositions`; nil: the feed sets it).
    /// `echoNode`: with a position, the node whose echo the row is (`feedEchoColumn`).
    /// `ifPartner` (not replacing): the row is stored only if that partner exists (a
    /// document), false also when it does not.
    @discardableResult
    static func insertRow(_ db: Database, table: ReplicatedTable, stored: [DatabaseValue], stamp: MergeStamp,
                          replacing: Bool = true, position: Int64? = nil, echoNode: String? = nil, ifPartner code: String? = nil) throws -> Bool {
        for i in table.keyIndices where stored[i].isNull {
            throw StoreError.badKey(entity: table.entity, key: "?")
        }
        return try table.insert(db, stored: stored, createdHLC: Int64(bitPattern: stamp.hlc.rawValue), createdNode: stamp.node,
                                position: position, echoNode: echoNode, replacing: replacing, ifExists: code.map { (.partner, $0) })
    }

    /// `insertRow` of a row image; returns the values stored (nil: the row existed, not replacing).
    @discardableResult
    static func insertRow(_ db: Database, table: ReplicatedTable, image: Fields, stamp: MergeStamp,
                          replacing: Bool = true, position: Int64? = nil) throws -> [DatabaseValue]? {
        let stored = table.storedValues(image)
        return try insertRow(db, table: table, stored: stored, stamp: stamp, replacing: replacing, position: position) ? stored : nil
    }

    /// The stamp stored as (hlc, node) columns.
    static func stamp(_ hlc: DatabaseValue, _ node: DatabaseValue) -> MergeStamp? {
        guard let h = Int64.fromDatabaseValue(hlc), let n = String.fromDatabaseValue(node) else { return nil }
        return MergeStamp(hlc: HLC(rawValue: UInt64(bitPattern: h)), node: n)
    }

    /// Field-level last-writer-wins: each field takes the value with the greater `MergeStamp`.
    /// A value that loses, or that overwrites another node's value, is recorded in the audit log.
    /// Returns whether the row changed.
    public static func mergeFields(_ db: Database, table: ReplicatedTable, key: String, fields: Fields, stamp: MergeStamp) throws -> Bool {
        try merge(db, table: table, key: key, fields: fields, stamp: stamp).changed
    }

    /// A row as read for a merge: its fields, the hub's clock columns and its feed position.
    typealias StoredRow = (values: [FieldValue], clocks: ReplicatedTable.HubColumns)

    /// `mergeFields`, also saying whether every field was taken as given (`complete`: none lost
    /// to a newer value, none outside the table's columns; key columns only name the row). `current`: the row
    /// with its clocks as the caller already read it in this transaction (read here when nil).
    /// A row that changed is written with `position` (when given); `priorPosition` is the
    /// feed position it had. `echoOf`: the edit is that node's as it sent it; `echo` says
    /// whether the row is then still that node's own image: every field taken, and the row
    /// was that node's echo before (`feedEchoColumn`), which a row written with a position
    /// records.
    static func merge(_ db: Database, table: ReplicatedTable, key: String, fields: Fields, stamp: MergeStamp,
                      current known: StoredRow? = nil, position: Int64? = nil, echoOf node: String? = nil)
        throws -> (changed: Bool, complete: Bool, priorPosition: Int64?, echo: Bool) {
        guard let (current, clocks) = try known ?? table.fetchWithClocks(db, key: key) else { return (false, false, nil, false) }
        let priorPosition = clocks.position
        let base = Self.stamp(clocks.createdHLC, clocks.createdNode)
        var stamps = FieldClocks(clocks.fieldClocks)
        var winners: [(column: Int, value: FieldValue)] = []
        var complete = true
        var stamped = false
        for (field, value) in fields.sorted(by: { $0.key < $1.key }) where !table.keyColumns.contains(field) {
            // Key columns name the row (addresses and documents are sent whole); anything else
            // that is not a column of the table is not taken.
            guard let column = table.columnIndex[field] else { complete = false; continue }
            let old = current[column]
            if let existing = stamps[field] ?? base, !(existing < stamp) {
                complete = false
                if existing != stamp, old != value {
                    try db.appendAudit(AuditRecord(
                        node: stamp.node, kind: .overwrite, entity: table.entity.rawValue, key: key, field: field,
                        oldValue: value.auditText, newValue: old.auditText,
                        reason: "concurrent edit: value from \(stamp) lost to newer value from \(existing)"))
                }
                continue
            }
            if old != value, let existing = stamps[field] ?? base, existing.node != stamp.node {
                try db.appendAudit(AuditRecord(
                    node: stamp.node, kind: .overwrite, entity: table.entity.rawValue, key: key, field: field,
                    oldValue: old.auditText, newValue: value.auditText,
                    reason: "value from \(existing) replaced by newer value from \(stamp)"))
            }
            stamps[field] = stamp
            stamped = true
            if old != value { winners.append((column, value)) }
        }
        let echo = complete && node != nil && clocks.echoNode == node
        guard stamped else { return (false, complete, priorPosition, echo) }
        // Only a changed row is surely fed: a position without its feed row would hide the record.
        try table.setMerged(db, rowid: clocks.rowid, columns: winners, fieldClocks: stamps.text, position: winners.isEmpty ? nil : position,
                            echoNode: echo ? node : nil)
        return (!winners.isEmpty, complete, priorPosition, echo)
    }
}

/// The stamps of a row's fields changed since its creation, as the hub keeps them in the row's
/// `clock_fields` column: `field:hlc:node` entries joined by `;`, sorted by field (field names
/// are column names, node ids letters, digits, '-' and '_', so neither separator occurs in them).
struct FieldClocks {
    /// Sorted by field; a row has a few (a linear search beats hashing the names).
    private var stamps: [(field: String, stamp: MergeStamp)] = []

    init(_ column: DatabaseValue) {
        guard case .string(let text) = column.storage else { return }
        for entry in text.utf8.split(separator: UInt8(ascii: ";")) {
            let parts = entry.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            guard parts.count == 3, let hlc = Int64(Substring(parts[1])) else { continue }
            self[String(Substring(parts[0]))] = MergeStamp(hlc: HLC(rawValue: UInt64(bitPattern: hlc)), node: String(Substring(parts[2])))
        }
    }

    subscript(field: String) -> MergeStamp? {
        get { stamps.first { $0.field == field }?.stamp }
        set {
            // The field's place in the sorted list: its entry, or where it goes.
            let i = stamps.firstIndex { $0.field >= field } ?? stamps.endIndex
            if i < stamps.endIndex, stamps[i].field == field {
                if let newValue { stamps[i].stamp = newValue } else { stamps.remove(at: i) }
            } else if let newValue {
                stamps.insert((field, newValue), at: i)
            }
        }
    }

    var text: String {
        var out = ""
        for (i, s) in stamps.enumerated() {
            if i > 0 { out += ";" }
            out += s.field
            out += ":"
            out += String(Int64(bitPattern: s.stamp.hlc.rawValue))
            out += ":"
            out += s.stamp.node
        }
        return out
    }
}
