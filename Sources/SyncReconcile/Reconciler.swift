import Foundation
import GRDB
import SyncModel
import SyncStore

/// The hub's reconciler: applies one journal entry from a node to the canonical store with the
/// store-prefix rule, field-level last-writer-wins merge and the customer move. The simulator
/// runs the same code through the hub.
public enum Reconciler {
    /// Applies `change` and returns the verdict and the rows it changed. Refusals are
    /// verdicts (`rejected`), not errors; a thrown error aborts the whole push. The change
    /// goes to its entity's rules: a move request, a new partner (the store-prefix rule) and a
    /// new document (its owner and customer moves) have their own; every other change is
    /// applied by its kind's declaration (`RecordKind`): insert or merge, removal, checks.
    public static func apply(_ db: Database, change incoming: Change, prepared: PreparedChange? = nil,
                             context: inout ApplyContext) throws -> (EntryResult, [TouchedRow]) {
        var change = incoming
        (change.key, change.fields) = CodeRename.rewrite(change, renames: context.pendingRenames, kinds: context.kinds)
        // The entry exactly as the node sent it (no rename mapped into it)?
        let asSent = context.pendingRenames.isEmpty || (change.key == incoming.key && change.fields == incoming.fields)
        // Prepared for the entry as sent; worked out here for a renamed one.
        let ready = asSent ? prepared ?? prepare(incoming, node: context.node, kinds: context.kinds)
                           : prepare(change, node: context.node, kinds: context.kinds)
        if case .invalid(let reason, let code) = ready.content {
            return (EntryResult(seq: change.seq, outcome: .rejected, reason: reason, code: code), [])
        }
        guard let kind = context.kinds.kind(change.entity) else {
            return (EntryResult(seq: change.seq, outcome: .rejected, reason: "no record kind \(change.entity.rawValue)", code: .unknownKind), [])
        }
        let entry = EntryApplication(db: db, change: change, incoming: incoming, asSent: asSent,
                                     stamp: MergeStamp(hlc: change.hlc, node: context.node), kind: kind, byHub: context.byHub)
        switch kind.writers {
        case .hub where !context.byHub:
            return entry.reject("\(change.entity.rawValue) \(change.key): central master data, written at the hub; a store cannot change it", .centralData)
        case .stores where context.byHub && !context.storeRecords:
            return entry.reject("\(change.entity.rawValue) \(change.key): written by the stores, not by the hub", .storeData)
        default: break
        }
        if !context.byHub, context.erasuresRecorded, let refusal = try erasureRefusal(db, change, kinds: context.kinds) {
            // An existing row is fed again, so the sender gets the erased image back.
            return try ReplicatedTable.of(kind)?.exists(db, key: change.key) == true ? entry.refused(refusal, .erased) : entry.reject(refusal, .erased)
        }
        // A pick-up claims an order: the order must exist at the hub, in the node's region, and
        // the receipt be the node's own. A second claim is a double pick-up, not a block.
        if change.entity == .orderPickup, change.op == .insert, !context.byHub, let refusal = try pickupRefusal(db, change, context: context) {
            return entry.reject(refusal, .pickupRefused)
        }
        // An institution's discount is central data: only the hub sets or changes it.
        if change.entity == .institution, !context.byHub,
           let column = CustomerModule.centralInstitutionColumns.sorted().first(where: { change.fields[$0].map { $0 != .null && $0 != .int(0) } == true }) {
            return entry.reject("institution \(change.key): \(column) is central data: only the hub sets or changes an institution's discount", .centralData)
        }
        switch (change.entity, change.op) {
        case (.move, _): return try applyMove(entry, context: &context)
        case (.partner, .insert): return try applyNewPartner(entry, ready, context: &context)
        case (.document, .insert): return try applyNewDocument(entry, ready, context: &context)
        // Kinds whose clashing codes get the store prefix (institutions, declared kinds).
        case (_, .insert) where kind.onClash == .storePrefix: return try applyNewPrefixed(entry, context: &context)
        // An address is sent whole: an edit is stored as a new one would be.
        case (_, .insert), (.address, .update): return try applyNewRecord(entry, context: &context)
        case (_, .update): return try applyEdit(entry, fields: change.fields, context: &context)
        case (_, .delete): return try applyRemoval(entry, context: &context)
        }
    }

    /// Why `change` may not be applied: it would bring back personal data of a partner whose
    /// data was erased (a changed personal field, a new or changed address or membership, a
    /// personal column of any kind that declares one: `PersonalData`). Nil otherwise. A new
    /// partner under an erased code is another person: the store-prefix rule decides.
    static func erasureRefusal(_ db: Database, _ change: Change, kinds: RecordKinds) throws -> String? {
        guard let recordKind = kinds.kind(change.entity), recordKind.personal != nil,
              !(change.entity == .partner && change.op == .insert) else { return nil }
        guard let code = try db.subjectCode(of: change, kind: recordKind) else { return nil }
        guard let erased = try Row.fetchOne(db.cachedStatement(sql: "SELECT case_id FROM erasure WHERE partner_code = ?"), arguments: [code]),
              let partner = try ReplicatedTable.partner.fetch(db, key: code) else { return nil }
        let kind = PartnerKind(rawValue: partner["kind"]?.text ?? "") ?? .consumer
        guard Erasure.restores(recordKind, op: change.op, fields: change.fields, kind: kind) else { return nil }
        let caseID: String = erased["case_id"]
        return "\(change.entity.rawValue) \(change.key): the personal data of partner \(code) was erased under case \(caseID) (GDPR Art. 17); a change that brings it back is refused"
    }

    /// Works out what `apply` needs for `change` from `node` that the change alone decides
    /// (see `PreparedChange`): a new partner or document parsed and validated, with the values
    /// its row is stored with. Pure: no database, so the hub runs it beside its writer.
    public static func prepare(_ change: Change, node: String, kinds: RecordKinds = .standard) -> PreparedChange {
        guard let kind = kinds.kind(change.entity) else { return PreparedChange(content: .invalid("no record kind \(change.entity.rawValue)", .unknownKind)) }
        // Types and sizes of every field, as a store checks its own writes (`ColumnRules`).
        let problems = kind.problems(change.fields)
        if !problems.isEmpty {
            return PreparedChange(content: .invalid("\(change.entity.rawValue) \(change.key): \(InvalidFields(problems).oneLine)", problems.first?.refusalCode ?? .invalidField))
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
                return PreparedChange(content: .invalid("partner \(change.key): \((error as? InvalidFields)?.oneLine ?? String(describing: error))", refusalCode(error)))
            }
        case (.document, .insert):
            do {
                let table = ReplicatedTable.document, sent = table.presentColumns(change.fields)
                let doc = try Document(columnValues: sent)
                let stored = table.storedValues(columnValues: doc.columnValues)
                return PreparedChange(content: .document(doc, stored: stored, sentAsStored: stored == table.storedValues(present: sent)))
            } catch {
                // A `FieldError` (the only error here) reads as its `description`.
                return PreparedChange(content: .invalid("document \(change.key): \(error)", refusalCode(error)))
            }
        default:
            return .nothing
        }
    }

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
        return try table.hub.insert(db, stored: stored, createdHLC: Int64(bitPattern: stamp.hlc.rawValue), createdNode: stamp.node,
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
    static func mergeFields(_ db: Database, table: ReplicatedTable, key: String, fields: Fields, stamp: MergeStamp) throws -> Bool {
        try merge(db, table: table, key: key, fields: fields, stamp: stamp).changed
    }

    /// A row as read for a merge: its fields, the hub's clock columns and its feed position.
    typealias StoredRow = (values: [FieldValue], clocks: HubTable.HubColumns)

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
        guard let (current, clocks) = try known ?? table.hub.fetchWithClocks(db, key: key) else { return (false, false, nil, false) }
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
        try table.hub.setMerged(db, rowid: clocks.rowid, columns: winners, fieldClocks: stamps.text, position: winners.isEmpty ? nil : position,
                            echoNode: echo ? node : nil)
        return (!winners.isEmpty, complete, priorPosition, echo)
    }
}

extension Reconciler {
    /// Why a store's pick-up record may not be applied: it names an order the hub does not
    /// have (or another kind of document), an order outside the store's region, or a receipt
    /// that is not the store's own. Nil otherwise.
    static func pickupRefusal(_ db: Database, _ change: Change, context: ApplyContext) throws -> String? {
        let order = change.fields["order_id"]?.text ?? change.key
        let name = "order_pickup \(change.key)"
        guard let kind = try String.fetchOne(db, sql: "SELECT kind FROM document WHERE id = ?", arguments: [order]) else {
            return "\(name): no order \(order) exists at the hub; a store hands out only orders it has received"
        }
        guard kind == DocumentKind.order.rawValue else { return "\(name): document \(order) is a \(kind), not an order" }
        if let refusal = try context.regions?.refusal(db, .document, order, node: context.node, what: name) { return refusal }
        if let receipt = change.fields["receipt_id"]?.text {
            let owner = try String.fetchOne(db, sql: "SELECT node FROM document WHERE id = ?", arguments: [receipt])
            guard owner == context.node else {
                return "\(name): receipt \(receipt) is not a receipt of node \(context.node) at the hub"
            }
        }
        return nil
    }
}
